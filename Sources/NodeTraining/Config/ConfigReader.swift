import Foundation
import Yams

/// A YAML experiment config, read strictly: typed getters on ``ConfigSection``
/// validate every value, and ``checkAllKeysRead()`` rejects any key the
/// program never asked for, so a typo is an error rather than a silent default.
///
/// A reference type so that every section shares one record of which keys
/// were read. Apply `--set` overrides first, then read through ``root``, then
/// call ``checkAllKeysRead()``.
public final class ConfigReader {
  /// Where the YAML came from (a file path or a label), for messages.
  public let source: String
  /// The `key=value` overrides applied so far, in order.
  public private(set) var overrides: [String] = []
  /// The top-level mapping, with overrides applied.
  private(set) var document: Node.Mapping
  /// For each mapping's dotted path, the keys the program asked for.
  private var queried: [String: Set<String>] = [:]
  /// Whether reading has begun, after which overrides are refused.
  private(set) var hasStartedReading = false

  /// Parses `yaml`; an empty document is an empty mapping.
  /// - Throws: ``ConfigError/syntax(source:message:)`` when the YAML does not
  ///   parse or its top level is not a mapping.
  public init(yaml: String, source: String) throws {
    self.source = source
    let node: Node?
    do {
      node = try Yams.compose(yaml: yaml)
    } catch {
      throw ConfigError.syntax(source: source, message: Node.describe(error))
    }
    switch node {
    case .mapping(let mapping): document = mapping
    case nil: document = Node.emptyMapping
    case let node? where node.isNull: document = Node.emptyMapping
    case let node?:
      throw ConfigError.syntax(
        source: source,
        message: "the top level must be a mapping of keys to values, not '\(node.configText)'")
    }
  }

  /// Reads the YAML file at `url`.
  /// - Throws: ``ConfigError/unreadableFile(path:reason:)`` when the file is
  ///   missing or not UTF-8 text, or any error of ``init(yaml:source:)``.
  public convenience init(contentsOf url: URL) throws {
    let text: String
    do {
      text = try String(contentsOf: url, encoding: .utf8)
    } catch {
      let exists = FileManager.default.fileExists(atPath: url.path)
      throw ConfigError.unreadableFile(
        path: url.path, reason: exists ? "it is not readable UTF-8 text" : "no such file")
    }
    try self.init(yaml: text, source: url.path)
  }

  /// The top-level section; reading through it closes the config to overrides.
  public var root: ConfigSection {
    hasStartedReading = true
    return ConfigSection(reader: self, path: "", mapping: document)
  }

  /// The document after overrides as YAML, to save beside a run; it reads
  /// back through ``init(yaml:source:)`` to the same values.
  public var resolvedYAML: String {
    (try? Yams.serialize(node: .mapping(document))) ?? ""
  }

  /// Replaces the document with `updated`, the result of `assignment`.
  func commit(override assignment: String, document updated: Node.Mapping) {
    document = updated
    overrides.append(assignment)
  }

  /// Records that the program asked for `key` in the mapping at `path`.
  func noteQuery(_ key: String, in path: String) {
    queried[path, default: []].insert(key)
  }

  /// Throws for the first mapping, in document order, holding keys that were
  /// never read; `allowed` lists, sorted, the keys the program asked for there.
  /// - Throws: ``ConfigError/unknownKeys(source:path:keys:allowed:)``.
  public func checkAllKeysRead() throws {
    try checkKeysRead(in: .mapping(document), path: "")
  }

  private func checkKeysRead(in node: Node, path: String) throws {
    switch node {
    case .mapping(let mapping):
      let known = queried[path] ?? []
      let unknown = mapping.map(\.key.keyText).filter { !known.contains($0) }
      if let first = unknown.first {
        throw ConfigError.unknownKeys(
          source: origin(of: ConfigSection.join(path, first)), path: path, keys: unknown,
          allowed: known.sorted())
      }
      for (key, value) in mapping {
        try checkKeysRead(in: value, path: ConfigSection.join(path, key.keyText))
      }
    case .sequence(let sequence):
      for (index, element) in sequence.enumerated() {
        try checkKeysRead(in: element, path: "\(path)[\(index)]")
      }
    case .scalar, .alias:
      break
    }
  }

  /// The override that wrote, created or went through `path`, else the file.
  private func origin(of path: String) -> String {
    let assignment = overrides.last { text in
      let target = String(text.prefix { $0 != "=" }).trimmingCharacters(in: .whitespaces)
      return target == path || target.hasPrefix(path + ".") || path.hasPrefix(target + ".")
        || path.hasPrefix(target + "[")
    }
    return assignment.map { "--set \($0)" } ?? source
  }
}
