import Foundation
import NodeCore
import NodeNN
import NodeSensitivity
import NodeSolvers

/// The paper's ODE-Net classifier (section 3; torchdiffeq's `odenet_mnist`,
/// WORKLOADS.md W2) for `1 × 28 × 28` images:
///
/// - `down`: conv 3×3 1→w, GroupNorm, ReLU, conv 4×4 stride 2 pad 1 w→w,
///   GroupNorm, ReLU, conv 4×4 stride 2 pad 1 w→w (feature map `w × 6 × 6`);
/// - `ode`: an ODE block on t ∈ [0, 1] whose field is GroupNorm, ReLU,
///   concat-time conv 3×3 (w+1)→w pad 1, GroupNorm, ReLU, concat-time conv, GroupNorm;
/// - `head`: GroupNorm, ReLU, global average pool, linear w→10.
///
/// GroupNorms have `min(32, w)` groups and ε 1e-5. Tensor names are
/// WORKLOADS.md's (`down.conv1.weight`, …, `head.fc.bias`), in PyTorch's layouts.
public final class ODENetClassifier<Scalar: TensorScalar> {
  /// The downsampling layers.
  public let down: Sequential<Scalar>
  /// The ODE block's dynamics.
  public let ode: NetworkField<Scalar>
  /// The classification head.
  public let head: Sequential<Scalar>
  /// The width (channels) of the feature maps.
  public let width: Int
  /// The down-sampling and head parameters (the ODE block's are in ``ode``).
  public var downParameters: [Scalar]
  public var headParameters: [Scalar]
  /// How ``gradient(images:labels:)`` solves and differentiates the ODE
  /// block: the adjoint for the paper's ODE-Net, backprop through the
  /// solver's steps for its RK-Net.
  public var solver: ODEGradientSolver<Scalar>
  /// How ``predictions(images:)`` solves the ODE block (its tolerance may
  /// differ from training's: the paper tests at a looser one).
  public var evaluationIntegrator: ODEIntegrator<Scalar>

  /// A classifier of the given width with zero parameters (load or
  /// initialise them), its ODE block solved by dopri5 at `rtol = atol =
  /// tolerance` and differentiated by `mode` (the adjoint's first backward
  /// step as `adjointFirstStep` says), for training and prediction alike.
  ///
  /// - Throws: ``SolverError`` for a tolerance the controller refuses.
  public init(
    width: Int = 64, mode: GradientMode = .adjoint, tolerance: Scalar = 1e-3,
    adjointFirstStep: AdjointFirstStep = .select
  ) throws {
    precondition(width > 0, "an ODE-Net needs a positive width, got \(width)")
    self.width = width
    let groups = ClassifierStages.groups(width: width)
    let stem = ClassifierStages.downsampling(width: width, as: Scalar.self)
    down = Sequential(stem.layers, names: stem.names)
    let side = ClassifierStages.featureSide
    let pixels = side * side
    let block = ConvolutionGeometry(
      inputChannels: width + 1, outputChannels: width, kernel: (3, 3), padding: 1,
      input: (side, side))
    let dynamics = Sequential<Scalar>(
      [
        GroupNorm(groups: groups, channels: width, pixels: pixels),
        ElementwiseActivation(.relu, size: width * pixels), ConcatTimeConv2d(block),
        GroupNorm(groups: groups, channels: width, pixels: pixels),
        ElementwiseActivation(.relu, size: width * pixels), ConcatTimeConv2d(block),
        GroupNorm(groups: groups, channels: width, pixels: pixels),
      ],
      names: ["ode.norm1", nil, "ode.conv1", "ode.norm2", nil, "ode.conv2", "ode.norm3"])
    ode = NetworkField(
      network: dynamics, parameters: [Scalar](repeating: 0, count: dynamics.parameterCount))
    let top = ClassifierStages.head(width: width, as: Scalar.self)
    head = Sequential(top.layers, names: top.names)
    downParameters = [Scalar](repeating: 0, count: down.parameterCount)
    headParameters = [Scalar](repeating: 0, count: head.parameterCount)
    let controller = StepSizeController<Scalar>.adaptive(
      PIController(relativeTolerance: tolerance, absoluteTolerance: tolerance))
    solver = try ODEGradientSolver(
      mode: mode, method: .dormandPrince, forward: controller, adjointFirstStep: adjointFirstStep)
    evaluationIntegrator = try ODEIntegrator(method: .dormandPrince, controller: controller)
  }

  /// The number of parameters.
  public var parameterCount: Int { down.parameterCount + ode.parameterCount + head.parameterCount }

  /// Loads every parameter from a safetensors file with exactly this model's tensors.
  ///
  /// - Throws: ``SafetensorsError`` naming a missing, extra or mis-shaped tensor.
  public func load(_ file: SafetensorsFile) throws {
    let known = Set(
      (down.namedParameters + ode.network.namedParameters + head.namedParameters).map(\.name))
    let extra = file.tensorNames.filter { !known.contains($0) }
    if !extra.isEmpty {
      throw SafetensorsError.unexpectedTensors(
        source: file.source, tensors: extra, expected: known.sorted())
    }
    downParameters = try down.parameters(from: file, ignoringOthers: true)
    ode.parameters = try ode.network.parameters(from: file, ignoringOthers: true)
    headParameters = try head.parameters(from: file, ignoringOthers: true)
  }

  /// Class logits `[B, 10]` for images `[B, 784]` (pixels in [0, 1]), with
  /// the ODE block solved by `integrator` from t = 0 to 1; also the block's statistics.
  public func logits(_ images: Tensor<Scalar>, integrator: ODEIntegrator<Scalar>) throws -> (
    Tensor<Scalar>, SolveStatistics<Scalar>
  ) {
    let b = images.shape[0]
    let zeros = [Scalar](repeating: 0, count: b)
    let h = down.forward(images.scalars, rows: b, times: zeros, parameters: downParameters)
    let solution = try integrator.solve(
      ode, initialStates: Tensor(shape: [b, down.outputSize], scalars: h), times: .shared([0, 1]))
    let logits = head.forward(
      solution.finalStates.scalars, rows: b, times: zeros, parameters: headParameters)
    return (Tensor(shape: [b, 10], scalars: logits), solution.statistics)
  }
}
