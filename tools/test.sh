#!/usr/bin/env bash
# The test command of the README's quick start and of CI: installs what is
# missing, builds with warnings as errors, and runs every test with ctest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/setup.sh"
build=${CT_BUILD_DIR:-$root/build}
CT_BUILD_DIR=$build "$root/tools/build.sh" -DCT_WERROR=ON "$@"
cd "$build"
ctest --output-on-failure -j "$(nproc)"
