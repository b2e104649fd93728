/*-------------------------------------------------------------------------
 *
 * shared_cache.c
 *		  The shared answer cache: one answer cache for every session, in
 *		  shared memory, when genie_fdw is in shared_preload_libraries.
 *
 * Owns the shared-memory region of genie_fdw.shared_cache_size kilobytes
 * (PGC_POSTMASTER; 0 turns the shared cache off), requested at server start
 * and never grown: a header, a fixed table of entries (hash buckets,
 * entries, in-flight questions, one wait slot per backend) and, in the rest
 * of the region, a DSA area created in place whose size limit is the
 * region's end, so allocations fail (DSA_ALLOC_NO_OOM) instead of growing
 * and the least recently used entries are evicted to make room.  The whole
 * cache, table included, therefore never exceeds the setting.
 *
 * What is stored is opaque here: a key (cache.c builds it from everything
 * that changes an answer or who may see it) and a blob (cache.c's
 * serialized answer), copied into one DSA chunk.  One LWLock guards the
 * table.  Readers find and copy an entry out under the shared lock (hits and
 * last use are atomics) and decode it outside the lock; a writer allocates
 * and fills its chunk outside the lock and publishes it under the exclusive
 * lock, so a writer that fails or exits before publishing leaves nothing
 * half-written in the table (its chunk is freed at abort or backend exit; a
 * writer killed by a signal makes the postmaster reinitialize shared memory,
 * which starts the cache empty).
 *
 * Single flight: a backend that misses claims the key's flight and asks
 * Genie; others missing the same key while the flight is live wait (their
 * ask engine polls genie_shared_cache_get and sleeps on its latch, which the
 * owner sets when the flight ends).  A flight ends when its answer is
 * published, or when its owner gives up (error, cancel, early end of the
 * scan: transaction and subtransaction abort, backend exit); a waiter then
 * finds the entry or takes the flight over.
 *
 * Also owns genie_fdw_cache(), the DBA's view of the shared cache.
 *
 * Copyright (c) 2026, genie_fdw developers
 *
 * IDENTIFICATION
 *		  src/shared_cache.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "postmaster/interrupt.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_user_mapping.h"
#include "common/hashfn.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/dsa.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "genie_fdw.h"

#define SC_TRANCHE			"genie_fdw cache"
#define SC_MIN_KB			1024	/* smallest non-zero setting */
#define SC_BYTES_PER_ENTRY	4096	/* entries in the table: one per 4 kB */
#define SC_MY_FLIGHTS		16		/* flights one backend may own at once */

/* One cached answer; free entries are chained through "next". */
typedef struct SCEntry
{
	bool		used;
	int			next;			/* bucket chain, or free list */
	uint64		hash;			/* of the key */
	dsa_pointer data;			/* key, then blob */
	Size		keylen;
	Size		bloblen;
	Oid			dbid;
	Oid			serverid;
	Oid			umid;
	uint32		um_hash;		/* syscache hash values, for invalidation */
	uint32		srv_hash;
	TimestampTz created;
	TimestampTz expires;
	pg_atomic_uint64 last_used; /* TimestampTz: least recently used go first */
	pg_atomic_uint64 hits;
} SCEntry;

/* A question being asked by one backend for everybody. */
typedef struct SCFlight
{
	int			owner;			/* PGPROC number, -1 when free */
	int			owner_pid;
	uint64		hash;
} SCFlight;

typedef struct SCShared
{
	LWLock	   *lock;
	int			nbuckets;		/* a power of two */
	int			nentries;
	int			nflights;
	int			nwaiters;		/* = MaxBackends */
	int			free_entry;
	int			nused;
	Size		area_size;
	Size		max_entry;		/* largest entry admitted */
	Size		buckets_off;
	Size		entries_off;
	Size		flights_off;
	Size		waiting_off;
	Size		area_off;
} SCShared;

int			genie_shared_cache_kb = 65536;

static SCShared *sc = NULL;
static dsa_area *sc_area = NULL;

