import NodeCore
import NodeData
import NodeModels
import NodeSensitivity
import NodeSolvers

/// Why a density-matching run could not start or could not take a step.
public enum DensityMatchingError: Error, CustomStringConvertible, Equatable {
  /// An option is out of its allowed range.
  case invalidOption(name: String, value: String, allowed: String)
  /// Some samples' solves did not reach their final time (the statuses, counted).
  case solveFailed(String)

  public var description: String {
    switch self {
    case .invalidOption(let name, let value, let allowed):
      return "invalid \(name) = \(value); allowed: \(allowed)"
    case .solveFailed(let reason):
      return reason
    }
  }
}

/// Density matching with the gated planar CNF (Chen et al. 2018, section 3.1
/// and Figure 4): fit a flow `q` to an unnormalised target `p̃ ∝ p` by
/// minimising the reverse KL divergence,
///
///     KL(q ‖ p) = E_{z₀ ~ N(0, I)} [log q(z(T)) − log p̃(z(T))] + log Z,
///
/// where `z(T)` is the base draw `z₀` pushed through the flow. `log Z`, the
/// target's unknown log normaliser, does not depend on the flow; for a
/// normalised target (the Gaussian mixture) the loss is the KL itself.
///
/// The state `[z, Δ]` integrates from `[z₀, 0]` at t = 0 to T with
/// `dΔ/dt = −tr ∂f/∂z` (``PlanarCNFField``), so by the instantaneous change of
/// variables (the paper's eq. 8) `log q(z(T)) = log N(z₀; 0, I) + Δ(T)`. Per
/// sample the loss is `log N(z₀) + Δ(T) − log p̃(z(T))`; its cotangents at T
/// are `−∇log p̃(z(T))/B` on `z` and `1/B` on `Δ` (`log N(z₀)` does not depend
/// on the parameters: the draws are reparameterised). The gradient comes from
/// the backsolve adjoint, dopri5 forward and backward at `rtol = atol =
/// tolerance`, and Adam takes the step.
///
/// T = 1: the flow's time scale is learnt by the gates and the velocities, so
/// the horizon only fixes units.
///
/// Everything random is keyed by the seed (``CounterRandom``): the model's
/// initialisation (streams 0–6 of the seed), iteration `i`'s base draws
/// (stream `2³² + i`, index `2s + k` for coordinate `k` of sample `s`), so a
/// run is a pure function of its settings.
public final class PlanarDensityMatching<Scalar: TensorScalar> {
  /// The target density `p̃`.
  public let target: TargetDensity
  /// The flow's dynamics; its parameters are the model's.
  public let field: PlanarCNFField<Scalar>
  /// The integration time T.
  public let endTime: Scalar
  /// Base draws per iteration.
  public let batchSize: Int
  /// The seed of the initialisation and of every draw.
  public let seed: UInt64
  /// `rtol = atol` of every solve at construction.
  public let tolerance: Scalar
  /// The gradient solver (backsolve adjoint, dopri5).
  public private(set) var solver: ODEGradientSolver<Scalar>
  /// The solver of the gradient-free solves: samples and densities.
  public private(set) var integrator: ODEIntegrator<Scalar>
  /// The optimizer.
  public var optimizer: Adam<Scalar>
  /// The number of steps taken.
  public private(set) var iteration = 0

  /// The first stream of the training draws (iteration `i` uses `2³² + i`).
  public static var trainingStreams: UInt64 { 1 << 32 }

