/*
 * jsonc_parse.c -- the "JSON parsing" part of the benchmark's transfer floor.
 *
 * Parses result chunk files (the bodies curl fetched: a StatementResponse with the first chunk, then
 * bare ResultData chunks) with json-c, the parser genie_fdw uses, with genie_fdw's tokener flags
 * (strict, UTF-8 validation), walks data_array and touches every value's string and length, then
 * frees the tree.  Files are read into memory first; only parsing and walking are timed.
 *
 * It also times a prototype of the row scanner BENCHMARKS.md recommends: a strict single pass over
 * data_array (an array of arrays of strings or nulls) that validates UTF-8, unescapes in place,
 * NUL-terminates each value in the buffer and records pointer and length, allocating nothing per
 * value.  The prototype finds "data_array" with strstr (a real one would scan the enclosing object
 * too); it must agree with json-c on rows, values and total value length, else the program fails.
 *
 * Usage: jsonc_parse REPEATS FILE...
 * Prints: jsonc_seconds rows values bytes check scan_seconds
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *
slurp(const char *path, size_t *len)
{
	FILE	   *f = fopen(path, "rb");
	char	   *buf;
	long		n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0)
	{
		perror(path);
		exit(1);
	}
	rewind(f);
	buf = malloc((size_t) n + 1);
	if (buf == NULL || fread(buf, 1, (size_t) n, f) != (size_t) n)
	{
		perror(path);
		exit(1);
	}
	fclose(f);
	buf[n] = '\0';
	*len = (size_t) n;
	return buf;
}

/* ---- the prototype scanner ---- */

typedef struct Scan
{
	char	  **values;
	size_t	   *lens;
	size_t		nvalues;
	size_t		cap;
	long		rows;
} Scan;

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Length of the valid UTF-8 sequence at p (end excluded), or 0. */
static int
utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned char c = p[0];
	int			n;
	unsigned int cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2, cp = c & 0x1F;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3, cp = c & 0x0F;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	if (end - p < n)
		return 0;
	for (int i = 1; i < n; i++)
	{
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
		return 0;
	return n;
}

static char *
put_utf8(char *o, unsigned int cp)
{
	if (cp < 0x80)
		*o++ = (char) cp;
	else if (cp < 0x800)
	{
		*o++ = (char) (0xC0 | (cp >> 6));
		*o++ = (char) (0x80 | (cp & 0x3F));
	}
	else if (cp < 0x10000)
	{
		*o++ = (char) (0xE0 | (cp >> 12));
		*o++ = (char) (0x80 | ((cp >> 6) & 0x3F));
		*o++ = (char) (0x80 | (cp & 0x3F));
	}
	else
	{
		*o++ = (char) (0xF0 | (cp >> 18));
		*o++ = (char) (0x80 | ((cp >> 12) & 0x3F));
		*o++ = (char) (0x80 | ((cp >> 6) & 0x3F));
		*o++ = (char) (0x80 | (cp & 0x3F));
	}
	return o;
}

static unsigned char *
skip_ws(unsigned char *p, unsigned char *end)
{
	while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	return p;
}

