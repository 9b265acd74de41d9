"""The Jobe dialect (trampgeek/jobe, the sandbox of Moodle's CodeRunner):
POST /jobe/index.php/restapi/runs {run_spec} -> {run_id, outcome, cmpinfo, stdout, stderr},
PUT and HEAD /files/{id}, GET /languages.  The run_specs are those of Jobe's own tester
(testsubmit.py) verbatim where runcell can answer as Jobe does; each case runs its own server."""

import base64
import hashlib
import json

from harness import case, shorten
from server_util import Server, http_req, write_config

BASE = "/jobe/index.php/restapi"
RUNS = BASE + "/runs/"  # testsubmit.py's RUNS_RESOURCE, with its trailing slash
HEADERS = {"Content-type": "application/json; charset=utf-8", "Accept": "application/json"}


def post(t, srv, run_spec, path=RUNS, headers=None):
    body = run_spec if isinstance(run_spec, (str, bytes)) else json.dumps({"run_spec": run_spec})
    return http_req(t, srv, "POST", path, body, headers=headers or HEADERS)


def result(t, r, what):
    """Jobe's result object; returns it."""
    t.eq(r.status, 200, "%s: HTTP status (body %r)" % (what, shorten(r.body, 400)))
    o = r.json
    t.check(isinstance(o, dict), "%s: a JSON object expected: %r" % (what, r.body[:300]))
    t.eq(sorted(o), ["cmpinfo", "outcome", "run_id", "stderr", "stdout"], "%s: fields" % what)
    t.check(type(o["outcome"]) is int, "%s: outcome must be an integer" % what)
    for k in ("cmpinfo", "stdout", "stderr"):
        t.check(isinstance(o[k], str), "%s: %s must be a string" % (what, k))
    return o


def run(t, srv, spec, outcome, what, stdout=None, **kw):
    o = result(t, post(t, srv, spec, **kw), what)
    t.eq(o["outcome"], outcome, "%s: outcome (cmpinfo %r, stderr %r)"
         % (what, o["cmpinfo"][:300], o["stderr"][:300]))
    if stdout is not None:
        t.eq(o["stdout"], stdout, "%s: stdout" % what)
    return o


def refused(t, srv, spec, status, message, what, prefix=False):
    """Jobe's refusals: the status and a JSON string saying why."""
    r = post(t, srv, spec)
    t.eq(r.status, status, "%s: HTTP status (body %r)" % (what, shorten(r.body, 300)))
    t.check(isinstance(r.json, str), "%s: the body must be a JSON string: %r" % (what, r.body))
    if prefix:
        t.check(r.json.startswith(message), "%s: %r must start with %r" % (what, r.json, message))
    else:
        t.eq(r.json, message, "%s: message" % what)


def put_file(t, srv, file_id, contents, status=204):
    data = json.dumps({"file_contents": base64.b64encode(contents.encode()).decode()})
    r = http_req(t, srv, "PUT", BASE + "/files/" + file_id, data,
                 headers={"Content-type": "application/json", "Accept": "text/plain"})
    t.eq(r.status, status, "PUT %s (body %r)" % (file_id, r.body[:200]))
    return r


def head_file(t, srv, file_id):
    return http_req(t, srv, "HEAD", BASE + "/files/" + file_id,
                    headers={"Accept": "text/plain"}).status


# ------------------------------------------------------------------ Python 3

