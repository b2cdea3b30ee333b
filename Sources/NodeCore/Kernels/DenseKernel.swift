import CNodeKernels
import RealModule

/// The dense-layer arithmetic over raw memory: `y_r = act(W x_r + b)` for a
/// batch of rows, each row computed by the same operations wherever it sits
/// in the batch (so results are bitwise independent of the batch).
///
/// In `Float` on CPUs with AVX2 and FMA it runs the CNodeKernels (the wide
/// kernel reads `Wᵀ`, the narrow one `W`); elsewhere a portable loop. Layers
/// whose weights live in a flat parameter buffer call it directly.
public enum DenseKernel {
  /// Whether this CPU can run the wide kernels' AVX-512 multiply-adds.
  public static var avx512Available: Bool { nd_avx512_available() != 0 }

  /// Whether the Float kernels take their AVX-512 copies — the wide layers'
  /// multiply-adds (outputs ≥ 8, k ≤ 256), the weight gradients
  /// (``addWeightGradient(cotangents:ldu:inputs:ldx:rows:outputs:inputCount:into:ldg:)``),
  /// the tanh passes (``TangentKernels/tanhWithJVP(input:tangents:blocks:output:outputTangents:)``
  /// among them), the concat-squash gate pass and its sigmoid — on by default where
  /// available. Every lane does the AVX2 code's operations in the same order,
  /// so the results are bitwise the same; tests compare the two. Set it only
  /// while no kernel runs (it is one flag for the process).
  public static var avx512Enabled: Bool {
    get { nd_dense_avx512_enabled() != 0 }
    set { nd_set_dense_avx512(newValue ? 1 : 0) }
  }

  /// Writes `act(W x_r + b)` for `rows` rows of `x` (row stride `ldx`) into
  /// `y` (row stride `ldy`).
  ///
  /// - Parameters:
  ///   - weight: `W`, row-major `[outputs, inputs]`.
  ///   - transposedWeight: `Wᵀ`, row-major `[inputs, outputs]`; needed by the
  ///     vectorised kernel when `outputs ≥ 8` (nil falls back to the portable loop).
  ///   - bias: `b`, `outputs` values.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func forward<Scalar: TensorScalar>(
    _ x: UnsafePointer<Scalar>, rows: Int, inputs: Int, ldx: Int,
    weight: UnsafePointer<Scalar>, transposedWeight: UnsafePointer<Scalar>?,
    bias: UnsafePointer<Scalar>, outputs: Int, into y: UnsafeMutablePointer<Scalar>, ldy: Int,
    activation: Activation
  ) {
    if rows == 0 { return }
    if usesFloatKernels(Scalar.self) && (outputs < 8 || transposedWeight != nil) {
      let act = activation == .tanh ? ND_ACTIVATION_TANH : ND_ACTIVATION_IDENTITY
      if outputs >= 8 {
        nd_dense_wide_f32(
          x.floats, rows, inputs, ldx, transposedWeight!.floats, outputs, bias.floats, y.floats,
          ldy, act)
      } else {
        nd_dense_narrow_f32(
          x.floats, rows, inputs, ldx, weight.floats, outputs, bias.floats, y.floats, ldy, act)
      }
      return
    }
    for r in 0..<rows {
      let xr = x + r * ldx
      for j in 0..<outputs {
        var sum = bias[j]
        let wj = weight + j * inputs
        for k in 0..<inputs { sum = sum + xr[k] * wj[k] }
        y[r * ldy + j] = activation == .tanh ? Scalar.tanh(sum) : sum
      }
    }
  }
}
