/*-------------------------------------------------------------------------
 *
 * genie_decode.h
 *		  Decoded forms of the Genie and Statement Execution API responses.
 *
 * This is the seam between the JSON world and PostgreSQL (the same seam
 * oracle_fdw keeps between OCI and the backend).  genie_decode.c includes
 * json-c and the C library only: it never calls ereport, never longjmps and
 * allocates every result through the caller's GdArena, so it can be built
 * into a standalone fuzzer with ASan and so that every json-c object it
 * creates is released before it returns, on success and on failure alike.
 *
 * Strings in decoded structs are NUL-terminated copies in the arena; a NULL
 * pointer means "absent or JSON null" (the contract says absent == default).
 *
 * Copyright (c) 2026, genie_fdw developers
 *
 * IDENTIFICATION
 *		  src/genie_decode.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef GENIE_DECODE_H
#define GENIE_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where decoded data is allocated.  alloc returns NULL when out of memory. */
typedef struct GdArena
{
	void	   *(*alloc) (void *arg, size_t size);
	void	   *arg;
} GdArena;

/* Why a decode failed. */
typedef enum GdStatus
{
	GD_OK = 0,
	GD_SYNTAX,					/* not JSON (HTML page, truncated body...) */
	GD_SHAPE,					/* JSON, but not the documented shape */
	GD_NOMEM					/* the arena refused an allocation */
} GdStatus;

typedef struct GdError
{
	GdStatus	status;
	char		message[256];	/* one line, never contains response text
								 * beyond a short field name */
} GdError;

/* A message (GenieMessage), reduced to what a client needs. */
typedef struct GdMessage
{
	char	   *message_id;
	char	   *conversation_id;
	char	   *status;			/* MessageStatus, as sent */
	char	   *error;			/* MessageError.error */
	char	   *error_type;		/* MessageError.type */

	/* the LAST query attachment (Genie may self-correct) */
	int			n_query_attachments;
	char	   *attachment_id;
	char	   *statement_id;
	char	   *sql;
	char	   *description;
	char	   *title;
	bool		has_row_count;
	int64_t		row_count;		/* query_result_metadata.row_count */
	bool		is_truncated;

	/*
	 * Text attachments, joined with a blank line: the answer (purpose
	 * TEXT_ATTACHMENT_PURPOSE_ANSWER or none) and Genie's clarifying
	 * question (purpose FOLLOW_UP_QUESTION), apart.
	 */
	char	   *text;
	char	   *follow_up;
	int			n_answer_texts;
	int			n_follow_ups;
	int			n_text_attachments; /* both kinds */

	/* suggested_questions.questions of every such attachment, in order */
	int			n_suggested_questions;
	char	  **suggested_questions;
} GdMessage;

/* start-conversation: top-level ids plus the nested message. */
typedef struct GdStart
{
	char	   *conversation_id;
	char	   *message_id;
	GdMessage	message;
} GdStart;

typedef struct GdColumn
{
	char	   *name;
	char	   *type_name;		/* ColumnInfoTypeName, e.g. LONG */
	char	   *type_text;		/* e.g. DECIMAL(38,2) */
	int			position;
} GdColumn;

/* One external link (EXTERNAL_LINKS disposition). */
typedef struct GdLink
{
	char	   *url;
	char	   *expiration;
	int			n_headers;
	char	  **header_names;
	char	  **header_values;
	int64_t		chunk_index;
	int64_t		row_count;
} GdLink;

/*
 * One chunk of rows (ResultData).  Values of row r are
 * values[row_start[r] .. row_start[r + 1] - 1], with lengths in lens; a NULL
 * value pointer is SQL NULL.  Rows may have differing widths: checking them
 * against the schema is the caller's business.
 */
typedef struct GdChunk
{
	bool		present;
	int64_t		chunk_index;
	int64_t		row_offset;
	bool		has_next_index;
	int64_t		next_chunk_index;
	char	   *next_chunk_link;	/* next_chunk_internal_link */

	int64_t		nrows;
	int64_t    *row_start;		/* nrows + 1 entries */
	char	  **values;
	size_t	   *lens;

	/*
	 * Every value is well-formed UTF-8 without a NUL byte: set only by the
	 * in-place scanner when it decoded the body by itself (json-c's values
	 * may hold NULs from \u0000 and UTF-8 json-c accepts but is not
	 * well-formed).
	 */
	bool		values_checked;

	int			n_links;
	GdLink	   *links;
} GdChunk;

/* StatementResponse (bare, or wrapped in "statement_response"). */
typedef struct GdStatement
{
	char	   *statement_id;
	char	   *state;			/* PENDING RUNNING SUCCEEDED FAILED ... */
	char	   *error_code;
	char	   *error_message;
	char	   *sql_state;

	bool		has_manifest;
	char	   *format;
	int			ncolumns;
	GdColumn   *columns;		/* sorted by position */
	int64_t		total_chunk_count;
	int64_t		total_row_count;
	bool		truncated;

	GdChunk		result;			/* the first chunk, when present */
} GdStatement;

/* A Genie space, from list spaces. */
typedef struct GdSpace
{
	char	   *space_id;
	char	   *title;
	char	   *description;
} GdSpace;

