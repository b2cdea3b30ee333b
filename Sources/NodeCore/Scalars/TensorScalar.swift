import CBLAS
import RealModule

/// A floating-point element type that tensors, BLAS and the solvers work in.
///
/// Training runs in `Float`; gradient checks and reference solutions run in
/// `Double`. The protocol adds, to the arithmetic of `Real`, the BLAS entry
/// points for the type and the name of its safetensors dtype.
public protocol TensorScalar: Real, BinaryFloatingPoint, SIMDScalar, Sendable, Codable
where RawSignificand: FixedWidthInteger {
  /// The safetensors dtype string for this type (`"F32"`, `"F64"`).
  static var safetensorsDType: String { get }

  /// Row-major general matrix multiply, `C = alpha * op(A) * op(B) + beta * C`,
  /// with `op(A)` of shape `[m, k]` and `op(B)` of shape `[k, n]`.
  ///
  /// Calls `cblas_sgemm` or `cblas_dgemm`; see ``gemm(_:_:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)``
  /// for the checked entry point.
  static func blasGEMM(
    _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
    alpha: Self, a: UnsafePointer<Self>, lda: Int,
    b: UnsafePointer<Self>, ldb: Int,
    beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
}

/// Whether a matrix operand is used as stored or transposed.
public enum Transpose: Sendable {
  /// Use the matrix as stored.
  case none
  /// Use the transpose of the stored matrix.
  case transposed

  @usableFromInline var cblas: CBLAS_TRANSPOSE {
    self == .none ? CblasNoTrans : CblasTrans
  }
}

extension Float: TensorScalar {
  public static var safetensorsDType: String { "F32" }

  @inlinable
  public static func blasGEMM(
    _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
    alpha: Float, a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    cblas_sgemm(
      CblasRowMajor, transA.cblas, transB.cblas, blasint(m), blasint(n), blasint(k),
      alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
  }
}

extension Double: TensorScalar {
  public static var safetensorsDType: String { "F64" }

  @inlinable
  public static func blasGEMM(
    _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
    alpha: Double, a: UnsafePointer<Double>, lda: Int,
    b: UnsafePointer<Double>, ldb: Int,
    beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
  ) {
    cblas_dgemm(
      CblasRowMajor, transA.cblas, transB.cblas, blasint(m), blasint(n), blasint(k),
      alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
  }
}
