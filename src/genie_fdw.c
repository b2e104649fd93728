/*-------------------------------------------------------------------------
 *
 * genie_fdw.c
 *		  Foreign-data wrapper callbacks for Databricks Genie.
 *
 * Owns the handler, the planner callbacks (finding "question = <expr>" in
 * the WHERE clause and keeping it for execution), the executor callbacks
 * (ask on the first fetch, stream the answer chunk by chunk with per-chunk
 * and per-row memory contexts), EXPLAIN output, the module's GUCs, and the
 * DDL check (the event trigger that refuses a table that cannot work).
 * Nothing here knows JSON or HTTP: answers come from ask.c and chunks.c
 * as decoded structs and rows become tuples through convert.c.
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
#include "access/sysattr.h"
#include "access/table.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "commands/event_trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/paths.h"
#include "optimizer/pathnode.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "portability/instr_time.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "genie_fdw.h"
#include "limiter.h"
#include "request.h"

PG_MODULE_MAGIC;

/* GUC: a NOTICE for each status change while waiting for Genie. */
bool		genie_progress = false;

/* Estimated rows of one answer (Genie answers are small and capped). */
#define ANSWER_ROWS_ESTIMATE	100
/*
 * Asking Genie takes seconds: make the scan look expensive to start, but
 * stay well below jit_above_cost (100,000), or every query would be JIT
 * compiled.
 */
#define ANSWER_STARTUP_COST		10000.0
/*
 * A rescan of a parameterized path asks only when the outer row brings a
 * new question (the last answer is kept), and its cost is multiplied by
 * the outer rows: keep it small, so that a nested loop over tens of
 * thousands of rows stays below jit_above_cost (JIT compiling a query that
 * waits on Genie costs time and tens of megabytes for nothing).
 */
#define RESCAN_STARTUP_COST		1.0
/*
 * A path that cannot get its question (only a join can give it) must
 * never win, however many rows the other side has: disable_cost (1e10)
 * is beaten by a parameterized nested loop over a million rows, so such a
 * path costs far more.  It stays, so that a query no nested loop can
 * serve still plans and then says what is missing.
 */
#define UNUSABLE_PATH_COST		1.0e30

/* Planner state kept in baserel->fdw_private. */
typedef struct GenieRelInfo
{
	AttrNumber	question_attno;
	AttrNumber	conversation_attno;
	bool		has_question;	/* a restriction gives the question(s) */
	bool		question_or;	/* none does, but an OR of question
								 * conditions was written (hint: IN) */
	List	   *join_questions; /* join clauses "question = outer expr" */
	char	   *space_id;
} GenieRelInfo;

/* Positions in ForeignScan.fdw_private. */
enum FdwScanPrivateIndex
{
	FdwScanPrivateQuestionText, /* how EXPLAIN shows the question, or "" */
	FdwScanPrivateSpaceId,		/* space for EXPLAIN */
	FdwScanPrivateQuestionIsArray,	/* question = ANY(array) */
	FdwScanPrivateConversationText, /* follow-up conversation for EXPLAIN */
	FdwScanPrivateQuestionOr,	/* no question, but an OR of question
								 * conditions (GenieRelInfo.question_or) */
	FdwScanPrivateAttrsUsed		/* attnums the query reads (0: whole row) */
};

/* Execution state of one scan. */
typedef struct GenieScanState
{
	GenieOptions *opts;
	GenieConverter *conv;
	ExprState  *question_state; /* NULL when there is no question clause */
	bool		question_is_array;
	bool		question_or;	/* FdwScanPrivateQuestionOr */
	char	   *question_column;	/* quoted, for hints */
	ExprState  *conversation_state; /* follow-ups: conversation_id = ... */

	MemoryContext batch_cxt;	/* the questions of one (re)scan */
	MemoryContext keep_cxt;		/* an answer kept for a rescan */
	MemoryContext row_cxt;		/* datums of the current row */

	GenieAskSet *set;
	int			nquestions;
	GenieAnswer *answer;		/* being returned, or kept */
	bool		answer_exhausted;
	bool		started;
	bool		done;
	bool		metadata_row_pending;	/* text-only answer, one row */
	GenieCursor *cursor;		/* over the current answer's chunks */
	const GdChunk *chunk;		/* chunk being returned */
	int64		next_row;		/* index in chunk */
	int64		rows_returned;	/* of the current answer */
	int			chunks_fetched;
	int			answers;
	int			cache_hits;
	GenieCallStats stats;
	double		answer_seconds;
} GenieScanState;

