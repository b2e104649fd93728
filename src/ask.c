/*-------------------------------------------------------------------------
 *
 * ask.c
 *		  The ask engine: questions to Genie, asked concurrently.
 *
 * Owns asking: a set of questions (GenieAskSet) run at once, up to
 * max_concurrent in flight, each a small state machine (start or continue
 * a conversation, poll the message with growing waits, fetch the query
 * result, or start and poll a full-result download) driven by
 * genie_askset_next, which returns answers in the order they complete.
 * Answers come from the answer cache when it holds them, and go into it
 * whole (every chunk of an inline result is fetched for the cache).  With
 * the shared cache, a question another session is asking already is not
 * asked again: the ask waits for that answer (PH_FLIGHT), and asks itself
 * only if the other session gives up.
 *
 * Ownership: the set lives in the caller's memory context (the scan's
 * batch context); each question has a context of its own, a child of the
 * set's, that holds its answer and its request in flight (an HttpCall
 * belongs to the context it started in, http.c), so resetting the batch
 * context, or dropping the portal that holds it, ends every transfer of
 * the set whatever happened to savepoints in between.  An answer handed
 * out moves to whoever frees it with genie_answer_free.
 *
 * Copyright (c) 2026, genie_fdw developers
 *
 * IDENTIFICATION
 *		  src/ask.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/memutils.h"

#include "limiter.h"
#include "request.h"

/* Growth of the wait between two polls of a message. */
#define POLL_GROWTH 1.5

/*
 * A statement's or a download's status wait has a schedule of its own, not
 * the message's: the next poll comes after max(STATUS_WAIT_MIN, STATUS_WAIT_
 * FRACTION of the time this wait has lasted), at most max_poll_interval, so
 * a result that is ready after w seconds is seen within max(0.15 s, 10 % of
 * w).  (Such polls are cheap reads; only questions count against Genie's
 * rate limit.)
 */
#define STATUS_WAIT_MIN 0.15
#define STATUS_WAIT_FRACTION 0.1

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
	PH_FLIGHT,					/* another session is asking it: wait */
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
	STEP_STATEMENT,				/* poll that run's statement */
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
	HttpCall   *call;			/* in flight, owned by cxt */
	HttpResponse resp;			/* of the last finished request */
	char	   *url;
	char	   *body;
	int			retries;		/* of the current request */
	bool		refreshed;
	int			rate_retries;	/* questions asked again after RATE_LIMIT */
	double		interval;		/* next wait between polls of the message */
	double		wait_started;	/* genie_now() when the statement or
								 * download wait began; 0: none yet */
	double		started;		/* genie_now() at the start */
	double		asked;			/* genie_now() when Genie took the question */
	double		wake;			/* PH_SLEEP, PH_SLOT: until when */
	double		slot_noticed;	/* genie_now() of the last progress NOTICE
								 * about this wait for a slot; 0: none */
	char	   *last_status;
	GdDownload	download;		/* full_results: the download's ids */
	GenieCachedAnswer raw;		/* the bodies the answer came from, for
								 * the answer cache */
	bool		cache_checked;	/* looked up (and not waiting) */
	bool		stored;			/* handed to the answer cache (or not
								 * cacheable): its flight has ended */
	bool		rerun;			/* re-running remembered SQL (rerun.c) */
	bool		rerun_tried;	/* once per ask: then it asks */
	char	   *run_statement_id;	/* STEP_STATEMENT's statement */
	char	   *last_message_body;	/* the last get-message response, to
									 * remember */
	size_t		last_message_len;
	bool		remembered;		/* ask_remember done */
	int			flight;			/* the shared cache's flight owned, or -1 */
	MemoryContextCallback flight_cb;	/* ends the flight with cxt */
	bool		flight_cb_set;
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
	HttpCall  **calls;			/* scratch: the calls a wait is for */
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

static void askset_driving(GenieAskSet *set, bool driving);
static void ask_rerun_fallback(GenieAsk *ask, const char *why);
static GenieAnswer *askset_run(GenieAskSet *set);

