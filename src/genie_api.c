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

#include "common/pg_prng.h"
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

/* Error context while asking: which space / conversation / message. */
typedef struct AskContext
{
	const GenieOptions *opts;
	const char *conversation_id;
	const char *message_id;
	const char *status;
} AskContext;

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
	return w + pg_prng_double(&pg_global_prng_state) * 0.1 * w;
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
 * genie_request
 *		Send one API request with genie_fdw's retry policy; returns only with
 *		a 2xx response, else raises the error.
 *
 *		Retried: 429 and 503 (waiting Retry-After when given, else the
 *		backoff), requests that never reached the service.  Reads (GET) are
 *		also retried on 500, 502, 504, timeouts and dropped connections.  A
 *		question (POST) is retried only when it provably did not reach
 *		Genie: connection refused or 429, so a question is never asked twice.
 *		With OAuth, a 401 fetches a new token once.
 */
static void
genie_request(const GenieOptions *opts, const char *method, const char *url,
			  const char *body, GenieReqKind kind, const char *what,
			  HttpResponse *resp, GenieCallStats *stats)
{
	HttpRequest req;
	int			retries = 0;
	bool		refreshed = false;

	memset(&req, 0, sizeof(req));
	req.method = method;
	req.url = url;
	req.body = body;
	req.opts = opts;

	for (;;)
	{
		bool		retry = false;
		double		wait;

		req.bearer = opts->client_id ? oauth_token(opts, false) : opts->token;
		/* every attempt to ask takes a slot of the workspace's quota */
		if (kind == REQ_QUESTION)
			genie_limiter_acquire(opts);
		http_perform(&req, resp);
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
			return;
		}

		if (resp->outcome == HTTP_DONE && resp->status == 401 && opts->client_id && !refreshed)
		{
			(void) oauth_token(opts, true);
			refreshed = true;
			continue;
		}

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

		wait = (resp->outcome == HTTP_DONE && resp->retry_after >= 0)
			? resp->retry_after : backoff_seconds(opts, retries);
		if (genie_progress)
			ereport(NOTICE,
					(errmsg("genie_fdw: %s: %s, retrying in %.1f s (retry %d of %d)", what,
							resp->outcome == HTTP_DONE ? psprintf("HTTP status %ld", resp->status) : resp->error,
							wait, retries + 1, opts->max_retries)));
		genie_sleep(wait);
		retries++;
		if (stats)
			stats->retries++;
		genie_stats_add(opts, GSTAT_RETRIES, 1);
	}
}

static void
ask_error_callback(void *arg)
{
	AskContext *ac = (AskContext *) arg;

	if (ac->message_id)
		errcontext("Genie space %s, conversation %s, message %s%s%s",
				   ac->opts->space_id, ac->conversation_id, ac->message_id,
				   ac->status ? ", status " : "", ac->status ? ac->status : "");
	else
		errcontext("Genie space %s at %s", ac->opts->space_id, ac->opts->host);
}

