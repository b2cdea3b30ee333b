/// Why a solve could not start. Problems *during* a solve (a sample that
/// cannot be integrated) are not errors: they are reported per sample by
/// ``SolveStatus`` so the caller decides.
public enum SolverError: Error, CustomStringConvertible, Equatable {
  /// An input tensor has the wrong shape.
  case shapeMismatch(what: String, expected: String, found: [Int])
  /// A time grid is unusable.
  case invalidTimeGrid(String)
  /// An option is out of its allowed range.
  case invalidOption(name: String, value: String, allowed: String)
  /// Adaptive stepping was asked of a method without an error estimate.
  case methodNotAdaptive(method: String)
  /// Shared-step integration needs every sample on the same time grid.
  case sharedStepNeedsSharedGrid

  public var description: String {
    switch self {
    case .shapeMismatch(let what, let expected, let found):
      return "\(what) has shape \(found); expected \(expected)"
    case .invalidTimeGrid(let reason):
      return "invalid time grid: \(reason)"
    case .invalidOption(let name, let value, let allowed):
      return "invalid \(name) = \(value); allowed: \(allowed)"
    case .methodNotAdaptive(let method):
      let adaptive = ButcherTableau.all.filter(\.isAdaptive).map(\.name).joined(separator: ", ")
      return "method \(method) has no error estimate and needs a constant step size; "
        + "adaptive methods are \(adaptive)"
    case .sharedStepNeedsSharedGrid:
      return "shared-step integration needs one time grid for the whole batch, not one per sample"
    }
  }
}
