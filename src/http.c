/*-------------------------------------------------------------------------
 *
 * http.c
 *		  HTTP transport for genie_fdw, on libcurl.
 *
 * Owns the backend's curl multi handle (so that connections are kept alive
 * across requests and queries), a small pool of easy handles, asynchronous
 * calls (http_start / http_wait / http_finish) that let several requests
 * run at once without threads, and the synchronous http_perform built on
 * them.  Also request set-up (headers, credentials, timeouts, TLS), the
 * response buffer and its size limit, Retry-After parsing, and interrupt
 * handling: transfers are driven by curl_multi_poll in slices of at most
 * 100 ms with CHECK_FOR_INTERRUPTS between them, and curl's progress
 * callback aborts a transfer as soon as a cancel is pending, so query
 * cancel and statement_timeout stop any request promptly.
 *
 * Ownership: a call belongs to the memory context that was current when it
 * started (its owner), whatever happens to (sub)transactions in between.
 * The call lives in a small context of its own, a child of the owner, with
 * a reset callback: when the owner is reset or deleted (a scan ends, a
 * portal is dropped, a chunk buffer is recycled) the call is taken out of
 * the multi handle and its curl resources are freed before its memory
 * goes.  http_finish and http_cancel delete the call's context the same
 * way.  The response body is allocated in the owner, so it outlives the
 * call.  At the end of a top-level transaction every call still open is
 * detached as a last safeguard (its owner frees its memory).
 *
 * The transport never decides whether to retry: it classifies the outcome
 * (HttpOutcome) and request.c applies the retry policy.
 *
 * Copyright (c) 2026, genie_fdw developers
 *
 * IDENTIFICATION
 *		  src/http.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/socket.h>

#include <curl/curl.h>

#include "access/xact.h"
#include "lib/ilist.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/wait_event.h"
#include "pgstat.h"

#include "addr_policy.h"
#include "genie_fdw.h"

#define GENIE_USER_AGENT "genie_fdw/1.0"

/* Longest slice of waiting inside curl before interrupts are checked. */
#define HTTP_POLL_SLICE_MS 100

/*
 * Origins (scheme://host:port as the URL spells it, lower-cased) that have
 * answered a request of this backend, most recent HTTP_ORIGINS of them.  A
 * refused connection or an unresolved name at an origin that has never
 * answered is most likely a wrong host option; at one that has, a passing
 * failure (a restart, a network hiccup).  request.c decides what to do
 * with that (HttpResponse.first_contact).
 */
#define HTTP_ORIGINS 32
#define HTTP_ORIGIN_LEN 256
static char answered_origins[HTTP_ORIGINS][HTTP_ORIGIN_LEN];
static int	answered_next = 0;

static CURLM *genie_multi = NULL;

#ifdef GENIE_FAULT_INJECTION
bool		genie_debug_fail_headers = false;

PG_FUNCTION_INFO_V1(genie_fdw_debug_calls);
#endif

/* Easy handles kept for reuse (their options are reset on each use). */
#define HTTP_POOL_SIZE 16
static CURL *handle_pool[HTTP_POOL_SIZE];
static int	handle_pool_len = 0;

/* One request in flight, in its own memory context (a child of its owner). */
/* The most a response's Content-Length may make us allocate up front. */
#define HTTP_PREALLOC_MAX ((uint64) 64 * 1024 * 1024)

struct HttpCall
{
	MemoryContext cxt;			/* the call's own context */
	MemoryContext owner;		/* where the response body is allocated */
	MemoryContextCallback cb;	/* releases the call with its context */
	CURL	   *easy;
	struct curl_slist *headers;
	HttpResponse resp;			/* filled while the transfer runs */
	size_t		cap;			/* allocated size of resp.body */
	size_t		max_size;
	bool		too_large;
	bool		nomem;
	bool		done;
	bool		detached;		/* curl side released */
	CURLcode	rc;
	char		errbuf[CURL_ERROR_SIZE];
	char		origin[HTTP_ORIGIN_LEN];	/* of the request's URL */
	dlist_node	node;			/* in active_calls while attached */

	/* the address policy of an external link (see link_policy_setup) */
	GaAddr		own[2];			/* the server's own loopback origin */
	int			nown;
	bool		refused;		/* an address was refused */
	GaKind		refused_kind;
	char		link_host[256]; /* the link's host, for the message */
	char	   *proxy_userinfo; /* masked in curl's error text */
};

/* Calls attached to the multi handle. */
static dlist_head active_calls = DLIST_STATIC_INIT(active_calls);

static void http_xact_callback(XactEvent event, void *arg);
static void call_context_reset(void *arg);

