#!/usr/bin/env bash
# README command 2 (and what CI runs): installs what is missing, checks that the generated protobuf-c code is
# current, builds in debug mode, runs the whole test suite, then a few seconds of each libFuzzer harness
# (scripts/fuzz.sh; the long runs are made by hand). With arguments (e.g. --filter X) only the tests run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/generate-proto.sh --check
swift build --build-tests
swift test --skip-build "$@"
if [ $# -eq 0 ]; then
    scripts/fuzz.sh all 5
fi
