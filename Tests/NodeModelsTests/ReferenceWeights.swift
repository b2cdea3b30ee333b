import Foundation

/// Where the reference weight files of WORKLOADS.md are: `$NODE_DIST_WEIGHTS`,
/// or `../shared/weights` beside the repository. Tests that need one are
/// skipped (not failed) on a machine without them.
enum ReferenceWeights {
  static let directory: URL = {
    if let path = ProcessInfo.processInfo.environment["NODE_DIST_WEIGHTS"] {
      return URL(fileURLWithPath: path)
    }
    // Tests/NodeModelsTests/ReferenceWeights.swift → the repository's parent.
    return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("shared/weights")
  }()

  static func url(_ name: String) -> URL {
    directory.appendingPathComponent("\(name).safetensors")
  }

  static func available(_ name: String) -> Bool {
    FileManager.default.fileExists(atPath: url(name).path)
  }
}
