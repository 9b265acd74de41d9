#!/usr/bin/python3
"""docs/LANGUAGES.md's table: every language runcell offers, its version, root filesystem,
compile and run commands, hello-world latency through the server and the size of its root
filesystem.

  versions     `runcell languages --json` (read from each root filesystem's manifest)
  commands     toolchains/LANG.json ({sources} and {entry} shown as the toolchain's source file,
               {options} (a client's compile options) left out)
  latency      `runcell serve --listen 127.0.0.1:0` in a delegated cgroup; the toolchain's
               examples.hello POSTed to /api/v1/run on one kept connection, once to warm up
               (unpacking the root filesystem, preparing a sandbox), then --runs times one
               after the other, 50 ms apart (a client's pace: the server prepares the next
               sandbox after each answer); the median of the client's round trips, checked
               against the example's stdout each time. A compiled language's includes its
               compile stage.
  sizes        the root filesystem's tarball in the cache (RUNCELL_ROOTFS_DIR, default
               /var/cache/runcell/rootfs) and its unpacked copy in the state directory
               (RUNCELL_STATE_DIR, default /var/lib/runcell), `du` of the disk it takes.

Run as root. Without --write the document is printed; with it, the section between
<!-- languages:begin --> and <!-- languages:end --> of docs/LANGUAGES.md is replaced (the
rest of the file is kept). Languages whose root filesystem is not built are listed without
latency. Exit status 1 if a hello world failed (the table says which).

  bench/languages.py [--runs 20] [--bin build/runcell] [--only LANG,...] [--write]
"""
import argparse
import http.client
import json
import os
import platform
import statistics
import subprocess
import sys
import time

from benchlib import ROOT, Server, enter_cgroup, example, leave_cgroup, pct, toolchain

BEGIN, END = "<!-- languages:begin -->", "<!-- languages:end -->"
DOC = os.path.join(ROOT, "docs", "LANGUAGES.md")
INTRO = """# Languages

Every language runcell offers: two data files each (`rootfs/NAME.packages`, `toolchains/LANG.json`;
README, "Adding a language"). The table below is generated; text outside it is kept when it is
regenerated.
"""


def command(argv, tc):
    src = tc.get("source_file", "")
    words = [src if w in ("{sources}", "{entry}") else w for w in argv if w != "{options}"]
    text = " ".join(w if w and not any(c in w for c in " '\"$") else json.dumps(w) for w in words)
    return "`%s`" % text.replace("|", "\\|")


def du_bytes(path):
    r = subprocess.run(["du", "-s", "--block-size=1", path], stdout=subprocess.PIPE, text=True,
                       check=True)
    return int(r.stdout.split()[0])


def mb(n):
    return "%.0f" % (n / 1e6) if n is not None else "-"


def unpacked_path(rootfs_dir, state_dir, rootfs):
    """Where runcell unpacked ROOTFS (<state>/rootfs/<sha256 of the tarball>), or None."""
    try:
        with open(os.path.join(rootfs_dir, rootfs + ".tar.zst.sha256")) as f:
            sha = f.read().split()[0]
    except OSError:
        return None
    path = os.path.join(state_dir, "rootfs", sha)
    return path if os.path.isdir(path) else None


