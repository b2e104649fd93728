/*-------------------------------------------------------------------------
 *
 * rerun.c
 *		  Remembered questions: the SQL Genie generated for a question,
 *		  re-run instead of asking Genie again.
 *
 * With the server or table option refresh 'rerun', a completed answer that
 * ran SQL is remembered: its conversation, message and query attachment,
 * the SQL and the final message's JSON (for the text, description and
 * suggestion columns).  A later asking of the same question whose answer is
 * not in the answer cache re-runs that SQL through Genie's execute-query
 * (ask.c), a statement request that takes no question slot and no language
 * model, as long as the SQL is younger than sql_ttl (a day by default;
 * 'forever': until genie_fdw_forget()).
 *
 * Owns what is remembered, under the answer cache's key with kind
 * GENIE_KEY_REMEMBERED (database, user mapping and credentials, host,
 * space, question, full_results: cache.c), and so under the shared cache's
 * trust rules: in the shared cache when preloaded (one remembered question
 * for every session), else in the session's; dropped with its mapping or
 * server.  Follow-up questions are never remembered.  Also owns
 * genie_fdw_remembered() and genie_fdw_forget(), and the set of
 * conversations in use, which conversation hygiene keeps (catalog.c).
 *
 * Copyright (c) 2026, genie_fdw developers
 *
 * IDENTIFICATION
 *		  src/rerun.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "genie_fdw.h"

PG_FUNCTION_INFO_V1(genie_fdw_remembered);
PG_FUNCTION_INFO_V1(genie_fdw_forget);

#define NPARTS 5				/* conversation, message, attachment, sql,
								 * message JSON */

/* Each part as a 64-bit length and its bytes. */
static char *
serialize(const char *const *parts, const size_t *lens, size_t *len)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < NPARTS; i++)
	{
		int64		n = (int64) lens[i];

		appendBinaryStringInfo(&buf, (const char *) &n, sizeof(n));
		appendBinaryStringInfo(&buf, parts[i], (int) lens[i]);
	}
	*len = buf.len;
	return buf.data;
}

static bool
deserialize(const char *blob, size_t bloblen, char **parts, size_t *lens)
{
	const char *p = blob;
	const char *end = blob + bloblen;
	int			i;

	for (i = 0; i < NPARTS; i++)
	{
		int64		n;

		if (end - p < (ptrdiff_t) sizeof(n))
			return false;
		memcpy(&n, p, sizeof(n));
		p += sizeof(n);
		if (n < 0 || end - p < n)
			return false;
		parts[i] = palloc(n + 1);
		memcpy(parts[i], p, n);
		parts[i][n] = '\0';
		lens[i] = (size_t) n;
		p += n;
	}
	return p == end;
}

static char *
remembered_key(const GenieOptions *opts, const char *question)
{
	return genie_cache_key(opts, GENIE_KEY_REMEMBERED, NULL, question);
}

/*
 * genie_rerun_remember
 *		Remember the SQL of a completed answer for sql_ttl seconds (from
 *		now: when Genie generated it).
 */
void
genie_rerun_remember(const GenieOptions *opts, const char *question,
					 const char *conversation_id, const char *message_id,
					 const char *attachment_id, const char *sql,
					 const char *message_body, size_t message_len)
{
	const char *parts[NPARTS];
	size_t		lens[NPARTS];
	char	   *key;
	char	   *blob;
	size_t		bloblen;
	TimestampTz expires;

	if (!opts->refresh_rerun || conversation_id == NULL || message_id == NULL ||
		attachment_id == NULL || sql == NULL || message_body == NULL)
		return;
	parts[0] = conversation_id;
	parts[1] = message_id;
	parts[2] = attachment_id;
	parts[3] = sql;
	parts[4] = message_body;
	lens[0] = strlen(conversation_id);
	lens[1] = strlen(message_id);
	lens[2] = strlen(attachment_id);
	lens[3] = strlen(sql);
	lens[4] = message_len;
	key = remembered_key(opts, question);
	blob = serialize(parts, lens, &bloblen);
	expires = opts->sql_ttl < 0 ? PG_INT64_MAX :
		GetCurrentTimestamp() + (TimestampTz) (opts->sql_ttl * USECS_PER_SEC);
	genie_cache_kv_put(opts, key, blob, bloblen, expires);
	pfree(blob);
	pfree(key);
}

/*
 * genie_rerun_lookup
 *		The remembered SQL of a question (copies in CurrentMemoryContext);
 *		false when there is none, or the option is off.  Counts a re-run.
 */
