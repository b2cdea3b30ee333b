import RealModule

/// Random draws addressed by `(seed, stream, index)`.
///
/// Every draw is a pure function of its address: the seed is the Philox key,
/// and `(stream, index)` select the counter block and the word in it. Data
/// order, Hutchinson noise and initialisation take their streams from what they
/// are for (e.g. the epoch) and their indices from global sample positions,
/// never from the rank or the batch, so any sample's noise can be regenerated
/// on any rank at any time.
///
/// Layout of the draws (one 128-bit Philox block per counter value):
/// - uniform `Float`: 4 per block, 24 bits each, in the open interval (0, 1);
/// - uniform `Double`: 2 per block, 53 bits each, in (0, 1);
/// - normal: 2 per block by the Box–Muller transform in `Double` (a `Float`
///   normal is the rounded `Double` one, so both precisions agree);
/// - Rademacher (±1): 128 per block, one bit each.
public struct CounterRandom: Sendable, Hashable {
  /// The key of every draw.
  public let seed: UInt64

  /// Creates a generator for `seed`.
  public init(seed: UInt64) { self.seed = seed }

  /// The 128 random bits of block `counter` in `stream`.
  @inlinable
  public func block(stream: UInt64, counter: UInt64) -> SIMD4<UInt32> {
    Philox4x32.block(
      counter: SIMD4(
        UInt32(truncatingIfNeeded: counter), UInt32(truncatingIfNeeded: counter >> 32),
        UInt32(truncatingIfNeeded: stream), UInt32(truncatingIfNeeded: stream >> 32)),
      key: SIMD2(UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32)))
  }

  /// The uniform draw at `index` of `stream`, in the open interval (0, 1).
  @inlinable
  public func uniform<Scalar: TensorScalar>(
    stream: UInt64, index: UInt64, as _: Scalar.Type = Scalar.self
  ) -> Scalar {
    if Scalar.significandBitCount <= Float.significandBitCount {
      let word = block(stream: stream, counter: index / 4)[Int(index % 4)]
      return Scalar(Self.openUnitFloat(word))
    }
    let bits = block(stream: stream, counter: index / 2)
    let half = Int(index % 2) * 2
    return Scalar(Self.openUnitDouble(bits[half], bits[half + 1]))
  }

  /// The standard normal draw at `index` of `stream`.
  @inlinable
  public func normal<Scalar: TensorScalar>(
    stream: UInt64, index: UInt64, as _: Scalar.Type = Scalar.self
  ) -> Scalar {
    let pair = Self.boxMuller(block(stream: stream, counter: index / 2))
    return Scalar(index % 2 == 0 ? pair.0 : pair.1)
  }

  /// The Rademacher draw (−1 or +1, equally likely) at `index` of `stream`.
  @inlinable
  public func rademacher<Scalar: TensorScalar>(
    stream: UInt64, index: UInt64, as _: Scalar.Type = Scalar.self
  ) -> Scalar {
    let bit = Int(index % 128)
    let word = block(stream: stream, counter: index / 128)[bit / 32]
    return (word >> UInt32(bit % 32)) & 1 == 0 ? -1 : 1
  }

  /// Fills `buffer` with the uniform draws at indices `start ..< start + count`.
  public func fillUniform<Scalar: TensorScalar>(
    _ buffer: UnsafeMutableBufferPointer<Scalar>, stream: UInt64, start: UInt64 = 0
  ) {
    for i in buffer.indices {
      buffer[i] = uniform(stream: stream, index: start + UInt64(i))
    }
  }

  /// Fills `buffer` with the normal draws at indices `start ..< start + count`.
  public func fillNormal<Scalar: TensorScalar>(
    _ buffer: UnsafeMutableBufferPointer<Scalar>, stream: UInt64, start: UInt64 = 0
  ) {
    var i = 0
    while i < buffer.count {
      let index = start + UInt64(i)
      let pair = Self.boxMuller(block(stream: stream, counter: index / 2))
      if index % 2 == 0 {
        buffer[i] = Scalar(pair.0)
        if i + 1 < buffer.count { buffer[i + 1] = Scalar(pair.1) }
        i += 2
      } else {
        buffer[i] = Scalar(pair.1)
        i += 1
      }
    }
  }

  /// Fills `buffer` with the Rademacher draws at indices `start ..< start + count`.
  public func fillRademacher<Scalar: TensorScalar>(
    _ buffer: UnsafeMutableBufferPointer<Scalar>, stream: UInt64, start: UInt64 = 0
  ) {
    for i in buffer.indices {
      buffer[i] = rademacher(stream: stream, index: start + UInt64(i))
    }
  }

  /// A 32-bit word as a `Float` in (0, 1): its top 24 bits, centred in their cell.
  @inlinable
  static func openUnitFloat(_ word: UInt32) -> Float {
    (Float(word >> 8) + 0.5) * 0x1p-24
  }

  /// Two 32-bit words as a `Double` in (0, 1): their top 53 bits, centred in their cell.
  @inlinable
  static func openUnitDouble(_ high: UInt32, _ low: UInt32) -> Double {
    let bits = (UInt64(high) << 32 | UInt64(low)) >> 11
    return (Double(bits) + 0.5) * 0x1p-53
  }

  /// Two independent standard normals from one block (Box–Muller).
  @inlinable
  static func boxMuller(_ bits: SIMD4<UInt32>) -> (Double, Double) {
    let u1 = openUnitDouble(bits.x, bits.y)
    let u2 = openUnitDouble(bits.z, bits.w)
    let radius = (-2 * Double.log(u1)).squareRoot()
    let angle = 2 * Double.pi * u2
    return (radius * Double.cos(angle), radius * Double.sin(angle))
  }
}
