"""The playground (docs/PLAYGROUND.md): the page at /, /embed and /assets/* served from the
built web directory (build/web beside the binary) with its security headers, gzip and caching;
then the page in a real browser (tests/e2e/playground/test.js: Debian's chromium, headless,
driven by puppeteer-core), which takes the screenshots of docs/playground/ (written there
with RUNCELL_UPDATE_SCREENSHOTS=1)."""

import gzip
import hashlib
import os
import re
import shutil
import subprocess

import harness
from harness import case, shorten
from server_util import Server, http_req, write_config

REPO = os.path.normpath(os.path.join(harness.E2E_DIR, "..", ".."))
TEST_JS = os.path.join(harness.E2E_DIR, "playground", "test.js")


def web_dir(t):
    d = os.environ.get("RUNCELL_WEB_DIR") or os.path.join(os.path.dirname(t.suite.bin), "web")
    if not os.path.isfile(os.path.join(d, "index.html")):
        t.skip("the playground is not built (scripts/build-web): no %s/index.html" % d)
    return d


def web_node_modules():
    """puppeteer-core: RUNCELL_WEB_NODE_MODULES, web/node_modules, or scripts/build-web's cache."""
    env = os.environ.get("RUNCELL_WEB_NODE_MODULES")
    if env:
        return env
    local = os.path.join(REPO, "web", "node_modules")
    if os.path.isdir(os.path.join(local, "puppeteer-core")):
        return os.path.realpath(local)
    lock = os.path.join(REPO, "web", "package-lock.json")
    cache = os.environ.get("RUNCELL_NODE_CACHE", "/var/cache/runcell/node")
    try:
        with open(lock, "rb") as f:
            return os.path.join(cache, "web-" + hashlib.sha256(f.read()).hexdigest(),
                                "node_modules")
    except OSError:
        return None


def asset_names(d):
    return sorted(os.listdir(os.path.join(d, "assets")))


@case("playground.serving")
def serving(t):
    """GET / and /embed: the pages with CSP (no inline script, no eval), nosniff,
    Referrer-Policy, frame-ancestors 'none' and X-Frame-Options on / but a framable /embed;
    assets with their types, gzip when asked, immutable caching of hashed names, ETag and 304;
    nothing outside the assets directory; POST / still reaches the dialects there."""
    d = web_dir(t)
    with Server(t) as srv:
        r = http_req(t, srv, "GET", "/")
        t.eq(r.status, 200, "GET / status")
        t.check(r.headers.get("content-type", "").startswith("text/html"), "GET / type: %r" % r.headers)
        csp = r.headers.get("content-security-policy", "")
        for want in ("default-src 'self'", "script-src 'self'", "frame-ancestors 'none'",
                     "object-src 'none'"):
            t.contains(csp, want, "CSP of /")
        t.not_contains(csp, "unsafe-eval", "CSP of /")
        t.check("'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";")[0],
                "inline scripts are not allowed: %r" % csp)
        t.eq(r.headers.get("x-content-type-options"), "nosniff", "nosniff on /")
        t.eq(r.headers.get("referrer-policy"), "no-referrer", "Referrer-Policy on /")
        t.eq(r.headers.get("x-frame-options"), "DENY", "X-Frame-Options on /")
        html = r.body.decode()
        t.check("<script>" not in html and not re.search(r"<script(?![^>]*\bsrc=)", html),
                "no inline script in the page")
        etag = r.headers.get("etag")
        t.check(etag, "an ETag on /")
        r = http_req(t, srv, "GET", "/", headers={"If-None-Match": etag})
        t.eq(r.status, 304, "GET / with its ETag")

        r = http_req(t, srv, "GET", "/embed?language=python&code=print(1)")
        t.eq(r.status, 200, "GET /embed status")
        t.contains(r.headers.get("content-security-policy", ""), "frame-ancestors *", "CSP of /embed")
        t.eq(r.headers.get("x-frame-options"), None, "no X-Frame-Options on /embed")

        js = [n for n in asset_names(d) if re.match(r"app-[A-Z0-9]{8,}\.js$", n)]
        t.check(js, "no app-HASH.js in %s/assets" % d)
        r = http_req(t, srv, "GET", "/assets/" + js[0])
        t.eq(r.status, 200, "GET the app bundle")
        t.check(r.headers.get("content-type", "").startswith("text/javascript"), "JS type: %r" % r.headers)
        t.eq(r.headers.get("content-encoding"), None, "no gzip when not asked")
        t.contains(r.headers.get("cache-control", ""), "immutable", "a hashed asset's Cache-Control")
        plain = r.body
        r = http_req(t, srv, "GET", "/assets/" + js[0], headers={"Accept-Encoding": "gzip, br"})
        t.eq(r.headers.get("content-encoding"), "gzip", "gzip when asked")
        t.eq(gzip.decompress(r.body), plain, "the gzipped bundle is the bundle")
        t.check(len(r.body) < len(plain) / 2, "gzip: %d of %d bytes" % (len(r.body), len(plain)))
        css = [n for n in asset_names(d) if re.match(r"style-[A-Z0-9]{8,}\.css$", n)]
        r = http_req(t, srv, "GET", "/assets/" + css[0])
        t.check(r.headers.get("content-type", "").startswith("text/css"), "CSS type: %r" % r.headers)

        for bad in ("/assets/..%2Findex.html", "/assets/.hidden", "/assets/nope.js",
                    "/assets/" + js[0] + ".gz", "/assets/a/b.js"):
            r = http_req(t, srv, "GET", bad)
            t.eq(r.status, 404, "GET %s" % bad)
        # the POST / dialects (microservice, pivot) are still there
        r = http_req(t, srv, "POST", "/", body={"nothing": 1})
        t.check(r.status in (400, 404) and r.status != 405, "POST / goes to a dialect: %r" % r)


