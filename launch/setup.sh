#!/usr/bin/env bash
# Installs what node-dist needs from Debian, only when it is missing:
# OpenMPI (libopenmpi-dev, openmpi-bin), OpenBLAS (libopenblas-dev), zlib
# (zlib1g-dev, for gzipped data files) and Fashion-MNIST (dataset-fashion-mnist).
# Idempotent: a second run changes nothing. Source it or run it.
set -euo pipefail

packages=(libopenmpi-dev openmpi-bin libopenblas-dev zlib1g-dev dataset-fashion-mnist
  ${NODE_DIST_EXTRA_PACKAGES:-})
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done

if ((${#missing[@]})); then
  echo "node-dist setup: installing ${missing[*]}" >&2
  if [[ $(id -u) -eq 0 ]]; then sudo=(); else sudo=(sudo); fi
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

command -v swift >/dev/null || {
  echo "node-dist setup: swift is not on PATH (Swift 6.x toolchain needed)" >&2
  exit 1
}
