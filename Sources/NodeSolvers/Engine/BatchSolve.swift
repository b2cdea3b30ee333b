import NodeCore
import RealModule

/// One batched solve in progress: the per-sample adaptive stepping loop.
///
/// Active samples occupy rows `0 ..< active` of the workspace. Each step:
/// every active row attempts one step of its own size from its own time (one
/// vector-field call per stage for all rows), gets its own error ratio and
/// accept/reject decision, emits the output times its accepted step covered
/// from the dense output, and rows that finished (successfully or not) are
/// compacted out, so they cost nothing afterwards.
struct BatchSolve<Scalar: TensorScalar> {
  let field: any VectorField<Scalar>
  let buffers: WorkspacePointers<Scalar>
  let dimension: Int
  let batchSize: Int
  let maxSteps: Int
  let controller: StepSizeController<Scalar>
  let method: ButcherTableau
  // time grid: sample s, index j at gridBase[s * gridStride + j]
  let grid: UnsafePointer<Scalar>
  let gridStride: Int
  let gridCount: Int
  // the method in working precision
  let nodes: [Scalar]
  let stageInputTerms: [StageCombination<Scalar>]
  let solutionTerms: StageCombination<Scalar>
  /// The error estimate's weights; empty for a method without one.
  let errorTerms: StageCombination<Scalar>
  /// DOP853's third-order estimate, empty for the usual single estimate.
  let thirdOrderErrorTerms: StageCombination<Scalar>
  /// The dense stages' nodes and input combinations (DOP853).
  let denseNodes: [Scalar]
  let denseStageTerms: [StageCombination<Scalar>]
  let interpolant: [[Scalar]]
  /// The identifier the field sees for each sample (its index in the caller's
  /// batch by default), or nil for the position in this batch.
  let sampleIdentifiers: [Int]?
  /// Per-sample first step sizes (magnitudes), overriding the controller's choice.
  let initialStepSizes: [Scalar]?
  /// Sees every step attempt, if set.
  let observer: (any StepObserver<Scalar>)?
  /// The controller's exponents: `−(kI + kP)/k` on the error ratio and `kP/k`
  /// on the previous one (``PIController``).
  let errorExponent: Scalar
  let previousErrorExponent: Scalar
  /// The leading components the error norm measures (``PIController/controlledDimensions``).
  let errorDimension: Int
  /// Rows currently integrating.
  private(set) var active: Int
  /// Whether stage 0 of every active row holds `f(t, y)` (always true for FSAL methods).
  var firstStageIsCurrent = false

  init(
    field: any VectorField<Scalar>, initialStates: Tensor<Scalar>, grid: UnsafePointer<Scalar>,
    gridStride: Int, gridCount: Int, method: ButcherTableau,
    controller: StepSizeController<Scalar>, maxSteps: Int, sampleIdentifiers: [Int]?,
    initialStepSizes: [Scalar]? = nil, observer: (any StepObserver<Scalar>)? = nil,
    errorDimension: Int? = nil, workspace: IntegratorWorkspace<Scalar>
  ) {
    self.errorDimension = errorDimension ?? initialStates.shape[1]
    self.sampleIdentifiers = sampleIdentifiers
    self.initialStepSizes = initialStepSizes
    self.observer = observer
    self.field = field
    self.dimension = initialStates.shape[1]
    self.batchSize = initialStates.shape[0]
    self.maxSteps = maxSteps
    self.controller = controller
    if case .adaptive(let pi) = controller {
      let k = Scalar(method.controllerOrder)
      errorExponent = -(pi.integralGain + pi.proportionalGain) / k
      previousErrorExponent = pi.proportionalGain / k
    } else {
      errorExponent = 0
      previousErrorExponent = 0
    }
    self.method = method
    self.grid = grid
    self.gridStride = gridStride
    self.gridCount = gridCount
    self.active = batchSize
    workspace.reserve(
      rows: batchSize, dimension: dimension, stageCount: method.totalStageCount,
      outputTimes: gridCount)
    buffers = WorkspacePointers(workspace)
    let stages = buffers.stages
    func terms(_ weights: [Double]) -> StageCombination<Scalar> {
      StageCombination(weights, of: stages)
    }
    nodes = method.nodes.map { Scalar($0) }
    stageInputTerms = method.coupling.map(terms)
    solutionTerms = terms(method.weights)
    errorTerms = terms(method.errorWeights ?? [])
    thirdOrderErrorTerms = terms(method.thirdOrderErrorWeights ?? [])
    denseNodes = method.denseStageNodes.map { Scalar($0) }
    denseStageTerms = method.denseStageCoupling.map(terms)
    interpolant = method.interpolant.map { $0.map { Scalar($0) } }
    initialStates.withUnsafeBufferPointer {
      buffers.states.update(from: $0.baseAddress!, count: batchSize * dimension)
    }
  }

