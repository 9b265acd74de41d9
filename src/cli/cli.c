#include "cli/cli.h"

#include "util/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Help: the global part, then one section per command. `runcell help` prints them all;
 * `runcell help CMD` and `runcell CMD --help` print that command's section and the global
 * options. Every option a command accepts is listed here. */
static const char help_global[] =
    "usage: runcell [GLOBAL OPTIONS] COMMAND [OPTIONS]\n"
    "\n"
    "commands:\n"
    "  run        compile (if needed) and run source files in a fresh sandbox\n"
    "  judge      compile once, run against a directory of tests, a verdict per test\n"
    "  serve      HTTP and WebSocket server (docs/protocol.md)\n"
    "  batch      one JSON request per line on stdin, one JSON answer per line on stdout\n"
    "  warm       keep sandboxes ready for the next runcell run commands of this user\n"
    "  fn         deploy, invoke and manage a running server's functions\n"
    "  languages  list the languages and their versions\n"
    "  doctor     report what this host offers and what runcell enforces\n"
    "  version    print runcell's version\n"
    "  help [COMMAND]  all of this help, or one command's\n";

static const char help_options[] =
    "global options (before COMMAND):\n"
    "  --toolchains DIR   toolchain definitions (*.json); env RUNCELL_TOOLCHAINS\n"
    "  --rootfs-dir DIR   root filesystem tarballs; env RUNCELL_ROOTFS_DIR\n"
    "  --state-dir DIR    unpacked root filesystems; env RUNCELL_STATE_DIR\n"
    "  --rlimit-only      run without cgroup limits on memory, CPU and processes, for\n"
    "                     development on a host without delegated cgroups (env\n"
    "                     RUNCELL_RLIMIT_ONLY=1)\n"
    "  -h, --help         help (also after a command: runcell run --help)\n"
    "\n"
    "environment: RUNCELL_TOOLCHAINS, RUNCELL_ROOTFS_DIR, RUNCELL_STATE_DIR,\n"
    "             RUNCELL_SECCOMP_PROFILES (seccomp profile directory), RUNCELL_RLIMIT_ONLY,\n"
    "             RUNCELL_SANDBOX_IDS=FIRST-LAST (root only: each running sandbox runs as\n"
    "             its own uid and gid of this range; default 2000000000-2000065535),\n"
    "             RUNCELL_TRACE=1 (time each step of runcell's own work, on stderr),\n"
    "             RUNCELL_SHARED_STATE_DIR (root's state directory, whose unpacked root\n"
    "             filesystems another user's runcell uses read-only; default\n"
    "             /var/lib/runcell with the default state directory; \"\": none)\n";

