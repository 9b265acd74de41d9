#!/usr/bin/python3
"""End-to-end test runner for the runcell CLI.

Usage: run.py [--bin PATH] [--filter SUBSTR] [-j N] [--timeout S]
              [--strict] [--keep] [--list] [--times] [--langs LANG,...]

Prints one line per case (PASS name / FAIL name: reason / SKIP name: reason),
failure details indented below a FAIL line, and ends with the line
"N passed, N failed, N skipped".  Exit status 0 iff nothing failed.
Cases run on -j workers in the order they were registered, so the cases of one
language (tests/e2e/cases/lang.py) run side by side and share its unpacked root
filesystem.  --times adds "# time GROUP: ..." lines before the last line: per
group of cases (the name up to its first '.', e.g. a language), the number of
cases, the sum of their run times and the wall time from the first one's start
to the last one's end.  --langs leaves out the cases of the other languages (a
case is a language's when it needs its root filesystem or is named LANG.*).
"""

import argparse
import concurrent.futures
import glob
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True

import harness  # noqa: E402
from harness import Fail, Skip, Ctx  # noqa: E402


class Suite:
    def __init__(self, opts):
        self.bin = os.path.abspath(opts.bin) if opts.bin else None
        self.timeout = opts.timeout
        self.keep = opts.keep
        self.strict = opts.strict
        self.global_args = []
        self.tmproot = tempfile.mkdtemp(prefix="runcell-e2e-")
        os.chmod(self.tmproot, 0o755)
        self.langinfo = None      # name -> entry of `languages --json`
        self.langinfo_error = None
        self.unprivileged = os.geteuid() != 0

    def probe_languages(self):
        try:
            p = subprocess.run([self.bin, "languages", "--json"],
                               stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=60)
        except (OSError, subprocess.TimeoutExpired) as e:
            self.langinfo_error = "runcell languages --json: %s" % e
            return
        if p.returncode != 0:
            self.langinfo_error = ("runcell languages --json exited %d: %s"
                                   % (p.returncode, p.stderr.decode(errors="replace")[:300]))
            return
        try:
            arr = json.loads(p.stdout)
            self.langinfo = {e["name"]: e for e in arr}
        except (ValueError, TypeError, KeyError) as e:
            self.langinfo_error = "runcell languages --json: bad JSON: %s" % e

    def lang_unavailable(self, lang):
        """Reason to skip cases of lang, or None."""
        if self.langinfo is None:
            return None  # cannot tell: run the case and let it fail if broken
        e = self.langinfo.get(lang)
        if e is None:
            return None  # missing from the list: the case must fail, not skip
        if e.get("available") is False:
            return "root filesystem for %s not available (rootfs %s)" % (
                lang, e.get("rootfs"))
        return None

    def cleanup(self):
        if not self.keep:
            shutil.rmtree(self.tmproot, ignore_errors=True)


def load_cases():
    for path in sorted(glob.glob(os.path.join(HERE, "cases", "*.py"))):
        name = "e2e_cases_" + os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    names = set()
    for c in harness.REGISTRY:
        if c.name in names:
            raise SystemExit("duplicate case name: %s" % c.name)
        names.add(c.name)
    return list(harness.REGISTRY)


def one_line(s):
    s = " ".join(str(s).split())
    return s if len(s) <= 400 else s[:400] + "..."


def run_case(suite, c):
    """Returns (verdict, reason, details)."""
    if c.lang:
        why = suite.lang_unavailable(c.lang)
        if why:
            if suite.strict:
                return "FAIL", why + " (--strict)", ""
            return "SKIP", why, ""
    t = Ctx(suite, c)
    t0 = time.monotonic()
    c.started = t0
    try:
        c.fn(t)
        verdict, reason = "PASS", ""
    except Skip as e:
        verdict, reason = "SKIP", str(e)
    except Fail as e:
        verdict, reason = "FAIL", str(e)
    except Exception as e:  # a bug in the case itself is a failure too
        verdict, reason = "FAIL", "exception %s: %s\n%s" % (
            type(e).__name__, e, traceback.format_exc())
    finally:
        t.cleanup()
        c.ended = time.monotonic()
    details = ""
    if verdict == "FAIL":
        parts = []
        for n in t.notes:
            parts.append("note: " + n)
        # the last few commands are the relevant ones
        shown = t.results[-3:]
        if len(t.results) > len(shown):
            parts.append("(%d earlier commands not shown)" % (len(t.results) - len(shown)))
        for r in shown:
            parts.append(r.describe())
        parts.append("case took %.1fs" % (time.monotonic() - t0))
        details = "\n".join(parts)
    return verdict, reason, details


