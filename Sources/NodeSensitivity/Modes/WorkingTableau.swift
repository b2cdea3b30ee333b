import NodeCore
import NodeSolvers

/// A Runge–Kutta method's coefficients rounded to the working precision, as
/// backprop through the solver reads them.
struct WorkingTableau<Scalar: TensorScalar> {
  /// The number of stages of a step (dense stages left out).
  let stageCount: Int
  let isFirstSameAsLast: Bool
  /// `c_j`.
  let nodes: [Scalar]
  /// `a_jl`, row `j` holding the stages before `j`.
  let coupling: [[Scalar]]
  /// `b_j`.
  let weights: [Scalar]
  /// The dense-output polynomials of the step's own stages.
  private let interpolant: [[Scalar]]

  init(_ method: ButcherTableau) {
    stageCount = method.stageCount
    isFirstSameAsLast = method.isFirstSameAsLast
    nodes = method.nodes.map { Scalar($0) }
    coupling = method.coupling.map { $0.map { Scalar($0) } }
    weights = method.weights.map { Scalar($0) }
    interpolant = method.interpolant.prefix(method.stageCount).map { $0.map { Scalar($0) } }
  }

  /// `h b_j(θ)`, stage `j`'s weight in the dense output `y + h Σ_j b_j(θ) k_j`
  /// at `θ` of a step of size `h` (`b_j(θ)` by Horner's rule).
  func denseOutputWeight(stage j: Int, theta: Scalar, step h: Scalar) -> Scalar {
    guard j < interpolant.count else { return 0 }
    var weight: Scalar = 0
    for coefficient in interpolant[j].reversed() { weight = weight * theta + coefficient }
    return weight * (theta * h)
  }
}
