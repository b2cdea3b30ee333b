#!/usr/bin/env bash
# Sets up, builds node-dist in release mode and runs it. Without arguments it
# runs the default job — `node-dist train --config configs/cnf-moons.yaml`, a
# CNF trained on moons in about 30 s on one core, ending with
# runs/cnf-moons/density.png; any arguments are passed to node-dist instead,
# e.g. `launch/run.sh bench w3`.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
binary=$("$root/launch/build.sh")
if (($# == 0)); then
  cd "$root"
  exec "$binary" train --config configs/cnf-moons.yaml
fi
exec "$binary" "$@"
