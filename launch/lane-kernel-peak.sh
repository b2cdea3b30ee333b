#!/bin/bash
# The lane convolution kernel's rate against ten independent FMA chains, on
# one core (BENCHMARKS.md, "Convolutions with the samples in the lanes").
# Needs clang (the Swift toolchain's) and an AVX-512 CPU. Usage:
#   launch/lane-kernel-peak.sh [CORE]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
clang -O2 -mavx512f -mavx512vl -mfma -I"$root/Sources/CNodeKernels/include" \
  -o "$out/lane_conv_peak" "$root/launch/peak/lane_conv_peak.c" "$root/Sources/CNodeKernels/lane_conv.c"
taskset -c "${1:-0}" "$out/lane_conv_peak"
