import Foundation
import NodeCore
import NodeData
import NodeModels

/// Image classification (the paper's ODE-Net, RK-Net or ResNet on MNIST-format
/// data): mean cross-entropy, accuracy, and the ODE block's NFE per sample.
public final class ClassifierTask: TrainingTask {
  /// The model.
  public let model: any ImageClassifier<Float>
  /// The training and held-out images.
  public let training: ImageDataset
  public let evaluation: ImageDataset
  /// Images evaluated per solve in ``evaluate(samples:)``.
  public let evaluationBatch: Int

  /// A task on the first `trainingLimit` training and `evaluationLimit`
  /// held-out images (nil: all); pixels enter the model scaled to `[0, 1]`
  /// (as in the paper's code).
  public init(
    model: any ImageClassifier<Float>, training: ImageDataset, evaluation: ImageDataset,
    trainingLimit: Int? = nil, evaluationLimit: Int? = nil, evaluationBatch: Int = 256
  ) {
    self.model = model
    self.training = training
    self.evaluation = evaluation
    trainingSetSize = min(trainingLimit ?? training.count, training.count)
    evaluationSetSize = min(evaluationLimit ?? evaluation.count, evaluation.count)
    self.evaluationBatch = max(1, evaluationBatch)
  }

  public var objective: TaskObjective { .classification }
  public var parameterCount: Int { model.parameterCount }
  public var parameters: [Float] {
    get { model.parameters }
    set { model.parameters = newValue }
  }
  public let trainingSetSize: Int
  public let evaluationSetSize: Int

  public func initializeParameters(seed: UInt64) { model.initializeParameters(seed: seed) }

  public func namedTensors(of parameters: [Float]) -> [String: Tensor<Float>] {
    model.namedTensors(of: parameters)
  }

  /// Loads the file into the model and returns its parameters.
  public func parameters(from file: SafetensorsFile) throws -> [Float] {
    try model.load(file)
    return model.parameters
  }

  public func apply(_ tolerances: SolveTolerances) throws {
    guard let odeNet = model as? ODENetClassifier<Float> else { return }
    try odeNet.setTolerances(
      forward: tolerances.forward.scalars(), adjoint: tolerances.adjoint.scalars(),
      evaluation: tolerances.evaluation.scalars())
  }

  public func gradient(samples: ArraySlice<Int>, noiseSeed: UInt64) throws -> ChunkGradient {
    let images: Tensor<Float> = training.batch(indices: samples)
    let result = try model.gradient(images: images, labels: training.labels(at: samples))
    return ChunkGradient(
      loss: result.loss, metricSum: Double(result.correct), gradient: result.gradient,
      forwardEvaluations: result.forward?.functionEvaluations ?? [],
      backwardEvaluations: result.backward?.functionEvaluations ?? [],
      rejectedSteps: (result.forward?.rejectedSteps.reduce(0, +) ?? 0)
        + (result.backward?.rejectedSteps.reduce(0, +) ?? 0),
      firstFailedSample: [result.forward, result.backward].compactMap {
        $0?.status.firstIndex { $0 != .success }
      }.min())
  }

  /// Per-image cross-entropy (log-softmax in `Double`), correctness and NFE.
  public func evaluate(samples: Range<Int>) throws -> [SampleEvaluation] {
    var records: [SampleEvaluation] = []
    records.reserveCapacity(samples.count)
    var start = samples.lowerBound
    while start < samples.upperBound {
      let indices = start..<min(start + evaluationBatch, samples.upperBound)
      let images: Tensor<Float> = evaluation.batch(indices: indices)
      let prediction = try model.predictions(images: images)
      let labels = evaluation.labels(at: indices)
      for row in 0..<indices.count {
        let logits = prediction.logits.row(row).map(Double.init)
        let top = logits.max()!
        let logSum = top + log(logits.reduce(0) { $0 + exp($1 - top) })
        let label = labels[row]
        records.append(
          SampleEvaluation(
            loss: logSum - logits[label],
            correct: logits.firstIndex(of: top) == label ? 1 : 0,
            evaluations: prediction.statistics?.functionEvaluations[row] ?? 0))
      }
      start = indices.upperBound
    }
    return records
  }
}
