/*-------------------------------------------------------------------------
 *
 * genie_api.c
 *		  Calls to the Databricks Genie Conversation API and the Statement
 *		  Execution API, with genie_fdw's retry policy.
 *
 * Owns: the URLs of every endpoint genie_fdw uses, credentials (a PAT, or
 * an OAuth machine-to-machine token fetched and cached per backend), THE
 * retry policy (genie_request: the one place that decides whether a failed
 * request is tried again and how long to wait), polling a message until it
 * is answered, fetching a statement's result chunks, and turning every
 * failure into an ereport with an errcode.  Waits are latch waits, so query
 * cancel and statement_timeout end them at once.  Tokens and client secrets
 * are never part of a message.
 *
 * Copyright (c) 2026, genie_fdw developers
 *
 * IDENTIFICATION
 *		  src/genie_api.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#if PG_VERSION_NUM >= 150000
#include "common/pg_prng.h"
#endif
#include "miscadmin.h"
#include "pgstat.h"
#include "portability/instr_time.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "genie_fdw.h"
#include "limiter.h"

/* Growth of the wait between two polls of a message. */
#define POLL_GROWTH 1.5

/* What kind of request this is, for the retry policy. */
typedef enum GenieReqKind
{
	REQ_READ,					/* idempotent GET */
	REQ_QUESTION				/* POST that asks a question: never twice */
} GenieReqKind;

/* OAuth access token cached for this backend. */
typedef struct OAuthCache
{
	char	   *host;
	char	   *client_id;
	char	   *client_secret;
	char	   *access_token;
	TimestampTz expires;
} OAuthCache;

static OAuthCache oauth_cache = {NULL, NULL, NULL, NULL, 0};

static void *
arena_alloc(void *arg, size_t size)
{
	return MemoryContextAllocExtended((MemoryContext) arg, size,
									  MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
}

/*
 * genie_arena
 *		A decoding arena that allocates in cxt.
 */
GdArena *
genie_arena(MemoryContext cxt)
{
	GdArena    *a = MemoryContextAlloc(cxt, sizeof(GdArena));

	a->alloc = arena_alloc;
	a->arg = cxt;
	return a;
}

static double
elapsed_seconds(instr_time start)
{
	instr_time	now;

	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, start);
	return INSTR_TIME_GET_DOUBLE(now);
}

/*
 * genie_sleep
 *		Wait on the latch for a number of seconds; cancel, statement_timeout
 *		and postmaster death end the wait at once.
 */
void
genie_sleep(double seconds)
{
	instr_time	start;

	INSTR_TIME_SET_CURRENT(start);
	for (;;)
	{
		double		left = seconds - elapsed_seconds(start);
		long		ms;

		CHECK_FOR_INTERRUPTS();
		if (left <= 0)
			break;
		ms = (long) ceil(left * 1000.0);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* Percent-encode one path segment. */
static char *
url_segment(const char *s)
{
	StringInfoData buf;
	const unsigned char *p;

	initStringInfo(&buf);
	for (p = (const unsigned char *) s; *p; p++)
	{
		if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~')
			appendStringInfoChar(&buf, (char) *p);
		else
			appendStringInfo(&buf, "%%%02X", *p);
	}
	return buf.data;
}

/* host + /api/2.0/genie/spaces/{space} + suffix */
static char *
space_url(const GenieOptions *opts, const char *fmt,...) pg_attribute_printf(2, 3);

static char *
space_url(const GenieOptions *opts, const char *fmt,...)
{
	StringInfoData buf;
	va_list		ap;

	initStringInfo(&buf);
	appendStringInfo(&buf, "%s/api/2.0/genie/spaces/%s", opts->host, url_segment(opts->space_id));
	for (;;)
	{
		int			needed;

		va_start(ap, fmt);
		needed = appendStringInfoVA(&buf, fmt, ap);
		va_end(ap);
		if (needed == 0)
			break;
		enlargeStringInfo(&buf, needed);
	}
	return buf.data;
}

/*
 * body_excerpt
 *		A short, printable excerpt of a response body for errdetail: an HTML
 *		page's <title>, else its first 200 characters.  Any occurrence of the
 *		token is masked, in case a proxy echoes request headers.
 */
static char *
body_excerpt(const GenieOptions *opts, const HttpResponse *resp)
{
	const char *b = resp->body;
	const char *t;
	StringInfoData buf;
	size_t		i;
	size_t		n;

	if (resp->len == 0)
		return pstrdup("(empty body)");
	initStringInfo(&buf);
	t = strstr(b, "<title>");
	if (t == NULL)
		t = strstr(b, "<TITLE>");
	if (t != NULL)
	{
		t += 7;
		n = strcspn(t, "<");
		b = t;
	}
	else
		n = resp->len;
	for (i = 0; i < n && buf.len < 200; i++)
	{
		unsigned char c = (unsigned char) b[i];

		appendStringInfoChar(&buf, (c < 0x20 || c >= 0x7f) ? ' ' : (char) c);
	}
	if (i < n)
		appendStringInfoString(&buf, "...");
	if (opts->token && strlen(opts->token) >= 4)
	{
		char	   *p;

		while ((p = strstr(buf.data, opts->token)) != NULL)
			memset(p, '*', strlen(opts->token));
	}
	return buf.data;
}

/*
 * report_decode_error
 *		A response that is not JSON, or not the documented shape.
 */
static void
report_decode_error(const GenieOptions *opts, const HttpResponse *resp,
					const GdError *err, const char *what)
{
	if (err->status == GD_NOMEM)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while decoding %s from Genie", what)));
	ereport(ERROR,
			(errcode(err->status == GD_SYNTAX ? ERRCODE_FDW_REPLY_HANDLE : ERRCODE_FDW_INVALID_DATA_TYPE),
			 errmsg("could not decode %s from Genie: %s", what, err->message),
			 errdetail("HTTP status %ld, content type %s, body: %s", resp->status,
					   resp->content_type ? resp->content_type : "(none)",
					   body_excerpt(opts, resp))));
}

/*
 * report_http_error
 *		Raise the error for a final non-2xx response.
 */
static void
report_http_error(const GenieOptions *opts, const HttpResponse *resp,
				  const char *what, int retries)
{
	GdApiError apierr;
	char	   *detail;
	GdArena    *arena = genie_arena(CurrentMemoryContext);
	int			code;

	if (gd_decode_api_error(resp->body, resp->len, arena, &apierr))
		detail = psprintf("Genie said: %s%s%s", apierr.error_code ? apierr.error_code : "",
						  apierr.error_code && apierr.message ? ": " : "",
						  apierr.message ? apierr.message : "");
	else
		detail = psprintf("HTTP status %ld, body: %s", resp->status, body_excerpt(opts, resp));

	switch (resp->status)
	{
		case 401:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
					 errmsg("Databricks refused the credentials of the user mapping for server \"%s\"",
							opts->server_name),
					 errdetail_internal("%s", detail),
					 errhint("Check the token (or client_id and client_secret) in the user mapping.")));
			break;
		case 403:
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("Databricks denied access to Genie space \"%s\"", opts->space_id),
					 errdetail_internal("%s", detail),
					 errhint("Check the credentials in the user mapping for server \"%s\": they must be valid and belong to a user with access to the space (CAN RUN) and its SQL warehouse (CAN USE).",
							 opts->server_name)));
			break;
		case 404:
			if (strcmp(what, "a result chunk") == 0 || strcmp(what, "a query result") == 0)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("the result of Genie's query is no longer available"),
						 errdetail_internal("%s", detail),
						 errhint("Statement results are kept for a limited time; ask the question again.")));
			ereport(ERROR,
					(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
					 strcmp(what, "a new conversation") == 0
					 ? errmsg("Genie space \"%s\" was not found", opts->space_id)
					 : strcmp(what, "a follow-up message") == 0
					 ? errmsg("the Genie conversation to follow up was not found in space \"%s\"", opts->space_id)
					 : errmsg("Genie could not find %s in space \"%s\"", what, opts->space_id),
					 errdetail_internal("%s", detail),
					 errhint("Check option space_id, and the conversation id if one was given.")));
			break;
		default:
			break;
	}

	code = resp->status == 429 ? ERRCODE_CONFIGURATION_LIMIT_EXCEEDED : ERRCODE_FDW_ERROR;
	if (retries > 0)
		ereport(ERROR,
				(errcode(code),
				 errmsg("Genie request for %s failed with HTTP status %ld after %d %s",
						what, resp->status, retries, retries == 1 ? "retry" : "retries"),
				 errdetail_internal("%s", detail),
				 resp->status == 429
				 ? errhint("The workspace's Genie question quota is exhausted; raise max_retries or max_backoff, or ask again later.")
				 : 0));
	ereport(ERROR,
			(errcode(code),
			 errmsg("Genie request for %s failed with HTTP status %ld", what, resp->status),
			 errdetail_internal("%s", detail)));
}