def latency(port, lang, runs):
    """Median and p95 ms of POST /api/v1/run with the hello example, or (None, why)."""
    ex = example(lang)
    body = json.dumps({"language": lang, "source": ex["source"]})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    times = []
    for i in range(runs + 1):
        t0 = time.perf_counter()
        conn.request("POST", "/api/v1/run", body=body, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        data = r.read()
        dt = (time.perf_counter() - t0) * 1000.0
        try:
            ans = json.loads(data)
            run = ans.get("run") or {}
            ok = r.status == 200 and run.get("status") == "ok" and run.get("stdout") == ex["stdout"]
        except (ValueError, AttributeError):
            ans, ok = data[:300], False
        if not ok:
            conn.close()
            return None, "HTTP %d: %s" % (r.status, json.dumps(ans)[:400])
        if i:  # the first is the warm-up
            times.append(dt)
        time.sleep(0.05)
    conn.close()
    return (statistics.median(times), pct(times, 95)), None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "runcell"))
    ap.add_argument("--only", help="comma-separated languages (default: all)")
    ap.add_argument("--write", action="store_true", help="update docs/LANGUAGES.md")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (it makes a delegated cgroup for the server)")
    rootfs_dir = os.environ.get("RUNCELL_ROOTFS_DIR", "/var/cache/runcell/rootfs")
    state_dir = os.environ.get("RUNCELL_STATE_DIR", "/var/lib/runcell")

    p = subprocess.run([a.bin, "languages", "--json"], stdout=subprocess.PIPE, check=True)
    langs = json.loads(p.stdout)
    if a.only:
        want = set(a.only.split(","))
        unknown = want - {e["name"] for e in langs}
        if unknown:
            sys.exit("unknown languages: %s" % ", ".join(sorted(unknown)))
        langs = [e for e in langs if e["name"] in want]

    results, failures = {}, []
    cg = "runcell-bench-languages-%d" % os.getpid()
    cg_dirs = enter_cgroup(cg)
    try:
        # the latency of a hello world with its compile: no build cache
        os.environ["RUNCELL_BUILD_CACHE_MB"] = "0"
        srv = Server(a.bin, "--max-concurrent", "1")
        try:
            for e in langs:
                if not e["available"]:
                    continue
                print("# %s ..." % e["name"], file=sys.stderr, flush=True)
                res, why = latency(srv.port, e["name"], a.runs)
                results[e["name"]] = res
                if why:
                    failures.append("%s: %s" % (e["name"], why))
                    print("# %s: hello world failed: %s" % (e["name"], why), file=sys.stderr)
        finally:
            srv.stop()
    finally:
        leave_cgroup(cg, cg_dirs)

    sizes = {}
    for e in langs:
        rfs = e["rootfs"]
        if rfs in sizes:
            continue
        tar = os.path.join(rootfs_dir, rfs + ".tar.zst")
        unp = unpacked_path(rootfs_dir, state_dir, rfs)
        sizes[rfs] = (os.path.getsize(tar) if os.path.exists(tar) else None,
                      du_bytes(unp) if unp else None)

    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                            stdout=subprocess.PIPE, text=True).stdout.strip() or "?"
    load = os.getloadavg()
    lines = [
        "Generated by `bench/languages.py --runs %d --write` on %s (runcell %s), as root on %d "
        "cores, kernel %s, load average %.1f at the end. %d languages." % (
            a.runs, time.strftime("%Y-%m-%d"), commit, os.cpu_count(), platform.release(),
            load[0], len(langs)),
        "",
        "- **version**: `runcell languages --json`, read from the root filesystem's manifest "
        "(`version_package` of the toolchain).",
        "- **compile**, **run**: the toolchain's commands (`{sources}` and `{entry}` shown as its "
        "source file); the program's arguments follow the run command.",
        "- **hello ms**: `runcell serve` on 127.0.0.1 in a delegated cgroup, `--max-concurrent 1`; "
        "the toolchain's hello world (`examples.hello`) POSTed to `/api/v1/run` on one kept "
        "connection, once to warm up, then %d times 50 ms apart; the median (and p95) of the "
        "client's round trip, each answer checked against the example's output. A compiled "
        "language's time includes its compile stage. The machine was not quiet: compare rows "
        "of one run." % a.runs,
        "- **tarball**, **unpacked**: the root filesystem's `NAME.tar.zst` in the cache and "
        "its unpacked copy (`du`), in MB; languages sharing a root filesystem share them.",
        "",
        "| language | name | aliases | version | root filesystem | compile | run | hello ms "
        "(median) | p95 | tarball MB | unpacked MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for e in sorted(langs, key=lambda e: e["name"]):
        tc = toolchain(e["name"])
        res = results.get(e["name"], "n/a")
        if res is None:
            med, p95 = "**fails**", "-"
        elif res == "n/a":
            med, p95 = "not built", "-"
        else:
            med, p95 = "%.0f" % res[0], "%.0f" % res[1]
        tar, unp = sizes[e["rootfs"]]
        lines.append("| %s | `%s` | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            tc.get("display_name") or e["name"], e["name"],
            ", ".join("`%s`" % x for x in e["aliases"]) or "-",
            e["version"] if e["available"] else "(not built)", e["rootfs"],
            command(tc["compile"], tc) if tc.get("compile") else "-", command(tc["run"], tc),
            med, p95, mb(tar), mb(unp)))
    lines += ["", "| root filesystem | languages | tarball MB | unpacked MB |", "|---|---|---|---|"]
    total_tar = total_unp = 0
    for rfs in sorted(sizes):
        tar, unp = sizes[rfs]
        total_tar += tar or 0
        total_unp += unp or 0
        names = sorted(e["name"] for e in langs if e["rootfs"] == rfs)
        lines.append("| %s | %s | %s | %s |" % (rfs, ", ".join(names), mb(tar), mb(unp)))
    lines.append("| all | %d | %s | %s |" % (len(langs), mb(total_tar), mb(total_unp)))
    if failures:
        lines += ["", "Hello worlds that failed:", ""] + ["- %s" % f for f in failures]
    text = "\n".join(lines)
    if not a.write:
        print(text)
    else:
        doc = open(DOC).read() if os.path.exists(DOC) else INTRO
        section = "%s\n%s\n%s" % (BEGIN, text, END)
        if BEGIN in doc and END in doc:
            doc = doc[:doc.index(BEGIN)] + section + doc[doc.index(END) + len(END):]
        else:
            doc = doc.rstrip("\n") + "\n\n" + section + "\n"
        with open(DOC, "w") as f:
            f.write(doc)
        print("wrote", DOC)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