/* This backend's flights, and the chunk it is filling (not yet published) */
static int	my_flights[SC_MY_FLIGHTS];
static int	my_nflights = 0;
static dsa_pointer my_pending = InvalidDsaPointer;
static bool callbacks_registered = false;

#ifdef GENIE_FAULT_INJECTION
int			genie_debug_cache_write_pause = 0;
#endif

PG_FUNCTION_INFO_V1(genie_fdw_cache);

#define SC_BUCKETS(s)	((int *) ((char *) (s) + (s)->buckets_off))
#define SC_ENTRIES(s)	((SCEntry *) ((char *) (s) + (s)->entries_off))
#define SC_FLIGHTS(s)	((SCFlight *) ((char *) (s) + (s)->flights_off))
#define SC_WAITING(s)	((int *) ((char *) (s) + (s)->waiting_off))

/* ----------
 * Layout
 * ----------
 */

/* The fixed table's layout for a region of total bytes; false if too small. */
static bool
sc_layout(Size total, SCShared *l)
{
	Size		off;
	int			n;

	memset(l, 0, sizeof(*l));
	n = (int) Min(total / SC_BYTES_PER_ENTRY, (Size) (1 << 20));
	l->nentries = Max(n, 16);
	l->nbuckets = 16;
	while (l->nbuckets < l->nentries)
		l->nbuckets <<= 1;
	l->nwaiters = MaxBackends;
	l->nflights = MaxBackends + 64;

	off = MAXALIGN(sizeof(SCShared));
	l->buckets_off = off;
	off += MAXALIGN(sizeof(int) * l->nbuckets);
	l->entries_off = off;
	off += MAXALIGN(sizeof(SCEntry) * l->nentries);
	l->flights_off = off;
	off += MAXALIGN(sizeof(SCFlight) * l->nflights);
	l->waiting_off = off;
	off += MAXALIGN(sizeof(int) * l->nwaiters);
	off = TYPEALIGN(PG_CACHE_LINE_SIZE, off);
	l->area_off = off;
	if (off >= total || total - off < dsa_minimum_size() + 64 * 1024)
		return false;
	l->area_size = total - off;
	l->max_entry = l->area_size / 4;
	return true;
}

static Size
sc_region_size(void)
{
	return (Size) genie_shared_cache_kb * 1024;
}

/* shmem_request_hook part (limiter.c calls it): memory and a lock. */
void
genie_shared_cache_shmem_request(void)
{
	if (genie_shared_cache_kb <= 0)
		return;
	RequestAddinShmemSpace(sc_region_size());
	RequestNamedLWLockTranche(SC_TRANCHE, 1);
}

/* shmem_startup_hook part (limiter.c calls it under AddinShmemInitLock). */
void
genie_shared_cache_shmem_startup(void)
{
	SCShared	l;
	bool		found;
	SCShared   *s;
	int			i;

	sc = NULL;
	if (genie_shared_cache_kb <= 0)
		return;
	if (!sc_layout(sc_region_size(), &l))
	{
		ereport(LOG,
				(errmsg("genie_fdw: genie_fdw.shared_cache_size is too small; the shared answer cache is off")));
		return;
	}
	s = ShmemInitStruct("genie_fdw answer cache", sc_region_size(), &found);
	if (!found)
	{
		LWLockPadded *locks = GetNamedLWLockTranche(SC_TRANCHE);
		dsa_area   *area;

		*s = l;
		s->lock = &locks[0].lock;
		for (i = 0; i < s->nbuckets; i++)
			SC_BUCKETS(s)[i] = -1;
		for (i = 0; i < s->nentries; i++)
		{
			SCEntry    *e = &SC_ENTRIES(s)[i];

			memset(e, 0, sizeof(*e));
			e->next = i + 1 < s->nentries ? i + 1 : -1;
			e->data = InvalidDsaPointer;
			pg_atomic_init_u64(&e->last_used, 0);
			pg_atomic_init_u64(&e->hits, 0);
		}
		s->free_entry = 0;
		for (i = 0; i < s->nflights; i++)
			SC_FLIGHTS(s)[i].owner = -1;
		for (i = 0; i < s->nwaiters; i++)
			SC_WAITING(s)[i] = -1;
		/* the area uses the rest of the region, and never more */
		area = dsa_create_in_place((char *) s + s->area_off, s->area_size,
								   s->lock->tranche, NULL);
		dsa_set_size_limit(area, s->area_size);
		dsa_detach(area);
	}
	sc = s;
}

