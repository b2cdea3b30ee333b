import NodeBench
import NodeSolvers
import Testing

@Suite struct SolverDemoTests {
  /// A row's error is measured against the exact rotations and shrinks with the tolerance.
  @Test func errorFollowsTheTolerance() throws {
    let demo = SolverDemo(samples: 8)
    let loose = try demo.run(method: .dormandPrince, tolerance: 1e-3)
    let tight = try demo.run(method: .dormandPrince, tolerance: 1e-8)
    #expect(tight.maxError > 0 && tight.maxError < loose.maxError && loose.maxError < 1)
    #expect(tight.meanEvaluations > loose.meanEvaluations)
  }

  /// Solves that cannot reach the final time are reported, not turned into a zero error.
  @Test func failedSolvesAreReported() throws {
    let demo = SolverDemo(samples: 4)
    let failure = #expect(throws: SolverDemo.Failure.self) {
      try demo.run(method: .dormandPrince, tolerance: 1e-300)
    }
    #expect(failure?.counts.values.reduce(0, +) == 4, "\(String(describing: failure))")
    #expect(failure?.description.contains("did not reach the final time") == true)
  }
}
