import NodeCore
import NodeSolvers

extension ODEGradientSolver {
  /// Backprop through the solver from the stage evaluations the field kept
  /// during the forward pass (``StageKeepingVectorField``): one
  /// vector-Jacobian product per kept stage, without evaluating the field.
  ///
  /// The same gradient as ``discreteBackward(_:cotangents:)``, whose sums it
  /// takes in another order. Every kept evaluation is a node `k = f(t, Y)`
  /// whose input is anchored at a step's start state `y_i`:
  /// `Y = y_i + h_i Σ_l a_jl k_l` for stage `j` of step `i`, and `Y = y_{i+1}`
  /// for a first-same-as-last stage (the last stage of step `i`, which is the
  /// first of step `i+1`; its coupling equals the weights `b`, so it reads
  /// `y_{i+1}`, and `b_last = 0`). The evaluations run last to first, each as
  /// one batch — of the rows a step reads, or of all its rows with zero
  /// cotangents at the others when those are few and finite: every node's cotangent
  /// `k̄ = Σ_consumers` is complete when its evaluation's turn comes, because
  /// everything that reads `k` was evaluated later. Before a node anchored at
  /// `y_i` runs, the steps after it are closed: `ȳ_i += ȳ_{i+1}` and
  /// `k̄_l += h_i b_l ȳ_{i+1}` (`y_{i+1} = y_i + h_i Σ b_l k_l`). A node's
  /// product `ū = k̄ᵀ ∂f/∂Y` goes to `ȳ_i` and to `k̄_l += h_i a_jl ū`.
  /// Outputs inside a step add `h b_l(θ) ḡ` to its nodes and `ḡ` to `ȳ_i`
  /// up front; an output at a step's end adds `ḡ` to `ȳ_{i+1}`.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  func keptStageBackward(
    _ pass: ForwardPass<Scalar>, kept: KeptStageLog<Scalar>,
    field: any StageKeepingVectorField<Scalar>, cotangents: Tensor<Scalar>
  ) -> BackwardResult<Scalar> {
    let log = pass.log!
    let b = pass.batchSize
    let t = pass.solution.times.count
    let d = pass.field.dimension
    let g = cotangents.scalars
    let tableau = WorkingTableau<Scalar>(method)
    let (stageCount, fsal, coupling, weights) = (
      tableau.stageCount, tableau.isFirstSameAsLast, tableau.coupling, tableau.weights
    )
    let (startTimes, stepSizes, endTimes) = (log.startTimes, log.steps, log.endTimes)
    let (stageEvaluation, stageRow) = (kept.stageEvaluation, kept.stageRow)
    let evaluations = kept.holders.evaluations
    var statistics = SolveStatistics<Scalar>(batchSize: b)
    // The bookkeeping below runs once per node (row of a kept evaluation):
    // plain memory in scratch buffers, alive to the end of the pass, so that
    // no access pays for array checks.
    var owned: [AnyObject] = []
    defer { withExtendedLifetime(owned) {} }
    func filled<T: BitwiseCopyable>(_ count: Int, _ value: T) -> UnsafeMutablePointer<T> {
      let buffer = ScratchBuffer<T>(capacity: count)
      owned.append(buffer)
      buffer.base.update(repeating: value, count: count)
      return buffer.base
    }
    // Each sample's accepted steps (records[firstRecord[s] ..< firstRecord[s + 1]])
    // and where its state adjoints ȳ_0 … ȳ_N start.
    let firstRecord = filled(b + 1, 0)
    let stateOffset = filled(b + 1, 0)
    for s in 0..<b {
      let status = pass.solution.statistics.status[s]
      statistics.setOutcome(sample: s, status: status, stopTime: pass.time(sample: s, index: 0))
      let count = status == .success ? log.recordsOfSample[s].count : 0
      firstRecord[s + 1] = firstRecord[s] + count
      stateOffset[s + 1] = stateOffset[s] + (count + 1) * d
    }
    let records = filled(firstRecord[b], 0)
    for s in 0..<b where firstRecord[s + 1] > firstRecord[s] {
      for (i, record) in log.recordsOfSample[s].enumerated() {
        records[firstRecord[s] + i] = record
      }
    }
    let stateAdjoint = filled(stateOffset[b], Scalar.zero)
    // The nodes: per kept evaluation and row, its sample, step, stage and
    // anchor, or sample -1 for a row no accepted step reads.
    let nodeCount = kept.evaluationRows.reduce(0, +)
    let nodeStart = filled(kept.evaluationCount + 1, 0)
    // Each evaluation's row cotangents k̄, zeroed (every entry is set below).
    let bars = filled(kept.evaluationCount, UnsafeMutablePointer<Scalar>(bitPattern: 8)!)
    for e in 0..<kept.evaluationCount {
      nodeStart[e + 1] = nodeStart[e] + kept.evaluationRows[e]
      bars[e] = evaluations[e].cotangents.reserve(kept.evaluationRows[e] * d)
      bars[e].update(repeating: 0, count: kept.evaluationRows[e] * d)
    }
    let nodeSample = filled(nodeCount, -1)
    let nodeStep = filled(nodeCount, 0)
    let nodeStage = filled(nodeCount, 0)
    /// The state a node's input starts from: `y_step`, or `y_{step+1}` for a
    /// first-same-as-last stage (`nodeReadsEnd`).
    let nodeAnchor = filled(nodeCount, 0)
    func nodeReadsEnd(_ id: Int) -> Bool { nodeAnchor[id] != nodeStep[id] }
    func node(_ record: Int, _ j: Int) -> (evaluation: Int, row: Int) {
      (stageEvaluation[record * stageCount + j], stageRow[record * stageCount + j])
    }
    let nextOutput = filled(b, t - 1)
    for s in 0..<b {
      let (first, count) = (firstRecord[s], firstRecord[s + 1] - firstRecord[s])
      for i in 0..<count {
        let record = records[first + i]
        for j in 0..<stageCount {
          let (e, row) = node(record, j)
          let id = nodeStart[e] + row
          let readsEnd = fsal && j == stageCount - 1
          // A first-same-as-last stage also opens the next step: one node,
          // filed under that step's first stage.
          if readsEnd && i + 1 < count { continue }
          if fsal && j == 0 && i > 0 {
            (nodeStep[id], nodeStage[id], nodeAnchor[id]) = (i - 1, stageCount - 1, i)
          } else {
            (nodeStep[id], nodeStage[id], nodeAnchor[id]) = (i, j, readsEnd ? i + 1 : i)
          }
          // The last step's last stage is a node only if an output inside the step reads it.
          if !readsEnd { nodeSample[id] = s }
        }
      }
      // Outputs, last to first, into the steps that hold them.
      for i in stride(from: count - 1, through: 0, by: -1) {
        let record = records[first + i]
        let (start, h) = (startTimes[record], stepSizes[record])
        let direction: Scalar = h > 0 ? 1 : -1
        while nextOutput[s] >= 1 {
          let o = nextOutput[s]
          let tau = pass.time(sample: s, index: o)
          if direction * (tau - start) <= 0 { break }
          let cotangent = (s * t + o) * d
          let end = tau == endTimes[record]
          let target = stateOffset[s] + (end ? i + 1 : i) * d
          for k in 0..<d { stateAdjoint[target + k] += g[cotangent + k] }
          nextOutput[s] -= 1
          if end { continue }
          // y(t + θh) = y + h Σ_l b_l(θ) k_l.
          let theta = (tau - start) / h
          for l in 0..<stageCount {
            let weight = tableau.denseOutputWeight(stage: l, theta: theta, step: h)
            let (e, row) = node(record, l)
            let bar = bars[e] + row * d
            for k in 0..<d { bar[k] += weight * g[cotangent + k] }
          }
          // The last stage of a step without a successor is a node only now.
          if fsal && i + 1 == count {
            let (e, row) = node(record, stageCount - 1)
            nodeSample[nodeStart[e] + row] = s
          }
        }
      }
    }
    // Every ȳ_N is complete: open[s] is the last state of sample s whose
    // adjoint has not yet been passed back through its step.
    let open = filled(b, 0)
    for s in 0..<b { open[s] = firstRecord[s + 1] - firstRecord[s] }
    func close(sample s: Int, downTo anchor: Int) {
      while open[s] > anchor {
        let i = open[s] - 1
        let record = records[firstRecord[s] + i]
        let h = stepSizes[record]
        let (later, earlier) = (stateOffset[s] + (i + 1) * d, stateOffset[s] + i * d)
        for l in 0..<stageCount where weights[l] != 0 {
          let (e, row) = node(record, l)
          let bar = bars[e] + row * d
          let hb = h * weights[l]
          for k in 0..<d { bar[k] += hb * stateAdjoint[later + k] }
        }
        for k in 0..<d { stateAdjoint[earlier + k] += stateAdjoint[later + k] }
        open[s] = i
      }
    }
    var parameters = [Scalar](repeating: 0, count: pass.field.parameterCount)
    let rows = ScratchBuffer<Int>()
    let gathered = ScratchBuffer<Scalar>()
    let inputCotangents = ScratchBuffer<Scalar>()
    for e in stride(from: kept.evaluationCount - 1, through: 0, by: -1) {
      let n = kept.evaluationRows[e]
      // The rows a step reads first, then the others.
      let chosen = rows.reserve(n)
      var (m, unused) = (0, n)
      for r in 0..<n {
        let id = nodeStart[e] + r
        if nodeSample[id] < 0 {
          unused -= 1
          chosen[unused] = r
          continue
        }
        close(sample: nodeSample[id], downTo: nodeAnchor[id])
        chosen[m] = r
        m += 1
      }
      if m == 0 { continue }
      // Every row, the unread ones with zero cotangents, when they are few
      // (an eighth at most: cheaper than gathering the others) and hold only
      // finite values (they add nothing then); else the read rows gathered.
      let all =
        m == n
        || ((n - m) * 8 <= n
          && field.keptRowsAreFinite(evaluations[e], rows: chosen + m, count: n - m))
      let rowBars =
        all ? bars[e] : gathered.gather(rows: chosen, count: m, of: bars[e], columns: d)
      let width = all ? n : m
      let u = inputCotangents.reserve(width * d)
      parameters.withUnsafeMutableBufferPointer { gradient in
        field.vectorJacobianProduct(
          of: evaluations[e], rows: all ? nil : UnsafePointer(chosen), count: width,
          cotangents: MatrixView(base: rowBars, rows: width, columns: d),
          stateCotangents: MutableMatrixView(base: u, rows: width, columns: d),
          parameterGradient: gradient.baseAddress!)
      }
      for k in 0..<m {
        let id = nodeStart[e] + chosen[k]
        let productRow = u + (all ? chosen[k] : k) * d
        let (s, i, j) = (nodeSample[id], nodeStep[id], nodeStage[id])
        statistics.add(sample: s, evaluations: 1, acceptedSteps: 0)
        let start = stateOffset[s] + nodeAnchor[id] * d
        for c in 0..<d { stateAdjoint[start + c] += productRow[c] }
        if nodeReadsEnd(id) { continue }
        // Y_j = y_i + h_i Σ_l a_jl k_l.
        let record = records[firstRecord[s] + i]
        let h = stepSizes[record]
        for (l, a) in coupling[j].enumerated() where a != 0 {
          let (source, row) = node(record, l)
          let bar = bars[source] + row * d
          let ha = h * a
          for c in 0..<d { bar[c] += ha * productRow[c] }
        }
      }
    }
    kept.holders.endGeneration()
    var adjointAtStart = [Scalar](repeating: .nan, count: b * d)
    for s in 0..<b where pass.solution.statistics.status[s] == .success {
      close(sample: s, downTo: 0)
      statistics.add(
        sample: s, evaluations: 0, acceptedSteps: firstRecord[s + 1] - firstRecord[s])
      for k in 0..<d { adjointAtStart[s * d + k] = stateAdjoint[stateOffset[s] + k] }
      // Outputs at t₀ itself (index ≥ 1) join a(t₀⁺).
      for o in stride(from: nextOutput[s], through: 1, by: -1) {
        for k in 0..<d { adjointAtStart[s * d + k] += g[(s * t + o) * d + k] }
      }
    }
    return BackwardResult(
      adjointAtStart: adjointAtStart, parameters: parameters, statistics: statistics)
  }
}
