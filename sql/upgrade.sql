--
-- Updating: genie_fdw installed at 1.0 and brought up to date with ALTER
-- EXTENSION ... UPDATE must be the same as a fresh CREATE EXTENSION of the
-- default version: the same member objects, functions with the same
-- signatures, results, volatility, strictness, C symbols and privileges, the
-- wrapper with the same handler and validator, the same comments.  Both
-- installs go into a database of their own (this one has genie_fdw already),
-- one after the other, into schema genie_upgrade.
--
SELECT current_database() AS regress_db \gset
SET client_min_messages = warning;
DROP DATABASE IF EXISTS genie_upgrade_check;
CREATE DATABASE genie_upgrade_check;
\c genie_upgrade_check
SET client_min_messages = warning;
CREATE SCHEMA genie_upgrade;

-- each member of the extension, with what defines it
CREATE VIEW genie_members AS
SELECT pg_describe_object(d.classid, d.objid, d.objsubid) AS object,
       (SELECT ds.description FROM pg_description ds
         WHERE ds.classoid = d.classid AND ds.objoid = d.objid
           AND ds.objsubid = d.objsubid) AS comment,
       CASE d.classid
         WHEN 'pg_proc'::regclass THEN
           (SELECT format('(%s) returns %s; kind %s, volatility %s, strict %s, parallel %s, '
                          'security definer %s, leakproof %s, cost %s, rows %s, '
                          'symbol %s in %s, acl %s, config %s',
                          pg_get_function_arguments(p.oid), pg_get_function_result(p.oid),
                          p.prokind, p.provolatile, p.proisstrict, p.proparallel,
                          p.prosecdef, p.proleakproof, p.procost, p.prorows,
                          p.prosrc, p.probin, p.proacl, p.proconfig)
              FROM pg_proc p WHERE p.oid = d.objid)
         WHEN 'pg_foreign_data_wrapper'::regclass THEN
           (SELECT format('handler %s, validator %s, options %s, acl %s',
                          w.fdwhandler::regprocedure, w.fdwvalidator::regprocedure,
                          w.fdwoptions, w.fdwacl)
              FROM pg_foreign_data_wrapper w WHERE w.oid = d.objid)
         WHEN 'pg_class'::regclass THEN
           (SELECT format('kind %s, acl %s, columns (%s), definition %s',
                          c.relkind, c.relacl,
                          (SELECT string_agg(format('%I %s%s', a.attname,
                                                    format_type(a.atttypid, a.atttypmod),
                                                    CASE WHEN a.attnotnull THEN ' not null' END),
                                             ', ' ORDER BY a.attnum)
                             FROM pg_attribute a
                            WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
                          CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END)
              FROM pg_class c WHERE c.oid = d.objid)
         WHEN 'pg_event_trigger'::regclass THEN
           (SELECT format('event %s, function %s, enabled %s, tags %s',
                          e.evtevent, e.evtfoid::regprocedure, e.evtenabled, e.evttags)
              FROM pg_event_trigger e WHERE e.oid = d.objid)
         WHEN 'pg_type'::regclass THEN
           (SELECT format('type %s, category %s', t.typtype, t.typcategory)
              FROM pg_type t WHERE t.oid = d.objid)
       END AS details
  FROM pg_depend d
 WHERE d.refclassid = 'pg_extension'::regclass
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'genie_fdw')
   AND d.deptype = 'e'
UNION ALL
SELECT 'the extension itself', NULL,
       format('schema %s, relocatable %s, configuration tables %s %s',
              e.extnamespace::regnamespace, e.extrelocatable,
              e.extconfig::regclass[], e.extcondition)
  FROM pg_extension e
 WHERE e.extname = 'genie_fdw';
CREATE TABLE captured (install text, object text, comment text, details text);

-- 1.0, updated
CREATE EXTENSION genie_fdw VERSION '1.0' SCHEMA genie_upgrade;
SELECT extversion FROM pg_extension WHERE extname = 'genie_fdw';
ALTER EXTENSION genie_fdw UPDATE;
SELECT e.extversion = a.default_version AS "updated to the default version"
  FROM pg_extension e JOIN pg_available_extensions a ON a.name = e.extname
 WHERE e.extname = 'genie_fdw';
INSERT INTO captured SELECT 'updated from 1.0', * FROM genie_members;
DROP EXTENSION genie_fdw;

-- the default version, fresh
CREATE EXTENSION genie_fdw SCHEMA genie_upgrade;
INSERT INTO captured SELECT 'fresh', * FROM genie_members;

-- the comparison is not empty: both hold the 1.0 objects at least
SELECT install, count(*) >= 9 AS "1.0's objects at least",
       bool_or(object = 'foreign-data wrapper genie_fdw'
               AND details LIKE 'handler genie_upgrade.genie_fdw_handler(), validator genie_upgrade.genie_fdw_validator(text[],oid), %')
         AS "wrapper with handler and validator",
       bool_or(object = 'event trigger genie_fdw_ddl_check'
               AND details LIKE 'event ddl_command_end, function genie_upgrade.genie_fdw_ddl_check(), enabled O, %')
         AS "DDL check",
       bool_or(object = 'function genie_upgrade.genie_fdw_stats_reset()'
               AND details LIKE '%acl {postgres=X/postgres}%') AS "stats_reset not for PUBLIC"
  FROM captured GROUP BY install ORDER BY install;

-- what differs between the two (no rows)
(SELECT 'only when updated' AS "where", object, comment, details
   FROM captured WHERE install = 'updated from 1.0'
 EXCEPT ALL
 SELECT 'only when updated', object, comment, details
   FROM captured WHERE install = 'fresh')
UNION ALL
(SELECT 'only when fresh', object, comment, details
   FROM captured WHERE install = 'fresh'
 EXCEPT ALL
 SELECT 'only when fresh', object, comment, details
   FROM captured WHERE install = 'updated from 1.0')
ORDER BY 1, 2;

\c :regress_db
SET client_min_messages = warning;
DROP DATABASE genie_upgrade_check;
RESET client_min_messages;
