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
  /// The step size (a magnitude) the controller proposed after each sample's
  /// last accepted step: where a solve continuing from the sample's stop time
  /// would start. Zero for a sample that took no accepted step.
  public internal(set) var nextStepSizes: [Scalar]

  /// Statistics of `batchSize` samples that have not taken a step yet.
  public init(batchSize: Int) {
    functionEvaluations = [Int](repeating: 0, count: batchSize)
    acceptedSteps = functionEvaluations
    rejectedSteps = functionEvaluations
    status = [SolveStatus](repeating: .success, count: batchSize)
    stopTimes = [Scalar](repeating: 0, count: batchSize)
    nextStepSizes = stopTimes
  }

  /// Adds another solve's evaluations and steps of the same samples; a sample
  /// keeps its first failure, and takes the other's stop time while it has
  /// none. A later solve's step proposal replaces an earlier one.
  /// Specialised for the ranges and index arrays its callers pass: unspecialised,
  /// the generic iteration cost a W1 iteration 1.4 % in dynamic casts.
  @_specialize(where Scalar == Float, Samples == Range<Int>)
  @_specialize(where Scalar == Double, Samples == Range<Int>)
  @_specialize(where Scalar == Float, Samples == [Int])
  public mutating func accumulate<Samples: Collection<Int>>(
    _ other: SolveStatistics<Scalar>, samples: Samples
  ) {
    for (i, s) in samples.enumerated() {
      functionEvaluations[s] += other.functionEvaluations[i]
      acceptedSteps[s] += other.acceptedSteps[i]
      rejectedSteps[s] += other.rejectedSteps[i]
      if status[s] == .success {
        status[s] = other.status[i]
        stopTimes[s] = other.stopTimes[i]
      }
      if other.nextStepSizes[i] > 0 { nextStepSizes[s] = other.nextStepSizes[i] }
    }
  }

  /// Records that `sample` took `evaluations` more evaluations and `steps` more accepted steps.
  public mutating func add(sample: Int, evaluations: Int, acceptedSteps steps: Int) {
    functionEvaluations[sample] += evaluations
    acceptedSteps[sample] += steps
  }

  /// Sets how `sample` ended and where.
  public mutating func setOutcome(sample: Int, status: SolveStatus, stopTime: Scalar) {
    self.status[sample] = status
    stopTimes[sample] = stopTime
  }

  /// The statistics of the given samples, in their order.
  public func subset(_ samples: [Int]) -> SolveStatistics<Scalar> {
    var result = SolveStatistics(batchSize: samples.count)
    for (i, s) in samples.enumerated() {
      result.functionEvaluations[i] = functionEvaluations[s]
      result.acceptedSteps[i] = acceptedSteps[s]
      result.rejectedSteps[i] = rejectedSteps[s]
      result.status[i] = status[s]
      result.stopTimes[i] = stopTimes[s]
      result.nextStepSizes[i] = nextStepSizes[s]
    }
    return result
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
