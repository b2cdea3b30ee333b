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

  /// W2's chunk losses are their own means, so a chunk's adjoint starts from
  /// cotangents `B / n` times the whole batch's and, at atol = 1e-3, takes
  /// other steps: the threads' gradient is the size-weighted mean of the
  /// chunks' mean gradients, which two iterations rebuilt chunk by chunk on a
  /// one-thread workload must match; the forward solves and the loss, per
  /// sample, are the whole batch's.
  @Test(.enabled(if: fashionMNISTAvailable, "needs Fashion-MNIST"))
  func w2OnThreeThreadsCombinesTheChunksMeans() throws {
    let url = try #require(W2Workload.bundledInitialWeightsURL)
    let reference = try W2Workload(weights: url, batchSize: 10)
    let three = try W2Workload(weights: url, batchSize: 10, threads: 3)
    let (model, data) = (reference.model, reference.data)
    for iteration in 0..<2 {
      let indices = Array((iteration * 10)..<((iteration + 1) * 10))
      func gradient(_ samples: ArraySlice<Int>) throws -> ClassifierGradient<Float> {
        let images: Tensor<Float> = data.batch(indices: samples)
        return try model.gradient(
          images: images.reshaped([samples.count, 784]), labels: data.labels(at: samples),
          solver: reference.solver)
      }
      let whole = try gradient(indices[...])
      var combined = [Float](repeating: 0, count: model.parameterCount)
      var (forward, backward, loss) = ([Int](), [Int](), 0.0)
      for range in three.chunks.ranges {
        let chunk = try gradient(indices[range])
        let weight = Float(range.count) / 10
        for i in combined.indices { combined[i] += weight * chunk.gradient[i] }
        forward += chunk.forward!.functionEvaluations
        backward += chunk.backward!.functionEvaluations
        loss += chunk.loss * Double(range.count) / 10
      }
      let step = try three.step()
      #expect(step.forward.functionEvaluations == whole.forward!.functionEvaluations)
      #expect(step.forward.functionEvaluations == forward)
      #expect(step.backward.functionEvaluations == backward)
      #expect(abs(step.loss - whole.loss) <= 1e-12 * whole.loss)
      #expect(abs(step.loss - loss) <= 1e-12 * loss)
      var parameters = model.parameters
      reference.optimizer.update(&parameters, gradient: combined)
      model.parameters = parameters
    }
    #expect(Self.relativeDistance(three.model.parameters, model.parameters) <= 1e-5)
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
