/*-------------------------------------------------------------------------
 *
 * convert.c
 *		  Conversion of Genie answer rows into PostgreSQL values.
 *
 * Owns the mapping of foreign-table columns to what fills them (question,
 * metadata such as the generated SQL, or an answer column found by name),
 * the per-column input functions (looked up once per scan), encoding
 * checks, the jsonb "row" column, and the error context that names the
 * column, row and value when a value does not fit its column.
 *
 * Copyright (c) 2026, genie_fdw developers
 *
 * IDENTIFICATION
 *		  src/convert.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "genie_fdw.h"

/* How much of a bad value an error shows. */
#define VALUE_EXCERPT 60

/*
 * genie_converter_create
 *		Column mapping and input functions for a foreign table.
 */
GenieConverter *
genie_converter_create(Relation rel)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	GenieConverter *conv = palloc0(sizeof(GenieConverter));
	Oid			relid = RelationGetRelid(rel);
	int			qattno = genie_question_attnum(relid, tupdesc);
	int			i;

	conv->relid = relid;
	conv->relname = pstrdup(RelationGetRelationName(rel));
	conv->natts = tupdesc->natts;
	conv->cols = palloc0(sizeof(GenieColumnMap) * Max(tupdesc->natts, 1));

	for (i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);
		GenieColumnMap *col = &conv->cols[i];
		Oid			infunc;

		col->answer_index = -1;
		if (att->attisdropped)
		{
			col->dropped = true;
			continue;
		}
		col->kind = genie_column_kind(relid, att->attnum, NameStr(att->attname),
									  &col->answer_name);
		if (col->kind == GCOL_QUESTION && att->attnum != qattno)
			col->kind = GCOL_ANSWER;
		col->typid = att->atttypid;
		col->typmod = att->atttypmod;
		getTypeInputInfo(att->atttypid, &infunc, &col->typioparam);
		fmgr_info(infunc, &col->infunc);
	}
	return conv;
}

bool
genie_converter_has_kind(const GenieConverter *conv, GenieColumnKind kind)
{
	int			i;

	for (i = 0; i < conv->natts; i++)
		if (!conv->cols[i].dropped && conv->cols[i].kind == kind)
			return true;
	return false;
}

/*
 * genie_converter_bind
 *		Match answer columns to the result schema of one answer: exact name
 *		first, else case-insensitive.  When a column is missing, a NOTICE
 *		lists the columns the answer has, so the table can be fixed.
 */
void
genie_converter_bind(GenieConverter *conv, const GdStatement *st)
{
	StringInfoData missing;
	int			i;

	initStringInfo(&missing);
	for (i = 0; i < conv->natts; i++)
	{
		GenieColumnMap *col = &conv->cols[i];
		int			j;

		col->answer_index = -1;
		if (col->dropped || col->kind != GCOL_ANSWER)
			continue;
		for (j = 0; j < st->ncolumns; j++)
			if (strcmp(st->columns[j].name, col->answer_name) == 0)
			{
				col->answer_index = j;
				break;
			}
		for (j = 0; col->answer_index < 0 && j < st->ncolumns; j++)
			if (pg_strcasecmp(st->columns[j].name, col->answer_name) == 0)
				col->answer_index = j;
		if (col->answer_index < 0)
			appendStringInfo(&missing, "%s\"%s\"", missing.len ? ", " : "", col->answer_name);
	}

	if (missing.len > 0 && st->ncolumns > 0)
	{
		StringInfoData have;

		initStringInfo(&have);
		for (i = 0; i < st->ncolumns; i++)
			appendStringInfo(&have, "%s\"%s\" %s", i ? ", " : "", st->columns[i].name,
							 st->columns[i].type_text ? st->columns[i].type_text :
							 (st->columns[i].type_name ? st->columns[i].type_name : ""));
		ereport(NOTICE,
				(errmsg("Genie's answer has no column %s; %s NULL",
						missing.data, strchr(missing.data, ',') ? "they are" : "it is"),
				 errdetail("The answer has columns: %s.", have.data),
				 errhint("Name answer columns like Genie does, or map them with OPTIONS (column_name '...').")));
	}
}

