import NodeCore
import NodeSensitivity
import NodeSolvers

/// A flow of several CNF blocks applied in sequence (FFJORD's stacked
/// blocks): block `k` integrates its own field, with its own parameters, over
/// its own interval `[t₀ᵏ, t₁ᵏ]`, starting from the previous block's output.
/// With a standard normal base density,
///
///     log p(x) = log N(z_K; 0, I) − Σ_k Δ_k(t₁ᵏ),
///
/// `z_K` the last block's output and `Δ_k` block `k`'s log-density change
/// (Chen et al. 2018, eq. 8, once per block).
///
/// Parameters: each block keeps its own (``CNFField/parameters``);
/// ``parameters`` and every gradient this type returns concatenate them in
/// block order, block `k` at ``parameterRanges``[k].
///
/// Error control: the forward and sampling solves control `[z, Δ]` only
/// (``PIController/controlledDimensions`` = `D + 1`), so RNODE regulariser
/// components never change a step. The adjoint controls all of `[z, a]`
/// (see ``ODEGradientSolver/init(mode:method:forward:adjoint:adjointNorm:adjointFirstStep:maxSteps:keepsStageEvaluations:)``).
public final class StackedCNF<Scalar: TensorScalar> {
  /// The blocks, data side first.
  public let blocks: [CNFField<Scalar>]
  /// Each block's integration interval, forward from its lower bound to its upper.
  public let intervals: [ClosedRange<Scalar>]
  /// `D`, the data dimension of every block.
  public let dataDimension: Int
  /// The gradient solver of training (``lossAndGradient(data:noiseSeed:weights:sampleIdentifiers:)``).
  public private(set) var solver: ODEGradientSolver<Scalar>
  /// The integrator of densities and sampling (``logDensities(_:)``, ``sample(count:seed:firstIndex:)``).
  public private(set) var integrator: ODEIntegrator<Scalar>

  /// A flow of `blocks` over `intervals`, integrated by `method` at the given
  /// tolerances forward, backward and when sampling, its training gradient
  /// computed by `gradient` (with ``GradientMode/backprop`` every block runs
  /// its backward pass from its own kept stage evaluations; the adjoint's
  /// first backward step as `adjointFirstStep` says).
  ///
  /// - Throws: ``CNFError/invalidConfiguration(name:value:allowed:)`` for no
  ///   blocks, one interval count per block not matched, blocks of different
  ///   data dimensions or an empty interval; ``SensitivityError`` for
  ///   tolerances or a method the solver refuses.
  public init(
    blocks: [CNFField<Scalar>], intervals: [ClosedRange<Scalar>], relativeTolerance: Scalar,
    absoluteTolerance: Scalar, method: ButcherTableau = .dormandPrince, maxSteps: Int = 10_000,
    gradient: GradientMode = .adjoint, adjointFirstStep: AdjointFirstStep = .select
  ) throws {
    guard let first = blocks.first else {
      throw CNFError.invalidConfiguration(name: "blocks", value: "[]", allowed: "at least one")
    }
    guard intervals.count == blocks.count else {
      throw CNFError.invalidConfiguration(
        name: "interval count", value: "\(intervals.count)",
        allowed: "one per block (\(blocks.count))")
    }
    let d = first.dataDimension
    if let other = blocks.firstIndex(where: { $0.dataDimension != d }) {
      throw CNFError.invalidConfiguration(
        name: "data dimension of block \(other)", value: "\(blocks[other].dataDimension)",
        allowed: "\(d), block 0's")
    }
    if let empty = intervals.firstIndex(where: { !($0.lowerBound < $0.upperBound) }) {
      throw CNFError.invalidConfiguration(
        name: "interval of block \(empty)", value: "\(intervals[empty])",
        allowed: "finite bounds t₀ < t₁")
    }
    var controller = PIController(
      relativeTolerance: relativeTolerance, absoluteTolerance: absoluteTolerance)
    controller.controlledDimensions = d + 1
    solver = try ODEGradientSolver(
      mode: gradient, method: method, forward: .adaptive(controller),
      adjointFirstStep: adjointFirstStep, maxSteps: maxSteps)
    do {
      integrator = try ODEIntegrator(
        method: method, controller: .adaptive(controller), maxSteps: maxSteps)
    } catch let error as SolverError {
      throw SensitivityError.solver(error)
    }
    self.blocks = blocks
    self.intervals = intervals
    dataDimension = d
  }

