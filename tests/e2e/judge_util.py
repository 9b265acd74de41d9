"""Helpers of the judge cases (cases/judge.py, cases/judge_reuse.py): a tests directory and
`runcell judge --json`. A module of its own: run.py loads each case file under its own name, so
one case file importing another would register that one's cases twice."""

import json


def make_tests(t, tests):
    """tests: [(name, stdin or None, expected or None)] -> a directory of NAME.in / NAME.out."""
    d = t.tmpdir()
    for name, stdin, expected in tests:
        if stdin is not None:
            t.write(d, name + ".in", stdin)
        if expected is not None:
            t.write(d, name + ".out", expected)
    return d


def judge_json(t, args, rc=None, env=None):
    """runcell judge --json ARGS: (the result, its JSON); fails without JSON, or on another rc."""
    r = t.runcell("judge", "--json", *args, env=env, timeout=180)
    try:
        obj = json.loads(r.stdout)
    except ValueError:
        t.fail("judge --json printed no JSON (rc=%r): %r" % (r.rc, r.stdout[:500]))
    if rc is not None:
        t.eq(r.rc, rc, "exit status")
    return r, obj
