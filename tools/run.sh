#!/usr/bin/env bash
# The main job of the README's quick start: installs what is missing,
# builds, and trains the Fashion-MNIST CNN of examples/fashion_mnist/cnn.json
# with the ctrain command line. Extra arguments go to `ctrain train`
# (e.g. --epochs 1).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/setup.sh"
"$root/tools/build.sh"
cd "$root"
exec "${CT_BUILD_DIR:-$root/build}/ctrain" train examples/fashion_mnist/cnn.json "$@"
