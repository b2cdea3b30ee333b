#!/usr/bin/env bash
# Sets up (see setup.sh), builds node-dist in release mode (progress on
# stderr) and prints the path of the binary.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
launch/setup.sh >&2
swift build -c release --product node-dist >&2
echo "$(swift build -c release --show-bin-path)/node-dist"
