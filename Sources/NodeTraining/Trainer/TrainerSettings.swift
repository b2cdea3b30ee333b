import Foundation

/// How long a run trains and how often it logs, evaluates, checkpoints and
/// checks that the ranks agree.
public struct TrainerSettings: Sendable, Equatable, Codable {
  /// Optimizer steps in the whole run (skipped steps count).
  public var steps: Int
  /// The seed of data order, Hutchinson noise and initialisation.
  public var seed: UInt64
  /// The learning rate over steps.
  public var learningRate: LearningRateSchedule
  /// Clip the gradient to this global norm (nil: no clipping).
  public var clipNorm: Double?
  /// Write a metrics line every this many steps (skipped steps always).
  public var logEvery: Int = 1
  /// Evaluate the held-out set every this many steps (nil: at the end only).
  public var evaluateEvery: Int?
  /// Held-out samples per evaluation (nil: all).
  public var evaluationLimit: Int?
  /// Checkpoint every this many steps (nil: only at epoch ends and the end).
  public var checkpointEvery: Int?
  /// Also checkpoint at the end of every epoch.
  public var checkpointAtEpochEnd = true
  /// Checkpoints kept.
  public var keepCheckpoints = 3
  /// Compare the ranks' parameter hashes every this many steps.
  public var checksumEvery = 50
  /// Stop after this many skipped steps in a row.
  public var maxConsecutiveSkips = 5
  /// A safetensors file in the task's tensor names that a fresh run starts
  /// from instead of the seeded initialisation (nil: the initialisation).
  public var initialWeights: URL?

  /// Settings for `steps` steps from `seed` at `learningRate`.
  public init(steps: Int, seed: UInt64, learningRate: LearningRateSchedule) {
    self.steps = steps
    self.seed = seed
    self.learningRate = learningRate
  }
}

/// What rank 0's trainer reports as it goes (other ranks report nothing).
public enum TrainerEvent: Sendable {
  /// Starting: fresh, or resumed from a checkpoint at a step, with the
  /// checkpoints that failed to verify and why, and where a fresh start moved
  /// an earlier run's checkpoints.
  case started(
    step: Int, resumedFrom: String?, skippedCheckpoints: [String],
    earlierCheckpointsMovedTo: String?)
  /// A step finished (or was skipped).
  case step(StepMetrics)
  /// A held-out evaluation finished.
  case evaluation(EvaluationMetrics)
  /// A checkpoint was written.
  case checkpoint(path: String, step: Int)
}
