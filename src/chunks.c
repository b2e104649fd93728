/*-------------------------------------------------------------------------
 *
 * chunks.c
 *		  Reading an answer's result: a cursor over its chunks.
 *
 * Owns the chunk cursor.  Chunks come inline (the first in the query
 * result, later ones from the Statement Execution API's chunk endpoint) or
 * behind external links (full-result downloads): presigned URLs fetched
 * with their http_headers and never with the Authorization header, renewed
 * through the chunk endpoint when they have expired.  While the rows of
 * one chunk are returned, the next one is fetched in the background, so
 * memory holds about two chunks.
 *
 * Link policy (links are data sent by the service, so they are hostile
 * until checked): an external link must be https, or plain http to exactly
 * the server's own scheme, host and port when that is a loopback http host
 * (emulators serve their links themselves); no user name or password in
 * it, no control characters; at most 64 http_headers, each a token name
 * that is not one the transport owns (Host, Authorization, Cookie,
 * Content-Length, ...) with a value free of control characters.  The
 * addresses a link leads to are checked by the transport as it connects
 * (http.c, addr_policy.c): public addresses only, or the server's own
 * loopback origin.  An internal link (next_chunk_internal_link) must be a path under
 * /api/2.0/sql/statements/ of the server itself.  A failed download from
 * storage is reported with its HTTP status and the storage's error code
 * only, never its body.
 *
 * An answer from the answer cache (or fetched whole to be cached,
 * genie_answer_fetch_rest) holds all its chunks in its own memory: the
 * cursor then returns them without any request.
 *
 * Ownership: a cursor lives in a memory context of its own (a child of the
 * context it was opened in) that holds the cursor, where the next chunk
 * comes from, and the two chunk contexts (current, prefetched).  The
 * prefetch's HttpCall belongs to the prefetch chunk context, so recycling
 * that context, closing the cursor, or dropping the portal that holds it
 * ends the transfer.  genie_cursor_close frees everything at once.
 *
 * Copyright (c) 2026, genie_fdw developers
 *
 * IDENTIFICATION
 *		  src/chunks.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "limiter.h"
#include "request.h"

/* Where a chunk comes from: copied into the cursor's own context. */
typedef struct ChunkSource
{
	bool		valid;
	char	   *api_link;		/* relative chunk endpoint path, or NULL */
	bool		has_index;
	int64		index;
	GdLink	   *link;			/* an external link already known */
} ChunkSource;

struct GenieCursor
{
	MemoryContext cxt;			/* the cursor, its source, its chunks */
	const GenieOptions *opts;
	const GenieAnswer *answer;
	GenieCallStats *stats;
	MemoryContext chunk_cxt[2]; /* current chunk, and the one prefetched */
	int			cur;
	GdChunk    *current;
	bool		first_pending;	/* the answer's first chunk not yet
								 * returned */
	int			held_next;		/* next of the answer's held chunks */
	ChunkSource next;			/* after current */

	/* the prefetch of "next" into chunk_cxt[1 - cur] */
	HttpCall   *call;
	bool		call_is_link;	/* fetching link data, not the chunk
								 * endpoint */
	GdChunk    *ready;			/* prefetched, complete */
	bool		prefetch_failed;	/* redo it synchronously */
};

#ifdef GENIE_POISON
/* Debug builds: a chunk's memory is poisoned when its context goes. */
typedef struct ChunkPoison
{
	MemoryContextCallback cb;
	GdChunk    *chunk;
	char	   *body;
	size_t		len;
} ChunkPoison;

static void
chunk_poison_cb(void *arg)
{
	ChunkPoison *p = (ChunkPoison *) arg;
	GdChunk    *c = p->chunk;

	if (c->row_start && c->nrows > 0)
	{
		int64		nvalues = c->row_start[c->nrows];

		if (c->values)
			genie_poison(c->values, sizeof(char *) * nvalues);
		if (c->lens)
			genie_poison(c->lens, sizeof(size_t) * nvalues);
		genie_poison(c->row_start, sizeof(int64) * (c->nrows + 1));
	}
	genie_poison(c, sizeof(GdChunk));
	if (p->body)
		genie_poison(p->body, p->len);
}
#endif

