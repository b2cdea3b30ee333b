import NodeCore

/// The order in which an epoch visits a data set: a permutation of
/// `0..<count` that is a pure function of `(seed, epoch)`.
///
/// Fisher–Yates with its draws from the counter-based generator: step `i`
/// (from `count − 1` down to 1) swaps position `i` with `⌊u_i · (i + 1)⌋`,
/// `u_i` the uniform draw at index `i` of the epoch's stream. Any process
/// computes the same order without communicating.
public enum EpochOrder {
  /// The high word of the shuffling streams ("SHUF"); the low word is the epoch.
  public static let streamTag: UInt64 = 0x5348_5546

  /// The visiting order of epoch `epoch` over `count` samples.
  ///
  /// - Precondition: `count ≥ 0`, `0 ≤ epoch < 2³²`.
  public static func permutation(count: Int, seed: UInt64, epoch: Int) -> [Int] {
    precondition(count >= 0, "a data set cannot have \(count) samples")
    precondition(epoch >= 0 && epoch < 1 << 32, "epoch \(epoch) outside 0..<2^32")
    let random = CounterRandom(seed: seed)
    let stream = streamTag << 32 | UInt64(epoch)
    var order = Array(0..<count)
    var i = count - 1
    while i > 0 {
      let u: Double = random.uniform(stream: stream, index: UInt64(i))
      let j = Swift.min(Int(u * Double(i + 1)), i)
      order.swapAt(i, j)
      i -= 1
    }
    return order
  }
}
