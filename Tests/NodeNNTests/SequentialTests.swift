import NodeCore
import Testing

@testable import NodeNN

/// The chain: names, offsets, and its products against finite differences.
@Suite struct SequentialTests {
  /// W1's dynamics: concat-squash 2 → 8 → 8 → 2 with tanh between.
  static func network<S: TensorScalar>(_: S.Type = Double.self) -> Sequential<S> {
    Sequential(
      [
        ConcatSquashLinear(inputs: 2, outputs: 8), ElementwiseActivation(.tanh, size: 8),
        ConcatSquashLinear(inputs: 8, outputs: 8), ElementwiseActivation(.tanh, size: 8),
        ConcatSquashLinear(inputs: 8, outputs: 2),
      ],
      names: ["layers.0", nil, "layers.1", nil, "layers.2"])
  }

  @Test func namesAndOffsetsFollowTheLayers() {
    let net = Self.network()
    let named = net.namedParameters
    #expect(named.first?.name == "layers.0.weight")
    #expect(named.first?.shape == [8, 2])
    #expect(named.map(\.name).contains("layers.2.time_weight"))
    #expect(named.last.map { $0.offset + $0.shape.reduce(1, *) } == net.parameterCount)
    #expect(net.parameterCount == (2 * 8 + 4 * 8) + (8 * 8 + 4 * 8) + (8 * 2 + 4 * 2))
  }

  @Test func chainProductsMatchFiniteDifferences() {
    let net = Self.network()
    let n = 3
    let x = LayerGradientTests.values(n * 2, seed: 11)
    let t = LayerGradientTests.values(n, seed: 12)
    let p = LayerGradientTests.values(net.parameterCount, seed: 13).map { $0 * 0.8 }
    let dy = LayerGradientTests.values(n * 2, seed: 14)
    func forward(_ x: [Double], _ t: [Double], _ p: [Double]) -> [Double] {
      var y = [Double](repeating: 0, count: n * 2)
      x.withUnsafeBufferPointer { xp in
        y.withUnsafeMutableBufferPointer { yp in
          net.forward(
            MatrixView(base: xp.baseAddress!, rows: n, columns: 2), times: t, parameters: p,
            into: MutableMatrixView(base: yp.baseAddress!, rows: n, columns: 2))
        }
      }
      return y
    }
    func loss(_ x: [Double], _ t: [Double], _ p: [Double]) -> Double {
      zip(forward(x, t, p), dy).reduce(0) { $0 + $1.0 * $1.1 }
    }
    _ = forward(x, t, p)
    var dx = [Double](repeating: 0, count: n * 2)
    var dt = [Double](repeating: 0, count: n)
    var dp = [Double](repeating: 0, count: net.parameterCount)
    dy.withUnsafeBufferPointer { dyp in
      dx.withUnsafeMutableBufferPointer { dxp in
        net.backward(
          times: t, parameters: p,
          outputCotangent: MatrixView(base: dyp.baseAddress!, rows: n, columns: 2),
          inputCotangent: MutableMatrixView(base: dxp.baseAddress!, rows: n, columns: 2),
          timeCotangents: &dt, parameterGradient: &dp, rowWeights: nil)
      }
    }
    let h = 1e-4
    func derivative(_ f: (Double) -> Double) -> Double { LayerGradientTests.fourPoint(f, step: h) }
    var worst = 0.0
    func compare(_ a: Double, _ b: Double) { worst = max(worst, abs(a - b) / max(abs(b), 1e-3)) }
    for i in 0..<x.count {
      compare(
        dx[i],
        derivative { s in
          var moved = x
          moved[i] += s
          return loss(moved, t, p)
        })
    }
    for r in 0..<n {
      compare(
        dt[r],
        derivative { s in
          var moved = t
          moved[r] += s
          return loss(x, moved, p)
        })
    }
    for j in stride(from: 0, to: p.count, by: 7) {
      compare(
        dp[j],
        derivative { s in
          var moved = p
          moved[j] += s
          return loss(x, t, moved)
        })
    }
    // The exact Jacobian from two JVP directions e₁, e₂ equals the VJPs' transpose.
    _ = forward(x, t, p)
    var tangents = [Double](repeating: 0, count: n * 4)
    for r in 0..<n {
      tangents[r * 4] = 1
      tangents[r * 4 + 3] = 1
    }
    var jacobian = [Double](repeating: 0, count: n * 4)
    tangents.withUnsafeBufferPointer { vp in
      jacobian.withUnsafeMutableBufferPointer { jp in
        net.jvp(
          times: t, parameters: p,
          inputTangents: MatrixView(base: vp.baseAddress!, rows: n, columns: 4),
          directions: 2, into: MutableMatrixView(base: jp.baseAddress!, rows: n, columns: 4))
      }
    }
    for r in 0..<n {
      for input in 0..<2 {
        for output in 0..<2 {
          let fd = derivative { s in
            var moved = x
            moved[r * 2 + input] += s
            return forward(moved, t, p)[r * 2 + output]
          }
          compare(jacobian[r * 4 + input * 2 + output], fd)
        }
      }
    }
    #expect(worst < 1e-7, "worst relative error \(worst)")
  }

  /// `evaluate` (the last layer writing into the caller's rows) gives
  /// `forward`'s output bit for bit — with a plain last layer, with a
  /// concat-squash layer and its tanh as the last step, and into rows wider
  /// than the output.
  @Test func evaluateEqualsForward() {
    let tanhLast = Sequential<Float>(
      [
        ConcatSquashLinear(inputs: 2, outputs: 9), ElementwiseActivation(.tanh, size: 9),
        ConcatSquashLinear(inputs: 9, outputs: 3), ElementwiseActivation(.tanh, size: 3),
      ],
      names: ["layers.0", nil, "layers.1", nil])
    for net in [Self.network(Float.self), tanhLast] {
      let n = 7
      let out = net.outputSize
      let x = LayerGradientTests.values(n * 2, seed: 21).map { Float($0) }
      let t = LayerGradientTests.values(n, seed: 22).map { Float($0) }
      let p = LayerGradientTests.values(net.parameterCount, seed: 23).map { Float($0) * 0.7 }
      let kept = net.forward(x, rows: n, times: t, parameters: p)
      var direct = [Float](repeating: .nan, count: n * (out + 1))
      x.withUnsafeBufferPointer { xp in
        direct.withUnsafeMutableBufferPointer { yp in
          net.evaluate(
            MatrixView(base: xp.baseAddress!, rows: n, columns: 2), times: t, parameters: p,
            into: MutableMatrixView(
              base: yp.baseAddress!, rows: n, columns: out, rowStride: out + 1))
        }
      }
      for r in 0..<n {
        #expect(
          Array(direct[(r * (out + 1))..<(r * (out + 1) + out)]).map(\.bitPattern)
            == Array(kept[(r * out)..<((r + 1) * out)]).map(\.bitPattern))
        #expect(direct[r * (out + 1) + out].isNaN, "the row's padding is left alone")
      }
    }
  }
}
