import Foundation
import NodeDistributed
import NodeTraining

/// How a distributed command ends on an error: one clear message, no stack
/// trace, exit status 1. An error every rank meets at the same point (a
/// config error, a ``TrainingError``) is printed by rank 0 and every rank
/// ends MPI cleanly; an error of one rank alone is printed by that rank,
/// which aborts the job so no other rank waits in a collective.
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
    let prefix = communicator.size > 1 ? "node-dist (rank \(communicator.rank)): " : "node-dist: "
    guard everyRankSeesIt || communicator.size == 1 else {
      // Only this rank failed: the others may be waiting in a collective.
      communicator.abort(reason: "error: \(error)", code: 1)
    }
    var mine = communicator.rank == 0
    if case TrainingError.evaluationFailed(let rank, _) = error, rank == communicator.rank {
      mine = true
    }
    if mine { FileHandle.standardError.write(Data("\(prefix)error: \(error)\n".utf8)) }
    // Every rank stopped at the same point: end MPI cleanly.
    (communicator as? MPICommunicator)?.finalize()
    exit(1)
  }
}
