#!/usr/bin/env bash
# Proxies: the server's environment (http_proxy, https_proxy, ALL_PROXY) is
# never used, only the server option "proxy"; through a proxy, questions and
# downloads work (plain requests forwarded, https tunnelled with CONNECT) and
# download links are checked by host name; a proxy's password never shows.
# Every address used is on this machine: the environment's proxies point at a
# closed loopback port, the test's proxy (tiny_proxy.py) forwards to loopback
# targets only.
source "$(dirname "$0")/../lib.sh"

genie_tmpdir
PROXY_PID=
TLS_PID=
proxy_cleanup() {
	local rc=$?
	set +e
	local pid
	for pid in $PROXY_PID $TLS_PID; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	genie_cleanup
	exit $rc
}
trap proxy_cleanup EXIT

genie_start_emulator --answer-seconds 0.2 --questions-per-minute 0 --chunk-rows 1000
closed=$(genie_free_port)

# the postmaster (and so every backend) gets proxies that lead nowhere
http_proxy=http://127.0.0.1:$closed https_proxy=http://127.0.0.1:$closed \
	HTTPS_PROXY=http://127.0.0.1:$closed ALL_PROXY=http://127.0.0.1:$closed \
	all_proxy=socks5h://127.0.0.1:$closed no_proxy= genie_start_cluster
pm_env=$(tr '\0' '\n' </proc/"$(head -1 "$GENIE_TMP/data/postmaster.pid")"/environ)
check "the postmaster's environment has http_proxy" grep -qx "http_proxy=http://127.0.0.1:$closed" <<<"$pm_env"
check "the postmaster's environment has ALL_PROXY" grep -qx "ALL_PROXY=http://127.0.0.1:$closed" <<<"$pm_env"

genie_setup_sql "max_retries '1'"
psql -X -q -v ON_ERROR_STOP=1 -c \
	"CREATE FOREIGN TABLE big (question text, id bigint) SERVER genie OPTIONS (full_results 'true')"
emuctl config download_seconds=0

SEED='Which products generate the highest total sales value?'
out=$(psql -X -At -c "SELECT count(*) FROM q WHERE question = '$SEED'" 2>&1 || true)
echo "$out" | sed 's/^/# /'
check "environment proxies: a question is answered directly" grep -qx "5" <<<"$out"
out=$(psql -X -At -c "SELECT count(*), max(id) FROM big WHERE question = 'Generate 2500 rows'" 2>&1 || true)
echo "$out" | sed 's/^/# /'
check "environment proxies: a download comes directly" grep -qx "2500|2500" <<<"$out"

# the test's proxy
plog=$GENIE_TMP/proxy.log
: >"$plog"
python3 "$GENIE_ROOT/test/integration/tiny_proxy.py" --log "$plog" >"$GENIE_TMP/proxy.out" 2>&1 &
PROXY_PID=$!
for _ in $(seq 1 50); do
	grep -q "listening on" "$GENIE_TMP/proxy.out" && break
	sleep 0.1
done
pport=$(sed -n 's/proxy listening on //p' "$GENIE_TMP/proxy.out")
say "proxy at 127.0.0.1:$pport"
# requests the proxy saw: count, or those matching a jq-free grep pattern
seen() { grep -c -- "${1:-.}" "$plog" || true; }

psql -X -q -c "ALTER SERVER genie OPTIONS (ADD proxy 'http://127.0.0.1:$pport')"
out=$(psql -X -At -c "SELECT count(*) FROM q WHERE question = '$SEED'" \
	-c "SELECT count(*), max(id) FROM big WHERE question = 'Generate 2500 rows'" 2>&1 || true)
echo "$out" | sed 's/^/# /'
check "option proxy: a question is answered through the proxy" grep -qx "5" <<<"$out"
check "option proxy: a download comes through the proxy" grep -qx "2500|2500" <<<"$out"
api=$(seen '"path": "/api/')
storage=$(seen '"path": "/__storage/')
say "the proxy saw $(seen) connections: $api API requests, $storage storage requests"
check "the proxy forwarded the API requests" [ "$api" -ge 4 ]
check "the proxy forwarded the three chunk downloads" [ "$storage" -eq 3 ]

# through a proxy, a link's host is checked as written, before any connection
before=$(seen)
emuctl config link_host=https://127.0.0.2
out=$(psql -X -c "SELECT count(*) FROM big WHERE question = 'Generate 2500 rows'" 2>&1 || true)
echo "$out" | sed 's/^/# /'
check "option proxy: a link to 127.0.0.2 is refused" \
	grep -q 'DETAIL:  The link.s host "127.0.0.2" is a loopback address' <<<"$out"
