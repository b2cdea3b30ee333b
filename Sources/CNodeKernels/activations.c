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
