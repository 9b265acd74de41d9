"""runcell serve: connection limits and strict HTTP/WebSocket framing (issue 11, items 2 and 5).

Connections: a total cap and one per client address (503 beyond, at once), a reserve so
that /healthz and /metrics answer at the cap, runs going keep going, an idle timeout for
WebSockets without a run (a client answering pings stays), the client behind trusted proxies
(X-Forwarded-For believed only from them), and a flood of WebSocket upgrades as big as the
test's descriptor limit allows (20,000 where it can) with /healthz timed.

Framing: Content-Length with Transfer-Encoding, two Content-Length headers, chunked bodies,
h2c upgrades and WebSocket handshakes other than RFC 6455's version 13 are refused.

Raw sockets only: the point is what a non-conforming client sends. Every address is
127.0.0.x.
"""

import base64
import json
import os
import resource
import select
import socket
import subprocess
import sys
import time

import server_util as su
from harness import Fail, case

KEY = base64.b64encode(b"0123456789abcdef").decode()


def ws_request(path="/api/v1/ws", version="13", key=KEY, extra=""):
    return ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            "Sec-WebSocket-Version: %s\r\nSec-WebSocket-Key: %s\r\n%s\r\n"
            % (path, version, key, extra)).encode()


def connect(srv, src="127.0.0.1", timeout=5.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((src, 0))
    s.settimeout(timeout)
    s.connect(("127.0.0.1", srv.port))
    return s


def read_head(s, timeout=5.0):
    """Status code and the bytes read (head and what came with it), or (None, why)."""
    s.settimeout(timeout)
    buf = b""
    try:
        while b"\r\n\r\n" not in buf:
            d = s.recv(65536)
            if not d:
                break
            buf += d
    except socket.timeout:
        return None, buf + b"<timeout>"
    except ConnectionResetError:
        return None, buf + b"<reset>"
    if not buf.startswith(b"HTTP/1."):
        return None, buf or b"<eof>"
    return int(buf.split(b" ", 2)[1]), buf


def exchange(srv, data, src="127.0.0.1", timeout=8.0):
    """Send data, read until the server closes or timeout: (status, all bytes, closed?)."""
    s = connect(srv, src)
    try:
        s.sendall(data)
        s.settimeout(timeout)
        buf, closed = b"", False
        end = time.monotonic() + timeout
        try:
            while time.monotonic() < end:
                d = s.recv(65536)
                if not d:
                    closed = True
                    break
                buf += d
        except socket.timeout:
            pass
        except ConnectionResetError:
            closed = True
        status = int(buf.split(b" ", 2)[1]) if buf.startswith(b"HTTP/1.") else None
        return status, buf, closed
    finally:
        s.close()


def body_json(buf):
    try:
        return json.loads(buf.split(b"\r\n\r\n", 1)[1].decode())
    except (IndexError, ValueError):
        return None


def hold_ws(srv, src="127.0.0.1", extra=""):
    """An upgraded WebSocket held open (101 checked), or raise with what came."""
    s = connect(srv, src)
    s.sendall(ws_request(extra=extra))
    st, buf = read_head(s)
    if st != 101:
        s.close()
        raise Fail("WebSocket upgrade from %s: %r" % (src, buf[:300]))
    return s


def try_ws(srv, src="127.0.0.1", extra=""):
    """(status, bytes, socket or None): the socket is kept when the upgrade succeeded."""
    s = connect(srv, src)
    s.sendall(ws_request(extra=extra))
    st, buf = read_head(s)
    if st == 101:
        return st, buf, s
    s.close()
    return st, buf, None


def healthz_ms(srv, src="127.0.0.1"):
    t0 = time.monotonic()
    st, buf, _ = exchange(srv, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                          src, timeout=5.0)
    return st, (time.monotonic() - t0) * 1000, buf


def masked_frame(payload, opcode=1):
    mask = os.urandom(4)
    data = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    assert len(payload) < 126
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + data


def read_frames(s, want_close=True, timeout=5.0):
    """WebSocket frames from the server until a close frame (or timeout): [(opcode, payload)]."""
    s.settimeout(timeout)
    buf, frames = b"", []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        while len(buf) >= 2:
            n = buf[1] & 0x7f
            off = 2
            if n == 126:
                if len(buf) < 4:
                    break
                n, off = int.from_bytes(buf[2:4], "big"), 4
            if len(buf) < off + n:
                break
            frames.append((buf[0] & 0x0f, buf[off:off + n]))
            buf = buf[off + n:]
            if frames[-1][0] == 8 and want_close:
                return frames, False
        try:
            d = s.recv(65536)
        except (socket.timeout, ConnectionResetError):
            break
        if not d:
            return frames, True
        buf += d
    return frames, False


def close_all(socks):
    for s in socks:
        try:
            s.close()
        except OSError:
            pass


# ------------------------------------------------------------------ item 5: framing
@case("server.http.cl_with_te_refused")
def cl_with_te_refused(t):
    with su.Server(t) as srv:
        # a proxy that goes by Transfer-Encoding sees an empty chunked body and a second
        # request after it; one that goes by Content-Length sees a body of 5
        st, buf, closed = exchange(srv, b"POST /api/v1/run HTTP/1.1\r\nHost: x\r\n"
                                   b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                                   b"0\r\n\r\n")
        t.eq(st, 400, "Content-Length with Transfer-Encoding: %r" % buf[:200])
        t.eq((body_json(buf) or {}).get("error", {}).get("code"), "bad_framing", "error code")
        t.check(closed, "the connection is closed after the refusal (the body's end is unknown)")


@case("server.http.duplicate_content_length_refused")
def duplicate_content_length_refused(t):
    with su.Server(t) as srv:
        st, buf, closed = exchange(srv, b"POST /api/v1/run HTTP/1.1\r\nHost: x\r\n"
                                   b"Content-Length: 2\r\nContent-Length: 40\r\n\r\n{}")
        t.eq(st, 400, "two Content-Length headers: %r" % buf[:200])
        t.eq((body_json(buf) or {}).get("error", {}).get("code"), "bad_framing", "error code")
        t.check(closed, "the connection is closed after the refusal")
        st, buf, _ = exchange(srv, b"POST /api/v1/run HTTP/1.1\r\nHost: x\r\n"
                              b"Content-Length: +2\r\n\r\n{}")
        t.eq(st, 400, "a Content-Length that is not a plain decimal: %r" % buf[:200])


@case("server.http.chunked_body_answered")
def chunked_body_answered(t):
    with su.Server(t) as srv:
        body = b'{"language":"python","source":"print(1)"}'
        req = (b"POST /api/v1/run HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
        t0 = time.monotonic()
        st, buf, closed = exchange(srv, req, timeout=8.0)
        took = time.monotonic() - t0
        t.note("answer after %.2fs: %r" % (took, buf[:200]))
        t.eq(st, 411, "a chunked body is answered (411 Length Required), not dropped")
        t.check(took < 2.0, "answered at once (%.2fs), not after lws' body timeout" % took)
        t.eq((body_json(buf) or {}).get("error", {}).get("code"), "length_required", "code")
        t.check(closed, "the connection is closed after the refusal")


@case("server.http.h2c_refused_unless_configured")
def h2c_refused(t):
    req = (b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
           b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n")
    with su.Server(t) as srv:
        st, buf, closed = exchange(srv, req)
        t.eq(st, 400, "h2c upgrade without h2c configured: %r" % buf[:200])
        t.eq((body_json(buf) or {}).get("error", {}).get("code"), "upgrade_refused", "code")
    cfg = su.write_config(t, {"h2c": True})
    with su.Server(t, "--config", cfg) as srv:
        st, buf, _ = exchange(srv, req, timeout=3.0)
        t.eq(st, 101, "h2c upgrade with \"h2c\": true: %r" % buf[:200])


@case("server.ws.handshake_rfc6455")
def ws_handshake_rfc6455(t):
    with su.Server(t) as srv:
        st, buf, closed = exchange(srv, ws_request(version="99"), timeout=3.0)
        t.eq(st, 426, "Sec-WebSocket-Version: 99: %r" % buf[:200])
        t.check(b"sec-websocket-version: 13" in buf.lower(), "the answer names version 13")
        for key in ("abc", base64.b64encode(b"0123456789abcdefXY").decode(), "!" * 24):
            st, buf, _ = exchange(srv, ws_request(key=key), timeout=3.0)
            t.eq(st, 400, "Sec-WebSocket-Key %r: %r" % (key, buf[:200]))
        st, buf, s = try_ws(srv)
        t.eq(st, 101, "version 13 with a 16-byte key is accepted")
        close_all([s] if s else [])


# ------------------------------------------------------------------ item 2: connections
@case("server.conn.total_cap", lang="python")
def conn_total_cap(t):
    cfg = su.write_config(t, {"max_connections": 12, "max_connections_per_client": 100})
    with su.Server(t, "--config", cfg) as srv:
        held = []
        try:
            # a run going on one of the connections while the cap is reached
            runner = hold_ws(srv, "127.0.0.2")
            held.append(runner)
            src = {"language": "python",
                   "source": "import time\ntime.sleep(1.5)\nprint('still here')\n"}
            runner.sendall(masked_frame(json.dumps({"type": "run", "id": "r1", **src}).encode()))
            for i in range(11):
                held.append(hold_ws(srv, "127.0.0.%d" % (3 + i % 3)))
            st, buf, s = try_ws(srv, "127.0.0.9")
            if s:
                held.append(s)
            t.eq(st, 503, "a WebSocket over the total cap of 12: %r" % buf[:200])
            t.eq((body_json(buf) or {}).get("error", {}).get("code"), "too_many_connections",
                 "code")
            st, buf, _ = exchange(srv, b"POST /api/v1/run HTTP/1.1\r\nHost: x\r\n"
                                  b"Content-Length: 2\r\n\r\n{}", "127.0.0.9")
            t.eq(st, 503, "a POST over the cap (a reserve connection serves only /healthz)")
            st, ms, buf = healthz_ms(srv, "127.0.0.9")
            t.eq(st, 200, "/healthz at the cap: %r" % buf[:200])
            st, buf, _ = exchange(srv, b"GET /metrics HTTP/1.1\r\nHost: x\r\n"
                                  b"Connection: close\r\n\r\n", "127.0.0.9")
            t.eq(st, 200, "/metrics at the cap")
            frames, _ = read_frames(runner, want_close=False, timeout=15.0)
            text = b"".join(p for op, p in frames if op == 1)
            t.check(b"still here" in text and b'"done"' in text,
                    "the run going at the cap finished: %r" % text[-400:])
            # a slot comes free: a new connection is served again
            held.pop().close()
            time.sleep(0.3)
            st, buf, s = try_ws(srv, "127.0.0.9")
            if s:
                held.append(s)
            t.eq(st, 101, "a WebSocket once a connection closed")
        finally:
            close_all(held)


@case("server.conn.per_client_cap")
def conn_per_client_cap(t):
    cfg = su.write_config(t, {"max_connections": 50, "max_connections_per_client": 4})
    with su.Server(t, "--config", cfg) as srv:
        held = []
        try:
            for _ in range(4):
                held.append(hold_ws(srv, "127.0.0.2"))
            st, buf, s = try_ws(srv, "127.0.0.2")
            if s:
                held.append(s)
            t.eq(st, 503, "a fifth connection from 127.0.0.2 (4 per client): %r" % buf[:200])
            st, buf, s = try_ws(srv, "127.0.0.3")
            if s:
                held.append(s)
            t.eq(st, 101, "another address is not held back by 127.0.0.2's connections")
        finally:
            close_all(held)


@case("server.conn.trusted_proxy_client")
def conn_trusted_proxy_client(t):
    cfg = su.write_config(t, {"max_connections": 50, "max_connections_per_client": 2,
                              "trusted_proxies": ["127.0.0.2", "10.9.0.0/16"]})
    with su.Server(t, "--config", cfg) as srv:
        held = []
        try:
            # through the proxy 127.0.0.2 (and a trusted inner hop 10.9.0.1): the client is
            # 10.0.0.1, whatever it claims further left
            xff = "X-Forwarded-For: 6.6.6.6, 10.0.0.1, 10.9.0.1\r\n"
            for _ in range(2):
                held.append(hold_ws(srv, "127.0.0.2", xff))
            st, buf, s = try_ws(srv, "127.0.0.2", xff)
            if s:
                held.append(s)
            t.eq(st, 503, "a third connection of client 10.0.0.1 behind the proxy: %r"
                 % buf[:200])
            st, buf, s = try_ws(srv, "127.0.0.2", "X-Forwarded-For: 10.0.0.2\r\n")
            if s:
                held.append(s)
            t.eq(st, 101, "another client behind the same proxy")
            # not a trusted proxy: its X-Forwarded-For is ignored, the peer is the client
            for i in range(2):
                held.append(hold_ws(srv, "127.0.0.3", "X-Forwarded-For: 10.1.0.%d\r\n" % i))
            st, buf, s = try_ws(srv, "127.0.0.3", "X-Forwarded-For: 10.1.0.7\r\n")
            if s:
                held.append(s)
            t.eq(st, 503, "a spoofed X-Forwarded-For from an untrusted peer does not evade the "
                 "per-client cap: %r" % buf[:200])
        finally:
            close_all(held)
    su.refused_config(t, {"trusted_proxies": ["proxy.example"]},
                      "a trusted proxy that is not an address", "trusted_proxies")


@case("server.conn.ws_idle_timeout", lang="python")
def conn_ws_idle_timeout(t):
    cfg = su.write_config(t, {"ws_idle_timeout_s": 2})
    with su.Server(t, "--config", cfg) as srv:
        silent = hold_ws(srv)
        live = hold_ws(srv)
        busy = hold_ws(srv)
        try:
            src = {"language": "python", "source": "import time\ntime.sleep(3.5)\nprint('ok')\n"}
            busy.sendall(masked_frame(json.dumps({"type": "run", "id": "b", **src}).encode()))
            # the live client answers every ping
            t0 = time.monotonic()
            live.settimeout(0.2)
            pings = 0
            lbuf = b""
            while time.monotonic() - t0 < 4.5:
                try:
                    d = live.recv(4096)
                except socket.timeout:
                    continue
                if not d:
                    break
                lbuf += d
                while len(lbuf) >= 2 and len(lbuf) >= 2 + (lbuf[1] & 0x7f):
                    op, n = lbuf[0] & 0x0f, lbuf[1] & 0x7f
                    payload, lbuf = lbuf[2:2 + n], lbuf[2 + n:]
                    if op == 9:
                        pings += 1
                        live.sendall(masked_frame(payload, opcode=10))
            t.check(pings >= 1, "the server pinged the quiet live client (%d pings)" % pings)
            frames, eof = read_frames(silent, timeout=1.0)
            codes = [int.from_bytes(p[:2], "big") for op, p in frames if op == 8]
            t.check(codes or eof, "the silent WebSocket without a run was closed within 4.5s "
                    "(frames %r)" % frames)
            if codes:
                t.eq(codes[0], 1001, "close status")
            live.sendall(masked_frame(b'{"type":"ping"}'))
            frames, _ = read_frames(live, want_close=False, timeout=1.0)
            t.check(any(op == 1 and b"pong" in p for op, p in frames),
                    "the client that answered pings is still served: %r" % frames)
            frames, _ = read_frames(busy, want_close=False, timeout=5.0)
            done = [i for i, (op, p) in enumerate(frames) if op == 1 and b'"done"' in p]
            closes = [i for i, (op, p) in enumerate(frames) if op == 8]
            t.check(done and (not closes or closes[0] > done[0]),
                    "a WebSocket with a run going (3.5s, over the 2s idle timeout) is not closed "
                    "as idle before its run is done: %r" % frames[-3:])
        finally:
            close_all([silent, live, busy])


def _flood(t, srv, n, sources):
    """Open n WebSocket upgrades from the sources, n at once; returns (held, refused, other)."""
    ep = select.epoll()
    socks, state, held, refused, other = {}, {}, [], 0, 0
    req = ws_request()
    i = 0
    pending = 0
    deadline = time.monotonic() + 60
    while (i < n or pending) and time.monotonic() < deadline:
        while i < n and pending < 2000:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.bind((sources[i % len(sources)], 0))
            s.connect_ex(("127.0.0.1", srv.port))
            socks[s.fileno()] = s
            state[s.fileno()] = b""
            ep.register(s.fileno(), select.EPOLLOUT)
            i += 1
            pending += 1
        for fd, ev in ep.poll(1.0):
            s = socks[fd]
            if state[fd] == b"" and ev & select.EPOLLOUT and not ev & (select.EPOLLERR
                                                                       | select.EPOLLHUP):
                try:
                    s.send(req)
                    state[fd] = b"sent"
                    ep.modify(fd, select.EPOLLIN)
                    continue
                except OSError:
                    pass
            buf = b""
            try:
                buf = s.recv(4096)
            except OSError:
                pass
            head = state[fd] + buf if state[fd] != b"sent" else buf
            if buf and b"\r\n\r\n" not in head:
                state[fd] = head
                continue
            ep.unregister(fd)
            pending -= 1
            del socks[fd]
            if head.startswith(b"HTTP/1.1 101"):
                held.append(s)
            else:
                if head.startswith(b"HTTP/1.1 503"):
                    refused += 1
                else:
                    other += 1
                s.close()
    for s in socks.values():
        other += 1
        s.close()
    ep.close()
    return held, refused, other


FLOOD_CHILD = r"""
import resource, sys
sys.path[:0] = sys.argv[4:6]
import server_limits as sl
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
class S:
    port = int(sys.argv[1])
held, refused, other = sl._flood(None, S, int(sys.argv[2]), sys.argv[3].split(","))
print(len(held), refused, other, flush=True)
sys.stdin.read()  # held until the test closes stdin
"""


@case("server.conn.flood_healthz")
def conn_flood_healthz(t):
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if hard < 2048:
        t.skip("RLIMIT_NOFILE hard limit %d: too few descriptors for a flood" % hard)
    # The server holds the report's 20,000, or what its descriptor limit (at most this
    # host's hard limit) allows: its RLIMIT_NOFILE is set so that its derived cap (conns.c:
    # the limit less 64, 24 per run slot and 32 reserve connections) is `hold`. Two client
    # processes (each has a descriptor limit of its own) bring 1,000 upgrades more.
    kept = 64 + 24 * os.sysconf("SC_NPROCESSORS_ONLN") + 32
    server_nofile = min(20000 + kept, hard)
    hold = server_nofile - kept
    n = hold + 1000
    if n // 2 + 200 > hard:
        t.skip("RLIMIT_NOFILE hard limit %d: two clients cannot bring %d upgrades" % (hard, n))
    here = os.path.dirname(os.path.abspath(__file__))
    with su.Server(t, nofile=server_nofile) as srv:
        t0 = time.monotonic()
        kids = []
        try:
            for k in range(2):
                sources = ",".join("127.0.0.%d" % (10 + 16 * k + j) for j in range(16))
                kids.append(subprocess.Popen(
                    [sys.executable, "-c", FLOOD_CHILD, str(srv.port), str(n // 2 + k * (n % 2)),
                     sources, os.path.dirname(here), here],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
            counts = []
            for kid in kids:
                line = kid.stdout.readline().decode()
                if not line:
                    raise Fail("a flood client failed: %s" % kid.stderr.read().decode()[-800:])
                counts.append([int(x) for x in line.split()])
            took = time.monotonic() - t0
            held = sum(c[0] for c in counts)
            refused = sum(c[1] for c in counts)
            other = sum(c[2] for c in counts)
            t.note("%d upgrades in %.1fs: %d held, %d refused 503, %d other (server "
                   "RLIMIT_NOFILE %d, cap %d)" % (n, took, held, refused, other,
                                                  server_nofile, hold))
            t.eq(held, hold, "WebSockets held at the cap (derived from RLIMIT_NOFILE)")
            t.check(refused > 0, "the cap was reached: upgrades over it were refused 503")
            times = []
            for _ in range(20):
                st, ms, buf = healthz_ms(srv, "127.0.0.99")
                t.eq(st, 200, "/healthz with %d WebSockets held: %r" % (held, buf[:100]))
                times.append(ms)
                time.sleep(0.05)
            # at the cap with nothing asked: the loop sleeps (before, EMFILE made it spin)
            stat0 = open("/proc/%d/stat" % srv.proc.pid).read().split()
            w0 = time.monotonic()
            time.sleep(1.0)
            stat1 = open("/proc/%d/stat" % srv.proc.pid).read().split()
            cpu = ((int(stat1[13]) + int(stat1[14])) - (int(stat0[13]) + int(stat0[14]))) \
                / os.sysconf("SC_CLK_TCK") / (time.monotonic() - w0)
            times.sort()
            figure = ("%d WebSockets held (%d refused 503, flood took %.1fs); /healthz ms at "
                      "the cap: min %.1f median %.1f p90 %.1f max %.1f; server CPU idle at the cap %.0f%%"
                      % (held, refused, took, times[0], times[len(times) // 2],
                         times[len(times) * 9 // 10], times[-1], cpu * 100))
            t.note(figure)
            sys.stderr.write("server.conn.flood_healthz: %s\n" % figure)
            t.check(times[len(times) * 9 // 10] < 50,
                    "/healthz answers within 50 ms at the cap (p90 %.1f ms)"
                    % times[len(times) * 9 // 10])
            t.check(cpu < 0.2, "the server does not spin at the cap (%.0f%% CPU)" % (cpu * 100))
            t.check("errno 24" not in srv.stderr_text(), "no accept EMFILE in the log")
        finally:
            for kid in kids:
                try:
                    kid.stdin.close()
                except OSError:
                    pass
                try:
                    kid.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    kid.kill()
                    kid.wait()