/* Mark a chunk built in cxt from body for poisoning (debug builds). */
static void
chunk_owned(MemoryContext cxt, GdChunk *c, char *body, size_t len)
{
#ifdef GENIE_POISON
	ChunkPoison *p = MemoryContextAlloc(cxt, sizeof(ChunkPoison));

	p->chunk = c;
	p->body = body;
	p->len = len;
	p->cb.func = chunk_poison_cb;
	p->cb.arg = p;
	MemoryContextRegisterResetCallback(cxt, &p->cb);
#endif
}

/* ----------
 * Link policy
 * ----------
 */

/* scheme://authority of a URL, or NULL when it has none. */
static char *
url_origin(const char *url)
{
	const char *p = strstr(url, "://");
	size_t		n;

	if (p == NULL)
		return NULL;
	p += 3;
	n = strcspn(p, "/?#");
	return pnstrdup(url, (p - url) + n);
}

static bool
has_control_chars(const char *s)
{
	for (; *s; s++)
		if ((unsigned char) *s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static void
refuse_link(const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
			 errmsg("Genie's result points to a location genie_fdw does not follow"),
			 errdetail("%s", why),
			 errhint("Result links must be https URLs; plain http is followed only to the server's own loopback host and port.")));
}

/* Header names the transport owns, never taken from a link. */
static const char *const forbidden_headers[] = {
	"host", "authorization", "proxy-authorization", "cookie", "content-length",
	"transfer-encoding", "connection", "keep-alive", "upgrade", "expect", "te",
	"trailer", "accept-encoding", "range", NULL
};

/*
 * check_link
 *		Apply the link policy to an external link; raises the error.
 */
static void
check_link(const GenieOptions *opts, const GdLink *link)
{
	char	   *origin;
	const char *auth;
	int			i;

	if (link->url == NULL || has_control_chars(link->url) || strchr(link->url, ' '))
		refuse_link("The link is missing or holds control characters or spaces.");
	origin = url_origin(link->url);
	if (origin == NULL)
		refuse_link("The link is not an absolute URL.");
	auth = strstr(origin, "://") + 3;
	if (*auth == '\0' || strchr(auth, '@') != NULL)
		refuse_link("The link has no host, or carries a user name or password.");
	if (pg_strncasecmp(link->url, "https://", 8) != 0)
	{
		if (pg_strncasecmp(link->url, "http://", 7) != 0)
			refuse_link("The link uses a scheme other than https.");
		if (!(strncmp(opts->host, "http://", 7) == 0 &&
			  genie_host_is_loopback(opts->host) &&
			  strcmp(origin, opts->host) == 0))
			refuse_link("The link uses plain http to a host other than the server's own loopback address.");
	}
	if (link->n_headers > 64)
		refuse_link("The link asks for more than 64 headers.");
	for (i = 0; i < link->n_headers; i++)
	{
		const char *name = link->header_names[i];
		const char *value = link->header_values[i];
		const char *const *f;
		const char *p;

		if (name == NULL || value == NULL || name[0] == '\0' ||
			strlen(name) > 256 || strlen(value) > 8192 || has_control_chars(value))
			refuse_link("A header of the link is empty, too long or holds control characters.");
		for (p = name; *p; p++)
			if (!(isalnum((unsigned char) *p) || strchr("!#$%&'*+-.^_`|~", *p)))
				refuse_link("A header name of the link is not a valid HTTP token.");
		for (f = forbidden_headers; *f; f++)
			if (pg_strcasecmp(name, *f) == 0 || pg_strncasecmp(name, "proxy-", 6) == 0)
				refuse_link("The link asks for a header that genie_fdw does not let a link set.");
	}
	pfree(origin);
}

/*
 * check_api_link
 *		An internal link must be a path of the Statement Execution API.
 */
static bool
api_link_ok(const char *path)
{
	const char *p;

	if (strncmp(path, "/api/2.0/sql/statements/", 24) != 0 || strstr(path, "..") != NULL ||
		strstr(path, "//") != NULL || strlen(path) > 1024)
		return false;
	for (p = path; *p; p++)
		if (!(isalnum((unsigned char) *p) || strchr("-._~/%?=&", *p)))
			return false;
	return true;
}

