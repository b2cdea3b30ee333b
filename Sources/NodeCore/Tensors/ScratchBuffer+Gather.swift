extension ScratchBuffer {
  /// Copies rows `rows[0 ..< count]` of the `columns`-wide row-major matrix at
  /// `source` into the buffer, one after another, and returns the buffer's start.
  @discardableResult
  public func gather(
    rows chosen: UnsafePointer<Int>, count: Int, of source: UnsafePointer<Scalar>, columns: Int
  ) -> UnsafeMutablePointer<Scalar> {
    let target = reserve(count * columns)
    for k in 0..<count {
      (target + k * columns).update(from: source + chosen[k] * columns, count: columns)
    }
    return target
  }
}
