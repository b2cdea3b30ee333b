import NodeCore
import NodeNN
import NodeSensitivity
import NodeSolvers
import Testing

@testable import NodeModels

/// Backprop through the solver from kept stage evaluations
/// (``StageKeepingVectorField``) against recomputing every stage.
@Suite struct KeptStageBackpropTests {
  static let configurations: [(CNFTraceEstimator, RNODERegularisers)] = [
    (.exact, []),
    (.exact, [.kineticEnergy, .jacobianFrobenius]),
    (.hutchinson(noise: .gaussian), [.kineticEnergy, .jacobianFrobenius]),
  ]

  /// The product at chosen rows of a kept evaluation, and at all of them,
  /// is bit for bit the field's own product on a batch of those rows.
  @Test(arguments: configurations)
  func keptProductIsTheFieldsProduct(trace: CNFTraceEstimator, regularisers: RNODERegularisers) {
    let field = smallCNF(trace: trace, regularisers: regularisers)
    field.noiseSeed = 9
    let (n, w) = (5, field.dimension)
    let z = normals(n * w, stream: 3)
    let t = [0.1, 0.3, 0.45, 0.2, 0.9]
    let ids = [7, 0, 1234, 3, 12]
    let a = normals(n * w, stream: 4)
    for chosen in [[3, 0, 4], [0, 1, 2, 3, 4], nil] as [[Int]?] {
      let kept = KeptEvaluation<Double>()
      field.keepNextEvaluation(in: kept)
      let derivatives = evaluate(field, z, t, ids: ids)
      // Something else runs through the network in between.
      _ = evaluate(field, normals(n * w, stream: 8), t, ids: ids)
      let rows = chosen ?? Array(0..<n)
      let m = rows.count
      let subset = { (x: [Double], width: Int) in
        rows.flatMap { x[($0 * width)..<($0 * width + width)] }
      }
      let bars = subset(a, w)
      var state = [Double](repeating: .nan, count: m * w)
      var parameters = [Double](repeating: 0, count: field.parameterCount)
      bars.withUnsafeBufferPointer { ap in
        state.withUnsafeMutableBufferPointer { sp in
          parameters.withUnsafeMutableBufferPointer { gp in
            rows.withUnsafeBufferPointer { rp in
              field.vectorJacobianProduct(
                of: kept, rows: chosen == nil ? nil : rp.baseAddress!, count: m,
                cotangents: MatrixView(base: ap.baseAddress!, rows: m, columns: w),
                stateCotangents: MutableMatrixView(base: sp.baseAddress!, rows: m, columns: w),
                parameterGradient: gp.baseAddress!)
            }
          }
        }
      }
      let reference = vectorJacobianProduct(
        field, subset(z, w), rows.map { t[$0] }, ids: rows.map { ids[$0] }, cotangents: bars,
        weights: [Double](repeating: 1, count: m))
      #expect(state == reference.state)
      #expect(parameters == reference.parameters)
      #expect(subset(derivatives, w) == reference.derivatives)
    }
  }

  /// Backprop gradients of `field` over `states`, random output cotangents.
  static func gradients(
    _ field: any DifferentiableVectorField<Double>, states: Tensor<Double>, times: [Double],
    method: ButcherTableau, tolerance: Double, keeps: Bool, constantStep: Double? = nil
  ) throws -> (gradients: ODEGradients<Double>, forwardRejections: Int) {
    let solver = try ODEGradientSolver<Double>(
      mode: .backprop, method: method,
      forward: constantStep.map { StepSizeController<Double>.constant(stepSize: $0) }
        ?? .adaptive(PIController(relativeTolerance: tolerance, absoluteTolerance: tolerance)),
      keepsStageEvaluations: keeps)
    let pass = try solver.forward(
      field, initialStates: states, times: .shared(times),
      sampleIdentifiers: (0..<states.shape[0]).map { 3 * $0 + 1 })
    #expect((pass.keptEvaluationCount > 0) == keeps)
    return (
      try solver.backward(pass, outputCotangents: cotangents(pass: pass)),
      pass.solution.statistics.rejectedSteps.reduce(0, +)
    )
  }

  static func cotangents(pass: ForwardPass<Double>) -> Tensor<Double> {
    let shape = pass.solution.states.shape
    let random = CounterRandom(seed: 3)
    return Tensor(
      shape: shape,
      scalars: (0..<shape.reduce(1, *)).map { random.normal(stream: 9, index: UInt64($0)) })
  }