/*
 * A shared flight belongs to its ask: when the ask's memory goes (the
 * answer freed, the scan's batch reset, a portal dropped, a savepoint
 * rolled back that destroyed the portal), the flight ends, and a waiting
 * session asks instead.  Nothing else ends it but its answer, the top-level
 * transaction's end and the backend's exit (shared_cache.c).
 */
static void
ask_flight_cb(void *arg)
{
	GenieAsk   *ask = (GenieAsk *) arg;

	genie_cache_release(ask->flight);
	ask->flight = -1;
}

/* After a lookup: tie a flight the ask now owns to the ask's memory. */
static void
ask_own_flight(GenieAsk *ask)
{
	if (ask->flight < 0 || ask->flight_cb_set)
		return;
	ask->flight_cb.func = ask_flight_cb;
	ask->flight_cb.arg = ask;
	MemoryContextRegisterResetCallback(ask->cxt, &ask->flight_cb);
	ask->flight_cb_set = true;
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
	set->calls = palloc(sizeof(HttpCall *) * set->maxasks);
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
		set->calls = repalloc(set->calls, sizeof(HttpCall *) * set->maxasks);
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
	ask->flight = -1;
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
		genie_error_type_is_rate_limit(msg->error_type);
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
		case STEP_STATEMENT:
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

	if (step != ask->step)
		ask->wait_started = 0;
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
				ask->url = genie_space_url(opts, "/conversations/%s/messages",
									 genie_url_segment(ask->target_conversation));
			else
				ask->url = genie_space_url(opts, "/start-conversation");
			break;
		case STEP_POLL:
			ask->url = genie_space_url(opts, "/conversations/%s/messages/%s",
								 genie_url_segment(a->conversation_id), genie_url_segment(a->message_id));
			break;
		case STEP_RESULT:
			if (msg->attachment_id)
				ask->url = genie_space_url(opts, "/conversations/%s/messages/%s/attachments/%s/query-result",
									 genie_url_segment(a->conversation_id), genie_url_segment(a->message_id),
									 genie_url_segment(msg->attachment_id));
			else if (msg->statement_id)
				ask->url = psprintf("%s/api/2.0/sql/statements/%s", opts->host,
									genie_url_segment(msg->statement_id));
			else
				ask->url = genie_space_url(opts, "/conversations/%s/messages/%s/query-result",
									 genie_url_segment(a->conversation_id), genie_url_segment(a->message_id));
			break;
		case STEP_DOWNLOAD:
			ask->url = genie_space_url(opts, "/conversations/%s/messages/%s/attachments/%s/downloads",
								 genie_url_segment(a->conversation_id), genie_url_segment(a->message_id),
								 genie_url_segment(msg->attachment_id));
			break;
		case STEP_DOWNLOAD_POLL:
			ask->url = genie_space_url(opts, "/conversations/%s/messages/%s/attachments/%s/downloads/%s?download_id_signature=%s",
								 genie_url_segment(a->conversation_id), genie_url_segment(a->message_id),
								 genie_url_segment(msg->attachment_id),
								 genie_url_segment(ask->download.download_id),
								 genie_url_segment(ask->download.download_id_signature));
			break;
		case STEP_STATEMENT:
			ask->url = psprintf("%s/api/2.0/sql/statements/%s", opts->host,
								genie_url_segment(ask->run_statement_id));
			break;
		case STEP_EXECUTE:
			if (msg->attachment_id)
				ask->url = genie_space_url(opts, "/conversations/%s/messages/%s/attachments/%s/execute-query",
									 genie_url_segment(a->conversation_id), genie_url_segment(a->message_id),
									 genie_url_segment(msg->attachment_id));
			else
				ask->url = genie_space_url(opts, "/conversations/%s/messages/%s/execute-query",
									 genie_url_segment(a->conversation_id), genie_url_segment(a->message_id));
			break;
	}
	MemoryContextSwitchTo(old);
}

static void
ask_sleep(GenieAsk *ask, double seconds)
{
	ask->phase = PH_SLEEP;
	ask->wake = genie_now() + seconds;
}

/* Seconds of answer_timeout this ask has left. */
static double
ask_time_left(const GenieAsk *ask)
{
	return ask->set->opts->answer_timeout - (genie_now() - ask->started);
}

