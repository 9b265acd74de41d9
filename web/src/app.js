// runcell's playground: an editor, a run over the native WebSocket (/api/v1/ws), output as
// text (never HTML), a terminal mode in xterm.js, share links in the URL fragment.
import { EditorState, Compartment, StateField, StateEffect, RangeSet } from "@codemirror/state";
import {
  EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter,
  drawSelection, Decoration, gutter, GutterMarker,
} from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import {
  syntaxHighlighting, defaultHighlightStyle, indentOnInput, bracketMatching,
} from "@codemirror/language";
import { oneDark } from "@codemirror/theme-one-dark";
import examples from "runcell:examples";
import { loadMode } from "./modes.js";
import { parseDiagnostics } from "./diagnostics.js";

const $ = (id) => document.getElementById(id);
const embed = document.body.classList.contains("embed");
const query = new URLSearchParams(location.search);

// ------------------------------------------------------------------ state

const st = {
  languages: [],     // from /api/v1/languages
  lang: null,        // its name
  files: [],         // [{name, content}]
  active: 0,
  runId: 0,
  current: null,     // the run going: {id, tty}
  ws: null,
  wsReady: null,
  term: null, fit: null,
  theme: "light",
};

// ------------------------------------------------------------------ editor

const langConf = new Compartment();
const themeConf = new Compartment();
const setMarks = StateEffect.define();

class ErrMarker extends GutterMarker {
  constructor(msg) { super(); this.msg = msg; }
  toDOM() {
    const s = document.createElement("span");
    s.className = "cm-err-marker";
    s.textContent = "\u25cf";
    s.title = this.msg;
    return s;
  }
}

// Diagnostics of the active file: line decorations and gutter markers.
const marksField = StateField.define({
  create: () => ({ lines: Decoration.none, gutter: RangeSet.empty }),
  update(v, tr) {
    for (const e of tr.effects) if (e.is(setMarks)) return e.value;
    if (tr.docChanged) return { lines: v.lines.map(tr.changes), gutter: v.gutter.map(tr.changes) };
    return v;
  },
  provide: (f) => EditorView.decorations.from(f, (v) => v.lines),
});
const errGutter = gutter({
  class: "cm-err-gutter",
  markers: (view) => view.state.field(marksField).gutter,
});

function marksFor(doc, diags) {
  const lines = [], gut = [];
  const seen = new Set();
  for (const d of diags) {
    if (d.line < 1 || d.line > doc.lines || seen.has(d.line)) continue;
    seen.add(d.line);
    const l = doc.line(d.line);
    lines.push(Decoration.line({ class: "cm-err-line", attributes: { title: d.message } }).range(l.from));
    gut.push(new ErrMarker(d.message).range(l.from));
  }
  return { lines: Decoration.set(lines, true), gutter: RangeSet.of(gut, true) };
}

let diagnostics = []; // [{file, line, message}]

function showMarks() {
  const f = st.files[st.active];
  const mine = diagnostics.filter((d) => d.file === f.name);
  view.dispatch({ effects: setMarks.of(marksFor(view.state.doc, mine)) });
}

const view = new EditorView({
  parent: $("editor"),
  state: EditorState.create({
    doc: "",
    extensions: [
      lineNumbers(), errGutter, highlightActiveLineGutter(), history(), drawSelection(),
      indentOnInput(), bracketMatching(), highlightActiveLine(),
      syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
      keymap.of([
        { key: "Mod-Enter", run: () => { run(); return true; } },
        ...defaultKeymap, ...historyKeymap, indentWithTab,
      ]),
      langConf.of([]), themeConf.of([]), marksField,
      EditorView.updateListener.of((u) => {
        if (u.docChanged && st.files[st.active]) st.files[st.active].content = u.state.doc.toString();
      }),
    ],
  }),
});

function loadFile(i) {
  st.active = i;
  view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: st.files[i].content } });
  renderTabs();
  showMarks();
}

// ------------------------------------------------------------------ tabs

function renderTabs() {
  const bar = $("tabs");
  if (!bar) return;
  bar.replaceChildren();
  st.files.forEach((f, i) => {
    const t = document.createElement("button");
    t.className = "tab" + (i === st.active ? " active" : "");
    t.textContent = f.name;
    t.dataset.index = i;
    t.addEventListener("click", () => loadFile(i));
    if (i > 0) {
      const x = document.createElement("span");
      x.className = "tab-close";
      x.textContent = "\u00d7";
      x.title = "Remove " + f.name;
      x.addEventListener("click", (e) => {
        e.stopPropagation();
        st.files.splice(i, 1);
        loadFile(Math.min(st.active, st.files.length - 1));
      });
      t.append(x);
    }
    bar.append(t);
  });
}

