/// The Philox-4x32-10 counter-based bijection (Salmon, Moraes, Dror, Shaw,
/// "Parallel random numbers: as easy as 1, 2, 3", SC 2011).
///
/// A keyed function from a 128-bit counter to 128 random bits: no state, so any
/// block can be computed anywhere in any order. Matches Random123's
/// `philox4x32_10` bit for bit (checked against its known-answer vectors).
public enum Philox4x32 {
  @usableFromInline static let multiplier0: UInt32 = 0xD251_1F53
  @usableFromInline static let multiplier1: UInt32 = 0xCD9E_8D57
  @usableFromInline static let weyl0: UInt32 = 0x9E37_79B9
  @usableFromInline static let weyl1: UInt32 = 0xBB67_AE85

  /// The ten-round Philox output for `counter` under `key`.
  @inlinable
  public static func block(counter: SIMD4<UInt32>, key: SIMD2<UInt32>) -> SIMD4<UInt32> {
    var c = counter
    var k = key
    for round in 0..<10 {
      if round > 0 {
        k.x &+= weyl0
        k.y &+= weyl1
      }
      let p0 = UInt64(multiplier0) &* UInt64(c.x)
      let p1 = UInt64(multiplier1) &* UInt64(c.z)
      c = SIMD4(
        UInt32(truncatingIfNeeded: p1 >> 32) ^ c.y ^ k.x,
        UInt32(truncatingIfNeeded: p1),
        UInt32(truncatingIfNeeded: p0 >> 32) ^ c.w ^ k.y,
        UInt32(truncatingIfNeeded: p0))
    }
    return c
  }
}
