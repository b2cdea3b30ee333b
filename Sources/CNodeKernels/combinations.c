// Linear combinations of several arrays in one pass, float32, AVX2 (callers
// check nd_kernels_available first): a Runge–Kutta stage input or error
// estimate reads each stage once and writes its result once, instead of a
// read-modify-write pass per stage.

// The portable passes (scale, axpy, addScaled) round every product and every
// sum on its own; so must this kernel, to give the same bits. Before the
// includes, so that it covers the helpers nd_simd.h inlines too.
#pragma STDC FP_CONTRACT OFF

#include "CNodeKernels.h"

#include "nd_simd.h"

// Elements i .. i + 8 BLOCKS (BLOCKS vectors of `lanes` lanes each: two full
// ones, or one of 1–8): the sum w_0 x_0 + w_1 x_1 + … in term order, then
// base + scales · sum if base.
ND_TARGET ND_INLINE void nd_combination_block(const float *weights, const float *const *terms,
                                              long count, long i, const float *base,
                                              const float *scales, float *out, long lanes,
                                              const int BLOCKS) {
  __m256 sum[2];
  __m256 w = _mm256_set1_ps(weights[0]);
  for (int b = 0; b < BLOCKS; b++)
    sum[b] = _mm256_mul_ps(w, nd_load(terms[0] + i + 8 * b, lanes));
  for (long t = 1; t < count; t++) {
    w = _mm256_set1_ps(weights[t]);
    for (int b = 0; b < BLOCKS; b++)
      sum[b] = _mm256_add_ps(sum[b], _mm256_mul_ps(w, nd_load(terms[t] + i + 8 * b, lanes)));
  }
  for (int b = 0; b < BLOCKS; b++) {
    long at = i + 8 * b;
    if (base) {
      __m256 scaled = _mm256_mul_ps(nd_load(scales + at, lanes), sum[b]);
      sum[b] = _mm256_add_ps(nd_load(base + at, lanes), scaled);
    }
    nd_store(out + at, sum[b], lanes);
  }
}

ND_TARGET void nd_linear_combination_f32(const float *weights, const float *const *terms,
                                         long count, long n, const float *base,
                                         const float *scales, float *out) {
  long i = 0;
  for (; i + 16 <= n; i += 16)
    nd_combination_block(weights, terms, count, i, base, scales, out, 8, 2);
  for (; i < n; i += 8) {
    long lanes = n - i < 8 ? n - i : 8;
    nd_combination_block(weights, terms, count, i, base, scales, out, lanes, 1);
  }
}

// The error measure's per-element terms: q = (h e / (atol + rtol max(|y0|, |y1|)))^2,
// 0 where h e is 0, NaN where y1 is not finite — each product, sum and
// quotient rounded on its own, as the portable loop does.
ND_TARGET void nd_scaled_error_squares_f32(long n, const float *error_sum, const float *steps,
                                           const float *y0, const float *y1, float rtol,
                                           float atol, float *out) {
  const __m256 relative = _mm256_set1_ps(rtol), absolute = _mm256_set1_ps(atol);
  const __m256 sign = _mm256_set1_ps(-0.0f), zero = _mm256_setzero_ps();
  const __m256 infinity = _mm256_set1_ps(__builtin_inff()), nan = _mm256_set1_ps(__builtin_nanf(""));
  for (long i = 0; i < n; i += 8) {
    long lanes = n - i < 8 ? n - i : 8;
    __m256 end = nd_load(y1 + i, lanes);
    __m256 magnitude = _mm256_max_ps(_mm256_andnot_ps(sign, nd_load(y0 + i, lanes)),
                                     _mm256_andnot_ps(sign, end));
    __m256 scale = _mm256_add_ps(absolute, _mm256_mul_ps(relative, magnitude));
    __m256 error = _mm256_mul_ps(nd_load(steps + i, lanes), nd_load(error_sum + i, lanes));
    __m256 scaled = _mm256_div_ps(error, scale);
    scaled = _mm256_blendv_ps(scaled, zero, _mm256_cmp_ps(error, zero, _CMP_EQ_OQ));
    __m256 square = _mm256_mul_ps(scaled, scaled);
    // |y1| < inf is false for ±inf and NaN.
    __m256 finite = _mm256_cmp_ps(_mm256_andnot_ps(sign, end), infinity, _CMP_LT_OQ);
    nd_store(out + i, _mm256_blendv_ps(nan, square, finite), lanes);
  }
}
