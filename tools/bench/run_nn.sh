#!/usr/bin/env bash
# Keras-layer benchmarks of ctrain beside PyTorch (Debian's python3-torch)
# in one run with the same thread counts, and the torch/ctrain ratios.
# torch runs as installed and in its fastest configuration, as run.sh.
#
#   tools/bench/run_nn.sh [THREADS...]        default: 1 2
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
"$root/tools/setup.sh" --bench
"$root/tools/build.sh" >/dev/null
build=${CT_BUILD_DIR:-$root/build}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
threads=("$@")
((${#threads[@]})) || threads=(1 2)
for t in "${threads[@]}"; do
  env -u OMP_WAIT_POLICY -u OPENBLAS_CORETYPE -u OMP_NUM_THREADS -u OPENBLAS_NUM_THREADS \
    "$build/bench_nn" --threads "$t" >>"$out"
  env -u OMP_WAIT_POLICY -u OPENBLAS_CORETYPE OPENBLAS_NUM_THREADS="$t" \
    /usr/bin/python3 "$root/tools/bench/bench_torch_nn.py" --threads "$t" --config installed >>"$out"
  OMP_WAIT_POLICY=PASSIVE OPENBLAS_CORETYPE=Cooperlake OPENBLAS_NUM_THREADS="$t" \
    /usr/bin/python3 "$root/tools/bench/bench_torch_nn.py" --threads "$t" --config fastest >>"$out"
done
/usr/bin/python3 "$root/tools/bench/compare.py" "$out"
