import Foundation
import NodeCore

/// A directory of checkpoints, one `step-00000120` directory each, holding
/// `weights.safetensors`, the trainer's `state.json` and a `manifest.json`
/// of byte counts and CRC32s written last.
///
/// A checkpoint is written into a temporary sibling, fsynced and renamed into
/// place, so a final name never holds a half-written checkpoint; then all but
/// the newest ``keep`` are removed. One process (rank 0) writes a store.
public struct CheckpointStore: Sendable {
  /// The directory holding the checkpoints.
  public let directory: URL
  /// How many checkpoints survive pruning.
  public let keep: Int

  /// A store in `directory`, created if needed, keeping the newest `keep` (≥ 1) checkpoints.
  public init(directory: URL, keep: Int) throws {
    guard keep >= 1 else { throw CheckpointError.invalidKeep(keep) }
    do {
      try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    } catch {
      throw CheckpointError.fileSystem(
        path: directory.path, operation: "create directory", reason: error.localizedDescription)
    }
    self.directory = directory
    self.keep = keep
  }

  /// Durably writes the checkpoint of `step`, replacing any earlier one of the
  /// same step, prunes older checkpoints and returns the checkpoint's directory.
  ///
  /// An error thrown while pruning comes after the new checkpoint is in place.
  ///
  /// - Parameters:
  ///   - weights: the F32 parameters, named by layer and parameter.
  ///   - metadata: strings stored in the safetensors header.
  ///   - state: the trainer's JSON state, stored as given.
  @discardableResult
  public func save(
    step: Int, weights: [String: Tensor<Float>], metadata: [String: String] = [:], state: Data
  ) throws -> URL {
    guard step >= 0 else { throw CheckpointError.invalidStep(step) }
    let name = Self.directoryName(step: step)
    let final = directory.appendingPathComponent(name, isDirectory: true)
    let weightsBytes: Data
    do {
      weightsBytes = try SafetensorsWriter.encode(weights, metadata: metadata)
    } catch {
      throw CheckpointError.badWeights(path: final.path, reason: "\(error)")
    }
    let temporary = temporarySibling(name)
    do {
      try FileManager.default.createDirectory(at: temporary, withIntermediateDirectories: false)
    } catch {
      throw CheckpointError.fileSystem(
        path: temporary.path, operation: "create directory", reason: error.localizedDescription)
    }
    do {
      let files = [
        LoadedCheckpoint.weightsFileName: weightsBytes, LoadedCheckpoint.stateFileName: state,
      ]
      for (file, bytes) in files {
        try DurableFiles.writeSynced(bytes, to: temporary.appendingPathComponent(file))
      }
      let manifest = CheckpointManifest(
        step: step, files: files.mapValues(CheckpointManifest.FileRecord.init(of:)))
      try DurableFiles.writeSynced(
        try manifest.encoded(), to: temporary.appendingPathComponent(CheckpointManifest.fileName))
      try DurableFiles.syncDirectory(temporary)
      try install(temporary, at: final)
    } catch {
      try? DurableFiles.removeTree(temporary)
      throw error
    }
    try prune(keeping: step)
    return final
  }

  /// The finished-looking checkpoint directories, oldest step first; temporary
  /// directories and unrelated files are ignored.
  public func checkpoints() throws -> [URL] {
    try entries().map(\.url)
  }

  /// Loads and verifies the checkpoint directory at `url`.
  public static func load(_ url: URL) throws -> LoadedCheckpoint {
    try LoadedCheckpoint(verifying: url)
  }

  /// The newest checkpoint that verifies, and the newer ones skipped as
  /// corrupt, truncated or unfinished, with the reason (for the caller to log).
  /// `checkpoint` is nil when none verifies.
  public func newestValid() throws -> (
    checkpoint: LoadedCheckpoint?, skipped: [(url: URL, reason: String)]
  ) {
    var skipped: [(url: URL, reason: String)] = []
    for url in try checkpoints().reversed() {
      do {
        return (try Self.load(url), skipped)
      } catch {
        skipped.append((url, "\(error)"))
      }
    }
    return (nil, skipped)
  }

  /// The directory name of the checkpoint of `step`, e.g. `step-00000120`.
  static func directoryName(step: Int) -> String {
    let digits = String(step)
    return "step-" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
  }

  /// The step a checkpoint directory name encodes, or nil for any other name.
  static func step(ofDirectoryNamed name: String) -> Int? {
    guard name.hasPrefix("step-") else { return nil }
    let digits = name.dropFirst(5)
    guard digits.count >= 8, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
    return Int(digits)
  }
}
