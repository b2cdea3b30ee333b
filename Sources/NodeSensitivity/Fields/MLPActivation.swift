import NodeCore
import RealModule

/// The nonlinearity between the layers of an ``MLPField``.
public enum MLPActivation: String, Sendable, CaseIterable, Codable {
  /// `tanh x`.
  case tanh
  /// `log(1 + eˣ)`, computed without overflow.
  case softplus
  /// `max(x, 0)`.
  case relu
  /// No activation.
  case identity

  /// The activation of `x`.
  @inlinable
  public func apply<Scalar: TensorScalar>(_ x: Scalar) -> Scalar {
    switch self {
    case .tanh: return Scalar.tanh(x)
    case .softplus:
      return x > 0 ? x + Scalar.log(onePlus: Scalar.exp(-x)) : Scalar.log(onePlus: Scalar.exp(x))
    case .relu: return x > 0 ? x : 0
    case .identity: return x
    }
  }

  /// The derivative at the point whose activation is `y`, from `y` alone:
  /// `1 − y²` (tanh), `1 − e^{−y}` (softplus: the logistic of the input),
  /// the step function (ReLU), 1 (identity).
  @inlinable
  public func derivative<Scalar: TensorScalar>(output y: Scalar) -> Scalar {
    switch self {
    case .tanh: return 1 - y * y
    case .softplus: return -Scalar.expMinusOne(-y)
    case .relu: return y > 0 ? 1 : 0
    case .identity: return 1
    }
  }
}
