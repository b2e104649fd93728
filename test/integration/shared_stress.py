#!/usr/bin/python3
"""Shared state under stress: the shared answer cache, its flights and its keys.

Run by shared_stress.sh with genie_fdw preloaded (a debug build, which
PANICs if the cache's lock rule is ever broken) and the emulator accepting
the tokens of three Genie users.  Six sessions (threads, each with its own
connection and statement_timeout) ask overlapping fixture questions of a
table with cache_ttl: r1 and r2 with two sessions each on their own user
mappings, r5 and r6 through the mapping FOR PUBLIC, so sessions of one
mapping share answers and flights.  A session asks one question, two
(question IN (a, b)), or a follow-up in the conversation of one of its
earlier answers (which may be another user's by then: Genie answers 404).
Meanwhile a controller runs a seeded random mix of:

  - ALTER SERVER (harmless options: poll intervals, cache_ttl);
  - ALTER USER MAPPING: a mapping switched to another user's token, or to
    an invalid one and back a few steps later;
  - GRANT / REVOKE USAGE ON FOREIGN SERVER;
  - CREATE DATABASE ... TEMPLATE (same user mapping OIDs as the template);
    the copy's mapping of r3 gets a token of its own and a session there
    asks twice; the oldest copies are dropped;
  - pg_cancel_backend of a random session (one that is running a statement
    when there is one); pg_terminate_backend of one (it reconnects);
  - an idle cursor: a session DECLAREs a cursor over question IN (a, b),
    b most often the slow fixture question (3 s), FETCH 1 (a's first row,
    with b in the air), idles a while, then FETCH ALL and COMMIT, or a
    savepoint with an error or a query rolled back in between, or ROLLBACK
    without reading the rest; meanwhile the other session of its mapping
    asks b: it waits for the cursor's flight, or takes it over once idle
    for 1 s (and polls the cursor's message when Genie took the question
    already).

The first steps run each kind once (in a seeded order), then the kinds are
drawn at random.  Every choice (of the controller and of each session)
comes from STRESS_SEED; the interleaving of the threads depends on timing,
and every interleaving must pass.  Bounded by STRESS_STEPS controller steps
and STRESS_SECONDS; it stops by itself.

The checks:
  - no hang: every statement (the controller's too) ends within
    statement_timeout + STRESS_SLACK seconds (wall time measured by the
    client; a session still in a statement after that, at the end, is
    shown with pg_stat_activity and terminated).  A statement cancelled by
    its statement_timeout within that bound is no hang, but is a failure of
    its own kind: nothing in the mix may make a session wait 20 s for an
    answer Genie gives in 3 s at most (a waiter whose flight never ends, or
    is never taken over, would);
  - the right user: every row has its answer's conversation_id, and the
    emulator says which user started that conversation; it must be the user
    of the token the session's mapping had.  A mapping switched while a
    statement ran may give the old or the new user: the controller counts
    versions of each mapping (one started before each ALTER, one done after
    it), each statement records the done version when it starts and the
    started version when it ends, and any token in between is allowed; any
    other user is a failure.  A statement whose versions all have the
    invalid token gets no rows;
  - whole answers: each question's rows, as many as the fixture has, all
    of one conversation (a cursor: its FETCHes together);
  - errors only where the mix causes them: "canceling statement due to
    user request" only with a cancel sent to that backend from 5 s before
    the statement until its end; a lost connection only after a terminate
    of that backend; a refused token (28000, or 42501) only with the invalid token
    among the statement's versions; a follow-up's "conversation not found"
    only when another user's token is among them;
  - at the end every session answers again, and the backends are alive.

Prints "ok - ..." lines and ends with "N passed, N failed".
"""
import collections
import json
import os
import random
import sys
import threading
import time
import urllib.request

import psycopg

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import genie_emulator  # noqa: E402  (the fixture's rows, computed directly)

EMU = os.environ["GENIE_EMULATOR_URL"]
SEED = int(os.environ.get("STRESS_SEED", "20261204"))
STEPS = int(os.environ.get("STRESS_STEPS", "300"))
MAX_SECONDS = float(os.environ.get("STRESS_SECONDS", "90"))
TIMEOUT = float(os.environ.get("STRESS_STATEMENT_TIMEOUT", "20"))
SLACK = float(os.environ.get("STRESS_SLACK", "5"))
TOKENS = os.environ["STRESS_TOKENS"].split()          # user1, user2, user3 in this order
BAD = os.environ["STRESS_BAD_TOKEN"]
USER_OF = {t: "user%d" % (i + 1) for i, t in enumerate(TOKENS)}
USER_OF[BAD] = None

