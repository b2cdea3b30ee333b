import ArgumentParser
import Foundation
import NodeCore
import NodeDistributed

/// `node-dist info`: the libraries this build uses, and optionally a check
/// of the collectives across the ranks it was launched with.
struct InfoCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "info",
    abstract: "Show the BLAS and MPI libraries this build is linked against.",
    discussion: """
      With --collectives, every rank runs a sum and a max all-reduce, a broadcast, an \
      all-gather and a barrier on values built from its rank, and rank 0 prints what each rank \
      received as one JSON line: `mpirun -n 2 node-dist info --collectives` checks an MPI \
      installation end to end (without mpirun: one local rank).
      """)

  @Flag(help: "Run each collective across the ranks and print what every rank received.")
  var collectives = false

  func run() throws {
    guard collectives else {
      let mpi = MPILibrary.standardVersion
      print(
        "BLAS:      \(BLASRuntime.configuration) (kernel \(BLASRuntime.coreName), \(BLASRuntime.threadCount) threads)"
      )
      print("MPI:       \(MPILibrary.version) (MPI \(mpi.major).\(mpi.minor))")
      return
    }
    let communicator = Communicators.fromEnvironment()
    defer { (communicator as? MPICommunicator)?.finalize() }
    let r = Double(communicator.rank)
    var sum = [r + 1, 2 * r]
    try communicator.allReduce(&sum, .sum)
    var largest: [Float] = [Float(r), -Float(r)]
    try communicator.allReduce(&largest, .max)
    var fromLast = 100 + communicator.rank
    try communicator.broadcast(&fromLast, root: communicator.size - 1)
    let gathered = try communicator.allGather([r])
    try communicator.barrier()
    // Every rank's view, gathered to all so rank 0 can print them.
    let views = try communicator.allGather(sum + largest.map(Double.init) + [Double(fromLast)])
    guard communicator.isCoordinator else { return }
    let perRank = (0..<communicator.size).map { Array(views[($0 * 5)..<($0 * 5 + 5)]) }
    let object: [String: Any] = [
      "size": communicator.size, "mpi": communicator is MPICommunicator,
      "received": perRank, "gathered": gathered,
    ]
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
  }
}
