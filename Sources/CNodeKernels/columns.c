// im2col and col2im of same-size stride-1 convolutions (the ODE block's 3x3
// pad-1 maps), float32, AVX2, over a block of samples side by side (callers
// check nd_kernels_available first).
#include "CNodeKernels.h"

#include "nd_simd.h"

// Eight lanes of `p` where `mask` (all ones or zero per lane) is set, +0 elsewhere;
// masked-off lanes are not read (a tap over the border may point outside the plane).
ND_TARGET ND_INLINE __m256 nd_tap_load(const float *p, __m256i mask) {
  return _mm256_maskload_ps(p, mask);
}

// The lanes of a tail of `count` (< 8) pixels: the tap's mask, limited to the tail and
// read without touching the mask table past its end.
ND_TARGET ND_INLINE __m256i nd_tail_mask(const int *mask, long count) {
  __m256i lanes = nd_mask(count);
  return _mm256_maskload_epi32(mask, lanes);
}

ND_TARGET void nd_unfold_same_f32(const nd_same_size_taps *taps, const float *x, long ldx,
                                  long count, long channels, float *columns, long ld) {
  const long P = taps->pixels, T = taps->taps;
  const long full = P & ~7L, tail = P - full;
  const __m256i tail_lanes = nd_mask(tail);
  for (long c = 0; c < channels; c++) {
    for (long t = 0; t < T; t++) {
      float *out = columns + (c * T + t) * ld;
      const int *inside = taps->inside + t * P;
      const long shift = taps->shifts[t];
      for (long s = 0; s < count; s++) {
        const float *plane = x + s * ldx + c * P + shift;
        float *o = out + s * P;
        for (long q = 0; q < full; q += 8) {
          __m256i m = _mm256_loadu_si256((const __m256i *)(inside + q));
          _mm256_storeu_ps(o + q, nd_tap_load(plane + q, m));
        }
        if (tail && full) {
          // The plane's last eight pixels again: the lanes before the tail are
          // written twice with the same values (a masked tail load stalls).
          __m256i m = _mm256_loadu_si256((const __m256i *)(inside + P - 8));
          _mm256_storeu_ps(o + P - 8, nd_tap_load(plane + P - 8, m));
        } else if (tail) {
          // A plane of fewer than eight pixels: lanes past it stay unwritten.
          __m256 v = nd_tap_load(plane, nd_tail_mask(inside, tail));
          _mm256_maskstore_ps(o, tail_lanes, v);
        }
      }
    }
  }
}

ND_TARGET void nd_fold_same_f32(const nd_same_size_taps *taps, const float *columns, long ld,
                                long count, long channels, float *dx, long lddx) {
  const long P = taps->pixels, T = taps->taps;
  const long full = P & ~7L, tail = P - full;
  const __m256i tail_lanes = nd_mask(tail);
  for (long s = 0; s < count; s++) {
    for (long c = 0; c < channels; c++) {
      const float *block = columns + c * T * ld + s * P;
      float *o = dx + s * lddx + c * P;
      // Input pixel q gathers, tap by tap in order, the column entry of the output pixel
      // q - shift[t] whose tap t lands on it (receives[t][q]); the sum starts from +0.
      // With a tail, the last vector is the plane's last eight pixels (recomputed
      // lanes get the same sums).
      for (long q = 0; q < P; q += 8) {
        const long at = q + 8 <= P ? q : (full ? P - 8 : 0);
        __m256 acc = _mm256_setzero_ps();
        for (long t = 0; t < T; t++) {
          const int *receives = taps->receives + t * P + at;
          __m256i m = q + 8 <= P || full ? _mm256_loadu_si256((const __m256i *)receives)
                                         : nd_tail_mask(receives, tail);
          acc = _mm256_add_ps(acc, nd_tap_load(block + t * ld + at - taps->shifts[t], m));
        }
        if (q + 8 <= P || full) {
          _mm256_storeu_ps(o + at, acc);
        } else {
          _mm256_maskstore_ps(o, tail_lanes, acc);
        }
      }
    }
  }
}
