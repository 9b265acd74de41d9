"""A running server picks up new and rebuilt languages, and root's unpacked root filesystems
are shared (issue 12).

- languages_reload.sighup: a toolchain added to the server's toolchains directory is not
  seen until SIGHUP (the periodic rescan is off), then it is listed and runs;
- languages_reload.rescan: with `rescan_interval_s` 1 a toolchain added appears without any
  signal, and one removed goes;
- languages_reload.not_ready: a language whose root filesystem is not built is listed with
  `"ready": false` and a run of it is refused `unavailable` (503) with a message naming it,
  never `internal_error`; once its tarball is there it is ready and runs;
- languages_reload.rebuilt_tarball: a rebuilt tarball (another sha256, another manifest) is
  picked up by the rescan: the listed version changes, runs see the new tree, and a run that
  was going during the reload finishes on the old one;
- languages_reload.shared_root_copy: a runcell of another user (rootless mode) whose state
  directory has nothing unpacked uses root's unpacked copy of the same tarball in
  /var/lib/runcell and unpacks nothing of its own; as root, the case first makes sure root's
  copy exists, shows that a copy below a directory others may write (/tmp) is not trusted (an
  own copy is unpacked instead) and that a root server uses root's copy when told to.

Each case runs its own server on copies of the bash toolchain (root filesystem "base").
"""

import json
import os
import shutil
import signal
import stat
import subprocess
import threading
import time

import server_util as su
from harness import Fail, case

SHARED = "/var/lib/runcell"
HELLO = "Hello from bash\n"


def toolchains_src(t):
    d = os.environ.get("RUNCELL_TOOLCHAINS") or os.path.join(
        os.path.dirname(os.path.dirname(t.suite.bin)), "toolchains")
    if not os.path.isfile(os.path.join(d, "bash.json")):
        raise Fail("no bash.json in the toolchains directory %s" % d)
    return d


def rootfs_src():
    return os.environ.get("RUNCELL_ROOTFS_DIR") or "/var/cache/runcell/rootfs"


def bash_toolchain(t, **changes):
    with open(os.path.join(toolchains_src(t), "bash.json")) as f:
        tc = json.load(f)
    tc.update(changes)
    return tc


def write_toolchain(t, d, tc, name=None):
    """Write tc as NAME.json atomically (a reload never sees half a file)."""
    name = name or tc["name"]
    tmp = os.path.join(d, ".%s.tmp" % name)
    with open(tmp, "w") as f:
        json.dump(tc, f)
    os.chmod(tmp, 0o644)
    os.rename(tmp, os.path.join(d, name + ".json"))


def server(t, *args, toolchains=None, rootfs=None, state=None, env=None, rescan=0):
    """su.Server with its own directories, rescan interval and environment."""
    cfg = su.write_config(t, {"rescan_interval_s": rescan})
    srv = su.Server(t, "--config", cfg, *args)
    glob = []
    if toolchains:
        glob += ["--toolchains", toolchains]
    if rootfs:
        glob += ["--rootfs-dir", rootfs]
    if state:
        glob += ["--state-dir", state]
    pre = ["/usr/bin/env"] + ["%s=%s" % kv for kv in (env or {}).items()] if env else []
    srv.cmd = pre + [srv.cmd[0]] + glob + srv.cmd[1:]
    return srv


def languages(t, srv):
    r = su.http_req(t, srv, "GET", "/api/v1/languages")
    t.eq(r.status, 200, "GET /api/v1/languages status")
    if not isinstance(r.json, list):
        raise Fail("GET /api/v1/languages: not a JSON array: %r" % r)
    return {e["name"]: e for e in r.json}


def wait_languages(t, srv, pred, what, timeout=15.0):
    deadline = time.monotonic() + timeout
    while True:
        langs = languages(t, srv)
        if pred(langs):
            return langs
        if time.monotonic() > deadline:
            raise Fail("%s: not within %.0fs; languages: %s" % (what, timeout, sorted(langs)))
        time.sleep(0.3)


def run(t, srv, language, source):
    return su.http_req(t, srv, "POST", "/api/v1/run",
                       body={"language": language, "source": source})


def check_ran(t, r, stdout, what):
    t.eq(r.status, 200, "%s: HTTP status" % what)
    t.eq(r.json["run"]["status"], "ok", "%s: run status" % what)
    t.eq(r.json["run"]["stdout"], stdout, "%s: stdout" % what)


