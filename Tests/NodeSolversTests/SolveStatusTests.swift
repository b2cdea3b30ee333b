import Foundation
import NodeCore
import NodeSolvers
import Testing

/// A sample that cannot be integrated gets a status and a stop time; the
/// others in its batch are not affected, and nothing traps.
@Suite struct SolveStatusTests {
  @Test func maxStepsReached() throws {
    let field = DampedRotationField<Double>(frequencies: [1, 40])
    let solution = try adaptiveIntegrator(tolerance: 1e-10, maxSteps: 60).solve(
      field, initialStates: circleStates(2), times: .shared([0, 1, 2]))
    let stats = solution.statistics
    #expect(stats.status == [.success, .maxStepsReached])
    #expect(stats.acceptedSteps[1] + stats.rejectedSteps[1] == 60)
    #expect(stats.stopTimes[1] > 0 && stats.stopTimes[1] < 2)
    // The last state is the accurate state at the stop time.
    let exact = field.exactState(
      sample: 1, initial: Array(circleStates(2).row(1)), initialTime: 0, time: stats.stopTimes[1])
    #expect(abs(solution.finalStates[1, 0] - exact[0]) < 1e-7)
    // Outputs after the stop time are NaN, not stale values.
    #expect(solution.state(sample: 1, time: 2).allSatisfy { $0.isNaN })
  }

  @Test func stepSizeUnderflowAtABlowUp() throws {
    // y' = y², y(0) = 1 blows up at t = 1.
    let field = ClosureField(dimension: 1) { _, _, y, f in f[0] = y[0] * y[0] }
    let initial = Tensor<Double>(shape: [1, 1], scalars: [1])
    let solution = try adaptiveIntegrator(tolerance: 1e-6).solve(
      field, initialStates: initial, times: .shared([0, 2]))
    #expect(solution.statistics.status == [.stepSizeTooSmall])
    #expect(abs(solution.statistics.stopTimes[0] - 1) < 1e-3)
  }

  @Test func minimumStepSizeIsHonoured() throws {
    let field = ClosureField(dimension: 1) { _, _, y, f in f[0] = y[0] * y[0] }
    let initial = Tensor<Double>(shape: [1, 1], scalars: [1])
    let solution = try adaptiveIntegrator(tolerance: 1e-6) { $0.minStepSize = 1e-3 }.solve(
      field, initialStates: initial, times: .shared([0, 2]))
    #expect(solution.statistics.status == [.stepSizeTooSmall])
    #expect(solution.statistics.stopTimes[0] < 1)
  }

  @Test func nonFiniteStateStopsOnlyThatSample() throws {
    // Sample 1's field turns NaN once t > 0.5.
    let field = ClosureField(dimension: 1) { sample, t, y, f in
      f[0] = sample == 1 && t > 0.5 ? .nan : -y[0]
    }
    let initial = Tensor<Double>(shape: [3, 1], scalars: [1, 1, 1])
    let solution = try adaptiveIntegrator(tolerance: 1e-6).solve(
      field, initialStates: initial, times: .shared([0, 1]))
    let stats = solution.statistics
    #expect(stats.status == [.success, .nonFiniteState, .success])
    #expect(stats.stopTimes[1] <= 0.5)
    #expect(solution.finalStates[1, 0].isFinite)
    #expect(abs(solution.finalStates[0, 0] - exp(-1)) < 1e-5)
    #expect(stats.statusCounts == [.success: 2, .nonFiniteState: 1])
  }

  @Test func nonFiniteInitialStateFailsAtOnce() throws {
    let field = ExponentialDecayField<Double>(rates: [1, 1])
    let initial = Tensor<Double>(shape: [2, 1], scalars: [.infinity, 1])
    let solution = try adaptiveIntegrator(tolerance: 1e-6).solve(
      field, initialStates: initial, times: .shared([0, 1]))
    #expect(solution.statistics.status == [.nonFiniteState, .success])
    #expect(solution.statistics.stopTimes[0] == 0)
    #expect(solution.statistics.functionEvaluations[0] == 1)
  }

  @Test func constantStepNonFiniteAndMaxSteps() throws {
    let field = ClosureField(dimension: 1) { sample, t, y, f in
      f[0] = sample == 0 && t > 0.3 ? .infinity : y[0]
    }
    let initial = Tensor<Double>(shape: [2, 1], scalars: [1, 1])
    let solution = try ODEIntegrator<Double>(
      method: .rk4, controller: .constant(stepSize: 0.1)
    ).solve(field, initialStates: initial, times: .shared([0, 1]))
    #expect(solution.statistics.status == [.nonFiniteState, .success])
    #expect(abs(solution.finalStates[1, 0] - exp(1)) < 1e-5)
    let limited = try ODEIntegrator<Double>(
      method: .euler, controller: .constant(stepSize: 0.01), maxSteps: 10
    ).solve(
      ExponentialDecayField(rates: [1]), initialStates: Tensor(shape: [1, 1], scalars: [1]),
      times: .shared([0, 1]))
    #expect(limited.statistics.status == [.maxStepsReached])
    #expect(abs(limited.statistics.stopTimes[0] - 0.1) < 1e-12)
  }

  @Test func statusDescriptionsAreReadable() {
    #expect(
      SolveStatus.allCases.map(\.description) == [
        "success", "max steps reached", "step size too small", "non-finite state",
      ])
  }
}
