import NodeCore
import NodeSolvers

/// Accumulates the adjoint's parameter integral `dL/dθ = −∫_{t₁}^{t₀} aᵀ ∂f/∂θ dt`
/// from the accepted steps of the backward solve, straight into one flat
/// gradient buffer.
///
/// Each accepted step of row `r` adds `Σ_j −b_j h_r a_jᵀ ∂f/∂θ (z_j, t_j)`
/// over its stages (the RK quadrature of the integral; `h_r < 0` backward).
/// With the seminorm, the stages an attempt evaluates add their part for
/// every row during the evaluation itself (the backward pass through the
/// network that gives `−aᵀ ∂f/∂z` gives `aᵀ ∂f/∂θ` too); once acceptance is
/// known, rejected rows' parts are taken away again, and the stage an earlier
/// attempt evaluated (first-same-as-last) is recomputed for the accepted rows
/// from its input rebuilt exactly as the step formed it — or, when the field
/// is a ``ReplayableVectorField``, replayed from the previous attempt's last
/// stage, kept when it was evaluated, for the rows whose first stage is
/// exactly that evaluation (checked bit for bit). A rejected step
/// leaves no trace in the gradient beyond rounding. With the
/// ``AdjointNorm/full`` norm the observer also measures each sample's own
/// integral's error, which needs per-sample gradients at every stage.
final class ParameterIntegralObserver<Scalar: TensorScalar>: StepObserver {
  let field: any DifferentiableVectorField<Scalar>
  let norm: AdjointNorm
  let weights: [Scalar]
  let errorWeights: [Scalar]
  let relativeTolerance: Scalar
  let absoluteTolerance: Scalar
  /// The identifiers the field sees, by sample position.
  let identifiers: [Int]
  /// Whether the backward solve shares one step across the batch: the full
  /// norm then measures the batch's summed integral, as torchdiffeq does.
  let batchWide: Bool
  /// `dL/dθ`, summed over samples.
  private(set) var gradient: [Scalar]
  /// The backward dynamics whose stage evaluations can also give the
  /// seminorm's parameter integral (nil: every stage is recomputed).
  let augmentedField: AugmentedAdjointField<Scalar>?
  // seminorm: the stages of the current attempt whose weighted gradient over
  // every row the field added into `pending`
  private var pendingStages: [Bool]
  private var recomputedStages: [Bool]
  private let pending: ScratchBuffer<Scalar>
  private let rejectedPart = ScratchBuffer<Scalar>()
  private let stageRowWeights = ScratchBuffer<Scalar>()
  // scratch
  private let stageRows = ScratchBuffer<Scalar>()
  private let packedStates = ScratchBuffer<Scalar>()
  private let packedCotangents = ScratchBuffer<Scalar>()
  private let packedTimes = ScratchBuffer<Scalar>()
  private let packedIdentifiers = ScratchBuffer<Int>()
  private let packedWeights = ScratchBuffer<Scalar>()
  // first-same-as-last: the previous attempt's last stage, kept by the field
  private let replayable: (any ReplayableVectorField<Scalar>)?
  private let lastStage: Int
  /// The holder of the evaluation the next step's first stage can replay.
  private var keptSlot = 0
  /// Whether that holder was filled by the last attempt (or the solve's start).
  private var keptIsCurrent = false
  /// Whether the other holder was armed during the current attempt.
  private var armedThisAttempt = false
  /// The kept row of each sample position, −1 for none.
  private var keptRowOfSample: [Int]
  private let nextKeptSamples = ScratchBuffer<Int>()
  private var keptSampleCount = 0
  private let replayRows = ScratchBuffer<Int>()
  private let replayWeights = ScratchBuffer<Scalar>()
  private let rowMask = ScratchBuffer<Bool>()
  private let firstStageOnly: [Bool]
  // full norm: each sample's running integral, and a step's increment and error per row
  private var sampleIntegrals: [Scalar] = []
  private let rowIncrements = ScratchBuffer<Scalar>()
  private let rowErrors = ScratchBuffer<Scalar>()
  private let rowStageGradients = ScratchBuffer<Scalar>()