function addFile() {
  const input = $("new-file");
  const name = input.value.trim();
  if (!/^[A-Za-z0-9._+@$-]+$/.test(name) || /^[-@$]/.test(name) || st.files.some((f) => f.name === name)) {
    input.classList.add("bad");
    return;
  }
  input.classList.remove("bad");
  input.value = "";
  st.files.push({ name, content: "" });
  loadFile(st.files.length - 1);
}

// ------------------------------------------------------------------ languages

function langInfo(name) {
  return st.languages.find((l) => l.name === name) || { name };
}

function sourceFile(name) {
  const ex = examples[name];
  return (ex && ex.source_file) || "main.txt";
}

async function setLanguage(name, files) {
  st.lang = name;
  if ($("language")) $("language").value = name;
  const ex = examples[name];
  st.files = files || [{ name: sourceFile(name), content: ex ? ex.hello : "" }];
  diagnostics = [];
  loadFile(0);
  // highlighting comes when its chunk is there; the page is usable before
  loadMode(name).then((mode) => {
    if (st.lang === name) view.dispatch({ effects: langConf.reconfigure(mode) });
  });
}

async function loadLanguages() {
  try {
    const r = await fetch(base() + "api/v1/languages", { headers: { accept: "application/json" } });
    if (r.ok) st.languages = await r.json();
  } catch (e) {
    setStatus("cannot load the languages: " + e.message, "bad");
  }
  if (!st.languages.length)
    st.languages = Object.keys(examples).sort().map((name) => ({ name, ready: true }));
  const sel = $("language");
  if (sel) {
    sel.replaceChildren();
    for (const l of st.languages) {
      const o = document.createElement("option");
      o.value = l.name;
      const ex = examples[l.name];
      o.textContent = (ex && ex.display_name ? ex.display_name : l.name) +
        (l.version ? " " + l.version : "") + (l.ready === false ? " (not built)" : "");
      o.disabled = l.ready === false;
      sel.append(o);
    }
  }
}

// The API's root: the page is served at the playground's base, the API at /api/v1.
function base() {
  return location.origin + "/";
}

// ------------------------------------------------------------------ output

const out = $("output");

function clearOutput() {
  out.replaceChildren();
  if ($("files")) $("files").replaceChildren();
  $("verdict").textContent = "";
  $("verdict").className = "";
}

function appendOut(text, cls) {
  // textContent only: program output is never read as HTML.
  const last = out.lastChild;
  if (last && last.className === cls) last.textContent += text;
  else {
    const s = document.createElement("span");
    s.className = cls;
    s.textContent = text;
    out.append(s);
  }
  out.scrollTop = out.scrollHeight;
}

function setStatus(text, cls) {
  const v = $("verdict");
  v.textContent = text;
  v.className = cls || "";
}

