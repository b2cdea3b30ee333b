// The dense kernels in stand-alone loops, in TSC ticks per row (minimum over
// many calls): W3's field (nd_mlp_f32, 2 -> 64 -> 64 -> 2 with tanh, 256 rows),
// W3's last layer alone (nd_dense_narrow_f32, 64 -> 2) and a 64 x 64 layer
// (nd_dense_wide_f32) over 48 to 4608 rows, whose 512 multiply-adds a row need
// 180 ticks at two FMAs a cycle on a core running 1.42 cycles a tick (AMD
// EPYC, AVX2; half that with AVX-512 on a CPU with two 512-bit FMA units).
// Then a 64 x 64 layer's weight gradient over 512 and 1536 rows
// (nd_weight_gradient_f32, the same 4096 multiply-adds a row) beside
// cblas_sgemm on the same product (run with OPENBLAS_NUM_THREADS=1), and W1's
// gated layer with its outputs in cached or in cold memory.
// With AVX2 only, then with the AVX-512 multiply-adds where the CPU has them.
// Built and run by launch/dense-kernel-peak.sh.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <x86intrin.h>

#include <cblas.h>

#include "CNodeKernels.h"

static float uniform(void) { return (float)rand() / (float)RAND_MAX * 2.0f - 1.0f; }

static long ticks(void) {
  unsigned aux;
  return (long)__rdtscp(&aux);
}

// Fills w ([out, in]) and its transpose wt ([in, out]) with uniform values times scale.
static void weights(float *w, float *wt, int in, int out, float scale) {
  for (int o = 0; o < out; o++)
    for (int k = 0; k < in; k++) {
      w[o * in + k] = uniform() * scale;
      wt[k * out + o] = w[o * in + k];
    }
}

static int by_value(const void *a, const void *b) {
  long x = *(const long *)a, y = *(const long *)b;
  return x < y ? -1 : x > y;
}

// W1's gated 64 x 64 layer with its tanh (nd_dense_wide_gated_f32, 512 rows),
// its output and the tanh's written into the same buffers at every call
// (`cold` 0), or into the next pair of a 64 MB pool (`cold` 1), as a forward
// pass that keeps its activations writes them; with `stream`, as such a pass
// writes them since 2026-12-02 (nd_row_gate's stream: streaming stores on the
// AVX-512 path, the product first into a tile on the stack). Prints the median call (the
// minimum hides the misses: some calls find their pool lines still cached).
static double gated_layer(const float *x, const float *wt, const float *bias, int cold,
                          int stream) {
  enum { ROWS = 512, N = 64, POOL = 256, CALLS = 2000 };
  static float gate[ROWS * N], shift[N], times[ROWS];
  static long t[CALLS];
  for (int i = 0; i < ROWS * N; i++) gate[i] = 0.5f + uniform() / 4;
  for (int i = 0; i < N; i++) shift[i] = uniform();
  for (int i = 0; i < ROWS; i++) times[i] = (float)i / ROWS;
  float *pool = aligned_alloc(64, (size_t)POOL * 2 * ROWS * N * sizeof(float));
  memset(pool, 0, (size_t)POOL * 2 * ROWS * N * sizeof(float));
  double check = 0;
  for (int it = 0; it < CALLS; it++) {
    float *y = pool + (size_t)(cold ? it % POOL : 0) * 2 * ROWS * N, *act = y + ROWS * N;
    nd_row_gate g = {gate, 1, shift, times, act, N, 0, 0, stream};
    long t0 = ticks();
    nd_dense_wide_gated_f32(x, ROWS, N, N, wt, N, bias, y, N, &g);
    t[it] = ticks() - t0;
    check += act[it % N];
  }
  qsort(t, CALLS, sizeof(long), by_value);
  printf("W1's gated 64 x 64 layer and tanh (nd_dense_wide_gated_f32), %d rows, outputs %s%s: "
         "median %.1f ticks a row\n",
         ROWS, cold ? "in a new pair of a 64 MB pool each call" : "in the same buffers",
         stream ? ", streamed (a kept pass's)" : "", (double)t[CALLS / 2] / ROWS);
  free(pool);
  return check;
}

