#!/usr/bin/python3
"""Where the CPU goes per run through the server: CPU time, not wall time, so it holds on a
busy machine too.

It starts `runcell serve` (every limit and seccomp, `--warm LANG`, max_concurrent = cores) in
a delegated cgroup of its own, sends N runs of a hello world from C clients at once (HTTP, keep
alive), and reads, before and after:
  * the cgroup subtree's CPU time (v1 cpuacct.usage, v2 cpu.stat usage_usec): everything the
    server, its helper, the sandboxes and this script used;
  * /proc/PID/stat of the server (all its threads) and of its helper `runcell-prep` (its own
    time, and its reaped children's: the sandboxes, init and program);
  * this script's own time (the HTTP clients);
  * the CPU time the runs' results report (`run.cpu_ms`: the program and init after the move
    into the leaf, from the leaf's counter);
then the same N programs bare, `xargs -P C` in the same cgroup. Per run, in ms of CPU:

  bare program | runcell total | client | server | helper | sandboxes (of which the program,
  as reported) | the rest (kernel work charged to the cgroup, e.g. softirqs)

Kernel threads (a network namespace's teardown, RCU) are charged to no cgroup: the script
prints the whole machine's busy time per run too, which includes every other tenant's.

  bench/profile_server.py [--lang python] [--runs 1000] [--clients 8] [--perf]

With --perf, `perf record -a -g` runs during runcell's part and the top symbols of runcell's
processes (server, helper, init before its exec) and of the kernel are printed.
"""
import argparse
import http.client
import json
import os
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

from benchlib import ROOT, Server, enter_cgroup, example, in_threads, leave_cgroup

