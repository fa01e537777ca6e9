#!/usr/bin/env bash
# The main job of the README's quick start: installs what is missing,
# builds, and trains the Fashion-MNIST CNN of examples/fashion_mnist/cnn.json
# with the ctrain command line, data parallel over two MPI ranks (the
# mirrored strategy; the cores are divided between the ranks). Extra
# arguments go to `ctrain train` (e.g. --epochs 1); CT_RANKS=N picks the
# number of ranks.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/setup.sh"
"$root/tools/build.sh"
cd "$root"
# Open MPI refuses root unless told; --oversubscribe and --bind-to none let
# the ranks share a small machine.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
exec mpirun -np "${CT_RANKS:-2}" --oversubscribe --bind-to none \
    "${CT_BUILD_DIR:-$root/build}/ctrain" train examples/fashion_mnist/cnn.json "$@"
