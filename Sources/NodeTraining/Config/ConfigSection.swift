import Yams

/// One mapping of a config (the top level, `optimizer`, `schedule[2]`, ...),
/// read through typed getters that validate each value and record the key as
/// read. An explicit `null` reads the same as a missing key.
public struct ConfigSection {
  /// The reader whose record of read keys this section updates.
  let reader: ConfigReader
  /// The dotted path of this mapping, `""` at the top level.
  public let path: String
  /// The mapping's contents.
  let mapping: Node.Mapping

  /// The keys present, in document order; listing them reads none of them.
  public var keys: [String] { mapping.map(\.key.keyText) }

  /// Whether `key` is present with a non-null value; does not count as reading it.
  public func contains(_ key: String) -> Bool {
    mapping.lookup(key).map { !$0.isNull } ?? false
  }

  /// The mapping at `key`; missing or null reads as an empty mapping.
  /// - Throws: ``ConfigError/invalidValue(key:value:allowed:)`` for a non-mapping.
  public func section(_ key: String) throws -> ConfigSection {
    guard let node = value(key) else {
      return ConfigSection(reader: reader, path: fullKey(key), mapping: Node.emptyMapping)
    }
    guard case .mapping(let mapping) = node else {
      throw invalid(key, node, "a mapping of keys to values")
    }
    return ConfigSection(reader: reader, path: fullKey(key), mapping: mapping)
  }

  /// The list of mappings at `key` (`[]` when missing), each a section with
  /// path `key[i]`.
  /// - Throws: ``ConfigError/invalidValue(key:value:allowed:)`` for a
  ///   non-list or a non-mapping element.
  public func sections(_ key: String) throws -> [ConfigSection] {
    try (list(key, "a list of mappings") ?? []).enumerated().map { index, node in
      let path = "\(fullKey(key))[\(index)]"
      guard case .mapping(let mapping) = node else {
        throw ConfigError.invalidValue(
          key: path, value: node.configText, allowed: "a mapping of keys to values")
      }
      return ConfigSection(reader: reader, path: path, mapping: mapping)
    }
  }

  /// The string at `key`, or `default` when missing.
  /// - Throws: ``ConfigError/missingKey(key:expected:)`` when missing without
  ///   a default, ``ConfigError/invalidValue(key:value:allowed:)`` for a collection.
  public func string(_ key: String, default fallback: String?) throws -> String {
    try required(key, optionalString(key), fallback, "a string")
  }

  /// The string at `key`, or nil when missing or null.
  /// - Throws: ``ConfigError/invalidValue(key:value:allowed:)`` for a collection.
  public func optionalString(_ key: String) throws -> String? {
    guard let node = value(key) else { return nil }
    guard case .scalar(let scalar) = node else { throw invalid(key, node, "a string") }
    return scalar.string
  }

  /// The case of `T` whose raw value is at `key`, or `default` when missing.
  /// - Throws: ``ConfigError/invalidValue(key:value:allowed:)`` listing every
  ///   raw value, or ``ConfigError/missingKey(key:expected:)``.
  public func choice<T: RawRepresentable & CaseIterable>(_ key: String, default fallback: T?)
    throws -> T where T.RawValue == String
  {
    let allowed = "one of " + T.allCases.map(\.rawValue).joined(separator: ", ")
    guard let node = value(key) else { return try required(key, nil, fallback, allowed) }
    guard let text = node.scalar?.string, let found = T(rawValue: text) else {
      throw invalid(key, node, allowed)
    }
    return found
  }

  /// The `true` or `false` at `key`, or `default` when missing.
  /// - Throws: ``ConfigError/invalidValue(key:value:allowed:)`` for anything
  ///   else, or ``ConfigError/missingKey(key:expected:)``.
  public func bool(_ key: String, default fallback: Bool?) throws -> Bool {
    guard let node = value(key) else { return try required(key, nil, fallback, "true or false") }
    switch node.plainText {
    case "true": return true
    case "false": return false
    default: throw invalid(key, node, "true or false")
    }
  }

  /// `key` prefixed with this section's path: `optimizer.lr`.
  func fullKey(_ key: String) -> String { Self.join(path, key) }

  /// `child` under the dotted `path`.
  static func join(_ path: String, _ child: String) -> String {
    path.isEmpty ? child : "\(path).\(child)"
  }

  /// The non-null value at `key`, recording that the program asked for it.
  func value(_ key: String) -> Node? {
    reader.noteQuery(key, in: path)
    return mapping.lookup(key).flatMap { $0.isNull ? nil : $0 }
  }

  /// The elements of the list at `key`, nil when missing.
  func list(_ key: String, _ allowed: String) throws -> [Node]? {
    guard let node = value(key) else { return nil }
    guard case .sequence(let sequence) = node else { throw invalid(key, node, allowed) }
    return Array(sequence)
  }

  /// `found`, else `fallback`, else a missing-key error.
  func required<T>(_ key: String, _ found: T?, _ fallback: T?, _ expected: String) throws -> T {
    guard let result = found ?? fallback else {
      throw ConfigError.missingKey(key: fullKey(key), expected: expected)
    }
    return result
  }

  /// The error for `node` at `key` not being `allowed`.
  func invalid(_ key: String, _ node: Node, _ allowed: String) -> ConfigError {
    .invalidValue(key: fullKey(key), value: node.configText, allowed: allowed)
  }
}