  init(
    field: any DifferentiableVectorField<Scalar>, method: ButcherTableau, norm: AdjointNorm,
    relativeTolerance: Scalar, absoluteTolerance: Scalar, identifiers: [Int], batchWide: Bool,
    augmentedField: AugmentedAdjointField<Scalar>? = nil
  ) {
    self.batchWide = batchWide
    self.augmentedField = augmentedField
    pendingStages = [Bool](repeating: false, count: method.weights.count)
    recomputedStages = pendingStages
    pending = ScratchBuffer(capacity: field.parameterCount)
    self.field = field
    self.norm = norm
    self.weights = method.weights.map { Scalar($0) }
    self.errorWeights = (method.errorWeights ?? []).map { Scalar($0) }
    self.relativeTolerance = relativeTolerance
    self.absoluteTolerance = absoluteTolerance
    self.identifiers = identifiers
    gradient = [Scalar](repeating: 0, count: field.parameterCount)
    if norm == .full {
      sampleIntegrals = [Scalar](repeating: 0, count: identifiers.count * field.parameterCount)
    }
    replayable =
      norm == .seminorm && augmentedField != nil && method.isFirstSameAsLast
      ? field as? any ReplayableVectorField<Scalar> : nil
    lastStage = method.weights.count - 1
    firstStageOnly = method.weights.indices.map { $0 == 0 }
    keptRowOfSample = [Int](repeating: -1, count: identifiers.count)
  }

  var measuresErrors: Bool { norm == .full }

  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  func stepDecided(_ attempt: StepAttempt<Scalar>) {
    switch norm {
    case .seminorm: accumulateAcceptedSteps(attempt)
    case .full: addMeasuredIncrements(attempt)
    }
  }

