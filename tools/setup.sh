#!/usr/bin/env bash
# Installs the Debian packages ctrain builds and runs with (DESIGN.md §8).
# Idempotent: when everything is present it only checks, in about a second.
# CUDA, cuDNN and NCCL come from the toolkit at /usr/local/cuda, not apt.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  libopenmpi-dev openmpi-bin
  libhdf5-dev libuv1-dev libcriterion-dev
  libdnnl-dev libopenblas-dev liblapacke-dev
  libprotobuf-c-dev protobuf-c-compiler
  libjansson-dev libhttp-parser-dev zlib1g-dev
  python3-h5py  # tests/io/check_keras_h5.py reads our .h5 files back
  dataset-fashion-mnist
)
# The benchmarks compare against PyTorch on the CPU; only they need it.
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(python3-torch python3-numpy)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "setup: installing ${missing[*]}" >&2
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
