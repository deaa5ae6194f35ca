#!/usr/bin/env bash
# Generates (once) the test CA and certificates used by the Graph simulator over HTTPS:
#   .tmp/certs/ca.pem            test CA (trusted through NODE_EXTRA_CA_CERTS; see package.json "test")
#   .tmp/certs/server.pem/.key   server certificate for 127.0.0.1 and localhost
#   .tmp/certs/client-cert.pem   application certificate + key (ClientCertificateCredential)
# Why HTTPS at all: @azure/identity, MSAL and the Graph client refuse plain http
# (../shared/reference/graph-api-facts.md §0).
set -euo pipefail
DIR=${CERT_DIR:-"$(cd "$(dirname "$0")/.." && pwd)/.tmp/certs"}
[ -s "$DIR/ca.pem" ] && [ -s "$DIR/server.pem" ] && [ -s "$DIR/client-cert.pem" ] && exit 0
mkdir -p "$DIR" && cd "$DIR"
q() { "$@" >/dev/null 2>&1; }
q openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 3650 -subj "/CN=entra-wp-sync test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
q openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=127.0.0.1"
printf "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n" > server.ext
q openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 825 -extfile server.ext
q openssl req -x509 -newkey rsa:2048 -nodes -keyout client.key -out client.crt -days 825 -subj "/CN=entra-wp-sync test app"
cat client.crt client.key > client-cert.pem
chmod 600 ./*.key client-cert.pem
echo "[make-test-certs] test certificates written to $DIR" >&2
