import NodeCore
import NodeSolvers
import Testing

@testable import NodeSensitivity

/// The seminorm's parameter integral taken from the stage evaluations
/// themselves (rejected rows taken away afterwards) against recomputing every
/// accepted stage: the same integral, and the same backward solve.
@Suite struct ParameterIntegralObserverTests {
  struct Run {
    let gradient: [Double]
    let solution: ODESolution<Double>
  }

  /// One backward solve of `[z, a]` from t = 1 to 0 with the given observer wiring.
  static func integrate(
    _ field: any DifferentiableVectorField<Double>, states: Tensor<Double>,
    method: ButcherTableau, firstStep: Double, stageEvaluations: Bool
  ) throws -> Run {
    let b = states.shape[0]
    let augmented = AugmentedAdjointField(field)
    let observer = ParameterIntegralObserver(
      field: field, method: method, norm: .seminorm, relativeTolerance: 1e-8,
      absoluteTolerance: 1e-8, identifiers: Array(0..<b), batchWide: false,
      augmentedField: stageEvaluations ? augmented : nil)
    let integrator = try ODEIntegrator<Double>(
      method: method,
      controller: .adaptive(PIController(relativeTolerance: 1e-8, absoluteTolerance: 1e-8)))
    let solution = try integrator.solve(
      augmented, initialStates: states, times: .shared([1, 0]),
      sampleIdentifiers: Array(0..<b), initialStepSizes: [Double](repeating: firstStep, count: b),
      observer: observer)
    return Run(gradient: observer.gradient, solution: solution)
  }

  /// `[z, a]` rows of standard normal values.
  static func augmentedStates(batch: Int, dimension: Int, seed: UInt64) -> Tensor<Double> {
    let random = CounterRandom(seed: seed)
    return Tensor(
      shape: [batch, 2 * dimension],
      scalars: (0..<(batch * 2 * dimension)).map {
        random.normal(stream: 9, index: UInt64($0), as: Double.self)
      })
  }

  /// With first steps long enough that many rows are rejected (and a few
  /// rejected more often than accepted within one attempt's rows), every
  /// embedded method gives the integral of the recomputing observer to
  /// rounding, and a bitwise identical solve.
  @Test(arguments: [ButcherTableau.dormandPrince, .bogackiShampine, .tsitouras, .heunEuler])
  func stageEvaluationsMatchRecomputation(method: ButcherTableau) throws {
    let field = MLPField<Double>(
      widths: [2, 16, 16, 2], activation: .tanh, timeInput: true, seed: 11)
    let states = Self.augmentedStates(batch: 24, dimension: 2, seed: 5)
    let fast = try Self.integrate(
      field, states: states, method: method, firstStep: 1, stageEvaluations: true)
    let slow = try Self.integrate(
      field, states: states, method: method, firstStep: 1, stageEvaluations: false)
    let rejected = fast.solution.statistics.rejectedSteps.reduce(0, +)
    print("\(method.name): \(rejected) rejected steps")
    #expect(rejected > 0)
    #expect(fast.solution.finalStates.scalars == slow.solution.finalStates.scalars)
    #expect(
      fast.solution.statistics.functionEvaluations == slow.solution.statistics.functionEvaluations)
    #expect(fast.gradient.allSatisfy { $0.isFinite })
    #expect(relativeDistance(fast.gradient, slow.gradient) < 1e-13)
  }

  /// A rejected attempt whose stages turn non-finite must not reach the
  /// gradient: the observer falls back to the accepted rows alone.
  @Test func nonFiniteRejectedStagesLeaveNoTrace() throws {
    let field = ExplodingField(
      MLPField<Double>(widths: [2, 8, 2], activation: .tanh, timeInput: true, seed: 2),
      limit: 3)
    var scalars = Self.augmentedStates(batch: 8, dimension: 2, seed: 8).scalars
    // Rows 0–3 start near the limit: a long first step carries their stages past it.
    for r in 0..<4 { scalars[r * 4] = 2.9 }
    let states = Tensor(shape: [8, 4], scalars: scalars)
    let fast = try Self.integrate(
      field, states: states, method: .dormandPrince, firstStep: 5, stageEvaluations: true)
    let slow = try Self.integrate(
      field, states: states, method: .dormandPrince, firstStep: 5, stageEvaluations: false)
    #expect(field.explodedRows > 0)
    #expect(fast.solution.statistics.status == slow.solution.statistics.status)
    #expect(fast.gradient.allSatisfy { $0.isFinite })
    #expect(relativeDistance(fast.gradient, slow.gradient) < 1e-13)
  }
}

/// A field that is NaN (state derivative, cotangents and parameter gradient)
/// for rows whose first state component exceeds `limit`.
final class ExplodingField: DifferentiableVectorField {
  typealias Scalar = Double
  let inner: MLPField<Double>
  let limit: Double
  private(set) var explodedRows = 0

  init(_ inner: MLPField<Double>, limit: Double) {
    self.inner = inner
    self.limit = limit
  }

  var dimension: Int { inner.dimension }
  var parameterCount: Int { inner.parameterCount }
  var parameterBlocks: [Range<Int>] { inner.parameterBlocks }
  var parameters: [Double] {
    get { inner.parameters }
    set { inner.parameters = newValue }
  }

  func evaluate(_ batch: FieldBatch<Double>, into out: MutableMatrixView<Double>) {
    inner.evaluate(batch, into: out)
    for r in 0..<batch.count where batch.states.row(r)[0] > limit {
      for i in 0..<dimension { out.row(r)[i] = .nan }
    }
  }

  func vectorJacobianProduct(
    _ batch: FieldBatch<Double>, cotangents: MatrixView<Double>,
    stateCotangents: MutableMatrixView<Double>?, derivatives: MutableMatrixView<Double>?,
    timeCotangents: UnsafeMutablePointer<Double>?,
    parameterGradient: ParameterGradientSink<Double>?
  ) {
    inner.vectorJacobianProduct(
      batch, cotangents: cotangents, stateCotangents: stateCotangents, derivatives: derivatives,
      timeCotangents: timeCotangents, parameterGradient: parameterGradient)
    for r in 0..<batch.count where batch.states.row(r)[0] > limit {
      explodedRows += 1
      for i in 0..<dimension {
        stateCotangents?.row(r)[i] = .nan
        derivatives?.row(r)[i] = .nan
      }
      if let parameterGradient { parameterGradient.gradient[0] = .nan }
    }
  }
}
