/*
 * addr_policy_test.c
 *		Standalone test of src/addr_policy.c: how each address and host
 *		literal is classified.  Nothing here opens a socket: addresses
 *		outside this machine (169.254.169.254, 10/8, ...) are only ever
 *		classified, never connected to.
 *
 *		Built and run by test/unit/run.sh.
 */
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "addr_policy.h"

static int	passed = 0;
static int	failed = 0;

static void
check(int ok, const char *what, const char *detail)
{
	if (ok)
	{
		passed++;
		printf("ok - %s\n", what);
	}
	else
	{
		failed++;
		printf("not ok - %s (%s)\n", what, detail);
	}
}

/* A host as written in a URL: its kind as a literal (or by name). */
static void
host_is(const char *host, GaKind want)
{
	GaKind		got = ga_classify_host(host);
	char		what[256];

	snprintf(what, sizeof(what), "host %s is %s", host, ga_kind_name(want));
	check(got == want, what, ga_kind_name(got));
}

/* A socket address as curl hands it to the open-socket callback. */
static void
sockaddr_is(const char *ip, int port, GaKind want)
{
	struct sockaddr_storage ss;
	size_t		len;
	GaAddr		a;
	char		what[256];
	int			ok;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':'))
	{
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *) &ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		inet_pton(AF_INET6, ip, &s6->sin6_addr);
		len = sizeof(*s6);
	}
	else
	{
		struct sockaddr_in *s4 = (struct sockaddr_in *) &ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		inet_pton(AF_INET, ip, &s4->sin_addr);
		len = sizeof(*s4);
	}
	snprintf(what, sizeof(what), "sockaddr %s port %d is %s", ip, port, ga_kind_name(want));
	ok = ga_from_sockaddr((struct sockaddr *) &ss, len, &a);
	check(ok && a.port == port && ga_classify(&a) == want, what,
		  ok ? ga_kind_name(ga_classify(&a)) : "not converted");
}

