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

/// tanh of the first n elements of x, in place (at most 5 ulp; see dense.c).
void nd_tanh_f32(float *x, long n);

/// The logistic sigmoid 1 / (1 + e^-x) of the first n elements of x, in place
/// (absolute error below 2e-7).
void nd_sigmoid_f32(float *x, long n);

/// y[r, j] = act(bias[j] + sum_k x[r, k] * wt[k, j]) for r < rows, j < n.
///
/// x is row-major with row stride ldx; wt is the transposed weight matrix,
/// row-major [k, n] (contiguous); y is row-major with row stride ldy. The sum
/// runs over k in increasing order, one fused multiply-add per term, starting
/// from the bias. Best for n >= 8.
void nd_dense_wide_f32(const float *x, long rows, long k, long ldx, const float *wt, long n,
                       const float *bias, float *y, long ldy, nd_activation activation);

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


#ifdef __cplusplus
}
#endif

#endif