static void
http_init(void)
{
	static bool callbacks_registered = false;

	if (genie_multi != NULL)
		return;
	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not initialize libcurl")));
	genie_multi = curl_multi_init();
	if (genie_multi == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not create a libcurl handle")));
	if (!callbacks_registered)
	{
		RegisterXactCallback(http_xact_callback, NULL);
		callbacks_registered = true;
	}
}

static CURL *
handle_get(void)
{
	CURL	   *h;

	if (handle_pool_len > 0)
		return handle_pool[--handle_pool_len];
	h = curl_easy_init();
	if (h == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not create a libcurl handle")));
	return h;
}

static void
handle_put(CURL *h)
{
	if (handle_pool_len < HTTP_POOL_SIZE)
		handle_pool[handle_pool_len++] = h;
	else
		curl_easy_cleanup(h);
}

/*
 * call_detach
 *		Take a call out of the multi handle and free its curl resources; it
 *		counts as finished with an error from then on.  Idempotent, and
 *		never raises an error (it runs in reset and abort callbacks).
 */
static void
call_detach(HttpCall *call)
{
	if (call->detached)
		return;
	if (call->easy)
	{
		dlist_delete(&call->node);
		if (genie_multi)
			curl_multi_remove_handle(genie_multi, call->easy);
		/* the handle must not keep pointers to what is freed here */
		curl_easy_setopt(call->easy, CURLOPT_HTTPHEADER, NULL);
		curl_easy_setopt(call->easy, CURLOPT_ERRORBUFFER, NULL);
		curl_easy_setopt(call->easy, CURLOPT_WRITEDATA, NULL);
		curl_easy_setopt(call->easy, CURLOPT_HEADERDATA, NULL);
		curl_easy_setopt(call->easy, CURLOPT_PRIVATE, NULL);
		curl_easy_setopt(call->easy, CURLOPT_OPENSOCKETDATA, NULL);
#if LIBCURL_VERSION_NUM >= 0x075000
		curl_easy_setopt(call->easy, CURLOPT_PREREQDATA, NULL);
#endif							/* LIBCURL_VERSION_NUM */
		handle_put(call->easy);
	}
	curl_slist_free_all(call->headers);
	call->easy = NULL;
	call->headers = NULL;
	call->detached = true;
	if (!call->done)
	{
		call->done = true;
		call->rc = CURLE_ABORTED_BY_CALLBACK;
	}
}

/*
 * call_context_reset
 *		The call's context is going (its owner was reset or deleted, or the
 *		call was finished or cancelled): release the curl side first.
 */
static void
call_context_reset(void *arg)
{
	HttpCall   *call = (HttpCall *) arg;

	call_detach(call);
	genie_poison(call, sizeof(HttpCall));
}

static void
http_xact_callback(XactEvent event, void *arg)
{
	dlist_mutable_iter iter;

	/*
	 * Owners normally release their calls long before this (portals and
	 * executor memory go at the end of the transaction).  No transfer may
	 * outlive the transaction all the same: detach what is left; the
	 * owners' memory contexts free the structs.
	 */
	if (event != XACT_EVENT_ABORT && event != XACT_EVENT_PARALLEL_ABORT &&
		event != XACT_EVENT_COMMIT && event != XACT_EVENT_PARALLEL_COMMIT &&
		event != XACT_EVENT_PREPARE)
		return;
	dlist_foreach_modify(iter, &active_calls)
		call_detach(dlist_container(HttpCall, node, iter.cur));
}

/*
 * http_write_cb
 *		Append received body bytes to the response buffer.  Allocation must
 *		not ereport here (we are inside curl), so it uses MCXT_ALLOC_NO_OOM
 *		and fails the transfer instead.
 */
static size_t
http_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	HttpCall   *call = (HttpCall *) userdata;
	HttpResponse *resp = &call->resp;
	size_t		n = size * nmemb;

	if (resp->len + n > call->max_size)
	{
		call->too_large = true;
		return 0;
	}
	if (resp->len + n + 1 > call->cap)
	{
		size_t		newcap = Max(call->cap * 2, 16384);
		char	   *nb;
		curl_off_t	announced = -1;

		/*
		 * The first bytes: size the buffer by Content-Length when the server
		 * sent one, so a large body is not copied and held twice while the
		 * buffer doubles.  The header is the server's word, not its bytes:
		 * believed up to max_size and HTTP_PREALLOC_MAX only.  A compressed
		 * body may decode larger: the buffer then grows as usual.
		 */
		if (resp->body == NULL &&
			curl_easy_getinfo(call->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T,
							  &announced) == CURLE_OK &&
			announced > 0)
			newcap = Max(newcap, (size_t) Min((uint64) announced,
											  Min((uint64) call->max_size, HTTP_PREALLOC_MAX)) + 1);
		while (newcap < resp->len + n + 1)
			newcap *= 2;
		nb = MemoryContextAllocExtended(call->owner, newcap,
										MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
		if (nb == NULL)
		{
			call->nomem = true;
			return 0;
		}
		if (resp->body)
		{
			memcpy(nb, resp->body, resp->len);
			pfree(resp->body);
		}
		resp->body = nb;
		call->cap = newcap;
	}
	memcpy(resp->body + resp->len, ptr, n);
	resp->len += n;
	resp->body[resp->len] = '\0';
	return n;
}

/*
 * http_parse_retry_after
 *		Seconds to wait from a Retry-After value: delta-seconds (digits
 *		only) or an HTTP date.  Values no service means count as absent
 *		(-1), so that our own backoff applies: signs, fractions, "inf",
 *		garbage, a date in the past (a clock apart from ours), and a wait
 *		longer than HTTP_RETRY_AFTER_MAX.
 */
double
http_parse_retry_after(const char *v)
{
	const char *p;
	double		d = 0;
	time_t		t;

	while (*v == ' ' || *v == '\t')
		v++;
	for (p = v; *p >= '0' && *p <= '9'; p++)
	{
		if (d <= HTTP_RETRY_AFTER_MAX)
			d = d * 10 + (*p - '0');
	}
	if (p > v)
	{
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p != '\0' || d > HTTP_RETRY_AFTER_MAX)
			return -1;
		return d;
	}
	if (*v == '\0')
		return -1;
	t = curl_getdate(v, NULL);
	if (t != (time_t) -1)
	{
		double		delta = difftime(t, time(NULL));

		/* also NaN */
		if (!(delta >= 0 && delta <= HTTP_RETRY_AFTER_MAX))
			return -1;
		return delta;
	}
	return -1;
}

/*
 * http_header_cb
 *		Capture Content-Type and Retry-After of the final response.
 */
static size_t
http_header_cb(char *buffer, size_t size, size_t nitems, void *userdata)
{
	HttpCall   *call = (HttpCall *) userdata;
	HttpResponse *resp = &call->resp;
	size_t		n = size * nitems;
	char		line[512];
	char	   *colon;
	char	   *val;
	size_t		l;

	if (n >= 5 && strncmp(buffer, "HTTP/", 5) == 0)
	{
		/* a new response (after 100-continue or a redirect) */
		resp->retry_after = -1;
		resp->content_type = NULL;
		return n;
	}
	l = Min(n, sizeof(line) - 1);
	memcpy(line, buffer, l);
	line[l] = '\0';
	while (l > 0 && (line[l - 1] == '\r' || line[l - 1] == '\n'))
		line[--l] = '\0';
	colon = strchr(line, ':');
	if (colon == NULL)
		return n;
	*colon = '\0';
	val = colon + 1;
	while (*val == ' ' || *val == '\t')
		val++;
	if (pg_strcasecmp(line, "retry-after") == 0)
		resp->retry_after = http_parse_retry_after(val);
	else if (pg_strcasecmp(line, "content-type") == 0)
	{
		char	   *ct = MemoryContextAllocExtended(call->owner, strlen(val) + 1, MCXT_ALLOC_NO_OOM);

		if (ct)
		{
			strcpy(ct, val);
			resp->content_type = ct;
		}
	}
	return n;
}

/* Abort a transfer as soon as PostgreSQL has an interrupt pending. */
static int
http_progress_cb(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
				 curl_off_t ultotal, curl_off_t ulnow)
{
	return (QueryCancelPending || ProcDiePending) ? 1 : 0;
}

/* ----------
 * The address policy of external links
 * ----------
 */

#define SETOPT(opt, val) \
	do { \
		if (curl_easy_setopt(easy, (opt), (val)) != CURLE_OK) \
			elog(ERROR, "could not set libcurl option %s", #opt); \
	} while (0)

/*
 * url_host_port
 *		The host (IPv6 in brackets) and port (the scheme's default when the
 *		URL has none) of a URL as curl reads it; false when curl cannot
 *		parse it (the request then fails in curl).
 */
static bool
url_host_port(const char *url, char *host, size_t hostlen, int *port)
{
	CURLU	   *u = curl_url();
	char	   *h = NULL;
	char	   *p = NULL;
	bool		ok = false;

	if (u == NULL)
		return false;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
		curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK &&
		curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) == CURLUE_OK)
	{
		strlcpy(host, h, hostlen);
		*port = atoi(p);
		ok = true;
	}
	curl_free(h);
	curl_free(p);
	curl_url_cleanup(u);
	return ok;
}

