/*-------------------------------------------------------------------------
 *
 * limiter.c
 *		  The cross-backend Genie question limiter and genie_fdw's counters.
 *
 * Owns: the GUCs genie_fdw.questions_per_minute and genie_fdw.rate_window;
 * the shared-memory state set up when genie_fdw is in
 * shared_preload_libraries (one LWLock tranche, the host buckets, the pool
 * of queue places and the per-server counters); the admission rule; the
 * waiting-backend queues; the backend-local counters used without
 * preloading; and the SQL functions genie_fdw_stats() and
 * genie_fdw_stats_reset().  Interface in limiter.h.
 *
 * The admission rule.  Each workspace host has a bucket holding the times
 * of its most recent admissions (a ring of up to LIMITER_MAX_PER_WINDOW).
 * With k questions allowed per window of w seconds, a new question is
 * admitted only when the k-th most recent admission is at least
 * w + margin old, so that no window of length w ever holds more than k
 * admissions: the same sliding window the Genie service (and the emulator)
 * enforces.  The margin (1% of the window, at least 100 ms, at most 1 s)
 * covers the time between admission and the question's arrival at the
 * service.  A 429 received anyway (another client uses the workspace)
 * blocks every admission for that host until its Retry-After has passed.
 *
 * Fairness.  Backends that cannot be admitted at once take a place at the
 * tail of the bucket's queue; only the head of the queue may be admitted.
 * A waiter is told (wait_ms) when its turn would come if everyone ahead of
 * it took a slot as soon as one frees, and sleeps on its latch until then
 * (at most a second); when the head is admitted or leaves, the new head's
 * latch is set, and a returned slot sets the head's.  A place is left on error or cancel (PG_CATCH in
 * genie_limiter_acquire), at the end of every transaction and at every
 * subtransaction abort, and at backend exit, so a cancelled or dead waiter
 * never blocks the queue.
 *
 * Times come from the monotonic clock (instr_time), which is the same for
 * every process of the machine.
 *
 * When more than LIMITER_BUCKETS hosts are in use at once, a bucket whose
 * host has had no admission within its window and has no waiters is
 * reused; when none is idle, the extra hosts share one overflow bucket (so
 * they are limited together: stricter than needed, never looser) and a LOG
 * message says so once per backend.
 *
 * Without preloading there is no shared state: every question is admitted
 * at once (request.c's per-backend backoff still applies) and the
 * counters are kept per backend.
 *
 * Copyright (c) 2026, genie_fdw developers
 *
 * IDENTIFICATION
 *		  src/limiter.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "portability/instr_time.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"
#include "utils/wait_event.h"

#include "limiter.h"

/* Workspace hosts tracked at once (plus one overflow bucket). */
#define LIMITER_BUCKETS 64
#define OVERFLOW_BUCKET LIMITER_BUCKETS
/* Host names are compared on this many bytes plus a hash of the whole. */
#define LIMITER_HOST_LEN 256
/* Most admissions remembered per bucket: the largest limit allowed. */
#define LIMITER_MAX_PER_WINDOW GENIE_QPM_MAX
/* Servers whose counters are kept in shared memory (all databases). */
#define LIMITER_STAT_ENTRIES 512
/* Longest latch sleep before a waiter looks at the queue again. */
#define LIMITER_MAX_SLEEP_MS 1000
/* Wait before retrying when the pool of queue places is exhausted. */
#define LIMITER_NO_PLACE_MS 100

#define LIMITER_TRANCHE "genie_fdw"

/* One workspace host's admissions and queue. */
typedef struct LimiterBucket
{
	char		host[LIMITER_HOST_LEN]; /* "" when free */
	uint32		hosthash;		/* hash of the whole lower-cased host */
	int64		blocked_until;	/* µs: admit nothing before (after a 429) */
	int64		last_admit;		/* µs */
	int64		window_us;		/* effective window of the last admission */
	int			nadmit;			/* entries in admits[] */
	int			first;			/* index of the oldest entry */
	int			head;			/* queue: index into places[], -1 if empty */
	int			tail;
	int64		admits[LIMITER_MAX_PER_WINDOW]; /* µs, ascending from first */
} LimiterBucket;

/* A backend's place in a bucket's queue. */
typedef struct LimiterPlace
{
	int			procno;			/* -1 when the place is free */
	int			bucket;
	int			next;			/* next in the queue, or in the free list */
	int64		since;			/* µs: when the place was taken */
} LimiterPlace;

/* Counters of one foreign server. */
typedef struct LimiterStatEntry
{
	Oid			dbid;			/* InvalidOid when the entry is free */
	Oid			serverid;
	pg_atomic_uint64 counters[GSTAT__COUNT];
} LimiterStatEntry;

