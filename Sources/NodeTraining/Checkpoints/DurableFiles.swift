import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The POSIX calls that make a checkpoint durable: files written and fsynced,
/// directories fsynced, renames. Failures become ``CheckpointError/fileSystem(path:operation:reason:)``.
enum DurableFiles {
  /// Creates `url` (which must not exist), writes `data` and fsyncs it.
  static func writeSynced(_ data: Data, to url: URL) throws {
    let fd = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw failure(url.path, "create file") }
    defer { close(fd) }
    try data.withUnsafeBytes { raw in
      var offset = 0
      while offset < raw.count {
        let written = write(fd, raw.baseAddress! + offset, raw.count - offset)
        if written < 0 && errno == EINTR { continue }
        guard written > 0 else { throw failure(url.path, "write \(raw.count) bytes") }
        offset += written
      }
    }
    guard fsync(fd) == 0 else { throw failure(url.path, "fsync file") }
  }

  /// Fsyncs the directory at `url`, making renames and creations inside it durable.
  static func syncDirectory(_ url: URL) throws {
    let fd = open(url.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else { throw failure(url.path, "open directory") }
    defer { close(fd) }
    guard fsync(fd) == 0 else { throw failure(url.path, "fsync directory") }
  }

  /// Renames `source` to `destination` (atomic within one file system).
  static func move(_ source: URL, to destination: URL) throws {
    guard rename(source.path, destination.path) == 0 else {
      throw failure(source.path, "rename to \(destination.path)")
    }
  }

  /// Removes the file or directory tree at `url`.
  static func removeTree(_ url: URL) throws {
    do {
      try FileManager.default.removeItem(at: url)
    } catch {
      throw CheckpointError.fileSystem(
        path: url.path, operation: "remove", reason: error.localizedDescription)
    }
  }

  /// The error for the failed `operation` on `path`, described by `errno`.
  private static func failure(_ path: String, _ operation: String) -> CheckpointError {
    .fileSystem(path: path, operation: operation, reason: String(cString: strerror(errno)))
  }
}