PG_FUNCTION_INFO_V1(genie_fdw_handler);
PG_FUNCTION_INFO_V1(genie_fdw_ddl_check);

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
static void close_cursor(GenieScanState *gs);
static TupleTableSlot *iterate_scan(ForeignScanState *node, GenieScanState *gs);

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
	genie_cache_init();
	genie_credentials_init();
#ifdef GENIE_FAULT_INJECTION
	DefineCustomBoolVariable("genie_fdw.debug_fail_headers",
							 "Debug builds: fail building request headers as if libcurl ran out of memory.",
							 NULL,
							 &genie_debug_fail_headers,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
#endif

	MarkGUCPrefixReserved("genie_fdw");
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
	routine->ImportForeignSchema = genie_import_foreign_schema;

	PG_RETURN_POINTER(routine);
}

/*
 * genie_is_genie_server
 *		Is this server one of genie_fdw's?
 */
bool
genie_is_genie_server(Oid serverid)
{
	FdwRoutine *routine = GetFdwRoutineByServerId(serverid);

	return routine->GetForeignRelSize == genieGetForeignRelSize;
}

/*
 * is_genie_table
 *		Is relid a foreign table of a genie_fdw server?  The wrapper's
 *		handler is recognised by its C symbol, without calling it (nor
 *		loading another wrapper's library).
 */
static bool
is_genie_table(Oid relid)
{
	ForeignTable *table;
	ForeignDataWrapper *fdw;
	char	   *mod;
	char	   *fn;

	if (get_rel_relkind(relid) != RELKIND_FOREIGN_TABLE)
		return false;
	table = GetForeignTable(relid);
	fdw = GetForeignDataWrapper(GetForeignServer(table->serverid)->fdwid);
	if (!OidIsValid(fdw->fdwhandler))
		return false;
	fmgr_symbol(fdw->fdwhandler, &mod, &fn);
	return mod != NULL && fn != NULL && strcmp(fn, "genie_fdw_handler") == 0 &&
		(PGFunction) load_external_function(mod, fn, false, NULL) == genie_fdw_handler;
}

/*
 * genie_fdw_ddl_check
 *		Event trigger (ddl_command_end of CREATE FOREIGN TABLE, ALTER
 *		FOREIGN TABLE, ALTER TABLE and IMPORT FOREIGN SCHEMA): the genie_fdw
 *		tables the command created or altered must be able to work
 *		(genie_check_columns), so that a table without a question column, or
 *		with a column of the wrong type, is refused when it is defined, not
 *		when it is first asked.  The validator cannot do it: it sees one
 *		option list at a time, never the columns and their types.
 *
 *		A restore creates a table first and gives its columns their options
 *		after (pg_dump writes ALTER FOREIGN TABLE ... ALTER COLUMN ...
 *		OPTIONS): with check_function_bodies off, as pg_dump's scripts set
 *		it for the same reason (definitions that refer to what comes later),
 *		and in binary upgrade, nothing is checked here; planning checks
 *		every scan anyway.
 */
Datum
genie_fdw_ddl_check(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = CurrentMemoryContext;
	List	   *relids = NIL;
	ListCell   *lc;
	uint64		i;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_EVENT_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("genie_fdw_ddl_check() must be called as an event trigger")));
	if (!check_function_bodies || IsBinaryUpgrade)
		PG_RETURN_VOID();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT DISTINCT objid FROM pg_catalog.pg_event_trigger_ddl_commands() "
					"WHERE classid = 'pg_catalog.pg_class'::pg_catalog.regclass",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list the commands of the event trigger");
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
		{
			/* outside SPI's memory, which SPI_finish frees */
			MemoryContext old = MemoryContextSwitchTo(cxt);

			relids = lappend_oid(relids, DatumGetObjectId(d));
			MemoryContextSwitchTo(old);
		}
	}
	SPI_finish();

	foreach(lc, relids)
	{
		Oid			relid = lfirst_oid(lc);
		Relation	rel;

		if (!is_genie_table(relid))
			continue;
		rel = table_open(relid, AccessShareLock);
		(void) genie_check_columns(relid, RelationGetDescr(rel));
		table_close(rel, AccessShareLock);
	}
	PG_RETURN_VOID();
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
 * other_side_ok
 *		May expr be computed before (or, for a parameterized path, at each
 *		rescan of) the scan of relid?  It must not reference relid nor call
 *		volatile functions; it references other relations only when
 *		allow_outer.
 */
