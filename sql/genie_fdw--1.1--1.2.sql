/* genie_fdw--1.1--1.2.sql: update genie_fdw 1.1 to 1.2 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION genie_fdw UPDATE TO '1.2'" to load this file. \quit

-- Every SQL object that 1.2 adds to 1.1 comes here, as it is in
-- genie_fdw--1.2.sql (the upgrade regression test, sql/upgrade.sql, checks
-- that an updated 1.0 equals a fresh install).

-- genie_fdw_stats() counts re-runs of remembered SQL too: a new result type
ALTER EXTENSION genie_fdw DROP FUNCTION genie_fdw_stats();
DROP FUNCTION genie_fdw_stats();

CREATE FUNCTION genie_fdw_stats(
    OUT server text,
    OUT questions bigint,
    OUT cache_hits bigint,
    OUT rate_limited bigint,
    OUT retries bigint,
    OUT slot_wait_seconds double precision,
    OUT polls bigint,
    OUT bytes bigint,
    OUT rows bigint,
    OUT cache_misses bigint,
    OUT reruns bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

COMMENT ON FUNCTION genie_fdw_stats() IS 'genie_fdw counters per foreign server of this database';

-- Remembered questions (rerun.c, option refresh 'rerun'): questions and SQL
-- may be confidential, so both functions are for administrators, as
-- genie_fdw_cache() is.
CREATE FUNCTION genie_fdw_remembered(
    OUT server text,
    OUT role text,
    OUT space_id text,
    OUT question text,
    OUT full_results boolean,
    OUT sql text,
    OUT conversation_id text,
    OUT message_id text,
    OUT age_seconds double precision,
    OUT expires_in_seconds double precision,
    OUT reruns bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

COMMENT ON FUNCTION genie_fdw_remembered() IS 'the questions of this database whose Genie SQL is re-run (refresh ''rerun''): server, role, space, question, SQL, age, re-runs';

REVOKE ALL ON FUNCTION genie_fdw_remembered() FROM PUBLIC;

CREATE FUNCTION genie_fdw_forget()
RETURNS bigint
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

COMMENT ON FUNCTION genie_fdw_forget() IS 'forget the remembered questions of this database (their SQL is no longer re-run); returns how many';

REVOKE ALL ON FUNCTION genie_fdw_forget() FROM PUBLIC;

-- that an updated 1.0 equals a fresh 1.2).

-- Foreign tables of genie_fdw that cannot work (no question column, a
-- question column that is not text or varchar, a 'row' column that is not
-- jsonb or json) are refused when they are created or altered, not when
-- Genie is first asked: the validator sees one option list at a time, never
-- a table's columns.  Tables of other wrappers are not looked at; restores
-- (check_function_bodies off) are not checked (genie_fdw.c).  Tables that
-- exist already are checked when they are planned.
CREATE FUNCTION genie_fdw_ddl_check()
RETURNS event_trigger
AS 'MODULE_PATHNAME'
LANGUAGE C;

CREATE EVENT TRIGGER genie_fdw_ddl_check ON ddl_command_end
  WHEN TAG IN ('CREATE FOREIGN TABLE', 'ALTER FOREIGN TABLE', 'ALTER TABLE', 'IMPORT FOREIGN SCHEMA')
  EXECUTE FUNCTION genie_fdw_ddl_check();

COMMENT ON EVENT TRIGGER genie_fdw_ddl_check IS 'refuses genie_fdw foreign tables that cannot work when they are created or altered';
