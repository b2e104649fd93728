/*-------------------------------------------------------------------------
 *
 * addr_policy.h
 *		  Which network addresses a full-result download may reach.
 *
 * External links (presigned storage URLs) come from the service, so they
 * are hostile until checked: a link to the database host's loopback, to a
 * private network or to a cloud metadata service (169.254.169.254) would
 * let whoever controls the answer make the backend fetch from there.  This
 * file classifies an address (IPv4 or IPv6, as curl is about to connect to
 * it) and parses host literals the way curl and the C library read them
 * (2130706433, 0x7f.1, 127.1, [::ffff:127.0.0.1], ...).  http.c applies
 * the classification to each address curl opens a socket to.
 *
 * Plain C with the C library only (no PostgreSQL headers, no ereport, no
 * allocation), so that test/unit/ builds it into a standalone test.
 *
 * Copyright (c) 2026, genie_fdw developers
 *
 * IDENTIFICATION
 *		  src/addr_policy.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef GENIE_ADDR_POLICY_H
#define GENIE_ADDR_POLICY_H

#include <stdbool.h>
#include <stddef.h>

struct sockaddr;

/* What kind of address; everything but GA_PUBLIC is refused for links. */
typedef enum GaKind
{
	GA_PUBLIC = 0,
	GA_LOOPBACK,				/* 127/8, ::1, the name localhost */
	GA_PRIVATE,					/* 10/8, 172.16/12, 192.168/16, fec0::/10 */
	GA_LINK_LOCAL,				/* 169.254/16, fe80::/10 */
	GA_UNIQUE_LOCAL,			/* fc00::/7 */
	GA_UNSPECIFIED,				/* 0.0.0.0/8 ("this network"), :: */
	GA_CGNAT,					/* 100.64/10 */
	GA_MULTICAST,				/* 224/4, ff00::/8 */
	GA_BROADCAST,				/* 255.255.255.255 and reserved 240/4 */
	GA_UNKNOWN					/* not IPv4 or IPv6 (never connected to) */
} GaKind;

/* An address in network byte order, and a port (0: none). */
typedef struct GaAddr
{
	int			family;			/* AF_INET or AF_INET6 */
	unsigned char bytes[16];	/* 4 used for AF_INET */
	int			port;
} GaAddr;

extern GaKind ga_classify(const GaAddr *addr);
extern const char *ga_kind_name(GaKind kind);
extern bool ga_from_sockaddr(const struct sockaddr *sa, size_t len, GaAddr *out);
extern bool ga_parse_literal(const char *host, int port, GaAddr *out);
extern GaKind ga_classify_host(const char *host);
extern bool ga_equal(const GaAddr *a, const GaAddr *b);

#endif							/* GENIE_ADDR_POLICY_H */
