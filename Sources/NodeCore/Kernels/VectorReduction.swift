/// Sums over contiguous scalars in eight interleaved partial sums (element
/// `i` goes to partial `i mod 8`), combined in a fixed order at the end.
///
/// A plain `sum += x[i]` loop cannot be vectorised — floating-point addition
/// is not associative, so the compiler keeps the one serial chain, one add
/// per element at the adder's latency. Eight partials let the adds run as one
/// SIMD lane each. The order is fixed by the count alone, so a result never
/// depends on where the values sit or on other data.
public enum VectorReduction {
  /// `Σ_i x[i]`.
  @inlinable
  public static func sum<Scalar: TensorScalar>(_ x: UnsafePointer<Scalar>, count: Int) -> Scalar {
    var partial = SIMD8<Scalar>()
    var i = 0
    while i &+ 8 <= count {
      partial += load(x + i)
      i &+= 8
    }
    return combine(partial, tail: x + i, count: count &- i) { $0 }
  }

  /// `Σ_i x[i] y[i]`.
  @inlinable
  public static func dot<Scalar: TensorScalar>(
    _ x: UnsafePointer<Scalar>, _ y: UnsafePointer<Scalar>, count: Int
  ) -> Scalar {
    var partial = SIMD8<Scalar>()
    var i = 0
    while i &+ 8 <= count {
      partial += load(x + i) * load(y + i)
      i &+= 8
    }
    let rest = count &- i
    var tail = SIMD8<Scalar>()
    for j in 0..<rest { tail[j] = x[i &+ j] * y[i &+ j] }
    return reduce(partial + tail)
  }

  /// `Σ_i (x[i] − c)²`.
  @inlinable
  public static func squaredDeviations<Scalar: TensorScalar>(
    _ x: UnsafePointer<Scalar>, count: Int, from c: Scalar
  ) -> Scalar {
    var partial = SIMD8<Scalar>()
    let center = SIMD8<Scalar>(repeating: c)
    var i = 0
    while i &+ 8 <= count {
      let d = load(x + i) - center
      partial += d * d
      i &+= 8
    }
    return combine(partial, tail: x + i, count: count &- i) { ($0 - c) * ($0 - c) }
  }

  @inlinable
  static func load<Scalar: TensorScalar>(_ p: UnsafePointer<Scalar>) -> SIMD8<Scalar> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Scalar>.self)
  }

  /// Adds the last `count` (< 8) terms to their partials, then reduces.
  @inlinable
  static func combine<Scalar: TensorScalar>(
    _ partial: SIMD8<Scalar>, tail: UnsafePointer<Scalar>, count: Int, _ term: (Scalar) -> Scalar
  ) -> Scalar {
    var last = SIMD8<Scalar>()
    for j in 0..<count { last[j] = term(tail[j]) }
    return reduce(partial + last)
  }

  /// `((p0 + p4) + (p2 + p6)) + ((p1 + p5) + (p3 + p7))`.
  @inlinable
  static func reduce<Scalar: TensorScalar>(_ p: SIMD8<Scalar>) -> Scalar {
    let half = p.lowHalf + p.highHalf
    let quarter = half.lowHalf + half.highHalf
    return quarter[0] + quarter[1]
  }
}
