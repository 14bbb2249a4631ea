#!/usr/bin/env bash
# Installs the C libraries and tools Leasehold builds with, if they are missing (Debian/Ubuntu); or, given package
# names, those instead (bench/redis-baseline.sh: scripts/install-deps.sh redis-server redis-tools time).
# Safe to run again: it does nothing when everything is present.
set -euo pipefail

if [ $# -gt 0 ]; then
    packages=("$@")
else
    # postgresql: the tests start a throwaway cluster of their own (initdb + pg_ctl); nothing else runs it.
    # openssl: the TLS tests make a throwaway CA and certificates with its command (scripts/make-test-certs.sh).
    packages=(libprotobuf-c-dev protobuf-c-compiler libsqlite3-dev pkg-config python3 postgresql openssl)
fi
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "missing: ${missing[*]} — install them with your package manager (protobuf-c, sqlite3, pkg-config)" >&2
    exit 1
fi
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "installing ${missing[*]}" >&2
$sudo apt-get update -qq
# Through env: sudo would drop an exported DEBIAN_FRONTEND.
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
