import NodeCore
import NodeSolvers
import Testing

@testable import NodeSensitivity

/// The gradient modes on a real network: an MLP field with a time input.
@Suite struct MLPGradientTests {
  static func problem(
    batch: Int = 2, seed: UInt64 = 3, times: [Double] = [0, 0.3, 0.7, 1.2]
  ) -> GradientProblem<MLPField<Double>> {
    let field = MLPField<Double>(
      widths: [2, 8, 8, 2], activation: .tanh, timeInput: true, seed: seed)
    let random = CounterRandom(seed: seed)
    let states = (0..<(batch * 2)).map {
      random.normal(stream: 5, index: UInt64($0), as: Double.self)
    }
    return GradientProblem(
      field: field, initialStates: Tensor(shape: [batch, 2], scalars: states),
      times: times, seed: seed)
  }

  @Test(arguments: GradientMode.allCases)
  func againstFiniteDifferences(mode: GradientMode) throws {
    let problem = Self.problem()
    let reference = try problem.finiteDifferences()
    let gradients = try problem.gradients(mode: mode, tolerance: 1e-12)
    let parameterError = largestRelativeError(gradients.parameters.scalars, reference.parameters)
    let stateError = largestRelativeError(gradients.initialStates.scalars, reference.initialStates)
    let timeError = largestRelativeError(summedTimeGradients(gradients), reference.times)
    print("MLP \(mode): parameters \(parameterError), z0 \(stateError), times \(timeError)")
    #expect(parameterError < 1e-6)
    #expect(stateError < 1e-6)
    #expect(timeError < 1e-6)
  }

  /// The adjoint modes approach backprop through the solver as the tolerance tightens.
  @Test(arguments: [GradientMode.adjoint, .checkpointed])
  func adjointConvergesToBackprop(mode: GradientMode) throws {
    let problem = Self.problem()
    var differences: [Double] = []
    for tolerance in [1e-3, 1e-6, 1e-9] {
      let exact = try problem.gradients(mode: .backprop, tolerance: tolerance)
      let adjoint = try problem.gradients(mode: mode, tolerance: tolerance)
      differences.append(relativeDistance(adjoint.parameters.scalars, exact.parameters.scalars))
    }
    print("\(mode) vs backprop by tolerance 1e-3, 1e-6, 1e-9: \(differences)")
    for (looser, tighter) in zip(differences, differences.dropFirst()) { #expect(tighter < looser) }
    #expect(differences.last! < 1e-7)
  }

  /// A sample's gradient does not depend on its batch-mates: the batch's
  /// gradient is the sum of each sample's gradient alone, and a sample's
  /// own results (z0 gradient, backward statistics) are bitwise the same.
  @Test(arguments: GradientMode.allCases)
  func perSampleContributions(mode: GradientMode) throws {
    let batch = Self.problem(batch: 5)
    let together = try batch.gradients(mode: mode, tolerance: 1e-6)
    var summed = [Double](repeating: 0, count: batch.field.parameterCount)
    for s in 0..<5 {
      var alone = batch
      alone.initialStates = Tensor(shape: [1, 2], scalars: Array(batch.initialStates.row(s)))
      let weights = batch.loss.weights
      let width = weights.shape[1] * weights.shape[2]
      let own = LinearLoss(
        weights: Tensor(
          shape: [1, weights.shape[1], 2],
          scalars: Array(weights.scalars[(s * width)..<((s + 1) * width)])))
      let single = try GradientProblem(
        field: batch.field, initialStates: alone.initialStates, times: batch.times, loss: own
      ).gradients(mode: mode, tolerance: 1e-6)
      for (p, value) in single.parameters.scalars.enumerated() { summed[p] += value }
      #expect(Array(single.initialStates.scalars) == Array(together.initialStates.row(s)))
      #expect(
        single.statistics.functionEvaluations[0] == together.statistics.functionEvaluations[s])
      #expect(single.statistics.rejectedSteps[0] == together.statistics.rejectedSteps[s])
    }
    #expect(largestRelativeError(summed, together.parameters.scalars, floor: 1e-9) < 1e-12)
  }

