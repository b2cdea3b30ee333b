import NodeCore
import NodeSolvers

/// The holders of one field's kept stage evaluations, reused from one
/// forward pass to the next. Each forward pass of the field starts a new
/// generation; a backward pass takes the kept evaluations only while its
/// forward pass's generation is the current one, and ends it.
final class KeptEvaluationHolders<Scalar: TensorScalar> {
  private(set) var evaluations: [KeptEvaluation<Scalar>] = []
  private(set) var used = 0
  private(set) var generation = 0

  /// Starts a new generation with no evaluation in use.
  func startGeneration() {
    generation += 1
    used = 0
  }

  /// Ends the current generation: its evaluations are no longer valid.
  func endGeneration() { generation += 1 }

  /// The next free holder and its index.
  func next() -> (index: Int, evaluation: KeptEvaluation<Scalar>) {
    if used == evaluations.count { evaluations.append(KeptEvaluation()) }
    used += 1
    return (used - 1, evaluations[used - 1])
  }
}

/// A gradient solver's holders of kept stage evaluations, one set per field,
/// so that the blocks of a stacked flow keep theirs side by side (a holder's
/// record fits one field's network).
final class KeptEvaluationPool<Scalar: TensorScalar> {
  private var holders: [ObjectIdentifier: KeptEvaluationHolders<Scalar>] = [:]

  /// The holders of `field`'s evaluations.
  func holders(for field: AnyObject) -> KeptEvaluationHolders<Scalar> {
    if let existing = holders[ObjectIdentifier(field)] { return existing }
    let made = KeptEvaluationHolders<Scalar>()
    holders[ObjectIdentifier(field)] = made
    return made
  }
}

/// Where each stage of each accepted forward step is kept: evaluation
/// (holder index) and row, `stageCount` entries per step record of the
/// ``StepLog``. Valid while its holders are in the same generation.
struct KeptStageLog<Scalar: TensorScalar> {
  /// The holders of the evaluations, and their generation.
  let holders: KeptEvaluationHolders<Scalar>
  let generation: Int

  /// Whether the holders still hold this log's evaluations.
  var isCurrent: Bool { holders.generation == generation }
  /// The number of stages per step.
  let stageCount: Int
  /// The number of evaluations kept, in evaluation order.
  var evaluationCount = 0
  /// The rows of each kept evaluation.
  var evaluationRows: [Int] = []
  /// Per record and stage: the kept evaluation holding it.
  var stageEvaluation: [Int] = []
  /// Per record and stage: its row in that evaluation.
  var stageRow: [Int] = []
}

/// Records a forward solve's accepted steps (``StepRecorder``) and has the
/// field keep every stage evaluation (``StageKeepingVectorField``), noting
/// which evaluation and row holds each stage of each accepted step. A first
/// stage that an earlier attempt evaluated (first-same-as-last, or the solve's
/// initial evaluation) is found where that attempt kept it.
final class KeptStageRecorder<Scalar: TensorScalar>: StepObserver {
  let steps: StepRecorder<Scalar>
  private let field: any StageKeepingVectorField<Scalar>
  private let holders: KeptEvaluationHolders<Scalar>
  private let stageCount: Int
  private let isFirstSameAsLast: Bool
  private(set) var log: KeptStageLog<Scalar>
  /// The evaluation of each stage of the current attempt, -1 if not its own.
  private var attemptEvaluations: [Int]
  /// Per sample: the evaluation and row of its next step's first stage.
  private var firstStageEvaluation: [Int]
  private var firstStageRow: [Int]

  init(
    dimension: Int, batchSize: Int, method: ButcherTableau,
    field: any StageKeepingVectorField<Scalar>, pool: KeptEvaluationPool<Scalar>
  ) {
    steps = StepRecorder(dimension: dimension, batchSize: batchSize)
    self.field = field
    holders = pool.holders(for: field)
    stageCount = method.stageCount
    isFirstSameAsLast = method.isFirstSameAsLast
    holders.startGeneration()
    log = KeptStageLog(
      holders: holders, generation: holders.generation, stageCount: method.stageCount)
    attemptEvaluations = [Int](repeating: -1, count: method.stageCount)
    firstStageEvaluation = [Int](repeating: -1, count: batchSize)
    firstStageRow = [Int](repeating: -1, count: batchSize)
  }

  /// Arms the field to keep its next evaluation of `rows` rows; returns its index.
  private func keepNext(rows: Int) -> Int {
    let (index, evaluation) = holders.next()
    field.keepNextEvaluation(in: evaluation)
    log.evaluationRows.append(rows)
    log.evaluationCount += 1
    return index
  }

  func initialStageWillBeEvaluated(of attempt: StepAttempt<Scalar>) {
    let index = keepNext(rows: attempt.rows)
    for r in 0..<attempt.rows {
      firstStageEvaluation[attempt.sampleIndices[r]] = index
      firstStageRow[attempt.sampleIndices[r]] = r
    }
  }

  func stageWillBeEvaluated(_ stage: Int, of attempt: StepAttempt<Scalar>) {
    attemptEvaluations[stage] = keepNext(rows: attempt.rows)
  }

  func stepDecided(_ attempt: StepAttempt<Scalar>) {
    steps.stepDecided(attempt)
    let last = stageCount - 1
    for r in 0..<attempt.rows where attempt.accepted[r] {
      let s = attempt.sampleIndices[r]
      for j in 0..<stageCount {
        let own = attemptEvaluations[j]
        log.stageEvaluation.append(own >= 0 ? own : firstStageEvaluation[s])
        log.stageRow.append(own >= 0 ? r : firstStageRow[s])
      }
      if isFirstSameAsLast {
        firstStageEvaluation[s] = attemptEvaluations[last]
        firstStageRow[s] = r
      }
    }
    for j in 0..<stageCount { attemptEvaluations[j] = -1 }
  }
}