static bool
other_side_ok(PlannerInfo *root, Node *expr, Index relid, bool allow_outer)
{
	Relids		varnos;

	if (contain_volatile_functions(expr))
		return false;
	varnos = pull_varnos(root, expr);
	if (bms_is_member(relid, varnos))
		return false;
	if (!allow_outer && !bms_is_empty(varnos))
		return false;
	/* placeholders and outer-level Vars are not worth the trouble */
	return !contain_var_clause(expr) || allow_outer;
}

/*
 * text_eq_expr_of
 *		If clause is "column = expr" (either way round) on the given column
 *		of relid, with a computable expr, return expr.  With allow_array,
 *		"column = ANY(expr)" (and so "column IN (...)") qualifies too, and
 *		*is_array says which it was.
 */
static Expr *
text_eq_expr_of(PlannerInfo *root, Expr *clause, Index relid, AttrNumber attno,
				bool allow_outer, bool allow_array, bool *is_array)
{
	Node	   *l;
	Node	   *r;
	Node	   *other;

	if (is_array)
		*is_array = false;
	if (attno == InvalidAttrNumber)
		return NULL;
	if (IsA(clause, OpExpr))
	{
		OpExpr	   *op = (OpExpr *) clause;

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
	}
	else if (allow_array && IsA(clause, ScalarArrayOpExpr))
	{
		ScalarArrayOpExpr *saop = (ScalarArrayOpExpr *) clause;

		if (!saop->useOr || list_length(saop->args) != 2 ||
			get_opcode(saop->opno) != F_TEXTEQ ||
			!is_question_var(linitial(saop->args), relid, attno))
			return NULL;
		other = lsecond(saop->args);
		if (is_array)
			*is_array = true;
	}
	else
		return NULL;
	if (!other_side_ok(root, other, relid, allow_outer))
		return NULL;
	return (Expr *) other;
}

/*
 * is_or_of_questions
 *		Is clause "question = 'a' OR question = 'b' ..." (each arm a
 *		question condition)?  Such a clause gives no question; the error
 *		then hints at IN (...).
 */
static bool
is_or_of_questions(PlannerInfo *root, Expr *clause, Index relid,
				   AttrNumber attno, bool allow_outer)
{
	ListCell   *lc;

	if (!is_orclause(clause))
		return false;
	foreach(lc, ((BoolExpr *) clause)->args)
	{
		Expr	   *arm = (Expr *) lfirst(lc);

		if (!text_eq_expr_of(root, arm, relid, attno, allow_outer, true, NULL) &&
			!is_or_of_questions(root, arm, relid, attno, allow_outer))
			return false;
	}
	return true;
}

/* Is an equivalence-class member our question column? */
static bool
ec_member_is_question(PlannerInfo *root, RelOptInfo *rel,
					  EquivalenceClass *ec, EquivalenceMember *em, void *arg)
{
	GenieRelInfo *info = (GenieRelInfo *) arg;

	return is_question_var((Node *) em->em_expr, rel->relid, info->question_attno);
}

static void
genieGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel,
					   Oid foreigntableid)
{
	GenieRelInfo *info = palloc0(sizeof(GenieRelInfo));
	Relation	rel = table_open(foreigntableid, NoLock);
	TupleDesc	tupdesc = RelationGetDescr(rel);
	ForeignTable *table = GetForeignTable(foreigntableid);
	ForeignServer *server = GetForeignServer(table->serverid);
	bool		lateral = !bms_is_empty(baserel->lateral_relids);
	ListCell   *lc;
	int			i;

	/* a table that cannot work is refused before anything is asked */
	info->question_attno = genie_check_columns(foreigntableid, tupdesc);
	for (i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		if (!att->attisdropped &&
			genie_column_kind(foreigntableid, att->attnum, NameStr(att->attname), NULL) == GCOL_CONVERSATION_ID)
		{
			info->conversation_attno = att->attnum;
			break;
		}
	}
	table_close(rel, NoLock);

	/* the space for EXPLAIN; the user mapping is not needed to plan */
	foreach(lc, list_concat_copy(table->options, server->options))
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "space_id") == 0 && info->space_id == NULL)
			info->space_id = defGetString(def);
	}

	foreach(lc, baserel->baserestrictinfo)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);

		if (text_eq_expr_of(root, ri->clause, baserel->relid, info->question_attno,
							lateral, true, NULL))
			info->has_question = true;
		else if (is_or_of_questions(root, ri->clause, baserel->relid,
									info->question_attno, lateral))
			info->question_or = true;
	}
	/*
	 * Join clauses that give the question: plain ones, and those implied by
	 * equivalence classes ("ON g.question = q.text" is one).
	 */
	foreach(lc, list_concat_copy(baserel->joininfo,
								 info->question_attno == InvalidAttrNumber ? NIL :
								 generate_implied_equalities_for_column(root, baserel,
																		ec_member_is_question,
																		info,
																		baserel->lateral_referencers)))
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);

		if (text_eq_expr_of(root, ri->clause, baserel->relid, info->question_attno,
							true, false, NULL))
			info->join_questions = lappend(info->join_questions, ri);
	}

	baserel->fdw_private = info;
	baserel->rows = info->has_question ? ANSWER_ROWS_ESTIMATE : 1000;
}

