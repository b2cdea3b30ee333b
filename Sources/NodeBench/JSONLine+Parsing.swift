import Foundation

extension JSONLine {
  /// A line could not be read back as a JSON object.
  public struct ParseError: Error, CustomStringConvertible {
    /// The text that was not a JSON object.
    public let text: String
    public var description: String { "not a one-line JSON object: \(text.prefix(200))" }
  }

  /// Reads back a line that ``description`` printed (keys in sorted order).
  ///
  /// - Throws: ``ParseError`` when `text` is not a JSON object of strings,
  ///   numbers and nulls.
  public init(parsing text: String) throws {
    self.init()
    guard
      let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
    else { throw ParseError(text: text) }
    for key in object.keys.sorted() {
      switch object[key] {
      case let value as String: add(key, value)
      case let value as NSNumber: add(key, value.doubleValue, digits: 6)
      case is NSNull: add(key, Double.nan)
      default: throw ParseError(text: text)
      }
    }
  }

  /// The value of a string field, or nil.
  public func string(_ key: String) -> String? {
    guard let raw = rawValue(key), raw.hasPrefix("\"") else { return nil }
    return
      (try? JSONSerialization.jsonObject(
        with: Data("[\(raw)]".utf8)) as? [String])?.first
  }

  /// The value of a number field, or nil (also for null).
  public func number(_ key: String) -> Double? { rawValue(key).flatMap(Double.init) }
}