/* Error when answer_timeout has run out for this ask: a timeout (57014). */
static void
ask_check_timeout(GenieAsk *ask)
{
	const GenieOptions *opts = ask->set->opts;

	if (genie_now() - ask->started > opts->answer_timeout)
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("Genie did not answer within answer_timeout (%g s)", opts->answer_timeout),
				 errdetail("The last status was %s.",
						   ask->answer->message.status ? ask->answer->message.status : "(none)"),
				 errhint("Raise option answer_timeout of server \"%s\", or ask again later.",
						 opts->server_name)));
}

/*
 * The question cut to at most max bytes on a character boundary, "..."
 * added when cut (for messages: never half a multibyte character).
 */
static char *
question_excerpt(const char *question, int max)
{
	int			len = strlen(question);
	int			cut;

	if (len <= max)
		return pstrdup(question);
	cut = pg_mbcliplen(question, len, max);
	return psprintf("%.*s...", cut, question);
}

static void
ask_progress(GenieAsk *ask, const char *what)
{
	if (!genie_progress)
		return;
	if (ask->set->nasks > 1)
		ereport(NOTICE,
				(errmsg("genie_fdw: \"%s\": %s (%.1f s)", question_excerpt(ask->answer->question, 40),
						what, genie_now() - ask->started)));
	else
		ereport(NOTICE,
				(errmsg("genie_fdw: %s (%.1f s)", what, genie_now() - ask->started)));
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
		double		wait = genie_backoff(opts, ask->rate_retries);

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
		genie_report_failed_message(msg, ask->rate_retries);
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
 * ask_try_rerun
 *		With refresh 'rerun', a question whose SQL Genie generated before
 *		(rerun.c) re-runs that SQL (execute-query, or a new full-result
 *		download) instead of asking Genie: no question slot, no language
 *		model.  Follow-ups are never re-run from another conversation's SQL.
 *		True when the ask now re-runs (its step set, to be sent).
 */
static bool
ask_try_rerun(GenieAsk *ask)
{
	const GenieOptions *opts = ask->set->opts;
	GenieAnswer *a = ask->answer;
	GenieRemembered r;
	GdError		err;
	MemoryContext old;
	bool		ok;

	if (!opts->refresh_rerun || ask->target_conversation || ask->rerun_tried)
		return false;
	ask->rerun_tried = true;
	old = MemoryContextSwitchTo(ask->cxt);
	if (!genie_rerun_lookup(opts, a->question, &r))
	{
		MemoryContextSwitchTo(old);
		return false;
	}
	ok = gd_decode_message(r.message_body, r.message_len, genie_arena(ask->cxt), &a->message, &err);
	MemoryContextSwitchTo(old);
	if (!ok)
	{
		genie_rerun_forget(opts, a->question);	/* cannot happen: it decoded before */
		return false;
	}
	a->conversation_id = r.conversation_id;
	a->message_id = r.message_id;
	a->message.attachment_id = r.attachment_id;
	a->message.sql = r.sql;
	a->message.statement_id = NULL;
	a->rerun_of = r.message_id;
	ask->raw.message_body = r.message_body;
	ask->raw.message_len = r.message_len;
	ask->rerun = true;
	genie_stats_add(opts, GSTAT_RERUNS, 1);
	if (ask->set->stats)
		ask->set->stats->reruns++;
	ask_progress(ask, psprintf("re-running the SQL Genie generated in message %s", r.message_id));
	ask_set_step(ask, opts->full_results ? STEP_DOWNLOAD : STEP_EXECUTE);
	return true;
}

/*
 * ask_rerun_fallback
 *		A re-run failed for good (message or conversation gone, permission
 *		changed, the SQL no longer runs): forget the SQL, say why, and ask
 *		Genie the question instead, once.
 */
static void
ask_rerun_fallback(GenieAsk *ask, const char *why)
{
	const GenieOptions *opts = ask->set->opts;
	GenieAnswer *a = ask->answer;

	ereport(NOTICE,
			(errmsg("genie_fdw: could not re-run the SQL Genie generated for \"%s\"; asking Genie again",
					question_excerpt(a->question, 60)),
			 errdetail("Message %s: %s.", a->message_id ? a->message_id : "(none)", why)));
	genie_rerun_forget(opts, a->question);
	ask->rerun = false;
	a->rerun_of = NULL;
	a->conversation_id = NULL;
	a->message_id = NULL;
	memset(&a->message, 0, sizeof(a->message));
	memset(&a->statement, 0, sizeof(a->statement));
	a->has_result = false;
	ask->raw.message_body = NULL;
	ask->raw.result_body = NULL;
	ask->last_status = NULL;
	ask_set_step(ask, STEP_POST);
	ask->phase = PH_SLOT;
}

/*
 * ask_remember
 *		With refresh 'rerun', a fresh answer that ran SQL is remembered
 *		(rerun.c) for the next asking of its question.
 */
static void
ask_remember(GenieAsk *ask)
{
	const GenieOptions *opts = ask->set->opts;
	GenieAnswer *a = ask->answer;

	if (ask->remembered)
		return;
	ask->remembered = true;
	if (!opts->refresh_rerun || a->from_cache || ask->rerun || ask->target_conversation ||
		!a->has_result || ask->last_message_body == NULL)
		return;
	genie_rerun_remember(opts, a->question, a->conversation_id, a->message_id,
						 a->message.attachment_id, a->message.sql,
						 ask->last_message_body, ask->last_message_len);
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

	/*
	 * A re-run refused for good (the message or conversation is gone, the
	 * permission changed, the request no longer makes sense): ask instead.
	 */
	if (ask->rerun && resp->outcome == HTTP_DONE &&
		(resp->status == 400 || resp->status == 403 || resp->status == 404 ||
		 resp->status == 410))
	{
		ask_rerun_fallback(ask, psprintf("HTTP %ld: %s", resp->status,
										 resp->status == 404 ? "the message or its conversation is gone" :
										 resp->status == 403 ? "permission denied" :
										 "the query can no longer be run"));
		return;
	}

	switch (genie_after_response(opts, kind, step_what(ask), resp, ask->retries,
								 ask->refreshed, ask_time_left(ask), &wait, ask->set->stats))
	{
		case RESP_OK:
			break;
		case RESP_REFRESH:
			(void) genie_bearer(opts, true);
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
					genie_report_decode_error(opts, resp, &err, "the answer to a question");
				/* the decoder makes sure both ids are there */
				a->conversation_id = st.conversation_id;
				a->message_id = st.message_id;
				a->message = st.message;
				genie_cache_flight_asked(ask->flight, a->conversation_id, a->message_id);
				ask_progress(ask, psprintf("asked Genie in conversation %s", a->conversation_id));
				ask->last_status = a->message.status;
				if (gd_status_is_terminal(a->message.status))
					ask_terminal(ask);
				else
				{
					ask->asked = genie_now();
					ask->interval = opts->poll_interval;
					ask_set_step(ask, STEP_POLL);
					ask_sleep(ask, ask->interval);
				}
				break;
			}
		case STEP_POLL:
			if (!gd_decode_message(resp->body, resp->len, arena, &a->message, &err))
				genie_report_decode_error(opts, resp, &err, "a message");
			ask->raw.message_body = resp->body;
			ask->raw.message_len = resp->len;
			ask->last_message_body = resp->body;
			ask->last_message_len = resp->len;
			if (ask->set->stats)
				ask->set->stats->polls++;
			genie_stats_add(opts, GSTAT_POLLS, 1);
			if (a->message.status &&
				(ask->last_status == NULL || strcmp(ask->last_status, a->message.status) != 0))
				ask_progress(ask, a->message.status);
			ask->last_status = a->message.status;
			if (gd_status_is_terminal(a->message.status))
				ask_terminal(ask);
			else
			{
				ask_check_timeout(ask);

				/*
				 * PENDING_WAREHOUSE and EXECUTING_QUERY are Genie's last
				 * steps: the answer is near, so the wait is the statement
				 * wait's, proportional to the time waited (an answer is seen
				 * within 10 % of it), but never shorter than poll_interval;
				 * before them it grows by POLL_GROWTH from poll_interval.
				 * Both stop at max_poll_interval.
				 */
				if (a->message.status &&
					(strcmp(a->message.status, "PENDING_WAREHOUSE") == 0 ||
					 strcmp(a->message.status, "EXECUTING_QUERY") == 0))
					ask->interval = Max(opts->poll_interval,
										STATUS_WAIT_FRACTION * (genie_now() - ask->asked));
				else
					ask->interval *= POLL_GROWTH;
				ask->interval = Min(ask->interval, opts->max_poll_interval);
				ask_set_step(ask, STEP_POLL);
				ask_sleep(ask, Min(ask->interval,
								   Max(0.0, opts->answer_timeout - (genie_now() - ask->started))));
			}
			break;
		case STEP_DOWNLOAD:
			if (!gd_decode_download(resp->body, resp->len, arena, &ask->download, &err))
				genie_report_decode_error(opts, resp, &err, "a full-result download");
			ask_progress(ask, "downloading the full result");
			ask_set_step(ask, STEP_DOWNLOAD_POLL);
			ask->phase = PH_SEND;
			break;
		case STEP_RESULT:
		case STEP_EXECUTE:
		case STEP_STATEMENT:
		case STEP_DOWNLOAD_POLL:
			{
				GdStatement *st = &a->statement;

				if (!gd_decode_statement(resp->body, resp->len, arena, st, &err))
					genie_report_decode_error(opts, resp, &err, "a query result");
				if (ask->rerun && strcmp(st->state, "SUCCEEDED") != 0 &&
					strcmp(st->state, "PENDING") != 0 && strcmp(st->state, "RUNNING") != 0)
				{
					/* the SQL no longer runs (a table gone, a column renamed) */
					ask_rerun_fallback(ask, psprintf("the statement ended in state %s%s%s", st->state,
													 st->error_code ? ": " : "",
													 st->error_code ? st->error_code : ""));
					break;
				}
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
					double		now = genie_now();

					ask_check_timeout(ask);
					if (ask->wait_started <= 0)
						ask->wait_started = now;
					if ((ask->step == STEP_EXECUTE || ask->step == STEP_STATEMENT) &&
						st->statement_id)
					{
						/* the new run goes on: poll its statement */
						MemoryContext old = MemoryContextSwitchTo(ask->cxt);

						ask->run_statement_id = pstrdup(st->statement_id);
						MemoryContextSwitchTo(old);
						ask_set_step(ask, STEP_STATEMENT);
						ask->wait_started = now;
					}
					else
						ask_set_step(ask, ask->step);
					ask_sleep(ask, Min(opts->max_poll_interval,
									   Max(STATUS_WAIT_MIN,
										   STATUS_WAIT_FRACTION * (now - ask->wait_started))));
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
				if (genie_progress &&
					(ask->slot_noticed <= 0 || now - ask->slot_noticed >= GENIE_SLOT_NOTICE_INTERVAL))
				{
					char	   *why = genie_limiter_wait_reason(opts);

					ask->slot_noticed = now;
					if (why)
						ask_progress(ask, why);
				}
				if (ask->wake - ask->started > opts->answer_timeout)
				{
					genie_limiter_cancel_wait(opts);
					ereport(ERROR,
							(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
							 errmsg("Genie did not answer within answer_timeout (%g s)", opts->answer_timeout),
							 errdetail("The workspace's question quota has no free slot for another %.1f s.",
									   wait_ms / 1000.0),
							 errhint("Raise option answer_timeout of server \"%s\", or ask again later.",
									 opts->server_name)));
				}
				break;
			}
			ask->slot_noticed = 0;
			ask->phase = PH_SEND;
		}
		if (ask->phase == PH_SEND)
		{
			HttpRequest req;
			MemoryContext old = MemoryContextSwitchTo(ask->cxt);

			genie_fill_request(&req, opts,
						 (ask->step == STEP_EXECUTE || ask->step == STEP_POST ||
						  ask->step == STEP_DOWNLOAD) ? "POST" : "GET",
						 ask->url, ask->body);
			ask->call = http_start(&req);
			MemoryContextSwitchTo(old);
			ask->phase = PH_CALL;
		}
		if (ask->phase == PH_CALL)
		{
			if (!http_done(ask->call))
				break;
			{
				HttpCall   *call = ask->call;

				ask->call = NULL;
				http_finish(call, &ask->resp);
			}
			ask_response(ask);
			now = genie_now();
			continue;
		}
		break;					/* PH_NEW, PH_DONE */
	}
	error_context_stack = errcb.previous;
}

