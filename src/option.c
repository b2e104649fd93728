/*-------------------------------------------------------------------------
 *
 * option.c
 *		  Option validation and resolution for genie_fdw.
 *
 * Owns the table of valid options per catalog (server, user mapping,
 * foreign table, column), the validator that checks names and values when
 * objects are created or altered, and genie_get_options(), which merges the
 * options of a table, its server and the current user's mapping into one
 * GenieOptions with defaults applied.  Secrets (token, client_secret) are
 * accepted only in user mappings, where pg_user_mappings hides them from
 * other users, and never appear in a message.
 *
 * Copyright (c) 2026, genie_fdw developers
 *
 * IDENTIFICATION
 *		  src/option.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/reloptions.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

#include "genie_fdw.h"
#include "limiter.h"

/* Kind of value an option takes, for checking and for the hint. */
typedef enum OptKind
{
	OPT_STRING,
	OPT_HOST,
	OPT_INT,					/* integer in [min, max] */
	OPT_REAL,					/* seconds, real in [min, max] */
	OPT_FACTOR,					/* real in [min, max] */
	OPT_SIZE,					/* bytes, integer in [min, max] */
	OPT_GENIE_KIND,
	OPT_BOOL,
	OPT_WITHOUT_QUESTION,		/* 'error' or 'empty' */
	OPT_REFRESH,				/* 'ask' or 'rerun' */
	OPT_SQL_TTL,				/* seconds, or 'forever' */
	OPT_PROXY,					/* a proxy URL */
	OPT_QUOTA					/* questions per window: limiter.h's rule */
} OptKind;

typedef struct GenieOpt
{
	const char *name;
	Oid			context;		/* catalog the option may appear in */
	OptKind		kind;
	double		min;
	double		max;
} GenieOpt;

static const GenieOpt genie_opts[] = {
	{"host", ForeignServerRelationId, OPT_HOST, 0, 0},
	{"space_id", ForeignServerRelationId, OPT_STRING, 0, 0},
	{"ca_file", ForeignServerRelationId, OPT_STRING, 0, 0},
	{"proxy", ForeignServerRelationId, OPT_PROXY, 0, 0},
	{"max_retries", ForeignServerRelationId, OPT_INT, 0, 100},
	{"initial_backoff", ForeignServerRelationId, OPT_REAL, 0, 3600},
	{"max_backoff", ForeignServerRelationId, OPT_REAL, 0, 3600},
	{"backoff_multiplier", ForeignServerRelationId, OPT_FACTOR, 1, 100},
	{"poll_interval", ForeignServerRelationId, OPT_REAL, 0.01, 3600},
	{"max_poll_interval", ForeignServerRelationId, OPT_REAL, 0.01, 3600},
	{"answer_timeout", ForeignServerRelationId, OPT_REAL, 0.1, 86400},
	{"connect_timeout", ForeignServerRelationId, OPT_REAL, 0.1, 3600},
	{"request_timeout", ForeignServerRelationId, OPT_REAL, 0.1, 86400},
	{"max_response_size", ForeignServerRelationId, OPT_SIZE, 1024, 1073741823},
	{"questions_per_minute", ForeignServerRelationId, OPT_QUOTA, GENIE_QPM_MIN, GENIE_QPM_MAX},
	{"max_concurrent", ForeignServerRelationId, OPT_INT, 1, 64},
	{"cache_ttl", ForeignServerRelationId, OPT_REAL, 0, 86400 * 7},
	{"full_results", ForeignServerRelationId, OPT_BOOL, 0, 0},
	{"without_question", ForeignServerRelationId, OPT_WITHOUT_QUESTION, 0, 0},
	{"refresh", ForeignServerRelationId, OPT_REFRESH, 0, 0},
	{"sql_ttl", ForeignServerRelationId, OPT_SQL_TTL, 1, 86400 * 366},

	{"token", UserMappingRelationId, OPT_STRING, 0, 0},
	{"client_id", UserMappingRelationId, OPT_STRING, 0, 0},
	{"client_secret", UserMappingRelationId, OPT_STRING, 0, 0},

	{"space_id", ForeignTableRelationId, OPT_STRING, 0, 0},
	{"cache_ttl", ForeignTableRelationId, OPT_REAL, 0, 86400 * 7},
	{"full_results", ForeignTableRelationId, OPT_BOOL, 0, 0},
	{"without_question", ForeignTableRelationId, OPT_WITHOUT_QUESTION, 0, 0},
	{"refresh", ForeignTableRelationId, OPT_REFRESH, 0, 0},
	{"sql_ttl", ForeignTableRelationId, OPT_SQL_TTL, 1, 86400 * 366},

	{"genie", AttributeRelationId, OPT_GENIE_KIND, 0, 0},
	{"column_name", AttributeRelationId, OPT_STRING, 0, 0},
	{NULL, InvalidOid, OPT_STRING, 0, 0}
};