static ForeignPath *
make_path(PlannerInfo *root, RelOptInfo *baserel, double rows,
		  Relids required_outer, bool unusable)
{
	Cost		startup = bms_is_empty(required_outer) ? ANSWER_STARTUP_COST : RESCAN_STARTUP_COST;
	Cost		total;

	if (unusable)
		startup += UNUSABLE_PATH_COST;
	total = startup + rows * cpu_tuple_cost * 10;
	return genie_create_foreignscan_path(root, baserel, NULL, rows,
										 unusable ? 1 : 0,
										 startup, total, NIL, required_outer,
										 NULL, NIL);
}

/*
 * genieGetForeignPaths
 *		The plain path, and one parameterized path per join clause that
 *		gives the question ("ON g.question = q.text"): each outer row's
 *		question is asked on a rescan.  When only a join can give the
 *		question, the plain path would fail at run time, so it costs more
 *		than any plan that can be chosen instead (UNUSABLE_PATH_COST).
 */
static void
genieGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel,
					 Oid foreigntableid)
{
	GenieRelInfo *info = (GenieRelInfo *) baserel->fdw_private;
	ListCell   *lc;

	add_path(baserel, (Path *) make_path(root, baserel, baserel->rows,
										 baserel->lateral_relids,
										 !info->has_question && info->join_questions != NIL));

	foreach(lc, info->join_questions)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
		Relids		outer;
		ParamPathInfo *ppi;

		outer = pull_varnos(root, (Node *) ri->clause);
		outer = bms_del_member(bms_copy(outer), baserel->relid);
		outer = bms_union(outer, baserel->lateral_relids);
		if (bms_is_empty(outer))
			continue;
		ppi = get_baserel_parampathinfo(root, baserel, outer);
		add_path(baserel, (Path *) make_path(root, baserel,
											 Min(ppi->ppi_rows, ANSWER_ROWS_ESTIMATE),
											 outer, false));
	}
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
		if (type_is_array(c->consttype))
		{
			char	   *s = OidOutputFunctionCall(F_ARRAY_OUT, c->constvalue);

			return quote_literal_cstr(s);
		}
		return quote_literal_cstr(TextDatumGetCString(c->constvalue));
	}
	if (IsA(n, Param) && ((Param *) n)->paramkind == PARAM_EXTERN)
		return psprintf("$%d", ((Param *) n)->paramid);
	if (IsA(n, ArrayExpr))
		return pstrdup("(list computed at execution)");
	if (contain_var_clause(n))
		return pstrdup("(from the joined row)");
	return pstrdup("(computed at execution)");
}

static ForeignScan *
genieGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel,
					Oid foreigntableid, ForeignPath *best_path,
					List *tlist, List *scan_clauses, Plan *outer_plan)
{
	GenieRelInfo *info = (GenieRelInfo *) baserel->fdw_private;
	List	   *local = NIL;
	Expr	   *question = NULL;
	Expr	   *conversation = NULL;
	bool		is_array = false;
	List	   *fdw_exprs;
	List	   *fdw_private;
	Bitmapset  *attrs = NULL;
	List	   *attrs_used = NIL;
	int			k;
	ListCell   *lc;

	foreach(lc, scan_clauses)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
		bool		arr = false;
		Expr	   *e;

		/*
		 * Every row carries exactly the question (and conversation) it
		 * answers, so the clause that gives them needs no recheck.
		 */
		if (question == NULL &&
			(e = text_eq_expr_of(root, ri->clause, baserel->relid, info->question_attno,
								 true, true, &arr)) != NULL)
		{
			question = e;
			is_array = arr;
			continue;
		}
		if (conversation == NULL &&
			(e = text_eq_expr_of(root, ri->clause, baserel->relid, info->conversation_attno,
								 true, false, NULL)) != NULL)
		{
			conversation = e;
			continue;
		}
		local = lappend(local, ri->clause);
	}

	/* the columns the query reads: above the scan, and in its own quals */
	pull_varattnos((Node *) baserel->reltarget->exprs, baserel->relid, &attrs);
	pull_varattnos((Node *) local, baserel->relid, &attrs);
	k = -1;
	while ((k = bms_next_member(attrs, k)) >= 0)
	{
		int			attnum = k + FirstLowInvalidHeapAttributeNumber;

		if (attnum >= 0)
			attrs_used = lappend_int(attrs_used, attnum);
	}

	fdw_exprs = list_make2(question, conversation);
	fdw_private = list_make4(makeString(question ? question_display(question) : pstrdup("")),
							 makeString(info->space_id ? pstrdup(info->space_id) : pstrdup("")),
							 makeInteger(is_array ? 1 : 0),
							 makeString(conversation ? question_display(conversation) : pstrdup("")));
	fdw_private = lappend(fdw_private, makeInteger(info->question_or ? 1 : 0));
	fdw_private = lappend(fdw_private, attrs_used);

	return make_foreignscan(tlist, local, baserel->relid, fdw_exprs, fdw_private,
							NIL, NIL, outer_plan);
}

