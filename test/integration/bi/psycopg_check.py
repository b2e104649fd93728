"""genie_fdw through psycopg 3, as a Python BI client uses it.

Run by test/integration/bi_drivers.sh with /usr/bin/python3 (Debian's
python3-psycopg imports only there).  Connects with the libpq environment
(PGHOST, PGPORT, PGUSER, PGDATABASE) and reads the emulator's stats from
$GENIE_EMULATOR_URL.  Expects the foreign tables the shell script creates:
q (question, "ProductName", "TotalValue"), typed (every column type) and gen
("Generate N rows").

psycopg 3 binds parameters on the server: cur.execute(sql, [value]) sends
"... WHERE question = $1" over the extended protocol (Parse/Bind/Execute),
and prepare=True makes it a named prepared statement that is reused.

Prints one line per check ("ok - ..." / "not ok - ...") and exits 1 if any
failed.
"""

import datetime
import decimal
import json
import os
import sys
import traceback
import urllib.request

import psycopg

SEED = "Which products generate the highest total sales value?"
TYPED_Q = "Show every column type"
EMU = os.environ["GENIE_EMULATOR_URL"].rstrip("/")

failures = 0


def check(name, cond, detail=None):
    global failures
    if cond:
        print(f"ok - {name}")
    else:
        failures += 1
        print(f"not ok - {name}")
        if detail is not None:
            for line in str(detail).splitlines():
                print(f"#   {line}")
    sys.stdout.flush()


def check_eq(name, actual, expected):
    check(name, actual == expected, f"expected: {expected!r}\nactual:   {actual!r}")


def asked():
    """Questions started on the emulator so far (start-conversation calls)."""
    with urllib.request.urlopen(EMU + "/__emulator/stats", timeout=10) as r:
        return json.load(r)["requests"].get("start_conversation", 0)


def section(name, fn, *args):
    """Run one group of checks; an exception is one failed check, not the end."""
    try:
        fn(*args)
    except Exception as e:  # noqa: BLE001 -- report and go on
        check(f"{name}: no error", False, "".join(traceback.format_exception_only(type(e), e)).strip())


def parameterized(conn):
    sql = 'SELECT "ProductName", "TotalValue" FROM q WHERE question = %s'
    before = asked()
    with conn.cursor() as cur:
        cur.execute(sql, [SEED])
        rows = cur.fetchall()
    check_eq("$1 parameter: 5 rows", len(rows), 5)
    check_eq("$1 parameter: top row", rows[0] if rows else None, ("Quinoa & Kale Bowl", decimal.Decimal("2271.50")))
    if rows:
        check("$1 parameter: TotalValue is a decimal.Decimal", type(rows[0][1]) is decimal.Decimal, type(rows[0][1]))
        check_eq("$1 parameter: TotalValue keeps its scale", str(rows[0][1]), "2271.50")
    check_eq("$1 parameter: Genie asked once", asked() - before, 1)

    # the same in binary result format (drivers that ask for binary results)
    with conn.cursor(binary=True) as cur:
        cur.execute(sql, [SEED])
        brows = cur.fetchall()
    check_eq("binary results: same rows as text results", brows, rows)

    # NULL never matches: no rows and nothing asked
    before = asked()
    with conn.cursor() as cur:
        cur.execute('SELECT count(*) FROM q WHERE question = %s::text', [None])
        n = cur.fetchone()[0]
    check_eq("NULL parameter: no rows", n, 0)
    check_eq("NULL parameter: nothing asked", asked() - before, 0)