  // MARK: - Driving the solve

  /// Integrates every sample to its final time or its failure.
  mutating func run() {
    start()
    while active > 0 { step() }
  }

  /// Sets every sample at its initial time, emits the outputs at that time,
  /// evaluates the first stage and chooses the first step sizes.
  mutating func start() {
    let ws = buffers
    let nan = Scalar.nan
    ws.outputStates.update(repeating: nan, count: batchSize * gridCount * dimension)
    for s in 0..<batchSize {
      let t0 = gridTime(s, 0)
      ws.rowSample[s] = s
      ws.rowSampleIdentifier[s] = sampleIdentifiers?[s] ?? s
      ws.rowTime[s] = t0
      ws.sampleEndTime[s] = gridTime(s, gridCount - 1)
      ws.samplePreviousRatio[s] = 1
      ws.sampleLastRejected[s] = false
      ws.sampleLastRejectionNonFinite[s] = false
      ws.sampleNonFiniteStreak[s] = 0
      ws.evaluations[s] = 0
      ws.acceptedSteps[s] = 0
      ws.rejectedSteps[s] = 0
      ws.status[s] = .success
      ws.nextStepSizes[s] = 0
      var j = 0
      while j < gridCount && gridTime(s, j) == t0 {
        outputRow(s, j).update(from: ws.states + s * dimension, count: dimension)
        j += 1
      }
      ws.sampleNextOutput[s] = j
      ws.rowFinished[s] = j == gridCount
      if j == gridCount { finish(row: s, with: .success) }
    }
    // Samples whose grid is a single instant are done before any evaluation.
    retireFinishedRows()
    guard active > 0 else { return }

    observer?.initialStageWillBeEvaluated(of: attempt)
    evaluateStage(0, input: ws.states, times: ws.rowTime)
    firstStageIsCurrent = true
    // A sample that starts non-finite cannot be integrated.
    for r in 0..<active {
      let finite =
        rowIsFinite(ws.states, row: r, dimension: dimension)
        && rowIsFinite(ws.stages[0], row: r, dimension: dimension)
      if !finite { finish(row: r, with: .nonFiniteState) }
      ws.rowFinished[r] = !finite
    }
    retireFinishedRows()
    guard active > 0 else { return }

    switch controller {
    case .constant(let stepSize):
      for r in 0..<active { ws.rowStep[r] = direction(row: r) * stepSize }
    case .adaptive(let pi):
      if let sizes = initialStepSizes {
        for r in 0..<active {
          let s = ws.rowSample[r]
          let span = Swift.abs(ws.sampleEndTime[s] - ws.rowTime[r])
          ws.rowStep[r] = direction(row: r) * Swift.min(sizes[s], span, pi.maxStepSize)
        }
      } else if let h = pi.initialStepSize {
        for r in 0..<active { ws.rowStep[r] = direction(row: r) * Swift.min(h, pi.maxStepSize) }
      } else {
        selectInitialSteps(pi)
      }
    }
  }

