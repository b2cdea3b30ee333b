import NodeCore
import NodeSolvers

extension ODEGradientSolver {
  /// Backprop through the solver: the exact reverse of the forward pass's
  /// accepted steps, last to first, with step sizes as constants.
  ///
  /// For a step `y₁ = y + h Σ_j b_j k_j`, `k_j = f(t + c_j h, Y_j)`,
  /// `Y_j = y + h Σ_{l<j} a_jl k_l`, and an output inside it read off the
  /// dense output `y + h Σ_j b_j(θ) k_j`, the cotangents run
  ///
  ///     k̄_j = h (b_j ȳ₁ + Σ_outputs b_j(θ) ḡ + Σ_{l>j} a_lj ū_l),   ū_j = k̄_jᵀ ∂f/∂y (Y_j),
  ///     ȳ = ȳ₁ + Σ_outputs ḡ + Σ_j ū_j,                              θ̄ += Σ_j k̄_jᵀ ∂f/∂θ (Y_j).
  ///
  /// The stages are recomputed from the step's stored start state: the field
  /// is per-sample, so they are bitwise the forward ones. Round `k` treats the
  /// `k`-th last step of every sample that has one, in one batch per stage.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  func discreteBackward(
    _ pass: ForwardPass<Scalar>, cotangents: Tensor<Scalar>
  ) -> BackwardResult<Scalar> {
    let log = pass.log!
    let b = pass.batchSize
    let t = pass.solution.times.count
    let d = pass.field.dimension
    let g = cotangents.scalars
    let tableau = WorkingTableau<Scalar>(method)
    let (stageCount, nodes, coupling, weights) = (
      tableau.stageCount, tableau.nodes, tableau.coupling, tableau.weights
    )
    var statistics = SolveStatistics<Scalar>(batchSize: b)
    var steps = [[Int]](repeating: [], count: b)
    for s in 0..<b {
      let forwardStatus = pass.solution.statistics.status[s]
      statistics.setOutcome(
        sample: s, status: forwardStatus, stopTime: pass.time(sample: s, index: 0))
      if forwardStatus == .success { steps[s] = log.recordsOfSample[s] }
    }
    var adjoint = [Scalar](repeating: 0, count: b * d)
    var nextOutput = [Int](repeating: t - 1, count: b)
    let rounds = steps.map(\.count).max() ?? 0
    var parameters = [Scalar](repeating: 0, count: pass.field.parameterCount)
    let workspace = BackpropWorkspace<Scalar>(stages: stageCount)
    for k in 0..<rounds {
      let rows = (0..<b).filter { k < steps[$0].count }
      let m = rows.count
      workspace.reserve(rows: m, dimension: d)
      let ws = workspace
      // The step of each row, its outputs, and the cotangent at its end.
      var interior: [(row: Int, theta: Scalar, output: Int)] = []
      for (r, s) in rows.enumerated() {
        let record = steps[s][steps[s].count - 1 - k]
        ws.startTimes[r] = log.startTimes[record]
        ws.steps[r] = log.steps[record]
        ws.endTimes[r] = log.endTimes[record]
        ws.isLast[r] = log.isLast[record]
        ws.identifiers[r] = pass.sampleIdentifiers[s]
        for i in 0..<d {
          ws.states[r * d + i] = log.states[record * d + i]
          ws.endAdjoint[r * d + i] = adjoint[s * d + i]
        }
        let start = ws.startTimes[r]
        let direction: Scalar = ws.steps[r] > 0 ? 1 : -1
        while nextOutput[s] >= 1 {
          let j = nextOutput[s]
          let tau = pass.time(sample: s, index: j)
          if direction * (tau - start) <= 0 { break }
          if tau == ws.endTimes[r] {
            for i in 0..<d { ws.endAdjoint[r * d + i] += g[(s * t + j) * d + i] }
          } else {
            interior.append((r, (tau - start) / ws.steps[r], j))
          }
          nextOutput[s] -= 1
        }
      }
      recomputeStages(
        pass.field, rows: m, dimension: d, nodes: nodes, coupling: coupling, workspace: ws)
      // k̄_j = h b_j ȳ₁ (+ dense-output terms); ȳ = ȳ₁ (+ dense-output cotangents).
      for j in 0..<stageCount {
        let bar = ws.stageCotangents[j]
        for r in 0..<m {
          let hb = ws.steps[r] * weights[j]
          for i in 0..<d { bar[r * d + i] = hb * ws.endAdjoint[r * d + i] }
        }
      }
      for i in 0..<(m * d) { ws.startAdjoint[i] = ws.endAdjoint[i] }
      for (r, theta, j) in interior {
        let s = rows[r]
        let h = ws.steps[r]
        for stage in 0..<stageCount {
          let weight = tableau.denseOutputWeight(stage: stage, theta: theta, step: h)
          let bar = ws.stageCotangents[stage]
          for i in 0..<d { bar[r * d + i] += weight * g[(s * t + j) * d + i] }
        }
        for i in 0..<d { ws.startAdjoint[r * d + i] += g[(s * t + j) * d + i] }
      }
      // Stages last to first: ū_j, then its share of the earlier stages' k̄.
      parameters.withUnsafeMutableBufferPointer { gradient in
        for j in stride(from: stageCount - 1, through: 0, by: -1) {
          pass.field.vectorJacobianProduct(
            FieldBatch(
              count: m, times: ws.stageTimes[j],
              states: MatrixView(base: ws.stageInputs[j], rows: m, columns: d),
              sampleIndices: ws.identifiers),
            cotangents: MatrixView(base: ws.stageCotangents[j], rows: m, columns: d),
            stateCotangents: MutableMatrixView(base: ws.inputCotangent, rows: m, columns: d),
            derivatives: nil, timeCotangents: nil,
            parameterGradient: ParameterGradientSink(gradient: gradient.baseAddress!))
          for i in 0..<(m * d) { ws.startAdjoint[i] += ws.inputCotangent[i] }
          for (l, a) in coupling[j].enumerated() where a != 0 {
            let bar = ws.stageCotangents[l]
            for r in 0..<m {
              let ha = ws.steps[r] * a
              for i in 0..<d { bar[r * d + i] += ha * ws.inputCotangent[r * d + i] }
            }
          }
        }
      }
      for (r, s) in rows.enumerated() {
        for i in 0..<d { adjoint[s * d + i] = ws.startAdjoint[r * d + i] }
        statistics.add(sample: s, evaluations: stageCount, acceptedSteps: 1)
      }
    }
    // Outputs at t₀ itself (index ≥ 1) join a(t₀⁺).
    var adjointAtStart = adjoint
    for s in 0..<b {
      if pass.solution.statistics.status[s] != .success {
        for i in 0..<d { adjointAtStart[s * d + i] = .nan }
        continue
      }
      for j in stride(from: nextOutput[s], through: 1, by: -1) {
        for i in 0..<d { adjointAtStart[s * d + i] += g[(s * t + j) * d + i] }
      }
    }
    return BackwardResult(
      adjointAtStart: adjointAtStart, parameters: parameters, statistics: statistics)
  }

  /// Fills each stage's input `Y_j`, time and derivative `k_j` for the rows'
  /// steps, in the forward step's order of operations.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  private func recomputeStages(
    _ field: any DifferentiableVectorField<Scalar>, rows m: Int, dimension d: Int,
    nodes: [Scalar], coupling: [[Scalar]], workspace ws: BackpropWorkspace<Scalar>
  ) {
    for j in 0..<nodes.count {
      let input = ws.stageInputs[j]
      let times = ws.stageTimes[j]
      let terms = coupling[j].enumerated().filter { $0.element != 0 }
      for r in 0..<m {
        let h = ws.steps[r]
        times[r] = nodes[j] == 1 && ws.isLast[r] ? ws.endTimes[r] : ws.startTimes[r] + nodes[j] * h
        let row = r * d
        if terms.isEmpty {
          for i in 0..<d { input[row + i] = ws.states[row + i] }
          continue
        }
        // y + h ⊙ Σ_l a_jl k_l, summed like the integrator's StageCombination.apply.
        for i in 0..<d {
          var sum = terms[0].element * ws.stageDerivatives[terms[0].offset][row + i]
          for term in terms.dropFirst() {
            sum = sum + term.element * ws.stageDerivatives[term.offset][row + i]
          }
          input[row + i] = ws.states[row + i] + h * sum
        }
      }
      field.evaluate(
        FieldBatch(
          count: m, times: times, states: MatrixView(base: input, rows: m, columns: d),
          sampleIndices: ws.identifiers),
        into: MutableMatrixView(base: ws.stageDerivatives[j], rows: m, columns: d))
    }
  }
}

