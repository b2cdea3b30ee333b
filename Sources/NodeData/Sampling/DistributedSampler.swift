/// What to do with the samples of an epoch that do not fill a whole global batch.
public enum RemainderPolicy: String, Sendable, Codable, CaseIterable {
  /// Leave them out of this epoch (the next epoch's order differs, so every
  /// sample is still seen over epochs). Every step has exactly one full batch.
  case drop
  /// Fill the last batch with samples from the start of the epoch's order
  /// (PyTorch's `DistributedSampler` does the same); those samples count
  /// twice in that epoch.
  case pad
}

/// Which global samples every training step uses, and which rank computes
/// which of them — the same answer on every rank, with no communication.
///
/// An epoch visits the data set in ``EpochOrder`` (a pure function of
/// `(seed, epoch)`); step `s` of the epoch takes positions
/// `s·B ..< (s+1)·B` of that order, `B` the global batch. The batch is cut
/// into `C` equal *chunks* of `B / C` consecutive samples. Chunks, not ranks,
/// are the unit of work: a chunk's gradient is a pure function of its
/// samples and the parameters, and the step's gradient is the sum of the
/// chunks' in chunk order, so the result is the same on 1 rank or on `C`.
/// Rank `r` of `R` computes chunks `⌊rC/R⌋ ..< ⌊(r+1)C/R⌋` (a contiguous
/// block; `R` need not divide `C`, but `R ≤ C`).
public struct DistributedSampler: Sendable, Equatable {
  /// Samples in the data set.
  public let datasetSize: Int
  /// `B`, samples per step over all ranks.
  public let globalBatch: Int
  /// `C`, the chunks a global batch is cut into.
  public let chunkCount: Int
  /// The seed of the epochs' orders.
  public let seed: UInt64
  /// What happens to an epoch's last incomplete batch.
  public let remainder: RemainderPolicy

  /// A sampler; every rank builds the same one.
  ///
  /// - Throws: ``DataError/invalidOption(name:value:allowed:)`` naming the
  ///   value when the data set is smaller than one batch (with `drop`), the
  ///   batch is not positive, or the chunk count does not divide the batch.
  public init(
    datasetSize: Int, globalBatch: Int, chunkCount: Int, seed: UInt64,
    remainder: RemainderPolicy = .drop
  ) throws {
    guard globalBatch >= 1 else {
      throw DataError.invalidOption(
        name: "global batch size", value: "\(globalBatch)", allowed: "≥ 1")
    }
    guard chunkCount >= 1 && globalBatch % chunkCount == 0 else {
      throw DataError.invalidOption(
        name: "chunk count", value: "\(chunkCount)",
        allowed: "a divisor of the global batch size \(globalBatch)")
    }
    guard datasetSize >= (remainder == .drop ? globalBatch : 1) else {
      throw DataError.invalidOption(
        name: "data set size", value: "\(datasetSize)",
        allowed: remainder == .drop
          ? "at least one global batch (\(globalBatch)) when the remainder is dropped"
          : "≥ 1")
    }
    self.datasetSize = datasetSize
    self.globalBatch = globalBatch
    self.chunkCount = chunkCount
    self.seed = seed
    self.remainder = remainder
  }

  /// Samples per chunk, `B / C`.
  public var chunkSize: Int { globalBatch / chunkCount }

  /// Steps in one epoch: `⌊N/B⌋` when dropping, `⌈N/B⌉` when padding.
  public var stepsPerEpoch: Int {
    remainder == .drop
      ? datasetSize / globalBatch : (datasetSize + globalBatch - 1) / globalBatch
  }

  /// The epoch and the step within it of global step `step` (counted from 0
  /// over the whole run).
  public func position(ofStep step: Int) -> (epoch: Int, stepInEpoch: Int) {
    (step / stepsPerEpoch, step % stepsPerEpoch)
  }

  /// The global sample indices of step `stepInEpoch` of `epoch`, in chunk
  /// order, from that epoch's visiting order `order` (``order(epoch:)``).
  public func batch(stepInEpoch: Int, order: [Int]) -> [Int] {
    precondition(order.count == datasetSize && stepInEpoch < stepsPerEpoch)
    let start = stepInEpoch * globalBatch
    return (start..<(start + globalBatch)).map { order[$0 % datasetSize] }
  }

  /// The visiting order of `epoch`.
  public func order(epoch: Int) -> [Int] {
    EpochOrder.permutation(count: datasetSize, seed: seed, epoch: epoch)
  }

  /// The samples of chunk `chunk` of a global `batch`.
  public func chunk(_ chunk: Int, of batch: [Int]) -> ArraySlice<Int> {
    batch[(chunk * chunkSize)..<((chunk + 1) * chunkSize)]
  }

  /// The chunks rank `rank` of `ranks` computes: a contiguous block.
  public static func chunks(ownedBy rank: Int, of ranks: Int, chunkCount: Int) -> Range<Int> {
    precondition(ranks >= 1 && rank >= 0 && rank < ranks)
    return (rank * chunkCount / ranks)..<((rank + 1) * chunkCount / ranks)
  }

  /// The part of `0..<count` (an evaluation set) rank `rank` of `ranks`
  /// evaluates: contiguous, sizes differing by at most one, every index
  /// exactly once over the ranks.
  public static func evaluationRange(count: Int, rank: Int, of ranks: Int) -> Range<Int> {
    precondition(ranks >= 1 && rank >= 0 && rank < ranks)
    return (rank * count / ranks)..<((rank + 1) * count / ranks)
  }
}
