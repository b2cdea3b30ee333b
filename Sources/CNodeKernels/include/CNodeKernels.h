// Hand-vectorised float32 kernels for the hot loops that BLAS does not cover
// well: small dense layers fused with their activation, applied to a batch of
// samples (rows). Every kernel computes each row with the same sequence of
// operations wherever the row sits in the batch, so a sample's result never
// depends on its batch-mates (BLAS does not promise that).
//
// The kernels need AVX2 and FMA; nd_kernels_available() tells whether this CPU
// has them. Callers fall back to portable code otherwise.
#ifndef NODE_DIST_CNODEKERNELS_H
#define NODE_DIST_CNODEKERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/// Activation applied to a dense layer's output.
typedef enum {
  ND_ACTIVATION_IDENTITY = 0,
  ND_ACTIVATION_TANH = 1,
} nd_activation;

/// 1 when the CPU has AVX2 and FMA (the kernels below may be called), else 0.
int nd_kernels_available(void);

/// The OpenBLAS kernel family (an OPENBLAS_CORETYPE name) that this CPU's
/// features allow: "Cooperlake" (AVX-512 with BF16), "SkylakeX" (AVX-512 F,
/// VL, BW, DQ), "Haswell" (AVX2 and FMA), or NULL for none of these.
const char *nd_blas_core_for_cpu(void);

/// Has glibc serve blocks up to `largest_heap_block` bytes from the heap (not
/// one mapping each) and keep up to `trim_threshold` bytes of freed memory at
/// the heap's top instead of returning it. Returns 1 when glibc took both
/// settings, 0 otherwise (or without glibc, where it does nothing).
int nd_retain_freed_heap(long largest_heap_block, long trim_threshold);

/// y = tanh(x) for the first n elements (y may be x; at most 5 ulp, see nd_simd.h).
void nd_tanh_f32(const float *x, float *y, long n);

/// y = 1 / (1 + e^-x), the logistic sigmoid, for the first n elements (y may be x;
/// absolute error below 2e-7).
void nd_sigmoid_f32(const float *x, float *y, long n);

/// y = x^e = 2^(e log2 x) for the first n elements (y may be x), for positive finite x
/// (below FLT_MIN taken as FLT_MIN; NaN, infinities and results beyond 2^±126 are not
/// meaningful): a few 1e-7 relative, plus e log2 x's rounding.
void nd_positive_pow_f32(const float *x, float e, float *y, long n);

/// y = x > 0 ? x : 0 for the first n elements (y may be x; NaN and -0 give +0).
void nd_relu_f32(const float *x, float *y, long n);

/// dx = dy * (x > 0 ? 1 : 0) for the first n elements (dx may be dy).
void nd_relu_backward_f32(const float *x, const float *dy, float *dx, long n);

/// y[r, j] = act(bias[j] + sum_k x[r, k] * wt[k, j]) for r < rows, j < n.
///
/// x is row-major with row stride ldx; wt is the transposed weight matrix,
/// row-major [k, n] (contiguous); y is row-major with row stride ldy. The sum
/// runs over k in increasing order, one fused multiply-add per term, starting
/// from the bias. Best for n >= 8. A long k (over 256, a convolution's patch)
/// runs in blocks of 256 so that the block of wt in use stays in L1; the
/// partial sums pass through y exactly, so the result is the same.
void nd_dense_wide_f32(const float *x, long rows, long k, long ldx, const float *wt, long n,
                       const float *bias, float *y, long ldy, nd_activation activation);

/// A per-row gate and time shift on a wide dense layer's outputs (FFJORD's concat-squash).
typedef struct {
  const float *gate;  ///< [rows / per, n], contiguous
  long per;           ///< product rows per gate row (tangent directions share their sample's gate)
  const float *shift; ///< the time weight d [n], or NULL for no shift
  const float *times; ///< [rows / per], read with shift
  float *act;         ///< a tanh after the gate: receives its output [rows, n] (row stride
  long ldact;         ///< ldact; must not overlap y), or NULL for none
  const float *slope; ///< with act, for tangents: the primal rows' tanh outputs s, whose slope
  long ldslope;       ///< 1 - s^2 scales them [rows / per, n] (row stride ldslope); NULL: tanh(y)
  int stream;         ///< nonzero: y is read again only much later (a pass kept for a backward
                      ///< pass), so it is written with streaming stores where the AVX-512 path
                      ///< can (64-byte aligned rows, n <= 256); the values are the same
} nd_row_gate;

