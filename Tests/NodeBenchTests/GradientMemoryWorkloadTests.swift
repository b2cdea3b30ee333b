import Foundation
import NodeBench
import NodeCore
import NodeSensitivity
import NodeSolvers
import Testing

/// The memory benchmark's workload: the W3 field as a differentiable MLP, in Float.
@Suite struct GradientMemoryWorkloadTests {
  @Test func loadsTheW3FieldAsAnMLP() throws {
    let workload = try GradientMemoryWorkload(
      problem: #require(W3Workload.bundledProblemURL), samples: 64)
    #expect(workload.initialStates.shape == [64, 2])
    #expect(workload.field.widths == [2, 64, 64, 2])
    // The same network as the forward-only field of the W3 benchmark.
    let w3 = try W3Workload(problem: #require(W3Workload.bundledProblemURL))
    let integrator = try ODEIntegrator<Float>(
      method: .dormandPrince,
      controller: .adaptive(PIController(relativeTolerance: 1e-6, absoluteTolerance: 1e-6)))
    let a = try integrator.solve(
      workload.field, initialStates: workload.initialStates, times: .shared([0, 1]))
    let b = try integrator.solve(
      w3.field, initialStates: workload.initialStates, times: .shared([0, 1]))
    let largest = zip(a.finalStates.scalars, b.finalStates.scalars).map { abs($0 - $1) }.max()!
    #expect(largest < 1e-5)
  }

  @Test(arguments: GradientMode.allCases)
  func everyModeMeasures(mode: GradientMode) throws {
    let workload = try GradientMemoryWorkload(
      problem: #require(W3Workload.bundledProblemURL), samples: 32)
    let result = try workload.measure(mode: mode, tolerance: 1e-4)
    #expect(result.allSucceeded)
    #expect(result.forwardEvaluations > 0 && result.backwardEvaluations > 0)
    #expect((result.storedTrajectoryScalars == 0) == (mode == .adjoint))
  }
}
