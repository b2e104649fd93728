/*-------------------------------------------------------------------------
 *
 * cache.c
 *		  The answer cache: what is cached, under which key, and the
 *		  per-backend cache.
 *
 * Owns the cache of answered questions as the ask engine sees it, keyed by
 * everything that changes an answer or who may see it: the database (OIDs
 * repeat across databases), the user mapping whose credentials fetched it
 * (as postgres_fdw keys connections; a mapping FOR PUBLIC is shared by the
 * roles it serves, as its owner intends) and a salted fingerprint of those
 * credentials (so an answer fetched with a token is never found with
 * another, whatever the timing of ALTER USER MAPPING), full_results,
 * workspace host, space, follow-up conversation and question text.  An
 * answer whose mapping changed while it was being fetched is not published.  An answer is cached whole: the raw JSON of the final message, of
 * its query result (manifest and first chunk) and of every further chunk
 * of an inline result (decoded again on a hit, so the decoders stay the one
 * place that reads JSON), for the table's or server's cache_ttl seconds.
 * Dashboards refreshing the same tile then spend no question quota and make
 * no request.
 *
 * When genie_fdw is preloaded with genie_fdw.shared_cache_size > 0, answers
 * live in the shared cache (shared_cache.c: one cache for every session,
 * single flight); cache.c serializes them into its blobs.  Otherwise each
 * backend keeps its own, bounded by genie_fdw.cache_size kilobytes, least
 * recently used first out.  Any change to a user mapping or server drops
 * its answers (syscache invalidation: the whole local cache, the shared
 * entries of that mapping or server).  genie_fdw_cache_clear() empties both.
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

#include "access/reloptions.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "fmgr.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "lib/ilist.h"
#include "miscadmin.h"
#include "utils/builtins.h"
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
	TimestampTz created;
	TimestampTz expires;
	Oid			serverid;
	Oid			umid;
	int64		hits;
	char	   *blob;			/* the serialized answer */
	size_t		bloblen;
	size_t		size;
} CacheEntry;

static dlist_head cache_lru = DLIST_STATIC_INIT(cache_lru);
static size_t cache_bytes = 0;
static MemoryContext cache_cxt = NULL;

/* GUC: the per-backend cache's size limit, kilobytes */
int			genie_cache_size_kb = 65536;

PG_FUNCTION_INFO_V1(genie_fdw_cache_clear);
PG_FUNCTION_INFO_V1(genie_fdw_cache);

#define CRED_FP_BYTES 16			/* of SHA-256, shown as 32 hex digits */

/* The salt of credential fingerprints: the shared cache's, else our own. */
static const uint8 *
cred_salt(Size *len)
{
	static uint8 local_salt[16];
	static bool have_local = false;
	const uint8 *shared = genie_shared_cache_salt(len);

	if (shared)
		return shared;
	if (!have_local)
	{
		if (!pg_strong_random(local_salt, sizeof(local_salt)))
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not generate random bytes for the answer cache")));
		have_local = true;
	}
	*len = sizeof(local_salt);
	return local_salt;
}

/*
 * cred_fingerprint
 *		Hex of the first bytes of SHA-256(salt, token, client_id,
 *		client_secret): equal credentials give equal fingerprints, and the
 *		salt (random per server start) keeps it from confirming a guess.
 */
static void
cred_fingerprint(const char *token, const char *client_id, const char *client_secret,
				 char *out)
{
	const char *parts[3] = {token, client_id, client_secret};
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
	Size		saltlen;
	const uint8 *salt = cred_salt(&saltlen);
	bool		ok;
	int			i;

	ok = ctx != NULL && pg_cryptohash_init(ctx) == 0 &&
		pg_cryptohash_update(ctx, salt, saltlen) == 0;
	for (i = 0; ok && i < 3; i++)
	{
		uint8		sep = parts[i] ? 1 : 0;

		ok = pg_cryptohash_update(ctx, &sep, 1) == 0 &&
			(parts[i] == NULL ||
			 pg_cryptohash_update(ctx, (const uint8 *) parts[i], strlen(parts[i]) + 1) == 0);
	}
	ok = ok && pg_cryptohash_final(ctx, digest, sizeof(digest)) == 0;
	pg_cryptohash_free(ctx);
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute the fingerprint of a user mapping's credentials")));
	for (i = 0; i < CRED_FP_BYTES; i++)
		sprintf(out + 2 * i, "%02x", digest[i]);
	explicit_bzero(digest, sizeof(digest));
}

