/*-------------------------------------------------------------------------
 *
 * request.c
 *		  One request to Databricks and THE retry policy.
 *
 * Owns: endpoint URLs (percent-encoding of path segments), the retry
 * policy (genie_after_response: the one place that decides whether a
 * failed request is sent again and how long to wait, Retry-After bounded
 * by max_backoff and the answer_timeout left), the synchronous
 * genie_request built on it, latch sleeps that cancel and
 * statement_timeout interrupt, and turning every failure into an ereport
 * with an errcode.  Response bodies reach a message only as a short,
 * printable excerpt with every secret masked (credentials.c), and only for
 * Databricks' own API: storage errors are reported by chunks.c with their
 * status and error code alone.
 *
 * Memory: everything is allocated in CurrentMemoryContext; responses of
 * genie_request belong to the caller's context.
 *
 * Copyright (c) 2026, genie_fdw developers
 *
 * IDENTIFICATION
 *		  src/request.c
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
#include "utils/wait_event.h"

#include "limiter.h"
#include "request.h"

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

/* Monotonic clock, seconds. */
double
genie_now(void)
{
	instr_time	now;

	INSTR_TIME_SET_CURRENT(now);
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
	double		until = genie_now() + seconds;

	for (;;)
	{
		double		left = until - genie_now();
		long		ms;

		CHECK_FOR_INTERRUPTS();
		if (left <= 0)
			break;
		ms = (long) ceil(Min(left, 3600.0) * 1000.0);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 ms, genie_wait_event());
		ResetLatch(MyLatch);
	}
}

/* Percent-encode one path segment. */
char *
genie_url_segment(const char *s)
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
char *
genie_space_url(const GenieOptions *opts, const char *fmt,...)
{
	StringInfoData buf;
	va_list		ap;

	initStringInfo(&buf);
	appendStringInfo(&buf, "%s/api/2.0/genie/spaces/%s", opts->host, genie_url_segment(opts->space_id));
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
 * genie_body_excerpt
 *		A short, printable excerpt of a response body for errdetail: an HTML
 *		page's <title>, else its first 200 characters, control characters
 *		and non-ASCII bytes replaced.  Secrets are masked, in case a proxy
 *		echoes request headers.
 */
char *
genie_body_excerpt(const GenieOptions *opts, const HttpResponse *resp)
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
	genie_mask_secrets(opts, buf.data);
	return buf.data;
}

/*
 * genie_report_decode_error
 *		A response that is not JSON, or not the documented shape.
 */
void
genie_report_decode_error(const GenieOptions *opts, const HttpResponse *resp,
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
					   genie_body_excerpt(opts, resp))));
}

/*
 * genie_report_http_error
 *		Raise the error for a final non-2xx response.
 */
