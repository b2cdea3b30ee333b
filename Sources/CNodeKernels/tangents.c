// Element-wise passes of forward-mode tangents over a batch of rows, float32,
// AVX2 + FMA (callers check nd_kernels_available first; the fused tanh-and-JVP
// pass also has an AVX-512 copy, bitwise the same). A row holds `blocks`
// blocks of n values (one per tangent direction) beside one n-wide vector
// that scales every block. Each element's arithmetic is the same wherever it
// sits (masked tails compute the same lanes), so rows never depend on their
// batch-mates.
#include "CNodeKernels.h"
#include "nd_simd.h"
#include "nd_simd512.h"

// Eight lanes (`count` valid; the full-width calls pass a constant 8 so the
// masks fold away) of nd_scale_blocks at offset o.
ND_TARGET ND_INLINE void nd_scale8(const float *xr, const float *gr, float *yr, long o,
                                   long count, const int TANH) {
  __m256 s = nd_load(gr + o, count);
  if (TANH) s = nd_tanh_slope8(s);
  nd_store(yr + o, _mm256_mul_ps(nd_load(xr + o, count), s), count);
}

// y[r, i n + o] = x[r, i n + o] * s[r, o], with s = g or, when TANH, 1 − g².
ND_TARGET ND_INLINE void nd_scale_blocks(const float *x, long ldx, const float *g, long ldg,
                                         float *y, long ldy, long rows, long blocks, long n,
                                         const int TANH) {
  for (long r = 0; r < rows; r++) {
    const float *gr = g + r * ldg;
    for (long i = 0; i < blocks; i++) {
      const float *xr = x + r * ldx + i * n;
      float *yr = y + r * ldy + i * n;
      long o = 0;
      for (; o + 8 <= n; o += 8) nd_scale8(xr, gr, yr, o, 8, TANH);
      if (o < n) nd_scale8(xr, gr, yr, o, n - o, TANH);
    }
  }
}

ND_TARGET void nd_rows_mul_f32(const float *x, long ldx, const float *g, long ldg, float *y,
                               long ldy, long rows, long blocks, long n) {
  nd_scale_blocks(x, ldx, g, ldg, y, ldy, rows, blocks, n, 0);
}

// Eight lanes (`count` valid) of nd_tanh_with_jvp_f32 at offset o: the tanh
// as nd_tanh_f32 computes it, then the blocks scaled as nd_tanh_jvp_f32 does.
ND_TARGET ND_INLINE void nd_tanh_with_jvp8(const float *xr, const float *xtr, float *yr,
                                           float *ytr, long blocks, long n, long o, long count) {
  __m256 t = nd_tanh8(nd_load(xr + o, count));
  nd_store(yr + o, t, count);
  __m256 s = nd_tanh_slope8(t);
  for (long i = 0; i < blocks; i++)
    nd_store(ytr + i * n + o, _mm256_mul_ps(nd_load(xtr + i * n + o, count), s), count);
}

// nd_tanh_with_jvp8 on 16 lanes: the same operations per lane.
ND_INLINE512 void nd_tanh_with_jvp16(const float *xr, const float *xtr, float *yr, float *ytr,
                                     long blocks, long n, long o, __mmask16 m) {
  __m512 t = nd_tanh16(_mm512_maskz_loadu_ps(m, xr + o));
  _mm512_mask_storeu_ps(yr + o, m, t);
  __m512 s = nd_tanh_slope16(t);
  for (long i = 0; i < blocks; i++) {
    __m512 v = _mm512_maskz_loadu_ps(m, xtr + i * n + o);
    _mm512_mask_storeu_ps(ytr + i * n + o, m, _mm512_mul_ps(v, s));
  }
}

ND_TARGET512 static void nd_tanh_with_jvp_avx512(const float *x, long ldx, const float *xt,
                                                 long ldxt, float *y, long ldy, float *yt,
                                                 long ldyt, long rows, long blocks, long n) {
  for (long r = 0; r < rows; r++) {
    for (long o = 0; o < n; o += 16)
      nd_tanh_with_jvp16(x + r * ldx, xt + r * ldxt, y + r * ldy, yt + r * ldyt, blocks, n, o,
                         nd_mask512(n - o));
  }
}

ND_TARGET void nd_tanh_with_jvp_f32(const float *x, long ldx, const float *xt, long ldxt, float *y,
                                    long ldy, float *yt, long ldyt, long rows, long blocks,
                                    long n) {
  if (nd_dense_avx512) {
    nd_tanh_with_jvp_avx512(x, ldx, xt, ldxt, y, ldy, yt, ldyt, rows, blocks, n);
    return;
  }
  for (long r = 0; r < rows; r++) {
    const float *xr = x + r * ldx, *xtr = xt + r * ldxt;
    float *yr = y + r * ldy, *ytr = yt + r * ldyt;
    long o = 0;
    for (; o + 8 <= n; o += 8) nd_tanh_with_jvp8(xr, xtr, yr, ytr, blocks, n, o, 8);
    if (o < n) nd_tanh_with_jvp8(xr, xtr, yr, ytr, blocks, n, o, n - o);
  }
}

ND_TARGET void nd_tanh_jvp_f32(const float *y, long ldy, const float *t, long ldt, float *out,
                               long ldo, long rows, long blocks, long n) {
  nd_scale_blocks(t, ldt, y, ldy, out, ldo, rows, blocks, n, 1);
}

// Eight lanes of one row of the tanh JVP's backward pass at offset o
// (`count` lanes valid).
ND_TARGET ND_INLINE void nd_tanh_jvp_backward8(const float *yr, const float *dyr,
                                               const float *tr, const float *tbr, float *dxr,
                                               float *dtr, long blocks, long n, long o,
                                               long count) {
  __m256 yv = nd_load(yr + o, count);
  __m256 s = nd_tanh_slope8(yv);
  if (dxr) {
    // Σ_i ẋ_i ẏ̄_i, then x̄ = s (ȳ − 2 y Σ): σ'' = −2 y σ'.
    __m256 mixed = _mm256_setzero_ps();
    for (long i = 0; i < blocks; i++)
      mixed = _mm256_fmadd_ps(nd_load(tr + i * n + o, count), nd_load(tbr + i * n + o, count), mixed);
    nd_store(dxr + o, nd_tanh_backward8(yv, s, nd_load(dyr + o, count), mixed), count);
  }
  if (dtr) {
    for (long i = 0; i < blocks; i++)
      nd_store(dtr + i * n + o, _mm256_mul_ps(s, nd_load(tbr + i * n + o, count)), count);
  }
}

ND_TARGET void nd_tanh_jvp_backward_f32(const float *y, long ldy, const float *dy, long lddy,
                                        const float *t, long ldt, const float *tbar, long ldtb,
                                        float *dx, long lddx, float *dt, long lddt, long rows,
                                        long blocks, long n) {
  for (long r = 0; r < rows; r++) {
    const float *yr = y + r * ldy, *dyr = dy + r * lddy;
    const float *tr = t + r * ldt, *tbr = tbar + r * ldtb;
    float *dxr = dx ? dx + r * lddx : 0;
    float *dtr = dt ? dt + r * lddt : 0;
    long o = 0;
    for (; o + 8 <= n; o += 8) nd_tanh_jvp_backward8(yr, dyr, tr, tbr, dxr, dtr, blocks, n, o, 8);
    if (o < n) nd_tanh_jvp_backward8(yr, dyr, tr, tbr, dxr, dtr, blocks, n, o, n - o);
  }
}
