/* runcell batch: one JSON request per line on stdin, one JSON answer per line on stdout, in
 * order. One process serves them all, so toolchains, seccomp filters and root filesystems are
 * loaded once, and a prepared sandbox per language waits for the next request (refilled after
 * each answer is written, so preparing is not part of any request's time).
 *
 * Request:  {"id":..., "language":"python", "version"?:"3.13",
 *            "files":[{"name":"main.py","content":"..."}] | "source":"...", "stdin":"...",
 *            "args":[...], "limits":{...}, "compile_limits":{...}}
 * Answer:   {"id":..., "language","version","compile":{...}|null,"run":{...}|null}
 *           or {"id":..., "error":{"code":"bad_request|unknown_language|unknown_version|
 *                                          unavailable", "message":"..."}} */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "engine/catalog.h"
#include "engine/request.h"
#include "job/result_json.h"
#include "util/jsonstrict.h"

#define BATCH_LINE_MAX (64u << 20)

static cJSON *error_answer(const char *code, const char *msg)
{
        cJSON *o = cJSON_CreateObject();
        cJSON *e = cJSON_AddObjectToObject(o, "error");
        cJSON_AddStringToObject(e, "code", code);
        cJSON_AddStringToObject(e, "message", msg);
        return o;
}

static cJSON *handle(catalog_t *c, const cJSON *req, lang_t **used)
{
        run_request_t rr;
        const char *code = NULL;
        char msg[600];
        if (run_request_parse(c, req, false, &rr, &code, msg, sizeof(msg)) < 0)
                return error_answer(code, msg);
        *used = rr.lang;
        job_spec_t js;
        run_request_job_spec(c, &rr, &js);
        js.capture = true;
        job_result_t res;
        rc_err_t err = {0};
        int r = job_run(&js, &res, &err);
        cJSON *ans = r < 0 ? error_answer("bad_request", err.msg)
                           : job_result_json(rr.lang->tc->name, rr.lang->version, &res);
        if (r == 0)
                job_result_free(&res);
        run_request_free(&rr);
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
        catalog_t c;
        rc_err_t err = {0};
        if (catalog_open(&c, paths, pool_size, &err) < 0 ||
            (warm && catalog_warm(&c, warm, &err) < 0)) {
                catalog_close(&c);
                return cli_fail("%s", err.msg);
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
                char why[160], emsg[200];
                cJSON *req = json_parse_strict(line, (size_t)n, why, sizeof(why));
                lang_t *used = NULL;
                snprintf(emsg, sizeof(emsg), "invalid JSON: %s", why);
                cJSON *ans = req ? handle(&c, req, &used) : error_answer("bad_request", emsg);
                write_answer(ans, req);
                cJSON_Delete(req);
                if (used) /* after the answer: the next request of this language starts prepared */
                        catalog_refill(&c, used);
        }
        free(line);
        catalog_close(&c);
        return 0;
}
