import Foundation

/// `size` ranks as threads of one process, for tests (DESIGN.md, decision 7):
/// real collective semantics — sums combined in rank order, so
/// deterministic — and faults that end the run on every rank within a
/// bounded time instead of hanging it.
///
/// ```swift
/// let results = MockCommunicator.run(size: 4) { communicator in
///   var gradient = localGradient(rank: communicator.rank)
///   try communicator.allReduce(&gradient, .sum)
///   return gradient
/// }
/// ```
public final class MockCommunicator: Communicator, @unchecked Sendable {
  public let rank: Int
  public var size: Int { group.size }
  private let group: InProcessGroup
  /// Records this rank's end after ``abort(reason:code:)``.
  private let recordAbort: @Sendable (String) -> Void

  init(rank: Int, group: InProcessGroup, recordAbort: @escaping @Sendable (String) -> Void) {
    self.rank = rank
    self.group = group
    self.recordAbort = recordAbort
  }

  /// What a rank that called ``abort(reason:code:)`` returns from ``run(size:timeout:_:)``.
  public struct Aborted: Error, CustomStringConvertible {
    /// The reason given.
    public let reason: String
    public var description: String { "aborted: \(reason)" }
  }

  /// Runs `body` on `size` threads, one communicator each, and returns each
  /// rank's result in rank order. A rank whose body throws fails the group:
  /// every other rank's pending or next collective throws
  /// ``CommunicatorError/peerFailed(rank:reason:)``. A collective that some
  /// rank does not reach within `timeout` seconds throws
  /// ``CommunicatorError/timedOut(collective:seconds:missingRanks:)`` on every rank.
  public static func run<T: Sendable>(
    size: Int, timeout: Double = 30, _ body: @escaping @Sendable (MockCommunicator) throws -> T
  ) -> [Result<T, any Error>] {
    precondition(size >= 1, "a group needs at least one rank, got \(size)")
    let group = InProcessGroup(size: size, timeout: timeout)
    let results = ResultSlots<T>(count: size)
    let finished = DispatchGroup()
    for rank in 0..<size {
      finished.enter()
      let thread = Thread {
        let communicator = MockCommunicator(rank: rank, group: group) { reason in
          results.set(rank, .failure(Aborted(reason: reason)))
          finished.leave()
        }
        let result = Result { try body(communicator) }
        if case .failure(let error) = result { group.fail(rank: rank, reason: "\(error)") }
        results.set(rank, result)
        finished.leave()
      }
      thread.stackSize = 8 << 20
      thread.start()
    }
    finished.wait()
    return results.all
  }

  public func allReduce<Scalar: ReducibleScalar>(
    _ buffer: UnsafeMutableBufferPointer<Scalar>, _ operation: ReductionOperation
  ) throws {
    let count = buffer.count
    let output = try group.collective(
      rank: rank, describe: "allReduce(\(operation), \(Scalar.self) × \(count))",
      contribution: Array(UnsafeRawBufferPointer(buffer))
    ) { contributions in
      var combined = [Scalar](repeating: 0, count: count)
      contributions[0].withUnsafeBytes { first in
        for i in 0..<count {
          combined[i] = first.load(fromByteOffset: i * MemoryLayout<Scalar>.stride, as: Scalar.self)
        }
      }
      for bytes in contributions.dropFirst() {
        bytes.withUnsafeBytes { other in
          for i in 0..<count {
            let value = other.load(fromByteOffset: i * MemoryLayout<Scalar>.stride, as: Scalar.self)
            switch operation {
            case .sum: combined[i] += value
            case .max: combined[i] = Swift.max(combined[i], value)
            }
          }
        }
      }
      let bytes = combined.withUnsafeBytes { Array($0) }
      return Array(repeating: bytes, count: contributions.count)
    }
    output.withUnsafeBytes { UnsafeMutableRawBufferPointer(buffer).copyMemory(from: $0) }
  }

  public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws {
    try validate(root: root)
    let output = try group.collective(
      rank: rank, describe: "broadcast(root \(root), \(bytes.count) bytes)",
      contribution: Array(UnsafeRawBufferPointer(bytes))
    ) { Array(repeating: $0[root], count: $0.count) }
    output.withUnsafeBytes { bytes.copyMemory(from: $0) }
  }

  public func allGather<Scalar: ReducibleScalar>(
    _ contribution: UnsafeBufferPointer<Scalar>, into result: UnsafeMutableBufferPointer<Scalar>
  ) throws {
    try validate(gatherResult: result.count, contribution: contribution.count)
    let output = try group.collective(
      rank: rank, describe: "allGather(\(Scalar.self) × \(contribution.count))",
      contribution: Array(UnsafeRawBufferPointer(contribution))
    ) { Array(repeating: Array($0.joined()), count: $0.count) }
    output.withUnsafeBytes { UnsafeMutableRawBufferPointer(result).copyMemory(from: $0) }
  }

  public func barrier() throws {
    _ = try group.collective(rank: rank, describe: "barrier", contribution: []) {
      Array(repeating: [], count: $0.count)
    }
  }

  /// Fails the group with `reason` and ends this rank's thread (the process
  /// goes on: the other ranks see ``CommunicatorError/peerFailed(rank:reason:)``).
  public func abort(reason: String, code: Int32) -> Never {
    group.fail(rank: rank, reason: "aborted (\(code)): \(reason)")
    recordAbort(reason)
    Thread.exit()
    fatalError("unreachable: the thread has exited")
  }
}

/// One result per rank, filled by the ranks' threads.
private final class ResultSlots<T: Sendable>: @unchecked Sendable {
  private let lock = NSLock()
  private var slots: [Result<T, any Error>?]

  init(count: Int) { slots = Array(repeating: nil, count: count) }

  func set(_ rank: Int, _ result: Result<T, any Error>) {
    lock.lock()
    slots[rank] = result
    lock.unlock()
  }

  var all: [Result<T, any Error>] {
    lock.lock()
    defer { lock.unlock() }
    return slots.map { $0! }
  }
}
