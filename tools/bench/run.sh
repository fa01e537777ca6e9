#!/usr/bin/env bash
# Runs the op benchmarks of ctrain and PyTorch (Debian's python3-torch) in
# one run, with the same thread counts, and prints ctrain/torch ratios.
# torch runs twice: as installed, and in its fastest configuration
# (OMP_WAIT_POLICY=PASSIVE, OPENBLAS_CORETYPE=Cooperlake). Both get the
# same thread count as ctrain: torch.set_num_threads(N) and, because the
# OpenBLAS inside torch otherwise starts a thread per core,
# OPENBLAS_NUM_THREADS=N. ctrain always runs as installed, with no
# environment variable set.
#
#   tools/bench/run.sh [THREADS...]        default: 1 2
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
    "$build/bench_ops" --threads "$t" >>"$out"
  env -u OMP_WAIT_POLICY -u OPENBLAS_CORETYPE OPENBLAS_NUM_THREADS="$t" \
    /usr/bin/python3 "$root/tools/bench/bench_torch.py" --threads "$t" --config installed >>"$out"
  OMP_WAIT_POLICY=PASSIVE OPENBLAS_CORETYPE=Cooperlake OPENBLAS_NUM_THREADS="$t" \
    /usr/bin/python3 "$root/tools/bench/bench_torch.py" --threads "$t" --config fastest >>"$out"
done
/usr/bin/python3 "$root/tools/bench/compare.py" "$out"
