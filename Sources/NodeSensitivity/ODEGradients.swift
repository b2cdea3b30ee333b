import NodeCore
import NodeSolvers

/// The gradients of a loss on an ODE solution, and how the backward pass went.
public struct ODEGradients<Scalar: TensorScalar>: Sendable {
  /// `dL/dz(t₀)` of each sample, `[B, D]`. NaN for a sample whose forward or
  /// backward solve failed.
  public let initialStates: Tensor<Scalar>
  /// `dL/dθ`, summed over samples, `[parameterCount]`.
  public let parameters: Tensor<Scalar>
  /// `dL/dtᵢ` for every sample and output time, `[B, T]` (index 0 is `t₀`,
  /// the last is `t₁`), when asked for. A shared grid's gradient is the sum
  /// over samples.
  public let times: Tensor<Scalar>?
  /// Per-sample statistics of the backward pass: evaluations of the backward
  /// dynamics (a vector-Jacobian product each), accepted and rejected steps,
  /// and status.
  public let statistics: SolveStatistics<Scalar>
}

/// A forward solve kept for its backward pass.
public struct ForwardPass<Scalar: TensorScalar> {
  /// The field the forward pass integrated.
  public let field: any DifferentiableVectorField<Scalar>
  /// The solution: states at every output time and forward statistics.
  public let solution: ODESolution<Scalar>
  /// The initial states, `[B, D]`.
  public let initialStates: Tensor<Scalar>
  /// The identifiers the field saw for each sample.
  public let sampleIdentifiers: [Int]
  /// The accepted steps (backprop and checkpointed modes).
  let log: StepLog<Scalar>?
  /// Where the field kept each accepted step's stages (backprop with
  /// ``ODEGradientSolver/keepsStageEvaluations`` and a ``StageKeepingVectorField``).
  let keptStages: KeptStageLog<Scalar>?
  /// The gradient mode this pass was made for.
  public let mode: GradientMode

  /// The number of samples.
  public var batchSize: Int { initialStates.shape[0] }

  /// Scalars the pass keeps for its backward pass beyond the solution:
  /// zero for the adjoint, growing with the number of steps otherwise. Kept
  /// stage evaluations (``keptEvaluationCount``) hold the field's activations
  /// on top, which this does not count.
  public var storedTrajectoryScalars: Int { log?.storedScalars ?? 0 }

  /// The field evaluations kept whole for the backward pass (their
  /// activations are the field's; zero unless backprop keeps stage evaluations).
  public var keptEvaluationCount: Int { keptStages?.evaluationCount ?? 0 }

  /// The output time `j` of sample `s`.
  func time(sample s: Int, index j: Int) -> Scalar {
    switch solution.times {
    case .shared(let grid): return grid[j]
    case .perSample(let grid): return grid.scalars[s * grid.shape[1] + j]
    }
  }
}
