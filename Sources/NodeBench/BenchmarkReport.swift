import Foundation

/// Wall-time statistics of repeated runs of one workload.
public struct TimingSummary: Sendable, Equatable {
  /// The median run time, in milliseconds.
  public let medianMilliseconds: Double
  /// The fastest run, in milliseconds.
  public let minMilliseconds: Double
  /// The slowest run, in milliseconds.
  public let maxMilliseconds: Double

  /// Summarises run times given in milliseconds (at least one).
  public init(milliseconds samples: [Double]) {
    precondition(!samples.isEmpty, "no timing samples")
    let sorted = samples.sorted()
    let middle = sorted.count / 2
    medianMilliseconds =
      sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    minMilliseconds = sorted.first!
    maxMilliseconds = sorted.last!
  }

  /// Times `body` `iterations` times after `warmup` untimed runs.
  public static func measure(
    iterations: Int, warmup: Int, _ body: () throws -> Void
  ) rethrows -> TimingSummary {
    for _ in 0..<warmup { try body() }
    var samples: [Double] = []
    samples.reserveCapacity(iterations)
    let clock = ContinuousClock()
    for _ in 0..<Swift.max(iterations, 1) {
      let elapsed = try clock.measure(body)
      samples.append(
        Double(elapsed.components.seconds) * 1e3 + Double(elapsed.components.attoseconds) * 1e-15)
    }
    return TimingSummary(milliseconds: samples)
  }
}

/// One JSON object with its keys in a fixed order, printed on one line.
public struct JSONLine: CustomStringConvertible, Sendable {
  private var fields: [(String, String)] = []

  /// An empty object.
  public init() {}

  /// Appends a string field.
  public mutating func add(_ key: String, _ value: String) {
    let data = try! JSONSerialization.data(
      withJSONObject: [value], options: [.withoutEscapingSlashes])
    let encoded = String(decoding: data, as: UTF8.self)
    fields.append((key, String(encoded.dropFirst().dropLast())))
  }

  /// Appends an integer field.
  public mutating func add(_ key: String, _ value: Int) { fields.append((key, String(value))) }

  /// Appends a number field, rounded to `digits` decimals (non-finite values become null).
  public mutating func add(_ key: String, _ value: Double, digits: Int = 3) {
    fields.append((key, value.isFinite ? String(format: "%.\(digits)f", value) : "null"))
  }

  /// The encoded value of a field, as printed.
  func rawValue(_ key: String) -> String? { fields.first { $0.0 == key }?.1 }

  public var description: String {
    "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
  }
}
