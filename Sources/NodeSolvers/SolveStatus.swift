/// How one sample's integration ended.
public enum SolveStatus: UInt8, Sendable, BitwiseCopyable, CustomStringConvertible, CaseIterable {
  /// The sample reached the final time of its grid.
  case success = 0
  /// The sample used up its step budget (accepted plus rejected steps).
  case maxStepsReached
  /// The step size fell below the minimum (or below what the time's precision resolves).
  case stepSizeTooSmall
  /// The state or its derivative stayed non-finite (NaN or infinite).
  case nonFiniteState

  public var description: String {
    switch self {
    case .success: return "success"
    case .maxStepsReached: return "max steps reached"
    case .stepSizeTooSmall: return "step size too small"
    case .nonFiniteState: return "non-finite state"
    }
  }
}