function decode(ev) {
  if (ev.encoding !== "base64") return ev.data;
  const bin = atob(ev.data);
  const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

// ------------------------------------------------------------------ images back

// Every run asks for the images it leaves in /work (docs/protocol.md, "Files back"): these
// extensions in any letter case, in /work and one directory down (16 patterns, the most a run
// takes). The run stage's exit event brings them as base64.
const IMAGE_TYPES = {
  png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg", gif: "image/gif",
  svg: "image/svg+xml", webp: "image/webp", bmp: "image/bmp", avif: "image/avif",
};
const anyCase = (ext) => ext.replace(/[a-z]/g, (c) => "[" + c + c.toUpperCase() + "]");
const IMAGE_OUTPUTS = Object.keys(IMAGE_TYPES).flatMap((e) => ["*." + anyCase(e), "*/*." + anyCase(e)]);

function imageType(name) {
  const m = /\.([A-Za-z0-9]+)$/.exec(name);
  return m ? IMAGE_TYPES[m[1].toLowerCase()] : undefined;
}

function sizeText(n) {
  if (typeof n !== "number") return "";
  if (n < 1024) return n + " B";
  if (n < 1024 * 1024) return Math.round(n / 102.4) / 10 + " KB";
  return Math.round(n / 104857.6) / 10 + " MB";
}

// Each image as an <img> whose source is a data: URL of its bytes, typed by its extension. An
// SVG goes in an <img> too, never into the page as markup: an image runs no script and loads
// nothing. Names and reasons are text (textContent), as the output is.
function showFiles(files, truncated) {
  const box = $("files");
  if (!box) return;
  box.replaceChildren();
  const skipped = [];
  for (const f of files || []) {
    const name = typeof f.name === "string" ? f.name : "?";
    const type = imageType(name);
    if (f.skipped || typeof f.content !== "string" || !type) {
      skipped.push(name + ": " + (f.skipped || "not an image").replace(/_/g, " ") +
        (typeof f.size === "number" ? " (" + sizeText(f.size) + ")" : ""));
      continue;
    }
    const fig = document.createElement("figure");
    fig.className = "file-image";
    const img = document.createElement("img");
    img.alt = name;
    img.title = name + " \u00b7 " + sizeText(f.size);
    img.src = "data:" + type + ";base64," + f.content;
    const cap = document.createElement("figcaption");
    cap.textContent = name;
    img.addEventListener("error", () => {
      fig.classList.add("broken");
      cap.textContent = name + " (not a valid " + type + ")";
    });
    fig.append(img, cap);
    box.append(fig);
  }
  if (skipped.length || truncated) {
    const ul = document.createElement("ul");
    ul.className = "files-skipped";
    for (const t of skipped) {
      const li = document.createElement("li");
      li.textContent = t;
      ul.append(li);
    }
    if (truncated && !skipped.length) {
      const li = document.createElement("li");
      li.textContent = "more files matched than come back";
      ul.append(li);
    }
    box.append(ul);
  }
}

// ------------------------------------------------------------------ WebSocket

function connect() {
  if (st.ws && st.ws.readyState <= 1) return st.wsReady;
  const url = base().replace(/^http/, "ws") + "api/v1/ws";
  const ws = new WebSocket(url);
  st.ws = ws;
  st.wsReady = new Promise((resolve, reject) => {
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error("cannot connect to " + url));
  });
  ws.onmessage = (m) => onMessage(JSON.parse(m.data));
  ws.onclose = () => {
    if (st.current) {
      setStatus("connection closed", "bad");
      finish();
    }
  };
  return st.wsReady;
}

function send(msg) {
  if (st.ws && st.ws.readyState === 1) st.ws.send(JSON.stringify(msg));
}

let stderrByStage = { compile: "", run: "" };

function onMessage(m) {
  const cur = st.current;
  if (!cur || m.id !== cur.id) return;
  switch (m.type) {
    case "queued":
      setStatus(m.position ? "queued (" + m.position + ")" : "running\u2026", "busy");
      break;
    case "stage":
      cur.stage = m.stage;
      if (m.stage === "compile") setStatus("compiling\u2026", "busy");
      else setStatus("running\u2026", "busy");
      break;
    case "output": {
      const text = decode(m);
      if (m.stream === "tty") st.term.write(text);
      else if (cur.tty) st.term.write(text.replace(/\r?\n/g, "\r\n"));
      else appendOut(text, "out-" + m.stream);
      if (m.stream === "stderr") stderrByStage[m.stage] += text;
      if (m.stream === "tty" && m.stage === "run") stderrByStage.run += text;
      break;
    }
    case "exit":
      cur.exits.push(m);
      if (m.stage === "run" && Array.isArray(m.files)) showFiles(m.files, m.files_truncated);
      break;
    case "error":
      setStatus(m.code + ": " + m.message, "bad");
      finish();
      break;
    case "done":
      showVerdict(cur);
      finish();
      break;
  }
}

function showVerdict(cur) {
  const last = cur.exits[cur.exits.length - 1];
  if (!last) return setStatus("no result", "bad");
  const parts = [last.status.replace(/_/g, " ")];
  if (last.exit_code !== null && last.exit_code !== undefined) parts.push("exit code " + last.exit_code);
  if (last.signal) parts.push("signal " + last.signal);
  parts.push((last.wall_ms ?? 0) + " ms", (last.cpu_ms ?? 0) + " ms CPU",
    Math.round((last.memory_kb ?? 0) / 1024 * 10) / 10 + " MB");
  if (last.stage === "compile") parts.unshift("compile:");
  setStatus(parts.join(" \u00b7 "), last.status === "ok" ? "good" : "bad");
  const names = st.files.map((f) => f.name);
  diagnostics = parseDiagnostics(stderrByStage.compile + "\n" + stderrByStage.run, names);
  showMarks();
  renderDiagList();
}

