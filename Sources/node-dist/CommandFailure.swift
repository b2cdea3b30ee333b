import Foundation
import NodeDistributed
import NodeTraining

/// How a distributed command ends on an error: one clear message (from rank
/// 0 when every rank hit the same error, from the rank itself otherwise), no
/// stack trace, exit status 1 — under mpirun the launcher then stops every rank.
enum CommandFailure {
  /// Runs `body` with the communicator of this launch (MPI under mpirun,
  /// else one local rank); an error ends the process via ``report(_:communicator:)``.
  static func onEveryRank(_ body: (any Communicator) throws -> Void) {
    let communicator = Communicators.fromEnvironment()
    do {
      try body(communicator)
    } catch {
      report(error, communicator: communicator)
    }
    (communicator as? MPICommunicator)?.finalize()
  }

  static func report(_ error: any Error, communicator: any Communicator) -> Never {
    let everyRankSeesIt = error is ConfigError || error is TrainingError
    if communicator.rank == 0 || !everyRankSeesIt {
      let prefix = communicator.size > 1 ? "node-dist (rank \(communicator.rank)): " : "node-dist: "
      FileHandle.standardError.write(Data("\(prefix)error: \(error)\n".utf8))
    }
    exit(1)
  }
}