static void
report_transport_error(const GenieOptions *opts, const HttpResponse *resp,
					   const char *what, int retries)
{
	if (resp->outcome == HTTP_TOO_LARGE)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("response to the Genie request for %s is larger than max_response_size (%lld bytes)",
						what, (long long) opts->max_response_size),
				 errhint("Raise option max_response_size of server \"%s\".", opts->server_name)));
	if (resp->tls_error)
		ereport(ERROR,
				(errcode(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION),
				 errmsg("could not establish a TLS connection to %s", opts->host),
				 errdetail_internal("%s", resp->error),
				 errhint("For a private certificate authority, set option ca_file of server \"%s\".",
						 opts->server_name)));
	ereport(ERROR,
			(errcode(resp->outcome == HTTP_NOT_CONNECTED
					 ? ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION
					 : ERRCODE_CONNECTION_FAILURE),
			 errmsg("Genie request for %s failed%s", what,
					resp->outcome == HTTP_TIMEOUT ? " (timed out)" : ""),
			 retries > 0
			 ? errdetail_internal("%s: %s (after %d %s)", opts->host, resp->error,
								  retries, retries == 1 ? "retry" : "retries")
			 : errdetail_internal("%s: %s", opts->host, resp->error)));
}

/*
 * backoff_seconds
 *		The seed's formula: initial_backoff * backoff_multiplier^n, capped at
 *		max_backoff, plus up to 10% jitter.
 */
static double
backoff_seconds(const GenieOptions *opts, int attempt)
{
	double		w = opts->initial_backoff * pow(opts->backoff_multiplier, attempt);

	if (w > opts->max_backoff)
		w = opts->max_backoff;
#if PG_VERSION_NUM >= 150000
	return w + pg_prng_double(&pg_global_prng_state) * 0.1 * w;
#else
	return w + ((double) random() / (double) MAX_RANDOM_VALUE) * 0.1 * w;
#endif							/* PG_VERSION_NUM */
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

	if (!force && oauth_cache.access_token &&
		strcmp(oauth_cache.host, opts->host) == 0 &&
		strcmp(oauth_cache.client_id, opts->client_id) == 0 &&
		strcmp(oauth_cache.client_secret, opts->client_secret) == 0 &&
		GetCurrentTimestamp() < oauth_cache.expires)
		return oauth_cache.access_token;

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
		report_transport_error(opts, &resp, "an OAuth token", 0);
	if (resp.status == 400 || resp.status == 401 || resp.status == 403)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("Databricks refused the OAuth client credentials of the user mapping for server \"%s\"",
						opts->server_name),
				 errdetail("The token endpoint answered HTTP status %ld.", resp.status),
				 errhint("Check client_id and client_secret in the user mapping.")));
	if (resp.status != 200)
		report_http_error(opts, &resp, "an OAuth token", 0);
	if (!gd_decode_token(resp.body, resp.len, genie_arena(CurrentMemoryContext), &tok, &err))
		report_decode_error(opts, &resp, &err, "an OAuth token response");

	if (oauth_cache.access_token)
	{
		memset(oauth_cache.access_token, 0, strlen(oauth_cache.access_token));
		pfree(oauth_cache.access_token);
		pfree(oauth_cache.host);
		pfree(oauth_cache.client_id);
		memset(oauth_cache.client_secret, 0, strlen(oauth_cache.client_secret));
		pfree(oauth_cache.client_secret);
	}
	old = MemoryContextSwitchTo(TopMemoryContext);
	oauth_cache.access_token = pstrdup(tok.access_token);
	oauth_cache.host = pstrdup(opts->host);
	oauth_cache.client_id = pstrdup(opts->client_id);
	oauth_cache.client_secret = pstrdup(opts->client_secret);
	MemoryContextSwitchTo(old);
	/* renew a minute early, or at half-life for short-lived tokens */
	oauth_cache.expires = GetCurrentTimestamp() +
		(TimestampTz) (Max(tok.expires_in - 60, tok.expires_in / 2) * USECS_PER_SEC);
	memset(tok.access_token, 0, strlen(tok.access_token));
	return oauth_cache.access_token;
}

