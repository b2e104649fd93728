/*-------------------------------------------------------------------------
 *
 * genie_fdw.c
 *		  Foreign-data wrapper callbacks for Databricks Genie.
 *
 * Owns the handler, the planner callbacks (finding "question = <expr>" in
 * the WHERE clause and keeping it for execution), the executor callbacks
 * (ask on the first fetch, stream the answer chunk by chunk with per-chunk
 * and per-row memory contexts), EXPLAIN output, and the module's GUCs.
 * Nothing here knows JSON or HTTP: answers come from genie_api.c as decoded
 * structs and rows become tuples through convert.c.
 *
 * Copyright (c) 2026, genie_fdw developers
 *
 * IDENTIFICATION
 *		  src/genie_fdw.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "portability/instr_time.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "genie_fdw.h"
#include "limiter.h"

PG_MODULE_MAGIC;

/* GUC: a NOTICE for each status change while waiting for Genie. */
bool		genie_progress = false;

/* Estimated rows of one answer (Genie answers are small and capped). */
#define ANSWER_ROWS_ESTIMATE	100
/* Asking Genie takes seconds: make the scan look expensive to start. */
#define ANSWER_STARTUP_COST		100000.0

/* Planner state kept in baserel->fdw_private. */
typedef struct GenieRelInfo
{
	AttrNumber	question_attno;
	RestrictInfo *question_rinfo;	/* question = <expr>, or NULL */
	Expr	   *question_expr;
	char	   *space_id;
} GenieRelInfo;

/* Positions in ForeignScan.fdw_private. */
enum FdwScanPrivateIndex
{
	FdwScanPrivateQuestionText,	/* how EXPLAIN shows the question, or "" */
	FdwScanPrivateSpaceId		/* space for EXPLAIN */
};

/* Execution state of one scan. */
typedef struct GenieScanState
{
	GenieOptions *opts;
	GenieConverter *conv;
	ExprState  *question_state; /* NULL when there is no question clause */

	MemoryContext answer_cxt;	/* the answer and its first chunk */
	MemoryContext chunk_cxt;	/* the current later chunk */
	MemoryContext row_cxt;		/* datums of the current row */

	GenieAnswer *answer;
	bool		started;
	bool		done;
	bool		metadata_row_pending;	/* text-only answer, one row */
	const GdChunk *chunk;		/* chunk being returned */
	int64		next_row;		/* index in chunk */
	int64		rows_returned;
	int			chunks_fetched;
	char	   *next_link;		/* copy of chunk->next_chunk_link */
	GenieCallStats stats;
	double		answer_seconds;
} GenieScanState;

PG_FUNCTION_INFO_V1(genie_fdw_handler);

void		_PG_init(void);

static void genieGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel,
								   Oid foreigntableid);
static void genieGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel,
								 Oid foreigntableid);
static ForeignScan *genieGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel,
										Oid foreigntableid, ForeignPath *best_path,
										List *tlist, List *scan_clauses,
										Plan *outer_plan);
static void genieBeginForeignScan(ForeignScanState *node, int eflags);
static TupleTableSlot *genieIterateForeignScan(ForeignScanState *node);
static void genieReScanForeignScan(ForeignScanState *node);
static void genieEndForeignScan(ForeignScanState *node);
static void genieExplainForeignScan(ForeignScanState *node, ExplainState *es);

/*
 * _PG_init
 *		Define the GUCs.
 */
void
_PG_init(void)
{
	DefineCustomBoolVariable("genie_fdw.progress",
							 "Report each status change of a Genie answer as a NOTICE.",
							 NULL,
							 &genie_progress,
							 false,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
	genie_limiter_init();

#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("genie_fdw");
#else
	EmitWarningsOnPlaceholders("genie_fdw");
#endif							/* PG_VERSION_NUM */
}

Datum
genie_fdw_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *routine = makeNode(FdwRoutine);

	routine->GetForeignRelSize = genieGetForeignRelSize;
	routine->GetForeignPaths = genieGetForeignPaths;
	routine->GetForeignPlan = genieGetForeignPlan;
	routine->BeginForeignScan = genieBeginForeignScan;
	routine->IterateForeignScan = genieIterateForeignScan;
	routine->ReScanForeignScan = genieReScanForeignScan;
	routine->EndForeignScan = genieEndForeignScan;
	routine->ExplainForeignScan = genieExplainForeignScan;

	PG_RETURN_POINTER(routine);
}

