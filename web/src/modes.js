// Syntax highlighting per runcell language: a CodeMirror 6 language package where there is
// one, else a legacy (CodeMirror 5 stream) mode. Each is loaded on first use (its own chunk).
import { StreamLanguage } from "@codemirror/language";

const legacy = (load) => async () => StreamLanguage.define(await load());

const byName = {
  c: async () => (await import("@codemirror/lang-cpp")).cpp(),
  cpp: async () => (await import("@codemirror/lang-cpp")).cpp(),
  objc: legacy(async () => (await import("@codemirror/legacy-modes/mode/clike")).objectiveC),
  java: async () => (await import("@codemirror/lang-java")).java(),
  kotlin: legacy(async () => (await import("@codemirror/legacy-modes/mode/clike")).kotlin),
  scala: legacy(async () => (await import("@codemirror/legacy-modes/mode/clike")).scala),
  csharp: legacy(async () => (await import("@codemirror/legacy-modes/mode/clike")).csharp),
  groovy: legacy(async () => (await import("@codemirror/legacy-modes/mode/groovy")).groovy),
  javascript: async () => (await import("@codemirror/lang-javascript")).javascript(),
  typescript: async () => (await import("@codemirror/lang-javascript")).javascript({ typescript: true }),
  python: async () => (await import("@codemirror/lang-python")).python(),
  rust: async () => (await import("@codemirror/lang-rust")).rust(),
  go: async () => (await import("@codemirror/lang-go")).go(),
  php: async () => (await import("@codemirror/lang-php")).php(),
  sql: async () => (await import("@codemirror/lang-sql")).sql(),
  assembly: legacy(async () => (await import("@codemirror/legacy-modes/mode/gas")).gas),
  bash: legacy(async () => (await import("@codemirror/legacy-modes/mode/shell")).shell),
  basic: legacy(async () => (await import("@codemirror/legacy-modes/mode/vb")).vb),
  brainfuck: legacy(async () => (await import("@codemirror/legacy-modes/mode/brainfuck")).brainfuck),
  clojure: legacy(async () => (await import("@codemirror/legacy-modes/mode/clojure")).clojure),
  cobol: legacy(async () => (await import("@codemirror/legacy-modes/mode/cobol")).cobol),
  commonlisp: legacy(async () => (await import("@codemirror/legacy-modes/mode/commonlisp")).commonLisp),
  crystal: legacy(async () => (await import("@codemirror/legacy-modes/mode/crystal")).crystal),
  d: legacy(async () => (await import("@codemirror/legacy-modes/mode/d")).d),
  elixir: legacy(async () => (await import("@codemirror/legacy-modes/mode/ruby")).ruby),
  erlang: legacy(async () => (await import("@codemirror/legacy-modes/mode/erlang")).erlang),
  forth: legacy(async () => (await import("@codemirror/legacy-modes/mode/forth")).forth),
  fortran: legacy(async () => (await import("@codemirror/legacy-modes/mode/fortran")).fortran),
  haskell: legacy(async () => (await import("@codemirror/legacy-modes/mode/haskell")).haskell),
  lua: legacy(async () => (await import("@codemirror/legacy-modes/mode/lua")).lua),
  nim: async () => (await import("@codemirror/lang-python")).python(),
  ocaml: legacy(async () => (await import("@codemirror/legacy-modes/mode/mllike")).oCaml),
  octave: legacy(async () => (await import("@codemirror/legacy-modes/mode/octave")).octave),
  pascal: legacy(async () => (await import("@codemirror/legacy-modes/mode/pascal")).pascal),
  ada: legacy(async () => (await import("@codemirror/legacy-modes/mode/pascal")).pascal),
  perl: legacy(async () => (await import("@codemirror/legacy-modes/mode/perl")).perl),
  r: legacy(async () => (await import("@codemirror/legacy-modes/mode/r")).r),
  racket: legacy(async () => (await import("@codemirror/legacy-modes/mode/scheme")).scheme),
  scheme: legacy(async () => (await import("@codemirror/legacy-modes/mode/scheme")).scheme),
  ruby: legacy(async () => (await import("@codemirror/legacy-modes/mode/ruby")).ruby),
  tcl: legacy(async () => (await import("@codemirror/legacy-modes/mode/tcl")).tcl),
  zsh: legacy(async () => (await import("@codemirror/legacy-modes/mode/shell")).shell),
  awk: legacy(async () => (await import("@codemirror/legacy-modes/mode/shell")).shell),
  prolog: legacy(async () => (await import("@codemirror/legacy-modes/mode/erlang")).erlang),
  bc: legacy(async () => (await import("@codemirror/legacy-modes/mode/clike")).c),
};

// "c-clang" -> "c", "python-sci" -> "python", "cpp-clang" -> "cpp", "pypy" -> "python".
export function modeKey(name) {
  if (byName[name]) return name;
  const base = name.split(/[-@]/)[0];
  if (byName[base]) return base;
  if (name === "pypy") return "python";
  return null;
}

export async function loadMode(name) {
  const k = modeKey(name);
  if (!k) return [];
  try {
    return await byName[k]();
  } catch (e) {
    console.warn("no highlighting for", name, e);
    return [];
  }
}
