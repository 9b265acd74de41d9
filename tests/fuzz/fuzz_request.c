/* libFuzzer target: the run document (engine/request.h run_request_parse), as a server reads
 * it: the bytes through json_parse_strict, then checked against a catalogue of the source
 * tree's toolchains (the *.json files of toolchains/, seccomp-profiles/), with "tests" allowed (a
 * judging dialect's documents), then turned into a job spec and freed.
 *
 * No root filesystem is built or unpacked (that would take tar and a process): each language
 * of the catalogue is set up as catalog_lang leaves it once its root filesystem is there (ready,
 * available, its seccomp profile compiled), with a root filesystem path that does not exist
 * and version "1.0.0". Nothing is written. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "engine/catalog.h"
#include "engine/request.h"
#include "util/err.h"
#include "util/jsonstrict.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static rc_paths_t paths;
static catalog_t cat;

static void cleanup(void)
{
        catalog_close(&cat);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        const char *src = getenv("RUNCELL_SOURCE_DIR");
        if (!src || !*src)
                src = RUNCELL_SOURCE_DIR;
        static char tc_dir[4096], sc_dir[4096];
        snprintf(tc_dir, sizeof(tc_dir), "%s/toolchains", src);
        snprintf(sc_dir, sizeof(sc_dir), "%s/seccomp-profiles", src);
        paths.toolchains_dir = tc_dir;
        paths.seccomp_dir = sc_dir;
        paths.rootfs_dir = "/nonexistent/runcell-fuzz/rootfs";
        paths.state_dir = "/nonexistent/runcell-fuzz/state";
        paths.rlimit_only = true;
        rc_err_t err = {0};
        if (catalog_load(&cat, &paths, &err) < 0 || cat.set.n == 0) {
                fprintf(stderr, "fuzz_request: no catalogue from %s: %s\n", tc_dir, err.msg);
                exit(1);
        }
        for (size_t i = 0; i < cat.set.n; i++) {
                lang_t *l = &cat.langs[i];
                l->tc = cat.set.items[i];
                l->rootfs = strdup("/nonexistent/runcell-fuzz/rootfs/tree");
                l->version = strdup("1.0.0");
                if (!l->rootfs || !l->version ||
                    catalog_load_profile(&paths, l->tc, &l->filter, &err) < 0) {
                        fprintf(stderr, "fuzz_request: %s: %s\n", l->tc->name, err.msg);
                        exit(1);
                }
                l->ready = true;
                /* probed without a tarball's .sha256: lang_probe keeps what it knows */
                l->probed = true;
                l->available = true;
        }
        atexit(cleanup);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char why[256];
        cJSON *doc = json_parse_strict((const char *)data, size, why, sizeof(why));
        if (!doc)
                return 0;
        run_request_t rr;
        const char *code = NULL;
        char msg[512];
        if (run_request_parse(&cat, doc, true, &rr, &code, msg, sizeof(msg)) == 0) {
                job_spec_t js;
                memset(&js, 0, sizeof(js));
                run_request_job_spec(&cat, &rr, &js);
        } else if (!code) {
                abort(); /* a refusal always says which */
        }
        run_request_free(&rr);
        cJSON_Delete(doc);
        return 0;
}