/* Strip binary-compatible casts (varchar to text). */
static Node *
strip_relabel(Node *n)
{
	while (n && IsA(n, RelabelType))
		n = (Node *) ((RelabelType *) n)->arg;
	return n;
}

static bool
is_question_var(Node *n, Index relid, AttrNumber attno)
{
	Var		   *v;

	n = strip_relabel(n);
	if (n == NULL || !IsA(n, Var))
		return false;
	v = (Var *) n;
	return v->varno == relid && v->varattno == attno && v->varlevelsup == 0;
}

/*
 * question_expr_of
 *		If clause is "question = expr" (either way round) with an expr that
 *		can be computed before the scan starts, return expr.
 */
static Expr *
question_expr_of(Expr *clause, Index relid, AttrNumber attno)
{
	OpExpr	   *op;
	Node	   *l;
	Node	   *r;
	Node	   *other;

	if (!IsA(clause, OpExpr))
		return NULL;
	op = (OpExpr *) clause;
	if (list_length(op->args) != 2 || get_opcode(op->opno) != F_TEXTEQ)
		return NULL;
	l = linitial(op->args);
	r = lsecond(op->args);
	if (is_question_var(l, relid, attno))
		other = r;
	else if (is_question_var(r, relid, attno))
		other = l;
	else
		return NULL;
	if (contain_var_clause(other) || contain_volatile_functions(other))
		return NULL;
	return (Expr *) other;
}

static void
genieGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel,
					   Oid foreigntableid)
{
	GenieRelInfo *info = palloc0(sizeof(GenieRelInfo));
	Relation	rel = table_open(foreigntableid, NoLock);
	ForeignTable *table = GetForeignTable(foreigntableid);
	ForeignServer *server = GetForeignServer(table->serverid);
	ListCell   *lc;

	info->question_attno = genie_question_attnum(foreigntableid, RelationGetDescr(rel));
	table_close(rel, NoLock);

	/* the space for EXPLAIN; the user mapping is not needed to plan */
	foreach(lc, list_concat_copy(table->options, server->options))
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "space_id") == 0 && info->space_id == NULL)
			info->space_id = defGetString(def);
	}

	if (info->question_attno != InvalidAttrNumber)
	{
		foreach(lc, baserel->baserestrictinfo)
		{
			RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
			Expr	   *e = question_expr_of(ri->clause, baserel->relid, info->question_attno);

			if (e != NULL)
			{
				info->question_rinfo = ri;
				info->question_expr = e;
				break;
			}
		}
	}

	baserel->fdw_private = info;
	baserel->rows = info->question_expr ? ANSWER_ROWS_ESTIMATE : 1000;
}

static void
genieGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel,
					 Oid foreigntableid)
{
	Cost		startup = ANSWER_STARTUP_COST;
	Cost		total = startup + baserel->rows * cpu_tuple_cost * 10;

	add_path(baserel, (Path *)
			 create_foreignscan_path(root, baserel, NULL, baserel->rows,
#if PG_VERSION_NUM >= 180000
									 0,
#endif
									 startup, total, NIL, NULL, NULL,
#if PG_VERSION_NUM >= 170000
									 NIL,
#endif
									 NIL));
}

/* How EXPLAIN shows the question expression. */
static char *
question_display(Expr *e)
{
	Node	   *n = strip_relabel((Node *) e);

	if (IsA(n, Const))
	{
		Const	   *c = (Const *) n;

		if (c->constisnull)
			return pstrdup("NULL");
		return quote_literal_cstr(TextDatumGetCString(c->constvalue));
	}
	if (IsA(n, Param) && ((Param *) n)->paramkind == PARAM_EXTERN)
		return psprintf("$%d", ((Param *) n)->paramid);
	return pstrdup("(computed at execution)");
}