/* Is an address the server's own loopback origin? */
static bool
own_origin(const HttpCall *call, const GaAddr *a)
{
	int			i;

	for (i = 0; i < call->nown; i++)
		if (ga_equal(a, &call->own[i]))
			return true;
	return false;
}

/*
 * addr_allowed
 *		The policy on one address an external link leads to: public
 *		addresses, and the server's own loopback origin (emulators serve
 *		their links themselves).  Notes the first refusal in the call.
 */
static bool
addr_allowed(HttpCall *call, const GaAddr *a, bool known)
{
	GaKind		kind = known ? ga_classify(a) : GA_UNKNOWN;

	if (kind == GA_PUBLIC || (known && own_origin(call, a)))
		return true;
	if (!call->refused)
	{
		call->refused = true;
		call->refused_kind = kind;
	}
	return false;
}

/*
 * http_opensocket_cb
 *		curl is about to open a socket to an address (each address a name
 *		resolves to, in turn): refuse the addresses an external link may not
 *		reach before any packet is sent; curl then tries the next address
 *		or fails with CURLE_COULDNT_CONNECT.  Runs inside curl: no ereport.
 */
static curl_socket_t
http_opensocket_cb(void *clientp, curlsocktype purpose, struct curl_sockaddr *address)
{
	HttpCall   *call = (HttpCall *) clientp;
	GaAddr		a;
	bool		known;

	if (call == NULL)
		return CURL_SOCKET_BAD;
	known = ga_from_sockaddr(&address->addr, address->addrlen, &a);
	if (!addr_allowed(call, &a, known))
		return CURL_SOCKET_BAD;
	return socket(address->family, address->socktype, address->protocol);
}

