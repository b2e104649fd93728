/*
 * jsonc_parse.c -- the "JSON parsing" part of the benchmark's transfer floor.
 *
 * Parses result chunk files (the bodies curl fetched: a StatementResponse with the first chunk, then
 * bare ResultData chunks) with json-c, the parser genie_fdw uses for everything but rows, with
 * genie_fdw's tokener flags (strict, UTF-8 validation), walks data_array and touches every value's
 * string and length, then frees the tree.  Files are read into memory first; only parsing and walking
 * are timed.
 *
 * It also times genie_fdw's own row path decoders on the same bytes, linked from src/rowscan.c and
 * src/genie_decode.c (this program carries no scanner of its own): gd_decode_statement for the
 * StatementResponse (its first chunk scanned in place, the rest through json-c) and gd_scan_chunk for
 * every further chunk, on fresh copies of the bodies (the scanner writes into its buffer).  They must
 * agree with json-c on rows and on the total value length, and must not have handed any chunk to
 * json-c, else the program fails.
 *
 * Usage: jsonc_parse REPEATS FILE...
 * Prints: jsonc_seconds rows values bytes check scan_seconds
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "genie_decode.h"

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

/* ---- an arena for the decoders: malloc'd blocks, freed together ---- */

typedef struct Arena
{
	void	  **blocks;
	size_t		n;
	size_t		cap;
} Arena;

static void *
arena_alloc(void *arg, size_t size)
{
	Arena	   *a = arg;

	if (a->n == a->cap)
	{
		a->cap = a->cap ? a->cap * 2 : 64;
		a->blocks = realloc(a->blocks, a->cap * sizeof(void *));
		if (a->blocks == NULL)
			return NULL;
	}
	return a->blocks[a->n++] = malloc(size);
}

static void
arena_reset(Arena *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->blocks[i]);
	a->n = 0;
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
	/* genie_fdw's decoders, on fresh copies (the scanner writes into its buffer) */
	{
		double		best_scan = -1;
		size_t		scan_len_sum = 0,
					jsonc_len_sum = 0;
		long		scan_rows_n = 0;
		char	  **copies = calloc(nfiles, sizeof(char *));
		int		   *is_statement = calloc(nfiles, sizeof(int));
		Arena		arena_state = {0};
		GdArena		arena = {arena_alloc, &arena_state};
		uint64_t	fallbacks = gd_scan_fallback_count(NULL);

		/* json-c's total value length, for the agreement check */
		for (int i = 0; i < nfiles; i++)
		{
			json_object *root = json_tokener_parse(bufs[i]),
					   *res,
					   *data;

			if (json_object_object_get_ex(root, "result", &res))
				is_statement[i] = 1;
			else
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
			double		t0;

			for (int i = 0; i < nfiles; i++)
				memcpy(copies[i], bufs[i], lens[i] + 1);
			t0 = now();
			scan_len_sum = 0;
			scan_rows_n = 0;
			for (int i = 0; i < nfiles; i++)
			{
				GdStatement st;
				GdChunk		ch;
				const GdChunk *c = &ch;
				GdError		err;
				int			ok;

				if (is_statement[i])
				{
					ok = gd_decode_statement(copies[i], lens[i], &arena, &st, &err);
					c = &st.result;
				}
				else
					ok = gd_scan_chunk(copies[i], lens[i], &arena, &ch, &err);
				if (!ok || c->row_start == NULL || !c->values_checked)
				{
					fprintf(stderr, "%s: genie_fdw's decoder %s\n", argv[i + 2],
							!ok ? err.message : "did not scan the rows in place");
					return 1;
				}
				for (int64_t k = 0; k < c->row_start[c->nrows]; k++)
					scan_len_sum += c->lens[k] + (c->values[k] ? (unsigned char) c->values[k][0] : 0) * 0;
				scan_rows_n += c->nrows;
				arena_reset(&arena_state);
			}
			t0 = now() - t0;
			if (best_scan < 0 || t0 < best_scan)
				best_scan = t0;
		}
		if (scan_rows_n != rows || scan_len_sum != jsonc_len_sum ||
			gd_scan_fallback_count(NULL) != fallbacks)
		{
			fprintf(stderr, "genie_fdw's decoders disagree with json-c: %ld rows vs %ld, %zu bytes vs %zu, %llu fallbacks\n",
					scan_rows_n, rows, scan_len_sum, jsonc_len_sum,
					(unsigned long long) (gd_scan_fallback_count(NULL) - fallbacks));
			return 1;
		}
		printf("%.6f %ld %ld %zu %zu %.6f\n", best, rows, values, bytes, touched % 7, best_scan);
	}
	return 0;
}
