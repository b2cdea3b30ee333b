import NodeCore
import NodeNN
import NodeSensitivity
import NodeSolvers
import Testing

@testable import NodeModels

/// Stacked CNF blocks: the adjoint gradient of the regularised NLL, and
/// sampling by reverse integration.
@Suite struct StackedCNFTests {
  /// Two blocks with their own parameters and intervals.
  func flow(
    trace: CNFTraceEstimator = .exact, regularisers: RNODERegularisers = [],
    tolerance: Double = 1e-10
  ) throws -> StackedCNF<Double> {
    try StackedCNF(
      blocks: [
        smallCNF(trace: trace, regularisers: regularisers, seed: 5, scale: 0.6),
        smallCNF(trace: trace, regularisers: regularisers, seed: 6, scale: 0.6),
      ],
      intervals: [0...0.4, 0.1...0.6], relativeTolerance: tolerance, absoluteTolerance: tolerance)
  }

  /// `dL/dθ` of every block and `dL/dx` through the adjoint against
  /// fourth-order differences of the loss, the noise held fixed.
  static let gradientCases: [(CNFTraceEstimator, RNODERegularisers, RNODEWeights<Double>)] = [
    (.exact, [], RNODEWeights()),
    (
      .exact, [.kineticEnergy, .jacobianFrobenius],
      RNODEWeights(kineticEnergy: 0.3, jacobianFrobenius: 0.2)
    ),
    (
      .hutchinson(noise: .gaussian), [.kineticEnergy, .jacobianFrobenius],
      RNODEWeights(kineticEnergy: 0.3, jacobianFrobenius: 0.2)
    ),
  ]

  /// `dL/dθ` of every block and `dL/dx` through the adjoint against
  /// fourth-order differences of the loss, the noise held fixed.
  @Test(arguments: gradientCases)
  func gradientMatchesFiniteDifferences(
    trace: CNFTraceEstimator, regularisers: RNODERegularisers, weights: RNODEWeights<Double>
  ) throws {
    let flow = try flow(trace: trace, regularisers: regularisers)
    let x = Tensor(shape: [4, 2], scalars: normals(8, stream: 6))
    let ids = [3, 14, 15, 92]
    let result = try flow.lossAndGradient(
      data: x, noiseSeed: 21, weights: weights, sampleIdentifiers: ids)
    #expect(result.forward.count == 2 && result.backward.count == 2)
    if !regularisers.isEmpty { #expect(result.kineticEnergy > 0 && result.jacobianFrobenius > 0) }
    let parameters = flow.parameters
    func loss(_ p: [Double], _ data: Tensor<Double>) throws -> Double {
      flow.parameters = p
      defer { flow.parameters = parameters }
      return try flow.lossAndGradient(
        data: data, noiseSeed: 21, weights: weights, sampleIdentifiers: ids
      ).loss
    }
    #expect(try loss(parameters, x) == result.loss)
    var worst = 0.0
    let ranges = flow.parameterRanges
    for j in Array(stride(from: 0, to: ranges[0].count, by: 9))
      + Array(stride(from: ranges[1].lowerBound + 1, to: ranges[1].upperBound, by: 9))
    {
      let fd = try centralDifferenceThrowing(step: 1e-4) { h in
        var moved = parameters
        moved[j] += h
        return try loss(moved, x)
      }
      worst = max(worst, relativeError(result.parameters[j], fd, floor: 1e-2))
    }
    for i in 0..<8 {
      let fd = try centralDifferenceThrowing(step: 1e-4) { h in
        var moved = x.scalars
        moved[i] += h
        return try loss(parameters, Tensor(shape: [4, 2], scalars: moved))
      }
      worst = max(worst, relativeError(result.data.scalars[i], fd, floor: 1e-2))
    }
    #expect(worst < 1e-5, "worst relative error \(worst)")
  }

  /// Data → latents → data recovers the points, and the log-density the
  /// reverse pass tracks is the forward log-likelihood of the points reached.
  @Test func reverseIntegrationInvertsTheFlow() throws {
    let flow = try flow()
    let x = Tensor(shape: [5, 2], scalars: normals(10, stream: 7))
    let encoded = try flow.logDensities(x)
    let decoded = try flow.inverse(latents: encoded.points)
    for (a, b) in zip(decoded.points.scalars, x.scalars) { #expect(abs(a - b) < 1e-7) }
    for (a, b) in zip(decoded.logDensities, encoded.logDensities) { #expect(abs(a - b) < 1e-7) }

    let samples = try flow.sample(count: 40, seed: 3)
    let forward = try flow.logDensities(samples.points)
    for (a, b) in zip(samples.logDensities, forward.logDensities) { #expect(abs(a - b) < 1e-7) }
    // Sample i depends on (seed, firstIndex + i) alone.
    let shifted = try flow.sample(count: 5, seed: 3, firstIndex: 10)
    for i in 0..<5 {
      for (a, b) in zip(shifted.points.row(i), samples.points.row(10 + i)) { #expect(a == b) }
    }
  }

  /// A one-block flow's sample log-densities are ``CNFDensity``'s forward
  /// log-likelihoods of the samples; regulariser and Hutchinson settings of
  /// a block do not change densities (they are evaluated exactly).
  @Test func samplesHaveTheDensityOfTheForwardFlow() throws {
    let block = smallCNF(
      trace: .hutchinson(noise: .gaussian), regularisers: [.kineticEnergy], seed: 8, scale: 0.8)
    let flow = try StackedCNF(
      blocks: [block], intervals: [0...0.5], relativeTolerance: 1e-10, absoluteTolerance: 1e-10)
    let samples = try flow.sample(count: 30, seed: 12)
    let density = try CNFDensity(
      field: block.with(trace: .exact), endTime: 0.5, relativeTolerance: 1e-10,
      absoluteTolerance: 1e-10)
    let (values, statistics) = try density.logLikelihoods(samples.points)
    #expect(statistics.allSucceeded)
    for (a, b) in zip(samples.logDensities, values) { #expect(abs(a - b) < 1e-7) }
  }

  /// Bad configurations are refused with what is allowed.
  @Test func badConfigurationsAreRefused() throws {
    #expect(
      throws: CNFError.invalidConfiguration(
        name: "interval count", value: "1", allowed: "one per block (2)")
    ) {
      try StackedCNF(
        blocks: [smallCNF(), smallCNF()], intervals: [0...1], relativeTolerance: 1e-6,
        absoluteTolerance: 1e-6)
    }
    #expect(throws: CNFError.self) {
      try StackedCNF(
        blocks: [smallCNF()], intervals: [1...1], relativeTolerance: 1e-6, absoluteTolerance: 1e-6)
    }
    let flow = try flow(tolerance: 1e-6)
    let x = Tensor(shape: [2, 2], scalars: [0.1, 0.2, 0.3, 0.4])
    #expect(
      throws: CNFError.invalidConfiguration(
        name: "kinetic energy weight", value: "0.1",
        allowed: "0, since block 0 does not integrate this regulariser")
    ) {
      try flow.lossAndGradient(data: x, weights: RNODEWeights(kineticEnergy: 0.1))
    }
    #expect(throws: CNFError.self) {
      try flow.lossAndGradient(data: x, weights: RNODEWeights(jacobianFrobenius: -1))
    }
  }
}

/// ``centralDifference(step:_:)`` for a throwing function.
func centralDifferenceThrowing(step h: Double, _ f: (Double) throws -> Double) throws -> Double {
  (-(try f(2 * h)) + 8 * (try f(h)) - 8 * (try f(-h)) + (try f(-2 * h))) / (12 * h)
}