int main(void) {
  static float w0[128], w0t[128], b0[64], w1[4096], w1t[4096], b1[64], w2[128], w2t[128], b2[2];
  weights(w0, w0t, 2, 64, 1.0f);
  weights(w1, w1t, 64, 64, 0.125f);
  weights(w2, w2t, 64, 2, 0.125f);
  for (int i = 0; i < 64; i++) b0[i] = uniform(), b1[i] = uniform();
  b2[0] = uniform(), b2[1] = uniform();
  nd_dense_layer_f32 layers[3] = {{2, 64, w0t, w0, b0, ND_ACTIVATION_TANH},
                                  {64, 64, w1t, w1, b1, ND_ACTIVATION_TANH},
                                  {64, 2, w2t, w2, b2, ND_ACTIVATION_IDENTITY}};
  enum { ROWS = 256, BIG = 4608 };
  static float z[ROWS * 2], f[ROWS * 2], scratch[2 * 6 * 64];
  float *x = aligned_alloc(64, BIG * 64 * sizeof(float));
  float *y = aligned_alloc(64, BIG * 64 * sizeof(float));
  for (int i = 0; i < ROWS * 2; i++) z[i] = 2 * uniform();
  for (long i = 0; i < BIG * 64L; i++) x[i] = uniform();
  double check = 0;

  for (int avx512 = 0; avx512 <= nd_avx512_available(); avx512++) {
  nd_set_dense_avx512(avx512);
  printf("%s:\n", avx512 ? "AVX-512 multiply-adds" : "AVX2");
  long best = -1;
  for (int it = 0; it < 20000; it++) {
    long t0 = ticks();
    nd_mlp_f32(z, ROWS, 2, layers, 3, f, 2, scratch);
    long t = ticks() - t0;
    if (best < 0 || t < best) best = t;
    check += f[it % (ROWS * 2)];
  }
  printf("W3 field (nd_mlp_f32), %d rows: %.1f ticks a row\n", ROWS, (double)best / ROWS);

  best = -1;
  for (int it = 0; it < 20000; it++) {
    long t0 = ticks();
    nd_dense_narrow_f32(x, ROWS, 64, 64, w2, 2, b2, f, 2, ND_ACTIVATION_IDENTITY);
    long t = ticks() - t0;
    if (best < 0 || t < best) best = t;
    check += f[it % (ROWS * 2)];
  }
  printf("64 -> 2 layer (nd_dense_narrow_f32), %d rows: %.1f ticks a row\n", ROWS,
         (double)best / ROWS);

  long counts[] = {48, 256, 1536, BIG};
  for (int c = 0; c < 4; c++) {
    best = -1;
    for (int it = 0; it < 2000; it++) {
      long t0 = ticks();
      nd_dense_wide_f32(x, counts[c], 64, 64, w1t, 64, b1, y, 64, ND_ACTIVATION_IDENTITY);
      long t = ticks() - t0;
      if (best < 0 || t < best) best = t;
      check += y[it % 64];
    }
    printf("64 x 64 layer (nd_dense_wide_f32), %ld rows: %.1f ticks a row (180 at two FMAs a cycle)\n",
           counts[c], (double)best / counts[c]);
  }
    float *g = aligned_alloc(64, 64 * 64 * sizeof(float));
    for (int i = 0; i < 64 * 64; i++) g[i] = 0;
    long gcounts[] = {512, 1536};
    for (int c = 0; c < 2; c++) {
      best = -1;
      for (int it = 0; it < 2000; it++) {
        long t0 = ticks();
        nd_weight_gradient_f32(y, 64, x, 64, gcounts[c], 64, 64, g, 64);
        long t = ticks() - t0;
        if (best < 0 || t < best) best = t;
      }
      check += g[7];
      printf("64 x 64 weight gradient (nd_weight_gradient_f32), %ld rows: %.1f ticks a row\n",
             gcounts[c], (double)best / gcounts[c]);
      best = -1;
      for (int it = 0; it < 2000; it++) {
        long t0 = ticks();
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, 64, 64, gcounts[c], 1.0f, y, 64, x, 64,
                    1.0f, g, 64);
        long t = ticks() - t0;
        if (best < 0 || t < best) best = t;
      }
      check += g[7];
      printf("the same through cblas_sgemm: %.1f ticks a row\n", (double)best / gcounts[c]);
    }
    free(g);
    check += gated_layer(x, w1t, b1, 0, 0) + gated_layer(x, w1t, b1, 1, 0) +
             gated_layer(x, w1t, b1, 1, 1);
  }
  printf("(checksum %g)\n", check);
  free(x);
  free(y);
  return 0;
}