/*
 * after_response
 *		Book-keeping after one attempt of a request (counters, the shared
 *		limiter) and THE retry policy: returns RESP_OK for a 2xx response,
 *		RESP_RETRY with *wait set when the request is to be sent again,
 *		RESP_REFRESH when a new OAuth token is to be fetched first, or
 *		raises the error.
 *
 *		Retried: 429 and 503 (waiting Retry-After when given, else the
 *		backoff), requests that never reached the service.  Reads are also
 *		retried on 500, 502, 504, timeouts and dropped connections.  A
 *		question (POST) is retried only when it provably did not reach
 *		Genie: connection refused or 429, so a question is never asked twice.
 *		With OAuth, a 401 fetches a new token once.
 */
typedef enum RespVerdict
{
	RESP_OK,
	RESP_RETRY,
	RESP_REFRESH
} RespVerdict;

static RespVerdict
after_response(const GenieOptions *opts, GenieReqKind kind, const char *what,
			   HttpResponse *resp, int retries, bool refreshed, double *wait,
			   GenieCallStats *stats)
{
	bool		retry = false;

	if (stats)
	{
		stats->requests++;
		stats->bytes += resp->len;
	}
	genie_stats_add(opts, GSTAT_BYTES, (int64) resp->len);
	if (kind == REQ_QUESTION && resp->outcome == HTTP_NOT_CONNECTED)
		genie_limiter_return_slot(opts);
	if (resp->outcome == HTTP_DONE && resp->status == 429)
	{
		genie_stats_add(opts, GSTAT_429, 1);
		genie_limiter_report_429(opts, resp->retry_after);
	}

	if (resp->outcome == HTTP_DONE && resp->status >= 200 && resp->status < 300)
	{
		if (kind == REQ_QUESTION)
			genie_stats_add(opts, GSTAT_QUESTIONS, 1);
		return RESP_OK;
	}
	if (resp->outcome == HTTP_DONE && resp->status == 401 && opts->client_id && !refreshed)
		return RESP_REFRESH;

	switch (resp->outcome)
	{
		case HTTP_NOT_CONNECTED:
			retry = true;
			break;
		case HTTP_TIMEOUT:
		case HTTP_FAILED:
			retry = (kind == REQ_READ) && !resp->tls_error;
			break;
		case HTTP_TOO_LARGE:
			retry = false;
			break;
		case HTTP_DONE:
			if (resp->status == 429)
				retry = true;
			else if (resp->status == 503)
				retry = (kind == REQ_READ);
			else if (resp->status == 500 || resp->status == 502 || resp->status == 504)
				retry = (kind == REQ_READ);
			break;
	}

	if (!retry || retries >= opts->max_retries)
	{
		if (resp->outcome == HTTP_DONE)
			report_http_error(opts, resp, what, retries);
		report_transport_error(opts, resp, what, retries);
	}

	*wait = (resp->outcome == HTTP_DONE && resp->retry_after >= 0)
		? resp->retry_after : backoff_seconds(opts, retries);
	if (genie_progress)
		ereport(NOTICE,
				(errmsg("genie_fdw: %s: %s, retrying in %.1f s (retry %d of %d)", what,
						resp->outcome == HTTP_DONE ? psprintf("HTTP status %ld", resp->status) : resp->error,
						*wait, retries + 1, opts->max_retries)));
	if (stats)
		stats->retries++;
	genie_stats_add(opts, GSTAT_RETRIES, 1);
	return RESP_RETRY;
}

static void
fill_request(HttpRequest *req, const GenieOptions *opts, const char *method,
			 const char *url, const char *body)
{
	memset(req, 0, sizeof(*req));
	req->method = method;
	req->url = url;
	req->body = body;
	req->opts = opts;
	req->bearer = opts->client_id ? oauth_token(opts, false) : opts->token;
}

/*
 * genie_request
 *		Send one API request and wait for it, with the retry policy of
 *		after_response; returns only with a 2xx response.
 */
static void
genie_request(const GenieOptions *opts, const char *method, const char *url,
			  const char *body, GenieReqKind kind, const char *what,
			  HttpResponse *resp, GenieCallStats *stats)
{
	HttpRequest req;
	int			retries = 0;
	bool		refreshed = false;

	for (;;)
	{
		double		wait = 0;

		fill_request(&req, opts, method, url, body);
		/* every attempt to ask takes a slot of the workspace's quota */
		if (kind == REQ_QUESTION)
			genie_limiter_acquire(opts);
		http_perform(&req, resp);
		switch (after_response(opts, kind, what, resp, retries, refreshed, &wait, stats))
		{
			case RESP_OK:
				return;
			case RESP_REFRESH:
				(void) oauth_token(opts, true);
				refreshed = true;
				break;
			case RESP_RETRY:
				genie_sleep(wait);
				retries++;
				break;
		}
	}
}

/* ----------
 * Asking questions: an engine that runs any number of questions at once
 * (up to max_concurrent in flight), each a small state machine driven by
 * genie_askset_next.  One question is the same engine with one ask.
 * ----------
 */

/* Where an ask stands. */
typedef enum AskPhase
{
	PH_NEW,						/* not started */
	PH_SLOT,					/* waiting for a question slot (limiter) */
	PH_SEND,					/* the step's request is to be sent now */
	PH_CALL,					/* the step's request is in flight */
	PH_SLEEP,					/* waiting until "wake", then PH_SEND/PH_SLOT */
	PH_DONE						/* answered (or failed: then the error was
								 * raised) */
} AskPhase;

/* Which request an ask is making. */
typedef enum AskStep
{
	STEP_POST,					/* ask: start conversation or create message */
	STEP_POLL,					/* get message */
	STEP_RESULT,				/* get the query result */
	STEP_EXECUTE,				/* run the attachment's query again */
	STEP_DOWNLOAD,				/* start a full-result download */
	STEP_DOWNLOAD_POLL			/* poll the download */
} AskStep;

typedef struct GenieAsk
{
	GenieAskSet *set;
	MemoryContext cxt;			/* the answer lives here */
	GenieAnswer *answer;
	char	   *target_conversation;	/* follow-up in this conversation */
	AskPhase	phase;
	AskStep		step;
	bool		returned;		/* handed to the caller */
	HttpCall   *call;
	HttpResponse resp;
	char	   *url;
	char	   *body;
	int			retries;		/* of the current request */
	bool		refreshed;
	int			rate_retries;	/* questions asked again after RATE_LIMIT */
	double		interval;		/* next wait between polls */
	double		started;		/* now_seconds() at the start */
	double		wake;			/* PH_SLEEP, PH_SLOT: until when */
	char	   *last_status;
	GdDownload	download;		/* full_results: the download's ids */
	GenieCachedAnswer raw;		/* the bodies the answer came from, for
								 * the answer cache */
} GenieAsk;

