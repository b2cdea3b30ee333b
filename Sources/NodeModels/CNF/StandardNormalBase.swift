import NodeCore

/// The standard normal base density `N(0, I)` of a flow.
enum StandardNormalBase {
  /// `log N(z; 0, I) = −(‖z‖² + D log 2π) / 2` of the first `d` values of `z`.
  @inline(__always)
  static func logDensity<Scalar: TensorScalar, C: Collection<Scalar>>(_ z: C, dimension d: Int)
    -> Scalar
  {
    var squares: Scalar = 0
    for value in z.prefix(d) { squares += value * value }
    return -(squares + Scalar(d) * Scalar.log(2 * Scalar.pi)) / 2
  }
}