/*
 * ask_from_cache
 *		Answer an ask from the answer cache, when it holds a live answer
 *		(GENIE_CACHE_HIT); GENIE_CACHE_WAIT when another session is asking
 *		it; GENIE_CACHE_MISS when this ask must ask (owning the flight).
 */
static GenieCacheResult
ask_from_cache(GenieAsk *ask)
{
	const GenieOptions *opts = ask->set->opts;
	GenieAnswer *a = ask->answer;
	GenieCachedAnswer c;
	GdArena    *arena;
	GdError		err;
	MemoryContext old;
	GenieCacheResult r;
	bool		ok;
	int			i;
	char		conv[GENIE_FLIGHT_ID_LEN];
	char		msg[GENIE_FLIGHT_ID_LEN];

	/* full-result answers are never cached (their links expire) */
	if (opts->cache_ttl <= 0 || opts->full_results)
		return GENIE_CACHE_MISS;
	old = MemoryContextSwitchTo(ask->cxt);
	r = genie_cache_lookup(opts, ask->target_conversation, a->question, &c, &ask->flight,
						   conv, msg);
	ask_own_flight(ask);
	if (r == GENIE_CACHE_CONTINUE)
	{
		/* poll the message of the session that stopped driving it */
		a->conversation_id = pstrdup(conv);
		a->message_id = pstrdup(msg);
		MemoryContextSwitchTo(old);
		ask_progress(ask, psprintf("taking over conversation %s from an idle session", conv));
		ask->asked = genie_now();
		ask->interval = opts->poll_interval;
		ask_set_step(ask, STEP_POLL);
		genie_stats_add(opts, GSTAT_CACHE_MISSES, 1);
		return r;
	}
	if (r != GENIE_CACHE_HIT)
	{
		MemoryContextSwitchTo(old);
		if (r == GENIE_CACHE_MISS)
			genie_stats_add(opts, GSTAT_CACHE_MISSES, 1);
		return r;
	}
	arena = genie_arena(ask->cxt);
	ok = gd_decode_message(c.message_body, c.message_len, arena, &a->message, &err);
	if (ok && c.result_body)
		ok = gd_decode_statement(c.result_body, c.result_len, arena, &a->statement, &err);
	a->held = palloc0(sizeof(GdChunk) * Max(c.nchunks, 1));
	for (i = 0; ok && i < c.nchunks; i++)
		ok = gd_scan_chunk(c.chunk_bodies[i], c.chunk_lens[i], arena, &a->held[i], &err);
	MemoryContextSwitchTo(old);
	if (!ok)
		return GENIE_CACHE_MISS;	/* cannot happen: it decoded before */
	a->nheld = c.nchunks;
	a->whole = true;
	a->conversation_id = c.conversation_id;
	a->message_id = c.message_id;
	a->has_result = c.result_body != NULL;
	if (a->has_result && a->statement.statement_id)
		a->message.statement_id = a->statement.statement_id;
	a->from_cache = true;
	a->from_shared_cache = c.shared;
	genie_limiter_cancel_wait(opts);
	genie_stats_add(opts, GSTAT_CACHE_HITS, 1);
	return GENIE_CACHE_HIT;
}

