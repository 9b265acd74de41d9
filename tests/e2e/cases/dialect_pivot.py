"""The pivot-lang coderunner dialect (seed 004): POST / and /coderunner with {"code"} ->
{"status", "compileOutput", "runOutput"} for the configured language (C here), a result cache
with a time to live and LRU bounds (counted in /metrics), and the dialect's own concurrency
bound.  Each case runs its own server on 127.0.0.1."""

import concurrent.futures
import time

from harness import case, shorten
from server_util import Server, get_metrics, http_req, raw_post_large, write_config

HELLO = '#include <stdio.h>\nint main(void) { puts("hello from pivot"); return 0; }\n'
BROKEN = "int main(void) { return undefined_thing; }\n"


def post(t, srv, body, path="/"):
    return http_req(t, srv, "POST", path, body, headers={"Content-Type": "application/json"})


def answer(t, r, what):
    t.eq(r.status, 200, "%s: HTTP status (body %r)" % (what, shorten(r.body, 300)))
    t.check(r.headers.get("content-type", "").startswith("application/json"),
            "%s: content-type %r" % (what, r.headers.get("content-type")))
    o = r.json
    t.check(isinstance(o, dict), "%s: not a JSON object: %r" % (what, r.body[:300]))
    t.eq(sorted(o), ["compileOutput", "runOutput", "status"], "%s: fields" % what)
    t.check(o["status"] in (0, 1) and type(o["status"]) is int, "%s: status %r"
            % (what, o["status"]))
    return o


def refused(t, r, status, what):
    t.eq(r.status, status, "%s: HTTP status (body %r)" % (what, shorten(r.body, 300)))
    o = r.json
    t.check(isinstance(o, dict) and list(o) == ["error"] and isinstance(o["error"], str)
            and o["error"], "%s: body must be {\"error\": \"...\"}: %r" % (what, r.body[:300]))
    return o["error"]


class Counts:
    """The cache counters and pivot's run count from /metrics."""

    def __init__(self, t, srv):
        m = get_metrics(t, srv)
        self.hits = m.value("runcell_pivot_cache_hits_total")
        self.misses = m.value("runcell_pivot_cache_misses_total")
        self.evictions = m.value("runcell_pivot_cache_evictions_total")
        self.expired = m.value("runcell_pivot_cache_expired_total")
        self.entries = m.value("runcell_pivot_cache_entries")
        self.runs = m.value("runcell_dialect_runs_total", dialect="pivot")
        self.m = m
        t.check(None not in (self.hits, self.misses, self.evictions, self.expired, self.entries,
                             self.runs), "/metrics lacks pivot's samples: %s"
                % shorten(m.text, 2000))

    def __repr__(self):
        return "hits=%s misses=%s runs=%s entries=%s" % (self.hits, self.misses, self.runs,
                                                           self.entries)


def timed_post(t, srv, body, path="/"):
    t0 = time.monotonic()
    r = post(t, srv, body, path)
    return r, time.monotonic() - t0


@case("dialect_pivot.cache_hit", lang="c")
def cache_hit(t):
    """The same code twice: the second answer is the first's copy, fast, without a run (hits
    go up, pivot's runs do not); a compile error is status 0 and cached too."""
    with Server(t) as srv:
        c0 = Counts(t, srv)
        t.eq((c0.hits, c0.misses, c0.runs), (0, 0, 0), "a fresh server's counters")
        r1, took1 = timed_post(t, srv, {"code": HELLO})
        o = answer(t, r1, "first request")
        t.eq(o, {"status": 1, "compileOutput": "", "runOutput": "hello from pivot\n"},
             "first answer")
        c1 = Counts(t, srv)
        t.eq((c1.hits, c1.misses, c1.runs, c1.entries), (0, 1, 1, 1), "after the first: %r" % c1)
        r2, took2 = timed_post(t, srv, {"code": HELLO})
        answer(t, r2, "second request")
        t.eq(r2.body, r1.body, "the second answer is the first's, byte for byte")
        c2 = Counts(t, srv)
        t.eq((c2.hits, c2.misses, c2.runs), (1, 1, 1), "after the second (a hit): %r" % c2)
        t.check(took2 < 0.5 and took2 < took1,
                "a hit is fast: %.3fs (the run took %.3fs)" % (took2, took1))
        # the original's own path shares the cache
        r3 = post(t, srv, {"code": HELLO}, "/coderunner")
        t.eq(r3.body, r1.body, "POST /coderunner answers from the same cache")
        # a compile error: status 0, the compiler's words; cached as well
        r4 = post(t, srv, {"code": BROKEN})
        o = answer(t, r4, "compile error")
        t.eq((o["status"], o["runOutput"]), (0, ""), "compile error: status and runOutput")
        t.contains(o["compileOutput"], "undefined_thing", "compile error: compileOutput")
        r5 = post(t, srv, {"code": BROKEN})
        t.eq(r5.body, r4.body, "the compile error again: the cached copy")
        c5 = Counts(t, srv)
        t.eq((c5.hits, c5.misses, c5.runs, c5.entries), (3, 2, 2, 2), "at the end: %r" % c5)
        # a runtime error is a deterministic verdict: cached
        crash = "int main(void) { volatile int *p = 0; return *p; }\n"
        o = answer(t, post(t, srv, {"code": crash}), "segfault")
        t.eq((o["status"], o["runOutput"]), (1, ""), "segfault: compiled, nothing printed")
        answer(t, post(t, srv, {"code": crash}), "segfault again")
        c6 = Counts(t, srv)
        t.eq((c6.hits, c6.runs), (4, 3), "the runtime error is answered from the cache: %r" % c6)


