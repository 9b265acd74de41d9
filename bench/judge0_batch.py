#!/usr/bin/python3
"""50 submissions through runcell's Judge0 CE dialect in one batch, against Judge0's floor.

Judge0 CE answers a single `POST /submissions?wait=true` in about 2 s at best (its workers
poll the queue; the figure Judge0's own documentation gives), so 50 submissions waited for one
after another take about 100 s. The goal here: the whole batch, posted at once and polled to its
end, at least 10 times faster, under 10 s.

What is timed, per round (Judge0's documented batch API):
  POST /submissions/batch?base64_encoded=false {"submissions": [50 x {"language_id",
       "source_code", "stdin", "expected_output"}]}   -> [{"token"}, ...]
  GET  /submissions/batch?tokens=T1,...,T50&base64_encoded=false&fields=token,status,stdout
       every --poll seconds until no submission has a status id <= 2 (In Queue, Processing)
from just before the POST to the answer in which the last one finished. Every submission is the
same C program (read two numbers, print their sum) with its own input and expected output, so
each must end Accepted (status 3). Median over --rounds rounds.

By default a `runcell serve` is started on 127.0.0.1 (a delegated cgroup, as root) with a
config of its own: a fresh submission store in a temporary directory and the judge0 dialect's
max_submission_batch_size raised to --n (Judge0's default is 20); or with --config FILE. --url
points at a server already running instead (then nothing is started and no root is needed;
--chunk 20 for one with Judge0's default batch size).

  bench/judge0_batch.py [--rounds 3] [--n 50] [--bin build/runcell] [--config FILE]
                        [--url http://127.0.0.1:2358] [--path /] [--language-id ID]
                        [--chunk K] [--write]
"""
import argparse
import http.client
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import urllib.parse

from benchlib import ROOT, Server, enter_cgroup, leave_cgroup, write_section

SOURCE = r"""#include <stdio.h>

int main(void)
{
        long a, b;
        if (scanf("%ld %ld", &a, &b) != 2)
                return 1;
        printf("%ld\n", a + b);
        return 0;
}
"""
JUDGE0_WAIT_FLOOR_S = 2.0  # one submission with wait=true on Judge0 CE, at best
GOAL_FACTOR = 10


class Api:
    """Judge0's API at host:port, below base (a path prefix, "" for the root)."""

    def __init__(self, host, port, base):
        self.host, self.port, self.base = host, port, base.rstrip("/")
        self.conn = None

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        hdrs = {"Content-Type": "application/json"} if data is not None else {}
        for attempt in (0, 1):  # one retry on a connection the server closed
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
            try:
                self.conn.request(method, self.base + path, body=data, headers=hdrs)
                r = self.conn.getresponse()
                raw = r.read()
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        if r.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        try:
            obj = json.loads(raw) if raw else None
        except ValueError:
            obj = None
        return r.status, obj, raw


def c_language_id(api):
    """The id of the first language named "C (...)" in GET /languages (Judge0 CE: 50, GCC)."""
    st, langs, raw = api.call("GET", "/languages")
    if st != 200 or not isinstance(langs, list):
        sys.exit("GET /languages: %d %r" % (st, raw[:300]))
    for lang in langs:
        if str(lang.get("name", "")).startswith("C ("):
            return int(lang["id"])
    sys.exit("GET /languages has no C: %r" % [x.get("name") for x in langs][:20])


def chunks(seq, k):
    return [seq[i:i + k] for i in range(0, len(seq), k)]


