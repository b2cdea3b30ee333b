import CZlib

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// An IDX file (the MNIST file format) of unsigned bytes: images or labels.
///
/// An IDX file is a big-endian header followed by the elements in row-major
/// order. The header is a four-byte magic number — two zero bytes, an element
/// type code (`0x08` for unsigned bytes) and the number of dimensions — and
/// then one 32-bit extent per dimension. Two layouts are read:
///
/// - images, magic `0x00000803`: `[count, rows, columns]` unsigned bytes;
/// - labels, magic `0x00000801`: `[count]` unsigned bytes.
///
/// The file may be stored raw or gzip-compressed (as the MNIST and
/// Fashion-MNIST distributions are); compression is recognised by the gzip
/// magic bytes `1f 8b`, not by the file name, and the file is inflated with
/// zlib in fixed-size chunks straight into the element array. Reading checks
/// the header, the element type, the length against the header's extents
/// (no truncation and no trailing bytes) and, for gzip, the stream's own
/// integrity (its CRC and length trailer).
public struct IDXFile: Sendable, Equatable {
  /// What an IDX file holds, which fixes its magic number and rank.
  public enum Kind: Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Unsigned-byte images `[count, rows, columns]`, magic `0x00000803`.
    case images
    /// Unsigned-byte labels `[count]`, magic `0x00000801`.
    case labels

    /// The magic number of this kind of file.
    public var magic: UInt32 {
      switch self {
      case .images: return 0x0000_0803
      case .labels: return 0x0000_0801
      }
    }

    /// The number of dimensions of this kind of file.
    public var rank: Int { Int(magic & 0xFF) }

