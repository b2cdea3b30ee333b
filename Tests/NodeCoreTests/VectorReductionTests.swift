import Testing

@testable import NodeCore

/// The eight-partial reductions against sums in Double, for every tail length.
@Suite struct VectorReductionTests {
  static func values(_ count: Int, seed: UInt64) -> [Float] {
    let random = CounterRandom(seed: seed)
    return (0..<count).map { random.normal(stream: 1, index: UInt64($0), as: Float.self) }
  }

  @Test(arguments: [0, 1, 7, 8, 9, 15, 16, 17, 72, 1000])
  func matchDoubleSums(count: Int) {
    let x = Self.values(count, seed: 1)
    let y = Self.values(count, seed: 2)
    let c: Float = 0.25
    let sum = x.reduce(0.0) { $0 + Double($1) }
    let dot = zip(x, y).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    let squares = x.reduce(0.0) { $0 + (Double($1) - Double(c)) * (Double($1) - Double(c)) }
    let magnitude = x.reduce(0.0) { $0 + abs(Double($1)) } + 1
    x.withUnsafeBufferPointer { px in
      y.withUnsafeBufferPointer { py in
        let (a, b) = (
          px.baseAddress ?? UnsafePointer(bitPattern: 8)!,
          py.baseAddress ?? UnsafePointer(bitPattern: 8)!
        )
        #expect(abs(Double(VectorReduction.sum(a, count: count)) - sum) <= 1e-6 * magnitude)
        #expect(abs(Double(VectorReduction.dot(a, b, count: count)) - dot) <= 1e-5 * magnitude)
        #expect(
          abs(Double(VectorReduction.squaredDeviations(a, count: count, from: c)) - squares)
            <= 1e-6 * (squares + 1))
      }
    }
  }

  /// The grouping is fixed by the count: the same values give the same bits
  /// wherever they sit in memory.
  @Test func resultDoesNotDependOnAddress() {
    let x = Self.values(37, seed: 3)
    let shifted = [Float(99)] + x
    let direct = x.withUnsafeBufferPointer { VectorReduction.sum($0.baseAddress!, count: 37) }
    let offset = shifted.withUnsafeBufferPointer {
      VectorReduction.sum($0.baseAddress! + 1, count: 37)
    }
    #expect(direct == offset)
  }
}
