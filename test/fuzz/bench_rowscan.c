/*-------------------------------------------------------------------------
 *
 * bench_rowscan.c
 *		  Time the in-place row scanner (rowscan.c) against the json-c
 *		  decoder (genie_decode.c) on the same generated result chunk.
 *
 * Generates ROWS rows of six string values shaped like the emulator's
 * answer rows (test/genie_emulator.py: compact JSON, ensure_ascii=False):
 * an id, a name (now and then with raw UTF-8 or escapes), a small int (every
 * tenth one null), a decimal, a timestamp with or without milliseconds and
 * "true"/"false".  Times gd_decode_rows and gd_scan_rows on the bare array
 * (an external-link chunk file) and gd_decode_chunk and gd_scan_chunk on the
 * same rows wrapped in a ResultData object, best of REPEATS runs each, and
 * checks that both decoders give the same values and that the scanner never
 * handed the body to json-c.  The arena is a bump allocator reset between
 * runs; the scanner's input copy is made outside the timed region.
 *
 *	cc -O2 -Isrc $(pkg-config --cflags json-c) -o /tmp/bench_rowscan \
 *		test/fuzz/bench_rowscan.c src/genie_decode.c src/rowscan.c \
 *		$(pkg-config --libs json-c)
 *	/tmp/bench_rowscan [ROWS [REPEATS]]		(default 200000 5)
 *
 * Copyright (c) 2026, genie_fdw developers
 *
 * IDENTIFICATION
 *		  test/fuzz/bench_rowscan.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "genie_decode.h"

typedef struct Bump
{
	char	   *base;
	size_t		size;
	size_t		used;
} Bump;

static void *
bump_alloc(void *arg, size_t size)
{
	Bump	   *b = arg;
	size_t		off = (b->used + 15) & ~(size_t) 15;

	if (off + size > b->size)
		return NULL;
	b->used = off + size;
	return b->base + off;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Growable text buffer. */
typedef struct Text
{
	char	   *s;
	size_t		len;
	size_t		cap;
} Text;

static void
put(Text *t, const char *s)
{
	size_t		l = strlen(s);

	if (t->len + l + 1 > t->cap)
	{
		t->cap = (t->len + l + 1) * 2;
		t->s = realloc(t->s, t->cap);
		if (t->s == NULL)
			abort();
	}
	memcpy(t->s + t->len, s, l + 1);
	t->len += l;
}

/* One emulator-like row: id, name, qty, amount, ts, flag. */
static void
put_row(Text *t, long i)
{
	char		v[128];
	long		cents = (i * 7919) % 10000000;
	long		secs = i * 37;

	put(t, i == 1 ? "[" : ",[");
	snprintf(v, sizeof(v), "\"%ld\",", i);
	put(t, v);
	if (i % 50 == 0)
		snprintf(v, sizeof(v), "\"Caf\xc3\xa9 \xe2\x82\xac%ld\",", i);
	else if (i % 97 == 0)
		snprintf(v, sizeof(v), "\"item \\\"%ld\\\" \\\\ x\",", i);
	else
		snprintf(v, sizeof(v), "\"item-%ld\",", i);
	put(t, v);
	if (i % 10 == 0)
		put(t, "null,");
	else
	{
		snprintf(v, sizeof(v), "\"%ld\",", i % 100);
		put(t, v);
	}
	snprintf(v, sizeof(v), "\"%ld.%02ld\",", cents / 100, cents % 100);
	put(t, v);
	if (i % 3 == 0)
		snprintf(v, sizeof(v), "\"2024-%02ld-%02ld %02ld:%02ld:%02ld\",",
				 1 + (secs / 86400 / 28) % 12, 1 + (secs / 86400) % 28,
				 (secs / 3600) % 24, (secs / 60) % 60, secs % 60);
	else
		snprintf(v, sizeof(v), "\"2024-%02ld-%02ld %02ld:%02ld:%02ld.%03ld\",",
				 1 + (secs / 86400 / 28) % 12, 1 + (secs / 86400) % 28,
				 (secs / 3600) % 24, (secs / 60) % 60, secs % 60, i % 1000);
	put(t, v);
	put(t, i % 2 == 0 ? "\"true\"]" : "\"false\"]");
}

static void
same(const GdChunk *a, const GdChunk *b)
{
	int64_t		k;
	int64_t		total;

	if (a->nrows != b->nrows || a->row_start[a->nrows] != b->row_start[b->nrows] ||
		a->chunk_index != b->chunk_index || a->row_offset != b->row_offset ||
		a->has_next_index != b->has_next_index ||
		a->next_chunk_index != b->next_chunk_index ||
		(a->next_chunk_link == NULL) != (b->next_chunk_link == NULL) ||
		(a->next_chunk_link && strcmp(a->next_chunk_link, b->next_chunk_link) != 0))
	{
		fprintf(stderr, "bench_rowscan: decoders disagree on the chunk\n");
		exit(1);
	}
	total = a->row_start[a->nrows];
	for (k = 0; k < total; k++)
		if ((a->values[k] == NULL) != (b->values[k] == NULL) || a->lens[k] != b->lens[k] ||
			(a->values[k] && memcmp(a->values[k], b->values[k], a->lens[k]) != 0))
		{
			fprintf(stderr, "bench_rowscan: decoders disagree on value %lld\n", (long long) k);
			exit(1);
		}
}

