import NodeCore
import NodeSolvers

/// The accepted steps of a forward solve, per sample: what backprop through
/// the solver and the checkpointed adjoint keep. Memory grows with the number
/// of steps (`D + 3` values per accepted step).
struct StepLog<Scalar: TensorScalar>: Sendable {
  let dimension: Int
  /// Per record: the step's start time, signed size, end time.
  var startTimes: [Scalar] = []
  var steps: [Scalar] = []
  var endTimes: [Scalar] = []
  var isLast: [Bool] = []
  /// The state at the start of each step, `D` values per record.
  var states: [Scalar] = []
  /// Each sample's records in step order.
  var recordsOfSample: [[Int]]

  init(dimension: Int, batchSize: Int) {
    self.dimension = dimension
    recordsOfSample = [[Int]](repeating: [], count: batchSize)
  }

  /// The number of scalars held.
  var storedScalars: Int { states.count + 3 * steps.count }
}

/// Records every accepted step of a forward solve into a ``StepLog``.
final class StepRecorder<Scalar: TensorScalar>: StepObserver {
  private(set) var log: StepLog<Scalar>

  init(dimension: Int, batchSize: Int) {
    log = StepLog(dimension: dimension, batchSize: batchSize)
  }

  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  func stepDecided(_ attempt: StepAttempt<Scalar>) {
    let d = attempt.dimension
    for r in 0..<attempt.rows where attempt.accepted[r] {
      log.recordsOfSample[attempt.sampleIndices[r]].append(log.steps.count)
      log.startTimes.append(attempt.startTimes[r])
      log.steps.append(attempt.steps[r])
      log.endTimes.append(attempt.endTimes[r])
      log.isLast.append(attempt.isLast[r])
      log.states.append(contentsOf: UnsafeBufferPointer(start: attempt.states + r * d, count: d))
    }
  }
}
