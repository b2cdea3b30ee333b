import Foundation

/// A safetensors file read into memory: an 8-byte little-endian header length,
/// a JSON header naming each tensor's dtype, shape and byte range, then the
/// raw little-endian tensor bytes (https://github.com/huggingface/safetensors).
///
/// Every entry is validated when the file is opened: the dtype is known, the
/// byte range lies inside the data and matches the shape, so a later
/// ``tensor(_:as:)`` fails only for a missing name.
public struct SafetensorsFile: Sendable {
  /// One tensor's description in the header.
  public struct Entry: Sendable, Equatable {
    /// The tensor's name, e.g. `"layers.0.weight"`.
    public let name: String
    /// The stored element type, one of ``SafetensorsError/supportedDTypes``.
    public let dtype: String
    /// The tensor's shape, outermost first.
    public let shape: [Int]
    /// The tensor's bytes within the data section.
    public let byteRange: Range<Int>
  }

  /// Where the bytes came from (a path, or a name given by the caller); used in errors.
  public let source: String
  /// The entries by name.
  public let entries: [String: Entry]
  /// The free-form string metadata of the header (`"__metadata__"`).
  public let metadata: [String: String]
  private let payload: Data

  /// The largest header this reader accepts, as the reference implementation does.
  public static let maximumHeaderBytes = 100_000_000

