// The multiply-adds of the wide dense kernels (nd_wide_rows in dense.c) with
// AVX-512: 32 outputs of R rows per tile, one 16-lane register per row and
// half. Each output sums exactly as in the AVX2 tile — from the bias, one
// fused multiply-add per k in increasing k — so the results are bitwise the
// same; only the instruction count halves (on CPUs with two 512-bit FMA
// units, the throughput doubles).
#include "CNodeKernels.h"
#include "nd_simd.h"
#include "nd_simd512.h"

int nd_dense_avx512 = 0;

__attribute__((constructor)) static void nd_dense_avx512_init(void) {
  nd_dense_avx512 = nd_avx512_available();
}

int nd_set_dense_avx512(int enabled) {
  int previous = nd_dense_avx512;
  nd_dense_avx512 = enabled && nd_avx512_available();
  return previous;
}

int nd_dense_avx512_enabled(void) { return nd_dense_avx512; }

// Columns j0 .. j0 + 16 (mask m0) and j0 + 16 .. j0 + 32 (mask m1, empty for
// a single block) of R rows. Row r's k-th value of x is x[r ldx + k ksx] and
// row k of wt starts at wt + k ldw (ksx = 1, ldw = n for a dense layer); RESUME
// starts the accumulators from y instead of the bias, and then pf, when set,
// gets one prefetch per k, at pf + k pfs (see nd_weight_gradient_f32).
ND_INLINE512 void nd_wide_tile512(const float *x, long ldx, long ksx, long k, const float *wt,
                                  long ldw, const float *bias, float *y, long ldy, long j0,
                                  __mmask16 m0, __mmask16 m1, const float *pf, long pfs,
                                  const int R, const int PAIR, const int RESUME) {
  __m512 acc0[6], acc1[6];
  if (RESUME) {
    for (int r = 0; r < R; r++) {
      acc0[r] = _mm512_maskz_loadu_ps(m0, y + r * ldy + j0);
      acc1[r] = PAIR ? _mm512_maskz_loadu_ps(m1, y + r * ldy + j0 + 16) : _mm512_setzero_ps();
    }
  } else {
    __m512 b0 = _mm512_maskz_loadu_ps(m0, bias + j0);
    __m512 b1 = PAIR ? _mm512_maskz_loadu_ps(m1, bias + j0 + 16) : _mm512_setzero_ps();
    for (int r = 0; r < R; r++) {
      acc0[r] = b0;
      acc1[r] = b1;
    }
  }
  const float *wrow = wt + j0;
  for (long kk = 0; kk < k; kk++, wrow += ldw) {
    __m512 v0 = _mm512_maskz_loadu_ps(m0, wrow);
    __m512 v1 = PAIR ? _mm512_maskz_loadu_ps(m1, wrow + 16) : _mm512_setzero_ps();
    if (RESUME && pf) _mm_prefetch((const char *)(pf + kk * pfs), _MM_HINT_T0);
    for (int r = 0; r < R; r++) {
      __m512 a = _mm512_set1_ps(x[r * ldx + kk * ksx]);
      acc0[r] = _mm512_fmadd_ps(a, v0, acc0[r]);
      if (PAIR) acc1[r] = _mm512_fmadd_ps(a, v1, acc1[r]);
    }
  }
  for (int r = 0; r < R; r++) {
    _mm512_mask_storeu_ps(y + r * ldy + j0, m0, acc0[r]);
    if (PAIR) _mm512_mask_storeu_ps(y + r * ldy + j0 + 16, m1, acc1[r]);
  }
}

ND_INLINE512 void nd_wide_rows512(const float *x, long ldx, long ksx, long k, const float *wt,
                                  long ldw, long n, const float *bias, float *y, long ldy,
                                  const float *pf, long pfs, const int R, const int RESUME) {
  long j0 = 0;
  for (; j0 + 32 <= n; j0 += 32)
    nd_wide_tile512(x, ldx, ksx, k, wt, ldw, bias, y, ldy, j0, 0xFFFF, 0xFFFF, pf, pfs, R, 1,
                    RESUME);
  long rest = n - j0;
  if (rest > 16)
    nd_wide_tile512(x, ldx, ksx, k, wt, ldw, bias, y, ldy, j0, 0xFFFF, nd_mask512(rest - 16), pf,
                    pfs, R, 1, RESUME);
  else if (rest > 0)
    nd_wide_tile512(x, ldx, ksx, k, wt, ldw, bias, y, ldy, j0, nd_mask512(rest), 0, pf, pfs, R, 0,
                    RESUME);
}

ND_TARGET512 void nd_wide_rows_avx512(const float *x, long ldx, long k, const float *wt, long n,
                                      const float *bias, float *y, long ldy, int rows) {
#define ND_ROWS(R) nd_wide_rows512(x, ldx, 1, k, wt, n, n, bias, y, ldy, 0, 0, R, 0)
  ND_SWITCH_ROWS(rows, ND_ROWS);
#undef ND_ROWS
}

