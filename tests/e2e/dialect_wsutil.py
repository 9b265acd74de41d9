"""A plain JSON WebSocket client for the dialect cases (dialect_roadrunner.py,
dialect_livecode.py), whose messages are not runcell's own events.

DWS(t, srv, path)   async context manager: connects to ws://127.0.0.1:PORT/path and keeps
                    every message received (parsed JSON, any shape) with its arrival time;
                    a transcript becomes a note of the case.
refused_config(...) `runcell serve --config` must refuse a file at once, naming a key.

Standard library plus Debian's python3-websockets (10.x asyncio API).
"""

import asyncio
import json
import time

from harness import Fail, expect_bad_input, shorten
from server_util import need_websockets, websockets, write_config


class Closed(Exception):
    """The server closed the connection (code, reason)."""

    def __init__(self, code, reason):
        Exception.__init__(self, "closed by the server with code %s (%r)" % (code, reason))
        self.code = code
        self.reason = reason


class DWS:
    def __init__(self, t, srv, path, name="ws"):
        self.t = t
        self.srv = srv
        self.path = path
        self.name = name
        self.conn = None
        self.t0 = time.monotonic()
        self.inbox = []       # (arrival, message) not consumed yet
        self.received = []    # every (arrival, message)
        self.transcript = []
        self.close_code = None

    @property
    def url(self):
        return "ws://127.0.0.1:%d%s" % (self.srv.port, self.path)

    def now(self):
        return time.monotonic() - self.t0

    def _log(self, direction, text):
        if len(text) > 300:
            text = text[:300] + "...(%d chars)" % len(text)
        self.transcript.append("%s %+.3f %s %s" % (self.name, self.now(), direction, text))

    async def __aenter__(self):
        need_websockets(self.t)
        self.srv.check_alive()
        try:
            self.conn = await asyncio.wait_for(
                websockets.connect(self.url, ping_interval=None, open_timeout=20,
                                   close_timeout=5, max_size=64 << 20, max_queue=None), 30)
        except asyncio.TimeoutError:
            raise Fail("%s: WebSocket handshake with %s timed out" % (self.name, self.url))
        except (OSError, websockets.exceptions.WebSocketException) as e:
            if not self.srv.alive():
                raise Fail(self.srv.died_message())
            raise Fail("%s: cannot connect to %s: %s: %s" % (self.name, self.url,
                                                             type(e).__name__, e))
        self._log("--", "connected to %s" % self.url)
        return self

    async def __aexit__(self, etype, evalue, tb):
        await self.close()
        tail = self.transcript[-120:]
        if len(self.transcript) > len(tail):
            tail = ["(%d earlier frames not shown)" % (len(self.transcript) - len(tail))] + tail
        self.t.note("WebSocket transcript:\n" + "\n".join(tail))
        return False

    async def close(self):
        if self.conn is not None:
            try:
                await asyncio.wait_for(self.conn.close(), 10)
            except (asyncio.TimeoutError, OSError, websockets.exceptions.WebSocketException):
                pass
            self._log("--", "closed by the client")
            self.conn = None

    async def send(self, obj):
        """dict/list: sent as JSON text; str: a text frame as is; bytes: a binary frame."""
        data = json.dumps(obj) if isinstance(obj, (dict, list)) else obj
        self._log(">", repr(data) if isinstance(data, bytes) else data)
        try:
            await self.conn.send(data)
        except websockets.exceptions.ConnectionClosed as e:
            if not self.srv.alive():
                raise Fail(self.srv.died_message())
            raise Fail("%s: the server closed the connection while sending (%s)"
                       % (self.name, e))

    async def _recv(self, timeout):
        """One frame into the inbox; False on timeout.  Raises Closed."""
        try:
            frame = await asyncio.wait_for(self.conn.recv(), timeout)
        except asyncio.TimeoutError:
            return False
        except websockets.exceptions.ConnectionClosed as e:
            code = e.rcvd.code if e.rcvd is not None else 1006
            reason = e.rcvd.reason if e.rcvd is not None else None
            self.close_code = code
            self._log("--", "closed by the server (code %s, reason %r)" % (code, reason))
            if not self.srv.alive():
                raise Fail(self.srv.died_message())
            raise Closed(code, reason)
        at = self.now()
        if isinstance(frame, bytes):
            self._log("<", "BINARY %r" % frame[:100])
            raise Fail("%s: the server sent a binary frame; messages are JSON text" % self.name)
        self._log("<", frame)
        try:
            msg = json.loads(frame)
        except ValueError as e:
            raise Fail("%s: the server sent a text frame that is not JSON (%s): %r"
                       % (self.name, e, shorten(frame, 300)))
        self.inbox.append((at, msg))
        self.received.append((at, msg))
        return True

    async def wait(self, pred, timeout, what, fail_on=None):
        """The first message (arrival, message) with pred(message), consumed from the inbox.
        fail_on(message) true for a message before it: fail at once."""
        deadline = time.monotonic() + timeout
        scanned = 0
        while True:
            while scanned < len(self.inbox):
                at, msg = self.inbox[scanned]
                if pred(msg):
                    del self.inbox[scanned]
                    return at, msg
                if fail_on is not None and fail_on(msg):
                    raise Fail("%s: while waiting for %s got %s"
                               % (self.name, what, shorten(json.dumps(msg), 400)))
                scanned += 1
            left = deadline - time.monotonic()
            if left <= 0:
                raise Fail("%s: no %s within %.1fs" % (self.name, what, timeout))
            try:
                await self._recv(min(left, 1.0))
            except Closed as e:
                raise Fail("%s: %s while waiting for %s" % (self.name, e, what))

    async def next(self, timeout=30, what="message"):
        """The oldest message not consumed yet."""
        return (await self.wait(lambda m: True, timeout, what))[1]

    async def expect(self, want, timeout=30, what=None):
        """The next message must equal want exactly."""
        got = await self.next(timeout, what or json.dumps(want))
        self.t.eq(got, want, what or "message")
        return got

    async def quiet(self, seconds):
        """Read for seconds; returns what came (also left in the inbox)."""
        deadline = time.monotonic() + seconds
        start = len(self.inbox)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return [m for _, m in self.inbox[start:]]
            try:
                await self._recv(min(left, 1.0))
            except Closed as e:
                raise Fail("%s: %s (expected it to stay open)" % (self.name, e))

    async def until_closed(self, timeout):
        """Read until the server closes: (messages that came, close code); the code is None
        when the connection is still open after timeout seconds."""
        deadline = time.monotonic() + timeout
        start = len(self.inbox)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return [m for _, m in self.inbox[start:]], None
            try:
                await self._recv(min(left, 1.0))
            except Closed as e:
                self.conn = None
                return [m for _, m in self.inbox[start:]], e.code


def refused_config(t, cfg, what, must_name):
    """`serve --config` with cfg must exit non-zero at once, its error line naming must_name."""
    path = write_config(t, cfg)
    try:
        r = t.runcell(*t.suite.global_args, "serve", "--listen", "127.0.0.1:0",
                      "--config", path, timeout=20)
    except Fail as e:
        raise Fail("%s: runcell serve did not refuse the config (%s): it started serving"
                   % (what, e))
    line = expect_bad_input(t, r, what)
    t.contains(line, must_name, "%s: the error line names it" % what)