/*
 * storage_error_code
 *		The error code of a cloud storage error body (<Code>...</Code> of
 *		S3, Azure and GCS), when it is a short plain word; else NULL.
 */
static char *
storage_error_code(const HttpResponse *resp)
{
	const char *p = resp->body ? strstr(resp->body, "<Code>") : NULL;
	size_t		n;
	size_t		i;

	if (p == NULL)
		return NULL;
	p += 6;
	n = strcspn(p, "<");
	if (n == 0 || n > 64)
		return NULL;
	for (i = 0; i < n; i++)
		if (!(isalnum((unsigned char) p[i]) || p[i] == '_' || p[i] == '.' || p[i] == '-'))
			return NULL;
	return pnstrdup(p, n);
}

/* ----------
 * The cursor
 * ----------
 */

/* Copy a link into cxt. */
static GdLink *
copy_link(const GdLink *l, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	GdLink	   *c = palloc(sizeof(GdLink));
	int			i;

	*c = *l;
	c->url = pstrdup(l->url);
	c->expiration = l->expiration ? pstrdup(l->expiration) : NULL;
	c->header_names = palloc(sizeof(char *) * Max(l->n_headers, 1));
	c->header_values = palloc(sizeof(char *) * Max(l->n_headers, 1));
	for (i = 0; i < l->n_headers; i++)
	{
		c->header_names[i] = pstrdup(l->header_names[i]);
		c->header_values[i] = pstrdup(l->header_values[i]);
	}
	MemoryContextSwitchTo(old);
	return c;
}

static void
free_link(GdLink *l)
{
	int			i;

	for (i = 0; i < l->n_headers; i++)
	{
		genie_poison(l->header_values[i], strlen(l->header_values[i]));
		pfree(l->header_names[i]);
		pfree(l->header_values[i]);
	}
	pfree(l->header_names);
	pfree(l->header_values);
	genie_poison(l->url, strlen(l->url));
	pfree(l->url);
	if (l->expiration)
		pfree(l->expiration);
	genie_poison(l, sizeof(GdLink));
	pfree(l);
}

/*
 * source_set
 *		Replace cur->next: the next chunk is at link (when given), and what
 *		follows it at api_link / index.  Everything is copied into the
 *		cursor's own context, so no chunk context reset can free it.
 */
static void
source_set(GenieCursor *cur, const GdLink *link, const char *api_link,
		   bool has_index, int64 index)
{
	ChunkSource *n = &cur->next;
	char	   *new_api = NULL;
	GdLink	   *new_link = NULL;

	if (api_link && api_link[0] == '/' && api_link_ok(api_link))
		new_api = MemoryContextStrdup(cur->cxt, api_link);
	if (link)
		new_link = copy_link(link, cur->cxt);
	/* the old values may be what was passed in: free them after copying */
	if (n->api_link)
		pfree(n->api_link);
	if (n->link)
		free_link(n->link);
	memset(n, 0, sizeof(*n));
	n->api_link = new_api;
	n->link = new_link;
	n->has_index = has_index;
	n->index = index;
	n->valid = new_link != NULL || new_api != NULL || has_index;
	if (api_link && !new_api && !has_index && !new_link)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("Genie's result points to its next chunk in a way genie_fdw cannot follow"),
				 errhint("genie_fdw follows next_chunk_index, or a next_chunk_internal_link under /api/2.0/sql/statements/.")));
}

/* What comes after chunk c. */
static void
set_next_from_chunk(GenieCursor *cur, const GdChunk *c)
{
	source_set(cur, NULL, c->next_chunk_link, c->has_next_index, c->next_chunk_index);
}

static char *
chunk_endpoint_url(const GenieCursor *cur, int64 index)
{
	return psprintf("%s/api/2.0/sql/statements/%s/result/chunks/%lld", cur->opts->host,
					genie_url_segment(cur->answer->statement.statement_id), (long long) index);
}