/* Ask the question: start a conversation or add a message to one. */
static void
post_question(const GenieOptions *opts, const char *question,
			  const char *conversation_id, GdStart *start,
			  GenieCallStats *stats)
{
	GdArena    *arena = genie_arena(CurrentMemoryContext);
	char	   *body = gd_encode_question(question, arena);
	HttpResponse resp;
	GdError		err;
	char	   *url;

	if (body == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	if (conversation_id)
		url = space_url(opts, "/conversations/%s/messages", url_segment(conversation_id));
	else
		url = space_url(opts, "/start-conversation");
	genie_request(opts, "POST", url, body, REQ_QUESTION,
				  conversation_id ? "a follow-up message" : "a new conversation",
				  &resp, stats);
	if (!gd_decode_start(resp.body, resp.len, arena, start, &err))
		report_decode_error(opts, &resp, &err, "the answer to a question");
	if (conversation_id && start->conversation_id == NULL)
		start->conversation_id = pstrdup(conversation_id);
}

static void
get_message(const GenieOptions *opts, const char *conversation_id,
			const char *message_id, GdMessage *msg, GenieCallStats *stats)
{
	HttpResponse resp;
	GdError		err;
	char	   *url = space_url(opts, "/conversations/%s/messages/%s",
								url_segment(conversation_id), url_segment(message_id));

	genie_request(opts, "GET", url, NULL, REQ_READ, "a message", &resp, stats);
	if (!gd_decode_message(resp.body, resp.len, genie_arena(CurrentMemoryContext), msg, &err))
		report_decode_error(opts, &resp, &err, "a message");
}

static bool
is_rate_limit_failure(const GdMessage *msg)
{
	return msg->status && strcmp(msg->status, "FAILED") == 0 &&
		msg->error_type && strncmp(msg->error_type, "RATE_LIMIT", 10) == 0;
}

/*
 * genie_ask
 *		Ask a question (in a new conversation, or as a follow-up) and poll
 *		the message until Genie has answered.  Raises an error for FAILED,
 *		CANCELLED and QUERY_RESULT_EXPIRED messages and when answer_timeout
 *		runs out; returns the COMPLETED message.
 */
GenieAnswer *
genie_ask(const GenieOptions *opts, const char *question,
		  const char *conversation_id, GenieCallStats *stats)
{
	GenieAnswer *answer = palloc0(sizeof(GenieAnswer));
	ErrorContextCallback errcb;
	AskContext	ac;
	instr_time	start;
	int			rate_retries = 0;

	memset(&ac, 0, sizeof(ac));
	ac.opts = opts;
	errcb.callback = ask_error_callback;
	errcb.arg = &ac;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	answer->question = pstrdup(question);
	INSTR_TIME_SET_CURRENT(start);

	for (;;)
	{
		GdStart		st;
		GdMessage  *msg = &answer->message;
		double		interval = opts->poll_interval;
		char	   *last_status;

		post_question(opts, question, conversation_id, &st, stats);
		answer->conversation_id = st.conversation_id;
		answer->message_id = st.message_id;
		*msg = st.message;
		ac.conversation_id = answer->conversation_id;
		ac.message_id = answer->message_id;
		ac.status = msg->status;
		last_status = msg->status;
		if (genie_progress)
			ereport(NOTICE,
					(errmsg("genie_fdw: asked Genie in conversation %s (%.1f s)",
							answer->conversation_id, elapsed_seconds(start))));

		while (!gd_status_is_terminal(msg->status))
		{
			double		left = opts->answer_timeout - elapsed_seconds(start);
			instr_time	wstart;

			if (left <= 0)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("Genie did not answer within answer_timeout (%g s)", opts->answer_timeout),
						 errdetail("The last status was %s.", msg->status ? msg->status : "(none)"),
						 errhint("Raise option answer_timeout of server \"%s\", or ask again later.",
								 opts->server_name)));
			INSTR_TIME_SET_CURRENT(wstart);
			genie_sleep(Min(interval, left));
			if (stats)
				stats->wait_seconds += elapsed_seconds(wstart);
			interval = Min(interval * POLL_GROWTH, opts->max_poll_interval);

			get_message(opts, answer->conversation_id, answer->message_id, msg, stats);
			if (stats)
				stats->polls++;
			genie_stats_add(opts, GSTAT_POLLS, 1);
			ac.status = msg->status;
			if (genie_progress && msg->status &&
				(last_status == NULL || strcmp(last_status, msg->status) != 0))
				ereport(NOTICE,
						(errmsg("genie_fdw: %s (%.1f s)", msg->status, elapsed_seconds(start))));
			last_status = msg->status;
		}

		if (is_rate_limit_failure(msg) && rate_retries < opts->max_retries)
		{
			double		wait = backoff_seconds(opts, rate_retries);

			if (genie_progress)
				ereport(NOTICE,
						(errmsg("genie_fdw: Genie is rate limited (%s), asking again in %.1f s",
								msg->error_type, wait)));
			genie_sleep(wait);
			rate_retries++;
			if (stats)
				stats->retries++;
			continue;
		}
		break;
	}

	if (strcmp(answer->message.status, "FAILED") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Genie could not answer the question"),
				 errdetail_internal("%s%s%s%s", answer->message.error ? answer->message.error : "no reason given",
									answer->message.error_type ? " (" : "",
									answer->message.error_type ? answer->message.error_type : "",
									answer->message.error_type ? ")" : ""),
				 is_rate_limit_failure(&answer->message)
				 ? errhint("Genie stayed rate limited after %d retries.", rate_retries) : 0));
	if (strcmp(answer->message.status, "CANCELLED") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Genie cancelled the question"),
				 answer->message.error ? errdetail_internal("%s", answer->message.error) : 0));
	if (strcmp(answer->message.status, "QUERY_RESULT_EXPIRED") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("the result of Genie's query has expired"),
				 errhint("Ask the question again.")));

	if (answer->message.n_query_attachments == 0 && answer->message.n_text_attachments == 0 &&
		answer->message.statement_id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Genie completed the message without an answer"),
				 errdetail("The message has neither a query nor a text attachment.")));

	error_context_stack = errcb.previous;
	return answer;
}

