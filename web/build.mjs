// Build the playground into OUT (default ../build/web): esbuild bundles src/app.js (code split,
// modes and xterm.js loaded on demand) and src/style.css with hashed names into OUT/assets, the
// pages get those names, and every file is also written gzipped (NAME.gz) for clients that take
// gzip. The hello-world examples come from the toolchain files (TOOLCHAINS, default
// ../toolchains).
import * as esbuild from "esbuild";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(process.argv[2] || path.join(here, "..", "build", "web"));
const toolchains = path.resolve(process.argv[3] || path.join(here, "..", "toolchains"));

function examples() {
  const ex = {};
  for (const f of fs.readdirSync(toolchains).sort()) {
    if (!f.endsWith(".json") || f.includes("@")) continue;
    const t = JSON.parse(fs.readFileSync(path.join(toolchains, f), "utf8"));
    const hello = t.examples && t.examples.hello;
    ex[t.name] = {
      display_name: t.display_name || t.name,
      source_file: t.source_file || "main.txt",
      hello: hello ? hello.source : "",
    };
  }
  return ex;
}

const examplesPlugin = {
  name: "runcell-examples",
  setup(b) {
    b.onResolve({ filter: /^runcell:examples$/ }, () => ({ path: "examples", namespace: "runcell" }));
    b.onLoad({ filter: /.*/, namespace: "runcell" }, () => ({
      contents: JSON.stringify(examples()), loader: "json",
    }));
  },
};

fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(path.join(out, "assets"), { recursive: true });
const result = await esbuild.build({
  entryPoints: { app: path.join(here, "src/app.js"), style: path.join(here, "src/style.css") },
  bundle: true, splitting: true, format: "esm", minify: true, target: ["es2020"],
  outdir: path.join(out, "assets"), entryNames: "[name]-[hash]", chunkNames: "[name]-[hash]",
  assetNames: "[name]-[hash]", metafile: true, legalComments: "eof",
  plugins: [examplesPlugin], logLevel: "warning",
});
const names = {};
let preload = "";
for (const [file, meta] of Object.entries(result.metafile.outputs)) {
  if (!meta.entryPoint) continue;
  // the chunks the app imports statically: fetched at once, not after the app is parsed
  if (meta.entryPoint.endsWith("src/app.js"))
    for (const im of meta.imports || [])
      if (im.kind === "import-statement" && !preload.includes(path.basename(im.path)))
      preload += `<link rel="modulepreload" href="assets/${path.basename(im.path)}">\n`;
  const ext = path.extname(file);
  const key = path.basename(meta.entryPoint).replace(/\.(js|css)$/, "") + ext;
  names[key] = "assets/" + path.basename(file);
}
for (const page of ["index.html", "embed.html"]) {
  let html = fs.readFileSync(path.join(here, page), "utf8");
  html = html.replace("{{preload}}", preload);
  html = html.replace(/\{\{([a-z.]+)\}\}/g, (_, k) => {
    if (!names[k]) throw new Error(`${page}: no output for ${k}`);
    // pages are at the playground's base, which may be "/" or "/play/": relative links
    return names[k];
  });
  fs.writeFileSync(path.join(out, page), html);
}
let total = 0, totalGz = 0;
const walk = (d) => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) =>
  e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)]);
for (const f of walk(out)) {
  if (f.endsWith(".gz")) continue;
  const data = fs.readFileSync(f);
  const gz = zlib.gzipSync(data, { level: 9 });
  total += data.length;
  if (gz.length < data.length) {
    fs.writeFileSync(f + ".gz", gz);
    totalGz += gz.length;
  } else totalGz += data.length;
}
console.error(`build-web: ${out}: ${total} bytes, ${totalGz} gzipped`);