emuctl config link_host=https://localhost:1
out=$(psql -X -c "SELECT count(*) FROM big WHERE question = 'Generate 2500 rows'" 2>&1 || true)
check "option proxy: a link to localhost is refused" \
	grep -q 'DETAIL:  The link.s host "localhost" resolves to a loopback address' <<<"$out"
emuctl config link_host=https://2130706433:1
out=$(psql -X -c "SELECT count(*) FROM big WHERE question = 'Generate 2500 rows'" 2>&1 || true)
check "option proxy: a link to 2130706433 is refused" \
	grep -q 'ERROR:  Genie returned a download link to a disallowed address' <<<"$out"
check "option proxy: no refused link reached the proxy" [ "$(seen '__storage')" -eq "$storage" ]
check "the proxy never refused a target" [ "$(seen '"allowed": false')" -eq 0 ]
emuctl config 'link_host=""'
say "the proxy saw $(($(seen) - before)) more connections (API requests of the refused downloads)"

# a proxy's password never shows, not even when the proxy fails
psql -X -q -c "ALTER SERVER genie OPTIONS (SET proxy 'http://genie:pr0xy-pa55w0rd@127.0.0.1:$closed')"
out=$(psql -X -c "SELECT count(*) FROM q WHERE question = '$SEED'" 2>&1 || true)
echo "$out" | sed 's/^/# /'
check "a failing proxy: the request fails" grep -q "ERROR:  Genie request for a new conversation failed" <<<"$out"
check "a failing proxy: its password is not shown" bash -c '! grep -q "pr0xy-pa55w0rd" <<<"$1"' _ "$out"
check "a failing proxy: its password is not in the server log" \
	bash -c '! grep -q "pr0xy-pa55w0rd" "$1"' _ "$GENIE_TMP/sock/postgres.log"

# https through the proxy: CONNECT tunnels to an emulator with TLS; its own
# loopback origin in the links is allowed by literal address and port
cert=$GENIE_TMP/emulator.crt
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
	-addext "subjectAltName=IP:127.0.0.1" -keyout "$GENIE_TMP/emulator.key" -out "$cert" >/dev/null 2>&1
chmod 644 "$cert"
python3 "$GENIE_ROOT/test/genie_emulator.py" --port 0 --answer-seconds 0.2 --questions-per-minute 0 \
	--tls-cert "$cert" --tls-key "$GENIE_TMP/emulator.key" >"$GENIE_TMP/tls.out" 2>&1 &
TLS_PID=$!
for _ in $(seq 1 100); do
	grep -q "listening on" "$GENIE_TMP/tls.out" && break
	sleep 0.1
done
tls_url=$(sed -n 's/.*listening on \(https:\/\/[^ ]*\).*/\1/p' "$GENIE_TMP/tls.out")
say "TLS emulator at $tls_url"
before=$(seen CONNECT)
out=$(psql -X -At -v url="$tls_url" -v token="$GENIE_TOKEN" <<SQL 2>&1 || true
CREATE SERVER tls FOREIGN DATA WRAPPER genie_fdw
  OPTIONS (host :'url', space_id '01f0000000000000000000000000000a', ca_file '$cert',
           proxy 'http://127.0.0.1:$pport', poll_interval '0.05', max_poll_interval '0.2');
CREATE USER MAPPING FOR CURRENT_USER SERVER tls OPTIONS (token :'token');
CREATE FOREIGN TABLE tbig (question text, id bigint) SERVER tls OPTIONS (full_results 'true');
SELECT count(*), max(id) FROM tbig WHERE question = 'Generate 1500 rows';
SQL
)
echo "$out" | sed 's/^/# /'
check "https through the proxy: the download comes" grep -qx "1500|1500" <<<"$out"
check "https through the proxy: tunnelled with CONNECT" [ "$(($(seen CONNECT) - before))" -ge 1 ]
# and directly: the links of an https loopback host are its own origin too
before=$(seen)
out=$(psql -X -At -c "ALTER SERVER tls OPTIONS (DROP proxy)" \
	-c "SELECT count(*), max(id) FROM tbig WHERE question = 'Generate 1500 rows'" 2>&1 || true)
echo "$out" | sed 's/^/# /'
check "https without the proxy: the download comes directly" grep -qx "1500|1500" <<<"$out"
check "https without the proxy: the proxy saw nothing" [ "$(seen)" -eq "$before" ]

# without the option, nothing goes through the proxy again
psql -X -q -c "ALTER SERVER genie OPTIONS (DROP proxy)"
before=$(seen)
out=$(psql -X -At -c "SELECT count(*), max(id) FROM big WHERE question = 'Generate 1200 rows'" 2>&1 || true)
check "proxy dropped: the download comes directly" grep -qx "1200|1200" <<<"$out"
check "proxy dropped: the proxy saw nothing" [ "$(seen)" -eq "$before" ]

check_done
