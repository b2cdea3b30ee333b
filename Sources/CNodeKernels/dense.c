// Fused dense layer + activation kernels, float32, AVX2 + FMA.
#include "CNodeKernels.h"

#include <immintrin.h>

#define ND_TARGET __attribute__((target("avx2,fma")))
#define ND_INLINE static inline __attribute__((always_inline))

int nd_kernels_available(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

// tanh(x) = x P(x^2) / Q(x^2), a rational minimax approximation of degree
// 13/6 (the coefficients of Eigen's and XLA's float tanh), clamped where
// tanh rounds to +-1 in float, and exactly x where |x| < 4e-4.
ND_TARGET ND_INLINE __m256 nd_tanh8(__m256 x) {
  const __m256 limit = _mm256_set1_ps(7.90531110763549805f);
  const __m256 tiny = _mm256_set1_ps(0.0004f);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 abs_x = _mm256_andnot_ps(sign, x);
  __m256 small = _mm256_cmp_ps(abs_x, tiny, _CMP_LT_OQ);
  __m256 c = _mm256_max_ps(_mm256_sub_ps(_mm256_setzero_ps(), limit), _mm256_min_ps(limit, x));
  __m256 x2 = _mm256_mul_ps(c, c);
  __m256 p = _mm256_fmadd_ps(x2, _mm256_set1_ps(-2.76076847742355e-16f), _mm256_set1_ps(2.00018790482477e-13f));
  p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-8.60467152213735e-11f));
  p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(5.12229709037114e-08f));
  p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(1.48572235717979e-05f));
  p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(6.37261928875436e-04f));
  p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(4.89352455891786e-03f));
  p = _mm256_mul_ps(c, p);
  __m256 q = _mm256_fmadd_ps(x2, _mm256_set1_ps(1.19825839466702e-06f), _mm256_set1_ps(1.18534705686654e-04f));
  q = _mm256_fmadd_ps(x2, q, _mm256_set1_ps(2.26843463243900e-03f));
  q = _mm256_fmadd_ps(x2, q, _mm256_set1_ps(4.89352518554385e-03f));
  return _mm256_blendv_ps(_mm256_div_ps(p, q), x, small);
}

ND_TARGET ND_INLINE __m256 nd_activate(__m256 v, nd_activation activation) {
  return activation == ND_ACTIVATION_TANH ? nd_tanh8(v) : v;
}

// Lane mask for the first `count` (0..8) lanes.
ND_TARGET ND_INLINE __m256i nd_mask(long count) {
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)count), lanes);
}

ND_TARGET ND_INLINE __m256 nd_load(const float *p, long count) {
  return count >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, nd_mask(count));
}

ND_TARGET ND_INLINE void nd_store(float *p, __m256 v, long count) {
  if (count >= 8) {
    _mm256_storeu_ps(p, v);
  } else {
    _mm256_maskstore_ps(p, nd_mask(count), v);
  }
}

// One tile of R rows (R <= 6, a compile-time constant after inlining) by up
// to 16 outputs: 2R accumulators in registers over the whole k loop.
ND_TARGET ND_INLINE void nd_wide_tile(const float *x, long ldx, long k, const float *wt, long n,
                                      const float *bias, float *y, long ldy, long j0, long width,
                                      nd_activation activation, const int R) {
  long w0 = width < 8 ? width : 8;
  long w1 = width - w0;
  __m256 b0 = nd_load(bias + j0, w0);
  __m256 b1 = w1 > 0 ? nd_load(bias + j0 + 8, w1) : _mm256_setzero_ps();
  __m256 acc0[6], acc1[6];
  for (int r = 0; r < R; r++) {
    acc0[r] = b0;
    acc1[r] = b1;
  }
  const float *wrow = wt + j0;
  if (w1 > 0) {
    for (long kk = 0; kk < k; kk++, wrow += n) {
      __m256 v0 = nd_load(wrow, w0);
      __m256 v1 = nd_load(wrow + 8, w1);
      for (int r = 0; r < R; r++) {
        __m256 a = _mm256_broadcast_ss(x + r * ldx + kk);
        acc0[r] = _mm256_fmadd_ps(a, v0, acc0[r]);
        acc1[r] = _mm256_fmadd_ps(a, v1, acc1[r]);
      }
    }
  } else {
    for (long kk = 0; kk < k; kk++, wrow += n) {
      __m256 v0 = nd_load(wrow, w0);
      for (int r = 0; r < R; r++) {
        __m256 a = _mm256_broadcast_ss(x + r * ldx + kk);
        acc0[r] = _mm256_fmadd_ps(a, v0, acc0[r]);
      }
    }
  }
  for (int r = 0; r < R; r++) {
    nd_store(y + r * ldy + j0, nd_activate(acc0[r], activation), w0);
    if (w1 > 0) nd_store(y + r * ldy + j0 + 8, nd_activate(acc1[r], activation), w1);
  }
}

#define ND_WIDE_CASE(R)                                                                    \
  case R:                                                                                  \
    for (long j0 = 0; j0 < n; j0 += 16) {                                                  \
      long width = n - j0 < 16 ? n - j0 : 16;                                              \
      nd_wide_tile(xr, ldx, k, wt, n, bias, yr, ldy, j0, width, activation, R);            \
    }                                                                                      \
    break;

ND_TARGET void nd_dense_wide_f32(const float *x, long rows, long k, long ldx, const float *wt,
                                 long n, const float *bias, float *y, long ldy,
                                 nd_activation activation) {
  for (long r0 = 0; r0 < rows; r0 += 6) {
    const float *xr = x + r0 * ldx;
    float *yr = y + r0 * ldy;
    switch (rows - r0 < 6 ? rows - r0 : 6) {
      ND_WIDE_CASE(1)
      ND_WIDE_CASE(2)
      ND_WIDE_CASE(3)
      ND_WIDE_CASE(4)
      ND_WIDE_CASE(5)
      ND_WIDE_CASE(6)
    }
  }
}

// Sum of the 8 lanes in a fixed order: ((0+4)+(2+6)) + ((1+5)+(3+7)).
ND_TARGET ND_INLINE float nd_hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

ND_TARGET void nd_dense_narrow_f32(const float *x, long rows, long k, long ldx, const float *w,
                                   long n, const float *bias, float *y, long ldy,
                                   nd_activation activation) {
  for (long r = 0; r < rows; r++) {
    const float *xr = x + r * ldx;
    for (long j = 0; j < n; j++) {
      const float *wj = w + j * k;
      __m256 acc = _mm256_setzero_ps();
      for (long kk = 0; kk < k; kk += 8) {
        long width = k - kk < 8 ? k - kk : 8;
        acc = _mm256_fmadd_ps(nd_load(xr + kk, width), nd_load(wj + kk, width), acc);
      }
      float value = nd_hsum(acc) + bias[j];
      if (activation == ND_ACTIVATION_TANH) {
        value = _mm256_cvtss_f32(nd_tanh8(_mm256_set1_ps(value)));
      }
      y[r * ldy + j] = value;
    }
  }
}

ND_TARGET void nd_tanh_f32(const float *x, float *y, long count) {
  for (long i = 0; i < count; i += 8) {
    long width = count - i < 8 ? count - i : 8;
    nd_store(y + i, nd_tanh8(nd_load(x + i, width)), width);
  }
}
