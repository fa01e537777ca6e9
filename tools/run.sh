#!/usr/bin/env bash
# The main job of the README's quick start: installs what is missing,
# builds, and runs the seed's linear regression with a gradient tape.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/setup.sh"
"$root/tools/build.sh"
exec "${CT_BUILD_DIR:-$root/build}/linear_regression" "$@"
