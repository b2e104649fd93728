/*-------------------------------------------------------------------------
 *
 * rowscan.c
 *		  Fast, strict, in-place scanner for result chunks (JSON_ARRAY rows).
 *
 * Owns the row path's JSON: gd_scan_chunk reads a ResultData object (the
 * body of GET .../result/chunks/N) and gd_scan_rows a bare array of rows
 * (the body of an external-link chunk file) without building a json-c tree.
 * The result is the same GdChunk that gd_decode_chunk / gd_decode_rows
 * produce, except that each value points into the caller's buffer: strings
 * are unescaped in place and NUL-terminated where their closing quote was,
 * so the only allocations are the row_start, values and lens arrays.  A
 * value that is a number (the contract sends strings; a service may not)
 * keeps its exact text as sent, NUL-terminated where the byte after it was:
 * json-c would read -0 as 0 and clamp integers beyond 64 bits.
 *
 * Work is done in three steps:
 *
 *	1. count: one cheap pass counts '[' and ',' bytes; every row starts with
 *	   its own '[' and every value but the first of the whole array is
 *	   preceded by its own ',', which bounds the array sizes (commas and
 *	   brackets inside strings only make the bound looser);
 *	2. scan: one pass validates the JSON text and records where each value
 *	   starts and how long its raw text is, without writing to the buffer;
 *	3. commit: only once the whole body has been accepted, each value is
 *	   unescaped in place (when it has escapes) and NUL-terminated.
 *
 * Because the buffer is untouched until step 3, the scanner can hand any
 * body it does not handle itself to the json-c decoder (see the fallback
 * list at gd_scan_chunk).  What the scanner accepts on its own is exactly
 * RFC 8259 JSON with well-formed UTF-8; what it rejects on its own json-c
 * 0.16 (strict, UTF-8 validating, as genie_decode.c sets it up) rejects too;
 * everything json-c accepts beyond RFC 8259 goes to json-c.  The
 * differential fuzzer (test/fuzz/fuzz_decode.c, selectors '9' and ':')
 * holds the two decoders to the same results.
 *
 * Like genie_decode.c this file includes no PostgreSQL header, never
 * ereports or longjmps and allocates only through the caller's GdArena.
 *
 * Copyright (c) 2026, genie_fdw developers
 *
 * IDENTIFICATION
 *		  src/rowscan.c
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "genie_decode.h"

/*
 * Containers nested deeper than this inside an ignored member are left to
 * json-c (which allows 64 levels in all).
 */
#define RS_MAX_DEPTH 32

/* Longest int64 field given as a string that is parsed here. */
#define RS_MAX_INTSTR 63

/* Most digits of an integer parsed here (18 digits always fit in int64). */
#define RS_MAX_INTDIGITS 18

/* Between scan and commit, a lens[] bit marking raw text with escapes. */
#define RS_ESCAPED (((size_t) 1) << (sizeof(size_t) * 8 - 1))

/* UTF-16 surrogates, tested the way json-c 0.16 tests them. */
#define RS_IS_HIGH(u) (((u) & 0xFC00) == 0xD800)
#define RS_IS_LOW(u) (((u) & 0xFC00) == 0xDC00)
#define RS_PAIR(hi, lo) (((((hi) & 0x3FF) << 10) | ((lo) & 0x3FF)) + 0x10000)

/* Members of a ResultData object the scanner reads. */
typedef enum RsKey
{
	RS_KEY_OTHER = 0,
	RS_KEY_CHUNK_INDEX,
	RS_KEY_ROW_OFFSET,
	RS_KEY_NEXT_INDEX,
	RS_KEY_NEXT_LINK,
	RS_KEY_DATA_ARRAY,
	RS_KEY_EXTERNAL_LINKS
} RsKey;

/* Scanner state. */
typedef struct RsScan
{
	char	   *buf;			/* start of the body */
	char	   *end;			/* one past its last byte */
	GdError    *err;
	bool		chunk;			/* scanning a ResultData object */
	bool		failed;			/* the body is rejected (err is set) */
	const char *fallback;		/* why the body goes to json-c, or NULL */
	bool		any_escapes;	/* some value has RS_ESCAPED set */
} RsScan;

/* The scan phase never writes: a const body may be walked. */
static inline char *
unconstify_char(const char *p)
{
	return (char *) (uintptr_t) p;
}

static uint64_t rs_nfallbacks;
static const char *rs_last_fallback;

static const char rs_ws_table[256] = {
	[' '] = 1,['\t'] = 1,['\n'] = 1,['\r'] = 1
};

#if defined(__GNUC__)
static bool rs_fail(RsScan *sc, GdStatus status, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));
#endif

/*
 * rs_fail
 *		Reject the body; always returns false.
 */
static bool
rs_fail(RsScan *sc, GdStatus status, const char *fmt,...)
{
	va_list		ap;

	if (sc->failed || sc->fallback != NULL)
		return false;
	sc->failed = true;
	if (sc->err == NULL)
		return false;
	sc->err->status = status;
	va_start(ap, fmt);
	vsnprintf(sc->err->message, sizeof(sc->err->message), fmt, ap);
	va_end(ap);
	return false;
}

/*
 * rs_fallback
 *		Leave the body to json-c; always returns false.
 */
static bool
rs_fallback(RsScan *sc, const char *why)
{
	if (!sc->failed && sc->fallback == NULL)
		sc->fallback = why;
	return false;
}

/* The body ends in the middle of a value. */
static bool
rs_truncated(RsScan *sc)
{
	return rs_fail(sc, GD_SYNTAX,
				   "response body is not complete JSON (truncated after %zu bytes)",
				   (size_t) (sc->end - sc->buf));
}

/* A byte that cannot stand where it does. */
static bool
rs_unexpected(RsScan *sc, const char *p, const char *what)
{
	if (p >= sc->end)
		return rs_truncated(sc);
	return rs_fail(sc, GD_SYNTAX, "response body is not valid JSON (%s at byte %zu)",
				   what, (size_t) (p - sc->buf));
}

static inline char *
rs_ws(char *p, const char *end)
{
	while (p < end && rs_ws_table[(unsigned char) *p])
		p++;
	return p;
}