/* Values of the column option "genie", in GenieColumnKind order. */
static const char *const genie_kind_names[] = {
	NULL, "question", "sql", "text", "description", "conversation_id",
	"message_id", "statement_id", "row", "suggested_questions", "follow_up"
};

#define DEFAULT_MAX_RETRIES			5
#define DEFAULT_MAX_CONCURRENT		4
#define DEFAULT_INITIAL_BACKOFF		1.0
#define DEFAULT_MAX_BACKOFF			60.0
#define DEFAULT_BACKOFF_MULTIPLIER	2.0
#define DEFAULT_POLL_INTERVAL		0.5
#define DEFAULT_MAX_POLL_INTERVAL	5.0
#define DEFAULT_ANSWER_TIMEOUT		600.0
#define DEFAULT_CONNECT_TIMEOUT		10.0
#define DEFAULT_REQUEST_TIMEOUT		60.0
#define DEFAULT_MAX_RESPONSE_SIZE	((int64) 128 * 1024 * 1024)
#define DEFAULT_SQL_TTL				86400.0 /* a day */

PG_FUNCTION_INFO_V1(genie_fdw_validator);

static bool option_without_question(DefElem *def);
static bool option_refresh(DefElem *def);
static double option_sql_ttl(DefElem *def, const GenieOpt *o);

static const char *
catalog_name(Oid catalog)
{
	switch (catalog)
	{
		case ForeignServerRelationId:
			return "server";
		case UserMappingRelationId:
			return "user mapping";
		case ForeignTableRelationId:
			return "foreign table";
		case AttributeRelationId:
			return "column";
		default:
			return "this object";
	}
}

/* Comma-separated list of the options valid in a catalog, for hints. */
static char *
valid_option_list(Oid catalog)
{
	StringInfoData buf;
	const GenieOpt *o;

	initStringInfo(&buf);
	for (o = genie_opts; o->name; o++)
	{
		if (o->context != catalog)
			continue;
		if (buf.len > 0)
			appendStringInfoString(&buf, ", ");
		appendStringInfoString(&buf, o->name);
	}
	return buf.data;
}

/*
 * genie_host_is_loopback
 *		Does an http(s) URL name a loopback host (127.0.0.0/8, ::1,
 *		localhost)?
 */
bool
genie_host_is_loopback(const char *url)
{
	const char *p = strstr(url, "://");
	char		host[256];
	size_t		n = 0;

	p = p ? p + 3 : url;
	if (*p == '[')
	{
		p++;
		while (*p && *p != ']' && n < sizeof(host) - 1)
			host[n++] = *p++;
	}
	else
	{
		while (*p && *p != ':' && *p != '/' && *p != '?' && *p != '#' &&
			   n < sizeof(host) - 1)
			host[n++] = *p++;
	}
	host[n] = '\0';
	if (pg_strcasecmp(host, "localhost") == 0 || strcmp(host, "::1") == 0)
		return true;
	if (strncmp(host, "127.", 4) == 0)
	{
		const char *q;

		for (q = host + 4; *q; q++)
			if (!(isdigit((unsigned char) *q) || *q == '.'))
				return false;
		return true;
	}
	return false;
}

/* Error for a host option that is not a workspace URL, saying why. */
static void
bad_host(const char *value, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
			 value ? errmsg("invalid value for option \"host\": \"%s\"", value)
			 : errmsg("invalid value for option \"host\""),
			 errdetail_internal("%s", why),
			 errhint("Use the workspace URL, such as https://adb-1234567890123456.7.azuredatabricks.net.")));
}

/*
 * normalize_host
 *		The workspace URL of a host option: scheme, host name and port, the
 *		scheme and name lower-cased.  A bare host name gets https.  What
 *		follows the host and port (a path, a query string such as ?o=1234,
 *		a fragment, trailing slashes: a URL copied from the browser) is
 *		dropped, as Databricks' own tools do: the APIs live at the root of
 *		the workspace host.  Anything else that is not a workspace URL is
 *		an error saying what is wrong; so is plain http to a host that is
 *		not a loopback host.
 */
