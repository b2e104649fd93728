/*-------------------------------------------------------------------------
 *
 * convert.c
 *		  Conversion of Genie answer rows into PostgreSQL values.
 *
 * Owns the mapping of foreign-table columns to what fills them (question,
 * metadata such as the generated SQL, or an answer column found by name)
 * and the check that a table's columns can work (genie_check_columns),
 * the per-column input functions (looked up once per scan), encoding
 * checks, the jsonb "row" column, the error context that names the
 * column, row and value when a value does not fit its column, and the typed
 * fast paths: for the common column types the text Genie sends is turned
 * into the very Datum the type's input function would produce, without the
 * function's general parser; whatever a fast path does not fully understand
 * goes to the input function, which then also raises its own error.
 * genie_fdw_convert_selftest (not part of the extension's SQL script; the
 * tests create it) holds the two to the same results.
 *
 * Copyright (c) 2026, genie_fdw developers
 *
 * IDENTIFICATION
 *		  src/convert.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "parser/parse_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/datum.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "genie_fdw.h"

/* How much of a bad value an error shows. */
#define VALUE_EXCERPT 60

/*
 * Typed fast paths.  Each takes a value (NUL-terminated, in the server
 * encoding) and either produces exactly the Datum the column type's input
 * function would produce for it, or returns false and leaves the value to
 * the input function.  They accept a strict subset of what the input
 * functions accept: the forms Genie sends (digits with an optional '-',
 * "3.336E8", "NaN", "true", "2024-01-15", "2024-01-15T10:30:00.000Z") and
 * close relatives; leading '+', white space, underscores, BC dates, time
 * zones other than Z and +hh:mm, special values and anything out of range
 * all take the input function.
 */
typedef enum GenieFastKind
{
	FAST_NONE = 0,
	FAST_INT2,
	FAST_INT4,
	FAST_INT8,
	FAST_FLOAT4,
	FAST_FLOAT8,
	FAST_NUMERIC,
	FAST_BOOL,
	FAST_DATE,
	FAST_TIMESTAMP,
	FAST_TIMESTAMPTZ,
	FAST_TEXT
} GenieFastKind;

/* Largest magnitude (exclusive) a numeric fast path builds from an int64. */
#define FAST_NUMERIC_DIGITS 14

