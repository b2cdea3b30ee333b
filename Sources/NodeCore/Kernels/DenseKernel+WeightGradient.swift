import CNodeKernels

extension DenseKernel {
  /// Adds a dense layer's weight gradient over a batch of rows:
  /// `G[o, i] += Σ_r U[r, o] X[r, i]`, i.e. `G += Uᵀ X` with `U` the rows' output
  /// cotangents (`[rows, outputs]`, row stride `ldu`) and `X` their inputs
  /// (`[rows, inputs]`, row stride `ldx`); `G` is row-major `[outputs, inputs]`
  /// with row stride `ldg`.
  ///
  /// In `Float` on CPUs with AVX2 and FMA, for 8 or more inputs or outputs
  /// (fewer inputs: `Gᵀ += Xᵀ U` in a transposed copy of `G`), it runs the
  /// dense kernel's register tiles over `U` and `X` where they lie: BLAS would
  /// first copy both into its packed layout, which for these short, fat
  /// products (64 × 64 outputs over thousands of rows) took a third of the
  /// GEMM's time. Each element of `G` then adds its terms to its old value in
  /// increasing row order, one fused multiply-add each, with or without
  /// AVX-512. Elsewhere it is one BLAS GEMM.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func addWeightGradient<Scalar: TensorScalar>(
    cotangents u: UnsafePointer<Scalar>, ldu: Int, inputs x: UnsafePointer<Scalar>, ldx: Int,
    rows: Int, outputs: Int, inputCount: Int, into g: UnsafeMutablePointer<Scalar>, ldg: Int
  ) {
    precondition(
      ldu >= outputs && ldx >= inputCount && ldg >= inputCount,
      "weight gradient: a row stride is shorter than its row")
    if rows == 0 || outputs == 0 || inputCount == 0 { return }
    if usesFloatKernels(Scalar.self) && (inputCount >= 8 || outputs >= 8) {
      nd_weight_gradient_f32(u.floats, ldu, x.floats, ldx, rows, outputs, inputCount, g.floats, ldg)
      return
    }
    gemm(
      .transposed, .none, m: outputs, n: inputCount, k: rows, a: u, lda: ldu, b: x, ldb: ldx,
      beta: 1, c: g, ldc: ldg)
  }
}
