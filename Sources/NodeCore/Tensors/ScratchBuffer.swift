/// An owned, 64-byte aligned, uninitialised-by-default block of scalars that
/// grows on demand and is reused across calls.
///
/// Solvers and vector fields keep their intermediate arrays in scratch buffers
/// sized once for the largest batch, so the hot loops never allocate.
public final class ScratchBuffer<Scalar: BitwiseCopyable> {
  /// The start of the block; valid for `capacity` elements.
  public private(set) var base: UnsafeMutablePointer<Scalar>
  /// The number of elements the block holds.
  public private(set) var capacity: Int

  /// Creates a buffer holding at least `capacity` elements, zero-filled.
  public init(capacity: Int = 0) {
    self.capacity = Swift.max(capacity, 1)
    self.base = Self.allocate(self.capacity)
  }

  deinit { base.deallocate() }

  /// Grows the buffer to hold at least `count` elements. Contents are not kept.
  /// - Returns: the (possibly new) start of the block.
  @discardableResult
  public func reserve(_ count: Int) -> UnsafeMutablePointer<Scalar> {
    if count > capacity {
      base.deallocate()
      capacity = count
      base = Self.allocate(count)
    }
    return base
  }

  private static func allocate(_ count: Int) -> UnsafeMutablePointer<Scalar> {
    let raw = UnsafeMutableRawPointer.allocate(
      byteCount: count * MemoryLayout<Scalar>.stride, alignment: 64)
    raw.initializeMemory(as: UInt8.self, repeating: 0, count: count * MemoryLayout<Scalar>.stride)
    return raw.bindMemory(to: Scalar.self, capacity: count)
  }
}