@case("dialect_jobe.python3_examples", lang="python")
def python3_examples(t):
    """testsubmit.py's Python3 tests: hello, stdin, a syntax error (11, found before the run as
    Jobe's py_compile does), a runtime error, file I/O, interpreterargs, runargs, UTF-8."""
    with Server(t) as srv:
        o = run(t, srv, {"language_id": "python3", "sourcecode": 'print("Hello world!")\n',
                         "sourcefilename": "test.py"}, 15, "Valid Python3", "Hello world!\n")
        t.eq(o["run_id"], None, "run_id of a run that is not kept (debug false)")
        t.eq(o["cmpinfo"], "", "no cmpinfo")
        t.eq(o["stderr"], "", "no stderr")
        run(t, srv, {"language_id": "python3", "sourcecode": "print(input())\nprint(input())\n",
                     "input": "Line1\nLine2\n", "sourcefilename": "test.py"},
            15, "Python3 with stdin", "Line1\nLine2\n")
        o = run(t, srv, {"language_id": "python3", "sourcecode": 'print("Hello world!"\n',
                         "sourcefilename": "test.py"}, 11, "Syntactically invalid Python3", "")
        t.contains(o["cmpinfo"], "SyntaxError", "the compiler's message in cmpinfo")
        t.contains(o["cmpinfo"], "test.py", "cmpinfo names the file")
        o = run(t, srv, {"language_id": "python3", "sourcecode": "data = [1, 2]\nprint(data[2])\n",
                         "sourcefilename": "test.py"}, 12, "Python3 runtime error")
        t.contains(o["stderr"], "IndexError", "the traceback in stderr")
        run(t, srv, {"language_id": "python3", "sourcefilename": "test.py",
                     "sourcecode": "with open('testoutput.txt', 'w') as output:\n"
                                   "    output.write(\"One fish\\nTwo fish\\n\")\n"
                                   "with open('testoutput.txt') as input:\n"
                                   "    print(input.read(), end='')\n"},
            15, "Python3 file I/O", "One fish\nTwo fish\n")
        run(t, srv, {"language_id": "python3", "sourcecode": "\n", "sourcefilename": "test.py",
                     "parameters": {"interpreterargs": [r'-c "print(\"Blah\")"']}},
            15, "Testing use of interpreter args with Python3", "Blah\n")
        run(t, srv, {"language_id": "python3", "sourcefilename": "test.py",
                     "sourcecode": "\nimport sys\nfor arg in sys.argv[1:]:\n    print(arg)\n",
                     "parameters": {"runargs": ["Arg1", "Arg2"]}},
            15, "Testing use of runargs args with Python3", "Arg1\nArg2\n")
        run(t, srv, {"language_id": "python3", "sourcecode": 'print("Un rôle délétère")\n',
                     "sourcefilename": "test.py"}, 15, "UTF-8 output from Python3",
            "Un rôle délétère\n")
        # Jobe: stderr output is a runtime error, the exit status alone is not
        o = run(t, srv, {"language_id": "python3", "sourcecode": "import sys\nprint('x')\nsys.exit(3)\n"},
                15, "exit 3, nothing on stderr", "x\n")
        o = run(t, srv, {"language_id": "python3",
                         "sourcecode": "import sys\nsys.stderr.write('warned\\n')\n"},
                12, "stderr output, exit 0")
        t.eq(o["stderr"], "warned\n", "stderr")
        # the overload answer of Jobe's tester
        o = run(t, srv, {"language_id": "python3", "sourcefilename": "test.py",
                         "sourcecode": "!** TESTING OVERLOAD EXCEPTION **!"}, 21,
                "Testing overload exception", "")
        o = run(t, srv, {"language_id": "python3", "sourcecode": "print(1)\n", "debug": True},
                15, "debug run", "1\n")
        t.check(isinstance(o["run_id"], str) and o["run_id"], "debug: a run_id: %r" % o["run_id"])


@case("dialect_jobe.python3_limits", lang="python")
def python3_limits(t):
    """cputime (seconds of CPU; the program is killed at twice that on the wall clock):
    outcome 13 with stderr emptied as Jobe does; memory over memorylimit: 17; the cputime
    ceiling: 400 with Jobe's message."""
    with Server(t) as srv:
        o = run(t, srv, {"language_id": "python3", "sourcecode": "print('start', flush=True)\nwhile True: pass\n",
                         "parameters": {"cputime": 1}}, 13, "endless loop, cputime 1", "start\n")
        t.eq(o["stderr"], "", "time limit: stderr")
        run(t, srv, {"language_id": "python3",
                     "sourcecode": "x = bytearray(400 * 1024 * 1024)\nprint(len(x))\n",
                     "parameters": {"memorylimit": 100}}, 17, "400 MB with memorylimit 100")
        refused(t, srv, {"language_id": "c", "sourcefilename": "test.c",
                         "sourcecode": '#include <stdio.h>\nint main() {\n    printf("Hello");\n}\n',
                         "parameters": {"cputime": 151}},
                400, "cputime exceeds maximum allowed on this Jobe server", "cputime 151",
                prefix=True)
        # Jobe uses the default for a parameter that is not a number
        run(t, srv, {"language_id": "python3", "sourcecode": "print(2)\n",
                     "parameters": {"cputime": "lots", "memorylimit": "x"}}, 15,
            "non-numeric parameters", "2\n")


# ------------------------------------------------------------------ files