QUESTIONS = ["Which products generate the highest total sales value?", "How many orders per region?",
             "Which region sells the most?", "Generate 7 rows", "Generate 40 rows"]
SLOW = "Take a few seconds"             # answered in 3 s, the others in 0.4 s: idle cursors only
EXPECTED = {q: len(genie_emulator.expected_rows(q)) for q in QUESTIONS + [SLOW]}

passed = 0
failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok - %s" % name)
    else:
        failed += 1
        print("not ok - %s %s" % (name, detail))
    sys.stdout.flush()


def emu(method, path):
    req = urllib.request.Request(EMU + path, method=method)
    with urllib.request.urlopen(req, timeout=30) as r:
        body = r.read()
    return json.loads(body) if body else {}


PROGRESS = collections.Counter()        # progress notices of the sessions, by kind


def on_notice(diag):
    msg = diag.message_primary or ""
    kind = ("takeovers" if "taking over conversation" in msg else
            "waits" if "waiting for another session" in msg else None)
    if kind:
        with LOCK:
            PROGRESS[kind] += 1


def connect(user="postgres", dbname="postgres", app="stress"):
    """A session: its statement_timeout, and genie_fdw's progress notices counted."""
    c = psycopg.connect("", user=user, dbname=dbname, autocommit=True, application_name=app)
    c.add_notice_handler(on_notice)
    c.execute("SET client_min_messages = notice")
    c.execute("SET genie_fdw.progress = on")
    c.execute("SET statement_timeout = '%ds'" % int(TIMEOUT))
    return c


# ---------------------------------------------------------------------------
# What happened: shared between the threads, under LOCK
# ---------------------------------------------------------------------------

LOCK = threading.Lock()
START = time.monotonic()
STOP = threading.Event()


class Mapping:
    """A user mapping's tokens, by version (see the module's docstring)."""

    def __init__(self, name, token):
        self.name = name
        self.history = [token]
        self.started = 0        # the last version whose ALTER may have committed
        self.done = 0           # the last version whose ALTER has surely committed

    def window(self):
        with LOCK:
            return self.done

    def window_end(self):
        with LOCK:
            return self.started

    def tokens(self, lo, hi):
        with LOCK:
            return self.history[lo:hi + 1]


MAPPINGS = {"r1": Mapping("r1", TOKENS[0]), "r2": Mapping("r2", TOKENS[1]),
            "public": Mapping("public", TOKENS[2])}

durations = []              # (seconds, session, sql, outcome)
observed = []               # (conversation_id, allowed users, description)
problems = []               # failures of the right-user / whole-answer / error kinds
outcomes = collections.Counter()
cancels = collections.defaultdict(list)     # backend pid -> times a cancel was sent
terminated = {}                             # backend pid -> time a terminate was sent
actions = collections.Counter()


def now():
    return time.monotonic() - START


def problem(text):
    with LOCK:
        problems.append(text)


def error_kind(e):
    """What kind of error a statement ended with."""
    st = getattr(e, "sqlstate", None)
    msg = str(e)
    if st is None or st == "57P01":
        return "lost"
    if st == "57014":
        return "timeout" if "statement timeout" in msg else "cancel"
    if st in ("42501", "28000"):
        return "denied"     # a refused token (28000) or no access (42501)
    if st == "HV00R":
        return "notfound"
    if st == "22012":
        return "division"
    return "other"


