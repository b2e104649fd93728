/*-------------------------------------------------------------------------
 *
 * request.c
 *		  One request to Databricks and THE retry policy.
 *
 * Owns: endpoint URLs (percent-encoding of path segments), the retry
 * policy (genie_after_response: the one place that decides whether a
 * failed request is sent again and how long to wait: the service's
 * Retry-After, bounded only by the time left before answer_timeout and
 * statement_timeout, else our backoff, bounded by max_backoff), the synchronous
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
#include "utils/timeout.h"
#include "utils/timestamp.h"
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

/* Does s contain word, in any case? */
static bool
contains_ci(const char *s, const char *word)
{
	size_t		n = strlen(word);

	for (; *s; s++)
		if (pg_strncasecmp(s, word, n) == 0)
			return true;
	return false;
}

/*
 * credentials_refused
 *		Does a response say that the credentials themselves were refused (an
 *		unknown, expired or revoked token), rather than that a valid user
 *		lacks access?  Every 401 does.  A 403 does when its error body says
 *		so: real workspaces answer an unknown token with 403 {"error_code":
 *		403, "message": "Invalid access token."}; an error_code
 *		UNAUTHENTICATED (or 401), or a message about an invalid, expired or
 *		revoked token, counts whatever the status.  A 403 that says nothing
 *		of the token (PERMISSION_DENIED on a space) is a denial of access.
 */
static bool
credentials_refused(const HttpResponse *resp, const GdApiError *e)
{
	if (resp->outcome != HTTP_DONE)
		return false;
	if (resp->status == 401)
		return true;
	if (resp->status != 403 || e == NULL)
		return false;
	if (e->has_numeric_code && e->numeric_code == 401)
		return true;
	if (e->error_code && pg_strcasecmp(e->error_code, "UNAUTHENTICATED") == 0)
		return true;
	return e->message && contains_ci(e->message, "token") &&
		(contains_ci(e->message, "invalid") || contains_ci(e->message, "expired") ||
		 contains_ci(e->message, "revoked"));
}

/*
 * genie_credentials_refused
 *		credentials_refused for a response whose body is not decoded yet.
 */
bool
genie_credentials_refused(const HttpResponse *resp)
{
	GdApiError apierr;

	if (resp->outcome != HTTP_DONE || resp->status != 403)
		return credentials_refused(resp, NULL);
	if (!gd_decode_api_error(resp->body, resp->len, genie_arena(CurrentMemoryContext), &apierr))
		return false;
	return credentials_refused(resp, &apierr);
}

/*
 * mapping_names
 *		The user mapping of opts as a message names it (role "x", or PUBLIC)
 *		and as ALTER USER MAPPING FOR spells it.
 */
static void
mapping_names(const GenieOptions *opts, char **for_msg, char **for_sql)
{
	char	   *role = OidIsValid(opts->umid) ? genie_mapping_role(opts->umid) : NULL;

	/* (no role may be named "public": that is a mapping FOR PUBLIC) */
	if (role != NULL && strcmp(role, "public") == 0)
	{
		*for_msg = pstrdup("PUBLIC");
		*for_sql = pstrdup("PUBLIC");
		return;
	}
	if (role == NULL)
		role = GetUserNameFromId(GetUserId(), true);
	if (role == NULL)
	{
		*for_msg = pstrdup("the current user");
		*for_sql = pstrdup("CURRENT_USER");
		return;
	}
	*for_msg = psprintf("role \"%s\"", role);
	*for_sql = pstrdup(quote_identifier(role));
}

/*
 * genie_report_credentials_refused
 *		Databricks refused the user mapping's credentials: the mapping is to
 *		be fixed, and the error says which one and how.  token_endpoint: the
 *		OAuth token endpoint refused the client credentials (else the
 *		workspace refused the token).  detail may be NULL.
 */
