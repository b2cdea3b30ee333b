import NodeSolvers

/// Why a gradient computation could not start. A sample whose forward or
/// backward solve fails is not an error: its status is in the statistics.
public enum SensitivityError: Error, CustomStringConvertible, Equatable {
  /// An input tensor has the wrong shape.
  case shapeMismatch(what: String, expected: String, found: [Int])
  /// A setting that cannot be combined with the others.
  case unsupported(String)
  /// The forward pass given to the backward pass came from another field or solver.
  case foreignForwardPass(String)
  /// The solver rejected its inputs.
  case solver(SolverError)

  public var description: String {
    switch self {
    case .shapeMismatch(let what, let expected, let found):
      return "\(what) has shape \(found); expected \(expected)"
    case .unsupported(let reason):
      return reason
    case .foreignForwardPass(let reason):
      return "the forward pass does not belong to this backward pass: \(reason)"
    case .solver(let error):
      return error.description
    }
  }
}