/* ----------
 * Backend state
 * ----------
 */

static int
my_procno(void)
{
	return GetNumberFromPGProc(MyProc);
}

/* Ends this backend's flights (and frees its unpublished chunk). */
static void
sc_release_all(void)
{
	int			wake[SC_MY_FLIGHTS];
	int			nwake = 0;
	int			i;

	if (sc == NULL || MyProc == NULL)
		return;
	if (my_nflights == 0 && !DsaPointerIsValid(my_pending))
	{
		if (my_procno() < sc->nwaiters)
			SC_WAITING(sc)[my_procno()] = -1;
		return;
	}
	LWLockAcquire(sc->lock, LW_EXCLUSIVE);
	for (i = 0; i < my_nflights; i++)
	{
		SCFlight   *f = &SC_FLIGHTS(sc)[my_flights[i]];

		if (f->owner == my_procno() && f->owner_pid == MyProcPid)
		{
			f->owner = -1;
			wake[nwake++] = my_flights[i];
		}
	}
	my_nflights = 0;
	if (DsaPointerIsValid(my_pending) && sc_area != NULL)
		dsa_free(sc_area, my_pending);
	my_pending = InvalidDsaPointer;
	if (my_procno() < sc->nwaiters)
		SC_WAITING(sc)[my_procno()] = -1;
	LWLockRelease(sc->lock);

	/* the waiters look again: one of them takes the question over */
	for (i = 0; i < sc->nwaiters; i++)
	{
		int			w = SC_WAITING(sc)[i];
		int			j;

		for (j = 0; j < nwake; j++)
			if (w == wake[j])
				SetLatch(&GetPGProcByNumber(i)->procLatch);
	}
}

static void
sc_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			sc_release_all();
			break;
		default:
			break;
	}
}

static void
sc_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		sc_release_all();
}

static void
sc_shmem_exit(int code, Datum arg)
{
	sc_release_all();
}

/* Attach to the area (once per backend); false when there is no cache. */
static bool
sc_attach(void)
{
	MemoryContext old;

	if (sc == NULL)
		return false;
	if (sc_area != NULL)
		return true;
	if (!callbacks_registered)
	{
		RegisterXactCallback(sc_xact_callback, NULL);
		RegisterSubXactCallback(sc_subxact_callback, NULL);
		before_shmem_exit(sc_shmem_exit, (Datum) 0);
		callbacks_registered = true;
	}
	old = MemoryContextSwitchTo(TopMemoryContext);
	sc_area = dsa_attach_in_place((char *) sc + sc->area_off, NULL);
	dsa_pin_mapping(sc_area);
	MemoryContextSwitchTo(old);
	return true;
}

/*
 * genie_shared_cache_active
 *		Is the shared answer cache in use (preloaded, size > 0)?
 */
bool
genie_shared_cache_active(void)
{
	return sc != NULL;
}

/* ----------
 * The table (caller holds the lock as noted)
 * ----------
 */

/* The live entry of a key (any lock mode), or -1. */
static int
sc_find(const char *key, Size keylen, uint64 hash, TimestampTz now)
{
	int			i = SC_BUCKETS(sc)[hash & (sc->nbuckets - 1)];

	while (i >= 0)
	{
		SCEntry    *e = &SC_ENTRIES(sc)[i];

		if (e->hash == hash && e->keylen == keylen && e->expires > now &&
			memcmp(dsa_get_address(sc_area, e->data), key, keylen) == 0)
			return i;
		i = e->next;
	}
	return -1;
}

