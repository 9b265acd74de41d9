// Line numbers in compiler and interpreter messages: "file:line:col: error: ..." (gcc, clang,
// go, nim's "file(line, col)"), rustc's "--> file:line:col", Python's 'File "file", line N',
// node's "/work/file:line". Only files of the run count.
export function parseDiagnostics(text, names) {
  const out = [];
  const known = (p) => {
    const n = p.replace(/^\.\//, "").replace(/^\/work\//, "");
    return names.includes(n) ? n : null;
  };
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    let m, file, line, msg;
    if ((m = /^\s*File "([^"]+)", line (\d+)/.exec(l))) {
      file = known(m[1]); line = +m[2];
      // Python: the exception is the last line of the traceback
      msg = lines.slice(i + 1).find((x) => /^\w*(Error|Exception)\b/.test(x)) || l.trim();
    } else if ((m = /^\s*--> ([^:\s]+):(\d+):(\d+)/.exec(l))) {
      file = known(m[1]); line = +m[2];
      msg = (lines[i - 1] || "").trim() || l.trim();
    } else if ((m = /^([^:\s]+)\((\d+), ?\d+\) (.*)$/.exec(l))) {
      file = known(m[1]); line = +m[2]; msg = m[3];
    } else if ((m = /^([^:\s]+):(\d+)(?::(\d+))?:? ?(.*)$/.exec(l))) {
      file = known(m[1]); line = +m[2]; msg = m[4] || l;
      if (/^\s*(note|in expansion)/.test(msg)) file = null;
    }
    if (file && line > 0) out.push({ file, line, message: msg });
  }
  // Python prints the innermost frame last: put it first
  return out;
}
