/* genie_fdw--1.2.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION genie_fdw" to load this file. \quit

CREATE FUNCTION genie_fdw_handler()
RETURNS fdw_handler
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FUNCTION genie_fdw_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FOREIGN DATA WRAPPER genie_fdw
  HANDLER genie_fdw_handler
  VALIDATOR genie_fdw_validator;

COMMENT ON FOREIGN DATA WRAPPER genie_fdw IS 'asks Databricks Genie questions; answers come back as rows';

CREATE FUNCTION genie_fdw_cache_clear()
RETURNS bigint
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE;

COMMENT ON FUNCTION genie_fdw_cache_clear() IS 'empty the cache of Genie answers (the shared one for every session, and this session''s); returns how many were dropped';

-- clearing the shared cache affects every session (and spends quota)
REVOKE ALL ON FUNCTION genie_fdw_cache_clear() FROM PUBLIC;

-- The answers in the shared cache (this session's without preloading), for
-- DBAs: the key without secrets, size, hits, age.  Questions may be
-- confidential: not for PUBLIC.
CREATE FUNCTION genie_fdw_cache(
    OUT server text,
    OUT role text,
    OUT space_id text,
    OUT conversation_id text,
    OUT question text,
    OUT full_results boolean,
    OUT bytes bigint,
    OUT hits bigint,
    OUT age_seconds double precision,
    OUT expires_in_seconds double precision)
RETURNS SETOF record
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

COMMENT ON FUNCTION genie_fdw_cache() IS 'the cached Genie answers of this database: server, role of the user mapping, space, conversation, question, bytes, hits, age';

REVOKE ALL ON FUNCTION genie_fdw_cache() FROM PUBLIC;

CREATE FUNCTION genie_spaces(server name)
RETURNS TABLE (space_id text, title text, description text)
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE;

COMMENT ON FUNCTION genie_spaces(name) IS 'the Genie spaces the user of a genie_fdw server can see';

CREATE FUNCTION genie_delete_conversations(server name, older_than interval, space_id text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION genie_delete_conversations(name, interval, text) IS 'delete the calling user''s Genie conversations older than an interval; returns how many';

-- Counters per foreign server (limiter.c): cluster-wide when genie_fdw is in
-- shared_preload_libraries, else this session's.  No secrets: any user may
-- read them.
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

CREATE FUNCTION genie_fdw_stats_reset()
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

COMMENT ON FUNCTION genie_fdw_stats_reset() IS 'forget the genie_fdw counters of this database''s servers';

-- resetting is for administrators (superusers may GRANT it to others)
REVOKE ALL ON FUNCTION genie_fdw_stats_reset() FROM PUBLIC;

-- Rate one of Genie's answers (catalog.c): POSITIVE, NEGATIVE or NONE (takes
-- a rating back), with an optional comment, as Genie's own thumbs do.
CREATE FUNCTION genie_feedback(server name, conversation_id text, message_id text,
                               rating text, comment text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION genie_feedback(name, text, text, text, text) IS 'rate an answer of Genie (POSITIVE, NEGATIVE or NONE), with an optional comment';

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

-- Foreign tables of genie_fdw that cannot work (no question column, a
-- question column that is not text or varchar, a 'row' column that is not
-- jsonb or json) are refused when they are created or altered, not when
-- Genie is first asked: the validator sees one option list at a time, never
-- a table's columns.  Tables of other wrappers are not looked at; restores
-- (check_function_bodies off) are not checked (genie_fdw.c).
CREATE FUNCTION genie_fdw_ddl_check()
RETURNS event_trigger
AS 'MODULE_PATHNAME'
LANGUAGE C;

CREATE EVENT TRIGGER genie_fdw_ddl_check ON ddl_command_end
  WHEN TAG IN ('CREATE FOREIGN TABLE', 'ALTER FOREIGN TABLE', 'ALTER TABLE', 'IMPORT FOREIGN SCHEMA')
  EXECUTE FUNCTION genie_fdw_ddl_check();

COMMENT ON EVENT TRIGGER genie_fdw_ddl_check IS 'refuses genie_fdw foreign tables that cannot work when they are created or altered';
