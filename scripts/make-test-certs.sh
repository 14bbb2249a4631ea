#!/usr/bin/env bash
# Throwaway TLS certificates for tests and benchmarks, made with the openssl command: a CA, server certificates for
# loopback and client certificates with chosen common names. The one recipe behind the Swift tests
# (TestCertificates), the Python client's tests and bench/tls.sh.
#
#   scripts/make-test-certs.sh OUTDIR [--ca NAME] [--server FILE[=CN]]... [--client FILE=CN]...
#
#   scripts/make-test-certs.sh /tmp/certs --server server --client admin=admin.example --ca stranger-ca
#
# --ca NAME     issue what follows with the CA NAME.pem/NAME.key in OUTDIR, made there first if it is not (the
#               first CA is `ca` unless named); a second CA that signs nothing else is the "untrusted" one
# --server FILE a server certificate FILE.pem/FILE.key: subject CN (localhost unless given), subjectAltName
#               localhost, 127.0.0.1 and ::1, extended key usage serverAuth
# --client FILE a client certificate FILE.pem/FILE.key with subject CN (required), extended key usage clientAuth
#
# Keys are P-256, unencrypted; certificates are valid for two days from now. Files of the same name are replaced,
# except a CA's, which is reused. openssl's output is shown only when it fails (then the exit status is 1).
set -euo pipefail

usage() {
    echo "usage: $(sed -n '6s/^#   scripts\///p' "$0")" >&2
    exit 2
}
[[ $# -ge 1 && $1 != -* ]] || usage
command -v openssl >/dev/null || { echo "make-test-certs.sh: openssl is not installed (scripts/install-deps.sh installs it)" >&2; exit 1; }
out=$1
shift
mkdir -p "$out"

config=$(mktemp "$out/.openssl-XXXXXX")
request=$(mktemp "$out/.request-XXXXXX")
trap 'rm -f "$config" "$request"' EXIT
cat >"$config" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client_ext]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF

# Runs openssl quietly; on failure prints what it said and stops.
run_openssl() {
    local output
    if ! output=$(openssl "$@" </dev/null 2>&1); then
        printf 'make-test-certs.sh: openssl %s %s failed:\n%s\n' "$1" "$2" "$output" >&2
        exit 1
    fi
}

new_key=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -config "$config")

# use_ca NAME: the CA that signs what follows, made if OUTDIR has none of that name.
ca=""
use_ca() {
    ca=$1
    [[ -s $out/$ca.pem && -s $out/$ca.key ]] && return
    run_openssl req -x509 "${new_key[@]}" -extensions ca_ext -keyout "$out/$ca.key" -out "$out/$ca.pem" -days 2 \
        -subj "/CN=Leasehold test CA $ca"
}

# issue FILE CN EXTENSIONS: FILE.pem and FILE.key, signed by the current CA.
issue() {
    [[ -n $ca ]] || use_ca ca
    run_openssl req -new "${new_key[@]}" -keyout "$out/$1.key" -out "$request" -subj "/CN=$2"
    run_openssl x509 -req -in "$request" -CA "$out/$ca.pem" -CAkey "$out/$ca.key" \
        -set_serial "0x$(openssl rand -hex 16)" -days 2 -out "$out/$1.pem" -extfile "$config" -extensions "$3"
}

while [[ $# -gt 0 ]]; do
    [[ $# -ge 2 && -n $2 ]] || usage
    case $1 in
    --ca) use_ca "$2" ;;
    --server)
        if [[ $2 == *=* ]]; then issue "${2%%=*}" "${2#*=}" server_ext; else issue "$2" localhost server_ext; fi
        ;;
    --client)
        [[ $2 == ?*=?* ]] || usage
        issue "${2%%=*}" "${2#*=}" client_ext
        ;;
    *) usage ;;
    esac
    shift 2
done
[[ -n $ca ]] || use_ca ca
