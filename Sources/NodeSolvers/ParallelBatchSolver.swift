import NodeCore

/// Solves a batch on several threads: the batch is cut into chunks of
/// consecutive samples that the threads take in turn, each thread with its own
/// integrator and vector field.
///
/// Because the integrator treats every sample on its own, the result is
/// bitwise the one a single-threaded solve of the whole batch gives, whatever
/// the number of threads or the chunk size; the chunks only balance the work,
/// which per-sample steps make uneven. An integrator with shared steps
/// (``ODEIntegrator/couplesSamples``) cannot be cut: it solves the whole
/// batch on one thread.
public final class ParallelBatchSolver<Scalar: TensorScalar> {
  /// The number of threads.
  public let threadCount: Int
  /// Samples per chunk.
  public let chunkSize: Int
  private let workers: [(integrator: ODEIntegrator<Scalar>, field: any VectorField<Scalar>)]

  /// Creates a solver with `threads` workers, each made by calling
  /// `makeIntegrator` and `makeField` once.
  ///
  /// - Throws: what `makeIntegrator` throws, or ``SolverError/invalidOption(name:value:allowed:)``
  ///   for fewer than one thread or a chunk size below one.
  public init(
    threads: Int, chunkSize: Int = 256, makeIntegrator: () throws -> ODEIntegrator<Scalar>,
    makeField: () throws -> any VectorField<Scalar>
  ) throws {
    guard threads >= 1 else {
      throw SolverError.invalidOption(name: "threads", value: "\(threads)", allowed: "≥ 1")
    }
    guard chunkSize >= 1 else {
      throw SolverError.invalidOption(name: "chunk size", value: "\(chunkSize)", allowed: "≥ 1")
    }
    threadCount = threads
    self.chunkSize = chunkSize
    workers = try (0..<threads).map { _ in (try makeIntegrator(), try makeField()) }
  }

  /// Integrates `initialStates` (`[B, D]`) over `times`, as
  /// ``ODEIntegrator/solve(_:initialStates:times:sampleIdentifiers:)`` does;
  /// the field sees every sample under the same identifier as there.
  public func solve(
    initialStates: Tensor<Scalar>, times: TimeGrid<Scalar>, sampleIdentifiers: [Int]? = nil
  ) throws -> ODESolution<Scalar> {
    let dimension = workers[0].field.dimension
    guard initialStates.rank == 2, initialStates.shape[1] == dimension else {
      throw SolverError.shapeMismatch(
        what: "the initial states", expected: "[B, \(dimension)]", found: initialStates.shape)
    }
    let batchSize = initialStates.shape[0]
    try times.validate(batchSize: batchSize)
    if threadCount == 1 || batchSize <= chunkSize || workers[0].integrator.couplesSamples {
      return try workers[0].integrator.solve(
        workers[0].field, initialStates: initialStates, times: times,
        sampleIdentifiers: sampleIdentifiers)
    }
    let identifiers = sampleIdentifiers ?? Array(0..<batchSize)
    guard identifiers.count == batchSize else {
      throw SolverError.shapeMismatch(
        what: "the sample identifiers", expected: "[\(batchSize)]", found: [identifiers.count])
    }
    let chunks = stride(from: 0, to: batchSize, by: chunkSize).map {
      $0..<Swift.min($0 + chunkSize, batchSize)
    }
    let results = ItemResults<Result<ODESolution<Scalar>, any Error>>(count: chunks.count)
    let shared = UncheckedSendable((self, initialStates, times, chunks, identifiers))
    WorkSharing.run(items: chunks.count, workers: threadCount) { thread, index in
      let (solver, states, times, chunks, identifiers) = shared.value
      let worker = solver.workers[thread]
      let range = chunks[index]
      results.store(
        index,
        Result {
          try worker.integrator.solve(
            worker.field, initialStates: states.rows(range), times: times.rows(range),
            sampleIdentifiers: Array(identifiers[range]))
        })
    }
    return try ODESolution(concatenating: results.values().map { try $0.get() }, times: times)
  }
}

extension Tensor {
  /// Rows `range` of a tensor viewed as `[shape[0], rest]`.
  func rows(_ range: Range<Int>) -> Tensor {
    let width = shape.dropFirst().reduce(1, *)
    return Tensor(
      shape: [range.count] + shape.dropFirst(),
      scalars: Array(scalars[(range.lowerBound * width)..<(range.upperBound * width)]))
  }
}

extension TimeGrid {
  /// The grids of samples `range`.
  func rows(_ range: Range<Int>) -> TimeGrid {
    switch self {
    case .shared: return self
    case .perSample(let grid): return .perSample(grid.rows(range))
    }
  }
}

extension ODESolution {
  /// The solution of a batch from the solutions of its consecutive chunks.
  init(concatenating parts: [ODESolution], times: TimeGrid<Scalar>) {
    let stateShape = parts[0].states.shape.dropFirst()
    let finalShape = parts[0].finalStates.shape.dropFirst()
    let batchSize = parts.reduce(0) { $0 + $1.statistics.count }
    var statistics = SolveStatistics<Scalar>(batchSize: 0)
    for part in parts {
      statistics.functionEvaluations += part.statistics.functionEvaluations
      statistics.acceptedSteps += part.statistics.acceptedSteps
      statistics.rejectedSteps += part.statistics.rejectedSteps
      statistics.status += part.statistics.status
      statistics.stopTimes += part.statistics.stopTimes
      statistics.nextStepSizes += part.statistics.nextStepSizes
    }
    self.init(
      times: times,
      states: Tensor(shape: [batchSize] + stateShape, scalars: parts.flatMap(\.states.scalars)),
      finalStates: Tensor(
        shape: [batchSize] + finalShape, scalars: parts.flatMap(\.finalStates.scalars)),
      statistics: statistics)
  }
}