static char *
source_url(const GenieCursor *cur, const ChunkSource *src)
{
	if (src->api_link)
		return psprintf("%s%s", cur->opts->host, src->api_link);
	if (src->has_index && cur->answer->statement.statement_id)
		return chunk_endpoint_url(cur, src->index);
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
			 errmsg("Genie's result points to its next chunk in a way genie_fdw cannot follow")));
	return NULL;				/* keep compiler quiet */
}

/* A request for a link's data; the link must pass the policy. */
static void
link_request(HttpRequest *req, const GenieOptions *opts, const GdLink *link, HttpHeader **hdrs)
{
	int			i;

	check_link(opts, link);
	memset(req, 0, sizeof(*req));
	req->method = "GET";
	req->url = link->url;
	req->opts = opts;
	/* presigned: the Databricks token must never go to cloud storage */
	req->bearer = NULL;
	/* and it may lead to public addresses only (http.c checks them) */
	req->external = true;
	*hdrs = palloc(sizeof(HttpHeader) * Max(link->n_headers, 1));
	for (i = 0; i < link->n_headers; i++)
	{
		(*hdrs)[i].name = link->header_names[i];
		(*hdrs)[i].value = link->header_values[i];
	}
	req->headers = *hdrs;
	req->nheaders = link->n_headers;
}

static void
count_response(GenieCursor *cur, const HttpResponse *resp)
{
	if (cur->stats)
	{
		cur->stats->requests++;
		cur->stats->bytes += resp->len;
	}
	genie_stats_add(cur->opts, GSTAT_BYTES, (int64) resp->len);
}

/*
 * fetch_link_sync
 *		Rows behind an external link, into chunk c (CurrentMemoryContext).
 *		An expired or refused link is renewed once through the chunk
 *		endpoint; transport failures are retried like any read.
 */
static void
fetch_link_sync(GenieCursor *cur, const GdLink *link, GdChunk *c)
{
	const GenieOptions *opts = cur->opts;
	int			retries = 0;
	bool		renewed = false;

	for (;;)
	{
		HttpRequest req;
		HttpHeader *hdrs;
		HttpResponse resp;
		GdError		err;
		double		wait = 0;

		link_request(&req, opts, link, &hdrs);
		http_perform(&req, &resp);
		if (resp.outcome == HTTP_DONE && (resp.status == 403 || resp.status == 404 || resp.status == 400) &&
			!renewed && link->chunk_index >= 0 && cur->answer->statement.statement_id)
		{
			/* expired: ask the statement API for a fresh link */
			HttpResponse r2;
			GdChunk		meta;

			genie_request(opts, "GET", chunk_endpoint_url(cur, link->chunk_index), NULL, REQ_READ,
						  "a new link to a result chunk", &r2, cur->stats);
			if (!gd_decode_chunk(r2.body, r2.len, genie_arena(CurrentMemoryContext), &meta, &err))
				genie_report_decode_error(opts, &r2, &err, "a result chunk");
			if (meta.n_links < 1)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
						 errmsg("Genie's renewed result chunk has no external link")));
			link = &meta.links[0];
			renewed = true;
			continue;
		}
		if (resp.outcome == HTTP_DONE && resp.status >= 200 && resp.status < 300)
		{
			count_response(cur, &resp);
			/* rows point into the body, which lives as long as the chunk */
			if (!gd_scan_rows(resp.body, resp.len, genie_arena(CurrentMemoryContext), c, &err))
				genie_report_decode_error(opts, &resp, &err, "a result file");
			chunk_owned(CurrentMemoryContext, c, resp.body, resp.len);
			return;
		}
		if (resp.outcome == HTTP_DONE && resp.status != 429 && resp.status < 500)
		{
			char	   *code = storage_error_code(&resp);

			/* storage bodies are not ours to echo: status and code only */
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("could not download a chunk of Genie's full result from cloud storage"),
					 code
					 ? errdetail("HTTP status %ld%s, storage error code %s.", resp.status,
								 renewed ? " (also with a renewed link)" : "", code)
					 : errdetail("HTTP status %ld%s.", resp.status,
								 renewed ? " (also with a renewed link)" : "")));
		}
		/* only reads here: the policy retries what a read may retry */
		if (resp.outcome == HTTP_DONE)
		{
			/* never quote a storage body: drop it before the policy sees it */
			resp.body[0] = '\0';
			resp.len = 0;
		}
		/* cloud storage is not option host: its failures are all retried */
		resp.first_contact = false;
		if (genie_after_response(opts, REQ_READ, "a result file", &resp, retries, true,
								 GENIE_NO_DEADLINE, &wait, cur->stats) == RESP_OK)
			return;				/* not reached: 2xx handled above */
		genie_sleep(wait);
		retries++;
	}
}