static ForeignScan *
genieGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel,
					Oid foreigntableid, ForeignPath *best_path,
					List *tlist, List *scan_clauses, Plan *outer_plan)
{
	GenieRelInfo *info = (GenieRelInfo *) baserel->fdw_private;
	List	   *local = NIL;
	List	   *fdw_exprs = NIL;
	List	   *fdw_private;
	ListCell   *lc;

	foreach(lc, scan_clauses)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);

		/* every row carries exactly the question asked: no need to recheck */
		if (ri == info->question_rinfo)
			continue;
		local = lappend(local, ri->clause);
	}
	if (info->question_expr)
		fdw_exprs = list_make1(info->question_expr);

	fdw_private = list_make2(makeString(info->question_expr ? question_display(info->question_expr) : pstrdup("")),
							 makeString(info->space_id ? pstrdup(info->space_id) : pstrdup("")));

	return make_foreignscan(tlist, local, baserel->relid, fdw_exprs, fdw_private,
							NIL, NIL, outer_plan);
}

static void
genieBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	GenieScanState *gs;
	Oid			userid;

	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

#if PG_VERSION_NUM >= 160000
	userid = OidIsValid(fsplan->checkAsUser) ? fsplan->checkAsUser : GetUserId();
#else
	{
		RangeTblEntry *rte = exec_rt_fetch(fsplan->scan.scanrelid, estate);

		userid = OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();
	}
#endif							/* PG_VERSION_NUM */

	gs = palloc0(sizeof(GenieScanState));
	gs->opts = genie_get_options(RelationGetRelid(node->ss.ss_currentRelation), userid);
	gs->conv = genie_converter_create(node->ss.ss_currentRelation);
	if (fsplan->fdw_exprs != NIL)
		gs->question_state = ExecInitExpr(linitial(fsplan->fdw_exprs), (PlanState *) node);
	gs->answer_cxt = AllocSetContextCreate(estate->es_query_cxt, "genie_fdw answer",
										   ALLOCSET_DEFAULT_SIZES);
	gs->chunk_cxt = AllocSetContextCreate(estate->es_query_cxt, "genie_fdw chunk",
										  ALLOCSET_DEFAULT_SIZES);
	gs->row_cxt = AllocSetContextCreate(estate->es_query_cxt, "genie_fdw row",
										ALLOCSET_SMALL_SIZES);
	node->fdw_state = gs;
}

/*
 * evaluate_question
 *		The question for this scan; NULL when the expression is NULL.
 */
static char *
evaluate_question(ForeignScanState *node, GenieScanState *gs)
{
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	Datum		d;
	bool		isnull;
	char	   *q;

	if (gs->question_state == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_DYNAMIC_PARAMETER_VALUE_NEEDED),
				 errmsg("a query on foreign table \"%s\" needs a question",
						RelationGetRelationName(node->ss.ss_currentRelation)),
				 errhint("Add a condition such as WHERE question = 'Which products sell best?'.")));

	d = ExecEvalExpr(gs->question_state, econtext, &isnull);
	if (isnull)
		return NULL;
	q = TextDatumGetCString(d);
	if (q[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the question for foreign table \"%s\" is empty",
						RelationGetRelationName(node->ss.ss_currentRelation))));
	return q;
}

/*
 * start_answer
 *		Ask Genie (unless the same question was just answered, on rescan) and
 *		position the scan at the first row.
 */