#if LIBCURL_VERSION_NUM >= 0x075000
/*
 * http_prereq_cb
 *		Before the request is sent on a connection, new or reused: a reused
 *		connection may have been opened by an API request to the workspace
 *		host, without the socket check, so the address is checked again.
 */
static int
http_prereq_cb(void *clientp, char *conn_primary_ip, char *conn_local_ip,
			   int conn_primary_port, int conn_local_port)
{
	HttpCall   *call = (HttpCall *) clientp;
	GaAddr		a;
	bool		known;

	if (call == NULL)
		return CURL_PREREQFUNC_ABORT;
	known = conn_primary_ip != NULL && ga_parse_literal(conn_primary_ip, conn_primary_port, &a);
	return addr_allowed(call, &a, known) ? CURL_PREREQFUNC_OK : CURL_PREREQFUNC_ABORT;
}
#endif							/* LIBCURL_VERSION_NUM */

/*
 * report_disallowed
 *		The error for a link the policy refused.  Names the host only: the
 *		rest of a presigned URL (its query string) is a credential.
 */
static void
report_disallowed(const char *host, GaKind kind)
{
	GaAddr		a;

	ereport(ERROR,
			(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
			 errmsg("Genie returned a download link to a disallowed address"),
			 ga_parse_literal(host, 0, &a)
			 ? errdetail("The link's host \"%s\" is a %s address.", host, ga_kind_name(kind))
			 : errdetail("The link's host \"%s\" resolves to a %s address.", host, ga_kind_name(kind)),
			 errhint("Full results are downloaded from public addresses only. Where cloud storage is reached through a private endpoint, a superuser can route requests through a proxy (server option \"proxy\").")));
}

/*
 * link_policy_setup
 *		Set up the address policy for a request to an external link.
 *
 *		Without a proxy, every address curl connects to is checked as it
 *		opens the socket (so DNS names, rebinding and every literal form
 *		are judged by the address itself) and again before the request is
 *		sent on a reused connection (libcurl 7.80 and later; older ones
 *		open a fresh connection for each link instead).  Allowed: public
 *		addresses, and the address and port of the server's own host when
 *		that is a loopback host.
 *
 *		With a proxy, curl connects to the proxy only, which is trusted and
 *		resolves the link's host itself: the host is then checked as
 *		written, an IP literal by its address and localhost by name, and a
 *		refused one fails here, before any connection.
 */
static void
link_policy_setup(CURL *easy, const HttpRequest *req, HttpCall *call)
{
	const GenieOptions *opts = req->opts;
	int			link_port = 0;
	char		own_host[256];
	int			own_port = 0;
	bool		have_own = false;

	if (!url_host_port(req->url, call->link_host, sizeof(call->link_host), &link_port))
		strlcpy(call->link_host, "(unparsable)", sizeof(call->link_host));

	/* the server's own origin, when it is a loopback host */
	if (opts && opts->host && genie_host_is_loopback(opts->host) &&
		url_host_port(opts->host, own_host, sizeof(own_host), &own_port))
	{
		have_own = true;
		if (ga_parse_literal(own_host, own_port, &call->own[0]))
			call->nown = 1;
		else
		{
			/* localhost */
			(void) ga_parse_literal("127.0.0.1", own_port, &call->own[0]);
			(void) ga_parse_literal("::1", own_port, &call->own[1]);
			call->nown = 2;
		}
	}

	if (opts && opts->proxy)
	{
		GaKind		kind = ga_classify_host(call->link_host);
		GaAddr		a;

		if (kind != GA_PUBLIC &&
			!(ga_parse_literal(call->link_host, link_port, &a) && own_origin(call, &a)) &&
			!(have_own && pg_strcasecmp(call->link_host, own_host) == 0 && link_port == own_port))
			report_disallowed(call->link_host, kind);
		return;
	}

	SETOPT(CURLOPT_OPENSOCKETFUNCTION, http_opensocket_cb);
	SETOPT(CURLOPT_OPENSOCKETDATA, call);
#if LIBCURL_VERSION_NUM >= 0x075000
	SETOPT(CURLOPT_PREREQFUNCTION, http_prereq_cb);
	SETOPT(CURLOPT_PREREQDATA, call);
#else
	SETOPT(CURLOPT_FRESH_CONNECT, 1L);
#endif							/* LIBCURL_VERSION_NUM */
}

