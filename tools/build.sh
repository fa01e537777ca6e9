#!/usr/bin/env bash
# Configures and builds ctrain in build/ (or $CT_BUILD_DIR). Extra
# arguments go to cmake, e.g. -DCT_SANITIZE=ON.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${CT_BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build" "$@" >/dev/null
cmake --build "$build" -j "$(nproc)"