/* The question column's name, quoted, for hints. */
static char *
question_column_name(Relation rel, const GenieConverter *conv)
{
	int			i;

	for (i = 0; i < conv->natts; i++)
		if (!conv->cols[i].dropped && conv->cols[i].kind == GCOL_QUESTION)
			return pstrdup(quote_identifier(NameStr(TupleDescAttr(RelationGetDescr(rel), i)->attname)));
	return pstrdup("question");
}

static void
genieBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	GenieScanState *gs;
	Oid			userid;
	Expr	   *question = linitial(fsplan->fdw_exprs);
	Expr	   *conversation = lsecond(fsplan->fdw_exprs);

	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	userid = genie_scan_user(fsplan, estate);
	if (!OidIsValid(userid))
		userid = GetUserId();

	gs = palloc0(sizeof(GenieScanState));
	gs->opts = genie_get_options(RelationGetRelid(node->ss.ss_currentRelation), userid);
	gs->conv = genie_converter_create(node->ss.ss_currentRelation);
	genie_converter_set_used(gs->conv, (List *) list_nth(fsplan->fdw_private,
														 FdwScanPrivateAttrsUsed));
	gs->question_or = intVal(list_nth(fsplan->fdw_private, FdwScanPrivateQuestionOr)) != 0;
	gs->question_column = question_column_name(node->ss.ss_currentRelation, gs->conv);
	if (question)
		gs->question_state = ExecInitExpr(question, (PlanState *) node);
	gs->question_is_array = intVal(list_nth(fsplan->fdw_private, FdwScanPrivateQuestionIsArray)) != 0;
	if (conversation)
		gs->conversation_state = ExecInitExpr(conversation, (PlanState *) node);
	gs->batch_cxt = AllocSetContextCreate(estate->es_query_cxt, "genie_fdw questions",
										  ALLOCSET_DEFAULT_SIZES);
	gs->keep_cxt = AllocSetContextCreate(estate->es_query_cxt, "genie_fdw kept answer",
										 ALLOCSET_SMALL_SIZES);
	gs->row_cxt = AllocSetContextCreate(estate->es_query_cxt, "genie_fdw row",
										ALLOCSET_SMALL_SIZES);
	node->fdw_state = gs;
}

/*
 * no_question_detail, no_question_hint
 *		What a scan without a question is told: the condition to add, on
 *		the table's own question column; IN (...) when an OR of question
 *		conditions was written.
 */
static int
no_question_detail(const GenieScanState *gs)
{
	if (gs->question_or)
		return errdetail("An OR of conditions on the question column gives no question.");
	return 0;
}

static int
no_question_hint(const GenieScanState *gs)
{
	if (gs->question_or)
		return errhint("Give several questions as a list: WHERE %s IN ('Which products sell best?', 'How many orders per region?').",
					   gs->question_column);
	return errhint("Add a condition such as WHERE %s = 'Which products sell best?'.",
				   gs->question_column);
}

/*
 * evaluate_questions
 *		The questions of this scan, in CurrentMemoryContext: one, or the
 *		distinct non-NULL elements of an array; none when the question is
 *		NULL.
 */
