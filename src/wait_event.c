/*-------------------------------------------------------------------------
 *
 * wait_event.c
 *		  The wait event a backend reports while it waits on Genie.
 *
 * Owns genie_wait_event(): on PostgreSQL 17 and later a custom wait event
 * of the extension, "GenieWait" (pg_stat_activity shows wait_event_type
 * Extension, wait_event GenieWait), registered on first use; on older
 * servers the generic Extension wait event.  The waits on the network and
 * on poll timers (http.c, request.c) report it.
 *
 * Copyright (c) 2026, genie_fdw developers
 *
 * IDENTIFICATION
 *		  src/wait_event.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/wait_event.h"

#include "genie_fdw.h"

/*
 * genie_wait_event
 *		The wait event to report while waiting on Genie.
 */
uint32
genie_wait_event(void)
{
#ifdef GENIE_HAVE_CUSTOM_WAIT_EVENTS
	static uint32 event = 0;

	/* shared by every backend: the name maps to one id in shared memory */
	if (event == 0)
		event = WaitEventExtensionNew("GenieWait");
	return event;
#else
	return PG_WAIT_EXTENSION;
#endif
}
