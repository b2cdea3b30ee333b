import NodeCore
import NodeSolvers

/// The fitted density `q`: samples pushed forward through the flow, and
/// `log q` at given points by the change of variables run backward.
extension PlanarDensityMatching {
  /// Points drawn from `q`, with their log densities.
  public struct Samples: Sendable {
    /// `z(T)` of each base draw, `[N, 2]`.
    public let points: Tensor<Scalar>
    /// `log q` at each point, `log N(z₀) + Δ(T)`, tracked along the forward solve.
    public let logDensities: [Scalar]
    /// The forward solve's statistics per sample.
    public let statistics: SolveStatistics<Scalar>
  }

  /// The stream of ``samples(count:seed:)``'s base draws (apart from the
  /// training draws' streams).
  public static var sampleStream: UInt64 { 2 << 32 }

  /// `count` draws from `q`: base draws `z₀ ~ N(0, I)` (stream
  /// ``sampleStream`` of `seed`) integrated from 0 to T.
  ///
  /// - Throws: ``DensityMatchingError/invalidOption(name:value:allowed:)`` for
  ///   `count < 1`; ``DensityMatchingError/solveFailed(_:)`` when a solve failed.
  public func samples(count: Int, seed: UInt64) throws -> Samples {
    guard count >= 1 else {
      throw DensityMatchingError.invalidOption(
        name: "sample count", value: "\(count)", allowed: "≥ 1")
    }
    let base = baseDraws(count: count, seed: seed, stream: Self.sampleStream)
    let solution = try integrator.solve(
      field, initialStates: Self.augmented(base), times: .shared([0, endTime]))
    try Self.check(solution.statistics, "sampling")
    let final = solution.finalStates.scalars
    let z0 = base.scalars
    var points = [Scalar](repeating: 0, count: 2 * count)
    var logDensities = [Scalar](repeating: 0, count: count)
    for s in 0..<count {
      points[2 * s] = final[3 * s]
      points[2 * s + 1] = final[3 * s + 1]
      logDensities[s] = Self.logStandardNormal(z0[2 * s], z0[2 * s + 1]) + final[3 * s + 2]
    }
    return Samples(
      points: Tensor(shape: [count, 2], scalars: points), logDensities: logDensities,
      statistics: solution.statistics)
  }

  /// `log q(x)` at each point `x` (`[N, 2]`).
  ///
  /// `[z, Δ]` integrates from `[x, 0]` at T back to 0, so `z(0)` is the base
  /// point that flows to `x` and `Δ(0) = ∫₀ᵀ tr(∂f/∂z) dt`; the change of
  /// variables forward, `log q(x) = log N(z(0)) − ∫₀ᵀ tr dt`, gives
  /// `log q(x) = log N(z(0)) − Δ(0)`.
  ///
  /// - Throws: ``DensityMatchingError/invalidOption(name:value:allowed:)`` for
  ///   points not of shape `[N, 2]`; ``DensityMatchingError/solveFailed(_:)``
  ///   when a solve failed.
  public func logDensity(at points: Tensor<Scalar>) throws -> (
    values: [Scalar], statistics: SolveStatistics<Scalar>
  ) {
    let n = try Self.pointCount(points, name: "points")
    let solution = try integrator.solve(
      field, initialStates: Self.augmented(points), times: .shared([endTime, 0]))
    try Self.check(solution.statistics, "density")
    let start = solution.finalStates.scalars
    let values = (0..<n).map { s in
      Self.logStandardNormal(start[3 * s], start[3 * s + 1]) - start[3 * s + 2]
    }
    return (values, solution.statistics)
  }

  /// `log q` at the centres of a `resolution × resolution` grid of cells
  /// covering `xRange × yRange`.
  ///
  /// - Throws: ``DensityMatchingError/invalidOption(name:value:allowed:)`` for
  ///   `resolution < 1` or a range that is not finite with lower < upper;
  ///   ``DensityMatchingError/solveFailed(_:)`` when a solve failed.
  public func logDensityGrid(
    xRange: ClosedRange<Double>, yRange: ClosedRange<Double>, resolution: Int
  ) throws -> DensityGrid {
    let grid = try DensityGrid(xRange: xRange, yRange: yRange, resolution: resolution)
    var points = [Scalar](repeating: 0, count: 2 * resolution * resolution)
    for j in 0..<resolution {
      for i in 0..<resolution {
        points[2 * (j * resolution + i)] = Scalar(grid.x(i))
        points[2 * (j * resolution + i) + 1] = Scalar(grid.y(j))
      }
    }
    let (values, _) = try logDensity(
      at: Tensor(shape: [resolution * resolution, 2], scalars: points))
    return grid.with(logDensities: values.map { Double($0) })
  }
}

extension PlanarDensityMatching {
  /// Per base point `z₀` (`[B, 2]`), the reverse-KL term
  /// `log q(z(T)) − log p̃(z(T))` (the loss of ``lossAndGradient(basePoints:)``
  /// before averaging), from a forward solve by ``integrator``; a failed
  /// solve leaves its sample's term NaN (its status says why).
  public func reverseKLTerms(basePoints: Tensor<Scalar>) throws -> (
    values: [Double], statistics: SolveStatistics<Scalar>
  ) {
    let b = try Self.pointCount(basePoints, name: "base points")
    let solution = try integrator.solve(
      field, initialStates: Self.augmented(basePoints), times: .shared([0, endTime]))
    let final = solution.finalStates.scalars
    let start = basePoints.scalars
    let values = (0..<b).map { s -> Double in
      guard solution.statistics.status[s] == .success else { return .nan }
      let logQ = Self.logStandardNormal(start[2 * s], start[2 * s + 1]) + final[3 * s + 2]
      let (logTarget, _) = target.logDensityAndGradient(final[3 * s], final[3 * s + 1])
      return Double(logQ - logTarget)
    }
    return (values, solution.statistics)
  }
}
