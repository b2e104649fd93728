/*-------------------------------------------------------------------------
 *
 * catalog.c
 *		  Finding Genie spaces and keeping them tidy, from SQL.
 *
 * Owns genie_spaces(server) (the seed's find_genie_spaces: every space the
 * user can see), IMPORT FOREIGN SCHEMA (one foreign table per space, named
 * after its title, with the question, metadata and a jsonb row column),
 * and genie_delete_conversations(server, older_than), which deletes the
 * calling user's old conversations: a space holds at most 10,000, and
 * genie_fdw starts one per question; genie_feedback(server, conversation_id,
 * message_id, rating, comment), which rates one of Genie's answers.  Also
 * the synchronous requests these
 * make (listing spaces and conversations page by page, deleting one
 * conversation), on the request layer of request.c.
 *
 * Copyright (c) 2026, genie_fdw developers
 *
 * IDENTIFICATION
 *		  src/catalog.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "commands/defrem.h"
#include "common/int.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/timestamp.h"

#include "request.h"

PG_FUNCTION_INFO_V1(genie_spaces);
PG_FUNCTION_INFO_V1(genie_delete_conversations);
PG_FUNCTION_INFO_V1(genie_feedback);

/* ----------
 * Requests for spaces and conversations (synchronous)
 * ----------
 */

/* Decodes one page of a list: appends its items, returns the next token. */
typedef char *(*PageDecoder) (const GenieOptions *opts, HttpResponse *resp, List **items);

/*
 * list_all_pages
 *		GET url (which has a query string already) page after page, passing
 *		next_page_token back as page_token until there is none.
 */
static List *
list_all_pages(const GenieOptions *opts, const char *url, const char *what,
			   PageDecoder decode)
{
	List	   *items = NIL;
	char	   *token = NULL;
	int			pages = 0;

	do
	{
		HttpResponse resp;
		char	   *page_url = token ? psprintf("%s&page_token=%s", url, genie_url_segment(token))
			: pstrdup(url);

		genie_request(opts, "GET", page_url, NULL, REQ_READ, what, &resp, NULL);
		token = decode(opts, &resp, &items);
		if (token && token[0] == '\0')
			token = NULL;
		if (++pages > 10000)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("Genie's %s does not end", what)));
	} while (token);
	return items;
}

static char *
decode_spaces_page(const GenieOptions *opts, HttpResponse *resp, List **items)
{
	GdSpaceList page;
	GdError		err;
	int			i;

	if (!gd_decode_spaces(resp->body, resp->len, genie_arena(CurrentMemoryContext), &page, &err))
		genie_report_decode_error(opts, resp, &err, "the list of spaces");
	for (i = 0; i < page.nspaces; i++)
		if (page.spaces[i].space_id)
			*items = lappend(*items, &page.spaces[i]);
	return page.next_page_token;
}

static char *
decode_conversations_page(const GenieOptions *opts, HttpResponse *resp, List **items)
{
	GdConversationList page;
	GdError		err;
	int			i;

	if (!gd_decode_conversations(resp->body, resp->len, genie_arena(CurrentMemoryContext), &page, &err))
		genie_report_decode_error(opts, resp, &err, "the list of conversations");
	for (i = 0; i < page.nconversations; i++)
		*items = lappend(*items, &page.conversations[i]);
	return page.next_page_token;
}

/*
 * genie_list_spaces
 *		Every space the user can see (all pages); a List of GdSpace *.
 */
static List *
genie_list_spaces(const GenieOptions *opts)
{
	return list_all_pages(opts, psprintf("%s/api/2.0/genie/spaces?page_size=100", opts->host),
						  "list of spaces", decode_spaces_page);
}

/*
 * genie_list_conversations
 *		The user's conversations in opts->space_id (all pages); a List of
 *		GdConversation *.
 */
static List *
genie_list_conversations(const GenieOptions *opts)
{
	return list_all_pages(opts, genie_space_url(opts, "/conversations?page_size=100"),
						  "list of conversations", decode_conversations_page);
}

/*
 * genie_delete_conversation
 *		Delete one conversation; false when it was already gone.
 */
