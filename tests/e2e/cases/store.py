"""The submission store under the Judge0 API: submissions survive `kill -9` of runcell and a
restart, a submission whose run dies with runcell twice ends as an internal error with nothing
else lost, a callback whose receiver is down for 10 s is delivered once it is up, and a second
server on the same store runs without one.  Each case runs its own server(s) with its own
store file."""

import http.server
import json
import os
import signal
import socket
import threading
import time

from harness import case
from server_util import OpsServer, http_req, write_config

BASH = "bash"


def config(t, **extra):
    d = t.tmpdir()
    cfg = {"store": {"path": os.path.join(d, "submissions.db")}}
    cfg.update(extra)
    return write_config(t, cfg), os.path.join(d, "submissions.db")


def language_id(t, srv, name="Bash"):
    r = http_req(t, srv, "GET", "/languages")
    t.eq(r.status, 200, "GET /languages")
    ids = [x["id"] for x in r.json if x["name"].startswith(name + " ")]
    t.check(ids, "GET /languages names no %s language: %r" % (name, r.json))
    return ids[0]


def submit(t, srv, lid, source, stdin=None, callback_url=None, **extra):
    body = {"source_code": source, "language_id": lid}
    body.update(extra)
    if stdin is not None:
        body["stdin"] = stdin
    if callback_url:
        body["callback_url"] = callback_url
    r = http_req(t, srv, "POST", "/submissions?base64_encoded=false&wait=false", body)
    t.eq(r.status, 201, "POST /submissions: status (%r)" % r)
    t.check(isinstance(r.json, dict) and isinstance(r.json.get("token"), str),
            "POST /submissions answers a token: %r" % r)
    return r.json["token"]


def get(t, srv, token):
    r = http_req(t, srv, "GET",
                 "/submissions/%s?base64_encoded=false&fields=token,status,stdout,stderr,"
                 "message" % token)
    t.eq(r.status, 200, "GET /submissions/%s (%r)" % (token, r))
    return r.json


def wait_status(t, srv, token, want, timeout=60):
    """Poll until the submission's status id is in want; the submission."""
    deadline = time.monotonic() + timeout
    while True:
        s = get(t, srv, token)
        if s["status"]["id"] in want:
            return s
        if time.monotonic() > deadline:
            t.fail("submission %s: status %r after %ds, waiting for %r"
                   % (token, s["status"], timeout, want))
        time.sleep(0.2)


def kill9(t, srv):
    srv.signal(signal.SIGKILL)
    t.check(srv.wait_exit(10) is not None, "runcell serve did not die of SIGKILL")


@case("store.survives_kill9_and_restart", lang="bash")
def survives_kill9(t):
    """A finished submission, a running one and a queued one, then kill -9: after a restart
    the finished one reads the same, the other two run to the end."""
    cfg, db = config(t)
    with OpsServer(t, "--config", cfg, "--max-concurrent", "1") as srv:
        lid = language_id(t, srv)
        done = submit(t, srv, lid, "echo first")
        before = wait_status(t, srv, done, (3,))
        t.eq(before["stdout"], "first\n", "the first submission's output")
        running = submit(t, srv, lid, "sleep 3; echo second")
        queued = submit(t, srv, lid, "read x; echo third $x", stdin="3")
        wait_status(t, srv, running, (2,))
        t.eq(get(t, srv, queued)["status"]["id"], 1, "the third waits (In Queue)")
        kill9(t, srv)
    t.check(os.path.exists(db), "the store file %s is there" % db)
    with OpsServer(t, "--config", cfg, "--max-concurrent", "1") as srv:
        t.eq(get(t, srv, done), before, "the finished submission after the restart")
        s = wait_status(t, srv, running, (3,), timeout=60)
        t.eq(s["stdout"], "second\n", "the interrupted submission ran again to the end")
        s = wait_status(t, srv, queued, (3,), timeout=60)
        t.eq(s["stdout"], "third 3\n", "the queued submission ran after the restart")
        t.contains(srv.stderr_text(), "1 submission left running by a stopped server",
                   "the restarted server says what it took back")