  /// One step attempt of every active row, then its consequences.
  mutating func step() {
    let ws = buffers
    let n = active
    let stageCount = method.stageCount
    let fsal = method.isFirstSameAsLast
    // Land exactly on the final time when the step reaches it, or comes within
    // 1 % (adaptive; Hairer's rule) or 0.1 % (constant steps) of a step of it,
    // so that no sliver of a step is left over by rounding.
    let stretch: Scalar
    if case .constant = controller { stretch = 1.001 } else { stretch = 1.01 }
    for r in 0..<n {
      let t = ws.rowTime[r]
      let end = ws.sampleEndTime[ws.rowSample[r]]
      let h = ws.rowStep[r]
      let reach = t + h * stretch
      let isLast = h > 0 ? reach >= end : reach <= end
      ws.rowIsLast[r] = isLast
      if isLast { ws.rowStep[r] = end - t }
    }
    Elementwise.broadcastRows(ws.rowStep, into: ws.elementStep, rows: n, width: dimension)
    if !firstStageIsCurrent {
      observer?.stageWillBeEvaluated(0, of: attempt)
      evaluateStage(0, input: ws.states, times: ws.rowTime, count: false)
    }
    for s in 1..<Swift.max(stageCount, 1) {
      let input = (fsal && s == stageCount - 1) ? ws.trialStates : ws.stageInput
      stageInputTerms[s].apply(
        count: n * dimension, states: ws.states, elementSteps: ws.elementStep, into: input)
      let c = nodes[s]
      for r in 0..<n { ws.rowStageTime[r] = ws.rowTime[r] + c * ws.rowStep[r] }
      if c == 1 {
        // A last step's end is the final time itself, not t + h rounded.
        for r in 0..<n where ws.rowIsLast[r] {
          ws.rowStageTime[r] = ws.sampleEndTime[ws.rowSample[r]]
        }
      }
      observer?.stageWillBeEvaluated(s, of: attempt)
      evaluateStage(s, input: input, times: ws.rowStageTime, count: false)
    }
    let evaluations = stageCount - (firstStageIsCurrent ? 1 : 0)
    for r in 0..<n { ws.evaluations[ws.rowSample[r]] += evaluations }
    if !fsal {
      solutionTerms.apply(
        count: n * dimension, states: ws.states, elementSteps: ws.elementStep,
        into: ws.trialStates)
    }
    measureErrors()
    if case .adaptive = controller {
      // The factors' powers in one vector pass: a scalar powf per row cost
      // about as much as the rest of the decision.
      VectorMath.positivePower(
        ws.rowErrorSquares, exponent: errorExponent, into: ws.rowErrorPowers, count: n)
    }
    for r in 0..<n { decide(row: r) }
    if let observer {
      for r in 0..<n { ws.rowEndTime[r] = timeAfterStep(row: r) }
      observer.stepDecided(attempt)
    }
    if !denseNodes.isEmpty { evaluateDenseStages() }
    emitCoveredOutputs()
    advance()
    firstStageIsCurrent = fsal
    retireFinishedRows()
  }

  // MARK: - Pieces of a step

  /// Evaluates the field on rows `0 ..< active` into stage `s`; `count` adds
  /// one evaluation to each row's statistics (a step counts its evaluations at
  /// its end, all at once).
  func evaluateStage(
    _ s: Int, input: UnsafeMutablePointer<Scalar>, times: UnsafeMutablePointer<Scalar>,
    count: Bool = true
  ) {
    let ws = buffers
    let n = active
    field.evaluate(
      FieldBatch(
        count: n, times: times,
        states: MatrixView(base: input, rows: n, columns: dimension),
        sampleIndices: ws.rowSampleIdentifier),
      into: MutableMatrixView(base: ws.stages[s], rows: n, columns: dimension))
    if count { for r in 0..<n { ws.evaluations[ws.rowSample[r]] += 1 } }
  }