typedef bool (*DecodeFn) (const char *buf, size_t len, GdArena *arena, GdChunk *out, GdError *err);
typedef bool (*ScanFn) (char *buf, size_t len, GdArena *arena, GdChunk *out, GdError *err);

/*
 * Best-of-repeats seconds for both decoders on text; leaves each one's last
 * result in *ref / *got (their memory lives in bref / bgot and work).
 */
static void
run(const char *what, const Text *text, long rows, int repeats,
	DecodeFn decode, ScanFn scan)
{
	Bump		bref = {0};
	Bump		bgot = {0};
	GdArena		aref = {bump_alloc, &bref};
	GdArena		agot = {bump_alloc, &bgot};
	GdChunk		ref;
	GdChunk		got;
	GdError		err;
	char	   *work = malloc(text->len);
	double		best_ref = 1e9;
	double		best_got = 1e9;
	uint64_t	fallbacks = gd_scan_fallback_count(NULL);
	int			i;
	double		mb = (double) text->len / 1e6;

	bref.size = text->len * 8 + (1 << 20);
	bgot.size = text->len * 8 + (1 << 20);
	bref.base = malloc(bref.size);
	bgot.base = malloc(bgot.size);
	if (work == NULL || bref.base == NULL || bgot.base == NULL)
		abort();

	for (i = 0; i < repeats; i++)
	{
		double		t0;
		double		t;

		bref.used = 0;
		t0 = now();
		if (!decode(text->s, text->len, &aref, &ref, &err))
		{
			fprintf(stderr, "bench_rowscan: json-c decoder failed: %s\n", err.message);
			exit(1);
		}
		t = now() - t0;
		if (t < best_ref)
			best_ref = t;

		memcpy(work, text->s, text->len);
		bgot.used = 0;
		t0 = now();
		if (!scan(work, text->len, &agot, &got, &err))
		{
			fprintf(stderr, "bench_rowscan: scanner failed: %s\n", err.message);
			exit(1);
		}
		t = now() - t0;
		if (t < best_got)
			best_got = t;
	}
	same(&ref, &got);
	if (gd_scan_fallback_count(NULL) != fallbacks)
	{
		fprintf(stderr, "bench_rowscan: the scanner handed the body to json-c\n");
		exit(1);
	}

	printf("%-6s %8.1f MB  json-c %7.1f ms %7.1f MB/s %6.0f ns/row | scanner %6.1f ms %7.1f MB/s %5.0f ns/row | x%.1f\n",
		   what, mb,
		   best_ref * 1e3, mb / best_ref, best_ref * 1e9 / (double) rows,
		   best_got * 1e3, mb / best_got, best_got * 1e9 / (double) rows,
		   best_ref / best_got);
	printf("       arena: json-c %.1f MB, scanner %.1f MB\n",
		   (double) bref.used / 1e6, (double) bgot.used / 1e6);
	free(work);
	free(bref.base);
	free(bgot.base);
}

int
main(int argc, char **argv)
{
	long		rows = argc > 1 ? atol(argv[1]) : 200000;
	int			repeats = argc > 2 ? atoi(argv[2]) : 5;
	Text		arr = {0};
	Text		obj = {0};
	long		i;

	if (rows < 1 || repeats < 1)
	{
		fprintf(stderr, "usage: bench_rowscan [ROWS [REPEATS]]\n");
		return 2;
	}
	put(&arr, "[");
	for (i = 1; i <= rows; i++)
		put_row(&arr, i);
	put(&arr, "]");

	put(&obj, "{\"chunk_index\":3,\"row_offset\":75000,\"row_count\":");
	{
		char		n[32];

		snprintf(n, sizeof(n), "%ld", rows);
		put(&obj, n);
	}
	put(&obj, ",\"data_array\":");
	put(&obj, arr.s);
	put(&obj, ",\"next_chunk_index\":4,\"next_chunk_internal_link\":"
		"\"/api/2.0/sql/statements/01f0f00d-0000-1111-2222-333344445555/result/chunks/4\"}");

	printf("%ld rows x 6 values, best of %d\n", rows, repeats);
	run("rows", &arr, rows, repeats, gd_decode_rows, gd_scan_rows);
	run("chunk", &obj, rows, repeats, gd_decode_chunk, gd_scan_chunk);
	free(arr.s);
	free(obj.s);
	return 0;
}
