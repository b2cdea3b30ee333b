import Testing

@testable import NodeData

@Suite struct EpochOrderTests {
  @Test func isAPermutationFixedBySeedAndEpoch() {
    for count in [0, 1, 2, 7, 1000] {
      let order = EpochOrder.permutation(count: count, seed: 3, epoch: 2)
      #expect(order.sorted() == Array(0..<count))
      #expect(order == EpochOrder.permutation(count: count, seed: 3, epoch: 2))
    }
    let a = EpochOrder.permutation(count: 1000, seed: 3, epoch: 0)
    #expect(a != EpochOrder.permutation(count: 1000, seed: 3, epoch: 1))
    #expect(a != EpochOrder.permutation(count: 1000, seed: 4, epoch: 0))
  }

  /// Every element lands in every position equally often: over 4000 epochs of
  /// 5 elements, each count is 800 ± 5 standard deviations (√(4000·0.2·0.8) ≈ 25).
  @Test func positionsAreUniform() {
    var counts = [[Int]](repeating: [Int](repeating: 0, count: 5), count: 5)
    for epoch in 0..<4000 {
      for (position, element) in EpochOrder.permutation(count: 5, seed: 9, epoch: epoch)
        .enumerated()
      {
        counts[element][position] += 1
      }
    }
    for row in counts {
      for count in row { #expect(abs(count - 800) < 5 * 25, "\(counts)") }
    }
  }
}
