import ArgumentParser
import NodeCore
import NodeDistributed

/// `node-dist info`: the libraries this build uses.
struct InfoCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "info", abstract: "Show the BLAS and MPI libraries this build is linked against.")

  func run() throws {
    let mpi = MPILibrary.standardVersion
    print(
      "BLAS:      \(BLASRuntime.configuration) (kernel \(BLASRuntime.coreName), \(BLASRuntime.threadCount) threads)"
    )
    print("MPI:       \(MPILibrary.version) (MPI \(mpi.major).\(mpi.minor))")
  }
}