  /// The largest difference between two gradients, relative to the largest entry.
  static func difference<X: Collection<Double>, Y: Collection<Double>>(_ x: X, _ y: Y) -> Double {
    let scale = y.map { abs($0) }.max() ?? 1
    return zip(x, y).map { abs($0 - $1) / scale }.max() ?? 0
  }

  /// First-same-as-last methods (dopri5, Bogacki–Shampine) and one that
  /// evaluates its first stage every step (Heun–Euler), with outputs inside
  /// steps and at their ends, rejected steps and a regularised field: the
  /// gradient of the recomputing backprop, to rounding, with no more
  /// products backward than it recomputes stages.
  @Test(arguments: [ButcherTableau.dormandPrince, .bogackiShampine, .heunEuler])
  func keptStagesGiveTheRecomputedGradient(method: ButcherTableau) throws {
    let field = smallCNF(regularisers: [.kineticEnergy], scale: 1.2)
    // Enough samples that an evaluation with one or two rows no step reads
    // (a rejected attempt's) takes the product over all its rows.
    let b = 24
    let states = field.initialStates(
      data: Tensor(shape: [b, 2], scalars: normals(2 * b, stream: 5)))
    let times = [0, 0.15, 0.5, 0.8]
    let (kept, rejections) = try Self.gradients(
      field, states: states, times: times, method: method, tolerance: 1e-6, keeps: true)
    let recomputed = try Self.gradients(
      field, states: states, times: times, method: method, tolerance: 1e-6, keeps: false
    ).gradients
    // Heun–Euler's many small steps pass at the first try.
    #expect(rejections > 0 || !method.isFirstSameAsLast)
    #expect(recomputed.statistics.acceptedSteps == kept.statistics.acceptedSteps)
    #expect(Self.difference(kept.parameters.scalars, recomputed.parameters.scalars) < 1e-12)
    #expect(Self.difference(kept.initialStates.scalars, recomputed.initialStates.scalars) < 1e-12)
    #expect(kept.parameters.scalars.allSatisfy { $0.isFinite })
    // A first-same-as-last stage serves two steps as one product, and the
    // last step's only when an output inside the step reads it.
    for s in 0..<b {
      let (ours, theirs) = (
        kept.statistics.functionEvaluations[s], recomputed.statistics.functionEvaluations[s]
      )
      #expect(method.isFirstSameAsLast ? ours < theirs : ours == theirs)
    }
  }

