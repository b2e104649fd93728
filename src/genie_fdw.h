/*-------------------------------------------------------------------------
 *
 * genie_fdw.h
 *		  Shared declarations of genie_fdw: options, transport, Genie API
 *		  calls and row conversion.
 *
 * Files and what they own:
 *	genie_fdw.c		handler, planner and executor callbacks, EXPLAIN, GUCs,
 *					the DDL check (event trigger)
 *	option.c		option validator and resolved per-scan options
 *	http.c			libcurl transport: one multi handle per backend, calls
 *					owned by memory contexts, interrupts, timeouts, size
 *					limit, proxies, the address policy of external links
 *	addr_policy.c	classifying addresses (plain C; addr_policy.h)
 *	credentials.c	bearer tokens (PAT, OAuth per user mapping), masking
 *	request.c		URLs, THE retry policy, synchronous requests, error
 *					reporting (request.h: the request layer's interface)
 *	ask.c			the ask engine: questions asked concurrently, polling
 *	chunks.c		the chunk cursor, prefetch, external link policy
 *	genie_decode.c	json-c decoders (no PostgreSQL headers; genie_decode.h)
 *	convert.c		answer values to Datums, column mapping and checks,
 *					jsonb rows
 *	cache.c			the answer cache: keys, serialized answers, the
 *					per-backend cache
 *	rerun.c			remembered questions: Genie's SQL re-run (refresh 'rerun')
 *	shared_cache.c	the answer cache shared by all sessions (preloaded):
 *					shared memory, LRU, single flight, genie_fdw_cache()
 *	catalog.c		genie_spaces(), IMPORT FOREIGN SCHEMA, deleting old
 *					conversations, and the list/delete requests they make
 *	limiter.c		the cross-backend question limiter, counters
 *
 * This header must not include json-c (its json_object clashes with
 * utils/builtins.h); decoded responses come from genie_decode.h, which is
 * plain C.
 *
 * Copyright (c) 2026, genie_fdw developers
 *
 * IDENTIFICATION
 *		  src/genie_fdw.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef GENIE_FDW_H
#define GENIE_FDW_H

#include "postgres.h"

#include "access/tupdesc.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/execnodes.h"
#include "nodes/parsenodes.h"
#include "nodes/pg_list.h"
#include "utils/palloc.h"
#include "utils/relcache.h"

#include "compat.h"
#include "genie_decode.h"

/* ----------
 * option.c
 * ----------
 */

/* Everything a scan needs to talk to one Genie space. */
typedef struct GenieOptions
{
	Oid			serverid;
	Oid			umid;			/* the user mapping: keys every cache */
	char	   *server_name;	/* for messages */
	char	   *host;			/* scheme://host[:port], no trailing slash */
	char	   *space_id;
	char	   *token;			/* secret: never printed */
	char	   *client_id;
	char	   *client_secret;	/* secret: never printed */
	char	   *ca_file;
	char	   *proxy;			/* may hold credentials: never printed */

	int			max_retries;
	double		initial_backoff;	/* seconds */
	double		max_backoff;
	double		backoff_multiplier;
	double		poll_interval;
	double		max_poll_interval;
	double		answer_timeout;
	double		connect_timeout;
	double		request_timeout;
	int64		max_response_size;	/* bytes */
	double		questions_per_minute;	/* -1: the GUC's value; 0: no
										 * limit */
	int			max_concurrent; /* questions in flight at once */
	double		cache_ttl;		/* seconds answers are cached; 0: off */
	bool		full_results;	/* use the full-result download */
	bool		without_question_empty; /* a scan without a question: no
										 * rows and a NOTICE, not an error */
	bool		refresh_rerun;	/* a repeated question re-runs the SQL Genie
								 * generated for it (rerun.c) */
	double		sql_ttl;		/* seconds that SQL is re-run; < 0: forever */
} GenieOptions;

/* What a foreign-table column holds (column option "genie"). */
typedef enum GenieColumnKind
{
	GCOL_ANSWER = 0,			/* an answer column, matched by name */
	GCOL_QUESTION,
	GCOL_SQL,
	GCOL_TEXT,
	GCOL_DESCRIPTION,
	GCOL_CONVERSATION_ID,
	GCOL_MESSAGE_ID,
	GCOL_STATEMENT_ID,
	GCOL_ROW,
	GCOL_SUGGESTED_QUESTIONS,	/* text[] (or json, jsonb, text: a JSON array) */
	GCOL_FOLLOW_UP				/* Genie's clarifying question */
} GenieColumnKind;

extern GenieOptions *genie_get_options(Oid foreigntableid, Oid userid);
extern GenieOptions *genie_get_server_options(Oid serverid, Oid userid);
extern int	genie_question_attnum(Oid foreigntableid, TupleDesc tupdesc);
extern GenieColumnKind genie_column_kind(Oid relid, AttrNumber attnum,
										 const char *attname, char **answer_name);