@case("playground.config")
def config(t):
    """"dialects": {"playground": {...}}: moved to another path, frame_ancestors, a dir of its
    own, and switched off."""
    d = web_dir(t)
    cfg = write_config(t, {"dialects": {"playground": {
        "path": "/play", "frame_ancestors": "https://course.example.org", "dir": d}}})
    with Server(t, "--config", cfg) as srv:
        t.eq(http_req(t, srv, "GET", "/play").status, 200, "GET /play")
        r = http_req(t, srv, "GET", "/play/embed")
        t.contains(r.headers.get("content-security-policy", ""),
                   "frame-ancestors https://course.example.org", "configured frame_ancestors")
        t.check(http_req(t, srv, "GET", "/").status in (404, 405), "nothing at / any more")
    # tokens with public mode: the page, its assets and the languages open without a token,
    # the rest of the API still closed
    js = [n for n in asset_names(d) if n.endswith(".js")][0]
    cfg = write_config(t, {"tokens": ["s3cret-token"], "public": {
        "routes": ["/", "/embed", "/assets/*", "/api/v1/ws", "/api/v1/languages"]}},
        name="public.json")
    with Server(t, "--config", cfg) as srv:
        for path in ("/", "/embed", "/assets/" + js, "/api/v1/languages"):
            t.eq(http_req(t, srv, "GET", path).status, 200, "public mode: GET %s" % path)
        t.eq(http_req(t, srv, "POST", "/api/v1/run", body={"language": "python", "source": "1"}).status,
             401, "public mode: POST /api/v1/run without a token")
    cfg = write_config(t, {"dialects": {"playground": {"enabled": False}}}, name="off.json")
    with Server(t, "--config", cfg) as srv:
        t.check(http_req(t, srv, "GET", "/").status in (404, 405), "switched off: GET /")
    cfg = write_config(t, {"dialects": {"playground": {"dir": "relative"}}}, name="bad.json")
    r = t.runcell("serve", "--config", cfg, "--listen", "127.0.0.1:0", timeout=20)
    t.check(r.rc != 0 and "absolute" in r.stderr, "a relative dir stops the server: %s"
            % shorten(r.stderr, 300))


