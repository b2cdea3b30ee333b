import Foundation
import Yams

extension ConfigReader {
  /// Applies a command-line `--set` override `a.b.c=value`: the value is a
  /// YAML scalar or flow collection (`3e-4`, `true`, `[1, 2]`,
  /// `{kind: cosine}`, `moons`); missing intermediate mappings are created.
  /// - Throws: ``ConfigError/invalidOverride(text:reason:)`` when there is no
  ///   `=`, the key is empty or has an empty part, the value is not a scalar
  ///   or flow collection, the path runs through a non-mapping, or reading has
  ///   already begun.
  public func applyOverride(_ assignment: String) throws {
    func fail(_ reason: String) -> ConfigError {
      .invalidOverride(text: assignment, reason: reason)
    }
    guard !hasStartedReading else {
      throw fail("overrides must be applied before the config is read")
    }
    guard let equals = assignment.firstIndex(of: "=") else {
      throw fail("expected key=value, for example optimizer.lr=3e-4")
    }
    let key = assignment[..<equals].trimmingCharacters(in: .whitespaces)
    let parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
    guard !key.isEmpty else { throw fail("the key before '=' is empty") }
    guard !parts.contains(where: \.isEmpty) else {
      throw fail("the key '\(key)' has an empty part")
    }
    let text = assignment[assignment.index(after: equals)...].trimmingCharacters(in: .whitespaces)
    // An empty value would read as null, i.e. the default: almost surely a slip.
    guard !text.isEmpty else {
      throw fail("the value after '=' is empty; write null to use the key's default")
    }
    let value: Node
    do {
      value = try Yams.compose(yaml: text) ?? Node("", .implicit, .plain)
    } catch {
      throw fail("the value is not valid YAML: \(Node.describe(error, located: false))")
    }
    if value.scalar == nil && !(text.hasPrefix("[") || text.hasPrefix("{")) {
      throw fail("the value must be a scalar or a flow collection such as [1, 2] or {kind: cosine}")
    }
    let updated = try setting(value, at: parts[...], in: document, above: "", fail: fail)
    commit(override: assignment, document: updated)
  }

  /// `mapping` with `value` stored at the key path `parts`, creating missing
  /// (or null) intermediate mappings; `above` is the dotted path of `mapping`.
  private func setting(
    _ value: Node, at parts: ArraySlice<String>, in mapping: Node.Mapping, above: String,
    fail: (String) -> ConfigError
  ) throws -> Node.Mapping {
    var mapping = mapping
    let key = parts.first!
    let path = ConfigSection.join(above, key)
    let keyNode = mapping.first { $0.key.keyText == key }?.key ?? Node(key)
    guard parts.count > 1 else {
      mapping[keyNode] = value
      return mapping
    }
    let child: Node.Mapping
    switch mapping[keyNode] {
    case .mapping(let existing)?: child = existing
    case nil: child = Node.emptyMapping
    case let other? where other.isNull: child = Node.emptyMapping
    case let other?:
      throw fail("'\(path)' holds '\(other.configText)', not a mapping of keys to values")
    }
    let rest = parts.dropFirst()
    mapping[keyNode] = .mapping(try setting(value, at: rest, in: child, above: path, fail: fail))
    return mapping
  }
}