/* 10^0 .. 10^22, every one exact in a double */
static const double fast_pow10[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

/* A decimal number as lexed by fast_lex_number. */
typedef struct FastNumber
{
	bool		neg;
	uint64		mant;			/* all digits, leading zeros aside */
	int			nsig;			/* digits in mant */
	int			nint;			/* integer digits, leading zeros aside */
	int			nfrac;			/* digits after the point */
	bool		has_exp;
	int			exp;
} FastNumber;

/*
 * fast_lex_number
 *		-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]{1,4})? and nothing else; mant is
 *		exact while nsig <= 19.
 */
static bool
fast_lex_number(const char *s, size_t len, FastNumber *n)
{
	const char *p = s;
	const char *end = s + len;
	const char *d;

	memset(n, 0, sizeof(*n));
	if (p < end && *p == '-')
	{
		n->neg = true;
		p++;
	}
	d = p;
	for (; p < end && *p >= '0' && *p <= '9'; p++)
	{
		if (n->nsig == 0 && *p == '0')
			continue;
		if (n->nsig < 19)
			n->mant = n->mant * 10 + (uint64) (*p - '0');
		n->nsig++;
		n->nint++;
	}
	if (p == d)
		return false;
	if (p < end && *p == '.')
	{
		d = ++p;
		for (; p < end && *p >= '0' && *p <= '9'; p++)
		{
			n->nfrac++;
			if (n->nsig == 0 && *p == '0')
				continue;
			if (n->nsig < 19)
				n->mant = n->mant * 10 + (uint64) (*p - '0');
			n->nsig++;
		}
		if (p == d)
			return false;
	}
	if (p < end && (*p == 'e' || *p == 'E'))
	{
		bool		eneg = false;
		int			e = 0;

		p++;
		if (p < end && (*p == '+' || *p == '-'))
			eneg = (*p++ == '-');
		d = p;
		for (; p < end && *p >= '0' && *p <= '9' && p - d < 4; p++)
			e = e * 10 + (*p - '0');
		if (p == d)
			return false;
		n->has_exp = true;
		n->exp = eneg ? -e : e;
	}
	return p == end;
}

/* "NaN", "Infinity" or "-Infinity", spelled as Genie spells them */
static bool
fast_float_special(const char *s, size_t len)
{
	return (len == 3 && memcmp(s, "NaN", 3) == 0) ||
		(len == 8 && memcmp(s, "Infinity", 8) == 0) ||
		(len == 9 && memcmp(s, "-Infinity", 9) == 0);
}

/*
 * fast_float8
 *		float8in calls strtod() and returns its result when strtod takes the
 *		whole string without setting errno; so does this, except that a
 *		number of at most 15 significant digits with a decimal exponent of at
 *		most 22 is computed directly: one correctly rounded IEEE multiply or
 *		divide of two exact doubles gives the correctly rounded value, which
 *		is what strtod returns (Clinger's fast path).
 */
static bool
fast_float8(const char *s, size_t len, Datum *out)
{
	FastNumber	n;
	double		v;
	char	   *endp;

	if (!fast_float_special(s, len))
	{
		if (!fast_lex_number(s, len, &n))
			return false;
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
		if (n.nsig <= 15)
		{
			int			e = n.exp - n.nfrac;

			if (e >= -22 && e <= 22)
			{
				v = (double) n.mant;
				v = e >= 0 ? v * fast_pow10[e] : v / fast_pow10[-e];
				*out = Float8GetDatum(n.neg ? -v : v);
				return true;
			}
		}
#endif
	}
	errno = 0;
	v = strtod(s, &endp);
	if (errno != 0 || endp != s + len)
		return false;
	*out = Float8GetDatum(v);
	return true;
}

/* float4in likewise returns strtof()'s result. */
static bool
fast_float4(const char *s, size_t len, Datum *out)
{
	FastNumber	n;
	float		v;
	char	   *endp;

	if (!fast_float_special(s, len) && !fast_lex_number(s, len, &n))
		return false;
	errno = 0;
	v = strtof(s, &endp);
	if (errno != 0 || endp != s + len)
		return false;
	*out = Float4GetDatum(v);
	return true;
}

/* -?[0-9]{1,maxdigits}: always within range of the type */
static bool
fast_int(const char *s, size_t len, int maxdigits, int64 *out)
{
	const char *p = s;
	const char *end = s + len;
	bool		neg = false;
	int64		v = 0;

	if (p < end && *p == '-')
	{
		neg = true;
		p++;
	}
	if (p == end || end - p > maxdigits)
		return false;
	for (; p < end; p++)
	{
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (*p - '0');
	}
	*out = neg ? -v : v;
	return true;
}

/*
 * fast_numeric
 *		numeric_in's value for a plain decimal (no exponent) of at most 14
 *		digits, after rounding to the column's scale: the value as an int64
 *		of units of 10^-dscale, made a Numeric by int64_div_fast_to_numeric,
 *		which builds it through the same make_result (zeros stripped, zero
 *		made positive) as numeric_in.  A typmod is applied as apply_typmod
 *		does when nothing needs rounding: the display scale becomes the
 *		column's scale, and too many integer digits take the input function
 *		(which raises the overflow error).
 */
static bool
fast_numeric(const char *s, size_t len, int32 typmod, Datum *out)
{
	FastNumber	n;
	int			dscale;
	int64		v;
	int			i;

	if (!fast_lex_number(s, len, &n) || n.has_exp)
		return false;
	dscale = n.nfrac;
	if (typmod >= (int32) VARHDRSZ)
	{
		int			precision = ((typmod - VARHDRSZ) >> 16) & 0xffff;
		int			scale = (typmod - VARHDRSZ) & 0x7ff;

		/* fast_kind admits only 0 <= scale <= precision */
		if (n.nfrac > scale || n.nint > precision - scale)
			return false;
		dscale = scale;
	}
	if (n.nint + dscale > FAST_NUMERIC_DIGITS)
		return false;
	v = (int64) n.mant;
	for (i = n.nfrac; i < dscale; i++)
		v *= 10;
	*out = NumericGetDatum(int64_div_fast_to_numeric(n.neg ? -v : v, dscale));
	return true;
}

/* d digits at p as a number, or -1 */
static inline int
fast_digits(const char *p, int d)
{
	int			v = 0;
	int			i;

	for (i = 0; i < d; i++)
	{
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

/* YYYY-MM-DD at p (10 bytes available), year 1..9999: days since 2000-01-01 */
static bool
fast_ymd(const char *p, int *days)
{
	int			y = fast_digits(p, 4);
	int			m = fast_digits(p + 5, 2);
	int			d = fast_digits(p + 8, 2);

	if (p[4] != '-' || p[7] != '-' || y < 1 || m < 1 || m > 12 || d < 1 ||
		d > day_tab[isleap(y) ? 1 : 0][m - 1])
		return false;
	*days = date2j(y, m, d) - POSTGRES_EPOCH_JDATE;
	return true;
}

/*
 * fast_timestamp
 *		YYYY-MM-DD[T ]HH:MM:SS[.f{1,9}] and a zone: 'Z' or +hh:mm / -hh:mm
 *		(hh up to 15); timestamp also takes no zone, and ignores the zone as
 *		timestamp_in does.  Fractional seconds become microseconds as the
 *		date/time parser makes them: rint(strtod(".fff...") * 1e6) (for up to
 *		six digits that is the digits themselves); a fraction that rounds up
 *		to a whole second carries into the seconds, as there.
 */
static bool
fast_timestamp(const char *s, size_t len, bool tz, Datum *out)
{
	const char *p;
	const char *end = s + len;
	int			days;
	int			h,
				mi,
				sec;
	int64		fsec = 0;
	int			zone = 0;		/* seconds west of UTC, as PostgreSQL counts */
	int64		result;

	if (len < 19 || !fast_ymd(s, &days) || (s[10] != 'T' && s[10] != ' ') ||
		s[13] != ':' || s[16] != ':')
		return false;
	h = fast_digits(s + 11, 2);
	mi = fast_digits(s + 14, 2);
	sec = fast_digits(s + 17, 2);
	if (h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59)
		return false;
	p = s + 19;
	if (p < end && *p == '.')
	{
		const char *f = ++p;
		int			nd;

		while (p < end && *p >= '0' && *p <= '9')
			p++;
		nd = (int) (p - f);
		if (nd < 1 || nd > 9)
			return false;
		if (nd <= 6)
		{
			fsec = fast_digits(f, nd);
			for (; nd < 6; nd++)
				fsec *= 10;
		}
		else
		{
			char		frac[12];

			memcpy(frac, f - 1, nd + 1);
			frac[nd + 1] = '\0';
			fsec = (int64) rint(strtod(frac, NULL) * 1000000);
		}
	}
	if (p == end)
	{
		/* no zone: timestamptz would need the session's time zone */
		if (tz)
			return false;
	}
	else if (*p == 'Z' && end - p == 1)
		zone = 0;
	else if ((*p == '+' || *p == '-') && end - p == 6 && p[3] == ':')
	{
		int			zh = fast_digits(p + 1, 2);
		int			zm = fast_digits(p + 4, 2);

		if (zh < 0 || zh > MAX_TZDISP_HOUR || zm < 0 || zm > 59)
			return false;
		zone = (zh * SECS_PER_HOUR + zm * SECS_PER_MINUTE) * (*p == '+' ? -1 : 1);
	}
	else
		return false;

	result = (int64) days * USECS_PER_DAY +
		(((int64) h * MINS_PER_HOUR + mi) * SECS_PER_MINUTE + sec) * USECS_PER_SEC + fsec;
	if (tz)
		result += (int64) zone * USECS_PER_SEC;
	*out = tz ? TimestampTzGetDatum(result) : TimestampGetDatum(result);
	return true;
}

/*
 * fast_convert
 *		The fast path of col for str (len bytes); false: use the input
 *		function.
 */
static bool
fast_convert(const GenieColumnMap *col, const char *str, size_t len, Datum *out)
{
	int64		i;
	int			days;

	switch ((GenieFastKind) col->fast)
	{
		case FAST_NONE:
			return false;
		case FAST_INT2:
			if (!fast_int(str, len, 4, &i))
				return false;
			*out = Int16GetDatum((int16) i);
			return true;
		case FAST_INT4:
			if (!fast_int(str, len, 9, &i))
				return false;
			*out = Int32GetDatum((int32) i);
			return true;
		case FAST_INT8:
			if (!fast_int(str, len, 18, &i))
				return false;
			*out = Int64GetDatum(i);
			return true;
		case FAST_FLOAT4:
			return fast_float4(str, len, out);
		case FAST_FLOAT8:
			return fast_float8(str, len, out);
		case FAST_NUMERIC:
			return fast_numeric(str, len, col->typmod, out);
		case FAST_BOOL:
			if ((len == 4 && memcmp(str, "true", 4) == 0) || (len == 1 && str[0] == 't'))
				*out = BoolGetDatum(true);
			else if ((len == 5 && memcmp(str, "false", 5) == 0) || (len == 1 && str[0] == 'f'))
				*out = BoolGetDatum(false);
			else
				return false;
			return true;
		case FAST_DATE:
			if (len != 10 || !fast_ymd(str, &days))
				return false;
			*out = DateADTGetDatum((DateADT) days);
			return true;
		case FAST_TIMESTAMP:
			return fast_timestamp(str, len, false, out);
		case FAST_TIMESTAMPTZ:
			return fast_timestamp(str, len, true, out);
		case FAST_TEXT:
			/* varchar(n): within n bytes is within n characters */
			if (col->typmod >= (int32) VARHDRSZ && len > (size_t) (col->typmod - VARHDRSZ))
				return false;
			if (len > MaxAllocSize - VARHDRSZ)
				return false;
			*out = PointerGetDatum(cstring_to_text_with_len(str, (int) len));
			return true;
	}
	return false;
}

/*
 * zulu_is_utc
 *		Does the session read a trailing 'Z' as UTC?  It is a time-zone
 *		abbreviation (timezone_abbreviations), so ask the input function
 *		once per scan.
 */
static bool
zulu_is_utc(GenieColumnMap *col)
{
	char		probe[] = "2000-01-01T00:00:00Z";
	Datum		d;

#ifdef GENIE_HAVE_SOFT_INPUT
	ErrorSaveContext escontext = {T_ErrorSaveContext};

	if (!InputFunctionCallSafe(&col->infunc, probe, col->typioparam, col->typmod,
							   (Node *) &escontext, &d))
		return false;
	return DatumGetInt64(d) == 0;
#else
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool ok = false;

	/* the date/time parser takes no lock or resource: no subtransaction */
	PG_TRY();
	{
		d = InputFunctionCall(&col->infunc, probe, col->typioparam, col->typmod);
		ok = DatumGetInt64(d) == 0;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		FlushErrorState();
		ok = false;
	}
	PG_END_TRY();
	return ok;
#endif
}

/*
 * fast_kind
 *		Which fast path serves a column of this type, or FAST_NONE (domains,
 *		arrays, other types, typmods that need more than the fast paths do).
 */
static int
fast_kind(GenieColumnMap *col)
{
	int32		typmod = col->typmod;

	switch (col->typid)
	{
		case INT2OID:
			return FAST_INT2;
		case INT4OID:
			return FAST_INT4;
		case INT8OID:
			return FAST_INT8;
		case FLOAT4OID:
			return FAST_FLOAT4;
		case FLOAT8OID:
			return FAST_FLOAT8;
		case BOOLOID:
			return FAST_BOOL;
		case DATEOID:
			return FAST_DATE;
		case TEXTOID:
		case VARCHAROID:
			return FAST_TEXT;
		case NUMERICOID:
			if (typmod == -1)
				return FAST_NUMERIC;
			if (typmod >= (int32) VARHDRSZ)
			{
				int			precision = ((typmod - VARHDRSZ) >> 16) & 0xffff;
				int			scale = (typmod - VARHDRSZ) & 0xffff;

				/* scale > 0x7ff is negative since PostgreSQL 15 */
				if (precision >= 1 && precision <= 1000 && scale <= precision)
					return FAST_NUMERIC;
			}
			return FAST_NONE;
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			if (typmod != -1 && typmod != MAX_TIMESTAMP_PRECISION)
				return FAST_NONE;
			if (!zulu_is_utc(col))
				return FAST_NONE;
			return col->typid == TIMESTAMPOID ? FAST_TIMESTAMP : FAST_TIMESTAMPTZ;
		default:
			return FAST_NONE;
	}
}

/*
 * convert_value
 *		str (len bytes, server encoding) as a Datum of col's type.
 */
static inline Datum
convert_value(GenieColumnMap *col, char *str, size_t len, bool *fast)
{
	Datum		d;

	if (col->fast != FAST_NONE && fast_convert(col, str, len, &d))
	{
		*fast = true;
		return d;
	}
	*fast = false;
	return InputFunctionCall(&col->infunc, str, col->typioparam, col->typmod);
}

/* Does a column carry the option genie (not only its name "question")? */
static bool
has_genie_option(Oid relid, AttrNumber attnum)
{
	ListCell   *lc;

	foreach(lc, GetForeignColumnOptions(relid, attnum))
		if (strcmp(((DefElem *) lfirst(lc))->defname, "genie") == 0)
			return true;
	return false;
}

/*
 * genie_check_columns
 *		Refuse a foreign table that cannot work, before anything is asked:
 *		one without a question column (or with several); one whose question
 *		column is not text or varchar, or a domain over one of them (the
 *		planner finds the question in a "text = text" condition; bpchar,
 *		name or citext compare with their own operators, so a question on
 *		them would never be found); one with a "row" column that is not
 *		jsonb or json (or a domain over them).  Runs when such a table is
 *		created or altered (genie_fdw_ddl_check) and when it is planned.
 *		Returns the question column.
 */
AttrNumber
genie_check_columns(Oid relid, TupleDesc tupdesc)
{
	const char *relname = get_rel_name(relid);
	AttrNumber	qattno = genie_question_attnum(relid, tupdesc);
	int			i;

	if (qattno == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
				 errmsg("foreign table \"%s\" has no question column", relname),
				 errdetail("genie_fdw asks the question given by a condition on that column."),
				 errhint("Add a text column named question, or give a text column OPTIONS (genie 'question').")));

	for (i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);
		Oid			base;
		const char *attname;

		if (att->attisdropped)
			continue;
		base = getBaseType(att->atttypid);
		attname = NameStr(att->attname);
		if (att->attnum == qattno && base != TEXTOID && base != VARCHAROID)
		{
			bool		implicit = !has_genie_option(relid, att->attnum);

			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg("question column \"%s\" of foreign table \"%s\" has type %s",
							attname, relname, format_type_be(att->atttypid)),
					 errdetail("A question column must be of type text or varchar, or of a domain over one of them."),
					 implicit
					 ? errhint("Change its type with ALTER FOREIGN TABLE %s ALTER COLUMN %s TYPE text; an answer column named question needs OPTIONS (column_name 'question').",
							   quote_identifier(relname), quote_identifier(attname))
					 : errhint("Change its type with ALTER FOREIGN TABLE %s ALTER COLUMN %s TYPE text.",
							   quote_identifier(relname), quote_identifier(attname))));
		}
		if (base != JSONBOID && base != JSONOID &&
			genie_column_kind(relid, att->attnum, attname, NULL) == GCOL_ROW)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg("column \"%s\" of foreign table \"%s\" holds the answer row, but has type %s",
							attname, relname, format_type_be(att->atttypid)),
					 errdetail("A column with OPTIONS (genie 'row') must be of type jsonb or json, or of a domain over one of them."),
					 errhint("Change its type with ALTER FOREIGN TABLE %s ALTER COLUMN %s TYPE jsonb.",
							 quote_identifier(relname), quote_identifier(attname))));
	}
	return qattno;
}

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
		col->used = true;
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
		col->fast = fast_kind(col);
	}
	conv->server_is_utf8 = GetDatabaseEncoding() == PG_UTF8 ||
		GetDatabaseEncoding() == PG_SQL_ASCII;
	return conv;
}

