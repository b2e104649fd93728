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
