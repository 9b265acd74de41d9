#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
        fputs("usage: runcell [--toolchains DIR] [--rootfs-dir DIR] [--state-dir DIR] "
              "[--rlimit-only]\n"
              "               COMMAND\n"
              "\n"
              "commands:\n"
              "  run --lang L [--stdin FILE] [--json] [limits] FILE... [-- ARGS...]\n"
              "                      compile (if needed) and run FILE... in a fresh sandbox\n"
              "  serve [--listen HOST:PORT] [--max-concurrent N] [--queue N] [--pool N]\n"
              "        [--warm LANG,...]\n"
              "                      HTTP and WebSocket server (docs/protocol.md); default\n"
              "                      127.0.0.1:8080, one run per core, 64 waiting\n"
              "  batch [--pool N] [--warm LANG,...]\n"
              "                      one JSON request per line on stdin, one answer per line on\n"
              "                      stdout; keeps N prepared sandboxes per language (default 1)\n"
              "  languages [--json]  list the languages and their versions\n"
              "  doctor [--json]     report what this host offers and what runcell enforces\n"
              "  version             print runcell's version\n"
              "\n"
              "run limits: --wall-ms N --cpu-ms N --memory-mb N --processes N --output-bytes N\n"
              "            --file-size-mb N --disk-mb N --open-files N --stack-mb N\n"
              "            (apply to the run stage)\n"
              "\n"
              "--rlimit-only (or RUNCELL_RLIMIT_ONLY=1): run without cgroup limits on memory, CPU\n"
              "             and processes, for development on a host without delegated cgroups\n"
              "\n"
              "environment: RUNCELL_TOOLCHAINS, RUNCELL_ROOTFS_DIR, RUNCELL_STATE_DIR,\n"
              "             RUNCELL_SANDBOX_UID/GID (root only: the ids sandboxes run as)\n",
              f);
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

int cli_load_profile(const rc_paths_t *paths, const toolchain_t *tc, seccomp_bpf_t *out,
                     rc_err_t *err)
{
        char *path = NULL;
        if (asprintf(&path, "%s/%s.json", paths->seccomp_dir,
                     tc->seccomp_profile ? tc->seccomp_profile : "default") < 0)
                return rc_err_set(err, ENOMEM, "out of memory");
        int r = seccomp_profile_load_file(path, out, err);
        free(path);
        return r;
}

int cli_main(int argc, char **argv)
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
        if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
                printf("runcell %s\n", RUNCELL_VERSION);
                return 0;
        }
        if (strcmp(cmd, "help") == 0) {
                usage(stdout);
                return 0;
        }
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
        else if (strcmp(cmd, "languages") == 0)
                r = cmd_languages(&paths, argc - i, argv + i);
        else if (strcmp(cmd, "serve") == 0)
                r = cmd_serve(&paths, argc - i, argv + i);
        else if (strcmp(cmd, "batch") == 0)
                r = cmd_batch(&paths, argc - i, argv + i);
        else if (strcmp(cmd, "doctor") == 0)
                r = cmd_doctor(&paths, argc - i, argv + i);
        else
                r = cli_fail("unknown command '%s' (see runcell --help)", cmd);
        rc_paths_free(&paths);
        return r;
}
