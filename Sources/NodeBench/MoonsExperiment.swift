import Foundation
import NodeCore
import NodeData
import NodeModels
import NodeNN

/// FFJORD's toy experiment on W1's flow: train on fresh moons batches with
/// Adam (``W1Workload``: batch 512, dopri5 rtol = atol = 1e-5, adjoint),
/// tracking the held-out negative log-likelihood as training goes, then draw
/// samples by integrating the flow backward from the base density.
public final class MoonsExperiment {
  /// The training iteration.
  public let workload: W1Workload
  /// Held-out points per evaluation.
  public let heldOutSamples: Int

  /// One point of the learning curve.
  public struct CurvePoint: Sendable {
    /// Updates done so far.
    public let iteration: Int
    /// The held-out NLL after them, nats per point, and its forward NFE per sample.
    public let heldOut: HeldOutLikelihood
    /// The mean training loss of the updates since the previous point (nil at 0).
    public let trainingLoss: Double?
    /// Mean forward and backward NFE per sample over the same updates.
    public let forwardEvaluations: Double?
    public let backwardEvaluations: Double?
    /// Seconds spent training so far (evaluations excluded).
    public let trainingSeconds: Double
  }

  /// An experiment from a W1 weight file, or (with `weights` nil) from the
  /// flow's default initialisation drawn from `initializationSeed`.
  public init(
    weights: URL?, initializationSeed: UInt64 = 0, dataSeed: UInt64 = 0, heldOutSamples: Int = 5000
  ) throws {
    guard heldOutSamples >= 1 else {
      throw ExperimentError.invalidOption(
        name: "held-out samples", value: "\(heldOutSamples)", allowed: "≥ 1")
    }
    let field: CNFField<Float>
    if let weights {
      field = try W1Flow.field(weights: weights)
    } else {
      let network: Sequential<Float> = W1Flow.network()
      field = CNFField(
        network: network, parameters: network.initialParameters(seed: initializationSeed))
    }
    workload = try W1Workload(field: field, seed: dataSeed)
    self.heldOutSamples = heldOutSamples
  }

  /// Trains `iterations` updates, evaluating the held-out NLL at 0 and every
  /// `evaluateEvery` updates (and at the end); `progress` sees every point.
  public func train(
    iterations: Int, evaluateEvery: Int, progress: (CurvePoint) -> Void = { _ in }
  ) throws -> [CurvePoint] {
    guard iterations >= 0, evaluateEvery >= 1 else {
      throw ExperimentError.invalidOption(
        name: "iterations / evaluation interval", value: "\(iterations) / \(evaluateEvery)",
        allowed: "iterations ≥ 0 and an interval ≥ 1")
    }
    var curve: [CurvePoint] = []
    var window = StepWindow()
    var seconds = 0.0
    let clock = ContinuousClock()
    func record(_ iteration: Int) throws {
      let means = window.take()
      let point = CurvePoint(
        iteration: iteration,
        heldOut: try HeldOutLikelihood.evaluate(
          workload.field, samples: heldOutSamples, tolerance: 1e-5),
        trainingLoss: means?.loss, forwardEvaluations: means?.forward,
        backwardEvaluations: means?.backward,
        trainingSeconds: seconds)
      curve.append(point)
      progress(point)
    }
    try record(0)
    for iteration in 0..<iterations {
      let start = clock.now
      let step = try workload.step()
      seconds += (clock.now - start).seconds
      window.add(loss: step.loss, forward: step.forward, backward: step.backward)
      let done = iteration + 1
      if done % evaluateEvery == 0 || done == iterations { try record(done) }
    }
    return curve
  }

  /// The figure FFJORD draws: `samples` fresh moons, `samples` draws from the
  /// flow (base normal integrated backward from t = 0.5 to 0), and the flow's
  /// density on a `resolution²` grid over `[−4, 4]²`.
  public func figure(samples: Int = 20_000, resolution: Int = 160, seed: UInt64 = 7) throws
    -> DensityFigure
  {
    let flow = try StackedCNF(
      blocks: [workload.field], intervals: [0...0.5], relativeTolerance: 1e-5,
      absoluteTolerance: 1e-5)
    var figure = DensityFigure(low: -4, high: 4, resolution: resolution)
    let data: Tensor<Float> = try ToyDensity.moons.sample(
      count: samples, seed: HeldOutLikelihood.moonsSeed)
    figure.addHistogram("data", points: data)
    figure.addHistogram("samples", points: try flow.sample(count: samples, seed: seed).points)
    figure.addDensity(
      "density",
      logDensities: try flow.logDensities(figure.cellCentres(as: Float.self)).logDensities)
    return figure
  }
}
