import Foundation
import NodeDistributed

extension Communicator {
  /// Runs `decide` on rank 0 and gives every rank its bytes, or its error:
  /// the decision pattern of the coordinator. Every rank calls this at the
  /// same point, so collectives stay matched even when rank 0 fails.
  ///
  /// - Throws: ``TrainingError/coordinatorFailed(_:)`` on every rank when
  ///   `decide` threw on rank 0; ``CommunicatorError`` from the broadcasts.
  func coordinatorDecision(_ decide: () throws -> Data) throws -> Data {
    var payload = Data()
    var header: (status: Int64, length: Int64) = (0, 0)
    if rank == 0 {
      do {
        payload = try decide()
      } catch {
        payload = Data("\(error)".utf8)
        header.status = 1
      }
      header.length = Int64(payload.count)
    }
    try broadcast(&header, root: 0)
    if rank != 0 { payload = Data(count: Int(header.length)) }
    if header.length > 0 {
      try payload.withUnsafeMutableBytes { try broadcast($0, root: 0) }
    }
    if header.status != 0 {
      throw TrainingError.coordinatorFailed(String(decoding: payload, as: UTF8.self))
    }
    return payload
  }

  /// Broadcasts `values` from rank 0 in place (every rank passes the same count).
  func broadcast<Scalar: BitwiseCopyable>(array values: inout [Scalar]) throws {
    try values.withUnsafeMutableBytes { try broadcast($0, root: 0) }
  }
}
