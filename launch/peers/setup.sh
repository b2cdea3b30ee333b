#!/usr/bin/env bash
# Creates the two Python environments the peer scripts run in, from PyPI,
# with the versions BENCHMARKS.md's figures name:
#   DIR/torch: torch 2.15.0, torchdiffeq 0.2.5, torchode 1.0.1 (w1_torchdiffeq.py,
#              w2_torchdiffeq.py, w3_peers.py, w3_grad_torchdiffeq.py);
#   DIR/jax:   jax 0.10.2, diffrax 0.7.2, equinox 0.13.8, optax 0.2.8
#              (w1_diffrax.py, w3_diffrax.py).
# torch's wheel pulls its CUDA libraries too (about 5.5 GB); the scripts run on
# the CPU. Usage: launch/peers/setup.sh [DIR]   (default: .build-peers in the repo)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=${1:-$root/.build-peers}
mkdir -p "$dir"
if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
  echo "python3-venv is missing: apt-get install -y python3-venv" >&2
  exit 1
fi
make_env() {
  local name=$1
  shift
  if [ ! -x "$dir/$name/bin/python" ]; then python3 -m venv "$dir/$name"; fi
  "$dir/$name/bin/pip" install --quiet --disable-pip-version-check "$@"
}
make_env torch torch==2.15.0 torchdiffeq==0.2.5 torchode==1.0.1 safetensors numpy
make_env jax jax==0.10.2 jaxlib==0.10.2 diffrax==0.7.2 equinox==0.13.8 optax==0.2.8 safetensors numpy
echo "peer environments ready in $dir (torch, jax)"
