// Convolutions with sixteen samples in the lanes, float32, AVX-512 (F + VL).
// Each vector holds one pixel of one channel of sixteen samples, so a tap
// lies inside the plane for all lanes or for none: the taps that hang over
// the border are skipped instead of being multiplied by zeros (on the ODE
// block's 6x6 maps, 3x3 kernel: 256 of the 324 pixel-taps are inside, so
// im2col's GEMM spends 21 % of its FMAs on zeros), and any stride and padding
// take the same kernels: the map lists what each output pixel reads. Every
// lane's sums are its own: a sample's values never depend on its group-mates.
#include "CNodeKernels.h"

#include <immintrin.h>

#define ND_TARGET512 __attribute__((target("avx512f,avx512vl,avx2,fma")))

int nd_avx512_available(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
}
#define ND_INLINE512 ND_TARGET512 static inline __attribute__((always_inline))

enum { ND_LANES = 16, ND_LANE_MAX_TAPS = 49 };

// In place: r[j] holds column j of the 16 x 16 block whose row i was r[i].
ND_INLINE512 void nd_transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; i++) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  // r[4i + j], 128-bit lane L: rows 4i .. 4i + 3 of column 4L + j.
  for (int i = 0; i < 4; i++) {
    r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  for (int j = 0; j < 4; j++) {
    t[j] = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x88);
    t[4 + j] = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xDD);
    t[8 + j] = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x88);
    t[12 + j] = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xDD);
  }
  for (int j = 0; j < 4; j++) {
    r[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
    r[4 + j] = _mm512_shuffle_f32x4(t[4 + j], t[12 + j], 0x88);
    r[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xDD);
    r[12 + j] = _mm512_shuffle_f32x4(t[4 + j], t[12 + j], 0xDD);
  }
}

ND_INLINE512 __mmask16 nd_first_lanes(long n) {
  return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
}

ND_TARGET512 void nd_rows_to_lanes_f32(const float *x, long ldx, long lanes, long width,
                                       const float *scales, float *out) {
  __m512 scale = _mm512_setzero_ps();
  if (scales) scale = _mm512_maskz_loadu_ps(nd_first_lanes(lanes), scales);
  for (long j0 = 0; j0 < width; j0 += ND_LANES) {
    const long w = width - j0 < ND_LANES ? width - j0 : ND_LANES;
    const __mmask16 m = nd_first_lanes(w);
    __m512 r[16];
    for (int i = 0; i < 16; i++)
      r[i] = i < lanes ? _mm512_maskz_loadu_ps(m, x + i * ldx + j0) : _mm512_setzero_ps();
    nd_transpose16(r);
    for (long j = 0; j < w; j++)
      _mm512_storeu_ps(out + (j0 + j) * ND_LANES, scales ? _mm512_mul_ps(r[j], scale) : r[j]);
  }
}

ND_TARGET512 void nd_lanes_to_rows_f32(const float *in, long lanes, long width, const float *add,
                                       float *y, long ldy) {
  for (long j0 = 0; j0 < width; j0 += ND_LANES) {
    const long w = width - j0 < ND_LANES ? width - j0 : ND_LANES;
    const __mmask16 m = nd_first_lanes(w);
    __m512 r[16];
    for (int j = 0; j < 16; j++)
      r[j] = j < w ? _mm512_loadu_ps(in + (j0 + j) * ND_LANES) : _mm512_setzero_ps();
    nd_transpose16(r);
    const __m512 a = add ? _mm512_maskz_loadu_ps(m, add + j0) : _mm512_setzero_ps();
    for (long i = 0; i < lanes; i++) {
      const __m512 v = add ? _mm512_add_ps(r[i], a) : r[i];
      _mm512_mask_storeu_ps(y + i * ldy + j0, m, v);
    }
  }
}

// Outputs o0 .. o0 + R of one group: per output pixel q, R accumulators of
// sixteen samples summed from +0 over q's terms in the map's order, then the
// channels, one FMA each.
ND_INLINE512 void nd_lane_conv_rows(const nd_lane_map *map, const float *x, long channels,
                                    const float *wp, float *out, long o0, const int R) {
  const long T = map->taps, k = channels * T;
  const long in_plane = map->inputs * ND_LANES, out_plane = map->outputs * ND_LANES;
  const float *w0 = wp + o0 * k;
  for (long q = 0; q < map->outputs; q++) {
    __m512 acc[16];
    for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_ps();
    const int *taps = map->term_taps + q * T, *sources = map->term_sources + q * T;
    for (long i = 0; i < map->counts[q]; i++) {
      const float *xt = x + sources[i] * ND_LANES;
      const float *w = w0 + taps[i] * channels;
      for (long c = 0; c < channels; c++) {
        const __m512 v = _mm512_loadu_ps(xt + c * in_plane);
        for (int r = 0; r < R; r++)
          acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(w[r * k + c]), v, acc[r]);
      }
    }
    for (int r = 0; r < R; r++) _mm512_storeu_ps(out + (o0 + r) * out_plane + q * ND_LANES, acc[r]);
  }
}