@case("dialect_pivot.limit_verdicts_not_cached", lang="c")
def not_cached(t):
    """A run that ends at a limit is not kept: the same code runs again."""
    hog = ("#include <stdlib.h>\n#include <string.h>\n#include <stdio.h>\n"
           "int main(void) {\n  printf(\"eating\\n\"); fflush(stdout);\n"
           "  for (;;) { char *p = malloc(1 << 20); if (!p) return 2; memset(p, 1, 1 << 20); }\n}\n")
    with Server(t) as srv:
        for i in (1, 2):
            o = answer(t, post(t, srv, {"code": hog}), "memory hog #%d" % i)
            t.eq((o["status"], o["runOutput"]), (1, "eating\n"), "memory hog #%d" % i)
        c = Counts(t, srv)
        t.eq((c.hits, c.misses, c.runs, c.entries), (0, 2, 2, 0), "both ran, none kept: %r" % c)
        t.eq(c.m.value("runcell_runs_total", language="c", status="memory_limit"), 2,
             "the verdict was memory_limit both times")


@case("dialect_pivot.ttl_expiry", lang="c")
def ttl_expiry(t):
    """ttl_ms from the config (2 s): a hit within it, a new run after it."""
    cfg = write_config(t, {"dialects": {"pivot": {"ttl_ms": 2000}}})
    with Server(t, "--config", cfg) as srv:
        answer(t, post(t, srv, {"code": HELLO}), "first")
        answer(t, post(t, srv, {"code": HELLO}), "within the ttl")
        c = Counts(t, srv)
        t.eq((c.hits, c.runs, c.expired), (1, 1, 0), "a hit within 2 s: %r" % c)
        time.sleep(2.5)
        o = answer(t, post(t, srv, {"code": HELLO}), "after the ttl")
        t.eq(o["runOutput"], "hello from pivot\n", "after the ttl: the answer")
        c2 = Counts(t, srv)
        t.eq(c2.runs, c.runs + 1, "after the ttl the code runs again: %r" % c2)
        t.eq(c2.expired, 1, "one entry expired")
        t.eq(c2.entries, 1, "the new answer is kept")


