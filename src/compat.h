/*-------------------------------------------------------------------------
 *
 * compat.h
 *		  PostgreSQL version shims of genie_fdw: the one place that tests
 *		  PG_VERSION_NUM.
 *
 * genie_fdw supports PostgreSQL 15, 16, 17 and 18.  Every API that differs
 * between those majors is wrapped here, so that the .c files read the same
 * on all of them; a new difference gets a shim here, not an #if in a .c
 * file.  What each shim covers (checked against the headers of
 * REL_15_STABLE .. REL_18_STABLE):
 *
 *	EXPLAIN headers			18 moved ExplainState to commands/explain_state.h
 *							and ExplainProperty*() to commands/explain_format.h
 *	genie_create_foreignscan_path
 *							17 added fdw_restrictinfo; 18 added disabled_nodes
 *	genie_scan_user			16 moved checkAsUser from the range table entry
 *							to ForeignScan
 *	genie_foreign_server_aclcheck
 *							16 replaced pg_foreign_server_aclcheck() by
 *							object_aclcheck()
 *	GetNumberFromPGProc		17 dropped PGPROC.pgprocno for this macro
 *	genie_parse_type_string	16 replaced parseTypeString()'s missing_ok by
 *							an error-save context
 *	GENIE_HAVE_SOFT_INPUT	16 added InputFunctionCallSafe() and
 *							ErrorSaveContext (nodes/miscnodes.h)
 *	GENIE_HAVE_CUSTOM_WAIT_EVENTS
 *							17 added WaitEventExtensionNew()
 *
 * Needing no shim on 15+ (so none here): shmem_request_hook,
 * InitMaterializedSRF(), MarkGUCPrefixReserved(), pull_varnos(root, ...),
 * MaxBackends known in shmem_request_hook, common/pg_prng.h
 * (pg_prng_double, pg_global_prng_state), PG_WAIT_EXTENSION,
 * get_timeout_active() and get_timeout_{start,finish}_time() (the running
 * statement_timeout's deadline, request.c).
 *
 * Copyright (c) 2026, genie_fdw developers
 *
 * IDENTIFICATION
 *		  src/compat.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef GENIE_COMPAT_H
#define GENIE_COMPAT_H

#include "postgres.h"

#if PG_VERSION_NUM < 150000
#error "genie_fdw needs PostgreSQL 15 or later"
#endif

/* ----------
 * EXPLAIN: ExplainState, ExplainProperty*()
 * ----------
 */
#include "commands/explain.h"
#if PG_VERSION_NUM >= 180000
#include "commands/explain_format.h"
#include "commands/explain_state.h"
#endif

/* ----------
 * genie_create_foreignscan_path(root, rel, target, rows, disabled_nodes,
 *								 startup_cost, total_cost, pathkeys,
 *								 required_outer, fdw_outerpath, fdw_private)
 *		create_foreignscan_path() on every version, fdw_restrictinfo NIL
 *		(17+).  disabled_nodes counts on 18 only; before 18 the planner has
 *		no such count, and the caller's costs must say it all.
 * ----------
 */
#if PG_VERSION_NUM >= 180000
#define genie_create_foreignscan_path(root, rel, target, rows, disabled_nodes, \
									  startup_cost, total_cost, pathkeys, \
									  required_outer, fdw_outerpath, fdw_private) \
	create_foreignscan_path((root), (rel), (target), (rows), (disabled_nodes), \
							(startup_cost), (total_cost), (pathkeys), \
							(required_outer), (fdw_outerpath), NIL, (fdw_private))
#elif PG_VERSION_NUM >= 170000
#define genie_create_foreignscan_path(root, rel, target, rows, disabled_nodes, \
									  startup_cost, total_cost, pathkeys, \
									  required_outer, fdw_outerpath, fdw_private) \
	create_foreignscan_path((root), (rel), (target), (rows), \
							(startup_cost), (total_cost), (pathkeys), \
							(required_outer), (fdw_outerpath), NIL, (fdw_private))
#else
#define genie_create_foreignscan_path(root, rel, target, rows, disabled_nodes, \
									  startup_cost, total_cost, pathkeys, \
									  required_outer, fdw_outerpath, fdw_private) \
	create_foreignscan_path((root), (rel), (target), (rows), \
							(startup_cost), (total_cost), (pathkeys), \
							(required_outer), (fdw_outerpath), (fdw_private))
#endif

/* ----------
 * genie_scan_user(fsplan, estate)
 *		The user a ForeignScan checks permissions as (InvalidOid: the
 *		current user).  Range table entries lost checkAsUser in 16.
 * ----------
 */
#if PG_VERSION_NUM >= 160000
#define genie_scan_user(fsplan, estate) ((fsplan)->checkAsUser)
#else
#define genie_scan_user(fsplan, estate) \
	(exec_rt_fetch((fsplan)->scan.scanrelid, (estate))->checkAsUser)
#endif

/* ----------
 * genie_foreign_server_aclcheck(serverid, roleid, mode)
 *		AclResult of roleid's mode (ACL_USAGE) on a foreign server.
 * ----------
 */
#if PG_VERSION_NUM >= 160000
#define genie_foreign_server_aclcheck(serverid, roleid, mode) \
	object_aclcheck(ForeignServerRelationId, (serverid), (roleid), (mode))
#else
#define genie_foreign_server_aclcheck(serverid, roleid, mode) \
	pg_foreign_server_aclcheck((serverid), (roleid), (mode))
#endif

/* ----------
 * GetNumberFromPGProc(proc): a backend's PGPROC number (storage/proc.h)
 * ----------
 */
#if PG_VERSION_NUM < 170000
#define GetNumberFromPGProc(proc) ((proc)->pgprocno)
#endif

/* ----------
 * genie_parse_type_string(str, typid_p, typmod_p)
 *		parseTypeString() raising an error for an unknown type.
 * ----------
 */
#if PG_VERSION_NUM >= 160000
#define genie_parse_type_string(str, typid_p, typmod_p) \
	parseTypeString((str), (typid_p), (typmod_p), NULL)
#else
#define genie_parse_type_string(str, typid_p, typmod_p) \
	parseTypeString((str), (typid_p), (typmod_p), false)
#endif

/* ----------
 * GENIE_HAVE_SOFT_INPUT: input functions can report bad input into an
 * ErrorSaveContext (InputFunctionCallSafe) instead of raising it.
 * ----------
 */
#if PG_VERSION_NUM >= 160000
#include "nodes/miscnodes.h"
#define GENIE_HAVE_SOFT_INPUT 1
#endif

/* ----------
 * GENIE_HAVE_CUSTOM_WAIT_EVENTS: an extension may name its own wait events
 * (WaitEventExtensionNew); before that it reports PG_WAIT_EXTENSION.
 * ----------
 */
#if PG_VERSION_NUM >= 170000
#define GENIE_HAVE_CUSTOM_WAIT_EVENTS 1
#endif

#endif							/* GENIE_COMPAT_H */