def only_bash(t):
    d = t.tmpdir()
    write_toolchain(t, d, bash_toolchain(t))
    return d


def reload_lines(srv):
    return [ln for ln in srv.stderr_text().splitlines() if "languages reloaded" in ln]


@case("languages_reload.sighup", lang="bash")
def sighup(t):
    tcd = only_bash(t)
    with server(t, toolchains=tcd, rescan=0) as srv:
        t.eq(sorted(languages(t, srv)), ["bash"], "languages at start")
        write_toolchain(t, tcd, bash_toolchain(t, name="reloadsh", aliases=["rsh"],
                                               display_name="Bash (reloaded)"))
        time.sleep(1.5)
        t.eq(sorted(languages(t, srv)), ["bash"],
             "languages without SIGHUP (rescan_interval_s 0: no reload)")
        r = run(t, srv, "reloadsh", "echo x")
        t.eq((r.status, r.json["error"]["code"]), (404, "unknown_language"),
             "a run of the new language before SIGHUP")
        os.kill(srv.proc.pid, signal.SIGHUP)
        langs = wait_languages(t, srv, lambda l: "reloadsh" in l, "the toolchain after SIGHUP")
        t.eq(langs["reloadsh"]["aliases"], ["rsh"], "the new language's aliases")
        t.eq(langs["reloadsh"]["ready"], True, "the new language is ready (base is built)")
        check_ran(t, run(t, srv, "rsh", 'echo "Hello from bash"'), HELLO,
                  "the new language, by its alias")
        check_ran(t, run(t, srv, "bash", 'echo "Hello from bash"'), HELLO, "bash still runs")
        t.check(srv.alive(), "the server survived SIGHUP")
        t.check(reload_lines(srv), "the server said it reloaded: %s" % srv.stderr_text()[-500:])


@case("languages_reload.rescan", lang="bash")
def rescan(t):
    tcd = only_bash(t)
    with server(t, toolchains=tcd, rescan=1) as srv:
        t.eq(sorted(languages(t, srv)), ["bash"], "languages at start")
        time.sleep(2.5)
        t.eq(reload_lines(srv), [], "no reload while nothing changed")
        write_toolchain(t, tcd, bash_toolchain(t, name="rescansh", aliases=[]))
        wait_languages(t, srv, lambda l: "rescansh" in l, "the added toolchain (rescan)")
        check_ran(t, run(t, srv, "rescansh", 'echo "Hello from bash"'), HELLO, "the new one")
        os.unlink(os.path.join(tcd, "rescansh.json"))
        wait_languages(t, srv, lambda l: "rescansh" not in l, "the removed toolchain gone")
        r = run(t, srv, "rescansh", "echo x")
        t.eq((r.status, r.json["error"]["code"]), (404, "unknown_language"),
             "a run of the removed language")
        # a toolchain file that does not load changes nothing: the last good set stays
        t.write(tcd, "broken.json", "{not json")
        time.sleep(2.5)
        t.eq(sorted(languages(t, srv)), ["bash"], "languages after a broken file")
        t.contains(srv.stderr_text(), "the previous ones stay", "the reload error on stderr")
        check_ran(t, run(t, srv, "bash", 'echo "Hello from bash"'), HELLO, "bash still runs")


@case("languages_reload.not_ready", lang="bash")
def not_ready(t):
    src = rootfs_src()
    tcd = only_bash(t)
    rfs = t.tmpdir()
    state = t.tmpdir()
    for ext in (".tar.zst", ".tar.zst.sha256", ".manifest"):
        os.symlink(os.path.join(src, "base" + ext), os.path.join(rfs, "base" + ext))
    write_toolchain(t, tcd, bash_toolchain(t, name="later", aliases=[], rootfs="later"))
    with server(t, toolchains=tcd, rootfs=rfs, state=state, rescan=1) as srv:
        langs = languages(t, srv)
        t.eq(langs["bash"]["ready"], True, "bash (its rootfs built) is ready")
        t.eq(langs["later"]["ready"], False, "a language whose rootfs is not built")
        t.eq(langs["later"]["rootfs"], "later", "its root filesystem's name")
        t.eq(langs["later"]["version"], None, "no version without a manifest")
        r = run(t, srv, "later", 'echo "Hello from bash"')
        t.eq(r.status, 503, "a run of a language not ready: HTTP status")
        t.eq(r.json["error"]["code"], "unavailable", "its error code")
        t.contains(r.json["error"]["message"], "not ready", "its message")
        t.contains(r.json["error"]["message"], "'later'", "its message names the language")
        ws = su.WS(t, srv)

        async def ws_run():
            async with ws:
                await ws.run("w1", language="later", source="echo x")
                return await ws.error(rid="w1")
        ev = su.run_async(t, ws_run())
        t.eq(ev.get("code"), "unavailable", "the WebSocket error for it")
        # its root filesystem is built now (the same tarball as base): ready, and it runs
        for ext in (".manifest", ".tar.zst", ".tar.zst.sha256"):
            os.symlink(os.path.join(src, "base" + ext), os.path.join(rfs, "later" + ext))
        langs = wait_languages(t, srv, lambda l: l["later"]["ready"], "later ready")
        t.eq(langs["later"]["version"], langs["bash"]["version"], "its version, from its manifest")
        check_ran(t, run(t, srv, "later", 'echo "Hello from bash"'), HELLO, "later, now ready")


