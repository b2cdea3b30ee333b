#!/usr/bin/env bash
# Alternates node-dist with the fastest peers on one core, round by round, and
# prints each round's medians and, at the end, the median over the rounds of
# peer ÷ node-dist (BENCHMARKS.md, "Where every target stands"):
#
#   w1       Diffrax (recursive checkpoint) against `bench w1` (the backsolve
#            adjoint) and `bench w1 --gradient backprop`, at w1-init;
#   w2       torchdiffeq against `bench w2`, at w2-init;
#   w3       Diffrax (one batched solve, and vmap) against `bench w3`;
#   trained  W1 (Diffrax, torchdiffeq) and W2 (torchdiffeq) at the trained weights,
#            with the NFE each reports.
#
# Usage: launch/peers/rounds.sh w1|w2|w3|trained [ROUNDS]
# Environment: ND (node-dist binary; default .build/release/node-dist), PEERS_VENVS
# (launch/peers/setup.sh's directory; default .build-peers), WEIGHTS (the reference
# weights; default ../shared/weights), CORE (default 0).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
peers=$root/launch/peers
workload=${1:-}
rounds=${2:-5}
nd=${ND:-$root/.build/release/node-dist}
venvs=${PEERS_VENVS:-$root/.build-peers}
weights=${WEIGHTS:-$root/../shared/weights}
core=${CORE:-0}

case "$workload" in
  w1 | w2 | w3 | trained) ;;
  *)
    echo "usage: launch/peers/rounds.sh w1|w2|w3|trained [ROUNDS] (got '${workload}')" >&2
    exit 64
    ;;
esac
if ! [[ "$rounds" =~ ^[1-9][0-9]*$ ]]; then
  echo "ROUNDS must be a positive whole number, got '$rounds'" >&2
  exit 64
fi
for need in "$nd" "$venvs/torch/bin/python" "$venvs/jax/bin/python"; do
  if [ ! -x "$need" ]; then
    echo "missing $need: build node-dist (swift build -c release) and run launch/peers/setup.sh" >&2
    exit 1
  fi
done
# The rounds run from the weights' directory: make the paths absolute first.
nd=$(realpath "$nd")
venvs=$(realpath "$venvs")
for file in w1-init w1-trained w2-init w2-trained w3-problem; do
  if [ ! -f "$weights/$file.safetensors" ]; then
    echo "missing $weights/$file.safetensors: set WEIGHTS to the reference weight directory" >&2
    exit 1
  fi
done

# One thread each, on the same core; XLA on one thread too.
xla='--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1'
torch_py() { OMP_NUM_THREADS=1 taskset -c "$core" "$venvs/torch/bin/python" "$@" 2>/dev/null; }
jax_py() { OMP_NUM_THREADS=1 XLA_FLAGS="$xla" taskset -c "$core" "$venvs/jax/bin/python" "$@" 2>/dev/null; }
node_dist() { OPENBLAS_NUM_THREADS=1 taskset -c "$core" "$nd" "$@"; }
# A JSON line's fields (`"key": value` or `"key":value`), as key=value pairs.
pick() { tail -1 | grep -oE "\"($1)\": ?[0-9.]+" | tr -d ' "' | tr ':' '=' | tr '\n' ' '; }
median_of() { pick median_ms | cut -d= -f2 | tr -d ' '; }
# A run's median to two decimals; a run that printed none stops the rounds.
figure() {
  if [ -z "$2" ]; then
    echo "the $1 run printed no median_ms; run it by hand to see why" >&2
    exit 1
  fi
  printf '%.2f' "$2"
}

# One trained-weight run: its name, the JSON fields to show, then the command.
# Prints the figures and appends `name median` to the round's `line`.
trained_run() {
  local name=$1 fields=$2
  shift 2
  local figures
  figures=$("$@" | pick "$fields" || true)
  echo "  $name $figures"
  line="$line $name $(figure "$name" "$(echo "$figures" | grep -oE 'median_ms=[0-9.]+' | cut -d= -f2)")"
}

