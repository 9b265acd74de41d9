#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/catalog.h"
#include "cli/cli.h"
#include "server/server.h"

static int parse_int(const char *flag, const char *v, int lo, int hi, int *out)
{
        char *end;
        long n = strtol(v, &end, 10);
        if (*end || n < lo || n > hi)
                return cli_fail("%s: a number from %d to %d", flag, lo, hi);
        *out = (int)n;
        return 0;
}

int cmd_serve(const rc_paths_t *paths, int argc, char **argv)
{
        static char host[64] = "127.0.0.1";
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        server_opts_t o = {.host = host,
                           .port = 8080,
                           .max_concurrent = cores > 0 ? (int)cores : 1,
                           .queue_max = 64};
        int pool = 1;
        const char *warm = NULL;
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                if (i + 1 >= argc)
                        return cli_fail("serve: %s needs a value", a);
                const char *v = argv[++i];
                if (strcmp(a, "--listen") == 0) {
                        const char *colon = strrchr(v, ':');
                        if (!colon || colon == v || (size_t)(colon - v) >= sizeof(host))
                                return cli_fail("--listen: HOST:PORT, e.g. 127.0.0.1:8080");
                        memcpy(host, v, (size_t)(colon - v));
                        host[colon - v] = '\0';
                        if (parse_int("--listen port", colon + 1, 0, 65535, &o.port))
                                return 1;
                } else if (strcmp(a, "--max-concurrent") == 0) {
                        if (parse_int(a, v, 1, 4096, &o.max_concurrent))
                                return 1;
                } else if (strcmp(a, "--queue") == 0) {
                        if (parse_int(a, v, 0, 1 << 20, &o.queue_max))
                                return 1;
                } else if (strcmp(a, "--pool") == 0) {
                        if (parse_int(a, v, 0, 16, &pool))
                                return 1;
                } else if (strcmp(a, "--warm") == 0) {
                        warm = v;
                } else {
                        return cli_fail("serve: unknown option %s", a);
                }
        }
        catalog_t c;
        rc_err_t err = {0};
        int rc = 0;
        if (catalog_open(&c, paths, (unsigned)pool, &err) < 0 ||
            (warm && catalog_warm(&c, warm, &err) < 0) || server_run(&c, &o, &err) < 0)
                rc = cli_fail("%s", err.msg);
        catalog_close(&c);
        return rc;
}
