#!/usr/bin/env bash
# Sets up (see setup.sh) and runs the whole test suite.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
launch/setup.sh
swift test "$@"
