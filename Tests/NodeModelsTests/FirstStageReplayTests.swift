import NodeCore
import NodeNN
import NodeSensitivity
import NodeSolvers
import Testing

@testable import NodeModels

/// A field that hides whether the one it wraps is replayable: the adjoint
/// then recomputes every first-same-as-last stage, as before replays existed.
class OpaqueField<Scalar: TensorScalar>: DifferentiableVectorField {
  let inner: any DifferentiableVectorField<Scalar>
  init(_ inner: any DifferentiableVectorField<Scalar>) { self.inner = inner }
  var dimension: Int { inner.dimension }
  var parameterCount: Int { inner.parameterCount }
  var parameters: [Scalar] {
    get { inner.parameters }
    set { inner.parameters = newValue }
  }
  var parameterBlocks: [Range<Int>] { inner.parameterBlocks }
  func evaluate(_ batch: FieldBatch<Scalar>, into out: MutableMatrixView<Scalar>) {
    inner.evaluate(batch, into: out)
  }
  func vectorJacobianProduct(
    _ batch: FieldBatch<Scalar>, cotangents: MatrixView<Scalar>,
    stateCotangents: MutableMatrixView<Scalar>?, derivatives: MutableMatrixView<Scalar>?,
    timeCotangents: UnsafeMutablePointer<Scalar>?, parameterGradient: ParameterGradientSink<Scalar>?
  ) {
    inner.vectorJacobianProduct(
      batch, cotangents: cotangents, stateCotangents: stateCotangents, derivatives: derivatives,
      timeCotangents: timeCotangents, parameterGradient: parameterGradient)
  }
}

/// A replayable field passed through, counting the rows it replays.
final class CountingReplays<Scalar: TensorScalar>: OpaqueField<Scalar>, ReplayableVectorField {
  let replayable: any ReplayableVectorField<Scalar>
  private(set) var replayedRows = 0
  init(_ field: any ReplayableVectorField<Scalar>) {
    replayable = field
    super.init(field)
  }
  var keptProducts: [KeptProduct<Scalar>] { replayable.keptProducts }
  func keepNextProduct(in product: KeptProduct<Scalar>) { replayable.keepNextProduct(in: product) }
  func replayParameterGradient(
    of product: KeptProduct<Scalar>, rows: UnsafePointer<Int>?, count: Int,
    rowWeights: UnsafePointer<Scalar>, into gradient: UnsafeMutablePointer<Scalar>
  ) {
    replayedRows += rows == nil ? product.rows : count
    replayable.replayParameterGradient(
      of: product, rows: rows, count: count, rowWeights: rowWeights, into: gradient)
  }
}

/// The adjoint's first-same-as-last stage replayed from the kept last stage
/// of the step before, against recomputing it: the same gradients.
@Suite struct FirstStageReplayTests {
  /// Adjoint gradients of `field` over `states` with random output cotangents.
  static func gradients<Scalar: TensorScalar>(
    _ field: any DifferentiableVectorField<Scalar>, states: Tensor<Scalar>, times: [Scalar],
    solver: ODEGradientSolver<Scalar>, identifiers: [Int]
  ) throws -> ODEGradients<Scalar> {
    let (b, w) = (states.shape[0], field.dimension)
    let pass = try solver.forward(
      field, initialStates: states, times: .shared(times), sampleIdentifiers: identifiers)
    let random = CounterRandom(seed: 3)
    let cotangents = Tensor<Scalar>(
      shape: [b, times.count, w],
      scalars: (0..<(b * times.count * w)).map {
        random.normal(stream: 9, index: UInt64($0), as: Scalar.self)
      })
    return try solver.backward(pass, outputCotangents: cotangents)
  }

  /// Adjoint gradients of `field` over five samples, with its first stages
  /// replayed and with them recomputed (the field hidden behind an
  /// ``OpaqueField``), and how many rows were replayed.
  static func replayedAndRecomputed<Scalar: TensorScalar>(
    _ field: any ReplayableVectorField<Scalar>, states: Tensor<Scalar>, times: [Scalar],
    solver: ODEGradientSolver<Scalar>
  ) throws -> (ODEGradients<Scalar>, ODEGradients<Scalar>, replayedRows: Int) {
    let counting = CountingReplays<Scalar>(field)
    // Identifiers unlike the positions, so that a mix-up of the two shows.
    let ids = [41, 7, 23, 3, 16]
    let replayed = try gradients(
      counting, states: states, times: times, solver: solver, identifiers: ids)
    let recomputed = try gradients(
      OpaqueField<Scalar>(field), states: states, times: times, solver: solver, identifiers: ids)
    return (replayed, recomputed, counting.replayedRows)
  }

