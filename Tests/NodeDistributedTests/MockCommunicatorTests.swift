import Foundation
import Testing

@testable import NodeDistributed

/// The in-process group: real collective semantics, deterministic sums, and
/// faults that reach every rank in bounded time.
@Suite struct MockCommunicatorTests {
  /// Each rank's result, or the test fails naming the rank's error.
  static func values<T>(_ results: [Result<T, any Error>]) throws -> [T] {
    try results.map { try $0.get() }
  }

  @Test func allReduceSumsInRankOrderOnEveryRank() throws {
    // In Float, (1e8 + 1) − 1e8 + 1 = 1 in rank order; other orders give 0 or 2.
    let contributions: [Float] = [1e8, 1, -1e8, 1]
    let results = MockCommunicator.run(size: 4) { communicator in
      var values: [Float] = [contributions[communicator.rank], Float(communicator.rank)]
      try communicator.allReduce(&values, .sum)
      return values
    }
    for values in try Self.values(results) { #expect(values == [1, 6]) }
  }

  @Test func allReduceMaxBroadcastAndGather() throws {
    struct Decision: Equatable, BitwiseCopyable {
      var tolerance: Double
      var step: Int
    }
    let results = MockCommunicator.run(size: 3) { communicator in
      let r = Double(communicator.rank)
      var largest = [r, -r]
      try communicator.allReduce(&largest, .max)
      var decision = Decision(tolerance: 1e-3 * (r + 1), step: communicator.rank)
      try communicator.broadcast(&decision, root: 2)
      let gathered = try communicator.allGather([r, 10 * r])
      try communicator.barrier()
      return (largest, decision, gathered)
    }
    for (largest, decision, gathered) in try Self.values(results) {
      #expect(largest == [2, 0])
      #expect(decision == Decision(tolerance: 3e-3, step: 2))
      #expect(gathered == [0, 0, 1, 10, 2, 20])
    }
  }

  /// Hundreds of collectives in a row keep every rank in step.
  @Test func consecutiveCollectivesStayInStep() throws {
    let results = MockCommunicator.run(size: 3) { communicator in
      var total = 0.0
      for i in 0..<300 {
        var value = [Double(i * (communicator.rank + 1))]
        try communicator.allReduce(&value, .sum)
        total += value[0]
      }
      return total
    }
    // Σ_i 6i over i < 300.
    for total in try Self.values(results) { #expect(total == 6 * Double(299 * 300 / 2)) }
  }

  @Test func aFailingRankFailsEveryRankPromptly() throws {
    struct Broken: Error {}
    let start = Date()
    let results = MockCommunicator.run(size: 3, timeout: 30) { communicator in
      if communicator.rank == 1 { throw Broken() }
      var value = [1.0]
      try communicator.allReduce(&value, .sum)
      return value[0]
    }
    #expect(Date().timeIntervalSince(start) < 10)
    for rank in [0, 2] {
      #expect(throws: CommunicatorError.self) { try results[rank].get() }
      if case .failure(let error as CommunicatorError) = results[rank],
        case .peerFailed(let failed, _) = error
      {
        #expect(failed == 1)
      } else {
        Issue.record("rank \(rank): \(results[rank])")
      }
    }
    #expect(throws: Broken.self) { try results[1].get() }
  }

  @Test func aStalledRankTimesOutEveryRank() throws {
    let start = Date()
    let results = MockCommunicator.run(size: 3, timeout: 0.5) { communicator in
      if communicator.rank == 2 { Thread.sleep(forTimeInterval: 1.5) }
      try communicator.barrier()
      return communicator.rank
    }
    #expect(Date().timeIntervalSince(start) < 5)
    for result in results {
      guard case .failure(let error as CommunicatorError) = result,
        case .timedOut(let collective, _, let missing) = error
      else {
        Issue.record("expected a time-out, got \(result)")
        continue
      }
      #expect(collective == "barrier" && missing == [2])
    }
  }

  @Test func mismatchedCollectivesAreReported() throws {
    let results = MockCommunicator.run(size: 2, timeout: 5) { communicator in
      var values = [Float](repeating: 1, count: 3 + communicator.rank)
      try communicator.allReduce(&values, .sum)
      return values
    }
    for result in results {
      guard case .failure(let error as CommunicatorError) = result, case .mismatch = error else {
        Issue.record("expected a mismatch, got \(result)")
        continue
      }
    }
  }

  @Test func abortEndsTheRankAndFailsTheOthers() throws {
    let results = MockCommunicator.run(size: 2, timeout: 30) { communicator in
      if communicator.rank == 0 { communicator.abort(reason: "checkpoint disk full", code: 3) }
      try communicator.barrier()
      return 1
    }
    #expect(throws: MockCommunicator.Aborted.self) { try results[0].get() }
    #expect(throws: CommunicatorError.self) { try results[1].get() }
  }

  @Test func badArgumentsAreRefused() throws {
    let results = MockCommunicator.run(size: 2) { communicator in
      var value = 0
      #expect(throws: CommunicatorError.self) { try communicator.broadcast(&value, root: 2) }
      var wrong = [Double](repeating: 0, count: 3)
      #expect(throws: CommunicatorError.self) {
        try [1.0].withUnsafeBufferPointer { v in
          try wrong.withUnsafeMutableBufferPointer { try communicator.allGather(v, into: $0) }
        }
      }
      return true
    }
    #expect(try Self.values(results) == [true, true])
  }

  @Test func localCommunicatorIsTheIdentity() throws {
    let local = LocalCommunicator()
    var values: [Float] = [1, 2]
    try local.allReduce(&values, .sum)
    #expect(values == [1, 2] && local.isCoordinator && local.size == 1)
    #expect(try local.allGather([3.0, 4.0]) == [3, 4])
    var value = 7
    try local.broadcast(&value, root: 0)
    #expect(value == 7)
    #expect(throws: CommunicatorError.self) { try local.broadcast(&value, root: 1) }
  }
}
