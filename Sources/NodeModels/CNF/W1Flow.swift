import Foundation
import NodeCore
import NodeNN
import NodeSensitivity
import NodeSolvers

/// The W1 workload's flow (WORKLOADS.md): FFJORD's toy CNF, concat-squash
/// layers `2 → 64 → 64 → 64 → 2` with tanh between them, exact trace, a
/// standard normal base density, integrated from t = 0 to 0.5.
///
/// Its parameters are named `layers.{0…3}.{weight, bias, gate_weight,
/// gate_bias, time_weight}` in PyTorch's layouts, so the reference weight
/// files load as they are.
public enum W1Flow {
  /// The network, `width` hidden features (64 in W1).
  public static func network<Scalar: TensorScalar>(width: Int = 64, as _: Scalar.Type = Scalar.self)
    -> Sequential<Scalar>
  {
    let sizes = [2, width, width, width, 2]
    var layers: [any Layer<Scalar>] = []
    var names: [String?] = []
    for i in 0..<4 {
      layers.append(ConcatSquashLinear<Scalar>(inputs: sizes[i], outputs: sizes[i + 1]))
      names.append("layers.\(i)")
      if i < 3 {
        layers.append(ElementwiseActivation<Scalar>(.tanh, size: sizes[i + 1]))
        names.append(nil)
      }
    }
    return Sequential(layers, names: names)
  }

  /// The flow's dynamics with the parameters of a W1 safetensors file.
  public static func field<Scalar: TensorScalar>(weights url: URL, as _: Scalar.Type = Scalar.self)
    throws -> CNFField<Scalar>
  {
    let network: Sequential<Scalar> = network()
    let file = try SafetensorsFile(contentsOf: url)
    return CNFField(network: network, parameters: try network.parameters(from: file))
  }
}

/// Log-likelihoods under a CNF with a standard normal base density (the
/// paper's eq. 8): `log p(x) = log N(z(T); 0, I) − Δ(T)` where `[z, Δ]`
/// integrates `[f, −tr ∂f/∂z]` from `[x, 0]` at t = 0 to T, with the field's
/// trace estimator (use the exact trace for a density value; a Hutchinson
/// field gives an unbiased estimate of `log p(x)` up to the solver's error).
/// Regulariser components, if the field has them, are left out of error control.
public struct CNFDensity<Scalar: TensorScalar> {
  /// The flow's dynamics.
  public let field: CNFField<Scalar>
  /// The integration time T.
  public let endTime: Scalar
  /// The solver.
  public let integrator: ODEIntegrator<Scalar>

  /// A density with dopri5 at the given tolerances.
  public init(
    field: CNFField<Scalar>, endTime: Scalar, relativeTolerance: Scalar,
    absoluteTolerance: Scalar
  ) throws {
    self.field = field
    self.endTime = endTime
    var controller = PIController(
      relativeTolerance: relativeTolerance, absoluteTolerance: absoluteTolerance)
    if field.dimension > field.controlledDimensions {
      controller.controlledDimensions = field.controlledDimensions
    }
    integrator = try ODEIntegrator(method: .dormandPrince, controller: .adaptive(controller))
  }

  /// `log p(x)` of each data point, and the forward solve's statistics.
  public func logLikelihoods(_ x: Tensor<Scalar>) throws -> (
    values: [Scalar], statistics: SolveStatistics<Scalar>
  ) {
    let d = field.dataDimension
    let solution = try integrator.solve(
      field, initialStates: field.initialStates(data: x), times: .shared([0, endTime]))
    var values: [Scalar] = []
    for s in 0..<x.shape[0] {
      let row = solution.finalStates.row(s)
      values.append(
        StandardNormalBase.logDensity(row, dimension: d) - row[row.startIndex + d])
    }
    return (values, solution.statistics)
  }
}
