#!/usr/bin/env bash
# Runs a benchmark the way BENCHMARKS.md records it: release build, pinned to
# one core, one BLAS thread. Arguments go to `node-dist bench`, e.g.
# `launch/bench.sh w3 --iters 30`.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
launch/setup.sh
swift build -c release --product node-dist >&2
binary=$(swift build -c release --show-bin-path)/node-dist
OPENBLAS_NUM_THREADS=1 exec taskset -c "${NODE_DIST_CORE:-0}" "$binary" bench "$@"
