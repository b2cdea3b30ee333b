import CZlib
import Foundation

/// The `manifest.json` written last into a checkpoint: the format, the step and
/// every other file's byte count and CRC32, so a reader can tell a finished,
/// intact checkpoint from a torn or corrupted one.
struct CheckpointManifest: Codable, Equatable {
  /// One file's expected length and checksum.
  struct FileRecord: Codable, Equatable {
    /// The file's length in bytes.
    var bytes: Int
    /// zlib's CRC32 of the file, as 8 lowercase hex digits.
    var crc32: String

    /// The record describing `data`.
    init(of data: Data) {
      bytes = data.count
      crc32 = CheckpointManifest.crc32Hex(data)
    }
  }

  /// The format name every manifest carries.
  static let formatName = "node-dist-checkpoint"
  /// The manifest version this code writes and reads.
  static let currentVersion = 1
  /// The manifest's file name inside a checkpoint directory.
  static let fileName = "manifest.json"

  /// Always ``formatName``.
  var format = formatName
  /// Always ``currentVersion`` when written by this code.
  var version = currentVersion
  /// The training step the checkpoint was taken at.
  var step: Int
  /// The records by file name (a plain name inside the checkpoint directory).
  var files: [String: FileRecord]

  /// The manifest's stable, human-readable JSON.
  func encoded() throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    return try encoder.encode(self)
  }

  /// Decodes and checks the format of the manifest bytes read from `path`.
  static func decode(_ data: Data, path: String) throws -> CheckpointManifest {
    /// The fields every version shares, read first to name an unknown version.
    struct Header: Decodable {
      var format: String
      var version: Int
    }
    let decoder = JSONDecoder()
    let header: Header
    do {
      header = try decoder.decode(Header.self, from: data)
    } catch {
      throw CheckpointError.malformedManifest(path: path, reason: "\(error)")
    }
    guard header.format == formatName, header.version == currentVersion else {
      throw CheckpointError.unsupportedFormat(
        path: path, format: header.format, version: header.version)
    }
    do {
      return try decoder.decode(CheckpointManifest.self, from: data)
    } catch {
      throw CheckpointError.malformedManifest(path: path, reason: "\(error)")
    }
  }

  /// zlib's CRC32 of `data` as 8 lowercase hex digits.
  static func crc32Hex(_ data: Data) -> String {
    let crc = data.withUnsafeBytes { raw -> UInt in
      var crc: UInt = 0
      var offset = 0
      // zlib takes 32-bit lengths: feed the bytes in chunks of at most 1 GiB.
      repeat {
        let count = min(raw.count - offset, 1 << 30)
        let start = raw.baseAddress.map {
          $0.advanced(by: offset).assumingMemoryBound(to: Bytef.self)
        }
        crc = CZlib.crc32(crc, start, uInt(count))
        offset += count
      } while offset < raw.count
      return crc
    }
    let hex = String(crc, radix: 16)
    return String(repeating: "0", count: max(0, 8 - hex.count)) + hex
  }
}