struct GenieAskSet
{
	const GenieOptions *opts;
	MemoryContext cxt;
	GenieCallStats *stats;
	int			max_concurrent;
	int			nasks;
	int			maxasks;
	GenieAsk  **asks;
	int			nreturned;
};

static void
ask_error_callback(void *arg)
{
	GenieAsk   *ask = (GenieAsk *) arg;
	const GenieOptions *opts = ask->set->opts;

	if (ask->answer->message_id)
		errcontext("Genie space %s, conversation %s, message %s%s%s",
				   opts->space_id, ask->answer->conversation_id, ask->answer->message_id,
				   ask->answer->message.status ? ", status " : "",
				   ask->answer->message.status ? ask->answer->message.status : "");
	else
		errcontext("Genie space %s at %s", opts->space_id, opts->host);
}

/*
 * genie_askset_create
 *		An empty set of questions for one space, in CurrentMemoryContext.
 */
GenieAskSet *
genie_askset_create(const GenieOptions *opts, int max_concurrent,
					GenieCallStats *stats)
{
	GenieAskSet *set = palloc0(sizeof(GenieAskSet));

	set->opts = opts;
	set->cxt = CurrentMemoryContext;
	set->stats = stats;
	set->max_concurrent = Max(max_concurrent, 1);
	set->maxasks = 4;
	set->asks = palloc(sizeof(GenieAsk *) * set->maxasks);
	return set;
}

/*
 * genie_askset_add
 *		Add a question (a follow-up when conversation_id is given).  Each
 *		answer gets its own memory context, a child of the set's; free it
 *		with genie_answer_free once its rows are consumed.
 */
void
genie_askset_add(GenieAskSet *set, const char *question, const char *conversation_id)
{
	GenieAsk   *ask;
	MemoryContext old;

	if (set->nasks == set->maxasks)
	{
		set->maxasks *= 2;
		set->asks = repalloc(set->asks, sizeof(GenieAsk *) * set->maxasks);
	}
	ask = MemoryContextAllocZero(set->cxt, sizeof(GenieAsk));
	ask->set = set;
	ask->cxt = AllocSetContextCreate(set->cxt, "genie_fdw answer", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(ask->cxt);
	ask->answer = palloc0(sizeof(GenieAnswer));
	ask->answer->cxt = ask->cxt;
	ask->answer->question = pstrdup(question);
	ask->target_conversation = conversation_id ? pstrdup(conversation_id) : NULL;
	MemoryContextSwitchTo(old);
	ask->phase = PH_NEW;
	set->asks[set->nasks++] = ask;
}

void
genie_answer_free(GenieAnswer *answer)
{
	MemoryContextDelete(answer->cxt);
}

static bool
is_rate_limit_failure(const GdMessage *msg)
{
	return msg->status && strcmp(msg->status, "FAILED") == 0 &&
		msg->error_type && strncmp(msg->error_type, "RATE_LIMIT", 10) == 0;
}

static const char *
step_what(const GenieAsk *ask)
{
	switch (ask->step)
	{
		case STEP_POST:
			return ask->target_conversation ? "a follow-up message" : "a new conversation";
		case STEP_POLL:
			return "a message";
		case STEP_RESULT:
			return "a query result";
		case STEP_EXECUTE:
			return "a new run of Genie's query";
		case STEP_DOWNLOAD:
		case STEP_DOWNLOAD_POLL:
			return "a full-result download";
	}
	return "a request";
}

/* Set up the request of a step; it is sent next (or after a sleep). */
static void
ask_set_step(GenieAsk *ask, AskStep step)
{
	const GenieOptions *opts = ask->set->opts;
	GenieAnswer *a = ask->answer;
	GdMessage  *msg = &a->message;
	MemoryContext old = MemoryContextSwitchTo(ask->cxt);

	ask->step = step;
	ask->retries = 0;
	ask->refreshed = false;
	ask->body = NULL;
	switch (step)
	{
		case STEP_POST:
			ask->body = gd_encode_question(a->question, genie_arena(ask->cxt));
			if (ask->body == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_OUT_OF_MEMORY),
						 errmsg("out of memory")));
			if (ask->target_conversation)
				ask->url = space_url(opts, "/conversations/%s/messages",
									 url_segment(ask->target_conversation));
			else
				ask->url = space_url(opts, "/start-conversation");
			break;
		case STEP_POLL:
			ask->url = space_url(opts, "/conversations/%s/messages/%s",
								 url_segment(a->conversation_id), url_segment(a->message_id));
			break;
		case STEP_RESULT:
			if (msg->attachment_id)
				ask->url = space_url(opts, "/conversations/%s/messages/%s/attachments/%s/query-result",
									 url_segment(a->conversation_id), url_segment(a->message_id),
									 url_segment(msg->attachment_id));
			else if (msg->statement_id)
				ask->url = psprintf("%s/api/2.0/sql/statements/%s", opts->host,
									url_segment(msg->statement_id));
			else
				ask->url = space_url(opts, "/conversations/%s/messages/%s/query-result",
									 url_segment(a->conversation_id), url_segment(a->message_id));
			break;
		case STEP_DOWNLOAD:
			ask->url = space_url(opts, "/conversations/%s/messages/%s/attachments/%s/downloads",
								 url_segment(a->conversation_id), url_segment(a->message_id),
								 url_segment(msg->attachment_id));
			break;
		case STEP_DOWNLOAD_POLL:
			ask->url = space_url(opts, "/conversations/%s/messages/%s/attachments/%s/downloads/%s?download_id_signature=%s",
								 url_segment(a->conversation_id), url_segment(a->message_id),
								 url_segment(msg->attachment_id),
								 url_segment(ask->download.download_id),
								 url_segment(ask->download.download_id_signature));
			break;
		case STEP_EXECUTE:
			if (msg->attachment_id)
				ask->url = space_url(opts, "/conversations/%s/messages/%s/attachments/%s/execute-query",
									 url_segment(a->conversation_id), url_segment(a->message_id),
									 url_segment(msg->attachment_id));
			else
				ask->url = space_url(opts, "/conversations/%s/messages/%s/execute-query",
									 url_segment(a->conversation_id), url_segment(a->message_id));
			break;
	}
	MemoryContextSwitchTo(old);
}

/* Monotonic clock, seconds. */
static double
now_seconds(void)
{
	instr_time	now;

	INSTR_TIME_SET_CURRENT(now);
	return INSTR_TIME_GET_DOUBLE(now);
}

static void
ask_sleep(GenieAsk *ask, double seconds)
{
	ask->phase = PH_SLEEP;
	ask->wake = now_seconds() + seconds;
}

