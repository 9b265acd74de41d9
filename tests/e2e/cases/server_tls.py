"""runcell serve with TLS: HTTPS and WSS with a certificate from the configuration."""

import http.client
import json
import os
import ssl
import subprocess

import server_util as su
from harness import case



@case("server.tls_https_and_wss", lang="python")
def tls(t):
    d = t.tmpdir()
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    t.check(r.returncode == 0, "openssl could not make a certificate: %r" % r.stderr[-300:])
    os.chmod(key, 0o644)
    cfg = os.path.join(d, "serve.json")
    with open(cfg, "w") as f:
        json.dump({"tls": {"cert": cert, "key": key}}, f)
    ctx = ssl.create_default_context(cafile=cert)
    ctx.check_hostname = False
    with su.Server(t, "--config", cfg) as srv:
        t.contains(srv.stderr_text(), "listening on https://", "the server says it serves https")
        conn = http.client.HTTPSConnection("127.0.0.1", srv.port, context=ctx, timeout=30)
        conn.request("POST", "/api/v1/run", body=json.dumps(
            {"language": "python", "source": "print('over tls')"}))
        resp = conn.getresponse()
        body = json.loads(resp.read())
        t.eq(resp.status, 200, "HTTPS status")
        t.eq(body["run"]["stdout"], "over tls\n", "HTTPS run output")
        # plain HTTP to a TLS port gets nothing useful
        plain = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
        try:
            plain.request("GET", "/healthz")
            status = plain.getresponse().status
        except (OSError, http.client.HTTPException):
            status = None
        t.check(status != 200, "plain HTTP was served on the TLS port")

        async def wss():
            async with su.WS(t, srv, name="wss", ssl=ctx) as ws:
                await ws.run("t", source="print('wss')")
                evs = await ws.done("t", timeout=30)
                return "".join(e["data"] for _, e in evs if e["type"] == "output")
        t.eq(su.run_async(t, wss()), "wss\n", "WSS run output")
