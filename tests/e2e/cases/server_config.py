"""runcell serve: per-token run limits and directories from the config file."""

import concurrent.futures
import os
import time

import server_util as su
from harness import case

SLEEPY = {"language": "python", "source": "import time\ntime.sleep(1.5)\nprint('slept')\n"}


@case("server.token_max_runs", lang="python")
def token_max_runs(t):
    cfg = su.write_config(t, {"tokens": [{"token": "small", "max_runs": 1}, "big"],
                              "max_concurrent": 4, "queue": 8})
    with su.Server(t, "--config", cfg) as srv:
        def post(token):
            return su.http_req(t, srv, "POST", "/api/v1/run", body=SLEEPY,
                               headers={"Authorization": "Bearer " + token})
        with concurrent.futures.ThreadPoolExecutor(4) as ex:
            first = ex.submit(post, "small")
            time.sleep(0.5)  # the first run is going
            second = ex.submit(post, "small")  # over this token's limit
            other = ex.submit(post, "big")     # another token is not held back
            r1, r2, r3 = first.result(), second.result(), other.result()
        t.eq(r1.status, 200, "first run of the limited token")
        t.eq(r1.json["run"]["stdout"], "slept\n", "first run's output")
        t.eq(r2.status, 429, "second run of the limited token while the first goes")
        t.eq(r2.json["error"]["code"], "busy", "error code")
        t.eq(r3.status, 200, "a run of the unlimited token at the same time")
        # once the first is over, the limited token may run again
        r4 = post("small")
        t.eq(r4.status, 200, "the limited token after its run ended")


@case("server.config_state_dir", lang="python")
def config_state_dir(t):
    state = t.tmpdir()
    os.chmod(state, 0o755)
    cfg = su.write_config(t, {"state_dir": state})
    with su.Server(t, "--config", cfg) as srv:
        r = su.http_req(t, srv, "POST", "/api/v1/run",
                        body={"language": "python", "source": "print(1)"})
        t.eq(r.status, 200, "run with the config's state directory")
    unpacked = os.listdir(os.path.join(state, "rootfs"))
    t.check(any(len(n) == 64 for n in unpacked),
            "the python root filesystem was unpacked into the config's state_dir: %r" % unpacked)
    bad = su.write_config(t, {"state_dir": "relative/dir"})
    r = t.runcell(*t.suite.global_args, "serve", "--config", bad)
    t.check(r.rc != 0 and "state_dir" in r.stderr, "a relative state_dir is refused: %r" % r.stderr)


@case("server.dialects.switch_and_move", lang="python")
def dialects_switch_and_move(t):
    hello = {"language": "python", "source": "print('moved')"}
    # runcell's own protocol moved to /mine: the old path is gone, the new one answers
    cfg = su.write_config(t, {"dialects": {"runcell": {"path": "/mine"}}})
    with su.Server(t, "--config", cfg) as srv:
        r = su.http_req(t, srv, "POST", "/mine/run", body=hello)
        t.eq(r.status, 200, "POST /mine/run")
        t.eq(r.json["run"]["stdout"], "moved\n", "output through the moved path")
        r = su.http_req(t, srv, "POST", "/api/v1/run", body=hello)
        t.eq(r.status, 404, "the default path once the dialect moved")
        r = su.http_req(t, srv, "GET", "/mine/languages")
        t.eq(r.status, 200, "GET /mine/languages")
        t.contains(srv.stderr_text(), "dialect runcell at /mine", "start-up names the moved path")
    # switched off: its paths answer 404, the server's own paths stay
    cfg = su.write_config(t, {"dialects": {"runcell": False}})
    with su.Server(t, "--config", cfg) as srv:
        r = su.http_req(t, srv, "POST", "/api/v1/run", body=hello)
        t.eq(r.status, 404, "POST /api/v1/run with the dialect off")
        t.eq(r.json["error"]["code"], "not_found", "error code")
        t.eq(su.http_req(t, srv, "GET", "/healthz").status, 200, "/healthz stays")
        # a WebSocket upgrade where no dialect has one is refused, not accepted and dropped
        status = su.run_async(t, su.ws_handshake_status(t, srv))
        t.eq(status, 404, "WebSocket handshake at /api/v1/ws with the dialect off")
    # mistakes in the dialects section stop the start with a reason
    for bad, what in (({"nosuch": True}, "unknown dialect"),
                      ({"runcell": {"path": "relative"}}, "path"),
                      ({"runcell": {"max_concurrent": -1}}, "max_concurrent"),
                      ({"runcell": {"colour": "blue"}}, "unknown option"),
                      ({"runcell": 5}, "true, false or an object")):
        cfg = su.write_config(t, {"dialects": bad})
        r = t.runcell(*t.suite.global_args, "serve", "--listen", "127.0.0.1:0", "--config", cfg)
        t.check(r.rc != 0 and what in r.stderr,
                "config %r is refused naming %r: rc=%d %r" % (bad, what, r.rc, r.stderr))


@case("server.http.cors_head_options", lang="python")
def cors_head_options(t):
    cfg = su.write_config(t, {"allowed_origins": ["https://play.example"]})
    with su.Server(t, "--config", cfg) as srv:
        # a preflight from the allowed origin
        r = su.http_req(t, srv, "OPTIONS", "/api/v1/run",
                        headers={"Origin": "https://play.example",
                                 "Access-Control-Request-Method": "POST",
                                 "Access-Control-Request-Headers": "content-type"})
        t.eq(r.status, 204, "preflight status")
        t.eq(r.headers.get("access-control-allow-origin"), "https://play.example", "ACAO")
        t.contains(r.headers.get("access-control-allow-methods", ""), "POST", "allowed methods")
        t.contains(r.headers.get("access-control-allow-headers", ""), "content-type",
                   "allowed headers")
        r = su.http_req(t, srv, "POST", "/api/v1/run",
                        body={"language": "python", "source": "print(2)"},
                        headers={"Origin": "https://play.example"})
        t.eq(r.status, 200, "POST from the allowed origin")
        t.eq(r.headers.get("access-control-allow-origin"), "https://play.example",
             "ACAO on the answer")
        r = su.http_req(t, srv, "POST", "/api/v1/run",
                        body={"language": "python", "source": "print(2)"},
                        headers={"Origin": "https://evil.example"})
        t.eq(r.status, 403, "POST from another origin")
        t.check("access-control-allow-origin" not in r.headers, "no ACAO for another origin")
        # without an Origin (not a browser): no CORS header at all
        r = su.http_req(t, srv, "GET", "/api/v1/languages")
        t.eq(r.status, 200, "GET without Origin")
        t.check("access-control-allow-origin" not in r.headers, "no ACAO without Origin")
        # HEAD: the GET's headers and length, no body; the connection stays usable
        g = su.http_req(t, srv, "GET", "/healthz")
        h = su.http_req(t, srv, "HEAD", "/healthz")
        t.eq(h.status, 200, "HEAD /healthz")
        t.eq(h.body, b"", "HEAD has no body")
        t.eq(h.headers.get("content-length"), str(len(g.body)), "HEAD's content-length")
        r = su.http_req(t, srv, "PUT", "/healthz", body="x")
        t.eq(r.status, 405, "PUT /healthz")
        r = su.http_req(t, srv, "OPTIONS", "/nowhere")
        t.eq(r.status, 404, "OPTIONS on an unknown path")