def one_batch(api, lang_id, n, chunk, poll_s, timeout_s):
    """Post n submissions (in batches of chunk), poll until all are done; (seconds, polls)."""
    subs = [{"language_id": lang_id, "source_code": SOURCE, "stdin": "%d %d\n" % (i, 3 * i + 1),
             "expected_output": "%d\n" % (4 * i + 1)} for i in range(n)]
    t0 = time.perf_counter()
    tokens = []
    for part in chunks(subs, chunk):
        st, obj, raw = api.call("POST", "/submissions/batch?base64_encoded=false",
                                {"submissions": part})
        if st != 201 and st != 200:
            sys.exit("POST /submissions/batch: %d %r" % (st, raw[:500]))
        if not isinstance(obj, list) or len(obj) != len(part) or \
                not all("token" in x for x in obj):
            sys.exit("POST /submissions/batch: not %d tokens: %r" % (len(part), raw[:500]))
        tokens += [x["token"] for x in obj]
    queries = ["/submissions/batch?" + urllib.parse.urlencode({
        "tokens": ",".join(part), "base64_encoded": "false",
        "fields": "token,status,stdout,stderr,compile_output,message"})
        for part in chunks(tokens, chunk)]
    polls = 0
    while True:
        got = []
        for query in queries:
            st, obj, raw = api.call("GET", query)
            if st != 200 or not isinstance(obj, dict) or "submissions" not in obj:
                sys.exit("GET /submissions/batch: %d %r" % (st, raw[:500]))
            got += obj["submissions"]
        polls += 1
        if len(got) != n:
            sys.exit("GET /submissions/batch: %d submissions for %d tokens" % (len(got), n))
        if all(s and s["status"]["id"] > 2 for s in got):
            dt = time.perf_counter() - t0
            break
        if time.perf_counter() - t0 > timeout_s:
            left = sum(1 for s in got if not s or s["status"]["id"] <= 2)
            sys.exit("%d of %d submissions not finished after %.0f s" % (left, n, timeout_s))
        time.sleep(poll_s)
    by_token = {s["token"]: s for s in got}
    bad = [(i, by_token[tok]) for i, tok in enumerate(tokens)
           if by_token[tok]["status"]["id"] != 3]
    if bad:
        i, s = bad[0]
        sys.exit("%d of %d submissions not Accepted; #%d: %r" % (len(bad), n, i, s))
    return dt, polls


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--n", type=int, default=50, help="submissions in the batch (Judge0: <= 20 "
                    "by default, max_submission_batch_size; runcell's dialect may allow more)")
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "runcell"))
    ap.add_argument("--config", help="runcell serve --config FILE (the store, the dialect)")
    ap.add_argument("--url", help="a server already running, e.g. http://127.0.0.1:2358")
    ap.add_argument("--path", default="", help="the judge0 dialect's base path (default: /)")
    ap.add_argument("--language-id", type=int, help="default: C's id from GET /languages")
    ap.add_argument("--chunk", type=int, help="submissions per POST (and tokens per GET): "
                    "default all of them in one (the server this script starts allows it; "
                    "Judge0's own default max_submission_batch_size is 20)")
    ap.add_argument("--poll", type=float, default=0.05, help="seconds between polls")
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--write", action="store_true", help="update docs/BENCHMARKS.md")
    a = ap.parse_args()

    srv = cg = None
    if a.url:
        u = urllib.parse.urlsplit(a.url)
        host, port, base = u.hostname, u.port or 80, (u.path.rstrip("/") or a.path)
    else:
        if os.geteuid() != 0:
            sys.exit("run as root (it makes a delegated cgroup for the server), or give --url")
        cg = "runcell-bench-judge0-%d" % os.getpid()
        cg_dirs = enter_cgroup(cg)
        args = ["--warm", "c", "--max-concurrent", str(os.cpu_count() or 1), "--queue", "256"]
        if not a.config:  # a store of its own, and batches of n
            tmp = tempfile.mkdtemp(prefix="runcell-bench-judge0-")
            a.config = os.path.join(tmp, "serve.json")
            with open(a.config, "w") as f:
                # Judge0 compiles every submission: so does this server (no build cache)
                json.dump({"store": {"path": os.path.join(tmp, "submissions.db")},
                           "build_cache_mb": 0,
                           "dialects": {"judge0": {"max_submission_batch_size": max(a.n, 20)}}},
                          f)
            a.own_config = tmp
        args += ["--config", a.config]
        srv = Server(a.bin, *args)
        host, port, base = "127.0.0.1", srv.port, a.path
    times, polls = [], []
    try:
        api = Api(host, port, base)
        lang_id = a.language_id or c_language_id(api)
        chunk = a.chunk or a.n
        one_batch(api, lang_id, min(a.n, 5), chunk, a.poll, a.timeout)  # warm up
        load_before = open("/proc/loadavg").read().split()[:3]
        for _ in range(a.rounds):
            dt, np_ = one_batch(api, lang_id, a.n, chunk, a.poll, a.timeout)
            times.append(dt)
            polls.append(np_)
            print("batch of %d: %.2f s (%d polls)" % (a.n, dt, np_), flush=True)
        load_after = open("/proc/loadavg").read().split()[:3]
    finally:
        if srv:
            srv.stop()
        if cg:
            leave_cgroup(cg, cg_dirs)
        if getattr(a, "own_config", None):
            shutil.rmtree(a.own_config, ignore_errors=True)

    med = statistics.median(times)
    floor = a.n * JUDGE0_WAIT_FLOOR_S
    goal = floor / GOAL_FACTOR
    cmd = "bench/judge0_batch.py --rounds %d --n %d" % (a.rounds, a.n) + (
        " --chunk %d" % a.chunk if a.chunk else "") + (" --url URL" if a.url else "")
    text = "\n".join([
        "%s, %d cores, kernel %s; load average before: %s, after: %s; median of %d rounds" % (
            time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), os.cpu_count(),
            platform.release(), " ".join(load_before), " ".join(load_after), a.rounds),
        "",
        "%d C submissions (read two numbers, print their sum; each its own stdin and "
        "expected_output, each Accepted) posted in one `POST /submissions/batch`, then `GET "
        "/submissions/batch?tokens=...` every %.0f ms until none is In Queue or Processing. "
        "Judge0 CE's floor for one submission with `wait=true` is about %.0f s, %.0f s for %d "
        "one after another; the goal is %d times faster, under %.0f s." % (
            a.n, a.poll * 1000, JUDGE0_WAIT_FLOOR_S, floor, a.n, GOAL_FACTOR, goal),
        "",
        "| submissions | median s | min s | max s | polls (median) | s per submission | "
        "× faster than %.0f s each |" % JUDGE0_WAIT_FLOOR_S,
        "|---|---|---|---|---|---|---|",
        "| %d | %.2f | %.2f | %.2f | %d | %.3f | %.0f |" % (
            a.n, med, min(times), max(times), statistics.median(polls), med / a.n, floor / med),
        "",
        "Goal (under %.0f s) %s." % (goal, "**met**" if med < goal else "**not met**"),
    ])
    print(text)
    if a.write:
        write_section("judge0-batch", "Judge0 batch: `%s`" % cmd, text)


if __name__ == "__main__":
    main()
