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
    throws -> ExactTraceCNFField<Scalar>
  {
    let network: Sequential<Scalar> = network()
    let file = try SafetensorsFile(contentsOf: url)
    return ExactTraceCNFField(network: network, parameters: try network.parameters(from: file))
  }
}

/// Log-likelihoods under a CNF with a standard normal base density (the
/// paper's eq. 8): `log p(x) = log N(z(T); 0, I) − Δ(T)` where `[z, Δ]`
/// integrates `[f, −tr ∂f/∂z]` from `[x, 0]` at t = 0 to T.
public struct CNFDensity<Scalar: TensorScalar> {
  /// The flow's dynamics.
  public let field: ExactTraceCNFField<Scalar>
  /// The integration time T.
  public let endTime: Scalar
  /// The solver.
  public let integrator: ODEIntegrator<Scalar>

  /// A density with dopri5 at the given tolerances.
  public init(
    field: ExactTraceCNFField<Scalar>, endTime: Scalar, relativeTolerance: Scalar,
    absoluteTolerance: Scalar
  ) throws {
    self.field = field
    self.endTime = endTime
    integrator = try ODEIntegrator(
      method: .dormandPrince,
      controller: .adaptive(
        PIController(relativeTolerance: relativeTolerance, absoluteTolerance: absoluteTolerance)))
  }

  /// `log p(x)` of each data point, and the forward solve's statistics.
  public func logLikelihoods(_ x: Tensor<Scalar>) throws -> (
    values: [Scalar], statistics: SolveStatistics<Scalar>
  ) {
    let d = field.dataDimension
    let solution = try integrator.solve(
      field, initialStates: field.initialStates(data: x), times: .shared([0, endTime]))
    let logTwoPi = Scalar.log(2 * Scalar.pi)
    var values: [Scalar] = []
    for s in 0..<x.shape[0] {
      let row = solution.finalStates.row(s)
      var squares: Scalar = 0
      for i in 0..<d { squares += row[row.startIndex + i] * row[row.startIndex + i] }
      let base = -(squares + Scalar(d) * logTwoPi) / 2
      values.append(base - row[row.startIndex + d])
    }
    return (values, solution.statistics)
  }
}
