// Drives the npm package piston-client (v1.0.2, installed by tests/node/setup) against a
// runcell server's Piston dialect and prints what each call returned as one JSON object, for
// tests/e2e/cases/dialect_piston.py to check.
//
//   node piston_client.mjs SERVER_URL NODE_MODULES_DIR
import { pathToFileURL } from "node:url";
import path from "node:path";

const [server, modules] = process.argv.slice(2);
if (!server || !modules) {
    console.error("usage: node piston_client.mjs SERVER_URL NODE_MODULES_DIR");
    process.exit(2);
}
const { piston } = await import(pathToFileURL(path.join(modules, "piston-client", "index.js")).href);
const client = piston({ server });

const C_PROGRAM = `#include <stdio.h>
int main(int argc, char **argv) {
    char line[64] = "";
    if (!fgets(line, sizeof line, stdin))
        return 1;
    printf("c saw %d args, first %s, stdin %s", argc - 1, argv[1], line);
    return 0;
}
`;

const out = {};
out.runtimes = await client.runtimes();
// the client's defaults: latest version, args ["1", "2", "3"], run_timeout 3000
out.hello = await client.execute("python", 'print("Hello World!")');
out.c = await client.execute("c", C_PROGRAM, {
    stdin: "from stdin\n",
    args: ["alpha", "beta"],
    compileTimeout: 30000,
});
out.stdin = await client.execute("python", "import sys\nprint(sys.stdin.read().upper(), end='')", {
    stdin: "two\nlines\n",
});
out.args = await client.execute("python", "import sys\nprint(sys.argv[1:])", {
    args: ["x", "y z"],
});
out.unknown_version = await client.execute("python", "print(1)", { version: "9.9" });
out.unknown_language = await client.execute("klingon", "DISPLAY 'HI'.");
console.log(JSON.stringify(out));
