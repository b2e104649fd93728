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
 * owner sets when the flight ends).  A flight belongs to the ask that claimed
 * it (ask.c releases it from a reset callback of the ask's memory context),
 * not to the transaction: ROLLBACK TO a savepoint ends only the flights of
 * the asks it destroys, never those of a cursor declared before it.  A
 * flight ends when its answer is published (as soon as the answer is
 * complete, whether or not the scan has read it), or when its ask gives up
 * (error, cancel, early end of the scan, the ask's memory going, top-level
 * transaction end, backend exit); a waiter then finds the entry or takes the
 * flight over.  The owner marks its flights "driven" while its ask engine
 * runs and "idle" when it returns to the executor or fails: a flight idle
 * for longer than SC_IDLE_TAKEOVER (an idle cursor, a client reading
 * slowly, a failed portal) is taken over by a waiter, so no session ever
 * waits for another one to read.
 *
 * Keys (cache.c) carry the database OID, the user mapping and a salted
 * fingerprint of the mapping's credentials, so an answer is found only by
 * sessions of the same database using the same credentials; entries also
 * record their database and are never found from another one (OIDs repeat
 * across databases: CREATE DATABASE ... TEMPLATE copies user mappings).
 *
 * THE LOCK RULE.  While this file holds the cache's LWLock it must not read
 * catalogs (syscache lookups, even GetSysCacheHashValue, may open a catalog
 * and so process invalidations, whose callback, genie_shared_cache_
 * invalidate, takes this same lock: the backend would wait on itself for
 * ever), process invalidations, ereport(ERROR) or allocate memory that can
 * fail (palloc).  Everything needing the catalog or memory is computed
 * before the lock is taken (hash values, copies are sized under the lock and
 * allocated outside it, then filled under it again).  All acquisitions go
 * through sc_lock()/sc_unlock(), which track the lock; the invalidation
 * callback checks that flag: a debug build (make GENIE_DEBUG=1) fails hard
 * (PANIC) when the rule is broken, a normal build defers the invalidation
 * until the lock is released instead of waiting on itself.
 *
 * Also lists entries by key prefix (the DBA's views, cache.c and rerun.c).
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
#define SC_MAX_ENTRY		((Size) 256 * 1024 * 1024)	/* below dsa's limit */
#define SC_IDLE_TAKEOVER	((TimestampTz) 1000000) /* 1 s, microseconds */
#define SC_PENDING_INVAL	8		/* invalidations deferred (see the rule) */
#define SC_SALT_LEN			16

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
	uint64		gen;			/* new at every claim and takeover */
	uint64		hash;
	pg_atomic_uint64 idle_since;	/* TimestampTz its owner stopped driving
									 * it; 0 while it is driven */
	char		conversation_id[GENIE_FLIGHT_ID_LEN];	/* once Genie took the */
	char		message_id[GENIE_FLIGHT_ID_LEN];	/* question; else "" */
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
	uint64		next_gen;		/* of flights' claims */
	uint8		salt[SC_SALT_LEN];	/* of credential fingerprints */
	Size		area_size;
	Size		max_entry;		/* largest entry admitted */
	Size		buckets_off;
	Size		entries_off;
	Size		flights_off;
	Size		waiting_off;
	Size		area_off;
} SCShared;

/* A flight of this backend: the table slot and the claim's generation. */
typedef struct SCMyFlight
{
	int			slot;			/* -1: unused */
	uint64		gen;
} SCMyFlight;

int			genie_shared_cache_kb = 65536;

static SCShared *sc = NULL;
static dsa_area *sc_area = NULL;

/* This backend's flights (handles are indexes), and its unpublished chunk */
static SCMyFlight my_flights[SC_MY_FLIGHTS];
static bool my_flights_init = false;
static dsa_pointer my_pending = InvalidDsaPointer;
static bool callbacks_registered = false;

/* The lock rule's bookkeeping (see the header comment) */
static bool sc_lock_held = false;
static int	sc_npending = 0;
static bool sc_pending_overflow = false;
static struct
{
	int			cacheid;
	uint32		hashvalue;
}			sc_pending[SC_PENDING_INVAL];

#ifdef GENIE_FAULT_INJECTION
int			genie_debug_cache_write_pause = 0;
#endif

#define SC_BUCKETS(s)	((int *) ((char *) (s) + (s)->buckets_off))
#define SC_ENTRIES(s)	((SCEntry *) ((char *) (s) + (s)->entries_off))
#define SC_FLIGHTS(s)	((SCFlight *) ((char *) (s) + (s)->flights_off))
#define SC_WAITING(s)	((int *) ((char *) (s) + (s)->waiting_off))

static void sc_apply_pending(void);

/* ----------
 * The lock: every acquisition goes through these (the lock rule)
 * ----------
 */
static void
sc_lock(LWLockMode mode)
{
	LWLockAcquire(sc->lock, mode);
	sc_lock_held = true;
}

static void
sc_unlock(void)
{
	sc_lock_held = false;
	LWLockRelease(sc->lock);
	if (sc_npending > 0 || sc_pending_overflow)
		sc_apply_pending();
}

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
	/* a quarter of the area, and never near dsa's own request limit */
	l->max_entry = Min(l->area_size / 4, SC_MAX_ENTRY);
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
		s->next_gen = 1;
		if (!pg_strong_random(s->salt, SC_SALT_LEN))
			ereport(FATAL,
					(errmsg("genie_fdw: could not generate random bytes for the shared cache")));
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
		{
			SC_FLIGHTS(s)[i].owner = -1;
			SC_FLIGHTS(s)[i].gen = 0;
			pg_atomic_init_u64(&SC_FLIGHTS(s)[i].idle_since, 0);
		}
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

/* The flight (table slot) this backend waits on, or -1. */
static void
sc_set_waiting(int f)
{
	if (my_procno() < sc->nwaiters)
		SC_WAITING(sc)[my_procno()] = f;
}

static void
sc_my_flights_init(void)
{
	int			i;

	if (my_flights_init)
		return;
	for (i = 0; i < SC_MY_FLIGHTS; i++)
		my_flights[i].slot = -1;
	my_flights_init = true;
}

/* Is handle h a flight this backend still owns?  (lock held, any mode) */
static bool
sc_owns(int h)
{
	SCFlight   *f;

	if (h < 0 || h >= SC_MY_FLIGHTS || my_flights[h].slot < 0)
		return false;
	f = &SC_FLIGHTS(sc)[my_flights[h].slot];
	return f->owner == my_procno() && f->owner_pid == MyProcPid &&
		f->gen == my_flights[h].gen;
}

/* Wake the backends waiting on table slot f (no lock needed: latches). */
static void
sc_wake(int f)
{
	int			i;

	for (i = 0; i < sc->nwaiters; i++)
		if (SC_WAITING(sc)[i] == f)
			SetLatch(&GetPGProcByNumber(i)->procLatch);
}

/*
 * End this backend's flight h (exclusive lock held); returns the table slot
 * to wake, or -1 when the flight was no longer ours (taken over).
 */
static int
sc_flight_end_locked(int h)
{
	int			slot = -1;

	if (h < 0 || h >= SC_MY_FLIGHTS)
		return -1;
	if (sc_owns(h))
	{
		slot = my_flights[h].slot;
		SC_FLIGHTS(sc)[slot].owner = -1;
	}
	my_flights[h].slot = -1;
	return slot;
}

/* Ends every flight of this backend (and frees its unpublished chunk). */
static void
sc_release_all(void)
{
	int			wake[SC_MY_FLIGHTS];
	int			nwake = 0;
	bool		any = false;
	int			i;

	if (sc == NULL || MyProc == NULL)
		return;
	sc_my_flights_init();
	for (i = 0; i < SC_MY_FLIGHTS; i++)
		any |= my_flights[i].slot >= 0;
	if (!any && !DsaPointerIsValid(my_pending))
	{
		sc_set_waiting(-1);
		return;
	}
	sc_lock(LW_EXCLUSIVE);
	for (i = 0; i < SC_MY_FLIGHTS; i++)
	{
		int			slot = sc_flight_end_locked(i);

		if (slot >= 0)
			wake[nwake++] = slot;
	}
	if (DsaPointerIsValid(my_pending) && sc_area != NULL)
		dsa_free(sc_area, my_pending);
	my_pending = InvalidDsaPointer;
	sc_set_waiting(-1);
	sc_unlock();

	/* the waiters look again: one of them takes the question over */
	for (i = 0; i < nwake; i++)
		sc_wake(wake[i]);
}

/*
 * Marks every flight of this backend idle (its ask engine is not running:
 * an error left it), so waiters may take them over if it stays so.
 */
static void
sc_idle_all(void)
{
	TimestampTz now = GetCurrentTimestamp();
	int			i;

	if (sc == NULL || MyProc == NULL || !my_flights_init)
		return;
	sc_lock(LW_SHARED);
	for (i = 0; i < SC_MY_FLIGHTS; i++)
		if (sc_owns(i) &&
			pg_atomic_read_u64(&SC_FLIGHTS(sc)[my_flights[i].slot].idle_since) == 0)
			pg_atomic_write_u64(&SC_FLIGHTS(sc)[my_flights[i].slot].idle_since, (uint64) now);
	sc_unlock();
	for (i = 0; i < SC_MY_FLIGHTS; i++)
		if (my_flights[i].slot >= 0)
			sc_wake(my_flights[i].slot);
}

static void
sc_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			sc_lock_held = false;	/* LWLockReleaseAll released it */
			/* FALLTHROUGH */
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			/* no portal is left to finish an ask */
			sc_release_all();
			break;
		default:
			break;
	}
}

