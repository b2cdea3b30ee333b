import NodeCore

/// Per-sample statistics of a solve, one entry per sample of the batch.
public struct SolveStatistics<Scalar: TensorScalar>: Sendable, Equatable {
  /// Vector-field evaluations of each sample.
  public internal(set) var functionEvaluations: [Int]
  /// Accepted steps of each sample.
  public internal(set) var acceptedSteps: [Int]
  /// Rejected steps of each sample.
  public internal(set) var rejectedSteps: [Int]
  /// How each sample's integration ended.
  public internal(set) var status: [SolveStatus]
  /// The time each sample reached: its final time on success, otherwise where it stopped.
  public internal(set) var stopTimes: [Scalar]

  init(batchSize: Int) {
    functionEvaluations = [Int](repeating: 0, count: batchSize)
    acceptedSteps = functionEvaluations
    rejectedSteps = functionEvaluations
    status = [SolveStatus](repeating: .success, count: batchSize)
    stopTimes = [Scalar](repeating: 0, count: batchSize)
  }

  /// The number of samples.
  public var count: Int { status.count }

  /// Whether every sample reached its final time.
  public var allSucceeded: Bool { status.allSatisfy { $0 == .success } }

  /// The mean number of function evaluations per sample.
  public var meanFunctionEvaluations: Double {
    count == 0 ? 0 : Double(functionEvaluations.reduce(0, +)) / Double(count)
  }

  /// The largest number of function evaluations of any sample.
  public var maxFunctionEvaluations: Int { functionEvaluations.max() ?? 0 }

  /// The number of samples with each status.
  public var statusCounts: [SolveStatus: Int] {
    status.reduce(into: [:]) { $0[$1, default: 0] += 1 }
  }
}
