import ArgumentParser
import Foundation

/// Checks made before any work on the files a command will write, so that
/// a mistyped path fails at once with a plain message instead of after the
/// work with a Foundation error.
enum OutputPaths {
  /// Refuses an output (option, path) that is a directory or whose parent
  /// directory does not exist.
  static func checkWritable(_ outputs: [(String, String)]) throws {
    let manager = FileManager.default
    for (option, path) in outputs {
      let url = URL(fileURLWithPath: path)
      var isDirectory: ObjCBool = false
      if manager.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue {
        throw ValidationError("\(option) \(path) is a directory; give a file name")
      }
      let parent = url.deletingLastPathComponent()
      guard manager.fileExists(atPath: parent.path, isDirectory: &isDirectory),
        isDirectory.boolValue
      else {
        throw ValidationError(
          "\(option) \(path): the directory \(parent.path) does not exist")
      }
    }
  }

  /// Refuses an output directory (option, path) that is empty or names
  /// something other than a directory; a missing one is created later.
  static func checkDirectory(_ option: String, _ path: String) throws {
    if path.isEmpty { throw ValidationError("\(option) must name a directory, got an empty path") }
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory),
      !isDirectory.boolValue
    {
      throw ValidationError("\(option) \(path) is a file, not a directory; give a directory")
    }
  }
}
