#!/usr/bin/env python3
"""emuctl: drive the Genie emulator's control API (test/genie_emulator.py).

Usage: python3 test/emuctl.py [--url URL] COMMAND ...
  reset                              clear state and restore the startup config
  config key=value ...               change config (values parsed as JSON when possible)
  config                             print the current config
  fault '<json>'                     queue a fault, e.g. '{"endpoint":"get_message","action":"status","status":503}'
  fault ENDPOINT ACTION key=value ...  the same, built from words
  stats                              print all stats (JSON, sorted keys)
  stats KEY.PATH                     print one value, e.g. `stats requests.get_message` (missing -> 0)
  wait-ready [--timeout S]           wait until the emulator answers
  clock [real|manual]                show the message clock, or switch it (manual: frozen)
  advance SECONDS                    move the manual clock forward
  feedback [KEY.PATH]                print the feedback (ratings) received since reset
  sql STATEMENT ...                  change the data set (sqlite; all statements in one transaction);
                                     a SELECT's rows are printed, one JSON array a line
  delete-conversation ID ...|all     delete conversations out of band (later calls into them: 404)
  fail-execute MODE [N] [key=value ...]
                                     the next N (default 1) execute-query calls fail; MODE is
                                     sql_error (statement FAILED; error_class=, error_code=, message=,
                                     sql_state=) or permission_denied (HTTP 403)
  conversations                      every conversation started since reset, with its user's label
  owner CONVERSATION_ID              the label of the user who started it ("user1", "user2", ...)
URL default: $GENIE_EMULATOR_URL, else http://127.0.0.1:8765.
reset/config key=value/fault/delete-conversation/fail-execute print nothing on success; any failure
exits 1 with a message.
"""

import argparse
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.request


def parse_value(text):
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_pairs(pairs):
    out = {}
    for p in pairs:
        if "=" not in p:
            raise SystemExit("emuctl: expected key=value, got %r" % p)
        k, v = p.split("=", 1)
        out[k] = parse_value(v)
    return out


def call(url, method, path, obj=None, timeout=10):
    data = None if obj is None else json.dumps(obj).encode("utf-8")
    req = urllib.request.Request(url.rstrip("/") + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"} if data is not None else {})
    ctx = None
    if url.startswith("https:"):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=ctx) as r:
            body = r.read()
    except urllib.error.HTTPError as e:
        raise SystemExit("emuctl: %s %s failed: HTTP %d %s" % (method, path, e.code, e.read().decode("utf-8", "replace")))
    except (urllib.error.URLError, OSError) as e:
        raise SystemExit("emuctl: cannot reach the emulator at %s: %s" % (url, getattr(e, "reason", e)))
    return json.loads(body.decode("utf-8")) if body else {}


def lookup(obj, path):
    cur = obj
    for part in path.split("."):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.lstrip("-").isdigit() and -len(cur) <= int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return 0
    return cur


def show(value):
    if isinstance(value, (dict, list)):
        print(json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False))
    elif isinstance(value, bool):
        print("true" if value else "false")
    else:
        print(value)


def main(argv=None):
    p = argparse.ArgumentParser(prog="emuctl", description="Control the Genie emulator.")
    p.add_argument("--url", default=os.environ.get("GENIE_EMULATOR_URL") or "http://127.0.0.1:8765")
    p.add_argument("command", choices=["reset", "config", "fault", "faults", "stats", "wait-ready",
                                          "clock", "advance", "feedback", "sql", "delete-conversation",
                                          "fail-execute", "conversations", "owner"])
    p.add_argument("args", nargs="*")
    p.add_argument("--timeout", type=float, default=10.0, help="wait-ready: seconds to wait")
    a = p.parse_args(argv)
    url = a.url
    if a.command == "reset":
        call(url, "POST", "/__emulator/reset")
    elif a.command == "config":
        if a.args:
            call(url, "POST", "/__emulator/config", parse_pairs(a.args))
        else:
            show(call(url, "GET", "/__emulator/config"))
    elif a.command == "fault":
        if not a.args:
            raise SystemExit("emuctl: fault needs '<json>' or ENDPOINT ACTION key=value ...")
        if a.args[0].lstrip().startswith(("{", "[")):
            try:
                fault = json.loads(" ".join(a.args))
            except ValueError as e:
                raise SystemExit("emuctl: fault JSON is invalid: %s" % e)
        else:
            if len(a.args) < 2:
                raise SystemExit("emuctl: fault ENDPOINT ACTION key=value ...")
            fault = {"endpoint": a.args[0], "action": a.args[1]}
            fault.update(parse_pairs(a.args[2:]))
        call(url, "POST", "/__emulator/faults", fault)
    elif a.command == "faults":
        show(call(url, "GET", "/__emulator/faults"))
    elif a.command == "stats":
        st = call(url, "GET", "/__emulator/stats")
        show(lookup(st, a.args[0]) if a.args else st)
    elif a.command == "clock":          # clock [real|manual]: show or switch the message clock
        if a.args:
            call(url, "POST", "/__emulator/clock", {"clock": a.args[0]})
        else:
            show(call(url, "GET", "/__emulator/clock"))
    elif a.command == "advance":        # advance SECONDS: move the manual clock forward
        if len(a.args) != 1:
            raise SystemExit("emuctl: advance SECONDS")
        call(url, "POST", "/__emulator/clock", {"advance": parse_value(a.args[0])})
    elif a.command == "feedback":       # feedback [path]: the feedback Genie received since reset
        fb = call(url, "GET", "/__emulator/feedback")
        show(lookup(fb, a.args[0]) if a.args else fb)
    elif a.command == "sql":            # sql STATEMENT ...: change the data set
        if not a.args:
            raise SystemExit("emuctl: sql STATEMENT ...")
        out = call(url, "POST", "/__emulator/sql", {"sql": list(a.args)})
        for row in out.get("rows", []):
            print(json.dumps(row, ensure_ascii=False))
    elif a.command == "delete-conversation":    # delete-conversation ID ...|all
        if not a.args:
            raise SystemExit("emuctl: delete-conversation ID ...|all")
        if a.args == ["all"]:
            call(url, "DELETE", "/__emulator/conversations")
        else:
            for conv in a.args:
                call(url, "DELETE", "/__emulator/conversations/" + conv)
    elif a.command == "fail-execute":   # fail-execute MODE [N] [key=value ...]
        if not a.args:
            raise SystemExit("emuctl: fail-execute sql_error|permission_denied [N] [key=value ...]")
        failure = {"mode": a.args[0]}
        rest = a.args[1:]
        if rest and "=" not in rest[0]:
            failure["count"] = parse_value(rest[0])
            rest = rest[1:]
        failure.update(parse_pairs(rest))
        call(url, "POST", "/__emulator/execute-failures", failure)
    elif a.command == "conversations":  # conversations: owners by label (never a token)
        show(call(url, "GET", "/__emulator/conversations"))
    elif a.command == "owner":          # owner ID: the label of the conversation's user
        if len(a.args) != 1:
            raise SystemExit("emuctl: owner CONVERSATION_ID")
        show(call(url, "GET", "/__emulator/conversations/" + a.args[0])["user"])
    elif a.command == "wait-ready":
        deadline = time.time() + a.timeout
        while True:
            try:
                call(url, "GET", "/__emulator/ready", timeout=2)
                return 0
            except SystemExit as e:
                if time.time() >= deadline:
                    raise SystemExit("emuctl: emulator not ready after %gs (%s)" % (a.timeout, e))
                time.sleep(0.1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