/*
 * slist_add
 *		Append a header line.  On failure the list is left as it was, still
 *		owned by the caller (whose PG_CATCH frees it exactly once).
 */
static struct curl_slist *
slist_add(struct curl_slist *list, const char *line)
{
	struct curl_slist *n;

#ifdef GENIE_FAULT_INJECTION
	if (genie_debug_fail_headers)
		n = NULL;
	else
#endif
		n = curl_slist_append(list, line);
	if (n == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while preparing a request to Genie")));
	return n;
}

/*
 * proxy_userinfo
 *		The user name and password of a proxy URL, as written and decoded,
 *		each followed by a newline (in cxt), or NULL when it has none.
 */
static char *
proxy_userinfo(const char *proxy, MemoryContext cxt)
{
	static const CURLUPart parts[] = {CURLUPART_USER, CURLUPART_PASSWORD};
	MemoryContext old = MemoryContextSwitchTo(cxt);
	CURLU	   *u = curl_url();
	StringInfoData buf;
	int			i;
	int			dec;

	initStringInfo(&buf);
	MemoryContextSwitchTo(old);
	if (u != NULL && curl_url_set(u, CURLUPART_URL, proxy, 0) == CURLUE_OK)
	{
		for (i = 0; i < lengthof(parts); i++)
			for (dec = 0; dec < 2; dec++)
			{
				char	   *v = NULL;

				if (curl_url_get(u, parts[i], &v, dec ? CURLU_URLDECODE : 0) == CURLUE_OK &&
					v && strchr(v, '\n') == NULL)
					appendStringInfo(&buf, "%s\n", v);
				curl_free(v);
			}
	}
	curl_url_cleanup(u);
	return buf.len > 0 ? buf.data : NULL;
}

/*
 * mask_proxy_userinfo
 *		Overwrite a proxy's user name and password in text with asterisks
 *		(strings shorter than 4 bytes are left alone, as with tokens).
 */
static void
mask_proxy_userinfo(char *userinfo, char *text)
{
	char	   *p = userinfo;

	while (p && *p)
	{
		char	   *nl = strchr(p, '\n');
		size_t		n;
		char	   *hit;

		*nl = '\0';
		n = strlen(p);
		if (n >= 4)
			while ((hit = strstr(text, p)) != NULL)
				memset(hit, '*', n);
		*nl = '\n';
		p = nl + 1;
	}
}

/*
 * url_origin
 *		The scheme, host and port of a URL, lower-cased, into out.
 */
static void
url_origin(const char *url, char *out)
{
	const char *p = strstr(url, "://");
	size_t		n;
	size_t		i;

	p = p ? p + 3 : url;
	n = (size_t) (p - url) + strcspn(p, "/?#");
	n = Min(n, HTTP_ORIGIN_LEN - 1);
	for (i = 0; i < n; i++)
		out[i] = pg_tolower((unsigned char) url[i]);
	out[n] = '\0';
}

static bool
origin_answered(const char *origin)
{
	int			i;

	for (i = 0; i < HTTP_ORIGINS; i++)
		if (answered_origins[i][0] != '\0' && strcmp(answered_origins[i], origin) == 0)
			return true;
	return false;
}

static void
origin_remember(const char *origin)
{
	if (origin[0] == '\0' || origin_answered(origin))
		return;
	strlcpy(answered_origins[answered_next], origin, HTTP_ORIGIN_LEN);
	answered_next = (answered_next + 1) % HTTP_ORIGINS;
}

/*
 * transport_error_text
 *		curl's text for a failed transfer, without the " after N ms" curl
 *		puts in some of them (so that messages are the same from one run to
 *		the next), and with the system's reason when curl has one.
 */
static void
transport_error_text(HttpCall *call, HttpResponse *resp)
{
	char	   *e = resp->error;
	char	   *after;
	long		os_errno = 0;

	strlcpy(e, call->errbuf[0] ? call->errbuf : curl_easy_strerror(call->rc), sizeof(resp->error));
	if ((after = strstr(e, " after ")) != NULL)
	{
		char	   *p = after + 7;

		while (isdigit((unsigned char) *p))
			p++;
		if (p > after + 7 && strncmp(p, " ms", 3) == 0)
			memmove(after, p + 3, strlen(p + 3) + 1);
	}
	if (call->rc == CURLE_COULDNT_CONNECT && !call->detached &&
		curl_easy_getinfo(call->easy, CURLINFO_OS_ERRNO, &os_errno) == CURLE_OK &&
		os_errno != 0)
	{
		size_t		len = strlen(e);

		snprintf(e + len, sizeof(resp->error) - len, " (%s)", strerror((int) os_errno));
	}
}

static void
classify_failure(HttpCall *call, HttpResponse *resp)
{
	switch (call->rc)
	{
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_CONNECT:
			resp->outcome = HTTP_NOT_CONNECTED;
			resp->first_contact = !origin_answered(call->origin);
			resp->no_such_host = call->rc == CURLE_COULDNT_RESOLVE_HOST;
			break;
		case CURLE_COULDNT_RESOLVE_PROXY:
			resp->outcome = HTTP_NOT_CONNECTED;
			break;
		case CURLE_OPERATION_TIMEDOUT:
			resp->outcome = HTTP_TIMEOUT;
			break;
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_PEER_FAILED_VERIFICATION:
		case CURLE_SSL_CERTPROBLEM:
		case CURLE_SSL_CIPHER:
		case CURLE_SSL_CACERT_BADFILE:
		case CURLE_SSL_ISSUER_ERROR:
			resp->outcome = HTTP_FAILED;
			resp->tls_error = true;
			break;
		default:
			resp->outcome = HTTP_FAILED;
			break;
	}
	transport_error_text(call, resp);
}

/*
 * setup_handle
 *		Set every option of a request on the call's easy handle; the header
 *		list becomes the call's (freed when the call is released).
 */
static void
setup_handle(CURL *easy, const HttpRequest *req, HttpCall *call)
{
	const GenieOptions *opts = req->opts;
	struct curl_slist *volatile headers = NULL;
	int			i;

	curl_easy_reset(easy);
	SETOPT(CURLOPT_PRIVATE, call);
	SETOPT(CURLOPT_URL, req->url);
	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_USERAGENT, GENIE_USER_AGENT);
	SETOPT(CURLOPT_ERRORBUFFER, call->errbuf);
	SETOPT(CURLOPT_WRITEFUNCTION, http_write_cb);
	SETOPT(CURLOPT_WRITEDATA, call);
	SETOPT(CURLOPT_HEADERFUNCTION, http_header_cb);
	SETOPT(CURLOPT_HEADERDATA, call);
	SETOPT(CURLOPT_NOPROGRESS, 0L);
	SETOPT(CURLOPT_XFERINFOFUNCTION, http_progress_cb);
	SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
	SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
#else
	SETOPT(CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif							/* LIBCURL_VERSION_NUM */
	SETOPT(CURLOPT_ACCEPT_ENCODING, "");	/* gzip/deflate when offered */
	SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
	if (opts)
	{
		SETOPT(CURLOPT_CONNECTTIMEOUT_MS, (long) (opts->connect_timeout * 1000));
		SETOPT(CURLOPT_TIMEOUT_MS, (long) (opts->request_timeout * 1000));
		if (opts->ca_file)
			SETOPT(CURLOPT_CAINFO, opts->ca_file);
	}
	SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);

	/*
	 * Never a proxy from the server's environment (http_proxy, https_proxy,
	 * ALL_PROXY, NO_PROXY): only the server option names one.
	 */
	SETOPT(CURLOPT_PROXY, (opts && opts->proxy) ? opts->proxy : "");
	SETOPT(CURLOPT_NOPROXY, "");
	if (opts && opts->proxy)
	{
		if (opts->ca_file)
			SETOPT(CURLOPT_PROXY_CAINFO, opts->ca_file);
		call->proxy_userinfo = proxy_userinfo(opts->proxy, call->cxt);
	}
	if (req->external)
		link_policy_setup(easy, req, call);

	if (strcmp(req->method, "GET") == 0)
		SETOPT(CURLOPT_HTTPGET, 1L);
	else
	{
		if (strcmp(req->method, "POST") != 0)
			SETOPT(CURLOPT_CUSTOMREQUEST, req->method);
		if (req->body || strcmp(req->method, "POST") == 0)
		{
			SETOPT(CURLOPT_POSTFIELDSIZE, (long) (req->body ? strlen(req->body) : 0));
			SETOPT(CURLOPT_COPYPOSTFIELDS, req->body ? req->body : "");
		}
	}

	PG_TRY();
	{
		headers = slist_add(headers, "Accept: application/json");
		headers = slist_add(headers, "Expect:");
		if (req->body)
		{
			char	   *ct = psprintf("Content-Type: %s",
									  req->content_type ? req->content_type : "application/json");

			headers = slist_add(headers, ct);
			pfree(ct);
		}
		if (req->bearer)
		{
			char	   *auth = psprintf("Authorization: Bearer %s", req->bearer);

			headers = slist_add(headers, auth);
			memset(auth, 0, strlen(auth));
			pfree(auth);
		}
		for (i = 0; i < req->nheaders; i++)
		{
			char	   *h = psprintf("%s: %s", req->headers[i].name, req->headers[i].value);

			headers = slist_add(headers, h);
			pfree(h);
		}
		SETOPT(CURLOPT_HTTPHEADER, headers);
		call->headers = headers;
		headers = NULL;
		if (req->basic_user)
		{
			SETOPT(CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
			SETOPT(CURLOPT_USERNAME, req->basic_user);
			SETOPT(CURLOPT_PASSWORD, req->basic_password ? req->basic_password : "");
		}
	}
	PG_CATCH();
	{
		/* a list not yet handed to the call; the call frees its own */
		curl_slist_free_all(headers);
		PG_RE_THROW();
	}
	PG_END_TRY();
}

/*
 * http_start
 *		Start a request; it runs while http_wait (or any other call's wait)
 *		drives the transfers.  The call belongs to CurrentMemoryContext: it
 *		is released when that context is reset or deleted, and the response
 *		body handed out by http_finish is allocated there.
 */
HttpCall *
http_start(const HttpRequest *req)
{
	MemoryContext owner = CurrentMemoryContext;
	MemoryContext cxt;
	HttpCall   *volatile call;

	http_init();
	cxt = AllocSetContextCreate(owner, "genie_fdw call", ALLOCSET_SMALL_SIZES);
	call = MemoryContextAllocZero(cxt, sizeof(HttpCall));
	call->cxt = cxt;
	call->owner = owner;
	call->resp.retry_after = -1;
	call->max_size = req->opts ? (size_t) req->opts->max_response_size
		: (size_t) 128 * 1024 * 1024;
	call->detached = true;		/* nothing of curl's to release yet */
	call->cb.func = call_context_reset;
	call->cb.arg = call;
	url_origin(req->url, call->origin);
	MemoryContextRegisterResetCallback(cxt, &call->cb);

	/* from here on an error deletes cxt with the owner, releasing the call */
	call->easy = handle_get();
	dlist_push_tail(&active_calls, &call->node);
	call->detached = false;
	PG_TRY();
	{
		setup_handle(call->easy, req, call);
	}
	PG_CATCH();
	{
		MemoryContextDelete(cxt);
		PG_RE_THROW();
	}
	PG_END_TRY();
	if (curl_multi_add_handle(genie_multi, call->easy) != CURLM_OK)
	{
		MemoryContextDelete(cxt);
		elog(ERROR, "could not add a libcurl handle to its multi handle");
	}
	return call;
}

/* Run curl's state machines once and note finished calls. */
static void
drive(void)
{
	int			running = 0;
	CURLMcode	mc;
	CURLMsg    *msg;
	int			left;

	mc = curl_multi_perform(genie_multi, &running);
	if (mc != CURLM_OK)
		elog(ERROR, "libcurl multi error: %s", curl_multi_strerror(mc));
	while ((msg = curl_multi_info_read(genie_multi, &left)) != NULL)
	{
		HttpCall   *call = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &call);
		if (call == NULL)
			continue;
		call->done = true;
		call->rc = msg->data.result;
	}
}