extern bool genie_host_is_loopback(const char *url);

/* ----------
 * http.c
 * ----------
 */
typedef struct HttpHeader
{
	const char *name;
	const char *value;
} HttpHeader;

typedef struct HttpRequest
{
	const char *method;			/* GET, POST, DELETE */
	const char *url;
	const char *body;			/* NULL for none */
	const char *content_type;	/* of body */
	const char *bearer;			/* token for Authorization, or NULL */
	const char *basic_user;		/* HTTP Basic credentials, or NULL */
	const char *basic_password;
	const HttpHeader *headers;	/* extra headers */
	int			nheaders;
	const GenieOptions *opts;	/* timeouts, CA file, proxy, size limit */
	bool		external;		/* a link the service handed out: the
								 * address policy applies (http.c) */
} HttpRequest;

typedef enum HttpOutcome
{
	HTTP_DONE,					/* a complete response (any status) */
	HTTP_NOT_CONNECTED,			/* never reached the service: safe to retry
								 * anything */
	HTTP_TIMEOUT,				/* request_timeout or connect_timeout */
	HTTP_FAILED,				/* reset, dropped mid-body, TLS failure... */
	HTTP_TOO_LARGE				/* body over max_response_size */
} HttpOutcome;

typedef struct HttpResponse
{
	HttpOutcome outcome;
	long		status;
	char	   *body;			/* NUL-terminated, palloc'd in caller's
								 * context */
	size_t		len;
	char	   *content_type;
	double		retry_after;	/* seconds, < 0 when absent */
	char		error[256];		/* transport error text (no secrets) */
	bool		tls_error;

	/*
	 * HTTP_NOT_CONNECTED because the host name did not resolve or nothing
	 * accepted the connection, and the request's origin (scheme, host and
	 * port) has not answered any request of this backend: most likely a
	 * wrong host, not a passing network failure.
	 */
	bool		first_contact;
	bool		no_such_host;	/* with first_contact: the name did not
								 * resolve (else: no connection) */
} HttpResponse;

typedef struct HttpCall HttpCall;

/* Longest Retry-After genie_fdw honours (a day); longer ones count as absent. */
#define HTTP_RETRY_AFTER_MAX	86400.0

extern void http_perform(const HttpRequest *req, HttpResponse *resp);
extern HttpCall *http_start(const HttpRequest *req);
extern bool http_wait(HttpCall *const *calls, int ncalls, long timeout_ms);
extern bool http_done(const HttpCall *call);
extern void http_finish(HttpCall *call, HttpResponse *resp);
extern void http_cancel(HttpCall *call);
extern void http_progress(void);
extern double http_parse_retry_after(const char *value);

/*
 * Debug builds (make GENIE_DEBUG=1) poison memory of calls, cursors and
 * chunks when it is released, so that a use after free reads garbage and
 * fails tests instead of passing by luck; they also enable fault injection
 * (GUCs genie_fdw.debug_*) for paths that cannot be reached otherwise.
 */
#ifdef GENIE_POISON
#define genie_poison(ptr, size) memset((ptr), 0x7f, (size))
#else
#define genie_poison(ptr, size) ((void) (ptr), (void) (size))
#endif
#ifdef GENIE_FAULT_INJECTION
extern bool genie_debug_fail_headers;
#endif

/* wait_event.c: the wait event reported while a backend waits on Genie */
extern uint32 genie_wait_event(void);

/* genie_errors.c: a FAILED message as a PostgreSQL error */
extern bool genie_error_type_is_rate_limit(const char *type);
extern void genie_report_failed_message(const GdMessage *msg, int rate_retries);

/* ----------
 * request.c, ask.c, chunks.c
 * ----------
 */

/* Counters kept per scan, shown by EXPLAIN ANALYZE. */
typedef struct GenieCallStats
{
	int			polls;
	int			retries;
	int			requests;
	int			reruns;			/* remembered SQL re-run */
	int64		bytes;
} GenieCallStats;

/* An answered question: the final message and its statement. */
typedef struct GenieAnswer
{
	MemoryContext cxt;			/* everything of this answer */
	char	   *question;
	char	   *conversation_id;
	char	   *message_id;
	GdMessage	message;
	bool		has_result;
	bool		from_cache;
	bool		from_shared_cache;
	bool		full_result;	/* from a full-result download */
	GdStatement statement;		/* with the first chunk */
	int			nheld;			/* chunks after the first held in memory */
	GdChunk    *held;			/* (a cached or cacheable answer) */
	bool		whole;			/* the first and held chunks are all */
	char	   *rerun_of;		/* the message whose SQL was re-run, or NULL */
} GenieAnswer;

