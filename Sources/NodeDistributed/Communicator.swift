/// The element types a communicator reduces: 32- and 64-bit floats.
public protocol ReducibleScalar: BinaryFloatingPoint, Sendable {
  /// Which of the two it is (the MPI datatype, the mock's arithmetic).
  static var width: ScalarWidth { get }
}

/// The width of a ``ReducibleScalar``.
public enum ScalarWidth: Sendable, Equatable {
  case float32, float64
}

extension Float: ReducibleScalar { public static var width: ScalarWidth { .float32 } }
extension Double: ReducibleScalar { public static var width: ScalarWidth { .float64 } }

/// How an all-reduce combines the ranks' buffers, element by element.
public enum ReductionOperation: String, Sendable, Equatable {
  case sum, max
}

/// The collectives a data-parallel training step needs, among `size` ranks
/// numbered `0..<size` (DESIGN.md, decision 7).
///
/// Every rank must issue the same collectives, with the same sizes, in the
/// same order, on every code path. An implementation reports a violation it
/// can detect, a failed peer or a stalled one as a ``CommunicatorError`` on
/// every rank rather than hanging; MPI itself cannot detect them all (see
/// ``MPICommunicator``). Buffers belong to the caller and are not retained.
public protocol Communicator: AnyObject {
  /// This process's rank.
  var rank: Int { get }
  /// The number of ranks.
  var size: Int { get }

  /// Replaces every rank's `buffer` with the element-wise combination of all
  /// ranks' buffers (same count on every rank).
  func allReduce<Scalar: ReducibleScalar>(
    _ buffer: UnsafeMutableBufferPointer<Scalar>, _ operation: ReductionOperation) throws

  /// Replaces every rank's `bytes` with rank `root`'s (same count on every rank).
  func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws

  /// Writes every rank's `contribution` (same count on every rank) into
  /// `result`, rank 0's first: `result.count == size × contribution.count`.
  func allGather<Scalar: ReducibleScalar>(
    _ contribution: UnsafeBufferPointer<Scalar>, into result: UnsafeMutableBufferPointer<Scalar>)
    throws

  /// Returns once every rank has called it.
  func barrier() throws

  /// Ends every rank's process: the last resort when one rank cannot go on
  /// and cannot tell the others in a collective.
  func abort(reason: String, code: Int32) -> Never
}

/// Why a collective failed.
public enum CommunicatorError: Error, CustomStringConvertible, Equatable {
  /// Another rank failed (its reason) before or during this collective.
  case peerFailed(rank: Int, reason: String)
  /// Some ranks did not reach the collective within the allowed time.
  case timedOut(collective: String, seconds: Double, missingRanks: [Int])
  /// Ranks called different collectives, or the same one with different sizes.
  case mismatch(String)
  /// An argument is out of range (a root outside `0..<size`, a result of the wrong size).
  case invalidArgument(String)

  public var description: String {
    switch self {
    case .peerFailed(let rank, let reason): return "rank \(rank) failed: \(reason)"
    case .timedOut(let collective, let seconds, let missing):
      return
        "\(collective) timed out after \(seconds) s waiting for rank(s) "
        + missing.map(String.init).joined(separator: ", ")
    case .mismatch(let message): return "ranks disagree on the collective: \(message)"
    case .invalidArgument(let message): return "invalid collective argument: \(message)"
    }
  }
}

extension Communicator {
  /// Whether this rank is the coordinator (rank 0).
  public var isCoordinator: Bool { rank == 0 }

  /// All-reduces an array in place.
  public func allReduce<Scalar: ReducibleScalar>(
    _ values: inout [Scalar], _ operation: ReductionOperation
  ) throws {
    try values.withUnsafeMutableBufferPointer { try allReduce($0, operation) }
  }

  /// Every rank's `values` (same count everywhere), rank 0's first.
  public func allGather<Scalar: ReducibleScalar>(_ values: [Scalar]) throws -> [Scalar] {
    var result = [Scalar](repeating: 0, count: values.count * size)
    try values.withUnsafeBufferPointer { v in
      try result.withUnsafeMutableBufferPointer { try allGather(v, into: $0) }
    }
    return result
  }

  /// Rank `root`'s value of a fixed-size plain value on every rank.
  public func broadcast<Value: BitwiseCopyable>(_ value: inout Value, root: Int) throws {
    try withUnsafeMutableBytes(of: &value) { try broadcast($0, root: root) }
  }

  /// Checks that an all-gather's result holds `size` contributions.
  func validate(gatherResult result: Int, contribution: Int) throws {
    guard result == size * contribution else {
      throw CommunicatorError.invalidArgument(
        "all-gather result of \(result) for \(size) ranks × \(contribution)")
    }
  }

  /// Checks `root` against `0..<size`.
  func validate(root: Int) throws {
    guard root >= 0 && root < size else {
      throw CommunicatorError.invalidArgument("root \(root) outside 0..<\(size)")
    }
  }
}
