import NodeCore
import NodeNN
import NodeSensitivity
import NodeSolvers
import Testing

@testable import NodeModels

/// The configurable CNF field: its dynamics (trace estimators, RNODE
/// regularisers) and their hand-derived adjoint against finite differences.
@Suite struct CNFFieldTests {
  static let configurations: [(CNFTraceEstimator, RNODERegularisers)] = [
    (.exact, [.kineticEnergy, .jacobianFrobenius]),
    (.exact, [.jacobianFrobenius]),
    (.hutchinson(noise: .gaussian), []),
    (.hutchinson(noise: .gaussian), [.kineticEnergy, .jacobianFrobenius]),
    (.hutchinson(noise: .rademacher), [.kineticEnergy, .jacobianFrobenius]),
  ]

  /// `Δ'`, `E'`, `F'` against the finite-difference Jacobian and the noise
  /// regenerated from `(seed, stream, identifier)`.
  @Test(arguments: configurations)
  func dynamicsMatchTheirDefinitions(trace: CNFTraceEstimator, regularisers: RNODERegularisers)
    throws
  {
    let field = smallCNF(trace: trace, regularisers: regularisers)
    field.noiseSeed = 42
    field.noiseStream = 3
    let (n, w, d) = (3, field.dimension, 2)
    let z = normals(n * w, stream: 2)
    let t = [0.1, 0.3, 0.45]
    let ids = [7, 0, 1234]
    let out = evaluate(field, z, t, ids: ids)
    for r in 0..<n {
      // J[i][k] = ∂f_i/∂z_k by fourth-order differences.
      var jacobian = [[Double]](repeating: [0, 0], count: d)
      for k in 0..<d {
        let column = (0..<d).map { i in
          centralDifference(step: 1e-3) { h in
            var moved = z
            moved[r * w + k] += h
            return evaluate(field, moved, t, ids: ids)[r * w + i]
          }
        }
        for i in 0..<d { jacobian[i][k] = column[i] }
      }
      var epsilon = [Double](repeating: 0, count: d)
      let directions: [[Double]]
      switch trace {
      case .exact:
        directions = [[1, 0], [0, 1]]
      case .hutchinson(let noise):
        for k in 0..<d {
          let index = UInt64(ids[r] * d + k)
          let random = CounterRandom(seed: 42)
          epsilon[k] =
            noise == .gaussian
            ? random.normal(stream: 3, index: index) : random.rademacher(stream: 3, index: index)
        }
        directions = [epsilon]
      }
      let images = directions.map { v in
        (0..<d).map { i in jacobian[i][0] * v[0] + jacobian[i][1] * v[1] }
      }
      // Σ_k v_kᵀ J v_k: tr J for the unit vectors, εᵀJε for Hutchinson.
      let estimate = zip(directions, images).map { zip($0, $1).map(*).reduce(0, +) }.reduce(0, +)
      #expect(abs(-estimate - out[r * w + d]) < 1e-9)
      if let e = field.kineticEnergyIndex {
        #expect(
          abs(out[r * w + e] - (out[r * w] * out[r * w] + out[r * w + 1] * out[r * w + 1])) < 1e-12)
      }
      if let j = field.jacobianFrobeniusIndex {
        let norm = images.flatMap { $0 }.map { $0 * $0 }.reduce(0, +)
        #expect(abs(out[r * w + j] - norm) < 1e-8)
      }
    }
  }

  /// The VJP (state, time, row-weighted parameters) against fourth-order
  /// differences of `aᵀ F(z, t; θ)`, the noise held fixed.
  @Test(arguments: configurations)
  func adjointMatchesFiniteDifferences(trace: CNFTraceEstimator, regularisers: RNODERegularisers)
    throws
  {
    let field = smallCNF(trace: trace, regularisers: regularisers)
    field.noiseSeed = 9
    let parameters = field.parameters
    let (n, w) = (3, field.dimension)
    let z = normals(n * w, stream: 2)
    let t = [0.1, 0.3, 0.45]
    let ids = [4, 1, 9]
    let a = normals(n * w, stream: 3)
    let weights = [0.5, 2, -1]
    let vjp = vectorJacobianProduct(field, z, t, ids: ids, cotangents: a, weights: weights)
    #expect(vjp.derivatives == evaluate(field, z, t, ids: ids))
    func objective(_ z: [Double], _ t: [Double], _ p: [Double], weighted: Bool) -> Double {
      field.parameters = p
      defer { field.parameters = parameters }
      let f = evaluate(field, z, t, ids: ids)
      var sum = 0.0
      for r in 0..<n {
        let weight = weighted ? weights[r] : 1
        for i in 0..<w { sum += weight * a[r * w + i] * f[r * w + i] }
      }
      return sum
    }
    var worst = 0.0
    for i in 0..<(n * w) {
      let fd = centralDifference(step: 1e-4) { h in
        var moved = z
        moved[i] += h
        return objective(moved, t, parameters, weighted: false)
      }
      worst = max(worst, relativeError(vjp.state[i], fd))
    }
    for r in 0..<n {
      let fd = centralDifference(step: 1e-4) { h in
        var moved = t
        moved[r] += h
        return objective(z, moved, parameters, weighted: false)
      }
      worst = max(worst, relativeError(vjp.time[r], fd))
    }
    for j in stride(from: 0, to: parameters.count, by: 2) {
      let fd = centralDifference(step: 1e-4) { h in
        var moved = parameters
        moved[j] += h
        return objective(z, t, moved, weighted: true)
      }
      worst = max(worst, relativeError(vjp.parameters[j], fd))
    }
    #expect(worst < 1e-7, "worst relative error \(worst)")
  }

  /// The mean of `εᵀJε` over many seeds and samples approaches `tr J` within
  /// five standard errors of its known variance (`2‖J_s‖²_F` Gaussian,
  /// `2(‖J_s‖²_F − Σ J_ii²)` Rademacher), and `‖Jε‖²` approaches `‖J‖²_F`
  /// within five empirical standard errors.
  @Test(arguments: HutchinsonNoise.allCases)
  func hutchinsonIsUnbiased(noise: HutchinsonNoise) throws {
    let exact = smallCNF(regularisers: [.jacobianFrobenius], scale: 1.2)
    let field = smallCNF(
      trace: .hutchinson(noise: noise), regularisers: [.jacobianFrobenius], scale: 1.2)
    let w = field.dimension
    let point = [0.4, -0.9, 0, 0]
    let time = 0.2
    let reference = evaluate(exact, point, [time], ids: [0])
    let trace = -reference[2]
    let frobenius = reference[3]
    // J from the exact field's Frobenius norm is not enough for the variance: differences.
    var jacobian = [[Double]](repeating: [0, 0], count: 2)
    for k in 0..<2 {
      for i in 0..<2 {
        jacobian[i][k] = centralDifference(step: 1e-3) { h in
          var moved = point
          moved[k] += h
          return evaluate(exact, moved, [time], ids: [0])[i]
        }
      }
    }
    let symmetric = (0..<2).flatMap { i in
      (0..<2).map { k in (jacobian[i][k] + jacobian[k][i]) / 2 }
    }
    let symmetricNorm = symmetric.map { $0 * $0 }.reduce(0, +)
    let diagonal = jacobian[0][0] * jacobian[0][0] + jacobian[1][1] * jacobian[1][1]
    let variance = noise == .gaussian ? 2 * symmetricNorm : 2 * (symmetricNorm - diagonal)
    let (seeds, perSeed) = (8, 2500)
    let count = Double(seeds * perSeed)
    var traces: [Double] = []
    var norms: [Double] = []
    let states = (0..<perSeed).flatMap { _ in point }
    let times = [Double](repeating: time, count: perSeed)
    for seed in 0..<seeds {
      field.noiseSeed = UInt64(seed)
      let out = evaluate(field, states, times, ids: Array(0..<perSeed))
      for r in 0..<perSeed {
        traces.append(-out[r * w + 2])
        norms.append(out[r * w + 3])
      }
    }
    let mean = traces.reduce(0, +) / count
    let sampleVariance = traces.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / (count - 1)
    #expect(abs(mean - trace) <= 5 * (variance / count).squareRoot() + 1e-12)
    #expect(abs(sampleVariance - variance) <= 0.1 * variance + 1e-12)
    let normMean = norms.reduce(0, +) / count
    let normVariance = norms.map { ($0 - normMean) * ($0 - normMean) }.reduce(0, +) / (count - 1)
    #expect(abs(normMean - frobenius) <= 5 * (normVariance / count).squareRoot())
    // Different seeds and samples give different directions (Rademacher in
    // two dimensions has only two values of εᵀJε: J₁₁ + J₂₂ ± (J₁₂ + J₂₁)).
    #expect(Set(traces.prefix(perSeed * 2)).count > (noise == .gaussian ? perSeed : 1))
  }

  /// A sample's Hutchinson noise follows its identifier: alone, or in a
  /// shuffled batch with the same identifiers, its solve and its adjoint
  /// gradient are bitwise the same.
  @Test func hutchinsonSolvesAreBatchInvariant() throws {
    let field = smallCNF(
      trace: .hutchinson(noise: .rademacher), regularisers: [.kineticEnergy, .jacobianFrobenius])
    field.noiseSeed = 77
    let (b, w) = (5, field.dimension)
    let data = Tensor(shape: [b, 2], scalars: normals(b * 2, stream: 4))
    let ids = [30, 11, 52, 3, 8]
    let order = [3, 0, 4, 1, 2]
    var pi = PIController<Double>(relativeTolerance: 1e-8, absoluteTolerance: 1e-8)
    pi.controlledDimensions = field.controlledDimensions
    let solver = try ODEGradientSolver(
      mode: .adjoint, method: .dormandPrince, forward: .adaptive(pi))
    func run(_ rows: [Int]) throws -> (ODESolution<Double>, ODEGradients<Double>) {
      let x = Tensor(shape: [rows.count, 2], scalars: rows.flatMap { Array(data.row($0)) })
      let pass = try solver.forward(
        field, initialStates: field.initialStates(data: x), times: .shared([0, 0.5]),
        sampleIdentifiers: rows.map { ids[$0] })
      let cotangents = Tensor(
        shape: [rows.count, 2, w],
        scalars: rows.flatMap {
          [Double](repeating: 0, count: w) + normals(w, stream: 100 + UInt64($0))
        })
      return (pass.solution, try solver.backward(pass, outputCotangents: cotangents))
    }
    let (batch, batchGradients) = try run(order)
    for (position, s) in order.enumerated() {
      let (alone, aloneGradients) = try run([s])
      #expect(Array(alone.finalStates.row(0)) == Array(batch.finalStates.row(position)))
      #expect(
        alone.statistics.functionEvaluations[0] == batch.statistics.functionEvaluations[position])
      #expect(
        Array(aloneGradients.initialStates.row(0))
          == Array(batchGradients.initialStates.row(position)))
    }
    // Another identifier is another direction.
    let moved = try solver.forward(
      field,
      initialStates: field.initialStates(data: Tensor(shape: [1, 2], scalars: Array(data.row(0)))),
      times: .shared([0, 0.5]), sampleIdentifiers: [31])
    #expect(Array(moved.solution.finalStates.row(0)) != Array(batch.finalStates.row(1)))
  }

  /// With the regularisers outside error control, the forward steps, NFE,
  /// `z` and `Δ` are bitwise those of the unregularised field.
  @Test(arguments: [CNFTraceEstimator.exact, .hutchinson(noise: .gaussian)])
  func regularisersLeaveTheForwardSolveUnchanged(trace: CNFTraceEstimator) throws {
    let plain = smallCNF(trace: trace)
    let regularised = smallCNF(trace: trace, regularisers: [.kineticEnergy, .jacobianFrobenius])
    let data = Tensor(shape: [6, 2], scalars: normals(12, stream: 5))
    func solve(_ field: CNFField<Double>, prefix: Int?) throws -> ODESolution<Double> {
      var pi = PIController<Double>(relativeTolerance: 1e-6, absoluteTolerance: 1e-6)
      pi.controlledDimensions = prefix
      return try ODEIntegrator(method: .dormandPrince, controller: .adaptive(pi)).solve(
        field, initialStates: field.initialStates(data: data), times: .shared([0, 0.3, 0.8]))
    }
    let reference = try solve(plain, prefix: nil)
    let solution = try solve(regularised, prefix: regularised.controlledDimensions)
    #expect(solution.statistics.functionEvaluations == reference.statistics.functionEvaluations)
    #expect(solution.statistics.acceptedSteps == reference.statistics.acceptedSteps)
    #expect(solution.statistics.rejectedSteps == reference.statistics.rejectedSteps)
    for s in 0..<6 {
      for j in 0..<3 {
        #expect(
          Array(solution.state(sample: s, time: j).prefix(3))
            == Array(reference.state(sample: s, time: j)))
      }
      #expect(solution.finalStates.row(s).suffix(2).allSatisfy { $0 > 0 })
    }
  }
}
