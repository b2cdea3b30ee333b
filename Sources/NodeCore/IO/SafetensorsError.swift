/// Why a safetensors file could not be read or written.
public enum SafetensorsError: Error, CustomStringConvertible, Equatable {
  /// The file could not be opened or read.
  case unreadable(path: String, reason: String)
  /// The file is shorter than its 8-byte header length plus the header.
  case truncated(source: String, needed: Int, available: Int)
  /// The header is not a JSON object of tensor entries.
  case malformedHeader(source: String, reason: String)
  /// An entry's dtype is not one of the supported ones.
  case unsupportedDType(source: String, tensor: String, dtype: String)
  /// An entry's byte range does not fit its shape or the file.
  case badByteRange(source: String, tensor: String, reason: String)
  /// The named tensor is not in the file.
  case missingTensor(source: String, tensor: String, available: [String])
  /// The tensor has a different shape than the caller needs (`-1` in
  /// `expected`: any size).
  case shapeMismatch(source: String, tensor: String, expected: [Int], found: [Int])

  /// The file holds tensors the reader does not know.
  case unexpectedTensors(source: String, tensors: [String], expected: [String])

  /// The dtypes this reader accepts.
  public static let supportedDTypes = ["F16", "BF16", "F32", "F64"]

  public var description: String {
    switch self {
    case .unreadable(let path, let reason):
      return "cannot read safetensors file \(path): \(reason)"
    case .truncated(let source, let needed, let available):
      return "\(source): truncated safetensors file (needs \(needed) bytes, has \(available))"
    case .malformedHeader(let source, let reason):
      return "\(source): malformed safetensors header: \(reason)"
    case .unsupportedDType(let source, let tensor, let dtype):
      return "\(source): tensor '\(tensor)' has dtype \(dtype); supported dtypes are "
        + Self.supportedDTypes.joined(separator: ", ")
    case .badByteRange(let source, let tensor, let reason):
      return "\(source): tensor '\(tensor)': \(reason)"
    case .missingTensor(let source, let tensor, let available):
      return "\(source): no tensor named '\(tensor)'; the file holds "
        + (available.isEmpty ? "no tensors" : available.joined(separator: ", "))
    case .shapeMismatch(let source, let tensor, let expected, let found):
      // −1 in an expected shape stands for any size.
      let sizes = expected.map { $0 < 0 ? "any" : "\($0)" }.joined(separator: ", ")
      return "\(source): tensor '\(tensor)' has shape \(found), expected [\(sizes)]"
    case .unexpectedTensors(let source, let tensors, let expected):
      return "\(source): unexpected tensor(s) "
        + tensors.map { "'\($0)'" }.joined(separator: ", ")
        + "; the model has " + expected.joined(separator: ", ")
    }
  }
}