static void
start_answer(ForeignScanState *node, GenieScanState *gs)
{
	MemoryContext old;
	char	   *question;
	GenieAnswer *answer;
	instr_time	start,
				end;

	gs->started = true;
	gs->done = false;
	gs->metadata_row_pending = false;
	gs->chunk = NULL;
	gs->next_row = 0;
	gs->rows_returned = 0;
	if (gs->next_link)
		pfree(gs->next_link);
	gs->next_link = NULL;
	MemoryContextReset(gs->chunk_cxt);

	old = MemoryContextSwitchTo(gs->row_cxt);
	question = evaluate_question(node, gs);
	MemoryContextSwitchTo(old);
	if (question == NULL)
	{
		/* question = NULL is never true */
		gs->done = true;
		return;
	}

	if (gs->answer == NULL || strcmp(gs->answer->question, question) != 0)
	{
		gs->answer = NULL;
		MemoryContextReset(gs->answer_cxt);
		old = MemoryContextSwitchTo(gs->answer_cxt);
		INSTR_TIME_SET_CURRENT(start);
		answer = genie_ask(gs->opts, question, NULL, &gs->stats);
		if (answer->message.attachment_id || answer->message.statement_id)
		{
			genie_fetch_result(gs->opts, answer, &gs->stats);
			genie_converter_bind(gs->conv, &answer->statement);
		}
		INSTR_TIME_SET_CURRENT(end);
		INSTR_TIME_SUBTRACT(end, start);
		gs->answer_seconds += INSTR_TIME_GET_DOUBLE(end);
		MemoryContextSwitchTo(old);
		gs->answer = answer;
	}
	answer = gs->answer;

	if (!answer->has_result)
	{
		/* a text-only answer (a clarification, say): no query, no rows */
		if (genie_converter_has_kind(gs->conv, GCOL_TEXT))
			gs->metadata_row_pending = true;
		else
		{
			ereport(NOTICE,
					(errmsg("Genie answered without a query"),
					 errdetail_internal("%s", answer->message.text ? answer->message.text : "(no text)"),
					 errhint("Add a column with OPTIONS (genie 'text') to get Genie's text as a row.")));
			gs->done = true;
		}
		return;
	}

	gs->chunk = &answer->statement.result;
	gs->chunks_fetched = 1;
	if (answer->statement.truncated || answer->message.is_truncated)
	{
		int64		shown = answer->statement.total_row_count;

		ereport(NOTICE,
				(errmsg("Genie's answer was truncated to %lld rows", (long long) shown),
				 answer->message.has_row_count && answer->message.row_count > shown
				 ? errdetail("The query found %lld rows.", (long long) answer->message.row_count) : 0,
				 errhint("Genie returns at most 5,000 rows per answer; ask a narrower question or aggregate.")));
	}
}

/*
 * next_chunk
 *		Replace the current chunk by the next one; false at the end.
 */
static bool
next_chunk(GenieScanState *gs)
{
	MemoryContext old;
	GdChunk		cursor;
	GdChunk    *next;
	bool		more;

	genie_stats_add(gs->opts, GSTAT_ROWS, gs->chunk->nrows);

	/* what we need of the current chunk, before its memory goes */
	memset(&cursor, 0, sizeof(cursor));
	cursor.has_next_index = gs->chunk->has_next_index;
	cursor.next_chunk_index = gs->chunk->next_chunk_index;
	if (gs->next_link)
		pfree(gs->next_link);
	gs->next_link = gs->chunk->next_chunk_link ? pstrdup(gs->chunk->next_chunk_link) : NULL;
	cursor.next_chunk_link = gs->next_link;

	gs->chunk = NULL;
	MemoryContextReset(gs->chunk_cxt);
	old = MemoryContextSwitchTo(gs->chunk_cxt);
	next = palloc0(sizeof(GdChunk));
	more = genie_fetch_next_chunk(gs->opts, gs->answer, &cursor, next, &gs->stats);
	MemoryContextSwitchTo(old);
	if (!more)
		return false;
	gs->chunk = next;
	gs->next_row = 0;
	gs->chunks_fetched++;
	return true;
}

