#!/usr/bin/env bash
# Runs a benchmark the way BENCHMARKS.md records it: release build, pinned to
# one core (NODE_DIST_CORE, default 0), one BLAS thread. Arguments go to
# `node-dist bench`, e.g. `launch/bench.sh w3 --iters 30`.
set -euo pipefail
binary=$("$(dirname "${BASH_SOURCE[0]}")/build.sh")
OPENBLAS_NUM_THREADS=1 exec taskset -c "${NODE_DIST_CORE:-0}" "$binary" bench "$@"
