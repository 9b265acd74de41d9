// codapi's own widget (@antonz/codapi, from web/'s dev dependencies) against runcell's codapi
// dialect, in headless chromium: a course page on another origin (served here on SITE_PORT,
// which runcell's allowed_origins lists) with the markup of docs/PLAYGROUND.md; click Run,
// read the output the widget shows.
//
//   node codapi.js RUNCELL_PORT SITE_PORT
"use strict";
const path = require("path");
const fs = require("fs");
const http = require("http");
const mods = process.env.RUNCELL_WEB_NODE_MODULES;
const req = (m) => require(mods ? path.join(mods, m) : m);
const puppeteer = req("puppeteer-core");
const dist = path.join(mods || "", "@antonz", "codapi", "dist");

const [runcellPort, sitePort] = process.argv.slice(2);
const page = `<!doctype html>
<html><head><meta charset="utf-8"><title>course</title>
<link rel="stylesheet" href="/static/codapi/snippet.css"></head>
<body>
<codapi-settings url="http://127.0.0.1:${runcellPort}/v1"></codapi-settings>
<pre>
msg = "Hello, " + "codapi"
print(msg)
</pre>
<codapi-snippet sandbox="python" editor="basic"></codapi-snippet>
<pre>
#include &lt;stdio.h&gt;
int main(void) { printf("%d\\n", 6 * 7); return 0; }
</pre>
<codapi-snippet sandbox="c" editor="basic"></codapi-snippet>
<script src="/static/codapi/snippet.js"></script>
</body></html>`;

const site = http.createServer((rq, rs) => {
  const files = { "/static/codapi/snippet.js": "text/javascript", "/static/codapi/snippet.css": "text/css" };
  if (rq.url === "/") {
    rs.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    return rs.end(page);
  }
  if (files[rq.url]) {
    rs.writeHead(200, { "content-type": files[rq.url] });
    return rs.end(fs.readFileSync(path.join(dist, path.basename(rq.url))));
  }
  rs.writeHead(404);
  rs.end();
});

async function main() {
  await new Promise((r) => site.listen(+sitePort, "127.0.0.1", r));
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium", headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  let failed = 0;
  try {
    const p = await browser.newPage();
    p.on("console", (m) => { if (m.type() === "error") console.log("console: " + m.text()); });
    await p.goto(`http://127.0.0.1:${sitePort}/`);
    await p.waitForSelector("codapi-snippet codapi-toolbar button", { timeout: 10000 });
    const snippets = await p.$$("codapi-snippet");
    const want = ["Hello, codapi", "42"];
    for (let i = 0; i < snippets.length; i++) {
      const btn = await snippets[i].$("codapi-toolbar button");
      await btn.click();
      const got = await p.waitForFunction((i, w) => {
        const o = document.querySelectorAll("codapi-snippet")[i].querySelector("codapi-output");
        return o && o.textContent.includes(w) ? o.textContent : false;
      }, { timeout: 30000 }, i, want[i]).then((h) => h.jsonValue()).catch(() => null);
      const text = got || await p.evaluate((i) => {
        const o = document.querySelectorAll("codapi-snippet")[i].querySelector("codapi-output");
        return o ? o.textContent : "<no output element>";
      }, i);
      const ok = !!got;
      if (!ok) failed++;
      console.log((ok ? "ok " : "FAIL ") + `codapi widget snippet ${i + 1}: ${JSON.stringify(text.trim().slice(0, 200))}`);
    }
  } finally {
    await browser.close();
    site.close();
  }
  process.exit(failed ? 1 : 0);
}
main().catch((e) => { console.log("FAIL " + (e && e.stack || e)); process.exit(1); });