def case_lang(c):
    """The language a case belongs to: the one it needs, or LANG of a LANG.* name; or None."""
    if c.lang:
        return c.lang
    head = c.name.split(".", 1)[0]
    return head if head in harness.LANGS else None


def print_times(cases):
    groups = {}
    for c in cases:
        if getattr(c, "ended", None) is not None:
            groups.setdefault(c.name.split(".", 1)[0], []).append(c)
    for g in sorted(groups, key=lambda g: -sum(c.ended - c.started for c in groups[g])):
        cs = groups[g]
        print("# time %s: %d cases, %.1f s of case time, %.1f s wall" % (
            g, len(cs), sum(c.ended - c.started for c in cs),
            max(c.ended for c in cs) - min(c.started for c in cs)))


def main():
    ap = argparse.ArgumentParser(description="runcell end-to-end tests")
    ap.add_argument("--bin", default=os.environ.get("RUNCELL_BIN"),
                    help="runcell binary (default: $RUNCELL_BIN, else "
                         "build/runcell of this checkout)")
    ap.add_argument("--filter", action="append", default=[],
                    help="run only cases whose name contains SUBSTR (repeatable: any)")
    ap.add_argument("-j", type=int, default=2, dest="jobs", help="parallel workers")
    ap.add_argument("--timeout", type=float,
                    default=float(os.environ.get("RUNCELL_E2E_TIMEOUT", "180")),
                    help="timeout in seconds for each runcell command")
    ap.add_argument("--strict", action="store_true",
                    default=os.environ.get("RUNCELL_E2E_STRICT") == "1",
                    help="an unavailable root filesystem is a failure, not a skip")
    ap.add_argument("--keep", action="store_true", help="keep temporary files")
    ap.add_argument("--list", action="store_true", help="list case names and exit")
    ap.add_argument("--langs", help="only these languages' cases (comma-separated), and the "
                    "cases of no language")
    ap.add_argument("--times", action="store_true",
                    help="print the time taken per group of cases (a language, ...)")
    opts = ap.parse_args()
    if not opts.bin:
        opts.bin = os.path.join(os.path.dirname(os.path.dirname(HERE)), "build", "runcell")

    cases = load_cases()
    if opts.filter:
        cases = [c for c in cases if any(f in c.name for f in opts.filter)]
    if opts.langs:
        keep = set(opts.langs.split(","))
        unknown = keep - set(harness.LANGS)
        if unknown:
            print("FAIL setup: --langs: no toolchain for %s" % ", ".join(sorted(unknown)))
            print("0 passed, 1 failed, 0 skipped")
            return 1
        cases = [c for c in cases if case_lang(c) in keep or case_lang(c) is None]
    if opts.list:
        for c in cases:
            print(c.name)
        return 0

    if not (os.path.isfile(opts.bin) and os.access(opts.bin, os.X_OK)):
        print("FAIL setup: runcell binary %s does not exist or is not executable"
              % opts.bin)
        print("0 passed, 1 failed, 0 skipped")
        return 1

    suite = Suite(opts)
    suite.probe_languages()
    print("# runcell e2e: bin=%s uid=%d cases=%d jobs=%d" % (
        suite.bin, os.geteuid(), len(cases), opts.jobs), flush=True)
    if suite.langinfo_error:
        print("# warning: %s" % one_line(suite.langinfo_error), flush=True)

    lock = threading.Lock()
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}

    def report(c, verdict, reason, details):
        with lock:
            counts[verdict] += 1
            if verdict == "PASS":
                print("PASS %s" % c.name)
            else:
                print("%s %s: %s" % (verdict, c.name, one_line(reason) or "(no reason)"))
            if details:
                print(harness.indent(details, "    "))
            sys.stdout.flush()

    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, opts.jobs)) as ex:
            futs = {ex.submit(run_case, suite, c): c for c in cases}
            for f in concurrent.futures.as_completed(futs):
                report(futs[f], *f.result())
    finally:
        suite.cleanup()
    if opts.times:
        print_times(cases)
    print("%d passed, %d failed, %d skipped" % (counts["PASS"], counts["FAIL"],
                                                 counts["SKIP"]))
    sys.stdout.flush()
    return 0 if counts["FAIL"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
