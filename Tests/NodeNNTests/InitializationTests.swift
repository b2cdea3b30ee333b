import NodeCore
import Testing

@testable import NodeNN

/// Default initialisation: PyTorch's distributions, drawn purely from the seed.
@Suite struct InitializationTests {
  static func chain() -> Sequential<Double> {
    let geometry = ConvolutionGeometry(
      inputChannels: 3, outputChannels: 8, kernel: (3, 3), padding: 1, input: (6, 6))
    return Sequential(
      [
        Conv2d(geometry), GroupNorm(groups: 2, channels: 8, pixels: 36),
        ElementwiseActivation(.relu, size: 288), Linear(inputs: 288, outputs: 50),
        Linear(inputs: 50, outputs: 50),
      ],
      names: ["conv", "norm", nil, "fc1", "fc2"])
  }

  /// Values of the named tensor in a flat parameter buffer.
  static func tensor(_ name: String, of p: [Double], in net: Sequential<Double>) -> [Double] {
    let t = net.namedParameters.first { $0.name == name }!
    return Array(p[t.offset..<(t.offset + t.shape.reduce(1, *))])
  }

  /// Every weight and bias is U(−1/√fan_in, 1/√fan_in): inside the bound, with
  /// the uniform's mean 0 and variance b²/3 (checked to 5 standard errors).
  @Test(arguments: [
    ("conv.weight", 27), ("conv.bias", 27), ("fc1.weight", 288), ("fc2.weight", 50),
  ])
  func kaimingUniformMatchesPyTorch(name: String, fanIn: Int) {
    let net = Self.chain()
    let values = Self.tensor(name, of: net.initialParameters(seed: 7), in: net)
    let bound = 1 / Double(fanIn).squareRoot()
    let n = Double(values.count)
    #expect(values.allSatisfy { abs($0) < bound })
    let mean = values.reduce(0, +) / n
    let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / n
    // Var of a uniform on (−b, b) is b²/3; its fourth central moment b⁴/5.
    let expected = bound * bound / 3
    let varianceError = (bound * bound * bound * bound / 5 - expected * expected).squareRoot()
    #expect(abs(mean) < 5 * (expected / n).squareRoot(), "\(name): mean \(mean)")
    #expect(abs(variance - expected) < 5 * varianceError / n.squareRoot() + 1e-12)
  }

  @Test func normsStartAtOnesAndZeros() {
    let net = Self.chain()
    let p = net.initialParameters(seed: 7)
    #expect(Self.tensor("norm.weight", of: p, in: net).allSatisfy { $0 == 1 })
    #expect(Self.tensor("norm.bias", of: p, in: net).allSatisfy { $0 == 0 })
  }

  /// A pure function of (seed, stream); every tensor has a stream of its own.
  @Test func drawsDependOnlyOnSeedAndStream() {
    let net = Self.chain()
    #expect(net.initialParameters(seed: 3) == Self.chain().initialParameters(seed: 3))
    #expect(net.initialParameters(seed: 3) != net.initialParameters(seed: 4))
    #expect(net.initialParameters(seed: 3, stream: 1) != net.initialParameters(seed: 3))
    // Tensors of the same shape in one chain are not copies of each other.
    let p = net.initialParameters(seed: 3)
    #expect(
      Self.tensor("fc2.bias", of: p, in: net).map { $0 * 50.squareRoot() }
        != Self.tensor("fc1.bias", of: p, in: net).map { $0 * 288.squareRoot() })
    // Float and Double draw the same distribution element by element.
    let single = Sequential<Float>([Linear(inputs: 4, outputs: 3)], names: ["fc"])
    let double = Sequential<Double>([Linear(inputs: 4, outputs: 3)], names: ["fc"])
    for (a, b) in zip(single.initialParameters(seed: 5), double.initialParameters(seed: 5)) {
      #expect(abs(Double(a) - b) < 1e-6)
    }
  }

  /// FFJORD's concat-squash hyper-networks are `nn.Linear(1, out)`: U(−1, 1).
  @Test func concatSquashGatesHaveFanInOne() {
    let layer = ConcatSquashLinear<Double>(inputs: 16, outputs: 200)
    let net = Sequential([layer], names: ["cs"])
    let p = net.initialParameters(seed: 1)
    let gates = Self.tensor("cs.gate_weight", of: p, in: net)
    #expect(gates.allSatisfy { abs($0) < 1 } && gates.contains { abs($0) > 0.5 })
    #expect(Self.tensor("cs.weight", of: p, in: net).allSatisfy { abs($0) < 0.25 })
  }
}