int
main(void)
{
	GaAddr		a;
	GaAddr		b;

	/* loopback, in every form curl and the C library read */
	host_is("127.0.0.1", GA_LOOPBACK);
	host_is("127.0.0.2", GA_LOOPBACK);
	host_is("127.255.255.254", GA_LOOPBACK);
	host_is("2130706433", GA_LOOPBACK);		/* decimal */
	host_is("0x7f000001", GA_LOOPBACK);		/* hex */
	host_is("0x7f.1", GA_LOOPBACK);
	host_is("0177.0.0.1", GA_LOOPBACK);		/* octal */
	host_is("127.1", GA_LOOPBACK);
	host_is("127.0.0.1.", GA_LOOPBACK);		/* trailing dot */
	host_is("[::1]", GA_LOOPBACK);
	host_is("::1", GA_LOOPBACK);
	host_is("[0:0:0:0:0:0:0:1]", GA_LOOPBACK);
	host_is("[::ffff:127.0.0.1]", GA_LOOPBACK);	/* IPv4-mapped */
	host_is("[::ffff:7f00:2]", GA_LOOPBACK);
	host_is("[::127.0.0.1]", GA_LOOPBACK);	/* IPv4-compatible */
	host_is("localhost", GA_LOOPBACK);
	host_is("LocalHost.", GA_LOOPBACK);
	host_is("db.localhost", GA_LOOPBACK);

	/* private networks */
	host_is("10.0.0.1", GA_PRIVATE);
	host_is("10.255.255.255", GA_PRIVATE);
	host_is("172.16.0.1", GA_PRIVATE);
	host_is("172.31.255.255", GA_PRIVATE);
	host_is("192.168.1.1", GA_PRIVATE);
	host_is("167772161", GA_PRIVATE);		/* 10.0.0.1 in decimal */
	host_is("[::ffff:10.0.0.1]", GA_PRIVATE);
	host_is("[::ffff:192.168.0.1]", GA_PRIVATE);
	host_is("[64:ff9b::10.0.0.1]", GA_PRIVATE);	/* NAT64 */
	host_is("[2002:c0a8:101::1]", GA_PRIVATE);	/* 6to4 of 192.168.1.1 */
	host_is("[fec0::1]", GA_PRIVATE);		/* site-local */

	/* link-local: cloud metadata services */
	host_is("169.254.169.254", GA_LINK_LOCAL);
	host_is("2852039166", GA_LINK_LOCAL);	/* 169.254.169.254 in decimal */
	host_is("0xa9.0xfe.0xa9.0xfe", GA_LINK_LOCAL);
	host_is("[::ffff:169.254.169.254]", GA_LINK_LOCAL);
	host_is("[fe80::1]", GA_LINK_LOCAL);
	host_is("[fe80::1%25eth0]", GA_LINK_LOCAL);
	host_is("[febf::1]", GA_LINK_LOCAL);

	/* unique-local, unspecified, CGNAT, multicast, broadcast */
	host_is("[fc00::1]", GA_UNIQUE_LOCAL);
	host_is("[fd12:3456::1]", GA_UNIQUE_LOCAL);
	host_is("[fd00:ec2::254]", GA_UNIQUE_LOCAL);	/* AWS IMDS over IPv6 */
	host_is("0.0.0.0", GA_UNSPECIFIED);
	host_is("0", GA_UNSPECIFIED);
	host_is("0.1.2.3", GA_UNSPECIFIED);
	host_is("[::]", GA_UNSPECIFIED);
	host_is("[::ffff:0.0.0.0]", GA_UNSPECIFIED);
	host_is("100.64.0.1", GA_CGNAT);
	host_is("100.127.255.255", GA_CGNAT);
	host_is("224.0.0.1", GA_MULTICAST);
	host_is("239.255.255.250", GA_MULTICAST);
	host_is("[ff02::1]", GA_MULTICAST);
	host_is("255.255.255.255", GA_BROADCAST);
	host_is("240.0.0.1", GA_BROADCAST);

	/* public, and the edges of the ranges above */
	host_is("8.8.8.8", GA_PUBLIC);
	host_is("1.1.1.1", GA_PUBLIC);
	host_is("9.255.255.255", GA_PUBLIC);
	host_is("11.0.0.0", GA_PUBLIC);
	host_is("172.15.255.255", GA_PUBLIC);
	host_is("172.32.0.0", GA_PUBLIC);
	host_is("192.167.255.255", GA_PUBLIC);
	host_is("192.169.0.0", GA_PUBLIC);
	host_is("169.253.255.255", GA_PUBLIC);
	host_is("169.255.0.0", GA_PUBLIC);
	host_is("100.63.255.255", GA_PUBLIC);
	host_is("100.128.0.0", GA_PUBLIC);
	host_is("126.255.255.255", GA_PUBLIC);
	host_is("128.0.0.0", GA_PUBLIC);
	host_is("223.255.255.255", GA_PUBLIC);
	host_is("[2600:1f18::1]", GA_PUBLIC);
	host_is("[::ffff:8.8.8.8]", GA_PUBLIC);
	host_is("[fbff::1]", GA_PUBLIC);
	host_is("[fe7f::1]", GA_PUBLIC);
	/* names: only their resolution tells (http.c checks the address) */
	host_is("storage.example.com", GA_PUBLIC);
	host_is("localhost.example.com", GA_PUBLIC);
	host_is("127.0.0.1.nip.io", GA_PUBLIC);

	/* socket addresses, as the open-socket callback sees them */
	sockaddr_is("127.0.0.1", 8765, GA_LOOPBACK);
	sockaddr_is("::1", 443, GA_LOOPBACK);
	sockaddr_is("::ffff:127.0.0.1", 443, GA_LOOPBACK);
	sockaddr_is("169.254.169.254", 80, GA_LINK_LOCAL);
	sockaddr_is("fe80::1", 443, GA_LINK_LOCAL);
	sockaddr_is("10.1.2.3", 443, GA_PRIVATE);
	sockaddr_is("fd00::1", 443, GA_UNIQUE_LOCAL);
	sockaddr_is("0.0.0.0", 443, GA_UNSPECIFIED);
	sockaddr_is("::", 443, GA_UNSPECIFIED);
	sockaddr_is("52.218.1.1", 443, GA_PUBLIC);
	sockaddr_is("2600:1f18::1", 443, GA_PUBLIC);

	/* the server's own origin: same address and port, mapped or not */
	ga_parse_literal("127.0.0.1", 8765, &a);
	ga_parse_literal("[::ffff:127.0.0.1]", 8765, &b);
	check(ga_equal(&a, &b), "127.0.0.1:8765 equals [::ffff:127.0.0.1]:8765", "differs");
	ga_parse_literal("2130706433", 8765, &b);
	check(ga_equal(&a, &b), "127.0.0.1:8765 equals 2130706433:8765", "differs");
	ga_parse_literal("127.0.0.1", 8766, &b);
	check(!ga_equal(&a, &b), "127.0.0.1:8765 differs from 127.0.0.1:8766", "equal");
	ga_parse_literal("127.0.0.2", 8765, &b);
	check(!ga_equal(&a, &b), "127.0.0.1:8765 differs from 127.0.0.2:8765", "equal");
	ga_parse_literal("::1", 8765, &b);
	check(!ga_equal(&a, &b), "127.0.0.1:8765 differs from [::1]:8765", "equal");

	/* what is not an address literal */
	check(!ga_parse_literal("", 0, &a), "empty host is no literal", "parsed");
	check(!ga_parse_literal("[]", 0, &a), "[] is no literal", "parsed");
	check(!ga_parse_literal("[::1", 0, &a), "[::1 is no literal", "parsed");
	check(!ga_parse_literal("example.com", 0, &a), "example.com is no literal", "parsed");
	check(!ga_parse_literal("1.2.3.4 x", 0, &a), "'1.2.3.4 x' is no literal", "parsed");
	check(!ga_parse_literal("256.1.1.1", 0, &a), "256.1.1.1 is no literal", "parsed");
	check(ga_classify(&(GaAddr) {.family = AF_UNIX}) == GA_UNKNOWN, "a non-IP family is unknown", "classified");

	printf("%d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
