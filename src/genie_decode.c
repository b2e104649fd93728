/*-------------------------------------------------------------------------
 *
 * genie_decode.c
 *		  JSON response decoders for the Genie and Statement Execution APIs.
 *
 * Owns every use of json-c in genie_fdw.  Each decoder parses one response
 * body strictly (the whole body must be one JSON value), walks the tree
 * tolerantly (absent fields mean their default, unknown fields are ignored,
 * int64 fields may be numbers or strings), copies what the client needs into
 * the caller's arena and releases the json-c tree before returning.  Nothing
 * here includes PostgreSQL headers (json-c's json_object clashes with
 * utils/builtins.h), calls ereport or longjmps, so no json-c object can leak
 * on an error path and the decoders can be fuzzed outside a backend.
 *
 * Copyright (c) 2026, genie_fdw developers
 *
 * IDENTIFICATION
 *		  src/genie_decode.c
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "genie_decode.h"

/* Deepest nesting accepted; real responses are about 6 levels deep. */
#define GD_MAX_DEPTH 64

typedef struct json_object JObj;

/* How every body is parsed (and parsed again by gd_exact_twin). */
#define GD_TOKENER_FLAGS \
	(JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS | JSON_TOKENER_VALIDATE_UTF8)

/* Decoding context: arena plus error slot, and the body being decoded. */
typedef struct GdCtx
{
	GdArena    *arena;
	GdError    *err;
	bool		failed;
	const char *buf;			/* the body gd_parse parsed */
	size_t		len;
	JObj	   *root;			/* its tree */
	JObj	   *exact;			/* the same body with its integers quoted
								 * (gd_exact_twin), or NULL */
} GdCtx;

#if defined(__GNUC__)
static void gd_fail(GdCtx *cx, GdStatus status, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));
#endif

static void
gd_fail(GdCtx *cx, GdStatus status, const char *fmt,...)
{
	va_list		ap;

	if (cx->failed)
		return;
	cx->failed = true;
	if (cx->err == NULL)
		return;
	cx->err->status = status;
	va_start(ap, fmt);
	vsnprintf(cx->err->message, sizeof(cx->err->message), fmt, ap);
	va_end(ap);
}

static void *
gd_alloc(GdCtx *cx, size_t size)
{
	void	   *p;

	if (cx->failed)
		return NULL;
	p = cx->arena->alloc(cx->arena->arg, size == 0 ? 1 : size);
	if (p == NULL)
		gd_fail(cx, GD_NOMEM, "out of memory while decoding a response");
	return p;
}

