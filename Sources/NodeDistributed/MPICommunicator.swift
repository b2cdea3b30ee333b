import CMPI
import Foundation

/// The ranks of `MPI_COMM_WORLD` (OpenMPI through the CMPI shim; the only
/// code that calls MPI). Collectives are MPI's: `MPI_Allreduce` in place,
/// `MPI_Bcast`, `MPI_Allgather`, `MPI_Barrier`, with MPI's default error
/// handler (an MPI error ends the job). MPI cannot see a rank that skips a
/// collective: callers keep every code path's collectives identical, and
/// launchers guard with `mpirun --timeout` (PLATFORM.md).
/// Immutable after initialisation; MPI is initialised funneled, so collectives
/// belong on one thread (the training loop's).
public final class MPICommunicator: Communicator, @unchecked Sendable {
  public let rank: Int
  public let size: Int
  private let world: MPI_Comm

  /// The world communicator; initialises MPI (`MPI_THREAD_FUNNELED`) on first use.
  public static let world = MPICommunicator()

  private init() {
    var initialized: Int32 = 0
    MPI_Initialized(&initialized)
    if initialized == 0 {
      var provided: Int32 = 0
      MPI_Init_thread(nil, nil, ndmpi_thread_funneled(), &provided)
    }
    world = ndmpi_comm_world()
    var r: Int32 = 0
    var s: Int32 = 0
    MPI_Comm_rank(world, &r)
    MPI_Comm_size(world, &s)
    rank = Int(r)
    size = Int(s)
  }

  private static func datatype<Scalar: ReducibleScalar>(_: Scalar.Type) -> MPI_Datatype {
    switch Scalar.width {
    case .float32: return ndmpi_float()
    case .float64: return ndmpi_double()
    }
  }

  private func check(_ code: Int32, _ call: String) throws {
    guard code == ndmpi_success() else {
      throw CommunicatorError.peerFailed(rank: rank, reason: "\(call) returned MPI error \(code)")
    }
  }

  public func allReduce<Scalar: ReducibleScalar>(
    _ buffer: UnsafeMutableBufferPointer<Scalar>, _ operation: ReductionOperation
  ) throws {
    guard buffer.count > 0 else { return try barrier() }
    let op = operation == .sum ? ndmpi_sum() : ndmpi_max()
    try check(
      MPI_Allreduce(
        ndmpi_in_place(), buffer.baseAddress, Int32(buffer.count), Self.datatype(Scalar.self), op,
        world), "MPI_Allreduce")
  }

  public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws {
    try validate(root: root)
    guard bytes.count > 0 else { return try barrier() }
    try check(
      MPI_Bcast(bytes.baseAddress, Int32(bytes.count), ndmpi_byte(), Int32(root), world),
      "MPI_Bcast")
  }

  public func allGather<Scalar: ReducibleScalar>(
    _ contribution: UnsafeBufferPointer<Scalar>, into result: UnsafeMutableBufferPointer<Scalar>
  ) throws {
    try validate(gatherResult: result.count, contribution: contribution.count)
    guard contribution.count > 0 else { return try barrier() }
    let type = Self.datatype(Scalar.self)
    try check(
      MPI_Allgather(
        contribution.baseAddress, Int32(contribution.count), type, result.baseAddress,
        Int32(contribution.count), type, world), "MPI_Allgather")
  }

  public func barrier() throws { try check(MPI_Barrier(world), "MPI_Barrier") }

  public func abort(reason: String, code: Int32) -> Never {
    FileHandle.standardError.write(Data("node-dist rank \(rank): \(reason)\n".utf8))
    MPI_Abort(world, code)
    exit(code)
  }

  /// Ends MPI; call once, after the last collective, before the process exits.
  public func finalize() {
    var finalized: Int32 = 0
    MPI_Finalized(&finalized)
    if finalized == 0 { MPI_Finalize() }
  }
}

/// Chooses the communicator for this process.
public enum Communicators {
  /// Whether an MPI launcher started this process (OpenMPI's or PMI's rank
  /// variables are set): `mpirun -n 1` counts, plain `node-dist` does not.
  public static var launchedByMPI: Bool {
    let environment = ProcessInfo.processInfo.environment
    return environment["OMPI_COMM_WORLD_SIZE"] != nil || environment["PMI_SIZE"] != nil
      || environment["PMIX_RANK"] != nil
  }

  /// MPI's world under an MPI launcher, otherwise one local rank (no MPI
  /// initialisation, so no launcher is needed).
  public static func fromEnvironment() -> any Communicator {
    launchedByMPI ? MPICommunicator.world : LocalCommunicator()
  }
}