void
genie_report_credentials_refused(const GenieOptions *opts, const char *detail,
								 bool token_endpoint)
{
	char	   *for_msg;
	char	   *for_sql;

	mapping_names(opts, &for_msg, &for_sql);
	if (opts->client_id)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("Databricks refused the OAuth credentials of the user mapping for %s on server \"%s\"",
						for_msg, opts->server_name),
				 detail ? errdetail_internal("%s", detail) : 0,
				 token_endpoint
				 ? errhint("Check the service principal's client_id and client_secret: ALTER USER MAPPING FOR %s SERVER %s OPTIONS (SET client_id '...', SET client_secret '...').",
						   for_sql, quote_identifier(opts->server_name))
				 : errhint("The workspace refused a fresh access token of the service principal: check that it is a user of the workspace, and its client_id and client_secret in the user mapping (ALTER USER MAPPING FOR %s SERVER %s OPTIONS (SET client_id '...', SET client_secret '...')).",
						   for_sql, quote_identifier(opts->server_name))));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
			 errmsg("Databricks refused the token of the user mapping for %s on server \"%s\"",
					for_msg, opts->server_name),
			 detail ? errdetail_internal("%s", detail) : 0,
			 errhint("The token is unknown, expired or revoked; set a valid one: ALTER USER MAPPING FOR %s SERVER %s OPTIONS (SET token '...').",
					 for_sql, quote_identifier(opts->server_name))));
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
	bool		decoded;
	char	   *detail;
	GdArena    *arena = genie_arena(CurrentMemoryContext);
	int			code;

	decoded = gd_decode_api_error(resp->body, resp->len, arena, &apierr);
	if (decoded)
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

	if (credentials_refused(resp, decoded ? &apierr : NULL))
		genie_report_credentials_refused(opts, detail, false);

	switch (resp->status)
	{
		case 403:
			{
				char	   *for_msg;
				char	   *for_sql;

				/* the token was accepted: its user lacks a permission */
				mapping_names(opts, &for_msg, &for_sql);
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 opts->space_id
						 ? errmsg("Databricks denied access to Genie space \"%s\"", opts->space_id)
						 : errmsg("Databricks denied access to the %s", what),
						 errdetail_internal("%s", detail),
						 opts->space_id
						 ? errhint("The user of the token in the user mapping for %s on server \"%s\" needs access to the space (CAN RUN) and to its SQL warehouse (CAN USE).",
								   for_msg, opts->server_name)
						 : errhint("The user of the token in the user mapping for %s on server \"%s\" lacks a permission this request needs.",
								   for_msg, opts->server_name)));
				break;
			}
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
	if (resp->outcome == HTTP_NOT_CONNECTED && resp->first_contact && opts->proxy)
	{
		/* through a proxy: the proxy (or what it reaches) failed */
		ereport(ERROR,
				(errcode(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION),
				 errmsg("Genie request for %s failed: could not connect through the proxy of server \"%s\"",
						what, opts->server_name),
				 errdetail_internal("%s", resp->error),
				 errhint("Check options \"proxy\" and \"host\" of server \"%s\".", opts->server_name)));
	}
	if (resp->outcome == HTTP_NOT_CONNECTED && resp->first_contact)
	{
		/* a host that never answered: most likely option host is wrong */
		ereport(ERROR,
				(errcode(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION),
				 resp->no_such_host
				 ? errmsg("could not resolve the host name of server \"%s\"", opts->server_name)
				 : errmsg("could not connect to the host of server \"%s\"", opts->server_name),
				 retries > 0
				 ? errdetail_internal("%s: %s (after %d %s)", opts->host, resp->error,
									  retries, retries == 1 ? "retry" : "retries")
				 : errdetail_internal("%s: %s", opts->host, resp->error),
				 resp->no_such_host
				 ? errhint("Check option \"host\" of server \"%s\" (%s): no such host is known. It must be the workspace URL, such as https://adb-1234567890123456.7.azuredatabricks.net: ALTER SERVER %s OPTIONS (SET host '...').",
						   opts->server_name, opts->host, quote_identifier(opts->server_name))
				 : errhint("Check option \"host\" of server \"%s\" (%s): nothing accepts connections there. It must be the workspace URL, such as https://adb-1234567890123456.7.azuredatabricks.net: ALTER SERVER %s OPTIONS (SET host '...').",
						   opts->server_name, opts->host, quote_identifier(opts->server_name))));
	}
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
 * statement_time_left
 *		Seconds left before this statement's statement_timeout fires, or
 *		GENIE_NO_DEADLINE when no statement timeout is running; *limit_ms
 *		is the timeout the timer was started with.  Read from the timer
 *		itself, so it is the deadline PostgreSQL will enforce (a SET of
 *		statement_timeout inside the statement does not move it).
 */
static double
statement_time_left(int *limit_ms)
{
	TimestampTz start;
	TimestampTz fin;

	*limit_ms = 0;
	if (!get_timeout_active(STATEMENT_TIMEOUT))
		return GENIE_NO_DEADLINE;
	start = get_timeout_start_time(STATEMENT_TIMEOUT);
	fin = get_timeout_finish_time(STATEMENT_TIMEOUT);
	*limit_ms = (int) ((fin - start) / 1000);
	return Max((double) (fin - GetCurrentTimestamp()) / 1000000.0, 0.0);
}

/* "HTTP status 503" or the transport error, for messages. */
static const char *
response_summary(const HttpResponse *resp)
{
	if (resp->outcome == HTTP_DONE)
		return psprintf("HTTP status %ld", resp->status);
	return resp->error;
}