@case("store.killed_twice_is_internal_error", lang="bash")
def killed_twice(t):
    """A submission whose run is going each time runcell dies, twice: an internal error
    (status 13) after the second restart, and the submission queued behind it still runs."""
    cfg, _ = config(t)
    with OpsServer(t, "--config", cfg, "--max-concurrent", "1") as srv:
        lid = language_id(t, srv)
        doomed = submit(t, srv, lid, "sleep 60; echo never", wall_time_limit=20)
        behind = submit(t, srv, lid, "echo behind")
        wait_status(t, srv, doomed, (2,))
        kill9(t, srv)
    with OpsServer(t, "--config", cfg, "--max-concurrent", "1") as srv:
        wait_status(t, srv, doomed, (2,), timeout=30)  # its second run
        kill9(t, srv)
    with OpsServer(t, "--config", cfg, "--max-concurrent", "1") as srv:
        s = wait_status(t, srv, doomed, (13,), timeout=30)
        t.eq(s["status"]["description"], "Internal Error", "status 13's description")
        t.check(s["stdout"] is None, "no output from a run that never finished: %r" % s)
        s = wait_status(t, srv, behind, (3,), timeout=60)
        t.eq(s["stdout"], "behind\n", "the submission behind it is not lost")


class Receiver:
    """An HTTP server on 127.0.0.1 that records PUT bodies, started later on a port chosen
    now."""

    def __init__(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.bodies = []
        self.httpd = None
        rec = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_PUT(self):
                n = int(self.headers.get("Content-Length", "0"))
                rec.bodies.append((self.path, self.rfile.read(n)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.handler = H

    def start(self):
        self.httpd = http.server.HTTPServer(("127.0.0.1", self.port), self.handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()


@case("store.callback_receiver_down_10s", lang="bash")
def callback_down(t):
    rec = Receiver()
    cfg, _ = config(t, callbacks={"allow_hosts": ["127.0.0.1"], "backoff_ms": 500,
                                  "backoff_max_ms": 2000, "max_tries": 30})
    try:
        with OpsServer(t, "--config", cfg) as srv:
            lid = language_id(t, srv)
            url = "http://127.0.0.1:%d/judged" % rec.port
            token = submit(t, srv, lid, "echo called back", callback_url=url)
            wait_status(t, srv, token, (3,))
            time.sleep(10)  # the receiver is down all this time
            t.eq(rec.bodies, [], "nothing delivered while the receiver is down")
            rec.start()
            deadline = time.monotonic() + 15
            while not rec.bodies and time.monotonic() < deadline:
                time.sleep(0.2)
            t.check(rec.bodies, "the callback did not arrive within 15 s of the receiver "
                    "coming up")
            path, body = rec.bodies[0]
            t.eq(path, "/judged", "the callback's path")
            obj = json.loads(body)
            t.eq(obj.get("token"), token, "the callback's submission token")
            t.eq(obj.get("status", {}).get("id"), 3, "the callback's status")
            time.sleep(2)
            t.eq(len(rec.bodies), 1, "delivered once")
            # a host the configuration does not allow is refused at submission
            r = http_req(t, srv, "POST", "/submissions?wait=false",
                         {"source_code": "echo x", "language_id": lid,
                          "callback_url": "http://192.0.2.1/x"})
            t.eq(r.status, 422, "a callback_url to a host not allowed: 422 (%r)" % r)
            t.check(isinstance(r.json, dict) and "callback_url" in r.json,
                    "the 422 names callback_url: %r" % r)
    finally:
        rec.stop()


@case("store.one_server_per_store", lang="bash")
def one_per_store(t):
    cfg, _ = config(t)
    with OpsServer(t, "--config", cfg) as first:
        lid = language_id(t, first)
        with OpsServer(t, "--config", cfg) as second:
            t.contains(second.stderr_text(), "keeps no submissions",
                       "the second server on the same store says it runs without one")
            r = http_req(t, second, "POST", "/submissions?wait=false",
                         {"source_code": "echo x", "language_id": lid})
            t.eq(r.status, 503, "the second server refuses to store (%r)" % r)
        token = submit(t, first, lid, "echo still")
        t.eq(wait_status(t, first, token, (3,))["stdout"], "still\n", "the first still stores")
