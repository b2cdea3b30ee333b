import Foundation

/// Points a user supplies to evaluate a density at: a CSV file (one point
/// per line, comma- or whitespace-separated; a first line that is not
/// numeric is taken as a header; `#` starts a comment) or a NumPy `.npy`
/// file (a C-ordered little-endian `float32`/`float64` array of shape
/// `(N, D)`).
public enum PointsFile {
  /// The points of `path` as `N` rows of `dimension` values.
  ///
  /// - Throws: ``DataError/invalidFile(path:reason:)`` naming the line or the
  ///   header field at fault, or a row with another number of values.
  public static func read(_ path: String, dimension: Int) throws -> [[Double]] {
    let url = URL(fileURLWithPath: path)
    guard let data = try? Data(contentsOf: url) else {
      throw DataError.invalidFile(path: path, reason: "cannot be read")
    }
    let isNpy = path.lowercased().hasSuffix(".npy")
    let rows = isNpy ? try npy(data, path: path) : try csv(data, path: path)
    guard !rows.isEmpty else { throw DataError.invalidFile(path: path, reason: "holds no points") }
    // CSV rows were checked line by line; a .npy file's values are checked here.
    if isNpy, let bad = rows.firstIndex(where: { !$0.allSatisfy(isFiniteFloat) }) {
      throw DataError.invalidFile(
        path: path, reason: "point \(bad + 1) has a coordinate \(nonFiniteNote(rows[bad]))")
    }
    if let bad = rows.firstIndex(where: { $0.count != dimension }) {
      throw DataError.invalidFile(
        path: path,
        reason:
          "point \(bad + 1) has \(rows[bad].count) coordinates; the model's data has \(dimension)")
    }
    return rows
  }

  static func csv(_ data: Data, path: String) throws -> [[Double]] {
    let text = String(decoding: data, as: UTF8.self)
    var rows: [[Double]] = []
    // Any line ending: "\r\n" (Windows) is one Character in Swift, not a "\n".
    for (number, rawLine) in text.split(
      omittingEmptySubsequences: false, whereSeparator: \.isNewline
    )
    .enumerated() {
      let line =
        rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
        .first.map(String.init)?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
      if line.isEmpty { continue }
      let fields = line.split { $0 == "," || $0 == " " || $0 == "\t" || $0 == ";" }
      let values = fields.map { Double($0) }
      if values.contains(where: { $0 == nil }) {
        if rows.isEmpty && number == 0 { continue }  // a header line
        throw DataError.invalidFile(
          path: path, reason: "line \(number + 1) is not a list of numbers: '\(line.prefix(80))'")
      }
      let row = values.map { $0! }
      if !row.allSatisfy(isFiniteFloat) {
        throw DataError.invalidFile(
          path: path, reason: "line \(number + 1) has a value \(nonFiniteNote(row))")
      }
      rows.append(row)
    }
    return rows
  }

  /// Whether `value` is finite once rounded to the models' `Float`.
  static func isFiniteFloat(_ value: Double) -> Bool { Float(value).isFinite }

  /// The first value of `row` that is not a finite float, and what is allowed.
  static func nonFiniteNote(_ row: [Double]) -> String {
    let value = row.first { !isFiniteFloat($0) } ?? .nan
    return "that is not a finite 32-bit float (\(value)); log-densities need finite points"
      + " of magnitude below \(Float.greatestFiniteMagnitude)"
  }

  static func npy(_ data: Data, path: String) throws -> [[Double]] {
    let bytes = [UInt8](data)
    guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1...5]) == Array("NUMPY".utf8) else {
      throw DataError.invalidFile(path: path, reason: "not a NumPy .npy file (bad magic)")
    }
    let major = bytes[6]
    let (lengthBytes, start) = major == 1 ? (2, 10) : (4, 12)
    guard bytes.count >= start else {
      throw DataError.invalidFile(path: path, reason: "truncated .npy header")
    }
    var headerLength = 0
    for i in 0..<lengthBytes { headerLength |= Int(bytes[8 + i]) << (8 * i) }
    guard bytes.count >= start + headerLength else {
      throw DataError.invalidFile(path: path, reason: "truncated .npy header")
    }
    let header = String(decoding: bytes[start..<(start + headerLength)], as: UTF8.self)
    let width: Int
    if header.contains("'<f4'") {
      width = 4
    } else if header.contains("'<f8'") {
      width = 8
    } else {
      throw DataError.invalidFile(
        path: path,
        reason: "dtype in '\(header.trimmingCharacters(in: .whitespaces))' is not"
          + " little-endian float32 ('<f4') or float64 ('<f8')")
    }
    if header.contains("'fortran_order': True") {
      throw DataError.invalidFile(path: path, reason: "Fortran-ordered arrays are not supported")
    }
    guard let open = header.range(of: "'shape': ("),
      let close = header[open.upperBound...].firstIndex(of: ")")
    else { throw DataError.invalidFile(path: path, reason: "no shape in the .npy header") }
    let shape = header[open.upperBound..<close].split(separator: ",").compactMap {
      Int($0.trimmingCharacters(in: .whitespaces))
    }
    guard shape.count == 2 else {
      throw DataError.invalidFile(path: path, reason: "shape \(shape) is not (N, D)")
    }
    let (n, d) = (shape[0], shape[1])
    let body = start + headerLength
    let (values, overflow) = n.multipliedReportingOverflow(by: d)
    guard n >= 0, d >= 1, !overflow, values <= (bytes.count - body) / width else {
      throw DataError.invalidFile(
        path: path,
        reason: "shape (\(n), \(d)) does not match the \(bytes.count - body) bytes of data")
    }
    guard bytes.count >= body + n * d * width else {
      throw DataError.invalidFile(
        path: path, reason: "truncated: \(n)×\(d) values need \(n * d * width) bytes of data")
    }
    return data.withUnsafeBytes { raw in
      (0..<n).map { r in
        (0..<d).map { c in
          let offset = body + (r * d + c) * width
          return width == 4
            ? Double(
              Float(
                bitPattern: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self).littleEndian)
            )
            : Double(
              bitPattern: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self).littleEndian)
        }
      }
    }
  }
}