static char *
normalize_host(const char *value)
{
	StringInfoData buf;
	const char *v = value;
	const char *scheme_end;
	const char *auth;
	const char *p;
	size_t		authlen;
	size_t		vlen;
	char	   *h;

	/* surrounding white space, as copying from a page may add */
	while (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n')
		v++;
	vlen = strlen(v);
	while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t' ||
						v[vlen - 1] == '\r' || v[vlen - 1] == '\n'))
		vlen--;
	v = pnstrdup(v, vlen);

	initStringInfo(&buf);
	scheme_end = strstr(v, "://");
	if (scheme_end != NULL && strcspn(v, "/?#") > (size_t) (scheme_end - v))
	{
		if (pg_strncasecmp(v, "https://", 8) == 0)
			appendStringInfoString(&buf, "https://");
		else if (pg_strncasecmp(v, "http://", 7) == 0)
			appendStringInfoString(&buf, "http://");
		else
			bad_host(value, psprintf("The scheme is \"%.*s\"; genie_fdw uses https (plain http only to a loopback host).",
									 (int) Min(scheme_end - v, 20), v));
		auth = scheme_end + 3;
	}
	else
	{
		appendStringInfoString(&buf, "https://");
		auth = v;
	}

	/* the host and port end where a path, query string or fragment begins */
	authlen = strcspn(auth, "/?#");
	if (authlen == 0)
		bad_host(value, "The URL has no host name.");
	if (memchr(auth, '@', authlen) != NULL)
	{
		/* (the value is not repeated: it may hold a password) */
		bad_host(NULL, "A user name or password in the URL is not allowed; credentials belong in a user mapping.");
	}
	for (p = auth; p < auth + authlen; p++)
		if ((unsigned char) *p <= ' ' || (unsigned char) *p >= 0x7f)
			bad_host(value, "The host name contains a space, a control character or a non-ASCII character.");

	p = auth;
	if (*p == '[')
	{
		/* an IPv6 address */
		const char *close = memchr(p, ']', authlen);

		if (close == NULL)
			bad_host(value, "The IPv6 address has no closing bracket.");
		for (p = auth + 1; p < close; p++)
			if (!(isxdigit((unsigned char) *p) || *p == ':' || *p == '.'))
				bad_host(value, psprintf("The IPv6 address contains \"%c\".", *p));
		p = close + 1;
	}
	else
	{
		for (; p < auth + authlen && *p != ':'; p++)
			if (!(isalnum((unsigned char) *p) || *p == '-' || *p == '.' || *p == '_'))
				bad_host(value, psprintf("The host name contains \"%c\".", *p));
		if (p == auth)
			bad_host(value, "The URL has no host name.");
	}
	if (p < auth + authlen)
	{
		const char *port = p + 1;
		long		n = 0;

		if (*p != ':')
			bad_host(value, "Only a port may follow the host name, after a colon.");
		for (p = port; p < auth + authlen; p++)
		{
			if (!isdigit((unsigned char) *p) || n > 65535)
				break;
			n = n * 10 + (*p - '0');
		}
		if (p == port || p < auth + authlen || n < 1 || n > 65535)
			bad_host(value, psprintf("The port \"%.*s\" is not a number between 1 and 65535.",
									 (int) Min(auth + authlen - port, 20), port));
	}

	for (p = auth; p < auth + authlen; p++)
		appendStringInfoChar(&buf, pg_tolower((unsigned char) *p));
	h = buf.data;

	if (strncmp(h, "http://", 7) == 0 && !genie_host_is_loopback(h))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("option \"host\" must use https for a non-loopback host"),
				 errdetail("Plain http would send the Databricks token unencrypted."),
				 errhint("Use https://, or http:// only for 127.0.0.1, ::1 or localhost.")));
	return h;
}

/* The error for a bad proxy URL; never quotes it (it may hold a password). */
static void
bad_proxy(const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
			 errmsg("invalid value for option \"proxy\""),
			 errdetail("%s", why),
			 errhint("Give the proxy's URL, such as http://proxy.example.com:3128; the schemes are http, https and socks5h.")));
}

/*
 * check_proxy
 *		A proxy URL: scheme http, https or socks5h (the proxy resolves host
 *		names: a local resolution would bypass the address checks), an
 *		optional user name and password, a host and an optional port,
 *		nothing after but "/".
 */