/* Unlink and free entry i (exclusive lock). */
static void
sc_remove(int i)
{
	SCEntry    *e = &SC_ENTRIES(sc)[i];
	int		   *p = &SC_BUCKETS(sc)[e->hash & (sc->nbuckets - 1)];

	while (*p != i)
		p = &SC_ENTRIES(sc)[*p].next;
	*p = e->next;
	dsa_free(sc_area, e->data);
	e->data = InvalidDsaPointer;
	e->used = false;
	e->next = sc->free_entry;
	sc->free_entry = i;
	sc->nused--;
}

/* Evict the expired or least recently used entry (exclusive lock). */
static bool
sc_evict_one(TimestampTz now)
{
	int			victim = -1;
	uint64		oldest = PG_UINT64_MAX;
	int			i;

	for (i = 0; i < sc->nentries; i++)
	{
		SCEntry    *e = &SC_ENTRIES(sc)[i];
		uint64		lu;

		if (!e->used)
			continue;
		if (e->expires <= now)
		{
			victim = i;
			break;
		}
		lu = pg_atomic_read_u64(&e->last_used);
		if (lu < oldest)
		{
			oldest = lu;
			victim = i;
		}
	}
	if (victim < 0)
		return false;
	sc_remove(victim);
	return true;
}

/* The live flight of a hash (exclusive lock), or -1; dead owners' go. */
static int
sc_flight_find(uint64 hash)
{
	int			i;

	for (i = 0; i < sc->nflights; i++)
	{
		SCFlight   *f = &SC_FLIGHTS(sc)[i];

		if (f->owner < 0 || f->hash != hash)
			continue;
		if (GetPGProcByNumber(f->owner)->pid != f->owner_pid)
		{
			f->owner = -1;		/* its backend is gone */
			continue;
		}
		return i;
	}
	return -1;
}

/* Copy entry i's blob into CurrentMemoryContext (any lock mode). */
static void
sc_copy_out(int i, char **blob, Size *bloblen, TimestampTz now)
{
	SCEntry    *e = &SC_ENTRIES(sc)[i];
	char	   *p = dsa_get_address(sc_area, e->data);

	*blob = palloc(e->bloblen + 1);
	memcpy(*blob, p + e->keylen, e->bloblen);
	(*blob)[e->bloblen] = '\0';
	*bloblen = e->bloblen;
	pg_atomic_fetch_add_u64(&e->hits, 1);
	pg_atomic_write_u64(&e->last_used, (uint64) now);
}

/*
 * genie_shared_cache_get
 *		Look a key up.  SC_HIT: *blob is a copy (CurrentMemoryContext).
 *		SC_ASK: not cached, and this backend now owns the key's flight
 *		(*flight; -1 when no flight could be had): ask, then put or release.
 *		SC_WAIT: another backend is asking; call again when the latch is
 *		set (or a little later).
 */
