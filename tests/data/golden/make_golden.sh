#!/usr/bin/env bash
# Writes the expected `danegate tlsa create` outputs for golden-cert.pem with openssl pipelines
# (never with danegate's own code), so tests/dane/tlsa_create_test.cpp compares against an
# independent implementation. With --new-cert it first replaces golden-cert.pem with a fresh
# self-signed EC P-256 certificate; its key is thrown away, as nothing here needs it.
set -euo pipefail
cd "$(dirname "$0")"

if [ "${1:-}" = "--new-cert" ]; then
  key=$(mktemp)
  trap 'rm -f "$key"' EXIT
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$key" \
    -out golden-cert.pem -subj "/CN=app.example" -addext "subjectAltName=DNS:app.example" \
    -days 36500 2>/dev/null
fi

# Selector 1 (SubjectPublicKeyInfo), matching type 1 (SHA2-256), RFC 6698 §2.1.
spki_sha256=$(openssl x509 -in golden-cert.pem -noout -pubkey | openssl pkey -pubin -outform DER |
  openssl dgst -sha256 -r | cut -d' ' -f1)

printf '3 1 1 %s\n' "$spki_sha256" > golden-311.txt
printf '_443._tcp.app.example. 3600 IN TLSA 3 1 1 %s\n' "$spki_sha256" > golden-zone-line.txt