static void
check_proxy(const char *value)
{
	static const char *const schemes[] = {"http://", "https://", "socks5h://", NULL};
	const char *const *sc;
	const char *p = NULL;
	const char *end;
	const char *at;
	const char *host;
	const char *q;

	for (sc = schemes; *sc; sc++)
		if (pg_strncasecmp(value, *sc, strlen(*sc)) == 0)
			p = value + strlen(*sc);
	if (p == NULL)
		bad_proxy("The scheme must be http, https or socks5h.");
	for (q = value; *q; q++)
		if ((unsigned char) *q <= 0x20 || *q == 0x7f)
			bad_proxy("The URL holds spaces or control characters.");
	end = p + strcspn(p, "/?#");
	if (*end != '\0' && strcmp(end, "/") != 0)
		bad_proxy("The URL has a path, query or fragment.");
	/* the last @ of the authority ends the user name and password */
	host = p;
	for (at = p; at < end; at++)
		if (*at == '@')
			host = at + 1;
	if (*host == '[')
	{
		q = host + 1;
		while (q < end && (isxdigit((unsigned char) *q) || *q == ':' || *q == '.'))
			q++;
		if (q == host + 1 || q >= end || *q != ']')
			bad_proxy("The proxy's host is not a valid IPv6 address in brackets.");
		q++;
	}
	else
	{
		q = host;
		while (q < end && (isalnum((unsigned char) *q) || *q == '.' || *q == '-' || *q == '_'))
			q++;
		if (q == host)
			bad_proxy("The URL names no proxy host.");
	}
	if (q < end)
	{
		long		port = 0;

		if (*q != ':' || q + 1 == end)
			bad_proxy("The proxy's host is followed by something other than a port.");
		for (q++; q < end; q++)
		{
			if (!isdigit((unsigned char) *q) || port > 65535)
				bad_proxy("The proxy's port is not a number between 1 and 65535.");
			port = port * 10 + (*q - '0');
		}
		if (port < 1 || port > 65535)
			bad_proxy("The proxy's port is not a number between 1 and 65535.");
	}
}

static double
option_real(DefElem *def, const GenieOpt *o)
{
	char	   *value = defGetString(def);
	double		d;

	if (!parse_real(value, &d, 0, NULL) || isnan(d) || d < o->min || d > o->max)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", o->name, value),
				 o->kind == OPT_FACTOR
				 ? errhint("Valid values are numbers between %g and %g.", o->min, o->max)
				 : errhint("Valid values are numbers of seconds between %g and %g.", o->min, o->max)));
	return d;
}

static int64
option_int(DefElem *def, const GenieOpt *o)
{
	char	   *value = defGetString(def);
	char	   *end;
	long long	v;

	errno = 0;
	v = strtoll(value, &end, 10);
	while (*end == ' ')
		end++;
	if (errno != 0 || end == value || *end != '\0' || v < o->min || v > o->max)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", o->name, value),
				 errhint("Valid values are integers between %.0f and %.0f.", o->min, o->max)));
	return (int64) v;
}

/* questions_per_minute: the same rule as the GUC's (limiter.c) */
static double
option_quota(DefElem *def)
{
	char	   *value = defGetString(def);
	double		d;

	if (!parse_real(value, &d, 0, NULL) || !genie_questions_per_minute_valid(d))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", def->defname, value),
				 errhint("Valid values are %s, as for genie_fdw.questions_per_minute.", GENIE_QPM_RULE)));
	return d;
}

static GenieColumnKind
option_genie_kind(const char *value)
{
	int			i;
	StringInfoData buf;

	for (i = 1; i < lengthof(genie_kind_names); i++)
		if (strcmp(value, genie_kind_names[i]) == 0)
			return (GenieColumnKind) i;

	initStringInfo(&buf);
	for (i = 1; i < lengthof(genie_kind_names); i++)
		appendStringInfo(&buf, "%s%s", i > 1 ? ", " : "", genie_kind_names[i]);
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
			 errmsg("invalid value for option \"genie\": \"%s\"", value),
			 errhint("Valid values are: %s.", buf.data)));
	return GCOL_ANSWER;			/* keep compiler quiet */
}

static const GenieOpt *
find_option(const char *name, Oid catalog)
{
	const GenieOpt *o;

	for (o = genie_opts; o->name; o++)
		if (o->context == catalog && strcmp(o->name, name) == 0)
			return o;
	return NULL;
}

