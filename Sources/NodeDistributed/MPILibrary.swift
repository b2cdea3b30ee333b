import CMPI

/// Facts about the MPI library the process is linked against. These calls are
/// valid before `MPI_Init` and need no launcher.
public enum MPILibrary {
  /// The MPI standard version the library implements, e.g. `(3, 1)`.
  public static var standardVersion: (major: Int, minor: Int) {
    var major: Int32 = 0
    var minor: Int32 = 0
    MPI_Get_version(&major, &minor)
    return (Int(major), Int(minor))
  }

  /// The library's own version string, e.g. `"Open MPI v4.1.4, package: Debian ..."`
  /// (first line only).
  public static var version: String {
    var buffer = [CChar](repeating: 0, count: Int(ndmpi_max_library_version_string()) + 1)
    var length: Int32 = 0
    MPI_Get_library_version(&buffer, &length)
    let full = String(
      decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return full.split(whereSeparator: \.isNewline).first.map(String.init) ?? full
  }
}