/*
 * genie_cache_key
 *		kind \x01 dbid \x01 umid \x01 credentials' fingerprint \x01 f|i
 *		\x01 host \x01 space \x01 conversation \x01 question (\x01 cannot
 *		occur in the parts; genie_cache_key_parts splits on it).  kind is
 *		GENIE_KEY_ANSWER for answers, GENIE_KEY_REMEMBERED for the SQL of
 *		remembered questions (rerun.c).
 */
char *
genie_cache_key(const GenieOptions *opts, char kind, const char *conversation,
				const char *question)
{
	StringInfoData buf;
	char		fp[2 * CRED_FP_BYTES + 1];

	cred_fingerprint(opts->token, opts->client_id, opts->client_secret, fp);
	initStringInfo(&buf);
	appendStringInfo(&buf, "%c\x01%u\x01%u\x01%s\x01%c\x01", kind, MyDatabaseId, opts->umid, fp,
					 opts->full_results ? 'f' : 'i');
	appendStringInfoString(&buf, opts->host);
	appendStringInfoChar(&buf, '\x01');
	appendStringInfoString(&buf, opts->space_id);
	appendStringInfoChar(&buf, '\x01');
	appendStringInfoString(&buf, conversation ? conversation : "");
	appendStringInfoChar(&buf, '\x01');
	appendStringInfoString(&buf, question);
	return buf.data;
}

/*
 * genie_mapping_unchanged
 *		Are the user mapping's credentials, as committed now, the ones this
 *		answer was fetched with?  (A flight must not publish an answer
 *		fetched with credentials an ALTER USER MAPPING replaced while it was
 *		in the air.)  Catalog access: never under the shared cache's lock.
 */
bool
genie_mapping_unchanged(const GenieOptions *opts)
{
	HeapTuple	tp;
	Datum		datum;
	bool		isnull;
	const char *token = NULL;
	const char *client_id = NULL;
	const char *client_secret = NULL;
	char		now_fp[2 * CRED_FP_BYTES + 1];
	char		then_fp[2 * CRED_FP_BYTES + 1];
	ListCell   *lc;

	AcceptInvalidationMessages();
	tp = SearchSysCache1(USERMAPPINGOID, ObjectIdGetDatum(opts->umid));
	if (!HeapTupleIsValid(tp))
		return false;
	datum = SysCacheGetAttr(USERMAPPINGOID, tp, Anum_pg_user_mapping_umoptions, &isnull);
	if (!isnull)
		foreach(lc, untransformRelOptions(datum))
		{
			DefElem    *def = lfirst_node(DefElem, lc);

			if (strcmp(def->defname, "token") == 0)
				token = defGetString(def);
			else if (strcmp(def->defname, "client_id") == 0)
				client_id = defGetString(def);
			else if (strcmp(def->defname, "client_secret") == 0)
				client_secret = defGetString(def);
		}
	ReleaseSysCache(tp);
	cred_fingerprint(token, client_id, client_secret, now_fp);
	cred_fingerprint(opts->token, opts->client_id, opts->client_secret, then_fp);
	return strcmp(now_fp, then_fp) == 0;
}

/* ----------
 * Serialized answers: each part as a 64-bit length and its bytes (length
 * -1: NULL)
 * ----------
 */
static void
put_part(StringInfo buf, const char *p, size_t len)
{
	int64		n = p ? (int64) len : -1;

	appendBinaryStringInfo(buf, (const char *) &n, sizeof(n));
	if (p)
		appendBinaryStringInfo(buf, p, (int) len);
}

static char *
serialize(const GenieCachedAnswer *ans, size_t *len)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	put_part(&buf, ans->conversation_id, strlen(ans->conversation_id));
	put_part(&buf, ans->message_id, strlen(ans->message_id));
	put_part(&buf, ans->message_body, ans->message_len);
	put_part(&buf, ans->result_body, ans->result_len);
	put_part(&buf, (const char *) &ans->nchunks, sizeof(ans->nchunks));
	for (i = 0; i < ans->nchunks; i++)
		put_part(&buf, ans->chunk_bodies[i], ans->chunk_lens[i]);
	*len = buf.len;
	return buf.data;
}

