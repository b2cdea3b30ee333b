// Element-wise activations over float arrays, AVX2 + FMA (callers check
// nd_kernels_available first).
#include "CNodeKernels.h"
#include "nd_simd.h"

ND_TARGET void nd_tanh_f32(const float *x, float *y, long n) {
  long i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, nd_tanh8(_mm256_loadu_ps(x + i)));
  if (i < n) nd_store(y + i, nd_tanh8(nd_load(x + i, n - i)), n - i);
}

// sigmoid(x) = (1 + tanh(x / 2)) / 2: absolute error below 2e-7; for
// x < -16 the result underflows to 0 (instead of e^x < 1.2e-7).
ND_TARGET void nd_sigmoid_f32(const float *x, float *y, long n) {
  const __m256 half = _mm256_set1_ps(0.5f);
  long i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 t = nd_tanh8(_mm256_mul_ps(half, _mm256_loadu_ps(x + i)));
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(half, t, half));
  }
  if (i < n) {
    __m256 t = nd_tanh8(_mm256_mul_ps(half, nd_load(x + i, n - i)));
    nd_store(y + i, _mm256_fmadd_ps(half, t, half), n - i);
  }
}

// relu(x) = x > 0 ? x : 0. MAXPS returns its second operand when either is
// NaN or both are zeros, so NaN and -0 give +0, as the comparison does.
ND_TARGET void nd_relu_f32(const float *x, float *y, long n) {
  const __m256 zero = _mm256_setzero_ps();
  long i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_max_ps(_mm256_loadu_ps(x + i), zero));
  if (i < n) nd_store(y + i, _mm256_max_ps(nd_load(x + i, n - i), zero), n - i);
}

// dx = dy (x > 0 ? 1 : 0): a product, so a non-finite dy where x <= 0 still
// gives NaN (0 · ∞), as the scalar formula does.
ND_TARGET void nd_relu_backward_f32(const float *x, const float *dy, float *dx, long n) {
  const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
  long i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 slope = _mm256_and_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + i), zero, _CMP_GT_OQ), one);
    _mm256_storeu_ps(dx + i, _mm256_mul_ps(_mm256_loadu_ps(dy + i), slope));
  }
  if (i < n) {
    __m256 slope = _mm256_and_ps(_mm256_cmp_ps(nd_load(x + i, n - i), zero, _CMP_GT_OQ), one);
    nd_store(dx + i, _mm256_mul_ps(nd_load(dy + i, n - i), slope), n - i);
  }
}
