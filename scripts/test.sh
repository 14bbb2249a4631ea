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
swift test --skip-build "$@"
scripts/test-python.sh
if [ $# -eq 0 ]; then
    scripts/fuzz.sh all 5
fi