static char *
gd_strndup(GdCtx *cx, const char *s, size_t len)
{
	char	   *p = gd_alloc(cx, len + 1);

	if (p == NULL)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/*
 * gd_parse
 *		Parse a whole buffer as one JSON value, or fail with GD_SYNTAX.
 */
static JObj *
gd_parse(GdCtx *cx, const char *buf, size_t len)
{
	struct json_tokener *tok;
	JObj	   *root;
	enum json_tokener_error jerr;
	size_t		end;

	if (buf == NULL || len == 0)
	{
		gd_fail(cx, GD_SYNTAX, "empty response body");
		return NULL;
	}
	if (len > (size_t) INT32_MAX)
	{
		gd_fail(cx, GD_SYNTAX, "response body too large to parse");
		return NULL;
	}
	tok = json_tokener_new_ex(GD_MAX_DEPTH);
	if (tok == NULL)
	{
		gd_fail(cx, GD_NOMEM, "out of memory while parsing a response");
		return NULL;
	}
	json_tokener_set_flags(tok, GD_TOKENER_FLAGS);
	root = json_tokener_parse_ex(tok, buf, (int) len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (root == NULL || jerr != json_tokener_success)
	{
		if (jerr == json_tokener_continue)
			gd_fail(cx, GD_SYNTAX, "response body is not complete JSON (truncated after %zu bytes)", len);
		else
			gd_fail(cx, GD_SYNTAX, "response body is not valid JSON (%s at byte %zu)",
					json_tokener_error_desc(jerr), end);
		if (root)
			json_object_put(root);
		json_tokener_free(tok);
		return NULL;
	}
	/* only white space may follow the value */
	for (; end < len; end++)
	{
		char		c = buf[end];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
		{
			gd_fail(cx, GD_SYNTAX, "response body has data after the JSON value (byte %zu)", end);
			json_object_put(root);
			json_tokener_free(tok);
			return NULL;
		}
	}
	json_tokener_free(tok);
	cx->buf = buf;
	cx->len = len;
	cx->root = root;
	return root;
}

/* Release the trees of a decode that gd_parse started. */
static void
gd_release(GdCtx *cx)
{
	if (cx->root != NULL)
		json_object_put(cx->root);
	if (cx->exact != NULL)
		json_object_put(cx->exact);
	cx->root = NULL;
	cx->exact = NULL;
}

/* Member of an object, or NULL when absent, JSON null, or obj not an object. */
static JObj *
gd_get(JObj *obj, const char *key)
{
	JObj	   *v = NULL;

	if (obj == NULL || !json_object_is_type(obj, json_type_object))
		return NULL;
	if (!json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v;					/* NULL for JSON null */
}

static JObj *
gd_get_object(GdCtx *cx, JObj *obj, const char *key)
{
	JObj	   *v = gd_get(obj, key);

	if (v != NULL && !json_object_is_type(v, json_type_object))
	{
		gd_fail(cx, GD_SHAPE, "field \"%s\" is not an object", key);
		return NULL;
	}
	return v;
}

static JObj *
gd_get_array(GdCtx *cx, JObj *obj, const char *key)
{
	JObj	   *v = gd_get(obj, key);

	if (v != NULL && !json_object_is_type(v, json_type_array))
	{
		gd_fail(cx, GD_SHAPE, "field \"%s\" is not an array", key);
		return NULL;
	}
	return v;
}

/* A string field. */
static char *
gd_get_string(GdCtx *cx, JObj *obj, const char *key)
{
	JObj	   *v = gd_get(obj, key);

	if (v == NULL)
		return NULL;
	if (json_object_is_type(v, json_type_string))
		return gd_strndup(cx, json_object_get_string(v),
						  (size_t) json_object_get_string_len(v));
	gd_fail(cx, GD_SHAPE, "field \"%s\" is not a string", key);
	return NULL;
}

/* An id field: a string, or an integer copied as text. */
static char *
gd_get_id(GdCtx *cx, JObj *obj, const char *key)
{
	JObj	   *v = gd_get(obj, key);

	if (v == NULL)
		return NULL;
	if (json_object_is_type(v, json_type_string))
		return gd_strndup(cx, json_object_get_string(v),
						  (size_t) json_object_get_string_len(v));
	if (json_object_is_type(v, json_type_int))
	{
		char		tmp[32];

		snprintf(tmp, sizeof(tmp), "%lld", (long long) json_object_get_int64(v));
		return gd_strndup(cx, tmp, strlen(tmp));
	}
	gd_fail(cx, GD_SHAPE, "field \"%s\" is not a string", key);
	return NULL;
}

/* An int64 field given as a JSON number or a decimal string. */
static bool
gd_get_int64(GdCtx *cx, JObj *obj, const char *key, int64_t *out)
{
	JObj	   *v = gd_get(obj, key);

	if (v == NULL)
		return false;
	if (json_object_is_type(v, json_type_int))
	{
		errno = 0;
		*out = json_object_get_int64(v);
		if (errno == EINVAL)
		{
			gd_fail(cx, GD_SHAPE, "field \"%s\" is not an integer", key);
			return false;
		}
		return true;
	}
	if (json_object_is_type(v, json_type_double))
	{
		double		d = json_object_get_double(v);

		if (d >= -9.2e18 && d <= 9.2e18 && d == (double) (int64_t) d)
		{
			*out = (int64_t) d;
			return true;
		}
	}
	else if (json_object_is_type(v, json_type_string))
	{
		const char *s = json_object_get_string(v);
		char	   *end;
		long long	ll;

		errno = 0;
		ll = strtoll(s, &end, 10);
		if (errno == 0 && end != s && *end == '\0')
		{
			*out = (int64_t) ll;
			return true;
		}
	}
	gd_fail(cx, GD_SHAPE, "field \"%s\" is not an integer", key);
	return false;
}

static bool
gd_get_bool(GdCtx *cx, JObj *obj, const char *key)
{
	JObj	   *v = gd_get(obj, key);

	if (v == NULL)
		return false;
	if (json_object_is_type(v, json_type_boolean))
		return json_object_get_boolean(v) != 0;
	if (json_object_is_type(v, json_type_string))
		return strcmp(json_object_get_string(v), "true") == 0;
	gd_fail(cx, GD_SHAPE, "field \"%s\" is not a boolean", key);
	return false;
}

static bool
gd_require_object(GdCtx *cx, JObj *root, const char *what)
{
	if (!json_object_is_type(root, json_type_object))
	{
		gd_fail(cx, GD_SHAPE, "%s is not a JSON object", what);
		return false;
	}
	return true;
}

/* Is this text attachment Genie's clarifying (follow-up) question? */
static bool
gd_text_is_follow_up(JObj *t)
{
	JObj	   *p = gd_get(t, "purpose");

	return p != NULL && json_object_is_type(p, json_type_string) &&
		strcmp(json_object_get_string(p), "FOLLOW_UP_QUESTION") == 0;
}

/*
 * gd_join_texts
 *		The contents of the text attachments that are (follow_up) or are not
 *		follow-up questions, joined with a blank line; NULL when there are none.
 *		A text without a purpose (as in older captures) is an answer.
 */
static char *
gd_join_texts(GdCtx *cx, JObj *atts, size_t n, bool follow_up, int *count)
{
	size_t		i;
	size_t		len = 0;
	char	   *buf;
	char	   *p;

	*count = 0;
	for (i = 0; i < n; i++)
	{
		JObj	   *t = gd_get(json_object_array_get_idx(atts, i), "text");
		JObj	   *c = gd_get(t, "content");

		if (c == NULL || !json_object_is_type(t, json_type_object) ||
			!json_object_is_type(c, json_type_string) ||
			gd_text_is_follow_up(t) != follow_up)
			continue;
		len += (size_t) json_object_get_string_len(c) + 2;
		(*count)++;
	}
	if (*count == 0)
		return NULL;
	buf = p = gd_alloc(cx, len + 1);
	for (i = 0; p != NULL && i < n; i++)
	{
		JObj	   *t = gd_get(json_object_array_get_idx(atts, i), "text");
		JObj	   *c = gd_get(t, "content");
		size_t		l;

		if (c == NULL || !json_object_is_type(t, json_type_object) ||
			!json_object_is_type(c, json_type_string) ||
			gd_text_is_follow_up(t) != follow_up)
			continue;
		if (p != buf)
		{
			*p++ = '\n';
			*p++ = '\n';
		}
		l = (size_t) json_object_get_string_len(c);
		memcpy(p, json_object_get_string(c), l);
		p += l;
	}
	if (p != NULL)
		*p = '\0';
	return buf;
}

/*
 * gd_message_from
 *		Fill a GdMessage from a GenieMessage object.
 */
static void
gd_message_from(GdCtx *cx, JObj *m, GdMessage *out)
{
	JObj	   *err;
	JObj	   *atts;
	size_t		i,
				n;
	JObj	   *last_query = NULL;
	JObj	   *last_query_att = NULL;

	memset(out, 0, sizeof(*out));
	out->message_id = gd_get_id(cx, m, "message_id");
	if (out->message_id == NULL)
		out->message_id = gd_get_id(cx, m, "id");
	out->conversation_id = gd_get_id(cx, m, "conversation_id");
	out->status = gd_get_string(cx, m, "status");

	err = gd_get(m, "error");
	if (err != NULL)
	{
		if (json_object_is_type(err, json_type_object))
		{
			out->error = gd_get_string(cx, err, "error");
			out->error_type = gd_get_string(cx, err, "type");
		}
		else if (json_object_is_type(err, json_type_string))
			out->error = gd_get_string(cx, m, "error");
		else
			gd_fail(cx, GD_SHAPE, "field \"error\" is not an object");
	}

	atts = gd_get_array(cx, m, "attachments");
	n = atts ? json_object_array_length(atts) : 0;

	/* the last query attachment, and how many of each kind */
	for (i = 0; i < n && !cx->failed; i++)
	{
		JObj	   *a = json_object_array_get_idx(atts, i);
		JObj	   *q;
		JObj	   *sq;

		if (a == NULL)
			continue;
		if (!json_object_is_type(a, json_type_object))
		{
			gd_fail(cx, GD_SHAPE, "an attachment is not an object");
			break;
		}
		q = gd_get_object(cx, a, "query");
		if (q != NULL)
		{
			out->n_query_attachments++;
			last_query = q;
			last_query_att = a;
		}
		(void) gd_get_object(cx, a, "text");	/* checks its shape */
		sq = gd_get_object(cx, a, "suggested_questions");
		if (sq != NULL)
		{
			JObj	   *qs = gd_get_array(cx, sq, "questions");
			size_t		k;

			for (k = 0; qs != NULL && k < json_object_array_length(qs); k++)
			{
				JObj	   *v = json_object_array_get_idx(qs, k);

				if (v != NULL && json_object_is_type(v, json_type_string))
					out->n_suggested_questions++;
			}
		}
	}

	if (!cx->failed)
	{
		out->text = gd_join_texts(cx, atts, n, false, &out->n_answer_texts);
		out->follow_up = gd_join_texts(cx, atts, n, true, &out->n_follow_ups);
		out->n_text_attachments = out->n_answer_texts + out->n_follow_ups;
	}

	if (!cx->failed && out->n_suggested_questions > 0)
	{
		int			k = 0;

		out->suggested_questions = gd_alloc(cx, sizeof(char *) * out->n_suggested_questions);
		for (i = 0; out->suggested_questions != NULL && i < n && !cx->failed; i++)
		{
			JObj	   *sq = gd_get(json_object_array_get_idx(atts, i), "suggested_questions");
			JObj	   *qs = gd_get(sq, "questions");
			size_t		j;

			if (qs == NULL || !json_object_is_type(qs, json_type_array))
				continue;
			for (j = 0; j < json_object_array_length(qs) && !cx->failed; j++)
			{
				JObj	   *v = json_object_array_get_idx(qs, j);

				if (v != NULL && json_object_is_type(v, json_type_string) &&
					k < out->n_suggested_questions)
					out->suggested_questions[k++] =
						gd_strndup(cx, json_object_get_string(v),
								   (size_t) json_object_get_string_len(v));
			}
		}
	}

	if (!cx->failed && last_query != NULL)
	{
		JObj	   *meta;

		out->attachment_id = gd_get_id(cx, last_query_att, "attachment_id");
		if (out->attachment_id == NULL)
			out->attachment_id = gd_get_id(cx, last_query, "id");
		out->statement_id = gd_get_id(cx, last_query, "statement_id");
		out->sql = gd_get_string(cx, last_query, "query");
		out->description = gd_get_string(cx, last_query, "description");
		out->title = gd_get_string(cx, last_query, "title");
		meta = gd_get_object(cx, last_query, "query_result_metadata");
		if (meta != NULL)
		{
			out->has_row_count = gd_get_int64(cx, meta, "row_count", &out->row_count);
			out->is_truncated = gd_get_bool(cx, meta, "is_truncated");
		}
	}

	/* the deprecated top-level query_result, when attachments lack an id */
	if (!cx->failed && out->statement_id == NULL)
	{
		JObj	   *qr = gd_get_object(cx, m, "query_result");

		if (qr != NULL)
			out->statement_id = gd_get_id(cx, qr, "statement_id");
	}
}

/* Fills a decoded struct from the response's top-level object. */
typedef void (*GdObjectFn) (GdCtx *cx, JObj *root, void *out);

/*
 * gd_decode_object
 *		Parse a body that must be one JSON object and let fill read it.
 */
static bool
gd_decode_object(const char *buf, size_t len, GdArena *arena, GdError *err,
				 const char *what, GdObjectFn fill, void *out)
{
	GdCtx		cx = {.arena = arena, .err = err};
	JObj	   *root = gd_parse(&cx, buf, len);

	if (root == NULL)
		return false;
	if (gd_require_object(&cx, root, what))
		fill(&cx, root, out);
	gd_release(&cx);
	return !cx.failed;
}

static void
gd_message_fill(GdCtx *cx, JObj *root, void *out)
{
	GdMessage  *m = (GdMessage *) out;

	gd_message_from(cx, root, m);
	if (!cx->failed && m->status == NULL)
		gd_fail(cx, GD_SHAPE, "message has no \"status\"");
}

bool
gd_decode_message(const char *buf, size_t len, GdArena *arena,
				  GdMessage *out, GdError *err)
{
	memset(out, 0, sizeof(*out));
	return gd_decode_object(buf, len, arena, err, "message", gd_message_fill, out);
}


static void
gd_start_fill(GdCtx *cx, JObj *root, void *dest)
{
	GdStart    *out = (GdStart *) dest;
	JObj	   *m;

	out->conversation_id = gd_get_id(cx, root, "conversation_id");
	out->message_id = gd_get_id(cx, root, "message_id");
	m = gd_get_object(cx, root, "message");
	/* a create-message response is the message itself */
	gd_message_from(cx, m != NULL ? m : root, &out->message);
	if (out->conversation_id == NULL)
	{
		JObj	   *c = gd_get_object(cx, root, "conversation");

		if (c != NULL)
		{
			out->conversation_id = gd_get_id(cx, c, "conversation_id");
			if (out->conversation_id == NULL)
				out->conversation_id = gd_get_id(cx, c, "id");
		}
		if (out->conversation_id == NULL)
			out->conversation_id = out->message.conversation_id;
	}
	if (out->message_id == NULL)
		out->message_id = out->message.message_id;
	if (!cx->failed && (out->conversation_id == NULL || out->message_id == NULL))
		gd_fail(cx, GD_SHAPE, "response has no conversation_id or message_id");
}

bool
gd_decode_start(const char *buf, size_t len, GdArena *arena,
				GdStart *out, GdError *err)
{
	memset(out, 0, sizeof(*out));
	return gd_decode_object(buf, len, arena, err, "start-conversation response",
							gd_start_fill, out);
}

/*
 * gd_is_json_number
 *		Is s[0 .. len - 1] a number as RFC 8259 writes it?  (json-c also
 *		takes "-01", "1.", "1.e5", NaN and Infinity.)
 */
static bool
gd_is_json_number(const char *s, size_t len)
{
	const char *end = s + len;
	const char *p = s;

	if (p < end && *p == '-')
		p++;
	if (p < end && *p == '0')
		p++;
	else if (p < end && *p >= '1' && *p <= '9')
	{
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	else
		return false;
	if (p < end && *p == '.')
	{
		p++;
		if (p >= end || *p < '0' || *p > '9')
			return false;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E'))
	{
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || *p < '0' || *p > '9')
			return false;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	return p == end;
}

/* A byte json-c reads as part of a number. */
static inline bool
gd_is_number_byte(char c)
{
	return (c >= '0' && c <= '9') || c == '.' || c == '+' || c == '-' || c == 'e' || c == 'E';
}

/*
 * gd_quote_integers
 *		A malloc'd copy of a body json-c accepted, with every integer outside
 *		strings put in double quotes (*outlen bytes and a NUL), or NULL when
 *		out of memory.  Strings (double-quoted, and the single-quoted keys
 *		json-c takes) are copied as they are; a number is what json-c reads
 *		as one, a '-' or a digit and the number bytes after it, and an
 *		integer one without '.', 'e', 'E' or '+'.
 */
static char *
gd_quote_integers(const char *buf, size_t len, size_t *outlen)
{
	char	   *out = NULL;
	size_t		w = 0;
	int			pass;

	/* pass 0 measures, pass 1 writes */
	for (pass = 0; pass < 2; pass++)
	{
		size_t		i = 0;

		if (pass == 1)
		{
			out = malloc(w + 1);
			if (out == NULL)
				return NULL;
			w = 0;
		}
		while (i < len)
		{
			char		c = buf[i];
			size_t		j = i + 1;
			bool		quote = false;

			if (c == '"' || c == '\'')
			{
				while (j < len && buf[j] != c)
					j += (buf[j] == '\\' && j + 1 < len) ? 2 : 1;
				if (j < len)
					j++;		/* the closing quote */
			}
			else if (c == '-' || (c >= '0' && c <= '9'))
			{
				size_t		k;

				while (j < len && gd_is_number_byte(buf[j]))
					j++;
				/* a lone '-' starts -Infinity */
				quote = !(c == '-' && j == i + 1);
				for (k = i; k < j && quote; k++)
					if (buf[k] == '.' || buf[k] == 'e' || buf[k] == 'E' || buf[k] == '+')
						quote = false;
			}
			if (quote && out)
				out[w] = '"';
			w += quote;
			if (out)
				memcpy(out + w, buf + i, j - i);
			w += j - i;
			if (quote && out)
				out[w] = '"';
			w += quote;
			i = j;
		}
	}
	out[w] = '\0';
	*outlen = w;
	return out;
}

/*
 * gd_find_twin
 *		The node of tree b at the place node target has in tree a (trees of
 *		the same shape), or NULL.
 */
static JObj *
gd_find_twin(JObj *a, JObj *b, JObj *target)
{
	if (a == target)
		return b;
	if (a == NULL || b == NULL)
		return NULL;
	if (json_object_is_type(a, json_type_array))
	{
		size_t		n = json_object_array_length(a);
		size_t		i;

		if (!json_object_is_type(b, json_type_array) || json_object_array_length(b) != n)
			return NULL;
		for (i = 0; i < n; i++)
		{
			JObj	   *t = gd_find_twin(json_object_array_get_idx(a, i),
										 json_object_array_get_idx(b, i), target);

			if (t != NULL)
				return t;
		}
	}
	else if (json_object_is_type(a, json_type_object))
	{
		struct json_object_iter it;

		if (!json_object_is_type(b, json_type_object))
			return NULL;
		json_object_object_foreachC(a, it)
		{
			JObj	   *bv = NULL;
			JObj	   *t;

			if (!json_object_object_get_ex(b, it.key, &bv))
				return NULL;
			t = gd_find_twin(it.val, bv, target);
			if (t != NULL)
				return t;
		}
	}
	return NULL;
}

/*
 * gd_exact_twin
 *		The array of rows at node as parsed again from the body with its
 *		integers quoted, so that each integer is a string holding its text
 *		as sent.  json-c keeps a double's text but not an integer's: it
 *		reads -0 as 0 and clamps what does not fit in 64 bits, and a value
 *		must never change silently.  Bodies reach this only when the row
 *		scanner left them to json-c and they hold integers among the values
 *		(the contract sends strings).
 */
static JObj *
gd_exact_twin(GdCtx *cx, JObj *node)
{
	JObj	   *twin;

	if (cx->exact == NULL && cx->buf != NULL)
	{
		size_t		qlen = 0;
		char	   *quoted = gd_quote_integers(cx->buf, cx->len, &qlen);
		struct json_tokener *tok = NULL;

		if (quoted == NULL)
		{
			gd_fail(cx, GD_NOMEM, "out of memory while decoding a response");
			return NULL;
		}
		if (qlen <= (size_t) INT32_MAX)
			tok = json_tokener_new_ex(GD_MAX_DEPTH);
		if (tok != NULL)
		{
			json_tokener_set_flags(tok, GD_TOKENER_FLAGS);
			cx->exact = json_tokener_parse_ex(tok, quoted, (int) qlen);
			if (cx->exact != NULL && json_tokener_get_error(tok) != json_tokener_success)
			{
				json_object_put(cx->exact);
				cx->exact = NULL;
			}
			json_tokener_free(tok);
		}
		free(quoted);
	}
	twin = gd_find_twin(cx->root, cx->exact, node);
	if (twin == NULL || !json_object_is_type(twin, json_type_array))
	{
		gd_fail(cx, GD_SHAPE, "the numbers in \"data_array\" could not be read as sent");
		return NULL;
	}
	return twin;
}

/*
 * gd_value_text
 *		Text of one data_array value.  The contract sends every value as a
 *		string or null; a number is taken as its text as sent (for an
 *		integer, from its twin exact: see gd_exact_twin), and only when it
 *		is written as RFC 8259 writes numbers; a boolean as true or false.
 */
static bool
gd_value_text(GdCtx *cx, JObj *v, JObj *exact, char **val, size_t *len)
{
	const char *s;

	if (v == NULL)
	{
		*val = NULL;
		*len = 0;
		return true;
	}
	switch (json_object_get_type(v))
	{
		case json_type_string:
			*len = (size_t) json_object_get_string_len(v);
			*val = gd_strndup(cx, json_object_get_string(v), *len);
			return *val != NULL;
		case json_type_int:
			if (exact == NULL || !json_object_is_type(exact, json_type_string))
			{
				gd_fail(cx, GD_SHAPE, "the numbers in \"data_array\" could not be read as sent");
				return false;
			}
			s = json_object_get_string(exact);
			*len = (size_t) json_object_get_string_len(exact);
			break;
		case json_type_double:
			/* json-c keeps a double's text as sent */
			s = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
			*len = strlen(s);
			break;
		case json_type_boolean:
			s = json_object_get_boolean(v) ? "true" : "false";
			*len = strlen(s);
			*val = gd_strndup(cx, s, *len);
			return *val != NULL;
		default:
			gd_fail(cx, GD_SHAPE, "a value in \"data_array\" is an array or object, not a string");
			return false;
	}
	if (!gd_is_json_number(s, *len))
	{
		gd_fail(cx, GD_SHAPE, "a number in \"data_array\" is not written as JSON writes numbers");
		return false;
	}
	*val = gd_strndup(cx, s, *len);
	return *val != NULL;
}

/* Fill rows from a JSON array of arrays. */
static void
gd_rows_from(GdCtx *cx, JObj *rows, GdChunk *out)
{
	size_t		nrows = json_object_array_length(rows);
	size_t		nvals = 0;
	size_t		r;
	size_t		k = 0;
	bool		any_int = false;
	JObj	   *exact = NULL;

	for (r = 0; r < nrows; r++)
	{
		JObj	   *row = json_object_array_get_idx(rows, r);
		size_t		ncols;
		size_t		c;

		if (row == NULL || !json_object_is_type(row, json_type_array))
		{
			gd_fail(cx, GD_SHAPE, "row %zu of \"data_array\" is not an array", r + 1);
			return;
		}
		ncols = json_object_array_length(row);
		nvals += ncols;
		for (c = 0; c < ncols && !any_int; c++)
			any_int = json_object_is_type(json_object_array_get_idx(row, c), json_type_int);
	}
	if (any_int && (exact = gd_exact_twin(cx, rows)) == NULL)
		return;
	out->nrows = (int64_t) nrows;
	out->row_start = gd_alloc(cx, (nrows + 1) * sizeof(int64_t));
	out->values = gd_alloc(cx, nvals * sizeof(char *));
	out->lens = gd_alloc(cx, nvals * sizeof(size_t));
	if (cx->failed)
		return;
	for (r = 0; r < nrows && !cx->failed; r++)
	{
		JObj	   *row = json_object_array_get_idx(rows, r);
		JObj	   *xrow = exact ? json_object_array_get_idx(exact, r) : NULL;
		size_t		ncols = json_object_array_length(row);
		size_t		c;

		out->row_start[r] = (int64_t) k;
		for (c = 0; c < ncols; c++, k++)
			if (!gd_value_text(cx, json_object_array_get_idx(row, c),
							   xrow ? json_object_array_get_idx(xrow, c) : NULL,
							   &out->values[k], &out->lens[k]))
				return;
	}
	out->row_start[nrows] = (int64_t) k;
}

static void
gd_link_from(GdCtx *cx, JObj *l, GdLink *out)
{
	JObj	   *hdrs;

	memset(out, 0, sizeof(*out));
	if (!json_object_is_type(l, json_type_object))
	{
		gd_fail(cx, GD_SHAPE, "an external link is not an object");
		return;
	}
	out->url = gd_get_string(cx, l, "external_link");
	out->expiration = gd_get_string(cx, l, "expiration");
	gd_get_int64(cx, l, "chunk_index", &out->chunk_index);
	gd_get_int64(cx, l, "row_count", &out->row_count);
	hdrs = gd_get_object(cx, l, "http_headers");
	if (hdrs != NULL && !cx->failed)
	{
		int			n = json_object_object_length(hdrs);
		int			i = 0;
		struct json_object_iter it;

		out->header_names = gd_alloc(cx, (size_t) n * sizeof(char *));
		out->header_values = gd_alloc(cx, (size_t) n * sizeof(char *));
		if (cx->failed)
			return;
		json_object_object_foreachC(hdrs, it)
		{
			if (it.val == NULL || !json_object_is_type(it.val, json_type_string))
			{
				gd_fail(cx, GD_SHAPE, "an http_headers value is not a string");
				return;
			}
			if (i >= n)
				break;
			out->header_names[i] = gd_strndup(cx, it.key, strlen(it.key));
			out->header_values[i] = gd_strndup(cx, json_object_get_string(it.val),
											   (size_t) json_object_get_string_len(it.val));
			i++;
		}
		out->n_headers = i;
	}
	if (!cx->failed && out->url == NULL)
		gd_fail(cx, GD_SHAPE, "an external link has no \"external_link\"");
}

/* Fill a GdChunk from a ResultData object. */
static void
gd_chunk_from(GdCtx *cx, JObj *r, GdChunk *out)
{
	JObj	   *rows;
	JObj	   *links;

	memset(out, 0, sizeof(*out));
	out->present = true;
	gd_get_int64(cx, r, "chunk_index", &out->chunk_index);
	gd_get_int64(cx, r, "row_offset", &out->row_offset);
	out->has_next_index = gd_get_int64(cx, r, "next_chunk_index", &out->next_chunk_index);
	out->next_chunk_link = gd_get_string(cx, r, "next_chunk_internal_link");

	rows = gd_get_array(cx, r, "data_array");
	if (rows != NULL && !cx->failed)
		gd_rows_from(cx, rows, out);

	links = gd_get_array(cx, r, "external_links");
	if (links != NULL && !cx->failed)
	{
		size_t		n = json_object_array_length(links);
		size_t		i;

		out->links = gd_alloc(cx, n * sizeof(GdLink));
		for (i = 0; i < n && !cx->failed; i++)
		{
			gd_link_from(cx, json_object_array_get_idx(links, i), &out->links[i]);
			out->n_links++;
		}
		/* a link's next-chunk pointers stand in for the chunk's own */
		if (!cx->failed && n > 0)
		{
			JObj	   *last = json_object_array_get_idx(links, n - 1);

			if (!out->has_next_index)
				out->has_next_index = gd_get_int64(cx, last, "next_chunk_index",
												   &out->next_chunk_index);
			if (out->next_chunk_link == NULL)
				out->next_chunk_link = gd_get_string(cx, last, "next_chunk_internal_link");
		}
	}
}

static int
gd_column_cmp(const void *a, const void *b)
{
	const GdColumn *ca = a;
	const GdColumn *cb = b;

	return (ca->position > cb->position) - (ca->position < cb->position);
}

/*
 * gd_decode_statement_tree
 *		A query-result response (StatementResponse, bare or wrapped),
 *		decoded with json-c alone.
 */
bool
gd_decode_statement_tree(const char *buf, size_t len, GdArena *arena,
						 GdStatement *out, GdError *err)
{
	GdCtx		cx = {.arena = arena, .err = err};
	JObj	   *root;
	JObj	   *st;
	JObj	   *status;
	JObj	   *manifest;
	JObj	   *result;

	memset(out, 0, sizeof(*out));
	root = gd_parse(&cx, buf, len);
	if (root == NULL)
		return false;
	if (!gd_require_object(&cx, root, "query result"))
		goto done;

	st = gd_get(root, "statement_response");
	if (st == NULL)
	{
		if (json_object_object_length(root) > 0 && gd_get(root, "status") == NULL &&
			gd_get(root, "statement_id") == NULL)
		{
			gd_fail(&cx, GD_SHAPE, "query result has no \"statement_response\"");
			goto done;
		}
		st = root;				/* the statement API answers with it bare */
	}
	if (!gd_require_object(&cx, st, "statement_response"))
		goto done;

	out->statement_id = gd_get_id(&cx, st, "statement_id");
	status = gd_get_object(&cx, st, "status");
	if (status != NULL)
	{
		JObj	   *e = gd_get_object(&cx, status, "error");

		out->state = gd_get_string(&cx, status, "state");
		out->sql_state = gd_get_string(&cx, status, "sql_state");
		if (e != NULL)
		{
			out->error_code = gd_get_string(&cx, e, "error_code");
			out->error_message = gd_get_string(&cx, e, "message");
		}
	}

	manifest = gd_get_object(&cx, st, "manifest");
	if (manifest != NULL && !cx.failed)
	{
		JObj	   *schema = gd_get_object(&cx, manifest, "schema");
		JObj	   *cols = gd_get_array(&cx, schema, "columns");

		out->has_manifest = true;
		out->format = gd_get_string(&cx, manifest, "format");
		gd_get_int64(&cx, manifest, "total_chunk_count", &out->total_chunk_count);
		gd_get_int64(&cx, manifest, "total_row_count", &out->total_row_count);
		out->truncated = gd_get_bool(&cx, manifest, "truncated");
		if (cols != NULL && !cx.failed)
		{
			size_t		n = json_object_array_length(cols);
			size_t		i;

			out->columns = gd_alloc(&cx, n * sizeof(GdColumn));
			for (i = 0; i < n && !cx.failed; i++)
			{
				JObj	   *c = json_object_array_get_idx(cols, i);
				GdColumn   *gc = &out->columns[i];
				int64_t		pos = (int64_t) i;

				if (c == NULL || !json_object_is_type(c, json_type_object))
				{
					gd_fail(&cx, GD_SHAPE, "a schema column is not an object");
					break;
				}
				gc->name = gd_get_string(&cx, c, "name");
				gc->type_name = gd_get_string(&cx, c, "type_name");
				gc->type_text = gd_get_string(&cx, c, "type_text");
				gd_get_int64(&cx, c, "position", &pos);
				if (pos < 0 || pos >= (int64_t) n)
				{
					gd_fail(&cx, GD_SHAPE, "schema column position %lld is out of range",
							(long long) pos);
					break;
				}
				gc->position = (int) pos;
				if (!cx.failed && gc->name == NULL)
					gd_fail(&cx, GD_SHAPE, "a schema column has no name");
				out->ncolumns++;
			}
			if (!cx.failed)
			{
				qsort(out->columns, (size_t) out->ncolumns, sizeof(GdColumn), gd_column_cmp);
				for (i = 0; i < (size_t) out->ncolumns; i++)
					if (out->columns[i].position != (int) i)
					{
						gd_fail(&cx, GD_SHAPE, "schema column positions are not 0..%d", out->ncolumns - 1);
						break;
					}
			}
		}
	}

	result = gd_get_object(&cx, st, "result");
	if (result != NULL && !cx.failed)
		gd_chunk_from(&cx, result, &out->result);

	if (!cx.failed && out->state == NULL)
		gd_fail(&cx, GD_SHAPE, "statement has no \"status.state\"");

done:
	gd_release(&cx);
	return !cx.failed;
}

/*
 * gd_decode_statement
 *		A query-result response, with its first chunk (the "result" member,
 *		every row of an answer of up to a few thousand rows) scanned in place
 *		by the row scanner (rowscan.c) instead of built into a json-c tree.
 *
 * json-c then parses the rest: the body with the result's text replaced by
 * null, which (the scanner having accepted the whole body) is valid JSON of
 * the same shape, so status, manifest and errors decode exactly as from the
 * whole body; the scanned chunk is what gd_decode_statement_tree would have
 * decoded from the result (the fuzzer, selector ';', holds them to it).
 * Bodies the scanner does not take are decoded whole by json-c.
 */
bool
gd_decode_statement(const char *buf, size_t len, GdArena *arena,
					GdStatement *out, GdError *err)
{
	GdChunk		result;
	size_t		rstart = 0;
	size_t		rend = 0;
	char	   *rest;
	size_t		restlen;
	bool		ok;

	switch (gd_scan_statement_result(buf, len, arena, &result, &rstart, &rend, err))
	{
		case GD_SCAN_NOT_HANDLED:
			return gd_decode_statement_tree(buf, len, arena, out, err);
		case GD_SCAN_NOMEM:
			memset(out, 0, sizeof(*out));
			return false;
		case GD_SCAN_DONE:
			break;
	}
	restlen = rstart + 4 + (len - rend);
	rest = malloc(restlen);
	if (rest == NULL)
	{
		GdCtx		cx = {.arena = arena, .err = err};

		memset(out, 0, sizeof(*out));
		gd_fail(&cx, GD_NOMEM, "out of memory while decoding a response");
		return false;
	}
	memcpy(rest, buf, rstart);
	memcpy(rest + rstart, "null", 4);
	memcpy(rest + rstart + 4, buf + rend, len - rend);
	ok = gd_decode_statement_tree(rest, restlen, arena, out, err);
	free(rest);
	if (ok)
		out->result = result;
	return ok;
}

static void
gd_chunk_fill(GdCtx *cx, JObj *root, void *out)
{
	gd_chunk_from(cx, root, (GdChunk *) out);
}

bool
gd_decode_chunk(const char *buf, size_t len, GdArena *arena,
				GdChunk *out, GdError *err)
{
	memset(out, 0, sizeof(*out));
	return gd_decode_object(buf, len, arena, err, "result chunk", gd_chunk_fill, out);
}

bool
gd_decode_rows(const char *buf, size_t len, GdArena *arena,
			   GdChunk *out, GdError *err)
{
	GdCtx		cx = {.arena = arena, .err = err};
	JObj	   *root;

	memset(out, 0, sizeof(*out));
	root = gd_parse(&cx, buf, len);
	if (root == NULL)
		return false;
	out->present = true;
	if (!json_object_is_type(root, json_type_array))
		gd_fail(&cx, GD_SHAPE, "result file is not a JSON array of rows");
	else
		gd_rows_from(&cx, root, out);
	gd_release(&cx);
	return !cx.failed;
}

/* Fills one item of a list from its JSON object. */
typedef void (*GdItemFn) (GdCtx *cx, JObj *item, void *dest);

/*
 * gd_decode_list
 *		A page of a list endpoint: {key: [objects], next_page_token}.
 */
static bool
gd_decode_list(const char *buf, size_t len, GdArena *arena, GdError *err,
			   const char *what, const char *key, size_t item_size, GdItemFn fill,
			   void **items, int *nitems, char **next_page_token)
{
	GdCtx		cx = {.arena = arena, .err = err};
	JObj	   *root;
	JObj	   *list;

	*items = NULL;
	*nitems = 0;
	*next_page_token = NULL;
	root = gd_parse(&cx, buf, len);
	if (root == NULL)
		return false;
	if (gd_require_object(&cx, root, what))
	{
		list = gd_get_array(&cx, root, key);
		*next_page_token = gd_get_string(&cx, root, "next_page_token");
		if (list != NULL && !cx.failed)
		{
			size_t		n = json_object_array_length(list);
			size_t		i;
			char	   *dest = gd_alloc(&cx, n * item_size);

			*items = dest;
			for (i = 0; i < n && !cx.failed; i++)
			{
				JObj	   *o = json_object_array_get_idx(list, i);

				if (o == NULL || !json_object_is_type(o, json_type_object))
				{
					gd_fail(&cx, GD_SHAPE, "an item of \"%s\" is not an object", key);
					break;
				}
				memset(dest + i * item_size, 0, item_size);
				fill(&cx, o, dest + i * item_size);
				(*nitems)++;
			}
		}
	}
	gd_release(&cx);
	return !cx.failed;
}

static void
gd_space_from(GdCtx *cx, JObj *o, void *dest)
{
	GdSpace    *sp = (GdSpace *) dest;

	sp->space_id = gd_get_id(cx, o, "space_id");
	sp->title = gd_get_string(cx, o, "title");
	sp->description = gd_get_string(cx, o, "description");
}

static void
gd_conversation_from(GdCtx *cx, JObj *o, void *dest)
{
	GdConversation *gc = (GdConversation *) dest;

	gc->conversation_id = gd_get_id(cx, o, "conversation_id");
	if (gc->conversation_id == NULL)
		gc->conversation_id = gd_get_id(cx, o, "id");
	gc->title = gd_get_string(cx, o, "title");
	gc->has_created = gd_get_int64(cx, o, "created_timestamp", &gc->created_timestamp);
	if (!cx->failed && gc->conversation_id == NULL)
		gd_fail(cx, GD_SHAPE, "a conversation has no \"conversation_id\"");
}

bool
gd_decode_spaces(const char *buf, size_t len, GdArena *arena,
				 GdSpaceList *out, GdError *err)
{
	void	   *items;
	bool		ok;

	memset(out, 0, sizeof(*out));
	ok = gd_decode_list(buf, len, arena, err, "space list", "spaces", sizeof(GdSpace),
						gd_space_from, &items, &out->nspaces, &out->next_page_token);
	out->spaces = items;
	return ok;
}

bool
gd_decode_conversations(const char *buf, size_t len, GdArena *arena,
						GdConversationList *out, GdError *err)
{
	void	   *items;
	bool		ok;

	memset(out, 0, sizeof(*out));
	ok = gd_decode_list(buf, len, arena, err, "conversation list", "conversations",
						sizeof(GdConversation), gd_conversation_from, &items,
						&out->nconversations, &out->next_page_token);
	out->conversations = items;
	return ok;
}

static void
gd_download_fill(GdCtx *cx, JObj *root, void *dest)
{
	GdDownload *out = (GdDownload *) dest;

	out->download_id = gd_get_id(cx, root, "download_id");
	out->download_id_signature = gd_get_string(cx, root, "download_id_signature");
	if (!cx->failed && (out->download_id == NULL || out->download_id_signature == NULL))
		gd_fail(cx, GD_SHAPE, "download response has no \"download_id\" or \"download_id_signature\"");
}

bool
gd_decode_download(const char *buf, size_t len, GdArena *arena,
				   GdDownload *out, GdError *err)
{
	memset(out, 0, sizeof(*out));
	return gd_decode_object(buf, len, arena, err, "download response", gd_download_fill, out);
}

static void gd_error_details(GdCtx *cx, JObj *details, GdApiError *out);

bool
gd_decode_api_error(const char *buf, size_t len, GdArena *arena,
					GdApiError *out)
{
	GdCtx		cx = {.arena = arena, .err = NULL};
	JObj	   *root;

	memset(out, 0, sizeof(*out));
	root = gd_parse(&cx, buf, len);
	if (root == NULL)
		return false;
	if (json_object_is_type(root, json_type_object))
	{
		JObj	   *e = gd_get(root, "error");
		JObj	   *code = gd_get(root, "error_code");
		JObj	   *details = gd_get(root, "details");

		if (code != NULL && json_object_is_type(code, json_type_int))
		{
			out->has_numeric_code = true;
			out->numeric_code = json_object_get_int64(code);
		}
		else
			out->error_code = gd_get_string(&cx, root, "error_code");
		out->message = gd_get_string(&cx, root, "message");
		if (details != NULL && json_object_is_type(details, json_type_array))
			gd_error_details(&cx, details, out);
		if (e != NULL && json_object_is_type(e, json_type_string))
		{
			if (out->error_code == NULL && !out->has_numeric_code)
				out->error_code = gd_get_string(&cx, root, "error");
			if (out->message == NULL)
				out->message = gd_get_string(&cx, root, "error_description");
			if (out->message == NULL)
				out->message = gd_get_string(&cx, root, "error");
		}
	}
	gd_release(&cx);
	return !cx.failed && (out->error_code != NULL || out->message != NULL);
}

/*
 * gd_error_details
 *		What an error body's details say that a user can quote: the reason of
 *		the first ErrorInfo and a request id.  Details of other types or
 *		shapes are counted and skipped: an error body must never fail to
 *		decode for its details.
 */
static void
gd_error_details(GdCtx *cx, JObj *details, GdApiError *out)
{
	size_t		i;

	for (i = 0; i < json_object_array_length(details) && !cx->failed; i++)
	{
		JObj	   *d = json_object_array_get_idx(details, i);
		JObj	   *type;
		JObj	   *v;
		const char *t;

		if (d == NULL || !json_object_is_type(d, json_type_object))
			continue;
		out->n_details++;
		type = gd_get(d, "@type");
		if (type == NULL || !json_object_is_type(type, json_type_string))
			continue;
		t = json_object_get_string(type);
		if (strstr(t, "ErrorInfo") != NULL)
		{
			JObj	   *md = gd_get(d, "metadata");

			v = gd_get(d, "reason");
			if (out->reason == NULL && v != NULL && json_object_is_type(v, json_type_string))
				out->reason = gd_strndup(cx, json_object_get_string(v),
										 (size_t) json_object_get_string_len(v));
			v = md != NULL && json_object_is_type(md, json_type_object) ? gd_get(md, "request_id") : NULL;
		}
		else if (strstr(t, "RequestInfo") != NULL)
			v = gd_get(d, "request_id");
		else
			continue;
		if (out->request_id == NULL && v != NULL && json_object_is_type(v, json_type_string))
			out->request_id = gd_strndup(cx, json_object_get_string(v),
										 (size_t) json_object_get_string_len(v));
	}
}

static void
gd_token_fill(GdCtx *cx, JObj *root, void *dest)
{
	GdToken    *out = (GdToken *) dest;

	out->access_token = gd_get_string(cx, root, "access_token");
	if (!gd_get_int64(cx, root, "expires_in", &out->expires_in))
		out->expires_in = 3600;
	if (!cx->failed && out->access_token == NULL)
		gd_fail(cx, GD_SHAPE, "token response has no \"access_token\"");
}

bool
gd_decode_token(const char *buf, size_t len, GdArena *arena,
				GdToken *out, GdError *err)
{
	memset(out, 0, sizeof(*out));
	return gd_decode_object(buf, len, arena, err, "token response", gd_token_fill, out);
}

/*
 * gd_encode_question
 *		The request body {"content": question} with the question escaped.
 */
char *
gd_encode_question(const char *question, GdArena *arena)
{
	JObj	   *obj = json_object_new_object();
	const char *s;
	char	   *res = NULL;

	if (obj == NULL)
		return NULL;
	if (json_object_object_add(obj, "content", json_object_new_string(question)) == 0)
	{
		s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
										   JSON_C_TO_STRING_NOSLASHESCAPE);
		if (s != NULL)
		{
			size_t		l = strlen(s);

			res = arena->alloc(arena->arg, l + 1);
			if (res != NULL)
				memcpy(res, s, l + 1);
		}
	}
	json_object_put(obj);
	return res;
}

bool
gd_status_is_terminal(const char *status)
{
	static const char *const terminal[] = {
		"COMPLETED", "FAILED", "CANCELLED", "QUERY_RESULT_EXPIRED"
	};
	size_t		i;

	if (status == NULL)
		return false;
	for (i = 0; i < sizeof(terminal) / sizeof(terminal[0]); i++)
		if (strcmp(status, terminal[i]) == 0)
			return true;
	return false;
}