/*
 * genie_converter_set_used
 *		The columns the query reads (attnums; 0 for the whole row): only
 *		these are reported when an answer lacks them.  Without a call, every
 *		column counts as read.
 */
void
genie_converter_set_used(GenieConverter *conv, List *attnums)
{
	ListCell   *lc;
	int			i;

	if (list_member_int(attnums, 0))
		return;
	for (i = 0; i < conv->natts; i++)
		conv->cols[i].used = false;
	foreach(lc, attnums)
	{
		int			attnum = lfirst_int(lc);

		if (attnum >= 1 && attnum <= conv->natts)
			conv->cols[attnum - 1].used = true;
	}
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
 *		first, else case-insensitive.  When a column the query reads is
 *		missing, a NOTICE lists the columns the answer has, so the table can
 *		be fixed (a missing column the query does not read is NULL too, but
 *		worth no NOTICE: SELECT a FROM t does not care about column b).
 *		answer_cxt lives as long as the answer: the columns that are the
 *		same in each of its rows are converted into it once.
 */
void
genie_converter_bind(GenieConverter *conv, const GdStatement *st,
					 MemoryContext answer_cxt)
{
	StringInfoData missing;
	int			i;

	conv->const_cxt = answer_cxt;
	initStringInfo(&missing);
	for (i = 0; i < conv->natts; i++)
	{
		GenieColumnMap *col = &conv->cols[i];
		int			j;

		col->const_set = false;
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
		if (col->answer_index < 0 && col->used)
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
 *		encoding; raises an error for invalid bytes or embedded NULs.  Values
 *		are NUL-terminated and live as long as their chunk, so when no
 *		conversion is needed the value itself is returned.  checked: the
 *		value is known to be well-formed UTF-8 without NUL (the row
 *		scanner's output), so it is not checked a second time; with a UTF-8
 *		or SQL_ASCII database nothing is left to do (pg_any_to_server would
 *		only check it again).
 */
static char *
server_string(GenieConverter *conv, const char *val, size_t len, bool checked)
{
	char	   *s;

	/* not yet known to be valid: keep it out of the error context */
	conv->value = NULL;
	if (!checked)
	{
		if (memchr(val, '\0', len) != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNTRANSLATABLE_CHARACTER),
					 errmsg("Genie's answer contains a value with a NUL character, which PostgreSQL cannot store")));
		if (!pg_verify_mbstr(PG_UTF8, val, (int) len, true))
			ereport(ERROR,
					(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
					 errmsg("Genie's answer contains a value that is not valid UTF-8")));
	}
	if (conv->server_is_utf8)
	{
		conv->value = val;
		conv->value_len = len;
		return unconstify(char *, val);
	}
	s = pg_any_to_server(val, (int) len, PG_UTF8);
	conv->value = s;
	conv->value_len = (s == val) ? len : strlen(s);
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
		v = server_string(conv, values[i], lens[i], conv->values_checked);
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
		char	   *v = server_string(conv, q, strlen(q), false);
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
 *		answer without a query: then only metadata columns are set).  With
 *		a statement (st), the answer was bound (genie_converter_bind) and
 *		the metadata columns, the same in each of its rows, are converted
 *		at its first row only.
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
		bool		fast;

		nulls[i] = true;
		datums[i] = (Datum) 0;
		if (col->dropped)
			continue;
		if (st != NULL && col->const_set)
		{
			datums[i] = col->const_value;
			nulls[i] = col->const_null;
			continue;
		}

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
			str = server_string(conv, raw, rawlen,
								col->kind == GCOL_ANSWER && conv->values_checked);
		else if (str != NULL)
		{
			conv->value = str;
			conv->value_len = strlen(str);
		}
		if (str != NULL)
		{
			/* a value of the whole answer: once, into the answer's memory */
			MemoryContext old = (st != NULL && col->kind != GCOL_ANSWER && col->kind != GCOL_ROW)
				? MemoryContextSwitchTo(conv->const_cxt) : NULL;

			datums[i] = convert_value(col, str, conv->value_len, &fast);
			nulls[i] = false;
			if (old != NULL)
				MemoryContextSwitchTo(old);
		}
		if (st != NULL && col->kind != GCOL_ANSWER && col->kind != GCOL_ROW)
		{
			col->const_value = datums[i];
			col->const_null = nulls[i];
			col->const_set = true;
		}
	}
	conv->colname = NULL;
	error_context_stack = errcb.previous;
}

