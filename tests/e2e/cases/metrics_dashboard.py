"""GET /metrics against docs/grafana/runcell-dashboard.json: a server (with a store, so that it
has functions, and in public mode, so that it counts refusals) makes a few runs of each kind
(plain, judged, a function's invocation), so that the labelled series exist; its exposition is
checked line by line (HELP and TYPE once per family and before its samples, a family's lines
together, histograms cumulative with +Inf equal to _count, label values escaped), and every
metric name that a panel's query or a variable of the dashboard uses must be exposed with a
TYPE line, with the labels its `by (...)` groups on."""

import json
import os
import re

from harness import Fail, case
from server_util import Server, check_histogram, get_metrics, http_req, write_config

HERE = os.path.dirname(os.path.abspath(__file__))
# tests/e2e/cases -> the repository (or run-e2e's copy of it, which has docs/grafana too)
DASHBOARD = os.path.join(HERE, "..", "..", "..", "docs", "grafana", "runcell-dashboard.json")

HELLO = 'print("hello")\n'

# PromQL's words that are not metric names: functions and aggregations (also followed by "("
# in the dashboard, but not always: `sum by (le) (...)`), modifiers and operators.
PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "and",
    "or", "unless", "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk",
    "quantile", "count_values", "group", "rate", "irate", "increase", "delta", "idelta",
    "histogram_quantile", "label_values", "label_replace", "label_join", "vector", "scalar",
    "clamp_min", "clamp_max", "abs", "ceil", "floor", "round", "time", "inf", "nan",
}
NAME_RE = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def dashboard_queries(dash):
    """Every PromQL expression of the dashboard: [(where, expr)] (nested rows' panels too, and
    the query variables)."""
    out = []

    def walk(panels):
        for p in panels:
            for tg in p.get("targets", []):
                if tg.get("expr"):
                    out.append(("panel %r %s" % (p.get("title"), tg.get("refId")), tg["expr"]))
            walk(p.get("panels", []))

    walk(dash.get("panels", []))
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            q = v.get("query")
            q = q.get("query") if isinstance(q, dict) else q
            if q:
                out.append(("variable %r" % v.get("name"), q))
    return out


