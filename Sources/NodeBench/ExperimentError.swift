/// A reproduction experiment's options were refused.
public enum ExperimentError: Error, CustomStringConvertible, Equatable {
  /// An option's value is outside what is allowed.
  case invalidOption(name: String, value: String, allowed: String)

  public var description: String {
    switch self {
    case .invalidOption(let name, let value, let allowed):
      return "invalid \(name) \(value): allowed values are \(allowed)"
    }
  }
}