@case("dialect_pivot.lru_bounds", lang="c")
def lru_bounds(t):
    """cache_entries 2: the least recently used entry goes, not the oldest."""
    cfg = write_config(t, {"dialects": {"pivot": {"cache_entries": 2}}})
    prog = '#include <stdio.h>\nint main(void) { puts("%s"); return 0; }\n'
    a, b, c = ({"code": prog % n} for n in ("A", "B", "C"))
    with Server(t, "--config", cfg) as srv:
        for body, what in ((a, "A"), (b, "B"), (a, "A again (hit)"), (c, "C (B goes)"),
                           (a, "A (still there)"), (b, "B (runs again)")):
            answer(t, post(t, srv, body), what)
        k = Counts(t, srv)
        t.eq((k.hits, k.misses, k.runs, k.entries), (2, 4, 4, 2), "counters: %r" % k)
        t.check(k.evictions >= 2, "evictions: %r" % k.evictions)
    # cache_bytes: an answer bigger than the bound is not kept
    cfg = write_config(t, {"dialects": {"pivot": {"cache_bytes": 2000}}}, name="small.json")
    big = ('#include <stdio.h>\nint main(void) { for (int i = 0; i < 300; i++) '
           'puts("0123456789"); return 0; }\n')
    with Server(t, "--config", cfg) as srv:
        for i in (1, 2):
            o = answer(t, post(t, srv, {"code": big}), "3300 bytes of output #%d" % i)
            t.eq(len(o["runOutput"]), 3300, "the whole output")
        answer(t, post(t, srv, {"code": HELLO}), "small")
        answer(t, post(t, srv, {"code": HELLO}), "small again")
        k = Counts(t, srv)
        t.eq((k.hits, k.runs, k.entries), (1, 3, 1), "only the small answer is kept: %r" % k)
        t.check(k.m.value("runcell_pivot_cache_bytes") <= 2000, "cache bytes within the bound")


def wait_metric(t, srv, name, want, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        v = get_metrics(t, srv).value(name)
        if v == want:
            return
        if time.monotonic() > deadline:
            t.fail("%s did not reach %s within %ds (last %r)" % (name, want, timeout, v))
        time.sleep(0.1)


@case("dialect_pivot.concurrency_bound", lang="c")
def concurrency(t):
    """pivot's own bound (max_concurrent 2, queue 1, the server allowing 4): two run, the
    third waits and completes after them, the fourth is refused with 429."""
    cfg = write_config(t, {"dialects": {"pivot": {"max_concurrent": 2, "queue": 1}}})
    sleeper = ('#include <stdio.h>\n#include <unistd.h>\n'
               'int main(void) { sleep(2); puts("slept %d"); return 0; }\n')
    with Server(t, "--config", cfg, "--max-concurrent", "4") as srv, \
            concurrent.futures.ThreadPoolExecutor(3) as pool:
        ends = {}

        def one(n):
            r = post(t, srv, {"code": sleeper % n})
            ends[n] = time.monotonic()
            return r

        futs = [pool.submit(one, 1), pool.submit(one, 2)]
        wait_metric(t, srv, "runcell_active_runs", 2)
        futs.append(pool.submit(one, 3))
        wait_metric(t, srv, "runcell_queue_depth", 1)
        err = refused(t, post(t, srv, {"code": sleeper % 4}), 429,
                      "a fourth while two run and one waits")
        t.note("429 said: %s" % err)
        for n, f in enumerate(futs, 1):
            o = answer(t, f.result(120), "run %d" % n)
            t.eq((o["status"], o["runOutput"]), (1, "slept %d\n" % n), "run %d" % n)
        t.check(ends[3] > max(ends[1], ends[2]),
                "the waiting run ended after the first two: %r" % ends)


@case("dialect_pivot.errors")
def errors(t):
    cfg = write_config(t, {"message_max_bytes": 65536})
    with Server(t, "--config", cfg) as srv:
        refused(t, post(t, srv, '{"code": ', "/coderunner"), 400, "malformed JSON")
        refused(t, post(t, srv, "{}", "/coderunner"), 400, "no code")
        msg = refused(t, post(t, srv, {"code": 5}), 400, "code a number (POST /)")
        t.contains(msg, "code", "names the field")
        refused(t, post(t, srv, {"code": None}, "/coderunner"), 400, "code null")
        refused(t, raw_post_large(t, srv, "/coderunner", 70000), 413, "a body over the limit")
        c = Counts(t, srv)
        t.eq((c.hits, c.misses, c.runs), (0, 0, 0), "refusals touch neither cache nor runs")
    cfg = write_config(t, {"dialects": {"pivot": {"language": "klingon"}}}, name="klingon.json")
    with Server(t, "--config", cfg) as srv:
        msg = refused(t, post(t, srv, {"code": "x"}), 500, "an unknown configured language")
        t.contains(msg, "klingon", "names the language")
    bad = write_config(t, {"dialects": {"pivot": {"ttl_ms": -1}}}, name="bad.json")
    r = t.runcell(*t.suite.global_args, "serve", "--listen", "127.0.0.1:0", "--config", bad,
                  timeout=30)
    t.check(r.rc != 0, "a negative ttl_ms stops the server at start (rc %r)" % r.rc)
    t.contains(r.stderr, "ttl_ms", "the refusal names the option")