log=$(mktemp)
trap 'rm -f "$log"' EXIT
cd "$weights"   # the W3 scripts read w3-problem.safetensors from here
for round in $(seq 1 "$rounds"); do
  case "$workload" in
    w1)
      d=$(jax_py "$peers/w1_diffrax.py" w1-init.safetensors 20 --adjoint=recursive | median_of || true)
      a=$(node_dist bench w1 | median_of || true)
      b=$(node_dist bench w1 --gradient backprop | median_of || true)
      d=$(figure Diffrax "$d")
      a=$(figure "node-dist adjoint" "$a")
      b=$(figure "node-dist backprop" "$b")
      echo "round $round $(date -u +%H:%M:%S) diffrax $d node-dist-adjoint $a node-dist-backprop $b" | tee -a "$log"
      ;;
    w2)
      t=$(torch_py "$peers/w2_torchdiffeq.py" w2-init.safetensors 20 | median_of || true)
      n=$(node_dist bench w2 | median_of || true)
      t=$(figure torchdiffeq "$t")
      n=$(figure node-dist "$n")
      echo "round $round $(date -u +%H:%M:%S) torchdiffeq $t node-dist $n" | tee -a "$log"
      ;;
    w3)
      out=$(jax_py "$peers/w3_diffrax.py" || true)
      batch=$(echo "$out" | grep "diffrax batch" | grep -oE 'median [0-9.]+' | cut -d' ' -f2 || true)
      vmap=$(echo "$out" | grep "diffrax vmap" | grep -oE 'median [0-9.]+' | cut -d' ' -f2 || true)
      n=$(node_dist bench w3 --iters 50 | median_of || true)
      batch=$(figure "Diffrax batch" "$batch")
      vmap=$(figure "Diffrax vmap" "$vmap")
      n=$(figure node-dist "$n")
      echo "round $round $(date -u +%H:%M:%S) diffrax $batch diffrax-vmap $vmap node-dist $n" | tee -a "$log"
      ;;
    trained)
      echo "round $round $(date -u +%H:%M:%S)"
      line="round $round $(date -u +%H:%M:%S)"
      trained_run diffrax-w1 'median_ms|steps_mean|rejected_mean|nfe_forward_mean_6s_plus_1' \
        jax_py "$peers/w1_diffrax.py" w1-trained.safetensors 20 --adjoint=recursive
      trained_run torchdiffeq-w1 'median_ms|nfe_forward_mean|nfe_backward_mean' \
        torch_py "$peers/w1_torchdiffeq.py" w1-trained.safetensors 20
      trained_run node-dist-w1-adjoint 'median_ms|nfe_mean|nfe_max|nfe_backward_mean|nfe_backward_max' \
        node_dist bench w1 --weights w1-trained.safetensors
      trained_run node-dist-w1-backprop 'median_ms|nfe_mean|nfe_max|nfe_backward_mean|nfe_backward_max' \
        node_dist bench w1 --gradient backprop --weights w1-trained.safetensors
      trained_run torchdiffeq-w2 'median_ms|nfe_forward_mean|nfe_backward_mean' \
        torch_py "$peers/w2_torchdiffeq.py" w2-trained.safetensors 6 --warmup 2
      trained_run node-dist-w2 'median_ms|nfe_mean|nfe_max|nfe_backward_mean|nfe_backward_max' \
        node_dist bench w2 --weights w2-trained.safetensors --iters 8 --warmup 2
      echo "$line" >>"$log"
      ;;
  esac
done

# The summary: each column's median, and each peer ÷ node-dist ratio's median
# over the rounds (a round's two figures share its minute of machine noise):
# the first peer against every node-dist column, or for the trained weights
# each workload's peers against node-dist on the same workload.
case "$workload" in
  trained)
    pairs="diffrax-w1:node-dist-w1-adjoint diffrax-w1:node-dist-w1-backprop"
    pairs="$pairs torchdiffeq-w1:node-dist-w1-adjoint torchdiffeq-w2:node-dist-w2"
    ;;
  *) pairs="" ;;
esac
python3 - "$log" $pairs <<'PY'
import statistics, sys
rows = [line.split()[3:] for line in open(sys.argv[1])]
columns = {}
for row in rows:
    for name, value in zip(row[0::2], row[1::2]):
        columns.setdefault(name, []).append(float(value))
print("median over %d rounds:" % len(rows), ", ".join("%s %.2f ms" % (n, statistics.median(v)) for n, v in columns.items()))
pairs = [tuple(p.split(":")) for p in sys.argv[2:]]
if not pairs:
    peers = [n for n in columns if not n.startswith("node-dist")]
    pairs = [(peers[0], o) for o in columns if o.startswith("node-dist")]
for p, o in pairs:
    ratios = [a / b for a, b in zip(columns[p], columns[o])]
    print("%s / %s: median %.2fx (%.2f-%.2fx)" % (p, o, statistics.median(ratios), min(ratios), max(ratios)))
PY