@case("dialect_jobe.files", lang="python")
def files(t):
    """testsubmit.py's support files and its 404 check; HEAD 204/404; what PUT refuses;
    CodeRunner's sequence: run, 404, put the files, run again."""
    with Server(t) as srv:
        t.eq(head_file(t, srv, "randomid0129798"), 404, "HEAD of a file never put")
        spec = {"language_id": "python3", "sourcefilename": "test.py",
                "sourcecode": "print(open('file1').read())\nprint(open('file2').read())\n",
                "file_list": [["randomid0129798", "file1"], ["randomid0980128", "file2"]]}
        refused(t, srv, spec, 404, "One or more of the specified files is missing/unavailable",
                "a run whose files were not put")
        put_file(t, srv, "randomid0129798", "The first file\nLine 2")
        put_file(t, srv, "randomid0980128", "Second file")
        t.eq(head_file(t, srv, "randomid0129798"), 204, "HEAD after PUT")
        run(t, srv, spec, 15, "Python3 program with support files",
            "The first file\nLine 2\nSecond file\n")
        # a second PUT replaces the contents
        put_file(t, srv, "randomid0980128", "Replaced")
        run(t, srv, spec, 15, "after a second PUT", "The first file\nLine 2\nReplaced\n")

        r = http_req(t, srv, "PUT", BASE + "/files/abcdefgh123", json.dumps({"nothing": 1}))
        t.eq((r.status, r.json), (400, "put: missing file_contents parameter"), "PUT without contents")
        r = http_req(t, srv, "PUT", BASE + "/files/abcdefgh123", "not json")
        t.eq((r.status, r.json), (400, "put: missing file_contents parameter"), "PUT of no JSON")
        r = http_req(t, srv, "PUT", BASE + "/files/abcdefgh123",
                     json.dumps({"file_contents": "abc$def"}))
        t.eq((r.status, r.json), (400, "put: contents of file abcdefgh123 are not valid base-64"),
             "PUT of bad base64")
        t.eq(head_file(t, srv, "abcdefgh123"), 404, "nothing kept from refused PUTs")
        # a file with a NUL byte (placed in the run as base64)
        r = http_req(t, srv, "PUT", BASE + "/files/binfile0001",
                     json.dumps({"file_contents": base64.b64encode(b"a\x00b\xff").decode()}))
        t.eq(r.status, 204, "PUT of a binary file")
        r = post(t, srv, {"language_id": "python3", "sourcecode": "print(open('bin', 'rb').read())",
                          "file_list": [["binfile0001", "bin"]]})
        t.eq(result(t, r, "binary file")["stdout"], "b'a\\x00b\\xff'\n", "binary file read")
        r = http_req(t, srv, "GET", BASE + "/files/randomid0129798")
        t.check(r.status in (404, 405), "GET of a file is not Jobe's: %r" % r)

        # CodeRunner: md5 ids, try the run first, put the files on 404, run again
        contents = "data for the question\n"
        fid = hashlib.md5(contents.encode()).hexdigest()
        cr = {"language_id": "python3", "sourcefilename": "__tester__.python3",
              "sourcecode": "print(open('data.txt').read(), end='')\nprint(input())\n",
              "input": "typed\n", "file_list": [[fid, "data.txt"]], "parameters": [],
              "jobeserver": "runcell.example"}
        hdr = dict(HEADERS, **{"User-Agent": "CodeRunner", "X-CodeRunner-Job-Id": "0a1b2c3d"})
        r = post(t, srv, cr, path=BASE + "/runs", headers=hdr)
        t.eq(r.status, 404, "CodeRunner's first try")
        put_file(t, srv, fid, contents)
        run(t, srv, cr, 15, "CodeRunner's second try", contents + "typed\n",
            path=BASE + "/runs", headers=hdr)


@case("dialect_jobe.file_cache_bounds", lang="python")
def file_cache_bounds(t):
    """The cache holds files_max files and files_max_bytes bytes: the least recently used goes
    first; a file over the whole budget is refused."""
    cfg = write_config(t, {"dialects": {"jobe": {"files_max": 2, "files_max_bytes": 100}}})
    with Server(t, "--config", cfg) as srv:
        put_file(t, srv, "fileone01", "1")
        put_file(t, srv, "filetwo02", "2")
        run(t, srv, {"language_id": "python3", "sourcecode": "print(open('a').read())",
                     "file_list": [["fileone01", "a"]]}, 15, "fileone01 used", "1\n")
        put_file(t, srv, "filethree03", "3")
        t.eq(head_file(t, srv, "filetwo02"), 404, "the least recently used went")
        t.eq(head_file(t, srv, "fileone01"), 204, "the one used by a run stayed")
        t.eq(head_file(t, srv, "filethree03"), 204, "the new one is there")
        put_file(t, srv, "filebig0004", "x" * 101, status=500)
        put_file(t, srv, "filemid0005", "y" * 100)
        t.eq([head_file(t, srv, f) for f in ("fileone01", "filethree03", "filemid0005")],
             [404, 404, 204], "100 bytes leave room for nothing else")
    bad = write_config(t, {"dialects": {"jobe": {"files_max": 0}}})
    r = t.runcell(*(t.suite.global_args + ["serve", "--listen", "127.0.0.1:0", "--config", bad]),
                  timeout=30)
    t.check(r.rc != 0, "serve must refuse files_max 0")
    t.contains(r.stderr, "files_max", "serve's complaint")


