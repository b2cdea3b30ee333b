import Foundation
import NodeBench
import NodeCore
import NodeData
import NodeModels
import NodeSolvers
import Testing

/// A training iteration split among worker threads: the same data, per-sample
/// forward solves and loss as one thread, the chunks combined in chunk order.
@Suite struct ThreadedIterationTests {
  static let fashionMNISTAvailable = FileManager.default.fileExists(
    atPath: ImageDataset.fashionMNISTDirectory + "/train-images-idx3-ubyte.gz")

  @Test func chunksAreContiguousAndEven() throws {
    let chunks = try BatchChunks(batchSize: 10, threads: 4)
    #expect(chunks.ranges == [0..<2, 2..<5, 5..<7, 7..<10])
    #expect(try BatchChunks(batchSize: 24, threads: 1).ranges == [0..<24])
    #expect(try BatchChunks(batchSize: 3, threads: 3).ranges == [0..<1, 1..<2, 2..<3])
  }

  @Test func refusesThreadCountsWithoutAChunkEach() throws {
    let url = try #require(W1Workload.bundledInitialWeightsURL)
    let allowed = "1 to the batch size 24 (each thread computes a chunk of the batch)"
    #expect(
      throws: ExperimentError.invalidOption(name: "thread count", value: "0", allowed: allowed)
    ) {
      _ = try W1Workload(weights: url, batchSize: 24, threads: 0)
    }
    #expect(
      throws: ExperimentError.invalidOption(name: "thread count", value: "25", allowed: allowed)
    ) {
      _ = try W1Workload(weights: url, batchSize: 24, threads: 25)
    }
  }

  @Test func w1OnThreeThreadsMatchesOne() throws {
    let url = try #require(W1Workload.bundledInitialWeightsURL)
    let one = try W1Workload(weights: url, batchSize: 24)
    let three = try W1Workload(weights: url, batchSize: 24, threads: 3)
    #expect(three.threads == 3)
    try Self.expectSameIterations(
      one: (one.step, { one.field.parameters }), three: (three.step, { three.field.parameters }))
  }

  /// W2's chunks take their share of the whole batch's mean loss, so every
  /// sample's forward and adjoint solves are one thread's: the same NFE and
  /// loss, and an update that differs by the gradient sums' rounding (the
  /// adjoint's weight-gradient sums and the convolutions' GEMMs see other rows).
  @Test(.enabled(if: fashionMNISTAvailable, "needs Fashion-MNIST"))
  func w2OnThreeThreadsMatchesOneThread() throws {
    let url = try #require(W2Workload.bundledInitialWeightsURL)
    let one = try W2Workload(weights: url, batchSize: 10)
    let three = try W2Workload(weights: url, batchSize: 10, threads: 3)
    let initial = one.model.parameters
    let (a, b) = (try one.step(), try three.step())
    #expect(a.forward.allSucceeded && a.backward.allSucceeded)
    #expect(a.forward.functionEvaluations == b.forward.functionEvaluations)
    #expect(a.backward.functionEvaluations == b.backward.functionEvaluations)
    #expect(abs(a.loss - b.loss) <= 1e-12 * abs(a.loss))
    let updates = [one.model.parameters, three.model.parameters].map {
      zip($0, initial).map { $0 - $1 }
    }
    #expect(Self.relativeDistance(updates[0], initial) > 1e-4)
    #expect(Self.relativeDistance(updates[1], updates[0]) <= 1e-5)
  }

  /// Two iterations of each workload: identical per-sample NFE, the same loss
  /// to 1e-12 and parameters to 1e-5 (relative), and the updates moved them.
  static func expectSameIterations(
    one: (step: () throws -> TrainingStep, parameters: () -> [Float]),
    three: (step: () throws -> TrainingStep, parameters: () -> [Float])
  ) throws {
    let initial = one.parameters()
    for _ in 0..<2 {
      let (a, b) = (try one.step(), try three.step())
      #expect(a.forward.allSucceeded && a.backward.allSucceeded)
      #expect(a.forward.functionEvaluations == b.forward.functionEvaluations)
      #expect(a.backward.functionEvaluations == b.backward.functionEvaluations)
      #expect(a.forward.status == b.forward.status && a.backward.status == b.backward.status)
      #expect(abs(a.loss - b.loss) <= 1e-12 * abs(a.loss))
    }
    let (p, q) = (one.parameters(), three.parameters())
    #expect(relativeDistance(p, initial) > 1e-4)
    #expect(relativeDistance(q, p) <= 1e-5)
  }

  /// `‖x − y‖ / ‖y‖`.
  static func relativeDistance(_ x: [Float], _ y: [Float]) -> Double {
    let difference = zip(x, y).reduce(0.0) { $0 + pow(Double($1.0) - Double($1.1), 2) }
    return (difference / y.reduce(0.0) { $0 + Double($1) * Double($1) }).squareRoot()
  }
}
