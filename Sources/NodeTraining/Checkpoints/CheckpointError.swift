/// Why a checkpoint could not be written, listed or loaded; every case names
/// the path involved and the check that failed.
public enum CheckpointError: Error, CustomStringConvertible, Equatable {
  /// The store was asked to keep fewer than one checkpoint.
  case invalidKeep(Int)
  /// A checkpoint step must be zero or positive.
  case invalidStep(Int)
  /// A file-system operation failed.
  case fileSystem(path: String, operation: String, reason: String)
  /// Nothing exists at the checkpoint path.
  case notFound(path: String)
  /// Another process is training into the run directory.
  case runDirectoryInUse(path: String)
  /// The checkpoint directory has no manifest, so it was never finished.
  case missingManifest(path: String)
  /// The manifest is not the JSON this store writes.
  case malformedManifest(path: String, reason: String)
  /// The manifest is of another format or a version this reader does not know.
  case unsupportedFormat(path: String, format: String, version: Int)
  /// A file listed in the manifest is absent.
  case missingFile(path: String)
  /// A file's length differs from the manifest's.
  case sizeMismatch(path: String, bytes: Int, expected: Int)
  /// A file's CRC32 differs from the manifest's.
  case checksumMismatch(path: String, crc32: String, expected: String)
  /// The weights could not be encoded or do not parse as safetensors.
  case badWeights(path: String, reason: String)

  public var description: String {
    switch self {
    case .invalidKeep(let keep):
      return "a checkpoint store must keep at least 1 checkpoint, got keep = \(keep)"
    case .invalidStep(let step):
      return "checkpoint step must be >= 0, got \(step)"
    case .fileSystem(let path, let operation, let reason):
      return "\(path): cannot \(operation): \(reason)"
    case .notFound(let path):
      return "\(path): no checkpoint directory there"
    case .runDirectoryInUse(let path):
      return "\(path): run directory in use by another training (it holds the lock on "
        + "\(RunDirectoryLock.fileName)); wait for it or give another --run-dir"
    case .missingManifest(let path):
      return "\(path): no manifest: the checkpoint was not finished"
    case .malformedManifest(let path, let reason):
      return "\(path): malformed manifest: \(reason)"
    case .unsupportedFormat(let path, let format, let version):
      return "\(path): unsupported checkpoint format '\(format)' version \(version); "
        + "this reader knows '\(CheckpointManifest.formatName)' version \(CheckpointManifest.currentVersion)"
    case .missingFile(let path):
      return "\(path) is missing, but the manifest lists it"
    case .sizeMismatch(let path, let bytes, let expected):
      let what = bytes < expected ? "is truncated" : "is too long"
      return "\(path) \(what): \(bytes) bytes, manifest says \(expected)"
    case .checksumMismatch(let path, let crc32, let expected):
      return "\(path): checksum mismatch: CRC32 \(crc32), manifest says \(expected)"
    case .badWeights(let path, let reason):
      return "\(path): bad weights: \(reason)"
    }
  }
}