ND_TARGET512 void nd_resume_rows_avx512(const float *x, long ldx, long ksx, long k,
                                        const float *wt, long ldw, long n, float *y, long ldy,
                                        const float *pf, long pfs, int rows) {
#define ND_ROWS(R) nd_wide_rows512(x, ldx, ksx, k, wt, ldw, n, 0, y, ldy, pf, pfs, R, 1)
  ND_SWITCH_ROWS(rows, ND_ROWS);
#undef ND_ROWS
}

ND_TARGET512 void nd_tanh_rows_avx512(float *y, long ldy, long n, int rows) {
  for (int r = 0; r < rows; r++) {
    float *row = y + r * ldy;
    long j = 0;
    for (; j + 16 <= n; j += 16) _mm512_storeu_ps(row + j, nd_tanh16(_mm512_loadu_ps(row + j)));
    if (j < n) {
      __mmask16 m = nd_mask512(n - j);
      _mm512_mask_storeu_ps(row + j, m, nd_tanh16(_mm512_maskz_loadu_ps(m, row + j)));
    }
  }
}

// nd_gate8 of dense.c on 16 lanes (mask m): the same operations per lane, on
// the product row `in`, the gated row going to `out` (the same row but for a
// streamed tile); STREAM writes whole blocks with a streaming store (`out`
// 64-byte aligned, nd_row_gate's stream).
ND_INLINE512 void nd_gate16(const float *in, float *out, const float *g, const float *shift,
                            __m512 t, float *act, const float *slope, long j, __mmask16 m,
                            const int SHIFT, const int ACT, const int STREAM) {
  __m512 s = SHIFT ? _mm512_mul_ps(_mm512_maskz_loadu_ps(m, shift + j), t) : _mm512_setzero_ps();
  __m512 v = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, in + j), _mm512_maskz_loadu_ps(m, g + j), s);
  if (STREAM && m == 0xFFFF) _mm512_stream_ps(out + j, v);
  else _mm512_mask_storeu_ps(out + j, m, v);
  if (ACT == ND_GATE_TANH) _mm512_mask_storeu_ps(act + j, m, nd_tanh16(v));
  if (ACT == ND_GATE_TANH_JVP) {
    __m512 y = _mm512_maskz_loadu_ps(m, slope + j);
    _mm512_mask_storeu_ps(act + j, m, _mm512_mul_ps(v, nd_tanh_slope16(y)));
  }
}

// The gate of R rows: product rows in `src` (row stride lds; `src` is y for
// the usual pass in place), gated rows into y (STREAM: nd_row_gate's stream,
// from a tile on the stack, the gated rows streamed out).
ND_INLINE512 void nd_gate_rows512(const float *src, long lds, float *y, long ldy, long n,
                                  const nd_row_gate *gate, long row0, int rows, const int SHIFT,
                                  const int ACT, const int STREAM) {
  for (int r = 0; r < rows; r++) {
    long gi = (row0 + r) / gate->per;
    const float *g = gate->gate + gi * n;
    const float *in = src + r * lds;
    float *row = y + r * ldy;
    float *act = ACT ? gate->act + (row0 + r) * gate->ldact : 0;
    const float *slope = ACT == ND_GATE_TANH_JVP ? gate->slope + gi * gate->ldslope : 0;
    __m512 t = SHIFT ? _mm512_set1_ps(gate->times[gi]) : _mm512_setzero_ps();
    long j = 0;
    for (; j + 16 <= n; j += 16)
      nd_gate16(in, row, g, gate->shift, t, act, slope, j, 0xFFFF, SHIFT, ACT, STREAM);
    if (j < n)
      nd_gate16(in, row, g, gate->shift, t, act, slope, j, nd_mask512(n - j), SHIFT, ACT, STREAM);
  }
}

ND_TARGET512 void nd_gate_rows_avx512(const float *src, long lds, float *y, long ldy, long n,
                                      const nd_row_gate *gate, long row0, int rows, int shift,
                                      int act, int stream) {
#define ND_GATE(SHIFT, ACT) nd_gate_rows512(src, lds, y, ldy, n, gate, row0, rows, SHIFT, ACT, 0)
#define ND_GATE_STREAM(SHIFT, ACT)                                                         \
  nd_gate_rows512(src, lds, y, ldy, n, gate, row0, rows, SHIFT, ACT, 1)
  if (stream) ND_GATE_DISPATCH(shift, act, ND_GATE_STREAM);
  else ND_GATE_DISPATCH(shift, act, ND_GATE);
#undef ND_GATE
#undef ND_GATE_STREAM
}
