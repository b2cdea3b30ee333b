import NodeCore
import NodeData
import NodeModels

/// The mean negative log-likelihood of a CNF on held-out toy data.
public struct HeldOutLikelihood: Sendable {
  /// The seed of the held-out moons: never used for training (training draws
  /// from its own seed, 0 by default).
  public static let moonsSeed: UInt64 = 1_000_003

  /// Mean negative log-likelihood, nats per point.
  public let nll: Double
  /// Forward function evaluations per sample, mean and max.
  public let meanEvaluations: Double
  public let maxEvaluations: Int
  /// Samples whose solve failed.
  public let failedSamples: Int
  /// The number of points.
  public let samples: Int

  /// Evaluates `field` (integrated from 0 to `endTime`, dopri5 at rtol =
  /// atol = `tolerance`) on the first `samples` held-out points of `density`,
  /// in chunks of 2000.
  public static func evaluate(
    _ field: CNFField<Float>, endTime: Float = 0.5, on density: ToyDensity = .moons,
    samples: Int, tolerance: Float
  ) throws -> HeldOutLikelihood {
    let cnf = try CNFDensity(
      field: field, endTime: endTime, relativeTolerance: tolerance, absoluteTolerance: tolerance)
    var total = 0.0
    var evaluations = 0.0
    var largest = 0
    var failed = 0
    for start in stride(from: 0, to: samples, by: 2000) {
      let count = Swift.min(2000, samples - start)
      let data: Tensor<Float> = try density.sample(count: count, seed: moonsSeed, offset: start)
      let (values, statistics) = try cnf.logLikelihoods(data)
      total -= values.reduce(0.0) { $0 + Double($1) }
      evaluations += statistics.meanFunctionEvaluations * Double(count)
      largest = Swift.max(largest, statistics.maxFunctionEvaluations)
      failed += count - (statistics.statusCounts[.success] ?? 0)
    }
    return HeldOutLikelihood(
      nll: total / Double(samples), meanEvaluations: evaluations / Double(samples),
      maxEvaluations: largest, failedSamples: failed, samples: samples)
  }
}