/* Error when answer_timeout has run out for this ask. */
static void
ask_check_timeout(GenieAsk *ask)
{
	const GenieOptions *opts = ask->set->opts;

	if (now_seconds() - ask->started > opts->answer_timeout)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Genie did not answer within answer_timeout (%g s)", opts->answer_timeout),
				 errdetail("The last status was %s.",
						   ask->answer->message.status ? ask->answer->message.status : "(none)"),
				 errhint("Raise option answer_timeout of server \"%s\", or ask again later.",
						 opts->server_name)));
}

static void
ask_progress(GenieAsk *ask, const char *what)
{
	if (!genie_progress)
		return;
	if (ask->set->nasks > 1)
		ereport(NOTICE,
				(errmsg("genie_fdw: \"%.40s%s\": %s (%.1f s)", ask->answer->question,
						strlen(ask->answer->question) > 40 ? "..." : "", what,
						now_seconds() - ask->started)));
	else
		ereport(NOTICE,
				(errmsg("genie_fdw: %s (%.1f s)", what, now_seconds() - ask->started)));
}

static void
statement_error(const GdStatement *st)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("the SQL statement Genie generated ended in state %s", st->state),
			 errdetail_internal("%s%s%s", st->error_code ? st->error_code : "",
								st->error_code && st->error_message ? ": " : "",
								st->error_message ? st->error_message : ""),
			 st->statement_id ? errcontext("statement %s", st->statement_id) : 0));
}

/*
 * ask_terminal
 *		The message reached a terminal status: fetch its result, ask again
 *		after a RATE_LIMIT failure, run an expired follow-up's query again,
 *		finish a text-only answer, or raise Genie's reason.
 */
static void
ask_terminal(GenieAsk *ask)
{
	const GenieOptions *opts = ask->set->opts;
	GenieAnswer *a = ask->answer;
	GdMessage  *msg = &a->message;

	if (strcmp(msg->status, "COMPLETED") == 0)
	{
		if (opts->full_results && msg->attachment_id)
		{
			/* beyond Genie's row cap: a new run delivered as external links */
			ask_set_step(ask, STEP_DOWNLOAD);
			ask->phase = PH_SEND;
			return;
		}
		if (msg->attachment_id || msg->statement_id)
		{
			ask_set_step(ask, STEP_RESULT);
			ask->phase = PH_SEND;
			return;
		}
		if (msg->n_text_attachments == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("Genie completed the message without an answer"),
					 errdetail("The message has neither a query nor a text attachment.")));
		ask->phase = PH_DONE;	/* a text-only answer */
		return;
	}
	if (is_rate_limit_failure(msg) && ask->rate_retries < opts->max_retries)
	{
		double		wait = backoff_seconds(opts, ask->rate_retries);

		ask_progress(ask, psprintf("rate limited (%s), asking again in %.1f s", msg->error_type, wait));
		ask->rate_retries++;
		if (ask->set->stats)
			ask->set->stats->retries++;
		genie_stats_add(opts, GSTAT_RETRIES, 1);
		a->conversation_id = NULL;
		a->message_id = NULL;
		ask_set_step(ask, STEP_POST);
		ask_sleep(ask, wait);
		return;
	}
	if (strcmp(msg->status, "FAILED") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Genie could not answer the question"),
				 errdetail_internal("%s%s%s%s", msg->error ? msg->error : "no reason given",
									msg->error_type ? " (" : "",
									msg->error_type ? msg->error_type : "",
									msg->error_type ? ")" : ""),
				 is_rate_limit_failure(msg)
				 ? errhint("Genie stayed rate limited after %d retries.", ask->rate_retries) : 0));
	if (strcmp(msg->status, "CANCELLED") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Genie cancelled the question"),
				 msg->error ? errdetail_internal("%s", msg->error) : 0));
	/* QUERY_RESULT_EXPIRED */
	if (ask->target_conversation && (msg->attachment_id || msg->statement_id))
	{
		ask_progress(ask, "result expired, running Genie's query again");
		ask_set_step(ask, STEP_EXECUTE);
		ask->phase = PH_SEND;
		return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("the result of Genie's query has expired"),
			 errhint("Ask the question again.")));
}

/*
 * ask_response
 *		Handle the finished request of an ask.
 */