/*
 * ask_cache_answer
 *		A completed answer goes into the answer cache, whole: the further
 *		chunks of an inline result are fetched now (they stay with the
 *		answer, so the scan makes no more requests).  Ends this ask's
 *		shared flight either way.
 */
static void
ask_cache_answer(GenieAsk *ask)
{
	GenieAnswer *a = ask->answer;
	const GenieOptions *opts = ask->set->opts;

	if (ask->stored)
		return;
	ask->stored = true;
	if (a->from_cache || ask->raw.message_body == NULL || opts->cache_ttl <= 0 ||
		opts->full_results)
	{
		genie_cache_release(ask->flight);
		ask->flight = -1;
		return;
	}
	ask->raw.conversation_id = a->conversation_id;
	ask->raw.message_id = a->message_id;
	if (a->has_result &&
		!genie_answer_fetch_rest(opts, a, ask->set->stats, genie_cache_max_bytes(), &ask->raw))
	{
		/* too large to cache: the scan reads the rest as usual */
		genie_cache_release(ask->flight);
		ask->flight = -1;
		return;
	}
	genie_cache_store(opts, ask->target_conversation, a->question, &ask->raw, ask->flight);
	ask->flight = -1;
}

/* Error when waiting for another session's answer used up answer_timeout. */
static void
ask_check_flight_timeout(GenieAsk *ask)
{
	const GenieOptions *opts = ask->set->opts;

	if (ask_time_left(ask) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("Genie did not answer within answer_timeout (%g s)", opts->answer_timeout),
				 errdetail("Another session was asking the same question."),
				 errhint("Raise option answer_timeout of server \"%s\", or ask again later.",
						 opts->server_name)));
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
	GenieAnswer *answer;

	if (set->nreturned >= set->nasks)
		return NULL;
	askset_driving(set, true);
	answer = askset_run(set);
	askset_driving(set, false);
	return answer;
}

