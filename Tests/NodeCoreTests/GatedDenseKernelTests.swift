import Foundation
import NodeCore
import Testing

/// `DenseKernel.gatedForward` (the AVX2 kernel for wide Float layers, the
/// portable path otherwise) against a Double evaluation of
/// `(W x + b) ⊙ g_{i/K} (+ d t_{i/K})` and of the tanh after it (its output,
/// or its JVP `(1 − s²) y` from primal tanh outputs `s`).
@Suite struct GatedDenseKernelTests {
  /// Row-major `[outputs, inputs]` weights, their transpose, a bias, `x`.
  struct Problem {
    let inputs, outputs, rows, per: Int
    let w, wt, b, x, g, d, t: [Float]
    /// The primal rows' tanh outputs, `[rows / per, outputs]`, for the JVP.
    let s: [Float]

    init(inputs: Int, outputs: Int, rows: Int, per: Int) {
      (self.inputs, self.outputs, self.rows, self.per) = (inputs, outputs, rows, per)
      func v(_ count: Int, _ seed: UInt64, _ scale: Float = 1) -> [Float] {
        TangentKernelTests.values(count, seed: seed, scale: scale)
      }
      let weights = v(inputs * outputs, 1, 1 / Float(inputs).squareRoot())
      w = weights
      wt = (0..<(inputs * outputs)).map { i in weights[(i % outputs) * inputs + i / outputs] }
      (b, x) = (v(outputs, 2), v(rows * inputs, 3))
      g = v(rows / per * outputs, 4).map { 1 / (1 + exp(-$0)) }
      (d, t) = (v(outputs, 5), v(rows / per, 6))
      s = v(rows / per * outputs, 7, 0.99)
    }

    /// The tanh output (`jvp` false) or its JVP, of the reference gated rows.
    func referenceTanh(shift: Bool, jvp: Bool) -> [Double] {
      reference(shift: shift).enumerated().map { e in
        guard jvp else { return Foundation.tanh(e.element) }
        let (i, o) = (e.offset / outputs, e.offset % outputs)
        let y = Double(s[i / per * outputs + o])
        return e.element * (1 - y * y)
      }
    }

    func reference(shift: Bool) -> [Double] {
      var y = [Double]()
      for i in 0..<rows {
        let gi = i / per
        for o in 0..<outputs {
          var sum = Double(b[o])
          for k in 0..<inputs { sum += Double(w[o * inputs + k]) * Double(x[i * inputs + k]) }
          y.append(sum * Double(g[gi * outputs + o]) + (shift ? Double(d[o] * t[gi]) : 0))
        }
      }
      return y
    }

    /// The gated product and, when `tanh`, the tanh after it (its JVP when `jvp`);
    /// with `streaming`, the product goes to a 64-byte aligned buffer with
    /// ``RowGate/streamsOutput`` set.
    func run(
      shift: Bool, tanh: Bool = false, jvp: Bool = false, streaming: Bool = false
    ) -> (y: [Float], act: [Float]) {
      let aligned = ScratchBuffer<Float>()
      let target = aligned.reserve(rows * outputs)
      target.update(repeating: .nan, count: rows * outputs)
      var y = [Float](repeating: .nan, count: rows * outputs)
      var act = [Float](repeating: .nan, count: rows * outputs)
      w.withUnsafeBufferPointer { wp in
        wt.withUnsafeBufferPointer { wtp in
          b.withUnsafeBufferPointer { bp in
            x.withUnsafeBufferPointer { xp in
              g.withUnsafeBufferPointer { gp in
                d.withUnsafeBufferPointer { dp in
                  t.withUnsafeBufferPointer { tp in
                    y.withUnsafeMutableBufferPointer { yp in
                      act.withUnsafeMutableBufferPointer { ap in
                        s.withUnsafeBufferPointer { sp in
                          var gate = RowGate(
                            gate: gp.baseAddress!, rowsPerGate: per,
                            shift: shift ? (weight: dp.baseAddress!, times: tp.baseAddress!) : nil)
                          if tanh {
                            gate.tanh = GatedTanh(
                              output: MutableMatrixView(
                                base: ap.baseAddress!, rows: rows, columns: outputs),
                              primalOutputs: jvp
                                ? MatrixView(
                                  base: sp.baseAddress!, rows: rows / per, columns: outputs)
                                : nil)
                          }
                          gate.streamsOutput = streaming
                          DenseKernel.gatedForward(
                            xp.baseAddress!, rows: rows, inputs: inputs, ldx: inputs,
                            weight: wp.baseAddress!, transposedWeight: wtp.baseAddress!,
                            bias: bp.baseAddress!, outputs: outputs,
                            into: streaming ? target : yp.baseAddress!, ldy: outputs, gate: gate)
                          if streaming {
                            yp.baseAddress!.update(from: target, count: rows * outputs)
                          }
                        }
                      }
                    }
                  }
                }
              }
            }
          }
        }
      }
      return (y, act)
    }
  }

  @Test(arguments: [(2, 64), (64, 64), (64, 2), (13, 5), (5, 13), (17, 24)])
  func matchesDoubleReference(inputs: Int, outputs: Int) {
    for per in [1, 2, 3] {
      for gateRows in [1, 2, 5, 7] {
        let problem = Problem(inputs: inputs, outputs: outputs, rows: gateRows * per, per: per)
        for shift in [false, true] {
          let label = "\(inputs)→\(outputs) per \(per) rows \(gateRows * per) shift \(shift)"
          let plain = problem.run(shift: shift)
          let worst = zip(plain.y, problem.reference(shift: shift))
            .map { abs(Double($0) - $1) }.max()!
          #expect(worst < 2e-5 * Double(inputs).squareRoot(), "\(label): \(worst)")
          for jvp in [false, true] {
            // The gated rows are unchanged; the tanh's rows follow them.
            let fused = problem.run(shift: shift, tanh: true, jvp: jvp)
            #expect(fused.y == plain.y, "\(label) jvp \(jvp)")
            let worstTanh = zip(fused.act, problem.referenceTanh(shift: shift, jvp: jvp))
              .map { abs(Double($0) - $1) }.max()!
            #expect(
              worstTanh < 2e-5 * Double(inputs).squareRoot(), "\(label) jvp \(jvp): \(worstTanh)")
          }
        }
      }
    }
  }
}
