import NodeCore
import Testing

@testable import NodeNN

/// A kept backward pass replayed for chosen rows against a new backward pass
/// over just those rows: the same parameter gradient, bit for bit.
@Suite struct KeptBackwardTests {
  /// An ODE block as W2's (GroupNorm, ReLU, concat-time convolution, twice, GroupNorm), small.
  static func odeBlock<Scalar: TensorScalar>(_: Scalar.Type) -> Sequential<Scalar> {
    let (width, side) = (4, 5)
    let block = ConvolutionGeometry(
      inputChannels: width + 1, outputChannels: width, kernel: (3, 3), padding: 1,
      input: (side, side))
    let pixels = side * side
    return Sequential(
      [
        GroupNorm(groups: 2, channels: width, pixels: pixels),
        ElementwiseActivation(.relu, size: width * pixels), ConcatTimeConv2d(block),
        GroupNorm(groups: 2, channels: width, pixels: pixels),
        ElementwiseActivation(.relu, size: width * pixels), ConcatTimeConv2d(block),
        GroupNorm(groups: 2, channels: width, pixels: pixels),
      ], names: ["n1", nil, "c1", "n2", nil, "c2", "n3"])
  }

  /// Random values of `stream`.
  static func values<Scalar: TensorScalar>(_ count: Int, stream: UInt64) -> [Scalar] {
    let random = CounterRandom(seed: 13)
    return (0..<count).map { random.normal(stream: stream, index: UInt64($0), as: Scalar.self) }
  }

  /// Rows `rows` of the random inputs, times and output cotangents.
  static func operands<Scalar: TensorScalar>(_ network: Sequential<Scalar>, rows: [Int]) -> (
    x: [Scalar], times: [Scalar], dy: [Scalar]
  ) {
    let d = network.inputSize
    let pick = { (all: [Scalar], width: Int) in
      rows.flatMap { all[($0 * width)..<(($0 + 1) * width)] }
    }
    return (
      pick(values(8 * d, stream: 1), d), pick(values(8, stream: 2), 1),
      pick(values(8 * d, stream: 3), d)
    )
  }

  /// The parameter gradient of `rows` of the inputs with `weights`, by a
  /// backward pass over those rows alone — or, with `kept`, the replay of
  /// kept positions 4, 0 and 2 of that pass, weighted 0.5, −1.25 and 2.
  static func gradient<Scalar: TensorScalar>(
    _ network: Sequential<Scalar>, rows: [Int], weights: [Scalar],
    keepingIn kept: KeptBackward<Scalar>? = nil
  ) -> [Scalar] {
    let (d, n) = (network.inputSize, rows.count)
    let (x, times, dy) = operands(network, rows: rows)
    let parameters: [Scalar] = values(network.parameterCount, stream: 6)
    var gradient = [Scalar](repeating: 0, count: network.parameterCount)
    var y = [Scalar](repeating: 0, count: n * d)
    var dx = [Scalar](repeating: 0, count: n * d)
    network.forward(
      MatrixView(base: x, rows: n, columns: d), times: times, parameters: parameters,
      into: MutableMatrixView(base: &y, rows: n, columns: d))
    network.keepsEveryCotangent = kept != nil
    network.backward(
      times: times, parameters: parameters,
      outputCotangent: MatrixView(base: dy, rows: n, columns: d),
      inputCotangent: MutableMatrixView(base: &dx, rows: n, columns: d), timeCotangents: nil,
      parameterGradient: &gradient, rowWeights: weights)
    guard let kept else { return gradient }
    network.keepLastBackward(in: kept)
    var replayed = [Scalar](repeating: 0, count: network.parameterCount)
    let chosen = [4, 0, 2]
    let chosenWeights: [Scalar] = [0.5, -1.25, 2]
    network.replayParameterGradient(
      of: kept, input: MatrixView(base: x, rows: n, columns: d),
      outputCotangent: MatrixView(base: dy, rows: n, columns: d), times: times, rows: chosen,
      count: chosen.count, parameters: parameters, into: &replayed, rowWeights: chosenWeights)
    return replayed
  }

  @Test func replayedRowsMatchANewPassOverThem() {
    func check<Scalar: TensorScalar>(_: Scalar.Type) {
      let network = Self.odeBlock(Scalar.self)
      let kept = network.makeKeptBackward()
      let replayed = Self.gradient(
        network, rows: [6, 1, 3, 7, 0], weights: [1, 2, 3, 4, 5], keepingIn: kept)
      // Kept positions 4, 0, 2 are rows 0, 6 and 3.
      let fresh = Self.gradient(network, rows: [0, 6, 3], weights: [0.5, -1.25, 2])
      #expect(replayed == fresh, "\(Scalar.self)")
      #expect(fresh.contains { $0 != 0 })
    }
    check(Float.self)
    check(Double.self)
  }

  /// A kept pass replayed after other passes ran and were kept elsewhere (as
  /// in the adjoint, six evaluations between keeping and replaying), for all
  /// its rows in order (`rows: nil`), equals a new pass over those rows.
  @Test func aKeptPassOutlivesLaterPasses() {
    let network = Self.odeBlock(Float.self)
    let (first, second) = (network.makeKeptBackward(), network.makeKeptBackward())
    let rows = [6, 1, 3, 7, 0]
    _ = Self.gradient(network, rows: rows, weights: [1, 2, 3, 4, 5], keepingIn: first)
    _ = Self.gradient(network, rows: [2, 5, 4], weights: [1, 1, 1], keepingIn: second)
    _ = Self.gradient(network, rows: [7, 3], weights: [1, 1])
    let parameters: [Float] = Self.values(network.parameterCount, stream: 6)
    let weights: [Float] = [0.25, -2, 1.5, 3, -0.5]
    var replayed = [Float](repeating: 0, count: network.parameterCount)
    let (x, times, dy) = Self.operands(network, rows: rows)
    let d = network.inputSize
    network.replayParameterGradient(
      of: first, input: MatrixView(base: x, rows: rows.count, columns: d),
      outputCotangent: MatrixView(base: dy, rows: rows.count, columns: d), times: times, rows: nil,
      count: 0, parameters: parameters, into: &replayed, rowWeights: weights)
    #expect(replayed == Self.gradient(network, rows: rows, weights: weights))
  }

  /// A residual block's backward pass reads its body's last forward pass, not
  /// only its operands: a chain holding one cannot replay.
  @Test func onlyOperandLayersReplay() {
    #expect(Self.odeBlock(Double.self).canReplayBackward)
    let body = Sequential<Double>([Linear(inputs: 3, outputs: 3)], names: ["fc"])
    let residual = Sequential<Double>(
      [Residual(body), ElementwiseActivation(.tanh, size: 3)], names: ["block", nil])
    #expect(!residual.canReplayBackward)
  }

  /// The network's own buffers were exchanged: a backward pass needs a new forward pass.
  @Test func keepingHandsOverTheForwardPass() {
    let network = Self.odeBlock(Double.self)
    _ = Self.gradient(
      network, rows: [1, 2, 3, 4, 5], weights: [1, 1, 1, 1, 1],
      keepingIn: network.makeKeptBackward())
    #expect(!network.keepsLastOutput)
  }
}
