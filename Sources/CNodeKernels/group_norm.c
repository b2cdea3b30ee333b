// Group normalisation's forward pass (statistics and output) and backward
// pass, float32, AVX2 (callers check nd_kernels_available first). The
// arithmetic is the portable Swift passes' (VectorReduction's eight partial
// sums and their reduction order, separate multiplies and adds), so both give
// the same bits.

// Swift does not fuse a multiply and an add; neither may the compiler here
// (`gradient += w * dot` would become one rounding instead of two). Before the
// includes, so that it covers the helpers nd_simd.h inlines too.
#pragma STDC FP_CONTRACT OFF

#include "CNodeKernels.h"

#include <math.h>

#include "nd_simd.h"

// The sums Σ x_j[i] of G groups of n elements, x_j = x + j n, each in eight
// partials (element i to partial i mod 8) with the tail added as one more
// vector with zeros past it, reduced as nd_hsum. The G chains of adds run side
// by side; each group's own order is that of one group alone.
ND_TARGET ND_INLINE void nd_group_sums(const float *x, long n, float *sums, const int G) {
  __m256 acc[4];
  for (int j = 0; j < G; j++) acc[j] = _mm256_setzero_ps();
  long i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < G; j++) acc[j] = _mm256_add_ps(acc[j], _mm256_loadu_ps(x + j * n + i));
  if (i < n)
    for (int j = 0; j < G; j++) acc[j] = _mm256_add_ps(acc[j], nd_load(x + j * n + i, n - i));
  for (int j = 0; j < G; j++) sums[j] = nd_hsum(acc[j]);
}

// Σ (x_j[i] − c_j)² in the same partials.
ND_TARGET ND_INLINE void nd_group_squared_deviations(const float *x, long n, const float *c,
                                                     float *sums, const int G) {
  __m256 acc[4], center[4];
  for (int j = 0; j < G; j++) {
    acc[j] = _mm256_setzero_ps();
    center[j] = _mm256_set1_ps(c[j]);
  }
  long i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < G; j++) {
      __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + j * n + i), center[j]);
      acc[j] = _mm256_add_ps(acc[j], _mm256_mul_ps(d, d));
    }
  if (i < n) {
    __m256 lanes = _mm256_castsi256_ps(nd_mask(n - i));
    for (int j = 0; j < G; j++) {
      __m256 d = _mm256_sub_ps(nd_load(x + j * n + i, n - i), center[j]);
      acc[j] = _mm256_add_ps(acc[j], _mm256_and_ps(_mm256_mul_ps(d, d), lanes));
    }
  }
  for (int j = 0; j < G; j++) sums[j] = nd_hsum(acc[j]);
}

// Mean and scale 1 / sqrt(v + epsilon) of groups g0 ..< g0 + G of one row.
ND_TARGET ND_INLINE void nd_group_statistics(const float *row, long size, float epsilon,
                                             float *mean, float *scale, const int G) {
  float sums[4];
  nd_group_sums(row, size, sums, G);
  for (int j = 0; j < G; j++) mean[j] = sums[j] / (float)size;
  nd_group_squared_deviations(row, size, mean, sums, G);
  for (int j = 0; j < G; j++) scale[j] = 1.0f / sqrtf(sums[j] / (float)size + epsilon);
}

ND_TARGET void nd_group_norm_f32(const float *x, long ldx, long rows, long channels, long groups,
                                 long pixels, float epsilon, const float *gamma, const float *beta,
                                 float *y, long ldy, float *hat, float *inverse) {
  const long per = channels / groups, size = per * pixels, width = channels * pixels;
  float means[4], scales[4];
  for (long r = 0; r < rows; r++) {
    for (long g0 = 0; g0 < groups; g0 += 4) {
      const long G = groups - g0 < 4 ? groups - g0 : 4;
      const float *first = x + r * ldx + g0 * size;
      if (G == 4) {
        nd_group_statistics(first, size, epsilon, means, scales, 4);
      } else {
        for (long j = 0; j < G; j++)
          nd_group_statistics(first + j * size, size, epsilon, means + j, scales + j, 1);
      }
      for (long j = 0; j < G; j++) {
        const long g = g0 + j;
        const float *source = first + j * size;
        if (inverse) inverse[r * groups + g] = scales[j];
        const __m256 m = _mm256_set1_ps(means[j]), s = _mm256_set1_ps(scales[j]);
        if (hat) {
          float *target = hat + r * width + g * size;
          long i = 0;
          for (; i + 8 <= size; i += 8)
            _mm256_storeu_ps(target + i,
                             _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(source + i), m), s));
          if (i < size)
            nd_store(target + i, _mm256_mul_ps(_mm256_sub_ps(nd_load(source + i, size - i), m), s),
                     size - i);
        }
        if (!y) continue;
        // y = γ_c x̂ + β_c channel by channel, x̂ recomputed rather than read back.
        for (long c = g * per; c < (g + 1) * per; c++) {
          const float *in = x + r * ldx + c * pixels;
          float *out = y + r * ldy + c * pixels;
          const __m256 gc = _mm256_set1_ps(gamma[c]), bc = _mm256_set1_ps(beta[c]);
          long p = 0;
          for (; p + 8 <= pixels; p += 8) {
            __m256 h = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(in + p), m), s);
            _mm256_storeu_ps(out + p, _mm256_add_ps(_mm256_mul_ps(gc, h), bc));
          }
          if (p < pixels) {
            __m256 h = _mm256_mul_ps(_mm256_sub_ps(nd_load(in + p, pixels - p), m), s);
            nd_store(out + p, _mm256_add_ps(_mm256_mul_ps(gc, h), bc), pixels - p);
          }
        }
      }
    }
  }
}

