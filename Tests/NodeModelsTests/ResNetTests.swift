import NodeCore
import NodeNN
import Testing

@testable import NodeModels

@Suite struct ResNetTests {
  /// torchdiffeq's ResNet for MNIST: the ODE-Net's stem and head around six
  /// residual blocks of two bias-free 3×3 convolutions (0.58 M parameters;
  /// the paper's Table 1 rounds to 0.60 M).
  @Test func hasThePaperShape() throws {
    let model = ResNetClassifier<Float>()
    let stem = 640 + 128 + 65_600 + 128 + 65_600
    let block = 2 * (128 + 64 * 64 * 9)
    #expect(model.parameterCount == stem + 6 * block + 128 + 650)
    let names = model.network.namedParameters.map(\.name)
    #expect(names.contains("blocks.5.conv2.weight") && !names.contains("blocks.0.conv1.bias"))
    #expect(names.first == "down.conv1.weight" && names.last == "head.fc.bias")
    // The stem starts where the ODE-Net's does from the same seed.
    let odeNet = try ODENetClassifier<Float>()
    model.initializeParameters(seed: 4)
    odeNet.initializeParameters(seed: 4)
    #expect(Array(model.parameters[0..<stem]) == odeNet.downParameters)
  }

  /// The whole network's gradient against central differences (Double, width 4).
  @Test func gradientMatchesFiniteDifferences() throws {
    let model = ResNetClassifier<Double>(width: 4, blocks: 2)
    model.initializeParameters(seed: 12)
    let random = CounterRandom(seed: 5)
    // Move norms off their ones/zeros start so every term of the product matters.
    model.parameters = model.parameters.enumerated().map {
      $1 + 0.3 * random.normal(stream: 1, index: UInt64($0), as: Double.self)
    }
    let images = Tensor<Double>(
      shape: [2, 784],
      scalars: (0..<1568).map { random.uniform(stream: 2, index: UInt64($0), as: Double.self) })
    let labels = [1, 8]
    let result = try model.gradient(images: images, labels: labels)
    let base = model.parameters
    func loss(_ p: [Double]) throws -> Double {
      model.parameters = p
      defer { model.parameters = base }
      return try model.gradient(images: images, labels: labels).loss
    }
    var worst = 0.0
    let h = 1e-5
    for j in stride(from: 0, to: model.parameterCount, by: 7) {
      var (up, down) = (base, base)
      up[j] += h
      down[j] -= h
      let fd = (try loss(up) - loss(down)) / (2 * h)
      worst = max(worst, abs(result.gradient[j] - fd) / max(abs(fd), 1e-3))
    }
    #expect(worst < 1e-5, "worst relative error \(worst)")
    // The predictions are the forward pass the gradient started from.
    let prediction = try model.predictions(images: images)
    #expect(prediction.statistics == nil && prediction.logits.shape == [2, 10])
  }
}