/* The next part of a blob, a NUL-terminated copy; false at a bad blob. */
static bool
get_part(const char **p, const char *end, char **out, size_t *len)
{
	int64		n;

	if (end - *p < (ptrdiff_t) sizeof(n))
		return false;
	memcpy(&n, *p, sizeof(n));
	*p += sizeof(n);
	if (n < 0)
	{
		*out = NULL;
		*len = 0;
		return true;
	}
	if (end - *p < n)
		return false;
	*out = palloc(n + 1);
	memcpy(*out, *p, n);
	(*out)[n] = '\0';
	*len = (size_t) n;
	*p += n;
	return true;
}

static bool
deserialize(const char *blob, size_t bloblen, GenieCachedAnswer *ans)
{
	const char *p = blob;
	const char *end = blob + bloblen;
	char	   *n;
	size_t		len;
	int			i;

	memset(ans, 0, sizeof(*ans));
	if (!get_part(&p, end, &ans->conversation_id, &len) ||
		!get_part(&p, end, &ans->message_id, &len) ||
		!get_part(&p, end, &ans->message_body, &ans->message_len) ||
		!get_part(&p, end, &ans->result_body, &ans->result_len) ||
		!get_part(&p, end, &n, &len) || n == NULL || len != sizeof(int) ||
		ans->conversation_id == NULL || ans->message_id == NULL || ans->message_body == NULL)
		return false;
	memcpy(&ans->nchunks, n, sizeof(int));
	if (ans->nchunks < 0 || ans->nchunks > 1000000)
		return false;
	ans->chunk_bodies = palloc(sizeof(char *) * Max(ans->nchunks, 1));
	ans->chunk_lens = palloc(sizeof(size_t) * Max(ans->nchunks, 1));
	for (i = 0; i < ans->nchunks; i++)
		if (!get_part(&p, end, &ans->chunk_bodies[i], &ans->chunk_lens[i]) ||
			ans->chunk_bodies[i] == NULL)
			return false;
	return p == end;
}

/* ----------
 * The per-backend cache
 * ----------
 */