static inline bool
rs_isdigit(char c)
{
	return c >= '0' && c <= '9';
}

static inline int
rs_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * rs_special
 *		First byte at or after p that ends a run of plain string text: '"',
 *		'\\', a control character or a non-ASCII byte.  end when none.
 */
static inline char *
rs_special(char *p, const char *end)
{
#if defined(__SSE2__)
	const __m128i quote = _mm_set1_epi8('"');
	const __m128i bslash = _mm_set1_epi8('\\');
	const __m128i space = _mm_set1_epi8(0x20);

	while (end - p >= 16)
	{
		__m128i		v = _mm_loadu_si128((const __m128i *) p);

		/* signed compare: bytes >= 0x80 are negative, so "< 0x20" too */
		__m128i		m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote),
												  _mm_cmpeq_epi8(v, bslash)),
									 _mm_cmplt_epi8(v, space));
		int			mask = _mm_movemask_epi8(m);

		if (mask != 0)
			return p + __builtin_ctz((unsigned int) mask);
		p += 16;
	}
#endif
	while (p < end)
	{
		unsigned char c = (unsigned char) *p;

		if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80)
			return p;
		p++;
	}
	return (char *) end;
}

/*
 * rs_utf8
 *		Length of the UTF-8 sequence that starts with the non-ASCII byte at
 *		p; 0 when json-c 0.16 rejects it (a byte that cannot start a
 *		sequence, a missing continuation byte), -1 when json-c accepts it
 *		but it is not well-formed UTF-8 (json-c checks only the lead byte's
 *		length and the continuation bytes' top bits, so it takes overlong
 *		forms, UTF-16 surrogates and code points past U+10FFFF).
 */
static inline int
rs_utf8(const unsigned char *p, const unsigned char *end)
{
	unsigned int c = p[0];
	int			n;
	int			i;

	if (c < 0xC0)
		return 0;
	else if (c < 0xE0)
		n = 2;
	else if (c < 0xF0)
		n = 3;
	else if (c < 0xF8)
		n = 4;
	else
		return 0;
	if (end - p < n)
		return 0;
	for (i = 1; i < n; i++)
		if ((p[i] & 0xC0) != 0x80)
			return 0;
	switch (n)
	{
		case 2:
			if (c < 0xC2)
				return -1;
			break;
		case 3:
			if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] >= 0xA0))
				return -1;
			break;
		default:
			if ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] >= 0x90) || c > 0xF4)
				return -1;
			break;
	}
	return n;
}

/*
 * rs_string
 *		Validate a string whose opening quote is at p[-1] and return its
 *		closing quote, or NULL when the body is rejected or left to json-c.
 *		*escaped is set when the string holds a backslash.
 *
 * A \u escape that json-c 0.16 decodes wrongly is left to json-c: a
 * surrogate pair whose code point has D800..DFFF in its low 16 bits (say
 * U+2D800) is taken by json-c for a surrogate again.  Lone surrogates are
 * decoded here as json-c decodes them, to U+FFFD (see rs_unescape).
 */
static inline char *
rs_string(RsScan *sc, char *p, bool *escaped)
{
	const char *end = sc->end;
	const char *after_high = NULL;	/* just past a \u high surrogate */
	unsigned int high = 0;

	for (;;)
	{
		unsigned char c;

		p = rs_special(p, end);
		if (p >= end)
		{
			rs_truncated(sc);
			return NULL;
		}
		c = (unsigned char) *p;
		if (c == '"')
			return p;
		if (c == '\\')
		{
			*escaped = true;
			if (end - p < 2)
			{
				rs_truncated(sc);
				return NULL;
			}
			switch (p[1])
			{
				case '"':
				case '\\':
				case '/':
				case 'b':
				case 'f':
				case 'n':
				case 'r':
				case 't':
					p += 2;
					break;
				case 'u':
					{
						unsigned int u = 0;
						int			i;

						for (i = 2; i < 6; i++)
						{
							int			h;

							if (p + i >= end)
							{
								rs_truncated(sc);
								return NULL;
							}
							h = rs_hex(p[i]);
							if (h < 0)
							{
								rs_unexpected(sc, p + i, "invalid \\u escape");
								return NULL;
							}
							u = (u << 4) | (unsigned int) h;
						}
						if (u == 0)
						{
							/* values the scanner hands out hold no NUL */
							rs_fallback(sc, "a \\u0000 escape");
							return NULL;
						}
						if (after_high == p && RS_IS_LOW(u))
						{
							unsigned int cp = RS_PAIR(high, u);

							if (RS_IS_HIGH(cp) || RS_IS_LOW(cp))
							{
								rs_fallback(sc, "a \\u surrogate pair that json-c decodes as a surrogate");
								return NULL;
							}
							after_high = NULL;
						}
						else if (RS_IS_HIGH(u))
						{
							after_high = p + 6;
							high = u;
						}
						p += 6;
						break;
					}
				default:
					rs_unexpected(sc, p + 1, "invalid escape");
					return NULL;
			}
			continue;
		}
		if (c < 0x20)
		{
			/* json-c 0.16 takes raw control characters (NUL aside) */
			rs_fallback(sc, "a control character in a string");
			return NULL;
		}
		else
		{
			int			n = rs_utf8((const unsigned char *) p, (const unsigned char *) end);

			if (n == 0)
			{
				rs_unexpected(sc, p, "invalid UTF-8");
				return NULL;
			}
			if (n < 0)
			{
				rs_fallback(sc, "UTF-8 that json-c accepts but is not well-formed");
				return NULL;
			}
			p += n;
		}
	}
}

/*
 * rs_number
 *		Lex an RFC 8259 number at p and return the byte after it, or NULL.
 *		*is_int tells whether it has no fraction or exponent, *ndigits how
 *		many integer digits it has.  Anything json-c might read differently
 *		from RFC 8259 (json-c takes "-01", "1.", "1.e5", ...) goes to json-c.
 */