/*
 * fetch_source_sync
 *		The chunk at src, rows included, in CurrentMemoryContext.
 */
static GdChunk *
fetch_source_sync(GenieCursor *cur, const ChunkSource *src)
{
	GdChunk    *c = palloc0(sizeof(GdChunk));

	if (src->link)
	{
		fetch_link_sync(cur, src->link, c);
		/* a link's chunk: the next pointers came with the link */
		c->has_next_index = src->has_index;
		c->next_chunk_index = src->index;
		c->next_chunk_link = src->api_link ? pstrdup(src->api_link) : NULL;
	}
	else
	{
		HttpResponse resp;
		GdError		err;

		genie_request(cur->opts, "GET", source_url(cur, src), NULL, REQ_READ, "a result chunk",
					  &resp, cur->stats);
		/* values point into the body, which lives as long as the chunk */
		if (!gd_scan_chunk(resp.body, resp.len, genie_arena(CurrentMemoryContext), c, &err))
			genie_report_decode_error(cur->opts, &resp, &err, "a result chunk");
		chunk_owned(CurrentMemoryContext, c, resp.body, resp.len);
		if (c->n_links > 0 && c->nrows == 0)
		{
			GdChunk    *meta = c;

			c = palloc0(sizeof(GdChunk));
			fetch_link_sync(cur, &meta->links[0], c);
			c->has_next_index = meta->has_next_index;
			c->next_chunk_index = meta->next_chunk_index;
			c->next_chunk_link = meta->next_chunk_link;
		}
	}
	return c;
}

/*
 * prefetch_step
 *		Start or continue fetching cur->next in the background.  A failed
 *		transfer only marks the prefetch failed: genie_cursor_next then
 *		fetches the chunk synchronously, with the full retry policy and
 *		error reports.
 */
static void
prefetch_step(GenieCursor *cur)
{
	MemoryContext pcxt = cur->chunk_cxt[1 - cur->cur];
	MemoryContext old;

	if (!cur->next.valid || cur->ready || cur->prefetch_failed)
		return;
	old = MemoryContextSwitchTo(pcxt);
	if (cur->call == NULL)
	{
		HttpRequest req;
		HttpHeader *hdrs;

		if (cur->next.link)
		{
			link_request(&req, cur->opts, cur->next.link, &hdrs);
			cur->call_is_link = true;
		}
		else
		{
			genie_fill_request(&req, cur->opts, "GET", source_url(cur, &cur->next), NULL);
			cur->call_is_link = false;
		}
		/* the call belongs to pcxt: recycling pcxt ends it */
		cur->call = http_start(&req);
	}
	else if (http_done(cur->call))
	{
		HttpResponse resp;
		GdError		err;
		GdChunk    *c = palloc0(sizeof(GdChunk));
		HttpCall   *call = cur->call;
		bool		ok;

		cur->call = NULL;
		http_finish(call, &resp);
		ok = resp.outcome == HTTP_DONE && resp.status >= 200 && resp.status < 300;
		if (ok)
		{
			count_response(cur, &resp);
			/* values point into the body (in pcxt), which the chunk keeps */
			if (cur->call_is_link)
				ok = gd_scan_rows(resp.body, resp.len, genie_arena(pcxt), c, &err);
			else
				ok = gd_scan_chunk(resp.body, resp.len, genie_arena(pcxt), c, &err);
			if (ok)
				chunk_owned(pcxt, c, resp.body, resp.len);
		}
		if (!ok)
			cur->prefetch_failed = true;
		else if (!cur->call_is_link && c->n_links > 0 && c->nrows == 0)
		{
			/* the chunk endpoint gave a link: fetch its data next */
			source_set(cur, &c->links[0], c->next_chunk_link,
					   c->has_next_index, c->next_chunk_index);
			MemoryContextReset(pcxt);
		}
		else
		{
			if (cur->call_is_link)
			{
				/* a link's chunk: next pointers came with the link */
				c->has_next_index = cur->next.has_index;
				c->next_chunk_index = cur->next.index;
				c->next_chunk_link = cur->next.api_link ? pstrdup(cur->next.api_link) : NULL;
			}
			cur->ready = c;
		}
	}
	MemoryContextSwitchTo(old);
}