static void
conversion_error_callback(void *arg)
{
	GenieConverter *conv = (GenieConverter *) arg;

	if (conv->colname == NULL)
		return;
	if (conv->value)
	{
		int			n = (int) Min(conv->value_len, VALUE_EXCERPT);

		/* cut at a character boundary of the server encoding */
		n = pg_mbcliplen(conv->value, n, n);
		errcontext("column \"%s\" of foreign table \"%s\", answer row %lld, value \"%.*s%s\"",
				   conv->colname, conv->relname, (long long) conv->rownum, n, conv->value,
				   (size_t) n < conv->value_len ? "..." : "");
	}
	else
		errcontext("column \"%s\" of foreign table \"%s\", answer row %lld",
				   conv->colname, conv->relname, (long long) conv->rownum);
}

/*
 * server_string
 *		A Genie value (UTF-8) as a NUL-terminated string in the server
 *		encoding; raises an error for invalid bytes or embedded NULs.
 */
static char *
server_string(GenieConverter *conv, const char *val, size_t len)
{
	char	   *s;

	/* not yet known to be valid: keep it out of the error context */
	conv->value = NULL;
	if (memchr(val, '\0', len) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNTRANSLATABLE_CHARACTER),
				 errmsg("Genie's answer contains a value with a NUL character, which PostgreSQL cannot store")));
	if (!pg_verify_mbstr(PG_UTF8, val, (int) len, true))
		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("Genie's answer contains a value that is not valid UTF-8")));
	/* values are NUL-terminated and live as long as their chunk: no copy */
	s = pg_any_to_server(val, (int) len, PG_UTF8);
	conv->value = s;
	conv->value_len = strlen(s);
	return s;
}

static bool
is_numeric_type(const char *type_name)
{
	static const char *const numeric[] = {
		"INT", "LONG", "SHORT", "BYTE", "DECIMAL", "DOUBLE", "FLOAT"
	};
	int			i;

	if (type_name == NULL)
		return false;
	for (i = 0; i < lengthof(numeric); i++)
		if (strcmp(type_name, numeric[i]) == 0)
			return true;
	return false;
}

/* Is s a JSON number (RFC 8259 grammar)? */
static bool
is_json_number(const char *s)
{
	const char *p = s;

	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (isdigit((unsigned char) *p))
			p++;
	else
		return false;
	if (*p == '.')
	{
		p++;
		if (!isdigit((unsigned char) *p))
			return false;
		while (isdigit((unsigned char) *p))
			p++;
	}
	if (*p == 'e' || *p == 'E')
	{
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!isdigit((unsigned char) *p))
			return false;
		while (isdigit((unsigned char) *p))
			p++;
	}
	return *p == '\0';
}

/*
 * row_json
 *		The whole answer row as a JSON object keyed by Genie's column names:
 *		numbers as numbers, booleans as booleans, everything else as strings.
 */