  /// Sets up a run.
  ///
  /// - Parameters:
  ///   - units: `M`, the planar units.
  ///   - gateWidth: `H`, the gate network's hidden width.
  ///   - learningRate: Adam's learning rate.
  /// - Throws: ``DensityMatchingError/invalidOption(name:value:allowed:)`` for
  ///   a non-positive size, tolerance, learning rate or end time.
  public init(
    target: TargetDensity, units: Int = 32, gateWidth: Int = 8, seed: UInt64 = 0,
    batchSize: Int = 256, tolerance: Scalar = 1e-5, learningRate: Scalar = 1e-2,
    endTime: Scalar = 1
  ) throws {
    for (name, value) in [("units", units), ("gate width", gateWidth), ("batch size", batchSize)]
    where value < 1 {
      throw DensityMatchingError.invalidOption(name: name, value: "\(value)", allowed: "≥ 1")
    }
    for (name, value) in [
      ("tolerance", tolerance), ("learning rate", learningRate), ("end time", endTime),
    ] where !(value > 0 && value.isFinite) {
      throw DensityMatchingError.invalidOption(
        name: name, value: "\(value)", allowed: "a finite value > 0")
    }
    self.target = target
    field = PlanarCNFField(
      dataDimension: 2, units: units, gateWidth: gateWidth, random: CounterRandom(seed: seed))
    self.endTime = endTime
    self.batchSize = batchSize
    self.seed = seed
    self.tolerance = tolerance
    let controller = StepSizeController<Scalar>.adaptive(
      PIController(relativeTolerance: tolerance, absoluteTolerance: tolerance))
    solver = try ODEGradientSolver(mode: .adjoint, method: .dormandPrince, forward: controller)
    integrator = try ODEIntegrator(method: .dormandPrince, controller: controller)
    optimizer = Adam(parameterCount: field.parameterCount, learningRate: learningRate)
  }

  /// What one training iteration measured.
  public struct Step: Sendable {
    /// The iteration's index (0 for the first).
    public let iteration: Int
    /// The batch's mean `log q(z(T)) − log p̃(z(T))` before the update, in
    /// nats: the KL divergence up to the target's log normaliser.
    public let loss: Double
    /// Forward statistics per sample.
    public let forward: SolveStatistics<Scalar>
    /// Backward statistics per sample.
    public let backward: SolveStatistics<Scalar>
  }

  /// The loss of a batch of base draws and its gradient.
  public struct Evaluation: Sendable {
    /// The mean `log q(z(T)) − log p̃(z(T))` over the draws.
    public let loss: Double
    /// `dloss/dθ`, flat, in ``PlanarCNFField/parameters`` order.
    public let gradient: [Scalar]
    /// Forward statistics per sample.
    public let forward: SolveStatistics<Scalar>
    /// Backward statistics per sample.
    public let backward: SolveStatistics<Scalar>
  }

  /// One training iteration: fresh base draws, the loss and its adjoint
  /// gradient, an Adam step.
  ///
  /// - Throws: ``DensityMatchingError/solveFailed(_:)`` when a sample's
  ///   forward or backward solve failed (the parameters are then left alone).
  public func step() throws -> Step {
    let draws = baseDraws(
      count: batchSize, seed: seed, stream: Self.trainingStreams + UInt64(iteration))
    let index = iteration
    iteration += 1
    let evaluation = try lossAndGradient(basePoints: draws)
    optimizer.update(&field.parameters, gradient: evaluation.gradient)
    return Step(
      iteration: index, loss: evaluation.loss, forward: evaluation.forward,
      backward: evaluation.backward)
  }

  /// The loss and its gradient at base points `z₀` (`[B, 2]`).
  ///
  /// - Throws: ``DensityMatchingError/invalidOption(name:value:allowed:)`` for
  ///   points not of shape `[B, 2]` with `B ≥ 1`;
  ///   ``DensityMatchingError/solveFailed(_:)`` when a solve failed.
  public func lossAndGradient(basePoints: Tensor<Scalar>) throws -> Evaluation {
    let b = try Self.pointCount(basePoints, name: "base points")
    let pass = try solver.forward(
      field, initialStates: Self.augmented(basePoints), times: .shared([0, endTime]))
    try Self.check(pass.solution.statistics, "forward")
    // Cotangents at output time 1 of [B, 2 times, 3]: −∇log p̃/B on z, 1/B on Δ.
    let scale = 1 / Scalar(b)
    var cotangents = [Scalar](repeating: 0, count: b * 2 * 3)
    var loss = 0.0
    let final = pass.solution.finalStates.scalars
    let start = basePoints.scalars
    for s in 0..<b {
      let (z1, z2, delta) = (final[s * 3], final[s * 3 + 1], final[s * 3 + 2])
      let (logTarget, gradient) = target.logDensityAndGradient(z1, z2)
      let logQ = Self.logStandardNormal(start[2 * s], start[2 * s + 1]) + delta
      loss += Double(logQ - logTarget)
      cotangents[(s * 2 + 1) * 3] = -gradient.x * scale
      cotangents[(s * 2 + 1) * 3 + 1] = -gradient.y * scale
      cotangents[(s * 2 + 1) * 3 + 2] = scale
    }
    let gradients = try solver.backward(
      pass, outputCotangents: Tensor(shape: [b, 2, 3], scalars: cotangents))
    try Self.check(gradients.statistics, "backward")
    return Evaluation(
      loss: loss / Double(b), gradient: gradients.parameters.scalars,
      forward: pass.solution.statistics, backward: gradients.statistics)
  }

