/// The values a numeric config key accepts, and the phrase that describes
/// them in error messages (`a number > 0`, `an integer from 1 to 10`).
struct NumberBounds {
  /// The smallest allowed value, if any.
  var minimum: Double?
  /// The largest allowed value, if any.
  var maximum: Double?
  /// Whether `minimum` itself is excluded.
  var exclusiveMinimum = false
  /// Whether `.inf`, `-.inf` and `.nan` are accepted.
  var allowNonFinite = false

  /// Bounds for an integer key from an optional closed range.
  init(range: ClosedRange<Int>?) {
    if let range, range.lowerBound > Int.min { minimum = Double(range.lowerBound) }
    if let range, range.upperBound < Int.max { maximum = Double(range.upperBound) }
  }

  /// Bounds for a floating-point key.
  init(minimum: Double?, maximum: Double?, exclusiveMinimum: Bool, allowNonFinite: Bool) {
    self.minimum = minimum
    self.maximum = maximum
    self.exclusiveMinimum = exclusiveMinimum
    self.allowNonFinite = allowNonFinite
  }

  /// Whether `value` lies within the bounds.
  func contains(_ value: Double) -> Bool {
    if value.isNaN { return allowNonFinite }
    if !value.isFinite && !allowNonFinite { return false }
    if let minimum, exclusiveMinimum ? value <= minimum : value < minimum { return false }
    if let maximum, value > maximum { return false }
    return true
  }

  /// What is allowed, after `noun` (`a number`, `an integer`).
  func describe(_ noun: String) -> String {
    var text = noun
    switch (minimum, maximum) {
    case (let low?, let high?) where !exclusiveMinimum:
      text += " from \(Self.format(low)) to \(Self.format(high))"
    case (let low?, let high?): text += " > \(Self.format(low)) and <= \(Self.format(high))"
    case (let low?, nil): text += " \(exclusiveMinimum ? ">" : ">=") \(Self.format(low))"
    case (nil, let high?): text += " <= \(Self.format(high))"
    case (nil, nil): break
    }
    return text + (allowNonFinite ? " (or .inf, -.inf, .nan)" : "")
  }

  /// `3` rather than `3.0` for whole numbers.
  static func format(_ value: Double) -> String {
    value.rounded() == value && abs(value) < 1e15 ? String(Int(value)) : "\(value)"
  }
}