/// nd_dense_wide_f32 without activation, then y[i, j] = y[i, j] * gate[i / per, j]
/// + shift[j] * times[i / per] (one fused multiply-add; + 0 without shift). With act,
/// also act[i, j] = tanh(y[i, j]) (nd_tanh_f32's arithmetic), or, with slope,
/// act[i, j] = y[i, j] (1 - slope[i / per, j]^2) (nd_tanh_jvp_f32's), while the tile is in L1.
void nd_dense_wide_gated_f32(const float *x, long rows, long k, long ldx, const float *wt, long n,
                             const float *bias, float *y, long ldy, const nd_row_gate *gate);

/// g[o ldg + i] += sum over k of u[k ldu + o] x[k ldx + i] for o < m, i < n: a
/// dense layer's weight gradient Uᵀ X from its output cotangents U ([k, m])
/// and inputs X ([k, n]), without packing either. Each element adds its terms
/// to its old value in increasing k, one fused multiply-add each (bitwise the
/// same with and without AVX-512; fewer than 8 inputs, more outputs and m n <= 1024
/// run as Gᵀ += Xᵀ U in a transposed copy of G, the same sums). Needs
/// nd_kernels_available().
void nd_weight_gradient_f32(const float *u, long ldu, const float *x, long ldx, long k, long m,
                            long n, float *g, long ldg);

/// nd_dense_narrow_f32 without activation, then the gate (and tanh) of
/// nd_dense_wide_gated_f32 row by row: the gated layer for n < 8 outputs.
void nd_dense_narrow_gated_f32(const float *x, long rows, long k, long ldx, const float *w, long n,
                               const float *bias, float *y, long ldy, const nd_row_gate *gate);

/// The same layer for a narrow output (n small, e.g. 2): weights in PyTorch's
/// layout, row-major [n, k]. Each output is a dot product over k computed in
/// eight interleaved partial sums (k mod 8), added in a fixed order, then the bias.
void nd_dense_narrow_f32(const float *x, long rows, long k, long ldx, const float *w, long n,
                         const float *bias, float *y, long ldy, nd_activation activation);

/// One dense layer of a chain run by nd_mlp_f32: `out = act(W in + bias)`.
typedef struct {
  long in;                  ///< input width
  long out;                 ///< output width
  const float *wt;          ///< W transposed, row-major [in, out]; read when out >= 8
  const float *w;           ///< W, row-major [out, in]; read when out < 8
  const float *bias;        ///< [out]
  nd_activation activation; ///< applied to the output
} nd_dense_layer_f32;

/// y = L_{count-1}(... L_0(x)) for `rows` rows, six rows at a time so that the
/// intermediate activations stay in the L1 cache. Each layer runs the wide
/// kernel (out >= 8) or the narrow one, with their per-row arithmetic.
/// `scratch` holds 2 * 6 * (largest output width) floats.
void nd_mlp_f32(const float *x, long rows, long ldx, const nd_dense_layer_f32 *layers, long count,
                float *y, long ldy, float *scratch);


/// y[r, i n + o] = x[r, i n + o] * g[r, o] for r < rows, i < blocks, o < n:
/// every n-wide block of a row times the row's vector (rows of x, g and y
/// start ldx, ldg and ldy floats apart; y may be x).
void nd_rows_mul_f32(const float *x, long ldx, const float *g, long ldg, float *y, long ldy,
                     long rows, long blocks, long n);

/// The tanh layer's JVP from its output y: out[r, i n + o] = (1 - y[r, o]^2) t[r, i n + o].
void nd_tanh_jvp_f32(const float *y, long ldy, const float *t, long ldt, float *out, long ldo,
                     long rows, long blocks, long n);