typedef struct GdSpaceList
{
	int			nspaces;
	GdSpace    *spaces;
	char	   *next_page_token;
} GdSpaceList;

/* A conversation, from list conversations. */
typedef struct GdConversation
{
	char	   *conversation_id;
	char	   *title;
	bool		has_created;
	int64_t		created_timestamp;	/* epoch milliseconds */
} GdConversation;

typedef struct GdConversationList
{
	int			nconversations;
	GdConversation *conversations;
	char	   *next_page_token;
} GdConversationList;

/* generate-download response. */
typedef struct GdDownload
{
	char	   *download_id;
	char	   *download_id_signature;
} GdDownload;

/*
 * An error body: {"error_code", "message", "details"} or legacy {"error"}.
 * error_code is a string code ("PERMISSION_DENIED"); real workspaces also
 * send a number ({"error_code": 403, ...}), which goes to numeric_code and
 * leaves error_code NULL (it only repeats the HTTP status).  From details:
 * the first ErrorInfo's reason and the first request id (RequestInfo's
 * request_id, or an ErrorInfo metadata request_id).
 */
typedef struct GdApiError
{
	char	   *error_code;
	bool		has_numeric_code;
	int64_t		numeric_code;
	char	   *message;
	int			n_details;
	char	   *reason;
	char	   *request_id;
} GdApiError;

/* OAuth token endpoint response. */
typedef struct GdToken
{
	char	   *access_token;
	int64_t		expires_in;
} GdToken;

extern bool gd_decode_start(const char *buf, size_t len, GdArena *arena,
							GdStart *out, GdError *err);
extern bool gd_decode_message(const char *buf, size_t len, GdArena *arena,
							  GdMessage *out, GdError *err);
extern bool gd_decode_statement(const char *buf, size_t len, GdArena *arena,
								GdStatement *out, GdError *err);
extern bool gd_decode_chunk(const char *buf, size_t len, GdArena *arena,
							GdChunk *out, GdError *err);
extern bool gd_decode_rows(const char *buf, size_t len, GdArena *arena,
						   GdChunk *out, GdError *err);
extern bool gd_decode_spaces(const char *buf, size_t len, GdArena *arena,
							 GdSpaceList *out, GdError *err);
extern bool gd_decode_conversations(const char *buf, size_t len, GdArena *arena,
									GdConversationList *out, GdError *err);
extern bool gd_decode_download(const char *buf, size_t len, GdArena *arena,
							   GdDownload *out, GdError *err);
extern bool gd_decode_api_error(const char *buf, size_t len, GdArena *arena,
								GdApiError *out);
extern bool gd_decode_token(const char *buf, size_t len, GdArena *arena,
							GdToken *out, GdError *err);
extern char *gd_encode_question(const char *question, GdArena *arena);

/* Is this MessageStatus terminal? Unknown values are not. */
extern bool gd_status_is_terminal(const char *status);

/*
 * Fast in-place scanner for result chunks (rowscan.c).
 *
 * gd_scan_chunk and gd_scan_rows give the same GdChunk as gd_decode_chunk
 * and gd_decode_rows (or fail where they fail), without a json-c tree: the
 * values and next_chunk_link point into buf, which the scanner modifies
 * (strings are unescaped in place and NUL-terminated where their closing
 * quote was, numbers among the values where the byte after them was), so
 * buf must outlive the chunk; only row_start, values and lens come from the
 * arena.  A number among the values is its text as sent, in both decoders.
 * buf is modified only when the scanner succeeds by itself: what it does
 * not handle (external_links, booleans as values, duplicate keys, JSON that
 * json-c 0.16 accepts beyond RFC 8259...;
 * listed in rowscan.c) it hands, untouched, to the json-c decoder, whose
 * values are arena copies.  gd_scan_fallback_count tells how often that
 * happened in this process and, when last_reason is not NULL, why last.
 */
extern bool gd_scan_chunk(char *buf, size_t len, GdArena *arena,
						  GdChunk *out, GdError *err);
extern bool gd_scan_rows(char *buf, size_t len, GdArena *arena,
						 GdChunk *out, GdError *err);
extern uint64_t gd_scan_fallback_count(const char **last_reason);

/*
 * gd_decode_statement scans the first chunk (the StatementResponse's
 * "result") with the row scanner too, through gd_scan_statement_result, and
 * leaves the rest of the body to json-c; gd_decode_statement_tree decodes
 * the whole body with json-c (the fallback, and the fuzzer's reference).
 */
typedef enum GdScanOutcome
{
	GD_SCAN_NOT_HANDLED = 0,
	GD_SCAN_DONE,
	GD_SCAN_NOMEM
} GdScanOutcome;

extern GdScanOutcome gd_scan_statement_result(const char *buf, size_t len,
											  GdArena *arena, GdChunk *out,
											  size_t *rstart, size_t *rend,
											  GdError *err);
extern bool gd_decode_statement_tree(const char *buf, size_t len, GdArena *arena,
									 GdStatement *out, GdError *err);

#endif							/* GENIE_DECODE_H */