    /// The magic number and the layout, as error messages name them.
    public var description: String {
      switch self {
      case .images: return "\(IDXFile.hex(magic)) (uint8 images [count, rows, columns])"
      case .labels: return "\(IDXFile.hex(magic)) (uint8 labels [count])"
      }
    }
  }

  /// The IDX type code of unsigned bytes, the only element type read.
  public static let unsignedByteTypeCode: UInt8 = 0x08

  /// Whether the file holds images or labels.
  public let kind: Kind
  /// The extents of the dimensions, outermost first (`[count, rows, columns]`
  /// or `[count]`).
  public let shape: [Int]
  /// The elements in row-major order; `elements.count` is the product of `shape`.
  public let elements: [UInt8]

  /// The number of items: images or labels (the outermost extent).
  public var count: Int { shape[0] }

  /// Creates a file in memory from its shape and elements.
  ///
  /// - Precondition: `shape.count` is the rank of `kind`, every extent is in
  ///   `0 ... UInt32.max`, and `elements.count` is the product of `shape`.
  public init(kind: Kind, shape: [Int], elements: [UInt8]) {
    precondition(
      shape.count == kind.rank, "an IDX \(kind) file has rank \(kind.rank), got shape \(shape)")
    precondition(
      shape.allSatisfy { $0 >= 0 && $0 <= Int(UInt32.max) },
      "IDX extents are 32-bit unsigned, got \(shape)")
    precondition(
      elements.count == shape.reduce(1, *),
      "shape \(shape) needs \(shape.reduce(1, *)) elements, got \(elements.count)")
    self.kind = kind
    self.shape = shape
    self.elements = elements
  }

  /// Reads an IDX file, raw or gzip-compressed.
  ///
  /// - Parameters:
  ///   - path: The file to read.
  ///   - kind: The kind of file expected, or `nil` to accept either images or
  ///     labels.
  /// - Throws: ``DataError/invalidFile(path:reason:)`` if the file cannot be
  ///   opened or read, its gzip data is corrupt or cut short, its magic
  ///   number is not the expected one (the message gives the one found and
  ///   the ones expected), its element type is not unsigned bytes, or it holds
  ///   fewer or more bytes than its header announces (the message gives both
  ///   counts).
  public init(contentsOf path: String, expecting kind: Kind? = nil) throws {
    let reader = try IDXByteReader(path: path)
    let decompressed = reader.isCompressed ? " (after gzip decompression)" : ""

    // Magic number.
    var magicBytes: (UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0)
    let magicRead = try withUnsafeMutableBytes(of: &magicBytes) { try reader.read(into: $0) }
    if magicRead < 4 {
      throw DataError.invalidFile(
        path: path,
        reason:
          "truncated: expected at least 4 bytes for the IDX magic number, found \(magicRead)"
          + decompressed)
    }
    let magic =
      UInt32(magicBytes.0) << 24 | UInt32(magicBytes.1) << 16 | UInt32(magicBytes.2) << 8
      | UInt32(magicBytes.3)
    let expectedKinds = kind.map { [$0] } ?? Kind.allCases
    let expectedText = expectedKinds.map(\.description).joined(separator: " or ")
    if magicBytes.0 != 0 || magicBytes.1 != 0 {
      throw DataError.invalidFile(
        path: path,
        reason:
          "not an IDX file: magic number \(Self.hex(magic)), expected \(expectedText)")
    }
    if magicBytes.2 != Self.unsignedByteTypeCode {
      throw DataError.invalidFile(
        path: path,
        reason:
          "unsupported IDX element type 0x\(Self.hex2(magicBytes.2)) (\(Self.typeName(magicBytes.2)))"
          + " in magic number \(Self.hex(magic)); expected 0x08 (unsigned byte)")
    }
    guard let found = expectedKinds.first(where: { $0.magic == magic }) else {
      let foundText =
        Kind.allCases.first { $0.magic == magic }.map(\.description)
        ?? "\(Self.hex(magic)) (uint8, rank \(magicBytes.3))"
      throw DataError.invalidFile(
        path: path, reason: "wrong IDX magic number \(foundText), expected \(expectedText)")
    }

    // Extents.
    let rank = found.rank
    var extentBytes = [UInt8](repeating: 0, count: 4 * rank)
    let extentsRead = try extentBytes.withUnsafeMutableBytes { try reader.read(into: $0) }
    let headerSize = 4 + 4 * rank
    if extentsRead < 4 * rank {
      throw DataError.invalidFile(
        path: path,
        reason:
          "truncated: expected a \(headerSize)-byte IDX header, found \(4 + extentsRead) bytes"
          + decompressed)
    }
    var shape = [Int]()
    var elementCount = 1
    for d in 0..<rank {
      let extent =
        Int(extentBytes[4 * d]) << 24 | Int(extentBytes[4 * d + 1]) << 16
        | Int(extentBytes[4 * d + 2]) << 8 | Int(extentBytes[4 * d + 3])
      shape.append(extent)
      let (product, overflow) = elementCount.multipliedReportingOverflow(by: extent)
      if overflow {
        throw DataError.invalidFile(
          path: path, reason: "IDX extents \(shape) describe too many elements")
      }
      elementCount = product
    }
    let layout =
      "\(headerSize)-byte header + \(shape.map(String.init).joined(separator: "×")) bytes"

    // Elements, read straight into the array.
    var dataRead = 0
    var readError: (any Error)?
    let elements = [UInt8](unsafeUninitializedCapacity: elementCount) { buffer, initialized in
      do {
        dataRead = try reader.read(into: UnsafeMutableRawBufferPointer(buffer))
      } catch {
        readError = error
      }
      // Zero whatever was not read so the array is always fully initialised.
      if dataRead < elementCount {
        (buffer.baseAddress! + dataRead).initialize(repeating: 0, count: elementCount - dataRead)
      }
      initialized = elementCount
    }
    if let readError { throw readError }
    if dataRead < elementCount {
      throw DataError.invalidFile(
        path: path,
        reason:
          "truncated: expected \(headerSize + elementCount) bytes (\(layout)), found"
          + " \(headerSize + dataRead)" + decompressed)
    }

    // Nothing may follow (this also drives a gzip stream to its end, where
    // zlib checks the CRC and the length).
    let extra = try reader.drain()
    if extra > 0 {
      throw DataError.invalidFile(
        path: path,
        reason:
          "trailing garbage: \(extra) bytes after the expected \(headerSize + elementCount)"
          + " (\(layout))" + decompressed)
    }
    self.kind = found
    self.shape = shape
    self.elements = elements
  }

  /// The file as raw (uncompressed) IDX bytes: header and elements.
  public func encoded() -> [UInt8] {
    var bytes: [UInt8] = [0, 0, Self.unsignedByteTypeCode, UInt8(kind.rank)]
    bytes.reserveCapacity(4 + 4 * shape.count + elements.count)
    for extent in shape {
      let e = UInt32(extent)
      bytes += [
        UInt8(e >> 24), UInt8(truncatingIfNeeded: e >> 16), UInt8(truncatingIfNeeded: e >> 8),
        UInt8(truncatingIfNeeded: e),
      ]
    }
    bytes += elements
    return bytes
  }

  /// `0x` and eight hexadecimal digits.
  static func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16, uppercase: true)
    return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
  }

  /// Two hexadecimal digits.
  static func hex2(_ value: UInt8) -> String {
    let digits = String(value, radix: 16, uppercase: true)
    return digits.count < 2 ? "0" + digits : digits
  }

  /// The name of an IDX element type code.
  static func typeName(_ code: UInt8) -> String {
    switch code {
    case 0x08: return "unsigned byte"
    case 0x09: return "signed byte"
    case 0x0B: return "int16"
    case 0x0C: return "int32"
    case 0x0D: return "float32"
    case 0x0E: return "float64"
    default: return "unknown type"
    }
  }
}