static List *
evaluate_questions(ForeignScanState *node, GenieScanState *gs)
{
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	const char *relname = RelationGetRelationName(node->ss.ss_currentRelation);
	List	   *questions = NIL;
	Datum		d;
	bool		isnull;
	ListCell   *lc;

	if (gs->question_state == NULL && gs->opts->without_question_empty)
	{
		/* a BI tool's preview or sync: nothing to ask, no rows */
		ereport(NOTICE,
				(errmsg("foreign table \"%s\" returns no rows without a question", relname),
				 no_question_detail(gs), no_question_hint(gs)));
		return NIL;
	}
	if (gs->question_state == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_DYNAMIC_PARAMETER_VALUE_NEEDED),
				 errmsg("a query on foreign table \"%s\" needs a question", relname),
				 no_question_detail(gs), no_question_hint(gs)));

	d = ExecEvalExpr(gs->question_state, econtext, &isnull);
	if (isnull)
		return NIL;
	if (gs->question_is_array)
	{
		ArrayType  *arr = DatumGetArrayTypeP(d);
		Datum	   *elems;
		bool	   *nulls;
		int			n;
		int			i;

		deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
		for (i = 0; i < n; i++)
		{
			char	   *q;
			bool		dup = false;

			if (nulls[i])
				continue;
			q = TextDatumGetCString(elems[i]);
			foreach(lc, questions)
				if (strcmp((char *) lfirst(lc), q) == 0)
					dup = true;
			if (!dup)
				questions = lappend(questions, q);
		}
	}
	else
		questions = list_make1(TextDatumGetCString(d));

	/* Genie refuses an empty or blank question (HTTP 400): not sent */
	foreach(lc, questions)
	{
		const char *q = (const char *) lfirst(lc);

		if (q[strspn(q, " \t\n\r\v\f")] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the question for foreign table \"%s\" is empty", relname),
					 q[0] != '\0' ? errdetail("The question holds only white space.") : 0));
	}
	return questions;
}

/* The follow-up conversation, NULL for none; *isnull when it is SQL NULL. */
static char *
evaluate_conversation(ForeignScanState *node, GenieScanState *gs, bool *isnull)
{
	Datum		d;

	*isnull = false;
	if (gs->conversation_state == NULL)
		return NULL;
	d = ExecEvalExpr(gs->conversation_state, node->ss.ps.ps_ExprContext, isnull);
	if (*isnull)
		return NULL;
	return TextDatumGetCString(d);
}

