#!/usr/bin/env python3
"""Unit tests for the Genie emulator (test/genie_emulator.py).

Run: python3 -m unittest test/test_emulator.py   or   python3 test/test_emulator.py
Each test starts its own emulator on a free port (port 0) and stops it afterwards.
"""

import base64
import concurrent.futures
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import genie_emulator as ge  # noqa: E402

EMULATOR = os.path.join(HERE, "genie_emulator.py")
EMUCTL = os.path.join(HERE, "emuctl.py")
TOKEN = "dapi-emulator-token"
SPACE = "01f0000000000000000000000000000a"
SPACE_B = "01f0000000000000000000000000000b"
SPACE_FORBIDDEN = "01f0000000000000000000000000000c"
Q1 = "Which products generate the highest total sales value?"
Q2 = "Show every column type"
Q3 = "How many orders per region?"
IN_PROGRESS = ["SUBMITTED", "FETCHING_METADATA", "FILTERING_CONTEXT", "ASKING_AI", "PENDING_WAREHOUSE",
               "EXECUTING_QUERY"]


class Reply:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    @property
    def json(self):
        return json.loads(self.body.decode("utf-8"))


class EmulatorCase(unittest.TestCase):
    """Starts an emulator per test; ARGS adds command-line flags."""

    ARGS = ["--answer-seconds", "0.2", "--questions-per-minute", "0"]

    def setUp(self):
        self.start_emulator(self.ARGS)

    def start_emulator(self, args, scheme="http"):
        self.proc = subprocess.Popen([sys.executable, EMULATOR, "--port", "0"] + list(args),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(self.stop_emulator)
        line = self.proc.stdout.readline().strip()
        prefix = "genie emulator listening on %s://127.0.0.1:" % scheme
        self.assertTrue(line.startswith(prefix), "unexpected ready line %r (stderr: %s)" % (line, self.proc.stderr.read() if not line else ""))
        self.url = line.split(" ")[-1]
        self.port = int(line.rsplit(":", 1)[1])
        self.scheme = scheme
        self._conn = None

    def stop_emulator(self):
        if self._conn:
            self._conn.close()
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()

    # -- HTTP helpers ---------------------------------------------------------------------------
    def new_conn(self, timeout=30):
        if self.scheme == "https":
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout, context=ctx)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, token=TOKEN, headers=None, conn=None, raw=False):
        """One request on a kept-alive connection (reconnects once if the server closed it)."""
        hdrs = dict(headers or {})
        if token is not None:
            hdrs["Authorization"] = "Bearer " + token
        data = body if (raw or body is None) else json.dumps(body).encode()
        if data is not None and not raw:
            hdrs.setdefault("Content-Type", "application/json")
        own = conn is None
        for attempt in range(2):
            if own and self._conn is None:
                self._conn = self.new_conn()
            c = self._conn if own else conn
            try:
                c.request(method, path, body=data, headers=hdrs)
                r = c.getresponse()
                body_bytes = r.read()
                rep = Reply(r.status, {k.lower(): v for k, v in r.getheaders()}, body_bytes)
                if own and r.getheader("Connection", "").lower() == "close":
                    self._conn.close()
                    self._conn = None
                return rep
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                if not own or attempt:
                    raise
                self._conn.close()
                self._conn = None

    def api(self, method, path, body=None, **kw):
        return self.request(method, path, body, **kw)

    def ok(self, method, path, body=None, **kw):
        r = self.api(method, path, body, **kw)
        self.assertEqual(r.status, 200, r.body)
        return r.json if r.body else {}

    def control(self, method, what, body=None):
        return self.ok(method, "/__emulator/" + what, body, token=None)

    def config(self, **kw):
        return self.control("POST", "config", kw)

    def fault(self, **kw):
        return self.control("POST", "faults", kw)

    def stats(self):
        return self.control("GET", "stats")

    def manual_clock(self):
        return self.control("POST", "clock", {"clock": "manual"})

    def advance(self, seconds):
        return self.control("POST", "clock", {"advance": seconds})

    # -- Genie helpers --------------------------------------------------------------------------
    def start(self, question, space=SPACE):
        return self.ok("POST", "/api/2.0/genie/spaces/%s/start-conversation" % space, {"content": question})

    def msg_path(self, conv, msg, space=SPACE):
        return "/api/2.0/genie/spaces/%s/conversations/%s/messages/%s" % (space, conv, msg)

    def wait(self, conv, msg, space=SPACE, timeout=10):
        deadline = time.time() + timeout
        while True:
            m = self.ok("GET", self.msg_path(conv, msg, space))
            if m["status"] not in IN_PROGRESS or time.time() > deadline:
                return m
            time.sleep(0.05)

    def ask(self, question, space=SPACE):
        r = self.start(question, space)
        return r, self.wait(r["conversation_id"], r["message_id"], space)

    @staticmethod
    def queries(m):
        return [a for a in m.get("attachments", []) if "query" in a]

    def query_result(self, m, att=None):
        att = att or self.queries(m)[-1]
        return self.ok("GET", self.msg_path(m["conversation_id"], m["message_id"]) +
                       "/attachments/%s/query-result" % att["attachment_id"])["statement_response"]

    def all_rows_via_links(self, sr):
        """Follow next_chunk_internal_link through the statement API and collect all rows."""
        rows = list(sr["result"].get("data_array", []))
        r = sr["result"]
        while "next_chunk_internal_link" in r:
            r = self.ok("GET", r["next_chunk_internal_link"])
            rows.extend(r["data_array"])
        return rows


# ------------------------------------------------------------------------------------------------