/// Sequential reads from a raw or gzip-compressed file.
///
/// Compression is recognised by the gzip magic bytes. A compressed file is
/// read in chunks of ``chunkSize`` bytes and inflated by zlib (window bits
/// `15 + 32`: zlib or gzip header detected automatically) directly into the
/// caller's buffer; concatenated gzip members are inflated one after another,
/// as `gunzip` does.
final class IDXByteReader {
  /// Bytes of compressed input read from the file at a time.
  static let chunkSize = 1 << 18

  /// The file's path, for error messages.
  let path: String
  /// The open file.
  private let file: UnsafeMutablePointer<FILE>
  /// Whether the file is gzip-compressed.
  let isCompressed: Bool
  /// The zlib stream (compressed files only).
  private var stream: UnsafeMutablePointer<z_stream>?
  /// The compressed input chunk (compressed files only).
  private var input: UnsafeMutableBufferPointer<UInt8>?
  /// Whether the current gzip member has ended.
  private var memberEnded = false
  /// Compressed bytes read from the file so far (for error messages).
  private var compressedOffset = 0

  /// Opens `path` and recognises compression.
  init(path: String) throws {
    self.path = path
    guard let file = fopen(path, "rb") else {
      throw DataError.invalidFile(path: path, reason: "cannot open: \(Self.errnoText())")
    }
    self.file = file
    // Peek at the first two bytes for the gzip magic.
    var peek: (UInt8, UInt8) = (0, 0)
    let peeked = withUnsafeMutableBytes(of: &peek) { fread($0.baseAddress, 1, 2, file) }
    if peeked < 2 && ferror(file) != 0 {
      let text = Self.errnoText()
      fclose(file)
      throw DataError.invalidFile(path: path, reason: "cannot read: \(text)")
    }
    rewind(file)
    isCompressed = peeked == 2 && peek.0 == 0x1F && peek.1 == 0x8B
    guard isCompressed else { return }

    let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    stream.initialize(to: z_stream())
    let status = inflateInit2_(stream, 15 + 32, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
    guard status == Z_OK else {
      stream.deinitialize(count: 1)
      stream.deallocate()
      fclose(file)
      throw DataError.invalidFile(
        path: path, reason: "cannot start zlib inflate (error \(status))")
    }
    self.stream = stream
    self.input = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: Self.chunkSize)
  }

