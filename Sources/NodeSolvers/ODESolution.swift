import NodeCore

/// The result of a batched solve.
public struct ODESolution<Scalar: TensorScalar>: Sendable {
  /// The output times.
  public let times: TimeGrid<Scalar>
  /// The states at the output times, `[B, T, D]`. For a sample that stopped
  /// early, the times after its stop time hold NaN.
  public internal(set) var states: Tensor<Scalar>
  /// The last state each sample reached, `[B, D]`: the final state on
  /// success, otherwise the state at its stop time.
  public internal(set) var finalStates: Tensor<Scalar>
  /// Per-sample evaluations, steps, status and stop time.
  public internal(set) var statistics: SolveStatistics<Scalar>

  /// The state of `sample` at output time index `time`, `D` values.
  public func state(sample: Int, time: Int) -> ArraySlice<Scalar> {
    let width = states.shape[2]
    let start = (sample * states.shape[1] + time) * width
    return states.scalars[start..<(start + width)]
  }
}
