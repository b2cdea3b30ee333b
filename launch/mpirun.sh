#!/usr/bin/env bash
# mpirun with what these machines need, e.g.
#   launch/mpirun.sh -n 4 node-dist train --config configs/cnf-moons.yaml
# A leading `node-dist` is replaced by the release binary (built if needed).
# Adds: --allow-run-as-root when root, --oversubscribe when the ranks exceed
# the cores, --stdin none (a rank with an open stdin can hang in a
# collective), --timeout (NODE_DIST_MPI_TIMEOUT seconds, default 86400: a
# rank stuck in a collective ends the job with exit status 110 instead of
# hanging forever), one BLAS thread per rank and plain output (NO_COLOR).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

ranks=1
args=()
while (($#)); do
  case $1 in
    -n | -np) ranks=$2; args+=("$1" "$2"); shift 2 ;;
    node-dist) args+=("$("$root/launch/build.sh")"); shift; args+=("$@"); break ;;
    *) args+=("$1"); shift ;;
  esac
done
if ! [[ $ranks =~ ^[0-9]+$ ]] || ((ranks < 1)); then
  echo "launch/mpirun.sh: -n needs a positive number of ranks, got '$ranks'" >&2
  exit 2
fi

"$root/launch/setup.sh" >&2
extra=(--stdin none --timeout "${NODE_DIST_MPI_TIMEOUT:-86400}")
[[ $(id -u) -eq 0 ]] && extra+=(--allow-run-as-root)
((ranks > $(nproc))) && extra+=(--oversubscribe)
export OPENBLAS_NUM_THREADS=1 NO_COLOR=1
exec mpirun "${extra[@]}" -x OPENBLAS_NUM_THREADS -x NO_COLOR "${args[@]}"
