import Foundation
import Testing

@testable import NodeTraining

@Suite struct RunDirectoryLockTests {
  /// A second lock on a held run directory is refused with the directory's
  /// name; once the first is released the directory can be locked again.
  @Test func secondTrainingIsRefusedUntilTheFirstEnds() throws {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("node-dist-lock-\(UUID().uuidString)/run")
    defer { try? FileManager.default.removeItem(at: directory.deletingLastPathComponent()) }
    var first: RunDirectoryLock? = try RunDirectoryLock(directory: directory)
    let error = #expect(throws: CheckpointError.self) {
      try RunDirectoryLock(directory: directory)
    }
    #expect(error == .runDirectoryInUse(path: directory.path))
    #expect(error?.description.contains("run directory in use") == true)
    withExtendedLifetime(first) {}
    first = nil
    _ = try RunDirectoryLock(directory: directory)
  }
}
