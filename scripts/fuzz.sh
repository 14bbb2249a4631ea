#!/usr/bin/env bash
# Builds a libFuzzer harness (fuzz/, with -sanitize=fuzzer,address) and runs it.
#
#   scripts/fuzz.sh TARGET SECONDS [LIBFUZZER OPTIONS…]    TARGET: frame, messages or connection
#   scripts/fuzz.sh all SECONDS                             each harness in turn (the smoke run in scripts/test.sh)
#
# The harness starts from the committed seed corpus fuzz/corpus/TARGET (golden frames and messages) and writes what
# it discovers to a temporary folder, so the committed corpus stays small. A crash leaves its input in the current
# folder as crash-…; `fuzz/.build/release/fuzz-TARGET crash-…` replays it. Extra options go to libFuzzer, e.g.
# `-runs=10000000` to stop after ten million inputs instead of after SECONDS.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 2 ]; then
    sed -n '2,10p' "$0" >&2
    exit 64
fi
target=$1
seconds=$2
shift 2

case "$target" in
    all|frame|messages|connection) ;;
    *) echo "unknown target $target: frame, messages, connection or all" >&2; exit 64 ;;
esac

if [ "$target" = "all" ]; then
    for each in frame messages connection; do "$0" "$each" "$seconds" "$@"; done
    exit 0
fi

# Instrumented for coverage (libFuzzer) and checked by AddressSanitizer. One product at a time: building every
# target would build the whole parent package too.
swift build --package-path fuzz -c release --product "fuzz-$target" \
    -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=fuzzer-no-link,address >&2

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fuzz/.build/release/"fuzz-$target" -max_total_time="$seconds" -print_final_stats=1 -max_len=4096 "$@" \
    "$work" "fuzz/corpus/$target"
