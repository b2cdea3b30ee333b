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
/// With several threads, each computes a contiguous chunk of the batch on its
/// own replica of the model, its loss summed over the whole batch's size (its
/// share of the batch's mean); the chunks' gradients are summed in chunk
/// order. Every sample's solves are one thread's, so NFE and loss are one
/// thread's and the gradient differs by summation order only.
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
  /// How the batch is cut into one chunk per worker thread.
  public let chunks: BatchChunks
  /// Each worker thread's model and solver: ``model`` and ``solver`` first, then replicas.
  private let workers: [(model: ODENetClassifier<Float>, solver: ODEGradientSolver<Float>)]
  private var iteration = 0

  /// The copy of `w2-init.safetensors` bundled with node-dist.
  public static var bundledInitialWeightsURL: URL? {
    Bundle.module.url(forResource: "w2-init", withExtension: "safetensors")
  }

  /// Loads the model from a W2 weight file and the training split of
  /// Fashion-MNIST; each iteration's batch is split among `threads` worker
  /// threads (run BLAS on one thread, ``BLASRuntime/setThreadCount(_:)``),
  /// the adjoint starting its backward solves as `adjointFirstStep` says.
  ///
  /// - Throws: ``ExperimentError/invalidOption(name:value:allowed:)`` for a
  ///   thread count below 1 or above the batch size.
  public init(
    weights url: URL, batchSize: Int = 128, mode: GradientMode = .adjoint,
    adjointFirstStep: AdjointFirstStep = .select,
    dataDirectory: String = ImageDataset.fashionMNISTDirectory, threads: Int = 1
  ) throws {
    chunks = try BatchChunks(batchSize: batchSize, threads: threads)
    model = try ODENetClassifier(mode: mode)
    try model.load(SafetensorsFile(contentsOf: url))
    let controller = StepSizeController<Float>.adaptive(
      PIController(relativeTolerance: 1e-3, absoluteTolerance: 1e-3))
    let makeSolver = {
      try ODEGradientSolver<Float>(
        mode: mode, method: .dormandPrince, forward: controller,
        adjointFirstStep: adjointFirstStep)
    }
    solver = try makeSolver()
    workers =
      [(model, solver)]
      + (try (1..<threads).map { _ in (try ODENetClassifier(mode: mode), try makeSolver()) })
    optimizer = SGD(parameterCount: model.parameterCount, learningRate: 0.1, momentum: 0.9)
    data = try ImageDataset.fashionMNIST(split: .train, directory: dataDirectory)
    self.batchSize = batchSize
  }

  /// Worker threads per iteration.
  public var threads: Int { chunks.ranges.count }

  /// What one iteration measured (the loss is the mean cross-entropy).
  public typealias Step = TrainingStep

  /// One training iteration on the next batch (in file order): every chunk's
  /// share of the batch's gradient on its worker's replica, their sum, one
  /// SGD step on ``model``.
  public func step() throws -> Step {
    let first = (iteration * batchSize) % (data.count - batchSize + 1)
    iteration += 1
    let indices = Array(first..<(first + batchSize))
    var parameters = model.parameters
    for worker in workers.dropFirst() { worker.model.parameters = parameters }
    let (step, gradient) = try chunks.run(on: workers) { [data, batchSize] worker, samples in
      let chunk = indices[samples]
      let images: Tensor<Float> = data.batch(indices: chunk)
      // The chunk's share of the whole batch's mean: each sample's adjoint
      // starts from the cotangents it has in the whole batch.
      let result = try worker.model.gradient(
        images: images.reshaped([chunk.count, 784]), labels: data.labels(at: chunk),
        solver: worker.solver, lossNormalizer: batchSize)
      // An ODE-Net always reports its block's statistics.
      return ChunkShare(
        lossSum: result.loss * Double(batchSize), gradient: result.gradient,
        forward: result.forward!, backward: result.backward!)
    }
    optimizer.update(&parameters, gradient: gradient)
    model.parameters = parameters
    return step
  }
}