  /// Constant steps with outputs exactly at step ends (RK4, steps of 0.25,
  /// exact in binary),
  /// and an adaptive solve backward in time (dopri5, t from 0.8 to 0): the
  /// recomputing backprop's gradient.
  @Test func stepEndOutputsAndBackwardTime() throws {
    let field = smallCNF(regularisers: [.jacobianFrobenius])
    let states = field.initialStates(data: Tensor(shape: [9, 2], scalars: normals(18, stream: 7)))
    for (method, times, step) in [
      (ButcherTableau.rk4, [0, 0.5, 0.75, 1], 0.25), (.dormandPrince, [0.8, 0.35, 0], nil),
    ] as [(ButcherTableau, [Double], Double?)] {
      let kept = try Self.gradients(
        field, states: states, times: times, method: method, tolerance: 1e-7, keeps: true,
        constantStep: step
      ).gradients
      let recomputed = try Self.gradients(
        field, states: states, times: times, method: method, tolerance: 1e-7, keeps: false,
        constantStep: step
      ).gradients
      #expect(kept.statistics.acceptedSteps == recomputed.statistics.acceptedSteps)
      #expect(Self.difference(kept.parameters.scalars, recomputed.parameters.scalars) < 1e-12)
      #expect(
        Self.difference(kept.initialStates.scalars, recomputed.initialStates.scalars) < 1e-12)
    }
  }

  /// Two fields through one solver keep their evaluations side by side: the
  /// first field's backward pass after the second's forward pass still runs
  /// from its kept stages, with the recomputing backprop's gradient.
  @Test func fieldsKeepTheirEvaluationsSideBySide() throws {
    let (first, second) = (smallCNF(seed: 5), smallCNF(seed: 6))
    let solver = try ODEGradientSolver<Double>(
      mode: .backprop, method: .dormandPrince,
      forward: .adaptive(PIController(relativeTolerance: 1e-6, absoluteTolerance: 1e-6)))
    let states = first.initialStates(data: Tensor(shape: [5, 2], scalars: normals(10, stream: 3)))
    let times = TimeGrid<Double>.shared([0, 0.6])
    let passOfFirst = try solver.forward(first, initialStates: states, times: times)
    let passOfSecond = try solver.forward(second, initialStates: states, times: times)
    let ofFirst = try solver.backward(
      passOfFirst, outputCotangents: Self.cotangents(pass: passOfFirst))
    let ofSecond = try solver.backward(
      passOfSecond, outputCotangents: Self.cotangents(pass: passOfSecond))
    for (field, kept) in [(first, ofFirst), (second, ofSecond)] {
      let recomputed = try Self.gradients(
        field, states: states, times: [0, 0.6], method: .dormandPrince, tolerance: 1e-6,
        keeps: false
      ).gradients
      #expect(Self.difference(kept.parameters.scalars, recomputed.parameters.scalars) < 1e-12)
      #expect(
        kept.statistics.functionEvaluations.reduce(0, +)
          < recomputed.statistics.functionEvaluations.reduce(0, +))
    }
  }

  /// A sample that fails gets NaN gradients while the others and the
  /// parameter gradient keep theirs: its row of the first evaluation, the
  /// only one no step reads there, is left out rather than given a zero
  /// cotangent (it is not finite).
  @Test func rejectionsAndFailuresLeaveTheOtherSamplesAlone() throws {
    let field = smallCNF(scale: 1.5)
    let b = 17
    var data = normals(2 * b, stream: 6)
    data[4] = .nan
    let states = field.initialStates(data: Tensor(shape: [b, 2], scalars: data))
    let times: [Double] = [0, 1]
    let kept = try Self.gradients(
      field, states: states, times: times, method: .dormandPrince, tolerance: 1e-8, keeps: true
    ).gradients
    let recomputed = try Self.gradients(
      field, states: states, times: times, method: .dormandPrince, tolerance: 1e-8, keeps: false
    ).gradients
    #expect(kept.statistics.status[2] != .success)
    #expect(kept.initialStates.row(2).allSatisfy { $0.isNaN })
    #expect(kept.parameters.scalars.allSatisfy { $0.isFinite })
    #expect(Self.difference(kept.parameters.scalars, recomputed.parameters.scalars) < 1e-12)
    for s in 0..<b where s != 2 {
      #expect(
        Self.difference(kept.initialStates.row(s), recomputed.initialStates.row(s)) < 1e-12)
    }
  }

  /// A forward pass whose kept evaluations a later forward pass took over,
  /// or a second backward pass, falls back to recomputing: same gradients.
  @Test func staleForwardPassesRecompute() throws {
    let field = smallCNF()
    let solver = try ODEGradientSolver<Double>(
      mode: .backprop, method: .dormandPrince,
      forward: .adaptive(PIController(relativeTolerance: 1e-6, absoluteTolerance: 1e-6)))
    let first = field.initialStates(data: Tensor(shape: [4, 2], scalars: normals(8, stream: 1)))
    let second = field.initialStates(data: Tensor(shape: [3, 2], scalars: normals(6, stream: 2)))
    let times = TimeGrid<Double>.shared([0, 0.7])
    let fresh = try solver.forward(field, initialStates: first, times: times)
    let freshGradient = try solver.backward(fresh, outputCotangents: Self.cotangents(pass: fresh))
    let again = try solver.backward(fresh, outputCotangents: Self.cotangents(pass: fresh))
    let stale = try solver.forward(field, initialStates: first, times: times)
    _ = try solver.forward(field, initialStates: second, times: times)
    let staleGradient = try solver.backward(stale, outputCotangents: Self.cotangents(pass: stale))
    for other in [again, staleGradient] {
      #expect(Self.difference(other.parameters.scalars, freshGradient.parameters.scalars) < 1e-12)
      #expect(
        Self.difference(other.initialStates.scalars, freshGradient.initialStates.scalars) < 1e-12)
      // Recomputing evaluates every stage twice.
      #expect(
        other.statistics.functionEvaluations.reduce(0, +)
          > freshGradient.statistics.functionEvaluations.reduce(0, +))
    }
  }
}
