/*-------------------------------------------------------------------------
 *
 * limiter.c
 *		  The cross-backend Genie question limiter and genie_fdw's counters.
 *
 * (Interface in limiter.h.  This first version admits every question at
 * once; the shared-memory limiter replaces it.)
 *
 * Copyright (c) 2026, genie_fdw developers
 *
 * IDENTIFICATION
 *		  src/limiter.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "limiter.h"

void
genie_limiter_init(void)
{
}

bool
genie_limiter_active(void)
{
	return false;
}

bool
genie_limiter_try_acquire(const GenieOptions *opts, long *wait_ms)
{
	*wait_ms = 0;
	return true;
}

void
genie_limiter_cancel_wait(const GenieOptions *opts)
{
}

void
genie_limiter_acquire(const GenieOptions *opts)
{
}

void
genie_limiter_return_slot(const GenieOptions *opts)
{
}

void
genie_limiter_report_429(const GenieOptions *opts, double retry_after)
{
}

void
genie_stats_add(const GenieOptions *opts, GenieStat stat, int64 n)
{
}