HZ = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid):
    """(own, children's) CPU seconds of PID from /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    f = s[s.rindex(")") + 2:].split()
    # fields 14-17 of stat(5), counted from 1 with pid and comm: here 11-14 from 0 after comm
    return (int(f[11]) + int(f[12])) / HZ, (int(f[13]) + int(f[14])) / HZ


def children(pid):
    out = []
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                out += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return out


def cgroup_cpu(dirs):
    for d in dirs:
        p = os.path.join(d, "cpuacct.usage")
        if os.path.exists(p):
            with open(p) as f:
                return int(f.read()) / 1e9
        p = os.path.join(d, "cpu.stat")
        if os.path.exists(p):
            with open(p) as f:
                for line in f:
                    if line.startswith("usage_usec "):
                        return int(line.split()[1]) / 1e6
    sys.exit("no cgroup CPU counter (cpuacct.usage or cpu.stat) in %s" % dirs)


def machine_busy():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v) - v[3] - v[4]) / HZ  # all but idle and iowait


def self_cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def drive(port, body, runs, clients):
    """RUNS runs from CLIENTS threads; returns the sum of the reported run.cpu_ms."""
    per = [runs // clients + (1 if i < runs % clients else 0) for i in range(clients)]
    cpu = [0.0] * clients

    def client(i):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for _ in range(per[i]):
            c.request("POST", "/api/v1/run", body=body, headers={"Content-Type": "application/json"})
            r = c.getresponse()
            d = json.loads(r.read())
            if r.status != 200 or d["run"]["status"] != "ok":
                raise RuntimeError("run failed: %r" % d)
            cpu[i] += d["run"].get("cpu_ms") or 0
    in_threads(clients, client)
    return sum(cpu)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lang", default="python", choices=("python", "c"))
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "runcell"))
    ap.add_argument("--perf", action="store_true")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (it makes a delegated cgroup for the server)")
    src = example(a.lang)["source"]
    work = tempfile.mkdtemp(prefix="runcell-profile-")
    os.chmod(work, 0o755)
    if a.lang == "python":
        prog = os.path.join(work, "hello.py")
        with open(prog, "w") as f:
            f.write(src)
        bare_cmd = "/usr/bin/python3 " + shlex.quote(prog)
    else:
        with open(os.path.join(work, "hello.c"), "w") as f:
            f.write(src)
        prog = os.path.join(work, "hello")
        subprocess.run(["gcc", "-O2", "-o", prog, os.path.join(work, "hello.c")], check=True)
        bare_cmd = shlex.quote(prog)
    req = {"language": a.lang, "source": src}
    if a.lang == "python":  # the version bare runs (/usr/bin/python3 runs this script too)
        req["version"] = "%d.%d" % sys.version_info[:2]
    body = json.dumps(req)
    cg = "runcell-profile-%d" % os.getpid()
    dirs = enter_cgroup(cg)
    rows = []
    try:
        # bare: the same programs from xargs -P in the same cgroup
        c0, m0, k0 = cgroup_cpu(dirs), machine_busy(), children_cpu()
        subprocess.run("seq %d | xargs -P %d -I{} %s > /dev/null" % (a.runs, a.clients, bare_cmd),
                       shell=True, check=True)
        bare = (cgroup_cpu(dirs) - c0) / a.runs * 1000
        bare_machine = (machine_busy() - m0) / a.runs * 1000
        srv = Server(a.bin, "--warm", a.lang, "--max-concurrent", str(os.cpu_count()),
                     "--queue", "256")
        try:
            drive(srv.port, body, 4 * a.clients, a.clients)  # warm: pool, build cache, page cache
            helpers = [p for p in children(srv.p.pid)]
            if len(helpers) != 1:
                sys.exit("expected one helper process under the server, found %r" % helpers)
            helper = helpers[0]
            perf = None
            if a.perf:
                perf_data = os.path.join(work, "perf.data")
                perf = subprocess.Popen(["perf", "record", "-q", "-a", "-g", "-F", "499", "-o",
                                         perf_data], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
                time.sleep(1)
            s0, h0, c0, m0, me0 = (proc_cpu(srv.p.pid), proc_cpu(helper), cgroup_cpu(dirs),
                                   machine_busy(), self_cpu())
            t0 = time.perf_counter()
            reported = drive(srv.port, body, a.runs, a.clients)
            wall = time.perf_counter() - t0
            s1, h1, c1, m1, me1 = (proc_cpu(srv.p.pid), proc_cpu(helper), cgroup_cpu(dirs),
                                   machine_busy(), self_cpu())
            if perf:
                perf.send_signal(2)
                perf.wait()
        finally:
            srv.stop()
        per = 1000.0 / a.runs
        total = (c1 - c0) * per
        client = (me1 - me0) * per
        server = (s1[0] - s0[0]) * per
        helper_own = (h1[0] - h0[0]) * per
        sandboxes = (h1[1] - h0[1]) * per
        program = reported / a.runs
        rest = total - client - server - helper_own - sandboxes
        rows = [("bare program (xargs -P %d)" % a.clients, bare),
                ("runcell, everything in its cgroup", total),
                ("  the HTTP clients (this script)", client),
                ("  runcell serve (event loop)", server),
                ("  runcell-prep (the helper, own)", helper_own),
                ("  sandboxes (init and program, reaped by the helper)", sandboxes),
                ("    of which the run stage's reported cpu_ms", program),
                ("  the rest (kernel work charged to the cgroup)", rest),
                ("runcell total less the client, over bare", total - client - bare)]
        print("%s hello, %d runs from %d clients, %s, %d cores, kernel %s" % (
            a.lang, a.runs, a.clients, time.strftime("%Y-%m-%d %H:%M"), os.cpu_count(),
            os.uname().release))
        print()
        print("| CPU per run | ms |")
        print("|---|---|")
        for name, v in rows:
            print("| %s | %.2f |" % (name, v))
        print()
        print("runcell: %.1f runs/s wall (%.1f s); machine busy per run: bare %.2f ms, runcell "
              "%.2f ms (every tenant's, kernel threads included)" % (
                  a.runs / wall, wall, bare_machine, (m1 - m0) * per))
        if perf:
            for title, args in (
                    ("runcell's own processes (server, helper, init before exec)",
                     ["--comm", "runcell,runcell-prep,runcell-init"]),
                    ("kernel threads", ["--comm", "kworker/u4:0,kworker/u4:1,kworker/u4:2,"
                                        "kworker/0:1,kworker/1:1,rcu_exp_gp_kthr,rcu_preempt,"
                                        "ksoftirqd/0,ksoftirqd/1"])):
                print("\nperf, %s, top symbols (self):" % title)
                r = subprocess.run(["perf", "report", "-i", perf_data, "--stdio", "--no-children",
                                    "--sort", "comm,sym", "-g", "none", "--percent-limit", "0.7"]
                                   + args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                   text=True)
                print("\n".join(l for l in r.stdout.splitlines() if l and not l.startswith("#")))
    finally:
        leave_cgroup(cg, dirs)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