def rebuild_tarball(t, src_tar, dest_tar, marker):
    """dest_tar: src_tar plus ./etc/runcell-rebuilt holding marker (a new sha256)."""
    work = t.tmpdir()
    plain = os.path.join(work, "r.tar")
    with open(plain, "wb") as f:
        subprocess.run(["zstd", "-q", "-d", "-c", src_tar], stdout=f, check=True)
    t.write(os.path.join(work, "add", "etc"), "runcell-rebuilt", marker)
    subprocess.run(["tar", "--append", "-f", plain, "-C", os.path.join(work, "add"),
                    "./etc/runcell-rebuilt"], check=True)
    subprocess.run(["zstd", "-q", "-1", "-T0", "-f", plain, "-o", dest_tar], check=True)
    os.unlink(plain)


def sha256_of(path):
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@case("languages_reload.rebuilt_tarball", lang="bash")
def rebuilt_tarball(t):
    src = rootfs_src()
    tcd = only_bash(t)
    rfs = t.tmpdir()
    state = t.tmpdir()
    for ext in (".tar.zst", ".tar.zst.sha256", ".manifest"):
        os.symlink(os.path.join(src, "base" + ext), os.path.join(rfs, "base" + ext))
    # the rebuilt one, made before the server starts (making it takes a few seconds)
    staged = t.tmpdir()
    rebuild_tarball(t, os.path.join(src, "base.tar.zst"), os.path.join(staged, "base.tar.zst"),
                    "rebuilt\n")
    new_sha = sha256_of(os.path.join(staged, "base.tar.zst"))
    with open(os.path.join(src, "base.manifest")) as f:
        manifest = f.read()
    new_manifest = "".join("bash 9.9.9-1\n" if ln.startswith("bash ") else ln + "\n"
                           for ln in manifest.splitlines())
    t.check("bash 9.9.9-1" in new_manifest, "base.manifest lists bash: %r" % manifest[:300])
    with server(t, toolchains=tcd, rootfs=rfs, state=state, rescan=1) as srv:
        old_version = languages(t, srv)["bash"]["version"]
        t.check(old_version and old_version != "9.9.9", "bash's version at start: %r"
                % old_version)
        r = run(t, srv, "bash", "cat /etc/runcell-rebuilt 2>&1 || echo absent")
        t.eq(r.json["run"]["stdout"].splitlines()[-1:], ["absent"], "the old tree")
        # a run going across the reload
        going = {}

        def long_run():
            going["r"] = run(t, srv, "bash", "sleep 4; cat /etc/runcell-rebuilt 2>/dev/null; "
                             "echo finished")
        th = threading.Thread(target=long_run)
        th.start()
        time.sleep(1.0)
        # build-rootfs's order: tarball, .sha256, manifest, each renamed into place
        for name, data in (("base.tar.zst", None), ("base.tar.zst.sha256", new_sha + "\n"),
                           ("base.manifest", new_manifest)):
            tmp = os.path.join(rfs, "." + name + ".new")
            if data is None:
                shutil.copyfile(os.path.join(staged, name), tmp)
            else:
                with open(tmp, "w") as f:
                    f.write(data)
            os.chmod(tmp, 0o644)
            os.rename(tmp, os.path.join(rfs, name))
        langs = wait_languages(t, srv, lambda l: l["bash"]["version"] == "9.9.9",
                               "the rebuilt tarball's version")
        t.eq(langs["bash"]["ready"], True, "bash ready after the rebuild")
        th.join(60)
        t.check("r" in going, "the run going across the reload answered")
        check_ran(t, going["r"], "finished\n", "the run going across the reload (old tree)")
        check_ran(t, run(t, srv, "bash", "cat /etc/runcell-rebuilt"), "rebuilt\n",
                  "a run after the reload (new tree)")
        r = run(t, srv, "bash", 'echo "Hello from bash"')
        check_ran(t, r, HELLO, "hello after the reload")
        t.eq(r.json["version"], "9.9.9", "the run reports the new version")
    t.check(os.path.isdir(os.path.join(state, "rootfs", new_sha)),
            "the rebuilt tarball was unpacked under its sha256: %r"
            % os.listdir(os.path.join(state, "rootfs")))


