#!/usr/bin/env python3
"""A tiny HTTP proxy for test/integration/proxy.sh (Python standard library only).

Forwards plain requests with an absolute URI (GET http://host:port/path) and tunnels CONNECT
host:port, to loopback targets only (127.0.0.0/8, ::1, localhost): anything else is answered
403 and never connected to.  One request per client connection (it closes both sides after a
response), so connections and requests count alike.  Appends one JSON line per request to
--log: {"method", "target", "path", "allowed"}.  Prints "proxy listening on PORT" when ready.
"""

import argparse
import ipaddress
import json
import socket
import socketserver
import sys
import threading
import urllib.parse

LOCK = threading.Lock()


def loopback(host):
    host = host.strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_head(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None, b""
        data += chunk
        if len(data) > 1 << 20:
            return None, b""
    head, _, rest = data.partition(b"\r\n\r\n")
    return head.decode("latin-1"), rest


def relay(a, b):
    """Copy bytes both ways until either side closes."""
    def pump(src, dst):
        try:
            while True:
                d = src.recv(65536)
                if not d:
                    break
                dst.sendall(d)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
    t = threading.Thread(target=pump, args=(b, a), daemon=True)
    t.start()
    pump(a, b)
    t.join(timeout=30)


class Handler(socketserver.BaseRequestHandler):
    def log(self, method, target, path, allowed):
        with LOCK:
            with open(self.server.log_path, "a", encoding="utf-8") as f:
                f.write(json.dumps({"method": method, "target": target, "path": path,
                                    "allowed": allowed}) + "\n")

    def handle(self):
        client = self.request
        client.settimeout(30)
        head, rest = read_head(client)
        if head is None:
            return
        lines = head.split("\r\n")
        try:
            method, target, version = lines[0].split(" ", 2)
        except ValueError:
            return
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            path = ""
        else:
            u = urllib.parse.urlsplit(target)
            if u.scheme != "http" or not u.hostname:
                client.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            host, port = u.hostname, str(u.port or 80)
            path = u.path + ("?" + u.query if u.query else "")
        allowed = loopback(host) and port.isdigit()
        self.log(method, "%s:%s" % (host, port), path.split("?")[0], allowed)
        if not allowed:
            client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        try:
            upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=30)
        except OSError:
            client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        with upstream:
            if method == "CONNECT":
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                if rest:
                    upstream.sendall(rest)
                relay(client, upstream)
                return
            headers = [h for h in lines[1:]
                       if not h.lower().startswith(("proxy-", "connection:", "keep-alive:"))]
            out = "\r\n".join(["%s %s %s" % (method, path or "/", version)] + headers +
                              ["Connection: close"]) + "\r\n\r\n"
            upstream.sendall(out.encode("latin-1") + rest)
            # the response head, told to close: one request per connection
            rhead, rrest = read_head(upstream)
            if rhead is None:
                return
            rlines = [h for h in rhead.split("\r\n") if not h.lower().startswith(("connection:", "keep-alive:"))]
            client.sendall(("\r\n".join(rlines + ["Connection: close"]) + "\r\n\r\n").encode("latin-1") + rrest)
            relay(client, upstream)


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--log", required=True)
    a = p.parse_args()
    srv = Server(("127.0.0.1", 0), Handler)
    srv.log_path = a.log
    print("proxy listening on %d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