# ------------------------------------------------------------------ requests refused

@case("dialect_jobe.bad_run_spec")
def bad_run_spec(t):
    """testsubmit.py's 400 checks and the types Jobe's RunSpecifier takes."""
    with Server(t) as srv:
        hello = 'print("Hello world!")\n'
        refused(t, srv, {"language_id": "nosuchlanguage", "sourcecode": hello,
                         "sourcefilename": "test.py"},
                400, "Language 'nosuchlanguage' is not known", "non-existent language")
        refused(t, srv, {"sourcecode": hello, "sourcefilename": "test.py"},
                400, "run_spec is missing the required attribute 'language_id'",
                "missing language_id")
        refused(t, srv, {"language_id": "python3", "sourcefilename": "test.py"},
                400, "run_spec is missing the required attribute 'sourcecode'",
                "missing sourcecode")
        refused(t, srv, "this is not JSON", 400, "Non-JSON post data received", "not JSON")
        refused(t, srv, '["run_spec"]', 400, "Non-JSON post data received", "a JSON list")
        refused(t, srv, '{"runspec": {}}', 400, "No run_spec attribute found in post data",
                "no run_spec")
        refused(t, srv, '{"run_spec": "print(1)"}', 400, "No run_spec attribute found in post data",
                "run_spec a string")
        refused(t, srv, {"language_id": "python3", "sourcecode": 42}, 400,
                "run_spec's 'sourcecode' must be a string", "sourcecode a number")
        refused(t, srv, {"language_id": ["python3"], "sourcecode": hello}, 400,
                "run_spec's 'language_id' must be a string", "language_id a list")
        refused(t, srv, '{"run_spec": {"language_id": "c", "language_id": "python3"}}', 400,
                'Non-JSON post data received (duplicate key', "a key twice", prefix=True)
        r = http_req(t, srv, "GET", BASE + "/runs")
        t.check(r.status in (404, 405), "GET /runs: Jobe keeps no runs: %r" % r)


@case("dialect_jobe.api_key")
def api_key(t):
    """With tokens configured, CodeRunner's X-API-KEY header is one of them."""
    cfg = write_config(t, {"tokens": ["s3cret"]})
    with Server(t, "--config", cfg) as srv:
        r = http_req(t, srv, "GET", BASE + "/languages")
        t.eq(r.status, 401, "no key")
        r = http_req(t, srv, "GET", BASE + "/languages", headers={"X-API-KEY": "wrong"})
        t.eq(r.status, 401, "a wrong key")
        r = http_req(t, srv, "GET", BASE + "/languages", headers={"X-API-KEY": "s3cret"})
        t.eq(r.status, 200, "the key")
        t.check(isinstance(r.json, list), "the languages: %r" % r.body[:200])


