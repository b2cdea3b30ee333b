import NodeCore
import NodeSolvers

/// The points of a pass through a flow, their summed log-density changes and
/// each block's solve statistics (in the order the blocks were integrated).
public struct CNFTransport<Scalar: TensorScalar> {
  /// The points reached, `[B, D]`.
  public let points: Tensor<Scalar>
  /// `log p` of the data-side point of each sample (exact trace).
  public let logDensities: [Scalar]
  /// Each block's solve statistics, in integration order.
  public let statistics: [SolveStatistics<Scalar>]
}

extension StackedCNF {
  /// `log p(x)` of data points `x` (`[B, D]`): every block forward, exact
  /// trace; ``CNFTransport/points`` are the latents `z_K`.
  ///
  /// - Throws: ``CNFError/solveFailed(block:direction:failedSamples:)`` when a
  ///   sample's solve fails; ``SolverError`` for points not `[B, D]`.
  public func logDensities(_ x: Tensor<Scalar>) throws -> CNFTransport<Scalar> {
    let (z, deltas, statistics) = try transport(x, reverse: false, identifiers: nil)
    // log p(x) = log N(z_K) − Σ_k Δ_k.
    let values = (0..<z.shape[0]).map { s in
      StandardNormalBase.logDensity(z.row(s), dimension: dataDimension) - deltas[s]
    }
    return CNFTransport(points: z, logDensities: values, statistics: statistics)
  }

  /// Data points from latents `z` (`[B, D]`) by integrating every block
  /// backward, last block first, with `log p` of the points they reach.
  ///
  /// Backward from `[z, 0]`, block `k`'s `Δ` ends at `∫ tr J dt = −Δ_k`, so
  /// `log p(x) = log N(z) + Σ_k Δ_k^reverse`.
  ///
  /// - Parameter sampleIdentifiers: the identifiers the fields see (default
  ///   the row positions).
  public func inverse(latents z: Tensor<Scalar>, sampleIdentifiers: [Int]? = nil) throws
    -> CNFTransport<Scalar>
  {
    let (x, deltas, statistics) = try transport(z, reverse: true, identifiers: sampleIdentifiers)
    let values = (0..<z.shape[0]).map { s in
      StandardNormalBase.logDensity(z.row(s), dimension: dataDimension) + deltas[s]
    }
    return CNFTransport(points: x, logDensities: values, statistics: statistics)
  }

  /// `count` samples of the flow, from latents `z ~ N(0, I)` drawn by
  /// ``latents(count:dimension:seed:firstIndex:)`` and integrated backward
  /// (``inverse(latents:sampleIdentifiers:)``), with their log-densities.
  /// Sample `i` is a pure function of `(seed, firstIndex + i)` and the parameters.
  public func sample(count: Int, seed: UInt64, firstIndex: Int = 0) throws -> CNFTransport<Scalar> {
    guard count >= 0 else {
      throw CNFError.invalidConfiguration(name: "sample count", value: "\(count)", allowed: "≥ 0")
    }
    let z = Self.latents(count: count, dimension: dataDimension, seed: seed, firstIndex: firstIndex)
    return try inverse(latents: z, sampleIdentifiers: Array(firstIndex..<(firstIndex + count)))
  }

  /// Standard normal latents `[count, D]`: row `i` holds the draws at indices
  /// `(firstIndex + i) · D ..< (firstIndex + i + 1) · D` of stream 0 under `seed`.
  public static func latents(count: Int, dimension d: Int, seed: UInt64, firstIndex: Int = 0)
    -> Tensor<Scalar>
  {
    var scalars = [Scalar](repeating: 0, count: count * d)
    scalars.withUnsafeMutableBufferPointer {
      CounterRandom(seed: seed).fillNormal($0, stream: 0, start: UInt64(firstIndex * d))
    }
    return Tensor(shape: [count, d], scalars: scalars)
  }

  /// Integrates every block (exact trace) forward in block order, or backward
  /// in reverse order, from `points`: the points reached, `Σ_k Δ_k` per
  /// sample, and each block's statistics.
  func transport(_ points: Tensor<Scalar>, reverse: Bool, identifiers: [Int]?) throws -> (
    Tensor<Scalar>, [Scalar], [SolveStatistics<Scalar>]
  ) {
    let d = dataDimension
    guard points.rank == 2 && points.shape[1] == d else {
      throw SolverError.shapeMismatch(
        what: "the points", expected: "[B, \(d)]", found: points.shape)
    }
    let b = points.shape[0]
    let fields = densityBlocks
    var current = points
    var deltas = [Scalar](repeating: 0, count: b)
    var statistics: [SolveStatistics<Scalar>] = []
    let order = reverse ? Array(fields.indices.reversed()) : Array(fields.indices)
    for k in order {
      let interval = intervals[k]
      let times =
        reverse
        ? [interval.upperBound, interval.lowerBound] : [interval.lowerBound, interval.upperBound]
      let solution = try integrator.solve(
        fields[k], initialStates: fields[k].initialStates(data: current),
        times: .shared(times), sampleIdentifiers: identifiers)
      try check(solution.statistics, block: k, direction: reverse ? "reverse" : "forward")
      current = CNFStates.data(of: solution.finalStates, dimension: d, deltasAddedTo: &deltas)
      statistics.append(solution.statistics)
    }
    return (current, deltas, statistics)
  }
}
