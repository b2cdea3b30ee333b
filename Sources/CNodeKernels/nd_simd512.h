// Shared AVX-512 helpers of the float kernels (private to CNodeKernels): the
// 16-lane copies of nd_simd.h's helpers, operation for operation, so that a
// kernel's AVX-512 path gives bitwise its AVX2 results.
#ifndef NODE_DIST_ND_SIMD512_H
#define NODE_DIST_ND_SIMD512_H

#include "nd_simd.h"

// Whether the dense kernels take their AVX-512 copies (dense512.c; set once
// at load from the CPU, or by nd_set_dense_avx512).
extern int nd_dense_avx512;
// The multiply-adds of nd_wide_rows with AVX-512, for 1 to 6 rows.
void nd_wide_rows_avx512(const float *x, long ldx, long k, const float *wt, long n,
                         const float *bias, float *y, long ldy, int rows);
// The multiply-adds of nd_wide_tile with RESUME, AVX-512, for 1 to 6 rows whose
// k-th values are x[r ldx + k ksx], wt's rows ldw apart (nd_weight_gradient_f32).
void nd_resume_rows_avx512(const float *x, long ldx, long ksx, long k, const float *wt, long ldw,
                           long n, float *y, long ldy, const float *pf, long pfs, int rows);
// nd_tanh_rows with AVX-512, bitwise the same.
void nd_tanh_rows_avx512(float *y, long ldy, long n, int rows);
// nd_concat_squash_gate_f32 with AVX-512, bitwise the same.
void nd_concat_squash_gate_avx512(const float *times, const float *a, const float *c, float *g,
                                  long rows, long n);
// nd_gate_rows of dense.c with AVX-512, bitwise the same, on product rows in
// src (y itself for the pass in place), the gated rows into y; with stream,
// written with streaming stores (nd_row_gate's stream; y's rows 64-byte aligned).
void nd_gate_rows_avx512(const float *src, long lds, float *y, long ldy, long n,
                         const nd_row_gate *gate, long row0, int rows, int shift, int act,
                         int stream);

#define ND_TARGET512 __attribute__((target("avx512f,avx512vl,avx2,fma")))
#define ND_INLINE512 ND_TARGET512 static inline __attribute__((always_inline))

// Lane mask for the first `count` lanes (all 16 from 16 on).
ND_INLINE512 __mmask16 nd_mask512(long count) {
  return count >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << count) - 1);
}

// nd_tanh8 of nd_simd.h on 16 lanes: the same operations in the same order,
// so bitwise the same values.
ND_INLINE512 __m512 nd_tanh16(__m512 x) {
  const __m512 limit = _mm512_set1_ps(ND_TANH_LIMIT);
  __m512 c = _mm512_max_ps(_mm512_set1_ps(-ND_TANH_LIMIT), _mm512_min_ps(limit, x));
  __m512 s = _mm512_mul_ps(c, c);
  __m512 p = _mm512_fmadd_ps(s, _mm512_set1_ps(ND_TANH_P5), _mm512_set1_ps(ND_TANH_P4));
  p = _mm512_fmadd_ps(s, p, _mm512_set1_ps(ND_TANH_P3));
  p = _mm512_fmadd_ps(s, p, _mm512_set1_ps(ND_TANH_P2));
  p = _mm512_fmadd_ps(s, p, _mm512_set1_ps(ND_TANH_P1));
  p = _mm512_fmadd_ps(s, p, _mm512_set1_ps(1.0f));
  p = _mm512_mul_ps(c, p);
  __m512 q = _mm512_fmadd_ps(s, _mm512_set1_ps(ND_TANH_Q3), _mm512_set1_ps(ND_TANH_Q2));
  q = _mm512_fmadd_ps(s, q, _mm512_set1_ps(ND_TANH_Q1));
  q = _mm512_fmadd_ps(s, q, _mm512_set1_ps(1.0f));
  return _mm512_div_ps(p, q);
}

// The tanh's slope 1 − y² from its output y (nd_tanh_slope8).
ND_INLINE512 __m512 nd_tanh_slope16(__m512 y) {
  return _mm512_fnmadd_ps(y, y, _mm512_set1_ps(1.0f));
}

#endif
