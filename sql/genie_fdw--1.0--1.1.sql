/* genie_fdw--1.0--1.1.sql: update genie_fdw 1.0 to 1.1 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION genie_fdw UPDATE TO '1.1'" to load this file. \quit

-- Every SQL object that 1.1 adds to 1.0 comes here, as it is in
-- genie_fdw--1.1.sql (the upgrade regression test, sql/upgrade.sql, checks
-- that an updated 1.0 equals a fresh 1.1).

-- Rate one of Genie's answers (catalog.c): POSITIVE, NEGATIVE or NONE (takes
-- a rating back), with an optional comment, as Genie's own thumbs do.
CREATE FUNCTION genie_feedback(server name, conversation_id text, message_id text,
                               rating text, comment text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION genie_feedback(name, text, text, text, text) IS 'rate an answer of Genie (POSITIVE, NEGATIVE or NONE), with an optional comment';

-- the answer cache is shared by every session when preloaded: clearing it is
-- for administrators, and genie_fdw_cache() shows what it holds
COMMENT ON FUNCTION genie_fdw_cache_clear() IS 'empty the cache of Genie answers (the shared one for every session, and this session''s); returns how many were dropped';

REVOKE ALL ON FUNCTION genie_fdw_cache_clear() FROM PUBLIC;

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

-- genie_fdw_stats() counts cache misses too: a new result type
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
    OUT cache_misses bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

COMMENT ON FUNCTION genie_fdw_stats() IS 'genie_fdw counters per foreign server of this database';
