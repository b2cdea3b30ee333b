import NodeCore
import Testing

@testable import NodeNN

/// The VJP of the pair map `(x, ẋ) ↦ (y, ẏ)` — what a CNF's exact-trace
/// adjoint differentiates — against finite differences of
/// `Φ = Σ ȳ·y + Σ ẏ̄·ẏ` in Double, per layer and through a chain.
@Suite struct PairGradientTests {
  static let rows = 3
  static let directions = 2

  /// `Φ` and the pair VJP of one layer at (x, ẋ, t, θ) with weights `w`.
  struct Pair {
    let layer: any TangentDifferentiableLayer<Double>
    let dy: [Double]
    let dTangents: [Double]
    let weights: [Double]

    func outputs(_ x: [Double], _ v: [Double], _ t: [Double], _ p: [Double]) -> ([Double], [Double])
    {
      let (n, k) = (PairGradientTests.rows, PairGradientTests.directions)
      let (inSize, outSize) = (layer.inputSize, layer.outputSize)
      var y = [Double](repeating: 0, count: n * outSize)
      var tangents = [Double](repeating: 0, count: n * k * outSize)
      let parameters = p.isEmpty ? [0] : p
      x.withUnsafeBufferPointer { xp in
        y.withUnsafeMutableBufferPointer { yp in
          let xv = MatrixView(base: xp.baseAddress!, rows: n, columns: inSize)
          layer.forward(
            xv, times: t, parameters: parameters,
            into: MutableMatrixView(base: yp.baseAddress!, rows: n, columns: outSize))
          v.withUnsafeBufferPointer { vp in
            tangents.withUnsafeMutableBufferPointer { tp in
              layer.jvp(
                xv, output: MatrixView(base: yp.baseAddress!, rows: n, columns: outSize), times: t,
                parameters: parameters,
                inputTangents: MatrixView(base: vp.baseAddress!, rows: n, columns: k * inSize),
                directions: k,
                into: MutableMatrixView(base: tp.baseAddress!, rows: n, columns: k * outSize))
            }
          }
        }
      }
      return (y, tangents)
    }

    /// Φ with every row weighted (the parameter gradient's weights) or not.
    func phi(_ x: [Double], _ v: [Double], _ t: [Double], _ p: [Double], weighted: Bool) -> Double {
      let (y, tangents) = outputs(x, v, t, p)
      let (outSize, k) = (layer.outputSize, PairGradientTests.directions)
      var sum = 0.0
      for r in 0..<PairGradientTests.rows {
        let w = weighted ? weights[r] : 1
        for o in 0..<outSize { sum += w * dy[r * outSize + o] * y[r * outSize + o] }
        for i in 0..<(k * outSize) {
          sum += w * dTangents[r * k * outSize + i] * tangents[r * k * outSize + i]
        }
      }
      return sum
    }

    func gradients(_ x: [Double], _ v: [Double], _ t: [Double], _ p: [Double]) -> (
      dx: [Double], dv: [Double], dt: [Double], dp: [Double]
    ) {
      let (n, k) = (PairGradientTests.rows, PairGradientTests.directions)
      let (inSize, outSize) = (layer.inputSize, layer.outputSize)
      let (y, tangents) = outputs(x, v, t, p)
      var dx = [Double](repeating: 0, count: n * inSize)
      var dv = [Double](repeating: 0, count: n * k * inSize)
      var dt = [Double](repeating: 0, count: n)
      var dp = [Double](repeating: 0, count: max(p.count, 1))
      let parameters = p.isEmpty ? [0] : p
      func view(_ a: UnsafeBufferPointer<Double>, _ columns: Int) -> MatrixView<Double> {
        MatrixView(base: a.baseAddress!, rows: n, columns: columns)
      }
      x.withUnsafeBufferPointer { xp in
        y.withUnsafeBufferPointer { yp in
          v.withUnsafeBufferPointer { vp in
            tangents.withUnsafeBufferPointer { tp in
              dy.withUnsafeBufferPointer { dyp in
                dTangents.withUnsafeBufferPointer { dtp in
                  dx.withUnsafeMutableBufferPointer { dxp in
                    dv.withUnsafeMutableBufferPointer { dvp in
                      layer.jvpBackward(
                        view(xp, inSize), output: view(yp, outSize), times: t,
                        parameters: parameters, inputTangents: view(vp, k * inSize),
                        outputTangents: view(tp, k * outSize), directions: k,
                        outputCotangent: view(dyp, outSize),
                        tangentCotangent: view(dtp, k * outSize),
                        inputCotangent: MutableMatrixView(
                          base: dxp.baseAddress!, rows: n, columns: inSize),
                        inputTangentCotangent: MutableMatrixView(
                          base: dvp.baseAddress!, rows: n, columns: k * inSize),
                        timeCotangents: &dt, parameterGradient: &dp, rowWeights: weights)
                    }
                  }
                }
              }
            }
          }
        }
      }
      return (dx, dv, dt, Array(dp.prefix(p.count)))
    }
  }

  static func check(_ layer: any TangentDifferentiableLayer<Double>) {
    func values(_ count: Int, _ seed: UInt64) -> [Double] {
      LayerGradientTests.values(count, seed: seed)
    }
    let (n, k) = (rows, directions)
    let x = values(n * layer.inputSize, 21)
    let v = values(n * k * layer.inputSize, 22)
    let t = values(n, 23)
    let p = values(layer.parameterCount, 24)
    let pair = Pair(
      layer: layer, dy: values(n * layer.outputSize, 25),
      dTangents: values(n * k * layer.outputSize, 26), weights: [0.5, -1.5, 2])
    let g = pair.gradients(x, v, t, p)
    var worst = 0.0
    func compare(_ a: Double, _ f: (Double) -> Double) {
      let fd = LayerGradientTests.fourPoint(f)
      worst = max(worst, abs(a - fd) / max(abs(fd), 1e-3))
    }
    for i in 0..<x.count {
      compare(g.dx[i]) { h in
        var m = x
        m[i] += h
        return pair.phi(m, v, t, p, weighted: false)
      }
    }
    for i in 0..<v.count {
      compare(g.dv[i]) { h in
        var m = v
        m[i] += h
        return pair.phi(x, m, t, p, weighted: false)
      }
    }
    for r in 0..<n {
      compare(g.dt[r]) { h in
        var m = t
        m[r] += h
        return pair.phi(x, v, m, p, weighted: false)
      }
    }
    for j in 0..<p.count {
      compare(g.dp[j]) { h in
        var m = p
        m[j] += h
        return pair.phi(x, v, t, m, weighted: true)
      }
    }
    #expect(worst < 1e-7, "\(type(of: layer)): worst relative error \(worst)")
  }

  @Test(arguments: [(3, 5), (9, 12), (12, 2)])
  func linear(sizes: (Int, Int)) { Self.check(Linear<Double>(inputs: sizes.0, outputs: sizes.1)) }

  @Test(arguments: [(3, 5), (9, 12), (12, 2)])
  func concatSquash(sizes: (Int, Int)) {
    Self.check(ConcatSquashLinear<Double>(inputs: sizes.0, outputs: sizes.1))
  }

  @Test(arguments: ActivationFunction.allCases)
  func activation(function: ActivationFunction) {
    Self.check(ElementwiseActivation<Double>(function, size: 7))
  }
}