static const struct {
        const char *name;
        const char *text;
} help_cmds[] = {
    {"run",
     "runcell run [--lang L] [--lang-version V] [--name NAME] [--stdin FILE|-] [--json]\n"
     "            [-t] [--outputs GLOB... --outputs-dir DIR] [--no-warm]\n"
     "            [limits] FILE... [-- ARGS...]\n"
     "  compile (if the language compiles) and run FILE... in a fresh sandbox; the files go\n"
     "  to /work under their base names, the first is the entry point; ARGS go to the\n"
     "  program. A FILE may be a pipe, e.g. <(...); \"-\" is runcell's stdin.\n"
     "  -l, --lang L       language or alias (runcell languages); default: guessed from the\n"
     "                     entry file's extension (source_extensions in toolchains/*.json)\n"
     "  --lang-version V   the language's version (runcell languages): exact (1.24.4), its\n"
     "                     start up to a dot (1.24, 1) or * (default: the newest built)\n"
     "  --name NAME        the entry file's name in /work (default: its base name; a pipe\n"
     "                     or \"-\" without an extension gets the language's source file\n"
     "                     name, e.g. main.py)\n"
     "  --stdin FILE       the program's stdin is FILE (a file or a pipe); \"-\": runcell's\n"
     "                     stdin. Default: runcell's stdin, passed on as the program reads\n"
     "                     it: a pipe or file, /dev/null (end of input at once) or a terminal\n"
     "                     (Ctrl-D ends input; in the background: no input)\n"
     "  --json             print one JSON object with both stages instead of streaming\n"
     "  -t, --tty          interactive: the run stage gets a terminal of its own (isatty,\n"
     "                     its size, Ctrl-C as SIGINT, line editing), relayed to runcell's\n"
     "                     terminal in raw mode (restored at the end; a window resize is\n"
     "                     passed on). runcell's stdin must be a terminal; not with --json\n"
     "                     or --stdin. The compile stage stays on pipes\n"
     "  --outputs GLOB     hand back the files of /work the pattern matches once the run\n"
     "                     stage is over (\"*.png\", \"out/x?.txt\"; up to 16 of these)\n"
     "  --outputs-dir DIR  write them into DIR (created; nothing is written over)\n"
     "  --no-warm          make the sandbox here even when a runcell warm of this user\n"
     "                     listens in the state directory (it lends one made ahead;\n"
     "                     never with -t)\n"
     "  limits (run stage; defaults per language in toolchains/*.json):\n"
     "    --wall-ms N --cpu-ms N --memory-mb N --processes N --output-bytes N\n"
     "    --file-size-mb N --disk-mb N --open-files N --stack-mb N\n"
     "    --outputs-count N --outputs-file-bytes N --outputs-total-bytes N\n"},
    {"judge",
     "runcell judge [--lang L] [--name NAME] --tests DIR [--compare MODE] [--abs-tol X]\n"
     "              [--checker FILE [--checker-lang L]]\n"
     "              [--rel-tol X] [--parallel N] [--stop-on-first-failure]\n"
     "              [--fresh-sandboxes] [--json] [limits] FILE... [-- ARGS...]\n"
     "  compile FILE... once, then run it against every test of DIR, several at once, the\n"
     "  tests that follow each other in a sandbox reset between them (docs/protocol.md):\n"
     "  NAME.in is a test's stdin, NAME.out its expected output\n"
     "  (either may be missing: no input, or nothing compared). One line per test as it\n"
     "  ends (verdict, time, memory, the first differing line), then the summary. Exit\n"
     "  status 0 only when every test passed (1 otherwise; 3 on an internal error).\n"
     "  --tests DIR        the tests (at most 1000)\n"
     "  --compare MODE     trim (default: trailing white space of lines and of the whole\n"
     "                     ignored, as Judge0 compares), exact, tokens (white-space\n"
     "                     separated), float (tokens; numbers within a tolerance)\n"
     "  --abs-tol X, --rel-tol X  float tolerances (default 1e-6 each)\n"
     "  --checker FILE     compare with a checker program instead (any language; testlib's\n"
     "                     conventions): it runs in a sandbox of its own per test with\n"
     "                     input.txt output.txt answer.txt; exit 0 accepted, 1 wrong_answer,\n"
     "                     2 presentation_error, anything else internal_error (its fault)\n"
     "  --checker-lang L   the checker's language (default: by its extension)\n"
     "  --parallel N       tests at once, 1 to 64 (default: one per core)\n"
     "  --stop-on-first-failure  start no test after one that failed\n"
     "  --fresh-sandboxes  a new sandbox for every test, not one reset between tests\n"
     "  --json             one JSON object: compile, tests (verdict, run, diff), summary\n"
     "  -l/--lang, --name, limits: as for run (the limits are each test's)\n"},
    {"serve",
     "runcell serve [--config FILE] [--listen HOST:PORT] [--max-concurrent N] [--queue N]\n"
     "              [--pool N] [--warm LANG,...] [--log-format logfmt|json]\n"
     "              [--drain-delay MS]\n"
     "  HTTP and WebSocket server on one port (docs/protocol.md, docs/dialects.md)\n"
     "  --config FILE      JSON configuration (docs/protocol.md); the options below win\n"
     "  --listen HOST:PORT IPv4 address or host name (resolved; the first IPv4 address is\n"
     "                     used) and port; default 127.0.0.1:8080; port 0: any free port\n"
     "  --max-concurrent N runs going at once, 1 to 4096 (default: one per core)\n"
     "  --queue N          runs waiting beyond those, 0 to 1048576 (default 64)\n"
     "  --pool N           prepared sandboxes kept per language, 0 to 16 (default 1)\n"
     "  --warm LANG,...    prepare sandboxes for these languages at start\n"
     "  --log-format F     the log on stderr: logfmt (default) or json, one line per event\n"
     "                     (docs/OPERATIONS.md)\n"
     "  --drain-delay MS   after SIGTERM, stay up at least this long, refusing runs and\n"
     "                     answering /healthz 503, for a load balancer (docs/DEPLOY.md);\n"
     "                     0 to 3600000, default 0\n"
     "  SIGHUP reads the --config file again (the options above still win) and puts all of\n"
     "  it in force or, if it is bad or changes what needs a restart (listen, tls, pool,\n"
     "  the directories, store, ...), none of it, in one log line (event=reload); runs\n"
     "  going keep their settings. Then it reloads the languages (toolchains and root\n"
     "  filesystems), as the config's rescan_interval_s (default 10) does when their files\n"
     "  changed\n"},
    {"warm",
     "runcell warm [--per-kind N] [--idle SECONDS]\n"
     "  keep sandboxes ready for this user's runcell run commands, which take one from it\n"
     "  (over STATE_DIR/warm.sock) instead of building their own: each sandbox is new,\n"
     "  serves one run and is then taken down; only its preparing is done ahead. Runs in\n"
     "  the foreground (start it with & or as a service); its leaves go beside the\n"
     "  runs' under the cgroup it starts in. SIGTERM, SIGINT or SIGHUP: no more lending,\n"
     "  the runs lent finish (a second signal ends them)\n"
     "  --per-kind N       sandboxes kept ready per kind of run (language and limits), 1 to 8\n"
     "                     (default 1)\n"
     "  --idle SECONDS     exit after this long without a run; 0: never (default 600)\n"},
    {"batch",
     "runcell batch [--pool N] [--warm LANG,...]\n"
     "  one JSON request per line on stdin, one JSON answer per line on stdout (README.md)\n"
     "  --pool N           prepared sandboxes kept per language, 0 to 16 (default 1)\n"
     "  --warm LANG,...    prepare sandboxes for these languages at start\n"},
    {"fn",
     "runcell fn deploy NAME FILE... --lang L [--lang-version V] [--name NAME] [--mode M]\n"
     "                  [--arg A]... [--env K=V]... [settings] [limits]\n"
     "       runcell fn invoke NAME [--stdin FILE|-] [--envelope] [--version N]\n"
     "       runcell fn ls | show NAME | versions NAME | rm NAME\n"
     "       runcell fn rollback NAME [--version N]\n"
     "  a client of a running server's functions (docs/protocol.md, \"Functions\"); each\n"
     "  command also takes:\n"
     "  --server URL       the server, http://HOST:PORT (default $RUNCELL_SERVER, else\n"
     "                     http://127.0.0.1:8080). HOST: an IPv4 address, [IPv6], localhost\n"
     "                     or a name in /etc/hosts (no DNS)\n"
     "  --token T          sent as Authorization: Bearer T (default $RUNCELL_TOKEN)\n"
     "  --timeout S        the longest wait for the server, in seconds (default 300)\n"
     "  --json             print the server's JSON answer as it is (not invoke)\n"
     "  deploy: compile FILE... once on the server (the first is the entry point; \"-\" is\n"
     "  stdin) and make it NAME's new version; prints the version. A compile error prints\n"
     "  the compiler's output on stderr, deploys nothing and exits 1.\n"
     "  --lang L           the language (required); --lang-version V (or --version V) one\n"
     "                     of its versions (default: the newest)\n"
     "  --name NAME        the entry file's name in /work (default: its base name)\n"
     "  --mode M           stdin (default: the body is stdin, stdout the answer), json\n"
     "                     (the body must be JSON) or cgi (a web handler at /fn/NAME/)\n"
     "  --content-type T   the answer's type in stdin mode\n"
     "  --arg A            an argument for the program (repeatable)\n"
     "  --env K=V          an environment variable for the program (repeatable)\n"
     "  --compile-option W a compile option (repeatable; the server's allowlist applies)\n"
     "  --cgi-header NAME  one more request header a cgi program gets (repeatable)\n"
     "  settings: --min-warm N --max-concurrent N --queue-max N --rpm N --idle-s N\n"
     "  limits (each invocation's): --wall-ms N --cpu-ms N --memory-mb N --processes N\n"
     "    --output-bytes N --file-size-mb N --disk-mb N --open-files N --stack-mb N;\n"
     "    the compile's: the same as --compile-wall-ms N, ...\n"
     "  invoke: run NAME once; its output is printed as it is, and runcell exits with the\n"
     "  program's exit status (128+N for signal N; 1 for a limit hit without one).\n"
     "  --stdin FILE       the program's stdin is FILE (\"-\": runcell's stdin; default: empty)\n"
     "  --envelope         print the JSON envelope (status, exit_code, stdout, stderr, ...)\n"
     "  --version N        invoke a kept version other than the current one\n"
     "  ls: the functions; show: one function and its counters; versions: its kept versions,\n"
     "  newest first, one line each starting with the number; rollback: back to the version\n"
     "  before the current one, or to --version N; rm: remove the function\n"},
    {"languages", "runcell languages [--json]\n"
                  "  list the languages, their aliases, versions and root filesystems\n"
                  "  --json             one JSON array\n"},
    {"doctor", "runcell doctor [--json]\n"
               "  report what this host offers a sandbox and what runcell enforces here\n"
               "  (user namespaces and AppArmor, seccomp, filesystems, cgroups)\n"
               "  --json             one JSON object\n"},
    {"version", "runcell version\n"
                "  print runcell's version (also: runcell --version)\n"},
    {"help", "runcell help [COMMAND]\n"
             "  all of this help, or one command's\n"},
};

