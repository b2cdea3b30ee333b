import Yams

extension ConfigSection {
  /// The integer at `key` (`10`, `-3`, `1_000`; not `2.5`), or `default` when
  /// missing, within `range` if given.
  /// - Throws: ``ConfigError/invalidValue(key:value:allowed:)`` or
  ///   ``ConfigError/missingKey(key:expected:)``.
  public func int(_ key: String, default fallback: Int?, range: ClosedRange<Int>? = nil) throws
    -> Int
  {
    let allowed = NumberBounds(range: range).describe("an integer")
    return try required(key, optionalInt(key, range: range), fallback, allowed)
  }

  /// The integer at `key` within `range` if given, or nil when missing or null.
  /// - Throws: ``ConfigError/invalidValue(key:value:allowed:)``.
  public func optionalInt(_ key: String, range: ClosedRange<Int>? = nil) throws -> Int? {
    try value(key).map { try Self.int($0, at: fullKey(key), range: range) }
  }

  /// The integers listed at `key`, each within `range` if given, or `default`
  /// when missing; a bad element is named `key[i]`.
  /// - Throws: ``ConfigError/invalidValue(key:value:allowed:)`` or
  ///   ``ConfigError/missingKey(key:expected:)``.
  public func ints(_ key: String, default fallback: [Int]?, range: ClosedRange<Int>? = nil)
    throws -> [Int]
  {
    let values = try list(key, "a list of integers")?.enumerated().map { index, node in
      try Self.int(node, at: "\(fullKey(key))[\(index)]", range: range)
    }
    return try required(key, values, fallback, "a list of integers")
  }

  /// The number at `key` (an integer or a float such as `1e-5`), or `default`
  /// when missing; `.inf` and `.nan` only with `allowNonFinite`.
  /// - Throws: ``ConfigError/invalidValue(key:value:allowed:)`` naming the
  ///   bounds, or ``ConfigError/missingKey(key:expected:)``.
  public func double(
    _ key: String, default fallback: Double?, minimum: Double? = nil, maximum: Double? = nil,
    exclusiveMinimum: Bool = false, allowNonFinite: Bool = false
  ) throws -> Double {
    let bounds = NumberBounds(
      minimum: minimum, maximum: maximum, exclusiveMinimum: exclusiveMinimum,
      allowNonFinite: allowNonFinite)
    let found = try value(key).map { try Self.double($0, at: fullKey(key), bounds: bounds) }
    return try required(key, found, fallback, bounds.describe("a number"))
  }

  /// The number at `key` within the bounds, or nil when missing or null.
  /// - Throws: ``ConfigError/invalidValue(key:value:allowed:)``.
  public func optionalDouble(
    _ key: String, minimum: Double? = nil, maximum: Double? = nil, exclusiveMinimum: Bool = false,
    allowNonFinite: Bool = false
  ) throws -> Double? {
    let bounds = NumberBounds(
      minimum: minimum, maximum: maximum, exclusiveMinimum: exclusiveMinimum,
      allowNonFinite: allowNonFinite)
    return try value(key).map { try Self.double($0, at: fullKey(key), bounds: bounds) }
  }

  /// The numbers listed at `key`, each within the bounds, or `default` when
  /// missing; a bad element is named `key[i]`.
  /// - Throws: ``ConfigError/invalidValue(key:value:allowed:)`` or
  ///   ``ConfigError/missingKey(key:expected:)``.
  public func doubles(
    _ key: String, default fallback: [Double]?, minimum: Double? = nil, maximum: Double? = nil,
    exclusiveMinimum: Bool = false
  ) throws -> [Double] {
    let bounds = NumberBounds(
      minimum: minimum, maximum: maximum, exclusiveMinimum: exclusiveMinimum, allowNonFinite: false)
    let values = try list(key, "a list of numbers")?.enumerated().map { index, node in
      try Self.double(node, at: "\(fullKey(key))[\(index)]", bounds: bounds)
    }
    return try required(key, values, fallback, "a list of numbers")
  }

  /// `node` as an integer within `range`, else an error naming `key`.
  private static func int(_ node: Node, at key: String, range: ClosedRange<Int>?) throws -> Int {
    guard let value = node.configInt, range?.contains(value) ?? true else {
      let allowed = NumberBounds(range: range).describe("an integer")
      throw ConfigError.invalidValue(key: key, value: node.configText, allowed: allowed)
    }
    return value
  }

  /// `node` as a number within `bounds`, else an error naming `key`.
  ///
  /// A finite number must also survive the models' 32-bit floats: one that
  /// would round to infinity, or a nonzero one that would round to zero or
  /// lose its precision (subnormal), is refused here rather than failing
  /// the run's first step.
  private static func double(_ node: Node, at key: String, bounds: NumberBounds) throws -> Double {
    guard let value = node.configDouble, bounds.contains(value) else {
      throw ConfigError.invalidValue(
        key: key, value: node.configText, allowed: bounds.describe("a number"))
    }
    let magnitude = Swift.abs(value)
    let fitsFloat =
      !value.isFinite || value == 0
      || (magnitude <= Double(Float.greatestFiniteMagnitude)
        && magnitude >= Double(Float.leastNormalMagnitude))
    guard fitsFloat else {
      throw ConfigError.invalidValue(
        key: key, value: node.configText,
        allowed: bounds.describe("a number")
          + ", and 0 or of magnitude 1.2e-38 to 3.4e38 (32-bit float)")
    }
    return value
  }
}