static char *
rs_number(RsScan *sc, char *p, bool *is_int, int *ndigits)
{
	const char *end = sc->end;
	char	   *q = p;
	char	   *digits;

	*is_int = true;
	if (*q == '-')
		q++;
	digits = q;
	if (q < end && *q == '0')
		q++;
	else if (q < end && *q >= '1' && *q <= '9')
	{
		while (q < end && rs_isdigit(*q))
			q++;
	}
	else
	{
		rs_fallback(sc, "a number json-c may read its own way");
		return NULL;
	}
	*ndigits = (int) ((q - digits) > 99 ? 99 : (q - digits));
	if (q < end && *q == '.')
	{
		*is_int = false;
		q++;
		if (q >= end || !rs_isdigit(*q))
		{
			rs_fallback(sc, "a number json-c may read its own way");
			return NULL;
		}
		while (q < end && rs_isdigit(*q))
			q++;
	}
	if (q < end && (*q == 'e' || *q == 'E'))
	{
		*is_int = false;
		q++;
		if (q < end && (*q == '+' || *q == '-'))
			q++;
		if (q >= end || !rs_isdigit(*q))
		{
			rs_fallback(sc, "a number json-c may read its own way");
			return NULL;
		}
		while (q < end && rs_isdigit(*q))
			q++;
	}
	if (q >= end)
	{
		/* numbers only occur inside a container here */
		rs_truncated(sc);
		return NULL;
	}
	if (!rs_ws_table[(unsigned char) *q] && *q != ',' && *q != ']' && *q != '}')
	{
		rs_fallback(sc, "a number json-c may read its own way");
		return NULL;
	}
	return q;
}

/*
 * rs_literal
 *		Match the literal word at p ("true", "false" or "null"), returning
 *		the byte after it or NULL (json-c in strict mode takes nothing else
 *		that starts with 't', 'f' or 'n').
 */
static char *
rs_literal(RsScan *sc, char *p, const char *word, size_t len)
{
	size_t		i;

	for (i = 0; i < len; i++)
	{
		if (p + i >= sc->end)
		{
			rs_truncated(sc);
			return NULL;
		}
		if (p[i] != word[i])
		{
			rs_unexpected(sc, p + i, "unexpected character");
			return NULL;
		}
	}
	return p + len;
}

/*
 * rs_member_key
 *		The key of the object member at *pp, and its ':': *pp is left at the
 *		value, white space skipped.  A single-quoted key is json-c's to take.
 *		*esc tells whether the key has escapes (raw, it would not compare
 *		equal to a name).
 */
static bool
rs_member_key(RsScan *sc, char **pp, char **key, size_t *klen, bool *esc)
{
	const char *end = sc->end;
	char	   *p = *pp;
	char	   *q;

	if (p < end && *p == '\'')
		return rs_fallback(sc, "a single-quoted key (json-c takes them)");
	if (p >= end || *p != '"')
		return rs_unexpected(sc, p, "expected a key");
	*esc = false;
	q = rs_string(sc, p + 1, esc);
	if (q == NULL)
		return false;
	*key = p + 1;
	*klen = (size_t) (q - (p + 1));
	p = rs_ws(q + 1, end);
	if (p >= end || *p != ':')
		return rs_unexpected(sc, p, "expected ':'");
	*pp = rs_ws(p + 1, end);
	return true;
}

/*
 * rs_after_value
 *		After a member or an element of the object or array that close
 *		ends: *more set and *pp past the ',' (and white space), or cleared
 *		and *pp past close.  Anything else is a syntax error.
 */
