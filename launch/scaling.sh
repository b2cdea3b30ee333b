#!/usr/bin/env bash
# Strong and weak scaling of `node-dist train` under mpirun, e.g.
#   launch/scaling.sh configs/cnf-moons.yaml 512 "1 2 4 8" 20
# Arguments: config, global batch of the strong-scaling runs (weak scaling
# keeps that batch per rank), rank counts, steps per run. Extra `--set`
# overrides may follow. For each run: median step time, throughput (samples
# per second), efficiency against one rank, and the shares of the step spent
# in communication and waiting for the slowest rank (from metrics.jsonl,
# first 3 steps left out as warm-up). Ranks beyond the cores oversubscribe:
# read those rows for correctness and communication share, not speed.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
config=${1:?usage: launch/scaling.sh CONFIG BATCH "RANKS" STEPS [--set k=v ...]}
batch=${2:?global batch}
ranks=${3:-"1 2 4 8"}
steps=${4:-20}
shift $(($# < 4 ? $# : 4))
out=$(mktemp -d)
common=(--set "train.steps=$steps" --set "train.epochs=null" --set run.log_every=1
  --set run.picture=false --set run.eval_samples=16 --set run.checkpoint_every=1000000 "$@")
max=$(for r in $ranks; do echo "$r"; done | sort -n | tail -1)
# A discarded warm-up run (the first run of a series measured slow).
"$root/launch/mpirun.sh" -n 1 node-dist train --config "$config" "${common[@]}" \
  --set train.steps=5 --set "train.batch_size=$batch" --set "train.chunks=$max" \
  --run-dir "$out/warm-up" >/dev/null 2>&1
for mode in strong weak; do
  for r in $ranks; do
    b=$batch
    [[ $mode == weak ]] && b=$((batch * r))
    # The same chunk size everywhere (batch / max ranks), so every rank does
    # the same work per sample whatever the run.
    chunks=$((max * b / batch))
    ((b % chunks == 0)) || { echo "batch $b is not a multiple of $chunks chunks" >&2; exit 2; }
    NODE_DIST_MPI_TIMEOUT=3600 "$root/launch/mpirun.sh" -n "$r" node-dist train --config "$config" \
      "${common[@]}" --set "train.batch_size=$b" --set "train.chunks=$chunks" \
      --run-dir "$out/$mode-$r" >"$out/$mode-$r.log" 2>&1 || { cat "$out/$mode-$r.log" >&2; exit 1; }
  done
done
python3 - "$out" "$ranks" "$batch" <<'PY'
import json, statistics, sys
out, ranks, batch = sys.argv[1], [int(r) for r in sys.argv[2].split()], int(sys.argv[3])
print(f"{'mode':6} {'ranks':>5} {'batch':>6} {'step ms':>9} {'samples/s':>10} {'efficiency':>10} {'comm %':>7} {'wait %':>7}")
for mode in ("strong", "weak"):
    base = None
    for r in ranks:
        rows = [json.loads(l) for l in open(f"{out}/{mode}-{r}/metrics.jsonl") if '"train"' in l][3:]
        step = statistics.median(x["step_seconds"] for x in rows)
        total = sum(x["step_seconds"] for x in rows)
        comm = 100 * sum(x["communication_seconds"] for x in rows) / total
        wait = 100 * sum(x["wait_seconds"] for x in rows) / total
        b = batch * (r if mode == "weak" else 1)
        rate = b / step
        base = base or (rate, step)
        eff = (rate / base[0] / r) if mode == "strong" else (base[1] / step)
        print(f"{mode:6} {r:5d} {b:6d} {1000 * step:9.1f} {rate:10.0f} {100 * eff:9.1f}% {comm:7.2f} {wait:7.2f}")
PY
