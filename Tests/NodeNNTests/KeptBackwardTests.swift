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

  /// A CNF network as W1's (concat-squash layers with tanh between), small.
  static func flow<Scalar: TensorScalar>(_: Scalar.Type) -> Sequential<Scalar> {
    Sequential(
      [
        ConcatSquashLinear(inputs: 2, outputs: 6), ElementwiseActivation(.tanh, size: 6),
        ConcatSquashLinear(inputs: 6, outputs: 6), ElementwiseActivation(.tanh, size: 6),
        ConcatSquashLinear(inputs: 6, outputs: 2),
      ], names: ["l0", nil, "l1", nil, "l2"])
  }

  /// Random values of `stream`.
  static func values<Scalar: TensorScalar>(_ count: Int, stream: UInt64) -> [Scalar] {
    let random = CounterRandom(seed: 13)
    return (0..<count).map { random.normal(stream: stream, index: UInt64($0), as: Scalar.self) }
  }

  /// The parameter gradient of `rows` of the inputs with `weights`, by a
  /// backward pass over those rows alone (directions > 0: the JVP's backward
  /// pass), optionally keeping every cotangent and the pass in `kept`.
  static func gradient<Scalar: TensorScalar>(
    _ network: Sequential<Scalar>, rows: [Int], directions: Int, weights: [Scalar],
    keepingIn kept: KeptBackward<Scalar>? = nil
  ) -> [Scalar] {
    let (d, m, n) = (network.inputSize, directions, rows.count)
    let pick = { (all: [Scalar], width: Int) in
      rows.flatMap { all[($0 * width)..<(($0 + 1) * width)] }
    }
    let x = pick(values(8 * d, stream: 1), d)
    let times = pick(values(8, stream: 2), 1)
    let dy = pick(values(8 * d, stream: 3), d)
    let tangents = pick(values(8 * m * d, stream: 4), m * d)
    let dTangents = pick(values(8 * m * d, stream: 5), m * d)
    let parameters: [Scalar] = values(network.parameterCount, stream: 6)
    var gradient = [Scalar](repeating: 0, count: network.parameterCount)
    var y = [Scalar](repeating: 0, count: n * d)
    var jv = [Scalar](repeating: 0, count: n * m * d)
    var dx = [Scalar](repeating: 0, count: n * d)
    let view = { (a: UnsafePointer<Scalar>, width: Int) in
      MatrixView(base: a, rows: n, columns: width)
    }
    network.forward(
      view(x, d), times: times, parameters: parameters,
      into: MutableMatrixView(base: &y, rows: n, columns: d))
    if m > 0 {
      network.jvp(
        times: times, parameters: parameters, inputTangents: view(tangents, m * d), directions: m,
        into: MutableMatrixView(base: &jv, rows: n, columns: m * d))
    }
    network.keepsEveryCotangent = kept != nil
    let target = MutableMatrixView(base: &dx, rows: n, columns: d)
    if m > 0 {
      network.jvpBackward(
        times: times, parameters: parameters, outputCotangent: view(dy, d),
        tangentCotangent: view(dTangents, m * d), inputCotangent: target, timeCotangents: nil,
        parameterGradient: &gradient, rowWeights: weights)
    } else {
      network.backward(
        times: times, parameters: parameters, outputCotangent: view(dy, d), inputCotangent: target,
        timeCotangents: nil, parameterGradient: &gradient, rowWeights: weights)
    }
    if let kept {
      network.keepLastBackward(
        in: kept, times: times, outputCotangent: view(dy, d),
        tangentCotangent: m > 0 ? view(dTangents, m * d) : nil)
      // The kept pass replayed for its chosen rows (positions in `rows`).
      var replayed = [Scalar](repeating: 0, count: network.parameterCount)
      let chosen = [4, 0, 2]
      let chosenWeights: [Scalar] = [0.5, -1.25, 2]
      network.replayParameterGradient(
        of: kept, rows: chosen, count: chosen.count, parameters: parameters, into: &replayed,
        rowWeights: chosenWeights)
      return replayed
    }
    return gradient
  }

  @Test(arguments: [0, 2])
  func replayedRowsMatchANewPassOverThem(directions: Int) {
    func check<Scalar: TensorScalar>(_: Scalar.Type) {
      let network: Sequential<Scalar> =
        directions == 0 ? Self.odeBlock(Scalar.self) : Self.flow(Scalar.self)
      let rows = [6, 1, 3, 7, 0]
      let kept = network.makeKeptBackward()
      let replayed = Self.gradient(
        network, rows: rows, directions: directions, weights: [1, 2, 3, 4, 5], keepingIn: kept)
      // Kept positions 4, 0, 2 are rows 0, 6 and 3.
      let fresh = Self.gradient(
        network, rows: [0, 6, 3], directions: directions, weights: [0.5, -1.25, 2])
      #expect(replayed == fresh, "\(Scalar.self)")
      #expect(fresh.contains { $0 != 0 })
    }
    check(Float.self)
    check(Double.self)
  }
}
