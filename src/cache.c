/*-------------------------------------------------------------------------
 *
 * cache.c
 *		  The answer cache: Genie answers kept in backend memory.
 *
 * Owns the cache of answered questions, keyed by everything that changes
 * an answer or who may see it: the user mapping whose credentials fetched
 * it (as postgres_fdw keys connections; a mapping FOR PUBLIC is shared by
 * the roles it serves, as its owner intends), workspace host, space,
 * follow-up conversation, question text and full_results.  Any change to
 * a user mapping or server empties the cache (syscache invalidation).  An entry keeps the raw JSON
 * of the final message and of its query result's first chunk (decoded
 * again on a hit, so the decoders stay the one place that reads JSON),
 * lives for the table's or server's cache_ttl seconds, and the whole cache
 * is bounded by genie_fdw.cache_size kilobytes, least recently used first
 * out.  Dashboards refreshing the same tile then do not spend the
 * workspace's question quota.  genie_fdw_cache_clear() empties it.
 *
 * Copyright (c) 2026, genie_fdw developers
 *
 * IDENTIFICATION
 *		  src/cache.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "fmgr.h"
#include "lib/ilist.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "genie_fdw.h"

typedef struct CacheEntry
{
	dlist_node	node;			/* most recently used first */
	char	   *key;
	TimestampTz expires;
	char	   *conversation_id;
	char	   *message_id;
	char	   *message_body;
	size_t		message_len;
	char	   *result_body;	/* NULL for a text-only answer */
	size_t		result_len;
	size_t		size;
} CacheEntry;

static dlist_head cache_lru = DLIST_STATIC_INIT(cache_lru);
static size_t cache_bytes = 0;
static MemoryContext cache_cxt = NULL;

/* GUC: the cache's size limit, kilobytes */
int			genie_cache_size_kb = 65536;

PG_FUNCTION_INFO_V1(genie_fdw_cache_clear);

static char *
cache_key(const GenieOptions *opts, const char *conversation, const char *question)
{
	/* \x01 cannot occur in the parts: use it as the separator */
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "%u\x01%c\x01", opts->umid, opts->full_results ? 'f' : 'i');
	appendStringInfoString(&buf, opts->host);
	appendStringInfoChar(&buf, '\x01');
	appendStringInfoString(&buf, opts->space_id);
	appendStringInfoChar(&buf, '\x01');
	appendStringInfoString(&buf, conversation ? conversation : "");
	appendStringInfoChar(&buf, '\x01');
	appendStringInfoString(&buf, question);
	return buf.data;
}

static void
entry_free(CacheEntry *e)
{
	dlist_delete(&e->node);
	cache_bytes -= e->size;
	pfree(e->key);
	pfree(e->conversation_id);
	pfree(e->message_id);
	pfree(e->message_body);
	if (e->result_body)
		pfree(e->result_body);
	pfree(e);
}

static CacheEntry *
cache_find(const char *key)
{
	dlist_mutable_iter iter;
	TimestampTz now = GetCurrentTimestamp();

	dlist_foreach_modify(iter, &cache_lru)
	{
		CacheEntry *e = dlist_container(CacheEntry, node, iter.cur);

		if (e->expires <= now)
		{
			entry_free(e);
			continue;
		}
		if (strcmp(e->key, key) == 0)
			return e;
	}
	return NULL;
}

/*
 * genie_cache_lookup
 *		A live cached answer to this question, copied into
 *		CurrentMemoryContext; false when there is none (or caching is off).
 */
bool
genie_cache_lookup(const GenieOptions *opts, const char *conversation,
				   const char *question, GenieCachedAnswer *out)
{
	char	   *key;
	CacheEntry *e;

	if (opts->cache_ttl <= 0 || dlist_is_empty(&cache_lru))
		return false;
	key = cache_key(opts, conversation, question);
	e = cache_find(key);
	pfree(key);
	if (e == NULL)
		return false;
	dlist_move_head(&cache_lru, &e->node);
	out->conversation_id = pstrdup(e->conversation_id);
	out->message_id = pstrdup(e->message_id);
	out->message_body = pnstrdup(e->message_body, e->message_len);
	out->message_len = e->message_len;
	out->result_body = e->result_body ? pnstrdup(e->result_body, e->result_len) : NULL;
	out->result_len = e->result_len;
	return true;
}

/*
 * genie_cache_store
 *		Keep an answer for opts->cache_ttl seconds.
 */
void
genie_cache_store(const GenieOptions *opts, const char *conversation,
				  const char *question, const GenieCachedAnswer *ans)
{
	MemoryContext old;
	CacheEntry *e;
	char	   *key;
	size_t		size;
	size_t		limit = (size_t) genie_cache_size_kb * 1024;

	if (opts->cache_ttl <= 0 || ans->message_body == NULL)
		return;
	size = ans->message_len + ans->result_len + strlen(question) + 256;
	if (size > limit)
		return;

	if (cache_cxt == NULL)
		cache_cxt = AllocSetContextCreate(TopMemoryContext, "genie_fdw answer cache",
										  ALLOCSET_DEFAULT_SIZES);
	key = cache_key(opts, conversation, question);
	e = cache_find(key);
	if (e)
		entry_free(e);
	/* make room, least recently used first */
	while (cache_bytes + size > limit && !dlist_is_empty(&cache_lru))
		entry_free(dlist_container(CacheEntry, node, dlist_tail_node(&cache_lru)));

	old = MemoryContextSwitchTo(cache_cxt);
	e = palloc0(sizeof(CacheEntry));
	e->key = pstrdup(key);
	e->expires = GetCurrentTimestamp() + (TimestampTz) (opts->cache_ttl * USECS_PER_SEC);
	e->conversation_id = pstrdup(ans->conversation_id);
	e->message_id = pstrdup(ans->message_id);
	e->message_body = pnstrdup(ans->message_body, ans->message_len);
	e->message_len = ans->message_len;
	e->result_body = ans->result_body ? pnstrdup(ans->result_body, ans->result_len) : NULL;
	e->result_len = ans->result_len;
	e->size = size;
	MemoryContextSwitchTo(old);
	pfree(key);

	dlist_push_head(&cache_lru, &e->node);
	cache_bytes += size;
}

static int64
cache_clear(void)
{
	int64		n = 0;

	while (!dlist_is_empty(&cache_lru))
	{
		entry_free(dlist_container(CacheEntry, node, dlist_head_node(&cache_lru)));
		n++;
	}
	return n;
}

/* A user mapping or server changed: its answers may no longer be its. */
static void
cache_invalidate(Datum arg, int cacheid, uint32 hashvalue)
{
	(void) cache_clear();
}

/*
 * genie_fdw_cache_clear
 *		SQL function: empty this backend's answer cache; returns how many
 *		answers were dropped.
 */
Datum
genie_fdw_cache_clear(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(cache_clear());
}

void
genie_cache_init(void)
{
	CacheRegisterSyscacheCallback(USERMAPPINGOID, cache_invalidate, (Datum) 0);
	CacheRegisterSyscacheCallback(FOREIGNSERVEROID, cache_invalidate, (Datum) 0);

	DefineCustomIntVariable("genie_fdw.cache_size",
							"Size limit of a backend's Genie answer cache.",
							"Answers are cached only for servers or tables with cache_ttl > 0.",
							&genie_cache_size_kb,
							65536, 0, INT_MAX / 1024,
							PGC_USERSET,
							GUC_UNIT_KB,
							NULL, NULL, NULL);
}
