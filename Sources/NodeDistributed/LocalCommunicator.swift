import Foundation

/// One rank alone (`node-dist train` without mpirun): every collective is
/// the identity, no MPI library is initialised.
public final class LocalCommunicator: Communicator {
  /// The single rank.
  public init() {}

  public var rank: Int { 0 }
  public var size: Int { 1 }

  public func allReduce<Scalar: ReducibleScalar>(
    _ buffer: UnsafeMutableBufferPointer<Scalar>, _ operation: ReductionOperation
  ) throws {}

  public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws {
    try validate(root: root)
  }

  public func allGather<Scalar: ReducibleScalar>(
    _ contribution: UnsafeBufferPointer<Scalar>, into result: UnsafeMutableBufferPointer<Scalar>
  ) throws {
    try validate(gatherResult: result.count, contribution: contribution.count)
    if let source = contribution.baseAddress {
      result.baseAddress!.update(from: source, count: contribution.count)
    }
  }

  public func barrier() throws {}

  public func abort(reason: String, code: Int32) -> Never {
    FileHandle.standardError.write(Data("node-dist: \(reason)\n".utf8))
    exit(code)
  }
}