bool
genie_rerun_lookup(const GenieOptions *opts, const char *question, GenieRemembered *out)
{
	char	   *key;
	char	   *blob;
	size_t		bloblen;
	int64		hits;
	char	   *parts[NPARTS];
	size_t		lens[NPARTS];
	bool		found;

	memset(out, 0, sizeof(*out));
	if (!opts->refresh_rerun)
		return false;
	key = remembered_key(opts, question);
	found = genie_cache_kv_get(key, &blob, &bloblen, &hits);
	pfree(key);
	if (!found || !deserialize(blob, bloblen, parts, lens))
		return false;
	out->conversation_id = parts[0];
	out->message_id = parts[1];
	out->attachment_id = parts[2];
	out->sql = parts[3];
	out->message_body = parts[4];
	out->message_len = lens[4];
	return true;
}

/*
 * genie_rerun_forget
 *		Forget a question's SQL (its re-run failed for good).
 */
void
genie_rerun_forget(const GenieOptions *opts, const char *question)
{
	char	   *key = remembered_key(opts, question);

	genie_cache_kv_forget(key);
	pfree(key);
}

/*
 * genie_rerun_conversations
 *		The conversations whose SQL is remembered, in any database (a list
 *		of C strings): conversation hygiene must not delete them.
 */
List *
genie_rerun_conversations(void)
{
	char		prefix[3] = {GENIE_KEY_REMEMBERED, '\x01', '\0'};
	GenieCacheItem *items;
	List	   *out = NIL;
	int			n = genie_cache_kv_list(prefix, true, true, &items);
	int			i;

	for (i = 0; i < n; i++)
	{
		char	   *parts[NPARTS];
		size_t		lens[NPARTS];

		if (deserialize(items[i].blob, items[i].bloblen, parts, lens))
			out = lappend(out, parts[0]);
	}
	return out;
}

/*
 * genie_fdw_remembered
 *		SQL function: the remembered questions of this database: server,
 *		role of the user mapping, space, question, full_results, the SQL,
 *		conversation and message it came from, age, seconds left (NULL:
 *		forever) and re-runs.  Questions and SQL may be confidential:
 *		EXECUTE is revoked from PUBLIC, as for genie_fdw_cache().
 */
Datum
genie_fdw_remembered(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char		prefix[3] = {GENIE_KEY_REMEMBERED, '\x01', '\0'};
	TimestampTz now = GetCurrentTimestamp();
	GenieCacheItem *items;
	int			n;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	n = genie_cache_kv_list(prefix, false, true, &items);
	for (i = 0; i < n; i++)
	{
		ForeignServer *server = GetForeignServerExtended(items[i].serverid, FSV_MISSING_OK);
		char	   *role = genie_mapping_role(items[i].umid);
		char	   *kparts[GENIE_KEY_NPARTS];
		char	   *parts[NPARTS];
		size_t		lens[NPARTS];
		Datum		values[11];
		bool		nulls[11];

		if (!genie_cache_key_parts(items[i].key, kparts) ||
			!deserialize(items[i].blob, items[i].bloblen, parts, lens))
			continue;
		memset(nulls, 0, sizeof(nulls));
		values[0] = server ? CStringGetTextDatum(server->servername) : (Datum) 0;
		nulls[0] = server == NULL;
		values[1] = role ? CStringGetTextDatum(role) : (Datum) 0;
		nulls[1] = role == NULL;
		values[2] = CStringGetTextDatum(kparts[GENIE_KEY_SPACE]);
		values[3] = CStringGetTextDatum(kparts[GENIE_KEY_QUESTION]);
		values[4] = BoolGetDatum(kparts[GENIE_KEY_FULL][0] == 'f');
		values[5] = CStringGetTextDatum(parts[3]);
		values[6] = CStringGetTextDatum(parts[0]);
		values[7] = CStringGetTextDatum(parts[1]);
		values[8] = Float8GetDatum((now - items[i].created) / 1000000.0);
		if (items[i].expires == PG_INT64_MAX)
			nulls[9] = true;
		else
			values[9] = Float8GetDatum(Max(items[i].expires - now, 0) / 1000000.0);
		values[10] = Int64GetDatum(items[i].hits);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * genie_fdw_forget
 *		SQL function: forget the remembered questions of this database;
 *		returns how many.  EXECUTE is revoked from PUBLIC.
 */
Datum
genie_fdw_forget(PG_FUNCTION_ARGS)
{
	char		prefix[3] = {GENIE_KEY_REMEMBERED, '\x01', '\0'};

	PG_RETURN_INT64(genie_cache_kv_clear(prefix, false));
}