  /// Fills `rowErrorSquares` with each row's error ratio (adaptive) or a
  /// finiteness marker (0 or NaN, constant steps).
  func measureErrors() {
    let ws = buffers
    let n = active
    guard case .adaptive(let pi) = controller else {
      for r in 0..<n {
        ws.rowErrorSquares[r] =
          rowIsFinite(ws.trialStates, row: r, dimension: dimension) ? 0 : .nan
      }
      return
    }
    let blended = !thirdOrderErrorTerms.isEmpty
    func squaredErrors(
      _ terms: StageCombination<Scalar>, scratch: UnsafeMutablePointer<Scalar>,
      into squares: UnsafeMutablePointer<Scalar>
    ) {
      terms.sum(count: n * dimension, into: scratch)
      scaledErrorSquares(
        rows: n, dimension: dimension, controlled: errorDimension, errorSum: scratch,
        elementSteps: ws.elementStep, start: ws.states, end: ws.trialStates,
        relativeTolerance: pi.relativeTolerance, absoluteTolerance: pi.absoluteTolerance,
        into: squares)
    }
    squaredErrors(errorTerms, scratch: ws.stageInput, into: ws.rowErrorSquares)
    if blended {
      squaredErrors(
        thirdOrderErrorTerms, scratch: ws.errorScratch, into: ws.rowThirdOrderErrorSquares)
    }
    /// The error ratio from the sums of squares over `elements` components:
    /// their RMS, or for DOP853 `S₅ / √(n (S₅ + 0.01 S₃))`.
    func ratio(_ fifth: Scalar, _ third: Scalar, elements: Scalar) -> Scalar {
      guard blended else { return (fifth / elements).squareRoot() }
      if fifth == 0 && third == 0 { return 0 }
      return fifth / (elements * (fifth + Scalar(0.01) * third)).squareRoot()
    }
    let d = Scalar(errorDimension)
    switch pi.scope {
    case .perSample:
      for r in 0..<n {
        ws.rowErrorSquares[r] = ratio(
          ws.rowErrorSquares[r], blended ? ws.rowThirdOrderErrorSquares[r] : 0, elements: d)
      }
    case .sharedAcrossBatch:
      var fifth: Scalar = 0
      var third: Scalar = 0
      for r in 0..<n {
        fifth += ws.rowErrorSquares[r]
        if blended { third += ws.rowThirdOrderErrorSquares[r] }
      }
      let shared = ratio(fifth, third, elements: d * Scalar(n))
      for r in 0..<n { ws.rowErrorSquares[r] = shared }
    }
    if let observer, observer.measuresErrors {
      // The third-order sums were consumed above: their buffer holds the observer's ratios.
      observer.errorRatios(of: attempt, into: ws.rowThirdOrderErrorSquares)
      if pi.scope == .sharedAcrossBatch {
        var largest: Scalar = 0
        for r in 0..<n { largest = Swift.max(largest, ws.rowThirdOrderErrorSquares[r]) }
        for r in 0..<n { ws.rowThirdOrderErrorSquares[r] = largest }
      }
      for r in 0..<n {
        let extra = ws.rowThirdOrderErrorSquares[r]
        let own = ws.rowErrorSquares[r]
        // NaN from either part stays NaN (a rejection).
        ws.rowErrorSquares[r] = own.isNaN || extra.isNaN ? .nan : Swift.max(own, extra)
      }
    }
  }

