/*-------------------------------------------------------------------------
 *
 * genie_errors.c
 *		  What a FAILED Genie message means to a PostgreSQL client.
 *
 * Owns the table that maps Genie's MessageError.type (contract §2.4; the
 * enum grows, so unknown types are expected) to a SQLSTATE and a hint, and
 * genie_report_failed_message(), which raises the error for a FAILED
 * message with Genie's own reason in DETAIL.  Rate-limit types are retried
 * by the ask engine (ask.c) through the retry policy before they come here.
 *
 * Copyright (c) 2026, genie_fdw developers
 *
 * IDENTIFICATION
 *		  src/genie_errors.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "genie_fdw.h"

/* One row of the table: a type, or a prefix of types when prefix is set. */
typedef struct GenieErrorClass
{
	const char *type;
	bool		prefix;
	int			sqlstate;
	const char *hint;
} GenieErrorClass;

#define HINT_RETRY "Genie may answer if you ask again later."
#define HINT_PERMISSION "The user of the user mapping needs CAN RUN on the Genie space, SELECT on its tables and CAN USE on its SQL warehouse."
#define HINT_TOO_LONG "Ask a shorter or simpler question."

static const GenieErrorClass genie_error_classes[] = {
	/* rate limits: retried first (ask.c), then the quota is exhausted */
	{"RATE_LIMIT_EXCEEDED_", true, ERRCODE_CONFIGURATION_LIMIT_EXCEEDED,
	"The workspace's Genie question quota is exhausted; raise max_retries or max_backoff, or ask again later."},
	{"BUDGET_EXCEEDED_EXCEPTION", false, ERRCODE_CONFIGURATION_LIMIT_EXCEEDED,
	"The workspace's budget for Genie is used up; ask its administrator."},

	/* Genie gave up in its own time */
	{"REPLY_PROCESS_TIMEOUT_EXCEPTION", false, ERRCODE_QUERY_CANCELED,
	"Genie ran out of time answering; ask a simpler question or ask again later."},
	{"CHAT_COMPLETION_CLIENT_TIMEOUT_EXCEPTION", false, ERRCODE_QUERY_CANCELED, HINT_RETRY},
	{"DESCRIBE_QUERY_TIMEOUT", false, ERRCODE_QUERY_CANCELED, HINT_RETRY},

	/* permissions */
	{"DASHBOARD_PERMISSION_DENIED_EXCEPTION", false, ERRCODE_INSUFFICIENT_PRIVILEGE, HINT_PERMISSION},
	{"WAREHOUSE_ACCESS_MISSING_EXCEPTION", false, ERRCODE_INSUFFICIENT_PRIVILEGE, HINT_PERMISSION},

	/* others: an FDW error, with a hint where one helps */
	{"WAREHOUSE_NOT_FOUND_EXCEPTION", false, ERRCODE_FDW_ERROR,
	"The Genie space's SQL warehouse does not exist any more; its owner must choose another."},
	{"SQL_EXECUTION_EXCEPTION", false, ERRCODE_FDW_ERROR,
	"Genie's SQL failed on the warehouse; rephrase the question or check the space's tables."},
	{"TABLES_MISSING_EXCEPTION", false, ERRCODE_FDW_ERROR,
	"The Genie space's tables are missing; check the space's data sources."},
	{"NO_TABLES_TO_QUERY_EXCEPTION", false, ERRCODE_FDW_ERROR,
	"The Genie space has no tables to query; check the space's data sources."},
	{"INVALID_SQL_UNKNOWN_TABLE_EXCEPTION", false, ERRCODE_FDW_ERROR,
	"Genie's SQL names a table the space does not have; rephrase the question."},
	{"CONTEXT_EXCEEDED_EXCEPTION", false, ERRCODE_FDW_ERROR, HINT_TOO_LONG},
	{"LOCAL_CONTEXT_EXCEEDED_EXCEPTION", false, ERRCODE_FDW_ERROR, HINT_TOO_LONG},
	{"EXCEEDED_MAX_TOKEN_LENGTH_EXCEPTION", false, ERRCODE_FDW_ERROR, HINT_TOO_LONG},
	{"GENERATED_SQL_QUERY_TOO_LONG_EXCEPTION", false, ERRCODE_FDW_ERROR, HINT_TOO_LONG},
	{"RETRYABLE_PROCESSING_EXCEPTION", false, ERRCODE_FDW_ERROR, HINT_RETRY},
	{"CHAT_COMPLETION_NETWORK_EXCEPTION", false, ERRCODE_FDW_ERROR, HINT_RETRY},
	{"GENERIC_CHAT_COMPLETION_SERVICE_EXCEPTION", false, ERRCODE_FDW_ERROR, HINT_RETRY},
	{"UNEXPECTED_REPLY_PROCESS_EXCEPTION", false, ERRCODE_FDW_ERROR, HINT_RETRY},
};

/*
 * genie_error_class
 *		The table row for an error type; NULL for an unknown or absent type.
 */
static const GenieErrorClass *
genie_error_class(const char *type)
{
	int			i;

	if (type == NULL)
		return NULL;
	for (i = 0; i < lengthof(genie_error_classes); i++)
	{
		const GenieErrorClass *c = &genie_error_classes[i];

		if (c->prefix ? strncmp(type, c->type, strlen(c->type)) == 0
			: strcmp(type, c->type) == 0)
			return c;
	}
	return NULL;
}

/*
 * genie_error_type_is_rate_limit
 *		Is this MessageError.type one the retry policy handles (ask again
 *		after a backoff)?
 */
bool
genie_error_type_is_rate_limit(const char *type)
{
	return type != NULL && strncmp(type, "RATE_LIMIT_EXCEEDED_", 20) == 0;
}

/*
 * genie_report_failed_message
 *		Raise the error for a FAILED message: Genie's reason and error type in
 *		DETAIL, the SQLSTATE and hint of the type's class.  rate_retries is
 *		how often the question was asked again after a rate-limit failure.
 */
void
genie_report_failed_message(const GdMessage *msg, int rate_retries)
{
	const GenieErrorClass *c = genie_error_class(msg->error_type);
	const char *reason = msg->error ? msg->error : "no reason given";

	if (genie_error_type_is_rate_limit(msg->error_type))
		ereport(ERROR,
				(errcode(c->sqlstate),
				 errmsg("Genie could not answer the question"),
				 errdetail_internal("%s (%s)", reason, msg->error_type),
				 errhint("Genie stayed rate limited after %d %s. %s", rate_retries,
						 rate_retries == 1 ? "retry" : "retries", c->hint)));
	ereport(ERROR,
			(errcode(c ? c->sqlstate : ERRCODE_FDW_ERROR),
			 errmsg("Genie could not answer the question"),
			 errdetail_internal("%s%s%s%s", reason,
								msg->error_type ? " (" : "",
								msg->error_type ? msg->error_type : "",
								msg->error_type ? ")" : ""),
			 c ? errhint("%s", c->hint) : 0));
}