static void
statement_error(const GenieOptions *opts, const GdStatement *st)
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
 * genie_fetch_result
 *		Fetch the result of the answer's last query attachment: manifest and
 *		first chunk.  Polls while the statement is still PENDING or RUNNING.
 *		The decoded statement lives in CurrentMemoryContext.
 */
void
genie_fetch_result(const GenieOptions *opts, GenieAnswer *answer,
				   GenieCallStats *stats)
{
	GdMessage  *msg = &answer->message;
	GdArena    *arena = genie_arena(CurrentMemoryContext);
	double		interval = opts->poll_interval;
	instr_time	start;
	char	   *url;

	if (msg->attachment_id)
		url = space_url(opts, "/conversations/%s/messages/%s/attachments/%s/query-result",
						url_segment(answer->conversation_id), url_segment(answer->message_id),
						url_segment(msg->attachment_id));
	else if (msg->statement_id)
		url = psprintf("%s/api/2.0/sql/statements/%s", opts->host, url_segment(msg->statement_id));
	else
		url = space_url(opts, "/conversations/%s/messages/%s/query-result",
						url_segment(answer->conversation_id), url_segment(answer->message_id));

	INSTR_TIME_SET_CURRENT(start);
	for (;;)
	{
		HttpResponse resp;
		GdError		err;
		GdStatement *st = &answer->statement;

		genie_request(opts, "GET", url, NULL, REQ_READ, "a query result", &resp, stats);
		if (!gd_decode_statement(resp.body, resp.len, arena, st, &err))
			report_decode_error(opts, &resp, &err, "a query result");

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
			answer->has_result = true;
			return;
		}
		if (strcmp(st->state, "PENDING") != 0 && strcmp(st->state, "RUNNING") != 0)
			statement_error(opts, st);
		if (elapsed_seconds(start) > opts->answer_timeout)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("Genie's query did not finish within answer_timeout (%g s)", opts->answer_timeout)));
		genie_sleep(interval);
		if (stats)
			stats->polls++;
		interval = Min(interval * POLL_GROWTH, opts->max_poll_interval);
	}
}

/*
 * genie_fetch_next_chunk
 *		Fetch the chunk after "current" into "next" (allocated in
 *		CurrentMemoryContext); false when current is the last one.  Only a
 *		relative next_chunk_internal_link is followed, so the token is never
 *		sent to another host.
 */
bool
genie_fetch_next_chunk(const GenieOptions *opts, const GenieAnswer *answer,
					   const GdChunk *current, GdChunk *next,
					   GenieCallStats *stats)
{
	const GdStatement *st = &answer->statement;
	HttpResponse resp;
	GdError		err;
	char	   *url;

	if (current->next_chunk_link && current->next_chunk_link[0] == '/' &&
		current->next_chunk_link[1] != '/')
		url = psprintf("%s%s", opts->host, current->next_chunk_link);
	else if (current->has_next_index && st->statement_id)
		url = psprintf("%s/api/2.0/sql/statements/%s/result/chunks/%lld", opts->host,
					   url_segment(st->statement_id), (long long) current->next_chunk_index);
	else
		return false;

	genie_request(opts, "GET", url, NULL, REQ_READ, "a result chunk", &resp, stats);
	if (!gd_decode_chunk(resp.body, resp.len, genie_arena(CurrentMemoryContext), next, &err))
		report_decode_error(opts, &resp, &err, "a result chunk");
	pfree(resp.body);
	return true;
}
