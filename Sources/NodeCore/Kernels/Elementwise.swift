/// Elementwise kernels over contiguous memory. They allocate nothing and keep
/// a fixed order of operations per element, so an element's result never
/// depends on the length of the block it is computed in.
public enum Elementwise {
  /// `out[i] = a · x[i]` for `i < count`.
  @inlinable
  public static func scale<Scalar: TensorScalar>(
    _ x: UnsafePointer<Scalar>, by a: Scalar, into out: UnsafeMutablePointer<Scalar>, count: Int
  ) {
    for i in 0..<count { out[i] = a * x[i] }
  }

  /// `y[i] = y[i] + a · x[i]` for `i < count` (BLAS's axpy).
  @inlinable
  public static func axpy<Scalar: TensorScalar>(
    _ a: Scalar, _ x: UnsafePointer<Scalar>, _ y: UnsafeMutablePointer<Scalar>, count: Int
  ) {
    for i in 0..<count { y[i] = y[i] + a * x[i] }
  }

  /// `out[i] = base[i] + s[i] · x[i]` for `i < count` (`out` may alias `x` or `base`).
  @inlinable
  public static func addScaled<Scalar: TensorScalar>(
    base: UnsafePointer<Scalar>, scales s: UnsafePointer<Scalar>, _ x: UnsafePointer<Scalar>,
    into out: UnsafeMutablePointer<Scalar>, count: Int
  ) {
    for i in 0..<count { out[i] = base[i] + s[i] * x[i] }
  }

  /// `out[r · width + i] = values[r]` for every row `r < rows` and `i < width`:
  /// one value per row spread over the row's elements.
  @inlinable
  public static func broadcastRows<Scalar: TensorScalar>(
    _ values: UnsafePointer<Scalar>, into out: UnsafeMutablePointer<Scalar>, rows: Int, width: Int
  ) {
    for r in 0..<rows {
      let value = values[r]
      for i in (r * width)..<((r + 1) * width) { out[i] = value }
    }
  }

  /// Whether every one of `count` values is finite.
  @inlinable
  public static func allFinite<Scalar: TensorScalar>(_ x: UnsafePointer<Scalar>, count: Int) -> Bool
  {
    for i in 0..<count where !x[i].isFinite { return false }
    return true
  }
}
