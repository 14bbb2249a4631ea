#!/usr/bin/env bash
# The Python client's checks (run by scripts/test.sh after the Swift tests): the committed _pb2 modules are current,
# mypy --strict is clean, and pytest passes against real servers from the debug build (.build/debug/leasehold and
# fenced-resource, or LEASEHOLD_BIN / FENCED_RESOURCE_BIN). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(scripts/python-env.sh --package)
scripts/generate-python-proto.sh --check
(cd clients/python && "$venv/bin/mypy")
status=0
(cd clients/python && "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@") || status=$?
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: that is a failure" >&2
    exit 1
fi
exit "$status"