  // Inlined into the step's loop over rows: 0.25 % fewer instructions in W3
  // (callgrind, `bench w3 --iters 10 --warmup 0`).
  /// Accepts or rejects row `r`'s step and proposes its next step size
  /// (``PIController``; the error ratio's power `ratio^errorExponent` comes
  /// from `rowErrorPowers`, filled by ``step()``), updating the sample's
  /// controller state and counts.
  @inline(__always)
  func decide(row r: Int) {
    let ws = buffers
    let s = ws.rowSample[r]
    let h = ws.rowStep[r]
    let ratio = ws.rowErrorSquares[r]
    switch controller {
    case .constant:
      let accepted = ratio == 0
      ws.rowAccepted[r] = accepted
      ws.rowNextStep[r] = h
      if accepted { ws.acceptedSteps[s] += 1 } else { ws.rejectedSteps[s] += 1 }
    case .adaptive(let pi):
      var factor: Scalar
      let accepted = ratio.isFinite && ratio <= 1
      if !ratio.isFinite {
        factor = pi.minFactor
        ws.sampleNonFiniteStreak[s] += 1
        ws.sampleLastRejectionNonFinite[s] = true
      } else {
        if !accepted { ws.sampleLastRejectionNonFinite[s] = false }
        ws.sampleNonFiniteStreak[s] = 0
        if ratio == 0 {
          factor = pi.maxFactor
        } else {
          factor = pi.safety * ws.rowErrorPowers[r]
          if accepted && previousErrorExponent != 0 {
            factor *= Scalar.pow(ws.samplePreviousRatio[s], previousErrorExponent)
          }
        }
        let upper = accepted && !ws.sampleLastRejected[s] ? pi.maxFactor : 1
        factor = Swift.min(Swift.max(factor, pi.minFactor), upper)
      }
      if accepted {
        // Hairer's floor keeps a zero error from zeroing the proportional term.
        ws.samplePreviousRatio[s] = Swift.max(ratio, Scalar(1e-4))
        ws.acceptedSteps[s] += 1
      } else {
        ws.rejectedSteps[s] += 1
      }
      ws.sampleLastRejected[s] = !accepted
      ws.rowAccepted[r] = accepted
      var next = h * factor
      if Swift.abs(next) > pi.maxStepSize { next = h > 0 ? pi.maxStepSize : -pi.maxStepSize }
      ws.rowNextStep[r] = next
    }
  }

  /// Moves accepted rows to their new state and time, carries the last stage
  /// over as the next first stage (FSAL), and marks rows that finished.
  func advance() {
    let ws = buffers
    let n = active
    // The copies go run by run of accepted rows: usually one call for the
    // whole batch, where a copy per row cost more than the row (W3's rows
    // are two numbers).
    forEachRun(of: ws.rowAccepted, rows: n) { rows in
      copyRows(rows, from: ws.trialStates, to: ws.states, startingAt: rows.lowerBound)
      if method.isFirstSameAsLast {
        copyRows(
          rows, from: ws.stages[method.stageCount - 1], to: ws.stages[0],
          startingAt: rows.lowerBound)
      }
    }
    for r in 0..<n {
      var finished = false
      if ws.rowAccepted[r] {
        ws.rowTime[r] = timeAfterStep(row: r)
        ws.nextStepSizes[ws.rowSample[r]] = Swift.abs(ws.rowNextStep[r])
        if ws.rowIsLast[r] {
          finish(row: r, with: .success)
          finished = true
        }
      }
      ws.rowStep[r] = ws.rowNextStep[r]
      if !finished, let failure = failure(row: r) {
        finish(row: r, with: failure)
        finished = true
      }
      ws.rowFinished[r] = finished
    }
  }

  /// Why row `r` cannot go on, if it cannot.
  func failure(row r: Int) -> SolveStatus? {
    let ws = buffers
    let s = ws.rowSample[r]
    switch controller {
    case .constant:
      if !ws.rowAccepted[r] { return .nonFiniteState }
      if ws.acceptedSteps[s] >= maxSteps { return .maxStepsReached }
      return nil
    case .adaptive(let pi):
      if ws.sampleNonFiniteStreak[s] >= pi.maxNonFiniteRetries { return .nonFiniteState }
      if ws.acceptedSteps[s] + ws.rejectedSteps[s] >= maxSteps { return .maxStepsReached }
      // The smallest step the times can resolve: a few ulps of the larger endpoint.
      let t = ws.rowTime[r]
      let resolution = 8 * Scalar.ulpOfOne * Swift.max(Swift.abs(t), Swift.abs(ws.sampleEndTime[s]))
      let h = Swift.abs(ws.rowStep[r])
      if h < Swift.max(pi.minStepSize, resolution) {
        // Steps that shrank because the field turned non-finite ahead.
        return ws.sampleLastRejectionNonFinite[s] ? .nonFiniteState : .stepSizeTooSmall
      }
      return nil
    }
  }

  /// Records row `r`'s sample as finished: status, stop time and last state.
  func finish(row r: Int, with status: SolveStatus) {
    let ws = buffers
    let s = ws.rowSample[r]
    ws.status[s] = status
    ws.stopTimes[s] = ws.rowTime[r]
    (ws.finalStates + s * dimension).update(
      from: ws.states + r * dimension, count: dimension)
  }