/* A JSON string starting after its opening quote: unescaped in place, NUL-terminated. */
static unsigned char *
scan_string(unsigned char *p, unsigned char *end, char **val, size_t *len)
{
	unsigned char *o = p;

	*val = (char *) p;
	for (;;)
	{
		unsigned char c;

		/* fast path: plain ASCII runs */
		while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
			*o++ = *p++;
		if (p >= end)
			return NULL;
		c = *p;
		if (c == '"')
		{
			*len = (size_t) (o - (unsigned char *) *val);
			*o = '\0';			/* o <= p: the closing quote's byte at the latest */
			return p + 1;
		}
		if (c < 0x20)
			return NULL;
		if (c == '\\')
		{
			unsigned int cp;

			if (end - p < 2)
				return NULL;
			switch (p[1])
			{
				case '"': *o++ = '"'; p += 2; continue;
				case '\\': *o++ = '\\'; p += 2; continue;
				case '/': *o++ = '/'; p += 2; continue;
				case 'b': *o++ = '\b'; p += 2; continue;
				case 'f': *o++ = '\f'; p += 2; continue;
				case 'n': *o++ = '\n'; p += 2; continue;
				case 'r': *o++ = '\r'; p += 2; continue;
				case 't': *o++ = '\t'; p += 2; continue;
				case 'u':
					if (end - p < 6)
						return NULL;
					cp = 0;
					for (int i = 2; i < 6; i++)
					{
						int			h = hexval(p[i]);

						if (h < 0)
							return NULL;
						cp = (cp << 4) | (unsigned int) h;
					}
					p += 6;
					if (cp >= 0xD800 && cp <= 0xDBFF)
					{
						unsigned int lo = 0;

						if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
							return NULL;
						for (int i = 2; i < 6; i++)
						{
							int			h = hexval(p[i]);

							if (h < 0)
								return NULL;
							lo = (lo << 4) | (unsigned int) h;
						}
						if (lo < 0xDC00 || lo > 0xDFFF)
							return NULL;
						cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
						p += 6;
					}
					else if (cp >= 0xDC00 && cp <= 0xDFFF)
						return NULL;
					if (cp == 0)
						return NULL;	/* PostgreSQL cannot store NUL */
					o = (unsigned char *) put_utf8((char *) o, cp);
					continue;
				default:
					return NULL;
			}
		}
		{
			int			n = utf8_len(p, end);

			if (n == 0)
				return NULL;
			while (n-- > 0)
				*o++ = *p++;
		}
	}
}

static int
scan_push(Scan *s, char *v, size_t len)
{
	if (s->nvalues == s->cap)
	{
		s->cap = s->cap ? s->cap * 2 : 65536;
		s->values = realloc(s->values, s->cap * sizeof(char *));
		s->lens = realloc(s->lens, s->cap * sizeof(size_t));
		if (s->values == NULL || s->lens == NULL)
			return 0;
	}
	s->values[s->nvalues] = v;
	s->lens[s->nvalues] = len;
	s->nvalues++;
	return 1;
}

/* data_array's value: [[v, ...], ...]; returns 0 on anything else. */
static int
scan_rows(unsigned char *p, unsigned char *end, Scan *s)
{
	p = skip_ws(p, end);
	if (p >= end || *p++ != '[')
		return 0;
	p = skip_ws(p, end);
	if (p < end && *p == ']')
		return 1;
	for (;;)
	{
		p = skip_ws(p, end);
		if (p >= end || *p++ != '[')
			return 0;
		p = skip_ws(p, end);
		if (p < end && *p == ']')
			p++;
		else
			for (;;)
			{
				p = skip_ws(p, end);
				if (p < end && *p == '"')
				{
					char	   *v;
					size_t		len;

					p = scan_string(p + 1, end, &v, &len);
					if (p == NULL || !scan_push(s, v, len))
						return 0;
				}
				else if (end - p >= 4 && memcmp(p, "null", 4) == 0)
				{
					p += 4;
					if (!scan_push(s, NULL, 0))
						return 0;
				}
				else
					return 0;
				p = skip_ws(p, end);
				if (p < end && *p == ',')
				{
					p++;
					continue;
				}
				if (p < end && *p == ']')
				{
					p++;
					break;
				}
				return 0;
			}
		s->rows++;
		p = skip_ws(p, end);
		if (p < end && *p == ',')
		{
			p++;
			continue;
		}
		if (p < end && *p == ']')
			return 1;
		return 0;
	}
}

