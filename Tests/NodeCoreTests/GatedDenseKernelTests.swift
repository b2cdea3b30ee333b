import Foundation
import NodeCore
import Testing

/// `DenseKernel.gatedForward` (the AVX2 kernel for wide Float layers, the
/// portable path otherwise) against a Double evaluation of
/// `(W x + b) ⊙ g_{i/K} (+ d t_{i/K})`.
@Suite struct GatedDenseKernelTests {
  /// Row-major `[outputs, inputs]` weights, their transpose, a bias, `x`.
  struct Problem {
    let inputs, outputs, rows, per: Int
    let w, wt, b, x, g, d, t: [Float]

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

    func run(shift: Bool) -> [Float] {
      var y = [Float](repeating: .nan, count: rows * outputs)
      w.withUnsafeBufferPointer { wp in
        wt.withUnsafeBufferPointer { wtp in
          b.withUnsafeBufferPointer { bp in
            x.withUnsafeBufferPointer { xp in
              g.withUnsafeBufferPointer { gp in
                d.withUnsafeBufferPointer { dp in
                  t.withUnsafeBufferPointer { tp in
                    y.withUnsafeMutableBufferPointer { yp in
                      DenseKernel.gatedForward(
                        xp.baseAddress!, rows: rows, inputs: inputs, ldx: inputs,
                        weight: wp.baseAddress!, transposedWeight: wtp.baseAddress!,
                        bias: bp.baseAddress!, outputs: outputs, into: yp.baseAddress!,
                        ldy: outputs,
                        gate: RowGate(
                          gate: gp.baseAddress!, rowsPerGate: per,
                          shift: shift ? (weight: dp.baseAddress!, times: tp.baseAddress!) : nil))
                    }
                  }
                }
              }
            }
          }
        }
      }
      return y
    }
  }

  @Test(arguments: [(2, 64), (64, 64), (64, 2), (13, 5), (5, 13), (17, 24)])
  func matchesDoubleReference(inputs: Int, outputs: Int) {
    for per in [1, 2, 3] {
      for gateRows in [1, 2, 5, 7] {
        let problem = Problem(inputs: inputs, outputs: outputs, rows: gateRows * per, per: per)
        for shift in [false, true] {
          let worst = zip(problem.run(shift: shift), problem.reference(shift: shift))
            .map { abs(Double($0) - $1) }.max()!
          #expect(
            worst < 2e-5 * Double(inputs).squareRoot(),
            "\(inputs)→\(outputs) per \(per) rows \(gateRows * per) shift \(shift): \(worst)")
        }
      }
    }
  }
}
