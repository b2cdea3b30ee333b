import CNodeKernels

/// Group normalisation's forward and backward passes through the CNodeKernels
/// (`Float` with AVX2), one call per batch: the same arithmetic as the
/// portable passes (``VectorReduction``'s partial sums, separate multiplies
/// and adds), so the same bits.
public enum GroupNormKernel {
  /// Whether the kernel runs for `Scalar` on this CPU (`Float` with AVX2 and FMA).
  public static func run<Scalar>(for _: Scalar.Type) -> Bool { usesFloatKernels(Scalar.self) }

  /// Normalises every row of `x` (`channels` planes of `pixels`) in `groups`
  /// groups: writes `1/σ` per row and group to `inverse`, `x̂` to `hat`
  /// (contiguous rows) and `γ_c x̂ + β_c` to `y`, each when given.
  ///
  /// - Precondition: ``run(for:)``; `gamma` and `beta` (`[channels]`) with `y`.
  public static func normalize<Scalar: TensorScalar>(
    _ x: MatrixView<Scalar>, channels: Int, groups: Int, pixels: Int, epsilon: Scalar,
    gamma: UnsafePointer<Scalar>?, beta: UnsafePointer<Scalar>?,
    into y: MutableMatrixView<Scalar>?, hat: UnsafeMutablePointer<Scalar>?,
    inverse: UnsafeMutablePointer<Scalar>?
  ) {
    precondition(run(for: Scalar.self) && (y == nil || (gamma != nil && beta != nil)))
    nd_group_norm_f32(
      x.base.floats, x.rowStride, x.rows, channels, groups, pixels, Float(epsilon),
      gamma?.floats, beta?.floats, y?.base.floats, y?.rowStride ?? 0, hat?.floats,
      inverse?.floats)
  }

  /// The backward pass from `hat` and `inverse` (as
  /// ``normalize(_:channels:groups:pixels:epsilon:gamma:beta:into:hat:inverse:)``
  /// writes them) and the output cotangents `dy`: adds `w_r Σ dy x̂` and
  /// `w_r Σ dy` per channel to `gradient` (`[γ̄, β̄]`, `w_r` from `rowWeights`
  /// or 1) and writes the input cotangents `(1/σ)(v − mean(v) − x̂ mean(x̂ v))`,
  /// `v = γ dy`, per group to `dx`, each when given.
  ///
  /// - Precondition: ``run(for:)``.
  public static func backward<Scalar: TensorScalar>(
    hat: UnsafePointer<Scalar>, inverse: UnsafePointer<Scalar>,
    outputCotangent dy: MatrixView<Scalar>,
    channels: Int, groups: Int, pixels: Int, gamma: UnsafePointer<Scalar>,
    inputCotangent dx: MutableMatrixView<Scalar>?, parameterGradient: UnsafeMutablePointer<Scalar>?,
    rowWeights: UnsafePointer<Scalar>?
  ) {
    precondition(run(for: Scalar.self))
    nd_group_norm_backward_f32(
      hat.floats, inverse.floats, dy.base.floats, dy.rowStride, dy.rows, channels, groups, pixels,
      gamma.floats, dx?.base.floats, dx?.rowStride ?? 0, parameterGradient?.floats,
      rowWeights?.floats)
  }
}
