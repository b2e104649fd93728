#!/usr/bin/env python3
"""The benchmark driver behind test/bench/run.sh (which sets up what it needs; run that).

Measures genie_fdw (through psql) side by side with a seed-style Python client (seed_client.py),
Databricks' official JavaScript SDK (sdk_client.mjs) and raw curl, against the benchmark emulator:
  1. answer latency: time to first row minus the emulator's answer time T, and polls;
  2. throughput: rows per second and peak RSS for large answers, against the curl + json-c floor;
  3. concurrency: 8 questions in one statement versus the same 8 asked one after another;
  4. CPU per row: instructions per answer row under callgrind, split by stage;
  5. ask once, re-run fresh: the second asking of a question with refresh 'rerun' against asked
     again, 1 and 10 sessions, not preloaded and preloaded, against a second emulator with the
     realistic profile (--profile real); --only=rerun measures it alone into BENCHMARKS.md.
Prints the tables and writes BENCHMARKS.md.  It reports figures; it does not fail on them.

Environment (from run.sh): GENIE_EMULATOR_URL, GENIE_TMP, PG_BIN, GENIE_BENCH_MODULE, and PGHOST,
PGPORT, PGUSER, PGDATABASE of the throw-away cluster.
"""

import argparse
import datetime
import json
import math
import os
import pickle
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SPACE = "01f0000000000000000000000000000a"
TOKEN = os.environ.get("GENIE_TOKEN", "dapi-emulator-token")
URL = os.environ.get("GENIE_EMULATOR_URL", "")
TMP = os.environ.get("GENIE_TMP", "")
PG_BIN = os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")
MODULE = os.environ.get("GENIE_BENCH_MODULE", "")

CHUNK_ROWS = 25000            # the emulator's chunk size for every run (set in run.sh)
COLUMNS = "(question text, id bigint, name text, qty int, amount numeric(12,2), ts timestamptz, flag boolean)"
LATENCY_QUESTION = "Generate 100 rows"
CONCURRENT_QUESTIONS = ["Generate %d rows" % n for n in range(101, 109)]
CONCURRENT_T = 3.0
CALLGRIND_ROWS = 50000
CLIENTS = ["python", "js", "fdw"]
TPUT_CLIENTS = ["python", "python_typed", "js", "fdw", "curl"]
NAMES = {"python": "Python seed-style client", "python_typed": "Python seed-style, values typed",
         "js": "JS SDK (@databricks/sdk-experimental)", "fdw": "genie_fdw (psql)",
         "curl": "curl (transfer floor)"}


def log(msg):
    print("==> " + msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Processes, the emulator, psql
# --------------------------------------------------------------------------------------------

class Proc:
    def __init__(self, rc, out, err, wall, maxrss_kb):
        self.rc, self.out, self.err, self.wall, self.maxrss_kb = rc, out, err, wall, maxrss_kb


def run(cmd, stdin_text=None, cwd=None):
    """Run a command; its wall time and its own peak RSS (wait4's ru_maxrss, KiB)."""
    with tempfile.TemporaryFile() as fin, tempfile.TemporaryFile() as fout, \
            tempfile.TemporaryFile() as ferr:
        if stdin_text is not None:
            fin.write(stdin_text.encode("utf-8"))
            fin.seek(0)
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdin=fin, stdout=fout, stderr=ferr, cwd=cwd)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.monotonic() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        fout.seek(0)
        ferr.seek(0)
        return Proc(p.returncode, fout.read().decode("utf-8", "replace"),
                    ferr.read().decode("utf-8", "replace"), wall, ru.ru_maxrss)


def must(p, what):
    if p.rc != 0:
        raise SystemExit("bench: %s failed (exit %d):\n%s\n%s" % (what, p.rc, p.out[-2000:], p.err[-2000:]))
    return p


