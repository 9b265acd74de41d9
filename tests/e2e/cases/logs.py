"""runcell serve's log (docs/OPERATIONS.md, "Logs"): one line per event on stderr, logfmt by
default or JSON ("log": {"format"} in the config, --log-format on the command line, which
wins), each with an RFC 3339 UTC timestamp in milliseconds, a level and an event name first.

A server is started with each format; it makes runs (with a named token, an unnamed one and
anonymously) and refuses requests (a wrong token: 401, a body over message_max_bytes: 413, an
anonymous client over its runs a minute: 429, a malformed body: 400). Every line of the log
must parse (a small logfmt parser here; json.loads per line), runs and refusals carry their
fields, no token is ever in the log (a token shows by its name), and the run ids of two
server starts differ.
"""

import hashlib
import json
import os
import re

import server_util as su
from harness import case, shorten

SECRET = "s3cret-token-AAAA-never-logged"
OTHER = "0ther-token-BBBB-never-logged"
WRONG = "wrong-token-CCCC-never-logged"
HELLO = {"language": "python", "source": "print('hi')\n"}
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
LEVELS = ("error", "warn", "info")


# ------------------------------------------------------------------ logfmt
def parse_logfmt(line):
    """key=value pairs of one logfmt line (bytes, no newline) as {key: str}, in order; a
    quoted value's escapes: \\" \\\\ \\n \\r \\t \\xNN (a byte). ValueError when it is not
    logfmt (a key twice, an unclosed quote, a stray character)."""
    out = {}
    i, n = 0, len(line)
    while i < n:
        j = i
        while j < n and line[j:j + 1] not in (b"=", b" ", b'"'):
            j += 1
        key = line[i:j].decode("ascii")
        if not key or j >= n or line[j:j + 1] != b"=":
            raise ValueError("no key=value at %d: %r" % (i, line[i:i + 40]))
        if key in out:
            raise ValueError("key %r twice" % key)
        j += 1
        if line[j:j + 1] == b'"':
            j += 1
            val = bytearray()
            while True:
                if j >= n:
                    raise ValueError("unclosed quote for %r" % key)
                c = line[j:j + 1]
                if c == b'"':
                    j += 1
                    break
                if c == b"\\":
                    e = line[j + 1:j + 2]
                    simple = {b'"': b'"', b"\\": b"\\", b"n": b"\n", b"r": b"\r", b"t": b"\t"}
                    if e in simple:
                        val += simple[e]
                        j += 2
                    elif e == b"x" and re.match(rb"[0-9a-f]{2}$", line[j + 2:j + 4]):
                        val.append(int(line[j + 2:j + 4], 16))
                        j += 4
                    else:
                        raise ValueError("bad escape %r in %r" % (line[j:j + 4], key))
                    continue
                if c[0] < 0x20 or c[0] == 0x7f:
                    raise ValueError("a raw control byte in %r" % key)
                val += c
                j += 1
            value = bytes(val).decode("utf-8", "surrogateescape")
        else:
            k = j
            while k < n and line[k:k + 1] != b" ":
                k += 1
            raw = line[j:k]
            if not raw or any(b in raw for b in (b'"', b"=", b"\\")) or \
                    any(x <= 0x20 or x >= 0x7f for x in raw):
                raise ValueError("bad bare value for %r: %r" % (key, raw))
            value = raw.decode("ascii")
            j = k
        out[key] = value
        if j < n:
            if line[j:j + 1] != b" ":
                raise ValueError("no space after %r" % key)
            j += 1
        i = j
    return out


def lf_value(v):
    """A logfmt value as the JSON one would be: "-" is null, numbers and booleans typed."""
    if v == "-":
        return None
    if v in ("true", "false"):
        return v == "true"
    if re.match(r"^-?\d+$", v):
        return int(v)
    if re.match(r"^-?\d+\.\d+$", v):
        return float(v)
    return v