class TestMessages(EmulatorCase):
    ARGS = ["--answer-seconds", "0.6", "--questions-per-minute", "0"]

    def test_status_progression_order(self):
        # the manual clock: each status is seen exactly when the test moves time, never racing the machine
        self.manual_clock()
        r = self.start(Q1)
        self.assertEqual(r["message"]["status"], "SUBMITTED")
        path = self.msg_path(r["conversation_id"], r["message_id"])
        seen = []
        for step in range(len(IN_PROGRESS)):
            m = self.ok("GET", path)
            self.assertEqual(self.ok("GET", path)["status"], m["status"])      # frozen between advances
            seen.append(m["status"])
            if m["status"] == "EXECUTING_QUERY":
                q = self.queries(m)
                self.assertEqual(len(q), 1)
                self.assertNotIn("query_result_metadata", q[0]["query"])
                sr = self.query_result(m)
                self.assertEqual(sr["status"]["state"], "RUNNING")
                self.assertNotIn("result", sr)
                self.assertNotIn("manifest", sr)
            else:
                self.assertNotIn("attachments", m)
            self.advance(0.100001)           # 0.6 s answer: one status per 0.1 s (a hair more: float sums)
        m = self.ok("GET", path)
        self.assertEqual(m["status"], "COMPLETED")
        self.assertEqual(seen, IN_PROGRESS)
        self.assertEqual(m["last_updated_timestamp"] - m["created_timestamp"], 600)

    def test_clock_control(self):
        self.assertEqual(self.control("GET", "clock")["clock"], "real")
        c = self.manual_clock()
        self.assertEqual(c["clock"], "manual")
        self.assertAlmostEqual(self.advance(2.5)["now"], c["now"] + 2.5, places=6)
        self.assertEqual(self.api("POST", "/__emulator/clock", {"advance": -1}, token=None).status, 400)
        self.assertEqual(self.api("POST", "/__emulator/clock", {"clock": "sundial"}, token=None).status, 400)
        r = self.start(Q1)
        time.sleep(0.7)                  # longer than the answer: frozen time keeps it unanswered
        self.assertEqual(self.ok("GET", self.msg_path(r["conversation_id"], r["message_id"]))["status"],
                         "SUBMITTED")
        self.control("POST", "clock", {"clock": "real"})      # back to real time, continuing from frozen time
        m = self.wait(r["conversation_id"], r["message_id"])
        self.assertEqual(m["status"], "COMPLETED")
        self.manual_clock()
        self.control("POST", "reset")                         # reset restores the startup clock
        self.assertEqual(self.control("GET", "clock")["clock"], "real")
        self.assertEqual(self.api("POST", "/__emulator/clock", {"advance": 1}, token=None).status, 400)

    def test_start_shapes(self):
        r = self.start(Q1)
        self.assertEqual(set(r), {"conversation_id", "message_id", "conversation", "message"})
        conv, msg = r["conversation"], r["message"]
        self.assertEqual(conv["id"], r["conversation_id"])
        self.assertEqual(msg["id"], r["message_id"])
        self.assertEqual(msg["message_id"], r["message_id"])
        self.assertEqual(msg["conversation_id"], r["conversation_id"])
        self.assertEqual(msg["space_id"], SPACE)
        self.assertEqual(msg["content"], Q1)
        for ident in (r["conversation_id"], r["message_id"]):
            self.assertRegex(ident, r"^[0-9a-f]{32}$")
        now = time.time() * 1000
        for obj in (conv, msg):
            self.assertIsInstance(obj["created_timestamp"], int)
            self.assertLess(abs(obj["created_timestamp"] - now), 10000)      # milliseconds
            self.assertIsInstance(obj["user_id"], int)
            self.assertGreater(obj["user_id"], 2 ** 32)
        for absent in ("attachments", "error", "query_result"):
            self.assertNotIn(absent, msg)

    def test_completed_shape_and_follow_up(self):
        r, m = self.ask(Q1)
        self.assertEqual(m["status"], "COMPLETED")
        self.assertEqual(m["id"], m["message_id"])
        self.assertGreaterEqual(m["last_updated_timestamp"], m["created_timestamp"] + 500)
        kinds = [[k for k in a if k != "attachment_id"][0] for a in m["attachments"]]
        self.assertEqual(kinds, ["query", "suggested_questions", "text"])       # order of a real capture
        text = [a for a in m["attachments"] if "text" in a][0]
        self.assertRegex(text["attachment_id"], r"^[0-9a-f]{32}$")
        self.assertEqual(text["text"]["purpose"], "TEXT_ATTACHMENT_PURPOSE_ANSWER")
        q = self.queries(m)[0]
        self.assertEqual(q["query"]["last_updated_timestamp"], m["last_updated_timestamp"])
        self.assertEqual(q["query"]["thoughts"][0]["thought_type"], "THOUGHT_TYPE_DESCRIPTION")
        self.assertRegex(q["attachment_id"], r"^[0-9a-f]{32}$")
        self.assertRegex(q["query"]["statement_id"], r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
        self.assertEqual(q["query"]["query_result_metadata"], {"row_count": 5})
        self.assertIn("description", q["query"])
        self.assertIn("SELECT", q["query"]["query"])
        self.assertEqual(m["query_result"], {"statement_id": q["query"]["statement_id"], "row_count": 5})
        # follow-up in the same conversation uses the same fixture lookup
        f = self.ok("POST", "/api/2.0/genie/spaces/%s/conversations/%s/messages" % (SPACE, r["conversation_id"]),
                    {"content": "  show EVERY column   type??  "})
        self.assertEqual(f["status"], "SUBMITTED")
        self.assertEqual(f["id"], f["message_id"])
        self.assertNotIn("attachments", f)
        fm = self.wait(r["conversation_id"], f["message_id"])
        self.assertEqual(fm["status"], "COMPLETED")
        self.assertEqual(self.query_result(fm)["manifest"]["schema"]["column_count"], 10)
        self.assertEqual(self.stats()["questions"], [Q1, "  show EVERY column   type??  "])

    def test_clarifying_answer(self):
        _, m = self.ask("What is the meaning of life?")
        self.assertEqual(m["status"], "COMPLETED")
        self.assertEqual(self.queries(m), [])
        self.assertNotIn("query_result", m)
        texts = [a for a in m["attachments"] if "text" in a]
        self.assertEqual(len(texts), 1)
        self.assertEqual(texts[0]["text"]["purpose"], "FOLLOW_UP_QUESTION")     # Genie asks back
        self.assertTrue(any("suggested_questions" in a for a in m["attachments"]))
        r = self.api("GET", self.msg_path(m["conversation_id"], m["message_id"]) + "/query-result")
        self.assertEqual(r.status, 404)


class TestResults(EmulatorCase):
    def expected(self, question):
        db = ge.build_database()
        entry, _ = ge.Fixtures(ge.DEFAULT_FIXTURES).lookup(question)
        cols = ge.make_columns(entry["columns"])
        return ge.render_rows(cols, db.execute(entry["sql"]).fetchall())

    def test_question1_result(self):
        _, m = self.ask(Q1)
        sr = self.query_result(m)
        self.assertEqual(sr["status"], {"state": "SUCCEEDED"})
        self.assertEqual(sr["statement_id"], self.queries(m)[0]["query"]["statement_id"])
        man = sr["manifest"]
        self.assertEqual(man["format"], "JSON_ARRAY")
        self.assertEqual(man["schema"]["columns"], [
            {"name": "ProductName", "position": 0, "type_name": "STRING", "type_text": "STRING"},
            {"name": "TotalValue", "position": 1, "type_name": "DECIMAL", "type_text": "DECIMAL(38,2)",
             "type_precision": 38, "type_scale": 2}])
        self.assertEqual(man["total_row_count"], 5)
        self.assertEqual(man["total_chunk_count"], 1)
        self.assertFalse(man["truncated"])
        self.assertEqual(man["chunks"][0]["row_count"], 5)
        self.assertEqual(man["total_byte_count"], man["chunks"][0]["byte_count"])
        rows = sr["result"]["data_array"]
        self.assertEqual(rows[:3], [["Quinoa & Kale Bowl", "2271.50"], ["Vegan Pizza", "2197.25"],
                                    ["Organic Chili", "2145.00"]])
        self.assertEqual(rows, self.expected(Q1))
        self.assertEqual(sr["result"]["chunk_index"], 0)
        self.assertEqual(sr["result"]["row_offset"], 0)
        self.assertEqual(sr["result"]["row_count"], 5)
        self.assertNotIn("next_chunk_index", sr["result"])
        # deprecated routes serve the same result
        base = self.msg_path(m["conversation_id"], m["message_id"])
        att = self.queries(m)[0]["attachment_id"]
        for path in (base + "/query-result", base + "/query-result/" + att):
            self.assertEqual(self.ok("GET", path)["statement_response"]["result"]["data_array"], rows)
        st = self.ok("GET", "/api/2.0/sql/statements/" + sr["statement_id"])
        self.assertEqual(st["result"]["data_array"], rows)

    def test_question2_types(self):
        _, m = self.ask(Q2)
        sr = self.query_result(m)
        cols = sr["manifest"]["schema"]["columns"]
        self.assertEqual([(c["name"], c["type_name"], c["type_text"]) for c in cols], [
            ("order_id", "LONG", "BIGINT"), ("product", "STRING", "STRING"), ("quantity", "INT", "INT"),
            ("small_qty", "SHORT", "SMALLINT"), ("unit_price", "DECIMAL", "DECIMAL(10,2)"),
            ("discount", "DOUBLE", "DOUBLE"), ("is_gift", "BOOLEAN", "BOOLEAN"), ("order_date", "DATE", "DATE"),
            ("order_ts", "TIMESTAMP", "TIMESTAMP"), ("note", "STRING", "STRING")])
        self.assertEqual((cols[4]["type_precision"], cols[4]["type_scale"]), (10, 2))
        rows = sr["result"]["data_array"]
        self.assertEqual(rows, self.expected(Q2))
        self.assertEqual(len(rows), 4)
        self.assertEqual([r[0] for r in rows], sorted((r[0] for r in rows), key=int))
        self.assertIn("9007199254740993", [r[0] for r in rows])
        for r in rows:
            for v in r:
                self.assertTrue(v is None or isinstance(v, str))
            self.assertRegex(r[4], r"^\d+\.\d{2}$")
            self.assertIn(r[6], ("true", "false"))
            self.assertRegex(r[7], r"^\d{4}-\d\d-\d\d$")
            self.assertRegex(r[8], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
            self.assertTrue(r[8].startswith(r[7]))
        self.assertIn(None, [r[5] for r in rows])
        self.assertIn(None, [r[9] for r in rows])
        notes = [r[9] for r in rows if r[9] and "café ☕" in r[9]]
        self.assertEqual(len(notes), 1)
        self.assertIn('"', notes[0])
        self.assertIn("\\", notes[0])
        self.assertIn("0.3333333333333333", [r[5] for r in rows])
        # the raw body carries the unicode as UTF-8
        raw = self.api("GET", "/api/2.0/sql/statements/" + sr["statement_id"]).body
        self.assertIn("café ☕".encode("utf-8"), raw)

    def test_two_query_attachments(self):
        _, m = self.ask(Q3)
        qs = self.queries(m)
        self.assertEqual(len(qs), 2)
        first = self.query_result(m, qs[0])
        last = self.query_result(m, qs[1])
        self.assertEqual([c["name"] for c in first["manifest"]["schema"]["columns"]], ["wrong"])
        self.assertEqual([c["name"] for c in last["manifest"]["schema"]["columns"]], ["region", "order_count"])
        self.assertEqual(last["result"]["data_array"], self.expected(Q3))
        self.assertEqual(m["query_result"]["statement_id"], qs[1]["query"]["statement_id"])
        self.assertNotEqual(qs[0]["query"]["statement_id"], qs[1]["query"]["statement_id"])

    def test_chunking_three_rows(self):
        self.config(chunk_rows=3)
        _, m = self.ask("Generate 10 rows")
        sr = self.query_result(m)
        man = sr["manifest"]
        self.assertEqual(man["total_chunk_count"], 4)
        self.assertEqual([c["row_count"] for c in man["chunks"]], [3, 3, 3, 1])
        self.assertEqual([c["row_offset"] for c in man["chunks"]], [0, 3, 6, 9])
        self.assertEqual(sr["result"]["next_chunk_index"], 1)
        self.assertEqual(sr["result"]["next_chunk_internal_link"],
                         "/api/2.0/sql/statements/%s/result/chunks/1" % sr["statement_id"])
        rows = self.all_rows_via_links(sr)
        self.assertEqual([r[0] for r in rows], [str(i) for i in range(1, 11)])
        self.assertEqual(rows, ge.expected_rows("Generate 10 rows"))
        last = self.ok("GET", "/api/2.0/sql/statements/%s/result/chunks/3" % sr["statement_id"])
        self.assertEqual(last["chunk_index"], 3)
        self.assertEqual(last["row_offset"], 9)
        self.assertNotIn("next_chunk_index", last)
        self.assertNotIn("next_chunk_internal_link", last)
        st = self.ok("GET", "/api/2.0/sql/statements/" + sr["statement_id"])
        self.assertEqual(st["manifest"], man)
        self.assertEqual(self.api("GET", "/api/2.0/sql/statements/%s/result/chunks/4" % sr["statement_id"]).status, 400)
        self.assertEqual(self.api("GET", "/api/2.0/sql/statements/00000000-0000-0000-0000-000000000000").status, 404)
        self.assertEqual(self.ok("POST", "/api/2.0/sql/statements/%s/cancel" % sr["statement_id"]), {})

    def test_row_cap_truncation(self):
        _, m = self.ask("Generate 7000 rows")
        q = self.queries(m)[0]["query"]
        self.assertEqual(q["query_result_metadata"], {"row_count": 5000, "is_truncated": True})
        self.assertEqual(m["query_result"]["is_truncated"], True)
        sr = self.query_result(m)
        self.assertTrue(sr["manifest"]["truncated"])
        self.assertEqual(sr["manifest"]["total_row_count"], 5000)
        self.assertEqual(sr["manifest"]["total_chunk_count"], 5)
        rows = self.all_rows_via_links(sr)
        self.assertEqual(len(rows), 5000)
        self.assertEqual(rows[-1][0], "5000")

    def test_million_rows_late_chunk(self):
        self.config(row_cap=0)            # no cap: the whole million is addressable
        _, m = self.ask("Generate 1000000 rows")
        sr = self.query_result(m)
        self.assertEqual(sr["manifest"]["total_row_count"], 1000000)
        self.assertEqual(sr["manifest"]["total_chunk_count"], 1000)
        t = time.time()
        chunk = self.ok("GET", "/api/2.0/sql/statements/%s/result/chunks/998" % sr["statement_id"])
        self.assertLess(time.time() - t, 2.0)
        self.assertEqual(chunk["row_offset"], 998000)
        self.assertEqual(chunk["data_array"][0], ge.render_rows(ge.make_columns(
            ge.Fixtures(ge.DEFAULT_FIXTURES).lookup("generate 1 rows")[0]["columns"]),
            [ge.GeneratedResult.row(998001)])[0])
        self.assertEqual(chunk["next_chunk_index"], 999)


class TestOutcomes(EmulatorCase):
    def test_failed(self):
        _, m = self.ask("Make the query fail")
        self.assertEqual(m["status"], "FAILED")
        self.assertEqual(m["error"]["type"], "SQL_EXECUTION_EXCEPTION")
        self.assertTrue(m["error"]["error"])
        self.assertNotIn("attachments", m)

    def test_rate_limit_exception_first_time_only(self):
        _, m = self.ask("Trigger a rate limit")
        self.assertEqual(m["status"], "FAILED")
        self.assertEqual(m["error"]["type"], "RATE_LIMIT_EXCEEDED_GENERIC_EXCEPTION")
        _, m2 = self.ask("Trigger a rate limit")
        self.assertEqual(m2["status"], "COMPLETED")
        self.assertEqual(self.query_result(m2)["result"]["data_array"][0], ["Quinoa & Kale Bowl", "2271.50"])
        self.control("POST", "reset")
        _, m3 = self.ask("Trigger a rate limit")
        self.assertEqual(m3["status"], "FAILED")

    def test_cancelled(self):
        _, m = self.ask("Cancel this question")
        self.assertEqual(m["status"], "CANCELLED")
        self.assertNotIn("attachments", m)

    def test_expired_and_execute_query(self):
        _, m = self.ask("Let the result expire")
        self.assertEqual(m["status"], "QUERY_RESULT_EXPIRED")
        q = self.queries(m)
        self.assertEqual(len(q), 1)
        self.assertEqual(self.query_result(m)["status"]["state"], "CLOSED")
        base = self.msg_path(m["conversation_id"], m["message_id"])
        fresh = self.ok("POST", base + "/attachments/%s/execute-query" % q[0]["attachment_id"],
                        raw=True, body=b"")["statement_response"]
        self.assertEqual(fresh["status"]["state"], "SUCCEEDED")
        self.assertNotEqual(fresh["statement_id"], q[0]["query"]["statement_id"])
        self.assertEqual([c["name"] for c in fresh["manifest"]["schema"]["columns"]], ["ProductName", "TotalValue"])
        self.assertEqual(fresh["result"]["data_array"][0], ["Quinoa & Kale Bowl", "2271.50"])
        depr = self.ok("POST", base + "/execute-query", {})["statement_response"]
        self.assertEqual(depr["result"]["data_array"], fresh["result"]["data_array"])
        self.assertEqual(self.ok("GET", "/api/2.0/sql/statements/" + fresh["statement_id"])["status"]["state"],
                         "SUCCEEDED")
        _, again = self.ask("Let the result expire")
        self.assertEqual(again["status"], "COMPLETED")

    def test_take_your_time(self):
        self.manual_clock()
        r = self.start("Take your time")
        self.advance(4.9)
        m = self.ok("GET", self.msg_path(r["conversation_id"], r["message_id"]))
        self.assertEqual(m["status"], "SUBMITTED")          # 30 s answer: still in the first sixth
        self.advance(25.1)
        self.assertEqual(self.ok("GET", self.msg_path(r["conversation_id"], r["message_id"]))["status"],
                         "COMPLETED")


class TestRateLimit(EmulatorCase):
    ARGS = ["--answer-seconds", "0.2", "--questions-per-minute", "2"]

    def test_429_with_retry_after(self):
        self.config(rate_window_seconds=3)
        self.manual_clock()             # the window cannot pass while the test looks
        r1 = self.start(Q1)
        self.ok("POST", "/api/2.0/genie/spaces/%s/conversations/%s/messages" % (SPACE, r1["conversation_id"]),
                {"content": "How many orders per region?"})
        for _ in range(3):              # polling GETs do not count
            self.ok("GET", self.msg_path(r1["conversation_id"], r1["message_id"]))
        r = self.api("POST", "/api/2.0/genie/spaces/%s/start-conversation" % SPACE_B, {"content": Q1})
        self.assertEqual(r.status, 429)
        self.assertEqual(r.json["error_code"], "RESOURCE_EXHAUSTED")
        self.assertTrue(r.json["message"])
        self.assertRegex(r.headers["retry-after"], r"^\d+$")
        ra = int(r.headers["retry-after"])
        self.assertEqual(ra, 3)
        st = self.stats()
        self.assertEqual(st["sent_429"], 1)
        self.assertEqual(st["statuses"]["429"], 1)
        self.assertEqual(len(st["questions"]), 2)
        self.advance(ra - 0.5)
        self.assertEqual(self.api("POST", "/api/2.0/genie/spaces/%s/start-conversation" % SPACE_B,
                                  {"content": Q1}).status, 429)          # still inside the window
        self.advance(0.5)
        self.start(Q1)
        self.config(questions_per_minute=0)
        for _ in range(5):
            self.start("hello")


class TestAuth(EmulatorCase):
    def test_auth_errors(self):
        r = self.api("GET", "/api/2.0/genie/spaces", token=None)
        self.assertEqual(r.status, 401)
        self.assertEqual(r.json, {"error_code": 401, "message": r.json["message"]})    # numeric, as real
        self.assertIn("Authorization", r.json["message"])
        r = self.api("GET", "/api/2.0/genie/spaces", token=None, headers={"Authorization": "Basic abc"})
        self.assertEqual(r.status, 401)
        r = self.api("GET", "/api/2.0/genie/spaces", token="dapi-wrong-secret-value")
        self.assertEqual(r.status, 403)
        self.assertEqual(r.json, {"error_code": 403, "message": "Invalid access token."})
        self.assertNotIn(b"dapi-wrong-secret-value", r.body)
        self.assertEqual(self.api("GET", "/api/2.0/sql/statements/x", token=None).status, 401)

    def test_spaces(self):
        r = self.api("POST", "/api/2.0/genie/spaces/%s/start-conversation" % SPACE_FORBIDDEN, {"content": Q1})
        self.assertEqual(r.status, 403)
        self.assertEqual(r.json["error_code"], "PERMISSION_DENIED")
        self.assertEqual(self.api("GET", "/api/2.0/genie/spaces/" + SPACE_FORBIDDEN).status, 403)
        self.assertEqual(self.api("GET", "/api/2.0/genie/spaces/%s/conversations" % SPACE_FORBIDDEN).status, 403)
        bad = "0123456789abcdef0123456789abcdef"
        r = self.api("POST", "/api/2.0/genie/spaces/%s/start-conversation" % bad, {"content": Q1})
        self.assertEqual(r.status, 404)
        self.assertEqual(r.json["error_code"], "RESOURCE_DOES_NOT_EXIST")
        self.assertIn(bad, r.json["message"])
        [info] = r.json["details"]
        self.assertEqual(info["@type"], "type.googleapis.com/google.rpc.ErrorInfo")
        self.assertEqual(info["reason"], "RESOURCE_DOES_NOT_EXIST")
        self.assertRegex(info["metadata"]["request_id"], r"^[0-9a-f-]{36}$")
        sp = self.ok("GET", "/api/2.0/genie/spaces/" + SPACE)
        self.assertEqual(sp["title"], "Retail Sales")
        self.assertNotIn("serialized_space", sp)
        # pagination: page_size=1 needs three pages
        seen, token, pages = [], None, 0
        while True:
            q = "?page_size=1" + ("&page_token=" + urllib.parse.quote(token) if token else "")
            page = self.ok("GET", "/api/2.0/genie/spaces" + q)
            pages += 1
            seen += [s["space_id"] for s in page["spaces"]]
            token = page.get("next_page_token")
            if not token:
                break
        self.assertEqual(pages, 3)
        self.assertEqual(seen, [SPACE, SPACE_B, SPACE_FORBIDDEN])
        self.assertEqual(len(self.ok("GET", "/api/2.0/genie/spaces")["spaces"]), 3)
        self.assertNotIn("next_page_token", self.ok("GET", "/api/2.0/genie/spaces"))
        self.assertEqual(self.api("GET", "/api/2.0/genie/spaces?page_token=garbage!").status, 400)

    def test_unknown_route(self):
        r = self.api("GET", "/api/2.0/genie/nope/nothing/here/at/all/x/y/z")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.json["error_code"], "ENDPOINT_NOT_FOUND")
        self.assertEqual(self.api("GET", "/whatever").status, 404)

    def test_oauth(self):
        self.config(oauth_token_ttl=1)
        meta = self.ok("GET", "/oidc/.well-known/oauth-authorization-server", token=None)
        self.assertTrue(meta["token_endpoint"].endswith("/oidc/v1/token"))
        form = b"grant_type=client_credentials&scope=all-apis"
        basic = base64.b64encode(b"emulator-sp:emulator-secret").decode()
        ctype = {"Content-Type": "application/x-www-form-urlencoded"}
        r = self.api("POST", "/oidc/v1/token", form, token=None, raw=True,
                     headers=dict(ctype, Authorization="Basic " + basic))
        self.assertEqual(r.status, 200)
        tok = r.json
        self.assertEqual(tok["token_type"], "Bearer")
        self.assertEqual(tok["expires_in"], 1)
        self.assertEqual(tok["scope"], "all-apis")
        self.ok("GET", "/api/2.0/genie/spaces", token=tok["access_token"])
        self.control("POST", "reset")                   # issued tokens survive a reset
        self.ok("GET", "/api/2.0/genie/spaces", token=tok["access_token"])
        r = self.api("POST", "/oidc/v1/token", form + b"&client_id=emulator-sp&client_secret=emulator-secret",
                     token=None, raw=True, headers=ctype)
        self.assertEqual(r.status, 200)
        r = self.api("POST", "/oidc/v1/token", form, token=None, raw=True,
                     headers=dict(ctype, Authorization="Basic " + base64.b64encode(b"emulator-sp:nope").decode()))
        self.assertEqual(r.status, 401)
        self.assertEqual(r.json["error"], "invalid_client")
        time.sleep(1.1)
        r = self.api("GET", "/api/2.0/genie/spaces", token=tok["access_token"])
        self.assertEqual(r.status, 401)


class TestConversations(EmulatorCase):
    def test_list_and_delete(self):
        convs = [self.start("question %d" % i)["conversation_id"] for i in range(3)]
        page = self.ok("GET", "/api/2.0/genie/spaces/%s/conversations?page_size=2" % SPACE)
        self.assertEqual(len(page["conversations"]), 2)
        self.assertEqual(page["conversations"][0]["conversation_id"], convs[2])     # newest first
        self.assertEqual(set(page["conversations"][0]), {"conversation_id", "title", "created_timestamp"})
        page2 = self.ok("GET", "/api/2.0/genie/spaces/%s/conversations?page_size=2&page_token=%s"
                        % (SPACE, page["next_page_token"]))
        self.assertEqual([c["conversation_id"] for c in page2["conversations"]], [convs[0]])
        self.assertNotIn("next_page_token", page2)
        allc = self.ok("GET", "/api/2.0/genie/spaces/%s/conversations?include_all=true" % SPACE)
        self.assertEqual(len(allc["conversations"]), 4)
        self.assertEqual(self.ok("DELETE", "/api/2.0/genie/spaces/%s/conversations/%s" % (SPACE, convs[1])), {})
        left = self.ok("GET", "/api/2.0/genie/spaces/%s/conversations" % SPACE)["conversations"]
        self.assertEqual([c["conversation_id"] for c in left], [convs[2], convs[0]])
        self.assertEqual(self.api("DELETE", "/api/2.0/genie/spaces/%s/conversations/%s" % (SPACE, convs[1])).status, 404)

    def test_messages_delete_feedback(self):
        r = self.start(Q1)
        c = r["conversation_id"]
        f = self.ok("POST", "/api/2.0/genie/spaces/%s/conversations/%s/messages" % (SPACE, c), {"content": Q2})
        msgs = self.ok("GET", "/api/2.0/genie/spaces/%s/conversations/%s/messages" % (SPACE, c))["messages"]
        self.assertEqual([m["message_id"] for m in msgs], [r["message_id"], f["message_id"]])
        self.assertEqual(self.ok("POST", self.msg_path(c, r["message_id"]) + "/feedback", {"rating": "POSITIVE"}), {})
        self.assertEqual(self.ok("GET", self.msg_path(c, r["message_id"]))["feedback"], {"rating": "POSITIVE"})
        self.assertEqual(self.api("POST", self.msg_path(c, r["message_id"]) + "/feedback", {"rating": "MEH"}).status, 400)
        self.ok("POST", self.msg_path(c, r["message_id"]) + "/feedback", {"rating": "NEGATIVE", "comment": "wrong"})
        self.assertEqual(self.ok("GET", self.msg_path(c, r["message_id"]))["feedback"],
                         {"rating": "NEGATIVE", "comment": "wrong"})
        self.assertEqual(self.control("GET", "feedback")["feedback"], [
            {"space_id": SPACE, "conversation_id": c, "message_id": r["message_id"], "rating": "POSITIVE",
             "comment": None},
            {"space_id": SPACE, "conversation_id": c, "message_id": r["message_id"], "rating": "NEGATIVE",
             "comment": "wrong"}])
        self.assertEqual(self.ok("DELETE", self.msg_path(c, f["message_id"])), {})
        self.assertEqual(self.api("GET", self.msg_path(c, f["message_id"])).status, 404)
        self.assertEqual(self.api("GET", self.msg_path(c, r["message_id"], SPACE_B)).status, 404)
        self.assertEqual(self.api("POST", "/api/2.0/genie/spaces/%s/start-conversation" % SPACE, {}).status, 400)
        self.assertEqual(self.api("POST", "/api/2.0/genie/spaces/%s/start-conversation" % SPACE, b"{oops",
                                  raw=True).status, 400)


class TestReruns(EmulatorCase):
    """execute-query re-runs the attachment's SQL on the data set as it is now (issue 21)."""

    VEGAN_TOTAL = ("UPDATE orders SET total = total * 2 WHERE product_id = "
                   "(SELECT product_id FROM products WHERE name = 'Vegan Pizza')")

    def emuctl(self, *args):
        env = dict(os.environ, GENIE_EMULATOR_URL=self.url)
        return subprocess.run([sys.executable, EMUCTL] + list(args), capture_output=True, text=True, env=env,
                              timeout=30)

    def sql(self, *statements):
        return self.control("POST", "sql", {"sql": list(statements)})

    def execute(self, m, att=None, expect=200):
        att = att or self.queries(m)[-1]
        r = self.api("POST", self.msg_path(m["conversation_id"], m["message_id"]) +
                     "/attachments/%s/execute-query" % att["attachment_id"], raw=True, body=b"")
        self.assertEqual(r.status, expect, r.body)
        return r.json["statement_response"] if expect == 200 else r.json

    @staticmethod
    def without_id(sr):
        """The response with its statement id blanked (also inside next_chunk_internal_link)."""
        return json.loads(json.dumps(sr).replace(sr["statement_id"], "ID"))

    def test_rerun_sees_data_change_original_keeps_old(self):
        self.config(chunk_rows=2)
        _, m = self.ask(Q1)
        before = self.query_result(m)
        same = self.execute(m)                                 # no change yet: the very same response
        self.assertEqual(self.without_id(same), self.without_id(before))
        self.assertNotEqual(same["statement_id"], before["statement_id"])
        self.assertEqual(self.sql(self.VEGAN_TOTAL), {"changes": 29})      # 29 orders of Vegan Pizza
        fresh = self.execute(m)
        self.assertEqual(fresh["status"], {"state": "SUCCEEDED"})
        self.assertEqual(fresh["manifest"]["schema"], before["manifest"]["schema"])
        self.assertEqual((fresh["manifest"]["total_row_count"], fresh["manifest"]["total_chunk_count"],
                          fresh["manifest"]["truncated"]), (5, 3, False))
        self.assertEqual(fresh["result"]["data_array"], [["Vegan Pizza", "4394.50"], ["Quinoa & Kale Bowl", "2271.50"]])
        self.assertEqual(fresh["result"]["next_chunk_internal_link"],
                         "/api/2.0/sql/statements/%s/result/chunks/1" % fresh["statement_id"])
        self.assertEqual(len(self.all_rows_via_links(fresh)), 5)
        # the message's own result, and its statement, keep the values of question time
        self.assertEqual(self.query_result(m), before)
        self.assertEqual(self.ok("GET", "/api/2.0/sql/statements/" + before["statement_id"]), before)
        self.assertEqual(self.ok("GET", "/api/2.0/sql/statements/" + fresh["statement_id"]), fresh)
        st = self.stats()
        self.assertEqual(st["questions"], [Q1])                 # zero new questions, two re-runs
        self.assertEqual((st["rerun_count"], st["requests"]["execute_query"]), (2, 2))
        self.assertEqual(st["reruns"][1], {
            "space_id": SPACE, "conversation_id": m["conversation_id"], "message_id": m["message_id"],
            "attachment_id": self.queries(m)[0]["attachment_id"], "sql": self.queries(m)[0]["query"]["query"],
            "statement_id": fresh["statement_id"], "state": "SUCCEEDED", "http_status": 200})
        # a new question sees the new data
        _, m2 = self.ask(Q1)
        self.assertEqual(self.query_result(m2)["result"]["data_array"][0], ["Vegan Pizza", "4394.50"])
        # reset restores the initial data set
        self.control("POST", "reset")
        self.assertEqual(self.stats()["rerun_count"], 0)
        _, m3 = self.ask(Q1)
        self.assertEqual(self.query_result(m3)["result"]["data_array"][0], ["Quinoa & Kale Bowl", "2271.50"])

    def test_question_keeps_data_of_question_time(self):
        self.manual_clock()
        r = self.start(Q1)                                      # still SUBMITTED when the data changes
        self.sql(self.VEGAN_TOTAL)
        self.advance(1)
        m = self.ok("GET", self.msg_path(r["conversation_id"], r["message_id"]))
        self.assertEqual(m["status"], "COMPLETED")
        self.assertEqual(self.query_result(m)["result"]["data_array"][0], ["Quinoa & Kale Bowl", "2271.50"])
        self.assertEqual(self.execute(m)["result"]["data_array"][0], ["Vegan Pizza", "4394.50"])

    def test_expired_result_rerun_and_static_rows(self):
        self.sql(self.VEGAN_TOTAL)
        _, m = self.ask("Let the result expire")
        self.assertEqual(m["status"], "QUERY_RESULT_EXPIRED")
        self.assertEqual(self.execute(m)["result"]["data_array"][0], ["Vegan Pizza", "4394.50"])
        _, g = self.ask("Generate 3 rows")                     # generated rows do not read the data set
        self.assertEqual(self.execute(g)["result"]["data_array"], self.query_result(g)["result"]["data_array"])

    def test_sql_control(self):
        out = self.sql("SELECT name, price FROM products WHERE name = 'Vegan Pizza'")
        self.assertEqual(out, {"changes": 0, "columns": ["name", "price"], "rows": [["Vegan Pizza", 11.75]]})
        self.assertEqual(self.sql("UPDATE products SET price = price * 2 WHERE name = 'Vegan Pizza'",
                                  "SELECT price FROM products WHERE name = 'Vegan Pizza'"),
                         {"changes": 1, "columns": ["price"], "rows": [[23.5]]})
        # all or nothing: a failing statement undoes the ones before it, DDL included
        r = self.api("POST", "/__emulator/sql", {"sql": ["DROP TABLE regions", "UPDATE nowhere SET x = 1"]},
                     token=None)
        self.assertEqual(r.status, 400)
        self.assertIn("statement 2 failed", r.json["message"])
        self.assertEqual(self.sql("SELECT count(*) FROM regions")["rows"], [[5]])
        for bad in ({}, {"sql": ""}, {"sql": []}, {"sql": [1]}, {"sql": "SELECT 1; SELECT 2"},
                    {"sql": "ATTACH DATABASE '/tmp/genie-emulator-attach.db' AS x"},
                    {"sql": "VACUUM INTO '/tmp/genie-emulator-vacuum.db'"}):
            self.assertEqual(self.api("POST", "/__emulator/sql", bad, token=None).status, 400, bad)
        self.assertFalse(os.path.exists("/tmp/genie-emulator-attach.db"))
        self.assertFalse(os.path.exists("/tmp/genie-emulator-vacuum.db"))
        # emuctl: rows one JSON array a line; nothing for a change; exit 1 on an error
        r = self.emuctl("sql", "UPDATE regions SET manager = 'Zoe' WHERE name = 'North'",
                        "SELECT name, manager FROM regions WHERE region_id <= 2 ORDER BY region_id")
        self.assertEqual((r.returncode, r.stdout), (0, '["North", "Zoe"]\n["South", "Bruno Silva"]\n'))
        self.assertEqual(self.emuctl("sql", "DELETE FROM regions WHERE region_id = 5").stdout, "")
        self.assertEqual(self.emuctl("sql", "SELEC 1").returncode, 1)
        self.control("POST", "reset")
        self.assertEqual(self.sql("SELECT price FROM products WHERE name = 'Vegan Pizza'")["rows"], [[11.75]])
        self.assertEqual(self.sql("SELECT count(*) FROM regions")["rows"], [[5]])

    def test_data_change_breaks_the_sql(self):
        _, m = self.ask(Q1)
        before = self.query_result(m)
        self.sql("DROP TABLE products")
        sr = self.execute(m)
        self.assertEqual(sr["status"]["state"], "FAILED")
        self.assertEqual(sr["status"]["error"]["error_code"], "BAD_REQUEST")
        self.assertEqual(sr["status"]["error"]["message"],
                         "[TABLE_OR_VIEW_NOT_FOUND] The table or view `products` cannot be found. Verify the "
                         "spelling and correctness of the schema and catalog. SQLSTATE: 42P01")
        self.assertEqual(sr["status"]["sql_state"], "42P01")
        self.assertEqual(set(sr), {"statement_id", "status"})              # no manifest, no result
        self.assertEqual(self.ok("GET", "/api/2.0/sql/statements/" + sr["statement_id"]), sr)
        r = self.api("GET", "/api/2.0/sql/statements/%s/result/chunks/0" % sr["statement_id"])
        self.assertEqual(r.status, 400)
        self.assertEqual(self.query_result(m), before)                     # the stored result stays
        self.assertEqual(self.stats()["reruns"][0]["state"], "FAILED")
        # a new question on the broken data set: Genie's query fails, the message FAILED
        _, m2 = self.ask(Q1)
        self.assertEqual(m2["status"], "FAILED")
        self.assertEqual(m2["error"]["type"], "SQL_EXECUTION_EXCEPTION")
        self.assertTrue(m2["error"]["error"].startswith("[TABLE_OR_VIEW_NOT_FOUND]"))
        self.assertNotIn("attachments", m2)
        # a dropped column
        self.control("POST", "reset")
        _, m = self.ask(Q1)
        self.sql("ALTER TABLE orders DROP COLUMN total")
        sr = self.execute(m)
        self.assertEqual((sr["status"]["state"], sr["status"]["sql_state"]), ("FAILED", "42703"))
        self.assertTrue(sr["status"]["error"]["message"].startswith(
            "[UNRESOLVED_COLUMN.WITHOUT_SUGGESTION] A column, variable, or function parameter with name `o`.`total`"))

    def test_injected_failures(self):
        _, m = self.ask(Q1)
        self.control("POST", "execute-failures", {"mode": "sql_error", "count": 2})
        self.assertEqual(self.stats()["execute_failures_pending"], 2)
        for _ in range(2):
            sr = self.execute(m)
            self.assertEqual(sr["status"]["state"], "FAILED")
            self.assertTrue(sr["status"]["error"]["message"].startswith(
                "[TABLE_OR_VIEW_NOT_FOUND] The table or view `orders` cannot be found."), sr)
        self.assertEqual(self.execute(m)["status"]["state"], "SUCCEEDED")
        # a changed permission: 403 PERMISSION_DENIED in the error body of every REST API
        self.control("POST", "execute-failures", {"mode": "permission_denied"})
        err = self.execute(m, expect=403)
        self.assertEqual(err["error_code"], "PERMISSION_DENIED")
        self.assertIn("CAN USE", err["message"])
        self.assertEqual(err["details"][0]["reason"], "PERMISSION_DENIED")
        self.assertEqual(self.execute(m)["status"]["state"], "SUCCEEDED")
        st = self.stats()
        self.assertEqual([(r["state"], r["http_status"]) for r in st["reruns"]],
                         [("FAILED", 200), ("FAILED", 200), ("SUCCEEDED", 200), (None, 403), ("SUCCEEDED", 200)])
        self.assertEqual((st["questions"], st["execute_failures_pending"]), ([Q1], 0))
        # the warehouse's own wording for a permission lost on a table; explicit fields win
        self.control("POST", "execute-failures", [{"mode": "sql_error", "error_class": "INSUFFICIENT_PERMISSIONS"},
                                                  {"mode": "sql_error", "error_class": "DELTA_SOMETHING",
                                                   "error_code": "INTERNAL_ERROR", "sql_state": "XXKDS"}])
        sr = self.execute(m)
        self.assertEqual(sr["status"]["sql_state"], "42501")
        self.assertEqual(sr["status"]["error"]["message"], "[INSUFFICIENT_PERMISSIONS] Insufficient privileges: "
                         "User does not have SELECT on Table `orders`. SQLSTATE: 42501")
        sr = self.execute(m)
        self.assertEqual(sr["status"], {"state": "FAILED", "sql_state": "XXKDS", "error": {
            "error_code": "INTERNAL_ERROR", "message": "[DELTA_SOMETHING] The query failed. SQLSTATE: XXKDS"}})
        # a missing message comes first and uses up nothing
        self.control("POST", "execute-failures", {"mode": "permission_denied"})
        r = self.api("POST", self.msg_path(m["conversation_id"], "0" * 32) + "/execute-query")
        self.assertEqual(r.status, 404)
        self.assertEqual(self.control("GET", "execute-failures")["execute_failures"],
                         [{"mode": "permission_denied", "count": 1}])
        self.assertEqual(self.control("DELETE", "execute-failures"), {"execute_failures": []})
        for bad in ({}, {"mode": "boom"}, {"mode": "sql_error", "count": 0}, {"mode": "sql_error", "message": 3}):
            self.assertEqual(self.api("POST", "/__emulator/execute-failures", bad, token=None).status, 400, bad)
        # emuctl, and reset clears the queue
        self.assertEqual(self.emuctl("fail-execute", "permission_denied", "2").returncode, 0)
        self.assertEqual(self.emuctl("fail-execute", "sql_error", "error_class=INSUFFICIENT_PERMISSIONS").returncode, 0)
        self.assertEqual(self.control("GET", "execute-failures")["execute_failures"],
                         [{"mode": "permission_denied", "count": 2},
                          {"mode": "sql_error", "count": 1, "error_class": "INSUFFICIENT_PERMISSIONS"}])
        self.assertEqual(self.emuctl("fail-execute", "bogus").returncode, 1)
        self.assertEqual(self.emuctl("stats", "rerun_count").stdout, "7\n")
        self.control("POST", "reset")
        self.assertEqual(self.control("GET", "execute-failures")["execute_failures"], [])

    def test_execute_seconds_pending_then_polled(self):
        _, m = self.ask(Q1)
        self.manual_clock()
        self.config(execute_seconds=1)
        sr = self.execute(m)
        self.assertEqual(sr, {"statement_id": sr["statement_id"], "status": {"state": "PENDING"}})
        path = "/api/2.0/sql/statements/" + sr["statement_id"]
        self.advance(0.5)
        self.assertEqual(self.ok("GET", path)["status"], {"state": "RUNNING"})
        self.advance(0.5)
        done = self.ok("GET", path)
        self.assertEqual(done["status"], {"state": "SUCCEEDED"})
        self.assertEqual(done["result"]["data_array"][0], ["Quinoa & Kale Bowl", "2271.50"])
        self.assertEqual(self.stats()["reruns"][0]["state"], "PENDING")
        # a failing re-run fails once it has run; a running one can be cancelled
        self.control("POST", "execute-failures", {"mode": "sql_error"})
        sr = self.execute(m)
        self.assertEqual(sr["status"], {"state": "PENDING"})
        self.advance(1)
        self.assertEqual(self.ok("GET", "/api/2.0/sql/statements/" + sr["statement_id"])["status"]["state"], "FAILED")
        sr = self.execute(m)
        self.ok("POST", "/api/2.0/sql/statements/%s/cancel" % sr["statement_id"], raw=True, body=b"")
        self.advance(1)
        self.assertEqual(self.ok("GET", "/api/2.0/sql/statements/" + sr["statement_id"])["status"]["state"],
                         "CANCELED")

    def assert_gone(self, m):
        base = self.msg_path(m["conversation_id"], m["message_id"])
        att = self.queries(m)[-1]["attachment_id"]
        for method, path in (("GET", base), ("GET", base + "/attachments/%s/query-result" % att),
                             ("POST", base + "/attachments/%s/execute-query" % att),
                             ("POST", base + "/execute-query"),
                             ("GET", "/api/2.0/genie/spaces/%s/conversations/%s/messages"
                              % (SPACE, m["conversation_id"]))):
            r = self.api(method, path, raw=True, body=b"" if method == "POST" else None)
            self.assertEqual((r.status, r.json["error_code"]), (404, "RESOURCE_DOES_NOT_EXIST"), path)
        r = self.api("POST", "/api/2.0/genie/spaces/%s/conversations/%s/messages" % (SPACE, m["conversation_id"]),
                     {"content": Q1})
        self.assertEqual(r.status, 404)
        listed = self.ok("GET", "/api/2.0/genie/spaces/%s/conversations?include_all=true" % SPACE)
        self.assertNotIn(m["conversation_id"], [c["conversation_id"] for c in listed["conversations"]])

    def test_deleted_conversations(self):
        _, m1 = self.ask(Q1)
        _, m2 = self.ask(Q1)
        _, m3 = self.ask(Q1)
        n = self.stats()["requests"]
        self.ok("DELETE", "/api/2.0/genie/spaces/%s/conversations/%s" % (SPACE, m1["conversation_id"]))
        self.assert_gone(m1)
        # out of band: the control API and emuctl
        self.assertEqual(self.control("DELETE", "conversations/" + m2["conversation_id"]), {"deleted": 1})
        self.assert_gone(m2)
        self.assertEqual(self.api("DELETE", "/__emulator/conversations/" + m2["conversation_id"], token=None).status,
                         404)
        self.assertEqual(self.emuctl("delete-conversation", m3["conversation_id"]).stdout, "")
        self.assert_gone(m3)
        self.assertEqual(self.emuctl("delete-conversation", m3["conversation_id"]).returncode, 1)
        self.assertEqual(self.stats()["rerun_count"], 0)         # refused re-runs are not re-runs
        self.assertEqual(self.stats()["requests"]["start_conversation"], n["start_conversation"])
        _, m4 = self.ask(Q1)
        self.assertEqual(self.emuctl("delete-conversation", "all").returncode, 0)
        self.assert_gone(m4)
        self.assertEqual(self.ok("GET", "/api/2.0/genie/spaces/%s/conversations?include_all=true" % SPACE),
                         {"conversations": []})

    def test_conversation_ttl(self):
        self.manual_clock()
        self.config(conversation_ttl_seconds=600, answer_seconds=0)
        r = self.start(Q1)
        m = self.ok("GET", self.msg_path(r["conversation_id"], r["message_id"]))
        other = self.ok("GET", "/api/2.0/genie/spaces/%s/conversations?include_all=true" % SPACE)
        self.assertEqual([c["conversation_id"] for c in other["conversations"]], [r["conversation_id"]])
        self.advance(599)
        self.execute(m)
        # a follow-up keeps the conversation alive for another ttl
        self.ok("POST", "/api/2.0/genie/spaces/%s/conversations/%s/messages" % (SPACE, r["conversation_id"]),
                {"content": Q3})
        self.advance(599)
        self.assertEqual(self.execute(m)["status"]["state"], "SUCCEEDED")
        self.advance(1)
        self.assert_gone(m)
        self.config(conversation_ttl_seconds=0)                  # once gone, gone
        self.assert_gone(m)


class TestUsers(EmulatorCase):
    """--extra-token: each token a Genie user of its own; conversations are per user."""

    ARGS = EmulatorCase.ARGS + ["--extra-token", "dapi-second-user", "--extra-token", "dapi-third-user"]

    def emuctl(self, *args):
        env = dict(os.environ, GENIE_EMULATOR_URL=self.url)
        return subprocess.run([sys.executable, EMUCTL] + list(args), capture_output=True, text=True, env=env,
                              timeout=30)

    def test_conversations_are_per_user(self):
        mine = self.start(Q1)
        c, m = mine["conversation_id"], mine["message_id"]
        theirs = self.ok("POST", "/api/2.0/genie/spaces/%s/start-conversation" % SPACE, {"content": Q3},
                         token="dapi-second-user")
        self.assertNotEqual(theirs["conversation"]["user_id"], mine["conversation"]["user_id"])
        self.assertEqual(theirs["message"]["user_id"], theirs["conversation"]["user_id"])
        # another user's conversation, its messages and results: 404, as if it did not exist
        other = "dapi-second-user"
        self.wait(c, m)
        done = self.ok("GET", self.msg_path(c, m))
        att = self.queries(done)[-1]["attachment_id"]
        for method, path in (("GET", self.msg_path(c, m)),
                             ("GET", self.msg_path(c, m) + "/attachments/%s/query-result" % att),
                             ("GET", self.msg_path(c, m) + "/query-result"),
                             ("POST", self.msg_path(c, m) + "/attachments/%s/execute-query" % att),
                             ("POST", self.msg_path(c, m) + "/attachments/%s/downloads" % att),
                             ("POST", self.msg_path(c, m) + "/feedback"),
                             ("DELETE", self.msg_path(c, m)),
                             ("GET", "/api/2.0/genie/spaces/%s/conversations/%s/messages" % (SPACE, c)),
                             ("POST", "/api/2.0/genie/spaces/%s/conversations/%s/messages" % (SPACE, c)),
                             ("DELETE", "/api/2.0/genie/spaces/%s/conversations/%s" % (SPACE, c))):
            body = {"content": Q3} if path.endswith("/messages") and method == "POST" else \
                {"rating": "POSITIVE"} if path.endswith("/feedback") else None
            r = self.api(method, path, body, token=other)
            self.assertEqual(r.status, 404, "%s %s: %s" % (method, path, r.body))
            self.assertEqual(r.json["error_code"], "RESOURCE_DOES_NOT_EXIST")
        # the owner still has all of it; the third user's list does not show it
        self.assertEqual(self.ok("GET", self.msg_path(c, m))["status"], "COMPLETED")
        lst = self.ok("GET", "/api/2.0/genie/spaces/%s/conversations" % SPACE, token="dapi-third-user")
        self.assertEqual(lst["conversations"], [])
        mine_list = self.ok("GET", "/api/2.0/genie/spaces/%s/conversations" % SPACE)["conversations"]
        self.assertEqual([x["conversation_id"] for x in mine_list], [c])
        # the statement API is not per user here (as the contract does not say)
        self.ok("GET", "/api/2.0/sql/statements/%s" % self.queries(done)[-1]["query"]["statement_id"],
                token=other)

    def test_oauth_tokens_act_as_the_first_user(self):
        form = b"grant_type=client_credentials&scope=all-apis&client_id=emulator-sp&client_secret=emulator-secret"
        tok = self.api("POST", "/oidc/v1/token", form, token=None, raw=True,
                       headers={"Content-Type": "application/x-www-form-urlencoded"}).json["access_token"]
        r = self.start(Q1)
        self.ok("GET", self.msg_path(r["conversation_id"], r["message_id"]), token=tok)

    def test_control_api_names_the_user_never_the_token(self):
        a = self.start(Q1)["conversation_id"]
        b = self.ok("POST", "/api/2.0/genie/spaces/%s/start-conversation" % SPACE, {"content": Q3},
                    token="dapi-third-user")["conversation_id"]
        one = self.control("GET", "conversations/" + b)
        self.assertEqual(one, {"conversation_id": b, "space_id": SPACE, "user": "user3", "deleted": False,
                               "questions": [Q3]})
        self.assertEqual(self.control("GET", "conversations/" + a)["user"], "user1")
        self.ok("DELETE", "/api/2.0/genie/spaces/%s/conversations/%s" % (SPACE, a))
        self.assertEqual(self.control("GET", "conversations/" + a)["deleted"], True)     # still known
        allc = self.control("GET", "conversations")["conversations"]
        self.assertEqual(sorted(x["user"] for x in allc), ["other", "other", "user1", "user3"])
        self.assertEqual(self.api("GET", "/__emulator/conversations/nope", token=None).status, 404)
        self.assertEqual(self.emuctl("owner", b).stdout, "user3\n")
        out = self.emuctl("conversations").stdout
        self.assertEqual(len(json.loads(out)["conversations"]), 4)
        for text in (out, json.dumps(allc), json.dumps(self.stats())):
            for tok in (TOKEN, "dapi-second-user", "dapi-third-user"):
                self.assertNotIn(tok, text)
        self.assertEqual(self.emuctl("owner", "nope").returncode, 1)
        self.control("POST", "reset")
        self.assertEqual(len(self.control("GET", "conversations")["conversations"]), 2)   # the seeded ones

    def test_unknown_token_still_refused(self):
        r = self.api("GET", "/api/2.0/genie/spaces", token="dapi-nobody")
        self.assertEqual(r.status, 403)
        self.assertEqual(r.json, {"error_code": 403, "message": "Invalid access token."})


class TestFaults(EmulatorCase):
    def setUp(self):
        super().setUp()
        r, self.m = self.ask(Q1)
        self.path = self.msg_path(r["conversation_id"], r["message_id"])

    def raw(self, fault):
        """Queue a fault for get_message and return the raw socket bytes of one request."""
        self.fault(**dict(fault, endpoint="get_message"))
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n" % (self.path, TOKEN)).encode())
        data = b""
        while True:
            try:
                b = s.recv(65536)
            except ConnectionResetError:
                break
            if not b:
                break
            data += b
            head, _, body = data.partition(b"\r\n\r\n")
            if _ and b"content-length:" in head.lower():
                n = int([ln.split(b":")[1] for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length")][0])
                if len(body) >= n:
                    break
        s.close()
        return data

    def test_status_fault(self):
        self.fault(endpoint="get_message", action="status", status=503, retry_after="7", count=2)
        for _ in range(2):
            r = self.api("GET", self.path)
            self.assertEqual(r.status, 503)
            self.assertEqual(r.headers["retry-after"], "7")
            self.assertEqual(r.json["error_code"], "TEMPORARILY_UNAVAILABLE")
        self.assertEqual(self.api("GET", self.path).status, 200)
        self.fault(endpoint="*", action="status", status=429, retry_after="Wed, 21 Oct 2015 07:28:00 GMT",
                   body="slow down")
        r = self.api("GET", "/api/2.0/genie/spaces")
        self.assertEqual((r.status, r.headers["retry-after"], r.body), (429, "Wed, 21 Oct 2015 07:28:00 GMT", b"slow down"))
        st = self.stats()
        self.assertEqual(st["statuses"]["503"], 2)
        self.assertEqual(st["sent_429"], 1)

    def test_delay_and_max_in_flight(self):
        self.fault(endpoint="get_message", action="delay", seconds=0.5, count=4)

        def one(_):
            c = self.new_conn()
            c.request("GET", self.path, headers={"Authorization": "Bearer " + TOKEN})
            r = c.getresponse()
            r.read()
            c.close()
            return r.status

        t = time.time()
        with concurrent.futures.ThreadPoolExecutor(4) as ex:
            self.assertEqual(list(ex.map(one, range(4))), [200] * 4)
        self.assertLess(time.time() - t, 1.8)
        st = self.stats()
        self.assertGreaterEqual(st["max_in_flight"], 4)
        self.assertEqual(st["in_flight"], 0)

    def test_drop(self):
        self.assertEqual(self.raw({"action": "drop"}), b"")
        self.assertEqual(self.api("GET", self.path).status, 200)

    def test_drop_mid_body(self):
        data = self.raw({"action": "drop_mid_body"})
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertIn(b"200", head.split(b"\r\n")[0])
        n = int([ln.split(b":")[1] for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length")][0])
        self.assertEqual(len(body), n // 2)

    def test_malformed_truncated_empty_html_body(self):
        self.fault(endpoint="get_message", action="malformed")
        r = self.api("GET", self.path)
        self.assertEqual(r.status, 200)
        self.assertRaises(ValueError, lambda: r.json)
        self.assertTrue(r.body.startswith(b'{"status": "COMPL'))
        full = self.api("GET", self.path).body
        self.fault(endpoint="get_message", action="truncated")
        r = self.api("GET", self.path)
        self.assertEqual((r.status, r.body), (200, full[:len(full) // 2]))
        self.assertEqual(int(r.headers["content-length"]), len(full) // 2)
        self.fault(endpoint="get_message", action="empty")
        r = self.api("GET", self.path)
        self.assertEqual((r.status, r.body, r.headers["content-length"]), (200, b"", "0"))
        self.fault(endpoint="get_message", action="html", status=502)
        r = self.api("GET", self.path)
        self.assertEqual(r.status, 502)
        self.assertTrue(r.headers["content-type"].startswith("text/html"))
        self.assertIn(b"<html>", r.body)
        self.fault(endpoint="get_message", action="body", status=200, body_b64=base64.b64encode(b'{"a":"\xff\xfe"}').decode())
        self.assertEqual(self.api("GET", self.path).body, b'{"a":"\xff\xfe"}')
        self.fault(endpoint="get_message", action="body", status=500, body="plain text")
        r = self.api("GET", self.path)
        self.assertEqual((r.status, r.body), (500, b"plain text"))

    def test_trickle(self):
        full = self.api("GET", self.path).body
        self.fault(endpoint="get_message", action="trickle", bytes_per_second=len(full) * 2)
        t = time.time()
        r = self.api("GET", self.path)
        self.assertEqual(r.body, full)
        self.assertGreater(time.time() - t, 0.35)

    def test_set_and_only_status(self):
        self.fault(endpoint="get_message", action="set", set={"status": "FAILED", "attachments.0.query.query": "X"})
        m = self.api("GET", self.path).json
        self.assertEqual((m["status"], m["attachments"][0]["query"]["query"]), ("FAILED", "X"))
        att = self.queries(self.m)[0]
        self.fault(endpoint="attachment_query_result", action="set",
                   set={"statement_response.result.data_array.0": ["x", "1.00"]})
        sr = self.query_result(self.m, att)
        self.assertEqual(sr["result"]["data_array"][0], ["x", "1.00"])
        self.assertEqual(sr["result"]["data_array"][1], ["Vegan Pizza", "2197.25"])
        # raw: text put into the body as written, next to re-serialised set values
        self.fault(endpoint="attachment_query_result", action="set",
                   set={"statement_response.result.data_array.0.0": "y"},
                   raw={"statement_response.result.data_array.0.1": "-0",
                        "statement_response.result.data_array.1.1": "123456789012345678901234567890"})
        r = self.api("GET", self.msg_path(self.m["conversation_id"], self.m["message_id"]) +
                     "/attachments/%s/query-result" % att["attachment_id"])
        self.assertEqual(r.status, 200)
        body = r.body
        self.assertIn(b'[["y", -0], ["Vegan Pizza", 123456789012345678901234567890]', body)
        self.assertEqual(json.loads(body)["statement_response"]["result"]["data_array"][0], ["y", 0])
        # only_status: skipped for a message that is not COMPLETED
        r = self.start("Take your time")
        self.fault(endpoint="get_message", action="status", status=500, only_status="COMPLETED")
        self.assertEqual(self.api("GET", self.msg_path(r["conversation_id"], r["message_id"])).status, 200)
        self.assertEqual(self.stats()["faults_pending"], 1)
        self.assertEqual(self.api("GET", self.path).status, 500)
        self.assertEqual(self.stats()["faults_pending"], 0)

    def test_fault_validation_and_reset(self):
        r = self.api("POST", "/__emulator/faults", {"endpoint": "nope", "action": "drop"}, token=None)
        self.assertEqual(r.status, 400)
        r = self.api("POST", "/__emulator/faults", {"endpoint": "get_message", "action": "explode"}, token=None)
        self.assertEqual(r.status, 400)
        self.fault(endpoint="*", action="status", status=500, count=5)
        self.config(chunk_rows=7, answer_seconds=3)
        self.control("POST", "reset")
        st = self.stats()
        self.assertEqual((st["faults_pending"], st["requests"], st["questions"]), (0, {}, []))
        cfg = self.control("GET", "config")
        self.assertEqual((cfg["chunk_rows"], cfg["answer_seconds"], cfg["row_cap"]), (1000, 0.2, 5000))
        self.assertEqual(self.api("POST", "/__emulator/config", {"bogus": 1}, token=None).status, 400)


class TestDownloads(EmulatorCase):
    def download(self, question, **cfg):
        if cfg:
            self.config(**cfg)
        _, m = self.ask(question)
        att = self.queries(m)[-1]["attachment_id"]
        base = self.msg_path(m["conversation_id"], m["message_id"]) + "/attachments/" + att
        d = self.ok("POST", base + "/downloads", raw=True, body=b"")
        self.assertEqual(set(d), {"download_id", "download_id_signature"})
        path = base + "/downloads/%s?download_id_signature=%s" % (d["download_id"],
                                                                  urllib.parse.quote(d["download_id_signature"]))
        self.assertEqual(self.api("GET", base + "/downloads/" + d["download_id"]).status, 400)
        states = []
        while True:
            sr = self.ok("GET", path)["statement_response"]
            states.append(sr["status"]["state"])
            if sr["status"]["state"] == "SUCCEEDED":
                return sr, states
            time.sleep(0.05)

    def fetch(self, link, headers=None, auth=None):
        u = urllib.parse.urlsplit(link["external_link"])
        self.assertEqual((u.scheme, u.hostname, u.port), ("http", "127.0.0.1", self.port))
        c = self.new_conn()
        h = dict(link["http_headers"] if headers is None else headers)
        if auth:
            h["Authorization"] = auth
        c.request("GET", u.path + "?" + u.query, headers=h)
        r = c.getresponse()
        body = r.read()
        c.close()
        return r.status, body

    def test_download_full_result(self):
        sr, states = self.download("Generate 7000 rows", download_seconds=0.3, chunk_rows=3000)
        self.assertIn(states[0], ("PENDING", "RUNNING"))
        man = sr["manifest"]
        self.assertEqual((man["total_row_count"], man["truncated"], man["total_chunk_count"]), (7000, False, 3))
        links = sr["result"]["external_links"]
        self.assertEqual(len(links), 1)
        link = links[0]
        self.assertEqual((link["chunk_index"], link["row_offset"], link["row_count"], link["next_chunk_index"]),
                         (0, 0, 3000, 1))
        self.assertIn("x-emulator-sse-key", link["http_headers"])
        self.assertRegex(link["expiration"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        rows = []
        while True:
            status, body = self.fetch(link)
            self.assertEqual(status, 200)
            self.assertNotIn(b" ", body[:50])                       # compact JSON
            chunk = json.loads(body)
            self.assertEqual(len(chunk), link["row_count"])
            self.assertEqual(len(body), link["byte_count"])
            rows += chunk
            if "next_chunk_internal_link" not in link:
                break
            link = self.ok("GET", link["next_chunk_internal_link"])["external_links"][0]
        self.assertEqual(rows, ge.expected_rows("Generate 7000 rows", row_cap=0))
        st = self.ok("GET", "/api/2.0/sql/statements/" + sr["statement_id"])
        self.assertIn("external_links", st["result"])

    def test_link_host(self):
        """link_host rewrites the origin of the links handed out (what it leaves out is kept)."""
        for lh, want in [("127.0.0.2", ("http", "127.0.0.2", self.port)),
                         ("https://[::1]", ("https", "::1", self.port)),
                         (2130706433, ("http", "2130706433", self.port)),
                         ("https://localhost:1", ("https", "localhost", 1))]:
            sr, _ = self.download(Q1, download_seconds=0, link_host=lh)
            u = urllib.parse.urlsplit(sr["result"]["external_links"][0]["external_link"])
            self.assertEqual((u.scheme, u.hostname, u.port), want)
            self.assertTrue(u.path.startswith("/__storage/results/"))
        for bad in ["ftp://x", "a/b", "x:123456", True]:
            self.assertEqual(self.api("POST", "/__emulator/config", {"link_host": bad}, token=None).status, 400)
        self.control("POST", "reset")
        self.assertEqual(self.control("GET", "config")["link_host"], "")
        sr, _ = self.download(Q1, download_seconds=0)
        self.assertEqual(self.fetch(sr["result"]["external_links"][0])[0], 200)

    def test_link_rules_and_expiry(self):
        sr, _ = self.download(Q1, download_seconds=0, link_ttl_seconds=3)
        link = sr["result"]["external_links"][0]
        self.assertEqual(self.fetch(link)[0], 200)
        status, body = self.fetch(link, auth="Bearer " + TOKEN)
        self.assertEqual(status, 403)
        self.assertIn(b"<Error>", body)
        self.assertEqual(self.stats()["authorization_on_storage"], 1)
        self.assertEqual(self.fetch(link, headers={})[0], 400)             # missing http_headers
        bad = dict(link, external_link=link["external_link"].replace("Signature=", "Signature=0"))
        self.assertEqual(self.fetch(bad)[0], 403)
        time.sleep(4.1)
        status, body = self.fetch(link)
        self.assertEqual(status, 403)
        self.assertIn(b"expired", body)
        fresh = self.ok("GET", "/api/2.0/sql/statements/%s/result/chunks/0" % sr["statement_id"])["external_links"][0]
        self.assertNotEqual(fresh["external_link"], link["external_link"])
        status, body = self.fetch(fresh)
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)[0], ["Quinoa & Kale Bowl", "2271.50"])

    def test_million_rows_download_one_late_chunk(self):
        sr, _ = self.download("Generate 1000000 rows", download_seconds=0)
        self.assertEqual(sr["manifest"]["total_row_count"], 1000000)
        self.assertFalse(sr["manifest"]["truncated"])
        link = self.ok("GET", "/api/2.0/sql/statements/%s/result/chunks/999" % sr["statement_id"])["external_links"][0]
        self.assertNotIn("next_chunk_index", link)
        status, body = self.fetch(link)
        rows = json.loads(body)
        self.assertEqual((status, len(rows), rows[-1][0], rows[-1][1]), (200, 1000, "1000000", "item-1000000"))


class TestRealShapes(EmulatorCase):
    """Shapes real workspaces send (issue 13)."""

    def test_regenerated_sql(self):
        self.manual_clock()
        q = "Which region sells the most?"
        r = self.start(q)
        path = self.msg_path(r["conversation_id"], r["message_id"])
        self.advance(0.2 * 5 / 6 + 0.001)                     # into EXECUTING_QUERY
        m = self.ok("GET", path)
        self.assertEqual(m["status"], "EXECUTING_QUERY")
        draft = self.queries(m)
        self.assertEqual(len(draft), 1)
        self.assertIn("FROM regions r ORDER BY", draft[0]["query"]["query"])
        self.advance(1)
        m = self.ok("GET", path)
        self.assertEqual(m["status"], "COMPLETED")
        final = self.queries(m)
        self.assertEqual(len(final), 1)                        # the draft is gone
        self.assertNotEqual(final[0]["attachment_id"], draft[0]["attachment_id"])
        self.assertIn("SUM(o.total)", final[0]["query"]["query"])
        self.assertEqual(final[0]["query"]["parameters"], [{"keyword": "top_n", "sql_type": "INT", "value": "1"}])
        self.assertEqual([t["thought_type"] for t in final[0]["query"]["thoughts"]],
                         ["THOUGHT_TYPE_DESCRIPTION", "THOUGHT_TYPE_DATA_SOURCING", "THOUGHT_TYPE_STEPS"])
        self.assertEqual(self.query_result(m)["result"]["data_array"], ge.expected_rows(q))
        self.assertEqual(ge.expected_rows(q), [["West", "3259.00"]])
        # the draft's own statement still holds the draft's rows: a client that fetched it got the wrong answer
        self.assertEqual(self.query_result(m, draft[0])["manifest"]["schema"]["column_count"], 1)
        # several text attachments: the answer, then a follow-up question
        texts = [a["text"] for a in m["attachments"] if "text" in a]
        self.assertEqual([t["purpose"] for t in texts], ["TEXT_ATTACHMENT_PURPOSE_ANSWER", "FOLLOW_UP_QUESTION"])
        self.assertTrue(texts[1]["content"].endswith("?"))
        kinds = [[k for k in a if k != "attachment_id"][0] for a in m["attachments"]]
        self.assertEqual(kinds, ["query", "suggested_questions", "text", "text"])

    def test_spark_values_and_column_names(self):
        _, m = self.ask("Count stations by type")
        sr = self.query_result(m)
        cols = sr["manifest"]["schema"]["columns"]
        self.assertEqual([c["name"] for c in cols],
                         ["Station Type", "count(1)", "Average Load (W)", "failure_rate", "Capacity"])
        self.assertEqual([c["type_name"] for c in cols], ["STRING", "LONG", "DOUBLE", "DOUBLE", "DECIMAL"])
        self.assertEqual((cols[4]["type_precision"], cols[4]["type_scale"]), (38, 18))
        rows = sr["result"]["data_array"]
        self.assertEqual(rows[0], ["AC Level 2", "412", "3.336E8", "1.5E-4", "12345678901234567890.123456789012345678"])
        self.assertEqual(rows[1][2], "1.25E10")
        self.assertEqual(rows[2][2:4], ["NaN", "Infinity"])
        self.assertEqual(rows[3], ["Retired", "0", None, "-Infinity", None])

    def test_spark_double_rendering(self):
        self.assertEqual([ge.spark_double(x) for x in (0.1, 1 / 3, 1e7, 9999999.0, 0.001, 0.00099, -2.5e-10, 0.0)],
                         ["0.1", "0.3333333333333333", "1.0E7", "9999999.0", "0.001", "9.9E-4", "-2.5E-10", "0.0"])

    def test_start_reply_never_terminal(self):
        self.config(answer_seconds=0)
        r = self.start(Q1)
        self.assertEqual(r["message"]["status"], "SUBMITTED")
        self.assertNotIn("attachments", r["message"])
        f = self.ok("POST", "/api/2.0/genie/spaces/%s/conversations/%s/messages" % (SPACE, r["conversation_id"]),
                    {"content": Q2})
        self.assertEqual(f["status"], "SUBMITTED")
        self.assertEqual(self.ok("GET", self.msg_path(r["conversation_id"], r["message_id"]))["status"], "COMPLETED")

    def test_databricks_config_discovery(self):
        meta = self.ok("GET", "/.well-known/databricks-config", token=None)
        self.assertEqual(meta["oidc_endpoint"], self.url + "/oidc")
        self.assertEqual(meta["host_type"], "workspace")
        self.assertTrue(meta["account_id"] and meta["workspace_id"])
        oauth = self.ok("GET", urllib.parse.urlsplit(meta["oidc_endpoint"]).path +
                        "/.well-known/oauth-authorization-server", token=None)
        self.assertEqual(oauth["token_endpoint"], self.url + "/oidc/v1/token")


class TestRealProfile(EmulatorCase):
    ARGS = ["--profile", "real", "--clock", "manual", "--questions-per-minute", "0"]

    def test_real_latency(self):
        self.assertEqual(self.control("GET", "clock")["clock"], "manual")
        durations = []
        for q in (Q1, Q2, Q3, "Which region sells the most?"):
            r = self.start(q)
            path = self.msg_path(r["conversation_id"], r["message_id"])
            t, seen = 0.0, {}
            while True:
                st = self.ok("GET", path)["status"]
                seen[st] = seen.get(st, 0) + 1
                if st not in IN_PROGRESS:
                    break
                self.advance(0.25)
                t += 0.25
            durations.append(t)
            self.assertEqual(list(seen)[:-1], IN_PROGRESS)
            self.assertGreater(seen["ASKING_AI"], seen["FETCHING_METADATA"])      # most time goes to the model
        self.assertTrue(all(10 <= d <= 20.25 for d in durations), durations)
        self.assertGreater(len(set(durations)), 1)

    def test_real_rerun_takes_a_statement_time(self):
        # a re-run is a statement on a running warehouse: 1 s, PENDING, then RUNNING, then SUCCEEDED
        self.assertEqual(self.control("GET", "config")["execute_seconds"], 1.0)
        r = self.start(Q1)
        path = self.msg_path(r["conversation_id"], r["message_id"])
        self.advance(20.25)
        m = self.ok("GET", path)
        self.assertEqual(m["status"], "COMPLETED")
        att = self.queries(m)[-1]["attachment_id"]
        sr = self.ok("POST", path + "/attachments/%s/execute-query" % att, raw=True, body=b"")
        sid = sr["statement_response"]["statement_id"]
        self.assertEqual(sr["statement_response"]["status"], {"state": "PENDING"})
        self.advance(0.5)
        self.assertEqual(self.ok("GET", "/api/2.0/sql/statements/" + sid)["status"], {"state": "RUNNING"})
        self.advance(0.5)
        self.assertEqual(self.ok("GET", "/api/2.0/sql/statements/" + sid)["status"], {"state": "SUCCEEDED"})
        # the profile's default is a default: config overrides it, and a reset brings it back
        self.config(execute_seconds=0)
        self.control("POST", "reset")
        self.assertEqual(self.control("GET", "config")["execute_seconds"], 1.0)


class TestStatsEmuctlTls(EmulatorCase):
    def emuctl(self, *args, url=None):
        env = dict(os.environ, GENIE_EMULATOR_URL=url or self.url)
        return subprocess.run([sys.executable, EMUCTL] + list(args), capture_output=True, text=True, env=env,
                              timeout=30)

    def test_stats_counters(self):
        self.ask(Q1)
        self.api("GET", "/api/2.0/genie/spaces", token=None)
        st = self.stats()
        self.assertEqual(st["requests"]["start_conversation"], 1)
        self.assertGreaterEqual(st["requests"]["get_message"], 1)
        self.assertEqual(st["statuses"]["401"], 1)
        self.assertEqual(st["questions"], [Q1])
        for key in ("sent_429", "in_flight", "max_in_flight", "authorization_on_storage"):
            self.assertIn(key, st)

    def test_emuctl(self):
        self.assertEqual(self.emuctl("wait-ready").returncode, 0)
        r = self.emuctl("config", "chunk_rows=2", "answer_seconds=0.1")
        self.assertEqual((r.returncode, r.stdout), (0, ""))
        self.assertEqual(self.control("GET", "config")["chunk_rows"], 2)
        r = self.emuctl("fault", '{"endpoint": "list_spaces", "action": "status", "status": 503}')
        self.assertEqual((r.returncode, r.stdout), (0, ""))
        self.assertEqual(self.api("GET", "/api/2.0/genie/spaces").status, 503)
        r = self.emuctl("fault", "list_spaces", "status", "status=500", "count=2")
        self.assertEqual(r.returncode, 0)
        self.assertEqual(self.api("GET", "/api/2.0/genie/spaces").status, 500)
        self.assertEqual(self.emuctl("stats", "requests.list_spaces").stdout, "2\n")
        self.assertEqual(self.emuctl("stats", "requests.nothing").stdout, "0\n")
        self.assertEqual(self.emuctl("stats", "statuses.503").stdout, "1\n")
        out = self.emuctl("stats").stdout
        self.assertEqual(json.loads(out)["requests"]["list_spaces"], 2)
        self.assertEqual(self.emuctl("reset").stdout, "")
        self.assertEqual(self.emuctl("stats", "requests.list_spaces").stdout, "0\n")
        self.assertEqual(self.emuctl("config", "bogus=1").returncode, 1)
        self.assertEqual(self.emuctl("clock", "manual").returncode, 0)
        now = json.loads(self.emuctl("clock").stdout)["now"]
        self.assertEqual(self.emuctl("advance", "3").returncode, 0)
        self.assertAlmostEqual(json.loads(self.emuctl("clock").stdout)["now"], now + 3, places=6)
        self.assertEqual(self.emuctl("feedback", "feedback").stdout, "[]\n")
        r = self.emuctl("stats", url="http://127.0.0.1:1")
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot reach", r.stderr)

    def test_tls_and_log(self):
        if not shutil.which("openssl"):
            self.skipTest("openssl CLI not available")
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d)
        cert, key, log = (os.path.join(d, n) for n in ("cert.pem", "key.pem", "emu.log"))
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "1", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
        self.stop_emulator()
        self.start_emulator(["--tls-cert", cert, "--tls-key", key, "--token", "dapi-secret-tls-token",
                             "--log", log, "--answer-seconds", "0"], scheme="https")
        r = self.api("GET", "/api/2.0/genie/spaces", token="dapi-secret-tls-token")
        self.assertEqual(r.status, 200)
        self.assertEqual(self.emuctl("wait-ready", url=self.url).returncode, 0)
        with open(log) as f:
            text = f.read()
        self.assertIn("list_spaces", text)
        self.assertNotIn("dapi-secret-tls-token", text)


class TestCli(unittest.TestCase):
    def test_print_expected_and_config_file(self):
        out = subprocess.run([sys.executable, EMULATOR, "--print-expected", Q1], capture_output=True, text=True,
                             check=True).stdout
        self.assertEqual(json.loads(out)[:3], [["Quinoa & Kale Bowl", "2271.50"], ["Vegan Pizza", "2197.25"],
                                               ["Organic Chili", "2145.00"]])
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"chunk_rows": 2, "answer_seconds": 0}, f)
        self.addCleanup(os.unlink, f.name)
        p = subprocess.Popen([sys.executable, EMULATOR, "--port", "0", "--config", f.name, "--chunk-rows", "4"],
                             stdout=subprocess.PIPE, text=True)
        try:
            url = p.stdout.readline().split()[-1]
            c = http.client.HTTPConnection(urllib.parse.urlsplit(url).hostname, urllib.parse.urlsplit(url).port)
            c.request("GET", "/__emulator/config")
            cfg = json.loads(c.getresponse().read())
            self.assertEqual((cfg["chunk_rows"], cfg["answer_seconds"]), (4, 0))   # flag beats file
            c.close()
        finally:
            p.terminate()
            self.assertEqual(p.wait(5), 0)                                      # SIGTERM exits quietly
            p.stdout.close()


if __name__ == "__main__":
    unittest.main()
