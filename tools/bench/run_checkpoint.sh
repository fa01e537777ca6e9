#!/usr/bin/env bash
# Checkpoint throughput (issue #7): ctrain's save_weights / load_weights of
# a ~100 MB model, a plain write + fsync / read of the same bytes (the
# limit) and h5py writing and reading the same arrays in the same layout
# (Debian's python3-h5py, on the same libhdf5), interleaved in rounds in
# one window. Prints the medians over all repetitions in GB/s and the
# ratios ctrain/h5py and ctrain/plain. Writes include fsync (file and
# directory); reads come from the page cache (nothing drops it).
#
#   tools/bench/run_checkpoint.sh [-d DIR] [-r ROUNDS] [-n REPS] [-j JSON] [-- bench args]
#       DIR: where the files go (default: a new directory under /tmp,
#       removed afterwards); ROUNDS of REPS repetitions each side (3, 5);
#       JSON: also keep every repetition's JSON line there.
#       bench args (--layers L --units U --input I) go to both programs.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${CT_BUILD_DIR:-$root/build}
dir="" tmpdir="" rounds=3 reps=5 json=""
while getopts "d:r:n:j:" o; do
  case $o in
    d) dir=$OPTARG ;;
    r) rounds=$OPTARG ;;
    n) reps=$OPTARG ;;
    j) json=$OPTARG ;;
    *) sed -n 2,14p "$0" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
cmake -S "$root" -B "$build" >/dev/null
cmake --build "$build" --target bench_checkpoint -j 2 >/dev/null
if [[ -z $dir ]]; then
  dir=$(mktemp -d /tmp/ct-checkpoint.XXXXXX)
  tmpdir=$dir
fi
mkdir -p "$dir"
out=$(mktemp)
trap 'rm -f "$out"; if [[ -n ${tmpdir:-} ]]; then rm -rf "$tmpdir"; fi' EXIT
fs=$(df -T "$dir" | awk 'NR==2 {print $1, $2}')
echo "# files in $dir: $fs; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 1; r <= rounds; r++)); do
  "$build/bench_checkpoint" --dir "$dir" --reps "$reps" "$@" >>"$out"
  /usr/bin/python3 "$root/tools/bench/bench_checkpoint_h5py.py" --dir "$dir" --reps "$reps" \
    --verify "$dir/ctrain.h5" "$@" >>"$out"
done
[[ -z $json ]] || cp "$out" "$json"
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
rows = [r for r in rows if r["bench"] == "checkpoint"]
nbytes = rows[0]["bytes"]
med, n, fb = {}, {}, {}
for impl in ("ctrain", "h5py", "plain"):
    for op in ("write", "read"):
        s = [r["s"] for r in rows if r["impl"] == impl and r["op"] == op]
        med[impl, op] = nbytes / statistics.median(s) / 1e9
        n[impl, op] = len(s)
        fb[impl] = [r["file_bytes"] for r in rows if r["impl"] == impl][-1]
print(f"# {nbytes / 1e6:.1f} MB of float32 weights; GB/s = weight bytes / median seconds "
      f"over all repetitions; write = incl. fsync of file and directory, read = from page cache")
print(f"{'impl':8} {'write GB/s':>11} {'read GB/s':>10} {'reps':>5} {'file MB':>8}")
for impl in ("ctrain", "h5py", "plain"):
    print(f"{impl:8} {med[impl, 'write']:11.3f} {med[impl, 'read']:10.3f} "
          f"{n[impl, 'write']:5d} {fb[impl] / 1e6:8.2f}")
for other in ("h5py", "plain"):
    print(f"ctrain/{other:5}  write {med['ctrain', 'write'] / med[other, 'write']:.2f}x"
          f"   read {med['ctrain', 'read'] / med[other, 'read']:.2f}x")
PY
