import Foundation
import NodeCore
import NodeSolvers

/// Workload W3 of WORKLOADS.md: a forward solve of 4096 two-dimensional states
/// through a 2 → 64 → 64 → 2 tanh MLP field, t from 0 to 1, dopri5 with
/// rtol = atol = 1e-6, in Float, with the exact weights and initial states of
/// `w3-problem.safetensors` that every peer library's figure uses.
public struct W3Workload {
  /// The vector field.
  public let field: TanhMLPField<Float>
  /// The initial states, `[4096, 2]`.
  public let initialStates: Tensor<Float>
  /// The solver settings of the workload.
  public let integrator: ODEIntegrator<Float>
  /// The solver that spreads the batch over threads (one thread: the integrator itself).
  public let solver: ParallelBatchSolver<Float>

  /// The copy of `w3-problem.safetensors` bundled with node-dist.
  public static var bundledProblemURL: URL? {
    Bundle.module.url(forResource: "w3-problem", withExtension: "safetensors")
  }

  /// Loads the problem from a safetensors file with `layers.{0,1,2}.{weight,bias}` and `y0`.
  public init(problem url: URL, scope: ErrorControlScope = .perSample, threads: Int = 1) throws {
    let file = try SafetensorsFile(contentsOf: url)
    field = try TanhMLPField(safetensors: file, layerCount: 3)
    initialStates = try file.tensor("y0")
    guard initialStates.rank == 2, initialStates.shape[1] == field.dimension else {
      throw SafetensorsError.shapeMismatch(
        source: url.path, tensor: "y0", expected: [-1, field.dimension],
        found: initialStates.shape)
    }
    var controller = PIController<Float>(relativeTolerance: 1e-6, absoluteTolerance: 1e-6)
    controller.scope = scope
    let makeIntegrator = {
      try ODEIntegrator<Float>(method: .dormandPrince, controller: .adaptive(controller))
    }
    integrator = try makeIntegrator()
    let weights = field.layers
    solver = try ParallelBatchSolver(
      threads: threads, chunkSize: 256, makeIntegrator: makeIntegrator,
      makeField: {
        TanhMLPField(weights: weights.map(\.weight), biases: weights.map(\.bias))
      })
  }

  /// One solve from t = 0 to t = 1.
  public func solve() throws -> ODESolution<Float> {
    try solver.solve(initialStates: initialStates, times: .shared([0, 1]))
  }
}
