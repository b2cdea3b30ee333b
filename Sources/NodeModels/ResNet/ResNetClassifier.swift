import NodeCore
import NodeNN

/// The paper's ResNet baseline for `1 × 28 × 28` images (Table 1; torchdiffeq's
/// `odenet_mnist.py --network resnet`): the ODE-Net's downsampling stem, then
/// `blocks` residual blocks on `w × 6 × 6` features — each
/// `x + conv(relu(norm(conv(relu(norm(x))))))` with 3×3 convolutions without
/// bias, padding 1 — then the ODE-Net's head.
///
/// Tensor names: `down.*` and `head.*` as the ODE-Net's, and
/// `blocks.{i}.{norm1, conv1, norm2, conv2}.*` for block `i`.
public final class ResNetClassifier<Scalar: TensorScalar>: ImageClassifier {
  /// Stem, residual blocks and head as one chain.
  public let network: Sequential<Scalar>
  /// The width (channels) of the feature maps.
  public let width: Int
  /// The number of residual blocks.
  public let blockCount: Int
  public var parameters: [Scalar]

  /// A ResNet of the given width and depth with zero parameters (initialise or load them).
  public init(width: Int = 64, blocks: Int = 6) {
    precondition(width > 0 && blocks >= 0, "a ResNet needs width > 0 and blocks ≥ 0")
    self.width = width
    blockCount = blocks
    let stem = ClassifierStages.downsampling(width: width, as: Scalar.self)
    let top = ClassifierStages.head(width: width, as: Scalar.self)
    let side = ClassifierStages.featureSide
    let pixels = side * side
    let groups = ClassifierStages.groups(width: width)
    let geometry = ConvolutionGeometry(
      inputChannels: width, outputChannels: width, kernel: (3, 3), padding: 1,
      input: (side, side))
    var layers = stem.layers
    var names = stem.names
    for i in 0..<blocks {
      let body = Sequential<Scalar>(
        [
          GroupNorm(groups: groups, channels: width, pixels: pixels),
          ElementwiseActivation(.relu, size: width * pixels), Conv2d(geometry, bias: false),
          GroupNorm(groups: groups, channels: width, pixels: pixels),
          ElementwiseActivation(.relu, size: width * pixels), Conv2d(geometry, bias: false),
        ],
        names: ["norm1", nil, "conv1", "norm2", nil, "conv2"])
      layers.append(Residual(body))
      names.append("blocks.\(i)")
    }
    network = Sequential(layers + top.layers, names: names + top.names)
    parameters = [Scalar](repeating: 0, count: network.parameterCount)
  }

  public var parameterCount: Int { network.parameterCount }

  /// Default initialisation from `seed`, stream 0 (the stem's tensors draw
  /// what the ODE-Net's draw from the same seed).
  public func initializeParameters(seed: UInt64) {
    parameters = network.initialParameters(seed: seed, stream: 0)
  }

  /// Loads every parameter from a safetensors file with exactly this model's tensors.
  ///
  /// - Throws: ``SafetensorsError`` naming a missing, extra or mis-shaped tensor.
  public func load(_ file: SafetensorsFile) throws {
    parameters = try network.parameters(from: file)
  }

  /// The network's named tensors of `parameters`.
  public func namedTensors(of parameters: [Scalar]) -> [String: Tensor<Scalar>] {
    network.tensors(of: parameters)
  }

  public func gradient(images: Tensor<Scalar>, labels: [Int]) throws -> ClassifierGradient<Scalar> {
    let b = images.shape[0]
    let zeros = [Scalar](repeating: 0, count: b)
    let logits = network.forward(images.scalars, rows: b, times: zeros, parameters: parameters)
    let (loss, correct, logitBars) = ClassifierLoss.evaluate(
      logits: logits, labels: labels, rows: b, classes: 10)
    var gradient = [Scalar](repeating: 0, count: parameterCount)
    logitBars.withUnsafeBufferPointer { g in
      gradient.withUnsafeMutableBufferPointer { grad in
        network.backward(
          times: zeros, parameters: parameters,
          outputCotangent: MatrixView(base: g.baseAddress!, rows: b, columns: 10),
          inputCotangent: nil, timeCotangents: nil, parameterGradient: grad.baseAddress!,
          rowWeights: nil)
      }
    }
    return ClassifierGradient(
      loss: loss, correct: correct, gradient: gradient, forward: nil, backward: nil)
  }

  public func predictions(images: Tensor<Scalar>) throws -> ClassifierPrediction<Scalar> {
    let b = images.shape[0]
    let logits = network.forward(
      images.scalars, rows: b, times: [Scalar](repeating: 0, count: b), parameters: parameters)
    return ClassifierPrediction(logits: Tensor(shape: [b, 10], scalars: logits), statistics: nil)
  }
}