  /// Seminorm: before a stage with `b_j ≠ 0` is evaluated, asks the augmented
  /// field to add the stage's weighted `−b_j h_r a_rᵀ ∂f/∂θ` of every row to
  /// ``pending`` in the same backward pass that gives `−aᵀ ∂f/∂z`, so that an
  /// accepted stage is not run through the network a second time.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  func stageWillBeEvaluated(_ stage: Int, of attempt: StepAttempt<Scalar>) {
    // The next step's first stage, for the rows this attempt accepts.
    if stage == lastStage { keepNextProduct(of: attempt) }
    guard norm == .seminorm, let augmentedField, weights[stage] != 0 else { return }
    if !pendingStages.contains(true) {
      pending.base.update(repeating: 0, count: field.parameterCount)
    }
    let rowWeights = stageRowWeights.reserve(attempt.rows)
    let b = weights[stage]
    for r in 0..<attempt.rows { rowWeights[r] = -b * attempt.steps[r] }
    pendingStages[stage] = true
    augmentedField.stageParameterGradient = ParameterGradientSink(
      gradient: pending.base, rowWeights: rowWeights)
  }

  /// Seminorm: adds the accepted rows' stages to the gradient. Stages the
  /// field already summed over every row (``pending``) count in full when no
  /// row was rejected; otherwise the rejected rows' part is recomputed and
  /// taken away — or, when rejected rows outnumber accepted ones or a sum is
  /// not finite, the accepted rows' part is recomputed instead. Stages that
  /// an earlier attempt evaluated (first-same-as-last) are recomputed for the
  /// accepted rows.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  private func accumulateAcceptedSteps(_ attempt: StepAttempt<Scalar>) {
    defer {
      for j in pendingStages.indices { pendingStages[j] = false }
      rotateKeptProducts()
    }
    var accepted = 0
    for r in 0..<attempt.rows where attempt.accepted[r] { accepted += 1 }
    if accepted == 0 { return }
    let rejected = attempt.rows - accepted
    let p = field.parameterCount
    var recomputeCovered = false
    gradient.withUnsafeMutableBufferPointer { g in
      let total = g.baseAddress!
      if pendingStages.contains(true) {
        if rejected == 0 {
          for i in 0..<p { total[i] += pending.base[i] }
        } else if rejected <= accepted {
          let removed = rejectedPart.reserve(p)
          removed.update(repeating: 0, count: p)
          let rejectedRows = rowMask.reserve(attempt.rows)
          for r in 0..<attempt.rows { rejectedRows[r] = !attempt.accepted[r] }
          accumulate(attempt, stages: pendingStages, rows: rejectedRows, into: removed)
          if Elementwise.allFinite(pending.base, count: p)
            && Elementwise.allFinite(removed, count: p)
          {
            for i in 0..<p { total[i] += pending.base[i] - removed[i] }
          } else {
            recomputeCovered = true
          }
        } else {
          recomputeCovered = true
        }
      }
      for j in weights.indices {
        recomputedStages[j] = weights[j] != 0 && (recomputeCovered || !pendingStages[j])
      }
      let acceptedRows = rowMask.reserve(attempt.rows)
      for r in 0..<attempt.rows { acceptedRows[r] = attempt.accepted[r] }
      if recomputedStages[0] && replayable != nil {
        // Stage 0 first, as below: replayed, then recomputed for the rows the replay did not cover.
        replayFirstStage(attempt, pending: acceptedRows, into: total)
        accumulate(attempt, stages: firstStageOnly, rows: acceptedRows, into: total)
        recomputedStages[0] = false
        for r in 0..<attempt.rows { acceptedRows[r] = attempt.accepted[r] }
      }
      accumulate(attempt, stages: recomputedStages, rows: acceptedRows, into: total)
    }
  }

  /// Adds stage 0's `−b₁ h_r a_rᵀ ∂f/∂θ` of the rows set in `pending` whose
  /// first stage is the kept evaluation — same state, cotangent, time and
  /// identifier, bit for bit — by replaying the kept product, and clears
  /// those rows in `pending` (left holding the rows still to recompute).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  private func replayFirstStage(
    _ attempt: StepAttempt<Scalar>, pending: UnsafeMutablePointer<Bool>,
    into g: UnsafeMutablePointer<Scalar>
  ) {
    guard let replayable, keptIsCurrent, weights[0] != 0 else { return }
    let product = replayable.keptProducts[keptSlot]
    let (n, d) = (attempt.rows, attempt.dimension / 2)
    let inputs = stageRows.reserve(n * attempt.dimension)
    attempt.stageInput(0, into: inputs)
    let rows = replayRows.reserve(n)
    let rowWeights = replayWeights.reserve(n)
    var count = 0
    var inOrder = true
    for r in 0..<n where pending[r] {
      let (s, row) = (attempt.sampleIndices[r], inputs + r * attempt.dimension)
      let q = keptRowOfSample[s]
      guard
        product.holds(
          row: q, state: row, cotangent: row + d, time: attempt.stageTime(0, row: r),
          identifier: identifiers[s])
      else {
        inOrder = false
        continue
      }
      inOrder = inOrder && q == count
      rows[count] = q
      rowWeights[count] = -weights[0] * attempt.steps[r]
      count += 1
      pending[r] = false
    }
    if count == 0 { return }
    replayable.replayParameterGradient(
      of: product, rows: inOrder && count == product.rows ? nil : rows, count: count,
      rowWeights: rowWeights, into: g)
  }

  /// A solve's first stage: kept for its first step at once.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  func initialStageWillBeEvaluated(of attempt: StepAttempt<Scalar>) {
    keepNextProduct(of: attempt)
    rotateKeptProducts()
  }

  /// Asks a replayable field to keep its next product (an evaluation of
  /// every row of `attempt`) in the holder not in use.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  private func keepNextProduct(of attempt: StepAttempt<Scalar>) {
    guard let replayable else { return }
    replayable.keepNextProduct(in: replayable.keptProducts[1 - keptSlot])
    nextKeptSamples.reserve(attempt.rows).update(from: attempt.sampleIndices, count: attempt.rows)
    keptSampleCount = attempt.rows
    armedThisAttempt = true
  }

  /// After a step's decision: the product kept at this attempt's last stage
  /// (if any) becomes the one the next attempt's first stage can replay.
  ///
  /// Only the latest kept evaluation is replayed: a row rejected in this
  /// attempt keeps a first stage from an earlier one, which the next attempt
  /// recomputes (the check in ``replayFirstStage(_:pending:into:)`` fails).
  /// So do constant steps, whose next time `t₀ + n h` need not be the kept
  /// `t + h` bit for bit.
  private func rotateKeptProducts() {
    guard replayable != nil else { return }
    for s in keptRowOfSample.indices { keptRowOfSample[s] = -1 }
    keptIsCurrent = armedThisAttempt
    armedThisAttempt = false
    guard keptIsCurrent else { return }
    keptSlot = 1 - keptSlot
    for q in 0..<keptSampleCount { keptRowOfSample[nextKeptSamples.base[q]] = q }
  }

  /// Adds `Σ_j Σ_r −b_j h_r a_rᵀ ∂f/∂θ` over the chosen stages and the rows
  /// set in `rows` into `g`: one weighted vector-Jacobian product per stage,
  /// from the stage inputs rebuilt exactly as the step formed them.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  private func accumulate(
    _ attempt: StepAttempt<Scalar>, stages: [Bool], rows chosen: UnsafePointer<Bool>,
    into g: UnsafeMutablePointer<Scalar>
  ) {
    let d = attempt.dimension / 2
    var count = 0
    for r in 0..<attempt.rows where chosen[r] { count += 1 }
    if count == 0 { return }
    let inputs = stageRows.reserve(attempt.rows * attempt.dimension)
    let z = packedStates.reserve(count * d)
    let a = packedCotangents.reserve(count * d)
    let times = packedTimes.reserve(count)
    let ids = packedIdentifiers.reserve(count)
    let rowWeights = packedWeights.reserve(count)
    for (j, b) in weights.enumerated() where stages[j] {
      attempt.stageInput(j, into: inputs)
      var q = 0
      for r in 0..<attempt.rows where chosen[r] {
        let row = inputs + r * attempt.dimension
        for i in 0..<d {
          z[q * d + i] = row[i]
          a[q * d + i] = row[d + i]
        }
        times[q] = attempt.stageTime(j, row: r)
        ids[q] = identifiers[attempt.sampleIndices[r]]
        rowWeights[q] = -b * attempt.steps[r]
        q += 1
      }
      field.vectorJacobianProduct(
        FieldBatch(
          count: count, times: times,
          states: MatrixView(base: z, rows: count, columns: d), sampleIndices: ids),
        cotangents: MatrixView(base: a, rows: count, columns: d), stateCotangents: nil,
        derivatives: nil, timeCotangents: nil,
        parameterGradient: ParameterGradientSink(gradient: g, rowWeights: rowWeights))
    }
  }

  /// Full norm: each row's increment `Σ_j −b_j h a_jᵀ ∂f/∂θ` and error
  /// `Σ_j −e_j h a_jᵀ ∂f/∂θ` of its own integral, scaled like a state
  /// component; the ratio is the largest RMS over the field's parameter blocks.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  func errorRatios(
    of attempt: StepAttempt<Scalar>, into ratios: UnsafeMutablePointer<Scalar>
  ) {
    let n = attempt.rows
    let p = field.parameterCount
    let d = attempt.dimension / 2
    let increments = rowIncrements.reserve(n * p)
    let errors = rowErrors.reserve(n * p)
    increments.update(repeating: 0, count: n * p)
    errors.update(repeating: 0, count: n * p)
    let inputs = stageRows.reserve(n * attempt.dimension)
    let times = packedTimes.reserve(n)
    let ids = packedIdentifiers.reserve(n)
    let unit = packedWeights.reserve(n)
    let perRow = rowStageGradients.reserve(Swift.max(n, 2) * p)
    for j in 0..<weights.count {
      let b = weights[j]
      let e = j < errorWeights.count ? errorWeights[j] : 0
      if b == 0 && e == 0 { continue }
      attempt.stageInput(j, into: inputs)
      for r in 0..<n {
        times[r] = attempt.stageTime(j, row: r)
        ids[r] = identifiers[attempt.sampleIndices[r]]
        unit[r] = 1
      }
      let (z, a) = AugmentedState.halves(
        MatrixView(base: inputs, rows: n, columns: attempt.dimension), dimension: d)
      field.perSampleParameterGradients(
        FieldBatch(count: n, times: times, states: z, sampleIndices: ids), cotangents: a,
        rowWeights: unit, into: perRow)
      for r in 0..<n {
        let h = attempt.steps[r]
        for i in (r * p)..<((r + 1) * p) {
          increments[i] += -b * h * perRow[i]
          errors[i] += -e * h * perRow[i]
        }
      }
    }
    let blocks = field.parameterBlocks
    if batchWide {
      // One ratio for the batch from the summed integral, its sum's increment and error.
      let summedIncrement = rowStageGradients.base
      let summedError = rowStageGradients.base + p
      for i in 0..<p {
        var increment: Scalar = 0
        var error: Scalar = 0
        for r in 0..<n {
          increment += increments[r * p + i]
          error += errors[r * p + i]
        }
        summedIncrement[i] = increment
        summedError[i] = error
      }
      let ratio = largestBlockRatio(
        blocks, integral: gradient, increment: summedIncrement, error: summedError)
      for r in 0..<n { ratios[r] = ratio }
      return
    }
    for r in 0..<n {
      let s = attempt.sampleIndices[r]
      ratios[r] = sampleIntegrals.withUnsafeBufferPointer {
        largestBlockRatio(
          blocks, integral: $0.baseAddress! + s * p, increment: increments + r * p,
          error: errors + r * p)
      }
    }
  }

  /// The largest RMS over parameter blocks of `error / (atol + rtol max(|G|, |G + ΔG|))`.
  private func largestBlockRatio(
    _ blocks: [Range<Int>], integral: UnsafePointer<Scalar>, increment: UnsafePointer<Scalar>,
    error: UnsafePointer<Scalar>
  ) -> Scalar {
    var largest: Scalar = 0
    for block in blocks {
      var sum: Scalar = 0
      for i in block {
        let old = integral[i]
        let new = old + increment[i]
        let scale =
          absoluteTolerance + relativeTolerance * Swift.max(Swift.abs(old), Swift.abs(new))
        let scaled = error[i] / scale
        sum += scaled * scaled
      }
      let rms = (sum / Scalar(block.count)).squareRoot()
      if rms.isNaN { return .nan }
      largest = Swift.max(largest, rms)
    }
    return largest
  }

  /// Full norm: the accepted rows' increments, measured with their errors.
  private func addMeasuredIncrements(_ attempt: StepAttempt<Scalar>) {
    let p = field.parameterCount
    let increments = rowIncrements.base
    for r in 0..<attempt.rows where attempt.accepted[r] {
      let s = attempt.sampleIndices[r]
      for i in 0..<p {
        sampleIntegrals[s * p + i] += increments[r * p + i]
        gradient[i] += increments[r * p + i]
      }
    }
  }
}