typedef struct LimiterShared
{
	LWLock	   *lock;			/* buckets and places */
	LWLock	   *stats_lock;		/* stats[]: shared to add, exclusive to
								 * insert or free entries */
	int			nplaces;
	int			free_place;		/* head of the free list of places */
	LimiterBucket buckets[LIMITER_BUCKETS + 1];
	LimiterStatEntry stats[LIMITER_STAT_ENTRIES];
	LimiterPlace places[FLEXIBLE_ARRAY_MEMBER];
} LimiterShared;

/* Backend-local counters (without preloading). */
typedef struct LocalStatEntry
{
	Oid			serverid;		/* hash key */
	int64		counters[GSTAT__COUNT];
} LocalStatEntry;

/* GUCs */
static double genie_questions_per_minute = 5.0;
static int	genie_rate_window = 60;

static LimiterShared *limiter = NULL;
static HTAB *local_stats = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* This backend's queue place per bucket (-1: none). */
static int	my_place[LIMITER_BUCKETS + 1];

/* This backend's latest admission per bucket, for return_slot (0: none). */
static int64 my_admit[LIMITER_BUCKETS + 1];

static bool backend_callbacks_registered = false;
static bool overflow_logged = false;
static bool stats_full_logged = false;

PG_FUNCTION_INFO_V1(genie_fdw_stats);
PG_FUNCTION_INFO_V1(genie_fdw_stats_reset);

static void limiter_shmem_request(void);
static void limiter_shmem_startup(void);

/* ----------
 * Helpers
 * ----------
 */

/* The monotonic clock, in microseconds. */
static int64
now_us(void)
{
	instr_time	t;

	INSTR_TIME_SET_CURRENT(t);
	return (int64) INSTR_TIME_GET_MICROSEC(t);
}

/* This backend's PGPROC number, which names it in the queues. */
static int
my_procno(void)
{
	return GetNumberFromPGProc(MyProc);
}

/* Set the latch of a waiting backend (-1: nobody). */
static void
wake_procno(int procno)
{
	if (procno >= 0)
		SetLatch(&GetPGProcByNumber(procno)->procLatch);
}

/*
 * genie_questions_per_minute_valid
 *		The one rule for a question quota, the GUC's and the server
 *		option's alike: 0 (no limit), or a number of questions per window
 *		between GENIE_QPM_MIN and GENIE_QPM_MAX (see limiter_params for
 *		what a fraction means).
 */
bool
genie_questions_per_minute_valid(double v)
{
	return v == 0 || (v >= GENIE_QPM_MIN && v <= GENIE_QPM_MAX);
}

/* GUC check hook of genie_fdw.questions_per_minute. */
static bool
check_questions_per_minute(double *newval, void **extra, GucSource source)
{
	if (genie_questions_per_minute_valid(*newval))
		return true;
	GUC_check_errdetail("Valid values are %s.", GENIE_QPM_RULE);
	return false;
}

/*
 * limiter_params
 *		Questions allowed per window (0: no limit) and the window in µs for
 *		one server: its questions_per_minute option when set, else the GUC.
 *		A limit below one question per window becomes one question per
 *		proportionally longer window; a fractional limit above one is
 *		rounded down, so that no window ever holds more than the limit.
 */
static int
limiter_params(const GenieOptions *opts, int64 *window_us)
{
	double		qpm = genie_questions_per_minute;
	double		w = (double) genie_rate_window * 1000000.0;

	if (opts && opts->questions_per_minute >= 0)
		qpm = opts->questions_per_minute;
	if (qpm <= 0)
	{
		*window_us = 0;
		return 0;
	}
	if (qpm < 1.0)
	{
		*window_us = (int64) (w / qpm);
		return 1;
	}
	*window_us = (int64) w;
	return (int) Min(floor(qpm), (double) LIMITER_MAX_PER_WINDOW);
}

/* Time between admission and arrival allowed for. */
static int64
margin_us(int64 window_us)
{
	int64		m = window_us / 100;

	return Min(Max(m, 100000), 1000000);
}

/* FNV-1a hash of the lower-cased host name. */
static uint32
host_hash(const char *host)
{
	uint32		h = 2166136261u;
	const unsigned char *p;

	for (p = (const unsigned char *) host; *p; p++)
	{
		h ^= (uint32) pg_tolower(*p);
		h *= 16777619u;
	}
	return h;
}

/* Is this the bucket of host? */
static bool
bucket_matches(const LimiterBucket *b, const char *host, uint32 hash)
{
	return b->host[0] != '\0' && b->hosthash == hash &&
		pg_strncasecmp(b->host, host, LIMITER_HOST_LEN - 1) == 0;
}

/* Forget a bucket's host, admissions and queue. */
static void
bucket_clear(LimiterBucket *b)
{
	b->host[0] = '\0';
	b->hosthash = 0;
	b->blocked_until = 0;
	b->last_admit = 0;
	b->window_us = 0;
	b->nadmit = 0;
	b->first = 0;
	b->head = -1;
	b->tail = -1;
}

/* Can a bucket be given to another host? */
static bool
bucket_idle(const LimiterBucket *b, int64 now)
{
	return b->head < 0 && now >= b->blocked_until &&
		(b->nadmit == 0 || now >= b->last_admit + b->window_us + margin_us(b->window_us));
}

