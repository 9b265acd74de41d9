/* runcell batch: one JSON request per line on stdin, one JSON answer per line on stdout, in
 * order. One process serves them all, so toolchains, seccomp filters and root filesystems are
 * loaded once, and a prepared sandbox per language waits for the next request (refilled after
 * each answer is written, so preparing is not part of any request's time).
 *
 * Request:  {"id":..., "language":"python", "files":[{"name":"main.py","content":"..."}]
 *            | "source":"...", "stdin":"...", "args":[...], "limits":{...},
 *            "compile_limits":{...}}
 * Answer:   {"id":..., "language","version","compile":{...}|null,"run":{...}|null}
 *           or {"id":..., "error":{"code":"bad_request|unknown_language|unavailable",
 *                                  "message":"..."}} */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "job/job.h"
#include "job/result_json.h"
#include "rootfs/store.h"
#include "seccomp/profile.h"
#include "util/cleanup.h"

#define BATCH_LINE_MAX  (64u << 20)
#define BATCH_FILES_MAX 256

typedef struct lang_state {
        const toolchain_t *tc;
        char *rootfs;
        char *version;
        seccomp_bpf_t filter;
        bool ready;
} lang_state_t;

typedef struct batch {
        const rc_paths_t *paths;
        toolchain_set_t set;
        rootfs_store_t store;
        cg_manager_t *cgroups;
        job_pool_t *pool;
        lang_state_t *langs; /* one per toolchain, same order as set.items */
} batch_t;

static int lang_ready(batch_t *b, const toolchain_t *tc, lang_state_t **out, rc_err_t *err)
{
        size_t i = 0;
        while (b->set.items[i] != tc)
                i++;
        lang_state_t *ls = &b->langs[i];
        if (!ls->ready) {
                ls->tc = tc;
                if (rootfs_prepare(&b->store, tc->rootfs, &ls->rootfs, err) < 0)
                        return -EIO;
                rootfs_package_version(&b->store, tc->rootfs, tc->version_package, &ls->version,
                                       NULL);
                if (cli_load_profile(b->paths, tc, &ls->filter, err) < 0)
                        return -EIO;
                ls->ready = true;
        }
        *out = ls;
        return 0;
}

static void job_spec_for(batch_t *b, const lang_state_t *ls, job_spec_t *js)
{
        memset(js, 0, sizeof(*js));
        js->tc = ls->tc;
        js->rootfs = ls->rootfs;
        js->seccomp = &ls->filter;
        js->cgroups = b->cgroups;
        js->cpus = 1.0;
        js->pool = b->pool;
        js->host_uid = b->paths->sandbox_uid;
        js->host_gid = b->paths->sandbox_gid;
        js->capture = true;
        js->cancel_fd = -1;
        js->compile_limits = ls->tc->limits_compile;
        js->run_limits = ls->tc->limits_run;
        limits_fill_defaults(&js->compile_limits);
        limits_fill_defaults(&js->run_limits);
}

static cJSON *error_answer(const char *code, const char *msg)
{
        cJSON *o = cJSON_CreateObject();
        cJSON *e = cJSON_AddObjectToObject(o, "error");
        cJSON_AddStringToObject(e, "code", code);
        cJSON_AddStringToObject(e, "message", msg);
        return o;
}

static const char *get_str(const cJSON *o, const char *key)
{
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
        return cJSON_IsString(it) ? it->valuestring : NULL;
}

