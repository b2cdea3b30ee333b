import NodeCore
import NodeSolvers
import Testing

@testable import NodeSensitivity

/// The backsolve adjoint's first backward step: continued from the forward
/// solve's step proposal (``AdjointFirstStep/continueForward``) or selected by
/// Hairer's probe (``AdjointFirstStep/select``).
@Suite struct AdjointFirstStepTests {
  /// Four samples of the MLP field, one output interval or four output times.
  static func problem(times: [Double]) -> GradientProblem<MLPField<Double>> {
    MLPGradientTests.problem(batch: 4, seed: 7, times: times)
  }

  /// Either start's parameter gradient is within ten times the tolerance of
  /// backprop's exact gradient of a tight solve, at every tolerance down to
  /// 1e-10 (a start that escaped error control would stall), and continuing
  /// takes fewer backward evaluations than probing at every tolerance.
  ///
  /// Neither error falls monotonically: the parameter integral is a
  /// quadrature outside the seminorm's error control, and continuing (larger
  /// first steps) left 7.3e-6 at 1e-6 and 4.8e-7 at 1e-4 on one interval,
  /// probing 6.4e-7 and 2.9e-6.
  @Test(arguments: [[0, 1.2], [0, 0.3, 0.7, 1.2]])
  func bothStartsConvergeAndContinuingEvaluatesLess(times: [Double]) throws {
    let problem = Self.problem(times: times)
    let exact = try problem.gradients(mode: .backprop, tolerance: 1e-12).parameters.scalars
    let tolerances = [1e-4, 1e-6, 1e-8, 1e-10]
    var errors: [AdjointFirstStep: [Double]] = [:]
    for tolerance in tolerances {
      var evaluations: [AdjointFirstStep: Double] = [:]
      for start in AdjointFirstStep.allCases {
        let gradients = try problem.gradients(
          mode: .adjoint, tolerance: tolerance, firstStep: start)
        #expect(gradients.statistics.allSucceeded)
        errors[start, default: []].append(relativeDistance(gradients.parameters.scalars, exact))
        evaluations[start] = gradients.statistics.meanFunctionEvaluations
      }
      #expect(
        evaluations[.continueForward]! < evaluations[.select]!,
        "backward NFE at \(tolerance): \(evaluations)")
    }
    print("parameter errors by tolerance 1e-4 … 1e-10, times \(times): \(errors)")
    for (start, byTolerance) in errors {
      for (tolerance, error) in zip(tolerances, byTolerance) {
        #expect(error < 10 * tolerance, "\(start) at \(tolerance): \(byTolerance)")
      }
    }
  }

  /// The forward proposals carry over scaled by `(tol_a / tol_f)^(1/5)` for
  /// dopri5: an adjoint 32 times stricter starts with half the step.
  @Test func proposalsScaleWithTheAdjointTolerance() throws {
    let problem = Self.problem(times: [0, 1.2])
    let forward = PIController<Double>(relativeTolerance: 1e-5, absoluteTolerance: 1e-5)
    let adjoint = PIController<Double>(relativeTolerance: 1e-5 / 32, absoluteTolerance: 1e-4)
    let solver = try ODEGradientSolver(
      mode: .adjoint, method: .dormandPrince, forward: .adaptive(forward),
      adjoint: .adaptive(adjoint), adjointFirstStep: .continueForward)
    let pass = try solver.forward(
      problem.field, initialStates: problem.initialStates, times: .shared(problem.times))
    let proposals = pass.solution.statistics.nextStepSizes
    let continued = try #require(solver.forwardContinuation(pass))
    #expect(proposals.allSatisfy { $0 > 0 })
    for (h, first) in zip(proposals, continued) { #expect(abs(first - h / 2) < 1e-12 * h) }
  }

  /// Where the setting has no effect — the checkpointed adjoint (its segments
  /// start with the forward's own steps) and batch-wide error control — the
  /// two starts give the same gradients bit for bit.
  @Test(arguments: [
    (GradientMode.checkpointed, ErrorControlScope.perSample), (.adjoint, .sharedAcrossBatch),
  ])
  func noEffectWhereTheStartIsFixed(mode: GradientMode, scope: ErrorControlScope) throws {
    let problem = Self.problem(times: [0, 0.3, 0.7, 1.2])
    let (continued, selected) = (
      try problem.gradients(mode: mode, tolerance: 1e-6, scope: scope, firstStep: .continueForward),
      try problem.gradients(mode: mode, tolerance: 1e-6, scope: scope, firstStep: .select)
    )
    #expect(continued.parameters.scalars == selected.parameters.scalars)
    #expect(continued.initialStates.scalars == selected.initialStates.scalars)
    #expect(continued.statistics == selected.statistics)
  }
}