typedef struct GenieAskSet GenieAskSet;

extern GdArena *genie_arena(MemoryContext cxt);
extern GenieAskSet *genie_askset_create(const GenieOptions *opts,
										int max_concurrent,
										GenieCallStats *stats);
extern void genie_askset_add(GenieAskSet *set, const char *question,
							 const char *conversation_id);
extern GenieAnswer *genie_askset_next(GenieAskSet *set);
extern void genie_askset_abandon(GenieAskSet *set);
extern void genie_answer_free(GenieAnswer *answer);

typedef struct GenieCursor GenieCursor;

extern GenieCursor *genie_cursor_open(const GenieOptions *opts,
									  const GenieAnswer *answer,
									  GenieCallStats *stats);
extern const GdChunk *genie_cursor_next(GenieCursor *cur);
extern void genie_cursor_progress(GenieCursor *cur);
extern void genie_cursor_close(GenieCursor *cur);
extern void genie_sleep(double seconds);

/* ----------
 * cache.c
 * ----------
 */
typedef struct GenieCachedAnswer
{
	char	   *conversation_id;
	char	   *message_id;
	char	   *message_body;	/* a get-message response */
	size_t		message_len;
	char	   *result_body;	/* a query-result response, or NULL */
	size_t		result_len;
	int			nchunks;		/* further chunks of an inline result */
	char	  **chunk_bodies;	/* chunk responses, as received */
	size_t	   *chunk_lens;
	bool		shared;			/* found in the shared cache */
} GenieCachedAnswer;

typedef enum GenieCacheResult
{
	GENIE_CACHE_MISS,			/* ask (owning the flight, if any) */
	GENIE_CACHE_HIT,
	GENIE_CACHE_WAIT,			/* another session asks it: look again */
	GENIE_CACHE_CONTINUE		/* a flight taken over from an idle session:
								 * poll its message (ids given) */
} GenieCacheResult;

/* Room for a conversation or message id in a shared flight. */
#define GENIE_FLIGHT_ID_LEN 72

extern int	genie_cache_size_kb;
extern void genie_cache_init(void);
extern GenieCacheResult genie_cache_lookup(const GenieOptions *opts, const char *conversation,
										   const char *question, GenieCachedAnswer *out,
										   int *flight, char *cont_conversation,
										   char *cont_message);
extern void genie_cache_store(const GenieOptions *opts, const char *conversation,
							  const char *question, const GenieCachedAnswer *ans,
							  int flight);
extern void genie_cache_release(int flight);
extern void genie_cache_flight_driving(int flight, bool driving);
extern void genie_cache_flight_asked(int flight, const char *conversation_id,
									 const char *message_id);
extern size_t genie_cache_max_bytes(void);

/* Keys of cache entries (cache.c): their kinds and parts. */
#define GENIE_KEY_ANSWER		'A'
#define GENIE_KEY_REMEMBERED	'R'
#define GENIE_KEY_NPARTS		9
#define GENIE_KEY_FULL			4	/* 'f' or 'i' */
#define GENIE_KEY_HOST			5
#define GENIE_KEY_SPACE			6
#define GENIE_KEY_CONVERSATION	7
#define GENIE_KEY_QUESTION		8
extern char *genie_cache_key(const GenieOptions *opts, char kind, const char *conversation,
							 const char *question);
extern bool genie_cache_key_parts(const char *key, char **parts);
extern bool genie_mapping_unchanged(const GenieOptions *opts);
extern bool genie_answer_fetch_rest(const GenieOptions *opts, GenieAnswer *answer,
									GenieCallStats *stats, size_t max_bytes,
									GenieCachedAnswer *raw);

/* ----------
 * rerun.c
 * ----------
 */
typedef struct GenieRemembered
{
	char	   *conversation_id;
	char	   *message_id;
	char	   *attachment_id;
	char	   *sql;
	char	   *message_body;	/* the final get-message response */
	size_t		message_len;
} GenieRemembered;

extern void genie_rerun_remember(const GenieOptions *opts, const char *question,
								 const char *conversation_id, const char *message_id,
								 const char *attachment_id, const char *sql,
								 const char *message_body, size_t message_len);
extern bool genie_rerun_lookup(const GenieOptions *opts, const char *question,
							   GenieRemembered *out);
extern void genie_rerun_forget(const GenieOptions *opts, const char *question);
extern List *genie_rerun_conversations(void);

/* ----------
 * shared_cache.c
 * ----------
 */
typedef enum GenieSharedLookup
{
	SC_HIT,
	SC_ASK,
	SC_WAIT
} GenieSharedLookup;

