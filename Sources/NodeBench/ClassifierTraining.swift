import NodeCore
import NodeData
import NodeModels
import NodeSolvers
import NodeTraining

/// Trains and evaluates an ``NodeModels/ImageClassifier`` on an image data
/// set, one process: batches in the epoch's shuffled order
/// (``NodeData/EpochOrder``), the last partial batch dropped (as the paper's
/// training script does), pixels in [0, 1], SGD.
public struct ClassifierTraining<Model: ImageClassifier> {
  /// The model being trained.
  public let model: Model
  /// The training images.
  public let data: ImageDataset
  /// Images per batch.
  public let batchSize: Int
  /// The seed of the epochs' orders.
  public let seed: UInt64
  /// The optimizer.
  public var optimizer: SGD<Model.Scalar>

  /// A training run of `model` on `data`.
  ///
  /// - Throws: ``ExperimentError`` when the batch size is not in `1…data.count`.
  public init(
    model: Model, data: ImageDataset, batchSize: Int, seed: UInt64, optimizer: SGD<Model.Scalar>
  ) throws {
    guard batchSize >= 1 && batchSize <= data.count else {
      throw ExperimentError.invalidOption(
        name: "batch size", value: "\(batchSize)", allowed: "1…\(data.count)")
    }
    self.model = model
    self.data = data
    self.batchSize = batchSize
    self.seed = seed
    self.optimizer = optimizer
  }

  /// The number of full batches in an epoch.
  public var batchesPerEpoch: Int { data.count / batchSize }

  /// Trains one epoch (`epoch` picks the order) on at most `limit` batches,
  /// calling `progress(batch, result)` after each update.
  public mutating func trainEpoch(
    _ epoch: Int, limit: Int? = nil,
    progress: (Int, ClassifierGradient<Model.Scalar>) -> Void = { _, _ in }
  ) throws -> EpochSummary {
    let order = EpochOrder.permutation(count: data.count, seed: seed, epoch: epoch)
    let batches = Swift.min(limit ?? batchesPerEpoch, batchesPerEpoch)
    var summary = EpochSummary()
    var lossSum = 0.0
    var correct = 0
    var forward = 0.0
    var backward = 0.0
    let clock = ContinuousClock()
    let start = clock.now
    for batch in 0..<batches {
      let indices = Array(order[(batch * batchSize)..<((batch + 1) * batchSize)])
      let images: Tensor<Model.Scalar> = data.batch(indices: indices)
      let result = try model.gradient(
        images: images.reshaped([batchSize, data.pixelsPerImage]),
        labels: data.labels(at: indices))
      var parameters = model.parameters
      optimizer.update(&parameters, gradient: result.gradient)
      model.parameters = parameters
      lossSum += result.loss
      correct += result.correct
      if let f = result.forward, let b = result.backward {
        forward += f.meanFunctionEvaluations
        backward += b.meanFunctionEvaluations
        summary.maxForwardEvaluations = Swift.max(
          summary.maxForwardEvaluations, f.maxFunctionEvaluations)
        summary.maxBackwardEvaluations = Swift.max(
          summary.maxBackwardEvaluations, b.maxFunctionEvaluations)
        summary.failedSamples += f.status.count { $0 != .success }
        summary.failedSamples += b.status.count { $0 != .success }
        summary.forwardEvaluations = forward / Double(batch + 1)
        summary.backwardEvaluations = backward / Double(batch + 1)
      }
      summary.batches = batch + 1
      progress(batch, result)
    }
    summary.meanLoss = lossSum / Double(Swift.max(batches, 1))
    summary.trainingAccuracy = Double(correct) / Double(Swift.max(batches * batchSize, 1))
    summary.seconds = (clock.now - start).seconds
    return summary
  }
}

/// What one epoch of training measured.
public struct EpochSummary: Sendable {
  /// The number of batches trained on.
  public var batches = 0
  /// The mean of the batches' mean cross-entropies.
  public var meanLoss = 0.0
  /// The fraction of training samples classified correctly before their update.
  public var trainingAccuracy = 0.0
  /// Function evaluations of the ODE block per sample, averaged over the
  /// epoch's samples (nil without an ODE block).
  public var forwardEvaluations: Double?
  public var backwardEvaluations: Double?
  /// The most function evaluations any sample needed, forward and backward.
  public var maxForwardEvaluations = 0
  public var maxBackwardEvaluations = 0
  /// Samples whose solve did not succeed.
  public var failedSamples = 0
  /// Wall-clock seconds.
  public var seconds = 0.0
}

/// What an evaluation of a classifier on a labelled set measured.
public struct ClassifierEvaluation: Sendable {
  /// The number of images evaluated.
  public var samples = 0
  /// The fraction classified correctly.
  public var accuracy = 0.0
  /// Function evaluations of the ODE block per sample, mean and max (nil/0 without one).
  public var meanEvaluations: Double?
  public var maxEvaluations = 0
  /// Samples whose solve did not succeed.
  public var failedSamples = 0
  /// Wall-clock seconds.
  public var seconds = 0.0

  /// Evaluates `model` on the first `limit` images of `data` (all by
  /// default) in batches of `batchSize`, every image exactly once.
  public static func evaluate<Model: ImageClassifier>(
    _ model: Model, on data: ImageDataset, batchSize: Int = 256, limit: Int? = nil
  ) throws -> ClassifierEvaluation {
    let count = Swift.min(limit ?? data.count, data.count)
    var result = ClassifierEvaluation()
    var correct = 0
    var evaluations = 0.0
    let clock = ContinuousClock()
    let start = clock.now
    for first in stride(from: 0, to: count, by: batchSize) {
      let indices = Array(first..<Swift.min(first + batchSize, count))
      let images: Tensor<Model.Scalar> = data.batch(indices: indices)
      let prediction = try model.predictions(
        images: images.reshaped([indices.count, data.pixelsPerImage]))
      for (predicted, label) in zip(prediction.predictedClasses, data.labels(at: indices))
      where predicted == label {
        correct += 1
      }
      if let statistics = prediction.statistics {
        evaluations += statistics.meanFunctionEvaluations * Double(indices.count)
        result.maxEvaluations = Swift.max(result.maxEvaluations, statistics.maxFunctionEvaluations)
        result.failedSamples += statistics.status.count { $0 != .success }
        result.meanEvaluations = evaluations / Double(first + indices.count)
      }
    }
    result.samples = count
    result.accuracy = Double(correct) / Double(Swift.max(count, 1))
    result.seconds = (clock.now - start).seconds
    return result
  }
}