static bool
genie_delete_conversation(const GenieOptions *opts, const char *conversation_id)
{
	HttpResponse resp;

	return genie_request_found(opts, "DELETE",
							   genie_space_url(opts, "/conversations/%s",
											   genie_url_segment(conversation_id)),
							   NULL, REQ_READ, "deleting a conversation", &resp, NULL);
}

/*
 * server_options
 *		Options of a genie_fdw server named by the user, who must have USAGE
 *		on it and a user mapping.
 */
static GenieOptions *
server_options(Name servername)
{
	ForeignServer *server = GetForeignServerByName(NameStr(*servername), false);
	AclResult	aclresult;

	aclresult = genie_foreign_server_aclcheck(server->serverid, GetUserId(), ACL_USAGE);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FOREIGN_SERVER, server->servername);
	if (!genie_is_genie_server(server->serverid))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("server \"%s\" does not use genie_fdw", server->servername)));
	return genie_get_server_options(server->serverid, GetUserId());
}

/*
 * genie_spaces
 *		SQL: genie_spaces(server name) RETURNS TABLE (space_id, title,
 *		description).
 */
Datum
genie_spaces(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	GenieOptions *opts = server_options(PG_GETARG_NAME(0));
	List	   *spaces;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	spaces = genie_list_spaces(opts);
	foreach(lc, spaces)
	{
		GdSpace    *sp = (GdSpace *) lfirst(lc);
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = CStringGetTextDatum(sp->space_id);
		if (sp->title)
			values[1] = CStringGetTextDatum(sp->title);
		else
			nulls[1] = true;
		if (sp->description)
			values[2] = CStringGetTextDatum(sp->description);
		else
			nulls[2] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * genie_delete_conversations
 *		SQL: genie_delete_conversations(server name, older_than interval,
 *		space_id text DEFAULT NULL) RETURNS bigint: delete the calling
 *		user's conversations created before now() - older_than in the
 *		server's (or the given) space, except those whose SQL is remembered
 *		for re-runs; returns how many were deleted.
 */
Datum
genie_delete_conversations(PG_FUNCTION_ARGS)
{
	GenieOptions *opts;
	Interval   *older;
	int64		span_us;
	int64		month_us;
	int64		day_us;
	int64		cutoff_ms;
	int64		deleted = 0;
	List	   *convs;
	List	   *in_use;
	ListCell   *lc;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	opts = server_options(PG_GETARG_NAME(0));
	older = PG_GETARG_INTERVAL_P(1);
	if (!PG_ARGISNULL(2))
		opts->space_id = text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (opts->space_id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("server \"%s\" has no option space_id", opts->server_name),
				 errhint("Pass the space: genie_delete_conversations('%s', '30 days', '<space_id>').",
						 opts->server_name)));
	/* the interval in microseconds, overflow-checked; at most 100 years */
	if (older->month < 0 || older->day < 0 || older->time < 0 ||
		pg_mul_s64_overflow((int64) older->month, DAYS_PER_MONTH * USECS_PER_DAY, &month_us) ||
		pg_mul_s64_overflow((int64) older->day, USECS_PER_DAY, &day_us) ||
		pg_add_s64_overflow(month_us, day_us, &span_us) ||
		pg_add_s64_overflow(span_us, older->time, &span_us) ||
		span_us > (int64) 100 * 365 * USECS_PER_DAY)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("older_than must be between 0 and 100 years"),
				 errhint("Give an interval such as '30 days'.")));
	/* Genie's timestamps are Unix epoch milliseconds */
	cutoff_ms = (GetCurrentTimestamp() - span_us) / 1000 +
		(int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000;

	/* conversations whose SQL is remembered for re-runs stay (rerun.c) */
	in_use = genie_rerun_conversations();
	convs = genie_list_conversations(opts);
	foreach(lc, convs)
	{
		GdConversation *c = (GdConversation *) lfirst(lc);
		ListCell   *lu;
		bool		used = false;

		CHECK_FOR_INTERRUPTS();
		if (!c->has_created || c->created_timestamp > cutoff_ms)
			continue;
		foreach(lu, in_use)
			used |= strcmp((const char *) lfirst(lu), c->conversation_id) == 0;
		if (used)
			continue;
		if (genie_delete_conversation(opts, c->conversation_id))
			deleted++;
	}
	PG_RETURN_INT64(deleted);
}