class Session:
    """One asking session: a role, its mapping, a connection, and a trace."""

    def __init__(self, name, role, mapping, dbname="postgres", fixed_token=None):
        self.name, self.role, self.mapping, self.dbname = name, role, mapping, dbname
        self.fixed_token = fixed_token      # a copy database's mapping (never altered)
        self.conn = None
        self.pid = None
        self.busy_since = None
        self.current = None
        self.trace = collections.deque(maxlen=30)
        self.reconnect()

    def reconnect(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
        self.conn = connect(self.role, self.dbname, "stress-" + self.name)
        self.pid = self.conn.info.backend_pid

    # the versions of the mapping's token: at a statement's start and end
    def version_lo(self):
        return 0 if self.mapping is None else self.mapping.window()

    def version_hi(self):
        return 0 if self.mapping is None else self.mapping.window_end()

    def tokens(self, lo, hi):
        return [self.fixed_token] if self.mapping is None else self.mapping.tokens(lo, hi)

    def stmt(self, sql, params=None):
        """Run one statement: (rows, None) or (None, (kind, exception)); timed."""
        self.trace.append(sql if params is None else "%s  %r" % (sql, params))
        pid = self.pid
        t0 = now()
        with LOCK:
            self.busy_since, self.current = t0, sql
        rows, err = None, None
        try:
            cur = self.conn.execute(sql, params)
            rows = cur.fetchall() if cur.description else []
        except psycopg.Error as e:
            err = (error_kind(e), e)
        t1 = now()
        with LOCK:
            self.busy_since, self.current = None, None
            durations.append((t1 - t0, self.name, sql, err[0] if err else "ok"))
            outcomes[err[0] if err else "ok"] += 1
        if err:
            self.expect_error(err, pid, t0, t1)
        return rows, err

    def expect_error(self, err, pid, t0, t1):
        """Errors the mix causes are expected; the caller checks the others."""
        kind, e = err
        first = str(e).splitlines()[0] if str(e) else repr(e)
        if kind == "lost":
            with LOCK:
                ok = pid in terminated and terminated[pid] <= t1
            if not ok:
                problem("%s: lost its connection without a terminate: %s" % (self.name, first))
            self.reconnect()
        elif kind == "cancel":
            with LOCK:
                ok = any(t0 - 5 <= t <= t1 for t in cancels.get(pid, []))
            if not ok:
                problem("%s: cancelled without a cancel sent to it: %s" % (self.name, first))

    def allowed(self, lo, hi):
        toks = self.tokens(lo, hi)
        return {USER_OF.get(t) for t in toks}

    def check_answer(self, rows, questions, lo, hi, desc, whole=True):
        """Rows of questions (question, conversation_id), asked with versions lo..hi."""
        users = self.allowed(lo, hi)
        valid = users - {None}
        if rows and not valid:
            problem("%s: %d rows although the mapping's token was invalid throughout (%s)"
                    % (self.name, len(rows), desc))
            return
        for q in questions:
            mine = [r for r in rows if r[0] == q]
            convs = {r[1] for r in mine}
            if whole and len(mine) != EXPECTED[q]:
                problem("%s: %d rows of %r, expected %d (%s)" % (self.name, len(mine), q, EXPECTED[q], desc))
            if len(convs) > 1 or None in convs:
                problem("%s: rows of %r from conversations %r (%s)" % (self.name, q, sorted(map(str, convs)), desc))
            for c in convs:
                if c is not None:
                    with LOCK:
                        observed.append((c, valid, "%s %s: %r" % (self.name, desc, q)))
        stray = [r for r in rows if r[0] not in questions]
        if stray:
            problem("%s: rows of questions not asked: %r (%s)" % (self.name, stray[:2], desc))

    def check_error(self, err, lo, hi, desc, followup_owner=None):
        kind, e = err
        first = str(e).splitlines()[0]
        users = self.allowed(lo, hi)
        if kind == "denied" and None not in users:
            problem("%s: access denied with valid tokens only (%s): %s" % (self.name, desc, first))
        elif kind == "notfound" and not (followup_owner and users - {None, followup_owner}):
            problem("%s: conversation not found (%s): %s" % (self.name, desc, first))
        elif kind in ("other", "division"):
            problem("%s: unexpected error (%s): %s" % (self.name, desc, first))

    # -- what a session does -------------------------------------------------
    def ask(self, questions, desc=None):
        if len(questions) == 1:
            sql, params = "SELECT question, conversation_id FROM s WHERE question = %s", (questions[0],)
        else:
            sql, params = "SELECT question, conversation_id FROM s WHERE question IN (%s, %s)", tuple(questions)
        lo = self.version_lo()
        rows, err = self.stmt(sql, params)
        hi = self.version_hi()
        desc = desc or "ask %d" % len(questions)
        if err:
            self.check_error(err, lo, hi, desc)
        else:
            self.check_answer(rows, questions, lo, hi, desc)
        return rows

    def follow_up(self, conversation, owner, question):
        lo = self.version_lo()
        rows, err = self.stmt("SELECT question, conversation_id FROM s WHERE conversation_id = %s "
                              "AND question = %s", (conversation, question))
        hi = self.version_hi()
        if err:
            self.check_error(err, lo, hi, "follow-up", followup_owner=owner)
            return
        self.check_answer(rows, [question], lo, hi, "follow-up")
        if rows and rows[0][1] != conversation:
            problem("%s: follow-up in %s answered in %s" % (self.name, conversation, rows[0][1]))

    def settle(self):
        """Out of any transaction (an error or a cancel may have left one)."""
        for _ in range(5):
            if self.conn.closed:
                self.reconnect()
            if self.conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
                return
            self.stmt("ROLLBACK")
        problem("%s: could not leave its transaction" % self.name)

    def idle_cursor(self, a, b, idle, variant, q, fetched):
        """DECLARE over (a, b), FETCH 1, idle, then the variant's ending;
        sets fetched after FETCH 1 (or when it gives up before)."""
        try:
            self._idle_cursor(a, b, idle, variant, q, fetched)
        finally:
            fetched.set()

    def _idle_cursor(self, a, b, idle, variant, q, fetched):
        lo = self.version_lo()
        got = []
        ok = True

        def step(sql, params=None):
            nonlocal ok
            if not ok:
                return None
            rows, err = self.stmt(sql, params)
            if err:
                ok = False
                self.check_error(err, lo, self.version_hi(), "cursor, %s" % variant)
                return None
            return rows

        step("BEGIN")
        step("DECLARE c CURSOR FOR SELECT question, conversation_id FROM s WHERE question IN (%s, %s)", (a, b))
        got += step("FETCH 1 FROM c") or []
        fetched.set()
        if ok:
            time.sleep(idle)
        if variant == "savepoint-error":
            step("SAVEPOINT sp")
            if ok:
                rows, err = self.stmt("SELECT 1/0")
                if not err or err[0] != "division":
                    if err:
                        ok = False
                        self.check_error(err, lo, self.version_hi(), "cursor, %s" % variant)
                    else:
                        problem("%s: 1/0 did not fail" % self.name)
            step("ROLLBACK TO SAVEPOINT sp")
        elif variant == "savepoint-query":
            step("SAVEPOINT sp")
            if ok:
                rows = step("SELECT question, conversation_id FROM s WHERE question = %s", (q,))
                if rows is not None:
                    self.check_answer(rows, [q], lo, self.version_hi(), "inside a cursor's savepoint")
            step("ROLLBACK TO SAVEPOINT sp")
        if variant == "abandon":
            step("ROLLBACK")
        else:
            got += step("FETCH ALL FROM c") or []
            step("COMMIT")
        hi = self.version_hi()
        self.settle()
        whole = ok and variant != "abandon"
        self.check_answer(got, [a, b], lo, hi, "cursor, %s" % variant, whole=whole)


class Worker(threading.Thread):
    def __init__(self, index, role, mapping):
        super().__init__(name="w%d" % index, daemon=True)
        self.rnd = random.Random(SEED * 1000 + index)
        self.session = Session("w%d(%s)" % (index, role), role, MAPPINGS[mapping])
        self.orders = collections.deque()
        self.seen = []          # conversations of its answers, for follow-ups
        self.error = None

    def run(self):
        try:
            while not STOP.is_set():
                self.one()
        except Exception as e:      # the test's own failure: report it
            self.error = "%s: %r" % (self.name, e)

    def one(self):
        s = self.session
        rnd = self.rnd
        if self.orders:
            order = self.orders.popleft()
            if order[0] == "cursor":
                s.idle_cursor(*order[1:])
            else:                   # ask while another session's cursor idles
                _, questions, fetched, delay = order
                deadline = time.monotonic() + 15
                while not fetched.wait(0.2) and not STOP.is_set() and time.monotonic() < deadline:
                    pass
                if fetched.is_set() and not STOP.is_set():
                    time.sleep(delay)
                    s.ask(questions, desc="beside an idle cursor")
            return
        r = rnd.random()
        if r < 0.6:
            rows = s.ask([rnd.choice(QUESTIONS)])
        elif r < 0.92:
            rows = s.ask(rnd.sample(QUESTIONS, 2))
        else:
            q = rnd.choice(QUESTIONS)
            if self.seen:
                conv = rnd.choice(self.seen)
                s.follow_up(conv, conversation_owner(conv), q)
            rows = None
        if rows:
            conv = rows[0][1]
            if conv and len(self.seen) < 20:
                self.seen.append(conv)
        time.sleep(rnd.uniform(0, 0.2))


OWNERS = {}


def conversation_owner(conv):
    if conv not in OWNERS:
        try:
            OWNERS[conv] = emu("GET", "/__emulator/conversations/" + conv)["user"]
        except Exception:
            OWNERS[conv] = None
    return OWNERS[conv]


# ---------------------------------------------------------------------------
# The controller
# ---------------------------------------------------------------------------

KINDS = ["alter_mapping", "alter_server", "grant", "create_database", "cancel", "terminate", "idle_cursor"]
WEIGHTS = [0.24, 0.12, 0.12, 0.05, 0.17, 0.07, 0.23]
SERVER_OPTIONS = [("poll_interval", ["0.05", "0.08"]), ("max_poll_interval", ["0.2", "0.3"]),
                  ("cache_ttl", ["2", "5", "20"])]
ROLES_FOR_GRANT = ["r1", "r2", "r3", "r5", "r6"]


class Controller:
    def __init__(self, workers):
        self.rnd = random.Random(SEED)
        self.workers = workers
        self.ctl = psycopg.connect("", autocommit=True, application_name="stress-controller")
        self.ctl.execute("SET client_min_messages = warning")
        self.ctl.execute("SET statement_timeout = '%ds'" % int(TIMEOUT))
        self.bad_until = {}         # mapping -> step at which its valid token comes back
        self.copies = []            # (database, thread)
        self.ncopies = 0
        self.copy_sessions = []

    def sql(self, sql, params=None, dbname=None):
        """A statement of the controller, timed like the sessions' (errors propagate)."""
        t0 = now()
        outcome = "ok"
        try:
            if dbname is None:
                return self.ctl.execute(sql, params)
            with psycopg.connect("", dbname=dbname, autocommit=True) as c:
                c.execute("SET statement_timeout = '%ds'" % int(TIMEOUT))
                c.execute(sql, params)
        except psycopg.Error as e:
            outcome = error_kind(e)
            raise
        finally:
            with LOCK:
                durations.append((now() - t0, "controller", sql, outcome))

    def alter_mapping(self, m, token):
        with LOCK:
            m.history.append(token)
            m.started = len(m.history) - 1
        target = "PUBLIC" if m.name == "public" else m.name
        self.sql("ALTER USER MAPPING FOR %s SERVER genie OPTIONS (SET token %s)"
                 % (target, "'" + token.replace("'", "''") + "'"))
        with LOCK:
            m.done = m.started

    def run(self):
        order = list(KINDS)
        self.rnd.shuffle(order)
        step = 0
        while step < STEPS and now() < MAX_SECONDS:
            step += 1
            for name, until in list(self.bad_until.items()):
                if step >= until:           # the invalid token's time is up: a valid one again
                    del self.bad_until[name]
                    self.alter_mapping(MAPPINGS[name], self.rnd.choice(TOKENS))
            kind = order[step - 1] if step <= len(order) else self.rnd.choices(KINDS, WEIGHTS)[0]
            getattr(self, "do_" + kind)(step)
            actions[kind] += 1
            time.sleep(self.rnd.uniform(0.05, 0.4))
        return step

    def do_alter_mapping(self, step):
        name = self.rnd.choice(sorted(MAPPINGS))
        m = MAPPINGS[name]
        if self.rnd.random() < 0.25 and name not in self.bad_until:
            self.bad_until[name] = step + self.rnd.randint(2, 6)
            self.alter_mapping(m, BAD)
        else:
            cur = m.history[-1]
            self.alter_mapping(m, self.rnd.choice([t for t in TOKENS if t != cur]))

    def do_alter_server(self, step):
        opt, values = self.rnd.choice(SERVER_OPTIONS)
        self.sql("ALTER SERVER genie OPTIONS (SET %s '%s')" % (opt, self.rnd.choice(values)))

    def do_grant(self, step):
        role = self.rnd.choice(ROLES_FOR_GRANT)
        if self.rnd.random() < 0.5:
            self.sql("REVOKE USAGE ON FOREIGN SERVER genie FROM %s" % role)
        else:
            self.sql("GRANT USAGE ON FOREIGN SERVER genie TO %s" % role)

    def do_create_database(self, step):
        if len(self.copies) >= 3:
            db, t = self.copies.pop(0)
            t.join(TIMEOUT + SLACK + 30)
            if t.is_alive():
                problem("the session in %s still runs a statement after %.0f s" % (db, TIMEOUT + SLACK + 30))
            self.sql("DROP DATABASE %s WITH (FORCE)" % db)
        self.ncopies += 1
        db = "stress_copy_%d" % self.ncopies
        self.sql("CREATE DATABASE %s TEMPLATE stress_tmpl" % db)
        token = self.rnd.choice(TOKENS + [BAD])
        self.sql("ALTER USER MAPPING FOR r3 SERVER genie OPTIONS (SET token '%s')" % token, dbname=db)
        questions = [self.rnd.choice(QUESTIONS), self.rnd.choice(QUESTIONS)]

        def ask_there():
            s = Session("%s(r3)" % db, "r3", None, dbname=db, fixed_token=token)
            with LOCK:
                self.copy_sessions.append(s)
            for q in questions:
                s.ask([q], desc="in %s" % db)
            s.conn.close()

        t = threading.Thread(target=ask_there, daemon=True)
        t.start()
        self.copies.append((db, t))

    def pick(self):
        """A random session, one running a statement when there is one."""
        r = self.rnd.random()
        with LOCK:
            busy = [w for w in self.workers if w.session.busy_since is not None]
        cands = busy or self.workers
        return cands[int(r * len(cands))]

    def do_cancel(self, step):
        w = self.pick()
        pid = w.session.pid
        with LOCK:
            cancels[pid].append(now())
        self.sql("SELECT pg_cancel_backend(%s)", (pid,))

    def do_terminate(self, step):
        w = self.pick()
        pid = w.session.pid
        with LOCK:
            terminated[pid] = now()
        self.sql("SELECT pg_terminate_backend(%s)", (pid,))

    def do_idle_cursor(self, step):
        """A session's cursor idles with a question in the air; the other
        session of its mapping asks that question meanwhile (it waits, or
        takes the idle flight over)."""
        i = self.rnd.randrange(len(self.workers))
        a = self.rnd.choice(QUESTIONS)
        b = SLOW if self.rnd.random() < 0.7 else self.rnd.choice([x for x in QUESTIONS if x != a])
        idle = round(self.rnd.uniform(0.3, 3.5), 2)
        variant = self.rnd.choice(["plain", "plain", "savepoint-error", "savepoint-query", "abandon"])
        q = self.rnd.choice(QUESTIONS)
        delay = round(self.rnd.uniform(0, 0.5), 2)
        if self.workers[i].orders or self.workers[i ^ 1].orders:
            return              # that pair is still busy with the last one
        fetched = threading.Event()
        self.workers[i].orders.append(("cursor", a, b, idle, variant, q, fetched))
        self.workers[i ^ 1].orders.append(("ask", [b], fetched, delay))

    def finish(self):
        for db, t in self.copies:
            t.join(TIMEOUT + SLACK + 30)
        # every mapping valid again, for the last round
        for name in sorted(MAPPINGS):
            if MAPPINGS[name].history[-1] == BAD:
                self.alter_mapping(MAPPINGS[name], TOKENS[0])


def stuck_sessions(sessions, bound):
    with LOCK:
        return [(s.name, s.pid, now() - s.busy_since, s.current) for s in sessions
                if s.busy_since is not None and now() - s.busy_since > bound]


def main():
    print("# seed %d, up to %d steps and %.0f s; statement_timeout %.0f s, slack %.0f s"
          % (SEED, STEPS, MAX_SECONDS, TIMEOUT, SLACK))
    print("# expected rows: %s" % ", ".join("%r %d" % (q, n) for q, n in EXPECTED.items()))
    # sessions 2k and 2k + 1 share a mapping (Controller.do_idle_cursor)
    plan = [("r1", "r1"), ("r1", "r1"), ("r2", "r2"), ("r2", "r2"), ("r5", "public"), ("r6", "public")]
    workers = [Worker(i, role, m) for i, (role, m) in enumerate(plan)]
    ctl = Controller(workers)
    asked_before = emu("GET", "/__emulator/stats")["requests"].get("start_conversation", 0)
    for w in workers:
        w.start()
    try:
        steps = ctl.run()
    except psycopg.Error as e:        # a statement of the controller failed
        steps = -1
        problem("the controller's statement failed: %s" % str(e).splitlines()[0])
    STOP.set()
    ctl.finish()
    # the sessions finish what they do (an idle cursor idles at most 3 s);
    # one still in a statement long after the bound is hung: show it, end it
    deadline = time.monotonic() + TIMEOUT + SLACK + 30
    hung = []
    for w in workers:
        w.join(max(0.0, deadline - time.monotonic()))
    if any(w.is_alive() for w in workers):
        hung = stuck_sessions([w.session for w in workers] + ctl.copy_sessions, TIMEOUT + SLACK)
        for row in ctl.ctl.execute("SELECT pid, application_name, state, wait_event_type, wait_event, "
                                   "left(query, 80) FROM pg_stat_activity "
                                   "WHERE application_name LIKE 'stress-%'").fetchall():
            print("#   %r" % (row,))
        for w in workers:
            if w.is_alive():
                if not any(h[0] == w.session.name for h in hung):
                    hung.append((w.session.name, w.session.pid, None, "(not in a statement)"))
                ctl.ctl.execute("SELECT pg_terminate_backend(%s)", (w.session.pid,))
                w.join(10)
    elapsed = now()
    errors = [w.error for w in workers if w.error]

    # the last round: every session answers (the mappings are valid again)
    last_ok = 0
    if not hung:
        for w in workers:
            s = w.session
            if s.conn.closed:
                s.reconnect()
            before = len(problems)
            rows = s.ask([QUESTIONS[0]], desc="last round")
            if rows and len(problems) == before:
                last_ok += 1

    # whose conversations they were
    owners = {c["conversation_id"]: c["user"] for c in emu("GET", "/__emulator/conversations")["conversations"]}
    wrong = []
    for conv, allowed, desc in observed:
        if owners.get(conv) not in allowed:
            wrong.append("%s: conversation %s is %s's, the mapping's tokens were %s's"
                         % (desc, conv, owners.get(conv), "/".join(sorted(u for u in allowed if u)) or "invalid"))
    asked = emu("GET", "/__emulator/stats")["requests"].get("start_conversation", 0) - asked_before

    longest = max(durations) if durations else (0, "", "", "")
    over = [d for d in durations if d[0] > TIMEOUT + SLACK]
    timeouts = [d for d in durations if d[3] == "timeout"]
    print("# %d controller steps, %.0f s in all: %s" % (steps, elapsed, ", ".join(
        "%s %d" % (k, actions[k]) for k in KINDS)))
    print("# %d statements of the sessions (%s) and %d of the controller; %d questions asked of Genie, "
          "%d answers checked in %d conversations"
          % (sum(outcomes.values()), ", ".join("%s %d" % kv for kv in sorted(outcomes.items())),
             len(durations) - sum(outcomes.values()), asked, len(observed), len({o[0] for o in observed})))
    print("# the sessions waited for another's flight %d times and took an idle flight over %d times"
          % (PROGRESS["waits"], PROGRESS["takeovers"]))
    print("# longest statement %.1f s (%s: %s)" % (longest[0], longest[1], longest[2][:60]))
    for p in problems[:25]:
        print("#   " + p)
    for wline in wrong[:25]:
        print("#   " + wline)
    for h in hung:
        print("#   hung: %r" % (h,))
    if problems or wrong or hung or over:
        for w in workers:
            print("# the last statements of %s:" % w.session.name)
            for t in list(w.session.trace)[-8:]:
                print("#     " + t)

    check("the mix ran every kind of step at least once (%d steps)" % steps,
          all(actions[k] > 0 for k in KINDS), repr(dict(actions)))
    check("no statement waited longer than statement_timeout + %.0f s (%d statements, longest %.1f s)"
          % (SLACK, len(durations), longest[0]), not over and not hung,
          "%d over the bound, %d hung: %r" % (len(over), len(hung), (over + hung)[:3]))
    check("no statement ran into its statement_timeout (answers take 3 s at most)", not timeouts,
          "%d: %r" % (len(timeouts), timeouts[:3]))
    check("every answer came from the user of the session's mapping (%d answers, %d conversations)"
          % (len(observed), len({o[0] for o in observed})), not wrong and observed,
          "%d wrong" % len(wrong))
    check("whole answers, errors only where the mix causes them, no rows with an invalid token "
          "(%d denied, %d cancelled, %d lost)" % (outcomes["denied"], outcomes["cancel"], outcomes["lost"]),
          not problems, "%d problems" % len(problems))
    check("every session answers at the end (%d of %d)" % (last_ok, len(workers)),
          last_ok == len(workers) and not errors, "; ".join(errors))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
