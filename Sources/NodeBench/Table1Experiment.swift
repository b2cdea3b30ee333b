import NodeCore
import NodeData
import NodeModels
import NodeSensitivity
import NodeTraining

/// The rows of the paper's Table 1 (MNIST classifiers; here on Fashion-MNIST).
public enum Table1Model: String, CaseIterable, Sendable {
  /// The ODE-Net: one ODE block, trained through the adjoint.
  case odeNet = "odenet"
  /// The RK-Net: the same network, trained by backprop through the solver's steps.
  case rkNet = "rknet"
  /// The ResNet: six residual blocks in place of the ODE block.
  case resNet = "resnet"

  /// The name in the paper's table.
  public var displayName: String {
    switch self {
    case .odeNet: return "ODE-Net"
    case .rkNet: return "RK-Net"
    case .resNet: return "ResNet"
    }
  }

  /// The memory cost in the paper's Table 1 (L: layers, L̃: solver steps).
  public var memoryOrder: String {
    switch self {
    case .odeNet: return "O(1)"
    case .rkNet: return "O(L̃)"
    case .resNet: return "O(L)"
    }
  }
}

/// One row of Table 1: a classifier trained from its own seeded
/// initialisation on Fashion-MNIST as torchdiffeq's `odenet_mnist.py` does —
/// batch 128, SGD lr 0.1 momentum 0.9, no augmentation, pixels in [0, 1],
/// ODE blocks by dopri5 at rtol = atol = 1e-3 — then tested on the test set.
public struct Table1Experiment {
  /// Which network.
  public var model: Table1Model
  /// Feature-map channels (64 as in the paper).
  public var width = 64
  /// Training epochs.
  public var epochs = 1
  /// The seed of the initialisation and of the epochs' orders.
  public var seed: UInt64 = 0
  /// Images per batch.
  public var batchSize = 128
  /// SGD's learning rate and momentum.
  public var learningRate: Float = 0.1
  public var momentum: Float = 0.9
  /// The ODE block's tolerance (rtol = atol), for training and testing.
  public var tolerance: Float = 1e-3
  /// At most this many batches per epoch (nil: every full batch).
  public var batchLimit: Int?
  /// At most this many test images (nil: the whole test set).
  public var testLimit: Int?
  /// Where Fashion-MNIST's IDX files are.
  public var dataDirectory = ImageDataset.fashionMNISTDirectory

  /// An experiment with the paper's settings for `model`.
  public init(model: Table1Model) { self.model = model }

  /// What the run measured.
  public struct Result {
    /// The network.
    public let model: Table1Model
    /// Its number of parameters.
    public let parameterCount: Int
    /// Each epoch's training summary.
    public let epochs: [EpochSummary]
    /// The test-set evaluation after the last epoch.
    public let test: ClassifierEvaluation
  }

  /// The network, initialised from ``seed``.
  ///
  /// - Throws: ``ExperimentError`` for a width or tolerance out of range.
  public func makeModel() throws -> any ImageClassifier<Float> {
    guard width >= 1 else {
      throw ExperimentError.invalidOption(name: "width", value: "\(width)", allowed: "≥ 1")
    }
    guard tolerance > 0 && tolerance < 1 else {
      throw ExperimentError.invalidOption(
        name: "tolerance", value: "\(tolerance)", allowed: "a value in (0, 1)")
    }
    let network: any ImageClassifier<Float>
    switch model {
    case .odeNet: network = try ODENetClassifier(width: width, mode: .adjoint, tolerance: tolerance)
    case .rkNet: network = try ODENetClassifier(width: width, mode: .backprop, tolerance: tolerance)
    case .resNet: network = ResNetClassifier(width: width)
    }
    network.initializeParameters(seed: seed)
    return network
  }

  /// Trains ``epochs`` epochs and tests; `progress(epoch, batch, batches, result)`
  /// sees every update.
  public func run(
    progress: (Int, Int, Int, ClassifierGradient<Float>) -> Void = { _, _, _, _ in }
  ) throws -> Result {
    guard epochs >= 1 else {
      throw ExperimentError.invalidOption(name: "epochs", value: "\(epochs)", allowed: "≥ 1")
    }
    let network = try makeModel()
    let train = try ImageDataset.fashionMNIST(split: .train, directory: dataDirectory)
    let test = try ImageDataset.fashionMNIST(split: .test, directory: dataDirectory)
    return try run(network, train: train, test: test, progress: progress)
  }

  private func run<Model: ImageClassifier<Float>>(
    _ network: Model, train: ImageDataset, test: ImageDataset,
    progress: (Int, Int, Int, ClassifierGradient<Float>) -> Void
  ) throws -> Result {
    var training = try ClassifierTraining(
      model: network, data: train, batchSize: batchSize, seed: seed,
      optimizer: SGD(
        parameterCount: network.parameterCount, learningRate: learningRate, momentum: momentum))
    var summaries: [EpochSummary] = []
    for epoch in 0..<epochs {
      let batches = Swift.min(batchLimit ?? training.batchesPerEpoch, training.batchesPerEpoch)
      let summary = try training.trainEpoch(epoch, limit: batchLimit) { batch, result in
        progress(epoch, batch, batches, result)
      }
      summaries.append(summary)
    }
    let evaluation = try ClassifierEvaluation.evaluate(network, on: test, limit: testLimit)
    return Result(
      model: model, parameterCount: network.parameterCount, epochs: summaries, test: evaluation)
  }
}
