/*-------------------------------------------------------------------------
 *
 * addr_policy.c
 *		  Classifying the addresses a full-result download may reach.
 *
 * See addr_policy.h.  IPv6 forms that carry an IPv4 address (IPv4-mapped
 * ::ffff:a.b.c.d, the deprecated IPv4-compatible ::a.b.c.d, NAT64's
 * 64:ff9b::/96 and 6to4's 2002::/16) are classified by the IPv4 address
 * they lead to.
 *
 * Copyright (c) 2026, genie_fdw developers
 *
 * IDENTIFICATION
 *		  src/addr_policy.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "addr_policy.h"

static GaKind
classify_v4(const unsigned char *b)
{
	uint32_t	a = ((uint32_t) b[0] << 24) | ((uint32_t) b[1] << 16) |
		((uint32_t) b[2] << 8) | (uint32_t) b[3];

	if ((a >> 24) == 0)
		return GA_UNSPECIFIED;	/* 0.0.0.0/8: "this host" on Linux */
	if ((a >> 24) == 127)
		return GA_LOOPBACK;
	if ((a >> 24) == 10 || (a >> 20) == 0xAC1 || (a >> 16) == 0xC0A8)
		return GA_PRIVATE;		/* 10/8, 172.16/12, 192.168/16 */
	if ((a >> 16) == 0xA9FE)
		return GA_LINK_LOCAL;	/* 169.254/16 (cloud metadata services) */
	if ((a >> 22) == (0x64400000u >> 22))
		return GA_CGNAT;		/* 100.64/10 */
	if ((a >> 28) == 0xE)
		return GA_MULTICAST;	/* 224/4 */
	if ((a >> 28) == 0xF)
		return GA_BROADCAST;	/* 240/4 and 255.255.255.255 */
	return GA_PUBLIC;
}

static bool
all_zero(const unsigned char *b, int n)
{
	int			i;

	for (i = 0; i < n; i++)
		if (b[i] != 0)
			return false;
	return true;
}

static GaKind
classify_v6(const unsigned char *b)
{
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};

	if (all_zero(b, 16))
		return GA_UNSPECIFIED;
	if (all_zero(b, 15) && b[15] == 1)
		return GA_LOOPBACK;
	if (memcmp(b, mapped, 12) == 0 || all_zero(b, 12) || memcmp(b, nat64, 12) == 0)
		return classify_v4(b + 12);
	if (b[0] == 0x20 && b[1] == 0x02)
		return classify_v4(b + 2);	/* 6to4 */
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
		return GA_LINK_LOCAL;	/* fe80::/10 */
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)
		return GA_PRIVATE;		/* fec0::/10, deprecated site-local */
	if ((b[0] & 0xfe) == 0xfc)
		return GA_UNIQUE_LOCAL; /* fc00::/7 */
	if (b[0] == 0xff)
		return GA_MULTICAST;
	return GA_PUBLIC;
}

/*
 * ga_classify
 *		The kind of an address.
 */
GaKind
ga_classify(const GaAddr *addr)
{
	if (addr->family == AF_INET)
		return classify_v4(addr->bytes);
	if (addr->family == AF_INET6)
		return classify_v6(addr->bytes);
	return GA_UNKNOWN;
}

/*
 * ga_kind_name
 *		The kind in words, for messages ("a %s address").
 */
const char *
ga_kind_name(GaKind kind)
{
	switch (kind)
	{
		case GA_PUBLIC:
			return "public";
		case GA_LOOPBACK:
			return "loopback";
		case GA_PRIVATE:
			return "private";
		case GA_LINK_LOCAL:
			return "link-local";
		case GA_UNIQUE_LOCAL:
			return "unique-local";
		case GA_UNSPECIFIED:
			return "unspecified";
		case GA_CGNAT:
			return "shared (carrier-grade NAT)";
		case GA_MULTICAST:
			return "multicast";
		case GA_BROADCAST:
			return "broadcast or reserved";
		case GA_UNKNOWN:
			break;
	}
	return "non-IP";
}