GenieSharedLookup
genie_shared_cache_get(const char *key, Size keylen, char **blob, Size *bloblen,
					   int *flight)
{
	uint64		hash = hash_bytes_extended((const unsigned char *) key, (int) keylen, 0);
	TimestampTz now = GetCurrentTimestamp();
	int			i;
	int			f;

	*flight = -1;
	if (!sc_attach())
		return SC_ASK;

	LWLockAcquire(sc->lock, LW_SHARED);
	i = sc_find(key, keylen, hash, now);
	if (i >= 0)
	{
		sc_copy_out(i, blob, bloblen, now);
		LWLockRelease(sc->lock);
		if (my_procno() < sc->nwaiters)
			SC_WAITING(sc)[my_procno()] = -1;
		return SC_HIT;
	}
	LWLockRelease(sc->lock);

	LWLockAcquire(sc->lock, LW_EXCLUSIVE);
	/* published in between? */
	i = sc_find(key, keylen, hash, now);
	if (i >= 0)
	{
		sc_copy_out(i, blob, bloblen, now);
		if (my_procno() < sc->nwaiters)
			SC_WAITING(sc)[my_procno()] = -1;
		LWLockRelease(sc->lock);
		return SC_HIT;
	}
	f = sc_flight_find(hash);
	if (f >= 0 && !(SC_FLIGHTS(sc)[f].owner == my_procno() &&
					SC_FLIGHTS(sc)[f].owner_pid == MyProcPid))
	{
		if (my_procno() < sc->nwaiters)
			SC_WAITING(sc)[my_procno()] = f;
		LWLockRelease(sc->lock);
		return SC_WAIT;
	}
	if (my_procno() < sc->nwaiters)
		SC_WAITING(sc)[my_procno()] = -1;
	if (f < 0 && my_nflights < SC_MY_FLIGHTS)
	{
		for (f = 0; f < sc->nflights; f++)
			if (SC_FLIGHTS(sc)[f].owner < 0)
				break;
		if (f < sc->nflights)
		{
			SC_FLIGHTS(sc)[f].owner = my_procno();
			SC_FLIGHTS(sc)[f].owner_pid = MyProcPid;
			SC_FLIGHTS(sc)[f].hash = hash;
			my_flights[my_nflights++] = f;
			*flight = f;
		}
	}
	else if (f >= 0)
		f = -1;					/* this backend asks it already */
	LWLockRelease(sc->lock);
	return SC_ASK;
}

/* End flight f of this backend (exclusive lock held); true if it was ours. */
static bool
sc_flight_end_locked(int f)
{
	int			i;

	for (i = 0; i < my_nflights; i++)
	{
		if (my_flights[i] != f)
			continue;
		my_flights[i] = my_flights[--my_nflights];
		if (SC_FLIGHTS(sc)[f].owner == my_procno() &&
			SC_FLIGHTS(sc)[f].owner_pid == MyProcPid)
		{
			SC_FLIGHTS(sc)[f].owner = -1;
			return true;
		}
		return false;
	}
	return false;
}

/* Wake the backends waiting on flight f (no lock needed: latches). */
static void
sc_wake(int f)
{
	int			i;

	for (i = 0; i < sc->nwaiters; i++)
		if (SC_WAITING(sc)[i] == f)
			SetLatch(&GetPGProcByNumber(i)->procLatch);
}

/*
 * genie_shared_cache_release
 *		This backend gives its flight up without an answer: a waiter takes
 *		it over.
 */
void
genie_shared_cache_release(int flight)
{
	bool		ended;

	if (flight < 0 || sc == NULL)
		return;
	LWLockAcquire(sc->lock, LW_EXCLUSIVE);
	ended = sc_flight_end_locked(flight);
	LWLockRelease(sc->lock);
	if (ended)
		sc_wake(flight);
}

#ifdef GENIE_FAULT_INJECTION
/*
 * Debug builds: stop halfway through writing an entry, for the tests (which
 * kill, terminate or cancel the writer there, or let it go on by resetting
 * the setting in postgresql.conf and reloading).
 */
static void
sc_debug_pause(void)
{
	int			i;

	ereport(NOTICE,
			(errmsg("genie_fdw debug: paused halfway through writing a shared cache entry")));
	for (i = 0; i < genie_debug_cache_write_pause * 10; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (genie_debug_cache_write_pause == 0)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 100, genie_wait_event());
		ResetLatch(MyLatch);
	}
}
#endif

/*
 * genie_shared_cache_put
 *		Publish an answer (key and blob) for everybody until expires, and
 *		end the flight.  An answer larger than a quarter of the cache is not
 *		kept; least recently used entries are evicted to make room.
 */
