import Foundation

/// The shared meeting point of an in-process group of ranks
/// (``MockCommunicator``): each collective waits until every rank has
/// contributed, then the last to arrive combines the contributions in rank
/// order — so sums are deterministic — and every rank takes its output.
///
/// A failed rank, a rank that does not arrive within the timeout, and ranks
/// that call different collectives all end the group: every rank waiting or
/// arriving later gets the same ``CommunicatorError``.
final class InProcessGroup: @unchecked Sendable {
  let size: Int
  let timeout: Double
  private let condition = NSCondition()
  private var failure: CommunicatorError?
  private var descriptor: String?
  private var contributions: [[UInt8]?]
  private var arrived = 0
  private var generation = 0
  private var outputs: [[UInt8]?]

  init(size: Int, timeout: Double) {
    self.size = size
    self.timeout = timeout
    contributions = Array(repeating: nil, count: size)
    outputs = Array(repeating: nil, count: size)
  }

  /// Records that `rank` failed; every rank's next or current collective throws.
  func fail(rank: Int, reason: String) {
    condition.lock()
    if failure == nil { failure = .peerFailed(rank: rank, reason: reason) }
    condition.broadcast()
    condition.unlock()
  }

  /// Runs one collective for `rank`: `describe` names it with its sizes (ranks
  /// must agree), `combine` maps the contributions in rank order to each rank's output.
  func collective(
    rank: Int, describe descriptor: String, contribution: [UInt8],
    combine: ([[UInt8]]) throws -> [[UInt8]]
  ) throws -> [UInt8] {
    condition.lock()
    defer { condition.unlock() }
    if let failure { throw failure }
    if let current = self.descriptor, current != descriptor {
      let error = CommunicatorError.mismatch("rank \(rank) called \(descriptor) during \(current)")
      failure = error
      condition.broadcast()
      throw error
    }
    self.descriptor = descriptor
    contributions[rank] = contribution
    arrived += 1
    let joined = generation
    if arrived == size {
      let all = contributions.map { $0! }
      do {
        outputs = try combine(all).map { Optional($0) }
      } catch let error as CommunicatorError {
        failure = error
        condition.broadcast()
        throw error
      }
      contributions = Array(repeating: nil, count: size)
      arrived = 0
      self.descriptor = nil
      generation += 1
      condition.broadcast()
    } else {
      let deadline = Date(timeIntervalSinceNow: timeout)
      while generation == joined && failure == nil {
        if !condition.wait(until: deadline) && generation == joined && failure == nil {
          let missing = (0..<size).filter { contributions[$0] == nil }
          failure = .timedOut(collective: descriptor, seconds: timeout, missingRanks: missing)
          condition.broadcast()
        }
      }
      if generation == joined, let failure { throw failure }
    }
    let output = outputs[rank]!
    outputs[rank] = nil
    return output
  }
}
