#!/usr/bin/env python3
"""A seed-style Genie client in Python's standard library: the benchmark's comparator (a).

It does what /work/shared/seed/genie-conversation-api-README.md describes:
  - start a conversation with the question (POST .../start-conversation);
  - wait for the message the way the seed's SDK waiter does (databricks-sdk-py
    wait_get_message_genie_completed: poll at once, then sleep min(attempt, 10) s plus up to 1 s of
    random jitter, until COMPLETED; FAILED is an error);
  - retry HTTP 429 with the seed's backoff: min(1.0 * 2^n, 60) s plus up to 10 % jitter, 5 retries;
  - fetch the result through the Statement Execution API: get_statement(statement_id) for the
    manifest and the first chunk, then every further chunk through next_chunk_internal_link (the
    seed stops after the first chunk; the benchmark needs every row, as genie_fdw reads them).
Rows are json.loads'd and walked (every value touched), as the seed does before formatting them; the
values stay strings (no type conversion).  One keep-alive HTTP connection (http.client), like the
requests session of the Python SDK.

With --typed, every value is also converted to the Python type of its column (int, Decimal, float,
bool, date, datetime, str), the work genie_fdw's input functions do; the seed does not do this.

With --full, the rows come from a full-result download instead (what genie_fdw's full_results does;
the Python SDK's generate_download_full_query_result / get_download_full_query_result): POST
.../attachments/{a}/downloads, then GET .../downloads/{id}?download_id_signature=... polled like the
message (at once, then min(attempt, 10) s plus up to 1 s jitter) until SUCCEEDED, then every file
behind the external links, fetched without the Authorization header and with the link's
http_headers, the next link through next_chunk_internal_link.

Usage: seed_client.py [--typed] [--full] URL TOKEN SPACE QUESTION [QUESTION...]
Questions are asked one after another.  Prints one JSON object on stdout: per question the times
(seconds from the start of asking) of the answer, the first row and the last row, rows, chunks and
polls, plus the total wall time and the process's peak RSS.
"""

import datetime
import decimal
import http.client
import json
import random
import resource
import sys
import time
import urllib.parse

MAX_RETRIES = 5
INITIAL_BACKOFF = 1.0
MAX_BACKOFF = 60.0
BACKOFF_MULTIPLIER = 2.0


class Client:
    def __init__(self, url, token):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port or 80
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        self.headers = {"Authorization": "Bearer " + token, "Accept": "application/json"}

    def request(self, method, path, body=None, headers=None, conn=None):
        """JSON of a 200 reply; headers replace the API's (no Authorization) for storage links."""
        retry = 0
        while True:
            headers = dict(self.headers if headers is None else headers)
            data = None
            if body is not None:
                data = json.dumps(body).encode("utf-8")
                headers["Content-Type"] = "application/json"
            c = conn or self.conn
            try:
                c.request(method, path, body=data, headers=headers)
                r = c.getresponse()
                raw = r.read()
            except (http.client.HTTPException, OSError):
                c.close()
                raise
            if r.status == 429 and retry < MAX_RETRIES:
                wait = min(INITIAL_BACKOFF * BACKOFF_MULTIPLIER ** retry, MAX_BACKOFF)
                wait += random.uniform(0, 0.1 * wait)
                time.sleep(wait)
                retry += 1
                continue
            if r.status != 200:
                raise RuntimeError("%s %s: HTTP %d %s" % (method, path, r.status, raw[:200]))
            return json.loads(raw) if raw else {}


def converters(manifest):
    def conv(type_name):
        if type_name in ("INT", "LONG", "SHORT", "BYTE"):
            return int
        if type_name == "DECIMAL":
            return decimal.Decimal
        if type_name in ("DOUBLE", "FLOAT"):
            return float
        if type_name == "BOOLEAN":
            return lambda v: v == "true"
        if type_name == "DATE":
            return datetime.date.fromisoformat
        if type_name == "TIMESTAMP":
            return datetime.datetime.fromisoformat
        return str
    return [conv(c.get("type_name")) for c in manifest["schema"]["columns"]]


def poll(client, path, done, out):
    """The SDK waiter's schedule: at once, then min(attempt, 10) s plus up to 1 s of jitter."""
    attempt = 1
    while True:
        obj = client.request("GET", path)
        out["polls"] += 1
        if done(obj):
            return obj
        time.sleep(min(attempt, 10) + random.random())
        attempt += 1