def control(method, path, obj=None, url=None):
    data = json.dumps(obj).encode("utf-8") if obj is not None else None
    req = urllib.request.Request((url or URL) + "/__emulator/" + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"} if data else {})
    with urllib.request.urlopen(req, timeout=60) as r:
        body = r.read()
    return json.loads(body) if body else {}


def emu_reset(**config):
    control("POST", "reset", {})
    if config:
        control("POST", "config", config)


def emu_polls():
    """requests.get_message of the emulator's stats (what `emuctl stats requests.get_message` shows)."""
    return control("GET", "stats")["requests"].get("get_message", 0)


def api(method, path, obj=None):
    data = json.dumps(obj).encode("utf-8") if obj is not None else None
    req = urllib.request.Request(URL + path, data=data, method=method,
                                 headers={"Authorization": "Bearer " + TOKEN,
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read())


def psql(script, check=True):
    p = run([os.path.join(PG_BIN, "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-f", "-"],
            stdin_text=script)
    if check:
        must(p, "psql")
    return p


def psql_times(out):
    return [float(x) / 1000.0 for x in re.findall(r"^Time: ([\d.]+) ms", out, re.M)]


def sql_str(s):
    return "'" + s.replace("'", "''") + "'"


def client(kind, questions, full=False):
    """Run the Python or JS client on questions (full: rows from a full-result download; Python
    only); (its JSON report, Proc)."""
    if kind == "python":
        cmd = [sys.executable, os.path.join(HERE, "seed_client.py")]
    elif kind == "python_typed":
        cmd = [sys.executable, os.path.join(HERE, "seed_client.py"), "--typed"]
    else:
        cmd = ["node", os.path.join(HERE, "sdk_client.mjs")]
    if full:
        cmd.append("--full")
    p = must(run(cmd + [URL, TOKEN, SPACE] + list(questions), cwd=HERE), kind + " client")
    return json.loads(p.out.strip().splitlines()[-1]), p


def setup_sql():
    """Two scripts: the extension, then servers and tables (in a new session: the first one has
    loaded the installed module, and a backend cannot load a second copy of it)."""
    first = ["CREATE EXTENSION IF NOT EXISTS genie_fdw;"]
    if MODULE:
        # the module built at the start of this run (see run.sh), not whatever is installed later
        first.append("UPDATE pg_proc SET probin = %s WHERE probin = '$libdir/genie_fdw';" % sql_str(MODULE))
    second = []
    # the options every user gets: nothing but where and what to ask
    second.append("CREATE SERVER bench_default FOREIGN DATA WRAPPER genie_fdw OPTIONS (host %s, space_id %s);"
                  % (sql_str(URL), sql_str(SPACE)))
    second.append("CREATE USER MAPPING FOR CURRENT_USER SERVER bench_default OPTIONS (token %s);" % sql_str(TOKEN))
    second.append("CREATE FOREIGN TABLE gen %s SERVER bench_default;" % COLUMNS)
    # the same with full results: a table option that picks the feature, not a tuning
    second.append("CREATE FOREIGN TABLE genf %s SERVER bench_default OPTIONS (full_results 'true');" % COLUMNS)
    return first, second


def median(xs):
    return statistics.median(xs) if xs else float("nan")


# --------------------------------------------------------------------------------------------
# 1. Answer latency
# --------------------------------------------------------------------------------------------

def fdw_first_row():
    p = psql("\\timing on\nSELECT id FROM gen WHERE question = %s LIMIT 1;\n" % sql_str(LATENCY_QUESTION))
    return psql_times(p.out)[0]


def bench_latency(ts, reps):
    res = {}
    for t in ts:
        for rep in range(reps[t]):
            for kind in CLIENTS:
                emu_reset(answer_seconds=t)
                if kind == "fdw":
                    first = fdw_first_row()
                else:
                    first = client(kind, [LATENCY_QUESTION])[0]["results"][0]["first_row"]
                polls = emu_polls()
                res.setdefault((t, kind), []).append((first - t, polls))
                log("latency T=%g s %-6s run %d: first row %.3f s after T, %d polls"
                    % (t, kind, rep + 1, first - t, polls))
    return res


def bench_fixed_cost(reps=5):
    """A genie_fdw query's own cost with an immediate answer: a new backend's first query and a
    second one in the same session, with JIT on (the default) and off."""
    res = {}
    for jit in ("on", "off"):
        for _ in range(reps):
            emu_reset(answer_seconds=0)
            q1, q2 = sql_str("Generate 100 rows"), sql_str("Generate 99 rows")
            p = psql("SET jit = %s;\n\\timing on\nSELECT id FROM gen WHERE question = %s LIMIT 1;\n"
                     "SELECT id FROM gen WHERE question = %s LIMIT 1;\n" % (jit, q1, q2))
            first, second = psql_times(p.out)
            # less each question's wait for its answer (genie_fdw's first poll comes after
            # poll_interval; the emulator's answer is ready at once)
            st = control("GET", "stats")
            waits = sorted((st["asked_at"][m], st["answered_at"][m] - st["asked_at"][m])
                           for m in st["answered_at"] if m in st["asked_at"])
            if len(waits) != 2:
                raise SystemExit("bench: fixed cost: %d answers seen, not 2" % len(waits))
            res.setdefault(jit, []).append((first - waits[0][1], second - waits[1][1]))
    for jit in ("on", "off"):
        log("fixed cost, jit %-3s: first query of a backend %.1f ms, second %.1f ms" % (
            jit, 1000 * median([a for a, _ in res[jit]]), 1000 * median([b for _, b in res[jit]])))
    return res


# --------------------------------------------------------------------------------------------
# 2. Throughput and memory
# --------------------------------------------------------------------------------------------

def fdw_copy(n, table="gen"):
    q = sql_str("Generate %d rows" % n)
    script = """EXPLAIN SELECT * FROM gen WHERE question = 'load the module; nothing is asked';
SELECT pg_backend_pid() \\gset
\\setenv GENIE_BENCH_PID :pg_backend_pid
SELECT 'rss_before ' || substring(pg_read_file('/proc/self/status') from 'VmRSS:\\s*(\\d+)');
\\! echo 5 > /proc/$GENIE_BENCH_PID/clear_refs
\\timing on
COPY (SELECT id, name, qty, amount, ts, flag FROM %s WHERE question = %s) TO '/dev/null';
\\timing off
SELECT 'copy_end ' || extract(epoch from clock_timestamp());
SELECT 'hwm_after ' || substring(pg_read_file('/proc/self/status') from 'VmHWM:\\s*(\\d+)');
SELECT 'file_after ' || substring(pg_read_file('/proc/self/status') from 'RssFile:\\s*(\\d+)');
""" % (table, q)
    p = psql(script)
    before = int(re.search(r"rss_before (\d+)", p.out).group(1))
    hwm = int(re.search(r"hwm_after (\d+)", p.out).group(1))
    rss_file = int(re.search(r"file_after (\d+)", p.out).group(1))
    end = float(re.search(r"copy_end ([\d.]+)", p.out).group(1))
    return psql_times(p.out)[0], before, hwm, rss_file, end


def ask_statement(question):
    """Ask through the API (untimed) and return the statement id and chunk count of the answer."""
    st = api("POST", "/api/2.0/genie/spaces/%s/start-conversation" % SPACE, {"content": question})
    path = "/api/2.0/genie/spaces/%s/conversations/%s/messages/%s" % (SPACE, st["conversation_id"], st["message_id"])
    for _ in range(600):
        msg = api("GET", path)
        if msg["status"] == "COMPLETED":
            break
        time.sleep(0.05)
    sid = [a["query"] for a in msg["attachments"] if "query" in a][-1]["statement_id"]
    stmt = api("GET", "/api/2.0/sql/statements/%s" % sid)
    return sid, stmt["manifest"]["total_chunk_count"]


def chunk_urls(sid, nchunks):
    return ([URL + "/api/2.0/sql/statements/%s" % sid] +
            [URL + "/api/2.0/sql/statements/%s/result/chunks/%d" % (sid, i) for i in range(1, nchunks)])


def curl_fetch(urls, outdir=None):
    """Fetch urls one after another on one connection: the sum of the transfers' times, bytes, RSS.
    A url is a string (an API request, with the token) or (url, headers) (a storage link: its own
    headers and never the token)."""
    cfg = os.path.join(TMP, "curl.cfg")
    with open(cfg, "w") as f:
        for i, u in enumerate(urls):
            if i:
                f.write("next\n")            # a new set of options; connections are still reused
            u, hdrs = (u, {"Authorization": "Bearer " + TOKEN}) if isinstance(u, str) else u
            for k, v in hdrs.items():
                f.write('header = "%s: %s"\n' % (k, v))
            out = os.path.join(outdir, "chunk%04d.json" % i) if outdir else "/dev/null"
            f.write('silent\nshow-error\nfail\nwrite-out = "%%{size_download} %%{time_total}\\n"\n'
                    'url = "%s"\noutput = "%s"\n' % (u, out))
    p = must(run(["curl", "-K", cfg]), "curl")
    # the transfers' own times (one after another on one connection), not curl's start-up
    lines = [l.split() for l in p.out.split("\n") if l.strip()]
    return sum(float(t) for _, t in lines), sum(int(n) for n, _ in lines), p.maxrss_kb


def ask_download(question):
    """Ask and download through the API (untimed): what a client fetches once the download is
    ready, in its order: the download (its first link), then per further file the chunk endpoint
    (its link) and the file; as curl_fetch urls."""
    st = api("POST", "/api/2.0/genie/spaces/%s/start-conversation" % SPACE, {"content": question})
    mpath = "/api/2.0/genie/spaces/%s/conversations/%s/messages/%s" % (SPACE, st["conversation_id"],
                                                                     st["message_id"])
    for _ in range(600):
        msg = api("GET", mpath)
        if msg["status"] == "COMPLETED":
            break
        time.sleep(0.05)
    att = [a for a in msg["attachments"] if "query" in a][-1]["attachment_id"]
    base = "%s/attachments/%s/downloads" % (mpath, att)
    d = api("POST", base)
    dpath = "%s/%s?download_id_signature=%s" % (base, d["download_id"],
                                                urllib.parse.quote(d["download_id_signature"], safe=""))
    for _ in range(600):
        resp = api("GET", dpath)["statement_response"]
        if resp["status"]["state"] == "SUCCEEDED":
            break
        time.sleep(0.05)
    urls = [URL + dpath]
    link = resp["result"]["external_links"][0]
    while True:
        urls.append((link["external_link"], dict(link.get("http_headers") or {})))
        nxt = link.get("next_chunk_internal_link")
        if not nxt:
            return urls
        urls.append(URL + nxt)
        link = api("GET", nxt)["external_links"][0]


def jsonc_parser():
    exe = os.path.join(TMP, "jsonc_parse")
    if not os.path.exists(exe):
        flags = subprocess.check_output(["pkg-config", "--cflags", "--libs", "json-c"], text=True).split()
        src = os.path.join(ROOT, "src")
        must(run(["gcc", "-O2", "-I", src, "-o", exe, os.path.join(HERE, "jsonc_parse.c"),
                  os.path.join(src, "rowscan.c"), os.path.join(src, "genie_decode.c")] + flags),
             "building jsonc_parse")
    return exe


def bench_throughput(sizes, reps):
    res = {}
    for _ in range(2):                   # the backend's peak for a 1-row answer: the fixed part
        emu_reset(answer_seconds=0)
        secs, before, hwm, rss_file, _ = fdw_copy(1)
        res.setdefault((1, "fdw_1row"), []).append({"secs": secs, "rss_kb": hwm, "rss_before_kb": before,
                                                    "rss_file_kb": rss_file})
    log("throughput: a 1-row answer peaks at %.0f MB in the backend" % (hwm / 1024))
    for n in sizes:
        q = "Generate %d rows" % n
        emu_reset(answer_seconds=0)
        t0 = time.monotonic()
        client("python", [q])            # fills the emulator's cache; not measured
        log("throughput %d rows: emulator rendered the answer in %.1f s (cached from now on)"
            % (n, time.monotonic() - t0))
        for rep in range(reps):
            for kind in TPUT_CLIENTS:
                emu_reset(answer_seconds=0)
                if kind == "fdw":
                    secs, before, hwm, rss_file, end = fdw_copy(n)
                    st = control("GET", "stats")
                    asked = st["requests"].get("start_conversation", 0)
                    if asked != 1 or len(st["answered_at"]) != 1:
                        raise SystemExit("bench: genie_fdw asked %d questions for one COPY" % asked)
                    # the backend's clock after the COPY, the emulator's when it served the answer
                    after = end - list(st["answered_at"].values())[0]
                    r = {"secs": secs, "after_answer": after, "rss_kb": hwm, "rss_before_kb": before,
                         "rss_file_kb": rss_file}
                elif kind == "curl":
                    sid, nchunks = ask_statement(q)
                    secs, nbytes, rss = curl_fetch(chunk_urls(sid, nchunks))
                    r = {"secs": secs, "rss_kb": rss, "bytes": nbytes, "chunks": nchunks}
                else:
                    j, p = client(kind, [q])
                    a = j["results"][0]
                    if a["rows"] != n:
                        raise SystemExit("bench: %s read %d rows of %d" % (kind, a["rows"], n))
                    r = {"secs": a["last_row"], "answered": a["answered"],
                         "after_answer": a["last_row"] - a["answered"], "rss_kb": p.maxrss_kb}
                res.setdefault((n, kind), []).append(r)
                log("throughput %d rows %-6s run %d: %.3f s, peak RSS %.0f MB"
                    % (n, kind, rep + 1, r["secs"], r["rss_kb"] / 1024))
        # the JSON parsing floor: json-c on the same bytes
        emu_reset(answer_seconds=0)
        sid, nchunks = ask_statement(q)
        d = tempfile.mkdtemp(dir=TMP)
        curl_fetch(chunk_urls(sid, nchunks), d)
        files = sorted(os.path.join(d, f) for f in os.listdir(d))
        p = must(run([jsonc_parser(), "3"] + files), "jsonc_parse")
        best, rows, values, nbytes, _, scan = p.out.split()
        res[(n, "parse")] = [{"secs": float(best), "bytes": int(nbytes), "rows": int(rows)}]
        res[(n, "scan")] = [{"secs": float(scan), "bytes": int(nbytes), "rows": int(rows)}]
        shutil.rmtree(d)
        log("throughput %d rows: json-c parses the %.1f MB in %.3f s, genie_fdw's decoders in %.3f s"
            % (n, int(nbytes) / 1e6, float(best), float(scan)))
    return res


# --------------------------------------------------------------------------------------------
# 2b. Full results: the rows of a full-result download (external links)
# --------------------------------------------------------------------------------------------

FULL_CLIENTS = ["python", "python_typed", "fdw", "curl"]


def download_seen(stats):
    """The wall time the emulator first served the (one) download of a run as SUCCEEDED."""
    dl = [v for v in stats["downloads"].values() if "ready_seen" in v]
    if len(dl) != 1:
        raise SystemExit("bench: %d downloads ready in one run" % len(dl))
    return dl[0]["ready_seen"]


def bench_full(sizes, reps):
    res = {}
    for n in sizes:
        q = "Generate %d rows" % n
        emu_reset(answer_seconds=0, download_seconds=0)
        t0 = time.monotonic()
        client("python", [q], full=True)           # fills the emulator's cache; not measured
        log("full results %d rows: emulator rendered the files in %.1f s (cached from now on)"
            % (n, time.monotonic() - t0))
        for rep in range(reps):
            for kind in FULL_CLIENTS:
                emu_reset(answer_seconds=0, download_seconds=0)
                if kind == "fdw":
                    secs, before, hwm, rss_file, end = fdw_copy(n, "genf")
                    st = control("GET", "stats")
                    r = {"secs": secs, "after_ready": end - download_seen(st), "rss_kb": hwm,
                         "rss_before_kb": before, "rss_file_kb": rss_file}
                elif kind == "curl":
                    secs, nbytes, rss = curl_fetch(ask_download(q))
                    r = {"secs": secs, "rss_kb": rss, "bytes": nbytes}
                else:
                    j, p = client(kind, [q], full=True)
                    a = j["results"][0]
                    if a["rows"] != n:
                        raise SystemExit("bench: %s read %d rows of %d" % (kind, a["rows"], n))
                    r = {"secs": a["last_row"], "rss_kb": p.maxrss_kb,
                         "after_ready": a["last_row_wall"] - download_seen(control("GET", "stats"))}
                res.setdefault((n, kind), []).append(r)
                log("full results %d rows %-12s run %d: %.3f s, peak RSS %.0f MB"
                    % (n, kind, rep + 1, r["secs"], r["rss_kb"] / 1024))
    return res


def bench_download_latency(tds, reps):
    """Time from a download's readiness (made + download_seconds) to the first row, and polls."""
    res = {}
    for td in tds:
        for rep in range(reps[td]):
            for kind in ("python", "fdw"):
                emu_reset(answer_seconds=0, download_seconds=td)
                if kind == "fdw":
                    p = psql("SELECT id FROM genf WHERE question = %s LIMIT 1;\n"
                             "SELECT 'first_row ' || extract(epoch from clock_timestamp());\n"
                             % sql_str(LATENCY_QUESTION))
                    first = float(re.search(r"first_row ([\d.]+)", p.out).group(1))
                else:
                    j, _ = client("python", [LATENCY_QUESTION], full=True)
                    first = j["results"][0]["first_row_wall"]
                st = control("GET", "stats")
                made = [v["created"] for v in st["downloads"].values()]
                if len(made) != 1:
                    raise SystemExit("bench: %d downloads made in one run" % len(made))
                o, polls = first - (made[0] + td), st["requests"].get("get_download", 0)
                res.setdefault((td, kind), []).append((o, polls))
                log("download latency T=%g s %-6s run %d: first row %.3f s after ready, %d polls"
                    % (td, kind, rep + 1, o, polls))
    return res


# --------------------------------------------------------------------------------------------
# 3. Concurrency
# --------------------------------------------------------------------------------------------

def bench_concurrency():
    res = {}
    expected = sum(int(q.split()[1]) for q in CONCURRENT_QUESTIONS)
    for kind in ["python", "js"]:
        emu_reset(answer_seconds=CONCURRENT_T)
        j, _ = client(kind, CONCURRENT_QUESTIONS)
        res[kind] = {"secs": j["wall"], "polls": emu_polls()}
        log("concurrency %-6s one after another: %.2f s" % (kind, j["wall"]))
    emu_reset(answer_seconds=CONCURRENT_T)
    script = "\\timing on\n" + "".join("SELECT count(*) FROM gen WHERE question = %s;\n" % sql_str(q)
                                       for q in CONCURRENT_QUESTIONS)
    p = psql(script)
    res["fdw_seq"] = {"secs": sum(psql_times(p.out)), "polls": emu_polls()}
    log("concurrency fdw    one after another: %.2f s" % res["fdw_seq"]["secs"])
    emu_reset(answer_seconds=CONCURRENT_T)
    inlist = ", ".join(sql_str(q) for q in CONCURRENT_QUESTIONS)
    p = psql("\\timing on\nSELECT count(*) FROM gen WHERE question IN (%s);\n" % inlist, check=False)
    if p.rc == 0:
        count = int(p.out.split()[0])
        res["fdw_in"] = {"secs": psql_times(p.out)[0], "polls": emu_polls(), "count": count,
                         "ok": count == expected}
        log("concurrency fdw    IN (8 questions): %.2f s, count %d (expected %d)"
            % (res["fdw_in"]["secs"], count, expected))
    else:
        err = p.err.strip().splitlines()[0] if p.err.strip() else "exit %d" % p.rc
        res["fdw_in"] = {"error": err, "unsupported": "needs a question" in p.err}
        log("concurrency fdw    IN (8 questions): not measured: %s" % err)
    return res


# --------------------------------------------------------------------------------------------
# 4. CPU per row under callgrind
# --------------------------------------------------------------------------------------------

ANNOT_RX = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.+?) \[(.+)\]\s*$")


def annotate(path):
    out = subprocess.check_output(["callgrind_annotate", "--inclusive=yes", "--threshold=100", path],
                                  text=True, errors="replace")
    funcs = {}
    total = None
    for line in out.splitlines():
        m = re.match(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+PROGRAM TOTALS", line)
        if m:
            total = int(m.group(1).replace(",", ""))
            continue
        m = ANNOT_RX.match(line)
        if not m:
            continue
        name = m.group(2).rsplit(":", 1)[-1]
        if re.search(r"'\d+$", name):        # a deeper recursion level: its inclusive cost repeats
            continue
        name = name.split(".", 1)[0]           # gd_parse.constprop.0 -> gd_parse
        funcs[name] = max(funcs.get(name, 0), int(m.group(1).replace(",", "")))
    funcs["TOTAL"] = total or 0
    return funcs


# typed rows, no text output: every column is converted (the aggregate reads each), nothing is printed
TYPED_CONSUMER = ("SELECT count(id), count(name), count(qty), count(amount), count(ts), count(flag) "
                  "FROM gen WHERE question = 'Generate %d rows'")


def bench_callgrind():
    cg = os.path.join(TMP, "callgrind")
    data = os.path.join(cg, "data")
    os.makedirs(cg)
    shutil.chown(cg, "postgres", "postgres")
    must(run(["runuser", "-u", "postgres", "--", os.path.join(PG_BIN, "initdb"), "-D", data, "-A", "trust",
              "-U", "postgres", "--no-sync"], cwd=cg), "initdb for callgrind")
    single = [os.path.join(PG_BIN, "postgres"), "--single", "-D", data, "-c", "fsync=off", "postgres"]
    # single-user mode: one statement per line; the same default options (answer_seconds is 0)
    first, second = setup_sql()
    second = [l.replace("bench_default", "cg") for l in second]
    for script in (first, second):
        p = must(run(["runuser", "-u", "postgres", "--"] + single, stdin_text="\n".join(script) + "\n", cwd=cg),
                 "single-user set-up")
        if "ERROR" in p.out or "ERROR" in p.err:
            raise SystemExit("bench: single-user set-up failed:\n" + p.out[-2000:] + p.err[-2000:])
    emu_reset(answer_seconds=0)
    client("python", ["Generate %d rows" % CALLGRIND_ROWS])      # fill the emulator's cache
    prof = {}
    for n in (1, CALLGRIND_ROWS, -CALLGRIND_ROWS):      # the big run twice, to show repeatability
        emu_reset(answer_seconds=0)
        out = os.path.join(cg, "callgrind.%d.out" % n)
        n_rows = abs(n)
        p = run(["runuser", "-u", "postgres", "--", "valgrind", "--tool=callgrind", "--callgrind-out-file=" + out]
                + single, stdin_text="COPY (SELECT * FROM gen WHERE question = 'Generate %d rows') TO '/dev/null'\n"
                % n_rows, cwd=cg)
        if p.rc != 0 or "ERROR" in p.out:
            raise SystemExit("bench: callgrind run failed:\n%s\n%s" % (p.out[-2000:], p.err[-2000:]))
        prof[n] = annotate(out)
        log("callgrind %d rows: %d instructions in total" % (n_rows, prof[n]["TOTAL"]))
    # the same rows consumed typed, without turning them back into text: an aggregate over the 6 columns
    for n in (1, CALLGRIND_ROWS):
        emu_reset(answer_seconds=0)
        out = os.path.join(cg, "callgrind.typed.%d.out" % n)
        p = run(["runuser", "-u", "postgres", "--", "valgrind", "--tool=callgrind", "--callgrind-out-file=" + out]
                + single, stdin_text=TYPED_CONSUMER % n + "\n", cwd=cg)
        if p.rc != 0 or "ERROR" in p.out:
            raise SystemExit("bench: callgrind run failed:\n%s\n%s" % (p.out[-2000:], p.err[-2000:]))
        prof["typed%d" % n] = annotate(out)
        log("callgrind %d rows, typed consumer: %d instructions in total" % (n, prof["typed%d" % n]["TOTAL"]))
    cg = {"base": prof[1], "big": prof[CALLGRIND_ROWS], "again": prof[-CALLGRIND_ROWS],
          "typed_base": prof["typed1"], "typed": prof["typed%d" % CALLGRIND_ROWS]}
    names = ["TOTAL", "genieIterateForeignScan", "genie_convert_row"]
    cg["spread"] = max(abs(cg_per_row(cg, n, run="again") - cg_per_row(cg, n)) / cg_per_row(cg, n)
                       for n in names if cg_per_row(cg, n))
    return cg


def cg_per_row(cg, *names, run="big"):
    """Instructions per row of the named functions (inclusive), or None when one is missing."""
    big, base = cg[run], cg["typed_base" if run == "typed" else "base"]
    if not all(n in big for n in names):
        return None
    return sum(big[n] - base.get(n, 0) for n in names) / (CALLGRIND_ROWS - 1)


DECODERS = ["gd_decode_statement", "gd_scan_chunk", "gd_scan_rows", "gd_decode_chunk", "gd_decode_rows"]


def decode_names(cg):
    """The outermost JSON decoding calls of the row path present in the profile: the statement (first
    chunk), and the row scanner's entry points when it is used (they hand json-c what they do not
    take), else json-c's chunk decoders."""
    big = cg["big"]
    scan = [n for n in ("gd_scan_chunk", "gd_scan_rows") if n in big]
    chunk = scan if scan else [n for n in ("gd_decode_chunk", "gd_decode_rows") if n in big]
    return [n for n in ["gd_decode_statement"] + chunk if n in big]


def scanner_used(cg):
    v = cg_per_row(cg, "gd_scan_chunk")
    return v is not None and v > 0


def cg_sum(cg, names):
    vals = [cg_per_row(cg, n) for n in names]
    vals = [v for v in vals if v is not None]
    return sum(vals) if vals else None


def callgrind_table(cg):
    def pr(*names):
        return cg_per_row(cg, *names)
    total = pr("TOTAL")
    iterate = pr("genieIterateForeignScan")
    transfer = pr("curl_multi_perform")
    dnames = decode_names(cg)
    decode = cg_sum(cg, dnames)
    parse = pr("json_tokener_parse_ex")
    walk = pr("gd_chunk_from")
    scan = cg_sum(cg, [n for n in ("gd_scan_statement_result", "gd_scan_chunk", "gd_scan_rows")
                       if n in cg["big"]])
    convert = pr("genie_convert_row")
    infunc = pr("InputFunctionCall")
    text = pr("server_string")
    rows = []

    def add(label, v, of=None, note=""):
        if v is not None:
            rows.append((label, v, (v / of) if of else None, note))

    add("whole backend (COPY ... TO '/dev/null')", total, total)
    add("genie_fdw scan (genieIterateForeignScan, inclusive)", iterate, total)
    add("  HTTP transfer (curl_multi_perform: libcurl, body buffer)", transfer, total)
    add("  JSON decoding (%s)" % " + ".join(dnames), decode, total)
    if scan is not None:
        add("    row scanner, with what it hands to json-c (gd_scan_statement_result, gd_scan_chunk, "
            "gd_scan_rows)", scan, total)
    add("    json-c parse into a tree (json_tokener_parse_ex)", parse, total)
    add("    walk the json-c tree, copy values into the arena (gd_chunk_from)", walk, total)
    shown = [v for v in (parse, walk) if v is not None]
    if decode is not None and scan is None and shown and decode - sum(shown) >= 0:
        add("    free the json-c tree (json_object_put) and the rest", decode - sum(shown), total)
    fast = pr("fast_convert")
    verify = pr("pg_verify_mbstr")
    if verify is None and text is not None:
        verify = 0.0                       # never called: the scanner's values are not checked again
    add("  conversion (genie_convert_row)", convert, total)
    add("    typed fast paths (fast_convert)", fast, total)
    add("    input functions (InputFunctionCall)", infunc if infunc is not None or fast is None else 0.0, total)
    add("    UTF-8 check, encoding (server_string)", text, total)
    add("      of which UTF-8 validation (pg_verify_mbstr)", verify, total)
    if convert is not None and text is not None:
        add("    the rest of genie_convert_row", convert - (infunc or 0) - (fast or 0) - text, total)
    if None not in (iterate, transfer, decode, convert):
        add("  the rest of the scan (memory contexts, slot, loop)", iterate - transfer - decode - convert, total)
    if None not in (total, iterate):
        add("outside genie_fdw (executor, COPY's output functions)", total - iterate, total)
        out = pr("OutputFunctionCall")
        if out is not None:
            add("  COPY's output functions, typed values back to text (OutputFunctionCall)", out, total)
            add("  the executor and the rest of COPY", total - iterate - out, total)
    typed = cg_per_row(cg, "TOTAL", run="typed")
    if typed is not None:
        tscan = cg_per_row(cg, "genieIterateForeignScan", run="typed")
        add("typed rows without text output: whole backend (count() of each of the 6 columns)", typed)
        add("  genie_fdw scan (genieIterateForeignScan, inclusive)", tscan, typed)
        if tscan is not None:
            add("  the executor and the aggregate", typed - tscan, typed)
    return rows


# --------------------------------------------------------------------------------------------
# 5. Ask once, re-run fresh: the second asking of a question, re-run versus asked again
# --------------------------------------------------------------------------------------------

RERUN_QUESTION = "Which products generate the highest total sales value?"     # README's example
RERUN_SESSIONS = [1, 10]
RERUN_COLUMNS = '(question text, "ProductName" text, "TotalValue" numeric)'
RERUN_TABLES = {"ask": "rr_ask", "rerun": "rr_rerun", "rerun_cached": "rr_rerun_ttl"}
RERUN_TTL = 60                   # rr_rerun_ttl's cache_ttl (not a default: one supplementary run)


def start_emulator(flags):
    """Another benchmark emulator, for one section: (process, url, its log file)."""
    out = os.path.join(TMP, "emulator-%d.out" % len(os.listdir(TMP)))
    f = open(out, "w")
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "bench_emulator.py"), "--port", "0"] + flags,
                         stdout=f, stderr=subprocess.STDOUT)
    for _ in range(200):
        with open(out) as r:
            m = re.search(r"listening on (https?://\S+)", r.read())
        if m:
            return p, m.group(1), f
        if p.poll() is not None:
            raise SystemExit("bench: the emulator did not start:\n" + open(out).read()[-2000:])
        time.sleep(0.05)
    p.kill()
    raise SystemExit("bench: the emulator did not start within 10 s")


