import Foundation
import NodeCore
import Testing

@testable import NodeSolvers

/// ``SolveStatistics/nextStepSizes``: the step the controller proposed after
/// a sample's last accepted step, from which a solve can be continued.
@Suite struct StepProposalTests {
  /// A van der Pol-like oscillator, nonlinear enough that the step sizes vary.
  let field = ClosureField(dimension: 2) { _, t, y, f in
    let (x, v) = (y[0], y[1])
    f[0] = v
    f[1] = 2 * (1 - x * x) * v - x + 0.3 * sin(t)
  }

  /// A solve cut after `k` step attempts (`maxSteps`) and continued from its
  /// stop time and state with its proposal takes the same steps as one solve:
  /// the same final states and as many accepted steps in all. (A cut right
  /// after a rejection retries the rejected step once more, with the same
  /// outcome.)
  @Test(arguments: [3, 7, 12])
  func continuedSolveRetakesTheUncutSteps(cut: Int) throws {
    let states = circleStates(3)
    let end = 4.0
    let whole = try adaptiveIntegrator(tolerance: 1e-6).solve(
      field, initialStates: states, times: .shared([0, end]))
    let first = try adaptiveIntegrator(tolerance: 1e-6, maxSteps: cut).solve(
      field, initialStates: states, times: .shared([0, end]))
    #expect(first.statistics.status.allSatisfy { $0 == SolveStatus.maxStepsReached })
    let proposals = first.statistics.nextStepSizes
    #expect(proposals.allSatisfy { $0 > 0 })
    let starts = first.statistics.stopTimes
    let rest = try adaptiveIntegrator(tolerance: 1e-6).solve(
      field, initialStates: first.finalStates,
      times: .perSample(Tensor(shape: [3, 2], scalars: starts.flatMap { [$0, end] })),
      initialStepSizes: proposals)
    for s in 0..<3 {
      #expect(
        rest.statistics.acceptedSteps[s] + first.statistics.acceptedSteps[s]
          == whole.statistics.acceptedSteps[s])
    }
    let (a, b) = (rest.finalStates.scalars, whole.finalStates.scalars)
    let largest = zip(a, b).map { abs($0 - $1) / max(abs($1), 1e-300) }.max() ?? 0
    #expect(largest < 1e-13, "largest relative difference \(largest)")
  }

  /// Constant steps propose their step; a sample with nothing to integrate
  /// proposes nothing (zero).
  @Test func constantStepsAndEmptySpans() throws {
    let constant = try constantStepIntegrator(.dormandPrince, step: 0.125).solve(
      field, initialStates: circleStates(2), times: .shared([0, 1]))
    #expect(constant.statistics.nextStepSizes == [0.125, 0.125])
    let spans = Tensor(shape: [2, 2], scalars: [0, 1, 0.5, 0.5])
    let adaptive = try adaptiveIntegrator(tolerance: 1e-6).solve(
      field, initialStates: circleStates(2), times: .perSample(spans))
    #expect(adaptive.statistics.nextStepSizes[0] > 0)
    #expect(adaptive.statistics.nextStepSizes[1] == 0)
  }
}
