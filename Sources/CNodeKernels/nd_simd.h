// Shared AVX2 + FMA helpers of the float kernels (private to CNodeKernels).
#ifndef NODE_DIST_ND_SIMD_H
#define NODE_DIST_ND_SIMD_H

#include <immintrin.h>

#define ND_TARGET __attribute__((target("avx2,fma")))
#define ND_INLINE static inline __attribute__((always_inline))

// The tanh after a gate (nd_row_gate.act): none, its output, or its JVP
// from the primal rows' tanh outputs. A compile-time constant in the kernels.
enum { ND_GATE_PLAIN = 0, ND_GATE_TANH = 1, ND_GATE_TANH_JVP = 2 };

// Calls GATE(SHIFT, ACT) with a gate pass's shift (0 or 1) and its tanh (one
// of the above) as compile-time constants.
#define ND_GATE_DISPATCH(shift, act, GATE)                                                 \
  do {                                                                                     \
    if (shift) {                                                                           \
      if ((act) == ND_GATE_TANH) GATE(1, ND_GATE_TANH);                                    \
      else if ((act) == ND_GATE_TANH_JVP) GATE(1, ND_GATE_TANH_JVP);                       \
      else GATE(1, ND_GATE_PLAIN);                                                         \
    } else {                                                                               \
      if ((act) == ND_GATE_TANH) GATE(0, ND_GATE_TANH);                                    \
      else if ((act) == ND_GATE_TANH_JVP) GATE(0, ND_GATE_TANH_JVP);                       \
      else GATE(0, ND_GATE_PLAIN);                                                         \
    }                                                                                      \
  } while (0)

// Calls ROWS(R) with R = rows as a compile-time constant, 1 to 6 (6 for more).
#define ND_SWITCH_ROWS(rows, ROWS)                                                         \
  do {                                                                                     \
    switch (rows) {                                                                        \
    case 1: ROWS(1); break;                                                                \
    case 2: ROWS(2); break;                                                                \
    case 3: ROWS(3); break;                                                                \
    case 4: ROWS(4); break;                                                                \
    case 5: ROWS(5); break;                                                                \
    default: ROWS(6); break;                                                               \
    }                                                                                      \
  } while (0)

// The tanh's clamp and its coefficients, shared with its AVX-512 copy (nd_simd512.h).
#define ND_TANH_LIMIT 7.90531110763549805f
#define ND_TANH_P5 2.352760727279222e-11f
#define ND_TANH_P4 -1.470216998694386e-08f
#define ND_TANH_P3 9.876332541585641e-06f
#define ND_TANH_P2 0.002985552822138171f
#define ND_TANH_P1 0.1297893719784878f
#define ND_TANH_Q3 0.00023716260895037723f
#define ND_TANH_Q2 0.024026652432444458f
#define ND_TANH_Q1 0.46312255648257716f

// tanh(x) = x P(x^2) / Q(x^2) with P of degree 5 and Q of degree 3 in x^2,
// P(0) = Q(0) = 1 (so tanh(x) = x for small x). The coefficients are a
// minimax fit of tanh(x)/x for relative error on [0, 7.905] (linear
// programming on 8000 points, iterated; 2.3e-8 before rounding to float);
// beyond 7.905 tanh rounds to +-1 in float, so the input is clamped there.
// Measured in float: at most 5 ulp from the correctly rounded tanh for
// 1e-20 <= |x|, 88 % of inputs exact, absolute error below 3e-7 everywhere.
// 10 multiply-adds and one division per 8 lanes.
ND_TARGET ND_INLINE __m256 nd_tanh8(__m256 x) {
  const __m256 limit = _mm256_set1_ps(ND_TANH_LIMIT);
  __m256 c = _mm256_max_ps(_mm256_set1_ps(-ND_TANH_LIMIT), _mm256_min_ps(limit, x));
  __m256 s = _mm256_mul_ps(c, c);
  __m256 p = _mm256_fmadd_ps(s, _mm256_set1_ps(ND_TANH_P5), _mm256_set1_ps(ND_TANH_P4));
  p = _mm256_fmadd_ps(s, p, _mm256_set1_ps(ND_TANH_P3));
  p = _mm256_fmadd_ps(s, p, _mm256_set1_ps(ND_TANH_P2));
  p = _mm256_fmadd_ps(s, p, _mm256_set1_ps(ND_TANH_P1));
  p = _mm256_fmadd_ps(s, p, _mm256_set1_ps(1.0f));
  p = _mm256_mul_ps(c, p);
  __m256 q = _mm256_fmadd_ps(s, _mm256_set1_ps(ND_TANH_Q3), _mm256_set1_ps(ND_TANH_Q2));
  q = _mm256_fmadd_ps(s, q, _mm256_set1_ps(ND_TANH_Q1));
  q = _mm256_fmadd_ps(s, q, _mm256_set1_ps(1.0f));
  return _mm256_div_ps(p, q);
}

// The tanh's slope 1 − y² from its output y, for eight lanes.
ND_TARGET ND_INLINE __m256 nd_tanh_slope8(__m256 y) {
  return _mm256_fnmadd_ps(y, y, _mm256_set1_ps(1.0f));
}

// The cotangent of a tanh's input from its output y, slope s = 1 − y², output
// cotangent dy and mixed = Σ_i ẋ_i ẏ̄_i (its JVP's share): s (dy − 2 y mixed),
// since σ'' = −2 y σ'. Every kernel that takes a tanh back uses this one.
ND_TARGET ND_INLINE __m256 nd_tanh_backward8(__m256 y, __m256 s, __m256 dy, __m256 mixed) {
  return _mm256_mul_ps(s, _mm256_fnmadd_ps(_mm256_add_ps(y, y), mixed, dy));
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

// Sum of the 8 lanes in a fixed order: ((0+4)+(2+6)) + ((1+5)+(3+7)).
ND_TARGET ND_INLINE float nd_hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

#endif
