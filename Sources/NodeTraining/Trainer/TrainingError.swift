/// Why a run stopped. Every case says what happened and, where it helps,
/// what to do.
public enum TrainingError: Error, CustomStringConvertible, Equatable {
  /// Too many steps in a row were skipped (non-finite values or failed solves).
  case tooManySkippedSteps(count: Int, lastReason: String)
  /// The ranks' parameters differ: a bug or a hardware fault.
  case parametersDiverged(step: Int)
  /// The coordinator (rank 0) failed at something every rank depends on.
  case coordinatorFailed(String)
  /// Evaluation failed on some rank.
  case evaluationFailed(rank: Int, reason: String)
  /// A checkpoint cannot continue this run.
  case incompatibleCheckpoint(String)
  /// A setting is out of range.
  case invalidSetting(name: String, value: String, allowed: String)

  public var description: String {
    switch self {
    case .tooManySkippedSteps(let count, let reason):
      return "stopped after \(count) skipped steps in a row (last: \(reason)); the last good"
        + " checkpoint is intact — lower the learning rate or tighten the tolerance and --resume"
    case .parametersDiverged(let step):
      return "the ranks' parameters differ at step \(step): the run is no longer data-parallel;"
        + " stopped to keep the last good checkpoint"
    case .coordinatorFailed(let message):
      return "rank 0 failed: \(message)"
    case .evaluationFailed(let rank, let reason):
      return "evaluation failed on rank \(rank): \(reason)"
    case .incompatibleCheckpoint(let reason):
      return "cannot resume: \(reason)"
    case .invalidSetting(let name, let value, let allowed):
      return "invalid \(name) = \(value); allowed: \(allowed)"
    }
  }
}
