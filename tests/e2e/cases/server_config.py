"""runcell serve: per-token run limits and directories from the config file."""

import concurrent.futures
import os
import time

import server_util as su
from harness import case

SLEEPY = {"language": "python", "source": "import time\ntime.sleep(1.5)\nprint('slept')\n"}


@case("server.token_max_runs", lang="python")
def token_max_runs(t):
    cfg = su.write_config(t, {"tokens": [{"token": "small", "max_runs": 1}, "big"],
                              "max_concurrent": 4, "queue": 8})
    with su.Server(t, "--config", cfg) as srv:
        def post(token):
            return su.http_req(t, srv, "POST", "/api/v1/run", body=SLEEPY,
                               headers={"Authorization": "Bearer " + token})
        with concurrent.futures.ThreadPoolExecutor(4) as ex:
            first = ex.submit(post, "small")
            time.sleep(0.5)  # the first run is going
            second = ex.submit(post, "small")  # over this token's limit
            other = ex.submit(post, "big")     # another token is not held back
            r1, r2, r3 = first.result(), second.result(), other.result()
        t.eq(r1.status, 200, "first run of the limited token")
        t.eq(r1.json["run"]["stdout"], "slept\n", "first run's output")
        t.eq(r2.status, 429, "second run of the limited token while the first goes")
        t.eq(r2.json["error"]["code"], "busy", "error code")
        t.eq(r3.status, 200, "a run of the unlimited token at the same time")
        # once the first is over, the limited token may run again
        r4 = post("small")
        t.eq(r4.status, 200, "the limited token after its run ended")


@case("server.config_state_dir", lang="python")
def config_state_dir(t):
    state = t.tmpdir()
    os.chmod(state, 0o755)
    cfg = su.write_config(t, {"state_dir": state})
    with su.Server(t, "--config", cfg) as srv:
        r = su.http_req(t, srv, "POST", "/api/v1/run",
                        body={"language": "python", "source": "print(1)"})
        t.eq(r.status, 200, "run with the config's state directory")
    unpacked = os.listdir(os.path.join(state, "rootfs"))
    t.check(any(len(n) == 64 for n in unpacked),
            "the python root filesystem was unpacked into the config's state_dir: %r" % unpacked)
    bad = su.write_config(t, {"state_dir": "relative/dir"})
    r = t.runcell(*t.suite.global_args, "serve", "--config", bad)
    t.check(r.rc != 0 and "state_dir" in r.stderr, "a relative state_dir is refused: %r" % r.stderr)
