// Same-size stride-1 convolutions (the ODE block's 3x3 pad-1 maps) without
// im2col, float32, AVX-512 (F + VL): each 16-pixel strip of the output reads
// the block's input planes shifted by a tap, with the lanes whose tap falls
// outside their own sample's plane masked off (a masked load reads nothing and
// gives +0), so the columns are never written to memory.
#include "CNodeKernels.h"

#include <immintrin.h>

#define ND_TARGET512 __attribute__((target("avx512f,avx512vl,avx2,fma")))

int nd_avx512_available(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
}

// Strips whose tap masks are worked out at once (a table on the stack).
enum { ND_STRIP_CHUNK = 64, ND_MAX_TAPS = 49 };

// Rows o0 .. o0 + R of `out` over the strips [s0, s1): R accumulators of 16
// pixels, summed from +0 over taps t, then channels c, one FMA each.
ND_TARGET512 static inline __attribute__((always_inline)) void
nd_conv_same_rows(const float *x, long ldx, long channels, long taps, const long *shifts,
                  const float *wp, long k, const __mmask16 *masks, long s0, long s1,
                  float *out, long ld, long o0, const int R) {
  const float *w0 = wp + o0 * k;
  for (long st = s0; st < s1; st++) {
    const long p0 = st * 16;
    const __mmask16 *m = masks + (st - s0) * taps;
    __m512 acc[8];
    for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_ps();
    for (long t = 0; t < taps; t++) {
      const __mmask16 mt = m[t];
      const float *xt = x + p0 + shifts[t];
      const float *w = w0 + t * channels;
      for (long c = 0; c < channels; c++) {
        __m512 v = _mm512_maskz_loadu_ps(mt, xt + c * ldx);
        for (int r = 0; r < R; r++)
          acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(w[r * k + c]), v, acc[r]);
      }
    }
    for (int r = 0; r < R; r++) _mm512_storeu_ps(out + (o0 + r) * ld + p0, acc[r]);
  }
}

ND_TARGET512 void nd_conv_same_f32(const nd_same_size_taps *taps, const float *x, long ldx,
                                   long count, long channels, const float *wp, long outputs,
                                   float *out, long ld) {
  const long P = taps->pixels, T = taps->taps, k = channels * T;
  const long used = count * P, strips = (used + 15) / 16;
  if (T > ND_MAX_TAPS) __builtin_trap(); // the mask table below holds ND_MAX_TAPS per strip
  __mmask16 masks[ND_STRIP_CHUNK * ND_MAX_TAPS];
  for (long s0 = 0; s0 < strips; s0 += ND_STRIP_CHUNK) {
    const long s1 = s0 + ND_STRIP_CHUNK < strips ? s0 + ND_STRIP_CHUNK : strips;
    // Lane l of strip st is pixel q = (16 st + l) mod P of sample (16 st + l) / P.
    for (long st = s0; st < s1; st++) {
      for (long t = 0; t < T; t++) {
        unsigned bits = 0;
        for (long l = 0; l < 16; l++) {
          const long p = st * 16 + l;
          if (p < used && taps->inside[t * P + p % P]) bits |= 1u << l;
        }
        masks[(st - s0) * T + t] = (__mmask16)bits;
      }
    }
    // Row tiles outside, strips inside: a tile's weights (8 k floats) stay in L1.
    long o0 = 0;
    for (; o0 + 8 <= outputs; o0 += 8)
      nd_conv_same_rows(x, ldx, channels, T, taps->shifts, wp, k, masks, s0, s1, out, ld, o0, 8);
    switch (outputs - o0) {
#define ND_REST(R)                                                                          \
  case R:                                                                                   \
    nd_conv_same_rows(x, ldx, channels, T, taps->shifts, wp, k, masks, s0, s1, out, ld, o0, R); \
    break;
      ND_REST(1) ND_REST(2) ND_REST(3) ND_REST(4) ND_REST(5) ND_REST(6) ND_REST(7)
#undef ND_REST
    default: break;
    }
  }
}