static void
ask_response(GenieAsk *ask)
{
	const GenieOptions *opts = ask->set->opts;
	GenieAnswer *a = ask->answer;
	HttpResponse *resp = &ask->resp;
	GdArena    *arena = genie_arena(ask->cxt);
	GdError		err;
	double		wait = 0;
	GenieReqKind kind = ask->step == STEP_POST ? REQ_QUESTION : REQ_READ;

	switch (after_response(opts, kind, step_what(ask), resp, ask->retries,
						   ask->refreshed, &wait, ask->set->stats))
	{
		case RESP_OK:
			break;
		case RESP_REFRESH:
			(void) oauth_token(opts, true);
			ask->refreshed = true;
			ask->phase = ask->step == STEP_POST ? PH_SLOT : PH_SEND;
			return;
		case RESP_RETRY:
			ask->retries++;
			ask_sleep(ask, wait);
			return;
	}

	switch (ask->step)
	{
		case STEP_POST:
			{
				GdStart		st;

				if (!gd_decode_start(resp->body, resp->len, arena, &st, &err))
					report_decode_error(opts, resp, &err, "the answer to a question");
				/* the decoder makes sure both ids are there */
				a->conversation_id = st.conversation_id;
				a->message_id = st.message_id;
				a->message = st.message;
				ask_progress(ask, psprintf("asked Genie in conversation %s", a->conversation_id));
				ask->last_status = a->message.status;
				if (gd_status_is_terminal(a->message.status))
					ask_terminal(ask);
				else
				{
					ask->interval = opts->poll_interval;
					ask_set_step(ask, STEP_POLL);
					ask_sleep(ask, ask->interval);
				}
				break;
			}
		case STEP_POLL:
			if (!gd_decode_message(resp->body, resp->len, arena, &a->message, &err))
				report_decode_error(opts, resp, &err, "a message");
			ask->raw.message_body = resp->body;
			ask->raw.message_len = resp->len;
			if (ask->set->stats)
				ask->set->stats->polls++;
			genie_stats_add(opts, GSTAT_POLLS, 1);
			if (a->message.status &&
				(ask->last_status == NULL || strcmp(ask->last_status, a->message.status) != 0))
			{
				ask_progress(ask, a->message.status);

				/*
				 * PENDING_WAREHOUSE and EXECUTING_QUERY are Genie's last
				 * steps: the answer is near, so polling starts over at the
				 * shortest interval (and grows again from there, should a
				 * cold warehouse take minutes).
				 */
				if (strcmp(a->message.status, "PENDING_WAREHOUSE") == 0 ||
					strcmp(a->message.status, "EXECUTING_QUERY") == 0)
					ask->interval = opts->poll_interval / POLL_GROWTH;
			}
			ask->last_status = a->message.status;
			if (gd_status_is_terminal(a->message.status))
				ask_terminal(ask);
			else
			{
				ask_check_timeout(ask);
				ask->interval = Min(ask->interval * POLL_GROWTH, opts->max_poll_interval);
				ask_set_step(ask, STEP_POLL);
				ask_sleep(ask, Min(ask->interval,
								   Max(0.0, opts->answer_timeout - (now_seconds() - ask->started))));
			}
			break;
		case STEP_DOWNLOAD:
			if (!gd_decode_download(resp->body, resp->len, arena, &ask->download, &err))
				report_decode_error(opts, resp, &err, "a full-result download");
			ask_progress(ask, "downloading the full result");
			ask_set_step(ask, STEP_DOWNLOAD_POLL);
			ask->phase = PH_SEND;
			break;
		case STEP_RESULT:
		case STEP_EXECUTE:
		case STEP_DOWNLOAD_POLL:
			{
				GdStatement *st = &a->statement;

				if (!gd_decode_statement(resp->body, resp->len, arena, st, &err))
					report_decode_error(opts, resp, &err, "a query result");
				if (strcmp(st->state, "SUCCEEDED") == 0)
				{
					if (!st->has_manifest)
						ereport(ERROR,
								(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
								 errmsg("Genie's query result has no manifest"),
								 errcontext("statement %s", st->statement_id ? st->statement_id : "(unknown)")));
					if (st->format && strcmp(st->format, "JSON_ARRAY") != 0)
						ereport(ERROR,
								(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
								 errmsg("Genie's query result has format %s; genie_fdw reads JSON_ARRAY", st->format)));
					if (st->statement_id)
						a->message.statement_id = st->statement_id;
					a->has_result = true;
					/* links expire: only inline results are worth caching */
					a->full_result = ask->step == STEP_DOWNLOAD_POLL;
					if (ask->step != STEP_DOWNLOAD_POLL)
					{
						ask->raw.result_body = resp->body;
						ask->raw.result_len = resp->len;
					}
					else
						ask->raw.message_body = NULL;
					ask->phase = PH_DONE;
				}
				else if (strcmp(st->state, "PENDING") == 0 || strcmp(st->state, "RUNNING") == 0)
				{
					ask_check_timeout(ask);
					ask->interval = Min(Max(ask->interval, opts->poll_interval) * POLL_GROWTH,
										opts->max_poll_interval);
					ask_set_step(ask, ask->step);
					ask_sleep(ask, ask->interval);
				}
				else if (strcmp(st->state, "CLOSED") == 0 && ask->step == STEP_RESULT &&
						 ask->target_conversation)
				{
					ask_progress(ask, "result expired, running Genie's query again");
					ask_set_step(ask, STEP_EXECUTE);
					ask->phase = PH_SEND;
				}
				else
					statement_error(st);
				break;
			}
	}
}

/*
 * ask_advance
 *		Move one ask along as far as it can go without waiting.
 */
static void
ask_advance(GenieAsk *ask, double now)
{
	const GenieOptions *opts = ask->set->opts;
	ErrorContextCallback errcb;

	errcb.callback = ask_error_callback;
	errcb.arg = ask;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	for (;;)
	{
		if (ask->phase == PH_SLEEP)
		{
			if (now < ask->wake)
				break;
			ask->phase = ask->step == STEP_POST ? PH_SLOT : PH_SEND;
		}
		if (ask->phase == PH_SLOT)
		{
			long		wait_ms = 0;

			if (!genie_limiter_try_acquire(opts, &wait_ms))
			{
				ask->wake = now + Max(wait_ms, 1) / 1000.0;
				break;
			}
			ask->phase = PH_SEND;
		}
		if (ask->phase == PH_SEND)
		{
			HttpRequest req;
			MemoryContext old = MemoryContextSwitchTo(ask->cxt);

			fill_request(&req, opts,
						 (ask->step == STEP_EXECUTE || ask->step == STEP_POST ||
						  ask->step == STEP_DOWNLOAD) ? "POST" : "GET",
						 ask->url, ask->body);
			ask->call = http_start(&req, &ask->resp);
			MemoryContextSwitchTo(old);
			ask->phase = PH_CALL;
		}
		if (ask->phase == PH_CALL)
		{
			if (!http_done(ask->call))
				break;
			http_finish(ask->call);
			ask->call = NULL;
			ask_response(ask);
			now = now_seconds();
			continue;
		}
		break;					/* PH_NEW, PH_DONE */
	}
	error_context_stack = errcb.previous;
}

/*
 * ask_from_cache
 *		Answer an ask from the answer cache, when it holds a live answer.
 */
static bool
ask_from_cache(GenieAsk *ask)
{
	const GenieOptions *opts = ask->set->opts;
	GenieAnswer *a = ask->answer;
	GenieCachedAnswer c;
	GdArena    *arena;
	GdError		err;
	MemoryContext old;
	bool		ok;

	if (opts->cache_ttl <= 0)
		return false;
	old = MemoryContextSwitchTo(ask->cxt);
	if (!genie_cache_lookup(opts, ask->target_conversation, a->question, &c))
	{
		MemoryContextSwitchTo(old);
		return false;
	}
	arena = genie_arena(ask->cxt);
	ok = gd_decode_message(c.message_body, c.message_len, arena, &a->message, &err);
	if (ok && c.result_body)
		ok = gd_decode_statement(c.result_body, c.result_len, arena, &a->statement, &err);
	MemoryContextSwitchTo(old);
	if (!ok)
		return false;			/* cannot happen: it decoded before */
	a->conversation_id = c.conversation_id;
	a->message_id = c.message_id;
	a->has_result = c.result_body != NULL;
	if (a->has_result && a->statement.statement_id)
		a->message.statement_id = a->statement.statement_id;
	a->from_cache = true;
	genie_limiter_cancel_wait(opts);
	genie_stats_add(opts, GSTAT_CACHE_HITS, 1);
	return true;
}

/*
 * genie_askset_next
 *		Drive the questions of a set until one more is answered, and return
 *		that answer (with its result's first chunk), in the order they
 *		complete; NULL when every answer was returned.  Any failure raises
 *		the error (questions still in flight are abandoned with the
 *		transaction).
 */
