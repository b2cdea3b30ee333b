/// Row-major general matrix multiply through BLAS:
/// `C = alpha * op(A) * op(B) + beta * C`, `op(A)` of shape `[m, k]`,
/// `op(B)` of shape `[k, n]`, `C` of shape `[m, n]`.
///
/// Leading dimensions are row strides of the matrices *as stored*. Empty
/// products (`m`, `n` or `k` zero) are handled here: BLAS is not called, and
/// `C` is scaled by `beta` when `k` is zero.
@inlinable
public func gemm<Scalar: TensorScalar>(
  _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
  alpha: Scalar = 1, a: UnsafePointer<Scalar>, lda: Int,
  b: UnsafePointer<Scalar>, ldb: Int,
  beta: Scalar = 0, c: UnsafeMutablePointer<Scalar>, ldc: Int
) {
  precondition(m >= 0 && n >= 0 && k >= 0, "gemm: negative dimension m=\(m) n=\(n) k=\(k)")
  precondition(lda >= Swift.max(1, transA == .none ? k : m), "gemm: lda \(lda) too small")
  precondition(ldb >= Swift.max(1, transB == .none ? n : k), "gemm: ldb \(ldb) too small")
  precondition(ldc >= Swift.max(1, n), "gemm: ldc \(ldc) too small")
  if m == 0 || n == 0 { return }
  if k == 0 {
    for i in 0..<m {
      for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] }
    }
    return
  }
  Scalar.blasGEMM(
    transA, transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
    beta: beta, c: c, ldc: ldc)
}

extension Tensor {
  /// The matrix product `op(self) · op(other)` of two rank-2 tensors.
  public func matmul(
    _ other: Tensor, transposeSelf: Bool = false, transposeOther: Bool = false
  ) -> Tensor {
    precondition(
      rank == 2 && other.rank == 2, "matmul needs rank-2 tensors, got \(shape) and \(other.shape)")
    let m = transposeSelf ? shape[1] : shape[0]
    let k = transposeSelf ? shape[0] : shape[1]
    let k2 = transposeOther ? other.shape[1] : other.shape[0]
    let n = transposeOther ? other.shape[0] : other.shape[1]
    precondition(k == k2, "matmul: inner dimensions differ (\(shape) · \(other.shape))")
    var result = Tensor(shape: [m, n])
    withUnsafeBufferPointer { a in
      other.withUnsafeBufferPointer { b in
        result.withUnsafeMutableBufferPointer { c in
          gemm(
            transposeSelf ? .transposed : .none, transposeOther ? .transposed : .none,
            m: m, n: n, k: k, a: a.baseAddress!, lda: shape[1],
            b: b.baseAddress!, ldb: other.shape[1], c: c.baseAddress!, ldc: n)
        }
      }
    }
    return result
  }
}
