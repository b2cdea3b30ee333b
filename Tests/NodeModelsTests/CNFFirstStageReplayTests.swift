import NodeCore
import NodeNN
import NodeSensitivity
import NodeSolvers
import Testing

@testable import NodeModels

/// A CNF's kept vector-Jacobian products (``CNFField/keepNextProduct(in:)``)
/// and their replays: the parameter gradient of the kept rows again, with
/// other weights, from the kept pass, and the adjoint's first stages replayed
/// instead of recomputed.
@Suite struct CNFFirstStageReplayTests {
  /// Five rows of `field`'s state, times, identifiers and cotangents.
  static func rows(_ field: CNFField<Double>) -> (
    z: [Double], t: [Double], ids: [Int], a: [Double]
  ) {
    let (n, w) = (5, field.dimension)
    return (
      normals(n * w, stream: 1), normals(n, stream: 2).map { 0.3 + 0.1 * $0 }, [41, 7, 23, 3, 16],
      normals(n * w, stream: 3)
    )
  }

  /// Replays the kept product of `field` over `rows` (all, in order, when
  /// nil) with `weights`: the parameter gradient added to zeros.
  static func replay(
    _ field: CNFField<Double>, rows: [Int]?, weights: [Double]
  ) -> [Double] {
    var gradient = [Double](repeating: 0, count: field.parameterCount)
    let product = field.keptProducts[0]
    gradient.withUnsafeMutableBufferPointer { g in
      weights.withUnsafeBufferPointer { w in
        if let rows {
          rows.withUnsafeBufferPointer {
            field.replayParameterGradient(
              of: product, rows: $0.baseAddress!, count: rows.count, rowWeights: w.baseAddress!,
              into: g.baseAddress!)
          }
        } else {
          field.replayParameterGradient(
            of: product, rows: nil, count: product.rows, rowWeights: w.baseAddress!,
            into: g.baseAddress!)
        }
      }
    }
    return gradient
  }

  /// The trace estimators and regularisers the replay is checked with.
  static let configurations: [(CNFTraceEstimator, RNODERegularisers)] = [
    (.exact, []),
    (.hutchinson(noise: .rademacher), [.kineticEnergy, .jacobianFrobenius]),
  ]

  /// A replay gives bitwise the parameter gradient of a new product at the
  /// same rows with the same weights — all rows (twice: a replay keeps the
  /// product) or some rows in another order — for both trace estimators, with
  /// and without regularisers.
  @Test(arguments: configurations)
  func replayIsTheProductsParameterGradient(
    trace: CNFTraceEstimator, regularisers: RNODERegularisers
  ) {
    let field = smallCNF(trace: trace, regularisers: regularisers)
    let (z, t, ids, a) = Self.rows(field)
    let w = field.dimension
    field.keepNextProduct(in: field.keptProducts[0])
    let kept = vectorJacobianProduct(
      field, z, t, ids: ids, cotangents: a, weights: [1, 1, 1, 1, 1])
    #expect(field.keptProducts[0].rows == 5)
    let weights = [0.5, -1.25, 2, 0.75, -0.1]
    let expected = vectorJacobianProduct(
      field, z, t, ids: ids, cotangents: a, weights: weights
    ).parameters
    #expect(kept.parameters != expected, "the weights must matter for the test to mean anything")
    #expect(differing(Self.replay(field, rows: nil, weights: weights), expected) == 0)
    #expect(differing(Self.replay(field, rows: nil, weights: weights), expected) == 0)

    let chosen = [3, 1]
    let some = [0.25, -2.0]
    func pick(_ values: [Double], _ width: Int) -> [Double] {
      chosen.flatMap { values[($0 * width)..<(($0 + 1) * width)] }
    }
    let subset = vectorJacobianProduct(
      field, pick(z, w), pick(t, 1), ids: chosen.map { ids[$0] }, cotangents: pick(a, w),
      weights: some
    ).parameters
    #expect(differing(Self.replay(field, rows: chosen, weights: some), subset) == 0)
  }

  /// A small CNF (concat-squash `2 → 6 → 6 → 6 → 2`), five random
  /// points, and an adjoint solver at `tolerance`.
  static func smallFlow<Scalar: TensorScalar>(
    scale: Scalar, tolerance: Scalar
  ) throws -> (CNFField<Scalar>, Tensor<Scalar>, ODEGradientSolver<Scalar>) {
    let network: Sequential<Scalar> = W1Flow.network(width: 6)
    let random = CounterRandom(seed: 5)
    let parameters = (0..<network.parameterCount).map {
      scale * random.normal(stream: 1, index: UInt64($0), as: Scalar.self)
    }
    let field = CNFField(network: network, parameters: parameters)
    let points = Tensor<Scalar>(
      shape: [5, 2],
      scalars: (0..<10).map { random.normal(stream: 2, index: UInt64($0), as: Scalar.self) })
    let solver = try ODEGradientSolver<Scalar>(
      mode: .adjoint, method: .dormandPrince,
      forward: .adaptive(PIController(relativeTolerance: tolerance, absoluteTolerance: tolerance)))
    return (field, field.initialStates(data: points), solver)
  }

  /// The adjoint of a CNF in `Float`, no step rejected: every first stage is
  /// replayed, over two output intervals, and the gradients are bitwise the
  /// recomputed ones.
  @Test func adjointGradientsAreBitwiseTheRecomputedOnes() throws {
    let (field, states, solver) = try Self.smallFlow(scale: Float(0.5), tolerance: 1e-3)
    let (replayed, recomputed, replayedRows) = try FirstStageReplayTests.replayedAndRecomputed(
      field, states: states, times: [0, 0.25, 0.5], solver: solver)
    #expect(replayed.statistics.rejectedSteps.allSatisfy { $0 == 0 })
    #expect(replayedRows == replayed.statistics.acceptedSteps.reduce(0, +))
    #expect(differing(replayed.parameters.scalars, recomputed.parameters.scalars) == 0)
    #expect(differing(replayed.initialStates.scalars, recomputed.initialStates.scalars) == 0)
  }

  /// The adjoint of a CNF in `Double` with steps rejected: rejected rows are
  /// recomputed, the others replayed; the gradients agree with the
  /// recomputed ones to rounding (the rows' sums are grouped differently).
  @Test func rejectedRowsAreRecomputed() throws {
    let (field, states, solver) = try Self.smallFlow(scale: 1.5, tolerance: 1e-7)
    let (replayed, recomputed, replayedRows) = try FirstStageReplayTests.replayedAndRecomputed(
      field, states: states, times: [0, 1], solver: solver)
    FirstStageReplayTests.expectRejectionsReplayedInPart(
      replayed, recomputed, replayedRows: replayedRows)
  }
}

/// How many entries of `a` and `b` differ (a failure names a count, not the arrays).
private func differing<Scalar: Equatable>(_ a: [Scalar], _ b: [Scalar]) -> Int {
  a.count == b.count ? zip(a, b).filter { $0 != $1 }.count : max(a.count, b.count)
}
