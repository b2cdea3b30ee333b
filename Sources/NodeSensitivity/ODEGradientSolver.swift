import NodeCore
import NodeSolvers

/// Computes gradients of a loss on the states of an ODE solve — with respect
/// to the initial states, the field's parameters and every output time — by
/// one of three ``GradientMode``s behind one interface.
///
/// ```swift
/// let solver = try ODEGradientSolver<Double>(
///   mode: .adjoint, method: .dormandPrince,
///   forward: .adaptive(PIController(relativeTolerance: 1e-6, absoluteTolerance: 1e-6)))
/// let pass = try solver.forward(field, initialStates: z0, times: .shared([0, 0.5, 1]))
/// // dL/dz(tᵢ) for every sample and output time, [B, T, D]:
/// let cotangents = lossGradient(pass.solution.states)
/// let gradients = try solver.backward(pass, outputCotangents: cotangents)
/// ```
///
/// Every sample has its own adaptive steps forward and backward, so the
/// gradient a sample contributes does not depend on its batch-mates. A loss
/// that depends on the states at several times feeds in through
/// `outputCotangents`: the adjoint is updated by `∂L/∂z(tᵢ)` at each output
/// time (the paper's Figure 2).
///
/// A solver keeps its integrators' scratch memory between calls: it is not
/// thread-safe (use one per thread).
///
/// Time gradients follow from the solution alone (the paper's appendix B):
/// `dL/dtᵢ = ∂L/∂z(tᵢ) · f(z(tᵢ), tᵢ)` for `i ≥ 1`, and
/// `dL/dt₀ = −a(t₀⁺) · f(z(t₀), t₀)` with `a(t₀⁺)` the adjoint at `t₀` before
/// the cotangent of output 0 is added.
public final class ODEGradientSolver<Scalar: TensorScalar> {
  /// How gradients are computed.
  public let mode: GradientMode
  /// The Runge–Kutta method, forward and backward.
  public let method: ButcherTableau
  /// The forward solve's step control.
  public let forwardController: StepSizeController<Scalar>
  /// The backward solve's step control (adjoint modes), with its own tolerances.
  public let adjointController: StepSizeController<Scalar>
  /// Which components the adjoint's error control sees.
  public let adjointNorm: AdjointNorm
  /// How the adjoint mode's backward solve takes its first step.
  public let adjointFirstStep: AdjointFirstStep
  /// The step budget per sample and solve.
  public let maxSteps: Int
  /// Whether backprop through the solver keeps every stage evaluation of a
  /// ``StageKeepingVectorField`` (its activations: memory grows with every
  /// stage) so that the backward pass runs one vector-Jacobian product per
  /// stage from them, instead of recomputing each stage and its forward pass.
  public let keepsStageEvaluations: Bool
  /// The kept stage evaluations, reused from one forward pass to the next.
  let keptEvaluations = KeptEvaluationPool<Scalar>()
  let forwardIntegrator: ODEIntegrator<Scalar>
  let adjointIntegrator: ODEIntegrator<Scalar>

  /// Creates a solver.
  ///
  /// - Parameters:
  ///   - adjoint: the backward solve's step control; by default the forward's
  ///     with every component of `[z, a]` under error control (a forward
  ///     ``PIController/controlledDimensions`` counts components of `z` and
  ///     does not carry over to the augmented state).
  ///   - adjointNorm: the seminorm (default) leaves the parameter integral out
  ///     of the backward error control.
  ///   - adjointFirstStep: the adjoint mode's first backward step: selected
  ///     by Hairer's probe (default) or continued from the forward solve's
  ///     last proposal (fewer backward steps; see ``AdjointFirstStep``).
  ///     With a ``NodeSolvers/ErrorControlScope/sharedAcrossBatch`` adjoint,
  ///     and in the checkpointed mode (whose segments start with the forward's
  ///     own steps), it has no effect.
  ///   - keepsStageEvaluations: backprop keeps the stage evaluations of fields
  ///     that can (``StageKeepingVectorField``); false recomputes them.
  /// - Throws: ``SensitivityError`` for settings the integrator refuses, or a
  ///   shared-step adjoint in the checkpointed mode (its segments differ per sample).
  public init(
    mode: GradientMode, method: ButcherTableau, forward: StepSizeController<Scalar>,
    adjoint: StepSizeController<Scalar>? = nil, adjointNorm: AdjointNorm = .seminorm,
    adjointFirstStep: AdjointFirstStep = .select, maxSteps: Int = 10_000,
    keepsStageEvaluations: Bool = true
  ) throws {
    self.keepsStageEvaluations = keepsStageEvaluations
    self.mode = mode
    self.method = method
    forwardController = forward
    adjointController = adjoint ?? Self.adjointDefault(forward)
    self.adjointNorm = adjointNorm
    self.adjointFirstStep = adjointFirstStep
    self.maxSteps = maxSteps
    do {
      forwardIntegrator = try ODEIntegrator(method: method, controller: forward, maxSteps: maxSteps)
      adjointIntegrator = try ODEIntegrator(
        method: method, controller: adjointController, maxSteps: maxSteps)
    } catch let error as SolverError {
      throw SensitivityError.solver(error)
    }
    if mode == .checkpointed && adjointIntegrator.couplesSamples {
      throw SensitivityError.unsupported(
        "the checkpointed adjoint restarts every sample at its own step times; "
          + "it needs per-sample error control (scope perSample), not sharedAcrossBatch")
    }
    if adjointNorm == .full && mode == .backprop {
      throw SensitivityError.unsupported(
        "the adjoint norm applies to the adjoint modes (adjoint, checkpointed); "
          + "backprop through the solver has no backward solve")
    }
  }

