import Foundation
import NodeCore
import NodeSolvers
import Testing

/// Splitting a batch over threads changes nothing in the result.
@Suite struct ParallelBatchSolverTests {
  static let frequencies = (0..<300).map { 0.5 + Double(($0 * 53) % 300) / 300 * 12 }

  func makeField() -> any VectorField<Double> { DampedRotationField(frequencies: Self.frequencies) }

  @Test(arguments: [(1, 256), (2, 7), (3, 64), (4, 300)])
  func threadsGiveTheSingleThreadedBits(threads: Int, chunk: Int) throws {
    let initial = circleStates(300)
    let grids = Tensor<Double>(
      shape: [300, 3], scalars: (0..<300).flatMap { s in [0, 0.5, 1 + Double(s % 5) / 4] })
    let reference = try adaptiveIntegrator(tolerance: 1e-7).solve(
      makeField(), initialStates: initial, times: .perSample(grids))
    let parallel = try ParallelBatchSolver(
      threads: threads, chunkSize: chunk,
      makeIntegrator: { try adaptiveIntegrator(tolerance: 1e-7) },
      makeField: makeField
    ).solve(initialStates: initial, times: .perSample(grids))
    #expect(parallel.states.isBitwiseIdentical(to: reference.states))
    #expect(parallel.finalStates.isBitwiseIdentical(to: reference.finalStates))
    #expect(parallel.statistics == reference.statistics)
  }

  /// Shared steps couple the batch: cutting it would change the steps, so the
  /// solver keeps the batch whole.
  @Test func sharedStepsAreNotCut() throws {
    let initial = circleStates(300)
    let make = { try adaptiveIntegrator(tolerance: 1e-6, scope: .sharedAcrossBatch) }
    let reference = try make().solve(makeField(), initialStates: initial, times: .shared([0, 1]))
    let parallel = try ParallelBatchSolver(
      threads: 3, chunkSize: 7, makeIntegrator: make, makeField: makeField
    ).solve(initialStates: initial, times: .shared([0, 1]))
    #expect(try make().couplesSamples)
    #expect(parallel.states.isBitwiseIdentical(to: reference.states))
    #expect(parallel.statistics == reference.statistics)
  }

  @Test func badInputIsRefused() throws {
    #expect(throws: SolverError.self) {
      try ParallelBatchSolver(
        threads: 0, makeIntegrator: { try adaptiveIntegrator(tolerance: 1e-6) },
        makeField: makeField)
    }
    let solver = try ParallelBatchSolver(
      threads: 2, chunkSize: 4, makeIntegrator: { try adaptiveIntegrator(tolerance: 1e-6) },
      makeField: makeField)
    #expect(throws: SolverError.self) {
      try solver.solve(initialStates: Tensor(shape: [10, 3]), times: .shared([0, 1]))
    }
    #expect(throws: SolverError.self) {
      try solver.solve(initialStates: circleStates(10), times: .shared([1]))
    }
  }
}
