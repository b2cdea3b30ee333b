import Foundation
import NodeCore
import NodeData
import NodeModels
import NodeSensitivity
import NodeSolvers
import NodeTraining

/// Workload W1 of WORKLOADS.md: one training iteration of FFJORD's toy CNF on
/// moons — a fresh batch of 512 points, the forward solve of `[z, Δ]` from
/// t = 0 to 0.5 (dopri5, rtol = atol = 1e-5), the mean negative
/// log-likelihood under a standard normal base, the backsolve adjoint at the
/// same tolerances, and an Adam step (lr 1e-3), in Float.
public final class W1Workload {
  /// The flow's dynamics; its parameters are the model's.
  public let field: CNFField<Float>
  /// The gradient solver.
  public let solver: ODEGradientSolver<Float>
  /// The optimizer.
  public var optimizer: Adam<Float>
  /// Points per batch.
  public let batchSize: Int
  /// The seed of the data stream.
  public let seed: UInt64
  private(set) var iteration = 0

  /// The copy of `w1-init.safetensors` bundled with node-dist.
  public static var bundledInitialWeightsURL: URL? {
    Bundle.module.url(forResource: "w1-init", withExtension: "safetensors")
  }

  /// Loads the flow from a W1 weight file (`layers.{0…3}.*`).
  public convenience init(
    weights url: URL, batchSize: Int = 512, seed: UInt64 = 0, mode: GradientMode = .adjoint
  ) throws {
    try self.init(
      field: W1Flow.field(weights: url), batchSize: batchSize, seed: seed, mode: mode)
  }

  /// Trains `field` (the W1 flow with any parameters, e.g. a seeded initialisation).
  public init(
    field: CNFField<Float>, batchSize: Int = 512, seed: UInt64 = 0, mode: GradientMode = .adjoint
  ) throws {
    self.field = field
    let controller = StepSizeController<Float>.adaptive(
      PIController(relativeTolerance: 1e-5, absoluteTolerance: 1e-5))
    solver = try ODEGradientSolver(mode: mode, method: .dormandPrince, forward: controller)
    optimizer = Adam(parameterCount: field.parameterCount, learningRate: 1e-3)
    self.batchSize = batchSize
    self.seed = seed
  }

  /// What one iteration measured (the loss is the mean NLL in nats).
  public typealias Step = TrainingStep

  /// One training iteration on the next batch of moons.
  public func step() throws -> Step {
    let data: Tensor<Float> = try ToyDensity.moons.sample(
      count: batchSize, seed: seed, offset: iteration * batchSize)
    iteration += 1
    let pass = try solver.forward(
      field, initialStates: field.initialStates(data: data), times: .shared([0, 0.5]))
    // L = (1/B) Σ (½‖z(T)‖² + log 2π + Δ(T)): ∂L/∂z(T) = z(T)/B, ∂L/∂Δ(T) = 1/B.
    let b = batchSize
    let scale = 1 / Float(b)
    var cotangents = [Float](repeating: 0, count: b * 2 * 3)
    var loss = 0.0
    let final = pass.solution.finalStates.scalars
    for s in 0..<b {
      let (z0, z1, delta) = (final[s * 3], final[s * 3 + 1], final[s * 3 + 2])
      loss += Double(0.5 * (z0 * z0 + z1 * z1) + delta) + Double.log(2 * Double.pi)
      cotangents[(s * 2 + 1) * 3] = z0 * scale
      cotangents[(s * 2 + 1) * 3 + 1] = z1 * scale
      cotangents[(s * 2 + 1) * 3 + 2] = scale
    }
    let gradients = try solver.backward(
      pass, outputCotangents: Tensor(shape: [b, 2, 3], scalars: cotangents))
    optimizer.update(&field.parameters, gradient: gradients.parameters.scalars)
    return Step(
      loss: loss / Double(b), forward: pass.solution.statistics, backward: gradients.statistics)
  }
}
