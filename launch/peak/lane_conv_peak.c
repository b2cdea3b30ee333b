// The lane convolution kernel against the core's FMA peak, in TSC ticks: the
// W2 ODE block's product (8 groups of 16 samples, 6x6 map, 3x3 kernel, 65 -> 64
// channels: 8 x 256 terms x 65 x 64 zmm multiply-adds), the minimum of 200
// calls, beside ten independent zmm FMA chains. Built and run by
// launch/lane-kernel-peak.sh.
#include <stdio.h>
#include <stdlib.h>
#include <x86intrin.h>

#include "CNodeKernels.h"

static long ticks(void) {
  unsigned aux;
  return (long)__rdtscp(&aux);
}

int main(void) {
  enum { C = 65, O = 64, P = 36, T = 9, GROUPS = 8 };
  int counts[P], taps[P * T], sources[P * T];
  long terms = 0;
  for (int q = 0; q < P; q++) {
    int n = 0;
    for (int t = 0; t < T; t++) {
      int y = q / 6 + t / 3 - 1, x = q % 6 + t % 3 - 1;
      if (y >= 0 && y < 6 && x >= 0 && x < 6) {
        taps[q * T + n] = t;
        sources[q * T + n] = y * 6 + x;
        n++;
      }
    }
    counts[q] = n;
    terms += n;
  }
  nd_lane_map map = {P, P, T, counts, taps, sources, 0, 0, 0};
  float *x = aligned_alloc(64, sizeof(float) * GROUPS * C * P * 16);
  float *w = aligned_alloc(64, sizeof(float) * O * C * T);
  float *out = aligned_alloc(64, sizeof(float) * GROUPS * O * P * 16);
  for (long i = 0; i < (long)GROUPS * C * P * 16; i++) x[i] = (float)(i % 7) * 0.1f;
  for (long i = 0; i < (long)O * C * T; i++) w[i] = (float)(i % 5) * 0.01f;
  long best = 1L << 62;
  for (int i = 0; i < 200; i++) {
    long t0 = ticks();
    nd_conv_lanes_f32(&map, x, GROUPS, C, w, O, out);
    long t1 = ticks();
    if (t1 - t0 < best) best = t1 - t0;
  }
  double fmas = (double)GROUPS * terms * C * O;
  printf("lane kernel: %ld ticks for %.0f zmm FMAs, %.3f a tick\n", best, fmas, fmas / best);
  __m512 chains[10];
  for (int i = 0; i < 10; i++) chains[i] = _mm512_set1_ps((float)i);
  const __m512 b = _mm512_set1_ps(1.0000001f), c = _mm512_set1_ps(1e-9f);
  long t0 = ticks();
  for (long i = 0; i < 10000000; i++)
    for (int j = 0; j < 10; j++) chains[j] = _mm512_fmadd_ps(chains[j], b, c);
  long t1 = ticks();
  float sink = 0;
  for (int i = 0; i < 10; i++) sink += chains[i][0];
  printf("ten FMA chains: %.3f zmm FMAs a tick (%g)\n", 1e8 / (t1 - t0), sink);
  return 0;
}