extern int	genie_shared_cache_kb;
extern void genie_shared_cache_init(void);
extern void genie_shared_cache_shmem_request(void);
extern void genie_shared_cache_shmem_startup(void);
extern bool genie_shared_cache_active(void);
extern GenieSharedLookup genie_shared_cache_get(const char *key, Size keylen, char **blob,
												Size *bloblen, int *flight,
												char *conversation_id, char *message_id);
extern void genie_shared_cache_asked(int flight, const char *conversation_id,
									 const char *message_id);
extern void genie_shared_cache_put(const char *key, Size keylen, const char *blob,
								   Size bloblen, const GenieOptions *opts,
								   TimestampTz expires, int flight);
extern void genie_shared_cache_release(int flight);
extern void genie_shared_cache_driving(int flight, bool driving);
extern const uint8 *genie_shared_cache_salt(Size *len);
extern int64 genie_shared_cache_clear(const char *prefix, bool all_dbs);
extern bool genie_shared_cache_find(const char *key, Size keylen, char **blob, Size *bloblen);
extern void genie_shared_cache_forget(const char *key, Size keylen);

/* An entry of the shared or a session's cache, copied out for listing. */
typedef struct GenieCacheItem
{
	Oid			serverid;
	Oid			umid;
	char	   *key;
	size_t		keylen;
	char	   *blob;			/* NULL unless asked for */
	size_t		bloblen;
	int64		hits;
	TimestampTz created;
	TimestampTz expires;
} GenieCacheItem;

extern int	genie_shared_cache_list(const char *prefix, bool all_dbs, bool with_blobs,
									GenieCacheItem **items);

/* cache.c: keyed values in the shared cache, else the session's */
extern void genie_cache_kv_put(const GenieOptions *opts, const char *key, const char *blob,
							   size_t bloblen, TimestampTz expires);
extern bool genie_cache_kv_get(const char *key, char **blob, size_t *bloblen, int64 *hits);
extern void genie_cache_kv_forget(const char *key);
extern int	genie_cache_kv_list(const char *prefix, bool all_dbs, bool with_blobs,
								GenieCacheItem **items);
extern int64 genie_cache_kv_clear(const char *prefix, bool all_dbs);
extern void genie_shared_cache_invalidate(int cacheid, uint32 hashvalue);
extern char *genie_mapping_role(Oid umid);

/* ----------
 * convert.c
 * ----------
 */

/* How one attribute of the foreign table is filled. */
typedef struct GenieColumnMap
{
	GenieColumnKind kind;
	char	   *answer_name;	/* GCOL_ANSWER: name to look for */
	int			answer_index;	/* position in the answer, -1 if missing */
	Oid			typid;
	int32		typmod;
	FmgrInfo	infunc;
	Oid			typioparam;
	int			fast;			/* a typed fast path (convert.c), 0: none */
	bool		dropped;
	bool		used;			/* read by the query (a missing one is
								 * reported) */

	/*
	 * A column whose value is the same in every row of an answer (the
	 * question, the SQL, the ids, ...) is converted once per answer: its
	 * Datum lives in the answer's memory (GenieConverter.const_cxt).
	 */
	bool		const_set;
	bool		const_null;
	Datum		const_value;
} GenieColumnMap;

typedef struct GenieConverter
{
	Oid			relid;
	char	   *relname;
	int			natts;
	GenieColumnMap *cols;
	int64		rownum;			/* 1-based number of the row being converted */
	const char *colname;		/* for the error context */
	const char *value;
	size_t		value_len;
	bool		server_is_utf8; /* UTF-8 or SQL_ASCII: no conversion */
	MemoryContext const_cxt;	/* the bound answer's: its constant columns */

	/*
	 * Set by the caller for each row: the answer values are the in-place
	 * scanner's own output, known to be well-formed UTF-8 without NUL
	 * (GdChunk.values_checked), so they are not checked again.
	 */
	bool		values_checked;
} GenieConverter;

extern GenieConverter *genie_converter_create(Relation rel);
extern void genie_converter_bind(GenieConverter *conv, const GdStatement *st,
								 MemoryContext answer_cxt);
extern void genie_convert_row(GenieConverter *conv, const GenieAnswer *answer,
							  const GdStatement *st, char **values,
							  const size_t *lens, int nvalues,
							  Datum *datums, bool *nulls);
extern bool genie_converter_has_kind(const GenieConverter *conv,
									 GenieColumnKind kind);
extern void genie_converter_set_used(GenieConverter *conv, List *attnums);
extern AttrNumber genie_check_columns(Oid relid, TupleDesc tupdesc);

/* ----------
 * genie_fdw.c
 * ----------
 */
extern bool genie_progress;
extern bool genie_is_genie_server(Oid serverid);

/* ----------
 * catalog.c
 * ----------
 */
extern List *genie_import_foreign_schema(ImportForeignSchemaStmt *stmt, Oid serverOid);

#endif							/* GENIE_FDW_H */