def test_parse_logfmt(t):
    got = parse_logfmt(b'ts=x level=info a="q \\"x\\" \\\\ \\n\\xff" b=- c=1.5')
    t.eq(list(got), ["ts", "level", "a", "b", "c"], "the parser keeps keys in order")
    t.eq(got["a"].encode("utf-8", "surrogateescape"), b'q "x" \\ \n\xff', "escapes")
    for bad in (b'a="open', b"a=b=c", b"a b", b'a=1 a=2', b'a="x"y'):
        try:
            parse_logfmt(bad)
            t.fail("the test's parser took %r" % bad)
        except ValueError:
            pass


# ------------------------------------------------------------------ the log
def log_events(t, srv, fmt):
    """The server's log as a list of (event dict, raw line); every line after the first
    event must be one (lines before are the start-up notes of lower layers, kept as text)."""
    raw = b"".join(x for x in srv._err if x is not None)
    events = []
    started = False
    for line in raw.split(b"\n"):
        if not line:
            continue
        is_event = line.startswith(b"{" if fmt == "json" else b"ts=")
        if not is_event and not started:
            t.note("a line before the log's first event: %r" % shorten(line.decode(
                "utf-8", "replace"), 300))
            continue
        started = True
        try:
            if fmt == "json":
                ev = json.loads(line.decode("utf-8"))
                t.check(isinstance(ev, dict), "a JSON line is an object: %r" % line[:200])
                keys = list(ev)
            else:
                pairs = parse_logfmt(line)
                keys = list(pairs)
                ev = {k: lf_value(v) for k, v in pairs.items()}
        except ValueError as e:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
            t.fail("a %s log line does not parse (%s): %r" % (fmt, e, shorten(
                line.decode("utf-8", "replace"), 400)))
            continue
        t.eq(keys[:3], ["ts", "level", "event"], "the first fields of %r" % line[:120])
        t.check(isinstance(ev.get("ts"), str) and TS_RE.match(ev["ts"]),
                "ts is RFC 3339 UTC with milliseconds: %r" % ev.get("ts"))
        t.check(ev.get("level") in LEVELS, "level is one of %s: %r" % (LEVELS, ev.get("level")))
        t.check(isinstance(ev.get("event"), str) and ev["event"], "an event name: %r" % line[:120])
        events.append((ev, line))
    t.check(events, "the log has events (%s)" % fmt)
    for secret in (SECRET, OTHER, WRONG):
        t.check(secret.encode() not in raw, "a token is in the log: %s" % secret[:12])
    return events


def find(events, event, **fields):
    return [ev for ev, _ in events
            if ev.get("event") == event and all(ev.get(k) == v for k, v in fields.items())]


def check_run(t, ev, what, token, anonymous=False):
    for k, want in (("dialect", "runcell"), ("language", "python"), ("run", "ok"),
                    ("verdict", "ok"), ("client", "127.0.0.1"), ("token", token),
                    ("compile", None), ("level", "info")):
        t.eq(ev.get(k), want, "%s: %s" % (what, k))
    t.eq(ev.get("anonymous", False), anonymous, "%s: anonymous" % what)
    t.check(isinstance(ev.get("version"), str) and ev["version"],
            "%s: the language's version: %r" % (what, ev.get("version")))
    t.check(isinstance(ev.get("run_id"), str) and re.match(r"^[0-9a-f]{16}-\d+$", ev["run_id"]),
            "%s: run_id: %r" % (what, ev.get("run_id")))
    t.eq(ev.get("exit_code"), 0, "%s: exit_code" % what)
    for k in ("queue_ms", "setup_ms", "wall_ms", "total_ms"):
        v = ev.get(k)
        t.check(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0,
                "%s: %s is a number: %r" % (what, k, v))
    t.check(ev["total_ms"] >= ev["queue_ms"], "%s: total_ms covers the queue" % what)
    t.check(ev.get("cpu_ms") is None or ev["cpu_ms"] >= 0, "%s: cpu_ms: %r" % (what, ev.get("cpu_ms")))