function renderDiagList() {
  const list = $("diagnostics");
  if (!list) return;
  list.replaceChildren();
  for (const d of diagnostics) {
    const li = document.createElement("li");
    const a = document.createElement("button");
    a.className = "diag";
    a.textContent = d.file + ":" + d.line + ": " + d.message;
    a.addEventListener("click", () => {
      const i = st.files.findIndex((f) => f.name === d.file);
      if (i >= 0 && i !== st.active) loadFile(i);
      const l = view.state.doc.line(Math.min(d.line, view.state.doc.lines));
      view.dispatch({ selection: { anchor: l.from }, scrollIntoView: true });
      view.focus();
    });
    li.append(a);
    list.append(li);
  }
}

let finished = 0;
function finish() {
  st.current = null;
  finished++;
  $("run").disabled = false;
  $("stop").disabled = true;
}

// ------------------------------------------------------------------ running

function parseArgs(s) {
  // words split on blanks; "double" or 'single' quotes keep blanks
  const args = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  let m;
  while ((m = re.exec(s))) args.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2] ?? m[3]);
  return args;
}

async function run() {
  if (st.current) return;
  clearOutput();
  diagnostics = [];
  showMarks();
  renderDiagList();
  stderrByStage = { compile: "", run: "" };
  const tty = $("tty") && $("tty").checked;
  const id = "p" + ++st.runId;
  const req = {
    type: "run", id, language: st.lang,
    files: st.files.map((f) => ({ name: f.name, content: f.content })),
    outputs: IMAGE_OUTPUTS,
  };
  const args = $("args") ? parseArgs($("args").value) : [];
  if (args.length) req.args = args;
  if (tty) {
    await ensureTerminal();
    st.term.reset();
    st.fit.fit();
    req.tty = { rows: st.term.rows, cols: st.term.cols };
    req.interactive = true;
    st.term.focus();
  } else {
    const stdin = $("stdin") ? $("stdin").value : "";
    if (stdin) req.stdin = stdin;
  }
  st.current = { id, tty, exits: [], stage: null };
  $("run").disabled = true;
  $("stop").disabled = false;
  setStatus("connecting\u2026", "busy");
  try {
    await connect();
  } catch (e) {
    setStatus(e.message, "bad");
    return finish();
  }
  send(req);
}

function stop() {
  if (st.current) send({ type: "kill", id: st.current.id });
}

// ------------------------------------------------------------------ terminal

async function ensureTerminal() {
  if (st.term) return;
  const [xm, fm] = await Promise.all([import("@xterm/xterm"), import("@xterm/addon-fit")]);
  // both are CommonJS/UMD packages: their exports may come as the default export
  const Terminal = xm.Terminal || xm.default.Terminal;
  const FitAddon = fm.FitAddon || fm.default.FitAddon;
  const term = new Terminal({ convertEol: false, cursorBlink: true, fontSize: 14, theme: termTheme() });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open($("terminal"));
  fit.fit();
  term.onData((d) => {
    if (st.current && st.current.tty) send({ type: "stdin", id: st.current.id, data: d });
  });
  term.onResize(({ rows, cols }) => {
    if (st.current && st.current.tty) send({ type: "resize", id: st.current.id, rows, cols });
  });
  new ResizeObserver(() => { try { fit.fit(); } catch (e) { /* hidden */ } }).observe($("terminal"));
  st.term = term;
  st.fit = fit;
  window.__runcellTerm = term; // for the browser tests
}

function termTheme() {
  return st.theme === "dark"
    ? { background: "#1e1f22", foreground: "#d8dadf", cursor: "#d8dadf" }
    : { background: "#ffffff", foreground: "#1f2328", cursor: "#1f2328", selectionBackground: "#b4d5fe" };
}

function showTerminalMode() {
  const on = $("tty") && $("tty").checked;
  document.body.classList.toggle("tty-mode", !!on);
  if (on) ensureTerminal().then(() => st.fit.fit());
}

// ------------------------------------------------------------------ theme

