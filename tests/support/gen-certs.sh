#!/usr/bin/env bash
# Generates throwaway TLS material for the test rig into DIR (created if missing):
#
#   ca.pem, ca-key.pem                 the rig's CA; it signed the server certificate.
#   server-cert.pem, server-key.pem    the server certificate: CN=localhost,
#                                      subjectAltName IP:127.0.0.1, IP:::1, DNS:localhost,
#                                      extendedKeyUsage serverAuth.
#   wrong-ca.pem, wrong-ca-key.pem     a second CA that signed nothing: a client that trusts only this one
#                                      must refuse the server (negative tests).
#
# Usage: gen-certs.sh DIR
# Keys are RSA 2048 (what every TLS library accepts); certificates are valid for ten years from now.
# Nothing here is secret: the files exist only for the lifetime of one rig.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: gen-certs.sh DIR" >&2
  exit 64
fi
dir=$1
command -v openssl >/dev/null 2>&1 || { echo "gen-certs: openssl not found" >&2; exit 69; }
mkdir -p "$dir"
cd "$dir"

# openssl writes progress dots and prompts otherwise; keep its chatter in a log that is shown on failure.
log=gen-certs.log
: >"$log"
fail() {
  echo "gen-certs: $1 (openssl output follows)" >&2
  tail -n 20 "$log" >&2
  exit 1
}

# A self-signed CA. "-addext" makes the CA constraints explicit instead of relying on the system
# openssl.cnf defaults; OPENSSL_CONF=/dev/null would lose the distinguished-name section "req" needs.
make_ca() { # name subject
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
    -keyout "$1-key.pem" -out "$1.pem" -subj "$2" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" </dev/null >>"$log" 2>&1 || fail "cannot create CA $1"
}

make_ca ca "/O=mysql2mongo test rig/CN=mysql2mongo test CA"
make_ca wrong-ca "/O=mysql2mongo test rig/CN=mysql2mongo unrelated CA"

openssl req -new -newkey rsa:2048 -nodes -sha256 -keyout server-key.pem -out server.csr \
  -subj "/O=mysql2mongo test rig/CN=localhost" </dev/null >>"$log" 2>&1 || fail "cannot create the server key"
cat >server-ext.cnf <<'EOF'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, IP:::1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
# A random serial: two rigs' certificates never share issuer+serial, which some TLS caches key on.
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -set_serial "0x$(openssl rand -hex 8)" \
  -sha256 -days 3650 -extfile server-ext.cnf -out server-cert.pem </dev/null >>"$log" 2>&1 \
  || fail "cannot sign the server certificate"
rm -f server.csr server-ext.cnf

openssl verify -CAfile ca.pem server-cert.pem >>"$log" 2>&1 || fail "the server certificate does not verify"
if openssl verify -CAfile wrong-ca.pem server-cert.pem >>"$log" 2>&1; then
  fail "the unrelated CA verifies the server certificate"
fi
