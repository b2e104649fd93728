#!/usr/bin/env python3
"""Databricks Genie Conversation API + SQL Statement Execution emulator.

A stand-in for a Databricks workspace, used by the genie_fdw tests.  It follows
/work/shared/genie-api.md (the project's API contract): the Genie routes, the
statement result routes, OAuth M2M, the Genie rate limit with Retry-After,
chunked JSON_ARRAY results, full-result downloads through EXTERNAL_LINKS, plus a
control API under /__emulator/ for tests (reset, config, fault injection, stats, data changes,
out-of-band conversation deletion, failed re-runs).

Python 3 standard library only.  See test/README.md for the flags, fixtures and
control API.
"""

import argparse
import base64
import collections
import datetime
import decimal
import hashlib
import hmac
import json
import math
import os
import re
import secrets
import signal
import socket
import sqlite3
import ssl
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_FIXTURES = os.path.join(HERE, "fixtures", "questions.json")

DEFAULT_CONFIG = {
    "answer_seconds": 1.5,
    "questions_per_minute": 5,
    "rate_window_seconds": 60.0,
    "chunk_rows": 1000,
    "row_cap": 5000,
    "link_ttl_seconds": 900.0,
    "oauth_token_ttl": 3600.0,
    "download_seconds": 1.0,
    "execute_seconds": 0.0,
    "conversation_ttl_seconds": 0.0,
    "link_host": "",
}
INT_CONFIG_KEYS = {"questions_per_minute", "chunk_rows", "row_cap"}
# string keys: link_host rewrites the scheme, host and port of the external links handed out
# ("" = the emulator's own origin), so tests can offer links to other addresses
STR_CONFIG_KEYS = {"link_host"}
LINK_HOST_RX = re.compile(r"^(?:(?P<scheme>https?)://)?(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::(?P<port>\d{1,5}))?$")


def config_value(k, v):
    """A config value in its type; raises ValueError or TypeError when it does not fit."""
    if k in STR_CONFIG_KEYS:
        if isinstance(v, int) and not isinstance(v, bool):
            v = str(v)              # a decimal IPv4 address, parsed as JSON by emuctl
        if not isinstance(v, str) or (v and not LINK_HOST_RX.match(v)):
            raise ValueError(k)
        return v
    return int(v) if k in INT_CONFIG_KEYS else float(v)


def link_base(base, link_host):
    """The scheme://host:port external links use: base, rewritten by the link_host config key
    ("[scheme://]host[:port]"; what it leaves out is kept from base)."""
    if not link_host:
        return base
    m = LINK_HOST_RX.match(link_host)
    scheme, _, authority = base.partition("://")
    port = urllib.parse.urlsplit(base).port
    return "%s://%s%s" % (m.group("scheme") or scheme, m.group("host"),
                          ":" + m.group("port") if m.group("port") else (":%d" % port if port else ""))

USER_ID = 5511969577895513           # the first user (--token, and OAuth M2M)
OTHER_USER_ID = 7700123456789012     # owns one conversation per space, never authenticates
WAREHOUSE_ID = "a1b2c3d4e5f60718"
ACCOUNT_ID = "0e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b"
WORKSPACE_ID = "1234567890123456"

SPACES = [
    {"space_id": "01f0000000000000000000000000000a", "title": "Retail Sales",
     "description": "Products, regions and orders of a small food retailer: prices, quantities, "
                    "discounts and order totals.", "warehouse_id": WAREHOUSE_ID},
    {"space_id": "01f0000000000000000000000000000b", "title": "Supply Chain",
     "description": "Deliveries of products to regions (shares the retail data set).",
     "warehouse_id": WAREHOUSE_ID},
    {"space_id": "01f0000000000000000000000000000c", "title": "Finance (restricted)",
     "description": "Ledgers and budgets. You do not have access to this space.",
     "warehouse_id": WAREHOUSE_ID},
]
ACCESSIBLE_SPACES = {SPACES[0]["space_id"], SPACES[1]["space_id"]}
FORBIDDEN_SPACES = {SPACES[2]["space_id"]}

IN_PROGRESS = ["SUBMITTED", "FETCHING_METADATA", "FILTERING_CONTEXT", "ASKING_AI",
               "PENDING_WAREHOUSE", "EXECUTING_QUERY"]
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "QUERY_RESULT_EXPIRED"}

# Latency profiles.  "fast" (default, for tests): every in-progress status gets the same share of
# answer_seconds.  "real" (benchmarks, manual tries): each answer takes 10-20 s, most of it spent
# asking the model and running the query, as real workspaces show (contract §8.3, §11); and a re-run
# of an answer's SQL (execute-query) is a statement on a running warehouse: about a second for the
# small queries Genie writes (an assumption: the contract gives no figure), PENDING then RUNNING.
# A profile's "config" are its defaults for config keys; --config, flags and POST /__emulator/config
# still override them.
PROFILES = {
    "fast": {"weights": [1, 1, 1, 1, 1, 1], "answer_range": None, "config": {}},
    "real": {"weights": [0.03, 0.07, 0.10, 0.50, 0.05, 0.25], "answer_range": (10.0, 20.0),
             "config": {"execute_seconds": 1.0}},
}


def profile_answer_seconds(profile, content, default):
    """How long a question takes to answer: the profile's fixed time per question (from its normalised
    text, within answer_range), else default (answer_seconds)."""
    rng = PROFILES[profile]["answer_range"]
    if not rng:
        return default
    h = int(hashlib.sha256(normalise(content).encode()).hexdigest(), 16)
    return rng[0] + (rng[1] - rng[0]) * (h % 1000) / 999.0

ENDPOINTS = ["start_conversation", "create_message", "get_message", "attachment_query_result",
             "message_query_result", "execute_query", "statement_get", "statement_chunk",
             "statement_cancel", "list_spaces", "get_space", "list_conversations",
             "delete_conversation", "list_messages", "delete_message", "feedback",
             "generate_download", "get_download", "storage", "oauth_token"]

ERROR_CODES = {
    400: "INVALID_PARAMETER_VALUE", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
    404: "RESOURCE_DOES_NOT_EXIST", 409: "RESOURCE_CONFLICT", 429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED", 500: "INTERNAL_ERROR", 501: "NOT_IMPLEMENTED",
    502: "BAD_GATEWAY", 503: "TEMPORARILY_UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
}
REASONS = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}

# Errors of a SQL warehouse, as a failed statement reports them (contract §3.1, §8.5): HTTP 200 with
# status.state FAILED, status.error {error_code (a ServiceErrorCode), message "[ERROR_CLASS] text"},
# and status.sql_state.  error class -> (SQLSTATE, text; {name} is the table or column).
WAREHOUSE_ERRORS = {
    "TABLE_OR_VIEW_NOT_FOUND": ("42P01", "The table or view {name} cannot be found. Verify the spelling and "
                                         "correctness of the schema and catalog."),
    "UNRESOLVED_COLUMN.WITHOUT_SUGGESTION": ("42703", "A column, variable, or function parameter with name "
                                                      "{name} cannot be resolved."),
    "INSUFFICIENT_PERMISSIONS": ("42501", "Insufficient privileges: User does not have SELECT on Table {name}."),
    "INTERNAL_ERROR": ("XX000", "{name}"),
}
EXECUTE_FAILURE_MODES = ("sql_error", "permission_denied")

CLARIFY_TEXT = ("I am not sure what you are asking for. Could you say which products, regions or "
                "time period you are interested in?")
CLARIFY_SUGGESTIONS = ["Which products generate the highest total sales value?",
                       "How many orders per region?"]


# ---------------------------------------------------------------------------------------------
# Data set (deterministic, in-memory sqlite)
# ---------------------------------------------------------------------------------------------

# name, category, price, active, launched, total quantity sold (sum over orders)
PRODUCTS = [
    ("Quinoa & Kale Bowl", "Bowls", 5.50, 1, "2022-03-14", 413),      # 2271.50
    ("Vegan Pizza", "Pizza", 11.75, 1, "2021-11-02", 187),            # 2197.25
    ("Organic Chili", "Soups", 6.50, 1, "2020-09-21", 330),           # 2145.00
    ("Lentil Soup", "Soups", 4.25, 1, "2020-01-06", 480),             # 2040.00
    ("Mushroom Risotto", "Entrees", 9.75, 1, "2023-02-27", 200),      # 1950.00
    ("Black Bean Burrito", "Entrees", 3.75, 1, "2022-07-18", 400),    # 1500.00
    ("Tofu Pad Thai", "Entrees", 7.25, 1, "2023-06-05", 160),         # 1160.00
    ("Gluten-Free Lasagna", "Entrees", 8.00, 0, "2019-05-13", 90),    # 720.00
]
REGIONS = [("North", "Alice Moreau"), ("South", "Bruno Silva"), ("East", "Chen Wei"),
           ("West", "Dana Kowalski"), ("Central", "Emeka Obi")]
BIG_ORDER_ID = 9007199254740993   # 2**53 + 1: not representable as a double