  /// Reads and validates the file at `url`.
  public init(contentsOf url: URL) throws {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory),
      isDirectory.boolValue
    {
      throw SafetensorsError.unreadable(
        path: url.path, reason: "it is a directory, not a safetensors file")
    }
    let bytes: Data
    do {
      bytes = try Data(contentsOf: url)
    } catch {
      throw SafetensorsError.unreadable(path: url.path, reason: error.localizedDescription)
    }
    try self.init(bytes: bytes, source: url.path)
  }

  /// Parses and validates safetensors bytes.
  public init(bytes: Data, source: String = "<memory>") throws {
    self.source = source
    guard bytes.count >= 8 else {
      throw SafetensorsError.truncated(source: source, needed: 8, available: bytes.count)
    }
    let headerLength = bytes.prefix(8).enumerated().reduce(UInt64(0)) {
      $0 | UInt64($1.element) << (8 * UInt64($1.offset))
    }
    guard headerLength <= UInt64(Self.maximumHeaderBytes) else {
      throw SafetensorsError.malformedHeader(
        source: source, reason: "header length \(headerLength) exceeds \(Self.maximumHeaderBytes)")
    }
    let dataStart = 8 + Int(headerLength)
    guard bytes.count >= dataStart else {
      throw SafetensorsError.truncated(source: source, needed: dataStart, available: bytes.count)
    }
    let headerBytes = bytes.subdata(in: bytes.startIndex + 8..<bytes.startIndex + dataStart)
    let json: Any
    do {
      json = try JSONSerialization.jsonObject(with: headerBytes)
    } catch {
      throw SafetensorsError.malformedHeader(source: source, reason: "not valid JSON")
    }
    guard let header = json as? [String: Any] else {
      throw SafetensorsError.malformedHeader(source: source, reason: "not a JSON object")
    }
    payload = bytes.subdata(in: bytes.startIndex + dataStart..<bytes.endIndex)
    var metadata: [String: String] = [:]
    var entries: [String: Entry] = [:]
    for (name, value) in header {
      if name == "__metadata__" {
        guard let values = value as? [String: String] else {
          throw SafetensorsError.malformedHeader(
            source: source, reason: "__metadata__ must map strings to strings")
        }
        metadata = values
        continue
      }
      entries[name] = try Self.parseEntry(
        name: name, value: value, dataCount: payload.count, source: source)
    }
    self.entries = entries
    self.metadata = metadata
  }

  /// The tensor names, sorted.
  public var tensorNames: [String] { entries.keys.sorted() }

  /// The named tensor, converted to `Scalar` if stored in another float type.
  ///
  /// - Parameter expectedShape: when given, a tensor of another shape is refused
  ///   with an error naming both shapes.
  public func tensor<Scalar: TensorScalar>(
    _ name: String, as _: Scalar.Type = Scalar.self, expectedShape: [Int]? = nil
  ) throws -> Tensor<Scalar> {
    guard let entry = entries[name] else {
      throw SafetensorsError.missingTensor(source: source, tensor: name, available: tensorNames)
    }
    if let expectedShape, expectedShape != entry.shape {
      throw SafetensorsError.shapeMismatch(
        source: source, tensor: name, expected: expectedShape, found: entry.shape)
    }
    let count = entry.shape.reduce(1, *)
    let scalars = payload.withUnsafeBytes { raw -> [Scalar] in
      let bytes = UnsafeRawBufferPointer(rebasing: raw[entry.byteRange])
      return (0..<count).map { Self.decode(bytes, element: $0, dtype: entry.dtype) }
    }
    return Tensor(shape: entry.shape, scalars: scalars)
  }

  private static func parseEntry(
    name: String, value: Any, dataCount: Int, source: String
  ) throws -> Entry {
    guard let fields = value as? [String: Any],
      let dtype = fields["dtype"] as? String,
      let shapeValues = fields["shape"] as? [Any],
      let offsetValues = fields["data_offsets"] as? [Any]
    else {
      throw SafetensorsError.malformedHeader(
        source: source, reason: "entry '\(name)' needs dtype, shape and data_offsets")
    }
    let shape = shapeValues.compactMap { ($0 as? NSNumber)?.intValue }
    let offsets = offsetValues.compactMap { ($0 as? NSNumber)?.intValue }
    guard shape.count == shapeValues.count, shape.allSatisfy({ $0 >= 0 }) else {
      throw SafetensorsError.malformedHeader(
        source: source, reason: "entry '\(name)' has a shape that is not a list of sizes")
    }
    guard let size = byteWidth(dtype) else {
      throw SafetensorsError.unsupportedDType(source: source, tensor: name, dtype: dtype)
    }
    guard offsets.count == 2, offsets[0] >= 0, offsets[0] <= offsets[1] else {
      throw SafetensorsError.badByteRange(
        source: source, tensor: name, reason: "data_offsets \(offsetValues) is not [begin, end]")
    }
    guard offsets[1] <= dataCount else {
      throw SafetensorsError.badByteRange(
        source: source, tensor: name,
        reason: "data ends at byte \(offsets[1]) but the file has \(dataCount) data bytes")
    }
    // Checked: a forged shape must not overflow the product.
    var product: Int? = size
    for extent in shape {
      product = product.flatMap { p in
        let (value, overflow) = p.multipliedReportingOverflow(by: extent)
        return overflow ? nil : value
      }
    }
    guard let needed = product else {
      throw SafetensorsError.badByteRange(
        source: source, tensor: name, reason: "shape \(shape) of \(dtype) is too large")
    }
    guard offsets[1] - offsets[0] == needed else {
      throw SafetensorsError.badByteRange(
        source: source, tensor: name,
        reason: "shape \(shape) of \(dtype) needs \(needed) bytes, data_offsets give "
          + "\(offsets[1] - offsets[0])")
    }
    return Entry(name: name, dtype: dtype, shape: shape, byteRange: offsets[0]..<offsets[1])
  }

  static func byteWidth(_ dtype: String) -> Int? {
    switch dtype {
    case "F16", "BF16": return 2
    case "F32": return 4
    case "F64": return 8
    default: return nil
    }
  }

  private static func decode<Scalar: TensorScalar>(
    _ bytes: UnsafeRawBufferPointer, element i: Int, dtype: String
  ) -> Scalar {
    switch dtype {
    case "F16":
      let bits = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
      return Scalar(Float(halfBits: bits))
    case "BF16":
      let bits = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
      return Scalar(Float(bitPattern: UInt32(bits) << 16))
    case "F32":
      let bits = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))
      return Scalar(Float(bitPattern: bits))
    default:
      let bits = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))
      return Scalar(Double(bitPattern: bits))
    }
  }
}

extension Float {
  /// The value of an IEEE 754 binary16 bit pattern.
  init(halfBits bits: UInt16) {
    let sign: UInt32 = UInt32(bits >> 15) << 31
    let exponent = Int((bits >> 10) & 0x1F)
    let fraction = UInt32(bits & 0x3FF)
    switch exponent {
    case 0:
      // Zero or subnormal: fraction * 2^-24.
      let magnitude = Float(fraction) * 0x1p-24
      self = sign == 0 ? magnitude : -magnitude
    case 0x1F:
      self = Float(bitPattern: sign | 0x7F80_0000 | fraction << 13)
    default:
      self = Float(bitPattern: sign | UInt32(exponent + 112) << 23 | fraction << 13)
    }
  }
}