/// A tanh layer's output and its JVP in one pass: y[r, o] = tanh(x[r, o]) (nd_tanh_f32's
/// arithmetic), then yt[r, i n + o] = (1 - y[r, o]^2) xt[r, i n + o] (nd_tanh_jvp_f32's),
/// bitwise those two passes' results; AVX-512 where nd_dense_avx512 is set.
void nd_tanh_with_jvp_f32(const float *x, long ldx, const float *xt, long ldxt, float *y, long ldy,
                          float *yt, long ldyt, long rows, long blocks, long n);

/// The backward pass of nd_tanh_jvp_f32 (and of the layer itself), with s = 1 - y^2:
/// dx[r, o] = s (dy[r, o] - 2 y[r, o] sum_i t[r, i n + o] tbar[r, i n + o]) when dx is not
/// NULL, and dt[r, i n + o] = s tbar[r, i n + o] when dt is not NULL.
void nd_tanh_jvp_backward_f32(const float *y, long ldy, const float *dy, long lddy,
                              const float *t, long ldt, const float *tbar, long ldtb, float *dx,
                              long lddx, float *dt, long lddt, long rows, long blocks, long n);

/// The concat-squash layer's gate g[r, o] = sigmoid(a[o] times[r] + c[o]) for `rows` rows of
/// width n (contiguous), with nd_sigmoid_f32's arithmetic after a product and a sum.
void nd_concat_squash_gate_f32(const float *times, const float *a, const float *c, float *g,
                               long rows, long n);

/// The operands of nd_gate_backward_f32.
typedef struct {
  long rows, n, blocks;     ///< rows, layer width, tangent directions (0: none)
  const float *y;           ///< the layer's output [rows, n], row stride ldy (read when dy)
  long ldy;
  const float *dy;          ///< the output's cotangent, or NULL for the tangent part alone
  long lddy;
  const float *images;      ///< the output tangents [rows, blocks n], row stride ldi
  long ldi;
  const float *bars;        ///< their cotangents [rows, blocks n], row stride ldb
  long ldb;
  const float *g;           ///< the gate, contiguous [rows, n]
  const float *times;       ///< [rows]
  const float *weights;     ///< per-row weights of the parameter gradient, or NULL (all 1)
  const float *a, *d;       ///< gate and time weights [n]
  float *gradient;          ///< the gradients of a, c, d ([3 n], added to), or NULL
  float *time_cotangents;   ///< [rows], added to, or NULL
  const float *act;         ///< when the layer's output goes through tanh: the tanh's output
  long ldact;               ///< [rows, n]; dy and bars are then the tanh output's cotangents
  float *gated_dy;          ///< receives the layer output's cotangent times g, or NULL
  long ldgdy;               ///< its row stride
  float *gated_bars;        ///< receives the output tangents' cotangents times g, or NULL
  long ldgb;                ///< its row stride
  float *weighted_gated_dy;   ///< receives w gated_dy (the weight gradient's operand), or NULL
  long ldwgdy;                ///< its row stride
  float *weighted_gated_bars; ///< receives w gated_bars, or NULL
  long ldwgb;                 ///< its row stride
  float *bias_gradient;       ///< the linear map's bias gradient [n], += w dy g, or NULL
} nd_gate_backward_args;

/// The gate's part of the concat-squash layer's backward pass (and of its JVP's): per
/// row, s = (dy (y - d t) + sum_i bar_i image_i) (1 - g); gradient of a += w t s, of
/// c += w s, of d += w t dy; time cotangent += sum_o (s a + dy d). Rows in increasing order.
/// With act, dy and bar_i are first taken back through the tanh (nd_tanh_jvp_backward_f32
/// with t = images); gated_dy and gated_bars receive dy g and bar_i g, what the linear map's
/// backward pass needs, and weighted_gated_dy / weighted_gated_bars the same times the row's
/// weight (w (dy g), one rounding more), the operands of its weight gradient; bias_gradient
/// adds w (dy g) row by row. Whatever derives from dy is written only when dy is given.
void nd_gate_backward_f32(const nd_gate_backward_args *args);

