import NodeCore
import Testing

@testable import NodeNN

/// Every layer's vector-Jacobian and Jacobian-vector products against
/// central finite differences in Double.
@Suite struct LayerGradientTests {
  static let rows = 3
  static let step = 1e-4

  /// Deterministic pseudo-random values in [−1, 1].
  static func values(_ count: Int, seed: UInt64) -> [Double] {
    let random = CounterRandom(seed: seed)
    return (0..<count).map { 2 * random.uniform(stream: 1, index: UInt64($0), as: Double.self) - 1 }
  }

  /// Runs the forward pass of `run` on flat inputs and returns the flat outputs.
  struct Evaluation {
    let inputSize: Int
    let outputSize: Int
    let forward: (_ x: [Double], _ t: [Double], _ p: [Double]) -> [Double]
    let backward:
      (_ x: [Double], _ t: [Double], _ p: [Double], _ dy: [Double], _ w: [Double]) -> (
        dx: [Double], dt: [Double], dp: [Double]
      )
    let jvp: (_ x: [Double], _ t: [Double], _ p: [Double], _ v: [Double], _ k: Int) -> [Double]
    let parameterCount: Int
  }

  static func evaluation(_ layer: any Layer<Double>) -> Evaluation {
    let (n, inSize, outSize) = (rows, layer.inputSize, layer.outputSize)
    func forward(_ x: [Double], _ t: [Double], _ p: [Double]) -> [Double] {
      var y = [Double](repeating: 0, count: n * outSize)
      x.withUnsafeBufferPointer { xp in
        y.withUnsafeMutableBufferPointer { yp in
          layer.forward(
            MatrixView(base: xp.baseAddress!, rows: n, columns: inSize), times: t,
            parameters: p.isEmpty ? [0] : p,
            into: MutableMatrixView(base: yp.baseAddress!, rows: n, columns: outSize))
        }
      }
      return y
    }
    func backward(_ x: [Double], _ t: [Double], _ p: [Double], _ dy: [Double], _ w: [Double]) -> (
      [Double], [Double], [Double]
    ) {
      let y = forward(x, t, p)
      var dx = [Double](repeating: 0, count: n * inSize)
      var dt = [Double](repeating: 0, count: n)
      var dp = [Double](repeating: 0, count: max(p.count, 1))
      x.withUnsafeBufferPointer { xp in
        y.withUnsafeBufferPointer { yp in
          dy.withUnsafeBufferPointer { dyp in
            dx.withUnsafeMutableBufferPointer { dxp in
              layer.backward(
                MatrixView(base: xp.baseAddress!, rows: n, columns: inSize),
                output: MatrixView(base: yp.baseAddress!, rows: n, columns: outSize), times: t,
                parameters: p.isEmpty ? [0] : p,
                outputCotangent: MatrixView(base: dyp.baseAddress!, rows: n, columns: outSize),
                inputCotangent: MutableMatrixView(base: dxp.baseAddress!, rows: n, columns: inSize),
                timeCotangents: &dt, parameterGradient: &dp, rowWeights: w)
            }
          }
        }
      }
      return (dx, dt, Array(dp.prefix(p.count)))
    }
    func jvp(_ x: [Double], _ t: [Double], _ p: [Double], _ v: [Double], _ k: Int) -> [Double] {
      let y = forward(x, t, p)
      var out = [Double](repeating: 0, count: n * k * outSize)
      x.withUnsafeBufferPointer { xp in
        y.withUnsafeBufferPointer { yp in
          v.withUnsafeBufferPointer { vp in
            out.withUnsafeMutableBufferPointer { op in
              layer.jvp(
                MatrixView(base: xp.baseAddress!, rows: n, columns: inSize),
                output: MatrixView(base: yp.baseAddress!, rows: n, columns: outSize), times: t,
                parameters: p.isEmpty ? [0] : p,
                inputTangents: MatrixView(base: vp.baseAddress!, rows: n, columns: k * inSize),
                directions: k,
                into: MutableMatrixView(base: op.baseAddress!, rows: n, columns: k * outSize))
            }
          }
        }
      }
      return out
    }
    return Evaluation(
      inputSize: inSize, outputSize: outSize, forward: forward, backward: backward, jvp: jvp,
      parameterCount: layer.parameterCount)
  }

