import NodeCore

/// Sees every step attempt of a solve: the hook through which sensitivity
/// methods accumulate integrals outside the state and record trajectories.
///
/// An observer may add an error measure of quantities outside the state (for
/// a full-norm adjoint, the parameter integral), and is told of each attempt
/// once every row's acceptance is known, before accepted rows advance. It runs
/// on the integrator's thread, inside the stepping loop: it must not allocate
/// on its hot path, and must treat each row on its own.
public protocol StepObserver<Scalar>: AnyObject {
  /// The element type.
  associatedtype Scalar: TensorScalar

  /// Whether ``errorRatios(of:into:)`` measures anything.
  var measuresErrors: Bool { get }

  /// Writes each row's error ratio of the observer's own quantities into
  /// `ratios[row]` (called before any acceptance is decided). A row's step is
  /// accepted when the larger of this and its state's error ratio is at most
  /// 1 — the mixed norm of torchdiffeq (the max over parts of their RMS).
  func errorRatios(of attempt: StepAttempt<Scalar>, into ratios: UnsafeMutablePointer<Scalar>)

  /// Called just before the attempt evaluates stage `stage` of every row, once
  /// the rows' step sizes are fixed (not for a first-same-as-last stage that
  /// an earlier attempt evaluated). What the observer needs from that
  /// evaluation it must arrange with the field; ``stepDecided(_:)`` then says
  /// which rows' stages count.
  func stageWillBeEvaluated(_ stage: Int, of attempt: StepAttempt<Scalar>)

  /// Called just before a solve evaluates the first stage at its initial
  /// states, which its first step then uses. Only the attempt's rows, their
  /// samples, start times and states are set; its step sizes, acceptances,
  /// stages and trial states are not yet meaningful.
  func initialStageWillBeEvaluated(of attempt: StepAttempt<Scalar>)

  /// Called once per step attempt after every row was accepted or rejected,
  /// while the rows still hold the step's start state, stages and trial state.
  func stepDecided(_ attempt: StepAttempt<Scalar>)
}

extension StepObserver {
  public var measuresErrors: Bool { false }

  public func errorRatios(
    of attempt: StepAttempt<Scalar>, into ratios: UnsafeMutablePointer<Scalar>
  ) {}

  public func stageWillBeEvaluated(_ stage: Int, of attempt: StepAttempt<Scalar>) {}

  public func initialStageWillBeEvaluated(of attempt: StepAttempt<Scalar>) {}
}

/// One step attempt of every active row, as an observer sees it.
///
/// Rows are the integrator's active samples (compacted: row `r` is sample
/// `sampleIndices[r]` of the caller's batch). All pointers are valid only for
/// the duration of the observer call.
public struct StepAttempt<Scalar: TensorScalar> {
  /// The number of rows.
  public let rows: Int
  /// The state dimension.
  public let dimension: Int
  /// Each row's position in the caller's batch.
  public let sampleIndices: UnsafePointer<Int>
  /// Each row's time at the start of the step.
  public let startTimes: UnsafePointer<Scalar>
  /// Each row's time at the end of the step (exactly the final time for a last step).
  public let endTimes: UnsafePointer<Scalar>
  /// Each row's signed step size `h`.
  public let steps: UnsafePointer<Scalar>
  /// Whether each row's step was accepted.
  public let accepted: UnsafePointer<Bool>
  /// Whether each row's step is its last (ends at its final time).
  public let isLast: UnsafePointer<Bool>
  /// The states at the start of the step, `[rows, dimension]`.
  public let states: UnsafePointer<Scalar>
  /// The states at the end of the step, `[rows, dimension]`.
  public let trialStates: UnsafePointer<Scalar>
  /// The stage derivatives `k_j`, each `[rows, dimension]`.
  public let stages: [UnsafeMutablePointer<Scalar>]
  /// The method's nodes in working precision.
  let nodes: [Scalar]
  /// The stage inputs' combinations, as the step computed them.
  let stageInputTerms: [StageCombination<Scalar>]
  /// `h` spread over each row's elements.
  let elementSteps: UnsafePointer<Scalar>
  let sampleEndTimes: UnsafePointer<Scalar>

  /// Writes stage `j`'s input `y + h Σ_l a_jl k_l` of every row into `out`
  /// (`[rows, dimension]`), by the same operations as the step itself.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func stageInput(_ j: Int, into out: UnsafeMutablePointer<Scalar>) {
    stageInputTerms[j].apply(
      count: rows * dimension, states: states, elementSteps: elementSteps, into: out)
  }

  /// The time at which row `r` evaluated stage `j`: `t + c_j h`, or the final
  /// time itself for a last step's `c_j = 1` stages.
  public func stageTime(_ j: Int, row r: Int) -> Scalar {
    let c = nodes[j]
    if c == 1 && isLast[r] { return sampleEndTimes[sampleIndices[r]] }
    return startTimes[r] + c * steps[r]
  }
}
