/*-------------------------------------------------------------------------
 *
 * fuzz_decode.c
 *		  libFuzzer target over the JSON response decoders (genie_decode.c)
 *		  and the in-place row scanner (rowscan.c).
 *
 * Input layout:
 *
 *	byte 0	selector.  Low nibble: 0 start, 1 message, 2 statement, 3 chunk,
 *			4 rows, 5 spaces, 6 api_error, 7 token, 8 encode_question round
 *			trip, 9 rows scanner against the rows decoder, 10 chunk scanner
 *			against the chunk decoder, 11 statement decoder (first chunk
 *			scanned in place) against the json-c statement decoder, 12..15
 *			the same as 4..7.  Bit 0x40 set: "failing arena" mode, and byte
 *			1 is N, the number of allocations the arena grants before it
 *			refuses every later one.  The ASCII characters '0'..'9', ':' and
 *			';' therefore select a decoder in normal mode and 'p'..'{' select
 *			one in failing mode, so the seed corpus stays readable.
 *	rest	the response body handed to the decoder.
 *
 * Every arena allocation is a separate malloc of exactly the requested size
 * (so ASan's redzones sit right after it), filled with junk, recorded in a
 * list and freed after the input.  After a successful decode the harness
 * reads every byte the result points at and checks the structural invariants
 * documented in genie_decode.h; it also re-parses the body with json-c and
 * compares the decoded rows, columns, links and spaces with the JSON tree (a
 * number among the values must be an RFC 8259 number found in the body that
 * json-c reads as the tree's value: json-c's own text of it loses -0 and
 * clamps integers beyond 64 bits).
 * A decode that succeeds is then run again with the arena refusing one of
 * the allocations it made, chosen from a hash of the input, and must fail
 * with GD_NOMEM.
 *
 * Selectors 9 and 10 are differential: the body goes to gd_decode_rows /
 * gd_decode_chunk (json-c, its own unlimited arena) and a private copy of
 * it to gd_scan_rows / gd_scan_chunk (which write into their buffer).  Both
 * must succeed or both fail (unless the scanner's arena refused), and on
 * success they must give the same chunk: indexes, link, rows, every value's
 * NULL-ness, length and bytes.  A scanner that decoded by itself must have
 * pointed every value into its copy; one that failed or handed the body to
 * json-c must have left its copy untouched.
 *
 * Selector 11 is differential too: gd_decode_statement (which scans the
 * StatementResponse's "result" in place and leaves the rest to json-c) and
 * gd_decode_statement_tree (json-c alone, own unlimited arena) must both
 * succeed or both fail with the same status and message (unless the arena
 * refused), and on success give the same statement and first chunk.  When
 * the scanner took the result, its values must lie outside the body (in the
 * arena's copy), and the body must never change.
 *
 * Any violation calls abort(), which libFuzzer reports as a crash.  With FUZZ_DECODE_VERBOSE set in the environment each decode's
 * outcome is printed.
 *
 * Copyright (c) 2026, genie_fdw developers
 *
 * IDENTIFICATION
 *		  test/fuzz/fuzz_decode.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "genie_decode.h"

typedef struct json_object JObj;

#define CHECK(cond) \
	do { \
		if (!(cond)) \
		{ \
			fprintf(stderr, "fuzz_decode: invariant violated at %s:%d: %s\n", \
					__FILE__, __LINE__, #cond); \
			abort(); \
		} \
	} while (0)

/* ---------------------------------------------------------------- arena */

typedef struct FuzzArena
{
	void	  **ptrs;			/* every block handed out, freed at the end */
	size_t		nptrs;
	size_t		cap;
	long		limit;			/* allocations granted; < 0 = unlimited */
	long		ngranted;
	long		nrefused;
} FuzzArena;

static void *
fuzz_alloc(void *arg, size_t size)
{
	FuzzArena  *a = arg;
	void	   *p;

	CHECK(size > 0);			/* the decoders never ask for 0 bytes */
	if (a->limit >= 0 && a->ngranted >= a->limit)
	{
		a->nrefused++;
		return NULL;
	}
	if (a->nptrs == a->cap)
	{
		size_t		ncap = a->cap ? a->cap * 2 : 64;
		void	  **n = realloc(a->ptrs, ncap * sizeof(void *));

		if (n == NULL)
			abort();
		a->ptrs = n;
		a->cap = ncap;
	}
	p = malloc(size);
	if (p == NULL)
		abort();
	memset(p, 0xBE, size);		/* junk, so unset fields are not zero */
	a->ptrs[a->nptrs++] = p;
	a->ngranted++;
	return p;
}