@case("dialect_jobe.bad_run_spec_fields", lang="python")
def bad_run_spec_fields(t):
    """Fields checked once the language is known: input, parameters, sourcefilename,
    file_list entries."""
    with Server(t) as srv:
        hello = 'print("Hello world!")\n'

        def spec(**kw):
            s = {"language_id": "python3", "sourcecode": hello}
            s.update(kw)
            return s

        refused(t, srv, spec(input=5), 400, "run_spec's 'input' must be a string", "input 5")
        refused(t, srv, spec(parameters="fast"), 400,
                "run_spec's 'parameters' must be an object", "parameters a string")
        refused(t, srv, spec(parameters={"runargs": "a b"}), 400,
                "parameters: runargs must be a list of strings", "runargs a string")
        refused(t, srv, spec(parameters={"interpreterargs": [{"x": 1}]}), 400,
                "parameters: interpreterargs must be a list of strings", "interpreterargs")
        refused(t, srv, spec(sourcefilename="../escape.py"), 400,
                "The sourcefilename for the run_spec is illegal", "sourcefilename with /")
        refused(t, srv, spec(sourcefilename=".hidden.py"), 400,
                "The sourcefilename for the run_spec is illegal", "sourcefilename with a dot")
        refused(t, srv, spec(sourcefilename=7), 400,
                "The sourcefilename for the run_spec is illegal", "sourcefilename 7")
        refused(t, srv, spec(file_list="abc"), 400,
                "run_spec's 'file_list' must be a list", "file_list a string")
        refused(t, srv, spec(file_list=[["short", "a.txt"]]), 400,
                "Invalid file specifier: Array\n(\n    [0] => short\n    [1] => a.txt\n)\n",
                "an id under 8 characters")
        refused(t, srv, spec(file_list=[["abcdefgh1", "../a.txt"]]), 400,
                "Invalid file specifier: ", "a name with /", prefix=True)
        # what Jobe takes: an empty parameters list (PHP's json_encode of array()), unknown
        # keys, a language_id in capitals
        run(t, srv, {"language_id": "Python3", "sourcecode": hello, "parameters": [],
                     "jobeserver": "x", "something": {"else": 1}}, 15, "lenient", "Hello world!\n")
        # Python3Task uses neither compileargs nor linkargs: ignored, as Jobe ignores them
        run(t, srv, spec(parameters={"compileargs": ["-std=c99", "-wrapper x"],
                                     "linkargs": ["-lfoo"]}), 15, "compileargs for Python",
            "Hello world!\n")


@case("dialect_jobe.languages")
def languages(t):
    """GET /languages (and languages/): [[name, version], ...], Jobe's names where Jobe has
    them, each language once."""
    with Server(t) as srv:
        for path in (BASE + "/languages", BASE + "/languages/"):
            r = http_req(t, srv, "GET", path, headers={"Accept": "application/json"})
            t.eq(r.status, 200, "GET %s" % path)
            langs = r.json
            t.check(isinstance(langs, list), "a list: %r" % r.body[:200])
            for pair in langs:
                t.check(isinstance(pair, list) and len(pair) == 2
                        and all(isinstance(x, str) and x for x in pair),
                        "[name, version] pairs: %r" % (pair,))
            names = [p[0] for p in langs]
            t.eq(len(names), len(set(names)), "each language once: %r" % names)
            t.eq(names, sorted(names), "sorted by name")
            for runcell_name in ("python", "javascript"):
                t.check(runcell_name not in names, "%s goes by Jobe's name" % runcell_name)
        srv_langs = http_req(t, srv, "GET", "/api/v1/languages").json
        ready = set()
        if isinstance(srv_langs, dict):
            srv_langs = srv_langs.get("languages", [])
        for lang in srv_langs or []:
            if isinstance(lang, dict) and lang.get("ready"):
                ready.add(lang.get("name"))
        if "python" in ready:
            t.check("python3" in names, "python3 listed: %r" % names)
        if "c" in ready:
            t.check("c" in names, "c listed: %r" % names)


# ------------------------------------------------------------------ C and C++

C_HELLO = '#include <stdio.h>\nint main() {\n    printf("Hello world\\nIsn\'t this fun!\\n");\n}\n'


@case("dialect_jobe.c_examples", lang="c")
def c_examples(t):
    """testsubmit.py's C tests: hello, a compile error, a runtime error, the time and output
    limits (13), infinite recursion, controlled forking, output that is not UTF-8."""
    with Server(t) as srv:
        run(t, srv, {"language_id": "c", "sourcecode": C_HELLO, "sourcefilename": "prog.c"},
            15, "Test good C hello world", "Hello world\nIsn't this fun!\n")
        o = run(t, srv, {"language_id": "c", "sourcefilename": "prog.c",
                         "sourcecode": '#include <stdio.h>\nint main() {\n    printf("Hello world\\nIsn\'t this fun!\\n")\n}\n'},
                11, "Test compile error C hello world", "")
        t.contains(o["cmpinfo"], "error", "the compiler's message")
        run(t, srv, {"language_id": "c", "sourcefilename": "prog.c",
                     "sourcecode": '#include <stdio.h>\nint main() {\n    printf("Hello world\\nIsn\'t this fun!\\n");\n    char* s = NULL;\n    printf("%c", *s);\n}\n'},
            12, "Test runtime error C hello world")
        run(t, srv, {"language_id": "c", "sourcefilename": "prog.c",
                     "sourcecode": "#include <stdio.h>\nint main() {\n    while(1) {};\n}\n"},
            13, "Test timelimit on C")
        run(t, srv, {"language_id": "c", "sourcefilename": "prog.c",
                     "sourcecode": '#include <stdio.h>\nint main() {\n    while(1) { printf("Hello"); };\n}\n'},
            13, "Test outputlimit on C")
        # Jobe compiles without optimisation and the program overflows its stack (12);
        # runcell's gcc -O2 turns the recursion into a loop and warns about it, and a
        # warning is a compile error as under Jobe's -Werror (11)
        o = result(t, post(t, srv, {"language_id": "c", "sourcefilename": "prog.c",
                     "sourcecode": "#include <stdlib.h>\n#include <assert.h>\n#include <stdio.h>\n\n"
                                   "void silly(int i, int increment) {\n    if (i == 0) {\n"
                                   "        puts(\"Won't get here with positive increment\");\n"
                                   "    } else {\n        silly(i + increment, increment);\n    }\n}\n\n"
                                   "int main() {\n    silly(3, 1);\n}\n"}),
                   "Infinite recursion (stack error) on C")
        t.check(o["outcome"] in (11, 12), "recursion: outcome %r" % o["outcome"])
        run(t, srv, {"language_id": "c", "sourcefilename": "prog.c",
                     "sourcecode": '#include <stdio.h>\nint main() {\n    printf("Hello world\\n\\01\\006\\300\\311\\n");\n}\n'},
            15, "A C program with ASCII non-UTF-8-compatible output",
            "Hello world\n\\x01\\x06\\xc0\\xc9\n")