// Σ x[i] over n elements, as nd_group_sums for one group.
ND_TARGET ND_INLINE float nd_partial_sum(const float *x, long n) {
  float sum;
  nd_group_sums(x, n, &sum, 1);
  return sum;
}

// Σ x[i] y[i] over n elements in eight partials (separate multiply and add; the
// tail's lanes past n load as zeros, so their products are +0), reduced as nd_hsum.
ND_TARGET ND_INLINE float nd_partial_dot(const float *x, const float *y, long n) {
  __m256 acc = _mm256_setzero_ps();
  long i = 0;
  for (; i + 8 <= n; i += 8)
    acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  if (i < n) acc = _mm256_add_ps(acc, _mm256_mul_ps(nd_load(x + i, n - i), nd_load(y + i, n - i)));
  return nd_hsum(acc);
}

ND_TARGET void nd_group_norm_backward_f32(const float *hat, const float *inverse, const float *dy,
                                          long lddy, long rows, long channels, long groups,
                                          long pixels, const float *gamma, float *dx, long lddx,
                                          float *gradient, const float *weights) {
  const long per = channels / groups, size = per * pixels, width = channels * pixels;
  for (long r = 0; r < rows; r++) {
    const float *u = dy + r * lddy, *h = hat + r * width;
    if (gradient) {
      const float w = weights ? weights[r] : 1.0f;
      for (long c = 0; c < channels; c++) {
        gradient[c] += w * nd_partial_dot(u + c * pixels, h + c * pixels, pixels);
        gradient[channels + c] += w * nd_partial_sum(u + c * pixels, pixels);
      }
    }
    if (!dx) continue;
    float *t = dx + r * lddx;
    for (long c = 0; c < channels; c++) {
      const __m256 gc = _mm256_set1_ps(gamma[c]);
      const float *in = u + c * pixels;
      float *out = t + c * pixels;
      long p = 0;
      for (; p + 8 <= pixels; p += 8) _mm256_storeu_ps(out + p, _mm256_mul_ps(gc, _mm256_loadu_ps(in + p)));
      if (p < pixels) nd_store(out + p, _mm256_mul_ps(gc, nd_load(in + p, pixels - p)), pixels - p);
    }
    // The normalisation's Jacobian per group: v ↦ s (v − mean(v) − x̂ mean(x̂ v)).
    for (long g = 0; g < groups; g++) {
      float *v = t + g * size;
      const float *hg = h + g * size;
      const float mean = nd_partial_sum(v, size) / (float)size;
      const float correlation = nd_partial_dot(v, hg, size) / (float)size;
      const __m256 m = _mm256_set1_ps(mean), k = _mm256_set1_ps(correlation),
                   s = _mm256_set1_ps(inverse[r * groups + g]);
      long i = 0;
      for (; i + 8 <= size; i += 8) {
        __m256 d = _mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(v + i), m),
                                 _mm256_mul_ps(_mm256_loadu_ps(hg + i), k));
        _mm256_storeu_ps(v + i, _mm256_mul_ps(s, d));
      }
      if (i < size) {
        __m256 d = _mm256_sub_ps(_mm256_sub_ps(nd_load(v + i, size - i), m),
                                 _mm256_mul_ps(nd_load(hg + i, size - i), k));
        nd_store(v + i, _mm256_mul_ps(s, d), size - i);
      }
    }
  }
}
