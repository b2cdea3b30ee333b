import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// An exclusive lock on a run directory for as long as a training writes
/// into it: a second training started on the same directory is refused
/// before it moves or overwrites anything.
///
/// The lock is an advisory `flock` on `.lock` inside the directory; the
/// operating system releases it when the process ends, however it ends, so
/// a killed run never leaves a stale lock behind.
public final class RunDirectoryLock {
  /// The lock file's name inside the run directory.
  public static let fileName = ".lock"
  private let descriptor: Int32

  /// Takes the lock on `directory` (created if need be) without waiting.
  ///
  /// - Throws: ``CheckpointError/runDirectoryInUse(path:)`` when another
  ///   process holds it; ``CheckpointError/fileSystem(path:operation:reason:)``
  ///   when the lock file cannot be opened.
  public init(directory: URL) throws {
    let path = directory.appendingPathComponent(Self.fileName).path
    do {
      try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    } catch {
      throw CheckpointError.fileSystem(
        path: directory.path, operation: "create the run directory",
        reason: error.localizedDescription)
    }
    let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    guard fd >= 0 else {
      throw CheckpointError.fileSystem(
        path: path, operation: "open the lock file", reason: String(cString: strerror(errno)))
    }
    guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
      let busy = errno == EWOULDBLOCK
      let reason = String(cString: strerror(errno))
      close(fd)
      if busy { throw CheckpointError.runDirectoryInUse(path: directory.path) }
      throw CheckpointError.fileSystem(path: path, operation: "lock", reason: reason)
    }
    descriptor = fd
  }

  deinit { close(descriptor) }
}