@case("playground.browser", lang="python")
def browser(t):
    """The page in headless chromium (tests/e2e/playground/test.js): python, c and javascript
    typed and run, stdin and args, stderr apart, a program's HTML shown as text with no script
    run, images the program writes shown under the output (an SVG holding a script as an
    <img> that runs nothing, a symlink listed as skipped, a matplotlib plot in python-sci when
    it is built), compile error and traceback lines marked, Stop, dark theme, terminal mode with
    input() and a resize, a share link, /embed; first-load weight and time to interactive."""
    web_dir(t)
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if not chromium:
        t.skip("no chromium (apt-get install chromium)")
    if not shutil.which("node"):
        t.skip("no node")
    mods = web_node_modules()
    if not mods or not os.path.isdir(os.path.join(mods, "puppeteer-core")):
        t.skip("no puppeteer-core (scripts/build-web installs it): %s" % mods)
    # The screenshots of docs/playground/ are rewritten only when asked
    # (RUNCELL_UPDATE_SCREENSHOTS=1): a test run leaves the checkout as it found it.
    shots = os.path.join(t.tmpdir(), "shots")
    if os.environ.get("RUNCELL_UPDATE_SCREENSHOTS") == "1":
        shots = os.path.join(REPO, "docs", "playground")
    with Server(t) as srv:
        langs = http_req(t, srv, "GET", "/api/v1/languages").json or []
        ready = {l["name"] for l in langs if l.get("ready")}
        for need in ("python", "c", "javascript"):
            if need not in ready:
                t.skip("%s is not built" % need)
        env = dict(os.environ, RUNCELL_WEB_NODE_MODULES=mods, CHROMIUM=chromium,
                   HOME=os.environ.get("HOME") or t.tmpdir())
        p = subprocess.run(["node", TEST_JS, str(srv.port), shots], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
        out = p.stdout.decode("utf-8", "replace")
        for line in out.splitlines():
            if line.startswith("{"):
                t.note("measured: " + line)
            elif line.startswith("skip "):
                t.note(line)
        fails = [l for l in out.splitlines() if l.startswith("FAIL")]
        if "python-sci" in ready and "skip python-sci" in out:
            fails.append("FAIL python-sci is built but its matplotlib plot was not run")
        t.check(p.returncode == 0 and not fails,
                "browser test failed (rc %d): %s" % (p.returncode, shorten("\n".join(fails) or out, 3000)))


@case("playground.codapi_widget", lang="python")
def codapi_widget(t):
    """codapi's own widget (@antonz/codapi 0.19.10, tests/e2e/playground/codapi.js) with the
    markup of docs/PLAYGROUND.md on a course page of another origin listed in allowed_origins:
    a Python and a C snippet run through runcell's /v1 and show their output."""
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if not chromium or not shutil.which("node"):
        t.skip("no chromium or node")
    mods = web_node_modules()
    if not mods or not os.path.isdir(os.path.join(mods, "@antonz", "codapi")):
        t.skip("no @antonz/codapi (scripts/build-web installs it): %s" % mods)
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        site_port = s.getsockname()[1]
    cfg = write_config(t, {"allowed_origins": ["http://127.0.0.1:%d" % site_port]})
    with Server(t, "--config", cfg) as srv:
        ready = {l["name"] for l in (http_req(t, srv, "GET", "/api/v1/languages").json or [])
                 if l.get("ready")}
        if not {"python", "c"} <= ready:
            t.skip("python or c is not built")
        env = dict(os.environ, RUNCELL_WEB_NODE_MODULES=mods, CHROMIUM=chromium,
                   HOME=os.environ.get("HOME") or t.tmpdir())
        p = subprocess.run(["node", os.path.join(harness.E2E_DIR, "playground", "codapi.js"),
                            str(srv.port), str(site_port)], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=180)
        out = p.stdout.decode("utf-8", "replace")
        t.check(p.returncode == 0 and "FAIL" not in out, "codapi widget: %s" % shorten(out, 2000))