/*
 * bucket_for
 *		The bucket of a host (hash: host_hash(host), computed before the
 *		lock is taken), or -1 when it has none and create is false.  Caller
 *		holds limiter->lock exclusively.
 */
static int
bucket_for(const char *host, uint32 hash, bool create, int64 now)
{
	int			i;
	int			free_idx = -1;
	int			idle_idx = -1;
	LimiterBucket *b;

	for (i = 0; i < LIMITER_BUCKETS; i++)
	{
		b = &limiter->buckets[i];
		if (bucket_matches(b, host, hash))
			return i;
		if (b->host[0] == '\0')
		{
			if (free_idx < 0)
				free_idx = i;
		}
		else if (idle_idx < 0 && bucket_idle(b, now))
			idle_idx = i;
	}
	if (!create)
		return limiter->buckets[OVERFLOW_BUCKET].host[0] != '\0' ? OVERFLOW_BUCKET : -1;
	if (free_idx < 0)
		free_idx = idle_idx;
	if (free_idx < 0)
	{
		/* every bucket is busy: share the overflow bucket */
		b = &limiter->buckets[OVERFLOW_BUCKET];
		if (b->host[0] == '\0')
			strlcpy(b->host, "*", sizeof(b->host));
		if (!overflow_logged)
		{
			overflow_logged = true;
			elog(LOG, "genie_fdw: more than %d workspace hosts are in use; host \"%s\" shares the overflow limiter bucket",
				 LIMITER_BUCKETS, host);
		}
		return OVERFLOW_BUCKET;
	}
	b = &limiter->buckets[free_idx];
	bucket_clear(b);
	strlcpy(b->host, host, sizeof(b->host));
	b->hosthash = hash;
	return free_idx;
}

/*
 * slot_free_at
 *		The earliest time (µs) a question may be admitted to a bucket when
 *		`ahead` others are admitted before it, each as soon as it may: the
 *		(k - ahead)-th most recent admission must have left the window.
 *		Returns -1 when that depends on admissions not yet made (ahead >= k).
 */
static int64
slot_free_at(const LimiterBucket *b, int k, int64 window_us, int ahead)
{
	int64		at = b->blocked_until;
	int			need = k - ahead;

	if (need <= 0)
		return -1;
	if (b->nadmit >= need)
	{
		int			idx = (b->first + b->nadmit - need) % LIMITER_MAX_PER_WINDOW;
		int64		t = b->admits[idx] + window_us + margin_us(window_us);

		at = Max(at, t);
	}
	return at;
}

/* How many backends are ahead of place p in a bucket's queue. */
static int
places_ahead(const LimiterBucket *b, int p)
{
	int			n = 0;
	int			cur;

	for (cur = b->head; cur >= 0 && cur != p; cur = limiter->places[cur].next)
		n++;
	return n;
}

/* Record an admission at time now. */
static void
bucket_admit(LimiterBucket *b, int64 now, int64 window_us)
{
	if (b->nadmit == LIMITER_MAX_PER_WINDOW)
	{
		b->admits[b->first] = now;
		b->first = (b->first + 1) % LIMITER_MAX_PER_WINDOW;
	}
	else
	{
		b->admits[(b->first + b->nadmit) % LIMITER_MAX_PER_WINDOW] = now;
		b->nadmit++;
	}
	b->last_admit = now;
	b->window_us = window_us;
}

/* Remove the admission at time t (the most recent one with that time). */
static bool
bucket_unadmit(LimiterBucket *b, int64 t)
{
	int			i;

	for (i = b->nadmit - 1; i >= 0; i--)
	{
		int			idx = (b->first + i) % LIMITER_MAX_PER_WINDOW;

		if (b->admits[idx] == t)
		{
			int			j;

			for (j = i; j < b->nadmit - 1; j++)
				b->admits[(b->first + j) % LIMITER_MAX_PER_WINDOW] =
					b->admits[(b->first + j + 1) % LIMITER_MAX_PER_WINDOW];
			b->nadmit--;
			return true;
		}
	}
	return false;
}

/* Take a place at the tail of a bucket's queue; -1 if none is left. */
static int
place_enqueue(int bidx, int64 now)
{
	LimiterBucket *b = &limiter->buckets[bidx];
	int			p = limiter->free_place;
	LimiterPlace *pl;

	if (p < 0)
		return -1;
	pl = &limiter->places[p];
	limiter->free_place = pl->next;
	pl->procno = my_procno();
	pl->bucket = bidx;
	pl->next = -1;
	pl->since = now;
	if (b->tail >= 0)
		limiter->places[b->tail].next = p;
	else
		b->head = p;
	b->tail = p;
	my_place[bidx] = p;
	return p;
}

/*
 * place_remove
 *		Leave a bucket's queue; returns the procno of the new head when the
 *		head changed (to be woken), else -1.  Adds the time waited to
 *		*waited_us.
 */