static void
fuzz_arena_free(FuzzArena *a)
{
	size_t		i;

	for (i = 0; i < a->nptrs; i++)
		free(a->ptrs[i]);
	free(a->ptrs);
	memset(a, 0, sizeof(*a));
}

/* ---------------------------------------------------------- touch helpers */

static volatile size_t fuzz_sink;

/* Read every byte of a NUL-terminated string; NULL is fine. */
static size_t
touch_str(const char *s)
{
	size_t		l;
	size_t		i;
	unsigned	h = 0;

	if (s == NULL)
		return 0;
	l = strlen(s);
	for (i = 0; i < l; i++)
		h = h * 31 + (unsigned char) s[i];
	fuzz_sink += h;
	return l;
}

/* Read len bytes plus the terminating NUL the decoders promise. */
static void
touch_bytes(const char *s, size_t len)
{
	size_t		i;
	unsigned	h = 0;

	for (i = 0; i < len; i++)
		h = h * 31 + (unsigned char) s[i];
	CHECK(s[len] == '\0');
	fuzz_sink += h;
}

/* ------------------------------------------------------ json-c oracle */

/* Parse exactly as genie_decode.c does; NULL unless the whole body is JSON. */
static JObj *
oracle_parse(const char *buf, size_t len)
{
	struct json_tokener *tok;
	JObj	   *root;
	size_t		end;

	if (len == 0)
		return NULL;
	tok = json_tokener_new_ex(64);
	if (tok == NULL)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
						   JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, buf, (int) len);
	if (root != NULL && json_tokener_get_error(tok) != json_tokener_success)
	{
		json_object_put(root);
		root = NULL;
	}
	for (end = json_tokener_get_parse_end(tok); root != NULL && end < len; end++)
		if (buf[end] != ' ' && buf[end] != '\t' && buf[end] != '\n' && buf[end] != '\r')
		{
			json_object_put(root);
			root = NULL;
		}
	json_tokener_free(tok);
	return root;
}