/* Handle one request; returns the answer. *refill is set to the language used. */
static cJSON *handle(batch_t *b, const cJSON *req, lang_state_t **used)
{
        char msg[600];
        rc_err_t err = {0};
        if (!cJSON_IsObject(req))
                return error_answer("bad_request", "a request is a JSON object");
        const char *lang = get_str(req, "language");
        if (!lang)
                return error_answer("bad_request", "\"language\" (a string) is required");
        const toolchain_t *tc = toolchain_set_find(&b->set, lang);
        if (!tc) {
                snprintf(msg, sizeof(msg), "unknown language '%.100s'", lang);
                return error_answer("unknown_language", msg);
        }
        lang_state_t *ls = NULL;
        if (lang_ready(b, tc, &ls, &err) < 0)
                return error_answer("unavailable", err.msg);
        *used = ls;

        job_input_file_t files[BATCH_FILES_MAX];
        size_t nfiles = 0;
        const cJSON *jf = cJSON_GetObjectItemCaseSensitive(req, "files");
        const char *source = get_str(req, "source");
        if (jf) {
                const cJSON *f;
                if (!cJSON_IsArray(jf) || cJSON_GetArraySize(jf) == 0)
                        return error_answer("bad_request", "\"files\" must be a non-empty array");
                cJSON_ArrayForEach(f, jf)
                {
                        const char *name = get_str(f, "name");
                        const char *content = get_str(f, "content");
                        if (!content)
                                return error_answer("bad_request",
                                                    "each file needs \"content\" (a string)");
                        if (nfiles == BATCH_FILES_MAX)
                                return error_answer("bad_request", "too many files");
                        files[nfiles++] = (job_input_file_t){.name = name ? name : tc->source_file,
                                                             .data = content,
                                                             .len = strlen(content)};
                }
        } else if (source) {
                files[nfiles++] = (job_input_file_t){
                    .name = tc->source_file, .data = source, .len = strlen(source)};
        } else {
                return error_answer("bad_request", "\"files\" or \"source\" is required");
        }
        strv_t args = {0};
        const cJSON *ja = cJSON_GetObjectItemCaseSensitive(req, "args");
        if (ja) {
                const cJSON *a;
                if (!cJSON_IsArray(ja))
                        return error_answer("bad_request", "\"args\" must be an array of strings");
                cJSON_ArrayForEach(a, ja)
                {
                        if (!cJSON_IsString(a) || strv_push(&args, a->valuestring) < 0) {
                                strv_free(&args);
                                return error_answer("bad_request",
                                                    "\"args\" must be an array of strings");
                        }
                }
        }
        job_spec_t js;
        job_spec_for(b, ls, &js);
        rc_limits_t over = {0};
        const cJSON *jl = cJSON_GetObjectItemCaseSensitive(req, "limits");
        if (jl && limits_from_json(jl, &over, "limits", &err) < 0) {
                strv_free(&args);
                return error_answer("bad_request", err.msg);
        }
        limits_overlay(&js.run_limits, &over);
        memset(&over, 0, sizeof(over));
        jl = cJSON_GetObjectItemCaseSensitive(req, "compile_limits");
        if (jl && limits_from_json(jl, &over, "compile_limits", &err) < 0) {
                strv_free(&args);
                return error_answer("bad_request", err.msg);
        }
        limits_overlay(&js.compile_limits, &over);
        const char *in = get_str(req, "stdin");
        js.stdin_data = in;
        js.stdin_len = in ? strlen(in) : 0;
        js.files = files;
        js.nfiles = nfiles;
        js.args = strv_array(&args);
        job_result_t res;
        int r = job_run(&js, &res, &err);
        strv_free(&args);
        cJSON *ans = r < 0 ? error_answer("bad_request", err.msg)
                           : job_result_json(tc->name, ls->version, &res);
        if (r == 0)
                job_result_free(&res);
        return ans;
}

static void write_answer(cJSON *ans, const cJSON *req)
{
        const cJSON *id = cJSON_IsObject(req) ? cJSON_GetObjectItemCaseSensitive(req, "id") : NULL;
        cJSON_AddItemToObject(ans, "id", id ? cJSON_Duplicate(id, 1) : cJSON_CreateNull());
        char *text = cJSON_PrintUnformatted(ans);
        if (text) {
                fputs(text, stdout);
                fputc('\n', stdout);
                fflush(stdout);
        }
        free(text);
        cJSON_Delete(ans);
}

