/*
 * jsonc_parse.c -- the "JSON parsing" part of the benchmark's transfer floor.
 *
 * Parses result chunk files (the bodies curl fetched: a StatementResponse with the first chunk, then
 * bare ResultData chunks) with json-c, the parser genie_fdw uses, with genie_fdw's tokener flags
 * (strict, UTF-8 validation), walks data_array and touches every value's string and length, then
 * frees the tree.  Files are read into memory first; only parsing and walking are timed.
 *
 * Usage: jsonc_parse REPEATS FILE...     prints: best_seconds rows values bytes
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
	printf("%.6f %ld %ld %zu %zu\n", best, rows, values, bytes, touched % 7);
	return 0;
}
