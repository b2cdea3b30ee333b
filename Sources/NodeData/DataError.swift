/// Why a data set could not be read or generated. Every case names the file
/// or option at fault and what was expected.
public enum DataError: Error, CustomStringConvertible, Equatable {
  /// A file is missing, unreadable, or not what it claims to be.
  case invalidFile(path: String, reason: String)
  /// Two files that belong together disagree (e.g. image and label counts).
  case mismatchedFiles(String)
  /// An option is out of its allowed range.
  case invalidOption(name: String, value: String, allowed: String)

  public var description: String {
    switch self {
    case .invalidFile(let path, let reason):
      return "\(path): \(reason)"
    case .mismatchedFiles(let reason):
      return reason
    case .invalidOption(let name, let value, let allowed):
      return "invalid \(name) = \(value); allowed: \(allowed)"
    }
  }
}