static bool
rs_after_value(RsScan *sc, char **pp, char close, bool *more)
{
	const char *end = sc->end;
	char	   *p = rs_ws(*pp, end);

	*more = (p < end && *p == ',');
	if (*more)
	{
		*pp = rs_ws(p + 1, end);
		return true;
	}
	if (p < end && *p == close)
	{
		*pp = p + 1;
		return true;
	}
	return rs_unexpected(sc, p, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
}

/*
 * rs_skip
 *		Validate one JSON value at *pp of no interest and move past it.
 */
static bool
rs_skip(RsScan *sc, char **pp, int depth)
{
	char	   *p = *pp;
	const char *end = sc->end;
	char	   *q;
	bool		esc = false;
	bool		more;
	bool		is_int;
	int			nd;

	if (p >= end)
		return rs_truncated(sc);
	switch (*p)
	{
		case '"':
			q = rs_string(sc, p + 1, &esc);
			if (q == NULL)
				return false;
			p = q + 1;
			break;
		case '{':
			if (depth >= RS_MAX_DEPTH)
				return rs_fallback(sc, "deeply nested JSON");
			p = rs_ws(p + 1, end);
			if (p < end && *p == '}')
			{
				p++;
				break;
			}
			do
			{
				char	   *key;
				size_t		klen;

				if (!rs_member_key(sc, &p, &key, &klen, &esc) ||
					!rs_skip(sc, &p, depth + 1) ||
					!rs_after_value(sc, &p, '}', &more))
					return false;
			} while (more);
			break;
		case '[':
			if (depth >= RS_MAX_DEPTH)
				return rs_fallback(sc, "deeply nested JSON");
			p = rs_ws(p + 1, end);
			if (p < end && *p == ']')
			{
				p++;
				break;
			}
			do
			{
				if (p < end && *p == ']')
					return rs_unexpected(sc, p, "trailing comma");
				if (!rs_skip(sc, &p, depth + 1) ||
					!rs_after_value(sc, &p, ']', &more))
					return false;
			} while (more);
			break;
		case 't':
			p = rs_literal(sc, p, "true", 4);
			break;
		case 'f':
			p = rs_literal(sc, p, "false", 5);
			break;
		case 'n':
			p = rs_literal(sc, p, "null", 4);
			break;
		case '-':
		case '0':
		case '1':
		case '2':
		case '3':
		case '4':
		case '5':
		case '6':
		case '7':
		case '8':
		case '9':
			p = rs_number(sc, p, &is_int, &nd);
			break;
		case 'N':
		case 'I':
			/* strict json-c takes NaN and Infinity */
			return rs_fallback(sc, "NaN or Infinity");
		default:
			return rs_unexpected(sc, p, "unexpected character");
	}
	if (p == NULL)
		return false;
	*pp = p;
	return true;
}

/*
 * rs_count
 *		Count the '[' and ',' bytes of buf[0 .. len - 1].
 */
static void
rs_count(const char *buf, size_t len, size_t *nopen, size_t *ncomma)
{
	size_t		i = 0;
	size_t		o = 0;
	size_t		c = 0;

#if defined(__SSE2__)
	const __m128i vopen = _mm_set1_epi8('[');
	const __m128i vcomma = _mm_set1_epi8(',');
	const __m128i zero = _mm_setzero_si128();

	while (len - i >= 16)
	{
		__m128i		acc_o = zero;
		__m128i		acc_c = zero;
		__m128i		s;
		int			j;

		/* byte-wide counters, flushed before they can wrap */
		for (j = 0; j < 255 && len - i >= 16; j++, i += 16)
		{
			__m128i		v = _mm_loadu_si128((const __m128i *) (buf + i));

			acc_o = _mm_sub_epi8(acc_o, _mm_cmpeq_epi8(v, vopen));
			acc_c = _mm_sub_epi8(acc_c, _mm_cmpeq_epi8(v, vcomma));
		}
		s = _mm_sad_epu8(acc_o, zero);
		o += (size_t) _mm_cvtsi128_si32(s) + (size_t) _mm_cvtsi128_si32(_mm_srli_si128(s, 8));
		s = _mm_sad_epu8(acc_c, zero);
		c += (size_t) _mm_cvtsi128_si32(s) + (size_t) _mm_cvtsi128_si32(_mm_srli_si128(s, 8));
	}
#endif
	for (; i < len; i++)
	{
		o += (buf[i] == '[');
		c += (buf[i] == ',');
	}
	*nopen = o;
	*ncomma = c;
}

static void *
rs_alloc(RsScan *sc, GdArena *arena, size_t n, size_t size)
{
	void	   *p;

	if (n > SIZE_MAX / size)
	{
		rs_fail(sc, GD_NOMEM, "out of memory while decoding a response");
		return NULL;
	}
	p = arena->alloc(arena->arg, n == 0 ? 1 : n * size);
	if (p == NULL)
		rs_fail(sc, GD_NOMEM, "out of memory while decoding a response");
	return p;
}

/*
 * rs_bad_value
 *		A value in a row is not a string, a number or null.
 */
static bool
rs_bad_value(RsScan *sc, char *p)
{
	if (p >= sc->end)
		return rs_truncated(sc);
	switch (*p)
	{
		case '[':
		case '{':
			/* in a ResultData a later "data_array" member would win */
			if (sc->chunk)
				return rs_fallback(sc, "a value in \"data_array\" is an array or object");
			return rs_fail(sc, GD_SHAPE, "a value in \"data_array\" is an array or object, not a string");
		case 't':
		case 'f':
		case 'N':
		case 'I':
			/* NaN and Infinity: json-c reads them, gd_value_text rejects them */
			return rs_fallback(sc, "a value in \"data_array\" is a boolean, NaN or Infinity");
		default:
			return rs_unexpected(sc, p, "unexpected character");
	}
}

/*
 * rs_rows
 *		Scan the array of rows whose '[' is at *pp into out, moving *pp past
 *		its ']'.  Values keep their raw text (lens may carry RS_ESCAPED) until
 *		rs_commit.
 */
static bool
rs_rows(RsScan *sc, char **pp, GdArena *arena, GdChunk *out)
{
	char	   *p = *pp;
	const char *end = sc->end;
	size_t		nopen;
	size_t		ncomma;
	size_t		maxrows;
	size_t		maxvals;
	int64_t    *row_start;
	char	  **values;
	size_t	   *lens;
	size_t		nrows = 0;
	size_t		k = 0;

	/*
	 * Every row has its own '[' (as has the array itself), and every value
	 * after the array's first one is preceded by its own ',': between two
	 * values of a row, or between two rows.  A value takes at least two
	 * bytes with its separator (a one-digit number).
	 */
	rs_count(p, (size_t) (end - p), &nopen, &ncomma);
	maxrows = nopen;
	maxvals = ncomma + 1;
	if (maxvals > (size_t) (end - p) / 2 + 1)
		maxvals = (size_t) (end - p) / 2 + 1;

	row_start = rs_alloc(sc, arena, maxrows + 1, sizeof(int64_t));
	if (row_start == NULL)
		return false;
	values = rs_alloc(sc, arena, maxvals, sizeof(char *));
	if (values == NULL)
		return false;
	lens = rs_alloc(sc, arena, maxvals, sizeof(size_t));
	if (lens == NULL)
		return false;

	p = rs_ws(p + 1, end);
	if (p < end && *p == ']')
	{
		p++;
		goto done;
	}
	for (;;)
	{
		if (p >= end)
			return rs_truncated(sc);
		if (*p != '[')
		{
			if (sc->chunk)
				return rs_fallback(sc, "a row of \"data_array\" is not an array");
			if (*p == '"' || *p == '{' || *p == '-' || rs_isdigit(*p) ||
				*p == 't' || *p == 'f' || *p == 'n' || *p == 'N' || *p == 'I')
				return rs_fail(sc, GD_SHAPE, "row %zu of \"data_array\" is not an array",
							   nrows + 1);
			return rs_unexpected(sc, p, "unexpected character");
		}
		if (nrows >= maxrows)
			return rs_fallback(sc, "more rows than counted");
		row_start[nrows++] = (int64_t) k;
		p = rs_ws(p + 1, end);
		if (p < end && *p == ']')
			p++;
		else
		{
			for (;;)
			{
				if (p < end && *p == '"')
				{
					bool		esc = false;
					char	   *q;

					if (k >= maxvals)
						return rs_fallback(sc, "more values than counted");
					q = rs_string(sc, p + 1, &esc);
					if (q == NULL)
						return false;
					values[k] = p + 1;
					lens[k] = (size_t) (q - (p + 1));
					if (esc)
					{
						lens[k] |= RS_ESCAPED;
						sc->any_escapes = true;
					}
					k++;
					p = q + 1;
				}
				else if (end - p >= 4 && memcmp(p, "null", 4) == 0)
				{
					if (k >= maxvals)
						return rs_fallback(sc, "more values than counted");
					values[k] = NULL;
					lens[k] = 0;
					k++;
					p += 4;
				}
				else if (p < end && (*p == '-' || rs_isdigit(*p)))
				{
					/* a number: its text as sent (rs_number checked it) */
					bool		is_int;
					int			nd;
					char	   *q;

					if (k >= maxvals)
						return rs_fallback(sc, "more values than counted");
					q = rs_number(sc, p, &is_int, &nd);
					if (q == NULL)
						return false;
					values[k] = p;
					lens[k] = (size_t) (q - p);
					k++;
					p = q;
				}
				else
					return rs_bad_value(sc, p);

				/* a ']' after the ',' (trailing comma) fails in rs_bad_value */
				if (p < end && *p == ',')
				{
					p = rs_ws(p + 1, end);
					continue;
				}
				if (p < end && *p == ']')
				{
					p++;
					break;
				}
				/* the same after white space */
				p = rs_ws(p, end);
				if (p < end && *p == ',')
				{
					p = rs_ws(p + 1, end);
					continue;
				}
				if (p < end && *p == ']')
				{
					p++;
					break;
				}
				return rs_unexpected(sc, p, "expected ',' or ']'");
			}
		}
		p = rs_ws(p, end);
		if (p < end && *p == ',')
		{
			p = rs_ws(p + 1, end);
			if (p < end && *p == ']')
				return rs_unexpected(sc, p, "trailing comma");
			continue;
		}
		if (p < end && *p == ']')
		{
			p++;
			break;
		}
		return rs_unexpected(sc, p, "expected ',' or ']'");
	}

done:
	row_start[nrows] = (int64_t) k;
	out->nrows = (int64_t) nrows;
	out->row_start = row_start;
	out->values = values;
	out->lens = lens;
	*pp = p;
	return true;
}

/* Append U+FFFD, json-c's stand-in for a lone surrogate. */
static inline char *
rs_put_fffd(char *w)
{
	*w++ = (char) 0xEF;
	*w++ = (char) 0xBF;
	*w++ = (char) 0xBD;
	return w;
}

/* Append code point cp (< 0x110000, not a surrogate) as UTF-8. */
static inline char *
rs_put_utf8(char *w, unsigned int cp)
{
	if (cp < 0x80)
		*w++ = (char) cp;
	else if (cp < 0x800)
	{
		*w++ = (char) (0xC0 | (cp >> 6));
		*w++ = (char) (0x80 | (cp & 0x3F));
	}
	else if (cp < 0x10000)
	{
		*w++ = (char) (0xE0 | (cp >> 12));
		*w++ = (char) (0x80 | ((cp >> 6) & 0x3F));
		*w++ = (char) (0x80 | (cp & 0x3F));
	}
	else
	{
		*w++ = (char) (0xF0 | (cp >> 18));
		*w++ = (char) (0x80 | ((cp >> 12) & 0x3F));
		*w++ = (char) (0x80 | ((cp >> 6) & 0x3F));
		*w++ = (char) (0x80 | (cp & 0x3F));
	}
	return w;
}

/*
 * rs_unescape
 *		Unescape the validated raw string text s[0 .. rawlen - 1] in place and
 *		return its new length.  Surrogates are handled as json-c 0.16 handles
 *		them: a high surrogate escape followed at once by a low one is a
 *		pair; any other surrogate becomes U+FFFD.  (Pairs json-c gets wrong
 *		never get here: rs_string leaves them to json-c.)  Every escape
 *		takes more bytes than it yields, and a pending high surrogate's six
 *		bytes outnumber the three of its U+FFFD, so the writer never passes
 *		the reader.
 */
static size_t
rs_unescape(char *s, size_t rawlen)
{
	const char *end = s + rawlen;
	char	   *r = memchr(s, '\\', rawlen);
	char	   *w;
	unsigned int high = 0;

	if (r == NULL)
		return rawlen;
	w = r;
	while (r < end)
	{
		unsigned int u;
		char		e;

		if (*r != '\\')
		{
			char	   *bs = memchr(r, '\\', (size_t) (end - r));
			size_t		n = (size_t) ((bs ? bs : end) - r);

			if (high)
			{
				w = rs_put_fffd(w);
				high = 0;
			}
			memmove(w, r, n);
			w += n;
			r += n;
			continue;
		}
		e = r[1];
		if (e == 'u')
		{
			u = ((unsigned int) rs_hex(r[2]) << 12) | ((unsigned int) rs_hex(r[3]) << 8) |
				((unsigned int) rs_hex(r[4]) << 4) | (unsigned int) rs_hex(r[5]);
			r += 6;
			if (high)
			{
				if (RS_IS_LOW(u))
				{
					w = rs_put_utf8(w, RS_PAIR(high, u));
					high = 0;
					continue;
				}
				w = rs_put_fffd(w);
				high = 0;
			}
			if (RS_IS_HIGH(u))
				high = u;
			else if (RS_IS_LOW(u))
				w = rs_put_fffd(w);
			else
				w = rs_put_utf8(w, u);
			continue;
		}
		if (high)
		{
			w = rs_put_fffd(w);
			high = 0;
		}
		switch (e)
		{
			case 'b':
				*w++ = '\b';
				break;
			case 'f':
				*w++ = '\f';
				break;
			case 'n':
				*w++ = '\n';
				break;
			case 'r':
				*w++ = '\r';
				break;
			case 't':
				*w++ = '\t';
				break;
			default:
				*w++ = e;		/* '"', '\\' or '/' */
				break;
		}
		r += 2;
	}
	if (high)
		w = rs_put_fffd(w);
	return (size_t) (w - s);
}

/*
 * rs_commit
 *		Turn the recorded raw values into NUL-terminated, unescaped strings.
 *		Each NUL goes where the closing quote was, or earlier.
 */
static void
rs_commit(GdChunk *out, bool any_escapes)
{
	size_t		n;
	size_t		k;
	char	  **values = out->values;
	size_t	   *lens = out->lens;

	if (out->row_start == NULL)
		return;
	n = (size_t) out->row_start[out->nrows];
	if (!any_escapes)
	{
		for (k = 0; k < n; k++)
			if (values[k] != NULL)
				values[k][lens[k]] = '\0';
		return;
	}
	for (k = 0; k < n; k++)
	{
		size_t		l = lens[k];

		if (values[k] == NULL)
			continue;
		if (l & RS_ESCAPED)
		{
			l = rs_unescape(values[k], l & ~RS_ESCAPED);
			lens[k] = l;
		}
		values[k][l] = '\0';
	}
}

/*
 * rs_start
 *		Checks common to both entry points; false when the body is rejected.
 */
static bool
rs_start(RsScan *sc, char *buf, size_t len, GdError *err, bool chunk)
{
	memset(sc, 0, sizeof(*sc));
	sc->err = err;
	sc->chunk = chunk;
	if (buf == NULL || len == 0)
		return rs_fail(sc, GD_SYNTAX, "empty response body");
	sc->buf = buf;
	sc->end = buf + len;
	/* json-c's limit, kept so that both decoders take the same bodies */
	if (len > (size_t) INT32_MAX)
		return rs_fail(sc, GD_SYNTAX, "response body too large to parse");
	return true;
}

/* Only white space may follow the value. */
static bool
rs_finish(RsScan *sc, char *p)
{
	p = rs_ws(p, sc->end);
	if (p < sc->end)
		return rs_fail(sc, GD_SYNTAX, "response body has data after the JSON value (byte %zu)",
					   (size_t) (p - sc->buf));
	return true;
}

static void
rs_note_fallback(const char *why)
{
	rs_nfallbacks++;
	rs_last_fallback = why;
}

/*
 * gd_scan_rows
 *		Decode the body of an external-link chunk file, a JSON array of rows,
 *		as gd_decode_rows does, in place.
 *
 * On success the values point into buf, which the scanner has modified
 * (strings unescaped and NUL-terminated where their closing quote was,
 * numbers where the byte after them was), so buf must outlive out; the
 * arena holds only row_start, values and lens.  The body goes to
 * gd_decode_rows (values are then arena copies and buf is not modified)
 * when the scanner meets what it leaves to json-c: a body that is not an
 * array; among the values a boolean, NaN or Infinity, or a number not
 * written as RFC 8259 writes numbers ("-01", "1." and others json-c reads);
 * a raw control character in a string; UTF-8 that json-c accepts but is not
 * well-formed (overlong forms, surrogates, past U+10FFFF); a \u surrogate
 * pair json-c misdecodes (code points with D800..DFFF in their low 16 bits);
 * a \u0000 escape (so that the values the scanner hands out, marked
 * values_checked, are well-formed UTF-8 without NUL and need no second
 * check).  On failure buf is unchanged.
 */
bool
gd_scan_rows(char *buf, size_t len, GdArena *arena, GdChunk *out, GdError *err)
{
	RsScan		sc;
	char	   *p;

	memset(out, 0, sizeof(*out));
	out->present = true;
	if (!rs_start(&sc, buf, len, err, false))
		return false;
	p = rs_ws(buf, sc.end);
	if (p < sc.end && *p != '[')
		rs_fallback(&sc, "the body is not an array");
	else if (p >= sc.end)
		rs_truncated(&sc);
	else if (rs_rows(&sc, &p, arena, out) && rs_finish(&sc, p))
	{
		rs_commit(out, sc.any_escapes);
		out->values_checked = true;
		return true;
	}
	if (sc.fallback != NULL)
	{
		rs_note_fallback(sc.fallback);
		return gd_decode_rows(buf, len, arena, out, err);
	}
	return false;
}

/* Which member of a ResultData a key names. */
static RsKey
rs_key(const char *k, size_t len)
{
	switch (len)
	{
		case 10:
			if (memcmp(k, "row_offset", 10) == 0)
				return RS_KEY_ROW_OFFSET;
			if (memcmp(k, "data_array", 10) == 0)
				return RS_KEY_DATA_ARRAY;
			break;
		case 11:
			if (memcmp(k, "chunk_index", 11) == 0)
				return RS_KEY_CHUNK_INDEX;
			break;
		case 14:
			if (memcmp(k, "external_links", 14) == 0)
				return RS_KEY_EXTERNAL_LINKS;
			break;
		case 16:
			if (memcmp(k, "next_chunk_index", 16) == 0)
				return RS_KEY_NEXT_INDEX;
			break;
		case 24:
			if (memcmp(k, "next_chunk_internal_link", 24) == 0)
				return RS_KEY_NEXT_LINK;
			break;
		default:
			break;
	}
	return RS_KEY_OTHER;
}

/*
 * rs_int_field
 *		Read an int64 member's value at *pp as gd_decode_chunk does: a JSON
 *		integer, a decimal string (as strtoll takes it), or null (absent).
 *		Doubles, long or escaped strings and other types go to json-c.
 */
static bool
rs_int_field(RsScan *sc, char **pp, bool *have, int64_t *val)
{
	char	   *p = *pp;
	const char *end = sc->end;

	*have = false;
	if (p < end && *p == '"')
	{
		bool		esc = false;
		char	   *q = rs_string(sc, p + 1, &esc);
		char		tmp[RS_MAX_INTSTR + 1];
		char	   *e;
		long long	ll;
		size_t		l;

		if (q == NULL)
			return false;
		l = (size_t) (q - (p + 1));
		if (esc || l > RS_MAX_INTSTR)
			return rs_fallback(sc, "an escaped or long integer string");
		memcpy(tmp, p + 1, l);
		tmp[l] = '\0';
		errno = 0;
		ll = strtoll(tmp, &e, 10);
		if (errno != 0 || e == tmp || *e != '\0')
			return rs_fallback(sc, "an integer member is not an integer");
		*have = true;
		*val = (int64_t) ll;
		*pp = q + 1;
		return true;
	}
	if (p < end && (*p == '-' || rs_isdigit(*p)))
	{
		bool		is_int;
		int			nd;
		char	   *q = rs_number(sc, p, &is_int, &nd);
		char	   *d;
		int64_t		v = 0;

		if (q == NULL)
			return false;
		if (!is_int || nd > RS_MAX_INTDIGITS)
			return rs_fallback(sc, "an integer member is a double or a long integer");
		for (d = (*p == '-') ? p + 1 : p; d < q; d++)
			v = v * 10 + (*d - '0');
		*have = true;
		*val = (*p == '-') ? -v : v;
		*pp = q;
		return true;
	}
	if (end - p >= 4 && memcmp(p, "null", 4) == 0)
	{
		*pp = p + 4;
		return true;
	}
	return rs_fallback(sc, "an integer member is not an integer");
}

/*
 * rs_chunk
 *		Scan the ResultData object at *pp into out, moving *pp past its '}'.
 *		*link and *link_raw receive the raw text of next_chunk_internal_link
 *		(NULL when absent).
 */
static bool
rs_chunk(RsScan *sc, char **pp, GdArena *arena, GdChunk *out,
		 char **link, size_t *link_raw, bool *link_esc)
{
	const char *end = sc->end;
	unsigned int seen = 0;
	char	   *p = rs_ws(*pp, end);

	if (p >= end)
		return rs_truncated(sc);
	if (*p != '{')
		return rs_fallback(sc, "the body is not an object");
	p = rs_ws(p + 1, end);
	if (p < end && *p == '}')
	{
		*pp = p + 1;
		return true;
	}
	for (;;)
	{
		char	   *key;
		char	   *q;
		size_t		klen;
		bool		esc;
		bool		more;
		RsKey		id;

		if (!rs_member_key(sc, &p, &key, &klen, &esc))
			return false;
		if (esc)
			return rs_fallback(sc, "an escaped key");
		id = rs_key(key, klen);
		if (id != RS_KEY_OTHER)
		{
			/* json-c keeps the last of duplicate keys */
			if (seen & (1u << id))
				return rs_fallback(sc, "a duplicate key");
			seen |= 1u << id;
		}
		if (p >= end)
			return rs_truncated(sc);

		switch (id)
		{
			case RS_KEY_CHUNK_INDEX:
				{
					bool		have;

					if (!rs_int_field(sc, &p, &have, &out->chunk_index))
						return false;
					break;
				}
			case RS_KEY_ROW_OFFSET:
				{
					bool		have;

					if (!rs_int_field(sc, &p, &have, &out->row_offset))
						return false;
					break;
				}
			case RS_KEY_NEXT_INDEX:
				if (!rs_int_field(sc, &p, &out->has_next_index, &out->next_chunk_index))
					return false;
				break;
			case RS_KEY_NEXT_LINK:
				if (*p == '"')
				{
					esc = false;
					q = rs_string(sc, p + 1, &esc);
					if (q == NULL)
						return false;
					*link = p + 1;
					*link_raw = (size_t) (q - (p + 1));
					*link_esc = esc;
					p = q + 1;
				}
				else if (end - p >= 4 && memcmp(p, "null", 4) == 0)
					p += 4;
				else
					return rs_fallback(sc, "next_chunk_internal_link is not a string");
				break;
			case RS_KEY_DATA_ARRAY:
				if (*p == '[')
				{
					if (!rs_rows(sc, &p, arena, out))
						return false;
				}
				else if (end - p >= 4 && memcmp(p, "null", 4) == 0)
					p += 4;
				else
					return rs_fallback(sc, "data_array is not an array");
				break;
			case RS_KEY_EXTERNAL_LINKS:
				return rs_fallback(sc, "external_links");
			case RS_KEY_OTHER:
				if (!rs_skip(sc, &p, 0))
					return false;
				break;
		}
		if (!rs_after_value(sc, &p, '}', &more))
			return false;
		if (!more)
		{
			*pp = p;
			return true;
		}
	}
}

/*
 * rs_chunk_commit
 *		Once the whole body is accepted: unescape and NUL-terminate the
 *		values and the link of a chunk rs_chunk scanned.
 */
static void
rs_chunk_commit(GdChunk *out, const RsScan *sc, char *link, size_t link_raw,
				bool link_esc)
{
	if (!out->has_next_index)
		out->next_chunk_index = 0;
	if (link != NULL)
	{
		if (link_esc)
			link_raw = rs_unescape(link, link_raw);
		link[link_raw] = '\0';
		out->next_chunk_link = link;
	}
	rs_commit(out, sc->any_escapes);
	out->values_checked = true;
}

/*
 * gd_scan_chunk
 *		Decode a ResultData object (GET .../result/chunks/N) as
 *		gd_decode_chunk does, in place.
 *
 * Values and next_chunk_link point into buf, as for gd_scan_rows.  Members
 * other than chunk_index, row_offset, next_chunk_index,
 * next_chunk_internal_link and data_array are checked and skipped.  The body
 * goes to gd_decode_chunk in the value and string cases listed at
 * gd_scan_rows and also for: a body that is not an object; an
 * "external_links" member; a duplicate, escaped or single-quoted key (json-c
 * keeps the last duplicate, cuts keys at \u0000 and takes 'key'); an integer
 * member given as a double, as an integer of more than 18 digits, or as a
 * string that is escaped, longer than 63 bytes or not taken whole by
 * strtoll; a member, row or value of the wrong type (json-c fails then,
 * unless a later duplicate member wins); NaN, Infinity or a number that is
 * not plain RFC 8259 in a skipped member; containers nested more than 32
 * deep in one.
 */
bool
gd_scan_chunk(char *buf, size_t len, GdArena *arena, GdChunk *out, GdError *err)
{
	RsScan		sc;
	char	   *p;
	char	   *link = NULL;
	size_t		link_raw = 0;
	bool		link_esc = false;

	memset(out, 0, sizeof(*out));
	out->present = true;
	if (!rs_start(&sc, buf, len, err, true))
		return false;
	p = buf;
	if (rs_chunk(&sc, &p, arena, out, &link, &link_raw, &link_esc) && rs_finish(&sc, p))
	{
		rs_chunk_commit(out, &sc, link, link_raw, link_esc);
		return true;
	}
	if (sc.fallback != NULL)
	{
		rs_note_fallback(sc.fallback);
		return gd_decode_chunk(buf, len, arena, out, err);
	}
	return false;
}

/* A StatementResponse's walk, looking for its "result" member. */
typedef struct RsStmt
{
	GdArena    *arena;
	GdChunk    *out;
	bool		found;			/* a result object was scanned */
	bool		at_root;		/* ... as a member of the top-level object */
	bool		wrapped;		/* the top level has a statement_response */
	RsScan		sub;			/* the scanner over the result's copy */
	GdError		suberr;
	size_t		start;			/* the result's value: buf[start .. end - 1] */
	size_t		end;
	char	   *link;
	size_t		link_raw;
	bool		link_esc;
} RsStmt;

/*
 * rs_stmt_result
 *		Scan the result object at *pp: the rest of the body (from its '{') is
 *		copied into the arena and the chunk scanned there, so that its values
 *		can later be unescaped and NUL-terminated in place while the caller's
 *		body stays as it was.  Moves *pp past the object.
 */
static bool
rs_stmt_result(RsScan *sc, RsStmt *st, char **pp)
{
	char	   *p = *pp;
	size_t		n = (size_t) (sc->end - p);
	char	   *copy;
	char	   *q;

	copy = st->arena->alloc(st->arena->arg, n);
	if (copy == NULL)
		return rs_fail(sc, GD_NOMEM, "out of memory while decoding a response");
	memcpy(copy, p, n);
	memset(&st->suberr, 0, sizeof(st->suberr));
	if (!rs_start(&st->sub, copy, n, &st->suberr, true))
		return rs_fallback(sc, "the result cannot be scanned");
	q = copy;
	if (!rs_chunk(&st->sub, &q, st->arena, st->out, &st->link, &st->link_raw, &st->link_esc))
	{
		if (st->sub.failed && st->suberr.status == GD_NOMEM)
			return rs_fail(sc, GD_NOMEM, "out of memory while decoding a response");
		/* whatever else: the whole body goes to json-c */
		return rs_fallback(sc, st->sub.fallback ? st->sub.fallback : "the result is rejected");
	}
	st->found = true;
	st->start = (size_t) (p - sc->buf);
	st->end = st->start + (size_t) (q - copy);
	*pp = p + (q - copy);
	return true;
}

/*
 * rs_stmt_object
 *		Validate the object at *pp (its '{'), a StatementResponse or (root)
 *		the query-result response around one, scanning its "result" and
 *		descending into a top-level "statement_response"; every other member
 *		is validated and skipped.  Moves *pp past the object.
 */
static bool
rs_stmt_object(RsScan *sc, RsStmt *st, char **pp, bool root)
{
	const char *end = sc->end;
	char	   *p = rs_ws(*pp + 1, end);

	if (p < end && *p == '}')
	{
		*pp = p + 1;
		return true;
	}
	for (;;)
	{
		char	   *key;
		size_t		klen;
		bool		esc;
		bool		more;

		if (!rs_member_key(sc, &p, &key, &klen, &esc))
			return false;
		if (esc)
			return rs_fallback(sc, "an escaped key");
		if (p >= end)
			return rs_truncated(sc);
		if (klen == 6 && memcmp(key, "result", 6) == 0)
		{
			/* json-c keeps the last of duplicates; the tree decides */
			if (st->found)
				return rs_fallback(sc, "two results");
			if (*p != '{')
				return rs_fallback(sc, "the result is not an object");
			if (!rs_stmt_result(sc, st, &p))
				return false;
			st->at_root = root;
		}
		else if (root && klen == 18 && memcmp(key, "statement_response", 18) == 0)
		{
			if (st->wrapped)
				return rs_fallback(sc, "a duplicate statement_response");
			if (*p != '{')
				return rs_fallback(sc, "statement_response is not an object");
			st->wrapped = true;
			if (!rs_stmt_object(sc, st, &p, false))
				return false;
		}
		else if (!rs_skip(sc, &p, root ? 1 : 2))
			return false;
		if (!rs_after_value(sc, &p, '}', &more))
			return false;
		if (!more)
		{
			*pp = p;
			return true;
		}
	}
}

/*
 * gd_scan_statement_result
 *		Scan the first chunk of a query-result response (a StatementResponse,
 *		bare or wrapped in "statement_response") in place, for
 *		gd_decode_statement.
 *
 * GD_SCAN_DONE: the whole body is RFC 8259 JSON as the row scanner takes it
 * (so json-c takes it too), its statement has one "result" object, and that
 * object was scanned into out as gd_scan_chunk would scan it, in an arena
 * copy of the body from the result on (values point into the copy, which
 * lives as long as the arena; buf is never modified).  buf[*rstart ..
 * *rend - 1] is the result's text: the rest of the body is for json-c.
 * GD_SCAN_NOMEM: the arena refused (err is set).  GD_SCAN_NOT_HANDLED:
 * anything else (no result, a result or body the scanner leaves to json-c,
 * an escaped or duplicate key at the statement's levels, invalid JSON...):
 * the caller decodes the whole body with json-c, which also words the error.
 */
GdScanOutcome
gd_scan_statement_result(const char *buf, size_t len, GdArena *arena,
						 GdChunk *out, size_t *rstart, size_t *rend, GdError *err)
{
	RsScan		sc;
	RsStmt		st;
	GdError		e;
	char	   *p;

	memset(out, 0, sizeof(*out));
	memset(&st, 0, sizeof(st));
	memset(&e, 0, sizeof(e));
	st.arena = arena;
	st.out = out;
	out->present = true;
	/* read only: the scan writes nothing into the body it walks */
	if (!rs_start(&sc, unconstify_char(buf), len, &e, false))
	{
		memset(out, 0, sizeof(*out));
		return GD_SCAN_NOT_HANDLED;
	}
	p = rs_ws(sc.buf, sc.end);
	if (p < sc.end && *p == '{' && rs_stmt_object(&sc, &st, &p, true) &&
		rs_finish(&sc, p) && st.found && !(st.wrapped && st.at_root))
	{
		rs_chunk_commit(out, &st.sub, st.link, st.link_raw, st.link_esc);
		*rstart = st.start;
		*rend = st.end;
		return GD_SCAN_DONE;
	}
	memset(out, 0, sizeof(*out));
	if (sc.failed && e.status == GD_NOMEM)
	{
		if (err != NULL)
			*err = e;
		return GD_SCAN_NOMEM;
	}
	return GD_SCAN_NOT_HANDLED;
}

/*
 * gd_scan_fallback_count
 *		How many bodies gd_scan_* handed to json-c in this process, and (when
 *		last_reason is not NULL) why the last one went.
 */
uint64_t
gd_scan_fallback_count(const char **last_reason)
{
	if (last_reason != NULL)
		*last_reason = rs_last_fallback;
	return rs_nfallbacks;
}