/*
 * http_progress
 *		Let transfers in flight make progress without waiting.
 */
void
http_progress(void)
{
	if (genie_multi != NULL && !dlist_is_empty(&active_calls))
		drive();
}

/*
 * http_wait
 *		Drive the transfers until one of the given calls is done (at once
 *		when one already is) or timeout_ms passes.  Other calls (another
 *		scan's prefetch, say) make progress meanwhile but do not end the
 *		wait, so a caller never spins on someone else's finished call.
 *		Interrupts are checked every 100 ms at most.  With none of the
 *		given calls in flight this is a latch sleep that a set latch ends.
 *		Returns true when one of the calls is done.
 */
bool
http_wait(HttpCall *const *calls, int ncalls, long timeout_ms)
{
	instr_time	start;

	INSTR_TIME_SET_CURRENT(start);
	for (;;)
	{
		instr_time	now;
		long		left;
		bool		pending = false;
		int			i;

		CHECK_FOR_INTERRUPTS();
		if (genie_multi != NULL && !dlist_is_empty(&active_calls))
			drive();
		for (i = 0; i < ncalls; i++)
		{
			if (calls[i] == NULL)
				continue;
			if (calls[i]->done)
				return true;
			pending = true;
		}

		INSTR_TIME_SET_CURRENT(now);
		INSTR_TIME_SUBTRACT(now, start);
		left = timeout_ms - (long) INSTR_TIME_GET_MILLISEC(now);
		if (left <= 0)
			return false;
		left = Min(left, HTTP_POLL_SLICE_MS);
		if (pending)
		{
			CURLMcode	mc;

			pgstat_report_wait_start(genie_wait_event());
			mc = curl_multi_poll(genie_multi, NULL, 0, (int) left, NULL);
			pgstat_report_wait_end();
			if (mc != CURLM_OK)
				elog(ERROR, "libcurl multi error: %s", curl_multi_strerror(mc));
		}
		else
		{
			int			rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
									   left, genie_wait_event());

			ResetLatch(MyLatch);
			/* a set latch may mean a question slot came free: look again */
			if (rc & WL_LATCH_SET)
			{
				CHECK_FOR_INTERRUPTS();
				return false;
			}
		}
	}
}

