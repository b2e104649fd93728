#!/usr/bin/env python3
"""The Genie emulator (test/genie_emulator.py) with a result cache, for the benchmark only.

The emulator renders every result chunk in Python on every request: about 6 ms per 1,000 rows of the
"Generate N rows" fixture on a 2-core machine, i.e. 6 s for a million rows.  Every client would then
measure the emulator, not itself.  This wrapper keeps the JSON text of each rendered data_array
(keyed by row count, chunk size, row cap and chunk index, so it is shared by every statement of the
same question) and splices it into the response.  The bytes on the wire are exactly the emulator's:
same routes, same JSON (json.dumps with the emulator's separators), same statuses, same control API.
It also sets TCP_NODELAY on its connections (see below).

Only the "Generate N rows" generator with INLINE disposition is cached; everything else goes through
the emulator untouched.  `--selftest` compares a cached chunk with the emulator's own rendering.

Usage: python3 test/bench/bench_emulator.py [genie_emulator.py flags...]
"""

import json
import os
import re
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

import genie_emulator as ge  # noqa: E402

_cache = {}                      # key -> bytes of the data_array JSON
_cache_lock = threading.Lock()
_MARK = "\u0000genie-bench-raw:"
_MARK_RX = re.compile(rb'"\\u0000genie-bench-raw:([0-9a-f]+)"')
_keys = {}                       # placeholder id -> cache key
_orig_chunk_json = ge.Emulator.chunk_json
_orig_byte_count = ge.Statement.byte_count
_orig_bytes = ge.Response.bytes


def _key(st, i):
    return ("gen", st.result.n, st.total_rows, st.chunk_rows, i)


def _cacheable(st):
    return isinstance(st.result, ge.GeneratedResult) and st.disposition == "INLINE"


def _cached(k, make):
    """The cache's value for k, made (outside the lock) the first time."""
    with _cache_lock:
        v = _cache.get(k)
    if v is None:
        v = make()
        with _cache_lock:
            _cache[k] = v
    return v


def _rows_json(st, i):
    k = _key(st, i)
    # the emulator serialises responses with json.dumps(obj, ensure_ascii=False)
    return k, _cached(k, lambda: json.dumps(st.chunk_data(i), ensure_ascii=False).encode("utf-8"))


def chunk_json(self, st, i, base):
    if not _cacheable(st):
        return _orig_chunk_json(self, st, i, base)
    k, _ = _rows_json(st, i)
    pid = "%x" % (hash(k) & 0xFFFFFFFFFFFF)
    with _cache_lock:
        _keys[pid] = k
    start, end = st.chunk_bounds(i)
    r = {"chunk_index": i, "row_offset": start, "row_count": end - start, "data_array": _MARK + pid}
    if i + 1 < st.chunk_count:
        r["next_chunk_index"] = i + 1
        r["next_chunk_internal_link"] = "/api/2.0/sql/statements/%s/result/chunks/%d" % (st.id, i + 1)
    return r


def byte_count(self, i):
    if not _cacheable(self):
        return _orig_byte_count(self, i)
    # the emulator's own figure (compact JSON, estimated above 100,000 rows), once per chunk
    return _cached(("bytes",) + _key(self, i), lambda: _orig_byte_count(self, i))


def response_bytes(self):
    if self.body is None and self.obj is not None:
        body = json.dumps(self.obj, ensure_ascii=False).encode("utf-8")
        if b"genie-bench-raw:" in body:
            def sub(m):
                with _cache_lock:
                    return _cache[_keys[m.group(1).decode()]]
            body = _MARK_RX.sub(sub, body)
        self.body = body
        return self.body
    return _orig_bytes(self)


# The emulator writes a response's headers and its body in two writes without TCP_NODELAY: on a
# kept-alive connection a small body then waits for the client's delayed ACK of the headers (Nagle),
# about 40 ms per request on Linux.  A real front end does not add that; every client here would.
ge.Handler.disable_nagle_algorithm = True

# When did each client see its answer?  The wall time the emulator first served a message as
# COMPLETED ("answered_at" in the stats, by message id), so that the throughput figures can leave out
# each client's own wait for the answer (its poll schedule, measured in the latency section).
_answered = {}
_asked = {}                      # message id -> wall time the question's reply was made
_orig_get_message = ge.Emulator.h_get_message
_orig_start = ge.Emulator.h_start_conversation
_orig_create = ge.Emulator.h_create_message
_orig_stats = ge.Emulator.stats


def _note_asked(r):
    if isinstance(r.obj, dict):
        mid = r.obj.get("message_id") or r.obj.get("id")
        if mid:
            with _cache_lock:
                _asked.setdefault(mid, time.time())
    return r


