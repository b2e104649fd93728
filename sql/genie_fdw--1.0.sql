/* genie_fdw--1.0.sql */

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