/* Member of an object; NULL when absent, null, or obj is not an object. */
static JObj *
oget(JObj *obj, const char *key)
{
	JObj	   *v = NULL;

	if (obj == NULL || !json_object_is_type(obj, json_type_object))
		return NULL;
	if (!json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v;
}

/* The body fuzz_one is decoding (a number's text must come from it). */
static const char *oracle_body;
static size_t oracle_len;

/* Is s[0 .. len - 1] a number as RFC 8259 writes it? */
static bool
oracle_is_number(const char *s, size_t len)
{
	size_t		i = 0;
	size_t		d;

	if (i < len && s[i] == '-')
		i++;
	if (i < len && s[i] == '0')
		i++;
	else
	{
		for (d = i; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (i == d)
			return false;
	}
	if (i < len && s[i] == '.')
	{
		for (d = ++i; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (i == d)
			return false;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E'))
	{
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		for (d = i; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (i == d)
			return false;
	}
	return i == len;
}

/* Does the body hold s[0 .. len - 1]? */
static bool
oracle_contains(const char *s, size_t len)
{
	size_t		i;

	for (i = 0; oracle_body != NULL && len > 0 && i + len <= oracle_len; i++)
		if (memcmp(oracle_body + i, s, len) == 0)
			return true;
	return false;
}

/*
 * A number among the values must be decoded as its text as sent: an RFC
 * 8259 number, found in the body, that json-c reads as the tree's value
 * (json-c's own text of it may differ: -0 becomes 0, and integers beyond
 * 64 bits are clamped).
 */
static void
oracle_number(JObj *v, const char *val, size_t len)
{
	char	   *copy;
	JObj	   *again;

	CHECK(oracle_is_number(val, len));
	CHECK(oracle_contains(val, len));
	copy = malloc(len + 1);
	if (copy == NULL)
		abort();
	memcpy(copy, val, len);
	copy[len] = '\0';
	again = json_tokener_parse(copy);
	CHECK(again != NULL && json_object_get_type(again) == json_object_get_type(v));
	CHECK(json_object_equal(again, v));
	json_object_put(again);
	free(copy);
}

/* The decoded rows must be the JSON array of arrays, value for value. */
static void
oracle_rows(JObj *rows, const GdChunk *c)
{
	size_t		nrows;
	size_t		r;

	CHECK(rows != NULL && json_object_is_type(rows, json_type_array));
	nrows = json_object_array_length(rows);
	CHECK(c->nrows == (int64_t) nrows);
	for (r = 0; r < nrows; r++)
	{
		JObj	   *row = json_object_array_get_idx(rows, r);
		size_t		ncols;
		size_t		i;

		CHECK(row != NULL && json_object_is_type(row, json_type_array));
		ncols = json_object_array_length(row);
		CHECK(c->row_start[r + 1] - c->row_start[r] == (int64_t) ncols);
		for (i = 0; i < ncols; i++)
		{
			JObj	   *v = json_object_array_get_idx(row, i);
			int64_t		k = c->row_start[r] + (int64_t) i;
			const char *want;
			size_t		wlen;

			if (v == NULL)
			{
				CHECK(c->values[k] == NULL);
				continue;
			}
			CHECK(!json_object_is_type(v, json_type_array) &&
				  !json_object_is_type(v, json_type_object));
			if (json_object_is_type(v, json_type_string))
			{
				want = json_object_get_string(v);
				wlen = (size_t) json_object_get_string_len(v);
			}
			else if (json_object_is_type(v, json_type_int) ||
					 json_object_is_type(v, json_type_double))
			{
				CHECK(c->values[k] != NULL);
				oracle_number(v, c->values[k], c->lens[k]);
				continue;
			}
			else
			{
				want = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
				wlen = strlen(want);
			}
			CHECK(c->values[k] != NULL);
			CHECK(c->lens[k] == wlen);
			CHECK(memcmp(c->values[k], want, wlen) == 0);
		}
	}
}

/* ----------------------------------------------------------- walkers */

static void
walk_message(const GdMessage *m)
{
	int			i;

	touch_str(m->message_id);
	touch_str(m->conversation_id);
	touch_str(m->status);
	touch_str(m->error);
	touch_str(m->error_type);
	touch_str(m->attachment_id);
	touch_str(m->statement_id);
	touch_str(m->sql);
	touch_str(m->description);
	touch_str(m->title);
	touch_str(m->text);
	touch_str(m->follow_up);
	(void) gd_status_is_terminal(m->status);

	CHECK(m->n_query_attachments >= 0);
	CHECK(m->n_answer_texts >= 0 && m->n_follow_ups >= 0);
	CHECK(m->n_text_attachments == m->n_answer_texts + m->n_follow_ups);
	/* each text is present exactly when some text attachment of its kind had content */
	CHECK((m->n_answer_texts > 0) == (m->text != NULL));
	CHECK((m->n_follow_ups > 0) == (m->follow_up != NULL));
	CHECK(m->n_suggested_questions >= 0);
	CHECK((m->n_suggested_questions > 0) == (m->suggested_questions != NULL));
	for (i = 0; i < m->n_suggested_questions; i++)
	{
		CHECK(m->suggested_questions[i] != NULL);
		touch_str(m->suggested_questions[i]);
	}
	/* query fields come only from a query attachment */
	if (m->n_query_attachments == 0)
		CHECK(m->attachment_id == NULL && m->sql == NULL &&
			  m->description == NULL && m->title == NULL &&
			  !m->has_row_count && !m->is_truncated);
	if (!m->has_row_count)
		CHECK(m->row_count == 0);
}

static void
walk_chunk(const GdChunk *c, bool rows_expected)
{
	int64_t		r;
	int64_t		total;
	int			i;

	touch_str(c->next_chunk_link);
	CHECK(c->nrows >= 0);
	if (rows_expected)
		CHECK(c->row_start != NULL && c->values != NULL && c->lens != NULL);
	if (c->row_start == NULL)
	{
		CHECK(c->nrows == 0 && c->values == NULL && c->lens == NULL);
	}
	else
	{
		CHECK(c->values != NULL && c->lens != NULL);
		CHECK(c->row_start[0] == 0);
		for (r = 0; r < c->nrows; r++)
			CHECK(c->row_start[r] <= c->row_start[r + 1]);
		total = c->row_start[c->nrows];
		for (r = 0; r < total; r++)
		{
			if (c->values[r] == NULL)
				CHECK(c->lens[r] == 0);
			else
				touch_bytes(c->values[r], c->lens[r]);
		}
	}
	if (!c->has_next_index)
		CHECK(c->next_chunk_index == 0);

	CHECK(c->n_links >= 0);
	CHECK(c->n_links == 0 || c->links != NULL);
	for (i = 0; i < c->n_links; i++)
	{
		const GdLink *l = &c->links[i];
		int			h;

		CHECK(l->url != NULL);
		touch_str(l->url);
		touch_str(l->expiration);
		CHECK(l->n_headers >= 0);
		for (h = 0; h < l->n_headers; h++)
		{
			CHECK(l->header_names[h] != NULL && l->header_values[h] != NULL);
			touch_str(l->header_names[h]);
			touch_str(l->header_values[h]);
		}
		fuzz_sink += (size_t) l->chunk_index + (size_t) l->row_count;
	}
}

/* Compare a decoded chunk with its ResultData object. */
static void
oracle_chunk(JObj *r, const GdChunk *c)
{
	JObj	   *rows = oget(r, "data_array");
	JObj	   *links = oget(r, "external_links");
	int			i;

	if (rows != NULL)
		oracle_rows(rows, c);
	else
		CHECK(c->row_start == NULL);
	if (links != NULL)
	{
		CHECK(c->n_links == (int) json_object_array_length(links));
		for (i = 0; i < c->n_links; i++)
		{
			JObj	   *hdrs = oget(json_object_array_get_idx(links, i), "http_headers");

			CHECK(c->links[i].n_headers == (hdrs ? json_object_object_length(hdrs) : 0));
		}
	}
	else
		CHECK(c->n_links == 0);
}

static void
walk_statement(const GdStatement *s, JObj *root)
{
	JObj	   *st;
	JObj	   *cols;
	int			i;

	touch_str(s->statement_id);
	touch_str(s->state);
	touch_str(s->error_code);
	touch_str(s->error_message);
	touch_str(s->sql_state);
	touch_str(s->format);
	CHECK(s->state != NULL);
	CHECK(s->ncolumns >= 0);
	if (!s->has_manifest)
		CHECK(s->ncolumns == 0 && s->format == NULL && !s->truncated);
	CHECK(s->ncolumns == 0 || s->columns != NULL);
	for (i = 0; i < s->ncolumns; i++)
	{
		CHECK(s->columns[i].position == i);
		CHECK(s->columns[i].name != NULL);
		touch_str(s->columns[i].name);
		touch_str(s->columns[i].type_name);
		touch_str(s->columns[i].type_text);
	}
	if (s->result.present)
		walk_chunk(&s->result, false);
	else
		CHECK(s->result.row_start == NULL && s->result.n_links == 0);

	/* the oracle: bare or wrapped statement, as the decoder reads it */
	CHECK(root != NULL);
	st = oget(root, "statement_response");
	if (st == NULL)
		st = root;
	cols = oget(oget(oget(st, "manifest"), "schema"), "columns");
	CHECK(s->ncolumns == (cols ? (int) json_object_array_length(cols) : 0));
	CHECK(s->has_manifest == (oget(st, "manifest") != NULL));
	CHECK(s->result.present == (oget(st, "result") != NULL));
	if (s->result.present)
		oracle_chunk(oget(st, "result"), &s->result);
}

/* ---------------------------------------------------- scanner oracle */

/* The scanner's chunk must be the json-c decoder's, field by field. */
static void
compare_chunks(const GdChunk *ref, const GdChunk *got)
{
	int64_t		r;
	int64_t		total;
	int			i;

	CHECK(ref->present == got->present);
	CHECK(ref->chunk_index == got->chunk_index);
	CHECK(ref->row_offset == got->row_offset);
	CHECK(ref->has_next_index == got->has_next_index);
	CHECK(ref->next_chunk_index == got->next_chunk_index);
	CHECK((ref->next_chunk_link == NULL) == (got->next_chunk_link == NULL));
	if (ref->next_chunk_link != NULL)
		CHECK(strcmp(ref->next_chunk_link, got->next_chunk_link) == 0);
	CHECK(ref->nrows == got->nrows);
	CHECK((ref->row_start == NULL) == (got->row_start == NULL));
	CHECK((ref->values == NULL) == (got->values == NULL));
	CHECK((ref->lens == NULL) == (got->lens == NULL));
	if (ref->row_start != NULL)
	{
		for (r = 0; r <= ref->nrows; r++)
			CHECK(ref->row_start[r] == got->row_start[r]);
		total = ref->row_start[ref->nrows];
		for (r = 0; r < total; r++)
		{
			CHECK((ref->values[r] == NULL) == (got->values[r] == NULL));
			CHECK(ref->lens[r] == got->lens[r]);
			if (ref->values[r] != NULL)
				CHECK(memcmp(ref->values[r], got->values[r], ref->lens[r]) == 0);
		}
	}
	CHECK(ref->n_links == got->n_links);
	for (i = 0; i < ref->n_links; i++)
	{
		CHECK(strcmp(ref->links[i].url, got->links[i].url) == 0);
		CHECK(ref->links[i].n_headers == got->links[i].n_headers);
	}
}

/*
 * Run the scanner (chunk or rows) on a copy of the body with the given arena
 * and the json-c decoder on the body with an unlimited arena of its own, and
 * hold them to the same outcome.  Returns the scanner's success.
 */
static bool
fuzz_scan(bool chunk, const char *buf, size_t len, GdArena *arena,
		  FuzzArena *fa, GdError *err)
{
	FuzzArena	rfa;
	GdArena		rarena;
	GdChunk		ref;
	GdChunk		got;
	GdError		rerr;
	bool		rok;
	bool		ok;
	bool		fell;
	char	   *copy;
	uint64_t	before;
	const char *why = NULL;

	memset(&rfa, 0, sizeof(rfa));
	rfa.limit = -1;
	rarena.alloc = fuzz_alloc;
	rarena.arg = &rfa;
	memset(&ref, 0xA5, sizeof(ref));
	rok = chunk ? gd_decode_chunk(buf, len, &rarena, &ref, &rerr)
		: gd_decode_rows(buf, len, &rarena, &ref, &rerr);

	/* an exact-size copy, so ASan sees any read or write past the body */
	copy = malloc(len > 0 ? len : 1);
	if (copy == NULL)
		abort();
	memcpy(copy, buf, len);
	before = gd_scan_fallback_count(NULL);
	memset(&got, 0xA5, sizeof(got));
	ok = chunk ? gd_scan_chunk(len > 0 ? copy : NULL, len, arena, &got, err)
		: gd_scan_rows(len > 0 ? copy : NULL, len, arena, &got, err);
	fell = gd_scan_fallback_count(&why) != before;

	if (getenv("FUZZ_DECODE_VERBOSE") != NULL)
		fprintf(stderr, "fuzz_decode: %s scanner %s%s%s; json-c %s%s\n",
				chunk ? "chunk" : "rows", ok ? "ok" : "failed",
				fell ? ", handed to json-c: " : "", fell ? why : "",
				rok ? "ok" : "failed: ", rok ? "" : rerr.message);

	if (ok)
	{
		CHECK(got.present);
		walk_chunk(&got, !chunk);
		CHECK(rok);
		compare_chunks(&ref, &got);
		if (!fell)
		{
			int64_t		total = got.row_start ? got.row_start[got.nrows] : 0;
			int64_t		k;

			/* in place: every value and the link lie inside the copy */
			for (k = 0; k < total; k++)
				if (got.values[k] != NULL)
					CHECK(got.values[k] >= copy &&
						  got.values[k] + got.lens[k] < copy + len);
			if (got.next_chunk_link != NULL)
				CHECK(got.next_chunk_link >= copy &&
					  got.next_chunk_link + strlen(got.next_chunk_link) < copy + len);
		}
	}
	else
	{
		/* json-c accepting what the scanner rejects is a bug, unless the
		 * scanner's arena ran dry */
		if (fa->nrefused == 0)
			CHECK(!rok);
	}
	/* the buffer changes only when the scanner decodes it by itself */
	if (!ok || fell)
		CHECK(len == 0 || memcmp(copy, buf, len) == 0);

	free(copy);
	fuzz_arena_free(&rfa);
	return ok;
}

/* Two decoded statements must be the same, field by field. */
static void
compare_statements(const GdStatement *a, const GdStatement *b)
{
	int			i;

#define SAME_STR(x, y) CHECK(((x) == NULL) == ((y) == NULL) && ((x) == NULL || strcmp((x), (y)) == 0))
	SAME_STR(a->statement_id, b->statement_id);
	SAME_STR(a->state, b->state);
	SAME_STR(a->error_code, b->error_code);
	SAME_STR(a->error_message, b->error_message);
	SAME_STR(a->sql_state, b->sql_state);
	SAME_STR(a->format, b->format);
	CHECK(a->has_manifest == b->has_manifest);
	CHECK(a->ncolumns == b->ncolumns);
	CHECK(a->total_chunk_count == b->total_chunk_count);
	CHECK(a->total_row_count == b->total_row_count);
	CHECK(a->truncated == b->truncated);
	for (i = 0; i < a->ncolumns; i++)
	{
		SAME_STR(a->columns[i].name, b->columns[i].name);
		SAME_STR(a->columns[i].type_name, b->columns[i].type_name);
		SAME_STR(a->columns[i].type_text, b->columns[i].type_text);
		CHECK(a->columns[i].position == b->columns[i].position);
	}
#undef SAME_STR
	compare_chunks(&a->result, &b->result);
}

/*
 * The statement decoder against the json-c statement decoder; returns the
 * former's success.
 */
static bool
fuzz_statement(const char *buf, size_t len, GdArena *arena, FuzzArena *fa,
			   GdError *err)
{
	FuzzArena	rfa;
	GdArena		rarena;
	GdStatement ref;
	GdStatement got;
	GdError		rerr;
	bool		rok;
	bool		ok;
	char	   *copy;
	GdChunk		probe;
	size_t		rs = 0,
				re = 0;
	GdScanOutcome scanned;

	memset(&rfa, 0, sizeof(rfa));
	rfa.limit = -1;
	rarena.alloc = fuzz_alloc;
	rarena.arg = &rfa;
	memset(&ref, 0xA5, sizeof(ref));
	memset(&rerr, 0, sizeof(rerr));
	rok = gd_decode_statement_tree(buf, len, &rarena, &ref, &rerr);

	/* an exact-size copy, so ASan sees any read past the body */
	copy = malloc(len > 0 ? len : 1);
	if (copy == NULL)
		abort();
	memcpy(copy, buf, len);
	memset(&got, 0xA5, sizeof(got));
	ok = gd_decode_statement(len > 0 ? copy : NULL, len, arena, &got, err);
	CHECK(len == 0 || memcmp(copy, buf, len) == 0);

	/* did the scanner take the result?  (its own unlimited arena) */
	scanned = gd_scan_statement_result(len > 0 ? copy : NULL, len, &rarena, &probe,
									   &rs, &re, NULL);
	CHECK(scanned != GD_SCAN_NOMEM);
	if (scanned == GD_SCAN_DONE)
	{
		/* valid JSON (json-c may still find the wrong shape elsewhere) */
		CHECK(rok || rerr.status == GD_SHAPE);
		CHECK(rs < re && re <= len && copy[rs] == '{' && copy[re - 1] == '}');
		CHECK(probe.values_checked);
	}
	CHECK(len == 0 || memcmp(copy, buf, len) == 0);

	if (getenv("FUZZ_DECODE_VERBOSE") != NULL)
		fprintf(stderr, "fuzz_decode: statement %s, result %s; json-c %s%s\n",
				ok ? "ok" : "failed", scanned == GD_SCAN_DONE ? "scanned" : "not scanned",
				rok ? "ok" : "failed: ", rok ? "" : rerr.message);

	if (ok)
	{
		CHECK(rok);
		CHECK(got.state != NULL);
		if (got.result.present)
			walk_chunk(&got.result, false);
		compare_statements(&ref, &got);
		if (scanned == GD_SCAN_DONE && got.result.row_start != NULL)
		{
			int64_t		total = got.result.row_start[got.result.nrows];
			int64_t		k;

			CHECK(got.result.values_checked);
			for (k = 0; k < total; k++)
				if (got.result.values[k] != NULL)
				{
					CHECK(got.result.values[k] + got.result.lens[k] <= copy ||
						  got.result.values[k] >= copy + len);
					/* scanner values are well-formed UTF-8 without NUL */
					CHECK(memchr(got.result.values[k], '\0', got.result.lens[k]) == NULL);
				}
		}
	}
	else if (fa->nrefused == 0)
	{
		CHECK(!rok);
		CHECK(err->status == rerr.status);
		CHECK(strcmp(err->message, rerr.message) == 0);
	}

	free(copy);
	fuzz_arena_free(&rfa);
	return ok;
}

/* ------------------------------------------------------------ driver */

/* encode_question must round-trip through json-c; false when out of memory. */
static bool
fuzz_encode(const uint8_t *data, size_t size, GdArena *arena, FuzzArena *fa)
{
	char	   *q = malloc(size + 1);
	char	   *enc;
	JObj	   *obj;
	JObj	   *content;

	if (q == NULL)
		abort();
	memcpy(q, data, size);
	q[size] = '\0';
	enc = gd_encode_question(q, arena);
	if (enc == NULL)
	{
		CHECK(fa->nrefused > 0);
		free(q);
		return false;
	}
	touch_str(enc);
	obj = json_tokener_parse(enc);
	CHECK(obj != NULL && json_object_is_type(obj, json_type_object));
	CHECK(json_object_object_length(obj) == 1);
	content = oget(obj, "content");
	CHECK(content != NULL && json_object_is_type(content, json_type_string));
	CHECK((size_t) json_object_get_string_len(content) == strlen(q));
	CHECK(memcmp(json_object_get_string(content), q, strlen(q)) == 0);
	json_object_put(obj);
	free(q);
	return true;
}

/*
 * Decode one body with decoder "which" and an arena that grants "limit"
 * allocations (< 0: unlimited), then check the result.  Returns whether the
 * decode succeeded; *granted is the number of allocations it was given.
 */
static bool
fuzz_one(unsigned which, const char *buf, size_t len, long limit, long *granted)
{
	FuzzArena	fa;
	GdArena		arena;
	GdError		err;
	bool		ok;
	bool		has_err = true;
	JObj	   *root = NULL;

	memset(&fa, 0, sizeof(fa));
	fa.limit = limit;
	arena.alloc = fuzz_alloc;
	arena.arg = &fa;
	memset(&err, 0x5A, sizeof(err));	/* the decoder must overwrite it */
	oracle_body = buf;
	oracle_len = len;

	switch (which)
	{
		case 0:
			{
				GdStart		out;

				memset(&out, 0xA5, sizeof(out));
				ok = gd_decode_start(buf, len, &arena, &out, &err);
				if (ok)
				{
					CHECK(out.conversation_id != NULL && out.message_id != NULL);
					touch_str(out.conversation_id);
					touch_str(out.message_id);
					walk_message(&out.message);
				}
				break;
			}
		case 1:
			{
				GdMessage	out;

				memset(&out, 0xA5, sizeof(out));
				ok = gd_decode_message(buf, len, &arena, &out, &err);
				if (ok)
				{
					CHECK(out.status != NULL);
					walk_message(&out);
				}
				break;
			}
		case 2:
			{
				GdStatement out;

				memset(&out, 0xA5, sizeof(out));
				ok = gd_decode_statement(buf, len, &arena, &out, &err);
				if (ok)
				{
					root = oracle_parse(buf, len);
					walk_statement(&out, root);
				}
				break;
			}
		case 3:
			{
				GdChunk		out;

				memset(&out, 0xA5, sizeof(out));
				ok = gd_decode_chunk(buf, len, &arena, &out, &err);
				if (ok)
				{
					CHECK(out.present);
					walk_chunk(&out, false);
					root = oracle_parse(buf, len);
					CHECK(root != NULL);
					oracle_chunk(root, &out);
				}
				break;
			}
		case 4:
			{
				GdChunk		out;

				memset(&out, 0xA5, sizeof(out));
				ok = gd_decode_rows(buf, len, &arena, &out, &err);
				if (ok)
				{
					CHECK(out.present && out.n_links == 0);
					walk_chunk(&out, true);
					root = oracle_parse(buf, len);
					CHECK(root != NULL);
					oracle_rows(root, &out);
				}
				break;
			}
		case 5:
			{
				GdSpaceList out;
				int			i;

				memset(&out, 0xA5, sizeof(out));
				ok = gd_decode_spaces(buf, len, &arena, &out, &err);
				if (ok)
				{
					JObj	   *spaces;

					CHECK(out.nspaces >= 0);
					CHECK(out.nspaces == 0 || out.spaces != NULL);
					for (i = 0; i < out.nspaces; i++)
					{
						touch_str(out.spaces[i].space_id);
						touch_str(out.spaces[i].title);
						touch_str(out.spaces[i].description);
					}
					touch_str(out.next_page_token);
					root = oracle_parse(buf, len);
					spaces = oget(root, "spaces");
					CHECK(out.nspaces == (spaces ? (int) json_object_array_length(spaces) : 0));
				}
				break;
			}
		case 6:
			{
				GdApiError	out;

				memset(&out, 0xA5, sizeof(out));
				has_err = false;
				ok = gd_decode_api_error(buf, len, &arena, &out);
				if (ok)
				{
					CHECK(out.error_code != NULL || out.message != NULL);
					CHECK(!(out.has_numeric_code && out.error_code != NULL));
					CHECK(out.n_details >= 0);
					CHECK(out.n_details > 0 || (out.reason == NULL && out.request_id == NULL));
					touch_str(out.error_code);
					touch_str(out.message);
					touch_str(out.reason);
					touch_str(out.request_id);
				}
				break;
			}
		case 7:
			{
				GdToken		out;

				memset(&out, 0xA5, sizeof(out));
				ok = gd_decode_token(buf, len, &arena, &out, &err);
				if (ok)
				{
					CHECK(out.access_token != NULL);
					touch_str(out.access_token);
					fuzz_sink += (size_t) out.expires_in;
				}
				break;
			}
		case 9:
		case 10:
			ok = fuzz_scan(which == 10, buf, len, &arena, &fa, &err);
			break;
		case 11:
			ok = fuzz_statement(buf, len, &arena, &fa, &err);
			break;
		default:
			ok = fuzz_encode((const uint8_t *) buf, len, &arena, &fa);
			*granted = fa.ngranted;
			fuzz_arena_free(&fa);
			return ok;
	}

	if (getenv("FUZZ_DECODE_VERBOSE") != NULL)
		fprintf(stderr, "fuzz_decode: decoder %u, arena limit %ld: %s%s%s\n",
				which, limit, ok ? "ok" : "failed",
				ok || !has_err ? "" : ": ", ok || !has_err ? "" : err.message);

	/* an allocation the arena refused must fail the decode with GD_NOMEM */
	if (fa.nrefused > 0)
		CHECK(!ok);
	if (!ok && has_err)
	{
		CHECK(err.status == GD_SYNTAX || err.status == GD_SHAPE || err.status == GD_NOMEM);
		CHECK(memchr(err.message, '\0', sizeof(err.message)) != NULL);
		CHECK(strchr(err.message, '\n') == NULL);
		CHECK(err.message[0] != '\0');
		CHECK((err.status == GD_NOMEM) == (fa.nrefused > 0));
	}

	if (root != NULL)
		json_object_put(root);
	*granted = fa.ngranted;
	fuzz_arena_free(&fa);
	return ok;
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned	which;
	long		limit = -1;
	long		granted = 0;
	uint32_t	h = 2166136261u;
	size_t		i;

	if (size < 1)
		return 0;
	which = data[0] & 0x0f;
	if (which > 11)
		which -= 8;
	data++;
	size--;
	if (data[-1] & 0x40)
	{
		if (size < 1)
			return 0;
		limit = data[0];
		data++;
		size--;
	}

	/*
	 * A decode that succeeds is run again with the arena refusing one of the
	 * allocations it made (which one depends on the input), so every
	 * allocation site meets GD_NOMEM, however deep into a large body it is.
	 */
	if (fuzz_one(which, (const char *) data, size, limit, &granted) &&
		limit < 0 && granted > 0)
	{
		long		again;

		for (i = 0; i < size; i++)
			h = (h ^ data[i]) * 16777619u;
		CHECK(!fuzz_one(which, (const char *) data, size,
						(long) (h % (uint32_t) granted), &again));
	}
	return 0;
}