GenieAnswer *
genie_askset_next(GenieAskSet *set)
{
	if (set->nreturned >= set->nasks)
		return NULL;

	for (;;)
	{
		double		now = now_seconds();
		double		next_wake = now + 0.1;
		int			active = 0;
		int			i;

		for (i = 0; i < set->nasks; i++)
			if (set->asks[i]->phase != PH_NEW && set->asks[i]->phase != PH_DONE)
				active++;

		for (i = 0; i < set->nasks; i++)
		{
			GenieAsk   *ask = set->asks[i];

			if (ask->phase == PH_NEW)
			{
				if (active >= set->max_concurrent)
					continue;
				active++;
				ask->started = now;
				ask_set_step(ask, STEP_POST);
				ask->phase = PH_SLOT;
			}
			if (ask->phase == PH_SLOT && ask->retries == 0 && ask->rate_retries == 0 &&
				ask_from_cache(ask))
				ask->phase = PH_DONE;
			if (ask->phase != PH_DONE)
				ask_advance(ask, now);
			if (ask->phase == PH_DONE && !ask->returned)
			{
				if (!ask->answer->from_cache && ask->raw.message_body)
				{
					ask->raw.conversation_id = ask->answer->conversation_id;
					ask->raw.message_id = ask->answer->message_id;
					genie_cache_store(set->opts, ask->target_conversation,
									  ask->answer->question, &ask->raw);
				}
				ask->returned = true;
				set->nreturned++;
				return ask->answer;
			}
			if (ask->phase == PH_SLEEP || ask->phase == PH_SLOT)
				next_wake = Min(next_wake, ask->wake);
		}
		(void) http_wait_any((long) ceil(Max(next_wake - now_seconds(), 0.0) * 1000.0));
	}
}

/*
 * genie_askset_abandon
 *		Stop every question still in flight (the scan ended early).
 */
void
genie_askset_abandon(GenieAskSet *set)
{
	int			i;

	for (i = 0; i < set->nasks; i++)
	{
		GenieAsk   *ask = set->asks[i];

		if (ask->call)
			http_cancel(ask->call);
		ask->call = NULL;
		if (ask->phase == PH_SLOT)
			genie_limiter_cancel_wait(set->opts);
		if (ask->phase != PH_DONE)
			ask->phase = PH_DONE;
		ask->returned = true;
	}
	set->nreturned = set->nasks;
}

/* ----------
 * Spaces and conversations (synchronous; used by SQL functions)
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
		char	   *page_url = token ? psprintf("%s&page_token=%s", url, url_segment(token))
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
		report_decode_error(opts, resp, &err, "the list of spaces");
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
		report_decode_error(opts, resp, &err, "the list of conversations");
	for (i = 0; i < page.nconversations; i++)
		*items = lappend(*items, &page.conversations[i]);
	return page.next_page_token;
}

/*
 * genie_list_spaces
 *		Every space the user can see (all pages); a List of GdSpace *.
 */
List *
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
List *
genie_list_conversations(const GenieOptions *opts)
{
	return list_all_pages(opts, space_url(opts, "/conversations?page_size=100"),
						  "list of conversations", decode_conversations_page);
}

/*
 * genie_delete_conversation
 *		Delete one conversation; false when it was already gone.
 */
bool
genie_delete_conversation(const GenieOptions *opts, const char *conversation_id)
{
	HttpResponse resp;
	HttpRequest req;
	char	   *url = space_url(opts, "/conversations/%s", url_segment(conversation_id));
	int			retries = 0;
	bool		refreshed = false;

	for (;;)
	{
		double		wait = 0;

		fill_request(&req, opts, "DELETE", url, NULL);
		http_perform(&req, &resp);
		if (resp.outcome == HTTP_DONE && resp.status == 404)
			return false;
		switch (after_response(opts, REQ_READ, "deleting a conversation", &resp, retries,
							   refreshed, &wait, NULL))
		{
			case RESP_OK:
				return true;
			case RESP_REFRESH:
				(void) oauth_token(opts, true);
				refreshed = true;
				break;
			case RESP_RETRY:
				genie_sleep(wait);
				retries++;
				break;
		}
	}
}

/* ----------
 * Reading a result: a cursor over its chunks.  Chunks come inline (the
 * first in the query result, later ones from the statement API's chunk
 * endpoint) or behind external links (full-result downloads): presigned
 * URLs fetched with their http_headers and never with the Authorization
 * header, renewed through the chunk endpoint when they have expired.
 * While the rows of one chunk are returned, the next one is fetched in the
 * background, so memory holds about two chunks.
 * ----------
 */

/* Where a chunk comes from. */
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
	const GenieOptions *opts;
	const GenieAnswer *answer;
	GenieCallStats *stats;
	MemoryContext cxt[2];		/* current chunk, and the one prefetched */
	int			cur;
	GdChunk    *current;
	bool		first_pending;	/* the answer's first chunk not yet
								 * returned */
	ChunkSource next;			/* after current */

	/* the prefetch of "next" into cxt[1 - cur] */
	HttpCall   *call;
	HttpResponse resp;
	bool		call_is_link;	/* fetching link data, not the chunk
								 * endpoint */
	GdChunk    *ready;			/* prefetched, complete */
	bool		prefetch_failed;	/* redo it synchronously */
};

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

/* What comes after chunk c (copied into the cursor's long-lived context). */
static void
set_next_source(GenieCursor *cur, const GdChunk *c, MemoryContext cxt)
{
	ChunkSource *n = &cur->next;

	memset(n, 0, sizeof(*n));
	if (c->next_chunk_link && c->next_chunk_link[0] == '/' && c->next_chunk_link[1] != '/')
	{
		n->valid = true;
		n->api_link = MemoryContextStrdup(cxt, c->next_chunk_link);
	}
	if (c->has_next_index)
	{
		n->valid = true;
		n->has_index = true;
		n->index = c->next_chunk_index;
	}
}