/*
 * table_name_for
 *		A table name from a space's title: lower case, runs of anything but
 *		letters and digits become "_", at most NAMEDATALEN - 1 bytes; "space_"
 *		and the id when nothing is left.
 */
static char *
table_name_for(const GdSpace *sp)
{
	StringInfoData buf;
	const char *p;

	initStringInfo(&buf);
	for (p = sp->title ? sp->title : ""; *p; p++)
	{
		unsigned char c = (unsigned char) *p;

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			appendStringInfoChar(&buf, (char) c);
		else if (c >= 'A' && c <= 'Z')
			appendStringInfoChar(&buf, (char) (c - 'A' + 'a'));
		else if (buf.len > 0 && buf.data[buf.len - 1] != '_')
			appendStringInfoChar(&buf, '_');
	}
	while (buf.len > 0 && buf.data[buf.len - 1] == '_')
		buf.data[--buf.len] = '\0';
	if (buf.len == 0 || (buf.data[0] >= '0' && buf.data[0] <= '9'))
	{
		char	   *t = pstrdup(buf.data);

		resetStringInfo(&buf);
		appendStringInfo(&buf, "space_%s", t[0] ? t : sp->space_id);
	}
	if (buf.len >= NAMEDATALEN)
		buf.data[NAMEDATALEN - 1] = '\0';
	return buf.data;
}

/* The options of IMPORT FOREIGN SCHEMA: table options of every table. */
static const char *const import_options[] = {
	"cache_ttl", "full_results", "without_question"
};

/*
 * import_table_options
 *		The options of IMPORT FOREIGN SCHEMA ... OPTIONS (...) as the text
 *		that follows space_id in each table's OPTIONS.  Only import_options
 *		are taken (an unknown name is an error, as postgres_fdw's import
 *		does), and their values are checked by the wrapper's validator as
 *		table options, before anything is asked.
 */
static char *
import_table_options(ImportForeignSchemaStmt *stmt, ForeignServer *server)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, stmt->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		bool		known = false;
		int			i;

		for (i = 0; i < lengthof(import_options); i++)
			if (strcmp(def->defname, import_options[i]) == 0)
				known = true;
		if (!known)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid option \"%s\"", def->defname),
					 errhint("Valid options for IMPORT FOREIGN SCHEMA of genie_fdw are: cache_ttl, full_results, without_question.")));
		appendStringInfo(&buf, ", %s %s", quote_identifier(def->defname),
						 quote_literal_cstr(defGetString(def)));
	}
	(void) transformGenericOptions(ForeignTableRelationId, (Datum) 0, stmt->options,
								   GetForeignDataWrapper(server->fdwid)->fdwvalidator);
	return buf.data;
}

/*
 * genie_import_foreign_schema
 *		IMPORT FOREIGN SCHEMA genie FROM SERVER s INTO local_schema: one
 *		foreign table per space, with the import's options (cache_ttl,
 *		full_results, without_question) as table options.  LIMIT TO and
 *		EXCEPT name the derived table names (the core code applies them to
 *		what is returned).
 */