def own_trees(state):
    d = os.path.join(state, "rootfs")
    return sorted(n for n in os.listdir(d) if not n.startswith(".")) if os.path.isdir(d) else []


@case("languages_reload.shared_root_copy", lang="bash")
def shared_root_copy(t):
    src = rootfs_src()
    with open(os.path.join(src, "base.tar.zst.sha256")) as f:
        sha = f.read().strip()
    copy = os.path.join(SHARED, "rootfs", sha)
    tcd = only_bash(t)
    if os.geteuid() == 0:
        # root's own copy of base, in its default state directory
        r = t.runcell("--toolchains", tcd, "run", "--lang", "bash", "-",
                      stdin_data=b'echo "Hello from bash"\n')
        t.rc0(r)
        t.eq(r.stdout, HELLO, "root's run with its default state directory")
        st = os.stat(copy)
        t.check(stat.S_ISDIR(st.st_mode) and st.st_uid == 0, "root's copy %s" % copy)
        # a complete copy made by root, but below /tmp (writable by everyone): not trusted, an
        # own copy is unpacked instead
        fake = t.tmpdir()
        r = t.runcell("--toolchains", tcd, "--state-dir", fake, "run", "--lang", "bash", "-",
                      stdin_data=b'echo "Hello from bash"\n')
        t.rc0(r)
        t.eq(own_trees(fake), [sha], "root's copy below /tmp")
        state = t.tmpdir()
        r = t.runcell("--toolchains", tcd, "--state-dir", state, "run", "--lang", "bash", "-",
                      stdin_data=b'echo "Hello from bash"\n',
                      env={"RUNCELL_SHARED_STATE_DIR": fake})
        t.rc0(r)
        t.eq(own_trees(state), [sha], "unpacked its own copy rather than one under %s" % fake)
        # root's copy itself is used when named
        state = t.tmpdir()
        with server(t, toolchains=tcd, state=state,
                    env={"RUNCELL_SHARED_STATE_DIR": SHARED}) as srv:
            check_ran(t, run(t, srv, "bash", 'echo "Hello from bash"'), HELLO, "root's copy")
        t.eq(own_trees(state), [], "nothing unpacked in the fresh state directory")
        return
    # rootless: root's copy must be there (the root suite, or any root runcell, made it)
    try:
        st = os.stat(copy)
    except OSError as e:
        raise Fail("root's unpacked copy of base is not there (%s): run this case as root first "
                   "(tests/run-e2e --mode root --filter languages_reload.shared)" % e)
    t.check(st.st_uid == 0 and not st.st_mode & 0o022, "root's copy is root's alone: %o uid %d"
            % (st.st_mode, st.st_uid))
    state = t.tmpdir()
    with server(t, toolchains=tcd, state=state, env={"RUNCELL_SHARED_STATE_DIR": SHARED}) as srv:
        check_ran(t, run(t, srv, "bash", 'echo "Hello from bash"'), HELLO,
                  "a rootless run on root's copy")
        r = run(t, srv, "bash", "touch /usr/x 2>&1; echo rc=$?")
        t.contains(r.json["run"]["stdout"], "rc=1", "root's copy is read-only in the sandbox")
    t.eq(own_trees(state), [], "nothing unpacked in the rootless server's own state directory")
    # without RUNCELL_SHARED_STATE_DIR, a state directory given is self-contained
    state = t.tmpdir()
    r = t.runcell("--toolchains", tcd, "--state-dir", state, "run", "--lang", "bash", "-",
                  stdin_data=b'echo "Hello from bash"\n')
    t.rc0(r)
    t.eq(own_trees(state), [sha], "a state directory given unpacks its own copy")