static void usage(FILE *f)
{
        fputs(help_global, f);
        for (size_t i = 0; i < ARRAY_SIZE(help_cmds); i++)
                fprintf(f, "\n%s", help_cmds[i].text);
        fprintf(f, "\n%s", help_options);
}

/* One command's help on stdout; 1 (with a message) for an unknown command. */
static int command_help(const char *cmd)
{
        for (size_t i = 0; i < ARRAY_SIZE(help_cmds); i++)
                if (strcmp(help_cmds[i].name, cmd) == 0) {
                        printf("usage: %s\n%s", help_cmds[i].text, help_options);
                        return 0;
                }
        return cli_fail("unknown command '%s' (see runcell --help)", cmd);
}

/* Whether a command's options (up to "--") ask for help. */
static bool wants_help(int argc, char **argv)
{
        for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
                if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
                        return true;
        return false;
}

int cli_fail(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        fputs("runcell: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
        return 1;
}

/* runcell serve: the same command line, run by the runcell-serve executable beside this one. */
static int exec_server(char **argv)
{
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n <= 0)
                return cli_fail("serve: cannot find this executable: %s", strerror(errno));
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (!slash || (size_t)(slash - self) + sizeof("/runcell-serve") > sizeof(self))
                return cli_fail("serve: cannot find this executable's directory");
        strcpy(slash, "/runcell-serve");
        execv(self, argv);
        return cli_fail("serve: cannot run %s (the server is installed next to runcell): %s", self,
                        strerror(errno));
}

