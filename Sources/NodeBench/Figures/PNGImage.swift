import CZlib
import Foundation

/// An 8-bit RGB image and its PNG encoding (one IDAT chunk, no filtering,
/// zlib-compressed; CRCs by zlib's `crc32`).
public struct PNGImage: Sendable {
  /// Pixel columns and rows.
  public let width: Int
  public let height: Int
  /// `height × width × 3` bytes, rows top to bottom.
  public var pixels: [UInt8]

  /// A white image.
  public init(width: Int, height: Int) {
    precondition(width > 0 && height > 0, "an image needs positive sizes, got \(width)×\(height)")
    self.width = width
    self.height = height
    pixels = [UInt8](repeating: 255, count: width * height * 3)
  }

  /// Sets the pixel at column `x`, row `y` (from the top).
  public mutating func set(x: Int, y: Int, _ color: (UInt8, UInt8, UInt8)) {
    let i = (y * width + x) * 3
    (pixels[i], pixels[i + 1], pixels[i + 2]) = color
  }

  /// The PNG file's bytes.
  public func encoded() -> [UInt8] {
    var raw = [UInt8]()
    raw.reserveCapacity(height * (width * 3 + 1))
    for y in 0..<height {
      raw.append(0)  // filter type 0: the row as it is
      raw.append(contentsOf: pixels[(y * width * 3)..<((y + 1) * width * 3)])
    }
    var compressedLength = compressBound(uLong(raw.count))
    var compressed = [UInt8](repeating: 0, count: Int(compressedLength))
    let status = compress2(&compressed, &compressedLength, raw, uLong(raw.count), 6)
    precondition(status == Z_OK, "zlib's compress2 failed with status \(status)")
    var header = [UInt8]()
    header += Self.bigEndian(UInt32(width)) + Self.bigEndian(UInt32(height))
    header += [8, 2, 0, 0, 0]  // 8 bits per channel, RGB, deflate, adaptive filters, no interlace
    var file: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    file += Self.chunk("IHDR", header)
    file += Self.chunk("IDAT", Array(compressed[0..<Int(compressedLength)]))
    file += Self.chunk("IEND", [])
    return file
  }

  /// Writes the PNG file.
  public func write(to url: URL) throws {
    try Data(encoded()).write(to: url, options: .atomic)
  }

  private static func bigEndian(_ value: UInt32) -> [UInt8] {
    [
      UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF),
      UInt8(value & 0xFF),
    ]
  }

  /// Length, type, data and the CRC of type and data.
  private static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
    let body = Array(type.utf8) + data
    let crc = body.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
    return bigEndian(UInt32(data.count)) + body + bigEndian(UInt32(crc))
  }
}