ND_TARGET512 void nd_conv_lanes_f32(const nd_lane_map *map, const float *x, long groups,
                                    long channels, const float *wp, long outputs, float *out) {
  const long in_group = channels * map->inputs * ND_LANES;
  const long out_group = outputs * map->outputs * ND_LANES;
  // Tiles of eight outputs; a remainder of r < 8 joins the last tile (8 + r
  // accumulators), so that no tile is too short to hide the FMA latency.
  const long tiles = outputs >= 8 ? outputs / 8 : 1;
  for (long g = 0; g < groups; g++) {
    const float *xg = x + g * in_group;
    float *og = out + g * out_group;
    for (long tile = 0; tile < tiles; tile++) {
      const long o0 = tile * 8;
      switch (tile == tiles - 1 ? outputs - o0 : 8) {
#define ND_CASE(N)                                                                          \
  case N:                                                                                   \
    nd_lane_conv_rows(map, xg, channels, wp, og, o0, N);                                    \
    break;
        ND_CASE(1) ND_CASE(2) ND_CASE(3) ND_CASE(4) ND_CASE(5) ND_CASE(6) ND_CASE(7) ND_CASE(8)
        ND_CASE(9) ND_CASE(10) ND_CASE(11) ND_CASE(12) ND_CASE(13) ND_CASE(14) ND_CASE(15)
#undef ND_CASE
      default: break;
      }
    }
  }
}

// The weight gradient of one tile of R outputs by C channels over all groups:
// per tap, sixteen-lane partial sums of dy[o, q] x[c, p] over the tap's
// pairs (q, p), group after group (kept in `partial` between groups: the
// tile's planes of a group stay in L1 over its taps), then each reduced over
// its lanes and added to dw.
ND_INLINE512 void nd_lane_weight_gradient_tile(const nd_lane_map *map, const float *x,
                                               const float *dy, long groups, long channels,
                                               long outputs, long o0, long c0, __m512 *partial,
                                               float *dw, const int R, const int C) {
  const long T = map->taps, P = map->outputs;
  const long in_plane = map->inputs * ND_LANES, out_plane = P * ND_LANES;
  for (long i = 0; i < T * R * C; i++) partial[i] = _mm512_setzero_ps();
  for (long g = 0; g < groups; g++) {
    const float *xg = x + (g * channels + c0) * in_plane;
    const float *dg = dy + (g * outputs + o0) * out_plane;
    for (long t = 0; t < T; t++) {
      __m512 acc[4][4];
      __m512 *sums = partial + t * R * C;
      for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) acc[r][c] = sums[r * C + c];
      const int *qs = map->pair_outputs + t * P, *ps = map->pair_sources + t * P;
      for (long i = 0; i < map->pair_counts[t]; i++) {
        const long q = qs[i] * ND_LANES, p = ps[i] * ND_LANES;
        __m512 d[4];
        for (int r = 0; r < R; r++) d[r] = _mm512_loadu_ps(dg + r * out_plane + q);
        for (int c = 0; c < C; c++) {
          const __m512 v = _mm512_loadu_ps(xg + c * in_plane + p);
          for (int r = 0; r < R; r++) acc[r][c] = _mm512_fmadd_ps(d[r], v, acc[r][c]);
        }
      }
      for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) sums[r * C + c] = acc[r][c];
    }
  }
  for (long t = 0; t < T; t++)
    for (int r = 0; r < R; r++)
      for (int c = 0; c < C; c++)
        dw[((o0 + r) * channels + c0 + c) * T + t] +=
            _mm512_reduce_add_ps(partial[(t * R + r) * C + c]);
}

ND_TARGET512 void nd_conv_lanes_weight_gradient_f32(const nd_lane_map *map, const float *x,
                                                    const float *dy, long groups, long channels,
                                                    long outputs, float *dw, float *db) {
  const long T = map->taps, out_plane = map->outputs * ND_LANES;
  __m512 partial[ND_LANE_MAX_TAPS * 16];
  if (T > ND_LANE_MAX_TAPS) __builtin_trap(); // `partial` holds 16 sums per tap
  for (long o0 = 0; o0 < outputs; o0 += 4) {
    const long R = outputs - o0 < 4 ? outputs - o0 : 4;
    for (long c0 = 0; c0 < channels; c0 += 4) {
      const long C = channels - c0 < 4 ? channels - c0 : 4;
      switch (R * 4 + C - 5) {
#define ND_TILE(RR, CC)                                                                     \
  case RR * 4 + CC - 5:                                                                     \
    nd_lane_weight_gradient_tile(map, x, dy, groups, channels, outputs, o0, c0, partial, dw, \
                                 RR, CC);                                                   \
    break;
        ND_TILE(1, 1) ND_TILE(1, 2) ND_TILE(1, 3) ND_TILE(1, 4)
        ND_TILE(2, 1) ND_TILE(2, 2) ND_TILE(2, 3) ND_TILE(2, 4)
        ND_TILE(3, 1) ND_TILE(3, 2) ND_TILE(3, 3) ND_TILE(3, 4)
        ND_TILE(4, 1) ND_TILE(4, 2) ND_TILE(4, 3) ND_TILE(4, 4)
#undef ND_TILE
      default: break;
      }
    }
  }
  if (!db) return;
  // db[o] += the sum of dy[o] over the pixels and lanes of every group.
  for (long o = 0; o < outputs; o++) {
    __m512 acc = _mm512_setzero_ps();
    for (long g = 0; g < groups; g++) {
      const float *d = dy + (g * outputs + o) * out_plane;
      for (long i = 0; i < out_plane; i += ND_LANES) acc = _mm512_add_ps(acc, _mm512_loadu_ps(d + i));
    }
    db[o] += _mm512_reduce_add_ps(acc);
  }
}
