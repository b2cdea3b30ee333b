import Foundation
import NodeCore

/// Restarts the process with `OPENBLAS_CORETYPE` set when OpenBLAS fell back
/// to kernels far slower than the CPU allows (``BLASRuntime/betterCoreType``).
///
/// It runs first in `main`, before MPI or any thread starts, and replaces the
/// process image (same PID, arguments and environment plus the variable), so
/// it is invisible to `mpirun`. A variable the user set is left alone, and a
/// failed restart leaves the process running as it was.
enum BLASKernelRestart {
  static func restartIfNeeded() {
    let variable = "OPENBLAS_CORETYPE"
    guard ProcessInfo.processInfo.environment[variable] == nil,
      let core = BLASRuntime.betterCoreType, setenv(variable, core, 1) == 0
    else { return }
    execv("/proc/self/exe", CommandLine.unsafeArgv)
    unsetenv(variable)
  }
}
