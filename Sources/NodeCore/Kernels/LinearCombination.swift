import CNodeKernels

extension Elementwise {
  /// `out[i] = base[i] + scales[i] · (w₀ x₀[i] + w₁ x₁[i] + …)` for `i < count`,
  /// or the sum alone when `base` is nil — a Runge–Kutta stage input
  /// `y + h Σ_j a_j k_j` or error estimate `Σ_j e_j k_j` in one pass.
  ///
  /// The terms are summed in order from `w₀ x₀`, every product and every sum
  /// rounded on its own, so the result is bitwise that of ``scale(_:by:into:count:)``,
  /// then ``axpy(_:_:_:count:)`` per further term, then
  /// ``addScaled(base:scales:_:into:count:)``. `Float` runs one AVX2 pass
  /// when the CPU has it; other scalars run those passes.
  ///
  /// - Parameters:
  ///   - weights: `termCount ≥ 1` weights.
  ///   - terms: `termCount` arrays of `count` elements.
  ///   - base: the values and per-element scales to add the sum to, if any.
  ///   - out: `count` elements, none of them an input's.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func linearCombination<Scalar: TensorScalar>(
    weights: UnsafePointer<Scalar>, terms: UnsafePointer<UnsafePointer<Scalar>>, termCount: Int,
    count: Int, base: (values: UnsafePointer<Scalar>, scales: UnsafePointer<Scalar>)?,
    into out: UnsafeMutablePointer<Scalar>
  ) {
    precondition(termCount >= 1, "a linear combination needs at least one term")
    if usesFloatKernels(Scalar.self) {
      terms.withMemoryRebound(to: UnsafePointer<Float>?.self, capacity: termCount) {
        nd_linear_combination_f32(
          weights.floats, $0, termCount, count, base?.values.floats, base?.scales.floats,
          out.floats)
      }
      return
    }
    scale(terms[0], by: weights[0], into: out, count: count)
    for t in 1..<termCount { axpy(weights[t], terms[t], out, count: count) }
    if let base { addScaled(base: base.values, scales: base.scales, out, into: out, count: count) }
  }

  /// The adaptive step's error terms element by element: `out[i] = (h[i] e[i] /
  /// (atol + rtol · max(|y₀[i]|, |y₁[i]|)))²` for `i < count`, `0` where `h[i] e[i]`
  /// is zero (so that `atol = 0` and a zero state give no `0/0`) and NaN where
  /// `y₁[i]` is not finite. Every operation rounds on its own, in this order,
  /// for `Float` (an AVX2 pass) and other scalars alike; `out` may be `e`.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func scaledErrorSquares<Scalar: TensorScalar>(
    count: Int, errorSum e: UnsafePointer<Scalar>, steps h: UnsafePointer<Scalar>,
    start y0: UnsafePointer<Scalar>, end y1: UnsafePointer<Scalar>,
    relativeTolerance rtol: Scalar, absoluteTolerance atol: Scalar,
    into out: UnsafeMutablePointer<Scalar>
  ) {
    if usesFloatKernels(Scalar.self) {
      nd_scaled_error_squares_f32(
        count, e.floats, h.floats, y0.floats, y1.floats, Float(rtol), Float(atol), out.floats)
      return
    }
    for i in 0..<count {
      let end = y1[i]
      let scale = atol + rtol * Swift.max(Swift.abs(y0[i]), Swift.abs(end))
      let error = h[i] * e[i]
      let scaled = error == 0 ? 0 : error / scale
      out[i] = end.isFinite ? scaled * scaled : .nan
    }
  }
}