/// The taps of a same-size stride-1 convolution (kernel 2p + 1, padding p) on an
/// H x W plane of `pixels` = H W elements: tap t reads the plane shifted by shifts[t]
/// elements, at the output pixels q where inside[t * pixels + q] is -1 (all bits; 0
/// where the tap hangs over the border). receives[t * pixels + q] is inside's value at
/// output pixel q - shifts[t]: -1 where input pixel q feeds tap t of some output pixel.
typedef struct {
  long pixels;         ///< H W
  long taps;           ///< kernel height times width
  const long *shifts;  ///< [taps]
  const int *inside;   ///< [taps, pixels]
  const int *receives; ///< [taps, pixels]
} nd_same_size_taps;

/// im2col of `count` samples side by side: row c taps + t of `columns` (rows ld apart)
/// holds, at s pixels + q, x[s ldx + c pixels + q + shifts[t]] where tap t of pixel q
/// lies inside the plane, else +0 (no multiply: a non-finite neighbour cannot leak in).
/// Entries count pixels ..< ld of a row are not written.
void nd_unfold_same_f32(const nd_same_size_taps *taps, const float *x, long ldx, long count,
                        long channels, float *columns, long ld);

/// col2im, the transpose: dx[s lddx + c pixels + q] = the sum, from +0 over taps t in
/// increasing order, of columns[(c taps + t) ld + s pixels + q - shifts[t]] where
/// receives[t][q]. Overwrites dx.
void nd_fold_same_f32(const nd_same_size_taps *taps, const float *columns, long ld, long count,
                      long channels, float *dx, long lddx);

/// Whether this CPU has AVX-512 F and VL (the lane kernels need them).
int nd_avx512_available(void);

/// Whether the dense kernels take their AVX-512 copies: the multiply-adds of
/// nd_dense_wide_f32, nd_dense_wide_gated_f32 and nd_mlp_f32 (layers of 8 or
/// more outputs with k <= 256), the tanh passes, the gate pass of the gated
/// kernels and nd_concat_squash_gate_f32. On by default where the CPU has
/// AVX-512 F and VL. Bitwise the same results as AVX2 (each lane does the same
/// operations in the same order).
int nd_dense_avx512_enabled(void);
/// Turns those AVX-512 multiply-adds on (if the CPU has them) or off, e.g. to
/// compare the two in tests; returns the previous setting. Not thread-safe:
/// call it while no kernel runs.
int nd_set_dense_avx512(int enabled);

/// What each output pixel of a convolution reads, for the lane kernels: output pixel q
/// sums counts[q] terms, term i being tap term_taps[q taps + i] at input pixel
/// term_sources[q taps + i] (the taps over the border are absent). Tap t pairs output
/// pixel pair_outputs[t outputs + i] with input pixel pair_sources[t outputs + i] for
/// i < pair_counts[t] (the weight gradient's loop; a transposed map has no pairs).
typedef struct {
  long outputs;              ///< pixels of an output plane
  long inputs;               ///< pixels of an input plane
  long taps;                 ///< kernel taps
  const int *counts;         ///< [outputs]
  const int *term_taps;      ///< [outputs, taps]
  const int *term_sources;   ///< [outputs, taps]
  const int *pair_counts;    ///< [taps], or NULL
  const int *pair_outputs;   ///< [taps, outputs], or NULL
  const int *pair_sources;   ///< [taps, outputs], or NULL
} nd_lane_map;

/// A convolution of `groups` groups of sixteen samples, one sample per vector lane
/// (AVX-512): the lane layout of a group holds value j of each sample's [channels,
/// pixels] row at group + 16 j + lane. For every group, output o and output pixel q,
///   out[group + 16 (o map.outputs + q) + lane] = the sum, from +0 over q's terms i in
///   order and within a term over channels c in increasing order, one fused multiply-add
///   each, of wp[o channels taps + t_i channels + c] * x[group + 16 (c map.inputs + p_i) + lane],
/// groups channels map.inputs 16 floats apart in x and outputs map.outputs 16 in out.
/// Every lane's sums are its own. Needs nd_avx512_available().
void nd_conv_lanes_f32(const nd_lane_map *map, const float *x, long groups, long channels,
                       const float *wp, long outputs, float *out);