@case("dialect_jobe.c_forking", lang="c")
def c_forking(t):
    """testsubmit.py's controlled forking: numprocs 20 lets the program fork 5 to 20 times (or
    the run uses its time up: see below)."""
    with Server(t) as srv:
        o = result(t, post(t, srv, {"language_id": "c", "sourcefilename": "test.c",
                                    "parameters": {"numprocs": 20},
                     "sourcecode": "#include <linux/unistd.h>\n#include <unistd.h>\n#include <stdio.h>\n"
                                   "int main() {\n    int successes = 0, failures = 0;\n"
                                   "    for (int i = 0; i < 1000; i++) {\n        int pid = fork();\n"
                                   "        if (pid == -1) {\n            failures += 1;\n        }\n"
                                   "        else if (pid == 0) {\n            while (1) {};  // Child loops\n        }\n"
                                   "        else {\n            successes += 1;\n        }\n    }\n"
                                   "    if (successes > 5 && successes <= 20) {\n        printf(\"OK\\n\");\n"
                                   "    } else {\n        printf(\"%d forks succeeded, %d failed\\n\", successes, failures);\n"
                                   "    }\n}"}), "C program controlled forking")
        # the 20 children spin on the run's own CPU share (a cgroup quota), so the parent
        # may not get through its 1000 forks before the time is up on a busy machine
        t.check(o["outcome"] in (13, 15) and o["stdout"] in ("OK\n", "")
                and (o["outcome"] == 13 or o["stdout"] == "OK\n"),
                "forking: %r" % ((o["outcome"], o["stdout"]),))

@case("dialect_jobe.c_coderunner", lang="c")
def c_coderunner(t):
    """What CodeRunner's C prototypes send: __tester__.c, linkargs -lm, runargs built with
    shell quotes; a warning is a compile error (Jobe compiles with -Werror and takes any
    compiler message as one); compileargs through runcell's allowlist."""
    with Server(t) as srv:
        src = ('#include <stdio.h>\n#include <math.h>\nint main(int argc, char **argv) {\n'
               '    printf("%.1f\\n", sqrt(16.0));\n'
               '    for (int i = 1; i < argc; i++) printf("[%s]\\n", argv[i]);\n    return 0;\n}\n')
        run(t, srv, {"language_id": "c", "sourcecode": src, "sourcefilename": "__tester__.c",
                     "input": "", "file_list": [],
                     "parameters": {"linkargs": ["-lm"], "cputime": 10,
                                    "runargs": ["seed=123", "quizname='My quiz'"]}},
            15, "CodeRunner C", "4.0\n[seed=123]\n[quizname=My quiz]\n")
        o = run(t, srv, {"language_id": "c", "sourcefilename": "prog.c",
                         "sourcecode": "#include <stdio.h>\nint main() {\n    int unused;\n    return 0;\n}\n"},
                11, "an unused variable (a warning)")
        t.contains(o["cmpinfo"], "unused", "the warning")
        refused(t, srv, {"language_id": "c", "sourcefilename": "prog.c", "sourcecode": C_HELLO,
                         "parameters": {"compileargs": ["std=c89"]}},
                400, "compileargs", "Test use of compileargs with C", prefix=True)
        # the options reach gcc, through runcell's allowlist
        run(t, srv, {"language_id": "c", "sourcecode": C_HELLO,
                     "parameters": {"compileargs": ["-Wall", "-Werror", "-std=c99", "-x c"]}},
            15, "Jobe's C default compileargs", "Hello world\nIsn't this fun!\n")
        run(t, srv, {"language_id": "c", "sourcecode": "int main(void) {\n  // C99\n  return 0;\n}\n",
                     "parameters": {"compileargs": ["-std=c89", "-pedantic-errors"]}},
            11, "a // comment under -std=c89 -pedantic-errors")
        refused(t, srv, {"language_id": "c", "sourcecode": C_HELLO,
                         "parameters": {"compileargs": ["-wrapper", "/bin/sh"]}},
                400, "compileargs and linkargs: ", "-wrapper", prefix=True)
        refused(t, srv, {"language_id": "c", "sourcecode": C_HELLO,
                         "parameters": {"linkargs": ["-Wl,-rpath,/tmp"]}},
                400, "compileargs and linkargs: ", "-Wl,", prefix=True)