List *
genie_import_foreign_schema(ImportForeignSchemaStmt *stmt, Oid serverOid)
{
	ForeignServer *server = GetForeignServer(serverOid);
	GenieOptions *opts;
	List	   *commands = NIL;
	List	   *names = NIL;
	char	   *table_options;
	ListCell   *lc;

	if (strcmp(stmt->remote_schema, "genie") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_SCHEMA_NOT_FOUND),
				 errmsg("schema \"%s\" is not present on foreign server \"%s\"",
						stmt->remote_schema, server->servername),
				 errhint("genie_fdw imports one table per Genie space: IMPORT FOREIGN SCHEMA genie FROM SERVER %s INTO ...",
						 quote_identifier(server->servername))));
	table_options = import_table_options(stmt, server);
	opts = genie_get_server_options(serverOid, GetUserId());

	foreach(lc, genie_list_spaces(opts))
	{
		GdSpace    *sp = (GdSpace *) lfirst(lc);
		char	   *name = table_name_for(sp);
		char	   *unique = name;
		int			n = 1;
		ListCell   *lc2;
		bool		taken;

		do
		{
			taken = false;
			foreach(lc2, names)
				if (strcmp((char *) lfirst(lc2), unique) == 0)
					taken = true;
			if (taken)
				unique = psprintf("%.*s_%d", NAMEDATALEN - 8, name, ++n);
		} while (taken);
		names = lappend(names, unique);

		commands = lappend(commands,
						   psprintf("CREATE FOREIGN TABLE %s (\n"
									"  question text,\n"
									"  \"row\" jsonb OPTIONS (genie 'row'),\n"
									"  generated_sql text OPTIONS (genie 'sql'),\n"
									"  answer_text text OPTIONS (genie 'text'),\n"
									"  description text OPTIONS (genie 'description'),\n"
									"  conversation_id text OPTIONS (genie 'conversation_id'),\n"
									"  message_id text OPTIONS (genie 'message_id'),\n"
									"  statement_id text OPTIONS (genie 'statement_id')\n"
									") SERVER %s OPTIONS (space_id %s%s)",
									quote_identifier(unique),
									quote_identifier(server->servername),
									quote_literal_cstr(sp->space_id),
									table_options));
	}
	return commands;
}

/* A required text argument of genie_feedback, never NULL or empty. */
static char *
feedback_arg(FunctionCallInfo fcinfo, int n, const char *name)
{
	char	   *v;

	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s of genie_feedback must not be NULL", name)));
	v = text_to_cstring(PG_GETARG_TEXT_PP(n));
	if (v[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s of genie_feedback must not be empty", name)));
	return v;
}

/*
 * genie_feedback
 *		SQL: genie_feedback(server name, conversation_id text, message_id
 *		text, rating text, comment text DEFAULT NULL) RETURNS void: rate a
 *		message of the server's space POSITIVE, NEGATIVE or NONE (case does
 *		not matter), with an optional comment.
 */
Datum
genie_feedback(PG_FUNCTION_ARGS)
{
	static const char *const ratings[] = {"POSITIVE", "NEGATIVE", "NONE"};
	GenieOptions *opts;
	char	   *conversation_id;
	char	   *message_id;
	char	   *rating;
	const char *canonical = NULL;
	StringInfoData body;
	HttpResponse resp;
	int			i;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("server of genie_feedback must not be NULL")));
	conversation_id = feedback_arg(fcinfo, 1, "conversation_id");
	message_id = feedback_arg(fcinfo, 2, "message_id");
	rating = feedback_arg(fcinfo, 3, "rating");
	for (i = 0; i < lengthof(ratings); i++)
		if (pg_strcasecmp(rating, ratings[i]) == 0)
			canonical = ratings[i];
	if (canonical == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid rating \"%s\"", rating),
				 errhint("Valid ratings are: POSITIVE, NEGATIVE, NONE.")));
	opts = server_options(PG_GETARG_NAME(0));

	initStringInfo(&body);
	appendStringInfoString(&body, "{\"rating\": ");
	escape_json(&body, canonical);
	if (!PG_ARGISNULL(4))
	{
		char	   *comment = text_to_cstring(PG_GETARG_TEXT_PP(4));

		/* the service reads UTF-8 */
		comment = pg_server_to_any(comment, strlen(comment), PG_UTF8);
		appendStringInfoString(&body, ", \"comment\": ");
		escape_json(&body, comment);
	}
	appendStringInfoChar(&body, '}');

	genie_request(opts, "POST",
				  genie_space_url(opts, "/conversations/%s/messages/%s/feedback",
								  genie_url_segment(conversation_id),
								  genie_url_segment(message_id)),
				  body.data, REQ_READ, "the message to rate", &resp, NULL);
	PG_RETURN_VOID();
}
