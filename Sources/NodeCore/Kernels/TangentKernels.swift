import CNodeKernels

/// Element-wise passes over forward-mode tangents of a batch: a row holds
/// `blocks` blocks of `width` values (one per direction) beside one
/// `width`-wide vector that scales every block.
///
/// In `Float` on CPUs with AVX2 and FMA they run the CNodeKernels; elsewhere
/// portable loops. Each element's arithmetic is the same wherever its row sits.
public enum TangentKernels {
  /// `y[r, i·width + o] = x[r, i·width + o] · g[r·width + o]` for every
  /// block `i < blocks`: each row's blocks times its row of `g` (contiguous
  /// `[rows, width]`; `y` may be `x`).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func multiplyBlocks<Scalar: TensorScalar>(
    _ x: MatrixView<Scalar>, blocks: Int, width: Int, by g: UnsafePointer<Scalar>,
    into y: MutableMatrixView<Scalar>
  ) {
    if usesFloatKernels(Scalar.self) {
      nd_rows_mul_f32(
        x.base.floats, x.rowStride, g.floats, width, y.base.floats, y.rowStride, x.rows, blocks,
        width)
      return
    }
    for r in 0..<x.rows {
      let gr = g + r &* width
      for i in 0..<blocks {
        let (source, target) = (x.row(r) + i &* width, y.row(r) + i &* width)
        for o in 0..<width { target[o] = source[o] * gr[o] }
      }
    }
  }

  /// The tanh layer's JVP from its output `y`: `ẏ_i = (1 − y²) ẋ_i`.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func tanhJVP<Scalar: TensorScalar>(
    output y: MatrixView<Scalar>, tangents: MatrixView<Scalar>, blocks: Int,
    into result: MutableMatrixView<Scalar>
  ) {
    let width = y.columns
    if usesFloatKernels(Scalar.self) {
      nd_tanh_jvp_f32(
        y.base.floats, y.rowStride, tangents.base.floats, tangents.rowStride, result.base.floats,
        result.rowStride, y.rows, blocks, width)
      return
    }
    for r in 0..<y.rows {
      let output = y.row(r)
      for i in 0..<blocks {
        let (tangent, target) = (tangents.row(r) + i &* width, result.row(r) + i &* width)
        for o in 0..<width { target[o] = (1 - output[o] * output[o]) * tangent[o] }
      }
    }
  }

  /// A tanh layer's output and JVP from its input in one pass: `y = tanh(x)`
  /// (``VectorMath/tanh(_:into:count:)``'s arithmetic), then
  /// `ẏ_i = (1 − y²) ẋ_i` (``tanhJVP(output:tangents:blocks:into:)``'s), bitwise
  /// the results of those two passes, with `x` and `ẋ` read once.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func tanhWithJVP<Scalar: TensorScalar>(
    input x: MatrixView<Scalar>, tangents: MatrixView<Scalar>, blocks: Int,
    output y: MutableMatrixView<Scalar>, outputTangents: MutableMatrixView<Scalar>
  ) {
    let width = x.columns
    if usesFloatKernels(Scalar.self) {
      nd_tanh_with_jvp_f32(
        x.base.floats, x.rowStride, tangents.base.floats, tangents.rowStride, y.base.floats,
        y.rowStride, outputTangents.base.floats, outputTangents.rowStride, x.rows, blocks, width)
      return
    }
    for r in 0..<x.rows { VectorMath.tanh(x.row(r), into: y.row(r), count: width) }
    tanhJVP(
      output: MatrixView(base: y.base, rows: y.rows, columns: width, rowStride: y.rowStride),
      tangents: tangents, blocks: blocks, into: outputTangents)
  }

  /// The backward pass of ``tanhJVP(output:tangents:blocks:into:)`` and of the
  /// layer, with `s = 1 − y²` (so `σ'' = −2 y s`): `x̄ = s (ȳ − 2 y Σ_i ẋ_i ẏ̄_i)`
  /// into `inputCotangent` and `ẋ̄_i = s ẏ̄_i` into `inputTangentCotangent`, each if given.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func tanhJVPBackward<Scalar: TensorScalar>(
    output y: MatrixView<Scalar>, outputCotangent dy: MatrixView<Scalar>,
    tangents: MatrixView<Scalar>, tangentCotangents bars: MatrixView<Scalar>, blocks: Int,
    inputCotangent dx: MutableMatrixView<Scalar>?,
    inputTangentCotangent dTangents: MutableMatrixView<Scalar>?
  ) {
    let width = y.columns
    if usesFloatKernels(Scalar.self) {
      nd_tanh_jvp_backward_f32(
        y.base.floats, y.rowStride, dy.base.floats, dy.rowStride, tangents.base.floats,
        tangents.rowStride, bars.base.floats, bars.rowStride, dx?.base.floats, dx?.rowStride ?? 0,
        dTangents?.base.floats, dTangents?.rowStride ?? 0, y.rows, blocks, width)
      return
    }
    for r in 0..<y.rows {
      let (output, upstream) = (y.row(r), dy.row(r))
      if let dx {
        let result = dx.row(r)
        for o in 0..<width {
          var mixed: Scalar = 0
          for i in 0..<blocks {
            mixed += tangents.row(r)[i &* width &+ o] * bars.row(r)[i &* width &+ o]
          }
          result[o] = tanhInputCotangent(
            output: output[o], outputCotangent: upstream[o], mixed: mixed)
        }
      }
      if let dTangents {
        for i in 0..<blocks {
          let (bar, target) = (bars.row(r) + i &* width, dTangents.row(r) + i &* width)
          for o in 0..<width { target[o] = (1 - output[o] * output[o]) * bar[o] }
        }
      }
    }
  }

  /// A tanh input's cotangent from its output `y`, its output's cotangent
  /// `ȳ` and `mixed = Σ_i ẋ_i ẏ̄_i` (its JVP's share): `(1 − y²)(ȳ − 2 y mixed)`,
  /// since `σ'' = −2 y σ'` — the portable form of the kernels' `nd_tanh_backward8`.
  @inline(__always)
  static func tanhInputCotangent<Scalar: TensorScalar>(
    output y: Scalar, outputCotangent dy: Scalar, mixed: Scalar
  ) -> Scalar {
    (1 - y * y) * (dy - 2 * y * mixed)
  }
}