int cli_main(int argc, char **argv, cli_cmd_fn serve)
{
        const char *opt_tc = NULL, *opt_rootfs = NULL, *opt_state = NULL;
        bool rlimit_only = false;
        int i = 1;
        /* A program that closes its stdin early must not kill runcell with SIGPIPE. */
        signal(SIGPIPE, SIG_IGN);
        /* Started with 0, 1 or 2 closed, the next pipe would take its number, and a sandbox's
         * pipe would be mistaken for stdio: fill the gaps with /dev/null. */
        for (int fd = 0; fd < 3; fd++)
                if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
                        return cli_fail("cannot set up stdio");
        for (; i < argc && argv[i][0] == '-'; i++) {
                const char *a = argv[i];
                const char **dst = NULL;
                if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
                        usage(stdout);
                        return 0;
                }
                if (strcmp(a, "--version") == 0) {
                        printf("runcell %s\n", RUNCELL_VERSION);
                        return 0;
                }
                if (strcmp(a, "--rlimit-only") == 0) {
                        rlimit_only = true;
                        continue;
                }
                if (strcmp(a, "--toolchains") == 0)
                        dst = &opt_tc;
                else if (strcmp(a, "--rootfs-dir") == 0)
                        dst = &opt_rootfs;
                else if (strcmp(a, "--state-dir") == 0)
                        dst = &opt_state;
                else
                        return cli_fail("unknown option %s (see runcell --help)", a);
                if (i + 1 >= argc)
                        return cli_fail("%s needs a value", a);
                *dst = argv[++i];
        }
        if (i >= argc) {
                usage(stderr);
                return 2;
        }
        const char *cmd = argv[i];
        if (wants_help(argc - i, argv + i))
                return command_help(cmd);
        if (strcmp(cmd, "version") == 0) {
                printf("runcell %s\n", RUNCELL_VERSION);
                return 0;
        }
        if (strcmp(cmd, "help") == 0) {
                if (i + 1 < argc)
                        return command_help(argv[i + 1]);
                usage(stdout);
                return 0;
        }
        /* fn is a client of a server: it needs no local toolchains or state directory. */
        if (strcmp(cmd, "fn") == 0)
                return cmd_fn(NULL, argc - i, argv + i);
        rc_paths_t paths;
        rc_err_t err = {0};
        if (rc_paths_resolve(&paths, opt_tc, opt_rootfs, opt_state, &err) < 0) {
                rc_paths_free(&paths);
                return cli_fail("%s", err.msg);
        }
        paths.rlimit_only |= rlimit_only;
        paths.toolchains_given = opt_tc != NULL;
        paths.rootfs_given = opt_rootfs != NULL;
        paths.state_given = opt_state != NULL;
        int r;
        if (strcmp(cmd, "run") == 0)
                r = cmd_run(&paths, argc - i, argv + i);
        else if (strcmp(cmd, "judge") == 0)
                r = cmd_judge(&paths, argc - i, argv + i);
        else if (strcmp(cmd, "languages") == 0)
                r = cmd_languages(&paths, argc - i, argv + i);
        else if (strcmp(cmd, "serve") == 0)
                r = serve ? serve(&paths, argc - i, argv + i) : exec_server(argv);
        else if (strcmp(cmd, "batch") == 0)
                r = cmd_batch(&paths, argc - i, argv + i);
        else if (strcmp(cmd, "warm") == 0)
                r = cmd_warm(&paths, argc - i, argv + i);
        else if (strcmp(cmd, "doctor") == 0)
                r = cmd_doctor(&paths, argc - i, argv + i);
        else
                r = cli_fail("unknown command '%s' (see runcell --help)", cmd);
        rc_paths_free(&paths);
        return r;
}