/*
 * ga_from_sockaddr
 *		The address and port of a socket address; false for other families.
 */
bool
ga_from_sockaddr(const struct sockaddr *sa, size_t len, GaAddr *out)
{
	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in))
	{
		const struct sockaddr_in *s4 = (const struct sockaddr_in *) sa;

		out->family = AF_INET;
		memcpy(out->bytes, &s4->sin_addr, 4);
		out->port = ntohs(s4->sin_port);
		return true;
	}
	if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6))
	{
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *) sa;

		out->family = AF_INET6;
		memcpy(out->bytes, &s6->sin6_addr, 16);
		out->port = ntohs(s6->sin6_port);
		return true;
	}
	return false;
}

/*
 * ga_parse_literal
 *		Parse a host that is an IP address: IPv6 with or without brackets
 *		(a zone id is ignored), or IPv4 in any form inet_aton reads and curl
 *		normalizes alike (2130706433, 0x7f.1, 0177.0.0.1, 127.1); one
 *		trailing dot is allowed.  False for host names.
 */
bool
ga_parse_literal(const char *host, int port, GaAddr *out)
{
	char		buf[128];
	size_t		n = strlen(host);
	struct in_addr a4;

	memset(out, 0, sizeof(*out));
	out->port = port;
	if (n == 0 || n >= sizeof(buf))
		return false;
	if (host[0] == '[')
	{
		if (host[n - 1] != ']')
			return false;
		memcpy(buf, host + 1, n - 2);
		buf[n - 2] = '\0';
	}
	else
	{
		memcpy(buf, host, n + 1);
		if (buf[n - 1] == '.')
			buf[n - 1] = '\0';
	}
	if (strchr(buf, ':') != NULL)
	{
		char	   *zone = strchr(buf, '%');

		if (zone)
			*zone = '\0';
		if (inet_pton(AF_INET6, buf, out->bytes) != 1)
			return false;
		out->family = AF_INET6;
		return true;
	}
	/* inet_aton accepts "a.b.c.d junk": host names hold no spaces anyway */
	if (strpbrk(buf, " \t") != NULL || buf[0] == '\0' || inet_aton(buf, &a4) == 0)
		return false;
	out->family = AF_INET;
	memcpy(out->bytes, &a4, 4);
	return true;
}

/*
 * ga_classify_host
 *		The kind of a host as written, without resolving it: an IP literal
 *		by its address, localhost and *.localhost as loopback (RFC 6761),
 *		any other name as public (only its resolution could tell more).
 */
GaKind
ga_classify_host(const char *host)
{
	GaAddr		a;
	size_t		n = strlen(host);

	if (ga_parse_literal(host, 0, &a))
		return ga_classify(&a);
	if (n > 0 && host[n - 1] == '.')
		n--;
	if ((n == 9 && strncasecmp(host, "localhost", 9) == 0) ||
		(n > 10 && strncasecmp(host + n - 10, ".localhost", 10) == 0))
		return GA_LOOPBACK;
	return GA_PUBLIC;
}

/* An IPv4-mapped IPv6 address as the IPv4 address it is. */
static void
unmap(const GaAddr *in, GaAddr *out)
{
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	*out = *in;
	if (in->family == AF_INET6 && memcmp(in->bytes, mapped, 12) == 0)
	{
		out->family = AF_INET;
		memset(out->bytes, 0, sizeof(out->bytes));
		memcpy(out->bytes, in->bytes + 12, 4);
	}
}

/*
 * ga_equal
 *		Same address (an IPv4-mapped IPv6 address equals its IPv4 address)
 *		and same port.
 */
bool
ga_equal(const GaAddr *a, const GaAddr *b)
{
	GaAddr		x;
	GaAddr		y;

	unmap(a, &x);
	unmap(b, &y);
	return x.family == y.family && x.port == y.port &&
		memcmp(x.bytes, y.bytes, x.family == AF_INET ? 4 : 16) == 0;
}
