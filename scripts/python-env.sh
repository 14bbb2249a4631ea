#!/usr/bin/env bash
# Prints the path of a Python virtual environment (.build/python-venv) holding the pinned tools of
# clients/python/requirements-dev.txt, creating or updating it first. Needs Python 3.11+ with venv: on Debian
# `python3-venv` is installed when missing.
#
#   venv=$(scripts/python-env.sh)              tools only (protoc for the _pb2 files, pytest, mypy)
#   venv=$(scripts/python-env.sh --package)    and the leasehold package from clients/python
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
venv="$root/.build/python-venv"
requirements="$root/clients/python/requirements-dev.txt"

# On Debian and Ubuntu, python3 and python3-venv come from apt (a no-op when installed). A python3 without
# python3-venv still imports `venv`, but `python3 -m venv` fails for want of ensurepip, so the package is what
# is checked, not the module.
if command -v apt-get >/dev/null 2>&1 && command -v dpkg-query >/dev/null 2>&1; then
    scripts/install-deps.sh python3 python3-venv >&2
fi
# Debian's own interpreter first: its venv module is what python3-venv completes.
python=""
for candidate in /usr/bin/python3 python3; do
    if command -v "$candidate" >/dev/null 2>&1 \
        && "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
        python=$(command -v "$candidate")
        break
    fi
done
if [ -z "$python" ]; then
    echo "Python 3.11 or later with venv is needed for the Python client's checks" >&2
    exit 1
fi

stamp="$venv/.requirements"
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$requirements" "$stamp"; then
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    "$python" -m venv "$venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" >&2
    cp "$requirements" "$stamp"
fi
if [ "${1:-}" = "--package" ]; then
    # Not editable: the tests import what `pip install ./clients/python` installs, with its package data. The
    # build folder goes first, so that a module removed from src/ cannot linger in it.
    rm -rf clients/python/build
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps \
        ./clients/python >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check ./clients/python >&2
fi
echo "$venv"