static void
entry_free(CacheEntry *e)
{
	dlist_delete(&e->node);
	cache_bytes -= e->size;
	pfree(e->key);
	pfree(e->blob);
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

static void
local_store(const GenieOptions *opts, const char *key, const char *blob, size_t bloblen,
			TimestampTz expires)
{
	MemoryContext old;
	CacheEntry *e;
	size_t		size = bloblen + strlen(key) + 256;
	size_t		limit = (size_t) genie_cache_size_kb * 1024;

	if (size > limit)
		return;
	if (cache_cxt == NULL)
		cache_cxt = AllocSetContextCreate(TopMemoryContext, "genie_fdw answer cache",
										  ALLOCSET_DEFAULT_SIZES);
	e = cache_find(key);
	if (e)
		entry_free(e);
	/* make room, least recently used first */
	while (cache_bytes + size > limit && !dlist_is_empty(&cache_lru))
		entry_free(dlist_container(CacheEntry, node, dlist_tail_node(&cache_lru)));

	old = MemoryContextSwitchTo(cache_cxt);
	e = palloc0(sizeof(CacheEntry));
	e->key = pstrdup(key);
	e->created = GetCurrentTimestamp();
	e->expires = expires;
	e->serverid = opts->serverid;
	e->umid = opts->umid;
	e->blob = palloc(bloblen);
	memcpy(e->blob, blob, bloblen);
	e->bloblen = bloblen;
	e->size = size;
	MemoryContextSwitchTo(old);

	dlist_push_head(&cache_lru, &e->node);
	cache_bytes += size;
}

/* ----------
 * The interface of the ask engine
 * ----------
 */

/*
 * genie_cache_max_bytes
 *		The largest answer worth fetching whole for the cache.
 */
size_t
genie_cache_max_bytes(void)
{
	if (genie_shared_cache_active())
		return (size_t) genie_shared_cache_kb * 1024 / 4;
	return (size_t) genie_cache_size_kb * 1024;
}

/*
 * genie_cache_lookup
 *		A live cached answer to this question, copied into
 *		CurrentMemoryContext (GENIE_CACHE_HIT).  GENIE_CACHE_MISS: ask it;
 *		*flight is the shared flight this backend now owns (or -1), to be
 *		passed to genie_cache_store or genie_cache_release.
 *		GENIE_CACHE_WAIT: another session is asking it; look again when the
 *		latch is set.  GENIE_CACHE_CONTINUE: this backend took the flight
 *		over from a session that stopped driving it after Genie took the
 *		question: poll that message (cont_conversation, cont_message,
 *		buffers of GENIE_FLIGHT_ID_LEN) instead of asking again.
 */
GenieCacheResult
genie_cache_lookup(const GenieOptions *opts, const char *conversation,
				   const char *question, GenieCachedAnswer *out, int *flight,
				   char *cont_conversation, char *cont_message)
{
	char	   *key;
	char	   *blob = NULL;
	size_t		bloblen = 0;
	bool		shared = genie_shared_cache_active();

	*flight = -1;
	cont_conversation[0] = '\0';
	cont_message[0] = '\0';
	if (opts->cache_ttl <= 0 || (!shared && dlist_is_empty(&cache_lru)))
		return GENIE_CACHE_MISS;
	key = genie_cache_key(opts, GENIE_KEY_ANSWER, conversation, question);
	if (shared)
	{
		switch (genie_shared_cache_get(key, strlen(key), &blob, &bloblen, flight,
									   cont_conversation, cont_message))
		{
			case SC_HIT:
				break;
			case SC_WAIT:
				pfree(key);
				return GENIE_CACHE_WAIT;
			case SC_ASK:
				pfree(key);
				return cont_message[0] ? GENIE_CACHE_CONTINUE : GENIE_CACHE_MISS;
		}
	}
	else
	{
		CacheEntry *e = cache_find(key);

		if (e == NULL)
		{
			pfree(key);
			return GENIE_CACHE_MISS;
		}
		dlist_move_head(&cache_lru, &e->node);
		e->hits++;
		blob = e->blob;
		bloblen = e->bloblen;
	}
	pfree(key);
	if (!deserialize(blob, bloblen, out))
		return GENIE_CACHE_MISS;	/* cannot happen: we wrote it */
	out->shared = shared;
	return GENIE_CACHE_HIT;
}

/*
 * genie_cache_store
 *		Keep a completed answer for opts->cache_ttl seconds, and end the
 *		shared flight (when this backend owns one).
 */
void
genie_cache_store(const GenieOptions *opts, const char *conversation,
				  const char *question, const GenieCachedAnswer *ans, int flight)
{
	char	   *key;
	char	   *blob;
	size_t		bloblen;

	if (opts->cache_ttl <= 0 || ans->message_body == NULL || !genie_mapping_unchanged(opts))
	{
		genie_cache_release(flight);
		return;
	}
	key = genie_cache_key(opts, GENIE_KEY_ANSWER, conversation, question);
	blob = serialize(ans, &bloblen);
	if (genie_shared_cache_active())
		genie_shared_cache_put(key, strlen(key), blob, bloblen, opts,
							   GetCurrentTimestamp() + (TimestampTz) (opts->cache_ttl * USECS_PER_SEC),
							   flight);
	else
		local_store(opts, key, blob, bloblen,
					GetCurrentTimestamp() + (TimestampTz) (opts->cache_ttl * USECS_PER_SEC));
	pfree(blob);
	pfree(key);
}

/*
 * genie_cache_release
 *		Give up a shared flight without an answer (failed, cancelled, not
 *		cacheable): a waiting session asks instead.
 */
void
genie_cache_release(int flight)
{
	genie_shared_cache_release(flight);
}

/*
 * genie_cache_flight_asked
 *		Genie took the question of a shared flight (its message ids).
 */
void
genie_cache_flight_asked(int flight, const char *conversation_id, const char *message_id)
{
	genie_shared_cache_asked(flight, conversation_id, message_id);
}

/*
 * genie_cache_flight_driving
 *		The ask owning a shared flight starts or stops driving it (see
 *		shared_cache.c: an idle flight is taken over by a waiter).
 */
void
genie_cache_flight_driving(int flight, bool driving)
{
	genie_shared_cache_driving(flight, driving);
}

/* Drop this session's entries whose key starts with prefix ("": all). */
static int64
cache_clear(const char *prefix)
{
	dlist_mutable_iter iter;
	size_t		prefixlen = strlen(prefix);
	int64		n = 0;

	dlist_foreach_modify(iter, &cache_lru)
	{
		CacheEntry *e = dlist_container(CacheEntry, node, iter.cur);

		if (strncmp(e->key, prefix, prefixlen) == 0)
		{
			entry_free(e);
			n++;
		}
	}
	return n;
}

/* A user mapping or server changed: its answers may no longer be its. */
static void
cache_invalidate(Datum arg, int cacheid, uint32 hashvalue)
{
	(void) cache_clear("");
	if (genie_shared_cache_active())
		genie_shared_cache_invalidate(cacheid, hashvalue);
}

/* ----------
 * Keyed values for rerun.c: the shared cache when active, else this
 * session's, with the same keys, expiry, invalidation and bounds.
 * ----------
 */

/* Keep a value until expires (when the mapping is unchanged). */
void
genie_cache_kv_put(const GenieOptions *opts, const char *key, const char *blob,
				   size_t bloblen, TimestampTz expires)
{
	if (!genie_mapping_unchanged(opts))
		return;
	if (genie_shared_cache_active())
		genie_shared_cache_put(key, strlen(key), blob, bloblen, opts, expires, -1);
	else
		local_store(opts, key, blob, bloblen, expires);
}

/* A live value, copied into CurrentMemoryContext (its hits counted). */
bool
genie_cache_kv_get(const char *key, char **blob, size_t *bloblen, int64 *hits)
{
	CacheEntry *e;

	*hits = 0;
	if (genie_shared_cache_active())
	{
		Size		len;

		if (!genie_shared_cache_find(key, strlen(key), blob, &len))
			return false;
		*bloblen = len;
		return true;
	}
	e = cache_find(key);
	if (e == NULL)
		return false;
	dlist_move_head(&cache_lru, &e->node);
	e->hits++;
	*hits = e->hits;
	*blob = palloc(e->bloblen + 1);
	memcpy(*blob, e->blob, e->bloblen);
	(*blob)[e->bloblen] = '\0';
	*bloblen = e->bloblen;
	return true;
}

void
genie_cache_kv_forget(const char *key)
{
	CacheEntry *e;

	if (genie_shared_cache_active())
		genie_shared_cache_forget(key, strlen(key));
	else if ((e = cache_find(key)) != NULL)
		entry_free(e);
}

/* The live entries whose key starts with prefix; returns how many. */
int
genie_cache_kv_list(const char *prefix, bool all_dbs, bool with_blobs, GenieCacheItem **items)
{
	dlist_iter	iter;
	TimestampTz now = GetCurrentTimestamp();
	size_t		prefixlen = strlen(prefix);
	int			n = 0;
	int			cap = 0;

	if (genie_shared_cache_active())
		return genie_shared_cache_list(prefix, all_dbs, with_blobs, items);
	dlist_foreach(iter, &cache_lru)
		cap++;
	*items = palloc0(sizeof(GenieCacheItem) * Max(cap, 1));
	dlist_foreach(iter, &cache_lru)
	{
		CacheEntry *e = dlist_container(CacheEntry, node, iter.cur);
		GenieCacheItem *it = &(*items)[n];

		if (e->expires <= now || strncmp(e->key, prefix, prefixlen) != 0)
			continue;
		it->serverid = e->serverid;
		it->umid = e->umid;
		it->key = pstrdup(e->key);
		it->keylen = strlen(e->key);
		if (with_blobs)
		{
			it->blob = palloc(e->bloblen + 1);
			memcpy(it->blob, e->blob, e->bloblen);
			it->blob[e->bloblen] = '\0';
		}
		it->bloblen = e->bloblen;
		it->hits = e->hits;
		it->created = e->created;
		it->expires = e->expires;
		n++;
	}
	return n;
}

/* Drop the entries whose key starts with prefix; returns how many. */
int64
genie_cache_kv_clear(const char *prefix, bool all_dbs)
{
	int64		n = cache_clear(prefix);

	if (genie_shared_cache_active())
		n += genie_shared_cache_clear(prefix, all_dbs);
	return n;
}

/*
 * genie_cache_key_parts
 *		Split a key genie_cache_key wrote (a palloc'd copy) into its nine
 *		parts; false if it is not one.
 */
bool
genie_cache_key_parts(const char *key, char **parts)
{
	char	   *p = pstrdup(key);
	int			n = 0;

	while (n < GENIE_KEY_NPARTS)
	{
		char	   *sep = n < GENIE_KEY_NPARTS - 1 ? strchr(p, '\x01') : NULL;

		parts[n++] = p;
		if (sep == NULL)
			break;
		*sep = '\0';
		p = sep + 1;
	}
	return n == GENIE_KEY_NPARTS;
}

/*
 * genie_fdw_cache_clear
 *		SQL function: empty the answer cache, the shared one for every
 *		session and this session's own; returns how many answers were
 *		dropped (remembered questions stay: genie_fdw_forget).  EXECUTE is
 *		revoked from PUBLIC.
 */
Datum
genie_fdw_cache_clear(PG_FUNCTION_ARGS)
{
	char		prefix[3] = {GENIE_KEY_ANSWER, '\x01', '\0'};

	PG_RETURN_INT64(genie_cache_kv_clear(prefix, true));
}

/*
 * genie_fdw_cache
 *		SQL function: the answers of the current database in the shared
 *		cache (this session's cache without preloading): server, the
 *		mapping's role, space, conversation, question, full_results, bytes,
 *		hits, age and seconds left.  Keys hold no secret (the credentials'
 *		fingerprint is not shown); questions may be confidential, so EXECUTE
 *		is revoked from PUBLIC.
 */
Datum
genie_fdw_cache(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TimestampTz now = GetCurrentTimestamp();
	char		prefix[3] = {GENIE_KEY_ANSWER, '\x01', '\0'};
	GenieCacheItem *items;
	int			n;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	n = genie_cache_kv_list(prefix, false, false, &items);
	for (i = 0; i < n; i++)
	{
		ForeignServer *server = GetForeignServerExtended(items[i].serverid, FSV_MISSING_OK);
		char	   *role = genie_mapping_role(items[i].umid);
		char	   *parts[GENIE_KEY_NPARTS];
		Datum		values[10];
		bool		nulls[10];

		if (!genie_cache_key_parts(items[i].key, parts))
			continue;
		memset(nulls, 0, sizeof(nulls));
		/* parts: kind, dbid, umid, fingerprint (never shown), f|i, host, ... */
		values[0] = server ? CStringGetTextDatum(server->servername) : (Datum) 0;
		nulls[0] = server == NULL;
		values[1] = role ? CStringGetTextDatum(role) : (Datum) 0;
		nulls[1] = role == NULL;
		values[2] = CStringGetTextDatum(parts[GENIE_KEY_SPACE]);
		values[3] = CStringGetTextDatum(parts[GENIE_KEY_CONVERSATION]);
		nulls[3] = parts[GENIE_KEY_CONVERSATION][0] == '\0';
		values[4] = CStringGetTextDatum(parts[GENIE_KEY_QUESTION]);
		values[5] = BoolGetDatum(parts[GENIE_KEY_FULL][0] == 'f');
		values[6] = Int64GetDatum((int64) (items[i].keylen + items[i].bloblen));
		values[7] = Int64GetDatum(items[i].hits);
		values[8] = Float8GetDatum((now - items[i].created) / 1000000.0);
		values[9] = Float8GetDatum(Max(items[i].expires - now, 0) / 1000000.0);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

void
genie_cache_init(void)
{
	CacheRegisterSyscacheCallback(USERMAPPINGOID, cache_invalidate, (Datum) 0);
	CacheRegisterSyscacheCallback(FOREIGNSERVEROID, cache_invalidate, (Datum) 0);

	DefineCustomIntVariable("genie_fdw.cache_size",
							"Size limit of a backend's Genie answer cache.",
							"Answers are cached only for servers or tables with cache_ttl > 0; "
							"with the shared cache (genie_fdw.shared_cache_size), this one is unused.",
							&genie_cache_size_kb,
							65536, 0, INT_MAX / 1024,
							PGC_USERSET,
							GUC_UNIT_KB,
							NULL, NULL, NULL);
	genie_shared_cache_init();
}
