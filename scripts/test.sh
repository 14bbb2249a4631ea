#!/usr/bin/env bash
# README command 2 (and what CI runs): installs what is missing, checks that the generated protobuf-c code is
# current and that the Swift code is formatted (swift format lint --strict), builds in debug mode, and runs the
# whole test suite: the Swift tests, then the Python client's checks and tests (scripts/test-python.sh, in a virtual environment it creates), then a few seconds of each libFuzzer
# harness (scripts/fuzz.sh; the long runs are made by hand), which arguments (e.g. --filter X) leave out.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/generate-proto.sh --check
# Formatting is part of the build: the repository's .swift-format, strictly.
swift format lint --strict --recursive Sources Tests samples Package.swift bench/Sources bench/Benchmarks \
    bench/Package.swift fuzz/Sources fuzz/Package.swift
swift build --build-tests
# Bounded: a test that hangs fails the run in minutes and is named (a test that started and never ended), instead
# of holding CI until its own limit. The whole suite takes a few minutes on two cores.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
timeout --kill-after=30s 20m swift test --skip-build "$@" 2>&1 | tee "$log" || status=$?
if [ "$status" -ne 0 ]; then
    [ "$status" -eq 124 ] && echo "swift test did not finish within 20 minutes" >&2
    awk '/◇ Test "/ { match($0, /Test "[^"]*"/); started[substr($0, RSTART + 6, RLENGTH - 7)] = 1 }
         /[✔✘] Test "/ { match($0, /Test "[^"]*"/); delete started[substr($0, RSTART + 6, RLENGTH - 7)] }
         END { for (name in started) print "never ended: " name }' "$log" >&2
    exit "$status"
fi
timeout --kill-after=30s 15m scripts/test-python.sh
if [ $# -eq 0 ]; then
    scripts/fuzz.sh all 5
fi