/*
 * genie_answer_fetch_rest
 *		Fetch every chunk after the first of an inline answer into the
 *		answer's memory (answer->held; the cursor returns them without a
 *		request), and a copy of each chunk's response into raw for the
 *		answer cache.  Stops when the responses pass max_bytes: the answer
 *		then keeps the chunks fetched so far and the cursor fetches the rest
 *		as usual; returns whether the answer is now whole.
 */
bool
genie_answer_fetch_rest(const GenieOptions *opts, GenieAnswer *answer,
						GenieCallStats *stats, size_t max_bytes, GenieCachedAnswer *raw)
{
	MemoryContext old = MemoryContextSwitchTo(answer->cxt);
	const GdChunk *prev = &answer->statement.result;
	size_t		bytes = raw->message_len + raw->result_len;
	int			max = 4;

	raw->nchunks = 0;
	raw->chunk_bodies = palloc(sizeof(char *) * max);
	raw->chunk_lens = palloc(sizeof(size_t) * max);
	answer->held = palloc0(sizeof(GdChunk) * max);
	answer->nheld = 0;
	for (;;)
	{
		const char *link = prev->next_chunk_link;
		char	   *url;
		HttpResponse resp;
		GdError		err;
		GdChunk    *c;

		if (link && link[0] == '/' && api_link_ok(link))
			url = psprintf("%s%s", opts->host, link);
		else if (prev->has_next_index && answer->statement.statement_id)
			url = psprintf("%s/api/2.0/sql/statements/%s/result/chunks/%lld", opts->host,
						   genie_url_segment(answer->statement.statement_id),
						   (long long) prev->next_chunk_index);
		else if (link == NULL && !prev->has_next_index)
		{
			answer->whole = true;	/* that was the last chunk */
			break;
		}
		else
			break;				/* the cursor reports what it cannot follow */
		if (bytes > max_bytes)
			break;
		genie_request(opts, "GET", url, NULL, REQ_READ, "a result chunk", &resp, stats);
		if (answer->nheld == max)
		{
			max *= 2;
			raw->chunk_bodies = repalloc(raw->chunk_bodies, sizeof(char *) * max);
			raw->chunk_lens = repalloc(raw->chunk_lens, sizeof(size_t) * max);
			answer->held = repalloc(answer->held, sizeof(GdChunk) * max);
		}
		/* the scanner rewrites the body in place: cache a copy */
		raw->chunk_bodies[answer->nheld] = pnstrdup(resp.body, resp.len);
		raw->chunk_lens[answer->nheld] = resp.len;
		c = &answer->held[answer->nheld];
		memset(c, 0, sizeof(GdChunk));
		if (!gd_scan_chunk(resp.body, resp.len, genie_arena(answer->cxt), c, &err))
			genie_report_decode_error(opts, &resp, &err, "a result chunk");
		if (c->n_links > 0 && c->nrows == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg("Genie's inline result continues with an external link")));
		bytes += resp.len;
		answer->nheld++;
		raw->nchunks++;
		prev = c;
	}
	MemoryContextSwitchTo(old);
	return answer->whole;
}

/*
 * genie_cursor_open
 *		A cursor over the answer's result (which must have one), in a new
 *		child context of CurrentMemoryContext; the answer must outlive it.
 */