def download_rows(client, space, conv, mid, att, out):
    """The external links of a full-result download: (manifest, generator of each file's rows)."""
    base = "/api/2.0/genie/spaces/%s/conversations/%s/messages/%s/attachments/%s/downloads" % (
        space, conv, mid, att)
    d = client.request("POST", base)
    path = "%s/%s?download_id_signature=%s" % (base, d["download_id"],
                                               urllib.parse.quote(d["download_id_signature"], safe=""))
    box = {"polls": 0}

    def ready(obj):
        state = (obj.get("statement_response") or {}).get("status", {}).get("state")
        if state in ("FAILED", "CANCELED", "CLOSED"):
            raise RuntimeError("download %s" % state)
        return state == "SUCCEEDED"
    st = poll(client, path, ready, box)["statement_response"]
    out["download_polls"] = box["polls"]
    storage = {}                                 # (host, port) -> keep-alive connection, no auth

    def files():
        result = st.get("result") or {}
        while True:
            links = result.get("external_links") or []
            if not links:
                return
            link = links[0]
            u = urllib.parse.urlsplit(link["external_link"])
            key = (u.hostname, u.port or (443 if u.scheme == "https" else 80))
            if key not in storage:
                cls = http.client.HTTPSConnection if u.scheme == "https" else http.client.HTTPConnection
                storage[key] = cls(key[0], key[1], timeout=60)
            yield client.request("GET", u.path + ("?" + u.query if u.query else ""),
                                 headers=dict(link.get("http_headers") or {}), conn=storage[key])
            nxt = link.get("next_chunk_internal_link")
            if not nxt:
                return
            result = client.request("GET", nxt)   # get_statement_result_chunk_n: the next link
    return st["manifest"], files()


def ask(client, space, question, typed=False, full=False):
    out = {"question": question, "polls": 0}
    t0 = time.monotonic()
    start = client.request("POST", "/api/2.0/genie/spaces/%s/start-conversation" % space,
                           {"content": question})
    conv, mid = start["conversation_id"], start["message_id"]

    def answered(m):                              # the SDK waiter: poll at once, then back off
        if m.get("status") == "FAILED":
            raise RuntimeError("message FAILED: %s" % m.get("error"))
        return m.get("status") == "COMPLETED"
    msg = poll(client, "/api/2.0/genie/spaces/%s/conversations/%s/messages/%s" % (space, conv, mid),
               answered, out)
    out["answered"] = time.monotonic() - t0
    queries = [a for a in msg.get("attachments") or [] if "query" in a]
    if not queries:
        raise RuntimeError("no query attachment")
    if full:
        manifest, pages = download_rows(client, space, conv, mid, queries[-1]["attachment_id"], out)
        pages = ({"data_array": rows} for rows in pages)
    else:
        sid = queries[-1]["query"]["statement_id"]
        st = client.request("GET", "/api/2.0/sql/statements/%s" % sid)        # get_statement
        manifest = st["manifest"]
        pages = chunk_pages(client, st.get("result") or {})
    convs = converters(manifest) if typed else None
    rows = chunks = 0
    nvalues = 0
    for result in pages:
        data = result.get("data_array") or []
        if chunks == 0:
            out["first_row"] = time.monotonic() - t0
            out["first_row_wall"] = time.time()
        if convs:
            for row in data:
                values = [None if v is None else f(v) for f, v in zip(convs, row)]
                nvalues += len(values)
        else:
            for row in data:                      # touch every value, as formatting would
                for v in row:
                    if v is not None:
                        nvalues += 1
        rows += len(data)
        chunks += 1
    out["last_row"] = time.monotonic() - t0
    out["last_row_wall"] = time.time()
    out["rows"], out["chunks"], out["values"] = rows, chunks, nvalues
    return out


def chunk_pages(client, result):
    """The inline result's chunks: the first, then each next_chunk_internal_link."""
    while True:
        yield result
        link = result.get("next_chunk_internal_link")
        if not link:
            return
        result = client.request("GET", link)      # get_statement_result_chunk_n


def main():
    argv = sys.argv[1:]
    typed = full = False
    while argv[:1] in (["--typed"], ["--full"]):
        typed, full = typed or argv[0] == "--typed", full or argv[0] == "--full"
        argv = argv[1:]
    url, token, space = argv[:3]
    questions = argv[3:]
    client = Client(url, token)
    t0 = time.monotonic()
    results = [ask(client, space, q, typed, full) for q in questions]
    wall = time.monotonic() - t0
    print(json.dumps({"client": "python-seed" + ("-typed" if typed else "") + ("-full" if full else ""), "wall": wall, "results": results,
                      "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))


if __name__ == "__main__":
    main()
