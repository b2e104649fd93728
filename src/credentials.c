/*-------------------------------------------------------------------------
 *
 * credentials.c
 *		  Credentials of genie_fdw's requests, and masking them.
 *
 * Owns the bearer token of each request: the user mapping's personal
 * access token, or an OAuth machine-to-machine access token fetched from
 * the workspace's /oidc/v1/token endpoint for a service principal.  OAuth
 * tokens are cached per backend keyed by user mapping (as postgres_fdw
 * keys its connections), so a role never uses a token fetched with
 * another mapping's secret; an entry also remembers the host, client id
 * and secret it was fetched with and is dropped when they change, and every
 * entry is dropped when any user mapping or server changes (syscache
 * invalidation), as the answer cache is (cache.c).  Cached tokens live in
 * TopMemoryContext and are zeroed before they are freed.
 *
 * Also genie_mask_secrets, which every message built from a response runs
 * through: the mapping's token, client secret and cached access token,
 * and anything shaped like a Databricks token, become asterisks.
 *
 * Copyright (c) 2026, genie_fdw developers
 *
 * IDENTIFICATION
 *		  src/credentials.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/ilist.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "request.h"

/* One cached OAuth access token. */
typedef struct OAuthEntry
{
	dlist_node	node;
	Oid			umid;			/* the user mapping it was fetched for */
	char	   *host;
	char	   *client_id;
	char	   *client_secret;
	char	   *access_token;
	TimestampTz expires;
} OAuthEntry;

/* Most recently used first; a backend rarely holds more than a few. */
#define OAUTH_CACHE_MAX 32
static dlist_head oauth_entries = DLIST_STATIC_INIT(oauth_entries);
static int	oauth_nentries = 0;

static void
wipe_free(char *s)
{
	if (s)
	{
		memset(s, 0, strlen(s));
		pfree(s);
	}
}

static void
entry_free(OAuthEntry *e)
{
	dlist_delete(&e->node);
	oauth_nentries--;
	wipe_free(e->access_token);
	wipe_free(e->client_secret);
	pfree(e->client_id);
	pfree(e->host);
	pfree(e);
}

/* A user mapping or server changed: forget every token. */
static void
credentials_invalidate(Datum arg, int cacheid, uint32 hashvalue)
{
	while (!dlist_is_empty(&oauth_entries))
		entry_free(dlist_container(OAuthEntry, node, dlist_head_node(&oauth_entries)));
}

void
genie_credentials_init(void)
{
	CacheRegisterSyscacheCallback(USERMAPPINGOID, credentials_invalidate, (Datum) 0);
	CacheRegisterSyscacheCallback(FOREIGNSERVEROID, credentials_invalidate, (Datum) 0);
}

static OAuthEntry *
oauth_find(const GenieOptions *opts)
{
	dlist_iter	iter;

	dlist_foreach(iter, &oauth_entries)
	{
		OAuthEntry *e = dlist_container(OAuthEntry, node, iter.cur);

		if (e->umid == opts->umid &&
			strcmp(e->host, opts->host) == 0 &&
			strcmp(e->client_id, opts->client_id) == 0 &&
			strcmp(e->client_secret, opts->client_secret) == 0)
			return e;
	}
	return NULL;
}

/*
 * oauth_token
 *		Access token for a service principal: fetched from the workspace's
 *		/oidc/v1/token endpoint and cached until shortly before it expires.
 */
static const char *
oauth_token(const GenieOptions *opts, bool force)
{
	HttpRequest req;
	HttpResponse resp;
	GdToken		tok;
	GdError		err;
	char	   *url;
	MemoryContext old;
	OAuthEntry *e = oauth_find(opts);

	if (e && !force && GetCurrentTimestamp() < e->expires)
	{
		dlist_move_head(&oauth_entries, &e->node);
		return e->access_token;
	}

	url = psprintf("%s/oidc/v1/token", opts->host);
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = url;
	req.body = "grant_type=client_credentials&scope=all-apis";
	req.content_type = "application/x-www-form-urlencoded";
	req.basic_user = opts->client_id;
	req.basic_password = opts->client_secret;
	req.opts = opts;
	http_perform(&req, &resp);
	if (resp.outcome != HTTP_DONE)
		genie_report_transport_error(opts, &resp, "an OAuth token", 0);
	if (resp.status == 400 || resp.status == 401 || resp.status == 403)
		genie_report_credentials_refused(opts,
										 psprintf("The token endpoint answered HTTP status %ld.",
												  resp.status),
										 true);
	if (resp.status != 200)
		genie_report_http_error(opts, &resp, "an OAuth token", 0);
	if (!gd_decode_token(resp.body, resp.len, genie_arena(CurrentMemoryContext), &tok, &err))
		genie_report_decode_error(opts, &resp, &err, "an OAuth token response");
	/* the response held the token: it goes now */
	memset(resp.body, 0, resp.len);

	/* (the lookup above may have been invalidated meanwhile: look again) */
	e = oauth_find(opts);
	if (e)
		entry_free(e);
	if (oauth_nentries >= OAUTH_CACHE_MAX)
		entry_free(dlist_container(OAuthEntry, node, dlist_tail_node(&oauth_entries)));
	old = MemoryContextSwitchTo(TopMemoryContext);
	e = palloc0(sizeof(OAuthEntry));
	e->umid = opts->umid;
	e->access_token = pstrdup(tok.access_token);
	e->host = pstrdup(opts->host);
	e->client_id = pstrdup(opts->client_id);
	e->client_secret = pstrdup(opts->client_secret);
	MemoryContextSwitchTo(old);
	/* renew a minute early, or at half-life for short-lived tokens */
	e->expires = GetCurrentTimestamp() +
		(TimestampTz) (Max(tok.expires_in - 60, tok.expires_in / 2) * USECS_PER_SEC);
	dlist_push_head(&oauth_entries, &e->node);
	oauth_nentries++;
	memset(tok.access_token, 0, strlen(tok.access_token));
	return e->access_token;
}

/*
 * genie_bearer
 *		The bearer token for a request with these options: the mapping's
 *		token, or a (new, when refresh) OAuth access token.
 */
const char *
genie_bearer(const GenieOptions *opts, bool refresh)
{
	if (opts->client_id)
		return oauth_token(opts, refresh);
	return opts->token;
}

static void
mask_one(char *text, const char *secret)
{
	size_t		n;
	char	   *p;

	if (secret == NULL || (n = strlen(secret)) < 4)
		return;
	while ((p = strstr(text, secret)) != NULL)
		memset(p, '*', n);
}

/*
 * genie_mask_secrets
 *		Overwrite, in place, every secret of opts in text with asterisks:
 *		the token, the client secret, cached access tokens of this mapping,
 *		and anything that looks like a Databricks token ("dapi" and hex).
 */
void
genie_mask_secrets(const GenieOptions *opts, char *text)
{
	dlist_iter	iter;
	char	   *p;

	if (text == NULL)
		return;
	mask_one(text, opts->token);
	mask_one(text, opts->client_secret);
	dlist_foreach(iter, &oauth_entries)
	{
		OAuthEntry *e = dlist_container(OAuthEntry, node, iter.cur);

		if (e->umid == opts->umid)
			mask_one(text, e->access_token);
	}
	/* personal access tokens of any user: dapi followed by hex digits */
	for (p = text; (p = strstr(p, "dapi")) != NULL;)
	{
		size_t		n = 4;

		while (isxdigit((unsigned char) p[n]) || p[n] == '-')
			n++;
		if (n >= 12)
			memset(p, '*', n);
		p += n;
	}
}
