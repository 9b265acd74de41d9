/* libFuzzer target: runcell-serve's config file (load_config in src/cli/cmd_serve.c: the JSON
 * object into the server's options). load_config is static and reads a path, so this file
 * compiles cmd_serve.c itself and hands it /proc/self/fd/N of a memfd holding the input;
 * runcell_cli is linked without --whole-archive (CMakeLists.txt) so that the archive's own
 * cmd_serve.o is not pulled in. The arguments are parsed as for a reload (the dialects'
 * configure() is not called: it keeps its options in the dialects' globals). Nothing is
 * started, opened or written. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../src/cli/cmd_serve.c"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int mfd = -1;
static char mpath[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        mfd = memfd_create("fuzz-config", MFD_CLOEXEC);
        if (mfd < 0) {
                perror("memfd_create");
                exit(1);
        }
        snprintf(mpath, sizeof(mpath), "/proc/self/fd/%d", mfd);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (ftruncate(mfd, 0) < 0 || pwrite(mfd, data, size, 0) != (ssize_t)size)
                abort();
        serve_args_t a;
        serve_args_init(&a);
        a.reloading = true;
        rc_err_t err = {0};
        load_config(&a, mpath, &err);
        serve_args_free_rest(&a);
        server_opts_free(&a.o);
        return 0;
}