/*
 * selftest_call
 *		Convert str as a column of col's type would be converted (fast path,
 *		else the input function; reference: the input function alone), in a
 *		subtransaction, so that an error is caught: then false, with the
 *		error as "SQLSTATE: message" in *error.
 */
static bool
selftest_call(GenieColumnMap *col, char *str, bool reference, Datum *d,
			  bool *fast, char **error)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool ok = false;

	*fast = false;
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		if (reference)
			*d = InputFunctionCall(&col->infunc, str, col->typioparam, col->typmod);
		else
			*d = convert_value(col, str, strlen(str), fast);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		ok = true;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		*error = psprintf("%s: %s", unpack_sql_state(edata->sqlerrcode),
						  edata->message ? edata->message : "");
		FreeErrorData(edata);
	}
	PG_END_TRY();
	return ok;
}

/*
 * genie_fdw_convert_selftest(type text, inputs text[])
 *		RETURNS TABLE (input text, fast_path boolean, result text,
 *					   reference text, same boolean)
 *
 * For a test, not for users (the extension's SQL script does not create
 * it; the test does, with CREATE FUNCTION ... AS 'genie_fdw'): converts
 * each input as a foreign-table column of the given type (e.g.
 * 'numeric(12,2)') would convert it, and with the type's input function
 * alone.  same: both gave a Datum and the two are equal byte for byte (and
 * print the same), or both failed with the same SQLSTATE and message.
 * fast_path: the fast path produced the value itself.
 */