static bool
same_string(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Position the scan at the first row of an answer. */
static void
begin_answer(GenieScanState *gs, GenieAnswer *answer)
{
	gs->answer = answer;
	gs->answer_exhausted = false;
	gs->answers++;
	if (answer->from_cache)
		gs->cache_hits++;
	gs->chunk = NULL;
	gs->next_row = 0;
	gs->rows_returned = 0;
	gs->metadata_row_pending = false;

	if (!answer->has_result)
	{
		/* a text-only answer (a clarification, say): no query, no rows */
		const GdMessage *msg = &answer->message;

		if (genie_converter_has_kind(gs->conv, GCOL_TEXT) ||
			genie_converter_has_kind(gs->conv, GCOL_FOLLOW_UP))
			gs->metadata_row_pending = true;
		else
		{
			ereport(NOTICE,
					(errmsg("Genie answered without a query"),
					 errdetail_internal("%s", msg->text ? msg->text :
										msg->follow_up ? msg->follow_up : "(no text)"),
					 errhint("Add a column with OPTIONS (genie 'text') or (genie 'follow_up') to get Genie's text as a row.")));
			gs->answer_exhausted = true;
		}
		return;
	}

	genie_converter_bind(gs->conv, &answer->statement, answer->cxt);
	{
		MemoryContext old = MemoryContextSwitchTo(answer->cxt);

		gs->cursor = genie_cursor_open(gs->opts, answer, &gs->stats);
		MemoryContextSwitchTo(old);
	}
	gs->chunk = genie_cursor_next(gs->cursor);
	gs->chunks_fetched++;
	if (answer->statement.truncated ||
		(answer->message.is_truncated && !answer->full_result))
	{
		int64		shown = answer->statement.total_row_count;

		ereport(NOTICE,
				(errmsg("Genie's answer was truncated to %lld rows", (long long) shown),
				 answer->message.has_row_count && answer->message.row_count > shown
				 ? errdetail("The query found %lld rows.", (long long) answer->message.row_count) : 0,
				 errhint("Genie returns at most 5,000 rows per answer; option full_results 'true' on foreign table \"%s\" reads them all.",
						 gs->conv->relname)));
	}
}

/*
 * start_scan
 *		Evaluate the question(s) and start asking; an answer kept from the
 *		previous scan is used again when the same single question comes
 *		back (a rescan in a nested loop).
 */
static void
start_scan(ForeignScanState *node, GenieScanState *gs)
{
	MemoryContext old;
	List	   *questions;
	char	   *conversation;
	bool		conv_null;
	ListCell   *lc;
	GenieAnswer *kept = gs->answer;

	gs->started = true;
	gs->done = false;
	gs->answer = NULL;
	gs->set = NULL;
	close_cursor(gs);

	/* keep the last answer out of the batch context that is reset now */
	if (kept)
		MemoryContextSetParent(kept->cxt, gs->keep_cxt);
	MemoryContextReset(gs->batch_cxt);

	old = MemoryContextSwitchTo(gs->batch_cxt);
	questions = evaluate_questions(node, gs);
	conversation = evaluate_conversation(node, gs, &conv_null);
	MemoryContextSwitchTo(old);

	if (questions == NIL || conv_null)
	{
		/* question = NULL is never true */
		if (kept)
			genie_answer_free(kept);
		gs->done = true;
		return;
	}

	if (kept && list_length(questions) == 1 &&
		strcmp(kept->question, (char *) linitial(questions)) == 0 &&
		(conversation == NULL || same_string(kept->conversation_id, conversation)))
	{
		MemoryContextSetParent(kept->cxt, gs->batch_cxt);
		begin_answer(gs, kept);
		return;
	}
	if (kept)
		genie_answer_free(kept);

	old = MemoryContextSwitchTo(gs->batch_cxt);
	gs->set = genie_askset_create(gs->opts, gs->opts->max_concurrent, &gs->stats);
	foreach(lc, questions)
		genie_askset_add(gs->set, (char *) lfirst(lc), conversation);
	gs->nquestions = list_length(questions);
	MemoryContextSwitchTo(old);
}

static void
close_cursor(GenieScanState *gs)
{
	if (gs->cursor)
		genie_cursor_close(gs->cursor);
	gs->cursor = NULL;
}

/*
 * finish_answer
 *		All rows of the current answer were returned.  A single question's
 *		answer is kept for a rescan; with several, each is freed at once so
 *		memory stays bounded.
 */
static void
finish_answer(GenieScanState *gs)
{
	const GdStatement *st = &gs->answer->statement;

	if (gs->answer->has_result && st->total_row_count > 0 &&
		gs->rows_returned != st->total_row_count)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Genie's answer ended after %lld rows, but its manifest announced %lld",
						(long long) gs->rows_returned, (long long) st->total_row_count)));
	gs->answer_exhausted = true;
	gs->chunk = NULL;
	close_cursor(gs);
	if (gs->nquestions > 1)
	{
		genie_answer_free(gs->answer);
		gs->answer = NULL;
	}
}

/*
 * genieIterateForeignScan
 *		The next row.  Everything allocated along the way that is not
 *		explicitly placed in a longer-lived context (the batch, an answer, a
 *		chunk) goes into row_cxt, reset at the next call: a scan that is
 *		rescanned a million times in a nested loop does not grow.
 */
static TupleTableSlot *
genieIterateForeignScan(ForeignScanState *node)
{
	GenieScanState *gs = (GenieScanState *) node->fdw_state;
	TupleTableSlot *slot;
	MemoryContext old;

	MemoryContextReset(gs->row_cxt);
	old = MemoryContextSwitchTo(gs->row_cxt);
	slot = iterate_scan(node, gs);
	MemoryContextSwitchTo(old);
	return slot;
}

