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
/// same tolerances, and an Adam step (lr 1e-3), in Float. With several
/// threads, each computes a contiguous chunk of the batch on its own replica
/// of the flow; the chunks' gradients are summed in chunk order.
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
  /// How the batch is cut into one chunk per worker thread.
  public let chunks: BatchChunks
  /// Each worker thread's flow and solver: ``field`` and ``solver`` first, then replicas.
  private let workers: [Worker]
  private(set) var iteration = 0

  /// One worker thread's own flow (a replica of ``field``) and gradient solver.
  private typealias Worker = (field: CNFField<Float>, solver: ODEGradientSolver<Float>)

  /// The copy of `w1-init.safetensors` bundled with node-dist.
  public static var bundledInitialWeightsURL: URL? {
    Bundle.module.url(forResource: "w1-init", withExtension: "safetensors")
  }

  /// Loads the flow from a W1 weight file (`layers.{0…3}.*`).
  public convenience init(
    weights url: URL, batchSize: Int = 512, seed: UInt64 = 0, mode: GradientMode = .adjoint,
    adjointFirstStep: AdjointFirstStep = .select, threads: Int = 1
  ) throws {
    try self.init(
      field: W1Flow.field(weights: url), batchSize: batchSize, seed: seed, mode: mode,
      adjointFirstStep: adjointFirstStep, threads: threads)
  }

  /// Trains `field` (the W1 flow with any parameters, e.g. a seeded
  /// initialisation), each iteration's batch split among `threads` worker
  /// threads (run BLAS on one thread, ``BLASRuntime/setThreadCount(_:)``),
  /// the adjoint starting its backward solves as `adjointFirstStep` says.
  ///
  /// - Throws: ``ExperimentError/invalidOption(name:value:allowed:)`` for a
  ///   thread count below 1 or above the batch size.
  public init(
    field: CNFField<Float>, batchSize: Int = 512, seed: UInt64 = 0, mode: GradientMode = .adjoint,
    adjointFirstStep: AdjointFirstStep = .select, threads: Int = 1
  ) throws {
    chunks = try BatchChunks(batchSize: batchSize, threads: threads)
    self.field = field
    let controller = StepSizeController<Float>.adaptive(
      PIController(relativeTolerance: 1e-5, absoluteTolerance: 1e-5))
    let makeSolver = {
      try ODEGradientSolver<Float>(
        mode: mode, method: .dormandPrince, forward: controller,
        adjointFirstStep: adjointFirstStep)
    }
    solver = try makeSolver()
    workers =
      [(field, solver)]
      + (try (1..<threads).map { _ in
        (CNFField(network: W1Flow.network(), parameters: field.parameters), try makeSolver())
      })
    optimizer = Adam(parameterCount: field.parameterCount, learningRate: 1e-3)
    self.batchSize = batchSize
    self.seed = seed
  }

  /// Worker threads per iteration.
  public var threads: Int { chunks.ranges.count }

  /// What one iteration measured (the loss is the mean NLL in nats).
  public typealias Step = TrainingStep

  /// One training iteration on the next batch of moons: every chunk's
  /// gradient on its worker's replica, their sum, one Adam step on ``field``.
  public func step() throws -> Step {
    let data: Tensor<Float> = try ToyDensity.moons.sample(
      count: batchSize, seed: seed, offset: iteration * batchSize)
    iteration += 1
    for worker in workers.dropFirst() { worker.field.parameters = field.parameters }
    let scale = 1 / Float(batchSize)
    let (step, gradient) = try chunks.run(on: workers) { worker, samples in
      try Self.share(of: data, samples: samples, scale: scale, on: worker)
    }
    optimizer.update(&field.parameters, gradient: gradient)
    return step
  }

  /// The NLL summed over points `samples` of the batch `data` and its
  /// gradient, the cotangents scaled by `scale` (1/B for the whole batch's B):
  /// the chunk's part of the batch gradient.
  private static func share(
    of data: Tensor<Float>, samples: Range<Int>, scale: Float, on worker: Worker
  ) throws -> ChunkShare {
    let (b, d) = (samples.count, data.shape[1])
    let points = Tensor(
      shape: [b, d],
      scalars: Array(data.scalars[(samples.lowerBound * d)..<(samples.upperBound * d)]))
    let pass = try worker.solver.forward(
      worker.field, initialStates: worker.field.initialStates(data: points),
      times: .shared([0, 0.5]))
    // L = (1/B) Σ (½‖z(T)‖² + log 2π + Δ(T)): ∂L/∂z(T) = z(T)/B, ∂L/∂Δ(T) = 1/B.
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
    let gradients = try worker.solver.backward(
      pass, outputCotangents: Tensor(shape: [b, 2, 3], scalars: cotangents))
    return ChunkShare(
      lossSum: loss, gradient: gradients.parameters.scalars,
      forward: pass.solution.statistics, backward: gradients.statistics)
  }
}