void
genie_shared_cache_put(const char *key, Size keylen, const char *blob, Size bloblen,
					   const GenieOptions *opts, TimestampTz expires, int flight)
{
	uint64		hash = hash_bytes_extended((const unsigned char *) key, (int) keylen, 0);
	Size		size = keylen + bloblen;
	TimestampTz now = GetCurrentTimestamp();
	dsa_pointer dp = InvalidDsaPointer;
	char	   *p;
	int			i;
	bool		ended;

	if (!sc_attach())
		return;
	if (size > sc->max_entry)
	{
		genie_shared_cache_release(flight);
		return;
	}

	/* room for the chunk: least recently used entries go first */
	LWLockAcquire(sc->lock, LW_EXCLUSIVE);
	for (;;)
	{
		dp = dsa_allocate_extended(sc_area, size, DSA_ALLOC_NO_OOM);
		if (DsaPointerIsValid(dp) || !sc_evict_one(now))
			break;
	}
	my_pending = dp;
	LWLockRelease(sc->lock);
	if (!DsaPointerIsValid(dp))
	{
		genie_shared_cache_release(flight);
		return;
	}

	/* fill it outside the lock: nobody can see it yet */
	p = dsa_get_address(sc_area, dp);
	memcpy(p, key, keylen);
#ifdef GENIE_FAULT_INJECTION
	if (genie_debug_cache_write_pause > 0)
	{
		memcpy(p + keylen, blob, bloblen / 2);
		sc_debug_pause();
	}
#endif
	memcpy(p + keylen, blob, bloblen);

	/* publish */
	LWLockAcquire(sc->lock, LW_EXCLUSIVE);
	i = sc_find(key, keylen, hash, PG_INT64_MIN);
	if (i >= 0)
		sc_remove(i);			/* an older answer to the same question */
	if (sc->free_entry < 0)
		(void) sc_evict_one(now);
	i = sc->free_entry;
	if (i >= 0)
	{
		SCEntry    *e = &SC_ENTRIES(sc)[i];
		int		   *b = &SC_BUCKETS(sc)[hash & (sc->nbuckets - 1)];

		sc->free_entry = e->next;
		e->used = true;
		e->hash = hash;
		e->data = dp;
		e->keylen = keylen;
		e->bloblen = bloblen;
		e->dbid = MyDatabaseId;
		e->serverid = opts->serverid;
		e->umid = opts->umid;
		e->um_hash = GetSysCacheHashValue1(USERMAPPINGOID, ObjectIdGetDatum(opts->umid));
		e->srv_hash = GetSysCacheHashValue1(FOREIGNSERVEROID, ObjectIdGetDatum(opts->serverid));
		e->created = now;
		e->expires = expires;
		pg_atomic_write_u64(&e->last_used, (uint64) now);
		pg_atomic_write_u64(&e->hits, 0);
		e->next = *b;
		*b = i;
		sc->nused++;
	}
	else
		dsa_free(sc_area, dp);
	my_pending = InvalidDsaPointer;
	ended = sc_flight_end_locked(flight);
	LWLockRelease(sc->lock);
	if (ended)
		sc_wake(flight);
}

/*
 * genie_shared_cache_clear
 *		Drop every entry; returns how many.
 */
int64
genie_shared_cache_clear(void)
{
	int64		n = 0;
	int			i;

	if (!sc_attach())
		return 0;
	LWLockAcquire(sc->lock, LW_EXCLUSIVE);
	for (i = 0; i < sc->nentries; i++)
		if (SC_ENTRIES(sc)[i].used)
		{
			sc_remove(i);
			n++;
		}
	LWLockRelease(sc->lock);
	return n;
}

/*
 * genie_shared_cache_invalidate
 *		A user mapping or server changed (syscache callback): drop the
 *		entries fetched with it.  A full reset (hashvalue 0, a lagging
 *		backend's sinval overflow) drops nothing: the backend that made the
 *		change always sees its own precise invalidation.
 */
void
genie_shared_cache_invalidate(int cacheid, uint32 hashvalue)
{
	int			i;

	if (hashvalue == 0 || !sc_attach())
		return;
	LWLockAcquire(sc->lock, LW_EXCLUSIVE);
	for (i = 0; i < sc->nentries; i++)
	{
		SCEntry    *e = &SC_ENTRIES(sc)[i];

		if (e->used &&
			((cacheid == USERMAPPINGOID && e->um_hash == hashvalue) ||
			 (cacheid == FOREIGNSERVEROID && e->srv_hash == hashvalue)))
			sc_remove(i);
	}
	LWLockRelease(sc->lock);
}