/*
 * askset_driving
 *		The set's shared flights are driven (the engine runs) or idle (the
 *		engine returned to the executor, which may keep it away for ever:
 *		an idle cursor).  An error leaves them idle too (shared_cache.c's
 *		abort callbacks), and a waiter takes an idle flight over.
 */
static void
askset_driving(GenieAskSet *set, bool driving)
{
	int			i;

	for (i = 0; i < set->nasks; i++)
		if (set->asks[i]->flight >= 0)
			genie_cache_flight_driving(set->asks[i]->flight, driving);
}

/*
 * askset_run
 *		genie_askset_next's loop.  Every answer completed is published to
 *		the answer cache at once (ending its flight), whether or not it is
 *		the one returned now: a claim ends when the answer is ready, not
 *		when the scan reads it.
 */
static GenieAnswer *
askset_run(GenieAskSet *set)
{
	for (;;)
	{
		double		now = genie_now();
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
			if ((ask->phase == PH_SLOT && !ask->cache_checked) || ask->phase == PH_FLIGHT)
			{
				switch (ask_from_cache(ask))
				{
					case GENIE_CACHE_HIT:
						ask->phase = PH_DONE;
						break;
					case GENIE_CACHE_MISS:
						ask->cache_checked = true;
						/* a remembered question re-runs: no question slot */
						ask->phase = ask_try_rerun(ask) ? PH_SEND : PH_SLOT;
						break;
					case GENIE_CACHE_CONTINUE:
						/* no question is sent: no quota slot */
						ask->cache_checked = true;
						ask->phase = PH_SEND;
						break;
					case GENIE_CACHE_WAIT:
						/* the asker sets our latch when it is done */
						if (ask->phase != PH_FLIGHT)
							ask_progress(ask, "waiting for another session asking the same question");
						ask->phase = PH_FLIGHT;
						ask_check_flight_timeout(ask);
						ask->wake = now + 1.0;
						break;
				}
			}
			if (ask->phase != PH_DONE && ask->phase != PH_FLIGHT)
				ask_advance(ask, now);
			if (ask->phase == PH_DONE && !ask->returned)
			{
				int			j;

				for (j = 0; j < set->nasks; j++)
					if (set->asks[j]->phase == PH_DONE)
					{
						ask_remember(set->asks[j]);
						ask_cache_answer(set->asks[j]);
					}
				ask->returned = true;
				set->nreturned++;
				return ask->answer;
			}
			if (ask->phase == PH_SLEEP || ask->phase == PH_SLOT || ask->phase == PH_FLIGHT)
				next_wake = Min(next_wake, ask->wake);
		}
		{
			int			ncalls = 0;

			for (i = 0; i < set->nasks; i++)
				if (set->asks[i]->call)
					set->calls[ncalls++] = set->asks[i]->call;
			(void) http_wait(set->calls, ncalls,
							 (long) ceil(Max(next_wake - genie_now(), 0.0) * 1000.0));
		}
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
		genie_cache_release(ask->flight);
		ask->flight = -1;
		if (ask->phase != PH_DONE)
			ask->phase = PH_DONE;
		ask->returned = true;
	}
	set->nreturned = set->nasks;
}

