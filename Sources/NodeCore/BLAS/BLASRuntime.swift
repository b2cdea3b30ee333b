import CBLAS
import CNodeKernels

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

  /// The kernel family to ask OpenBLAS for (its `OPENBLAS_CORETYPE`) when it
  /// fell back to its generic SSE3 kernels ("Prescott") on a CPU it does not
  /// know whose features allow better ones; nil when its choice stands.
  ///
  /// Debian 12's OpenBLAS 0.3.21 does not know Intel's Emerald Rapids
  /// (family 6, model 207): left alone it runs `sgemm` at 19 GFLOP/s on one
  /// core there, against 135 GFLOP/s with the Cooper Lake kernels (`bench conv`).
  /// OpenBLAS reads the variable once, when it is loaded, so a process must
  /// set it and restart itself (`node-dist` does, before anything else runs).
  public static var betterCoreType: String? {
    // Only a DYNAMIC_ARCH build chooses its kernels at run time.
    guard configuration.contains("DYNAMIC_ARCH"), coreName.lowercased() == "prescott",
      let better = nd_blas_core_for_cpu()
    else { return nil }
    return String(cString: better)
  }
}
