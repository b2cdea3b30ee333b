import Foundation
import NodeCore
import NodeData
import NodeModels
import NodeSensitivity
import NodeSolvers
import NodeTraining

/// Workload W2 of WORKLOADS.md: one training iteration of the ODE-Net
/// classifier — a batch of 128 Fashion-MNIST training images (pixels in
/// [0, 1]), the ODE block solved by dopri5 at rtol = atol = 1e-3 with adjoint
/// gradients, cross-entropy, and an SGD step (lr 0.1, momentum 0.9), in Float.
public final class W2Workload {
  /// The model.
  public let model: ODENetClassifier<Float>
  /// The gradient solver of the ODE block.
  public let solver: ODEGradientSolver<Float>
  /// The optimizer.
  public var optimizer: SGD<Float>
  /// The training images.
  public let data: ImageDataset
  /// Images per batch.
  public let batchSize: Int
  private var iteration = 0

  /// The copy of `w2-init.safetensors` bundled with node-dist.
  public static var bundledInitialWeightsURL: URL? {
    Bundle.module.url(forResource: "w2-init", withExtension: "safetensors")
  }

  /// Loads the model from a W2 weight file and the training split of Fashion-MNIST.
  public init(
    weights url: URL, batchSize: Int = 128, mode: GradientMode = .adjoint,
    dataDirectory: String = ImageDataset.fashionMNISTDirectory
  ) throws {
    model = try ODENetClassifier(mode: mode)
    try model.load(SafetensorsFile(contentsOf: url))
    let controller = StepSizeController<Float>.adaptive(
      PIController(relativeTolerance: 1e-3, absoluteTolerance: 1e-3))
    solver = try ODEGradientSolver(mode: mode, method: .dormandPrince, forward: controller)
    optimizer = SGD(parameterCount: model.parameterCount, learningRate: 0.1, momentum: 0.9)
    data = try ImageDataset.fashionMNIST(split: .train, directory: dataDirectory)
    self.batchSize = batchSize
  }

  /// What one iteration measured (the loss is the mean cross-entropy).
  public typealias Step = TrainingStep

  /// One training iteration on the next batch (in file order).
  public func step() throws -> Step {
    let first = (iteration * batchSize) % (data.count - batchSize + 1)
    iteration += 1
    let indices = Array(first..<(first + batchSize))
    let images: Tensor<Float> = data.batch(indices: indices)
    let result = try model.gradient(
      images: images.reshaped([batchSize, 784]), labels: data.labels(at: indices), solver: solver)
    var parameters = model.parameters
    optimizer.update(&parameters, gradient: result.gradient)
    model.parameters = parameters
    // An ODE-Net always reports its block's statistics.
    return Step(loss: result.loss, forward: result.forward!, backward: result.backward!)
  }
}