/// Scratch memory of one round of backprop through the solver.
final class BackpropWorkspace<Scalar: TensorScalar> {
  private let buffers: [ScratchBuffer<Scalar>]
  private let rowBuffers: [ScratchBuffer<Scalar>]
  private let stageBuffers: [[ScratchBuffer<Scalar>]]
  private let identifierBuffer = ScratchBuffer<Int>()
  private let lastBuffer = ScratchBuffer<Bool>()
  private(set) var states = UnsafeMutablePointer<Scalar>(bitPattern: 8)!
  private(set) var endAdjoint = UnsafeMutablePointer<Scalar>(bitPattern: 8)!
  private(set) var startAdjoint = UnsafeMutablePointer<Scalar>(bitPattern: 8)!
  private(set) var inputCotangent = UnsafeMutablePointer<Scalar>(bitPattern: 8)!
  private(set) var startTimes = UnsafeMutablePointer<Scalar>(bitPattern: 8)!
  private(set) var steps = UnsafeMutablePointer<Scalar>(bitPattern: 8)!
  private(set) var endTimes = UnsafeMutablePointer<Scalar>(bitPattern: 8)!
  private(set) var identifiers = UnsafeMutablePointer<Int>(bitPattern: 8)!
  private(set) var isLast = UnsafeMutablePointer<Bool>(bitPattern: 8)!
  private(set) var stageInputs: [UnsafeMutablePointer<Scalar>] = []
  private(set) var stageTimes: [UnsafeMutablePointer<Scalar>] = []
  private(set) var stageDerivatives: [UnsafeMutablePointer<Scalar>] = []
  private(set) var stageCotangents: [UnsafeMutablePointer<Scalar>] = []