  /// Checks the VJP (inputs, times, weighted parameters) and a 2-direction JVP.
  static func check(_ layer: any Layer<Double>, seed: UInt64 = 1) {
    let e = evaluation(layer)
    let n = rows
    let x = values(n * e.inputSize, seed: seed)
    let t = values(n, seed: seed + 1)
    let p = values(e.parameterCount, seed: seed + 2)
    let dy = values(n * e.outputSize, seed: seed + 3)
    let w = [0.5, -1.5, 2.0]
    let (dx, dt, dp) = e.backward(x, t, p, dy, w)
    func loss(_ x: [Double], _ t: [Double], _ p: [Double], weighted: Bool) -> Double {
      let y = e.forward(x, t, p)
      var sum = 0.0
      for r in 0..<n {
        for o in 0..<e.outputSize {
          sum += (weighted ? w[r] : 1) * dy[r * e.outputSize + o] * y[r * e.outputSize + o]
        }
      }
      return sum
    }
    func central(_ perturb: (Double) -> Double) -> Double { Self.fourPoint(perturb) }
    var worst = 0.0
    func compare(_ a: Double, _ b: Double) {
      worst = max(worst, abs(a - b) / max(abs(b), 1e-3))
    }
    for i in 0..<x.count {
      compare(
        dx[i],
        central { h in
          var x2 = x
          x2[i] += h
          return loss(x2, t, p, weighted: false)
        })
    }
    for r in 0..<n {
      compare(
        dt[r],
        central { h in
          var t2 = t
          t2[r] += h
          return loss(x, t2, p, weighted: false)
        })
    }
    for j in 0..<p.count {
      compare(
        dp[j],
        central { h in
          var p2 = p
          p2[j] += h
          return loss(x, t, p2, weighted: true)
        })
    }
    // JVP in two directions against differences of the forward pass.
    let k = 2
    let v = values(n * k * e.inputSize, seed: seed + 4)
    let jv = e.jvp(x, t, p, v, k)
    for direction in 0..<k {
      func shifted(_ h: Double) -> [Double] {
        var x2 = x
        for r in 0..<n {
          for i in 0..<e.inputSize {
            x2[r * e.inputSize + i] += h * v[r * k * e.inputSize + direction * e.inputSize + i]
          }
        }
        return e.forward(x2, t, p)
      }
      let samples = [2.0, 1, -1, -2].map { shifted($0 * step) }
      for r in 0..<n {
        for o in 0..<e.outputSize {
          let fd = Self.fourPoint { h in
            samples[[2.0, 1, -1, -2].firstIndex(of: h / step)!][r * e.outputSize + o]
          }
          compare(jv[r * k * e.outputSize + direction * e.outputSize + o], fd)
        }
      }
    }
    #expect(worst < 1e-7, "\(type(of: layer)): worst relative error \(worst)")
  }

  /// `(−f(2h) + 8 f(h) − 8 f(−h) + f(−2h)) / 12h`, fourth-order accurate.
  static func fourPoint(_ f: (Double) -> Double, step h: Double = step) -> Double {
    (-f(2 * h) + 8 * f(h) - 8 * f(-h) + f(-2 * h)) / (12 * h)
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

  @Test(arguments: [
    ConvolutionGeometry(
      inputChannels: 2, outputChannels: 3, kernel: (3, 3), padding: 1, input: (5, 5)),
    ConvolutionGeometry(
      inputChannels: 3, outputChannels: 2, kernel: (4, 4), stride: 2, padding: 1, input: (6, 6)),
    ConvolutionGeometry(inputChannels: 1, outputChannels: 2, kernel: (3, 2), input: (5, 4)),
  ])
  func convolution(geometry: ConvolutionGeometry) { Self.check(Conv2d<Double>(geometry)) }

  @Test func convolutionWithoutBias() {
    let layer = Conv2d<Double>(
      ConvolutionGeometry(
        inputChannels: 2, outputChannels: 3, kernel: (3, 3), padding: 1, input: (4, 4)),
      bias: false)
    #expect(layer.parameterTensors.map(\.name) == ["weight"])
    Self.check(layer)
  }

  /// A ResNet block's shape with smooth activations (ReLU's kink would spoil
  /// the differences): `x + conv(elu(norm(conv(tanh(norm(x))))))`.
  @Test func residualBlock() {
    let geometry = ConvolutionGeometry(
      inputChannels: 2, outputChannels: 2, kernel: (3, 3), padding: 1, input: (3, 3))
    let body = Sequential<Double>(
      [
        GroupNorm(groups: 1, channels: 2, pixels: 9), ElementwiseActivation(.tanh, size: 18),
        Conv2d(geometry, bias: false), GroupNorm(groups: 2, channels: 2, pixels: 9),
        ElementwiseActivation(.elu, size: 18), Conv2d(geometry, bias: false),
      ],
      names: ["norm1", nil, "conv1", "norm2", nil, "conv2"])
    let block = Residual(body)
    #expect(
      block.parameterTensors.map(\.name) == [
        "norm1.weight", "norm1.bias", "conv1.weight", "norm2.weight", "norm2.bias", "conv2.weight",
      ])
    Self.check(block)
  }

  @Test func concatTimeConvolution() {
    Self.check(
      ConcatTimeConv2d<Double>(
        ConvolutionGeometry(
          inputChannels: 3, outputChannels: 2, kernel: (3, 3), padding: 1, input: (4, 4))))
  }

  @Test(arguments: [(1, 4, 6), (2, 4, 6), (4, 4, 3)])
  func groupNorm(shape: (Int, Int, Int)) {
    Self.check(GroupNorm<Double>(groups: shape.0, channels: shape.1, pixels: shape.2))
  }

  @Test func globalAveragePool() { Self.check(GlobalAveragePool<Double>(channels: 3, pixels: 5)) }
}