  /// The forward controller without its error-control prefix: the backward
  /// state `[z, a]` is measured in full, as torchdiffeq's adjoint does for
  /// every state (a CNF's reconstructed `Δ`, `E`, `F` and their constant
  /// adjoints included; the constant adjoints add zero error).
  static func adjointDefault(_ forward: StepSizeController<Scalar>) -> StepSizeController<Scalar> {
    guard case .adaptive(var pi) = forward else { return forward }
    pi.controlledDimensions = nil
    return .adaptive(pi)
  }

  /// Integrates `initialStates` (`[B, D]`) over `times` and keeps what the
  /// backward pass of this solver's mode needs.
  ///
  /// - Throws: ``SensitivityError`` for inputs the integrator refuses, or, in
  ///   backprop mode, output times inside steps of a method whose dense output
  ///   needs extra stages (DOP853): that interpolant is not differentiated.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func forward(
    _ field: any DifferentiableVectorField<Scalar>, initialStates: Tensor<Scalar>,
    times: TimeGrid<Scalar>, sampleIdentifiers: [Int]? = nil
  ) throws -> ForwardPass<Scalar> {
    if mode == .backprop && !method.denseStageNodes.isEmpty && times.count > 2 {
      throw SensitivityError.unsupported(
        "backprop through the solver does not differentiate \(method.name)'s dense output "
          + "(it needs extra stages); give only the initial and final times, "
          + "or use another method or an adjoint mode")
    }
    let batchSize = initialStates.rank == 2 ? initialStates.shape[0] : 0
    var recorder =
      mode == .adjoint
      ? nil : StepRecorder<Scalar>(dimension: field.dimension, batchSize: batchSize)
    var stageRecorder: KeptStageRecorder<Scalar>? = nil
    if mode == .backprop && keepsStageEvaluations,
      let keeping = field as? any StageKeepingVectorField<Scalar>
    {
      stageRecorder = KeptStageRecorder(
        dimension: field.dimension, batchSize: batchSize, method: method, field: keeping,
        pool: keptEvaluations)
      recorder = stageRecorder?.steps
    }
    let solution: ODESolution<Scalar>
    do {
      solution = try forwardIntegrator.solve(
        field, initialStates: initialStates, times: times, sampleIdentifiers: sampleIdentifiers,
        observer: stageRecorder ?? recorder)
    } catch let error as SolverError {
      throw SensitivityError.solver(error)
    }
    return ForwardPass(
      field: field, solution: solution, initialStates: initialStates,
      sampleIdentifiers: sampleIdentifiers ?? Array(0..<batchSize), log: recorder?.log,
      keptStages: stageRecorder?.log, mode: mode)
  }

  /// The gradients from `dL/dz(tᵢ)` of every sample and output time.
  ///
  /// - Parameters:
  ///   - outputCotangents: `[B, T, D]`, the loss's gradient with respect to
  ///     the forward solution's states (zero where the loss does not look).
  ///   - timeGradients: whether to compute `dL/dtᵢ` (one extra field
  ///     evaluation per sample and output time).
  /// - Throws: ``SensitivityError`` for a cotangent tensor of the wrong shape
  ///   or a forward pass made for another mode.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func backward(
    _ pass: ForwardPass<Scalar>, outputCotangents: Tensor<Scalar>, timeGradients: Bool = false
  ) throws -> ODEGradients<Scalar> {
    let b = pass.batchSize
    let t = pass.solution.times.count
    let d = pass.field.dimension
    guard outputCotangents.shape == [b, t, d] else {
      throw SensitivityError.shapeMismatch(
        what: "the output cotangents", expected: "[\(b), \(t), \(d)] (samples, times, state)",
        found: outputCotangents.shape)
    }
    guard pass.mode == mode else {
      throw SensitivityError.foreignForwardPass(
        "it was made for mode \(pass.mode.rawValue), this solver computes \(mode.rawValue)")
    }
    var result: BackwardResult<Scalar>
    switch mode {
    case .adjoint, .checkpointed:
      result = try adjointBackward(pass, cotangents: outputCotangents)
    case .backprop:
      if let kept = pass.keptStages, kept.isCurrent,
        let field = pass.field as? any StageKeepingVectorField<Scalar>
      {
        result = keptStageBackward(
          pass, kept: kept, field: field, cotangents: outputCotangents)
      } else {
        result = discreteBackward(pass, cotangents: outputCotangents)
      }
    }
    var timeGradient: Tensor<Scalar>? = nil
    if timeGradients {
      timeGradient = outputTimeGradients(
        pass, cotangents: outputCotangents, adjointAtStart: result.adjointAtStart)
    }
    // dL/dz(t₀) = a(t₀⁺) + ∂L/∂z(t₀); NaN for samples that failed.
    var initial = result.adjointAtStart
    let g = outputCotangents.scalars
    for s in 0..<b {
      for i in 0..<d { initial[s * d + i] += g[(s * t) * d + i] }
    }
    return ODEGradients(
      initialStates: Tensor(shape: [b, d], scalars: initial),
      parameters: Tensor(shape: [pass.field.parameterCount], scalars: result.parameters),
      times: timeGradient, statistics: result.statistics)
  }

  /// `dL/dtᵢ` for every sample and output time (see the type's documentation).
  func outputTimeGradients(
    _ pass: ForwardPass<Scalar>, cotangents: Tensor<Scalar>, adjointAtStart: [Scalar]
  ) -> Tensor<Scalar> {
    let b = pass.batchSize
    let t = pass.solution.times.count
    let d = pass.field.dimension
    var gradient = [Scalar](repeating: 0, count: b * t)
    let g = cotangents.scalars
    let y0 = pass.initialStates.scalars
    let outputs = pass.solution.states.scalars
    var times = [Scalar](repeating: 0, count: b)
    var states = [Scalar](repeating: 0, count: b * d)
    var derivatives = [Scalar](repeating: 0, count: b * d)
    let ids = pass.sampleIdentifiers
    for j in 0..<t {
      for s in 0..<b {
        times[s] = pass.time(sample: s, index: j)
        for i in 0..<d {
          states[s * d + i] =
            j == 0 ? y0[s * d + i] : outputs[(s * t + j) * d + i]
        }
      }
      times.withUnsafeBufferPointer { tp in
        states.withUnsafeBufferPointer { zp in
          derivatives.withUnsafeMutableBufferPointer { fp in
            ids.withUnsafeBufferPointer { ip in
              pass.field.evaluate(
                FieldBatch(
                  count: b, times: tp.baseAddress!,
                  states: MatrixView(base: zp.baseAddress!, rows: b, columns: d),
                  sampleIndices: ip.baseAddress!),
                into: MutableMatrixView(base: fp.baseAddress!, rows: b, columns: d))
            }
          }
        }
      }
      for s in 0..<b {
        var dot: Scalar = 0
        for i in 0..<d {
          let weight =
            j == 0 ? -adjointAtStart[s * d + i] : g[(s * t + j) * d + i]
          dot += weight * derivatives[s * d + i]
        }
        gradient[s * t + j] = dot
      }
    }
    return Tensor(shape: [b, t], scalars: gradient)
  }
}

/// What a mode's backward pass hands back.
struct BackwardResult<Scalar: TensorScalar> {
  /// `a(t₀⁺)` per sample, `[B, D]`: the adjoint at the initial time before
  /// output 0's cotangent (NaN for failed samples).
  var adjointAtStart: [Scalar]
  var parameters: [Scalar]
  var statistics: SolveStatistics<Scalar>
}
