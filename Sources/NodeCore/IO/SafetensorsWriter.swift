import Foundation

/// Encodes tensors in the safetensors format, readable by PyTorch, JAX and
/// every other major framework.
public enum SafetensorsWriter {
  /// The file bytes for `tensors` (stored in their own precision, F32 or F64)
  /// and optional string metadata. Tensors are laid out in name order; the
  /// header is padded with spaces to a multiple of 8 bytes.
  public static func encode<Scalar: TensorScalar>(
    _ tensors: [String: Tensor<Scalar>], metadata: [String: String] = [:]
  ) throws -> Data {
    var header: [String: Any] = [:]
    if !metadata.isEmpty { header["__metadata__"] = metadata }
    var offset = 0
    let names = tensors.keys.sorted()
    for name in names {
      let tensor = tensors[name]!
      let bytes = tensor.count * MemoryLayout<Scalar>.size
      header[name] = [
        "dtype": Scalar.safetensorsDType, "shape": tensor.shape,
        "data_offsets": [offset, offset + bytes],
      ]
      offset += bytes
    }
    var headerBytes = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
    headerBytes.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - headerBytes.count % 8) % 8))
    var data = Data()
    data.reserveCapacity(8 + headerBytes.count + offset)
    withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { data.append(contentsOf: $0) }
    data.append(headerBytes)
    for name in names {
      tensors[name]!.withUnsafeBufferPointer { buffer in
        // Little-endian hosts only (x86_64, aarch64): the bytes are already in file order.
        data.append(UnsafeBufferPointer(start: buffer.baseAddress, count: buffer.count))
      }
    }
    return data
  }

  /// Writes `tensors` to `url` atomically (a temporary file renamed into place).
  public static func write<Scalar: TensorScalar>(
    _ tensors: [String: Tensor<Scalar>], metadata: [String: String] = [:], to url: URL
  ) throws {
    try encode(tensors, metadata: metadata).write(to: url, options: .atomic)
  }
}
