import NodeCore
import NodeData
import NodeSolvers

/// A training batch cut into contiguous chunks, one per worker thread, whose
/// sizes differ by at most one; each chunk is computed on its own replica of
/// the model and the chunks' shares are combined in chunk order, so the
/// iteration's result does not depend on which thread ran which chunk.
///
/// One thread is one chunk of the whole batch, computed on the calling thread.
public struct BatchChunks: Sendable, Equatable {
  /// Samples in the whole batch.
  public let batchSize: Int
  /// The chunks' sample ranges in batch order: contiguous, covering `0 ..< batchSize`.
  public let ranges: [Range<Int>]

  /// `batchSize` samples cut into `threads` chunks.
  ///
  /// - Throws: ``ExperimentError/invalidOption(name:value:allowed:)`` naming
  ///   the thread count unless it is between 1 and the batch size (every
  ///   thread needs at least one sample).
  public init(batchSize: Int, threads: Int) throws {
    guard threads >= 1 && threads <= batchSize else {
      throw ExperimentError.invalidOption(
        name: "thread count", value: "\(threads)",
        allowed: "1 to the batch size \(batchSize) (each thread computes a chunk of the batch)")
    }
    self.batchSize = batchSize
    ranges = (0..<threads).map {
      DistributedSampler.evaluationRange(count: batchSize, rank: $0, of: threads)
    }
  }

  /// Runs `body` once per chunk, chunk `c` on `replicas[w]` for the worker
  /// `w` that takes it (`replicas[0]` on the calling thread when there is one
  /// chunk), and combines the chunks' shares in chunk order: the summed
  /// losses over the batch size, the sum of the gradients, and the
  /// whole batch's per-sample statistics.
  ///
  /// - Precondition: there is a replica per chunk, none shared with another.
  /// - Throws: the error of the first chunk (in chunk order) that threw.
  func run<Replica>(
    on replicas: [Replica], _ body: @escaping (Replica, Range<Int>) throws -> ChunkShare
  ) throws -> (step: TrainingStep, gradient: [Float]) {
    precondition(replicas.count >= ranges.count, "one replica per chunk")
    let results = ItemResults<Result<ChunkShare, any Error>>(count: ranges.count)
    let (shared, compute) = (UncheckedSendable(replicas), UncheckedSendable(body))
    WorkSharing.run(items: ranges.count, workers: ranges.count) { [ranges] worker, item in
      results.store(item, Result { try compute.value(shared.value[worker], ranges[item]) })
    }
    let shares = try results.values().map { try $0.get() }
    var gradient = [Float](repeating: 0, count: shares[0].gradient.count)
    var forward = SolveStatistics<Float>(batchSize: batchSize)
    var backward = SolveStatistics<Float>(batchSize: batchSize)
    var lossSum = 0.0
    for (share, range) in zip(shares, ranges) {
      precondition(share.gradient.count == gradient.count, "chunk gradients of different sizes")
      share.gradient.withUnsafeBufferPointer { g in
        gradient.withUnsafeMutableBufferPointer { total in
          Elementwise.axpy(1, g.baseAddress!, total.baseAddress!, count: g.count)
        }
      }
      lossSum += share.lossSum
      forward.accumulate(share.forward, samples: range)
      backward.accumulate(share.backward, samples: range)
    }
    return (
      TrainingStep(loss: lossSum / Double(batchSize), forward: forward, backward: backward),
      gradient
    )
  }
}

/// What one chunk of a batch contributes to a training iteration.
struct ChunkShare {
  /// The sum of the chunk's per-sample losses.
  var lossSum: Double
  /// The chunk's part of the batch's gradient (its loss is the chunk's share
  /// of the batch's mean): the batch's is the sum over the chunks.
  var gradient: [Float]
  /// The chunk's forward and backward statistics, per sample of the chunk.
  var forward: SolveStatistics<Float>
  var backward: SolveStatistics<Float>
}