def typed(conn):
    before = asked()
    with conn.cursor() as cur:
        cur.execute(
            "SELECT order_id, product, quantity, small_qty, unit_price, discount, is_gift,"
            " order_date, order_ts, note FROM typed WHERE question = %s ORDER BY order_id",
            [TYPED_Q],
        )
        rows = cur.fetchall()
        oids = [d.type_code for d in cur.description]
    check_eq("typed: Genie asked once", asked() - before, 1)
    check_eq("typed: 4 rows", len(rows), 4)
    if len(rows) != 4:
        return
    # int8 int4 int2 numeric float8 bool date timestamptz text
    check_eq("typed: result column type OIDs", oids, [20, 25, 23, 21, 1700, 701, 16, 1082, 1184, 25])
    big = rows[3]
    check_eq("typed: order_id above 2^53 is an exact int", big[0], 9007199254740993)
    check("typed: order_id is an int", all(type(r[0]) is int for r in rows), [type(r[0]) for r in rows])
    check_eq("typed: order_ids", [r[0] for r in rows], [100001, 100002, 100003, 9007199254740993])
    check_eq("typed: product", big[1], "Gluten-Free Lasagna")
    check_eq("typed: quantity int / small_qty int", (big[2], big[3], type(big[2]), type(big[3])), (9, 9, int, int))
    check_eq("typed: unit_price numeric(10,2) is Decimal('8.00')", (big[4], str(big[4])), (decimal.Decimal("8.00"), "8.00"))
    check_eq("typed: discount float8 is a float", (rows[0][5], type(rows[0][5])), (0.1, float))
    check_eq("typed: discount 0.3333333333333333 round-trips", rows[2][5], 1 / 3)
    check("typed: discount is None for order 100002", rows[1][5] is None, rows[1][5])
    check_eq("typed: is_gift is a bool", [r[6] for r in rows], [True, False, False, True])
    check("typed: is_gift values are bool objects", all(type(r[6]) is bool for r in rows), [type(r[6]) for r in rows])
    check_eq("typed: order_date is a date", (big[7], type(big[7])), (datetime.date(2024, 12, 31), datetime.date))
    ts = big[8]
    check("typed: order_ts is a timezone-aware datetime",
          isinstance(ts, datetime.datetime) and ts.tzinfo is not None and ts.utcoffset() is not None, repr(ts))
    utc = datetime.timezone.utc
    check_eq("typed: order_ts values (ms and us fractions kept)", [r[8] for r in rows], [
        datetime.datetime(2024, 3, 1, 10, 15, 0, tzinfo=utc),
        datetime.datetime(2024, 3, 2, 18, 30, 45, tzinfo=utc),
        datetime.datetime(2024, 3, 3, 7, 5, 9, 123456, tzinfo=utc),
        datetime.datetime(2024, 12, 31, 23, 59, 59, 999000, tzinfo=utc),
    ])
    check("typed: note is None for order 100002", rows[1][9] is None, rows[1][9])
    check_eq("typed: note with quotes, backslashes and UTF-8", rows[2][9], 'Extra "spicy" café ☕ C:\\orders\\note')


def prepared(conn, mode):
    """A statement prepared on the server and executed 7 times with different
    questions ("Generate N rows": N rows with ids 1..N)."""
    # the comment keeps the two modes apart (psycopg caches statements by text)
    sql = ("SELECT count(*), max(id), sum(qty), bool_and(name = 'item-' || id) FROM gen WHERE question = %s"
           f" /* plan_cache_mode {mode} */")
    with conn.cursor() as cur:
        cur.execute("SET plan_cache_mode = " + mode)
    before = asked()
    results = []
    ns = [3, 1, 7, 2, 5, 4, 6] if mode == "force_generic_plan" else [2, 5, 1, 6, 3, 7, 4]
    with conn.cursor() as cur:
        for n in ns:
            cur.execute(sql, [f"Generate {n} rows"], prepare=True)
            results.append(cur.fetchone())
        cur.execute(
            "SELECT name, statement, parameter_types::text[], from_sql, generic_plans, custom_plans"
            " FROM pg_prepared_statements WHERE statement LIKE %s", [f"%plan_cache_mode {mode} */"]
        )
        stmts = cur.fetchall()
        cur.execute("RESET plan_cache_mode")
    expected = [(n, n, sum(range(1, n + 1)), True) for n in ns]
    check_eq(f"prepared ({mode}): each execution answers its own question", results, expected)
    check_eq(f"prepared ({mode}): Genie asked once per execution", asked() - before, len(ns))
    check_eq(f"prepared ({mode}): one server-side prepared statement", len(stmts), 1)
    if len(stmts) != 1:
        return
    name, text, ptypes, from_sql, generic, custom = stmts[0]
    print(f"# prepared ({mode}): statement {name}: generic_plans={generic} custom_plans={custom}")
    check(f"prepared ({mode}): prepared over the protocol with $1 ({name})",
          not from_sql and "question = $1" in text and ptypes == ["text"], stmts[0])
    if mode == "force_generic_plan":
        check(f"prepared ({mode}): run {len(ns)} times with the generic plan",
              generic >= len(ns) and custom == 0, f"generic_plans={generic} custom_plans={custom}")
    else:
        check(f"prepared ({mode}): reused for {len(ns)} executions",
              generic + custom >= len(ns), f"generic_plans={generic} custom_plans={custom}")


