import Foundation

/// A copy of the values a cached result was computed from: the result is still
/// valid while ``holds(_:count:)`` — the same count and the same bits.
///
/// Layers keep one per cache (a transposed weight, a gate) because a solve
/// calls them many times with unchanged parameters and times; comparing is a
/// `memcmp`, far cheaper than recomputing.
public final class ValueSnapshot<Scalar: BitwiseCopyable> {
  private let copy = ScratchBuffer<Scalar>()
  private var count: Int?

  /// An empty snapshot, which holds nothing.
  public init() {}

  /// Whether `values` are the `count` values last taken, bit for bit.
  public func holds(_ values: UnsafePointer<Scalar>, count: Int) -> Bool {
    self.count == count && sameBits(copy.base, values, count: count)
  }

  /// Takes a copy of `values`.
  public func take(_ values: UnsafePointer<Scalar>, count: Int) {
    copy.reserve(count).update(from: values, count: count)
    self.count = count
  }
}

/// Whether the `count` values at `a` and `b` are the same bits (so +0 and −0
/// differ, and a NaN equals the same NaN).
public func sameBits<Scalar: BitwiseCopyable>(
  _ a: UnsafePointer<Scalar>, _ b: UnsafePointer<Scalar>, count: Int
) -> Bool {
  memcmp(a, b, count * MemoryLayout<Scalar>.stride) == 0
}