  init(stages: Int) {
    buffers = (0..<4).map { _ in ScratchBuffer<Scalar>() }
    rowBuffers = (0..<3).map { _ in ScratchBuffer<Scalar>() }
    stageBuffers = (0..<4).map { _ in (0..<stages).map { _ in ScratchBuffer<Scalar>() } }
  }

  func reserve(rows m: Int, dimension d: Int) {
    let block = Swift.max(m * d, 1)
    states = buffers[0].reserve(block)
    endAdjoint = buffers[1].reserve(block)
    startAdjoint = buffers[2].reserve(block)
    inputCotangent = buffers[3].reserve(block)
    startTimes = rowBuffers[0].reserve(Swift.max(m, 1))
    steps = rowBuffers[1].reserve(Swift.max(m, 1))
    endTimes = rowBuffers[2].reserve(Swift.max(m, 1))
    identifiers = identifierBuffer.reserve(Swift.max(m, 1))
    isLast = lastBuffer.reserve(Swift.max(m, 1))
    stageInputs = stageBuffers[0].map { $0.reserve(block) }
    stageTimes = stageBuffers[1].map { $0.reserve(Swift.max(m, 1)) }
    stageDerivatives = stageBuffers[2].map { $0.reserve(block) }
    stageCotangents = stageBuffers[3].map { $0.reserve(block) }
  }
}