@case("dialect_jobe.cpp_examples", lang="cpp")
def cpp_examples(t):
    with Server(t) as srv:
        run(t, srv, {"language_id": "cpp", "sourcefilename": "prog.cpp",
                     "sourcecode": '#include <iostream>\nusing namespace std;\nint main() {\n    cout << "Hello world\\nIsn\'t this fun!\\n";\n}\n'},
            15, "Test good C++ hello world", "Hello world\nIsn't this fun!\n")
        run(t, srv, {"language_id": "c", "sourcefilename": "prog.c",
                     "sourcecode": '#include <iostream>\nint main() {\n    cout << "Hello world\\nIsn\'t this fun!\\n";\n}\n'},
            11, "Test compile error C++ hello world")
        run(t, srv, {"language_id": "cpp", "sourcefilename": "__tester__.cpp",
                     "sourcecode": "#include <iostream>\nint main() { std::cout << 6 * 7 << std::endl; }\n"},
            15, "CodeRunner's C++ name", "42\n")


# ------------------------------------------------------------------ Java

JAVA_THING = """public class Thing {
    private String message;
    public Thing(String message) {
        this.message = message;
    }
    public void printme() {
        System.out.println(message);
    }
}
"""

JAVA_TEST = """
public class Test {
    public static void main(String[] args) {
        System.out.println("What a lot of code I need to write.");
    }
}
"""


@case("dialect_jobe.java_examples", lang="java")
def java_examples(t):
    """testsubmit.py's Java tests: the class named by sourcefilename or found in the source,
    a syntax error, a support class put as a file, Unicode output."""
    with Server(t) as srv:
        run(t, srv, {"language_id": "java", "sourcecode": JAVA_TEST, "sourcefilename": "Test.java",
                     "parameters": {"cputime": 10}},
            15, "Correct Java program", "What a lot of code I need to write.\n")
        run(t, srv, {"language_id": "java", "sourcecode": JAVA_TEST, "parameters": {"cputime": 10}},
            15, "Correct Java program without supplied sourcefilename",
            "What a lot of code I need to write.\n")
        run(t, srv, {"language_id": "java", "sourcecode": JAVA_TEST, "sourcefilename": "prog.java",
                     "parameters": {"cputime": 10}},
            15, "prog.java is ignored (Jobe's legacy hack)", "What a lot of code I need to write.\n")
        o = run(t, srv, {"language_id": "java", "sourcefilename": "Test.java", "parameters": {"cputime": 10},
                         "sourcecode": "\npublic class Test {\n    public static void main(String[] args) {\n"
                                       "        System.out.println('What a lot of code I need to write.);\n}\n"},
                11, "Syntactically incorrect Java program", "")
        t.check(o["cmpinfo"], "cmpinfo says why")
        md5 = hashlib.md5(JAVA_THING.encode()).hexdigest()
        put_file(t, srv, md5, JAVA_THING)
        run(t, srv, {"language_id": "java", "parameters": {"cputime": 10},
                     "sourcecode": "\n// A Java program with a support class\npublic class Blah {\n"
                                   "    public static void main(String[] args) {\n"
                                   "        Thing thing = new Thing(\"Farewell cruel world\");\n"
                                   "        thing.printme();\n    }\n}\n",
                     "file_list": [[md5, "Thing.java"]]},
            15, "Java program with a support class (.java)", "Farewell cruel world\n")
        run(t, srv, {"language_id": "java", "sourcefilename": "Test.java", "parameters": {"cputime": 10},
                     "sourcecode": "\npublic class Test {\n    public static void main(String[] args) {\n"
                                   "        System.out.println(\"Un rôle délétère\");\n    }\n}\n"},
            15, "Java program with Unicode output", "Un rôle délétère\n")
        o = run(t, srv, {"language_id": "java", "sourcefilename": "Boom.java",
                         "sourcecode": "public class Boom {\n    public static void main(String[] a) {\n"
                                       "        throw new IllegalStateException(\"boom\");\n    }\n}\n"},
                12, "an exception")
        t.contains(o["stderr"], "IllegalStateException", "the exception in stderr")
        t.check("\n\tat " not in o["stderr"], "tabs in the trace replaced as Jobe does: %r"
                % o["stderr"][:300])