class _Lcg:
    """Tiny deterministic pseudo-random generator (independent of Python's random)."""

    def __init__(self, seed):
        self.state = seed

    def next(self, n):
        self.state = (self.state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        return (self.state >> 33) % n


def build_database():
    """Build the retail data set in a new in-memory sqlite database and return the connection."""
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.executescript("""
        CREATE TABLE products (product_id INTEGER PRIMARY KEY, name TEXT NOT NULL, category TEXT,
                               price DECIMAL(10,2), active BOOLEAN, launched DATE);
        CREATE TABLE regions (region_id INTEGER PRIMARY KEY, name TEXT NOT NULL, manager TEXT);
        CREATE TABLE orders (order_id BIGINT PRIMARY KEY, product_id INTEGER, region_id INTEGER,
                             quantity INTEGER, unit_price DECIMAL(10,2), total DECIMAL(12,2),
                             discount DOUBLE, is_gift BOOLEAN, order_ts TIMESTAMP, note TEXT);
    """)
    for i, (name, cat, price, active, launched, _) in enumerate(PRODUCTS, 1):
        db.execute("INSERT INTO products VALUES (?,?,?,?,?,?)", (i, name, cat, price, active, launched))
    for i, (name, manager) in enumerate(REGIONS, 1):
        db.execute("INSERT INTO regions VALUES (?,?,?)", (i, name, manager))
    rng = _Lcg(20240301)
    order_id = 100001
    base = datetime.datetime(2024, 1, 1)
    rows = []
    for pid, (_, _, price, _, _, qty_total) in enumerate(PRODUCTS, 1):
        left = qty_total
        while left > 0:
            q = min(left, 1 + rng.next(12))
            left -= q
            ts = base + datetime.timedelta(seconds=rng.next(366 * 86400))
            disc = [None, 0.05, 0.1, 0.15, 0.2][rng.next(5)]
            rows.append([order_id, pid, 1 + rng.next(len(REGIONS)), q, price, q * price, disc,
                         rng.next(7) == 0, ts.strftime("%Y-%m-%d %H:%M:%S.") + "%03d" % rng.next(1000),
                         None])
            order_id += 1
    # The orders shown by "Show every column type": fixed, varied values.
    specials = {
        100001: dict(discount=0.1, is_gift=True, ts="2024-03-01 10:15:00.000", note="Leave at the door"),
        100002: dict(discount=None, is_gift=False, ts="2024-03-02 18:30:45", note=None),
        100003: dict(discount=1 / 3, is_gift=False, ts="2024-03-03 07:05:09.123456",
                     note='Extra "spicy" café ☕ C:\\orders\\note'),
    }
    for r in rows:
        s = specials.get(r[0])
        if s:
            r[6], r[7], r[8], r[9] = s["discount"], s["is_gift"], s["ts"], s["note"]
    last = rows[-1]
    last[0], last[6], last[7], last[8], last[9] = BIG_ORDER_ID, 0.05, True, "2024-12-31 23:59:59.999", "Gift wrap"
    db.executemany("INSERT INTO orders VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
    db.commit()
    return db


# ---------------------------------------------------------------------------------------------
# Types and value rendering (contract §3.2, §3.3)
# ---------------------------------------------------------------------------------------------

_TYPE_NAMES = {
    "STRING": "STRING", "VARCHAR": "STRING", "CHAR": "CHAR", "INT": "INT", "INTEGER": "INT",
    "BIGINT": "LONG", "LONG": "LONG", "SMALLINT": "SHORT", "SHORT": "SHORT", "TINYINT": "BYTE",
    "BYTE": "BYTE", "DECIMAL": "DECIMAL", "DOUBLE": "DOUBLE", "FLOAT": "FLOAT", "REAL": "FLOAT",
    "BOOLEAN": "BOOLEAN", "DATE": "DATE", "TIMESTAMP": "TIMESTAMP", "TIMESTAMP_NTZ": "TIMESTAMP",
    "BINARY": "BINARY", "ARRAY": "ARRAY", "MAP": "MAP", "STRUCT": "STRUCT", "INTERVAL": "INTERVAL",
}


class Column:
    def __init__(self, name, type_text, position):
        self.name = name
        self.type_text = type_text.strip().upper()
        self.position = position
        base = re.split(r"[(<\s]", self.type_text, 1)[0]
        self.type_name = _TYPE_NAMES.get(base, "STRING")
        self.precision = self.scale = None
        if self.type_name == "DECIMAL":
            m = re.match(r"DECIMAL\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)", self.type_text)
            self.precision, self.scale = (int(m.group(1)), int(m.group(2) or 0)) if m else (10, 0)
            self.type_text = "DECIMAL(%d,%d)" % (self.precision, self.scale)
            self._quantum = decimal.Decimal(1).scaleb(-self.scale)

    def info(self):
        d = {"name": self.name, "position": self.position, "type_name": self.type_name,
             "type_text": self.type_text}
        if self.type_name == "DECIMAL":
            d["type_precision"] = self.precision
            d["type_scale"] = self.scale
        return d

    def render(self, v):
        if v is None:
            return None
        t = self.type_name
        if t in ("INT", "LONG", "SHORT", "BYTE"):
            return str(int(v))
        if t == "DECIMAL":
            with decimal.localcontext() as ctx:
                ctx.prec = 80                   # DECIMAL(38,s) needs more than the default 28 digits
                d = decimal.Decimal(repr(v)) if isinstance(v, float) else decimal.Decimal(str(v))
                return format(d.quantize(self._quantum, rounding=decimal.ROUND_HALF_UP), "f")
        if t in ("DOUBLE", "FLOAT"):
            return spark_double(float(v))
        if t == "BOOLEAN":
            if isinstance(v, str):
                return "true" if v.strip().lower() in ("1", "true", "t", "yes") else "false"
            return "true" if v else "false"
        if t == "DATE":
            return str(v)[:10]
        if t == "TIMESTAMP":
            s = str(v).replace(" ", "T", 1)
            if not (s.endswith("Z") or re.search(r"[+-]\d\d:?\d\d$", s)):
                s += "Z"
            return s
        return str(v)


def spark_double(f):
    """A double as Spark writes it (Java's Double.toString): positional between 1e-3 and 1e7,
    else one digit, a point and an exponent ("3.336E8", "1.5E-4"); NaN and Infinity spelled out."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "Infinity" if f > 0 else "-Infinity"
    if f == 0 or 1e-3 <= abs(f) < 1e7:
        return repr(f)
    t = decimal.Decimal(repr(f)).normalize().as_tuple()
    digits = "".join(str(x) for x in t.digits)
    exp = len(digits) - 1 + t.exponent
    return "%s%s.%sE%d" % ("-" if t.sign else "", digits[0], digits[1:] or "0", exp)


def make_columns(specs):
    return [Column(name, tt, i) for i, (name, tt) in enumerate(specs)]


# ---------------------------------------------------------------------------------------------
# Result sets
# ---------------------------------------------------------------------------------------------

class SqlResult:
    """Rows of a fixture query, computed once on first use."""

    def __init__(self, emu, sql, columns, params=None):
        self.emu, self.sql, self.columns, self.params = emu, sql, columns, params or {}
        self._rows = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._rows is None:
                self._rows = self.emu.run_sql(self.sql, self.params)
        return self._rows

    def run_now(self):
        """Run the query now (raises sqlite3.Error when the data set no longer fits it)."""
        self._load()
        return self

    @property
    def total(self):
        return len(self._load())

    def rows(self, start, end):
        return self._load()[start:end]


class GeneratedResult:
    """'Generate N rows': each row computed from its index, never stored."""

    BASE = datetime.datetime(2024, 1, 1)

    def __init__(self, n, columns):
        self.n, self.columns = n, columns

    @property
    def total(self):
        return self.n

    @staticmethod
    def row(i):
        cents = (i * 7919) % 10000000
        ts = GeneratedResult.BASE + datetime.timedelta(seconds=i * 37)
        frac = "" if i % 3 == 0 else ".%03d" % (i % 1000)
        return [i, "item-%d" % i, i % 100, "%d.%02d" % (cents // 100, cents % 100),
                ts.strftime("%Y-%m-%d %H:%M:%S") + frac, i % 2 == 0]

    def rows(self, start, end):
        end = min(end, self.n)
        return [self.row(i + 1) for i in range(start, end)]


class StaticResult:
    """Rows written out in the fixture ("data"): values Spark produces that sqlite cannot hold
    (long decimals, NaN, Infinity).  Non-finite doubles are given as the strings "NaN", "Infinity"."""

    def __init__(self, data, columns):
        self.columns = columns
        self._rows = [[float(v) if isinstance(v, str) and v in ("NaN", "Infinity", "-Infinity") else v
                       for v in r] for r in data]

    @property
    def total(self):
        return len(self._rows)

    def rows(self, start, end):
        return self._rows[start:end]


def sql_params(sub):
    """Genie's query parameters ({keyword, sql_type, value}) as sqlite bindings for :keyword."""
    return {p["keyword"]: p["value"] for p in sub.get("parameters") or []}


def render_rows(columns, rows):
    return [[c.render(v) for c, v in zip(columns, r)] for r in rows]


def compact_json(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def iso_ms(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# ---------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------

def normalise(text):
    t = re.sub(r"\s+", " ", (text or "").lower()).strip()
    return t.rstrip("? ").strip()


class Fixtures:
    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            entries = json.load(f)
        self.by_text = {}
        self.patterns = []
        for e in entries:
            if "question" in e:
                self.by_text[normalise(e["question"])] = e
            if "pattern" in e:
                self.patterns.append((re.compile(e["pattern"]), e))
        for e in entries:                         # resolve "same_as" (copy unset keys)
            if "same_as" in e:
                src = self.by_text[normalise(e["same_as"])]
                for k, v in src.items():
                    if k not in ("question", "pattern", "first_time", "answer_seconds", "status", "error"):
                        e.setdefault(k, v)

    def lookup(self, text):
        """Return (entry, params) for a question; entry None means 'clarify'."""
        n = normalise(text)
        if n in self.by_text:
            return self.by_text[n], {}
        for rx, e in self.patterns:
            m = rx.search(n)
            if m:
                return e, {"n": int(m.group(1))}
        return None, {}


# ---------------------------------------------------------------------------------------------
# Model objects
# ---------------------------------------------------------------------------------------------

def new_id():
    return uuid.uuid4().hex


class Clock:
    """The time messages and statements live in.

    "real" (the default) follows the wall clock.  "manual" freezes it: it moves
    only when a test advances it through the control API, so tests that watch
    a message walk through its statuses never race the machine's load.
    """

    def __init__(self, mode="real"):
        self._lock = threading.Lock()
        self.mode = "real"
        self.offset = 0.0        # real mode: added to time.time() (keeps time monotonic across switches)
        self.frozen = 0.0        # manual mode: the current time
        self.set_mode(mode)

    def now(self):
        with self._lock:
            return self.frozen if self.mode == "manual" else time.time() + self.offset

    def set_mode(self, mode):
        if mode not in ("real", "manual"):
            raise ApiError(400, 'clock must be "real" or "manual"')
        with self._lock:
            if mode == self.mode:
                return
            if mode == "manual":
                self.frozen = time.time() + self.offset
            else:
                self.offset = self.frozen - time.time()
            self.mode = mode

    def advance(self, seconds):
        if seconds < 0:
            raise ApiError(400, "advance must not be negative")
        with self._lock:
            if self.mode != "manual":
                raise ApiError(400, 'advance needs the manual clock (POST {"clock": "manual"} first)')
            self.frozen += seconds

    def json(self):
        return {"clock": self.mode, "now": self.now()}


def now_ms(t=None):
    return int((time.time() if t is None else t) * 1000)


class Statement:
    def __init__(self, result, cap, chunk_rows, clock, disposition="INLINE", message=None,
                 ready_at=None, error=None):
        self.id = str(uuid.uuid4())
        self.result = result
        self.cap = cap                      # int > 0 or None
        self.chunk_rows = max(1, int(chunk_rows))
        self.disposition = disposition
        self.message = message              # owning Genie message (state follows it) or None
        self.clock = clock
        self.created = clock.now()
        self.ready_at = ready_at            # downloads, re-runs: SUCCEEDED (or FAILED) after this time
        self.error = error                  # {error_code, message, sql_state}: the statement FAILED
        self.canceled = False
        self.sse_key = secrets.token_hex(16)
        self._bytes = {}
        self._lock = threading.Lock()

    def state(self, now=None):
        now = self.clock.now() if now is None else now
        if self.canceled:
            return "CANCELED"
        if self.message is not None:
            st = self.message.status(now)
            if st in ("COMPLETED",):
                return "SUCCEEDED"
            if st == "QUERY_RESULT_EXPIRED":
                return "CLOSED"
            if st == "FAILED":
                return "FAILED"
            if st == "CANCELLED":
                return "CANCELED"
            return "RUNNING"
        if self.ready_at is not None and now < self.ready_at:
            return "PENDING" if now < (self.created + self.ready_at) / 2 else "RUNNING"
        return "FAILED" if self.error else "SUCCEEDED"

    @property
    def total_rows(self):
        n = self.result.total
        return min(n, self.cap) if self.cap else n

    @property
    def truncated(self):
        return bool(self.cap) and self.result.total > self.cap

    @property
    def chunk_count(self):
        return (self.total_rows + self.chunk_rows - 1) // self.chunk_rows

    def chunk_bounds(self, i):
        start = i * self.chunk_rows
        return start, min(self.total_rows, start + self.chunk_rows)

    def chunk_data(self, i):
        start, end = self.chunk_bounds(i)
        return render_rows(self.result.columns, self.result.rows(start, end))

    def byte_count(self, i):
        with self._lock:
            if i in self._bytes:
                return self._bytes[i]
        if self.total_rows > 100000 and i != 0:
            # Large results: estimate from the first chunk instead of rendering everything.
            start, end = self.chunk_bounds(i)
            b0 = self.byte_count(0)
            return int(b0 * (end - start) / max(1, self.chunk_bounds(0)[1]))
        b = len(compact_json(self.chunk_data(i)).encode("utf-8"))
        with self._lock:
            self._bytes[i] = b
        return b


class Message:
    def __init__(self, conv, content, plan, answer_seconds, clock, weights=None):
        self.id = new_id()
        self.conv = conv
        self.content = content
        self.clock = clock
        self.created = clock.now()
        self.answer_seconds = max(0.0, float(answer_seconds))
        w = weights or PROFILES["fast"]["weights"]
        total = float(sum(w))
        self.bounds = []                       # start of each in-progress status, as a share
        acc = 0.0
        for x in w:
            self.bounds.append(acc / total)
            acc += x
        self.outcome = plan["status"]          # terminal status
        self.error = plan.get("error")
        self.queries = plan.get("queries", [])  # list of dicts: attachment_id, statement, sql, ...
        # text attachments: (attachment_id, content, purpose); purpose None = not sent
        self.texts = [(new_id(), c, p) for c, p in plan.get("texts", [])]
        self.suggested = plan.get("suggested_questions")
        self.suggested_id = new_id()
        self.feedback = None
        self.deleted = False

    def phase(self, now):
        """Return (status, start time of that status)."""
        el = now - self.created
        s = self.answer_seconds
        if s <= 0 or el >= s:
            return self.outcome, self.created + s
        idx = 0
        for i, b in enumerate(self.bounds):
            if el >= b * s:
                idx = i
        return IN_PROGRESS[idx], self.created + self.bounds[idx] * s

    def status(self, now=None):
        return self.phase(self.clock.now() if now is None else now)[0]


class User:
    """A Genie user: the owner of the conversations its token starts.  The label ("user1",
    "user2", ... in the order of the tokens) is what the control API shows, never the token."""

    def __init__(self, label, user_id):
        self.label = label
        self.user_id = user_id


OTHER_USER = User("other", OTHER_USER_ID)


class Conversation:
    def __init__(self, space_id, title, user):
        self.id = new_id()
        self.space_id = space_id
        self.title = title
        self.user = user
        self.user_id = user.user_id
        self.created = time.time()
        self.touched = None          # emulator-clock time of the last question (conversation_ttl_seconds)
        self.messages = []

    def json(self):
        ts = now_ms(self.created)
        last = max([now_ms(m.created) for m in self.messages] + [ts])
        return {"id": self.id, "conversation_id": self.id, "space_id": self.space_id,
                "title": self.title, "created_timestamp": ts, "last_updated_timestamp": last,
                "user_id": self.user_id}


class ApiError(Exception):
    def __init__(self, status, message, code=None, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code or ERROR_CODES.get(status, "UNKNOWN")
        self.message = message
        self.headers = headers or {}


class Response:
    def __init__(self, status=200, obj=None, body=None, ctype="application/json", headers=None):
        self.status = status
        self.obj = obj
        self.body = body
        self.ctype = ctype
        self.headers = dict(headers or {})

    def bytes(self):
        if self.body is None:
            self.body = (json.dumps(self.obj, ensure_ascii=False) if self.obj is not None else "").encode("utf-8")
        elif isinstance(self.body, str):
            self.body = self.body.encode("utf-8")
        return self.body


def error_response(status, message, code=None, headers=None):
    """The error body of every Databricks REST API (contract §5.1).  A numeric code is sent the
    way real workspaces answer a refused token ({"error_code": 403, "message": ...}), without
    details; a string code comes with an ErrorInfo detail, as the SDKs parse it."""
    code = code or ERROR_CODES.get(status, "UNKNOWN")
    body = {"error_code": code, "message": message}
    if not isinstance(code, int):
        # (only ErrorInfo, which carries "metadata": the JS SDK reads metadata of every detail)
        body["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": code,
                            "domain": "dashboards.genie.databricks.com",
                            "metadata": {"request_id": str(uuid.uuid4())}}]
    return Response(status, body, headers=headers)


def storage_error(status, code, message):
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message>'
            '<RequestId>%s</RequestId></Error>' % (code, message, secrets.token_hex(8).upper()))
    return Response(status, body=body, ctype="application/xml")


# ---------------------------------------------------------------------------------------------
# The emulator state and request handling
# ---------------------------------------------------------------------------------------------

class Emulator:
    def __init__(self, args, config):
        # token -> User: --token is user1, each --extra-token the next user
        self.users = {}
        for tok in [args.token] + list(args.extra_token or []):
            if tok not in self.users:
                self.users[tok] = User("user%d" % (len(self.users) + 1), USER_ID + 1000 * len(self.users))
        self.first_user = self.users[args.token]
        self.client_id = args.client_id
        self.client_secret = args.client_secret
        self.startup_config = dict(config)
        self.fixtures = Fixtures(args.fixtures)
        self.db = None               # built by reset()
        self.db_lock = threading.Lock()
        self.link_secret = secrets.token_bytes(32)
        self.lock = threading.RLock()
        self.oauth_tokens = {}      # access token -> expiry time; kept across resets
        self.log_file = open(args.log, "a", encoding="utf-8") if args.log else None
        self.profile = args.profile
        self.startup_clock = args.clock
        self.clock = Clock(args.clock)
        self.feedback_log = []
        self.reset()

    # -- state --------------------------------------------------------------------------------
    def reset(self):
        self.clock.set_mode(self.startup_clock)
        db = build_database()        # the initial data set (undoes POST /__emulator/sql)
        with self.db_lock:
            old, self.db = self.db, db
        if old is not None:
            old.close()
        with self.lock:
            self.feedback_log = []
            self.config = dict(self.startup_config)
            self.conversations = {}
            self.started = {}                  # conversation id -> Conversation, kept after a delete
            self.statements = {}
            self.downloads = {}
            self.faults = []
            self.rate_window = collections.deque()
            self.asked = set()                 # normalised questions asked since reset
            self.stats_requests = collections.Counter()
            self.stats_statuses = collections.Counter()
            self.sent_429 = 0
            self.in_flight = 0
            self.max_in_flight = 0
            self.questions = []
            self.auth_on_storage = 0
            self.faults_applied = 0
            self.execute_failures = []         # queued failures of execute-query (control API)
            self.reruns = []                   # one entry per execute-query that reached its message
            for s in sorted(ACCESSIBLE_SPACES):   # one conversation by another user per space
                c = Conversation(s, "Quarterly numbers (another user)", OTHER_USER)
                c.created -= 86400
                c.touched = self.clock.now() - 86400
                self.conversations[c.id] = c
                self.started[c.id] = c

    def set_config(self, changes):
        if not isinstance(changes, dict):
            raise ApiError(400, "config must be a JSON object")
        new = dict(self.config)
        for k, v in changes.items():
            if k not in DEFAULT_CONFIG:
                raise ApiError(400, "unknown config key %r (valid: %s)" % (k, ", ".join(sorted(DEFAULT_CONFIG))))
            try:
                new[k] = config_value(k, v)
            except (TypeError, ValueError):
                raise ApiError(400, "config key %r needs %s" % (
                    k, "\"\" or [http[s]://]host[:port]" if k in STR_CONFIG_KEYS else "a number"))
            if k not in STR_CONFIG_KEYS and new[k] < 0:
                raise ApiError(400, "config key %r must not be negative" % k)
        if new["chunk_rows"] < 1:
            raise ApiError(400, "chunk_rows must be at least 1")
        with self.lock:
            self.config = new

    def stats(self):
        with self.lock:
            return {"requests": dict(self.stats_requests), "statuses": dict(self.stats_statuses),
                    "sent_429": self.sent_429, "in_flight": self.in_flight,
                    "max_in_flight": self.max_in_flight, "questions": list(self.questions),
                    "authorization_on_storage": self.auth_on_storage,
                    "faults_applied": self.faults_applied, "faults_pending": len(self.faults),
                    "reruns": [dict(r) for r in self.reruns], "rerun_count": len(self.reruns),
                    "execute_failures_pending": sum(f["count"] for f in self.execute_failures)}

    def conversation_info(self, c):
        """A conversation for the control API: its user's label, never a token."""
        with self.lock:
            deleted = c.id not in self.conversations
            questions = [m.content for m in c.messages]
        return {"conversation_id": c.id, "space_id": c.space_id, "user": c.user.label,
                "deleted": deleted, "questions": questions}

    def run_sql(self, sql, params=None):
        with self.db_lock:
            return self.db.execute(sql, params or {}).fetchall()

    # -- data changes (POST /__emulator/sql) --------------------------------------------------
    @staticmethod
    def _control_authorizer(action, arg1, arg2, dbname, source):
        # the data set lives in memory: no statement may reach a file (ATTACH, VACUUM INTO)
        if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    def change_data(self, statements):
        """Run sqlite statements on the data set, all or none (one transaction).  Questions asked
        before keep their results; re-runs (execute-query) and later questions see the change."""
        if isinstance(statements, str):
            statements = [statements]
        if (not isinstance(statements, list) or not statements
                or not all(isinstance(x, str) and x.strip() for x in statements)):
            raise ApiError(400, 'sql must be a non-empty string or a list of them')
        out = {"changes": 0}
        with self.db_lock:
            db = self.db
            level = db.isolation_level
            db.isolation_level = None          # explicit BEGIN/COMMIT: DDL rolls back too
            db.set_authorizer(self._control_authorizer)
            try:
                db.execute("BEGIN")
                for i, text in enumerate(statements):
                    try:
                        cur = db.execute(text)
                        rows = cur.fetchall()
                    except sqlite3.Error as e:
                        try:
                            db.execute("ROLLBACK")
                        except sqlite3.Error:
                            pass
                        raise ApiError(400, "statement %d failed (nothing changed): %s" % (i + 1, e))
                    if cur.description:
                        out["columns"] = [d[0] for d in cur.description]
                        out["rows"] = [[v.hex() if isinstance(v, bytes) else v for v in r] for r in rows]
                    elif cur.rowcount > 0:
                        out["changes"] += cur.rowcount
                db.execute("COMMIT")
            finally:
                db.set_authorizer(None)
                db.isolation_level = level
        return out

    @staticmethod
    def warehouse_error(error_class, name, error_code="BAD_REQUEST", message=None, sql_state=None):
        """A failed statement's error, written as a SQL warehouse writes it."""
        state, text = WAREHOUSE_ERRORS.get(error_class, (None, "The query failed."))
        state = sql_state or state
        if message is None:
            message = "[%s] %s" % (error_class, text.format(name=name))
            if state:
                message += " SQLSTATE: %s" % state
        err = {"error_code": error_code, "message": message}
        if state:
            err["sql_state"] = state
        return err

    def sqlite_error(self, exc):
        """The warehouse error for a query that sqlite could not run on the current data set."""
        text = str(exc)
        m = re.match(r"no such table: (\S+)", text)
        if m:
            return self.warehouse_error("TABLE_OR_VIEW_NOT_FOUND", "`%s`" % m.group(1))
        m = re.match(r"no such column: (\S+)", text)
        if m:
            return self.warehouse_error("UNRESOLVED_COLUMN.WITHOUT_SUGGESTION",
                                        ".".join("`%s`" % x for x in m.group(1).split(".")))
        return self.warehouse_error("INTERNAL_ERROR", text)

    # -- execute-query failures (POST /__emulator/execute-failures) ---------------------------
    def add_execute_failure(self, f):
        if not isinstance(f, dict) or f.get("mode") not in EXECUTE_FAILURE_MODES:
            raise ApiError(400, "an execute-query failure needs \"mode\": one of %s"
                           % ", ".join(EXECUTE_FAILURE_MODES))
        f = dict(f)
        try:
            f["count"] = int(f.get("count", 1))
        except (TypeError, ValueError):
            raise ApiError(400, "count needs an integer")
        if f["count"] < 1:
            raise ApiError(400, "count must be at least 1")
        for k in ("error_class", "error_code", "message", "sql_state"):
            if k in f and not isinstance(f[k], str):
                raise ApiError(400, "%s must be a string" % k)
        with self.lock:
            self.execute_failures.append(f)

    def take_execute_failure(self):
        with self.lock:
            if not self.execute_failures:
                return None
            f = self.execute_failures[0]
            f["count"] -= 1
            if f["count"] <= 0:
                self.execute_failures.pop(0)
            return dict(f)

    # -- conversations gone out of band ---------------------------------------------------------
    def conversation_gone(self, c, now=None):
        ttl = self.config["conversation_ttl_seconds"]
        if ttl <= 0 or c.touched is None:
            return False
        return (self.clock.now() if now is None else now) - c.touched >= ttl

    def drop_conversations(self, conv_id):
        """Delete one conversation (or every one: conv_id None) as if its owner had deleted it."""
        with self.lock:
            if conv_id is None:
                n = len(self.conversations)
                self.conversations = {}
                return n
            if self.conversations.pop(conv_id, None) is None:
                raise ApiError(404, "Conversation %s does not exist." % conv_id)
            return 1

    def log(self, line):
        if self.log_file:
            self.log_file.write("%s %s\n" % (iso_ms(time.time()), line))
            self.log_file.flush()

    # -- faults -------------------------------------------------------------------------------
    def add_fault(self, f):
        if not isinstance(f, dict) or "action" not in f:
            raise ApiError(400, 'fault needs at least {"action": ...}')
        f = dict(f)
        f.setdefault("endpoint", "*")
        f["count"] = int(f.get("count", 1))
        if f["action"] not in ("status", "delay", "drop", "drop_mid_body", "malformed", "truncated",
                               "html", "empty", "trickle", "body", "set"):
            raise ApiError(400, "unknown fault action %r" % f["action"])
        if f["endpoint"] != "*" and f["endpoint"] not in ENDPOINTS:
            raise ApiError(400, "unknown endpoint %r (valid: %s)" % (f["endpoint"], ", ".join(ENDPOINTS)))
        with self.lock:
            self.faults.append(f)

    def take_fault(self, endpoint, real_status_fn):
        """Pop one use of the first fault matching this request, or return None."""
        with self.lock:
            candidates = [f for f in self.faults if f["endpoint"] in ("*", endpoint) and f["count"] > 0]
        for f in candidates:
            if f.get("only_status") is not None and real_status_fn() != f["only_status"]:
                continue
            with self.lock:
                if not any(x is f for x in self.faults) or f["count"] <= 0:
                    continue
                f["count"] -= 1
                if f["count"] <= 0:
                    self.faults = [x for x in self.faults if x is not f]
                self.faults_applied += 1
            return f
        return None

    # -- auth ---------------------------------------------------------------------------------
    def check_auth(self, headers):
        """The User of the request's credentials (OAuth access tokens act as the first user)."""
        h = headers.get("Authorization")
        m = re.match(r"^\s*Bearer\s+(\S+)\s*$", h or "", re.I)
        if not m:
            raise ApiError(401, "Unable to authenticate: missing or malformed Authorization header "
                                "(expected 'Bearer <token>')", code=401)
        tok = m.group(1)
        found = None
        for known, user in self.users.items():     # compare with every token: no early exit
            if hmac.compare_digest(tok.encode(), known.encode()):
                found = user
        if found is not None:
            return found
        with self.lock:
            exp = self.oauth_tokens.get(tok)
        if exp is None:
            raise ApiError(403, "Invalid access token.", code=403)
        if time.time() >= exp:
            raise ApiError(401, "Invalid access token: the OAuth access token has expired.", code=401)
        return self.first_user

    def oauth_token(self, req):
        body = req.body.decode("utf-8", "replace")
        form = dict(urllib.parse.parse_qsl(body, keep_blank_values=True))
        cid, csec = form.get("client_id"), form.get("client_secret")
        h = req.headers.get("Authorization", "")
        if h.lower().startswith("basic "):
            try:
                cid, _, csec = base64.b64decode(h[6:].strip()).decode("utf-8").partition(":")
                cid, csec = urllib.parse.unquote(cid), urllib.parse.unquote(csec)
            except Exception:
                cid = csec = None
        if form.get("grant_type") != "client_credentials":
            return Response(400, {"error": "unsupported_grant_type",
                                  "error_description": "grant_type must be client_credentials"})
        if cid != self.client_id or csec is None or not hmac.compare_digest(csec.encode(), self.client_secret.encode()):
            return Response(401, {"error": "invalid_client",
                                  "error_description": "Client authentication failed"})
        ttl = self.config["oauth_token_ttl"]
        tok = "emu-oauth-" + secrets.token_hex(24)
        with self.lock:
            self.oauth_tokens[tok] = time.time() + ttl
        return Response(200, {"access_token": tok, "token_type": "Bearer", "expires_in": int(ttl),
                              "scope": form.get("scope") or "all-apis"})

    # -- helpers ------------------------------------------------------------------------------
    def check_space(self, space_id):
        if space_id in FORBIDDEN_SPACES:
            raise ApiError(403, "You do not have permission to access Genie space %s." % space_id)
        if space_id not in ACCESSIBLE_SPACES:
            raise ApiError(404, "Genie space %s does not exist." % space_id)

    def get_conv(self, user, space_id, conv_id):
        """A conversation of this user: conversations are per user, another user's is 404."""
        self.check_space(space_id)
        with self.lock:
            c = self.conversations.get(conv_id)
        if c is not None and self.conversation_gone(c):
            with self.lock:
                self.conversations.pop(conv_id, None)
            c = None
        if c is None or c.space_id != space_id or c.user is not user:
            raise ApiError(404, "Conversation %s does not exist in space %s." % (conv_id, space_id))
        return c

    def get_msg(self, user, space_id, conv_id, msg_id):
        c = self.get_conv(user, space_id, conv_id)
        for m in c.messages:
            if m.id == msg_id and not m.deleted:
                return m
        raise ApiError(404, "Message %s does not exist in conversation %s." % (msg_id, conv_id))

    @staticmethod
    def get_query(m, att_id):
        for q in m.queries:
            if q["attachment_id"] == att_id:
                return q
        raise ApiError(404, "Attachment %s does not exist in message %s." % (att_id, m.id))

    def paginate(self, items, query, key):
        try:
            size = int(query.get("page_size") or 20)
        except ValueError:
            raise ApiError(400, "page_size must be an integer")
        if size <= 0:
            size = 20
        size = min(size, 100)
        tok = query.get("page_token")
        start = 0
        if tok:
            try:
                start = int(base64.urlsafe_b64decode(tok.encode() + b"==").decode().split(":", 1)[1])
            except Exception:
                raise ApiError(400, "Invalid page_token.")
        page = items[start:start + size]
        out = {key: page}
        if start + size < len(items):
            out["next_page_token"] = base64.urlsafe_b64encode(("page:%d" % (start + size)).encode()).decode().rstrip("=")
        return out

    def plan_for(self, content):
        """Decide how a question is answered (fixture lookup, first-time behaviour)."""
        entry, params = self.fixtures.lookup(content)
        norm = normalise(content)
        with self.lock:
            first = norm not in self.asked
            self.asked.add(norm)
            cfg = dict(self.config)
        cap = cfg["row_cap"] or None
        answer_seconds = profile_answer_seconds(self.profile, content, cfg["answer_seconds"])
        if entry is None:
            # Genie asks back instead of answering: a text attachment whose purpose is a follow-up question
            return {"status": "COMPLETED", "texts": [(CLARIFY_TEXT, "FOLLOW_UP_QUESTION")],
                    "suggested_questions": CLARIFY_SUGGESTIONS}, answer_seconds
        answer_seconds = entry.get("answer_seconds", answer_seconds)
        status = entry.get("status", "COMPLETED")
        error = entry.get("error")
        if first and "first_time" in entry:
            status = entry["first_time"].get("status", status)
            error = entry["first_time"].get("error", error)
        plan = {"status": status, "error": error}
        if status in ("FAILED", "CANCELLED"):
            return plan, answer_seconds
        texts = []
        if entry.get("text"):
            texts.append((entry["text"], entry.get("text_purpose", "TEXT_ATTACHMENT_PURPOSE_ANSWER")))
        if entry.get("follow_up"):
            texts.append((entry["follow_up"], "FOLLOW_UP_QUESTION"))
        plan["texts"] = texts
        plan["suggested_questions"] = entry.get("suggested_questions")
        queries = []
        subs = [(sub, "superseded") for sub in entry.get("superseded", [])]
        if "regenerated" in entry:          # shown while EXECUTING_QUERY, replaced at COMPLETED
            subs.append((entry["regenerated"], "draft"))
        if "sql" in entry:
            subs.append((entry, "final_only" if "regenerated" in entry else "final"))
        for sub, role in subs:
            cols = make_columns(sub["columns"])
            if "data" in sub:
                sql = sub["sql"]
                result = StaticResult(sub["data"], cols)
            elif sub.get("generator") == "rows":
                sql = sub["sql"].replace("{n}", str(params["n"]))
                result = GeneratedResult(params["n"], cols)
            else:
                sql = sub["sql"]
                try:
                    # at question time: a later change of the data set (POST /__emulator/sql)
                    # leaves this answer as it was, as Genie keeps a query's result
                    result = SqlResult(self, sql, cols, sql_params(sub)).run_now()
                except sqlite3.Error as e:
                    # the data set no longer fits the fixture's SQL (a table dropped)
                    return {"status": "FAILED", "error": {"error": self.sqlite_error(e)["message"],
                                                          "type": "SQL_EXECUTION_EXCEPTION"}}, answer_seconds
            q = {"attachment_id": new_id(), "sql": sql, "description": sub.get("description"),
                 "title": sub.get("title"), "result": result, "cap": cap, "chunk_rows": cfg["chunk_rows"],
                 "role": role, "parameters": sub.get("parameters"), "thoughts": sub.get("thoughts")}
            queries.append(q)
        plan["queries"] = queries
        return plan, answer_seconds

    def rate_limit(self):
        with self.lock:
            qpm = self.config["questions_per_minute"]
            window = self.config["rate_window_seconds"]
            now = self.clock.now()
            while self.rate_window and self.rate_window[0] <= now - window:
                self.rate_window.popleft()
            if qpm > 0 and len(self.rate_window) >= qpm:
                wait = max(1, int(math.ceil(self.rate_window[0] + window - now)))
                raise ApiError(429, "Too many requests: the Genie API allows %d questions per %g seconds "
                                    "in this workspace. Retry later." % (qpm, window),
                               headers={"Retry-After": str(wait)})
            self.rate_window.append(now)

    def new_message(self, conv, content, rate_limited=True):
        if not isinstance(content, str) or not content.strip():
            raise ApiError(400, "Field 'content' is required and must be a non-empty string.")
        if rate_limited:
            self.rate_limit()
        plan, secs = self.plan_for(content)
        m = Message(conv, content, plan, secs, self.clock, PROFILES[self.profile]["weights"])
        for q in m.queries:
            st = Statement(q["result"], q["cap"], q["chunk_rows"], self.clock, message=m)
            q["statement"] = st
            with self.lock:
                self.statements[st.id] = st
        with self.lock:
            conv.messages.append(m)
            conv.touched = m.created
            self.questions.append(content)
        return m

    # -- JSON views ---------------------------------------------------------------------------
    def message_json(self, m, now=None, initial=False):
        """A GenieMessage.  initial: the reply to start/create, which is never already terminal."""
        now = self.clock.now() if now is None else now
        status, since = m.phase(now)
        if initial:
            status, since = "SUBMITTED", m.created
        d = {"id": m.id, "message_id": m.id, "conversation_id": m.conv.id, "space_id": m.conv.space_id,
             "content": m.content, "status": status, "created_timestamp": now_ms(m.created),
             "last_updated_timestamp": now_ms(since), "user_id": m.conv.user_id}
        atts = []
        if status == "EXECUTING_QUERY" or (status in ("COMPLETED", "QUERY_RESULT_EXPIRED")):
            done = status != "EXECUTING_QUERY"
            shown = [q for q in m.queries
                     if not (done and q["role"] == "draft") and not (not done and q["role"] == "final_only")]
            for q in shown:
                qa = {"query": q["sql"], "statement_id": q["statement"].id,
                      "last_updated_timestamp": now_ms(since if not done else m.created + m.answer_seconds)}
                if q.get("description"):
                    qa["description"] = q["description"]
                    qa["thoughts"] = [{"thought_type": "THOUGHT_TYPE_DESCRIPTION", "content": q["description"]}]
                if q.get("thoughts"):
                    qa["thoughts"] = [dict(t) for t in q["thoughts"]]
                if q.get("parameters"):
                    qa["parameters"] = [dict(p) for p in q["parameters"]]
                if q.get("title"):
                    qa["title"] = q["title"]
                if done:
                    st = q["statement"]
                    meta = {"row_count": st.total_rows}
                    if st.truncated:
                        meta["is_truncated"] = True
                    qa["query_result_metadata"] = meta
                atts.append({"attachment_id": q["attachment_id"], "query": qa})
            if done:
                if shown:
                    st = shown[-1]["statement"]
                    qr = {"statement_id": st.id, "row_count": st.total_rows}
                    if st.truncated:
                        qr["is_truncated"] = True
                    d["query_result"] = qr
                # the order of a real capture: query, suggested_questions, text (contract §8.3, §11)
                if m.suggested:
                    atts.append({"attachment_id": m.suggested_id,
                                 "suggested_questions": {"questions": list(m.suggested)}})
                for att_id, content, purpose in m.texts:
                    t = {"content": content}
                    if purpose:
                        t["purpose"] = purpose
                    atts.append({"attachment_id": att_id, "text": t})
        if atts:
            d["attachments"] = atts
        if status == "FAILED" and m.error:
            d["error"] = dict(m.error)
        if m.feedback:
            d["feedback"] = dict(m.feedback)
        return d

    def link_for(self, st, i, base):
        start, end = st.chunk_bounds(i)
        # rounded up: a link lives at least link_ttl_seconds (truncating could leave it a moment)
        exp = int(math.ceil(time.time() + self.config["link_ttl_seconds"]))
        sig = hmac.new(self.link_secret, ("%s/%d/%d" % (st.id, i, exp)).encode(), hashlib.sha256).hexdigest()
        link = {"chunk_index": i, "row_offset": start, "row_count": end - start,
                "byte_count": st.byte_count(i),
                "external_link": "%s/__storage/results/%s/chunk_%d.json?X-Emu-Expires=%d&X-Emu-Signature=%s"
                                 % (link_base(base, self.config["link_host"]), st.id, i, exp, sig),
                "expiration": iso_ms(exp), "http_headers": {"x-emulator-sse-key": st.sse_key}}
        if i + 1 < st.chunk_count:
            link["next_chunk_index"] = i + 1
            link["next_chunk_internal_link"] = "/api/2.0/sql/statements/%s/result/chunks/%d" % (st.id, i + 1)
        return link

    def chunk_json(self, st, i, base):
        if st.disposition == "EXTERNAL_LINKS":
            return {"external_links": [self.link_for(st, i, base)]}
        start, end = st.chunk_bounds(i)
        r = {"chunk_index": i, "row_offset": start, "row_count": end - start, "data_array": st.chunk_data(i)}
        if i + 1 < st.chunk_count:
            r["next_chunk_index"] = i + 1
            r["next_chunk_internal_link"] = "/api/2.0/sql/statements/%s/result/chunks/%d" % (st.id, i + 1)
        return r

    def statement_json(self, st, base):
        state = st.state()
        d = {"statement_id": st.id, "status": {"state": state}}
        if state == "FAILED" and st.error:
            d["status"]["error"] = {"error_code": st.error["error_code"], "message": st.error["message"]}
            if st.error.get("sql_state"):
                d["status"]["sql_state"] = st.error["sql_state"]
        elif state == "FAILED":
            d["status"]["error"] = {"error_code": "BAD_REQUEST", "message": "The query failed."}
        if state != "SUCCEEDED":
            return d
        cols = st.result.columns
        n = st.chunk_count
        chunks = [{"chunk_index": i, "row_offset": st.chunk_bounds(i)[0],
                   "row_count": st.chunk_bounds(i)[1] - st.chunk_bounds(i)[0],
                   "byte_count": st.byte_count(i)} for i in range(n)]
        d["manifest"] = {"format": "JSON_ARRAY",
                         "schema": {"column_count": len(cols), "columns": [c.info() for c in cols]},
                         "total_chunk_count": n, "chunks": chunks, "total_row_count": st.total_rows,
                         "total_byte_count": sum(c["byte_count"] for c in chunks), "truncated": st.truncated}
        if n == 0:
            d["result"] = ({"external_links": []} if st.disposition == "EXTERNAL_LINKS" else
                           {"chunk_index": 0, "row_offset": 0, "row_count": 0, "data_array": []})
        else:
            d["result"] = self.chunk_json(st, 0, base)
        return d

    def get_statement(self, sid):
        with self.lock:
            st = self.statements.get(sid)
        if st is None:
            raise ApiError(404, "Statement %s does not exist." % sid, code="NOT_FOUND")
        return st

    # -- route handlers -----------------------------------------------------------------------
    def h_list_spaces(self, req):
        return Response(200, self.paginate([dict(s) for s in SPACES], req.query, "spaces"))

    def h_get_space(self, req, s):
        self.check_space(s)
        sp = dict(next(x for x in SPACES if x["space_id"] == s))
        if req.query.get("include_serialized_space", "").lower() == "true":
            sp["serialized_space"] = json.dumps({"version": 1, "data_sources": {"tables": [
                {"identifier": "retail.sales.%s" % t} for t in ("orders", "products", "regions")]}})
        return Response(200, sp)

    def h_start_conversation(self, req, s):
        self.check_space(s)
        body = req.json()
        content = body.get("content")
        conv = Conversation(s, (content or "")[:200], req.user)
        m = self.new_message(conv, content)
        with self.lock:
            self.conversations[conv.id] = conv
            self.started[conv.id] = conv
        return Response(200, {"conversation_id": conv.id, "message_id": m.id, "conversation": conv.json(),
                              "message": self.message_json(m, initial=True)})

    def h_create_message(self, req, s, c):
        conv = self.get_conv(req.user, s, c)
        body = req.json()
        m = self.new_message(conv, body.get("content"))
        return Response(200, self.message_json(m, initial=True))

    def h_get_message(self, req, s, c, m):
        return Response(200, self.message_json(self.get_msg(req.user, s, c, m)))

    def h_list_conversations(self, req, s):
        self.check_space(s)
        include_all = req.query.get("include_all", "").lower() == "true"
        with self.lock:
            now = self.clock.now()
            for gone in [c for c in self.conversations.values() if self.conversation_gone(c, now)]:
                del self.conversations[gone.id]
            convs = [c for c in self.conversations.values()
                     if c.space_id == s and (include_all or c.user is req.user)]
        convs.sort(key=lambda c: c.created, reverse=True)
        items = [{"conversation_id": c.id, "title": c.title, "created_timestamp": now_ms(c.created)}
                 for c in convs]
        return Response(200, self.paginate(items, req.query, "conversations"))

    def h_delete_conversation(self, req, s, c):
        self.get_conv(req.user, s, c)
        with self.lock:
            self.conversations.pop(c, None)
        return Response(200, {})

    def h_list_messages(self, req, s, c):
        conv = self.get_conv(req.user, s, c)
        items = [self.message_json(m) for m in conv.messages if not m.deleted]
        return Response(200, self.paginate(items, req.query, "messages"))

    def h_delete_message(self, req, s, c, m):
        self.get_msg(req.user, s, c, m).deleted = True
        return Response(200, {})

    def h_feedback(self, req, s, c, m):
        msg = self.get_msg(req.user, s, c, m)
        body = req.json()
        rating = body.get("rating")
        if rating not in ("POSITIVE", "NEGATIVE", "NONE"):
            raise ApiError(400, "Field 'rating' must be one of POSITIVE, NEGATIVE, NONE.")
        comment = body.get("comment")
        if comment is not None and not isinstance(comment, str):
            raise ApiError(400, "Field 'comment' must be a string.")
        msg.feedback = {"rating": rating}
        if comment:
            msg.feedback["comment"] = comment
        with self.lock:
            self.feedback_log.append({"space_id": s, "conversation_id": c, "message_id": m,
                                      "rating": rating, "comment": comment})
        return Response(200, {})

    def _query_result(self, msg, q, base):
        status = msg.status()
        if q is None:
            if msg.queries and status not in TERMINAL:
                raise ApiError(400, "Message %s has no query result yet (status %s)." % (msg.id, status),
                               code="INVALID_STATE")
            raise ApiError(404, "Message %s has no query attachment." % msg.id)
        if status in IN_PROGRESS and status != "EXECUTING_QUERY":
            raise ApiError(404, "Attachment %s does not exist in message %s." % (q["attachment_id"], msg.id))
        return Response(200, {"statement_response": self.statement_json(q["statement"], base)})

    def h_attachment_query_result(self, req, s, c, m, a):
        msg = self.get_msg(req.user, s, c, m)
        return self._query_result(msg, self.get_query(msg, a), req.base)

    def h_message_query_result(self, req, s, c, m, a=None):
        msg = self.get_msg(req.user, s, c, m)
        if a is not None:
            q = self.get_query(msg, a)
        else:
            q = msg.queries[-1] if msg.queries and msg.status() in ("COMPLETED", "QUERY_RESULT_EXPIRED") else None
        return self._query_result(msg, q, req.base)

    def h_execute_query(self, req, s, c, m, a=None):
        msg = self.get_msg(req.user, s, c, m)
        if a is not None:
            q = self.get_query(msg, a)
        elif msg.queries:
            q = msg.queries[-1]
        else:
            raise ApiError(404, "Message %s has no query attachment." % msg.id)
        if msg.status() not in TERMINAL:
            raise ApiError(400, "Message %s is still being answered." % msg.id, code="INVALID_STATE")
        cfg = dict(self.config)
        rerun = {"space_id": s, "conversation_id": c, "message_id": m, "attachment_id": q["attachment_id"],
                 "sql": q["sql"], "statement_id": None, "state": None, "http_status": 200}
        failure = self.take_execute_failure()
        if failure and failure["mode"] == "permission_denied":
            rerun["http_status"] = 403
            with self.lock:
                self.reruns.append(rerun)
            raise ApiError(403, failure.get("message") or
                           "You do not have permission to run the query of attachment %s: it needs "
                           "CAN USE on SQL warehouse %s and SELECT on the tables it reads."
                           % (q["attachment_id"], WAREHOUSE_ID), code=failure.get("error_code"))
        result, error = self.rerun_query(q)
        if failure:                         # sql_error: the warehouse refuses the query
            m_from = re.search(r"\bFROM\s+([`\w.]+)", q["sql"], re.I)
            name = "`%s`" % (m_from.group(1).replace("`", "") if m_from else "orders")
            error = self.warehouse_error(failure.get("error_class", "TABLE_OR_VIEW_NOT_FOUND"), name,
                                         failure.get("error_code", "BAD_REQUEST"), failure.get("message"),
                                         failure.get("sql_state"))
        if error:
            result = StaticResult([], q["result"].columns)
        secs = cfg["execute_seconds"]
        st = Statement(result, cfg["row_cap"] or None, cfg["chunk_rows"], self.clock,
                       ready_at=self.clock.now() + secs if secs > 0 else None, error=error)
        rerun["statement_id"] = st.id
        rerun["state"] = st.state()
        with self.lock:
            self.statements[st.id] = st
            self.reruns.append(rerun)
        return Response(200, {"statement_response": self.statement_json(st, req.base)})

    def rerun_query(self, q):
        """Run an attachment's query again on the data set as it is now: (result, error).
        Rows written out in the fixture and generated rows do not depend on the data set."""
        src = q["result"]
        if not isinstance(src, SqlResult):
            return src, None
        try:
            return SqlResult(self, src.sql, src.columns, src.params).run_now(), None
        except sqlite3.Error as e:
            return None, self.sqlite_error(e)

    def h_generate_download(self, req, s, c, m, a):
        msg = self.get_msg(req.user, s, c, m)
        q = self.get_query(msg, a)
        if msg.status() not in TERMINAL:
            raise ApiError(400, "Message %s is still being answered." % msg.id, code="INVALID_STATE")
        st = Statement(q["result"], None, self.config["chunk_rows"], self.clock, disposition="EXTERNAL_LINKS",
                       ready_at=self.clock.now() + self.config["download_seconds"])
        did = new_id()
        sig = "eyJhbGciOiJIUzI1NiJ9." + base64.urlsafe_b64encode(json.dumps({"download_id": did}).encode()).decode().rstrip("=") \
              + "." + hmac.new(self.link_secret, did.encode(), hashlib.sha256).hexdigest()
        with self.lock:
            self.statements[st.id] = st
            self.downloads[did] = (msg.id, a, sig, st)
        return Response(200, {"download_id": did, "download_id_signature": sig})

    def h_get_download(self, req, s, c, m, a, d):
        self.get_query(self.get_msg(req.user, s, c, m), a)
        sig = req.query.get("download_id_signature")
        if not sig:
            raise ApiError(400, "Query parameter 'download_id_signature' is required.")
        with self.lock:
            entry = self.downloads.get(d)
        if entry is None or entry[0] != m or entry[1] != a:
            raise ApiError(404, "Download %s does not exist." % d)
        if not hmac.compare_digest(sig, entry[2]):
            raise ApiError(403, "Invalid download_id_signature.")
        return Response(200, {"statement_response": self.statement_json(entry[3], req.base)})

    def h_statement_get(self, req, sid):
        return Response(200, self.statement_json(self.get_statement(sid), req.base))

    def h_statement_chunk(self, req, sid, n):
        st = self.get_statement(sid)
        state = st.state()
        if state != "SUCCEEDED":
            raise ApiError(400, "Statement %s is in state %s; no result available." % (sid, state),
                           code="INVALID_STATE" if state in ("PENDING", "RUNNING") else "BAD_REQUEST")
        i = int(n)
        if i >= st.chunk_count:
            raise ApiError(400, "Chunk index %d out of range (statement has %d chunks)." % (i, st.chunk_count))
        return Response(200, self.chunk_json(st, i, req.base))

    def h_statement_cancel(self, req, sid):
        st = self.get_statement(sid)
        if st.state() in ("PENDING", "RUNNING"):
            st.canceled = True
        return Response(200, {})

    def h_storage(self, req, sid, n):
        if req.headers.get("Authorization") is not None:
            with self.lock:
                self.auth_on_storage += 1
            return storage_error(403, "AccessDenied", "Only one auth mechanism allowed; the presigned URL "
                                 "must not be sent with an Authorization header.")
        try:
            exp = int(req.query.get("X-Emu-Expires", ""))
        except ValueError:
            return storage_error(403, "AccessDenied", "Query-string authentication requires the expiry parameter.")
        sig = req.query.get("X-Emu-Signature", "")
        want = hmac.new(self.link_secret, ("%s/%s/%d" % (sid, n, exp)).encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(sig, want):
            return storage_error(403, "SignatureDoesNotMatch", "The request signature we calculated does not "
                                 "match the signature you provided.")
        if time.time() >= exp:
            return storage_error(403, "AccessDenied", "Request has expired")
        with self.lock:
            st = self.statements.get(sid)
        if st is None or int(n) >= st.chunk_count:
            return storage_error(404, "NoSuchKey", "The specified key does not exist.")
        if req.headers.get("x-emulator-sse-key") != st.sse_key:
            return storage_error(400, "InvalidRequest", "The object was stored using a form of server side "
                                 "encryption. The correct parameters (http_headers) must be provided to retrieve it.")
        return Response(200, body=compact_json(st.chunk_data(int(n))).encode("utf-8"),
                        ctype="application/octet-stream")

    def h_oauth_metadata(self, req):
        b = req.base
        return Response(200, {"issuer": b + "/oidc", "authorization_endpoint": b + "/oidc/v1/authorize",
                              "token_endpoint": b + "/oidc/v1/token",
                              "grant_types_supported": ["client_credentials", "authorization_code"],
                              "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                              "scopes_supported": ["all-apis", "offline_access"]})

    def h_oauth_token(self, req):
        return self.oauth_token(req)

    def h_databricks_config(self, req):
        # host metadata the SDKs read before OAuth discovery (no credential needed): they look for
        # {oidc_endpoint}/.well-known/oauth-authorization-server next
        return Response(200, {"oidc_endpoint": req.base + "/oidc", "account_id": ACCOUNT_ID,
                              "workspace_id": WORKSPACE_ID, "cloud": "AWS", "host_type": "workspace"})


_S = r"(?P<s>[^/]+)"
_C = r"(?P<c>[^/]+)"
_M = r"(?P<m>[^/]+)"
_A = r"(?P<a>[^/]+)"
_G = "/api/2.0/genie/spaces"
_CM = _G + "/" + _S + "/conversations/" + _C + "/messages/" + _M
ROUTES = [(method, re.compile("^" + rx + "$"), name, handler) for method, rx, name, handler in [
    ("POST", "/oidc/v1/token", "oauth_token", "h_oauth_token"),
    ("GET", "/oidc/.well-known/oauth-authorization-server", "oauth_metadata", "h_oauth_metadata"),
    ("GET", "/.well-known/databricks-config", "databricks_config", "h_databricks_config"),
    ("GET", _G, "list_spaces", "h_list_spaces"),
    ("GET", _G + "/" + _S, "get_space", "h_get_space"),
    ("POST", _G + "/" + _S + "/start-conversation", "start_conversation", "h_start_conversation"),
    ("GET", _G + "/" + _S + "/conversations", "list_conversations", "h_list_conversations"),
    ("DELETE", _G + "/" + _S + "/conversations/" + _C, "delete_conversation", "h_delete_conversation"),
    ("POST", _G + "/" + _S + "/conversations/" + _C + "/messages", "create_message", "h_create_message"),
    ("GET", _G + "/" + _S + "/conversations/" + _C + "/messages", "list_messages", "h_list_messages"),
    ("GET", _CM, "get_message", "h_get_message"),
    ("DELETE", _CM, "delete_message", "h_delete_message"),
    ("POST", _CM + "/feedback", "feedback", "h_feedback"),
    ("GET", _CM + "/attachments/" + _A + "/query-result", "attachment_query_result", "h_attachment_query_result"),
    ("GET", _CM + "/query-result", "message_query_result", "h_message_query_result"),
    ("GET", _CM + "/query-result/" + _A, "message_query_result", "h_message_query_result"),
    ("POST", _CM + "/attachments/" + _A + "/execute-query", "execute_query", "h_execute_query"),
    ("POST", _CM + "/execute-query", "execute_query", "h_execute_query"),
    ("POST", _CM + "/attachments/" + _A + "/downloads", "generate_download", "h_generate_download"),
    ("GET", _CM + "/attachments/" + _A + "/downloads/(?P<d>[^/]+)", "get_download", "h_get_download"),
    ("GET", "/api/2.0/sql/statements/(?P<sid>[^/]+)", "statement_get", "h_statement_get"),
    ("GET", "/api/2.0/sql/statements/(?P<sid>[^/]+)/result/chunks/(?P<n>\\d+)", "statement_chunk", "h_statement_chunk"),
    ("POST", "/api/2.0/sql/statements/(?P<sid>[^/]+)/cancel", "statement_cancel", "h_statement_cancel"),
    ("GET", "/__storage/results/(?P<sid>[^/]+)/chunk_(?P<n>\\d+)\\.json", "storage", "h_storage"),
]]


class Request:
    def __init__(self, method, path, query, headers, body, base):
        self.method, self.path, self.query, self.headers, self.body, self.base = method, path, query, headers, body, base
        self.user = None            # the User of an /api/ request's credentials

    def json(self):
        if not self.body.strip():
            return {}
        try:
            obj = json.loads(self.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "Request body is not valid JSON.", code="MALFORMED_REQUEST")
        if not isinstance(obj, dict):
            raise ApiError(400, "Request body must be a JSON object.", code="MALFORMED_REQUEST")
        return obj


def apply_set(obj, path, value):
    parts = path.split(".")
    cur = obj
    for p in parts[:-1]:
        cur = cur[int(p)] if isinstance(cur, list) else cur.setdefault(p, {})
    last = parts[-1]
    if isinstance(cur, list):
        cur[int(last)] = value
    else:
        cur[last] = value


def default_fault_body(status):
    return {"error_code": ERROR_CODES.get(status, "UNKNOWN"),
            "message": "Injected fault: HTTP %d from the Genie emulator." % status}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body go out as separate writes: without TCP_NODELAY a
    # kept-alive connection waits ~40 ms (delayed ACK) on every response
    disable_nagle_algorithm = True
    server_version = "GenieEmulator/1.0"

    def version_string(self):
        return self.server_version
    emu = None          # set on the subclass created in serve()
    scheme = "http"

    def log_message(self, fmt, *args):      # quiet by default; --log FILE gets access lines
        pass

    def do_GET(self):
        self.dispatch()

    do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = do_GET

    # -- low level output ---------------------------------------------------------------------
    def _head(self, status, ctype, length, headers=None):
        self.send_response(status, REASONS.get(status))
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(length))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()

    def _count_status(self, status, endpoint):
        if endpoint is None:
            return
        with self.emu.lock:
            self.emu.stats_statuses[str(status)] += 1
            if status == 429:
                self.emu.sent_429 += 1

    def send(self, resp, endpoint=None):
        body = resp.bytes()
        if self.command == "HEAD":
            body = b""
        self._head(resp.status, resp.ctype + ("; charset=utf-8" if resp.ctype.endswith("json") else ""),
                   len(body), resp.headers)
        self.wfile.write(body)
        self._count_status(resp.status, endpoint)
        return resp.status

    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            data = b""
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    # -- dispatch -----------------------------------------------------------------------------
    def dispatch(self):
        emu = self.emu
        t0 = time.time()
        parts = urllib.parse.urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"
        query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
        body = self.read_body()
        host = self.headers.get("Host") or "%s:%d" % self.server.server_address[:2]
        req = Request(self.command, path, query, self.headers, body, "%s://%s" % (self.scheme, host))
        if path.startswith("/__emulator/"):
            status = self.control(req)
            emu.log("%s %s %s control" % (self.command, path, status))
            return
        endpoint, handler, kwargs = "unknown", None, {}
        for method, rx, name, hname in ROUTES:
            mt = rx.match(path)
            if mt and (method == self.command or (method == "GET" and self.command == "HEAD")):
                endpoint, handler = name, getattr(emu, hname)
                kwargs = {k: v for k, v in mt.groupdict().items() if v is not None}
                break
        with emu.lock:
            emu.stats_requests[endpoint] += 1
            emu.in_flight += 1
            emu.max_in_flight = max(emu.max_in_flight, emu.in_flight)
        status = "-"
        try:
            status = self.process(req, endpoint, handler, kwargs)
        finally:
            with emu.lock:
                emu.in_flight -= 1
            emu.log("%s %s %s %s %.3fs" % (self.command, path, endpoint, status, time.time() - t0))

    def run_handler(self, req, endpoint, handler, kwargs):
        try:
            if handler is None:
                raise ApiError(404, "No API found for '%s %s'." % (req.method, req.path), code="ENDPOINT_NOT_FOUND")
            if req.path.startswith("/api/"):
                req.user = self.emu.check_auth(req.headers)
            return handler(req, **kwargs)
        except ApiError as e:
            return error_response(e.status, e.message, e.code, e.headers)
        except Exception as e:   # an emulator bug: report it as a 500 with the exception text
            return error_response(500, "Emulator internal error: %s: %s" % (type(e).__name__, e))

    def process(self, req, endpoint, handler, kwargs):
        real = []

        def real_response():
            if not real:
                real.append(self.run_handler(req, endpoint, handler, kwargs))
            return real[0]

        def real_message_status():
            r = real_response()
            return r.obj.get("status") if r.status == 200 and isinstance(r.obj, dict) else None

        fault = self.emu.take_fault(endpoint, real_message_status) if endpoint != "unknown" else None
        if fault is None:
            return self.send(real_response(), endpoint)
        act = fault["action"]
        if act == "status":
            st = int(fault.get("status", 503))
            hdrs = {}
            if fault.get("retry_after") is not None:
                hdrs["Retry-After"] = str(fault["retry_after"])
            if fault.get("echo_authorization"):
                # a misbehaving proxy that quotes the request's credentials back
                return self.send(Response(st, {"error_code": "BAD_REQUEST",
                                               "message": "rejected request with Authorization: %s"
                                               % self.headers.get("Authorization", "")}, headers=hdrs), endpoint)
            if fault.get("body") is not None:
                return self.send(Response(st, body=fault["body"], headers=hdrs), endpoint)
            return self.send(Response(st, default_fault_body(st), headers=hdrs), endpoint)
        if act == "delay":
            time.sleep(float(fault.get("seconds", 1)))
            return self.send(real_response(), endpoint)
        if act == "drop":
            self.close_connection = True
            return "dropped"
        if act == "malformed":
            return self.send(Response(200, body='{"status": "COMPL'), endpoint)
        if act == "html":
            st = int(fault.get("status", 200))
            page = ("<!DOCTYPE html>\n<html><head><title>Error %d</title></head><body><h1>Error %d</h1>"
                    "<pre>upstream connect error or disconnect/reset before headers</pre></body></html>\n" % (st, st))
            return self.send(Response(st, body=page, ctype="text/html"), endpoint)
        if act == "empty":
            return self.send(Response(200, body=b""), endpoint)
        if act == "body":
            st = int(fault.get("status", 200))
            raw = base64.b64decode(fault["body_b64"]) if "body_b64" in fault else fault.get("body", "")
            return self.send(Response(st, body=raw, ctype=fault.get("content_type", "application/json")), endpoint)
        resp = real_response()
        if act == "set":
            try:
                obj = json.loads(resp.bytes().decode("utf-8"))
            except ValueError:          # not JSON (e.g. a storage chunk error): send it unchanged
                return self.send(resp, endpoint)
            for path, value in (fault.get("set") or {}).items():
                apply_set(obj, path, value)
            raw = fault.get("raw") or {}
            if not raw:
                resp = Response(resp.status, obj, ctype=resp.ctype, headers=resp.headers)
                return self.send(resp, endpoint)
            # "raw": {path: text} puts text into the body as it is, unlike JSON values, which
            # Python re-serialises (-0 becomes 0, 1e400 Infinity): a service breaking the
            # contract's strings-only rows with bare numbers written any way
            marks = {}
            for i, (path, text) in enumerate(raw.items()):
                mark = "\u0000emulator-raw-%d\u0000" % i
                apply_set(obj, path, mark)
                marks[json.dumps(mark, ensure_ascii=False)] = str(text)
            body = json.dumps(obj, ensure_ascii=False)
            for mark, text in marks.items():
                body = body.replace(mark, text)
            return self.send(Response(resp.status, body=body, ctype=resp.ctype, headers=resp.headers), endpoint)
        body = resp.bytes()
        if act == "truncated":
            return self.send(Response(resp.status, body=body[:len(body) // 2], ctype=resp.ctype,
                                      headers=resp.headers), endpoint)
        if act == "drop_mid_body":
            self._head(resp.status, resp.ctype, len(body), resp.headers)
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self._count_status(resp.status, endpoint)
            self.close_connection = True
            return "%d-dropped" % resp.status
        if act == "trickle":
            bps = max(1.0, float(fault.get("bytes_per_second", 50)))
            self._head(resp.status, resp.ctype, len(body), resp.headers)
            step = max(1, int(bps / 10))
            for i in range(0, len(body), step):
                self.wfile.write(body[i:i + step])
                self.wfile.flush()
                time.sleep(step / bps)
            self._count_status(resp.status, endpoint)
            return resp.status
        return self.send(resp, endpoint)

    # -- control API --------------------------------------------------------------------------
    def control(self, req):
        emu = self.emu
        try:
            what = req.path[len("/__emulator/"):]
            if what == "reset" and req.method == "POST":
                emu.reset()
                return self.send(Response(200, {}))
            if what == "config":
                if req.method == "POST":
                    emu.set_config(req.json())
                return self.send(Response(200, dict(emu.config)))
            if what == "faults":
                if req.method == "POST":
                    obj = json.loads(req.body.decode("utf-8") or "{}")
                    for f in (obj if isinstance(obj, list) else [obj]):
                        emu.add_fault(f)
                elif req.method == "DELETE":
                    with emu.lock:
                        emu.faults = []
                with emu.lock:
                    return self.send(Response(200, {"faults": [dict(f) for f in emu.faults]}))
            if what == "clock":
                if req.method == "POST":
                    obj = req.json()
                    if "clock" in obj:
                        emu.clock.set_mode(obj["clock"])
                    if "advance" in obj:
                        try:
                            secs = float(obj["advance"])
                        except (TypeError, ValueError):
                            raise ApiError(400, "advance needs a number of seconds")
                        emu.clock.advance(secs)
                return self.send(Response(200, emu.clock.json()))
            if what == "feedback" and req.method == "GET":
                with emu.lock:
                    return self.send(Response(200, {"feedback": list(emu.feedback_log)}))
            if what == "conversations" and req.method == "GET":
                with emu.lock:
                    convs = list(emu.started.values())
                return self.send(Response(200, {"conversations": [emu.conversation_info(c) for c in convs]}))
            if what.startswith("conversations/") and req.method == "GET":
                with emu.lock:
                    c = emu.started.get(what[len("conversations/"):])
                if c is None:
                    raise ApiError(404, "No conversation %s since the last reset" % what[len("conversations/"):])
                return self.send(Response(200, emu.conversation_info(c)))
            if what == "stats" and req.method == "GET":
                return self.send(Response(200, emu.stats()))
            if what == "sql" and req.method == "POST":
                return self.send(Response(200, emu.change_data(req.json().get("sql"))))
            if what == "execute-failures":
                if req.method == "POST":
                    obj = json.loads(req.body.decode("utf-8") or "{}")
                    for f in (obj if isinstance(obj, list) else [obj]):
                        emu.add_execute_failure(f)
                elif req.method == "DELETE":
                    with emu.lock:
                        emu.execute_failures = []
                with emu.lock:
                    return self.send(Response(200, {"execute_failures": [dict(f) for f in emu.execute_failures]}))
            if (what == "conversations" or what.startswith("conversations/")) and req.method == "DELETE":
                conv_id = what[len("conversations/"):] or None
                return self.send(Response(200, {"deleted": emu.drop_conversations(conv_id)}))
            if what == "ready":
                return self.send(Response(200, {"ready": True}))
            raise ApiError(404, "Unknown control endpoint %s %s" % (req.method, req.path), code="ENDPOINT_NOT_FOUND")
        except ApiError as e:
            return self.send(error_response(e.status, e.message, e.code))
        except ValueError as e:
            return self.send(error_response(400, "Bad control request: %s" % e))


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------

def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Databricks Genie API emulator for genie_fdw tests.")
    p.add_argument("--port", type=int, default=8765, help="TCP port (0 = pick a free port)")
    p.add_argument("--bind", default="127.0.0.1")
    p.add_argument("--token", default="dapi-emulator-token")
    p.add_argument("--extra-token", action="append", metavar="TOKEN",
                   help="another accepted token, of another Genie user (repeatable: user2, user3, ...)")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--config", help="JSON file with config keys")
    p.add_argument("--answer-seconds", type=float)
    p.add_argument("--questions-per-minute", type=int)
    p.add_argument("--chunk-rows", type=int)
    p.add_argument("--row-cap", type=int)
    p.add_argument("--client-id", default="emulator-sp")
    p.add_argument("--client-secret", default="emulator-secret")
    p.add_argument("--log", help="append an access log to this file (never contains tokens)")
    p.add_argument("--fixtures", default=DEFAULT_FIXTURES, help=argparse.SUPPRESS)
    p.add_argument("--profile", choices=sorted(PROFILES), default="fast",
                   help="latency profile: fast (tests; answer_seconds, even steps) or real "
                        "(10-20 s per answer, statuses spread as real workspaces show; a re-run "
                        "through execute-query takes execute_seconds 1)")
    p.add_argument("--clock", choices=["real", "manual"], default="real",
                   help="manual: message time moves only through POST /__emulator/clock {\"advance\": s}")
    p.add_argument("--print-expected", metavar="QUESTION",
                   help="print the rendered data_array of QUESTION's final query (up to row-cap rows) and exit")
    return p.parse_args(argv)


def build_config(args):
    cfg = dict(DEFAULT_CONFIG)
    cfg.update(PROFILES[args.profile]["config"])
    if args.config:
        with open(args.config, encoding="utf-8") as f:
            extra = json.load(f)
        unknown = set(extra) - set(DEFAULT_CONFIG)
        if unknown:
            raise SystemExit("genie_emulator: unknown config keys in %s: %s" % (args.config, ", ".join(sorted(unknown))))
        cfg.update(extra)
    for key in ("answer_seconds", "questions_per_minute", "chunk_rows", "row_cap"):
        v = getattr(args, key)
        if v is not None:
            cfg[key] = v
    for k in cfg:
        try:
            cfg[k] = config_value(k, cfg[k])
        except (TypeError, ValueError):
            raise SystemExit("genie_emulator: bad value for config key %s" % k)
    return cfg


def expected_rows(question, fixtures_path=DEFAULT_FIXTURES, row_cap=5000):
    """The rendered rows of a question's final query, computed directly (used by tests)."""
    fx = Fixtures(fixtures_path)
    entry, params = fx.lookup(question)
    if entry is None or "sql" not in entry:
        raise SystemExit("genie_emulator: %r has no query" % question)
    cols = make_columns(entry["columns"])
    if "data" in entry:
        rows = StaticResult(entry["data"], cols).rows(0, row_cap or len(entry["data"]))
        return render_rows(cols, rows)
    if entry.get("generator") == "rows":
        return render_rows(cols, GeneratedResult(params["n"], cols).rows(0, row_cap or params["n"]))
    db = build_database()
    rows = db.execute(entry["sql"], sql_params(entry)).fetchall()
    if row_cap:
        rows = rows[:row_cap]
    return render_rows(cols, rows)


class Server(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that hangs up (drop tests, timeouts, cancelled downloads) is normal here.
        if isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError, socket.timeout)):
            return
        super().handle_error(request, client_address)


def serve(args):
    emu = Emulator(args, build_config(args))
    handler = type("BoundHandler", (Handler,), {"emu": emu, "scheme": "https" if args.tls_cert else "http"})
    server = Server((args.bind, args.port), handler)
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    port = server.server_address[1]
    print("genie emulator listening on %s://%s:%d" % (handler.scheme, args.bind, port), flush=True)
    return server


def main(argv=None):
    args = parse_args(argv)
    if args.print_expected is not None:
        cfg = build_config(args)
        print(compact_json(expected_rows(args.print_expected, args.fixtures, cfg["row_cap"])))
        return 0

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server = serve(args)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        try:
            server.server_close()
        except Exception:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