/*
 * check_option_value
 *		Check one option's value; raises an error when it is bad.
 */
static void
check_option_value(DefElem *def, const GenieOpt *o)
{
	switch (o->kind)
	{
		case OPT_HOST:
			(void) normalize_host(defGetString(def));
			break;
		case OPT_INT:
		case OPT_SIZE:
			(void) option_int(def, o);
			break;
		case OPT_REAL:
		case OPT_FACTOR:
			(void) option_real(def, o);
			break;
		case OPT_GENIE_KIND:
			(void) option_genie_kind(defGetString(def));
			break;
		case OPT_BOOL:
			(void) defGetBoolean(def);
			break;
		case OPT_WITHOUT_QUESTION:
			(void) option_without_question(def);
			break;
		case OPT_REFRESH:
			(void) option_refresh(def);
			break;
		case OPT_SQL_TTL:
			(void) option_sql_ttl(def, o);
			break;
		case OPT_PROXY:
			check_proxy(defGetString(def));
			break;
		case OPT_QUOTA:
			(void) option_quota(def);
			break;
		case OPT_STRING:
			if (defGetString(def)[0] == '\0')
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("option \"%s\" must not be empty", o->name)));
			break;
	}
}

/*
 * option_without_question
 *		Value of option without_question: true for 'empty' (a scan without a
 *		question returns no rows), false for 'error' (the default).
 */
static bool
option_without_question(DefElem *def)
{
	const char *v = defGetString(def);

	if (strcmp(v, "empty") == 0)
		return true;
	if (strcmp(v, "error") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"without_question\": \"%s\"", v),
				 errhint("Valid values are: error, empty.")));
	return false;
}

/*
 * option_refresh
 *		Value of option refresh: what a repeated question gets once its
 *		cached answer (if any) is gone: true for 'rerun' (re-execute the SQL
 *		Genie generated last time), false for 'ask' (ask Genie again, the
 *		default).
 */
static bool
option_refresh(DefElem *def)
{
	const char *v = defGetString(def);

	if (strcmp(v, "rerun") == 0)
		return true;
	if (strcmp(v, "ask") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"refresh\": \"%s\"", v),
				 errhint("Valid values are: ask (ask Genie again), rerun (re-run the SQL Genie generated last time).")));
	return false;
}

/*
 * option_sql_ttl
 *		Value of option sql_ttl: how long the SQL of a remembered question
 *		is re-run, seconds; 'forever' (-1): until genie_fdw_forget().
 */
static double
option_sql_ttl(DefElem *def, const GenieOpt *o)
{
	if (strcmp(defGetString(def), "forever") == 0)
		return -1;
	return option_real(def, o);
}

/*
 * genie_fdw_validator
 *		Validate the options of a genie_fdw server, user mapping, foreign
 *		table or column.
 */
Datum
genie_fdw_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	ListCell   *lc;
	bool		has_host = false;
	bool		has_client_id = false;
	bool		has_client_secret = false;
	List	   *seen = NIL;

	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		const GenieOpt *o = find_option(def->defname, catalog);

		if (o == NULL)
		{
			char	   *valid = valid_option_list(catalog);

			if (catalog == ForeignServerRelationId &&
				(strcmp(def->defname, "token") == 0 ||
				 strcmp(def->defname, "client_secret") == 0 ||
				 strcmp(def->defname, "client_id") == 0))
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
						 errmsg("option \"%s\" belongs in a user mapping, not a server", def->defname),
						 errhint("Server options can be read by every user; use CREATE USER MAPPING ... OPTIONS (%s '...').",
								 def->defname)));
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid option \"%s\"", def->defname),
					 valid[0] != '\0'
					 ? errhint("Valid options for a genie_fdw %s are: %s.", catalog_name(catalog), valid)
					 : errhint("There are no valid options for a genie_fdw %s.", catalog_name(catalog))));
		}
		if (list_member(seen, makeString(def->defname)))
			ereport(ERROR,
					(errcode(ERRCODE_SYNTAX_ERROR),
					 errmsg("conflicting or redundant options"),
					 errdetail("Option \"%s\" is given more than once.", def->defname)));
		seen = lappend(seen, makeString(def->defname));

		check_option_value(def, o);

		/*
		 * ca_file makes the server read a local file, as postgres_fdw's
		 * sslcert does: only a superuser may set it.
		 */
		if (strcmp(o->name, "ca_file") == 0 && !superuser())
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("only a superuser can set option \"ca_file\""),
					 errdetail("The option makes the server read a local file.")));

		/*
		 * proxy sends every request through another host, and download links
		 * through it are checked by name only: superusers only, too.
		 */
		if (strcmp(o->name, "proxy") == 0 && !superuser())
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("only a superuser can set option \"proxy\""),
					 errdetail("A proxy sees every request, and download links through it are checked by host name only.")));

		if (strcmp(o->name, "host") == 0)
			has_host = true;
		else if (strcmp(o->name, "client_id") == 0)
			has_client_id = true;
		else if (strcmp(o->name, "client_secret") == 0)
			has_client_secret = true;
	}

	if (catalog == ForeignServerRelationId && !has_host)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("missing required option \"host\""),
				 errhint("Give the Databricks workspace URL: OPTIONS (host 'https://...', space_id '...').")));
	if (catalog == UserMappingRelationId && has_client_id != has_client_secret)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("options \"client_id\" and \"client_secret\" must be given together")));

	PG_RETURN_VOID();
}

