#!/bin/bash
# The dense kernels' rates in stand-alone loops on one core (BENCHMARKS.md,
# "How far W3 is from its floor", "W1: the gate's kernels without reloads or
# Swift passes" and "W1's weight gradients without packing"). Needs clang
# (the Swift toolchain's), OpenBLAS and AVX2 + FMA. Usage:
#   launch/dense-kernel-peak.sh [CORE]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
clang -O2 -I"$root/Sources/CNodeKernels/include" -I"$root/Sources/CNodeKernels" \
  -o "$out/dense_peak" "$root/launch/peak/dense_peak.c" "$root/Sources/CNodeKernels/dense.c" \
  "$root/Sources/CNodeKernels/dense512.c" "$root/Sources/CNodeKernels/lane_conv.c" -lopenblas
OPENBLAS_NUM_THREADS=1 taskset -c "${1:-0}" "$out/dense_peak"
