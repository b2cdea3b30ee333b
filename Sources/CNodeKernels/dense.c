// Fused dense layer + activation kernels, float32, AVX2 + FMA.
#include <stdint.h>

#include "CNodeKernels.h"

#include "nd_simd.h"
#include "nd_simd512.h"

int nd_kernels_available(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

// One tile of R rows (R <= 6, a compile-time constant after inlining) by
// `width` (<= 16) outputs starting at j0: 2R accumulators in registers over
// the k loop (all of k, or one block of it), stored without activation. FULL (width == 16) selects
// unmasked loads and stores. RESUME starts the accumulators from y (a later
// block of k, see nd_dense_wide_f32) instead of the bias. Row r's k-th value
// of x is x[r ldx + k ksx] and row k of wt starts at wt + k ldw (ksx = 1,
// ldw = n for a dense layer; nd_weight_gradient_f32 reads its x transposed).
ND_TARGET ND_INLINE void nd_wide_tile(const float *x, long ldx, long ksx, long k, const float *wt,
                                      long ldw, const float *bias, float *y, long ldy, long j0,
                                      long width, const int R, const int FULL, const int RESUME) {
  long w0 = FULL ? 8 : (width < 8 ? width : 8);
  long w1 = FULL ? 8 : width - w0;
  __m256 acc0[6], acc1[6];
  if (RESUME) {
    for (int r = 0; r < R; r++) {
      acc0[r] = FULL ? _mm256_loadu_ps(y + r * ldy + j0) : nd_load(y + r * ldy + j0, w0);
      acc1[r] = FULL ? _mm256_loadu_ps(y + r * ldy + j0 + 8)
                     : (w1 > 0 ? nd_load(y + r * ldy + j0 + 8, w1) : _mm256_setzero_ps());
    }
  } else {
    __m256 b0 = FULL ? _mm256_loadu_ps(bias + j0) : nd_load(bias + j0, w0);
    __m256 b1 = FULL ? _mm256_loadu_ps(bias + j0 + 8)
                     : (w1 > 0 ? nd_load(bias + j0 + 8, w1) : _mm256_setzero_ps());
    for (int r = 0; r < R; r++) {
      acc0[r] = b0;
      acc1[r] = b1;
    }
  }
  const float *wrow = wt + j0;
  if (FULL) {
    for (long kk = 0; kk < k; kk++, wrow += ldw) {
      __m256 v0 = _mm256_loadu_ps(wrow);
      __m256 v1 = _mm256_loadu_ps(wrow + 8);
      for (int r = 0; r < R; r++) {
        __m256 a = _mm256_broadcast_ss(x + r * ldx + kk * ksx);
        acc0[r] = _mm256_fmadd_ps(a, v0, acc0[r]);
        acc1[r] = _mm256_fmadd_ps(a, v1, acc1[r]);
      }
    }
    for (int r = 0; r < R; r++) {
      _mm256_storeu_ps(y + r * ldy + j0, acc0[r]);
      _mm256_storeu_ps(y + r * ldy + j0 + 8, acc1[r]);
    }
  } else {
    __m256i m0 = nd_mask(w0);
    __m256i m1 = nd_mask(w1);
    for (long kk = 0; kk < k; kk++, wrow += ldw) {
      __m256 v0 = _mm256_maskload_ps(wrow, m0);
      __m256 v1 = _mm256_maskload_ps(wrow + 8, m1);
      for (int r = 0; r < R; r++) {
        __m256 a = _mm256_broadcast_ss(x + r * ldx + kk * ksx);
        acc0[r] = _mm256_fmadd_ps(a, v0, acc0[r]);
        acc1[r] = _mm256_fmadd_ps(a, v1, acc1[r]);
      }
    }
    for (int r = 0; r < R; r++) {
      nd_store(y + r * ldy + j0, acc0[r], w0);
      if (w1 > 0) nd_store(y + r * ldy + j0 + 8, acc1[r], w1);
    }
  }
}

// tanh over the first n elements of R rows, in place. A separate pass after
// the multiply-adds: fusing it into the tile's epilogue, with 12 accumulators
// live, made the compiler spill registers (4 % slower at -O2).
ND_TARGET ND_INLINE void nd_tanh_rows(float *y, long ldy, long n, const int R) {
  if (nd_dense_avx512) {
    nd_tanh_rows_avx512(y, ldy, n, R);
    return;
  }
  for (int r = 0; r < R; r++) {
    float *row = y + r * ldy;
    long j = 0;
    for (; j + 8 <= n; j += 8) _mm256_storeu_ps(row + j, nd_tanh8(_mm256_loadu_ps(row + j)));
    if (j < n) nd_store(row + j, nd_tanh8(nd_load(row + j, n - j)), n - j);
  }
}

// All outputs of R rows: full 16-wide blocks, then the remainder (or the
// AVX-512 tiles of dense512.c, bitwise the same), then the activation.
ND_TARGET ND_INLINE void nd_wide_rows(const float *x, long ldx, long k, const float *wt, long n,
                                      const float *bias, float *y, long ldy,
                                      nd_activation activation, const int R) {
  if (nd_dense_avx512) {
    nd_wide_rows_avx512(x, ldx, k, wt, n, bias, y, ldy, R);
  } else {
    long j0 = 0;
    for (; j0 + 16 <= n; j0 += 16) nd_wide_tile(x, ldx, 1, k, wt, n, bias, y, ldy, j0, 16, R, 1, 0);
    if (j0 < n) nd_wide_tile(x, ldx, 1, k, wt, n, bias, y, ldy, j0, n - j0, R, 0, 0);
  }
  if (activation == ND_ACTIVATION_TANH) nd_tanh_rows(y, ldy, n, R);
}

// The sums of eight accumulators in one vector: lane i holds the sum of v[i]'s
// lanes, as ((0+1)+(2+3)) + ((4+5)+(6+7)) whichever lane it lands in (two
// levels of horizontal additions, then the 128-bit halves added).
ND_TARGET ND_INLINE __m256 nd_hsum8(__m256 v0, __m256 v1, __m256 v2, __m256 v3, __m256 v4,
                                    __m256 v5, __m256 v6, __m256 v7) {
  __m256 q0 = _mm256_hadd_ps(_mm256_hadd_ps(v0, v1), _mm256_hadd_ps(v2, v3));
  __m256 q1 = _mm256_hadd_ps(_mm256_hadd_ps(v4, v5), _mm256_hadd_ps(v6, v7));
  return _mm256_add_ps(_mm256_permute2f128_ps(q0, q1, 0x20), _mm256_permute2f128_ps(q0, q1, 0x31));
}

// Outputs j0 and j0 + 1 (TWO) or j0 alone of R rows: one accumulator per
// (row, output) holding the eight partial sums k mod 8, reduced four rows at a
// time by nd_hsum8 (lanes 2i, 2i + 1: row i's two outputs), then the bias and
// the activation on the whole vector.
ND_TARGET ND_INLINE void nd_narrow_pair(const float *x, long ldx, long k, const float *w,
                                        const float *bias, float *y, long ldy, long j0,
                                        nd_activation activation, const int R, const int TWO) {
  const float *wa = w + j0 * k;
  const float *wb = wa + k;
  __m256 acc0[8], acc1[8];
  for (int r = 0; r < 8; r++) {
    acc0[r] = _mm256_setzero_ps();
    acc1[r] = _mm256_setzero_ps();
  }
  long kk = 0;
  for (; kk + 8 <= k; kk += 8) {
    __m256 va = _mm256_loadu_ps(wa + kk);
    __m256 vb = TWO ? _mm256_loadu_ps(wb + kk) : va;
    for (int r = 0; r < R; r++) {
      __m256 xv = _mm256_loadu_ps(x + r * ldx + kk);
      acc0[r] = _mm256_fmadd_ps(xv, va, acc0[r]);
      if (TWO) acc1[r] = _mm256_fmadd_ps(xv, vb, acc1[r]);
    }
  }
  if (kk < k) {
    __m256i m = nd_mask(k - kk);
    __m256 va = _mm256_maskload_ps(wa + kk, m);
    __m256 vb = TWO ? _mm256_maskload_ps(wb + kk, m) : va;
    for (int r = 0; r < R; r++) {
      __m256 xv = _mm256_maskload_ps(x + r * ldx + kk, m);
      acc0[r] = _mm256_fmadd_ps(xv, va, acc0[r]);
      if (TWO) acc1[r] = _mm256_fmadd_ps(xv, vb, acc1[r]);
    }
  }
  // [b_j0, b_j0+1] in every pair of lanes (one 64-bit broadcast), or b_j0.
  __m256 b = TWO ? _mm256_castpd_ps(_mm256_broadcast_sd((const double *)(bias + j0)))
                 : _mm256_set1_ps(bias[j0]);
  for (int r0 = 0; r0 < R; r0 += 4) {
    __m256 sums = nd_hsum8(acc0[r0], acc1[r0], acc0[r0 + 1], acc1[r0 + 1], acc0[r0 + 2],
                           acc1[r0 + 2], acc0[r0 + 3], acc1[r0 + 3]);
    sums = _mm256_add_ps(sums, b);
    if (activation == ND_ACTIVATION_TANH) sums = nd_tanh8(sums);
    __m128 lo = _mm256_castps256_ps128(sums), hi = _mm256_extractf128_ps(sums, 1);
    float *row = y + r0 * ldy + j0;
    if (TWO) {
      _mm_storel_pi((__m64 *)row, lo);
      if (r0 + 1 < R) _mm_storeh_pi((__m64 *)(row + ldy), lo);
      if (r0 + 2 < R) _mm_storel_pi((__m64 *)(row + 2 * ldy), hi);
      if (r0 + 3 < R) _mm_storeh_pi((__m64 *)(row + 3 * ldy), hi);
    } else {
      _mm_store_ss(row, lo);
      if (r0 + 1 < R) _mm_store_ss(row + ldy, _mm_movehl_ps(lo, lo));
      if (r0 + 2 < R) _mm_store_ss(row + 2 * ldy, hi);
      if (r0 + 3 < R) _mm_store_ss(row + 3 * ldy, _mm_movehl_ps(hi, hi));
    }
  }
}

ND_TARGET ND_INLINE void nd_narrow_rows(const float *x, long ldx, long k, const float *w, long n,
                                        const float *bias, float *y, long ldy,
                                        nd_activation activation, const int R) {
  long j0 = 0;
  for (; j0 + 2 <= n; j0 += 2) nd_narrow_pair(x, ldx, k, w, bias, y, ldy, j0, activation, R, 1);
  if (j0 < n) nd_narrow_pair(x, ldx, k, w, bias, y, ldy, j0, activation, R, 0);
}

// Calls TILE(r0, R) for the row tiles of `rows` rows, r0 being a tile's first
// row: tiles of 6, then the remainder as a compile-time R of 1 to 5, so that
// each tile's loops are unrolled for its height. Callers define TILE.
#define ND_ROW_TILES(rows, TILE)                                                           \
  do {                                                                                     \
    long r0_ = 0;                                                                          \
    for (; r0_ + 6 <= (rows); r0_ += 6) TILE(r0_, 6);                                      \
    switch ((rows) - r0_) {                                                                \
    case 1: TILE(r0_, 1); break;                                                           \
    case 2: TILE(r0_, 2); break;                                                           \
    case 3: TILE(r0_, 3); break;                                                           \
    case 4: TILE(r0_, 4); break;                                                           \
    case 5: TILE(r0_, 5); break;                                                           \
    default: break;                                                                        \
    }                                                                                      \
  } while (0)

// The products of a long k (a convolution's C·kh·kw) in blocks of ND_KC: the
// block of wt a 16-wide column block reads (ND_KC × 16 floats, 16 KB) stays
// in L1 while every row tile goes over it, instead of streaming from L2 for
// each tile. Each element still sums its terms in increasing k from the
// bias, one fused multiply-add each (the accumulators pass through y between
// blocks exactly), so the result is bitwise that of one pass.
enum { ND_KC = 256 };

// Columns j0 .. j0 + width of every row over k0 .. k0 + kc (x's and wt's
// strides as in nd_wide_tile).
ND_TARGET ND_INLINE void nd_wide_block_column(const float *x, long rows, long kc, long ldx,
                                              long ksx, const float *wt, long ldw,
                                              const float *bias, float *y, long ldy, long j0,
                                              long width, const int FULL, const int RESUME) {
#define ND_TILE(r0, R)                                                                     \
  nd_wide_tile(x + (r0) * ldx, ldx, ksx, kc, wt, ldw, bias, y + (r0) * ldy, ldy, j0, width, R,    \
               FULL, RESUME)
  ND_ROW_TILES(rows, ND_TILE);
#undef ND_TILE
}

// Not inlined: inside nd_dense_wide_f32 it changed the code of the short-k
// path every dense layer takes (3 % more instructions there, callgrind).
ND_TARGET __attribute__((noinline)) static void nd_dense_wide_blocked(const float *x, long rows, long k, long ldx,
                                            const float *wt, long n, const float *bias, float *y,
                                            long ldy, nd_activation activation) {
  for (long k0 = 0; k0 < k; k0 += ND_KC) {
    long kc = k - k0 < ND_KC ? k - k0 : ND_KC;
    const float *xb = x + k0;
    const float *wb = wt + k0 * n;
    // The first block starts from the bias, later ones from the partial sums in y.
#define ND_COLUMN(j0, width, FULL)                                                         \
  do {                                                                                     \
    if (k0 == 0)                                                                           \
      nd_wide_block_column(xb, rows, kc, ldx, 1, wb, n, bias, y, ldy, j0, width, FULL, 0);  \
    else nd_wide_block_column(xb, rows, kc, ldx, 1, wb, n, bias, y, ldy, j0, width, FULL, 1); \
  } while (0)
    long j0 = 0;
    for (; j0 + 16 <= n; j0 += 16) ND_COLUMN(j0, 16, 1);
    if (j0 < n) ND_COLUMN(j0, n - j0, 0);
#undef ND_COLUMN
  }
  if (activation == ND_ACTIVATION_TANH)
    for (long r = 0; r < rows; r++) nd_tanh_rows(y + r * ldy, ldy, n, 1);
}

ND_TARGET void nd_dense_wide_f32(const float *x, long rows, long k, long ldx, const float *wt,
                                 long n, const float *bias, float *y, long ldy,
                                 nd_activation activation) {
  if (k > ND_KC) {
    nd_dense_wide_blocked(x, rows, k, ldx, wt, n, bias, y, ldy, activation);
    return;
  }
#define ND_TILE(r0, R) nd_wide_rows(x + (r0) * ldx, ldx, k, wt, n, bias, y + (r0) * ldy, ldy, activation, R)
  ND_ROW_TILES(rows, ND_TILE);
#undef ND_TILE
}

// G += Uᵀ X in blocks of ND_GRADIENT_KC rows of U and X: the block of X (64
// rows of up to 64 floats, 16 KB) and the columns of U a row tile reads stay
// in L1 while the tiles go over them. Output o of G is tile row o, its
// multiplier of row k U[k ldu + o]: nd_wide_tile with ldx = 1, ksx = ldu,
// resuming from G. Each element sums its terms from its old value in
// increasing k, one fused multiply-add each, on both paths.
enum { ND_GRADIENT_KC = 64 };

// What row tile t of the AVX-512 path prefetches while it goes over a block,
// one line per k, so that the next block (its rows at un and xn) is in cache
// when it starts: line column t of X's rows, then of U's; nothing for the
// tiles after those. Only a whole next block is fetched (a shorter last one
// is not), so no address leaves the operands.
ND_INLINE const float *nd_next_block_line(long t, const float *un, long ldu, long m,
                                          const float *xn, long ldx, long n, long *stride) {
  long xlines = (n + 15) / 16, ulines = (m + 15) / 16;
  if (t < xlines) return *stride = ldx, xn + 16 * t;
  if (t < xlines + ulines) return *stride = ldu, un + 16 * (t - xlines);
  return 0;
}

ND_TARGET static void nd_weight_gradient_blocks(const float *u, long ldu, const float *x, long ldx,
                                                long k, long m, long n, float *g, long ldg) {
  for (long k0 = 0; k0 < k; k0 += ND_GRADIENT_KC) {
    long kc = k - k0 < ND_GRADIENT_KC ? k - k0 : ND_GRADIENT_KC;
    const float *ub = u + k0 * ldu;
    const float *xb = x + k0 * ldx;
    if (nd_dense_avx512) {
      int more = k0 + 2 * kc <= k;
#define ND_TILE(r0, R)                                                                     \
  do {                                                                                     \
    long pfs_ = 0;                                                                         \
    const float *pf_ = more ? nd_next_block_line((r0) / 6, ub + kc * ldu, ldu, m, xb + kc * ldx, \
                                                 ldx, n, &pfs_)                            \
                            : 0;                                                           \
    nd_resume_rows_avx512(ub + (r0), 1, ldu, kc, xb, ldx, n, g + (r0) * ldg, ldg, pf_, pfs_, R); \
  } while (0)
      ND_ROW_TILES(m, ND_TILE);
#undef ND_TILE
      continue;
    }
    long j0 = 0;
    // Row o of the tiles is output o, its k-th multiplier U[k ldu + o].
    for (; j0 + 16 <= n; j0 += 16)
      nd_wide_block_column(ub, m, kc, 1, ldu, xb, ldx, 0, g, ldg, j0, 16, 1, 1);
    if (j0 < n) nd_wide_block_column(ub, m, kc, 1, ldu, xb, ldx, 0, g, ldg, j0, n - j0, 0, 1);
  }
}

ND_TARGET void nd_weight_gradient_f32(const float *u, long ldu, const float *x, long ldx, long k,
                                      long m, long n, float *g, long ldg) {
  enum { NARROW_MAX = 1024 };
  if (n < 8 && m > n && m * n <= NARROW_MAX) {
    // Few inputs (a first layer's 2): Gᵀ += Xᵀ U instead, whose rows are as
    // wide as the outputs, in a transposed copy of G — the same sums.
    float gt[NARROW_MAX];
    for (long o = 0; o < m; o++)
      for (long i = 0; i < n; i++) gt[i * m + o] = g[o * ldg + i];
    nd_weight_gradient_blocks(x, ldx, u, ldu, k, n, m, gt, m);
    for (long o = 0; o < m; o++)
      for (long i = 0; i < n; i++) g[o * ldg + i] = gt[i * m + o];
    return;
  }
  nd_weight_gradient_blocks(u, ldu, x, ldx, k, m, n, g, ldg);
}

ND_TARGET void nd_dense_narrow_f32(const float *x, long rows, long k, long ldx, const float *w,
                                   long n, const float *bias, float *y, long ldy,
                                   nd_activation activation) {
#define ND_TILE(r0, R) nd_narrow_rows(x + (r0) * ldx, ldx, k, w, n, bias, y + (r0) * ldy, ldy, activation, R)
  ND_ROW_TILES(rows, ND_TILE);
#undef ND_TILE
}

// Eight lanes (`count` valid; a constant 8 folds the masks) of a gated row:
// y = y g + shift t, then the tanh after the gate per ACT: act = tanh(y), or
// act = y (1 − s²) for tangents, s the primal row's tanh output.
ND_TARGET ND_INLINE void nd_gate8(float *row, const float *g, const float *shift, __m256 t,
                                  float *act, const float *slope, long j, long count,
                                  const int SHIFT, const int ACT) {
  __m256 s = SHIFT ? _mm256_mul_ps(nd_load(shift + j, count), t) : _mm256_setzero_ps();
  __m256 v = _mm256_fmadd_ps(nd_load(row + j, count), nd_load(g + j, count), s);
  nd_store(row + j, v, count);
  if (ACT == ND_GATE_TANH) nd_store(act + j, nd_tanh8(v), count);
  if (ACT == ND_GATE_TANH_JVP) {
    nd_store(act + j, _mm256_mul_ps(v, nd_tanh_slope8(nd_load(slope + j, count))), count);
  }
}

// The gate of nd_dense_wide_gated_f32 on R rows just written (still in the
// L1 cache), the first being row `row0` of the whole product: a pass after the
// multiply-adds, like nd_tanh_rows.
ND_TARGET ND_INLINE void nd_gate_rows(float *y, long ldy, long n, const nd_row_gate *gate,
                                      long row0, const int R, const int SHIFT, const int ACT) {
  if (nd_dense_avx512) {
    nd_gate_rows_avx512(y, ldy, y, ldy, n, gate, row0, R, SHIFT, ACT, 0);
    return;
  }
  for (int r = 0; r < R; r++) {
    long gi = (row0 + r) / gate->per;
    const float *g = gate->gate + gi * n;
    float *row = y + r * ldy;
    float *act = ACT ? gate->act + (row0 + r) * gate->ldact : 0;
    const float *slope = ACT == ND_GATE_TANH_JVP ? gate->slope + gi * gate->ldslope : 0;
    __m256 t = SHIFT ? _mm256_set1_ps(gate->times[gi]) : _mm256_setzero_ps();
    long j = 0;
    for (; j + 8 <= n; j += 8) nd_gate8(row, g, gate->shift, t, act, slope, j, 8, SHIFT, ACT);
    if (j < n) nd_gate8(row, g, gate->shift, t, act, slope, j, n - j, SHIFT, ACT);
  }
}

// The widest output a streamed gated tile holds on the stack (nd_row_gate's stream).
enum { ND_STREAM_MAX = 256 };

ND_TARGET ND_INLINE void nd_wide_gated_rows(const float *x, long ldx, long k, const float *wt,
                                            long n, const float *bias, float *y, long ldy,
                                            const nd_row_gate *gate, long row0, const int R,
                                            const int SHIFT, const int ACT) {
  if (gate->stream && nd_dense_avx512 && n <= ND_STREAM_MAX && ((uintptr_t)y & 63) == 0 &&
      (ldy & 15) == 0) {
    // The tile's products go to the stack (L1), the gated rows to y with
    // streaming stores: y's lines are never read in.
    float tile[6 * ND_STREAM_MAX] __attribute__((aligned(64)));
    nd_wide_rows(x, ldx, k, wt, n, bias, tile, n, ND_ACTIVATION_IDENTITY, R);
    nd_gate_rows_avx512(tile, n, y, ldy, n, gate, row0, R, SHIFT, ACT, 1);
    return;
  }
  nd_wide_rows(x, ldx, k, wt, n, bias, y, ldy, ND_ACTIVATION_IDENTITY, R);
  nd_gate_rows(y, ldy, n, gate, row0, R, SHIFT, ACT);
}

ND_TARGET ND_INLINE void nd_dense_wide_gated(const float *x, long rows, long k, long ldx,
                                             const float *wt, long n, const float *bias, float *y,
                                             long ldy, const nd_row_gate *gate, const int SHIFT,
                                             const int ACT) {
#define ND_TILE(r0, R)                                                                     \
  nd_wide_gated_rows(x + (r0) * ldx, ldx, k, wt, n, bias, y + (r0) * ldy, ldy, gate, r0, R, SHIFT, ACT)
  ND_ROW_TILES(rows, ND_TILE);
#undef ND_TILE
}

// Calls GATED(SHIFT, ACT) with the gate's shift (0 or 1) and the tanh after
// it (ND_GATE_PLAIN, _TANH or _TANH_JVP) as compile-time constants.
#define ND_GATE_VARIANTS(gate, GATED)                                                      \
  ND_GATE_DISPATCH((gate)->shift != 0,                                                     \
                   !(gate)->act ? ND_GATE_PLAIN                                            \
                   : (gate)->slope ? ND_GATE_TANH_JVP                                      \
                                   : ND_GATE_TANH,                                         \
                   GATED)

ND_TARGET void nd_dense_wide_gated_f32(const float *x, long rows, long k, long ldx,
                                       const float *wt, long n, const float *bias, float *y,
                                       long ldy, const nd_row_gate *gate) {
#define ND_GATED(SHIFT, ACT) nd_dense_wide_gated(x, rows, k, ldx, wt, n, bias, y, ldy, gate, SHIFT, ACT)
  ND_GATE_VARIANTS(gate, ND_GATED);
#undef ND_GATED
  // Streaming stores are weakly ordered: make them visible before returning.
  if (gate->stream) _mm_sfence();
}

// The gate over rows already written, one at a time (a narrow layer's rows
// are a few floats each).
ND_TARGET ND_INLINE void nd_gate_each_row(float *y, long rows, long ldy, long n,
                                          const nd_row_gate *gate, const int SHIFT, const int ACT) {
  for (long r = 0; r < rows; r++) nd_gate_rows(y + r * ldy, ldy, n, gate, r, 1, SHIFT, ACT);
}

ND_TARGET void nd_dense_narrow_gated_f32(const float *x, long rows, long k, long ldx,
                                         const float *w, long n, const float *bias, float *y,
                                         long ldy, const nd_row_gate *gate) {
  nd_dense_narrow_f32(x, rows, k, ldx, w, n, bias, y, ldy, ND_ACTIVATION_IDENTITY);
#define ND_GATED(SHIFT, ACT) nd_gate_each_row(y, rows, ldy, n, gate, SHIFT, ACT)
  ND_GATE_VARIANTS(gate, ND_GATED);
#undef ND_GATED
}

// One layer of the chain on a tile of R rows.
ND_TARGET ND_INLINE void nd_layer_rows(const float *x, long ldx, const nd_dense_layer_f32 *layer,
                                       float *y, long ldy, const int R) {
  if (layer->out >= 8) {
    nd_wide_rows(x, ldx, layer->in, layer->wt, layer->out, layer->bias, y, ldy, layer->activation, R);
  } else {
    nd_narrow_rows(x, ldx, layer->in, layer->w, layer->out, layer->bias, y, ldy, layer->activation, R);
  }
}

ND_TARGET ND_INLINE void nd_chain_rows(const float *x, long ldx, const nd_dense_layer_f32 *layers,
                                       long count, float *y, long ldy, float *scratch,
                                       long max_width, const int R) {
  const float *input = x;
  long input_stride = ldx;
  for (long i = 0; i < count; i++) {
    int last = i == count - 1;
    float *output = last ? y : scratch + (i % 2) * 6 * max_width;
    long output_stride = last ? ldy : layers[i].out;
    nd_layer_rows(input, input_stride, &layers[i], output, output_stride, R);
    input = output;
    input_stride = output_stride;
  }
}

ND_TARGET void nd_mlp_f32(const float *x, long rows, long ldx, const nd_dense_layer_f32 *layers,
                          long count, float *y, long ldy, float *scratch) {
  long max_width = 0;
  for (long i = 0; i < count; i++) max_width = layers[i].out > max_width ? layers[i].out : max_width;
#define ND_TILE(r0, R)                                                                     \
  nd_chain_rows(x + (r0) * ldx, ldx, layers, count, y + (r0) * ldy, ldy, scratch, max_width, R)
  ND_ROW_TILES(rows, ND_TILE);
#undef ND_TILE
}
