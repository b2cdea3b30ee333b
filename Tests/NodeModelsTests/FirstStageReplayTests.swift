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

  /// The ODE block of an ODE-Net in `Float`, no step rejected: every first
  /// stage is replayed, over two output intervals (a solve's first stage
  /// included), and the gradients are bitwise the recomputed ones.
  @Test func odeBlockGradientsAreBitwiseTheRecomputedOnes() throws {
    let model = try ODENetClassifier<Float>(width: 4)
    let random = CounterRandom(seed: 8)
    model.ode.parameters = (0..<model.ode.parameterCount).map {
      0.2 * random.normal(stream: 1, index: UInt64($0), as: Float.self)
    }
    let b = 5
    let states = Tensor<Float>(
      shape: [b, model.ode.dimension],
      scalars: (0..<(b * model.ode.dimension)).map {
        random.normal(stream: 2, index: UInt64($0), as: Float.self)
      })
    let solver = try ODEGradientSolver<Float>(
      mode: .adjoint, method: .dormandPrince,
      forward: .adaptive(PIController(relativeTolerance: 1e-3, absoluteTolerance: 1e-3)))
    let counting = CountingReplays<Float>(model.ode)
    let ids = Array(0..<b)
    let replayed = try Self.gradients(
      counting, states: states, times: [0, 0.5, 1], solver: solver, identifiers: ids)
    let recomputed = try Self.gradients(
      OpaqueField<Float>(model.ode), states: states, times: [0, 0.5, 1], solver: solver,
      identifiers: ids)
    // No step is rejected here, so every accepted step's first stage is a replay.
    #expect(replayed.statistics.rejectedSteps.allSatisfy { $0 == 0 })
    #expect(counting.replayedRows == replayed.statistics.acceptedSteps.reduce(0, +))
    #expect(replayed.parameters.scalars == recomputed.parameters.scalars)
    #expect(replayed.initialStates.scalars == recomputed.initialStates.scalars)
  }

  /// A CNF in `Double` with a first step so large that rows are rejected:
  /// rejected rows keep an older first stage, which is recomputed, not
  /// replayed; the gradients agree to rounding.
  @Test func rejectedRowsAreRecomputed() throws {
    let field = smallCNF(scale: 1.2)
    let b = 6
    let data = Tensor(shape: [b, 2], scalars: normals(b * 2, stream: 4))
    var pi = PIController<Double>(relativeTolerance: 1e-9, absoluteTolerance: 1e-9)
    pi.controlledDimensions = field.controlledDimensions
    pi.initialStepSize = 0.5
    let solver = try ODEGradientSolver(
      mode: .adjoint, method: .dormandPrince, forward: .adaptive(pi))
    let counting = CountingReplays<Double>(field)
    let ids = Array(0..<b)
    let states = field.initialStates(data: data)
    let replayed = try Self.gradients(
      counting, states: states, times: [0, 1], solver: solver, identifiers: ids)
    let recomputed = try Self.gradients(
      OpaqueField<Double>(field), states: states, times: [0, 1], solver: solver, identifiers: ids)
    #expect(counting.replayedRows > 0)
    #expect(replayed.statistics.rejectedSteps.reduce(0, +) > 0)
    var worst = 0.0
    for (x, y) in zip(replayed.parameters.scalars, recomputed.parameters.scalars) {
      worst = max(worst, abs(x - y) / max(abs(y), 1e-6))
    }
    #expect(worst < 1e-12, "worst relative difference \(worst)")
    #expect(replayed.initialStates.scalars == recomputed.initialStates.scalars)
  }
}