  /// The ODE block of a width-4 ODE-Net with parameters of scale `scale`,
  /// five random states, and an adjoint solver at `tolerance`.
  static func odeBlock<Scalar: TensorScalar>(scale: Scalar, tolerance: Scalar) throws -> (
    NetworkField<Scalar>, Tensor<Scalar>, ODEGradientSolver<Scalar>
  ) {
    let model = try ODENetClassifier<Scalar>(width: 4)
    let random = CounterRandom(seed: 8)
    model.ode.parameters = (0..<model.ode.parameterCount).map {
      scale * random.normal(stream: 1, index: UInt64($0), as: Scalar.self)
    }
    let (b, d) = (5, model.ode.dimension)
    let states = Tensor<Scalar>(
      shape: [b, d],
      scalars: (0..<(b * d)).map { random.normal(stream: 2, index: UInt64($0), as: Scalar.self) })
    let solver = try ODEGradientSolver<Scalar>(
      mode: .adjoint, method: .dormandPrince,
      forward: .adaptive(PIController(relativeTolerance: tolerance, absoluteTolerance: tolerance)),
      // Hairer's start (the default): at these settings no backward step is
      // rejected, which the first test needs (the continued start's is, once).
      adjointFirstStep: .select)
    return (model.ode, states, solver)
  }

  /// The ODE block of an ODE-Net in `Float`, no step rejected: every first
  /// stage is replayed, over two output intervals (a solve's first stage
  /// included), and the gradients are bitwise the recomputed ones.
  @Test func odeBlockGradientsAreBitwiseTheRecomputedOnes() throws {
    let (field, states, solver) = try Self.odeBlock(scale: Float(0.2), tolerance: 1e-3)
    let (replayed, recomputed, replayedRows) = try Self.replayedAndRecomputed(
      field, states: states, times: [0, 0.5, 1], solver: solver)
    // No step is rejected here, so every accepted step's first stage is a replay.
    #expect(replayed.statistics.rejectedSteps.allSatisfy { $0 == 0 })
    #expect(replayedRows == replayed.statistics.acceptedSteps.reduce(0, +))
    #expect(replayed.parameters.scalars == recomputed.parameters.scalars)
    #expect(replayed.initialStates.scalars == recomputed.initialStates.scalars)
  }

  /// The ODE block in `Double` with steps rejected: a rejected row keeps an
  /// older first stage, which is recomputed, not replayed; the gradients
  /// agree with the recomputed ones to rounding (the rows' sums are grouped
  /// differently).
  @Test func rejectedRowsAreRecomputed() throws {
    let (field, states, solver) = try Self.odeBlock(scale: 0.5, tolerance: 1e-4)
    let (replayed, recomputed, replayedRows) = try Self.replayedAndRecomputed(
      field, states: states, times: [0, 1], solver: solver)
    Self.expectRejectionsReplayedInPart(replayed, recomputed, replayedRows: replayedRows)
  }

  /// Checks gradients `replayed` with rejected steps against `recomputed`:
  /// some but not all accepted steps' first stages replayed, the parameter
  /// gradients equal to rounding, the state gradients bitwise.
  static func expectRejectionsReplayedInPart(
    _ replayed: ODEGradients<Double>, _ recomputed: ODEGradients<Double>, replayedRows: Int
  ) {
    #expect(replayed.statistics.rejectedSteps.reduce(0, +) > 0)
    #expect(replayedRows > 0)
    #expect(replayedRows < replayed.statistics.acceptedSteps.reduce(0, +))
    // Differences against the gradient's largest entry: entries that cancel
    // to near zero carry the rounding of the larger terms they sum.
    let scale = recomputed.parameters.scalars.map { abs($0) }.max() ?? 1
    var worst = 0.0
    for (x, y) in zip(replayed.parameters.scalars, recomputed.parameters.scalars) {
      worst = max(worst, abs(x - y) / scale)
    }
    #expect(worst < 1e-13, "largest difference \(worst) of the largest entry")
    #expect(replayed.initialStates.scalars == recomputed.initialStates.scalars)
  }
}