static TupleTableSlot *
iterate_scan(ForeignScanState *node, GenieScanState *gs)
{
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;

	ExecClearTuple(slot);
	if (!gs->started)
		start_scan(node, gs);

	for (;;)
	{
		GenieAnswer *a = gs->answer;

		if (gs->done)
			return slot;

		if (a == NULL || gs->answer_exhausted)
		{
			GenieAnswer *next;
			instr_time	start,
						end;

			if (gs->set == NULL)
			{
				gs->done = true;
				continue;
			}
			INSTR_TIME_SET_CURRENT(start);
			next = genie_askset_next(gs->set);
			INSTR_TIME_SET_CURRENT(end);
			INSTR_TIME_SUBTRACT(end, start);
			gs->answer_seconds += INSTR_TIME_GET_DOUBLE(end);
			if (next == NULL)
			{
				gs->done = true;
				continue;
			}
			if (a != NULL && gs->nquestions == 1)
				genie_answer_free(a);
			begin_answer(gs, next);
			continue;
		}

		if (gs->metadata_row_pending)
		{
			MemoryContext old = MemoryContextSwitchTo(gs->row_cxt);

			gs->conv->rownum = 1;
			genie_convert_row(gs->conv, a, NULL, NULL, NULL, 0,
							  slot->tts_values, slot->tts_isnull);
			MemoryContextSwitchTo(old);
			gs->metadata_row_pending = false;
			gs->answer_exhausted = true;
			return ExecStoreVirtualTuple(slot);
		}

		if (gs->chunk == NULL)
		{
			gs->answer_exhausted = true;
			continue;
		}
		if (gs->next_row >= gs->chunk->nrows)
		{
			genie_stats_add(gs->opts, GSTAT_ROWS, gs->chunk->nrows);
			gs->chunk = genie_cursor_next(gs->cursor);
			gs->next_row = 0;
			if (gs->chunk == NULL)
				finish_answer(gs);
			else
				gs->chunks_fetched++;
			continue;
		}
		/* let the next chunk's background fetch go on */
		if ((gs->next_row & 255) == 255)
			genie_cursor_progress(gs->cursor);

		{
			const GdStatement *st = &a->statement;
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
			gs->conv->values_checked = c->values_checked;
			genie_convert_row(gs->conv, a, st, c->values + first, c->lens + first,
							  nvalues, slot->tts_values, slot->tts_isnull);
			MemoryContextSwitchTo(old);
			gs->next_row++;
			return ExecStoreVirtualTuple(slot);
		}
	}
}

static void
genieReScanForeignScan(ForeignScanState *node)
{
	GenieScanState *gs = (GenieScanState *) node->fdw_state;

	/* start over; questions are evaluated again and asked if they changed */
	close_cursor(gs);
	if (gs->set)
		genie_askset_abandon(gs->set);
	gs->started = false;
}

static void
genieEndForeignScan(ForeignScanState *node)
{
	GenieScanState *gs = (GenieScanState *) node->fdw_state;

	/* questions and transfers still in flight (LIMIT stopped early) stop */
	if (gs == NULL)
		return;
	close_cursor(gs);
	if (gs->set)
		genie_askset_abandon(gs->set);
}

static void
genieExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	char	   *question = strVal(list_nth(fsplan->fdw_private, FdwScanPrivateQuestionText));
	char	   *space = strVal(list_nth(fsplan->fdw_private, FdwScanPrivateSpaceId));
	bool		is_array = intVal(list_nth(fsplan->fdw_private, FdwScanPrivateQuestionIsArray)) != 0;
	char	   *conversation = strVal(list_nth(fsplan->fdw_private, FdwScanPrivateConversationText));
	GenieScanState *gs = (GenieScanState *) node->fdw_state;

	if (space[0])
		ExplainPropertyText("Genie Space", space, es);
	ExplainPropertyText(is_array ? "Genie Questions" : "Genie Question",
						question[0] ? question : "(none)", es);
	if (conversation[0])
		ExplainPropertyText("Genie Follow-up In", conversation, es);

	if (es->analyze && gs && gs->answers > 0)
	{
		GenieAnswer *a = gs->answer;

		if (gs->answers > 1 || gs->nquestions > 1)
		{
			ExplainPropertyInteger("Genie Answers", NULL, gs->answers, es);
			if (gs->cache_hits > 0 || es->format != EXPLAIN_FORMAT_TEXT)
				ExplainPropertyInteger("Genie Cache Hits", NULL, gs->cache_hits, es);
		}
		else if (a)
		{
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
			if (a->from_cache)
				ExplainPropertyText("Genie Cache", a->from_shared_cache ? "shared hit" : "hit", es);
			if (a->rerun_of && !a->from_cache)
				ExplainPropertyText("Genie SQL Re-run From Message", a->rerun_of, es);
		}
		if (gs->stats.reruns > 0 || es->format != EXPLAIN_FORMAT_TEXT)
			ExplainPropertyInteger("Genie Re-runs", NULL, gs->stats.reruns, es);
		ExplainPropertyInteger("Genie Polls", NULL, gs->stats.polls, es);
		ExplainPropertyInteger("Genie Requests", NULL, gs->stats.requests, es);
		if (gs->stats.retries > 0 || es->format != EXPLAIN_FORMAT_TEXT)
			ExplainPropertyInteger("Genie Retries", NULL, gs->stats.retries, es);
		ExplainPropertyInteger("Genie Chunks", NULL, gs->chunks_fetched, es);
		if (es->timing)
			ExplainPropertyFloat("Genie Answer Time", "s", gs->answer_seconds, 3, es);
	}
}