static char *
chunk_endpoint_url(const GenieCursor *cur, int64 index)
{
	return psprintf("%s/api/2.0/sql/statements/%s/result/chunks/%lld", cur->opts->host,
					url_segment(cur->answer->statement.statement_id), (long long) index);
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

static void
link_request(HttpRequest *req, const GenieOptions *opts, const GdLink *link, HttpHeader **hdrs)
{
	int			i;

	memset(req, 0, sizeof(*req));
	req->method = "GET";
	req->url = link->url;
	req->opts = opts;
	/* presigned: the Databricks token must never go to cloud storage */
	req->bearer = NULL;
	*hdrs = palloc(sizeof(HttpHeader) * Max(link->n_headers, 1));
	for (i = 0; i < link->n_headers; i++)
	{
		(*hdrs)[i].name = link->header_names[i];
		(*hdrs)[i].value = link->header_values[i];
	}
	req->headers = *hdrs;
	req->nheaders = link->n_headers;
}

/*
 * fetch_link_sync
 *		Rows behind an external link, into chunk c (CurrentMemoryContext).
 *		An expired or refused link is renewed once through the chunk
 *		endpoint; transport failures are retried like any read.
 */
static void
fetch_link_sync(GenieCursor *cur, GdLink *link, GdChunk *c)
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
				report_decode_error(opts, &r2, &err, "a result chunk");
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
			if (cur->stats)
			{
				cur->stats->requests++;
				cur->stats->bytes += resp.len;
			}
			genie_stats_add(opts, GSTAT_BYTES, (int64) resp.len);
			/* rows point into the body, which lives as long as the chunk */
			if (!gd_scan_rows(resp.body, resp.len, genie_arena(CurrentMemoryContext), c, &err))
				report_decode_error(opts, &resp, &err, "a result file");
			return;
		}
		if (resp.outcome == HTTP_DONE && resp.status != 429 && resp.status < 500)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("could not download a chunk of Genie's full result from cloud storage"),
					 errdetail("HTTP status %ld%s, body: %s", resp.status,
							   renewed ? " (also with a renewed link)" : "",
							   body_excerpt(opts, &resp))));
		/* only reads here: the policy retries what a read may retry */
		if (after_response(opts, REQ_READ, "a result file", &resp, retries, true, &wait,
						   cur->stats) == RESP_OK)
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
		c->next_chunk_link = src->api_link;
	}
	else
	{
		HttpResponse resp;
		GdError		err;

		genie_request(cur->opts, "GET", source_url(cur, src), NULL, REQ_READ, "a result chunk",
					  &resp, cur->stats);
		/* values point into the body, which lives as long as the chunk */
		if (!gd_scan_chunk(resp.body, resp.len, genie_arena(CurrentMemoryContext), c, &err))
			report_decode_error(cur->opts, &resp, &err, "a result chunk");
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
 *		Start or continue fetching cur->next in the background.  Any failure
 *		only marks the prefetch failed: genie_cursor_next then fetches the
 *		chunk synchronously, with the full retry policy and error reports.
 */
static void
prefetch_step(GenieCursor *cur)
{
	MemoryContext pcxt = cur->cxt[1 - cur->cur];
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
			fill_request(&req, cur->opts, "GET", source_url(cur, &cur->next), NULL);
			cur->call_is_link = false;
		}
		cur->call = http_start(&req, &cur->resp);
	}
	else if (http_done(cur->call))
	{
		HttpResponse *resp = &cur->resp;
		GdError		err;
		GdChunk    *c = palloc0(sizeof(GdChunk));
		bool		ok;

		http_finish(cur->call);
		cur->call = NULL;
		ok = resp->outcome == HTTP_DONE && resp->status >= 200 && resp->status < 300;
		if (ok)
		{
			if (cur->stats)
			{
				cur->stats->requests++;
				cur->stats->bytes += resp->len;
			}
			genie_stats_add(cur->opts, GSTAT_BYTES, (int64) resp->len);
			/* values point into the body (in pcxt), which the chunk keeps */
			if (cur->call_is_link)
				ok = gd_scan_rows(resp->body, resp->len, genie_arena(pcxt), c, &err);
			else
				ok = gd_scan_chunk(resp->body, resp->len, genie_arena(pcxt), c, &err);
		}
		if (!ok)
			cur->prefetch_failed = true;
		else if (!cur->call_is_link && c->n_links > 0 && c->nrows == 0)
		{
			/* the chunk endpoint gave a link: fetch its data next */
			GdChunk    *meta = c;

			cur->next.link = copy_link(&meta->links[0], pcxt);
			cur->next.api_link = meta->next_chunk_link;	/* reused below */
			cur->next.has_index = meta->has_next_index;
			cur->next.index = meta->next_chunk_index;
		}
		else
		{
			if (cur->call_is_link)
			{
				/* a link's chunk: next pointers came with the link */
				c->has_next_index = cur->next.has_index;
				c->next_chunk_index = cur->next.index;
				c->next_chunk_link = cur->next.api_link;
			}
			cur->ready = c;
		}
	}
	MemoryContextSwitchTo(old);
}

/*
 * genie_cursor_open
 *		A cursor over the answer's result (which must have one), in
 *		CurrentMemoryContext.
 */
GenieCursor *
genie_cursor_open(const GenieOptions *opts, const GenieAnswer *answer,
				  GenieCallStats *stats)
{
	GenieCursor *cur = palloc0(sizeof(GenieCursor));

	cur->opts = opts;
	cur->answer = answer;
	cur->stats = stats;
	cur->cxt[0] = AllocSetContextCreate(CurrentMemoryContext, "genie_fdw chunk",
										ALLOCSET_DEFAULT_SIZES);
	cur->cxt[1] = AllocSetContextCreate(CurrentMemoryContext, "genie_fdw chunk",
										ALLOCSET_DEFAULT_SIZES);
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
			old = MemoryContextSwitchTo(cur->cxt[cur->cur]);
			c = palloc0(sizeof(GdChunk));
			fetch_link_sync(cur, &first->links[0], c);
			MemoryContextSwitchTo(old);
			set_next_source(cur, first, cur->cxt[cur->cur]);
			cur->current = c;
		}
		else
		{
			cur->current = (GdChunk *) first;
			set_next_source(cur, first, cur->cxt[cur->cur]);
		}
		prefetch_step(cur);
		return cur->current;
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
			(void) http_wait_any(1000);
	}
	if (cur->ready)
		c = cur->ready;
	else
	{
		if (cur->call)
			http_cancel(cur->call);
		cur->call = NULL;
		MemoryContextReset(cur->cxt[1 - cur->cur]);
		old = MemoryContextSwitchTo(cur->cxt[1 - cur->cur]);
		c = fetch_source_sync(cur, &cur->next);
		MemoryContextSwitchTo(old);
	}

	/* the prefetched chunk becomes current; the old one's memory goes */
	MemoryContextReset(cur->cxt[cur->cur]);
	cur->cur = 1 - cur->cur;
	cur->ready = NULL;
	cur->prefetch_failed = false;
	cur->current = c;
	set_next_source(cur, c, cur->cxt[cur->cur]);
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
 *		Stop a background fetch and free the chunks.
 */
void
genie_cursor_close(GenieCursor *cur)
{
	if (cur->call)
		http_cancel(cur->call);
	cur->call = NULL;
	MemoryContextDelete(cur->cxt[0]);
	MemoryContextDelete(cur->cxt[1]);
}