/* Apply one option of a server, user mapping or table to opts. */
static void
apply_option(GenieOptions *opts, DefElem *def, Oid catalog)
{
	const GenieOpt *o = find_option(def->defname, catalog);
	const char *n = def->defname;

	if (o == NULL)
		return;					/* validated at creation; ignore leftovers */
	if (strcmp(n, "host") == 0)
		opts->host = normalize_host(defGetString(def));
	else if (strcmp(n, "space_id") == 0)
		opts->space_id = pstrdup(defGetString(def));
	else if (strcmp(n, "ca_file") == 0)
		opts->ca_file = pstrdup(defGetString(def));
	else if (strcmp(n, "proxy") == 0)
		opts->proxy = pstrdup(defGetString(def));
	else if (strcmp(n, "token") == 0)
		opts->token = pstrdup(defGetString(def));
	else if (strcmp(n, "client_id") == 0)
		opts->client_id = pstrdup(defGetString(def));
	else if (strcmp(n, "client_secret") == 0)
		opts->client_secret = pstrdup(defGetString(def));
	else if (strcmp(n, "full_results") == 0)
		opts->full_results = defGetBoolean(def);
	else if (strcmp(n, "without_question") == 0)
		opts->without_question_empty = option_without_question(def);
	else if (strcmp(n, "cache_ttl") == 0)
		opts->cache_ttl = option_real(def, o);
	else if (strcmp(n, "refresh") == 0)
		opts->refresh_rerun = option_refresh(def);
	else if (strcmp(n, "sql_ttl") == 0)
		opts->sql_ttl = option_sql_ttl(def, o);
	else if (strcmp(n, "max_concurrent") == 0)
		opts->max_concurrent = (int) option_int(def, o);
	else if (strcmp(n, "max_retries") == 0)
		opts->max_retries = (int) option_int(def, o);
	else if (strcmp(n, "max_response_size") == 0)
		opts->max_response_size = option_int(def, o);
	else if (strcmp(n, "initial_backoff") == 0)
		opts->initial_backoff = option_real(def, o);
	else if (strcmp(n, "max_backoff") == 0)
		opts->max_backoff = option_real(def, o);
	else if (strcmp(n, "backoff_multiplier") == 0)
		opts->backoff_multiplier = option_real(def, o);
	else if (strcmp(n, "poll_interval") == 0)
		opts->poll_interval = option_real(def, o);
	else if (strcmp(n, "max_poll_interval") == 0)
		opts->max_poll_interval = option_real(def, o);
	else if (strcmp(n, "answer_timeout") == 0)
		opts->answer_timeout = option_real(def, o);
	else if (strcmp(n, "connect_timeout") == 0)
		opts->connect_timeout = option_real(def, o);
	else if (strcmp(n, "request_timeout") == 0)
		opts->request_timeout = option_real(def, o);
	else if (strcmp(n, "questions_per_minute") == 0)
		opts->questions_per_minute = option_quota(def);
}

static void
apply_options(GenieOptions *opts, List *options, Oid catalog)
{
	ListCell   *lc;

	foreach(lc, options)
		apply_option(opts, (DefElem *) lfirst(lc), catalog);
}

/*
 * genie_get_server_options
 *		Options of a server and of the user's mapping for it, with defaults.
 */
