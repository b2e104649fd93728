/*-------------------------------------------------------------------------
 *
 * request.h
 *		  The request layer shared by the files that talk to Genie:
 *		  credentials.c, request.c, ask.c, chunks.c and catalog.c.
 *
 * Not for the executor (genie_fdw.c): it sees answers and cursors through
 * genie_fdw.h only.
 *
 * Copyright (c) 2026, genie_fdw developers
 *
 * IDENTIFICATION
 *		  src/request.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef GENIE_REQUEST_H
#define GENIE_REQUEST_H

#include "genie_fdw.h"

/* What kind of request this is, for the retry policy. */
typedef enum GenieReqKind
{
	REQ_READ,					/* idempotent GET (or DELETE) */
	REQ_QUESTION				/* POST that asks a question: never twice */
} GenieReqKind;

/* The retry policy's verdict on one attempt. */
typedef enum RespVerdict
{
	RESP_OK,					/* a 2xx response */
	RESP_RETRY,					/* send again after *wait seconds */
	RESP_REFRESH				/* fetch a new OAuth token, then send again */
} RespVerdict;

/* No deadline (for genie_after_response's time_left). */
#define GENIE_NO_DEADLINE	(-1.0)

/* credentials.c */
extern const char *genie_bearer(const GenieOptions *opts, bool refresh);
extern void genie_mask_secrets(const GenieOptions *opts, char *text);
extern void genie_credentials_init(void);

/* request.c */
extern double genie_now(void);
extern char *genie_url_segment(const char *s);
extern char *genie_space_url(const GenieOptions *opts, const char *fmt,...) pg_attribute_printf(2, 3);
extern double genie_backoff(const GenieOptions *opts, int attempt);
extern char *genie_body_excerpt(const GenieOptions *opts, const HttpResponse *resp);
extern void genie_report_decode_error(const GenieOptions *opts, const HttpResponse *resp,
									  const GdError *err, const char *what);
extern void genie_report_http_error(const GenieOptions *opts, const HttpResponse *resp,
									const char *what, int retries);
extern void genie_report_transport_error(const GenieOptions *opts, const HttpResponse *resp,
										 const char *what, int retries);
extern bool genie_credentials_refused(const HttpResponse *resp);
extern void genie_report_credentials_refused(const GenieOptions *opts, const char *detail,
											 bool token_endpoint);
extern void genie_fill_request(HttpRequest *req, const GenieOptions *opts,
							   const char *method, const char *url, const char *body);
extern RespVerdict genie_after_response(const GenieOptions *opts, GenieReqKind kind,
										const char *what, HttpResponse *resp,
										int retries, bool refreshed, double time_left,
										double *wait, GenieCallStats *stats);
extern void genie_request(const GenieOptions *opts, const char *method, const char *url,
						  const char *body, GenieReqKind kind, const char *what,
						  HttpResponse *resp, GenieCallStats *stats);
extern bool genie_request_found(const GenieOptions *opts, const char *method, const char *url,
								const char *body, GenieReqKind kind, const char *what,
								HttpResponse *resp, GenieCallStats *stats);

#endif							/* GENIE_REQUEST_H */