static TupleTableSlot *
genieIterateForeignScan(ForeignScanState *node)
{
	GenieScanState *gs = (GenieScanState *) node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	const GdStatement *st;

	ExecClearTuple(slot);
	if (!gs->started)
		start_answer(node, gs);
	if (gs->done)
		return slot;

	MemoryContextReset(gs->row_cxt);

	if (gs->metadata_row_pending)
	{
		MemoryContext old = MemoryContextSwitchTo(gs->row_cxt);

		gs->conv->rownum = 1;
		genie_convert_row(gs->conv, gs->answer, NULL, NULL, NULL, 0,
						  slot->tts_values, slot->tts_isnull);
		MemoryContextSwitchTo(old);
		gs->metadata_row_pending = false;
		gs->done = true;
		return ExecStoreVirtualTuple(slot);
	}

	st = &gs->answer->statement;
	while (gs->next_row >= gs->chunk->nrows)
	{
		if (!next_chunk(gs))
		{
			gs->done = true;
			if (st->total_row_count > 0 && gs->rows_returned != st->total_row_count)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("Genie's answer ended after %lld rows, but its manifest announced %lld",
								(long long) gs->rows_returned, (long long) st->total_row_count)));
			return slot;
		}
	}

	{
		const GdChunk *c = gs->chunk;
		int64		first = c->row_start[gs->next_row];
		int			nvalues = (int) (c->row_start[gs->next_row + 1] - first);
		MemoryContext old;

		gs->rows_returned++;
		gs->conv->rownum = gs->rows_returned;
		if (nvalues != st->ncolumns)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg_plural("row %lld of Genie's answer has %d value, but its schema has %d columns",
								   "row %lld of Genie's answer has %d values, but its schema has %d columns",
								   nvalues, (long long) gs->rows_returned, nvalues, st->ncolumns)));
		old = MemoryContextSwitchTo(gs->row_cxt);
		genie_convert_row(gs->conv, gs->answer, st, c->values + first, c->lens + first,
						  nvalues, slot->tts_values, slot->tts_isnull);
		MemoryContextSwitchTo(old);
		gs->next_row++;
	}
	return ExecStoreVirtualTuple(slot);
}

static void
genieReScanForeignScan(ForeignScanState *node)
{
	GenieScanState *gs = (GenieScanState *) node->fdw_state;

	/* start over; the question is evaluated again and asked if it changed */
	gs->started = false;
}

static void
genieEndForeignScan(ForeignScanState *node)
{
	/* all memory belongs to es_query_cxt; curl is per backend */
}

static void
genieExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	char	   *question = strVal(list_nth(fsplan->fdw_private, FdwScanPrivateQuestionText));
	char	   *space = strVal(list_nth(fsplan->fdw_private, FdwScanPrivateSpaceId));
	GenieScanState *gs = (GenieScanState *) node->fdw_state;

	if (space[0])
		ExplainPropertyText("Genie Space", space, es);
	ExplainPropertyText("Genie Question", question[0] ? question : "(none)", es);

	if (es->analyze && gs && gs->answer)
	{
		GenieAnswer *a = gs->answer;

		ExplainPropertyText("Genie Conversation", a->conversation_id, es);
		ExplainPropertyText("Genie Message", a->message_id, es);
		if (a->message.statement_id)
			ExplainPropertyText("Genie Statement", a->message.statement_id, es);
		if (a->message.sql)
		{
			char	   *sql = pstrdup(a->message.sql);

			/* one line in text format, as the SQL is for reading there */
			if (es->format == EXPLAIN_FORMAT_TEXT)
			{
				char	   *p;

				for (p = sql; *p; p++)
					if (*p == '\n' || *p == '\r' || *p == '\t')
						*p = ' ';
			}
			ExplainPropertyText("Genie SQL", sql, es);
		}
		ExplainPropertyInteger("Genie Polls", NULL, gs->stats.polls, es);
		ExplainPropertyInteger("Genie Requests", NULL, gs->stats.requests, es);
		if (gs->stats.retries > 0 || es->format != EXPLAIN_FORMAT_TEXT)
			ExplainPropertyInteger("Genie Retries", NULL, gs->stats.retries, es);
		ExplainPropertyInteger("Genie Chunks", NULL, gs->chunks_fetched, es);
		if (es->timing)
			ExplainPropertyFloat("Genie Answer Time", "s", gs->answer_seconds, 3, es);
	}
}
