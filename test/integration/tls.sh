#!/usr/bin/env bash
# TLS: https with peer and host verification by default; a self-signed
# certificate fails verification without ca_file (a clear error) and works
# with it.
source "$(dirname "$0")/../lib.sh"

genie_tmpdir
cert=$GENIE_TMP/emulator.crt
key=$GENIE_TMP/emulator.key
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
	-addext "subjectAltName=IP:127.0.0.1" \
	-keyout "$key" -out "$cert" >/dev/null 2>&1
chmod 644 "$cert"
# a second certificate for "wrong host" checks
other=$GENIE_TMP/other.crt
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=example.com" \
	-addext "subjectAltName=DNS:example.com" \
	-keyout "$GENIE_TMP/other.key" -out "$other" >/dev/null 2>&1
chmod 644 "$other"

genie_start_emulator --answer-seconds 0.2 --questions-per-minute 0 --tls-cert "$cert" --tls-key "$key"
case $GENIE_EMULATOR_URL in https://*) ;; *) echo "emulator is not in TLS mode"; exit 1 ;; esac
genie_start_cluster
genie_setup_sql

SEED='Which products generate the highest total sales value?'
out=$(psql -X -c "SELECT count(*) FROM q WHERE question = '$SEED'" 2>&1 || true)
echo "$out" | sed 's/^/# /'
check "without ca_file: verification fails" grep -q "could not establish a TLS connection" <<<"$out"
check "without ca_file: the hint names ca_file" grep -q "ca_file" <<<"$out"

out=$(psql -X -At -c "ALTER SERVER genie OPTIONS (ADD ca_file '$other')" \
	-c "SELECT count(*) FROM q WHERE question = '$SEED'" 2>&1 || true)
check "a CA for another certificate: verification fails" grep -q "could not establish a TLS connection" <<<"$out"

out=$(psql -X -At -c "ALTER SERVER genie OPTIONS (SET ca_file '$cert')" \
	-c "SELECT count(*) FROM q WHERE question = '$SEED'" 2>&1 || true)
echo "$out" | sed 's/^/# /'
check "with ca_file: the answer arrives over https" grep -qx "5" <<<"$out"

# the certificate names 127.0.0.1, not this host name: host verification fails
out=$(psql -X -At -c "ALTER SERVER genie OPTIONS (SET host '${GENIE_EMULATOR_URL/127.0.0.1/localhost}')" \
	-c "SELECT count(*) FROM q WHERE question = '$SEED'" 2>&1 || true)
echo "$out" | sed 's/^/# /'
check "host name not in the certificate: verification fails" grep -q "could not establish a TLS connection" <<<"$out"

check_done