bool
http_done(const HttpCall *call)
{
	return call->done;
}

/*
 * http_finish
 *		Classify a finished call's outcome into *resp and release the call.
 *		The body (never NULL) stays in the call's owner context.
 */
void
http_finish(HttpCall *call, HttpResponse *resp)
{
	bool		nomem = call->nomem;
	bool		refused = call->refused && call->rc != CURLE_OK;
	GaKind		refused_kind = call->refused_kind;
	char		link_host[sizeof(call->link_host)];

	Assert(call->done);
	strlcpy(link_host, call->link_host, sizeof(link_host));
	/* a transfer our progress callback stopped for a cancel: report the cancel */
	if (call->rc == CURLE_ABORTED_BY_CALLBACK)
		CHECK_FOR_INTERRUPTS();
	*resp = call->resp;
	if (!call->detached)
	{
		long		status = 0;

		/* a status line came: the origin answers (whatever came next) */
		curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
		if (status > 0)
			origin_remember(call->origin);
		if (call->rc == CURLE_OK)
			resp->status = status;
	}
	if (call->rc == CURLE_OK && !call->detached)
		resp->outcome = HTTP_DONE;
	else if (call->too_large)
	{
		resp->outcome = HTTP_TOO_LARGE;
		snprintf(resp->error, sizeof(resp->error),
				 "response body is larger than max_response_size (%zu bytes)", call->max_size);
	}
	else
	{
		classify_failure(call, resp);
		if (call->proxy_userinfo)
			mask_proxy_userinfo(call->proxy_userinfo, resp->error);
	}

	if (resp->body == NULL)
	{
		resp->body = MemoryContextAlloc(call->owner, 1);
		resp->body[0] = '\0';
	}
	MemoryContextDelete(call->cxt);

	if (nomem)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while receiving a response from Genie")));
	/* never retried: the link itself is refused */
	if (refused)
		report_disallowed(link_host, refused_kind);
}