  /// Solves at new tolerances from now on: training's forward solve and
  /// adjoint (same method and step limit) and the density/sampling integrator.
  /// The forward and sampling solves control `[z, Δ]` only, the adjoint all
  /// of `[z, a]`, as at construction.
  ///
  /// - Throws: ``SensitivityError`` for tolerances the controller refuses.
  public func setTolerances(
    forward: (relative: Scalar, absolute: Scalar), adjoint: (relative: Scalar, absolute: Scalar),
    evaluation: (relative: Scalar, absolute: Scalar)
  ) throws {
    let (method, maxSteps) = (solver.method, solver.maxSteps)
    let newSolver = try ODEGradientSolver(
      mode: solver.mode, method: method,
      forward: .adaptive(forward, controlledDimensions: dataDimension + 1),
      adjoint: .adaptive(adjoint), adjointNorm: solver.adjointNorm,
      adjointFirstStep: solver.adjointFirstStep, maxSteps: maxSteps,
      keepsStageEvaluations: solver.keepsStageEvaluations)
    do {
      integrator = try ODEIntegrator(
        method: method, controller: .adaptive(evaluation, controlledDimensions: dataDimension + 1),
        maxSteps: maxSteps)
    } catch let error as SolverError {
      throw SensitivityError.solver(error)
    }
    solver = newSolver
  }

  /// The named tensors of flat `parameters`: block `k`'s network tensors
  /// under `blocks.k.` (W1's `layers.*` names when there is one block).
  public func namedTensors(of parameters: [Scalar]) -> [String: Tensor<Scalar>] {
    var result: [String: Tensor<Scalar>] = [:]
    for (k, (block, range)) in zip(blocks, parameterRanges).enumerated() {
      let prefix = blocks.count == 1 ? "" : "blocks.\(k)."
      for (name, tensor) in block.network.tensors(of: Array(parameters[range])) {
        result[prefix + name] = tensor
      }
    }
    return result
  }

  /// The flat parameters stored under ``namedTensors(of:)``' names.
  ///
  /// - Throws: ``SafetensorsError`` naming a missing, mis-shaped or unexpected tensor.
  public func parameters(from file: SafetensorsFile) throws -> [Scalar] {
    let expected = namedTensors(of: parameters)
    let extra = file.tensorNames.filter { expected[$0] == nil }
    if !extra.isEmpty {
      throw SafetensorsError.unexpectedTensors(
        source: file.source, tensors: extra, expected: expected.keys.sorted())
    }
    var flat: [Scalar] = []
    for (k, block) in blocks.enumerated() {
      let prefix = blocks.count == 1 ? "" : "blocks.\(k)."
      for (name, offset, shape) in block.network.namedParameters {
        let tensor: Tensor<Scalar> = try file.tensor(prefix + name, expectedShape: shape)
        precondition(offset + parameterRanges[k].lowerBound == flat.count)
        flat += tensor.scalars
      }
    }
    return flat
  }

  /// Every block's parameter count, summed.
  public var parameterCount: Int { blocks.reduce(0) { $0 + $1.parameterCount } }

  /// Where each block's parameters sit in ``parameters`` and in gradients.
  public var parameterRanges: [Range<Int>] {
    var start = 0
    return blocks.map { block in
      defer { start += block.parameterCount }
      return start..<(start + block.parameterCount)
    }
  }

  /// Every block's parameters, concatenated in block order; setting splits
  /// them back (the count must be ``parameterCount``).
  public var parameters: [Scalar] {
    get { blocks.flatMap(\.parameters) }
    set {
      precondition(newValue.count == parameterCount, "\(parameterCount) parameters expected")
      for (block, range) in zip(blocks, parameterRanges) {
        block.parameters = Array(newValue[range])
      }
    }
  }

  /// The blocks as evaluated for densities and sampling: the exact trace, no
  /// regularisers, sharing each block's network and parameters.
  var densityBlocks: [CNFField<Scalar>] {
    blocks.map { $0.trace == .exact && $0.regularisers.isEmpty ? $0 : $0.with(trace: .exact) }
  }
}
