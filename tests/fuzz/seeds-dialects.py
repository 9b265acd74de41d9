#!/usr/bin/env python3
"""Write the seed corpus of fuzz_dialects (tests/fuzz/corpus/dialects/): real requests of every
dialect, most of them the bodies and messages of the end-to-end cases
(tests/e2e/cases/dialect_*.py, server.py, functions.py), in the target's input format
(tests/fuzz/fuzz_dialects.c): dialect, route, flags, ending, then the path argument, query and
headers lines and the body (WebSocket messages separated by NUL bytes).

    tests/fuzz/seeds-dialects.py [DIR]
"""
import json
import os
import sys

# dialect_table's order (src/protocol/dialects.c)
NATIVE, ROADRUNNER, LIVECODE, CODAPI, MICRO, PIVOT, RANNA, PISTON, JUDGE0, JOBE, PLAYGROUND, \
    FUNCTIONS = range(12)

HELLO_C = '#include <stdio.h>\nint main(void) { puts("hello from pivot"); return 0; }\n'
J0_SOURCE = ('#include <stdio.h>\n\nint main(void) {\n  char name[10];\n  scanf("%s", name);\n'
             '  printf("hello, %s\\n", name);\n  return 0;\n}')


def j(o):
    return json.dumps(o)


SEEDS = [
    # runcell's own API: POST /api/v1/run, GET /languages, the WebSocket protocol
    ("native-run", NATIVE, 1, 0, 0, "", "", "content-type: application/json",
     j({"language": "python", "files": [{"name": "main.py", "content": "print(input())"}],
        "stdin": "hi\n", "args": ["a"], "limits": {"wall_ms": 5000}})),
    ("native-run-tests", NATIVE, 1, 0, 1, "", "", "",
     j({"language": "c", "source": HELLO_C, "tests": [{"stdin": "", "expected": "x\n"}]})),
    ("native-languages", NATIVE, 2, 0, 0, "", "", "", ""),
    ("native-ws", NATIVE, 0, 0, 0, "", "token=abc", "",
     "\0".join([j({"type": "ping"}),
                j({"type": "run", "id": "i1", "language": "python", "interactive": True,
                   "source": "print(input())"}),
                j({"type": "stdin", "id": "i1", "data": "one\n"}),
                j({"type": "resize", "id": "i1", "rows": 30, "cols": 100}),
                j({"type": "kill", "id": "i1", "signal": "SIGTERM"})])),
    ("native-ws-fn", NATIVE, 0, 0x10, 1, "", "", "",
     j({"type": "run", "id": "f1", "function": "echo2", "stdin": "x"})),
    # roadrunner: WebSocket {language, source, nonce, standard_input}
    ("roadrunner", ROADRUNNER, 0, 0, 0, "", "", "",
     "\0".join([j({"type": "ping", "nonce": "p"}),
                j({"language": "python", "source": "print(input())", "nonce": "n1",
                   "standard_input": "x\n"}),
                j({"language": "C++", "source": "int main( {", "nonce": "bad"}),
                '{"language": "python", "source": ', "[1, 2]"])),
    # livecode: WebSocket msgtype exec, event, quit
    ("livecode", LIVECODE, 0, 0, 0, "", "", "",
     "\0".join(['{"msgtype": "ping"}',
                '{\n  "msgtype": "exec",\n  "runtime": "python",\n'
                '  "code": "print(\'hello, world!\')",\n  "timeout": 5000\n}',
                j({"msgtype": "event", "event": "click", "data": {"n": 3}}),
                '{"msgtype": "quit"}'])),
    ("livecode-c", LIVECODE, 0, 0, 2, "", "", "",
     j({"msgtype": "exec", "runtime": "c", "code": "int main( {\n"})),
    # codapi: POST /v1/exec, GET /v1/health
    ("codapi-exec", CODAPI, 0, 1, 0, "", "", "origin: https://docs.example.org",
     json.dumps({"sandbox": "python", "version": "", "command": "run",
                 "files": {"": "print('hi')", "lib.py": "x = 1"}}, separators=(",", ":"))),
    ("codapi-health", CODAPI, 1, 0, 0, "", "", "", ""),
    # the code execution microservice: POST / {lang, code}
    ("microservice", MICRO, 0, 0, 1, "", "", "",
     '{\n  "lang": "python",\n  "code": "print(\\"Hello world!\\")"\n}'),
    # pivot's coderunner: POST / {code}
    ("pivot", PIVOT, 1, 0, 0, "", "", "", j({"code": HELLO_C})),
    ("pivot-broken", PIVOT, 0, 0, 2, "", "", "",
     j({"code": "int main(void) { return undefined_thing; }\n"})),
    # ranna: POST /v1/exec, WebSocket /v1/ws (op codes), /spec, /info
    ("ranna-exec", RANNA, 1, 0, 0, "", "", "",
     j({"language": "python3", "code": "print(1)", "arguments": ["a"],
        "environment": {"A": "b"}, "inline_expression": False})),
    ("ranna-ws", RANNA, 0, 0, 3, "", "", "",
     "\0".join(['{\n  "op": 1,\n  "nonce": 123,\n  "args": {\n    "language": "go",\n'
                '    "inline_expression": true,\n    "code": "import \\"time\\"\\n'
                'for i := 0; i < 5; i++ { time.Sleep(1 * time.Second) }"\n  }\n}',
                '{"op":0,"nonce":"raw"}',
                j({"op": 2, "nonce": "kill-1", "args": {"runid": "0" * 64}}),
                "{not json", j({"op": "1", "nonce": 7, "args": {"language": "python",
                                                               "code": "1"}})])),
    ("ranna-spec", RANNA, 2, 0, 0, "", "", "", ""),
    # Piston: GET /runtimes, POST /execute, GET /packages, WebSocket /connect
    ("piston-execute", PISTON, 1, 0, 0, "", "", "",
     j({"language": "py", "version": "1.x", "files": [{"name": "main.py", "content": "print(1)"}],
        "stdin": "", "args": ["x"], "run_timeout": 3000, "compile_memory_limit": -1})),
    ("piston-runtimes", PISTON, 0, 0, 0, "", "", "", ""),
    ("piston-ws", PISTON, 3, 0, 1, "", "", "",
     "\0".join([j({"type": "init", "language": "python", "version": "*",
                   "files": [{"content": "print(input())"}], "args": ["x"]}),
                j({"type": "data", "stream": "stdin", "data": "one\n"}),
                j({"type": "signal", "signal": "SIGKILL"}), j({"type": "ping"})])),
    # Judge0: submissions (wait, fields, base64), batch, languages, statuses
    ("judge0-create", JUDGE0, 0, 1, 0, "", "wait=true", "",
     '{\n    "source_code": "' + json.dumps(J0_SOURCE)[1:-1] + '",\n    "language_id": 4,\n'
     '    "stdin": "world"\n}'),
    ("judge0-limits", JUDGE0, 0, 1, 1, "", "wait=true&fields=stdout,nope,bad", "",
     j({"source_code": J0_SOURCE, "language_id": 4, "number_of_runs": 1, "stdin": "Judge0",
        "expected_output": "hello, Judge0", "cpu_time_limit": 1, "cpu_extra_time": 0.5,
        "wall_time_limit": 10, "memory_limit": 128000, "stack_limit": 64000,
        "enable_per_process_and_thread_time_limit": False,
        "redirect_stderr_to_stdout": True, "callback_url": "http://127.0.0.1:9/cb"})),
    ("judge0-base64", JUDGE0, 0, 1, 0, "", "base64_encoded=true&wait=true", "",
     j({"source_code": "cHJpbnQoMSkK", "language_id": 71, "stdin": "d29ybGQ=",
        "additional_files": "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="})),
    ("judge0-batch", JUDGE0, 1, 1, 0, "", "base64_encoded=false", "",
     j({"submissions": [{"source_code": "print(1)", "language_id": 71},
                        {"source_code": "x", "language_id": 150000}]})),
    ("judge0-get", JUDGE0, 2, 0, 0, "8f7e3c1a-0b2d-4e5f-9a8b-7c6d5e4f3a2b",
     "fields=stdout,status&base64_encoded=true", "", ""),
    ("judge0-language", JUDGE0, 5, 0, 0, "71", "", "", ""),
    ("judge0-statuses", JUDGE0, 6, 0, 0, "", "", "", ""),
    # Jobe: POST /runs, GET /languages, PUT/HEAD /files/ID
    ("jobe-runs", JOBE, 0, 0, 0, "", "", "",
     j({"run_spec": {"language_id": "python3", "sourcecode": "print(input())",
                     "sourcefilename": "test.py", "input": "Line1\n",
                     "parameters": {"cputime": 2, "memorylimit": 200},
                     "file_list": [["abcdefgh123", "data.txt"]]}})),
    ("jobe-runs-java", JOBE, 1, 0, 2, "", "", "",
     j({"run_spec": {"language_id": "java", "sourcecode":
                     "public class Hello { public static void main(String[] a) {} }",
                     "debug": True}})),
    ("jobe-languages", JOBE, 2, 0, 0, "", "", "", ""),
    ("jobe-files", JOBE, 4, 1, 0, "abcdefgh123", "", "",
     j({"file_contents": "YQBi/w=="})),
    # the playground's page and assets
    ("playground", PLAYGROUND, 0, 0, 0, "", "lang=python", "accept-encoding: gzip", ""),
    ("playground-asset", PLAYGROUND, 2, 0, 0, "app.js", "", "if-none-match: \"x\"", ""),
    # functions: the management API and invocations (stdin, json, cgi modes)
    ("functions-list", FUNCTIONS, 0, 0, 0, "", "", "", ""),
    ("functions-deploy", FUNCTIONS, 1, 2, 0, "echo2", "", "",
     j({"language": "python", "source": "import sys\nprint(sys.stdin.read())",
        "mode": "stdin"})),
    ("functions-get", FUNCTIONS, 1, 0, 0, "echo2/versions", "", "", ""),
    ("functions-invoke", FUNCTIONS, 2, 1, 0, "echo2", "", "content-type: text/plain", "hello"),
    ("functions-invoke-json", FUNCTIONS, 2, 0x21, 1, "echo2/sub/path", "a=1&b=2",
     "content-type: application/json", j({"x": [1, 2]})),
    ("functions-invoke-cgi", FUNCTIONS, 2, 0x40, 0, "echo2", "q=s",
     "x-fuzz: 1\tcookie: a=b", ""),
]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus", "dialects")
    os.makedirs(out, exist_ok=True)
    for name, d, route, flags, ending, path_arg, query, headers, body in SEEDS:
        data = bytes([d, route, flags, ending]) + "\n".join(
            [path_arg, query, headers, body]).encode()
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print("%d seeds in %s" % (len(SEEDS), out))


if __name__ == "__main__":
    main()
