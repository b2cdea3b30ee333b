import CBLAS

/// The BLAS library the process is linked against (OpenBLAS).
public enum BLASRuntime {
  /// The number of threads BLAS calls use.
  public static var threadCount: Int { Int(openblas_get_num_threads()) }

  /// Sets the number of threads BLAS calls use (at least 1).
  public static func setThreadCount(_ count: Int) {
    openblas_set_num_threads(Int32(Swift.max(1, count)))
  }

  /// OpenBLAS's build configuration, e.g. `"OpenBLAS 0.3.21 DYNAMIC_ARCH ... Haswell MAX_THREADS=64"`.
  public static var configuration: String {
    guard let config = openblas_get_config() else { return "unknown" }
    return String(cString: config)
  }

  /// The CPU kernel family OpenBLAS selected at run time, e.g. `"Zen"`.
  public static var coreName: String {
    guard let name = openblas_get_corename() else { return "unknown" }
    return String(cString: name)
  }
}