def start_conversation(self, *args, **kw):
    return _note_asked(_orig_start(self, *args, **kw))


def create_message(self, *args, **kw):
    return _note_asked(_orig_create(self, *args, **kw))


def get_message(self, req, s, c, m):
    r = _orig_get_message(self, req, s, c, m)
    if isinstance(r.obj, dict) and r.obj.get("status") == "COMPLETED":
        with _cache_lock:
            _answered.setdefault(m, time.time())
    return r


def stats(self):
    d = _orig_stats(self)
    with _cache_lock:
        d["answered_at"] = dict(_answered)
        d["asked_at"] = dict(_asked)
        d["downloads"] = {k: dict(v) for k, v in _downloads.items()}
    return d


_orig_reset = ge.Emulator.reset


def reset(self):
    _orig_reset(self)
    with _cache_lock:
        _answered.clear()
        _asked.clear()
        _downloads.clear()


# Full-result downloads: the files behind the external links are rendered once per (rows, chunk),
# like the inline chunks: chunk_data hands the storage handler the compact JSON text already made,
# and compact_json passes it through.  When each download was made and first served SUCCEEDED is
# recorded (wall time, by download id) for the download's latency and for the row figures.
class _RawRows(str):
    """A file's rows, already rendered as the emulator's compact JSON."""


_orig_chunk_data = ge.Statement.chunk_data
_orig_compact_json = ge.compact_json
_orig_generate_download = ge.Emulator.h_generate_download
_orig_get_download = ge.Emulator.h_get_download
_downloads = {}                  # download id -> {"created": wall time, "ready_seen": wall time}


def _file_cacheable(st):
    return isinstance(st.result, ge.GeneratedResult) and st.disposition == "EXTERNAL_LINKS"


def chunk_data(self, i):
    if not _file_cacheable(self):
        return _orig_chunk_data(self, i)
    return _cached(("file",) + _key(self, i), lambda: _RawRows(_orig_compact_json(_orig_chunk_data(self, i))))


def compact_json(obj):
    if isinstance(obj, _RawRows):
        return str(obj)
    return _orig_compact_json(obj)


def generate_download(self, req, s, c, m, a):
    r = _orig_generate_download(self, req, s, c, m, a)
    if isinstance(r.obj, dict) and r.obj.get("download_id"):
        with _cache_lock:
            _downloads[r.obj["download_id"]] = {"created": time.time()}
    return r


def get_download(self, req, s, c, m, a, d):
    r = _orig_get_download(self, req, s, c, m, a, d)
    state = ((r.obj or {}).get("statement_response") or {}).get("status", {}).get("state")
    if state == "SUCCEEDED":
        with _cache_lock:
            _downloads.setdefault(d, {}).setdefault("ready_seen", time.time())
    return r


ge.Statement.chunk_data = chunk_data
ge.compact_json = compact_json
ge.Emulator.h_generate_download = generate_download
ge.Emulator.h_get_download = get_download
ge.Emulator.h_get_message = get_message
ge.Emulator.h_start_conversation = start_conversation
ge.Emulator.h_create_message = create_message
ge.Emulator.reset = reset
ge.Emulator.stats = stats
ge.Emulator.chunk_json = chunk_json
ge.Statement.byte_count = byte_count
ge.Response.bytes = response_bytes


def selftest():
    cols = ge.make_columns([["id", "BIGINT"], ["name", "STRING"], ["qty", "INT"],
                            ["amount", "DECIMAL(12,2)"], ["ts", "TIMESTAMP"], ["flag", "BOOLEAN"]])
    st = ge.Statement(ge.GeneratedResult(2500, cols), None, 1000, ge.Clock())
    emu = ge.Emulator.__new__(ge.Emulator)
    for i in range(st.chunk_count):
        want = json.dumps(_orig_chunk_json(emu, st, i, "http://x"), ensure_ascii=False).encode("utf-8")
        got = ge.Response(200, chunk_json(emu, st, i, "http://x")).bytes()
        if want != got:
            print("selftest: chunk %d differs" % i)
            return 1
    # the files of a full-result download
    fst = ge.Statement(ge.GeneratedResult(2500, cols), None, 1000, ge.Clock(), disposition="EXTERNAL_LINKS")
    for i in range(fst.chunk_count):
        want = _orig_compact_json(_orig_chunk_data(fst, i))
        for _ in range(2):                      # rendered, then from the cache
            if compact_json(fst.chunk_data(i)) != want:
                print("selftest: file %d differs" % i)
                return 1
    print("selftest: cached chunks and files are byte-identical to the emulator's")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--selftest"]:
        sys.exit(selftest())
    sys.exit(ge.main())
