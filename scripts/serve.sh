#!/usr/bin/env bash
# README command 1: installs what is missing, builds, and runs `leasehold serve` on its defaults
# (127.0.0.1:7420, ./leasehold.db). Extra arguments go to `leasehold serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product leasehold
exec .build/release/leasehold serve "$@"