def expr_names(expr):
    """The metric names an expression selects, and the labels it groups by: (names, labels)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings (label values, regexes)
    e = re.sub(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?", "", e)  # $__rate_interval, ${var}
    e = re.sub(r"\[[^\]]*\]", "", e)  # range selectors and subqueries' ranges
    labels = set()
    # label_values(metric, label): the second argument is a label
    lv = re.match(r"\s*label_values\s*\(\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*,\s*(\w+)\s*\)", e)
    if lv:
        return {lv.group(1)}, {lv.group(2)}
    for m in re.finditer(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)",
                         e):
        labels.update(x.strip() for x in m.group(1).split(",") if x.strip())
    e = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"\{[^}]*\}", " ", e)  # label matchers
    names = set()
    for m in NAME_RE.finditer(e):
        w = m.group(0)
        rest = e[m.end():].lstrip()
        if w in PROMQL_WORDS or rest.startswith("("):
            continue
        if re.fullmatch(r"(?i)[0-9.e+-]+", w):
            continue
        names.add(w)
    return names, labels


def family_of(name, types):
    """The family a sample name belongs to (histograms' _bucket, _sum, _count), or None."""
    if name in types:
        return name
    for suf in ("_bucket", "_sum", "_count"):
        base = name[:-len(suf)] if name.endswith(suf) else None
        if base and types.get(base) in ("histogram", "summary"):
            return base
    return None


def check_exposition(t, text):
    """The text format's rules that Metrics() does not check: HELP and TYPE once per family,
    before its samples; a family's samples together; names and types that are valid."""
    helps, types, seen, closed = set(), {}, set(), set()
    current = None
    for ln in text.split("\n"):
        if not ln:
            continue
        if ln.startswith("# HELP ") or ln.startswith("# TYPE "):
            parts = ln.split(" ", 3)
            t.check(len(parts) == 4 and parts[3], "a %s line without text: %r" % (parts[1], ln))
            fam = parts[2]
            t.check(NAME_RE.fullmatch(fam), "a bad metric name: %r" % ln)
            if parts[1] == "HELP":
                t.check(fam not in helps, "a second HELP for %s" % fam)
                helps.add(fam)
            else:
                t.check(fam not in types, "a second TYPE for %s" % fam)
                t.check(parts[3] in ("counter", "gauge", "histogram", "summary", "untyped"),
                        "TYPE of %s: %r" % (fam, parts[3]))
                t.check(fam not in seen, "TYPE of %s after its samples" % fam)
                types[fam] = parts[3]
                if parts[3] == "counter":
                    t.check(fam.endswith("_total"), "counter %s does not end in _total" % fam)
            if current and current != fam:
                closed.add(current)
            current = fam
            continue
        if ln.startswith("#"):
            continue
        name = NAME_RE.match(ln).group(0) if NAME_RE.match(ln) else ln
        fam = family_of(name, types)
        t.check(fam is not None, "a sample of no TYPE'd family: %r" % ln)
        t.check(fam not in closed, "the samples of %s are not together: %r" % (fam, ln))
        t.check(fam in helps, "%s has no HELP line" % fam)
        if current and current != fam:
            closed.add(current)
        current = fam
        seen.add(fam)
    return types


@case("metrics_dashboard.queries_match_exposition", lang="python")
def dashboard_matches(t):
    try:
        with open(DASHBOARD) as f:
            dash = json.load(f)
    except (OSError, ValueError) as e:
        raise Fail("the dashboard %s: %s" % (DASHBOARD, e))
    # the dashboard itself: importable as is (a datasource variable, no fixed data source)
    t.eq(dash.get("id"), None, "the dashboard's id (null: Grafana gives one at import)")
    t.check(dash.get("uid") and dash.get("schemaVersion", 0) >= 36,
            "the dashboard needs a uid and a Grafana 10 schemaVersion: %r %r"
            % (dash.get("uid"), dash.get("schemaVersion")))
    dsvars = [v for v in dash.get("templating", {}).get("list", [])
              if v.get("type") == "datasource" and v.get("query") == "prometheus"]
    t.eq(len(dsvars), 1, "Prometheus data source variables of the dashboard")
    queries = dashboard_queries(dash)
    t.check(len(queries) >= 15, "the dashboard has only %d queries" % len(queries))

    d = t.tmpdir()
    os.chmod(d, 0o711)  # as root, the function's sandbox binds its artifact from beside it
    cfg = write_config(t, {"store": {"path": os.path.join(d, "m.db")}, "public": {}})
    with Server(t, "--config", cfg) as srv:
        for i in range(2):
            r = http_req(t, srv, "POST", "/api/v1/run", {"language": "python", "source": HELLO})
            t.eq(r.status, 200, "run %d: HTTP status (%r)" % (i, r.body[:200]))
        r = http_req(t, srv, "POST", "/api/v1/run",
                     {"language": "python", "source": "raise SystemExit(3)\n"})
        t.eq(r.status, 200, "a failing run: HTTP status")
        r = http_req(t, srv, "POST", "/api/v1/run",
                     {"language": "python", "source": "print(input())\n",
                      "tests": [{"stdin": "a\n", "expected_output": "a\n"},
                                {"stdin": "b\n", "expected_output": "c\n"}]})
        t.eq(r.status, 200, "a judged run: HTTP status (%r)" % r.body[:200])
        r = http_req(t, srv, "PUT", "/api/v1/functions/mhello",
                     {"language": "python", "source": HELLO, "min_warm": 0})
        t.check(r.status in (200, 201), "deploy: HTTP %s (%r)" % (r.status, r.body[:200]))
        r = http_req(t, srv, "POST", "/api/v1/functions/mhello/invoke", b"")
        t.eq(r.status, 200, "invoke: HTTP status (%r)" % r.body[:200])
        t.eq(r.body, b"hello\n", "invoke: the answer")

        m = get_metrics(t, srv)
        srv.check_alive()
    types = check_exposition(t, m.text)
    t.eq(types, {k: v for k, v in m.types.items()}, "TYPE lines (two parsers)")
    # every histogram with samples: cumulative buckets, +Inf equal to _count, _sum there
    for fam, typ in sorted(types.items()):
        if typ == "histogram" and m.has(fam + "_count"):
            check_histogram(t, m, fam)

    # the new series, with their labels
    t.eq(m.total("runcell_runs_total", language="python", status="ok"), 2 + 1,
         'runcell_runs_total{language="python",status="ok"} (2 runs and 1 invocation)')
    t.eq(m.total("runcell_runs_total", language="python", status="runtime_error"), 1,
         'runcell_runs_total{language="python",status="runtime_error"}')
    t.eq(m.value("runcell_dialect_runs_ended_total", dialect="runcell", status="ok"), 2,
         'runcell_dialect_runs_ended_total{dialect="runcell",status="ok"}')
    t.eq(m.value("runcell_dialect_runs_ended_total", dialect="runcell", status="runtime_error"),
         1, 'runcell_dialect_runs_ended_total{dialect="runcell",status="runtime_error"}')
    t.eq(m.value("runcell_judge_runs_total", language="python", dialect="runcell",
                 verdict="wrong_answer"), 1, "the judged run's verdict")
    t.eq(m.total("runcell_judge_runs_total", verdict="accepted"), 0, "no judged run accepted")
    for fam in ("runcell_run_duration_seconds", "runcell_setup_duration_seconds",
                "runcell_queue_wait_seconds", "runcell_function_cold_start_seconds",
                "runcell_function_warm_start_seconds"):
        t.eq(m.types.get(fam), "histogram", "# TYPE of %s" % fam)
    dur = check_histogram(t, m, "runcell_run_duration_seconds")
    key = (("dialect", "runcell"), ("language", "python"))
    t.eq(dur.get(key), 4, "runcell_run_duration_seconds_count%r (3 runs, 1 judged)" % (key,))
    for k in dur:
        t.eq(sorted(x for x, _ in k), ["dialect", "language"],
             "runcell_run_duration_seconds labels")
    setup = check_histogram(t, m, "runcell_setup_duration_seconds")
    t.check(setup.get(key, 0) >= 3, "runcell_setup_duration_seconds_count%r: %r (a set-up per "
            "run at least)" % (key, setup.get(key)))
    wait = check_histogram(t, m, "runcell_queue_wait_seconds")
    t.check(wait.get((("dialect", "runcell"),), 0) >= 4,
            "runcell_queue_wait_seconds_count{dialect=\"runcell\"}: %r" % wait)
    check_histogram(t, m, "runcell_function_cold_start_seconds")
    pool = m.value("runcell_pool_hits_total") + m.value("runcell_pool_misses_total")
    t.check(pool >= 4, "runcell_pool_hits_total + runcell_pool_misses_total: %r, wanted a take "
            "per run stage" % pool)
    t.check(m.value("runcell_pool_pending_total") <= m.value("runcell_pool_misses_total"),
            "runcell_pool_pending_total is part of the misses")
    for name in ("runcell_public_refused_total", "runcell_connections_refused_total"):
        t.eq(m.value(name), 0, name)
    t.check(m.find("runcell_function_invocations_total", function="mhello"),
            "runcell_function_invocations_total of the function")

    # every name the dashboard uses is exposed, with the labels it groups by
    used = {}
    for where, expr in queries:
        names, labels = expr_names(expr)
        t.check(names, "%s: no metric name in %r" % (where, expr))
        for n in names:
            fam = family_of(n, m.types)
            t.check(fam is not None, "%s: %s is not exposed (no TYPE line for it or its "
                    "histogram) in %r" % (where, n, expr))
            if n != fam:
                t.check(m.types[fam] == "histogram" and n.endswith(("_bucket", "_sum", "_count")),
                        "%s: %s" % (where, n))
            else:
                t.check(m.types[fam] != "histogram",
                        "%s: the histogram %s is used without _bucket/_sum/_count" % (where, n))
            used[n] = used.get(n, 0) + 1
        have = set()
        for n in names:
            for lb, _ in m.find(n):
                have.update(lb)
        missing = {x for x in labels if x != "instance"} - have
        t.check(not missing or not have, "%s: %r groups by %s, which no sample of %s has"
                % (where, expr, sorted(missing), sorted(names)))
        if "histogram_quantile" in expr:
            t.check("le" in labels, "%s: histogram_quantile without le in by (...): %r"
                    % (where, expr))
    t.note("the dashboard's %d queries use %d names: %s" % (len(queries), len(used),
                                                             ", ".join(sorted(used))))
    for fam in ("runcell_runs_total", "runcell_run_duration_seconds_bucket",
                "runcell_queue_wait_seconds_bucket", "runcell_queue_depth",
                "runcell_active_runs", "runcell_pool_hits_total", "runcell_pool_misses_total",
                "runcell_setup_duration_seconds_bucket", "runcell_ws_connections",
                "runcell_public_refused_total", "runcell_function_invocations_total",
                "runcell_function_cold_start_seconds_bucket"):
        t.check(fam in used, "the dashboard does not show %s" % fam)


@case("metrics_dashboard.expr_parser")
def expr_parser(t):
    """The name extraction itself, on the shapes the dashboard uses."""
    cases = [
        ('histogram_quantile(0.95, sum by (le, language) (rate(runcell_run_duration_seconds_bucket'
         '{instance=~"$instance",language=~"a|b"}[$__rate_interval])))',
         {"runcell_run_duration_seconds_bucket"}, {"le", "language"}),
        ('sum(rate(runcell_pool_hits_total[5m])) / (sum(rate(runcell_pool_hits_total[5m])) + '
         'sum(rate(runcell_pool_misses_total[5m])))',
         {"runcell_pool_hits_total", "runcell_pool_misses_total"}, set()),
        ("sum without (instance) (runcell_active_runs) * 2", {"runcell_active_runs"},
         {"instance"}),
        ("label_values(runcell_runs_total, language)", {"runcell_runs_total"}, {"language"}),
        ('runcell_function_invocations_total{cold="true", function=~"sum|rate"}',
         {"runcell_function_invocations_total"}, set()),
    ]
    for expr, names, labels in cases:
        got = expr_names(expr)
        t.eq(got, (names, labels), "expr_names(%r)" % expr)
