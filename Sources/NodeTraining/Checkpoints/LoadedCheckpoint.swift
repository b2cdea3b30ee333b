import Foundation
import NodeCore

/// A checkpoint read back and verified: every file the manifest lists has the
/// recorded length and CRC32, and the weights parse as safetensors.
public struct LoadedCheckpoint: Sendable {
  /// The checkpoint directory.
  public let url: URL
  /// The training step it was taken at.
  public let step: Int
  /// The weights; tensor names say layer and parameter.
  public let weights: SafetensorsFile
  /// The trainer's state (`state.json`), byte for byte as saved.
  public let state: Data
  /// The string metadata saved with the weights.
  public var metadata: [String: String] { weights.metadata }

  /// The name of the weights file inside a checkpoint directory.
  static let weightsFileName = "weights.safetensors"
  /// The name of the state file inside a checkpoint directory.
  static let stateFileName = "state.json"

  /// Reads and verifies the checkpoint directory at `url`.
  init(verifying url: URL) throws {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory),
      isDirectory.boolValue
    else { throw CheckpointError.notFound(path: url.path) }
    let manifestURL = url.appendingPathComponent(CheckpointManifest.fileName)
    guard let manifestBytes = FileManager.default.contents(atPath: manifestURL.path) else {
      throw CheckpointError.missingManifest(path: url.path)
    }
    let manifest = try CheckpointManifest.decode(manifestBytes, path: manifestURL.path)
    if let named = CheckpointStore.step(ofDirectoryNamed: url.lastPathComponent),
      named != manifest.step
    {
      throw CheckpointError.malformedManifest(
        path: manifestURL.path, reason: "step \(manifest.step), directory name says \(named)")
    }
    var contents: [String: Data] = [:]
    for name in [Self.weightsFileName, Self.stateFileName] where manifest.files[name] == nil {
      throw CheckpointError.malformedManifest(path: manifestURL.path, reason: "\(name) not listed")
    }
    for (name, record) in manifest.files.sorted(by: { $0.key < $1.key }) {
      guard !name.contains("/"), name != "..", name != "." else {
        throw CheckpointError.malformedManifest(
          path: manifestURL.path, reason: "'\(name)' is not a plain file name")
      }
      contents[name] = try Self.verifiedContents(of: url.appendingPathComponent(name), record)
    }
    let weightsPath = url.appendingPathComponent(Self.weightsFileName).path
    do {
      weights = try SafetensorsFile(bytes: contents[Self.weightsFileName]!, source: weightsPath)
    } catch {
      throw CheckpointError.badWeights(path: weightsPath, reason: "\(error)")
    }
    self.url = url
    step = manifest.step
    state = contents[Self.stateFileName]!
  }

  /// The bytes of the file at `url`, checked against its manifest record.
  private static func verifiedContents(
    of url: URL, _ record: CheckpointManifest.FileRecord
  ) throws -> Data {
    guard let data = FileManager.default.contents(atPath: url.path) else {
      throw CheckpointError.missingFile(path: url.path)
    }
    guard data.count == record.bytes else {
      throw CheckpointError.sizeMismatch(path: url.path, bytes: data.count, expected: record.bytes)
    }
    let crc = CheckpointManifest.crc32Hex(data)
    guard crc == record.crc32.lowercased() else {
      throw CheckpointError.checksumMismatch(path: url.path, crc32: crc, expected: record.crc32)
    }
    return data
  }
}