void
genie_report_http_error(const GenieOptions *opts, const HttpResponse *resp,
				  const char *what, int retries)
{
	GdApiError apierr;
	char	   *detail;
	GdArena    *arena = genie_arena(CurrentMemoryContext);
	int			code;

	if (gd_decode_api_error(resp->body, resp->len, arena, &apierr))
	{
		char	   *said = psprintf("%s%s%s", apierr.error_code ? apierr.error_code : "",
									apierr.error_code && apierr.message ? ": " : "",
									apierr.message ? apierr.message : "");

		/* the service's own words, shortened and with secrets masked */
		if (strlen(said) > 300)
			strcpy(said + 297, "...");
		genie_mask_secrets(opts, said);
		detail = psprintf("Genie said: %s", said);
	}
	else
		detail = psprintf("HTTP status %ld, body: %s", resp->status, genie_body_excerpt(opts, resp));

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

void
genie_report_transport_error(const GenieOptions *opts, const HttpResponse *resp,
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
 * genie_backoff
 *		The seed's formula: initial_backoff * backoff_multiplier^n, capped at
 *		max_backoff, plus up to 10% jitter.
 */
double
genie_backoff(const GenieOptions *opts, int attempt)
{
	double		w = opts->initial_backoff * pow(opts->backoff_multiplier, attempt);

	if (w > opts->max_backoff)
		w = opts->max_backoff;
	return w + pg_prng_double(&pg_global_prng_state) * 0.1 * w;
}

/*
 * genie_after_response
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
 *
 *		A wait never exceeds max_backoff nor time_left (the answer_timeout
 *		left, or GENIE_NO_DEADLINE): when the service asks for a longer
 *		Retry-After, the query ends with an error saying so instead of
 *		sleeping past what the user allowed.
 */
RespVerdict
genie_after_response(const GenieOptions *opts, GenieReqKind kind, const char *what,
					 HttpResponse *resp, int retries, bool refreshed, double time_left,
					 double *wait, GenieCallStats *stats)
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
			genie_report_http_error(opts, resp, what, retries);
		genie_report_transport_error(opts, resp, what, retries);
	}

	if (resp->outcome == HTTP_DONE && resp->retry_after >= 0)
	{
		*wait = resp->retry_after;
		if (*wait > opts->max_backoff)
			ereport(ERROR,
					(errcode(resp->status == 429 ? ERRCODE_CONFIGURATION_LIMIT_EXCEEDED : ERRCODE_FDW_ERROR),
					 errmsg("Genie asked to wait %.0f s before retrying the request for %s, longer than max_backoff (%g s)",
							*wait, what, opts->max_backoff),
					 errdetail("HTTP status %ld with Retry-After.", resp->status),
					 errhint("Ask again later, or raise option max_backoff of server \"%s\".",
							 opts->server_name)));
	}
	else
		*wait = genie_backoff(opts, retries);
	/* a timeout (57014), unless the quota is what makes the wait too long */
	if (time_left >= 0 && *wait > time_left)
		ereport(ERROR,
				(errcode(resp->outcome == HTTP_DONE && resp->status == 429
						 ? ERRCODE_CONFIGURATION_LIMIT_EXCEEDED : ERRCODE_QUERY_CANCELED),
				 errmsg("Genie did not answer within answer_timeout (%g s)", opts->answer_timeout),
				 errdetail("The request for %s must wait %.1f s before it is retried (HTTP status %ld), but only %.1f s are left.",
						   what, *wait, resp->status, Max(time_left, 0.0)),
				 errhint("Raise option answer_timeout of server \"%s\", or ask again later.",
						 opts->server_name)));
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

void
genie_fill_request(HttpRequest *req, const GenieOptions *opts, const char *method,
				   const char *url, const char *body)
{
	memset(req, 0, sizeof(*req));
	req->method = method;
	req->url = url;
	req->body = body;
	req->opts = opts;
	req->bearer = genie_bearer(opts, false);
}

/*
 * request_loop
 *		Send one API request and wait for it, with the retry policy of
 *		genie_after_response; returns true with a 2xx response, or false
 *		with a 404 when not_found_ok.
 */
static bool
request_loop(const GenieOptions *opts, const char *method, const char *url,
			 const char *body, GenieReqKind kind, const char *what,
			 HttpResponse *resp, GenieCallStats *stats, bool not_found_ok)
{
	HttpRequest req;
	int			retries = 0;
	bool		refreshed = false;

	for (;;)
	{
		double		wait = 0;

		genie_fill_request(&req, opts, method, url, body);
		/* every attempt to ask takes a slot of the workspace's quota */
		if (kind == REQ_QUESTION)
			genie_limiter_acquire(opts);
		http_perform(&req, resp);
		if (not_found_ok && resp->outcome == HTTP_DONE && resp->status == 404)
			return false;
		switch (genie_after_response(opts, kind, what, resp, retries, refreshed,
									 GENIE_NO_DEADLINE, &wait, stats))
		{
			case RESP_OK:
				return true;
			case RESP_REFRESH:
				(void) genie_bearer(opts, true);
				refreshed = true;
				break;
			case RESP_RETRY:
				genie_sleep(wait);
				retries++;
				break;
		}
	}
}

/*
 * genie_request
 *		Send one API request and wait for it, with the retry policy of
 *		genie_after_response; returns only with a 2xx response.
 */
void
genie_request(const GenieOptions *opts, const char *method, const char *url,
			  const char *body, GenieReqKind kind, const char *what,
			  HttpResponse *resp, GenieCallStats *stats)
{
	(void) request_loop(opts, method, url, body, kind, what, resp, stats, false);
}

/*
 * genie_request_found
 *		genie_request for a resource that may be gone: false on a 404.
 */
bool
genie_request_found(const GenieOptions *opts, const char *method, const char *url,
					const char *body, GenieReqKind kind, const char *what,
					HttpResponse *resp, GenieCallStats *stats)
{
	return request_loop(opts, method, url, body, kind, what, resp, stats, true);
}