GenieCursor *
genie_cursor_open(const GenieOptions *opts, const GenieAnswer *answer,
				  GenieCallStats *stats)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "genie_fdw cursor",
											  ALLOCSET_SMALL_SIZES);
	GenieCursor *cur = MemoryContextAllocZero(cxt, sizeof(GenieCursor));

	cur->cxt = cxt;
	cur->opts = opts;
	cur->answer = answer;
	cur->stats = stats;
	cur->chunk_cxt[0] = AllocSetContextCreate(cxt, "genie_fdw chunk", ALLOCSET_DEFAULT_SIZES);
	cur->chunk_cxt[1] = AllocSetContextCreate(cxt, "genie_fdw chunk", ALLOCSET_DEFAULT_SIZES);
	cur->first_pending = true;
	return cur;
}

/*
 * genie_cursor_next
 *		The next chunk of rows, valid until the next call; NULL after the
 *		last.  Starts fetching the chunk after it in the background.
 */
const GdChunk *
genie_cursor_next(GenieCursor *cur)
{
	MemoryContext old;
	GdChunk    *c;

	if (cur->first_pending)
	{
		const GdChunk *first = &cur->answer->statement.result;

		cur->first_pending = false;
		if (first->n_links > 0 && first->nrows == 0)
		{
			/* a full-result download: the first chunk is behind a link */
			old = MemoryContextSwitchTo(cur->chunk_cxt[cur->cur]);
			c = palloc0(sizeof(GdChunk));
			fetch_link_sync(cur, &first->links[0], c);
			MemoryContextSwitchTo(old);
			cur->current = c;
		}
		else
			cur->current = (GdChunk *) first;
		if (cur->answer->nheld == 0 && !cur->answer->whole)
		{
			set_next_from_chunk(cur, first);
			prefetch_step(cur);
		}
		return cur->current;
	}

	/* chunks the answer holds in memory: no request */
	if (cur->held_next < cur->answer->nheld)
	{
		c = &cur->answer->held[cur->held_next++];
		cur->current = c;
		if (cur->held_next == cur->answer->nheld && !cur->answer->whole)
		{
			set_next_from_chunk(cur, c);
			prefetch_step(cur);
		}
		return c;
	}

	if (!cur->next.valid)
	{
		cur->current = NULL;
		return NULL;
	}

	/* finish the prefetch, or fetch synchronously */
	while (!cur->ready && !cur->prefetch_failed)
	{
		prefetch_step(cur);
		if (cur->ready || cur->prefetch_failed)
			break;
		if (cur->call && !http_done(cur->call))
			(void) http_wait(&cur->call, 1, 1000);
	}
	if (cur->ready)
		c = cur->ready;
	else
	{
		/* the source lives in the cursor's context, not in the chunk's */
		cur->call = NULL;
		MemoryContextReset(cur->chunk_cxt[1 - cur->cur]);
		old = MemoryContextSwitchTo(cur->chunk_cxt[1 - cur->cur]);
		c = fetch_source_sync(cur, &cur->next);
		MemoryContextSwitchTo(old);
	}

	/* the prefetched chunk becomes current; the old one's memory goes */
	MemoryContextReset(cur->chunk_cxt[cur->cur]);
	cur->cur = 1 - cur->cur;
	cur->ready = NULL;
	cur->prefetch_failed = false;
	cur->current = c;
	set_next_from_chunk(cur, c);
	prefetch_step(cur);
	return c;
}

/*
 * genie_cursor_progress
 *		Let the background fetch of the next chunk go on (called every few
 *		hundred rows while the current chunk is returned).
 */
void
genie_cursor_progress(GenieCursor *cur)
{
	if (cur->call)
	{
		http_progress();
		prefetch_step(cur);
	}
}

/*
 * genie_cursor_close
 *		Stop a background fetch and free the cursor and its chunks.
 */
void
genie_cursor_close(GenieCursor *cur)
{
	MemoryContext cxt = cur->cxt;

	cur->call = NULL;			/* released with its chunk context */
	genie_poison(cur, sizeof(GenieCursor));
	MemoryContextDelete(cxt);
}