/* ----------
 * genie_fdw_cache(): the DBA's view
 * ----------
 */

typedef struct SCRow
{
	Oid			serverid;
	Oid			umid;
	char	   *key;
	Size		bytes;
	int64		hits;
	TimestampTz created;
	TimestampTz expires;
} SCRow;

/* The name of a user mapping's role ("public" for PUBLIC), or NULL. */
char *
genie_mapping_role(Oid umid)
{
	HeapTuple	tp = SearchSysCache1(USERMAPPINGOID, ObjectIdGetDatum(umid));
	Oid			user;

	if (!HeapTupleIsValid(tp))
		return NULL;
	user = ((Form_pg_user_mapping) GETSTRUCT(tp))->umuser;
	ReleaseSysCache(tp);
	if (!OidIsValid(user))
		return pstrdup("public");
	return GetUserNameFromId(user, true);
}

/*
 * genie_fdw_cache
 *		SQL function: the answers of the current database in the shared
 *		cache (this session's cache without preloading): server, the
 *		mapping's role, space, conversation, question, full_results, bytes,
 *		hits, age and seconds left.  Keys hold no secret; questions may be
 *		confidential, so EXECUTE is revoked from PUBLIC.
 */
Datum
genie_fdw_cache(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TimestampTz now = GetCurrentTimestamp();
	SCRow	   *rows = NULL;
	int			nrows = 0;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	if (!sc_attach())
	{
		genie_local_cache_rows(rsinfo);
		return (Datum) 0;
	}

	LWLockAcquire(sc->lock, LW_SHARED);
	rows = palloc(sizeof(SCRow) * Max(sc->nused, 1));
	for (i = 0; i < sc->nentries && nrows < sc->nused; i++)
	{
		SCEntry    *e = &SC_ENTRIES(sc)[i];

		if (!e->used || e->dbid != MyDatabaseId)
			continue;
		rows[nrows].serverid = e->serverid;
		rows[nrows].umid = e->umid;
		rows[nrows].key = pnstrdup(dsa_get_address(sc_area, e->data), e->keylen);
		rows[nrows].bytes = e->keylen + e->bloblen;
		rows[nrows].hits = (int64) pg_atomic_read_u64(&e->hits);
		rows[nrows].created = e->created;
		rows[nrows].expires = e->expires;
		nrows++;
	}
	LWLockRelease(sc->lock);

	for (i = 0; i < nrows; i++)
	{
		ForeignServer *server = GetForeignServerExtended(rows[i].serverid, FSV_MISSING_OK);

		genie_cache_row(rsinfo, server ? server->servername : NULL,
						genie_mapping_role(rows[i].umid), rows[i].key, rows[i].bytes,
						rows[i].hits, now - rows[i].created, rows[i].expires - now);
	}
	return (Datum) 0;
}

/*
 * genie_shared_cache_init
 *		The GUC (from _PG_init, before the shared memory request).
 */
void
genie_shared_cache_init(void)
{
	/* a postmaster setting can only be defined while preloading */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("genie_fdw.shared_cache_size",
								"Size of the answer cache shared by all sessions.",
								"Applies when genie_fdw is in shared_preload_libraries; "
								"0 turns the shared cache off (each session then has its own).",
								&genie_shared_cache_kb,
								65536, 0, INT_MAX / 1024,
								PGC_POSTMASTER,
								GUC_UNIT_KB,
								NULL, NULL, NULL);
#ifdef GENIE_FAULT_INJECTION
	DefineCustomIntVariable("genie_fdw.debug_cache_write_pause",
							"Debug builds: pause this many seconds halfway through writing a shared cache entry.",
							NULL,
							&genie_debug_cache_write_pause,
							0, 0, 3600,
							PGC_SUSET,
							GUC_UNIT_S,
							NULL, NULL, NULL);
#endif
}