static char *
row_json(GenieConverter *conv, const GdStatement *st, char **values,
		 const size_t *lens, int nvalues)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (i = 0; i < st->ncolumns && i < nvalues; i++)
	{
		const char *tn = st->columns[i].type_name;
		char	   *v;

		if (i > 0)
			appendStringInfoString(&buf, ", ");
		escape_json(&buf, st->columns[i].name);
		appendStringInfoString(&buf, ": ");
		if (values[i] == NULL)
		{
			appendStringInfoString(&buf, "null");
			continue;
		}
		v = server_string(conv, values[i], lens[i]);
		if (is_numeric_type(tn) && is_json_number(v))
			appendStringInfoString(&buf, v);
		else if (tn && strcmp(tn, "BOOLEAN") == 0 &&
				 (strcmp(v, "true") == 0 || strcmp(v, "false") == 0))
			appendStringInfoString(&buf, v);
		else
			escape_json(&buf, v);
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/*
 * suggestions_literal
 *		Genie's suggested questions as input for the column's type: an array
 *		literal for an array column (text[]), else a JSON array (json, jsonb,
 *		text).  NULL when Genie suggested nothing.
 */
static char *
suggestions_literal(GenieConverter *conv, const GenieColumnMap *col,
					const GdMessage *msg)
{
	StringInfoData buf;
	bool		array = OidIsValid(get_element_type(col->typid));
	int			i;

	if (msg->n_suggested_questions == 0)
		return NULL;
	initStringInfo(&buf);
	appendStringInfoChar(&buf, array ? '{' : '[');
	for (i = 0; i < msg->n_suggested_questions; i++)
	{
		const char *q = msg->suggested_questions[i];
		char	   *v = server_string(conv, q, strlen(q));
		const char *p;

		if (i > 0)
			appendStringInfoChar(&buf, ',');
		if (!array)
		{
			escape_json(&buf, v);
			continue;
		}
		appendStringInfoChar(&buf, '"');
		for (p = v; *p; p++)
		{
			if (*p == '"' || *p == '\\')
				appendStringInfoChar(&buf, '\\');
			appendStringInfoChar(&buf, *p);
		}
		appendStringInfoChar(&buf, '"');
	}
	appendStringInfoChar(&buf, array ? '}' : ']');
	return buf.data;
}

/*
 * genie_convert_row
 *		Fill datums/nulls for one answer row (values may be NULL for an
 *		answer without a query: then only metadata columns are set).
 */
void
genie_convert_row(GenieConverter *conv, const GenieAnswer *answer,
				  const GdStatement *st, char **values, const size_t *lens,
				  int nvalues, Datum *datums, bool *nulls)
{
	ErrorContextCallback errcb;
	int			i;

	errcb.callback = conversion_error_callback;
	errcb.arg = conv;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	for (i = 0; i < conv->natts; i++)
	{
		GenieColumnMap *col = &conv->cols[i];
		const char *raw = NULL;
		size_t		rawlen = 0;
		char	   *str = NULL;

		nulls[i] = true;
		datums[i] = (Datum) 0;
		if (col->dropped)
			continue;

		conv->colname = col->answer_name;
		conv->value = NULL;
		switch (col->kind)
		{
			case GCOL_ANSWER:
				if (values && col->answer_index >= 0 && col->answer_index < nvalues)
				{
					raw = values[col->answer_index];
					rawlen = lens[col->answer_index];
				}
				break;
			case GCOL_QUESTION:
				str = answer->question;
				break;
			case GCOL_SQL:
				raw = answer->message.sql;
				break;
			case GCOL_TEXT:
				raw = answer->message.text;
				break;
			case GCOL_DESCRIPTION:
				raw = answer->message.description;
				break;
			case GCOL_CONVERSATION_ID:
				raw = answer->conversation_id;
				break;
			case GCOL_MESSAGE_ID:
				raw = answer->message_id;
				break;
			case GCOL_STATEMENT_ID:
				raw = answer->message.statement_id;
				break;
			case GCOL_ROW:
				if (values && st)
					str = row_json(conv, st, values, lens, nvalues);
				break;
			case GCOL_SUGGESTED_QUESTIONS:
				str = suggestions_literal(conv, col, &answer->message);
				break;
			case GCOL_FOLLOW_UP:
				raw = answer->message.follow_up;
				break;
		}
		if (raw != NULL && col->kind != GCOL_ANSWER)
			rawlen = strlen(raw);
		if (raw != NULL)
			str = server_string(conv, raw, rawlen);
		if (str == NULL)
			continue;
		conv->value = str;
		conv->value_len = strlen(str);
		datums[i] = InputFunctionCall(&col->infunc, str, col->typioparam, col->typmod);
		nulls[i] = false;
	}
	conv->colname = NULL;
	error_context_stack = errcb.previous;
}