/*
 * http_cancel
 *		Abandon a call, finished or not, and the body it received so far.
 */
void
http_cancel(HttpCall *call)
{
	char	   *body = call->resp.body;
	char	   *ct = call->resp.content_type;
	size_t		cap = call->cap;

	MemoryContextDelete(call->cxt);
	if (body)
	{
		genie_poison(body, cap);
		pfree(body);
	}
	if (ct)
		pfree(ct);
}

/*
 * http_perform
 *		Run one request to completion, or until an interrupt.  The response
 *		body is allocated in CurrentMemoryContext.  Transport failures are
 *		reported in resp->outcome, not raised; interrupts are raised by
 *		CHECK_FOR_INTERRUPTS as PostgreSQL's own errors.
 */
void
http_perform(const HttpRequest *req, HttpResponse *resp)
{
	HttpCall   *volatile call = http_start(req);

	PG_TRY();
	{
		HttpCall   *c = call;

		while (!c->done)
			(void) http_wait(&c, 1, HTTP_POLL_SLICE_MS);
		/* an interrupt may have aborted the transfer: report it as such */
		CHECK_FOR_INTERRUPTS();
	}
	PG_CATCH();
	{
		http_cancel(call);
		PG_RE_THROW();
	}
	PG_END_TRY();
	http_finish(call, resp);
}

#ifdef GENIE_FAULT_INJECTION
/*
 * genie_fdw_debug_calls
 *		Debug builds: how many calls are attached to the multi handle now.
 *		Not part of the extension's SQL; tests create it themselves.
 */
Datum
genie_fdw_debug_calls(PG_FUNCTION_ARGS)
{
	dlist_iter	iter;
	int32		n = 0;

	dlist_foreach(iter, &active_calls)
		n++;
	PG_RETURN_INT32(n);
}
#endif
