/* libFuzzer target: artifact_unstream (server/artifacts.h), a functions artifact's stream as a
 * shared store hands it to another node. The input goes into a memfd and is unpacked under a
 * directory of this process's own (mkdtemp in TMPDIR), named by the input's own sha256 so that
 * a well-formed stream gets as far as being renamed into place; the directory's contents are
 * removed after every input and the directory itself at exit. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/artifacts.h"
#include "util/err.h"
#include "util/sha256.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char art_dir[4096];
static int mfd = -1;

static void cleanup(void)
{
        if (art_dir[0])
                artifact_rm_tree(art_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        const char *tmp = getenv("TMPDIR");
        snprintf(art_dir, sizeof(art_dir), "%s/runcell-fuzz-art-XXXXXX",
                 tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(art_dir)) {
                perror("mkdtemp");
                exit(1);
        }
        atexit(cleanup);
        mfd = memfd_create("fuzz-artifact", MFD_CLOEXEC);
        if (mfd < 0) {
                perror("memfd_create");
                exit(1);
        }
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (ftruncate(mfd, 0) < 0 || pwrite(mfd, data, size, 0) != (ssize_t)size)
                abort();
        char sha[65];
        sha256_hex(data, size, sha);
        rc_err_t err = {0};
        artifact_unstream(art_dir, 1 << 20, mfd, (int64_t)size, sha, &err);
        /* what it wrote goes, the directory stays */
        int r = artifact_rm_tree(art_dir);
        if (r < 0) {
                /* what it accepted and wrote must go again (artifacts_prune does the same) */
                fprintf(stderr, "fuzz_artifacts: cannot remove what was unpacked: %s\n",
                        strerror(-r));
                abort();
        }
        if (mkdir(art_dir, 0700) < 0)
                abort();
        return 0;
}
