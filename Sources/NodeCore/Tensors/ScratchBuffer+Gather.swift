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

extension ScratchBuffer where Scalar: FloatingPoint {
  /// Whether rows `rows[0 ..< count]` of the `columns`-wide row-major matrix
  /// the buffer holds are all finite.
  public func rowsAreFinite(_ chosen: UnsafePointer<Int>, count: Int, columns: Int) -> Bool {
    for k in 0..<count {
      let row = base + chosen[k] * columns
      for i in 0..<columns where !row[i].isFinite { return false }
    }
    return true
  }
}
