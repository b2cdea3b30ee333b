#!/usr/bin/env bash
# Sets up, builds node-dist in release mode and runs it. Without arguments it
# runs the built-in default job; any arguments are passed to node-dist, e.g.
# `launch/run.sh bench w3`.
set -euo pipefail
binary=$("$(dirname "${BASH_SOURCE[0]}")/build.sh")
exec "$binary" "$@"