def restart_cluster(settings):
    """Restart the run's cluster (test/lib.sh's genie_start_cluster: $GENIE_TMP/data) with these
    postgres settings, as genie_restart_cluster does."""
    opts = "-p %s -k %s -c listen_addresses='' -c fsync=off" % (os.environ["PGPORT"], os.path.join(TMP, "sock"))
    for s in settings:
        opts += " -c " + s
    must(run(["runuser", "-u", "postgres", "--", os.path.join(PG_BIN, "pg_ctl"), "-D", os.path.join(TMP, "data"),
              "-l", os.path.join(TMP, "sock", "postgres.log"), "-o", opts, "-m", "fast", "-w", "restart"]),
         "restarting the cluster")


def emu_requests(url):
    return control("GET", "stats", url=url)["requests"]


def rerun_run(url, mode, n, config=None):
    """n sessions each ask RERUN_QUESTION through mode's table, wait until all have their answer,
    then ask it a second time at once (a barrier: files the sessions wait for).  The second
    asking's figures, from the emulator's counters taken at the barrier and after.  config: the
    emulator's config keys for this run.  With an answer cache (rerun_cached), the cached answers
    are dropped at the barrier, as when cache_ttl has run out."""
    table = RERUN_TABLES[mode]
    psql("SELECT genie_fdw_forget();\n")          # nothing remembered from an earlier run
    control("POST", "reset", {}, url=url)
    if config:
        control("POST", "config", config, url=url)
    d = tempfile.mkdtemp(dir=TMP)
    os.chmod(d, 0o777)
    q = sql_str(RERUN_QUESTION)
    procs = []
    t0 = time.time()
    for i in range(n):
        script = os.path.join(d, "session%d.sql" % i)
        with open(script, "w") as f:
            f.write("SELECT 'first ' || count(*) FROM %s WHERE question = %s;\n"
                    "SELECT 'first_end ' || extract(epoch from clock_timestamp());\n"
                    "\\! touch %s/ready.%d; while [ ! -e %s/go ]; do sleep 0.005; done\n"
                    "SELECT 'second_start ' || extract(epoch from clock_timestamp());\n"
                    "\\timing on\n"
                    "SELECT 'second ' || count(*) FROM %s WHERE question = %s;\n"
                    "\\timing off\n"
                    "SELECT 'second_end ' || extract(epoch from clock_timestamp());\n"
                    % (table, q, d, i, d, table, q))
        procs.append(subprocess.Popen([os.path.join(PG_BIN, "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                                       "-f", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    deadline = time.monotonic() + 300
    while sum(os.path.exists(os.path.join(d, "ready.%d" % i)) for i in range(n)) < n:
        dead = [p for p in procs if p.poll() is not None]
        if dead or time.monotonic() > deadline:
            for p in procs:
                if p.poll() is None:
                    p.kill()
            err = dead[0].communicate()[1] if dead else "no answer within 300 s"
            raise SystemExit("bench: re-run section, first asking (%s, %d sessions) failed: %s" % (mode, n, err))
        time.sleep(0.01)
    first_done = time.time()
    if mode == "rerun_cached":
        psql("SELECT genie_fdw_cache_clear();\n")
    before = emu_requests(url)
    go = time.time()
    open(os.path.join(d, "go"), "w").close()
    outs = [p.communicate() for p in procs]
    after = emu_requests(url)
    for p, (out, err) in zip(procs, outs):
        if p.returncode != 0:
            raise SystemExit("bench: re-run section, second asking (%s, %d sessions) failed: %s" % (mode, n, err))
    firsts = [int(re.search(r"^first (\d+)", o, re.M).group(1)) for o, _ in outs]
    seconds = [int(re.search(r"^second (\d+)", o, re.M).group(1)) for o, _ in outs]
    if len(set(firsts + seconds)) != 1:
        raise SystemExit("bench: re-run section: row counts differ: %s, %s" % (firsts, seconds))
    ends = [float(re.search(r"^second_end ([\d.]+)", o, re.M).group(1)) for o, _ in outs]
    starts = [float(re.search(r"^second_start ([\d.]+)", o, re.M).group(1)) for o, _ in outs]

    def delta(k, a=after, b=before):
        return a.get(k, 0) - b.get(k, 0)
    shutil.rmtree(d, ignore_errors=True)
    return {"mode": mode, "sessions": n, "rows": firsts[0],
            "first_wall": first_done - t0,
            "first_questions": before.get("start_conversation", 0) + before.get("create_message", 0),
            "first_reruns": before.get("execute_query", 0),
            "times": [psql_times(o)[0] for o, _ in outs],
            "wall": max(ends) - go, "release": max(starts) - go,
            "questions": delta("start_conversation") + delta("create_message"),
            "reruns": delta("execute_query"),
            "get_message": delta("get_message"), "statement_get": delta("statement_get")}


def bench_rerun(quick=False):
    """The second asking of a question with refresh 'rerun' against asked again (the default), in
    1 and 10 sessions, with genie_fdw not preloaded and preloaded, against the emulator's real
    profile (Genie takes 10-20 s per answer, a re-run a statement's time)."""
    sys.path.insert(0, os.path.join(ROOT, "test"))
    import genie_emulator as ge
    t0 = time.monotonic()
    proc, url, logf = start_emulator(["--profile", "real", "--questions-per-minute", "0"])
    try:
        cfg = control("GET", "config", url=url)
        weights = ge.PROFILES["real"]["weights"]
        answer = ge.profile_answer_seconds("real", RERUN_QUESTION, None)
        res = {"question": RERUN_QUESTION, "answer_seconds": answer, "execute_seconds": cfg["execute_seconds"],
               "emulator_qpm": cfg["questions_per_minute"],
               "executing_share": weights[ge.IN_PROGRESS.index("EXECUTING_QUERY")] / sum(weights),
               "runs": []}
        setup = ["CREATE SERVER bench_real FOREIGN DATA WRAPPER genie_fdw OPTIONS (host %s, space_id %s);"
                 % (sql_str(url), sql_str(SPACE)),
                 "CREATE USER MAPPING FOR CURRENT_USER SERVER bench_real OPTIONS (token %s);" % sql_str(TOKEN),
                 "CREATE FOREIGN TABLE rr_ask %s SERVER bench_real;" % RERUN_COLUMNS,
                 "CREATE FOREIGN TABLE rr_rerun %s SERVER bench_real OPTIONS (refresh 'rerun');" % RERUN_COLUMNS,
                 "CREATE FOREIGN TABLE rr_rerun_ttl %s SERVER bench_real OPTIONS (refresh 'rerun', cache_ttl '%d');"
                 % (RERUN_COLUMNS, RERUN_TTL)]
        psql("\n".join(setup) + "\n")
        module = MODULE or "genie_fdw"
        preloads = [True] if quick else [False, True]
        for preload in preloads:
            if preload:
                # the limiter's default (5 questions a minute, the documented quota) would queue the
                # sessions' questions; the emulator has no quota either (see the section's text)
                restart_cluster(["shared_preload_libraries=%s" % module, "genie_fdw.questions_per_minute=0"])
            for n in RERUN_SESSIONS:
                for mode in ("ask", "rerun"):
                    r = rerun_run(url, mode, n)
                    r["preload"] = preload
                    res["runs"].append(r)
                    log("re-run: %s, %2d session(s), refresh %-5s: second asking %.2f s (per session median "
                        "%.2f s), %d question(s), %d re-run(s); first asking %.1f s, %d question(s)"
                        % ("preloaded" if preload else "not preloaded", n, mode, r["wall"], median(r["times"]),
                           r["questions"], r["reruns"], r["first_wall"], r["first_questions"]))
            if preload:
                # the same re-run, with the statement as slow as this answer's EXECUTING_QUERY step
                slow = round(answer * res["executing_share"], 2)
                r = rerun_run(url, "rerun", 1, {"execute_seconds": slow})
                r["preload"], r["execute_seconds"] = True, slow
                res["slow"] = r
                log("re-run: preloaded, 1 session, a %.2f s statement: second asking %.2f s, %d question(s), "
                    "%d re-run(s)" % (slow, r["wall"], r["questions"], r["reruns"]))
                # not a default: with an answer cache, do sessions asking at once share one re-run?
                n = max(RERUN_SESSIONS)
                r = rerun_run(url, "rerun_cached", n)
                r["preload"] = True
                res["cached"] = r
                log("re-run: preloaded, %d sessions, cache_ttl %d: second asking %.2f s, %d question(s), "
                    "%d re-run(s)" % (n, RERUN_TTL, r["wall"], r["questions"], r["reruns"]))
        if preloads[-1]:
            restart_cluster([])                  # as the rest of the benchmark runs
        psql("DROP SERVER bench_real CASCADE;\n")
    finally:
        proc.terminate()
        proc.wait()
        logf.close()
    res["elapsed"] = time.monotonic() - t0
    return res


# --------------------------------------------------------------------------------------------
# Machine, versions
# --------------------------------------------------------------------------------------------

def sh(cmd):
    try:
        return subprocess.check_output(cmd, shell=True, text=True, stderr=subprocess.DEVNULL).strip()
    except subprocess.CalledProcessError:
        return "?"


def machine_info():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = sh("awk '/MemTotal/ {printf \"%.1f GiB\", $2/1048576}' /proc/meminfo")
    sdk = "?"
    try:
        with open(os.path.join(HERE, "node_modules", "@databricks", "sdk-experimental", "package.json")) as f:
            sdk = json.load(f)["version"]
    except OSError:
        pass
    commit = sh("git -C %s rev-parse --short HEAD" % ROOT)
    dirty = sh("git -C %s status --porcelain -- src sql Makefile genie_fdw.control" % ROOT)
    return [
        ("machine", "%d cores (nproc), %s, %s RAM" % (os.cpu_count(), cpu, mem)),
        ("OS", "Debian %s, Linux %s" % (sh("cat /etc/debian_version"), platform.release())),
        ("PostgreSQL", psql("SELECT version();").out.strip()),
        ("genie_fdw", "commit %s%s" % (commit, " plus uncommitted changes in src/ or sql/" if dirty else "")),
        ("libcurl", sh("pkg-config --modversion libcurl") + " (curl CLI: %s)" % sh("curl --version | head -1 | cut -d' ' -f1-2")),
        ("json-c", sh("pkg-config --modversion json-c")),
        ("Python", platform.python_version()),
        ("Node.js", sh("node --version")),
        ("JS SDK", "@databricks/sdk-experimental " + sdk),
        ("valgrind", sh("valgrind --version")),
    ]


def source_facts():
    """A few constants of the measured source, for the reading (None when not found)."""
    def grab(path, rx):
        try:
            m = re.search(rx, open(os.path.join(ROOT, "src", path)).read())
        except OSError:
            return None
        return float(m.group(1)) if m else None
    api_c = ""
    for name in ("ask.c", "chunks.c"):           # the ask engine and the cursor (genie_api.c before)
        try:
            api_c += open(os.path.join(ROOT, "src", name)).read()
        except OSError:
            pass
    return {"startup_cost": grab("genie_fdw.c", r"#define\s+ANSWER_STARTUP_COST\s+([\d.]+)"),
            "max_concurrent": grab("option.c", r"#define\s+DEFAULT_MAX_CONCURRENT\s+(\d+)"),
            "prefetch": "prefetch" in api_c}


def source_poll_schedule():
    """The poll times genie_fdw's defaults give (src/option.c, src/ask.c), or None when the
    schedule depends on the message's status (then only measured figures describe it)."""
    try:
        opt = open(os.path.join(ROOT, "src", "option.c")).read()
        api_c = open(os.path.join(ROOT, "src", "ask.c")).read()
        p = float(re.search(r"#define\s+DEFAULT_POLL_INTERVAL\s+([\d.]+)", opt).group(1))
        m = float(re.search(r"#define\s+DEFAULT_MAX_POLL_INTERVAL\s+([\d.]+)", opt).group(1))
        g = float(re.search(r"#define\s+POLL_GROWTH\s+([\d.]+)", api_c).group(1))
    except (OSError, AttributeError):
        return None
    if "PENDING_WAREHOUSE" in api_c:
        return None                          # status-aware: proportional near the end
    t, i, out = 0.0, p, []
    while t < 25:
        t += i
        out.append(t)
        i = min(i * g, m)
    return p, m, g, out


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------

def fmt_s(x, digits=2):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if 0 < x < 10 ** -digits * 10:            # keep two significant digits for tiny times
        digits = max(digits, 1 - int(math.floor(math.log10(x))))
    return "%.*f s" % (digits, x)


def fmt_rate(x):
    return "n/a" if not x else "{:,.0f}".format(x)


def fmt_mb(kb):
    return "n/a" if kb is None else "%.0f MB" % (kb / 1024.0)


def fmt_instr(x):
    return "n/a" if x is None else "{:,.0f}".format(0 if abs(x) < 0.5 else x)


def preload_name(preload):
    return "preloaded" if preload else "not preloaded"


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


class Report:
    def __init__(self, args, info, lat, fixed, tput, conc, cg, started, elapsed, facts=None, sched=None,
                 full=None, dlat=None, rerun=None):
        self.args, self.info, self.lat, self.tput, self.conc, self.cg = args, info, lat, tput, conc, cg
        self.full, self.dlat = full or {}, dlat or {}
        self.rerun = rerun
        self.full_sizes = sorted({n for (n, _) in self.full})
        self.tds = sorted({t for (t, _) in self.dlat})
        self.fixed = fixed
        self.facts = facts or source_facts()
        self.sched = sched or source_poll_schedule()
        self.started, self.elapsed = started, elapsed
        self.ts = sorted({t for (t, _) in lat})
        self.sizes = sorted({n for (n, k) in tput if k in TPUT_CLIENTS})
        self.verdicts = []

    # figures -----------------------------------------------------------------------------
    def overhead(self, t, kind):
        return median([o for o, _ in self.lat[(t, kind)]])

    def polls(self, t, kind):
        return median([p for _, p in self.lat[(t, kind)]])

    def secs(self, n, kind):
        return median([r["secs"] for r in self.tput[(n, kind)]])

    def rate(self, n, kind):
        s = self.after_answer(n, kind) if kind in ("fdw", "python", "python_typed", "js") else self.secs(n, kind)
        return n / s if s else None

    def rss(self, n, kind):
        return max(r["rss_kb"] for r in self.tput[(n, kind)])

    def floor(self, n):
        return self.secs(n, "curl") + self.secs(n, "parse")

    def verdict(self, what, figure, ok):
        self.verdicts.append((what, figure, "holds" if ok else ("n/a" if ok is None else "**misses**")))
        return ok

    # tables ------------------------------------------------------------------------------
    @staticmethod
    def wait_table(runs_of, ts, kinds, what, polled):
        """Per T and client: the runs' lateness as median (min – max), and each run's polls."""
        rows = []
        for t in ts:
            for kind in kinds:
                runs = runs_of[(t, kind)]
                os_ = [o for o, _ in runs]
                rows.append(("%g s" % t, NAMES[kind],
                             "%.3f s (%.3f – %.3f)" % (median(os_), min(os_), max(os_)),
                             ", ".join(str(p) for _, p in runs)))
        return table(["T", "client", "%s: median (min – max)" % what, "polls (%s) per run" % polled], rows)

    def latency_table(self):
        return self.wait_table(self.lat, self.ts, CLIENTS, "time to first row − T", "get_message")

    def full_after(self, n, kind):
        return median([r["after_ready"] for r in self.full[(n, kind)]])

    def full_above(self, n, kind):
        """As above, for a full-result download: from seeing it ready to the last row, minus curl's
        time for the same requests and files."""
        return self.full_after(n, kind) - median([r["secs"] for r in self.full[(n, "curl")]])

    def full_table(self):
        rows = []
        for n in self.full_sizes:
            for kind in FULL_CLIENTS:
                rs = self.full[(n, kind)]
                extra = " (process)"
                if kind == "fdw":
                    extra = " (backend; %s before the query)" % fmt_mb(max(r["rss_before_kb"] for r in rs))
                secs = median([r["secs"] for r in rs])
                after = None if kind == "curl" else self.full_after(n, kind)
                rows.append(("{:,}".format(n), NAMES[kind], fmt_s(secs, 3),
                             "" if after is None else fmt_s(after, 3),
                             "" if after is None else fmt_s(self.full_above(n, kind), 3),
                             fmt_rate(n / (after if after else secs)), fmt_mb(max(r["rss_kb"] for r in rs)) + extra))
            rows.append(("{:,}".format(n), NAMES["js"], "n/a: no full-result download in the JS SDK", "", "", "", ""))
        return table(["rows", "client", "time from asking to last row (median)", "from seeing the download "
                      "ready to last row", "above the floor (curl)", "rows/s", "peak RSS"], rows)

    def dlat_overhead(self, t, kind):
        return median([o for o, _ in self.dlat[(t, kind)]])

    def dlat_polls(self, t, kind):
        return median([p for _, p in self.dlat[(t, kind)]])

    def dlat_table(self):
        return self.wait_table(self.dlat, self.tds, ("python", "fdw"), "first row − the download's readiness",
                               "get_download")

    def after_answer(self, n, kind):
        return median([r["after_answer"] for r in self.tput[(n, kind)]])

    def above(self, n, kind):
        """Client cost above the transfer floor: time from seeing the answer to the last row minus
        curl's (each client's wait for the answer, its poll schedule, is the latency section's)."""
        return self.after_answer(n, kind) - self.secs(n, "curl")

    def throughput_table(self):
        rows = []
        for n in self.sizes:
            for kind in TPUT_CLIENTS:
                extra = " (process)"
                if kind == "fdw":
                    rs = self.tput[(n, kind)]
                    extra = " (backend; %s before the query; %s file-backed after it)" % (
                        fmt_mb(max(r["rss_before_kb"] for r in rs)), fmt_mb(max(r["rss_file_kb"] for r in rs)))
                rows.append(("{:,}".format(n), NAMES[kind], fmt_s(self.secs(n, kind), 3),
                             "" if kind == "curl" else fmt_s(self.after_answer(n, kind), 3),
                             "" if kind == "curl" else fmt_s(self.above(n, kind), 3),
                             fmt_rate(self.rate(n, kind)), fmt_mb(self.rss(n, kind)) + extra))
            p = self.tput[(n, "parse")][0]
            rows.append(("{:,}".format(n), "(json-c parse of the same %.1f MB, from memory)" % (p["bytes"] / 1e6),
                         fmt_s(p["secs"], 3), "", "", fmt_rate(n / p["secs"]), ""))
            sc = self.tput[(n, "scan")][0]
            rows.append(("{:,}".format(n), "(genie_fdw's decoders on the same bytes: `jsonc_parse.c` linking "
                         "src/rowscan.c, src/genie_decode.c)", fmt_s(sc["secs"], 3), "", "",
                         fmt_rate(n / sc["secs"]), ""))
        return table(["rows", "client", "time from asking to last row (median)",
                      "from seeing the answer to last row", "above the floor (curl)",
                      "rows/s", "peak RSS"], rows)

    def fixed_table(self):
        rows = []
        for jit in ("on", "off"):
            runs = self.fixed[jit]
            rows.append(("jit = %s%s" % (jit, " (default)" if jit == "on" else ""),
                         "%.1f ms" % (1000 * median([a for a, _ in runs])),
                         "%.1f ms" % (1000 * median([b for _, b in runs]))))
        return table(["", "first query of a new backend", "second query in the session"], rows)

    def concurrency_table(self):
        c = self.conc
        if c is None:
            return "(not measured in this run)"
        fin = c["fdw_in"]
        base = fin.get("secs")
        rows = []
        for key, label, how in [("python", NAMES["python"], "8 questions one after another"),
                                ("js", NAMES["js"], "8 questions one after another"),
                                ("fdw_seq", NAMES["fdw"], "8 statements one after another"),
                                ("fdw_in", NAMES["fdw"], "one statement: question IN (8 questions)")]:
            r = c[key]
            if "secs" in r:
                ratio = ("%.2f" % (r["secs"] / base)) if base else "n/a"
                rows.append((label, how, fmt_s(r["secs"]), r["polls"], ratio))
            else:
                rows.append((label, how, "n/a (%s)" % r["error"].replace("|", "/"), "", ""))
        return table(["client", "form", "wall time", "polls", "wall time ÷ genie_fdw IN"], rows)

    def cpu_table(self):
        rows = [(label.replace("  ", "&nbsp;&nbsp;"), fmt_instr(v),
                 "" if share is None else "%d %%" % (round(100 * share) or 0))
                for label, v, share, note in callgrind_table(self.cg)]
        return table(["stage", "instructions per row", "share of the backend"], rows)

    # targets -----------------------------------------------------------------------------
    def targets(self):
        if self.verdicts:
            return table(["target", "measured", "verdict"], self.verdicts)
        def latency(what, t, o, pf, ps, waiter):
            limit = max(0.15, 0.1 * t)
            self.verdict("%s: genie_fdw's first row ≤ max(0.15 s, 10 %% of T) = %.2f s after it" % (what, limit),
                         "%.3f s" % o, o <= limit)
            self.verdict("%s: genie_fdw's polls ≤ %s + 50 %%" % (what, waiter),
                         "%g vs %g (limit %g)" % (pf, ps, 1.5 * ps), pf <= 1.5 * ps)

        def half(what, f, py):
            self.verdict("%s: genie_fdw's cost above the floor ≤ ½ the typed Python client's" % what,
                         "%.3f s vs %.3f s (%.2f×)" % (f, py, f / py if py > 0 else float("nan")),
                         py > 0 and f <= 0.5 * py)

        for t in self.ts:
            latency("answer ready after T = %g s" % t, t, self.overhead(t, "fdw"), self.polls(t, "fdw"),
                    self.polls(t, "js"), "the SDK waiter's")
        for n in self.sizes:
            if n in (5000, 200000, 1000000):
                half("{:,} rows".format(n), self.above(n, "fdw"), self.above(n, "python_typed"))
        for n in self.full_sizes:
            half("{:,} rows, full results".format(n), self.full_above(n, "fdw"), self.full_above(n, "python_typed"))
        for t in self.tds:
            latency("download ready after T = %g s" % t, t, self.dlat_overhead(t, "fdw"), self.dlat_polls(t, "fdw"),
                    self.dlat_polls(t, "python"), "the SDK waiter schedule's")
        typed = cg_per_row(self.cg, "TOTAL", run="typed")
        tscan = cg_per_row(self.cg, "genieIterateForeignScan", run="typed")
        self.verdict("≤ 6,000 callgrind instructions per 6-column row (whole backend, the typed row "
                     "consumed by an aggregate over its 6 columns)",
                     "%s (genie_fdw's scan: %s)" % (fmt_instr(typed), fmt_instr(tscan)),
                     None if typed is None else typed <= 6000)
        total = cg_per_row(self.cg, "TOTAL")
        scan = cg_per_row(self.cg, "genieIterateForeignScan")
        self.verdict("(for reference) the same, rows through COPY ... TO '/dev/null' (7 columns turned back "
                     "into text)", "%s (genie_fdw's scan: %s)" % (fmt_instr(total), fmt_instr(scan)),
                     None if total is None else total <= 6000)
        mem = [n for n in self.sizes if n >= 10000]
        if len(mem) >= 2:
            lo, hi = self.rss(mem[0], "fdw"), max(self.rss(n, "fdw") for n in mem)
            self.verdict("backend peak RSS flat from {:,} to {:,} rows (within 10 %)".format(mem[0], mem[-1]),
                         " → ".join(fmt_mb(self.rss(n, "fdw")) for n in mem), hi <= 1.1 * lo)
            big = [n for n in mem if n > CHUNK_ROWS]
            if len(big) >= 2:
                self.verdict("(for reference) backend peak RSS flat from {:,} to {:,} rows, above one chunk"
                             .format(big[0], big[-1]), " → ".join(fmt_mb(self.rss(n, "fdw")) for n in big),
                             self.rss(big[-1], "fdw") <= 1.1 * self.rss(big[0], "fdw"))
        behind = [("T = %g s, time to first row" % t, self.overhead(t, "js") > self.overhead(t, "fdw"))
                  for t in self.ts]
        # rows: from seeing the answer (the wait for it is the first-row figures')
        behind += [("%s rows, from the answer to the last row" % "{:,}".format(n),
                    self.after_answer(n, "js") > self.after_answer(n, "fdw")) for n in self.sizes]
        ahead = [w for w, ok in behind if not ok]
        self.verdict("the JS SDK behind genie_fdw on every figure", "behind on %d of %d%s" % (
            len(behind) - len(ahead), len(behind), "" if not ahead else " (not: %s)" % "; ".join(ahead)),
            not ahead)
        self.rerun_targets()
        return table(["target", "measured", "verdict"], self.verdicts)

    # 5. re-runs --------------------------------------------------------------------------------
    def rerun_pairs(self):
        """(preload, sessions, asked again's run, re-run's run), in the order measured."""
        runs = self.rerun["runs"]
        out = []
        for r in runs:
            if r["mode"] == "ask":
                rr = [x for x in runs if x["mode"] == "rerun" and x["preload"] == r["preload"]
                      and x["sessions"] == r["sessions"]]
                out.append((r["preload"], r["sessions"], r, rr[0]))
        return out

    def rerun_targets(self):
        if not self.rerun:
            return
        stmt = self.rerun["execute_seconds"]
        limit = max(0.15, 0.1 * stmt)
        pairs = self.rerun_pairs()
        for pre, n, _, rr in pairs:
            t = max(rr["times"])
            self.verdict("second asking with `refresh 'rerun'`, %d session%s, %s: its time − the statement's "
                         "(%g s) ≤ max(0.15 s, 10 %% of it) = %.2f s" % (
                             n, "" if n == 1 else "s at once (the slowest session's time)", preload_name(pre), stmt,
                             limit),
                         "%.3f s − %g s = %.3f s" % (t, stmt, t - stmt), t - stmt <= limit)
        self.verdict("second asking with `refresh 'rerun'`: no Genie question",
                     ", ".join("%d" % rr["questions"] for _, _, _, rr in pairs) + " (runs as in the table)",
                     all(rr["questions"] == 0 for _, _, _, rr in pairs))
        self.verdict("second asking: the re-run's wall time ≤ ⅕ of asking again's",
                     ", ".join("%.1f×" % (a["wall"] / rr["wall"]) for _, _, a, rr in pairs) + " faster",
                     all(rr["wall"] <= 0.2 * a["wall"] for _, _, a, rr in pairs))

    def rerun_section(self, targets=False):
        """Section 5's markdown; targets: with its own targets table and reading (when it is
        measured apart from the rest: --only=rerun)."""
        rr = self.rerun
        stmt = rr["execute_seconds"]
        pairs = self.rerun_pairs()
        rows = []
        for pre, n, a, r in pairs:
            rows.append((preload_name(pre), n, fmt_s(a["wall"]), a["questions"], fmt_s(r["wall"]), r["questions"],
                         r["reruns"], "%.1f×" % (a["wall"] / r["wall"])))
        main = table(["genie_fdw", "sessions", "asked again (`refresh 'ask'`, the default): wall time",
                      "Genie questions", "re-run (`refresh 'rerun'`): wall time", "Genie questions",
                      "re-runs (execute-query)", "asked again ÷ re-run"], rows)
        rows = []
        for pre, n, a, r in pairs:
            for x in (a, r):
                ts = x["times"]
                rows.append((preload_name(pre), n, "`%s`" % x["mode"],
                             "%.3f s (%.3f – %.3f)" % (median(ts), min(ts), max(ts)) if n > 1 else "%.3f s" % ts[0],
                             x["get_message"], x["statement_get"],
                             "%s, %d question%s" % (fmt_s(x["first_wall"], 1), x["first_questions"],
                                                   "" if x["first_questions"] == 1 else "s")))
        detail = table(["genie_fdw", "sessions", "refresh", "second asking, each session's time (psql `\\timing`): "
                        "median (min – max)", "polls of the message (get_message)",
                        "polls of the statement (GET statements/{id})", "first asking: wall time, Genie questions"],
                       rows)
        lines = [
            "## 5. Ask once, re-run fresh (`refresh 'rerun'`)",
            "",
            "The second asking of a question: its SQL re-run (`refresh 'rerun'`) against Genie asked again "
            "(`refresh 'ask'`, the default), side by side, against the emulator's realistic profile "
            "(`--profile real`, a second emulator): Genie takes a fixed 10–20 s per question, this one "
            "(`%s`, the README's example) %.1f s, %d %% of it in EXECUTING_QUERY; a re-run (execute-query) is "
            "a statement, PENDING, then RUNNING, done after `execute_seconds` = %g s (the profile's default: "
            "a small query on a running warehouse). **No question quota**: the emulator's "
            "`questions_per_minute` is %d (unlimited) and, when preloaded, `genie_fdw.questions_per_minute` "
            "= 0 (its default, 5 a minute, the documented quota, would queue the questions of ten "
            "sessions for minutes; a quota only makes asking again slower). Default options otherwise: "
            "server `bench_real` with host and space_id (no `cache_ttl`: no answer is cached, so each "
            "second asking is a question or a re-run), table `rr_ask` with none, `rr_rerun` with "
            "`OPTIONS (refresh 'rerun')`. Each of N sessions (psql) runs `SELECT count(*) ... WHERE "
            "question = ...`, waits until every session has its answer, then all ask again at once. "
            "*Wall time*: from that moment to the last session's answer (with 10 sessions it includes "
            "releasing them: the last one sent its query %s after the release; each session's own time, from "
            "sending its query, is in the second table). *Genie questions*: "
            "start-conversation and create-message requests; *re-runs*: execute-query requests (the "
            "emulator's counters). One run each; the cluster restarted with "
            "`shared_preload_libraries` for the preloaded rows."
            % (rr["question"], rr["answer_seconds"], round(100 * rr["executing_share"]), stmt,
               rr["emulator_qpm"], "up to %s" % fmt_s(max(x["release"] for x in rr["runs"] if x["sessions"] > 1), 3)),
            "",
            main,
            "",
            detail,
            "",
        ]
        if rr.get("slow"):
            s = rr["slow"]
            lines += ["The same re-run with the statement as slow as this answer's EXECUTING_QUERY step "
                      "(`execute_seconds` %g; preloaded, 1 session): %s, %d Genie question%s, %d re-run%s."
                      % (s["execute_seconds"], fmt_s(s["wall"], 3), s["questions"], "" if s["questions"] == 1 else "s",
                         s["reruns"], "" if s["reruns"] == 1 else "s"), ""]
        if rr.get("cached"):
            c = rr["cached"]
            lines += ["Not a default, for the sharing of re-runs: the table `rr_rerun_ttl`, `OPTIONS (refresh "
                      "'rerun', cache_ttl '%d')`, preloaded, %d sessions, the cached answers dropped before the "
                      "second asking (`genie_fdw_cache_clear()`, as when `cache_ttl` has run out): %s wall time, "
                      "each session %.3f s (%.3f – %.3f), %d Genie question%s, %d re-run%s (first asking: %d "
                      "question%s)."
                      % (RERUN_TTL, c["sessions"], fmt_s(c["wall"], 3), median(c["times"]), min(c["times"]),
                         max(c["times"]), c["questions"], "" if c["questions"] == 1 else "s", c["reruns"],
                         "" if c["reruns"] == 1 else "s", c["first_questions"],
                         "" if c["first_questions"] == 1 else "s"), ""]
        if targets:
            self.verdicts = []
            self.rerun_targets()
            held = [v for v in self.verdicts if v[2] == "holds"]
            lines += ["Targets of this section (%d of %d hold):" % (len(held), len(self.verdicts)), "",
                      table(["target", "measured", "verdict"], self.verdicts), "", self.rerun_reading(), ""]
        return "\n".join(lines)

    def rerun_reading(self):
        rr = self.rerun
        stmt = rr["execute_seconds"]
        parts = []
        for pre, n, a, r in self.rerun_pairs():
            parts.append("%s, %d session%s: %.2f s against %.2f s (%.1f× faster), %d Genie question%s against %d"
                         % (preload_name(pre), n, "" if n == 1 else "s", r["wall"], a["wall"], a["wall"] / r["wall"],
                            r["questions"], "" if r["questions"] == 1 else "s", a["questions"]))
        s = ("**Re-runs.** The second asking with `refresh 'rerun'` against asking again: " + "; ".join(parts) +
             ". A re-run takes about the statement's %g s plus genie_fdw's wait for it (polled after "
             "max(0.15 s, 10 %% of the wait)), not Genie's %.1f s: the ratio is about Genie's answer time over "
             "the statement's, here at the low end of the profile's 10–20 s." % (stmt, rr["answer_seconds"]))
        ten = [(pre, r) for pre, n, _, r in self.rerun_pairs() if n > 1]
        for pre, r in ten:
            n = r["sessions"]
            if pre:
                if r["reruns"] >= n:
                    s += (" Preloaded, the %d sessions share the remembered question (none asked Genie) but each "
                          "runs its own statement: %d re-runs; with no `cache_ttl` there is no answer for them "
                          "to share." % (n, r["reruns"]))
                    c = rr.get("cached")
                    if c:
                        s += (" With a `cache_ttl` (not a default), sessions asking at once wait for one "
                              "session's answer: %d sessions took %d re-run%s and %d question%s, in %.2f s."
                              % (c["sessions"], c["reruns"], "" if c["reruns"] == 1 else "s", c["questions"],
                                 "" if c["questions"] == 1 else "s", c["wall"]))
                else:
                    s += (" Preloaded, the %d sessions shared %d re-run%s." % (n, r["reruns"],
                                                                              "" if r["reruns"] == 1 else "s"))
            else:
                s += (" Not preloaded, each session remembers only what it asked itself: each of the %d "
                      "re-ran its own first answer (%d re-runs); a session that had not asked the question "
                      "(a new connection) would ask Genie." % (n, r["reruns"]))
        firsts = [x["first_questions"] for x in rr["runs"] if x["sessions"] > 1 and x["preload"]]
        if firsts and max(firsts) > 1:
            s += (" The first askings of the %d sessions took %d questions also when preloaded: without a "
                  "`cache_ttl`, sessions asking the same question at once do not wait for one another's "
                  "answer." % (max(x["sessions"] for x in rr["runs"]), max(firsts)))
        if rr.get("slow"):
            sl = rr["slow"]
            s += (" With the statement as slow as this answer's EXECUTING_QUERY step (%g s), the re-run took "
                  "%.2f s." % (sl["execute_seconds"], sl["wall"]))
        return s

    # the document ----------------------------------------------------------------------------
    def markdown(self, reading):
        a = self.args
        info = table(["", ""], self.info)
        lines = [
            "# Benchmarks",
            "",
            "genie_fdw side by side with what a user would otherwise pick, in one run. Produced by",
            "`bash test/bench/run.sh%s` on %s (%.0f minutes of measuring); running it again rewrites this file."
            % (" --quick" if a.quick else "", self.started, self.elapsed / 60),
            "It reports and never fails on a figure; it is not part of `test/run-tests.sh` or CI.",
            "",
            "## Machine and versions",
            "",
            info,
            "",
            "## How it measures",
            "",
            METHOD.format(chunk=CHUNK_ROWS, chunk_f="{:,}".format(CHUNK_ROWS), lat_q=LATENCY_QUESTION,
                          cg_rows="{:,}".format(CALLGRIND_ROWS), conc_t=CONCURRENT_T),
            "",
            "## 1. Answer latency",
            "",
            "The emulator completes the message T seconds after the question arrives; `%s`, one chunk."
            % LATENCY_QUESTION,
            "",
            self.latency_table(),
            "",
            "A genie_fdw query's own cost, without waiting (answer_seconds 0: the answer is ready at the "
            "first poll; the time from the question's reply to that poll is left out; `LIMIT 1` of "
            "`Generate 100 rows`; median of %d):" % len(self.fixed["on"]),
            "",
            self.fixed_table(),
            "",
            "## 2. Throughput and memory",
            "",
            "`Generate N rows` (6 columns: bigint, string, int, decimal(12,2), timestamp, boolean), "
            "%s rows per chunk (so 5,000 rows are one inline answer: every row inside the query-result "
            "response), answer_seconds 0, default options. Median of %d runs; peak RSS is the largest of "
            "them. *From seeing the answer*: from the moment the emulator first served the message as "
            "COMPLETED to that client, to the client's last row (each client's wait for its answer is its "
            "poll schedule, section 1; with an answer ready at once the SDK waiter's immediate poll would "
            "otherwise be compared with genie_fdw's first wait). *Above the floor*: that time minus curl's "
            "for the same requests and bytes."
            % ("{:,}".format(CHUNK_ROWS), a.tput_reps),
            "",
            self.throughput_table(),
            "",
        ] + ([] if not self.full else [
            "## 2b. Full results (`full_results 'true'`)",
            "",
            "The same rows through a full-result download: the client asks Genie (answer_seconds 0), "
            "requests the download, polls it until SUCCEEDED and reads every file behind its external "
            "links (one file per %s rows, fetched without the token, with the link's `http_headers`; the "
            "next link through `next_chunk_internal_link`). The download is ready at once "
            "(download_seconds 0). genie_fdw: the foreign table `genf`, `gen` with `OPTIONS (full_results "
            "'true')`. *From seeing the download ready*: from the moment the emulator first served the "
            "download as SUCCEEDED to that client. curl fetches the same download reply, chunk "
            "endpoints and files. Median of %d runs."
            % ("{:,}".format(CHUNK_ROWS), a.tput_reps),
            "",
            self.full_table(),
            "",
            "The download's own wait: the emulator makes the download SUCCEEDED T seconds after it was "
            "requested (answer_seconds 0, `%s`, one file). The Python client polls it like the SDK's "
            "message waiter (at once, then 1 s, 2 s, ... plus jitter; the SDKs have no waiter for downloads)."
            % LATENCY_QUESTION,
            "",
            self.dlat_table(),
            "",
        ]) + [
            "## 3. Concurrency",
            "",
            "8 questions (`Generate 101 rows` … `Generate 108 rows`), answer_seconds %g, no rate limit." % CONCURRENT_T,
            "",
            self.concurrency_table(),
            "",
            "## 4. CPU per answer row (callgrind)",
            "",
            "Instructions per row of `COPY (SELECT * FROM gen WHERE question = 'Generate %d rows') TO '/dev/null'` "
            "in a single-user backend, minus the same with 1 row, divided by %s; inclusive counts "
            "(callgrind_annotate --inclusive=yes). The %s-row run was made twice: its per-row figures "
            "differed by %s. COPY turns every value back into text (7 columns, the question included); "
            "the last rows measure the same rows consumed typed, as a join or an aggregate does: `%s` "
            "(share: of that run's backend)." % (
                CALLGRIND_ROWS, "{:,}".format(CALLGRIND_ROWS - 1), "{:,}".format(CALLGRIND_ROWS),
                "less than 0.01 %" if self.cg["spread"] < 1e-4 else "at most %.2f %%" % (100 * self.cg["spread"]),
                TYPED_CONSUMER % CALLGRIND_ROWS),
            "",
            self.cpu_table(),
            "",
        ] + ([] if not self.rerun else [self.rerun_section(), ""]) + [
            "## Targets",
            "",
            self.targets(),
            "",
            reading,
        ]
        return "\n".join(lines) + "\n"


METHOD = """\
- **Server**: `test/bench/bench_emulator.py`, the project's emulator (`test/genie_emulator.py`) with a cache
  of the rendered result chunks. The plain emulator renders rows in Python at about 150,000 rows/s, which
  would bound every client; the cache serves the same bytes (checked by `--selftest`) from memory. Every
  run: `row_cap` 1,000,000, `chunk_rows` {chunk_f} (real inline chunks hold tens of thousands of rows),
  no rate limit. The emulator and the client share the machine's cores.
- **Python seed-style client** (`seed_client.py`, standard library only): what the seed's README
  describes: start-conversation; the SDK waiter's polling (at once, then `min(attempt, 10)` s plus up to
  1 s jitter); 429 backoff 1 s → 2 s → … → 60 s with 10 % jitter; then the Statement Execution API:
  `GET /api/2.0/sql/statements/{{id}}` and every further chunk by `next_chunk_internal_link`, on one
  keep-alive connection. Rows are `json.loads`ed and every value touched; values stay strings.
  Section 2b: the same client reading a full-result download (`--full`; see there).
- **JS SDK** (`sdk_client.mjs`, `@databricks/sdk-experimental`): `genie.startConversation(...).wait()`
  (the SDK's waiter: at once, then `attempt` s + 50–750 ms jitter), `getMessageAttachmentQueryResult`,
  then `statementExecution.getStatementResultChunkN` for every further chunk. Every value touched.
- **curl**: one `curl -K` process fetching the statement and every chunk to `/dev/null` over one
  connection (ids taken beforehand, untimed); the sum of the transfers' `time_total` (not the
  process's start-up) is the transfer floor. A client's cost *above the floor* is
  its time from seeing the answer (the emulator's first COMPLETED reply to it, a wall-clock time the
  benchmark emulator records) to the last row, minus curl's. For reference, **json-c parse** (`jsonc_parse.c`):
  the same bytes parsed from memory with json-c and genie_fdw's flags, every value touched; and
  genie_fdw's own decoders on them (`jsonc_parse.c` links `src/rowscan.c` and `src/genie_decode.c`:
  the first chunk through `gd_decode_statement`, the rest through `gd_scan_chunk`; they must agree
  with json-c on rows and value bytes).
- **genie_fdw**: psql against a throw-away cluster, foreign table
  `gen (question text, id bigint, name text, qty int, amount numeric(12,2), ts timestamptz, flag boolean)`.
  Every measurement uses a server with **default options** (host, space_id and a token, nothing
  tuned). Times are psql's `\\timing` (from sending the query). Throughput rows:
  `COPY (SELECT id, name, qty, amount, ts, flag FROM gen WHERE question = ...) TO '/dev/null'`.
- **Time to first row**: from the client's start of asking (the start-conversation request; psql:
  the query) to the first row in hand. Python and JS: after the first chunk is parsed; genie_fdw:
  `SELECT id ... LIMIT 1` returns. Question `{lat_q}`.
- **Polls**: the emulator's `requests.get_message` after a reset, per run.
- **Peak RSS**: clients: `ru_maxrss` of the client process (`wait4`). genie_fdw: the backend's
  `VmHWM` from `/proc/self/status` (read with `pg_read_file` in the same session), after resetting the
  high-water mark (`echo 5 > /proc/<pid>/clear_refs`) just before the query; the RSS before the query
  is shown beside it.
- **Concurrency**: genie_fdw asks `SELECT count(*) FROM gen WHERE question IN (...)` (8 questions in
  one statement) and, for reference, the 8 as separate statements; the Python and JS clients ask the
  8 one after another. Ratio = wall time ÷ genie_fdw's IN wall time.
- **CPU per row**: `valgrind --tool=callgrind` on `postgres --single` (a separate small cluster,
  the same extension, default options), {cg_rows} rows minus a 1-row baseline, so the
  start-up, the question and polling cancel out; once through COPY (text output) and once
  consumed typed by an aggregate over the 6 columns."""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="no T = 20 s runs; 200,000 rows at most")
    ap.add_argument("--skip", default="", help=argparse.SUPPRESS)     # development: e.g. "latency,concurrency,rerun"
    ap.add_argument("--only", default="", choices=["", "rerun"],
                    help="rerun: only section 5 (re-runs), its figures spliced into --out in place of that "
                         "section, the rest of the file left as it is")
    ap.add_argument("--out", default=os.path.join(ROOT, "BENCHMARKS.md"))
    ap.add_argument("--reps", type=int, default=None, help="latency runs per T (default 3; 2 at T = 20)")
    ap.add_argument("--save-raw", help=argparse.SUPPRESS)     # development: keep the figures
    ap.add_argument("--from-raw", help=argparse.SUPPRESS)     # development: report saved figures again
    ap.add_argument("--cpu-only", action="store_true",
                    help="development: only the callgrind figures, printed (BENCHMARKS.md is left alone)")
    args = ap.parse_args()
    if args.from_raw:
        with open(args.from_raw, "rb") as f:
            saved = pickle.load(f)
        saved_args = saved.pop("args")
        saved_args.out = args.out
        rep = Report(saved_args, **saved)
        doc = rep.markdown(build_reading(rep))
        with open(args.out, "w") as f:
            f.write(doc)
        print(doc)
        return
    if not URL or not TMP:
        raise SystemExit("bench.py: run it through test/bench/run.sh")
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    t0 = time.monotonic()
    if args.quick:
        ts, sizes, full_sizes = [0.3, 1, 5], [5000, 10000, 200000], [200000]
        reps = {0.3: args.reps or 2, 1: args.reps or 2, 5: args.reps or 2}
        args.tput_reps = 2
    else:
        ts, sizes, full_sizes = [0.3, 1, 5, 20], [5000, 10000, 200000, 1000000], [200000, 1000000]
        reps = {0.3: args.reps or 3, 1: args.reps or 3, 5: args.reps or 3, 20: args.reps or 2}
        args.tput_reps = 3

    facts, sched = source_facts(), source_poll_schedule()      # of the source being measured
    log("setting up the foreign tables")
    for script in setup_sql():
        psql("\n".join(script) + "\n")
    if args.only:
        only_rerun(args, started, t0)
        return
    if args.cpu_only:
        cg = bench_callgrind()
        for label, v, share, _ in callgrind_table(cg):
            print("%-100s %8s %s" % (label, fmt_instr(v), "" if share is None else "%.0f %%" % (100 * share)))
        keep = "/tmp/genie-bench-callgrind"
        shutil.rmtree(keep, ignore_errors=True)
        shutil.copytree(os.path.join(TMP, "callgrind"), keep, ignore=shutil.ignore_patterns("data"))
        print("callgrind profiles kept in %s" % keep)
        return
    info = machine_info()
    skip = set(args.skip.split(","))
    log("1. answer latency (T = %s s)" % ", ".join("%g" % t for t in ts))
    lat = bench_latency(ts if "latency" not in skip else [], reps)
    fixed = bench_fixed_cost()
    log("2. throughput (%s rows)" % ", ".join("{:,}".format(n) for n in sizes))
    tput = bench_throughput(sizes, args.tput_reps)
    log("2b. full results (%s rows) and download latency" % ", ".join("{:,}".format(n) for n in full_sizes))
    full = bench_full(full_sizes, args.tput_reps) if "full" not in skip else {}
    dlat = bench_download_latency(ts, reps) if "full" not in skip else {}
    log("3. concurrency")
    conc = bench_concurrency() if "concurrency" not in skip else None
    log("4. CPU per row under callgrind")
    cg = bench_callgrind()
    log("5. ask once, re-run fresh: the second asking, re-run against asked again")
    rerun = bench_rerun(args.quick) if "rerun" not in skip else None
    figures = {"info": info, "lat": lat, "fixed": fixed, "tput": tput, "full": full, "dlat": dlat,
               "conc": conc, "cg": cg, "rerun": rerun,
               "started": started, "elapsed": time.monotonic() - t0, "facts": facts, "sched": sched}
    if args.save_raw:
        with open(args.save_raw, "wb") as f:
            pickle.dump(dict(figures, args=args), f)
    rep = Report(args, **figures)
    reading = build_reading(rep)
    doc = rep.markdown(reading)
    with open(args.out, "w") as f:
        f.write(doc)
    print(doc)
    log("wrote %s" % args.out)


def only_rerun(args, started, t0):
    """--only=rerun: measure section 5 alone and put it into args.out in place of the section 5
    there (or before its targets), saying it was measured apart; the rest of the file stays."""
    info = machine_info()
    log("5. ask once, re-run fresh: the second asking, re-run against asked again")
    rr = bench_rerun(args.quick)
    if args.save_raw:
        with open(args.save_raw, "wb") as f:
            pickle.dump(rr, f)
    rep = Report(args, info, {}, {}, {}, None, None, started, time.monotonic() - t0, rerun=rr)
    commit = dict(info)["genie_fdw"]
    section = rep.rerun_section(targets=True).split("\n")
    section[1:1] = ["", "*Measured apart from the other sections: `bash test/bench/run.sh --only=rerun%s` on %s "
                    "(genie_fdw %s, %.0f minutes of measuring); the machine and versions are as above. The "
                    "targets and reading of this section are its own; the summary below does not count them.*"
                    % (" --quick" if args.quick else "", started, commit, rr["elapsed"] / 60)]
    section = "\n".join(section).rstrip("\n") + "\n\n"
    try:
        doc = open(args.out).read()
    except FileNotFoundError:
        doc = ""
    m = re.search(r"^## 5\. .*?(?=^## )", doc, re.M | re.S)
    if m:
        doc = doc[:m.start()] + section + doc[m.end():]
    elif "\n## Targets" in doc:
        i = doc.index("\n## Targets") + 1
        doc = doc[:i] + section + doc[i:]
    else:
        doc = doc + ("\n" if doc else "") + section
    with open(args.out, "w") as f:
        f.write(doc)
    print(section)
    log("wrote section 5 into %s" % args.out)


def sdk_poll_times(jitter):
    """Poll times of the SDK waiters: at once, then attempt s + jitter (capped)."""
    t, out, a = 0.0, [0.0], 1
    while t < 60:
        t += min(a + jitter, 10)
        out.append(t)
        a += 1
    return out


def next_poll(times, t):
    """(seconds after t of the first poll at or after t, polls up to it)."""
    for k, x in enumerate(times):
        if x >= t:
            return x - t, k + 1
    return float("nan"), len(times)


def budget_schedule(t_end):
    """Polls needed when every interval is at most max(0.15 s, 10 % of the elapsed time)."""
    t, k = 0.0, 0
    while t < t_end:
        t += max(0.15, 0.1 * t)
        k += 1
    return k


def build_reading(rep):
    r = rep
    r.targets()
    held = [v for v in r.verdicts if v[2] == "holds"]
    out = ["## Reading", ""]
    out.append("%d of the %d targets hold in this run (all at default options)." % (len(held), len(r.verdicts)))
    out.append("")

    # row path ---------------------------------------------------------------------------------
    parts = []
    for n in r.sizes:
        f, py, pyu, js = r.above(n, "fdw"), r.above(n, "python_typed"), r.above(n, "python"), r.above(n, "js")
        parts.append("%s rows: genie_fdw %.3f s, typed Python %.3f s (untyped %.3f s), JS SDK %.3f s above "
                     "curl's %.3f s" % ("{:,}".format(n), f, py, pyu, js, r.secs(n, "curl")))
    out.append("**Row path.** Cost above the transfer floor, medians: " + "; ".join(parts) + ". " +
               "genie_fdw's figure includes everything a query does after the answer besides moving bytes: "
               "fetching the answer's first chunk, decoding and typing every value and handing the rows to the executor "
               "(`COPY (SELECT id, name, qty, amount, ts, flag ...) TO '/dev/null'`, the 6 columns the Python "
               "client converts, turned back into text); the Python client's includes `json.loads` and the conversion "
               "to int, Decimal, datetime and bool.")
    out.append("")

    def pr(*names):
        return cg_per_row(r.cg, *names)
    total, iterate, conv = pr("TOTAL"), pr("genieIterateForeignScan"), pr("genie_convert_row")
    decode = cg_sum(r.cg, decode_names(r.cg))
    infunc, text, parse_i = pr("InputFunctionCall"), pr("server_string"), pr("json_tokener_parse_ex")
    if None not in (total, iterate):
        s = ("**CPU per row** (callgrind, 6 columns): %s instructions in the whole backend, %s of them in "
             "genie_fdw's scan" % (fmt_instr(total), fmt_instr(iterate)))
        if decode is not None:
            s += "; JSON decoding %s (%s)" % (fmt_instr(decode), " + ".join(decode_names(r.cg)))
        if parse_i is not None and parse_i >= 0.5:
            s += ", of which json-c %s" % fmt_instr(parse_i)
        elif decode is not None:
            s += ", json-c parsing none of the rows"
        if conv is not None:
            s += "; conversion %s" % fmt_instr(conv)
            if infunc is not None:
                s += " (input functions, for what the fast paths leave to them: %s)" % fmt_instr(infunc)
            else:
                s += " (no input function call: every value took a typed fast path)"
            if text is not None:
                s += ", the UTF-8/encoding step %s" % fmt_instr(text)
        s += "; the executor and COPY's output functions, outside genie_fdw, %s." % fmt_instr(total - iterate)
        typed = cg_per_row(r.cg, "TOTAL", run="typed")
        tscan = cg_per_row(r.cg, "genieIterateForeignScan", run="typed")
        if typed is not None:
            s += (" Consumed typed, without text output (an aggregate over the 6 columns, as a join or a "
                  "GROUP BY reads them), the whole backend takes %s instructions per row, %s of them in "
                  "genie_fdw's scan." % (fmt_instr(typed), fmt_instr(tscan)))
        if total > 6000:
            s += (" What the COPY figure adds is outside genie_fdw: COPY's output functions turn each typed "
                  "value back into text (timestamptz_out and numeric_out are the dearest) and escape it, "
                  "as COPY from a local table would.")
        out.append(s)
        out.append("")

    mem = [n for n in r.sizes if n >= 10000]
    if len(mem) >= 2:
        out.append("**Memory.** The backend's peak RSS: %s (1-row answer: %s). One chunk (%s rows) is decoded "
                   "at a time, with the next one fetched meanwhile, so the peak follows the chunk size, "
                   "not the answer: an answer smaller than a chunk holds less, and above one chunk the peak "
                   "stays flat. What scales with the chunk is its response body, the arena copy of the first "
                   "chunk's and the value pointers and lengths (16 bytes per value), about %.1f KB per chunk "
                   "row here above a 1-row answer: the server's chunk size bounds the flatness from small "
                   "answers, not the answer's size."
                   % (", ".join("%s at %s rows" % (fmt_mb(r.rss(n, "fdw")), "{:,}".format(n)) for n in mem),
                      fmt_mb(max(x["rss_kb"] for x in r.tput[(1, "fdw_1row")])),
                      "{:,}".format(CHUNK_ROWS),
                      (max(r.rss(n, "fdw") for n in mem) - max(x["rss_kb"] for x in r.tput[(1, "fdw_1row")]))
                      / CHUNK_ROWS))
        out.append("")

    # latency ----------------------------------------------------------------------------------
    if r.ts:
        lat = ["T = %g s: %.3f s (Python %.3f s, JS SDK %.3f s; polls %g, %g, %g)" % (
            t, r.overhead(t, "fdw"), r.overhead(t, "python"), r.overhead(t, "js"),
            r.polls(t, "fdw"), r.polls(t, "python"), r.polls(t, "js")) for t in r.ts]
        out.append("**Latency at defaults.** Time to first row minus T, medians, genie_fdw first: " +
                   "; ".join(lat) + ". What bounds genie_fdw's figures is the message's poll schedule, not "
                   "the row path: it polls after poll_interval (0.5 s), the wait growing ×1.5 up to "
                   "max_poll_interval (5 s); in Genie's last steps (PENDING_WAREHOUSE, EXECUTING_QUERY) "
                   "the wait is max(poll_interval, 10 %% of the time waited since asking), so a long answer "
                   "is seen within 10 %% of its time without the polls a restart at poll_interval costs. "
                   "The two latency targets pull against each other: "
                   "the SDK waiter polls at once and then after 1, 2, 3, ... s (its k-th poll about "
                   "k(k-1)/2 s after asking), so 1.5 times its polls leave gaps of seconds near T, while "
                   "intervals of at most max(0.15 s, 10 %% of the time waited), which meet the latency "
                   "budget at every T, need %s polls by T = %s s. The statement and download waits (a statement that was "
                   "RUNNING, a full-result download) now have a schedule of their own that meets the "
                   "latency budget by construction: the next poll after max(0.15 s, 10 %% of the time that "
                   "wait has lasted), at most max_poll_interval; they are reads that do not count against "
                   "Genie's question limit." % (", ".join(str(budget_schedule(t)) for t in r.ts),
                                                 ", ".join("%g" % t for t in r.ts)))
        out.append("")

    if r.full:
        parts = []
        for n in r.full_sizes:
            parts.append("%s rows: genie_fdw %.3f s, typed Python %.3f s (untyped %.3f s) above curl's %.3f s, "
                         "genie_fdw's backend peaking at %s" % (
                             "{:,}".format(n), r.full_above(n, "fdw"), r.full_above(n, "python_typed"),
                             r.full_above(n, "python"), median([x["secs"] for x in r.full[(n, "curl")]]),
                             fmt_mb(max(x["rss_kb"] for x in r.full[(n, "fdw")]))))
        s = ("**Full results.** From seeing the download ready to the last row, above the transfer floor: "
             + "; ".join(parts) + ". The files go through the same row scanner (`gd_scan_rows`) and "
             "conversion as inline chunks, the next file fetched while one is returned.")
        if r.tds:
            s += (" The download's wait has a schedule of its own (the next poll after max(0.15 s, 10 % of "
                  "the time that wait has lasted), at most max_poll_interval): first row after the download "
                  "was ready, medians: " + "; ".join(
                      "T = %g s: %.3f s (%g polls; Python %.3f s, %g polls)" % (
                          t, r.dlat_overhead(t, "fdw"), r.dlat_polls(t, "fdw"), r.dlat_overhead(t, "python"),
                          r.dlat_polls(t, "python")) for t in r.tds) + ".")
            s += (" Its polls are many more than the SDK waiter's: a download reports only PENDING or RUNNING, "
                  "nothing that tells how near it is (the message's last steps do), so seeing it within 10 % "
                  "of its wait takes about 10 polls from 0 to 1.5 s and 24 more per tenfold wait after, where "
                  "the waiter's gaps of 1, 2, 3, ... s would leave it seconds late (the Python column). These "
                  "are reads of the download's state; a 429 on them takes the retry policy's backoff, and a "
                  "question is not asked again.")
        out.append(s)
        out.append("")
    if r.rerun:
        out.append(r.rerun_reading())
        out.append("")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()