PG_FUNCTION_INFO_V1(genie_fdw_convert_selftest);

Datum
genie_fdw_convert_selftest(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *typname = text_to_cstring(PG_GETARG_TEXT_PP(0));
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(1);
	GenieColumnMap col;
	Oid			infunc;
	Oid			outfunc;
	bool		isvarlena;
	int16		typlen;
	bool		typbyval;
	Datum	   *elems;
	bool	   *elemnulls;
	int			nelems;
	int			i;

	memset(&col, 0, sizeof(col));
	genie_parse_type_string(typname, &col.typid, &col.typmod);
	getTypeInputInfo(col.typid, &infunc, &col.typioparam);
	fmgr_info(infunc, &col.infunc);
	col.fast = fast_kind(&col);
	getTypeOutputInfo(col.typid, &outfunc, &isvarlena);
	get_typlenbyval(col.typid, &typlen, &typbyval);

	InitMaterializedSRF(fcinfo, 0);
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &elemnulls, &nelems);
	for (i = 0; i < nelems; i++)
	{
		char	   *in;
		Datum		got = (Datum) 0;
		Datum		want = (Datum) 0;
		char	   *got_err = NULL;
		char	   *want_err = NULL;
		bool		got_ok;
		bool		want_ok;
		bool		fast;
		bool		dummy;
		char	   *got_text;
		char	   *want_text;
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};

		if (elemnulls[i])
			continue;
		in = TextDatumGetCString(elems[i]);
		got_ok = selftest_call(&col, in, false, &got, &fast, &got_err);
		want_ok = selftest_call(&col, in, true, &want, &dummy, &want_err);
		got_text = got_ok ? OidOutputFunctionCall(outfunc, got) : got_err;
		want_text = want_ok ? OidOutputFunctionCall(outfunc, want) : want_err;

		values[0] = CStringGetTextDatum(in);
		values[1] = BoolGetDatum(fast);
		values[2] = CStringGetTextDatum(got_text);
		values[3] = CStringGetTextDatum(want_text);
		values[4] = BoolGetDatum(got_ok == want_ok && strcmp(got_text, want_text) == 0 &&
								 (!got_ok || datumIsEqual(got, want, typbyval, typlen)));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
