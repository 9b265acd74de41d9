"""The one WebSocket client of the end-to-end cases: every dialect's WebSocket cases use it
(runcell's own events through server_util.WS, the other dialects directly or through a
subclass of their own).

WSClient(t, srv, path, name)  async context manager: connects to ws://127.0.0.1:PORT/path
                (optionally with a query, an Origin, extra headers, a receive queue length,
                or over TLS: ssl=an SSLContext, wss://), keeps every message received (parsed JSON, any shape) with its
                arrival time, and leaves a transcript of the connection as a note of the case.
Closed          raised by frame() (and so by _recv()) when the server closed the connection.

Subclasses change what a message is by overriding _recv() (server_util.WS checks runcell's
events; dialect_ranna's client ranna's); frame() is the raw receive they build on.

Standard library plus Debian's python3-websockets (10.x asyncio API).
"""

import asyncio
import json
import time

from harness import Fail, shorten

try:
    import websockets
    import websockets.exceptions
except ImportError:  # reported by need_websockets in the cases that need it
    websockets = None


def need_websockets(t):
    if websockets is None:
        t.fail("python3-websockets is not installed (apt-get install python3-websockets)")


class Closed(Exception):
    """The server closed the connection (code, reason)."""

    def __init__(self, code, reason):
        Exception.__init__(self, "closed by the server with code %s (%r)" % (code, reason))
        self.code = code
        self.reason = reason


class WSClient:
    TRANSCRIPT_TAIL = 120  # frames shown in the note

    def __init__(self, t, srv, path, name="ws", query="", origin=None, headers=None,
                 max_queue=None, ssl=None):
        self.t = t
        self.srv = srv
        self.path = path
        self.name = name
        self.query = query
        self.origin = origin
        self.headers = headers
        self.max_queue = max_queue
        self.ssl = ssl  # an ssl.SSLContext: wss://
        self.conn = None
        self.t0 = time.monotonic()
        self.inbox = []       # (arrival, message) not consumed yet
        self.received = []    # every (arrival, message)
        self.transcript = []
        self.close_code = None

    @property
    def url(self):
        return "%s://127.0.0.1:%d%s%s" % ("wss" if self.ssl else "ws", self.srv.port, self.path,
                                          self.query)

    def now(self):
        return time.monotonic() - self.t0

    def _log(self, direction, text):
        if len(text) > 300:
            text = text[:300] + "...(%d chars)" % len(text)
        self.transcript.append("%s %+.3f %s %s" % (self.name, self.now(), direction, text))

    # ---- connecting
    async def _connect_failed(self, e):
        """The Fail for a handshake that did not succeed (the server is alive)."""
        return Fail("%s: cannot connect to %s: %s: %s" % (self.name, self.url,
                                                          type(e).__name__, e))

    async def __aenter__(self):
        need_websockets(self.t)
        self.srv.check_alive()
        kw = {}
        if self.origin is not None:
            kw["origin"] = self.origin
        if self.headers:
            kw["extra_headers"] = self.headers
        if self.ssl is not None:
            kw["ssl"] = self.ssl
        try:
            self.conn = await asyncio.wait_for(
                websockets.connect(self.url, ping_interval=None, open_timeout=20,
                                   close_timeout=5, max_size=64 << 20,
                                   max_queue=self.max_queue, **kw), 30)
        except asyncio.TimeoutError:
            raise Fail("%s: WebSocket handshake with %s timed out" % (self.name, self.url))
        except (OSError, websockets.exceptions.WebSocketException) as e:
            if not self.srv.alive():
                raise Fail(self.srv.died_message())
            raise await self._connect_failed(e)
        self._log("--", "connected to %s" % self.url)
        return self

    async def __aexit__(self, etype, evalue, tb):
        await self.close()
        tail = self.transcript[-self.TRANSCRIPT_TAIL:]
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

    # ---- sending
    def _closed_fail(self, doing, e):
        if not self.srv.alive():
            return Fail(self.srv.died_message())
        return Fail("%s: the server closed the connection while %s (%s)" % (self.name, doing, e))

    async def send(self, obj):
        """dict/list: sent as JSON text; str: a text frame as is; bytes: a binary frame."""
        data = json.dumps(obj) if isinstance(obj, (dict, list)) else obj
        self._log(">", repr(data) if isinstance(data, bytes) else data)
        try:
            await self.conn.send(data)
        except websockets.exceptions.ConnectionClosed as e:
            raise self._closed_fail("sending", e)

    # ---- receiving
    async def frame(self, timeout):
        """One frame as it came (str or bytes), not logged; None on timeout. Raises Closed
        (close_code set) when the server closed the connection."""
        try:
            return await asyncio.wait_for(self.conn.recv(), timeout)
        except asyncio.TimeoutError:
            return None
        except websockets.exceptions.ConnectionClosed as e:
            code = e.rcvd.code if e.rcvd is not None else 1006
            reason = e.rcvd.reason if e.rcvd is not None else None
            self.close_code = code
            self._log("--", "closed by the server (code %s, reason %r)" % (code, reason))
            raise Closed(code, reason)

    async def _recv(self, timeout):
        """One frame, a JSON text, into the inbox; False on timeout.  Raises Closed."""
        try:
            frame = await self.frame(timeout)
        except Closed:
            if not self.srv.alive():
                raise Fail(self.srv.died_message())
            raise
        if frame is None:
            return False
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