def check_refused(t, events, status, what, **fields):
    got = find(events, "refused", status=status, **fields)
    t.check(len(got) == 1, "%s: one refused event with status %d and %r: %r"
            % (what, status, fields, [ev for ev, _ in events if ev.get("event") == "refused"]))
    if not got:
        return None
    ev = got[0]
    t.eq(ev.get("client"), "127.0.0.1", "%s: client" % what)
    t.check(isinstance(ev.get("reason"), str) and ev["reason"], "%s: a reason: %r"
            % (what, ev.get("reason")))
    t.check(ev.get("level") in ("info", "warn"), "%s: level %r" % (what, ev.get("level")))
    return ev


def exercise(t, fmt, args, cfg_log):
    cfg = {"tokens": [{"token": SECRET, "name": "ci-bot"}, OTHER],
           "public": {"routes": ["/api/v1/run"], "runs_per_minute": 1, "max_running": 2},
           "message_max_bytes": 4096}
    if cfg_log:
        cfg["log"] = cfg_log
    path = su.write_config(t, cfg)
    with su.Server(t, "--config", path, *args) as srv:
        def post(body, token=None):
            h = {"Authorization": "Bearer " + token} if token else {}
            return su.http_req(t, srv, "POST", "/api/v1/run", body=body, headers=h)
        t.eq(post(HELLO, SECRET).status, 200, "%s: a run with the named token" % fmt)
        t.eq(post(HELLO, OTHER).status, 200, "%s: a run with the unnamed token" % fmt)
        t.eq(post(HELLO).status, 200, "%s: an anonymous run" % fmt)
        r = post(HELLO)
        t.eq(r.status, 429, "%s: a second anonymous run in the minute" % fmt)
        t.eq(post(HELLO, WRONG).status, 401, "%s: a wrong token" % fmt)
        r = su.http_req(t, srv, "POST", "/api/v1/%22odd%20path%22",
                        body=HELLO, headers={"Authorization": "Bearer " + WRONG})
        t.eq(r.status, 401, "%s: a wrong token on an odd path" % fmt)
        r = su.raw_post_large(t, srv, "/api/v1/run", 64 << 10)
        t.eq(r.status, 413, "%s: a body over message_max_bytes" % fmt)
        t.eq(post('{"language": "python", "source": ', SECRET).status, 400,
             "%s: a malformed body" % fmt)
    events = log_events(t, srv, fmt)
    listening = find(events, "listening")
    t.check(len(listening) == 1 and "runcell: listening on http://127.0.0.1:%d" % srv.port
            in listening[0].get("msg", ""), "%s: the listening event: %r" % (fmt, listening))
    runs = find(events, "run")
    t.eq(len(runs), 3, "%s: three run events" % fmt)
    named = find(events, "run", token="ci-bot")
    if t.check(len(named) == 1, "%s: a run of the token named ci-bot: %r" % (fmt, runs)):
        check_run(t, named[0], "%s: the named token's run" % fmt, "ci-bot")
    label = "sha256:" + hashlib.sha256(OTHER.encode()).hexdigest()[:8]
    unnamed = find(events, "run", token=label)
    if t.check(len(unnamed) == 1, "%s: a run of the unnamed token as %s: %r" % (fmt, label, runs)):
        check_run(t, unnamed[0], "%s: the unnamed token's run" % fmt, label)
    anon = find(events, "run", anonymous=True)
    if t.check(len(anon) == 1, "%s: an anonymous run: %r" % (fmt, runs)):
        check_run(t, anon[0], "%s: the anonymous run" % fmt, None, anonymous=True)
    ev = check_refused(t, events, 429, "%s: 429" % fmt, code="rate_limited", path="/api/v1/run")
    if ev:
        t.eq(ev.get("dialect"), "runcell", "%s: 429: dialect" % fmt)
        t.eq(ev.get("anonymous"), True, "%s: 429: anonymous" % fmt)
    ev = check_refused(t, events, 401, "%s: 401" % fmt, path="/api/v1/run")
    if ev:
        t.eq(ev.get("dialect"), "runcell", "%s: 401: dialect" % fmt)
        t.eq(ev.get("token"), None, "%s: 401: no token name" % fmt)
        t.eq(ev.get("level"), "warn", "%s: 401: level" % fmt)
    odd = [e for e in find(events, "refused", status=401) if "odd" in (e.get("path") or "")]
    t.check(len(odd) == 1 and odd[0]["path"].startswith("/api/v1/"),
            "%s: the odd path's 401 names its path: %r" % (fmt, odd))
    ev = check_refused(t, events, 413, "%s: 413" % fmt, path="/api/v1/run")
    if ev:
        t.eq(ev.get("dialect"), "runcell", "%s: 413: dialect" % fmt)
    ev = check_refused(t, events, 400, "%s: 400" % fmt, path="/api/v1/run")
    if ev:
        t.eq(ev.get("token"), "ci-bot", "%s: 400: the token's name" % fmt)
    return {ev["run_id"] for ev in runs if "run_id" in ev}


