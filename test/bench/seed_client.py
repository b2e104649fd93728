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

Usage: seed_client.py [--typed] URL TOKEN SPACE QUESTION [QUESTION...]
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

    def request(self, method, path, body=None):
        retry = 0
        while True:
            headers = dict(self.headers)
            data = None
            if body is not None:
                data = json.dumps(body).encode("utf-8")
                headers["Content-Type"] = "application/json"
            try:
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                raw = r.read()
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
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


def ask(client, space, question, typed=False):
    out = {"question": question, "polls": 0}
    t0 = time.monotonic()
    start = client.request("POST", "/api/2.0/genie/spaces/%s/start-conversation" % space,
                           {"content": question})
    conv, mid = start["conversation_id"], start["message_id"]
    attempt = 1
    while True:                                  # the SDK waiter: poll at once, then back off
        msg = client.request("GET", "/api/2.0/genie/spaces/%s/conversations/%s/messages/%s"
                             % (space, conv, mid))
        out["polls"] += 1
        status = msg.get("status")
        if status == "COMPLETED":
            break
        if status == "FAILED":
            raise RuntimeError("message FAILED: %s" % msg.get("error"))
        time.sleep(min(attempt, 10) + random.random())
        attempt += 1
    out["answered"] = time.monotonic() - t0
    queries = [a["query"] for a in msg.get("attachments") or [] if "query" in a]
    if not queries:
        raise RuntimeError("no query attachment")
    sid = queries[-1]["statement_id"]
    st = client.request("GET", "/api/2.0/sql/statements/%s" % sid)        # get_statement
    result = st.get("result") or {}
    convs = converters(st["manifest"]) if typed else None
    rows = chunks = 0
    nvalues = 0
    while True:
        data = result.get("data_array") or []
        if chunks == 0:
            out["first_row"] = time.monotonic() - t0
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
        link = result.get("next_chunk_internal_link")
        if not link:
            break
        result = client.request("GET", link)      # get_statement_result_chunk_n
    out["last_row"] = time.monotonic() - t0
    out["rows"], out["chunks"], out["values"] = rows, chunks, nvalues
    return out


def main():
    argv = sys.argv[1:]
    typed = argv[:1] == ["--typed"]
    if typed:
        argv = argv[1:]
    url, token, space = argv[:3]
    questions = argv[3:]
    client = Client(url, token)
    t0 = time.monotonic()
    results = [ask(client, space, q, typed) for q in questions]
    wall = time.monotonic() - t0
    print(json.dumps({"client": "python-seed" + ("-typed" if typed else ""), "wall": wall, "results": results,
                      "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))


if __name__ == "__main__":
    main()
