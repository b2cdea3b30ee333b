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

// log2(x) for x in [FLT_MIN, FLT_MAX]: x = 2^k m with m in [√½, √2), then
// ln m = z − z²/2 + z³ P(z), z = m − 1 (Cephes' logf polynomial, about 1e-7
// relative).
ND_TARGET ND_INLINE __m256 nd_log2_8(__m256 x) {
  const __m256i mantissa_bits = _mm256_set1_epi32(0x007fffff);
  const __m256i half_exponent = _mm256_set1_epi32(0x3f000000);
  __m256i bits = _mm256_castps_si256(x);
  // m0 in [0.5, 1) and k0 with x = 2^k0 m0.
  __m256 m = _mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(bits, mantissa_bits), half_exponent));
  __m256 k = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(126)));
  // m0 < √½: 2 m0 and k0 − 1 instead, so that m is in [√½, √2).
  __m256 small = _mm256_cmp_ps(m, _mm256_set1_ps(0.707106781186547524f), _CMP_LT_OQ);
  __m256 one = _mm256_set1_ps(1.0f);
  k = _mm256_sub_ps(k, _mm256_and_ps(small, one));
  m = _mm256_add_ps(m, _mm256_and_ps(small, m));
  __m256 z = _mm256_sub_ps(m, one);
  __m256 p = _mm256_set1_ps(7.0376836292e-2f);
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-1.1514610310e-1f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.1676998740e-1f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-1.2420140846e-1f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.4249322787e-1f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-1.6668057665e-1f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(2.0000714765e-1f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-2.4999993993e-1f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(3.3333331174e-1f));
  __m256 z2 = _mm256_mul_ps(z, z);
  __m256 ln = _mm256_fmadd_ps(_mm256_mul_ps(z2, z), p, _mm256_fnmadd_ps(_mm256_set1_ps(0.5f), z2, z));
  return _mm256_fmadd_ps(ln, _mm256_set1_ps(1.44269504088896341f), k);
}

// 2^y for y in [-126, 127] (clamped there): y = n + f, f in [-½, ½], 2^f by
// Cephes' exp2f polynomial (about 2e-8 relative), 2^n in the exponent bits.
ND_TARGET ND_INLINE __m256 nd_exp2_8(__m256 y) {
  y = _mm256_min_ps(_mm256_max_ps(y, _mm256_set1_ps(-126.0f)), _mm256_set1_ps(127.0f));
  __m256 n = _mm256_round_ps(y, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 f = _mm256_sub_ps(y, n);
  __m256 p = _mm256_set1_ps(1.535336188319500e-4f);
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.339887440266574e-3f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(9.618437357674640e-3f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(5.550332471162809e-2f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(2.402264791363012e-1f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(6.931472028550421e-1f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
  __m256i scale = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(scale));
}

// y = x^e = 2^(e log2 x) for positive x; x below FLT_MIN (and 0) is taken as FLT_MIN.
ND_TARGET void nd_positive_pow_f32(const float *x, float e, float *y, long n) {
  const __m256 exponent = _mm256_set1_ps(e), smallest = _mm256_set1_ps(1.17549435e-38f);
  for (long i = 0; i < n; i += 8) {
    long lanes = n - i < 8 ? n - i : 8;
    __m256 v = _mm256_max_ps(nd_load(x + i, lanes), smallest);
    nd_store(y + i, nd_exp2_8(_mm256_mul_ps(exponent, nd_log2_8(v))), lanes);
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