static int
place_remove(int bidx, int64 now, int64 *waited_us)
{
	LimiterBucket *b = &limiter->buckets[bidx];
	int			p = my_place[bidx];
	int			prev = -1;
	int			cur;
	int			wake = -1;

	my_place[bidx] = -1;
	if (p < 0)
		return -1;
	for (cur = b->head; cur >= 0 && cur != p; cur = limiter->places[cur].next)
		prev = cur;
	if (cur != p || limiter->places[p].procno != my_procno())
		return -1;				/* not there: nothing to undo */
	if (prev < 0)
	{
		b->head = limiter->places[p].next;
		if (b->head >= 0)
			wake = limiter->places[b->head].procno;
	}
	else
		limiter->places[prev].next = limiter->places[p].next;
	if (b->tail == p)
		b->tail = prev;
	*waited_us += now - limiter->places[p].since;
	limiter->places[p].procno = -1;
	limiter->places[p].bucket = -1;
	limiter->places[p].next = limiter->free_place;
	limiter->free_place = p;
	return wake;
}

/*
 * leave_all_queues
 *		Give up every queue place this backend holds.  Never raises an
 *		error: runs at transaction end and at backend exit.
 */
static void
leave_all_queues(void)
{
	int			i;
	bool		any = false;
	int			wake[LIMITER_BUCKETS + 1];
	int			nwake = 0;
	int64		waited = 0;
	int64		now;

	if (limiter == NULL || MyProc == NULL)
		return;
	for (i = 0; i <= LIMITER_BUCKETS; i++)
		if (my_place[i] >= 0)
			any = true;
	if (!any)
		return;
	now = now_us();
	LWLockAcquire(limiter->lock, LW_EXCLUSIVE);
	for (i = 0; i <= LIMITER_BUCKETS; i++)
	{
		if (my_place[i] >= 0)
		{
			int			w = place_remove(i, now, &waited);

			if (w >= 0)
				wake[nwake++] = w;
		}
	}
	LWLockRelease(limiter->lock);
	for (i = 0; i < nwake; i++)
		wake_procno(wake[i]);
}

/* Transaction end: leave every queue (see leave_all_queues). */
static void
limiter_xact_callback(XactEvent event, void *arg)
{
	/* a queue place lives at most as long as the statement that took it */
	switch (event)
	{
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			leave_all_queues();
			break;
		default:
			break;
	}
}

/*
 * Subtransaction abort (an error caught by an exception block): leave the
 * queues too, so that a waiter whose error was caught does not hold the
 * queue until the top transaction ends.  A question of the outer level that
 * still waits just queues again at its next try.
 */
static void
limiter_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		leave_all_queues();
}

/* Backend exit (FATAL errors skip PG_CATCH): leave the queues. */
static void
limiter_shmem_exit(int code, Datum arg)
{
	leave_all_queues();
}

/* Register the clean-up callbacks once per backend, at first use. */
static void
register_backend_callbacks(void)
{
	if (backend_callbacks_registered)
		return;
	RegisterXactCallback(limiter_xact_callback, NULL);
	RegisterSubXactCallback(limiter_subxact_callback, NULL);
	before_shmem_exit(limiter_shmem_exit, (Datum) 0);
	backend_callbacks_registered = true;
}

/* ----------
 * Initialisation
 * ----------
 */

/* Size of the pool of queue places. */
static int
limiter_nplaces(void)
{
	/* a backend waits in at most a few buckets at a time */
	return 2 * MaxBackends + LIMITER_BUCKETS;
}

/* Bytes of shared memory the limiter needs. */
static Size
limiter_shmem_size(void)
{
	return add_size(offsetof(LimiterShared, places),
					mul_size(limiter_nplaces(), sizeof(LimiterPlace)));
}

/*
 * genie_limiter_init
 *		Define the limiter's GUCs; when preloading, ask for shared memory
 *		and a lock tranche.
 */
void
genie_limiter_init(void)
{
	int			i;

	for (i = 0; i <= LIMITER_BUCKETS; i++)
	{
		my_place[i] = -1;
		my_admit[i] = 0;
	}

	DefineCustomRealVariable("genie_fdw.questions_per_minute",
							 "Genie questions admitted per rate window and workspace, across all sessions.",
							 "Applies when genie_fdw is in shared_preload_libraries; a server's "
							 "questions_per_minute option overrides it.  0 means no limit.",
							 &genie_questions_per_minute,
							 5.0, 0.0, GENIE_QPM_MAX,
							 PGC_SIGHUP,
							 0,
							 check_questions_per_minute, NULL, NULL);
	DefineCustomIntVariable("genie_fdw.rate_window",
							"Length of the window over which questions_per_minute applies.",
							"Genie's own window is one minute.",
							&genie_rate_window,
							60, 1, 86400,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = limiter_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = limiter_shmem_startup;
}

/* shmem_request_hook: ask for memory and locks. */
static void
limiter_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(limiter_shmem_size());
	RequestNamedLWLockTranche(LIMITER_TRANCHE, 2);
	genie_shared_cache_shmem_request();
}