  /// Solves at new tolerances from now on: the training forward solve and
  /// adjoint, and the gradient-free solves (samples, densities).
  ///
  /// - Throws: ``SensitivityError`` or ``SolverError`` for tolerances the
  ///   controller refuses.
  public func setTolerances(
    forward: (relative: Scalar, absolute: Scalar), adjoint: (relative: Scalar, absolute: Scalar),
    evaluation: (relative: Scalar, absolute: Scalar)
  ) throws {
    solver = try ODEGradientSolver(
      mode: .adjoint, method: .dormandPrince, forward: .adaptive(forward),
      adjoint: .adaptive(adjoint), adjointNorm: solver.adjointNorm,
      adjointFirstStep: solver.adjointFirstStep)
    integrator = try ODEIntegrator(method: .dormandPrince, controller: .adaptive(evaluation))
  }

  /// `count` standard normal points in R², `[count, 2]`: coordinate `k` of
  /// point `s` is the draw at index `2(firstIndex + s) + k` of `stream` under `seed`.
  public func baseDraws(count: Int, seed: UInt64, stream: UInt64, firstIndex: Int = 0)
    -> Tensor<Scalar>
  {
    var points = Tensor<Scalar>(shape: [count, 2])
    points.withUnsafeMutableBufferPointer {
      CounterRandom(seed: seed).fillNormal($0, stream: stream, start: UInt64(2 * firstIndex))
    }
    return points
  }

  // MARK: Shared pieces

  /// `log N(z; 0, I)` in R².
  static func logStandardNormal(_ z1: Scalar, _ z2: Scalar) -> Scalar {
    -(z1 * z1 + z2 * z2) / 2 - Scalar.log(2 * Scalar.pi)
  }

  /// The augmented states `[z, 0]` of points `[B, 2]`, `[B, 3]`.
  static func augmented(_ points: Tensor<Scalar>) -> Tensor<Scalar> {
    let p = points.scalars
    var states = [Scalar](repeating: 0, count: points.shape[0] * 3)
    for s in 0..<points.shape[0] {
      states[3 * s] = p[2 * s]
      states[3 * s + 1] = p[2 * s + 1]
    }
    return Tensor(shape: [points.shape[0], 3], scalars: states)
  }

  /// `B` of points `[B, 2]`, or an error naming `name`.
  static func pointCount(_ points: Tensor<Scalar>, name: String) throws -> Int {
    guard points.rank == 2, points.shape[1] == 2, points.shape[0] >= 1 else {
      throw DensityMatchingError.invalidOption(
        name: "\(name) shape", value: "\(points.shape)", allowed: "[B, 2] with B ≥ 1")
    }
    return points.shape[0]
  }

  /// Throws when a sample of a solve did not succeed.
  static func check(_ statistics: SolveStatistics<Scalar>, _ what: String) throws {
    guard statistics.allSucceeded else {
      let counts = statistics.statusCounts.filter { $0.key != .success }
        .map { "\($0.value) \($0.key)" }.sorted().joined(separator: ", ")
      throw DensityMatchingError.solveFailed(
        "the \(what) solve failed for \(statistics.count - (statistics.statusCounts[.success] ?? 0))"
          + " of \(statistics.count) samples (\(counts))")
    }
  }
}