@case("logs.formats", lang="python")
def formats(t):
    test_parse_logfmt(t)
    # the default (no "log" in the config) is logfmt
    ids1 = exercise(t, "logfmt", (), None)
    # the command line's --log-format wins over the config's
    ids2 = exercise(t, "json", ("--log-format", "json"), {"format": "logfmt"})
    t.eq(len(ids1), 3, "three run ids in the first server's log")
    t.eq(len(ids2), 3, "three run ids in the second server's log")
    t.check(not ids1 & ids2, "run ids differ across two server starts: %r %r" % (ids1, ids2))
    prefixes = {i.split("-")[0] for i in ids1} | {i.split("-")[0] for i in ids2}
    t.eq(len(prefixes), 2, "one run id prefix per server start: %r" % prefixes)


@case("logs.config_format", lang="python")
def config_format(t):
    """"log": {"format": "json"} alone makes JSON lines; wrong values are refused at once."""
    path = su.write_config(t, {"log": {"format": "json"}})
    with su.Server(t, "--config", path) as srv:
        t.eq(su.http_req(t, srv, "POST", "/api/v1/run", body=HELLO).status, 200, "a run")
    events = log_events(t, srv, "json")
    t.eq(len(find(events, "run", run="ok")), 1, "the run's event in JSON")
    su.refused_config(t, {"log": {"format": "xml"}}, "an unknown log format", "log")
    su.refused_config(t, {"log": {"colour": True}}, "an unknown log option", "log")
    su.refused_config(t, {"tokens": [{"token": "x", "name": "has space"}]}, "a bad token name",
                      "tokens")
    r = t.runcell(*t.suite.global_args, "serve", "--listen", "127.0.0.1:0", "--log-format", "xml",
                  timeout=20)
    t.check(r.rc != 0 and "--log-format" in r.stderr, "--log-format xml is refused: rc=%d %r"
            % (r.rc, r.stderr))


@case("logs.lower_layers")
def lower_layers(t):
    """What the layers below the server say outside of a request (util/note.h) is an event line
    too, in either format: a build cache whose directory cannot be made (a file is in its way)
    is one `build_cache_off` warning with the reason in msg, not a plain `runcell: ...` line."""
    for fmt in ("logfmt", "json"):
        state = os.path.join(t.tmpdir(), "state-" + fmt)
        os.makedirs(state, mode=0o755)
        with open(os.path.join(state, "builds"), "w") as f:
            f.write("not a directory\n")
        cfg = su.write_config(t, {"state_dir": state, "build_cache_mb": 16,
                                  "log": {"format": fmt}}, name="lower-%s.json" % fmt)
        with su.Server(t, "--config", cfg) as srv:
            pass
        raw = b"".join(x for x in srv._err if x is not None)
        t.check(b"\nruncell: " not in b"\n" + raw,
                "%s: no plain runcell: line in the log: %r" % (fmt, shorten(
                    raw.decode("utf-8", "replace"), 600)))
        events = log_events(t, srv, fmt)
        off = find(events, "build_cache_off")
        if t.check(len(off) == 1, "%s: one build_cache_off event: %r" % (fmt, [
                e.get("event") for e, _ in events])):
            t.eq(off[0].get("level"), "warn", "%s: build_cache_off is a warning" % fmt)
            msg = off[0].get("msg") or ""
            t.check("builds" in msg and "compiling without a build cache" in msg,
                    "%s: the reason and what follows: %r" % (fmt, msg))
