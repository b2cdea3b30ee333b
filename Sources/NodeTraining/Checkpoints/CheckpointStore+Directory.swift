import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Listing, installing and pruning the store's directory entries.
extension CheckpointStore {
  /// The prefix of every temporary directory; leftovers from a crash are removed on save.
  static let temporaryPrefix = ".tmp-"

  /// The final-named checkpoint directories with their steps, oldest first.
  func entries() throws -> [(step: Int, url: URL)] {
    let names: [String]
    do {
      names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
    } catch {
      throw CheckpointError.fileSystem(
        path: directory.path, operation: "list directory", reason: error.localizedDescription)
    }
    return names.compactMap { name -> (step: Int, url: URL)? in
      var isDirectory: ObjCBool = false
      let url = directory.appendingPathComponent(name, isDirectory: true)
      guard let step = Self.step(ofDirectoryNamed: name),
        FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory),
        isDirectory.boolValue
      else { return nil }
      return (step, url)
    }.sorted { $0.step < $1.step }
  }

  /// A fresh temporary sibling for the checkpoint named `name` (or its displaced predecessor).
  func temporarySibling(_ name: String) -> URL {
    let random = String(UInt64.random(in: 0...UInt64.max), radix: 16)
    return directory.appendingPathComponent(
      "\(Self.temporaryPrefix)\(name)-\(getpid())-\(random)", isDirectory: true)
  }

  /// Renames the finished `temporary` directory to `final`; an existing
  /// checkpoint there is renamed aside first and removed once the new one is in place.
  func install(_ temporary: URL, at final: URL) throws {
    var displaced: URL?
    if FileManager.default.fileExists(atPath: final.path) {
      let aside = temporarySibling(final.lastPathComponent)
      try DurableFiles.move(final, to: aside)
      displaced = aside
    }
    do {
      try DurableFiles.move(temporary, to: final)
    } catch {
      // Put the previous checkpoint back rather than leave the step empty.
      if let displaced { try? DurableFiles.move(displaced, to: final) }
      throw error
    }
    try DurableFiles.syncDirectory(directory)
    if let displaced { try DurableFiles.removeTree(displaced) }
  }

  /// Removes stale temporary directories and every checkpoint except
  /// `justWritten` and the newest `keep - 1` others that look finished (have a
  /// manifest); unfinished-looking ones are removed too.
  func prune(keeping justWritten: Int) throws {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    for name in names where name.hasPrefix(Self.temporaryPrefix) {
      try DurableFiles.removeTree(directory.appendingPathComponent(name))
    }
    let others = try entries().filter { $0.step != justWritten }
    let survivors = Set(
      others.filter { Self.looksFinished($0.url) }.suffix(keep - 1).map(\.step))
    for entry in others where !survivors.contains(entry.step) {
      try DurableFiles.removeTree(entry.url)
    }
  }

  /// Whether `url` holds a manifest, as every finished checkpoint does (a
  /// cheap check: checksums are verified on load).
  static func looksFinished(_ url: URL) -> Bool {
    FileManager.default.fileExists(
      atPath: url.appendingPathComponent(CheckpointManifest.fileName).path)
  }
}
