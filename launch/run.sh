#!/usr/bin/env bash
# Sets up (see setup.sh), builds node-dist in release mode and runs it.
# Without arguments it runs the built-in default job; any arguments are passed
# to node-dist, e.g. `launch/run.sh bench w3`.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
launch/setup.sh
swift build -c release --product node-dist >&2
binary=$(swift build -c release --show-bin-path)/node-dist
exec "$binary" "$@"
