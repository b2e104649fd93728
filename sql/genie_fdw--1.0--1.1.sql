/* genie_fdw--1.0--1.1.sql: update genie_fdw 1.0 to 1.1 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION genie_fdw UPDATE TO '1.1'" to load this file. \quit

-- Every SQL object that 1.1 adds to 1.0 comes here, as it is in
-- genie_fdw--1.1.sql (the upgrade regression test, sql/upgrade.sql, checks
-- that an updated 1.0 equals a fresh 1.1).