int cmd_batch(const rc_paths_t *paths, int argc, char **argv)
{
        unsigned pool_size = 1;
        const char *warm = NULL;
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--pool") == 0 && i + 1 < argc) {
                        char *end;
                        long n = strtol(argv[++i], &end, 10);
                        if (*end || n < 0 || n > 16)
                                return cli_fail("--pool: a number from 0 to 16");
                        pool_size = (unsigned)n;
                } else if (strcmp(argv[i], "--warm") == 0 && i + 1 < argc) {
                        warm = argv[++i];
                } else {
                        return cli_fail("batch: unknown option %s (--pool N, --warm LANG,...)",
                                        argv[i]);
                }
        }
        batch_t b = {.paths = paths,
                     .store = {.rootfs_dir = paths->rootfs_dir, .state_dir = paths->state_dir}};
        rc_err_t err = {0};
        int rc = 1;
        if (toolchain_set_load(&b.set, paths->toolchains_dir, &err) < 0) {
                cli_fail("%s", err.msg);
                goto out;
        }
        b.langs = calloc(b.set.n, sizeof(*b.langs));
        b.pool = job_pool_new(pool_size);
        if (!b.langs || !b.pool) {
                cli_fail("out of memory");
                goto out;
        }
        if (cg_manager_open(paths->rlimit_only ? CG_MODE_NONE : CG_MODE_AUTO, &b.cgroups, &err) <
            0) {
                cli_fail("cannot enforce memory, CPU and process limits: %s (--rlimit-only runs "
                         "without them, for development)",
                         err.msg);
                goto out;
        }
        for (char *w = warm ? strdup(warm) : NULL, *save = NULL,
                  *tok = w ? strtok_r(w, ",", &save) : NULL;
             w; tok = strtok_r(NULL, ",", &save)) {
                if (!tok) {
                        free(w);
                        break;
                }
                const toolchain_t *tc = toolchain_set_find(&b.set, tok);
                lang_state_t *ls;
                job_spec_t js;
                if (!tc || lang_ready(&b, tc, &ls, &err) < 0) {
                        cli_fail("--warm %s: %s", tok, tc ? err.msg : "unknown language");
                        free(w);
                        goto out;
                }
                job_spec_for(&b, ls, &js);
                if (job_pool_fill(&js, &err) < 0)
                        fprintf(stderr, "runcell: batch: preparing %s: %s\n", tok, err.msg);
        }
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, stdin)) > 0) {
                if ((size_t)n > BATCH_LINE_MAX) {
                        write_answer(error_answer("bad_request", "request line too long"), NULL);
                        continue;
                }
                while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                        line[--n] = '\0';
                if (n == 0)
                        continue;
                cJSON *req = cJSON_ParseWithLength(line, (size_t)n);
                lang_state_t *used = NULL;
                cJSON *ans =
                    req ? handle(&b, req, &used) : error_answer("bad_request", "invalid JSON");
                write_answer(ans, req);
                cJSON_Delete(req);
                if (used) {
                        /* After the answer: the next request of this language starts prepared. */
                        job_spec_t js;
                        job_spec_for(&b, used, &js);
                        rc_err_t e2 = {0};
                        if (job_pool_fill(&js, &e2) < 0)
                                fprintf(stderr, "runcell: batch: preparing %s: %s\n",
                                        used->tc->name, e2.msg);
                }
        }
        free(line);
        rc = 0;
out:
        job_pool_free(b.pool);
        cg_manager_free(b.cgroups);
        for (size_t i = 0; b.langs && i < b.set.n; i++) {
                free(b.langs[i].rootfs);
                free(b.langs[i].version);
                seccomp_bpf_free(&b.langs[i].filter);
        }
        free(b.langs);
        toolchain_set_free(&b.set);
        return rc;
}