/* shmem_startup_hook: create or attach to the shared state. */
static void
limiter_shmem_startup(void)
{
	bool		found;
	LimiterShared *s;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	s = ShmemInitStruct("genie_fdw limiter", limiter_shmem_size(), &found);
	if (!found)
	{
		LWLockPadded *locks = GetNamedLWLockTranche(LIMITER_TRANCHE);
		int			i,
					j;

		s->lock = &locks[0].lock;
		s->stats_lock = &locks[1].lock;
		for (i = 0; i <= LIMITER_BUCKETS; i++)
			bucket_clear(&s->buckets[i]);
		for (i = 0; i < LIMITER_STAT_ENTRIES; i++)
		{
			s->stats[i].dbid = InvalidOid;
			s->stats[i].serverid = InvalidOid;
			for (j = 0; j < GSTAT__COUNT; j++)
				pg_atomic_init_u64(&s->stats[i].counters[j], 0);
		}
		s->nplaces = limiter_nplaces();
		for (i = 0; i < s->nplaces; i++)
		{
			s->places[i].procno = -1;
			s->places[i].bucket = -1;
			s->places[i].next = (i + 1 < s->nplaces) ? i + 1 : -1;
			s->places[i].since = 0;
		}
		s->free_place = 0;
	}
	genie_shared_cache_shmem_startup();
	LWLockRelease(AddinShmemInitLock);
	limiter = s;
}

/*
 * genie_limiter_active
 *		Is the shared limiter in use (genie_fdw preloaded)?
 */
bool
genie_limiter_active(void)
{
	return limiter != NULL;
}

/* ----------
 * Admission
 * ----------
 */

/*
 * genie_limiter_try_acquire
 *		Admit a question to opts->host now, or take (or keep) this backend's
 *		place in the host's queue and say in *wait_ms when to try again.
 *		Only the head of the queue is admitted, so order is first come,
 *		first served; the backend's latch is set when it becomes the head.
 */
bool
genie_limiter_try_acquire(const GenieOptions *opts, long *wait_ms)
{
	int64		window_us;
	int			k = limiter_params(opts, &window_us);
	int64		now;
	int64		waited = 0;
	int			bidx;
	int			p;
	int			wake = -1;
	LimiterBucket *b;
	int64		free_at;
	int			ahead;
	uint32		hash;

	*wait_ms = 0;
	if (limiter == NULL || k == 0 || opts == NULL || opts->host == NULL)
		return true;

	register_backend_callbacks();
	hash = host_hash(opts->host);
	now = now_us();
	LWLockAcquire(limiter->lock, LW_EXCLUSIVE);
	bidx = bucket_for(opts->host, hash, true, now);
	b = &limiter->buckets[bidx];
	p = my_place[bidx];

	if (p < 0 && b->head >= 0)
	{
		/* others are waiting: queue behind them */
		p = place_enqueue(bidx, now);
		if (p < 0)
		{
			LWLockRelease(limiter->lock);
			*wait_ms = LIMITER_NO_PLACE_MS;
			return false;
		}
	}

	ahead = (p >= 0) ? places_ahead(b, p) : 0;
	free_at = slot_free_at(b, k, window_us, ahead);
	if (ahead == 0 && now >= free_at)
	{
		/* the queue is empty or we are at its head, and a slot is free */
		bucket_admit(b, now, window_us);
		my_admit[bidx] = now;
		if (p >= 0)
			wake = place_remove(bidx, now, &waited);
		LWLockRelease(limiter->lock);
		wake_procno(wake);
		if (waited > 0)
			genie_stats_add(opts, GSTAT_SLOT_WAIT_US, waited);
		elog(DEBUG2, "genie_fdw: question to %s admitted after waiting %.3f s",
			 opts->host, (double) waited / 1000000.0);
		return true;
	}
	if (p < 0)
		p = place_enqueue(bidx, now);
	LWLockRelease(limiter->lock);

	/*
	 * When to look again: when our turn would come if everyone ahead took a
	 * slot as soon as one frees.  Becoming the head also sets our latch.
	 */
	if (p < 0)
		*wait_ms = LIMITER_NO_PLACE_MS;
	else if (free_at < 0)
		*wait_ms = LIMITER_MAX_SLEEP_MS;
	else
	{
		int64		ms = (free_at - now + 999) / 1000;

		*wait_ms = (long) Min(Max(ms, 1), LIMITER_MAX_SLEEP_MS);
	}
	return false;
}

/*
 * genie_limiter_cancel_wait
 *		Leave the queue of opts->host, if this backend has a place in it.
 *		The next backend in line is woken when this one was the head.
 */
