import NodeCore

/// What a model is judged by.
public enum TaskObjective: Sendable, Equatable {
  /// Classification: mean cross-entropy and accuracy.
  case classification
  /// Density estimation on `dimension`-dimensional data: mean negative
  /// log-likelihood in nats (and bits per dimension).
  case density(dimension: Int)
  /// Density matching: the mean reverse-KL term `log q − log p̃` (the KL
  /// divergence up to the target's log normaliser).
  case divergence
}

/// One chunk's contribution to a training step: its mean loss and gradient
/// and per-sample solver statistics.
public struct ChunkGradient: Sendable {
  /// The mean training loss over the chunk (regularisers included).
  public var loss: Double
  /// The chunk's summed per-sample metric: correct predictions for a
  /// classifier, negative log-likelihood for a density.
  public var metricSum: Double
  /// `∂(mean loss)/∂θ`, flat, in the task's parameter order.
  public var gradient: [Float]
  /// Function evaluations of each sample's forward and backward solves
  /// (empty for a model without an ODE).
  public var forwardEvaluations: [Int]
  public var backwardEvaluations: [Int]
  /// Rejected steps over the chunk's solves.
  public var rejectedSteps: Int
  /// The position in the chunk of the first sample whose solve did not
  /// succeed (nil when every solve succeeded): the step must be skipped.
  public var firstFailedSample: Int?

  /// A chunk result.
  public init(
    loss: Double, metricSum: Double, gradient: [Float], forwardEvaluations: [Int],
    backwardEvaluations: [Int], rejectedSteps: Int, firstFailedSample: Int? = nil
  ) {
    self.firstFailedSample = firstFailedSample
    self.loss = loss
    self.metricSum = metricSum
    self.gradient = gradient
    self.forwardEvaluations = forwardEvaluations
    self.backwardEvaluations = backwardEvaluations
    self.rejectedSteps = rejectedSteps
  }
}

/// One evaluated sample.
public struct SampleEvaluation: Sendable, Equatable {
  /// Its loss: cross-entropy, or negative log-likelihood in nats.
  public var loss: Double
  /// 1 when a classifier's top class is the label, else 0 (0 for densities).
  public var correct: Double
  /// Function evaluations of its solve (0 without an ODE).
  public var evaluations: Int

  /// An evaluation record.
  public init(loss: Double, correct: Double, evaluations: Int) {
    self.loss = loss
    self.correct = correct
    self.evaluations = evaluations
  }
}

/// A model with a density that can be evaluated at any points (CNFs): what
/// `eval --points` needs.
public protocol PointDensityTask: TrainingTask {
  /// The dimension of the points.
  var dataDimension: Int { get }
  /// Per point of `x` (`[N, D]`), `−log q(x)` and the NFE of its solve, at
  /// the evaluation tolerance.
  func negativeLogLikelihoods(of x: Tensor<Float>) throws -> [SampleEvaluation]
}

/// A model and its data, as the trainer drives them: flat parameters, the
/// gradient of a chunk of global sample indices, per-sample evaluation of
/// the held-out set, named tensors for checkpoints, and the solvers'
/// tolerances.
///
/// Every result must be a pure function of the parameters, the tolerances
/// and the sample indices (and `noiseSeed`): never of which rank computes it
/// or of what else is in the batch.
public protocol TrainingTask: AnyObject {
  /// What the model is judged by.
  var objective: TaskObjective { get }
  /// The number of parameters.
  var parameterCount: Int { get }
  /// Every parameter, flat.
  var parameters: [Float] { get set }
  /// Training samples (indices `0..<trainingSetSize`).
  var trainingSetSize: Int { get }
  /// Held-out samples (indices `0..<evaluationSetSize`).
  var evaluationSetSize: Int { get }
  /// Sets the parameters to the model's default initialisation from `seed`.
  func initializeParameters(seed: UInt64)
  /// `parameters` as named tensors (layer and parameter in the name).
  func namedTensors(of parameters: [Float]) -> [String: Tensor<Float>]
  /// The flat parameters stored in a weights file of ``namedTensors(of:)``' names.
  func parameters(from file: SafetensorsFile) throws -> [Float]
  /// Makes the next solves use these tolerances.
  func apply(_ tolerances: SolveTolerances) throws
  /// The mean loss and gradient over training samples `samples`; `noiseSeed`
  /// keys any randomness (Hutchinson directions) with the sample indices.
  func gradient(samples: ArraySlice<Int>, noiseSeed: UInt64) throws -> ChunkGradient
  /// Per-sample evaluation of held-out samples `samples`, at the evaluation tolerance.
  func evaluate(samples: Range<Int>) throws -> [SampleEvaluation]
}