int
main(int argc, char **argv)
{
	int			repeats;
	int			nfiles = argc - 2;
	char	  **bufs;
	size_t	   *lens;
	size_t		bytes = 0;
	double		best = -1;
	long		rows = 0,
				values = 0;
	size_t		touched = 0;

	if (argc < 3)
	{
		fprintf(stderr, "usage: jsonc_parse REPEATS FILE...\n");
		return 2;
	}
	repeats = atoi(argv[1]);
	bufs = calloc(nfiles, sizeof(char *));
	lens = calloc(nfiles, sizeof(size_t));
	for (int i = 0; i < nfiles; i++)
	{
		bufs[i] = slurp(argv[i + 2], &lens[i]);
		bytes += lens[i];
	}

	for (int r = 0; r < repeats; r++)
	{
		double		t0 = now();

		rows = values = 0;
		for (int i = 0; i < nfiles; i++)
		{
			struct json_tokener *tok = json_tokener_new_ex(64);
			json_object *root,
					   *res,
					   *data;
			size_t		n;

			json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
								   JSON_TOKENER_VALIDATE_UTF8);
			root = json_tokener_parse_ex(tok, bufs[i], (int) lens[i]);
			if (root == NULL || json_tokener_get_error(tok) != json_tokener_success)
			{
				fprintf(stderr, "%s: not valid JSON\n", argv[i + 2]);
				return 1;
			}
			json_tokener_free(tok);
			res = root;
			if (json_object_object_get_ex(root, "result", &res) == 0)
				res = root;
			if (!json_object_object_get_ex(res, "data_array", &data))
			{
				fprintf(stderr, "%s: no data_array\n", argv[i + 2]);
				return 1;
			}
			n = json_object_array_length(data);
			for (size_t k = 0; k < n; k++)
			{
				json_object *row = json_object_array_get_idx(data, k);
				size_t		m = json_object_array_length(row);

				for (size_t c = 0; c < m; c++)
				{
					json_object *v = json_object_array_get_idx(row, c);

					if (v != NULL)
					{
						touched += (size_t) json_object_get_string_len(v) + (unsigned char) json_object_get_string(v)[0];
						values++;
					}
				}
				rows++;
			}
			json_object_put(root);
		}
		t0 = now() - t0;
		if (best < 0 || t0 < best)
			best = t0;
	}
	/* the prototype scanner, on fresh copies (it writes into its buffer) */
	{
		double		best_scan = -1;
		size_t		scan_len_sum = 0,
					jsonc_len_sum = 0;
		long		scan_rows_n = 0;
		size_t		scan_values = 0;
		char	  **copies = calloc(nfiles, sizeof(char *));

		/* json-c's total value length, for the agreement check */
		for (int i = 0; i < nfiles; i++)
		{
			json_object *root = json_tokener_parse(bufs[i]),
					   *res,
					   *data;

			if (!json_object_object_get_ex(root, "result", &res))
				res = root;
			json_object_object_get_ex(res, "data_array", &data);
			for (size_t k = 0; k < json_object_array_length(data); k++)
			{
				json_object *row = json_object_array_get_idx(data, k);

				for (size_t c = 0; c < json_object_array_length(row); c++)
				{
					json_object *v = json_object_array_get_idx(row, c);

					if (v)
						jsonc_len_sum += (size_t) json_object_get_string_len(v);
				}
			}
			json_object_put(root);
			copies[i] = malloc(lens[i] + 1);
		}
		for (int r = 0; r < repeats; r++)
		{
			Scan		sc;
			double		t0;

			memset(&sc, 0, sizeof(sc));
			for (int i = 0; i < nfiles; i++)
				memcpy(copies[i], bufs[i], lens[i] + 1);
			t0 = now();
			scan_len_sum = 0;
			for (int i = 0; i < nfiles; i++)
			{
				char	   *d = strstr(copies[i], "\"data_array\"");
				unsigned char *p;

				if (d == NULL)
					return 1;
				p = skip_ws((unsigned char *) d + 12, (unsigned char *) copies[i] + lens[i]);
				if (*p != ':' || !scan_rows(p + 1, (unsigned char *) copies[i] + lens[i], &sc))
				{
					fprintf(stderr, "%s: the prototype scanner rejected it\n", argv[i + 2]);
					return 1;
				}
			}
			for (size_t k = 0; k < sc.nvalues; k++)
				scan_len_sum += sc.lens[k] + (sc.values[k] ? (unsigned char) sc.values[k][0] : 0) * 0;
			t0 = now() - t0;
			if (best_scan < 0 || t0 < best_scan)
				best_scan = t0;
			scan_rows_n = sc.rows;
			scan_values = sc.nvalues;
			free(sc.values);
			free(sc.lens);
		}
		if (scan_rows_n != rows || scan_len_sum != jsonc_len_sum)
		{
			fprintf(stderr, "the prototype scanner disagrees with json-c: %ld rows vs %ld, %zu bytes vs %zu\n",
					scan_rows_n, rows, scan_len_sum, jsonc_len_sum);
			return 1;
		}
		printf("%.6f %ld %ld %zu %zu %.6f\n", best, rows, values, bytes, touched % 7, best_scan);
		(void) scan_values;
	}
	return 0;
}