  deinit {
    if let stream {
      inflateEnd(stream)
      stream.deinitialize(count: 1)
      stream.deallocate()
    }
    input?.deallocate()
    fclose(file)
  }

  /// Fills `buffer` as far as the data goes; returns the number of bytes
  /// written, less than `buffer.count` only at the end of the data.
  func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
    guard buffer.count > 0, let base = buffer.baseAddress else { return 0 }
    guard let stream, let input else {
      let n = fread(base, 1, buffer.count, file)
      if n < buffer.count && ferror(file) != 0 {
        throw DataError.invalidFile(path: path, reason: "cannot read: \(Self.errnoText())")
      }
      return n
    }

    var written = 0
    while written < buffer.count {
      if memberEnded {
        // Another gzip member may follow; anything else is not gzip data.
        if stream.pointee.avail_in == 0 { try refill(stream, input) }
        if stream.pointee.avail_in == 0 { break }
        if stream.pointee.next_in.pointee != 0x1F {
          throw DataError.invalidFile(
            path: path,
            reason:
              "bad gzip data: \(stream.pointee.avail_in)+ bytes that are not gzip data follow"
              + " the end of the compressed stream (at compressed offset"
              + " \(compressedOffset - Int(stream.pointee.avail_in)))")
        }
        inflateReset(stream)
        memberEnded = false
      }
      if stream.pointee.avail_in == 0 {
        try refill(stream, input)
        if stream.pointee.avail_in == 0 {
          throw DataError.invalidFile(
            path: path,
            reason:
              "bad gzip data: the compressed stream is cut short after \(compressedOffset)"
              + " bytes (no end-of-stream marker and checksum)")
        }
      }
      let want = min(buffer.count - written, Int(UInt32.max))
      stream.pointee.next_out = (base + written).assumingMemoryBound(to: UInt8.self)
      stream.pointee.avail_out = UInt32(want)
      let status = inflate(stream, Z_NO_FLUSH)
      written += want - Int(stream.pointee.avail_out)
      switch status {
      case Z_OK, Z_BUF_ERROR:
        // Z_BUF_ERROR: no progress possible with the input at hand; the
        // loop refills it.
        break
      case Z_STREAM_END:
        memberEnded = true
      default:
        let message = stream.pointee.msg.map { String(cString: $0) } ?? "zlib error \(status)"
        throw DataError.invalidFile(
          path: path,
          reason:
            "bad gzip data: \(message) (zlib error \(status), near compressed offset"
            + " \(compressedOffset - Int(stream.pointee.avail_in)))")
      }
    }
    return written
  }

  /// Reads to the end of the data and returns how many bytes there were.
  func drain() throws -> Int {
    var scratch: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (
      0, 0, 0, 0, 0, 0, 0, 0
    )
    var total = 0
    while true {
      let n = try withUnsafeMutableBytes(of: &scratch) { try read(into: $0) }
      total += n
      if n < MemoryLayout.size(ofValue: scratch) { return total }
    }
  }

  /// Reads the next chunk of compressed input into the zlib stream.
  private func refill(
    _ stream: UnsafeMutablePointer<z_stream>, _ input: UnsafeMutableBufferPointer<UInt8>
  ) throws {
    let n = fread(input.baseAddress, 1, input.count, file)
    if n < input.count && ferror(file) != 0 {
      throw DataError.invalidFile(path: path, reason: "cannot read: \(Self.errnoText())")
    }
    compressedOffset += n
    stream.pointee.next_in = input.baseAddress
    stream.pointee.avail_in = UInt32(n)
  }

  /// The text of the current `errno`.
  private static func errnoText() -> String {
    String(cString: strerror(errno))
  }
}
