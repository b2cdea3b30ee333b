import NodeCore

/// The times at which a solve reports the state: the first is the initial
/// time, the last the final time, the ones between are read off the dense
/// output without forcing extra steps.
public enum TimeGrid<Scalar: TensorScalar>: Sendable, Equatable {
  /// One grid of `T` times for every sample.
  case shared([Scalar])
  /// One grid per sample, `[B, T]`.
  case perSample(Tensor<Scalar>)

  /// The number of times `T` per sample.
  public var count: Int {
    switch self {
    case .shared(let times): return times.count
    case .perSample(let grid): return grid.rank == 2 ? grid.shape[1] : 0
    }
  }

  /// Checks the grid against a batch of `batchSize` samples: at least two
  /// finite times per sample, monotone (all non-decreasing or all
  /// non-increasing) from the first to the last.
  func validate(batchSize: Int) throws {
    switch self {
    case .shared(let times):
      try Self.validate(times[...], label: "the time grid")
    case .perSample(let grid):
      guard grid.rank == 2, grid.shape[0] == batchSize else {
        throw SolverError.shapeMismatch(
          what: "the per-sample time grid", expected: "[\(batchSize), T]", found: grid.shape)
      }
      for sample in 0..<batchSize {
        try Self.validate(grid.row(sample), label: "the time grid of sample \(sample)")
      }
    }
  }

  private static func validate(_ times: ArraySlice<Scalar>, label: String) throws {
    guard times.count >= 2 else {
      throw SolverError.invalidTimeGrid("\(label) has \(times.count) time(s); it needs at least 2")
    }
    guard times.allSatisfy(\.isFinite) else {
      throw SolverError.invalidTimeGrid("\(label) holds a non-finite time")
    }
    let forward = times.last! >= times.first!
    for (earlier, later) in zip(times, times.dropFirst())
    where forward ? later < earlier : later > earlier {
      throw SolverError.invalidTimeGrid(
        "\(label) is not monotone (\(earlier) then \(later)); times must run in one direction")
    }
  }
}
