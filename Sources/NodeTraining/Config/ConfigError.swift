/// Why an experiment config could not be read: each case names the key, the
/// offending value and what is allowed, so the message alone tells a user
/// what to fix.
public enum ConfigError: Error, CustomStringConvertible, Equatable {
  /// The config file at `path` is missing or cannot be read as text.
  case unreadableFile(path: String, reason: String)
  /// The YAML in `source` does not parse, or its top level is not a mapping.
  case syntax(source: String, message: String)
  /// The mapping at `path` (`""` for the top level) of `source` has `keys`
  /// the program never read; `allowed` lists the keys it did ask for.
  case unknownKeys(source: String, path: String, keys: [String], allowed: [String])
  /// The value at the dotted `key` is not one of the `allowed` values.
  case invalidValue(key: String, value: String, allowed: String)
  /// The dotted `key` has no value and no default.
  case missingKey(key: String, expected: String)
  /// A `--set key=value` override `text` is malformed.
  case invalidOverride(text: String, reason: String)

  /// A one-sentence explanation for the user.
  public var description: String {
    switch self {
    case .unreadableFile(let path, let reason):
      return "cannot read the config file '\(path)': \(reason)"
    case .syntax(let source, let message):
      return "'\(source)' is not a valid config: \(message)"
    case .unknownKeys(let source, let path, let keys, let allowed):
      let noun = keys.count == 1 ? "key" : "keys"
      let listed = keys.map { "'\($0)'" }.joined(separator: ", ")
      let place = path.isEmpty ? "top level" : "under '\(path)'"
      let known = allowed.isEmpty ? "none" : allowed.joined(separator: ", ")
      return "unknown \(noun) \(listed) in '\(source)' (\(place)); allowed: \(known)"
    case .invalidValue(let key, let value, let allowed):
      return "\(key) = '\(value)' is not allowed; expected \(allowed)"
    case .missingKey(let key, let expected):
      return "\(key) is missing and has no default; expected \(expected)"
    case .invalidOverride(let text, let reason):
      return "cannot apply the override '\(text)': \(reason)"
    }
  }
}