def seed_generic(conn):
    """The seed question through a prepared statement with a generic plan."""
    with conn.cursor() as cur:
        cur.execute("SET plan_cache_mode = force_generic_plan")
        before = asked()
        tops = []
        for _ in range(6):
            cur.execute('SELECT "ProductName", "TotalValue" FROM q WHERE question = %s ORDER BY "TotalValue" DESC',
                        [SEED], prepare=True)
            rows = cur.fetchall()
            tops.append((len(rows), rows[0] if rows else None))
        cur.execute("RESET plan_cache_mode")
    check_eq("generic plan, seed question x6: 5 rows and the top row each time", tops,
             [(5, ("Quinoa & Kale Bowl", decimal.Decimal("2271.50")))] * 6)
    check_eq("generic plan, seed question x6: Genie asked 6 times", asked() - before, 6)


def metadata(conn):
    """What a BI tool runs on connect: it lists tables and columns, then probes."""
    before = asked()
    with conn.cursor() as cur:
        cur.execute("SELECT table_schema, table_name, table_type FROM information_schema.tables"
                    " WHERE table_name IN ('q', 'typed', 'gen') ORDER BY table_name")
        check_eq("information_schema.tables lists the foreign tables as FOREIGN", cur.fetchall(), [
            ("public", "gen", "FOREIGN"), ("public", "q", "FOREIGN"), ("public", "typed", "FOREIGN")])

        cur.execute("SELECT column_name, data_type, numeric_precision, numeric_scale, is_nullable"
                    " FROM information_schema.columns WHERE table_schema = 'public' AND table_name = %s"
                    " ORDER BY ordinal_position", ["typed"])
        check_eq("information_schema.columns lists typed's columns and types", cur.fetchall(), [
            ("question", "text", None, None, "YES"),
            ("order_id", "bigint", 64, 0, "YES"),
            ("product", "text", None, None, "YES"),
            ("quantity", "integer", 32, 0, "YES"),
            ("small_qty", "smallint", 16, 0, "YES"),
            ("unit_price", "numeric", 10, 2, "YES"),
            ("discount", "double precision", 53, None, "YES"),
            ("is_gift", "boolean", None, None, "YES"),
            ("order_date", "date", None, None, "YES"),
            ("order_ts", "timestamp with time zone", None, None, "YES"),
            ("note", "text", None, None, "YES"),
        ])
        cur.execute("SELECT column_name, data_type FROM information_schema.columns"
                    " WHERE table_name = 'q' ORDER BY ordinal_position")
        check_eq("information_schema.columns lists q's columns", cur.fetchall(), [
            ("question", "text"), ("ProductName", "text"), ("TotalValue", "numeric")])

        cur.execute("SELECT foreign_table_schema, foreign_table_name, foreign_server_name"
                    " FROM information_schema.foreign_tables ORDER BY foreign_table_name")
        check_eq("information_schema.foreign_tables", cur.fetchall(), [
            ("public", "gen", "genie"), ("public", "q", "genie"), ("public", "typed", "genie")])
        cur.execute("SELECT foreign_server_name, foreign_data_wrapper_name FROM information_schema.foreign_servers")
        check_eq("information_schema.foreign_servers", cur.fetchall(), [("genie", "genie_fdw")])

        cur.execute("SELECT c.relname, c.relkind::text, s.srvname, w.fdwname"
                    " FROM pg_catalog.pg_foreign_table ft"
                    " JOIN pg_catalog.pg_class c ON c.oid = ft.ftrelid"
                    " JOIN pg_catalog.pg_foreign_server s ON s.oid = ft.ftserver"
                    " JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid = s.srvfdw"
                    " ORDER BY 1")
        check_eq("pg_catalog.pg_foreign_table joined to pg_class, server and wrapper", cur.fetchall(), [
            ("gen", "f", "genie", "genie_fdw"), ("q", "f", "genie", "genie_fdw"), ("typed", "f", "genie", "genie_fdw")])

        # the column query of pgJDBC / psql \d style: pg_attribute with format_type
        cur.execute("SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod)"
                    " FROM pg_catalog.pg_attribute a"
                    " JOIN pg_catalog.pg_class c ON c.oid = a.attrelid"
                    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname = 'public' AND c.relname = %s AND c.relkind IN ('r','v','m','f','p')"
                    " AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum", ["typed"])
        check_eq("pg_attribute + format_type lists typed's columns", cur.fetchall(), [
            ("question", "text"), ("order_id", "bigint"), ("product", "text"), ("quantity", "integer"),
            ("small_qty", "smallint"), ("unit_price", "numeric(10,2)"), ("discount", "double precision"),
            ("is_gift", "boolean"), ("order_date", "date"), ("order_ts", "timestamp with time zone"),
            ("note", "text")])

        # the probes: column descriptions without asking Genie
        cur.execute("SELECT * FROM q LIMIT 0")
        check_eq("SELECT * FROM q LIMIT 0: no rows", cur.fetchall(), [])
        check_eq("SELECT * FROM q LIMIT 0: column names", [d.name for d in cur.description],
                 ["question", "ProductName", "TotalValue"])
        check_eq("SELECT * FROM q LIMIT 0: column types", [d.type_code for d in cur.description], [25, 25, 1700])

        cur.execute("SELECT * FROM typed LIMIT 0")
        check_eq("SELECT * FROM typed LIMIT 0: column names", [d.name for d in cur.description], [
            "question", "order_id", "product", "quantity", "small_qty", "unit_price", "discount",
            "is_gift", "order_date", "order_ts", "note"])
        check_eq("SELECT * FROM typed LIMIT 0: numeric(10,2) typmod", (cur.description[5].precision,
                                                                      cur.description[5].scale), (10, 2))

        cur.execute("SELECT * FROM q WHERE question = %s LIMIT 0", [SEED])
        check_eq("SELECT * FROM q WHERE question = $1 LIMIT 0: no rows", cur.fetchall(), [])
        cur.execute("SELECT * FROM (SELECT * FROM typed) t WHERE 1 = 0")
        check_eq("SELECT * FROM (...) WHERE 1 = 0: column count", len(cur.description), 11)
    check_eq("metadata queries and LIMIT 0 probes asked Genie nothing", asked() - before, 0)


def main():
    with psycopg.connect(autocommit=True, application_name="bi_psycopg") as conn:
        print(f"# psycopg {psycopg.__version__} ({psycopg.pq.__impl__}), libpq {psycopg.pq.version()}, "
              f"server {conn.info.server_version}")
        section("metadata", metadata, conn)
        section("parameterized", parameterized, conn)
        section("typed", typed, conn)
        section("prepared auto", prepared, conn, "auto")
        section("prepared generic", prepared, conn, "force_generic_plan")
        section("seed generic", seed_generic, conn)
        # a failed statement does not poison later ones (autocommit)
        section("still usable", lambda c: check_eq("connection still usable",
                                                   c.execute("SELECT 1").fetchone(), (1,)), conn)
    print(f"# psycopg: {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