function setTheme(t) {
  st.theme = t;
  document.documentElement.dataset.theme = t;
  view.dispatch({ effects: themeConf.reconfigure(t === "dark" ? oneDark : []) });
  if (st.term) st.term.options.theme = termTheme();
  try { localStorage.setItem("runcell-theme", t); } catch (e) { /* private mode */ }
}

// ------------------------------------------------------------------ share

function b64url(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
function unb64url(s) {
  const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}
async function pipe(bytes, stream) {
  return new Uint8Array(await new Response(new Blob([bytes]).stream().pipeThrough(stream)).arrayBuffer());
}

async function shareLink() {
  const doc = {
    l: st.lang, f: st.files.map((f) => [f.name, f.content]),
    i: $("stdin").value, a: $("args").value, t: $("tty").checked ? 1 : 0, r: 1,
  };
  const json = new TextEncoder().encode(JSON.stringify(doc));
  const z = await pipe(json, new CompressionStream("deflate-raw"));
  return location.origin + location.pathname + "#z=" + b64url(z);
}

async function readFragment() {
  const m = /^#z=([A-Za-z0-9_-]+)$/.exec(location.hash);
  if (!m) return null;
  try {
    const json = await pipe(unb64url(m[1]), new DecompressionStream("deflate-raw"));
    return JSON.parse(new TextDecoder().decode(json));
  } catch (e) {
    setStatus("the shared link is damaged", "bad");
    return null;
  }
}

async function applyShared(doc) {
  if (!doc || typeof doc.l !== "string") return false;
  const files = Array.isArray(doc.f) ? doc.f.filter((x) => Array.isArray(x) && x.length === 2)
    .map(([name, content]) => ({ name: String(name), content: String(content) })) : null;
  await setLanguage(doc.l, files && files.length ? files : null);
  $("stdin").value = doc.i || "";
  $("args").value = doc.a || "";
  $("tty").checked = !!doc.t;
  showTerminalMode();
  if (doc.r) run();
  return true;
}

// ------------------------------------------------------------------ start

async function start() {
  let theme = query.get("theme");
  if (theme !== "dark" && theme !== "light") {
    try { theme = localStorage.getItem("runcell-theme"); } catch (e) { theme = null; }
  }
  if (theme !== "dark" && theme !== "light")
    theme = matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  setTheme(theme);

  $("run").addEventListener("click", run);
  // Ctrl/Cmd-Enter runs from anywhere on the page (the editor has it in its keymap too)
  document.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && !e.defaultPrevented) {
      e.preventDefault();
      run();
    }
  });
  $("stop").addEventListener("click", stop);
  $("stop").disabled = true;

  if (embed) {
    // a name or an alias, as the API takes
    await loadLanguages();
    const asked = query.get("language") || "python";
    const found = st.languages.find((l) => l.name === asked || (l.aliases || []).includes(asked));
    const lang = found ? found.name : asked;
    const code = query.get("code");
    await setLanguage(lang, code !== null ? [{ name: sourceFile(lang), content: code }] : null);
    if ($("stdin")) $("stdin").value = query.get("stdin") || "";
    ready();
    return;
  }

  $("theme").addEventListener("click", () => setTheme(st.theme === "dark" ? "light" : "dark"));
  $("tty").addEventListener("change", showTerminalMode);
  $("add-file").addEventListener("click", addFile);
  $("new-file").addEventListener("keydown", (e) => { if (e.key === "Enter") addFile(); });
  $("language").addEventListener("change", (e) => setLanguage(e.target.value));
  $("share").addEventListener("click", async () => {
    const link = await shareLink();
    window.history.replaceState(null, "", link);
    $("share-link").value = link;
    try { await navigator.clipboard.writeText(link); } catch (e) { /* no permission */ }
  });
  window.addEventListener("hashchange", async () => applyShared(await readFragment()));

  await loadLanguages();
  const shared = await readFragment();
  if (!(await applyShared(shared))) {
    const first = st.languages.find((l) => l.name === "python" && l.ready !== false) ||
      st.languages.find((l) => l.ready !== false) || st.languages[0];
    await setLanguage(first ? first.name : "python");
  }
  ready();
}

// The page can be used from here on (the browser tests wait for it and read the time).
function ready() {
  window.__runcell = {
    readyAt: performance.now(),
    setCode: (text) => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } }),
    getCode: () => view.state.doc.toString(),
    finished: () => finished,
  };
  document.body.dataset.ready = "1";
}

start();
