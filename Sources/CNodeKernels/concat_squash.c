// The gate's share of the backward pass of FFJORD's concat-squash layer,
// y = h ⊙ g + d t with g = σ(a t + c) per row (the forward product is
// nd_dense_wide_gated_f32), float32, AVX2 + FMA (callers check
// nd_kernels_available first). Each row's arithmetic is the same wherever it
// sits; the parameter gradients add the rows in increasing order.
#include "CNodeKernels.h"
#include "nd_simd.h"
#include "nd_simd512.h"

// g = σ(a t + c) for every row: the product and the sum rounded apart (as
// two Swift operations would be), then nd_sigmoid_f32's arithmetic.
ND_TARGET void nd_concat_squash_gate_f32(const float *times, const float *a, const float *c,
                                         float *g, long rows, long n) {
  if (nd_dense_avx512) {
    nd_concat_squash_gate_avx512(times, a, c, g, rows, n);
    return;
  }
  const __m256 half = _mm256_set1_ps(0.5f);
  for (long r = 0; r < rows; r++) {
    __m256 t = _mm256_set1_ps(times[r]);
    float *row = g + r * n;
    for (long o = 0; o < n; o += 8) {
      long count = n - o < 8 ? n - o : 8;
      __m256 z = _mm256_add_ps(_mm256_mul_ps(nd_load(a + o, count), t), nd_load(c + o, count));
      __m256 s = nd_tanh8(_mm256_mul_ps(half, z));
      nd_store(row + o, _mm256_fmadd_ps(half, s, half), count);
    }
  }
}

// nd_concat_squash_gate_f32 on 16 lanes: the same operations per lane.
ND_TARGET512 void nd_concat_squash_gate_avx512(const float *times, const float *a, const float *c,
                                               float *g, long rows, long n) {
  const __m512 half = _mm512_set1_ps(0.5f);
  for (long r = 0; r < rows; r++) {
    __m512 t = _mm512_set1_ps(times[r]);
    float *row = g + r * n;
    for (long o = 0; o < n; o += 16) {
      __mmask16 m = nd_mask512(n - o);
      __m512 z = _mm512_add_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, a + o), t),
                               _mm512_maskz_loadu_ps(m, c + o));
      __m512 s = nd_tanh16(_mm512_mul_ps(half, z));
      _mm512_mask_storeu_ps(row + o, m, _mm512_fmadd_ps(half, s, half));
    }
  }
}

// The sets of outputs nd_gate_backward_f32 has its own code for: every output
// (the adjoint's stages that add to the parameter gradient: gated, weighted,
// bias and gate gradients), the same without the weighted cotangents (a
// backprop's stages, whose rows all weigh 1), the gated cotangents alone
// (stages that add nothing to it), or whatever the operands ask for, checked
// as it goes.
enum { ND_OUT_ANY = 0, ND_OUT_ALL = 1, ND_OUT_GATED = 2, ND_OUT_UNWEIGHTED = 3 };

