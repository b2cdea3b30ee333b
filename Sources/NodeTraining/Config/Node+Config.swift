import Foundation
import Yams

/// How the config reader sees YAML nodes: null, plain text, numbers, and a
/// compact rendering for error messages.
extension Node {
  /// An empty mapping, what a missing section reads as.
  static var emptyMapping: Node.Mapping { Node.Mapping([]) }

  /// Whether this is an unquoted `null`, `~` or empty scalar.
  var isNull: Bool {
    guard let text = plainText else { return false }
    return ["", "~", "null", "Null", "NULL"].contains(text)
  }

  /// The text of an unquoted scalar; nil for quoted scalars and collections.
  var plainText: String? {
    guard case .scalar(let scalar) = self, scalar.style == .plain || scalar.style == .any else {
      return nil
    }
    return scalar.string
  }

  /// An integer written in YAML's decimal form (`10`, `-3`, `1_000`).
  var configInt: Int? {
    guard let text = plainText else { return nil }
    let digits = text.drop { $0 == "-" || $0 == "+" }
    guard text.count - digits.count <= 1, let first = digits.first, first.isASCII, first.isNumber,
      digits.allSatisfy({ $0 == "_" || ($0.isASCII && $0.isNumber) })
    else { return nil }
    return Int(text.replacingOccurrences(of: "_", with: ""))
  }

  /// A number in decimal or exponent form (`1e-5`, `0.5`, `3`), or YAML's
  /// `.inf`, `-.inf` and `.nan`; parsed by Swift rather than by YAML 1.1's
  /// float rule, which reads `1e-5` as a string.
  var configDouble: Double? {
    guard let text = plainText?.lowercased() else { return nil }
    let word = text.trimmingCharacters(in: CharacterSet(charactersIn: "+-"))
    if [".inf", "inf", "infinity"].contains(word) {
      return text.hasPrefix("-") ? -.infinity : .infinity
    }
    if [".nan", "nan"].contains(word) { return .nan }
    guard text.contains(where: \.isNumber), text.allSatisfy({ "0123456789+-._e".contains($0) })
    else {
      return nil
    }
    return Double(text.replacingOccurrences(of: "_", with: ""))
  }

  /// The name of a mapping key: a scalar's text without quotes.
  var keyText: String { scalar?.string ?? configText }

  /// The node as a user would write it on one line: quoted scalars keep
  /// their quotes, collections use flow style.
  var configText: String {
    switch self {
    case .scalar(let scalar):
      return plainText ?? "\"\(scalar.string)\""
    case .sequence(let sequence):
      return "[" + sequence.map(\.configText).joined(separator: ", ") + "]"
    case .mapping(let mapping):
      let pairs = mapping.map { "\($0.key.configText): \($0.value.configText)" }
      return "{" + pairs.joined(separator: ", ") + "}"
    case .alias(let alias):
      return "*\(alias.anchor.rawValue)"
    }
  }

  /// What a YAML error was and, when `located`, where: for
  /// `ConfigError.syntax` and for override values.
  static func describe(_ error: any Error, located: Bool = true) -> String {
    func at(_ mark: Mark) -> String { located ? "line \(mark.line), column \(mark.column): " : "" }
    switch error as? YamlError {
    case .scanner(let context, let problem, let mark, _),
      .parser(let context, let problem, let mark, _),
      .composer(let context, let problem, let mark, _):
      return at(mark) + [context?.text, problem].compactMap { $0 }.joined(separator: ", ")
    case .duplicatedKeysInMapping(let duplicates, let context):
      return at(context.mark) + "duplicate key "
        + duplicates.map { "'\($0)'" }.joined(separator: ", ")
    case .reader(let problem, _, _, _):
      return problem
    default:
      return "\(error)"
    }
  }
}

extension Node.Mapping {
  /// The value at the key whose text is `key`, quoted or not.
  func lookup(_ key: String) -> Node? {
    first { $0.key.keyText == key }?.value
  }
}