void
genie_limiter_cancel_wait(const GenieOptions *opts)
{
	int64		now;
	int64		waited = 0;
	int			bidx;
	int			wake = -1;
	uint32		hash;

	if (limiter == NULL || opts == NULL || opts->host == NULL)
		return;
	hash = host_hash(opts->host);
	now = now_us();
	LWLockAcquire(limiter->lock, LW_EXCLUSIVE);
	bidx = bucket_for(opts->host, hash, false, now);
	if (bidx >= 0 && my_place[bidx] >= 0)
		wake = place_remove(bidx, now, &waited);
	LWLockRelease(limiter->lock);
	wake_procno(wake);
	if (waited > 0)
		genie_stats_add(opts, GSTAT_SLOT_WAIT_US, waited);
}

/*
 * turn_at
 *		When (µs) a backend with `ahead` others queued before it would be
 *		admitted if everyone took a slot as soon as one frees: every k
 *		admissions ahead push the turn one window (and margin) later.  An
 *		estimate for messages, not a promise: the limit may change, or
 *		others leave the queue.
 */
static int64
turn_at(const LimiterBucket *b, int k, int64 window_us, int ahead, int64 now)
{
	int64		at = slot_free_at(b, k, window_us, ahead % k);

	return Max(at, now) + (int64) (ahead / k) * (window_us + margin_us(window_us));
}

/*
 * genie_limiter_wait_reason
 *		Why this backend waits for a question slot to opts->host, and for
 *		about how long, in words for genie_fdw.progress; NULL when a
 *		question would be admitted now.  Call it after
 *		genie_limiter_try_acquire said to wait.
 */
char *
genie_limiter_wait_reason(const GenieOptions *opts)
{
	int64		window_us;
	int			k = limiter_params(opts, &window_us);
	int64		now;
	int			bidx;
	int			ahead = 0;
	int64		at;
	int64		blocked_until;
	double		in_s;

	if (limiter == NULL || k == 0 || opts == NULL || opts->host == NULL)
		return NULL;
	now = now_us();
	LWLockAcquire(limiter->lock, LW_EXCLUSIVE);
	bidx = bucket_for(opts->host, host_hash(opts->host), false, now);
	if (bidx < 0)
	{
		LWLockRelease(limiter->lock);
		return NULL;
	}
	if (my_place[bidx] >= 0)
		ahead = places_ahead(&limiter->buckets[bidx], my_place[bidx]);
	at = turn_at(&limiter->buckets[bidx], k, window_us, ahead, now);
	blocked_until = limiter->buckets[bidx].blocked_until;
	LWLockRelease(limiter->lock);

	in_s = (double) Max(at - now, 0) / 1000000.0;
	if (blocked_until > now)
		return psprintf("waiting for a question slot: host %s answered HTTP 429 (too many requests), and no session asks it a question before its Retry-After has passed%s; next slot in about %.0f s",
						opts->host,
						ahead > 0 ? psprintf(", %d %s ahead", ahead, ahead == 1 ? "session" : "sessions") : "",
						ceil(in_s));
	return psprintf("waiting for a question slot: %d %s per %g s on host %s%s, next slot in about %.0f s",
					k, k == 1 ? "question" : "questions", (double) window_us / 1000000.0,
					opts->host,
					ahead > 0 ? psprintf(", %d %s ahead", ahead, ahead == 1 ? "session" : "sessions") : "",
					ceil(in_s));
}

/*
 * genie_limiter_acquire
 *		Wait for a question slot: a latch wait that query cancel,
 *		statement_timeout and postmaster death end.  On any error the
 *		backend leaves the queue before the error propagates.  With
 *		genie_fdw.progress, a NOTICE says why it waits, at the start and
 *		every GENIE_SLOT_NOTICE_INTERVAL seconds.
 */
