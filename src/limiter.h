/*-------------------------------------------------------------------------
 *
 * limiter.h
 *		  The cross-backend Genie question limiter and genie_fdw's counters.
 *
 * When genie_fdw is in shared_preload_libraries, one shared-memory bucket
 * per workspace host admits new questions (at most
 * genie_fdw.questions_per_minute, or the server's questions_per_minute, in
 * any window of genie_fdw.rate_window seconds), in arrival order across
 * all backends; a 429 received anyway lowers the rate for every backend
 * until its Retry-After has passed.  Without preloading every call here is
 * cheap and admits at once, and the counters are kept per backend.
 *
 * Copyright (c) 2026, genie_fdw developers
 *
 * IDENTIFICATION
 *		  src/limiter.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef GENIE_LIMITER_H
#define GENIE_LIMITER_H

#include "genie_fdw.h"

/* Counters shown by genie_fdw_stats(), per server. */
typedef enum GenieStat
{
	GSTAT_QUESTIONS = 0,		/* questions sent to Genie */
	GSTAT_CACHE_HITS,			/* answers served from the answer cache */
	GSTAT_429,					/* HTTP 429 responses received */
	GSTAT_RETRIES,				/* requests retried */
	GSTAT_SLOT_WAIT_US,			/* time spent waiting for a question slot */
	GSTAT_POLLS,				/* polls of a message */
	GSTAT_BYTES,				/* response bytes received */
	GSTAT_ROWS,					/* answer rows returned */
	GSTAT_CACHE_MISSES,			/* answers not in the answer cache, asked */
	GSTAT_RERUNS,				/* remembered SQL re-run instead of asking */
	GSTAT__COUNT
} GenieStat;

/*
 * A question quota (genie_fdw.questions_per_minute and the server option
 * questions_per_minute alike) is 0 for no limit, or a number of questions
 * per window in [GENIE_QPM_MIN, GENIE_QPM_MAX]; larger values are refused.
 */
#define GENIE_QPM_MIN	0.01
#define GENIE_QPM_MAX	1000
#define GENIE_QPM_RULE	"0 (no limit) and numbers between 0.01 and 1000"
extern bool genie_questions_per_minute_valid(double v);

/* called from _PG_init: GUCs, and shared memory when preloaded */
extern void genie_limiter_init(void);

/* Is the shared limiter active (genie_fdw preloaded)? */
extern bool genie_limiter_active(void);

/*
 * Take a question slot for opts->host: returns true when granted.  When not,
 * *wait_ms says how long until the next try makes sense (the backend's latch
 * is also set when a slot frees).  Order is first come, first served across
 * backends: a backend keeps its place between calls until it is granted or
 * calls genie_limiter_cancel_wait.
 */
extern bool genie_limiter_try_acquire(const GenieOptions *opts, long *wait_ms);
extern void genie_limiter_cancel_wait(const GenieOptions *opts);

/* Blocking form: a latch wait that cancel and statement_timeout interrupt. */
extern void genie_limiter_acquire(const GenieOptions *opts);

/*
 * Why this backend waits for a slot and about how long, in words for
 * genie_fdw.progress (NULL: it does not wait); such a NOTICE comes at the
 * start of a wait and then every GENIE_SLOT_NOTICE_INTERVAL seconds.
 */
extern char *genie_limiter_wait_reason(const GenieOptions *opts);

#define GENIE_SLOT_NOTICE_INTERVAL 10

/* Give back a slot whose question never reached Genie. */
extern void genie_limiter_return_slot(const GenieOptions *opts);

/* A 429 came back anyway: slow every backend down until retry_after passes. */
extern void genie_limiter_report_429(const GenieOptions *opts, double retry_after);

extern void genie_stats_add(const GenieOptions *opts, GenieStat stat, int64 n);

#endif							/* GENIE_LIMITER_H */
