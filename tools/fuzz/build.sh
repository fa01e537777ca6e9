#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tools/fuzz/fuzz_*.c) with clang,
# -fsanitize=fuzzer,address,undefined, into build-fuzz/ (or
# $CT_FUZZ_BUILD_DIR).
#
#     tools/fuzz/build.sh
#     build-fuzz/fuzz_csv -max_total_time=300 build-fuzz/corpus_csv
#
# Needs clang with compiler-rt and libomp (Debian: clang, libclang-rt-dev,
# libomp-dev).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${CT_FUZZ_BUILD_DIR:-$root/build-fuzz}
if ! command -v clang >/dev/null; then
    echo "clang not found: apt-get install clang libclang-rt-dev libomp-dev" >&2
    exit 1
fi
# The library is built by the usual compiler without instrumentation (the
# whole tree does not build with clang 14: it rejects GCC's
# -mtls-dialect=gnu2 and the target-attribute intrinsics of
# ops/cpu/vmath.c); the file readers under test are compiled again here
# with clang's fuzzer coverage and sanitizers, and their objects take
# precedence over the archive's.
cmake -S "$root" -B "$build/lib" -DCT_CUDA=OFF -DCT_TESTS=OFF >/dev/null
cmake --build "$build/lib" -j "$(nproc)" --target ctrain_static
flags="-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1 -std=gnu11"
# Harnesses and the sources instrumented for them (others' harnesses can
# be added: CT_FUZZ_HARNESSES="fuzz_tfrecord" CT_FUZZ_SOURCES="data/tfrecord.c").
harnesses=${CT_FUZZ_HARNESSES:-fuzz_csv fuzz_idx fuzz_tfrecord fuzz_example}
srcs=""
for s in ${CT_FUZZ_SOURCES:-data/csv.c data/text.c data/idx.c data/list_files.c data/tfrecord.c data/example.c}; do
    srcs="$srcs $root/$s"
done
inc="-I$root/include -I$root -I$build/lib"
libs="$(pkg-config --libs libprotobuf-c) -lz -ldnnl -llapacke -lopenblas -lgomp -lm -lpthread"
for h in $harnesses; do
    clang $flags $inc "$root/tools/fuzz/$h.c" $srcs "$build/lib/libctrain.a" $libs -o "$build/$h"
    mkdir -p "$build/corpus_${h#fuzz_}"
    echo "built $build/$h"
done