/// The weight gradient of nd_conv_lanes_f32 over `groups` groups in the lane layout (x as
/// it reads it, dy as it writes its output): for every output o, channel c and tap t,
/// dw[(o channels + c) taps + t] += the sum over groups, the tap's pairs (q, p) and lanes
/// of dy[o, q] x[c, p] (PyTorch's [O, C, kh, kw] layout); and, when db is not NULL,
/// db[o] += the sum of dy[o] over groups, pixels and lanes. Each lane sums its terms group
/// after group and pair after pair, one FMA each, and the lanes are then reduced in one
/// fixed order: the bits depend on the groups' contents, never on anything else. At most
/// 49 taps. Needs nd_avx512_available().
void nd_conv_lanes_weight_gradient_f32(const nd_lane_map *map, const float *x, const float *dy,
                                       long groups, long channels, long outputs, float *dw,
                                       float *db);

/// The lane layout of up to sixteen rows: out[16 j + i] = x[i ldx + j] (times scales[i]
/// when scales is not NULL) for j < width and i < lanes, +0 for the lanes i >= lanes.
/// Needs nd_avx512_available().
void nd_rows_to_lanes_f32(const float *x, long ldx, long lanes, long width,
                          const float *scales, float *out);

/// The inverse: y[i ldy + j] = in[16 j + i] (+ add[j] when add is not NULL) for j < width
/// and i < lanes. Needs nd_avx512_available().
void nd_lanes_to_rows_f32(const float *in, long lanes, long width, const float *add, float *y,
                          long ldy);

/// Group normalisation of `rows` samples of `channels` planes of `pixels` (rows ldx
/// apart) in `groups` groups of consecutive channels: per row and group, mean m and
/// variance v over the group (eight partial sums, as NodeCore's VectorReduction), scale
/// s = 1 / sqrt(v + epsilon), x̂ = (x - m) s. Writes s to inverse[r groups + g], x̂ to
/// hat [rows, channels pixels] (contiguous) and y = gamma[c] x̂ + beta[c] (rows ldy apart),
/// each only when its pointer is not NULL.
void nd_group_norm_f32(const float *x, long ldx, long rows, long channels, long groups,
                       long pixels, float epsilon, const float *gamma, const float *beta,
                       float *y, long ldy, float *hat, float *inverse);

/// Group normalisation's backward pass from x̂ [rows, channels pixels] (contiguous) and
/// the scales `inverse` [rows, groups] of nd_group_norm_f32, the output cotangents dy
/// (rows lddy apart): when gradient is not NULL, gradient[c] += w_r Σ_p dy x̂ and
/// gradient[channels + c] += w_r Σ_p dy (w_r = weights[r], or 1 when weights is NULL);
/// when dx is not NULL, dx = s (v − mean(v) − x̂ mean(x̂ v)) per group with v = gamma[c] dy.
/// The same arithmetic as the portable passes (VectorReduction's partials).
void nd_group_norm_backward_f32(const float *hat, const float *inverse, const float *dy,
                                long lddy, long rows, long channels, long groups, long pixels,
                                const float *gamma, float *dx, long lddx, float *gradient,
                                const float *weights);

/// out[i] = base[i] + scales[i] * (w[0] x[0][i] + w[1] x[1][i] + ...) for i < n, or the sum
/// alone when base is NULL: the `count` >= 1 terms summed in order, every product and sum
/// rounded on its own (no fused multiply-add). `out` overlaps no input.
void nd_linear_combination_f32(const float *weights, const float *const *terms, long count, long n,
                               const float *base, const float *scales, float *out);

/// The adaptive step's per-element error terms for i < n:
/// out[i] = (steps[i] error_sum[i] / (atol + rtol max(|y0[i]|, |y1[i]|)))², 0 where
/// steps[i] error_sum[i] is 0 and NaN where y1[i] is not finite; every operation rounded on
/// its own. `out` may be `error_sum`.
void nd_scaled_error_squares_f32(long n, const float *error_sum, const float *steps,
                                 const float *y0, const float *y1, float rtol, float atol,
                                 float *out);

#ifdef __cplusplus
}
#endif

#endif