void
genie_limiter_acquire(const GenieOptions *opts)
{
	long		wait_ms;

	if (limiter == NULL)
		return;

	PG_TRY();
	{
		int64		noticed = 0;

		for (;;)
		{
			CHECK_FOR_INTERRUPTS();
			if (genie_limiter_try_acquire(opts, &wait_ms))
				break;
			if (genie_progress &&
				(noticed == 0 || now_us() - noticed >= GENIE_SLOT_NOTICE_INTERVAL * 1000000))
			{
				char	   *why = genie_limiter_wait_reason(opts);

				noticed = now_us();
				if (why)
					ereport(NOTICE, (errmsg("genie_fdw: %s", why)));
			}
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 wait_ms, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
	}
	PG_CATCH();
	{
		/* leave the queue before the cancel or error propagates */
		genie_limiter_cancel_wait(opts);
		PG_RE_THROW();
	}
	PG_END_TRY();
}

/*
 * genie_limiter_return_slot
 *		Take back this backend's latest admission to opts->host: its
 *		question never reached Genie.  The head of the queue is woken.
 */
void
genie_limiter_return_slot(const GenieOptions *opts)
{
	int			bidx;
	int			wake = -1;
	uint32		hash;

	if (limiter == NULL || opts == NULL || opts->host == NULL)
		return;
	hash = host_hash(opts->host);
	LWLockAcquire(limiter->lock, LW_EXCLUSIVE);
	bidx = bucket_for(opts->host, hash, false, now_us());
	if (bidx >= 0 && my_admit[bidx] != 0)
	{
		LimiterBucket *b = &limiter->buckets[bidx];

		if (bucket_unadmit(b, my_admit[bidx]) && b->head >= 0)
			wake = limiter->places[b->head].procno;
		my_admit[bidx] = 0;
	}
	LWLockRelease(limiter->lock);
	wake_procno(wake);
}

/*
 * genie_limiter_report_429
 *		Genie refused a question: admit nothing more to that host, from any
 *		backend, until retry_after seconds have passed (when absent, one
 *		window divided by the limit).  The service's Retry-After is held in
 *		full, as the backend that received it holds it (max_backoff does
 *		not shorten it; http_parse_retry_after already counts waits over
 *		HTTP_RETRY_AFTER_MAX as absent), also when that backend gives up at
 *		once because the wait is longer than its own time left: the quota
 *		is the host's, not the query's.
 */
void
genie_limiter_report_429(const GenieOptions *opts, double retry_after)
{
	int64		window_us;
	int			k = limiter_params(opts, &window_us);
	int64		now;
	int64		until;
	int			bidx;
	uint32		hash;

	if (limiter == NULL || opts == NULL || opts->host == NULL)
		return;
	hash = host_hash(opts->host);
	if (retry_after < 0)
		retry_after = (k > 0) ? (double) window_us / 1000000.0 / k : 1.0;
	retry_after = Min(retry_after, HTTP_RETRY_AFTER_MAX);
	now = now_us();
	until = now + (int64) (retry_after * 1000000.0);

	LWLockAcquire(limiter->lock, LW_EXCLUSIVE);
	bidx = bucket_for(opts->host, hash, true, now);
	if (limiter->buckets[bidx].blocked_until < until)
		limiter->buckets[bidx].blocked_until = until;
	LWLockRelease(limiter->lock);
}

/* ----------
 * Counters
 * ----------
 */

/* This backend's counters of a server (without preloading). */
static LocalStatEntry *
local_entry(Oid serverid, bool create)
{
	LocalStatEntry *e;
	bool		found;

	if (local_stats == NULL)
	{
		HASHCTL		ctl;

		if (!create)
			return NULL;
		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(LocalStatEntry);
		ctl.hcxt = TopMemoryContext;
		local_stats = hash_create("genie_fdw counters", 16, &ctl,
								  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	e = hash_search(local_stats, &serverid, create ? HASH_ENTER : HASH_FIND, &found);
	if (e != NULL && !found)
		memset(e->counters, 0, sizeof(e->counters));
	return e;
}

/* The shared entry of a server; caller holds stats_lock (any mode). */
static LimiterStatEntry *
shared_entry(Oid dbid, Oid serverid)
{
	int			i;

	for (i = 0; i < LIMITER_STAT_ENTRIES; i++)
	{
		LimiterStatEntry *e = &limiter->stats[i];

		if (e->serverid == serverid && e->dbid == dbid)
			return e;
	}
	return NULL;
}

/*
 * genie_stats_add
 *		Add n to one counter of opts' server: in shared memory when
 *		preloaded, else in this backend.  When the shared table is full the
 *		counts of servers not in it are dropped (a LOG message says so once
 *		per backend); genie_fdw_stats() frees the entries of dropped
 *		servers and genie_fdw_stats_reset() those of the whole database.
 */
void
genie_stats_add(const GenieOptions *opts, GenieStat stat, int64 n)
{
	LimiterStatEntry *e;

	if (opts == NULL || (int) stat < 0 || stat >= GSTAT__COUNT || n == 0)
		return;
	if (limiter == NULL)
	{
		local_entry(opts->serverid, true)->counters[stat] += n;
		return;
	}

	LWLockAcquire(limiter->stats_lock, LW_SHARED);
	e = shared_entry(MyDatabaseId, opts->serverid);
	if (e == NULL)
	{
		LWLockRelease(limiter->stats_lock);
		LWLockAcquire(limiter->stats_lock, LW_EXCLUSIVE);
		e = shared_entry(MyDatabaseId, opts->serverid);
		if (e == NULL)
		{
			e = shared_entry(InvalidOid, InvalidOid);
			if (e != NULL)
			{
				int			j;

				for (j = 0; j < GSTAT__COUNT; j++)
					pg_atomic_write_u64(&e->counters[j], 0);
				e->serverid = opts->serverid;
				e->dbid = MyDatabaseId;
			}
		}
	}
	if (e != NULL)
		pg_atomic_fetch_add_u64(&e->counters[stat], (uint64) n);
	LWLockRelease(limiter->stats_lock);

	if (e == NULL && !stats_full_logged)
	{
		stats_full_logged = true;
		elog(LOG, "genie_fdw: the counters of %d servers are kept; those of server \"%s\" are not",
			 LIMITER_STAT_ENTRIES, opts->server_name ? opts->server_name : "?");
	}
}

/* One server's counters, copied for genie_fdw_stats(). */
typedef struct StatRow
{
	Oid			serverid;
	int64		counters[GSTAT__COUNT];
} StatRow;

/*
 * genie_fdw_stats
 *		SQL function: one row per foreign server of the current database
 *		with counters.  Holds no secret, so any user may call it.
 */
Datum
genie_fdw_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	StatRow    *rows;
	int			nrows = 0;
	List	   *dropped = NIL;
	int			i,
				j;

	InitMaterializedSRF(fcinfo, 0);

	if (limiter != NULL)
	{
		rows = palloc(sizeof(StatRow) * LIMITER_STAT_ENTRIES);
		LWLockAcquire(limiter->stats_lock, LW_SHARED);
		for (i = 0; i < LIMITER_STAT_ENTRIES; i++)
		{
			LimiterStatEntry *e = &limiter->stats[i];

			if (e->dbid != MyDatabaseId || !OidIsValid(e->serverid))
				continue;
			rows[nrows].serverid = e->serverid;
			for (j = 0; j < GSTAT__COUNT; j++)
				rows[nrows].counters[j] = (int64) pg_atomic_read_u64(&e->counters[j]);
			nrows++;
		}
		LWLockRelease(limiter->stats_lock);
	}
	else
	{
		HASH_SEQ_STATUS seq;
		LocalStatEntry *e;

		rows = palloc(sizeof(StatRow) * Max(local_stats ? hash_get_num_entries(local_stats) : 0, 1));
		if (local_stats)
		{
			hash_seq_init(&seq, local_stats);
			while ((e = hash_seq_search(&seq)) != NULL)
			{
				rows[nrows].serverid = e->serverid;
				memcpy(rows[nrows].counters, e->counters, sizeof(e->counters));
				nrows++;
			}
		}
	}

	for (i = 0; i < nrows; i++)
	{
		ForeignServer *server = GetForeignServerExtended(rows[i].serverid, FSV_MISSING_OK);
		Datum		values[11];
		bool		nulls[11];
		int64	   *c = rows[i].counters;

		if (server == NULL)
		{
			dropped = lappend_oid(dropped, rows[i].serverid);
			continue;
		}
		memset(nulls, 0, sizeof(nulls));
		values[0] = CStringGetTextDatum(server->servername);
		values[1] = Int64GetDatum(c[GSTAT_QUESTIONS]);
		values[2] = Int64GetDatum(c[GSTAT_CACHE_HITS]);
		values[3] = Int64GetDatum(c[GSTAT_429]);
		values[4] = Int64GetDatum(c[GSTAT_RETRIES]);
		values[5] = Float8GetDatum((double) c[GSTAT_SLOT_WAIT_US] / 1000000.0);
		values[6] = Int64GetDatum(c[GSTAT_POLLS]);
		values[7] = Int64GetDatum(c[GSTAT_BYTES]);
		values[8] = Int64GetDatum(c[GSTAT_ROWS]);
		/* cache_misses came with 1.1, reruns with 1.2: older definitions
		 * have fewer columns (tuplestore_putvalues reads only those) */
		values[9] = Int64GetDatum(c[GSTAT_CACHE_MISSES]);
		values[10] = Int64GetDatum(c[GSTAT_RERUNS]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}

	/* forget the counters of dropped servers */
	if (dropped != NIL)
	{
		ListCell   *lc;

		if (limiter != NULL)
		{
			LWLockAcquire(limiter->stats_lock, LW_EXCLUSIVE);
			foreach(lc, dropped)
			{
				LimiterStatEntry *e = shared_entry(MyDatabaseId, lfirst_oid(lc));

				if (e != NULL)
				{
					e->serverid = InvalidOid;
					e->dbid = InvalidOid;
				}
			}
			LWLockRelease(limiter->stats_lock);
		}
		else
		{
			foreach(lc, dropped)
			{
				Oid			serverid = lfirst_oid(lc);

				(void) hash_search(local_stats, &serverid, HASH_REMOVE, NULL);
			}
		}
	}
	return (Datum) 0;
}

/*
 * genie_fdw_stats_reset
 *		SQL function: forget the counters of every server of the current
 *		database (this backend's counters without preloading).  EXECUTE is
 *		revoked from PUBLIC by the extension script.
 */
Datum
genie_fdw_stats_reset(PG_FUNCTION_ARGS)
{
	int			i;

	if (limiter != NULL)
	{
		LWLockAcquire(limiter->stats_lock, LW_EXCLUSIVE);
		for (i = 0; i < LIMITER_STAT_ENTRIES; i++)
		{
			LimiterStatEntry *e = &limiter->stats[i];

			if (e->dbid == MyDatabaseId)
			{
				e->serverid = InvalidOid;
				e->dbid = InvalidOid;
			}
		}
		LWLockRelease(limiter->stats_lock);
	}
	else if (local_stats != NULL)
	{
		hash_destroy(local_stats);
		local_stats = NULL;
	}
	PG_RETURN_VOID();
}