  /// Removes the rows marked finished, keeping the others in order.
  mutating func retireFinishedRows() {
    let ws = buffers
    var kept = 0
    let firstStage = ws.stages[0]
    for r in 0..<active where !ws.rowFinished[r] {
      if kept != r {
        ws.rowTime[kept] = ws.rowTime[r]
        ws.rowStep[kept] = ws.rowStep[r]
        ws.rowSample[kept] = ws.rowSample[r]
        ws.rowSampleIdentifier[kept] = ws.rowSampleIdentifier[r]
      }
      kept += 1
    }
    // The rows' states and first stages move run by run of kept rows.
    var destination = 0
    forEachRun(of: ws.rowFinished, rows: active, where: false) { rows in
      if destination != rows.lowerBound {
        copyRows(rows, from: ws.states, to: ws.states, startingAt: destination)
        copyRows(rows, from: firstStage, to: firstStage, startingAt: destination)
      }
      destination += rows.count
    }
    active = kept
  }

  // MARK: - Helpers

  /// The current step attempt of the active rows, for the observer.
  var attempt: StepAttempt<Scalar> {
    let ws = buffers
    return StepAttempt(
      rows: active, dimension: dimension, sampleIndices: ws.rowSample, startTimes: ws.rowTime,
      endTimes: ws.rowEndTime, steps: ws.rowStep, accepted: ws.rowAccepted, isLast: ws.rowIsLast,
      states: ws.states, trialStates: ws.trialStates, stages: ws.stages, nodes: nodes,
      stageInputTerms: stageInputTerms, elementSteps: ws.elementStep,
      sampleEndTimes: ws.sampleEndTime)
  }

  /// Calls `body` with each maximal run of consecutive rows among the first
  /// `rows` whose `flags` entry equals `value`, in order.
  @inline(__always)
  func forEachRun(
    of flags: UnsafePointer<Bool>, rows: Int, where value: Bool = true,
    _ body: (Range<Int>) -> Void
  ) {
    var r = 0
    while r < rows {
      guard flags[r] == value else {
        r += 1
        continue
      }
      let first = r
      while r < rows && flags[r] == value { r += 1 }
      body(first..<r)
    }
  }

  /// Copies the rows `rows` of `source` to the same number of rows of
  /// `destination` from row `first` on; the two may overlap (a compaction).
  @inline(__always)
  func copyRows(
    _ rows: Range<Int>, from source: UnsafePointer<Scalar>,
    to destination: UnsafeMutablePointer<Scalar>, startingAt first: Int
  ) {
    UnsafeMutableRawPointer(destination + first * dimension).copyMemory(
      from: source + rows.lowerBound * dimension,
      byteCount: rows.count * dimension * MemoryLayout<Scalar>.stride)
  }

  /// The time row `r` reaches if its current step is accepted: the final time
  /// for a last step; `t₀ + n h` for constant steps (no accumulated rounding);
  /// `t + h` otherwise. Call after ``decide(row:)`` counted the step.
  func timeAfterStep(row r: Int) -> Scalar {
    let ws = buffers
    let s = ws.rowSample[r]
    if ws.rowIsLast[r] { return ws.sampleEndTime[s] }
    if case .constant(let stepSize) = controller {
      return gridTime(s, 0) + Scalar(ws.acceptedSteps[s]) * direction(row: r) * stepSize
    }
    return ws.rowTime[r] + ws.rowStep[r]
  }

  @inline(__always)
  func gridTime(_ sample: Int, _ index: Int) -> Scalar {
    grid[sample * gridStride + index]
  }

  @inline(__always)
  func outputRow(_ sample: Int, _ index: Int) -> UnsafeMutablePointer<Scalar> {
    buffers.outputStates + (sample * gridCount + index) * dimension
  }

  /// +1 for a row integrating forward in time, −1 backward.
  @inline(__always)
  func direction(row r: Int) -> Scalar {
    let s = buffers.rowSample[r]
    return buffers.sampleEndTime[s] >= gridTime(s, 0) ? 1 : -1
  }
}
