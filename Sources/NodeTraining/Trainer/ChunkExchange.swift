import NodeData
import NodeDistributed

/// Gives every rank every chunk's buffer, so that sums over chunks run in
/// chunk order whatever the number of ranks — the fixed-order reduction that
/// makes training bitwise independent of the rank count.
///
/// Each rank owns a contiguous block of chunks
/// (``NodeData/DistributedSampler/chunks(ownedBy:of:chunkCount:)``) and
/// contributes `⌈C/R⌉` slots of `width` values (unused slots are zeros); one
/// all-gather then holds chunk `c` at its owner's slot.
struct ChunkExchange {
  /// `C`, `R` and this rank.
  let chunkCount: Int
  let ranks: Int
  let rank: Int

  /// Slots per rank, `⌈C/R⌉`.
  var slots: Int { (chunkCount + ranks - 1) / ranks }

  /// The chunks this rank computes.
  var owned: Range<Int> { owned(by: rank) }

  /// The chunks rank `r` computes.
  func owned(by r: Int) -> Range<Int> {
    DistributedSampler.chunks(ownedBy: r, of: ranks, chunkCount: chunkCount)
  }

  /// The rank that computes chunk `c`.
  func owner(of c: Int) -> Int {
    (0..<ranks).first { owned(by: $0).contains(c) }!
  }

  /// Every chunk's `width` values, indexed by chunk, from this rank's owned
  /// chunks' values (`local[i]` is chunk `owned.lowerBound + i`'s).
  func gather<Scalar: ReducibleScalar>(
    _ local: [[Scalar]], width: Int, over communicator: any Communicator
  ) throws -> Gathered<Scalar> {
    var contribution = [Scalar](repeating: 0, count: slots * width)
    for (i, values) in local.enumerated() {
      precondition(
        values.count == width, "chunk buffer of \(values.count) values, \(width) expected")
      contribution.replaceSubrange((i * width)..<((i + 1) * width), with: values)
    }
    let all = ranks == 1 ? contribution : try communicator.allGather(contribution)
    return Gathered(values: all, width: width, exchange: self)
  }

  /// An all-gather's result.
  struct Gathered<Scalar: ReducibleScalar> {
    let values: [Scalar]
    let width: Int
    let exchange: ChunkExchange

    /// Where chunk `c`'s values start.
    func offset(ofChunk c: Int) -> Int {
      let r = exchange.owner(of: c)
      return (r * exchange.slots + (c - exchange.owned(by: r).lowerBound)) * width
    }

    /// Chunk `c`'s values.
    func chunk(_ c: Int) -> ArraySlice<Scalar> {
      let start = offset(ofChunk: c)
      return values[start..<(start + width)]
    }

    /// `(Σ_c chunk_c) · scale`, summed in chunk order.
    func orderedSum(scale: Scalar) -> [Scalar] {
      var total = [Scalar](repeating: 0, count: width)
      values.withUnsafeBufferPointer { all in
        total.withUnsafeMutableBufferPointer { sum in
          for c in 0..<exchange.chunkCount {
            let source = all.baseAddress! + offset(ofChunk: c)
            for i in 0..<width { sum[i] += source[i] }
          }
          for i in 0..<width { sum[i] *= scale }
        }
      }
      return total
    }
  }
}
