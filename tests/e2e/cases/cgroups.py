"""Where runcell makes its cgroups (docs/CGROUPS.md): a first run as root with no wrapper, a
doctor that changes nothing, and many runcells sharing one delegated subtree with nothing left."""

import concurrent.futures
import json
import os
import re
import subprocess

from harness import case, example, example_file, own_cgroup_dirs


def hello_py():
    """The python toolchain's hello example, as a file (main.py)."""
    return example_file("python")

CGROUP_ENFORCED = "memory (no swap), CPU time and rate, processes (cgroups)"


def hierarchy_roots():
    """The mount points of the hierarchies runcell would use from here (v2, or v1 per
    hierarchy), found the way runcell finds them: own_cgroup_dirs less the own path."""
    paths = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, ctls, path = line.rstrip("\n").split(":", 2)
            paths[ctls] = path
    roots = []
    for d in own_cgroup_dirs():
        for ctls, path in paths.items():
            if path != "/" and d.endswith(path):
                root = d[: -len(path)]
                if os.path.ismount(root) and root not in roots:
                    roots.append(root)
                    break
        else:
            if os.path.ismount(d) and d not in roots:
                roots.append(d)
    return roots


def leaves_of(dirs, pids):
    """The rc-<pid>-<n> directories of the given runcell pids, anywhere beneath dirs."""
    found = []
    pat = re.compile(r"^rc-(\d+)-\d+$")
    for d in dirs:
        m = pat.match(os.path.basename(d))
        if m and int(m.group(1)) in pids and os.path.isdir(d):
            found.append(d)
        for top, subdirs, _ in os.walk(d):
            for s in subdirs:
                m = pat.match(s)
                if m and int(m.group(1)) in pids:
                    found.append(os.path.join(top, s))
    return found


def in_root_cgroups(roots, argv):
    """sh that moves itself to the root cgroup of each hierarchy, then execs argv."""
    script = 'for r in $ROOTS; do echo $$ > "$r/cgroup.procs" || exit 97; done; exec "$@"'
    return ["/bin/sh", "-c", script, "sh"] + argv, {"ROOTS": " ".join(roots)}


@case("cgroups.root_first_run_without_wrapper")
def root_first_run(t):
    # As root at a hierarchy root, runcell makes (or reuses) a subtree of its own,
    # <root>/runcell, says so in one line and runs; doctor there only looks.
    if os.geteuid() != 0:
        t.skip("only root may start at a hierarchy root; the root run checks this")
    roots = hierarchy_roots()
    t.check(roots, "found no cgroup hierarchy root for this process's cgroups")
    subtrees = [os.path.join(r, "runcell") for r in roots]
    for s in subtrees:  # start clean when no other runcell uses it
        try:
            os.rmdir(s)
        except OSError:
            pass
    existed = {s: os.path.isdir(s) for s in subtrees}

    cmd, env = in_root_cgroups(roots, [t.suite.bin, "doctor", "--json"])
    r = t.exec(cmd, env=env)
    t.eq(r.rc, 0, "doctor exit status at the root")
    d = r.json()
    t.eq(d["cgroup_limits"], True, "doctor: cgroup limits possible as root at the root")
    line = d["enforced"][CGROUP_ENFORCED]
    for s in subtrees:
        t.contains(line, s, "doctor names the subtree it would use")
        t.eq(os.path.isdir(s), existed[s], "doctor made or removed nothing (%s)" % s)

    cmd, env = in_root_cgroups(roots, [t.suite.bin, "run", "--lang", "python", hello_py()])
    p = subprocess.Popen(cmd, env=dict(os.environ, **env), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.communicate(timeout=120)
    out, err = out.decode(), err.decode()
    t.eq(p.returncode, 0, "run exit status as root at the root (stderr %r)" % err)
    t.eq(out, example("python")["stdout"], "program output")
    said = [ln for ln in err.splitlines() if "sandboxes go beneath" in ln]
    t.eq(len(said), 1, "one line says where the sandboxes go (stderr: %r)" % err)
    for s in subtrees:
        t.contains(said[0], s, "the line names the subtree")
        t.check(os.path.isdir(s), "%s was made or reused" % s)
    # sh exec'd runcell: its pid is runcell's, which names its leaves
    t.eq(leaves_of(subtrees, {p.pid}), [], "leaves of the ended runcell in the subtree")


@case("cgroups.doctor_changes_nothing")
def doctor_changes_nothing(t):
    # doctor says where runcell would go; it makes, moves and enables nothing.
    dirs = own_cgroup_dirs()

    def snapshot():
        s = {}
        for d in dirs:
            for top, subdirs, _ in os.walk(d):
                # the leaves of runs going in other cases come and go: not walked into
                subdirs[:] = [x for x in subdirs if not re.match(r"^rc-\d+-\d+$", x)]
                for name in ("cgroup.subtree_control",):
                    p = os.path.join(top, name)
                    try:
                        s[p] = open(p).read()
                    except FileNotFoundError:
                        pass
                s[top] = sorted(subdirs)
        return s

    before = snapshot()
    r = t.runcell("doctor", "--json")
    t.eq(r.rc, 0, "doctor exit status")
    d = r.json()
    t.eq(d["cgroup_limits"], True, "doctor: limits possible here")
    after = snapshot()
    t.eq(after, before, "cgroup directories and subtree_control after doctor")


@case("cgroups.concurrent_runs_share_and_leave_nothing")
def concurrent_runs(t):
    # Four runcells and a doctor started at once from one cgroup (the test runner's, like a
    # shell's): all succeed, and afterwards no leaf of theirs is left.
    procs = []
    for _ in range(4):
        procs.append(subprocess.Popen([t.suite.bin, "run", "--lang", "python", hello_py()],
                                      stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE))
    procs.append(subprocess.Popen([t.suite.bin, "doctor", "--json"], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    pids = {p.pid for p in procs}
    outs = []
    with concurrent.futures.ThreadPoolExecutor(len(procs)) as ex:
        for p, (out, err) in zip(procs, ex.map(lambda p: p.communicate(timeout=120), procs)):
            outs.append((p.returncode, out.decode(), err.decode()))
    for i, (rc, out, err) in enumerate(outs[:4]):
        t.eq(rc, 0, "run %d exit status (stderr %r)" % (i, err))
        t.eq(out, example("python")["stdout"], "run %d output" % i)
    rc, out, err = outs[4]
    t.eq(rc, 0, "doctor exit status (stderr %r)" % err)
    t.eq(json.loads(out)["cgroup_limits"], True, "doctor: limits possible")
    dirs = own_cgroup_dirs()
    if len(dirs) == 1:  # v2: leaves may be made beside this cgroup, in its delegated parent
        parent = os.path.dirname(dirs[0])
        dirs += [os.path.join(parent, x) for x in os.listdir(parent)
                 if re.match(r"^rc-\d+-\d+$", x)]
    t.eq(leaves_of(dirs, pids), [], "leaves of the ended runcells")
