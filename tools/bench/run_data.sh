#!/usr/bin/env bash
# Input-pipeline benchmarks (bench_data) beside PyTorch's DataLoader on the
# same Fashion-MNIST files, with 1 and 2 threads (or the counts given).
#
#   tools/bench/run_data.sh [THREADS...]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
"$root/tools/setup.sh" --bench
"$root/tools/build.sh" >/dev/null
build=${CT_BUILD_DIR:-$root/build}
threads=("$@")
((${#threads[@]})) || threads=(1 2)
for t in "${threads[@]}"; do
  "$build/bench_data" --threads "$t"
  OPENBLAS_NUM_THREADS="$t" /usr/bin/python3 "$root/tools/bench/bench_torch_data.py" --threads "$t"
done