GenieOptions *
genie_get_server_options(Oid serverid, Oid userid)
{
	ForeignServer *server = GetForeignServer(serverid);
	UserMapping *um;
	GenieOptions *opts = palloc0(sizeof(GenieOptions));

	opts->serverid = serverid;
	opts->server_name = pstrdup(server->servername);
	opts->max_retries = DEFAULT_MAX_RETRIES;
	opts->max_concurrent = DEFAULT_MAX_CONCURRENT;
	opts->initial_backoff = DEFAULT_INITIAL_BACKOFF;
	opts->max_backoff = DEFAULT_MAX_BACKOFF;
	opts->backoff_multiplier = DEFAULT_BACKOFF_MULTIPLIER;
	opts->poll_interval = DEFAULT_POLL_INTERVAL;
	opts->max_poll_interval = DEFAULT_MAX_POLL_INTERVAL;
	opts->answer_timeout = DEFAULT_ANSWER_TIMEOUT;
	opts->connect_timeout = DEFAULT_CONNECT_TIMEOUT;
	opts->request_timeout = DEFAULT_REQUEST_TIMEOUT;
	opts->max_response_size = DEFAULT_MAX_RESPONSE_SIZE;
	opts->sql_ttl = DEFAULT_SQL_TTL;
	opts->questions_per_minute = -1;	/* the GUC's */

	apply_options(opts, server->options, ForeignServerRelationId);

	um = GetUserMapping(userid, serverid);	/* errors when there is none */
	opts->umid = um->umid;
	apply_options(opts, um->options, UserMappingRelationId);

	if (opts->max_poll_interval < opts->poll_interval)
		opts->max_poll_interval = opts->poll_interval;
	if (opts->max_backoff < opts->initial_backoff)
		opts->max_backoff = opts->initial_backoff;

	if (opts->host == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("server \"%s\" has no option \"host\"", server->servername)));
	if (opts->token == NULL && opts->client_id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("user mapping for server \"%s\" has no credentials", server->servername),
				 errhint("Use ALTER USER MAPPING ... OPTIONS (ADD token '...'), or client_id and client_secret for a service principal.")));
	return opts;
}

/*
 * genie_get_options
 *		Options for a scan of a foreign table by a user.
 */
GenieOptions *
genie_get_options(Oid foreigntableid, Oid userid)
{
	ForeignTable *table = GetForeignTable(foreigntableid);
	GenieOptions *opts = genie_get_server_options(table->serverid, userid);

	apply_options(opts, table->options, ForeignTableRelationId);
	if (opts->space_id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("no Genie space for foreign table \"%s\"", get_rel_name(foreigntableid)),
				 errhint("Set option space_id on the foreign table or on server \"%s\".", opts->server_name)));
	return opts;
}

/*
 * genie_column_kind
 *		What a column holds, from its "genie" option; for answer columns also
 *		the answer column name (option column_name, else the column's name).
 *		A column named "question" without the option is the question column.
 */
GenieColumnKind
genie_column_kind(Oid relid, AttrNumber attnum, const char *attname,
				  char **answer_name)
{
	List	   *options = GetForeignColumnOptions(relid, attnum);
	ListCell   *lc;
	GenieColumnKind kind = GCOL_ANSWER;
	bool		explicit_kind = false;
	char	   *name = NULL;

	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "genie") == 0)
		{
			kind = option_genie_kind(defGetString(def));
			explicit_kind = true;
		}
		else if (strcmp(def->defname, "column_name") == 0)
			name = defGetString(def);
	}
	if (!explicit_kind && name == NULL && strcmp(attname, "question") == 0)
		kind = GCOL_QUESTION;
	if (answer_name)
		*answer_name = pstrdup(name ? name : attname);
	return kind;
}

/*
 * genie_question_attnum
 *		The question column of a foreign table, or InvalidAttrNumber.
 */
int
genie_question_attnum(Oid foreigntableid, TupleDesc tupdesc)
{
	int			i;
	int			found = InvalidAttrNumber;

	for (i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		if (att->attisdropped)
			continue;
		if (genie_column_kind(foreigntableid, att->attnum, NameStr(att->attname), NULL) == GCOL_QUESTION)
		{
			if (found != InvalidAttrNumber)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_COLUMN_NAME),
						 errmsg("foreign table \"%s\" has more than one question column",
								get_rel_name(foreigntableid)),
						 errhint("Mark exactly one column with OPTIONS (genie 'question').")));
			found = att->attnum;
		}
	}
	return found;
}