/*
 * check_wait_fits
 *		Raise the error, at once, when a retry wait is longer than the time
 *		left before answer_timeout (time_left, or GENIE_NO_DEADLINE) or
 *		before statement_timeout: sleeping into the limit only to be stopped
 *		by it would waste the wait and hide why.  The service's Retry-After
 *		(asked) is held to both; our own backoff to answer_timeout, while
 *		statement_timeout interrupts its sleep as it does any other wait.
 */
static void
check_wait_fits(const GenieOptions *opts, const char *what, const HttpResponse *resp,
				double wait, bool asked, double time_left)
{
	int			stmt_ms;
	double		stmt_left = statement_time_left(&stmt_ms);
	bool		stmt_binds;

	/* a timeout (57014), unless the quota is what makes the wait too long */
	if (!asked)
	{
		if (time_left >= 0 && wait > time_left)
			ereport(ERROR,
					(errcode(resp->outcome == HTTP_DONE && resp->status == 429
							 ? ERRCODE_CONFIGURATION_LIMIT_EXCEEDED : ERRCODE_QUERY_CANCELED),
					 errmsg("Genie did not answer within answer_timeout (%g s)", opts->answer_timeout),
					 errdetail("The request for %s must wait %.1f s before it is retried (%s), but only %.1f s are left.",
							   what, wait, response_summary(resp), Max(time_left, 0.0)),
					 errhint("Raise option answer_timeout of server \"%s\", or ask again later.",
							 opts->server_name)));
		return;
	}

	/* the nearer of the two limits is the one the wait must fit */
	stmt_binds = stmt_left >= 0 && (time_left < 0 || stmt_left < time_left);
	if (stmt_binds && wait > stmt_left)
		ereport(ERROR,
				(errcode(resp->status == 429 ? ERRCODE_CONFIGURATION_LIMIT_EXCEEDED : ERRCODE_QUERY_CANCELED),
				 errmsg("Genie asked to wait %.0f s before the request for %s is retried, longer than the time left before statement_timeout (%d ms)",
						wait, what, stmt_ms),
				 errdetail("HTTP status %ld with Retry-After %.0f; %.1f s of the statement's time were left.",
						   resp->status, wait, stmt_left),
				 errhint("Ask again later, or raise statement_timeout.")));
	if (!stmt_binds && time_left >= 0 && wait > time_left)
		ereport(ERROR,
				(errcode(resp->status == 429 ? ERRCODE_CONFIGURATION_LIMIT_EXCEEDED : ERRCODE_QUERY_CANCELED),
				 errmsg("Genie asked to wait %.0f s before the request for %s is retried, longer than the time left before answer_timeout (%g s)",
						wait, what, opts->answer_timeout),
				 errdetail("HTTP status %ld with Retry-After %.0f; %.1f s of answer_timeout were left.",
						   resp->status, wait, Max(time_left, 0.0)),
				 errhint("Ask again later, or raise option answer_timeout of server \"%s\".",
						 opts->server_name)));
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
 *		Not retried: a first attempt that could not resolve the host name or
 *		connect to a host that has never answered in this backend (a wrong
 *		host option fails at once, with a hint naming it; the same failure
 *		at a host that answered before, a restart say, is retried).  With
 *		OAuth, refused credentials (a 401, or a 403 that says the token is
 *		invalid) fetch a new token once.
 *
 *		The wait: the service's Retry-After is honoured as sent (it is the
 *		service's rule, not our backoff, so max_backoff does not cap it);
 *		values http_parse_retry_after counts as absent (past dates, more
 *		than a day, garbage) leave our backoff, capped by max_backoff.
 *		Either way a wait that would not end before the limits the user set
 *		(time_left, the answer_timeout left, or GENIE_NO_DEADLINE; and
 *		statement_timeout for a Retry-After) ends the query at once with an
 *		error saying so, instead of sleeping into the limit.
 */
RespVerdict
genie_after_response(const GenieOptions *opts, GenieReqKind kind, const char *what,
					 HttpResponse *resp, int retries, bool refreshed, double time_left,
					 double *wait, GenieCallStats *stats)
{
	bool		retry = false;
	bool		asked;

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
	if (opts->client_id && !refreshed && genie_credentials_refused(resp))
		return RESP_REFRESH;

	switch (resp->outcome)
	{
		case HTTP_NOT_CONNECTED:
			retry = !(resp->first_contact && retries == 0);
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

	asked = resp->outcome == HTTP_DONE && resp->retry_after >= 0;
	*wait = asked ? resp->retry_after : genie_backoff(opts, retries);
	check_wait_fits(opts, what, resp, *wait, asked, time_left);
	if (genie_progress)
		ereport(NOTICE,
				(errmsg("genie_fdw: %s: %s, retrying in %.1f s%s (retry %d of %d)", what,
						response_summary(resp), *wait, asked ? " as Genie asked" : "",
						retries + 1, opts->max_retries)));
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
