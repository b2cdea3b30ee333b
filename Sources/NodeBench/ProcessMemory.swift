import Foundation

/// The memory use of this process, from Linux's `/proc/self/status`.
public enum ProcessMemory {
  /// The peak resident set size ("high-water mark", `VmHWM`) in mebibytes,
  /// or nil where `/proc` is unavailable.
  public static var peakResidentMegabytes: Double? { statusField("VmHWM") }

  /// The current resident set size (`VmRSS`) in mebibytes, or nil where `/proc` is unavailable.
  public static var residentMegabytes: Double? { statusField("VmRSS") }

  private static func statusField(_ name: String) -> Double? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else {
      return nil
    }
    for line in status.split(separator: "\n") where line.hasPrefix(name + ":") {
      let kilobytes = line.split(separator: " ").dropFirst().first { Double($0) != nil }
      return kilobytes.flatMap { Double($0) }.map { $0 / 1024 }
    }
    return nil
  }
}