  /// A per-sample time grid gives each sample the gradients it has alone on its own grid.
  @Test(arguments: GradientMode.allCases)
  func perSampleTimeGrids(mode: GradientMode) throws {
    let problem = Self.problem(batch: 3)
    let grids: [[Double]] = [[0, 0.5, 1], [0, 0.2, 0.9], [0.1, 0.6, 1.3]]
    let controller = StepSizeController<Double>.adaptive(
      PIController(relativeTolerance: 1e-8, absoluteTolerance: 1e-8))
    let solver = try ODEGradientSolver(mode: mode, method: .dormandPrince, forward: controller)
    let cotangents = LinearLoss(batch: 3, times: 3, dimension: 2, seed: 4).weights
    let pass = try solver.forward(
      problem.field, initialStates: problem.initialStates,
      times: .perSample(Tensor(shape: [3, 3], scalars: grids.flatMap { $0 })))
    let together = try solver.backward(pass, outputCotangents: cotangents, timeGradients: true)
    var summed = [Double](repeating: 0, count: problem.field.parameterCount)
    for s in 0..<3 {
      let alone = try solver.forward(
        problem.field,
        initialStates: Tensor(shape: [1, 2], scalars: Array(problem.initialStates.row(s))),
        times: .shared(grids[s]))
      let own = try solver.backward(
        alone,
        outputCotangents: Tensor(
          shape: [1, 3, 2], scalars: Array(cotangents.scalars[(s * 6)..<(s * 6 + 6)])),
        timeGradients: true)
      for (p, value) in own.parameters.scalars.enumerated() { summed[p] += value }
      #expect(Array(own.initialStates.scalars) == Array(together.initialStates.row(s)))
      #expect(Array(own.times!.scalars) == Array(together.times!.row(s)))
    }
    #expect(relativeDistance(summed, together.parameters.scalars) < 1e-12)
  }

  /// Leaving the parameter integral out of error control takes fewer
  /// backward steps when one step serves the batch (torchdiffeq's setting:
  /// the batch's summed integral, whose per-sample parts partly cancel,
  /// joins the norm). Per-sample control measures each sample's integral
  /// against its own size, and the saving is small: reported, not asserted.
  @Test(arguments: [UInt64(1), 2, 3])
  func seminormSavesBackwardEvaluations(seed: UInt64) throws {
    let field = MLPField<Double>(
      widths: [2, 64, 64, 2], activation: .tanh, timeInput: false, seed: seed)
    field.parameters = field.parameters.map { 3 * $0 }
    let random = CounterRandom(seed: seed)
    let states = (0..<64).map { random.normal(stream: 5, index: UInt64($0), as: Double.self) }
    let problem = GradientProblem(
      field: field, initialStates: Tensor(shape: [32, 2], scalars: states), times: [0, 2],
      seed: seed)
    var report: [String] = []
    for scope in [ErrorControlScope.sharedAcrossBatch, .perSample] {
      let seminorm = try problem.gradients(
        mode: .adjoint, tolerance: 1e-6, norm: .seminorm, scope: scope)
      let full = try problem.gradients(mode: .adjoint, tolerance: 1e-6, norm: .full, scope: scope)
      let (semi, plain) = (
        seminorm.statistics.meanFunctionEvaluations, full.statistics.meanFunctionEvaluations
      )
      report.append(
        "\(scope): seminorm \(semi), full \(plain) (\(Int((100 * (1 - semi / plain)).rounded())) % fewer)"
      )
      if scope == .sharedAcrossBatch { #expect(semi < plain) }
      // Both are gradients of the same solution, to the tolerance.
      #expect(relativeDistance(seminorm.parameters.scalars, full.parameters.scalars) < 1e-4)
    }
    print("backward NFE per sample, seed \(seed): " + report.joined(separator: "; "))
  }
}