// Eight lanes (`count` valid) of row r at offset o; returns the lanes' share
// of the row's time cotangent. With `act` the cotangents given are the tanh
// output's, and the tanh's backward pass comes first (as in
// nd_tanh_jvp_backward_f32, operation for operation): the layer's own output
// cotangent and tangent cotangents then live only in registers.
//
// ACT, DY (whether act and dy are given), BLOCKS (the tangent directions,
// or -1 for p->blocks) and OUT (which outputs are wanted, see nd_gate_outputs)
// are compile-time constants in each specialisation.
ND_TARGET ND_INLINE __m256 nd_gate_backward8(const nd_gate_backward_args *p, long r, long o,
                                             long count, __m256 t, __m256 w, const int ACT,
                                             const int DY, const int BLOCKS, const int OUT) {
  // Whether an output is wanted: known in the three usual sets, read otherwise.
#define ND_WANTS(field, IN_ALL, IN_UNWEIGHTED, IN_GATED)                                   \
  (OUT == ND_OUT_ALL          ? (IN_ALL)                                                   \
   : OUT == ND_OUT_UNWEIGHTED ? (IN_UNWEIGHTED)                                            \
   : OUT == ND_OUT_GATED      ? (IN_GATED)                                                 \
                              : p->field != 0)
  const int gated_dy = ND_WANTS(gated_dy, 1, 1, 1);
  const int weighted_dy = ND_WANTS(weighted_gated_dy, 1, 0, 0);
  const int bias = ND_WANTS(bias_gradient, 1, 1, 0), gradient = ND_WANTS(gradient, 1, 1, 0);
  const int gated_bars = ND_WANTS(gated_bars, 1, 1, 1);
  const int weighted_bars = ND_WANTS(weighted_gated_bars, 1, 0, 0);
#undef ND_WANTS
  const long n = p->n;
  const long blocks = BLOCKS >= 0 ? BLOCKS : p->blocks;
  __m256 one = _mm256_set1_ps(1.0f);
  __m256 gv = nd_load(p->g + r * n + o, count);
  const float *images = blocks ? p->images + r * p->ldi + o : 0;
  const float *bars = blocks ? p->bars + r * p->ldb + o : 0;
  // 1 − y_act² (the tanh's slope), or 1 without activation.
  __m256 s = one, yact = _mm256_setzero_ps();
  if (ACT) {
    yact = nd_load(p->act + r * p->ldact + o, count);
    s = nd_tanh_slope8(yact);
  }
  __m256 slope = _mm256_setzero_ps();
  __m256 dyv = _mm256_setzero_ps();
  __m256 dv = nd_load(p->d + o, count);
  if (DY) {
    dyv = nd_load(p->dy + r * p->lddy + o, count);
    if (ACT) {
      // ȳ of the layer = s (ȳ_act − 2 y_act Σ_i ẏ_i ẏ̄_act,i): σ'' = −2 y σ'.
      __m256 mixed = _mm256_setzero_ps();
      for (long i = 0; i < blocks; i++)
        mixed = _mm256_fmadd_ps(nd_load(images + i * n, count), nd_load(bars + i * n, count), mixed);
      dyv = nd_tanh_backward8(yact, s, dyv, mixed);
    }
    if (gated_dy || weighted_dy || bias) {
      // ȳ ⊙ g for the linear map's input cotangent; w (ȳ ⊙ g) for its parameter gradients.
      __m256 gated = _mm256_mul_ps(dyv, gv);
      if (gated_dy) nd_store(p->gated_dy + r * p->ldgdy + o, gated, count);
      __m256 weighted = _mm256_mul_ps(w, gated);
      if (weighted_dy) nd_store(p->weighted_gated_dy + r * p->ldwgdy + o, weighted, count);
      if (bias) {
        float *gb = p->bias_gradient + o;
        nd_store(gb, _mm256_add_ps(nd_load(gb, count), weighted), count);
      }
    }
    // ȳ ⊙ h g, with h g = y − d t.
    __m256 hg = _mm256_fnmadd_ps(dv, t, nd_load(p->y + r * p->ldy + o, count));
    slope = _mm256_mul_ps(dyv, hg);
  }
  for (long i = 0; i < blocks; i++) {
    // Σ_i ẏ̄_i ⊙ ẏ_i (ẏ_i = (W ẋ_i) g), ẏ̄_i = s ẏ̄_act,i through a tanh.
    __m256 bar = nd_load(bars + i * n, count);
    if (ACT) bar = _mm256_mul_ps(s, bar);
    if (gated_bars || weighted_bars) {
      __m256 gated = _mm256_mul_ps(bar, gv);
      if (gated_bars) nd_store(p->gated_bars + r * p->ldgb + i * n + o, gated, count);
      if (weighted_bars) {
        nd_store(p->weighted_gated_bars + r * p->ldwgb + i * n + o, _mm256_mul_ps(w, gated), count);
      }
    }
    slope = _mm256_fmadd_ps(bar, nd_load(images + i * n, count), slope);
  }
  // ∂g/∂(a t + c) = g (1 − g), the g already inside h g and ẏ.
  slope = _mm256_mul_ps(slope, _mm256_sub_ps(one, gv));
  if (gradient) {
    float *ga = p->gradient + o, *gc = ga + n, *gd = ga + 2 * n;
    __m256 ws = _mm256_mul_ps(w, slope);
    nd_store(ga, _mm256_fmadd_ps(ws, t, nd_load(ga, count)), count);
    nd_store(gc, _mm256_add_ps(ws, nd_load(gc, count)), count);
    if (DY) nd_store(gd, _mm256_fmadd_ps(_mm256_mul_ps(w, dyv), t, nd_load(gd, count)), count);
  }
  // ∂y/∂t = h g (1 − g) a + d (plus ẏ's own dependence through g).
  __m256 share = _mm256_mul_ps(slope, nd_load(p->a + o, count));
  return DY ? _mm256_fmadd_ps(dyv, dv, share) : share;
}

// How many rows ahead the gate's backward pass prefetches (4 and 8 took the
// same time in W1; without, it took a third longer).
enum { ND_GATE_AHEAD = 4 };

