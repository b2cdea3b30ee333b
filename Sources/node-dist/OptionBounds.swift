import ArgumentParser

/// The range check every sized option makes before any work, with one
/// message: `--name must be in LOW ... HIGH, got VALUE`.
enum OptionBounds {
  /// Refuses `value` of option `name` outside `range`.
  static func check(_ name: String, _ value: Int, in range: ClosedRange<Int>) throws {
    guard range.contains(value) else {
      throw ValidationError(
        "\(name) must be in \(range.lowerBound) ... \(range.upperBound), got \(value)")
    }
  }
}