# ------------------------------------------------------------------ the other Jobe languages

@case("dialect_jobe.nodejs_examples", lang="javascript")
def nodejs_examples(t):
    with Server(t) as srv:
        run(t, srv, {"language_id": "nodejs", "sourcecode": "console.log('Hello world!');\n",
                     "sourcefilename": "test.js", "parameters": {"memorylimit": 1000000}},
            15, "Syntactically valid Nodejs hello world", "Hello world!\n")
        run(t, srv, {"language_id": "nodejs", "sourcecode": "s = 'Hello world!\nconsole.log(s)\n",
                     "sourcefilename": "test.js", "parameters": {"memorylimit": 1000000}},
            12, "Syntactically invalid Nodejs")
        run(t, srv, {"language_id": "nodejs", "sourcecode": "console.log(6 * 7);\n",
                     "sourcefilename": "__tester__.nodejs"}, 15, "CodeRunner's name", "42\n")


@case("dialect_jobe.php_examples", lang="php")
def php_examples(t):
    with Server(t) as srv:
        page = ("<!DOCTYPE html>\n<html>\n<head></head>\n<body>\n<h1>Heading</h1>\n"
                "<p>%s</p>\n</body>\n</html>\n")
        run(t, srv, {"language_id": "php", "sourcefilename": "test.php", "parameters": {"cputime": 15},
                     "sourcecode": page % '<?php echo "A paragraph"; ?>'},
            15, "Correct Php program", page % "A paragraph")
        o = run(t, srv, {"language_id": "php", "sourcefilename": "test.php",
                         "parameters": {"cputime": 15},
                         "sourcecode": page % "<?php echo \"A paragraph' ?>"},
                11, "Syntactically incorrect Php program", "")
        t.check(o["cmpinfo"], "cmpinfo says why")


@case("dialect_jobe.pascal_examples", lang="pascal")
def pascal_examples(t):
    with Server(t) as srv:
        run(t, srv, {"language_id": "pascal", "sourcecode": "begin\nwriteln('Hello world!');\nend.\n",
                     "sourcefilename": "prog.pas"}, 15, "Good Hello world Pascal test", "Hello world!\n")
        run(t, srv, {"language_id": "pascal", "sourcecode": "begin\nwriteln('Hello world!);\nend.\n",
                     "sourcefilename": "prog.pas"}, 11, "Fail Hello world Pascal test")
        run(t, srv, {"language_id": "pascal", "sourcecode": "begin\nwriteln('CR');\nend.\n",
                     "sourcefilename": "__tester__.pascal"}, 15, "CodeRunner's name", "CR\n")


@case("dialect_jobe.octave_examples", lang="octave")
def octave_examples(t):
    with Server(t) as srv:
        run(t, srv, {"language_id": "octave", "parameters": {"memorylimit": 200000},
                     "sourcefilename": "jobe_test.m",
                     "sourcecode": "_blah_ = 0;  % So octave doesn't expect just a function\n"
                                   "function sq = sqr(n)\n    sq = n * n;\nend\n\n"
                                   "fprintf('%d\\n%d\\n%d\\n', sqr(-3), sqr(11), sqr(0));\n"},
            15, "Valid Octave", "9\n121\n0\n")
        run(t, srv, {"language_id": "octave", "parameters": {"memorylimit": 200000},
                     "sourcefilename": "jobe_test.m", "input": "Line1\nLine2\n",
                     "sourcecode": "fprintf('%s\\n%s\\n', input('', 's'), input('', 's'));\n"},
            15, "octave with stdin", "Line1\nLine2\n")
        run(t, srv, {"language_id": "octave", "parameters": {"memorylimit": 200000},
                     "sourcefilename": "jobe_test.m", "sourcecode": "s = \"hi there';\n"},
            12, "Syntactically invalid Octave (treated as runtime error)")