// Every row in increasing order. The operands are copied into a local first:
// the loops store through float pointers, which the compiler must otherwise
// assume could change *args, and so reload every field at every step.
ND_TARGET ND_INLINE void nd_gate_backward_rows(const nd_gate_backward_args *args, const int ACT,
                                               const int DY, const int BLOCKS, const int OUT) {
  const nd_gate_backward_args q = *args;
  const nd_gate_backward_args *p = &q;
  const long n = p->n;
  const long blocks = BLOCKS >= 0 ? BLOCKS : p->blocks;
  for (long r = 0; r < p->rows; r++) {
    // The kept forward values (output, its tangents, the tanh's output) come
    // from memory long since written: fetch ND_GATE_AHEAD rows ahead.
    long ahead = r + ND_GATE_AHEAD;
    for (long o = 0; ahead < p->rows && o < n; o += 16) {
      if (DY) _mm_prefetch((const char *)(p->y + ahead * p->ldy + o), _MM_HINT_T0);
      if (ACT) _mm_prefetch((const char *)(p->act + ahead * p->ldact + o), _MM_HINT_T0);
      for (long i = 0; i < blocks; i++)
        _mm_prefetch((const char *)(p->images + ahead * p->ldi + i * n + o), _MM_HINT_T0);
    }
    __m256 t = _mm256_set1_ps(p->times[r]);
    __m256 w = _mm256_set1_ps(p->weights ? p->weights[r] : 1.0f);
    __m256 time = _mm256_setzero_ps();
    long o = 0;
    for (; o + 8 <= n; o += 8)
      time = _mm256_add_ps(time, nd_gate_backward8(p, r, o, 8, t, w, ACT, DY, BLOCKS, OUT));
    if (o < n) {
      // Masked lanes load zeros, so they add nothing.
      time = _mm256_add_ps(time, nd_gate_backward8(p, r, o, n - o, t, w, ACT, DY, BLOCKS, OUT));
    }
    if (p->time_cotangents) p->time_cotangents[r] += nd_hsum(time);
  }
}

// Which of the sets above the operands ask for (outputs derived from dy or
// from the tangents count only when those are given).
static int nd_gate_outputs(const nd_gate_backward_args *p) {
  int dy = p->dy != 0, tangents = p->blocks > 0;
  int all = p->gradient && (!dy || (p->gated_dy && p->weighted_gated_dy && p->bias_gradient)) &&
            (!tangents || (p->gated_bars && p->weighted_gated_bars));
  if (all) return ND_OUT_ALL;
  int unweighted = p->gradient && !p->weighted_gated_dy && !p->weighted_gated_bars &&
                   (!dy || (p->gated_dy && p->bias_gradient)) && (!tangents || p->gated_bars);
  if (unweighted) return ND_OUT_UNWEIGHTED;
  int gated = !p->gradient && !p->bias_gradient && !p->weighted_gated_dy &&
              !p->weighted_gated_bars && (!dy || p->gated_dy) && (!tangents || p->gated_bars);
  return gated ? ND_OUT_GATED : ND_OUT_ANY;
}

ND_TARGET void nd_gate_backward_f32(const nd_gate_backward_args *p) {
  // The usual shapes get their own code: with or without the tanh and the
  // output cotangent, no or two tangent directions (the exact trace in 2-D),
  // and the three usual sets of outputs.
  const int out = nd_gate_outputs(p);
#define ND_OUTPUTS(ACT, DY, BLOCKS)                                                        \
  do {                                                                                     \
    if (out == ND_OUT_ALL) nd_gate_backward_rows(p, ACT, DY, BLOCKS, ND_OUT_ALL);          \
    else if (out == ND_OUT_UNWEIGHTED)                                                     \
      nd_gate_backward_rows(p, ACT, DY, BLOCKS, ND_OUT_UNWEIGHTED);                        \
    else if (out == ND_OUT_GATED) nd_gate_backward_rows(p, ACT, DY, BLOCKS, ND_OUT_GATED); \
    else nd_gate_backward_rows(p, ACT, DY, BLOCKS, ND_OUT_ANY);                            \
  } while (0)
#define ND_BLOCKS(ACT, DY)                                                                 \
  do {                                                                                     \
    if (p->blocks == 0) ND_OUTPUTS(ACT, DY, 0);                                            \
    else if (p->blocks == 2) ND_OUTPUTS(ACT, DY, 2);                                       \
    else ND_OUTPUTS(ACT, DY, -1);                                                          \
  } while (0)
  if (p->act) {
    if (p->dy) ND_BLOCKS(1, 1);
    else ND_BLOCKS(1, 0);
  } else {
    if (p->dy) ND_BLOCKS(0, 1);
    else ND_BLOCKS(0, 0);
  }
#undef ND_BLOCKS
#undef ND_OUTPUTS
}