/*
 * A subtransaction's abort ends no flight: the asks it destroyed end theirs
 * when their memory goes (ask.c), and the asks of cursors declared before
 * the savepoint keep theirs.  An ask the error interrupted is idle now.
 */
static void
sc_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		sc_lock_held = false;	/* LWLockReleaseAll released it */
		sc_idle_all();
	}
}

static void
sc_shmem_exit(int code, Datum arg)
{
	sc_lock_held = false;
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
	sc_my_flights_init();
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

/*
 * genie_shared_cache_salt
 *		The salt of credential fingerprints, the same for every session of
 *		the server (NULL without the shared cache).
 */
const uint8 *
genie_shared_cache_salt(Size *len)
{
	*len = SC_SALT_LEN;
	return sc ? sc->salt : NULL;
}

/* ----------
 * The table (caller holds the lock as noted)
 * ----------
 */

/* The live entry of a key in this database (any lock mode), or -1. */
static int
sc_find(const char *key, Size keylen, uint64 hash, TimestampTz now)
{
	int			i = SC_BUCKETS(sc)[hash & (sc->nbuckets - 1)];

	while (i >= 0)
	{
		SCEntry    *e = &SC_ENTRIES(sc)[i];

		if (e->hash == hash && e->keylen == keylen && e->expires > now &&
			e->dbid == MyDatabaseId &&
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

/* A free handle of this backend, or -1. */
static int
sc_free_handle(void)
{
	int			h;

	for (h = 0; h < SC_MY_FLIGHTS; h++)
		if (my_flights[h].slot < 0)
			return h;
	return -1;
}

/* Make table slot f this backend's flight for hash under handle h (excl). */
static void
sc_claim(int f, int h, uint64 hash, bool takeover)
{
	SCFlight   *fl = &SC_FLIGHTS(sc)[f];

	if (!takeover)
	{
		fl->conversation_id[0] = '\0';
		fl->message_id[0] = '\0';
	}
	fl->owner = my_procno();
	fl->owner_pid = MyProcPid;
	fl->gen = sc->next_gen++;
	fl->hash = hash;
	pg_atomic_write_u64(&fl->idle_since, 0);
	my_flights[h].slot = f;
	my_flights[h].gen = fl->gen;
}

/*
 * sc_copy_out
 *		Copy the live entry of a key out (CurrentMemoryContext), counting a
 *		hit; false when there is none.  In two steps, as the lock rule wants:
 *		its size is read under the lock, the copy allocated outside it, and
 *		filled under the lock again if the entry still has that size (a new
 *		publication in between is looked at again, a few times).
 */
static bool
sc_copy_out(const char *key, Size keylen, uint64 hash, TimestampTz now,
			char **blob, Size *bloblen)
{
	char	   *copy = NULL;
	Size		copylen = 0;
	int			attempt;

	for (attempt = 0; attempt < 4; attempt++)
	{
		Size		len = 0;
		int			i;

		sc_lock(LW_SHARED);
		i = sc_find(key, keylen, hash, now);
		if (i >= 0)
		{
			SCEntry    *e = &SC_ENTRIES(sc)[i];

			if (copy != NULL && copylen == e->bloblen)
			{
				memcpy(copy, (char *) dsa_get_address(sc_area, e->data) + e->keylen,
					   e->bloblen);
				pg_atomic_fetch_add_u64(&e->hits, 1);
				pg_atomic_write_u64(&e->last_used, (uint64) now);
				sc_unlock();
				copy[copylen] = '\0';
				*blob = copy;
				*bloblen = copylen;
				return true;
			}
			len = e->bloblen;
		}
		sc_unlock();
		if (i < 0)
			break;
		/* outside the lock: room for the copy (then look again) */
		if (copy)
			pfree(copy);
		copy = palloc(len + 1);
		copylen = len;
	}
	if (copy)
		pfree(copy);
	return false;
}

/*
 * genie_shared_cache_get
 *		Look a key up.  SC_HIT: *blob is a copy (CurrentMemoryContext).
 *		SC_ASK: not cached, and this backend now owns the key's flight
 *		(*flight, a handle; -1 when no flight could be had): ask, then put
 *		or release; when the flight was taken over from an idle owner after
 *		Genie took the question, conversation_id and message_id (buffers of
 *		GENIE_FLIGHT_ID_LEN) name the message to poll instead of asking.  SC_WAIT: another backend is asking; call again when
 *		the latch is set (or a little later).
 *
 * A hit is copied in two steps, as the lock rule wants: its size is read
 * under the lock, the copy allocated outside it, and filled under the lock
 * again if the entry is still the same publication.
 */
GenieSharedLookup
genie_shared_cache_get(const char *key, Size keylen, char **blob, Size *bloblen,
					   int *flight, char *conversation_id, char *message_id)
{
	uint64		hash = hash_bytes_extended((const unsigned char *) key, (int) keylen, 0);
	TimestampTz now = GetCurrentTimestamp();
	int			attempt = 0;
	int			f;
	int			h;

	*flight = -1;
	conversation_id[0] = '\0';
	message_id[0] = '\0';
	if (!sc_attach())
		return SC_ASK;

again:
	if (sc_copy_out(key, keylen, hash, now, blob, bloblen))
	{
		sc_set_waiting(-1);
		return SC_HIT;
	}

	/* not cached (or replaced again and again): wait, or ask */
	sc_lock(LW_EXCLUSIVE);
	if (attempt++ < 4 && sc_find(key, keylen, hash, now) >= 0)
	{
		/* published in between: copy it */
		sc_unlock();
		goto again;
	}
	f = sc_flight_find(hash);
	h = sc_free_handle();
	if (f >= 0)
	{
		SCFlight   *fl = &SC_FLIGHTS(sc)[f];
		uint64		idle = pg_atomic_read_u64(&fl->idle_since);
		bool		mine = fl->owner == my_procno() && fl->owner_pid == MyProcPid;

		if (mine)
		{
			/* this backend asks it already (another scan): ask, unclaimed */
			sc_set_waiting(-1);
			sc_unlock();
			return SC_ASK;
		}
		if (idle != 0 && now - (TimestampTz) idle > SC_IDLE_TAKEOVER && h >= 0)
		{
			/*
			 * Its owner stopped driving it (idle cursor, error): take it
			 * over, and go on polling the owner's message if Genie took the
			 * question already (the same credentials: the key says so), so
			 * the quota is not spent twice.
			 */
			sc_claim(f, h, hash, true);
			*flight = h;
			if (fl->conversation_id[0] && fl->message_id[0])
			{
				strlcpy(conversation_id, fl->conversation_id, GENIE_FLIGHT_ID_LEN);
				strlcpy(message_id, fl->message_id, GENIE_FLIGHT_ID_LEN);
			}
			sc_set_waiting(-1);
			sc_unlock();
			return SC_ASK;
		}
		sc_set_waiting(f);
		sc_unlock();
		return SC_WAIT;
	}
	sc_set_waiting(-1);
	if (h >= 0)
	{
		for (f = 0; f < sc->nflights; f++)
			if (SC_FLIGHTS(sc)[f].owner < 0)
				break;
		if (f < sc->nflights)
		{
			sc_claim(f, h, hash, false);
			*flight = h;
		}
	}
	sc_unlock();
	return SC_ASK;
}

/*
 * genie_shared_cache_driving
 *		The ask owning flight h starts (true) or stops (false) driving it:
 *		a flight left idle longer than SC_IDLE_TAKEOVER is taken over by a
 *		waiter.
 */
void
genie_shared_cache_driving(int h, bool driving)
{
	if (h < 0 || sc == NULL || sc_area == NULL)
		return;
	sc_lock(LW_SHARED);
	if (sc_owns(h))
		pg_atomic_write_u64(&SC_FLIGHTS(sc)[my_flights[h].slot].idle_since,
							driving ? 0 : (uint64) GetCurrentTimestamp());
	sc_unlock();
}

/*
 * genie_shared_cache_asked
 *		Genie took flight h's question: record the message, so a waiter
 *		taking the flight over polls it instead of asking again.
 */
void
genie_shared_cache_asked(int h, const char *conversation_id, const char *message_id)
{
	if (h < 0 || sc == NULL || sc_area == NULL ||
		strlen(conversation_id) >= GENIE_FLIGHT_ID_LEN ||
		strlen(message_id) >= GENIE_FLIGHT_ID_LEN)
		return;
	sc_lock(LW_EXCLUSIVE);
	if (sc_owns(h))
	{
		SCFlight   *fl = &SC_FLIGHTS(sc)[my_flights[h].slot];

		strlcpy(fl->conversation_id, conversation_id, GENIE_FLIGHT_ID_LEN);
		strlcpy(fl->message_id, message_id, GENIE_FLIGHT_ID_LEN);
	}
	sc_unlock();
}

/*
 * genie_shared_cache_release
 *		This backend gives its flight up without an answer: a waiter takes
 *		it over.
 */
void
genie_shared_cache_release(int flight)
{
	int			slot;

	if (flight < 0 || sc == NULL || sc_area == NULL)
		return;
	sc_lock(LW_EXCLUSIVE);
	slot = sc_flight_end_locked(flight);
	sc_unlock();
	if (slot >= 0)
		sc_wake(slot);
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
	uint32		um_hash;
	uint32		srv_hash;
	char	   *p;
	int			i;
	int			slot;

	if (!sc_attach())
		return;
	if (size > sc->max_entry)
	{
		genie_shared_cache_release(flight);
		return;
	}
	/* the catalog, before any lock (the lock rule) */
	um_hash = GetSysCacheHashValue1(USERMAPPINGOID, ObjectIdGetDatum(opts->umid));
	srv_hash = GetSysCacheHashValue1(FOREIGNSERVEROID, ObjectIdGetDatum(opts->serverid));

	/* room for the chunk: least recently used entries go first */
	for (;;)
	{
		bool		evicted;

		dp = dsa_allocate_extended(sc_area, size, DSA_ALLOC_NO_OOM);
		if (DsaPointerIsValid(dp))
			break;
		sc_lock(LW_EXCLUSIVE);
		evicted = sc_evict_one(now);
		sc_unlock();
		if (!evicted)
			break;
	}
	if (!DsaPointerIsValid(dp))
	{
		genie_shared_cache_release(flight);
		return;
	}
	my_pending = dp;

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
	sc_lock(LW_EXCLUSIVE);
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
		e->um_hash = um_hash;
		e->srv_hash = srv_hash;
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
	slot = sc_flight_end_locked(flight);
	sc_unlock();
	if (slot >= 0)
		sc_wake(slot);
}

/*
 * genie_shared_cache_clear
 *		Drop the entries whose key starts with prefix, of this database or
 *		of all; returns how many.
 */
int64
genie_shared_cache_clear(const char *prefix, bool all_dbs)
{
	Size		prefixlen = strlen(prefix);
	int64		n = 0;
	int			i;

	if (!sc_attach())
		return 0;
	sc_lock(LW_EXCLUSIVE);
	for (i = 0; i < sc->nentries; i++)
	{
		SCEntry    *e = &SC_ENTRIES(sc)[i];

		if (e->used && (all_dbs || e->dbid == MyDatabaseId) && e->keylen >= prefixlen &&
			memcmp(dsa_get_address(sc_area, e->data), prefix, prefixlen) == 0)
		{
			sc_remove(i);
			n++;
		}
	}
	sc_unlock();
	return n;
}

/*
 * genie_shared_cache_find
 *		A live entry of this database by key, copied into
 *		CurrentMemoryContext, without any flight (false: none).
 */
bool
genie_shared_cache_find(const char *key, Size keylen, char **blob, Size *bloblen)
{
	uint64		hash = hash_bytes_extended((const unsigned char *) key, (int) keylen, 0);

	if (!sc_attach())
		return false;
	return sc_copy_out(key, keylen, hash, GetCurrentTimestamp(), blob, bloblen);
}

/*
 * genie_shared_cache_forget
 *		Drop this database's entry of a key, if any.
 */
void
genie_shared_cache_forget(const char *key, Size keylen)
{
	uint64		hash = hash_bytes_extended((const unsigned char *) key, (int) keylen, 0);
	int			i;

	if (!sc_attach())
		return;
	sc_lock(LW_EXCLUSIVE);
	i = sc_find(key, keylen, hash, PG_INT64_MIN);
	if (i >= 0)
		sc_remove(i);
	sc_unlock();
}

/* Drop this database's entries of a mapping or server (exclusive lock). */
static void
sc_invalidate_locked(int cacheid, uint32 hashvalue, bool all)
{
	int			i;

	for (i = 0; i < sc->nentries; i++)
	{
		SCEntry    *e = &SC_ENTRIES(sc)[i];

		if (e->used && e->dbid == MyDatabaseId &&
			(all ||
			 (cacheid == USERMAPPINGOID && e->um_hash == hashvalue) ||
			 (cacheid == FOREIGNSERVEROID && e->srv_hash == hashvalue)))
			sc_remove(i);
	}
}

/* The invalidations deferred while the lock was held (see the rule). */
static void
sc_apply_pending(void)
{
	int			i;

	sc_lock(LW_EXCLUSIVE);
	if (sc_pending_overflow)
		sc_invalidate_locked(0, 0, true);
	else
		for (i = 0; i < sc_npending; i++)
			sc_invalidate_locked(sc_pending[i].cacheid, sc_pending[i].hashvalue, false);
	sc_npending = 0;
	sc_pending_overflow = false;
	sc_lock_held = false;
	LWLockRelease(sc->lock);
}

/*
 * genie_shared_cache_invalidate
 *		A user mapping or server changed (syscache callback): drop this
 *		database's entries fetched with it.  A full reset (hashvalue 0, a
 *		lagging backend's sinval overflow) drops nothing: the backend that
 *		made the change always sees its own precise invalidation (and keys
 *		carry the credentials' fingerprint, so an answer fetched with other
 *		credentials is never found anyway).  That backend may never have
 *		used the cache (a DBA's session running ALTER USER MAPPING): it
 *		attaches now, or nobody might drop the entries.
 *
 * Never called with the lock held, by the lock rule; if it were, waiting
 * for the lock would wait for ourselves: a debug build stops hard, a normal
 * one defers the work to sc_unlock().
 */
void
genie_shared_cache_invalidate(int cacheid, uint32 hashvalue)
{
	if (hashvalue == 0 || sc == NULL)
		return;
	if (sc_lock_held)
	{
#ifdef GENIE_FAULT_INJECTION
		elog(PANIC, "genie_fdw: invalidation processed while holding the shared cache lock");
#endif
		if (sc_npending < SC_PENDING_INVAL)
		{
			sc_pending[sc_npending].cacheid = cacheid;
			sc_pending[sc_npending].hashvalue = hashvalue;
			sc_npending++;
		}
		else
			sc_pending_overflow = true;
		return;
	}
	/* the backend making the change may never have used the cache */
	if (!sc_attach())
		return;
	sc_lock(LW_EXCLUSIVE);
	sc_invalidate_locked(cacheid, hashvalue, false);
	sc_unlock();
}

/* ----------
 * genie_fdw_cache(): the DBA's view
 * ----------
 */

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

/* Is entry e one of the listed ones? (any lock mode) */
static bool
sc_listed(SCEntry *e, const char *prefix, Size prefixlen, bool all_dbs, TimestampTz now)
{
	return e->used && e->expires > now && (all_dbs || e->dbid == MyDatabaseId) &&
		e->keylen >= prefixlen &&
		memcmp(dsa_get_address(sc_area, e->data), prefix, prefixlen) == 0;
}

/*
 * genie_shared_cache_list
 *		The live entries whose key starts with prefix, of this database (or
 *		of all), copied into CurrentMemoryContext (blobs too when asked);
 *		returns how many (*items: an array).  Two steps, as the lock rule
 *		wants: count and size under the lock, allocate outside it, copy under
 *		it again (what was published in between and does not fit is left out
 *		of this snapshot).
 */
int
genie_shared_cache_list(const char *prefix, bool all_dbs, bool with_blobs,
						GenieCacheItem **items)
{
	Size		prefixlen = strlen(prefix);
	TimestampTz now = GetCurrentTimestamp();
	int			cap = 0;
	int			n = 0;
	Size		bytes = 0;
	Size		used = 0;
	char	   *buf;
	GenieCacheItem *out;
	int			i;

	*items = NULL;
	if (!sc_attach())
		return 0;
	sc_lock(LW_SHARED);
	for (i = 0; i < sc->nentries; i++)
	{
		SCEntry    *e = &SC_ENTRIES(sc)[i];

		if (sc_listed(e, prefix, prefixlen, all_dbs, now))
		{
			cap++;
			bytes += e->keylen + 1 + (with_blobs ? e->bloblen + 1 : 0);
		}
	}
	sc_unlock();
	out = palloc0(sizeof(GenieCacheItem) * Max(cap, 1));
	buf = palloc(bytes + 1);

	sc_lock(LW_SHARED);
	for (i = 0; i < sc->nentries && n < cap; i++)
	{
		SCEntry    *e = &SC_ENTRIES(sc)[i];
		char	   *p;
		Size		need;

		if (!sc_listed(e, prefix, prefixlen, all_dbs, now))
			continue;
		need = e->keylen + 1 + (with_blobs ? e->bloblen + 1 : 0);
		if (used + need > bytes)
			continue;
		p = dsa_get_address(sc_area, e->data);
		out[n].serverid = e->serverid;
		out[n].umid = e->umid;
		out[n].key = buf + used;
		memcpy(out[n].key, p, e->keylen);
		out[n].key[e->keylen] = '\0';
		out[n].keylen = e->keylen;
		if (with_blobs)
		{
			out[n].blob = buf + used + e->keylen + 1;
			memcpy(out[n].blob, p + e->keylen, e->bloblen);
			out[n].blob[e->bloblen] = '\0';
		}
		out[n].bloblen = e->bloblen;
		out[n].hits = (int64) pg_atomic_read_u64(&e->hits);
		out[n].created = e->created;
		out[n].expires = e->expires;
		used += need;
		n++;
	}
	sc_unlock();
	*items = out;
	return n;
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
