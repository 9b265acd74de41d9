#include "engine/request.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *get_str(const cJSON *o, const char *key)
{
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
        return cJSON_IsString(it) ? it->valuestring : NULL;
}

static int fail(const char **code, const char *c, char *msg, size_t size, const char *text)
{
        *code = c;
        snprintf(msg, size, "%s", text);
        return -1;
}

int run_request_parse(catalog_t *c, const cJSON *req, run_request_t *out, const char **code,
                      char *msg, size_t msg_size)
{
        memset(out, 0, sizeof(*out));
        rc_err_t err = {0};
        if (!cJSON_IsObject(req))
                return fail(code, "bad_request", msg, msg_size, "a request is a JSON object");
        const char *name = get_str(req, "language");
        if (!name)
                return fail(code, "bad_request", msg, msg_size,
                            "\"language\" (a string) is required");
        const cJSON *jver = cJSON_GetObjectItemCaseSensitive(req, "version");
        if (jver && !cJSON_IsString(jver))
                return fail(code, "bad_request", msg, msg_size,
                            "\"version\" must be a string (\"*\" or absent: the newest)");
        const toolchain_t *tc = NULL;
        if (catalog_find(c, name, jver ? jver->valuestring : NULL, &tc, &err) < 0)
                return fail(code,
                            err.code == ENOENT  ? "unknown_language"
                            : err.code == ESRCH ? "unknown_version"
                                                : "unavailable",
                            msg, msg_size, err.msg);
        if (catalog_lang(c, tc, &out->lang, &err) < 0)
                return fail(code, "unavailable", msg, msg_size, err.msg);

        const cJSON *jf = cJSON_GetObjectItemCaseSensitive(req, "files");
        const char *source = get_str(req, "source");
        if (jf) {
                const cJSON *f;
                if (!cJSON_IsArray(jf) || cJSON_GetArraySize(jf) == 0)
                        return fail(code, "bad_request", msg, msg_size,
                                    "\"files\" must be a non-empty array");
                cJSON_ArrayForEach(f, jf)
                {
                        const char *fname = get_str(f, "name");
                        const char *content = get_str(f, "content");
                        if (!content)
                                return fail(code, "bad_request", msg, msg_size,
                                            "each file needs \"content\" (a string)");
                        if (out->nfiles == REQUEST_FILES_MAX)
                                return fail(code, "bad_request", msg, msg_size, "too many files");
                        out->files[out->nfiles++] =
                            (job_input_file_t){.name = fname ? fname : tc->source_file,
                                               .data = content,
                                               .len = strlen(content)};
                }
        } else if (source) {
                out->files[out->nfiles++] = (job_input_file_t){
                    .name = tc->source_file, .data = source, .len = strlen(source)};
        } else {
                return fail(code, "bad_request", msg, msg_size,
                            "\"files\" or \"source\" is required");
        }
        const cJSON *ja = cJSON_GetObjectItemCaseSensitive(req, "args");
        if (ja) {
                const cJSON *a;
                if (!cJSON_IsArray(ja))
                        return fail(code, "bad_request", msg, msg_size,
                                    "\"args\" must be an array of strings");
                cJSON_ArrayForEach(a, ja)
                {
                        if (!cJSON_IsString(a) || strv_push(&out->args, a->valuestring) < 0) {
                                run_request_free(out);
                                return fail(code, "bad_request", msg, msg_size,
                                            "\"args\" must be an array of strings");
                        }
                }
        }
        const cJSON *je = cJSON_GetObjectItemCaseSensitive(req, "env");
        if (je) {
                const cJSON *e;
                if (!cJSON_IsObject(je)) {
                        run_request_free(out);
                        return fail(code, "bad_request", msg, msg_size,
                                    "\"env\" must be an object of strings");
                }
                cJSON_ArrayForEach(e, je)
                {
                        char *kv = NULL;
                        if (!cJSON_IsString(e) || strchr(e->string, '=') ||
                            asprintf(&kv, "%s=%s", e->string, e->valuestring) < 0 ||
                            strv_push_take(&out->env, kv) < 0) {
                                run_request_free(out);
                                return fail(code, "bad_request", msg, msg_size,
                                            "\"env\" must be an object of strings");
                        }
                }
        }
        const cJSON *jc = cJSON_GetObjectItemCaseSensitive(req, "command");
        if (jc) {
                const cJSON *a;
                if (!cJSON_IsArray(jc) || cJSON_GetArraySize(jc) == 0) {
                        run_request_free(out);
                        return fail(code, "bad_request", msg, msg_size,
                                    "\"command\" must be a non-empty array of strings");
                }
                cJSON_ArrayForEach(a, jc)
                {
                        if (!cJSON_IsString(a) || strv_push(&out->command, a->valuestring) < 0) {
                                run_request_free(out);
                                return fail(code, "bad_request", msg, msg_size,
                                            "\"command\" must be a non-empty array of strings");
                        }
                }
        }
        const cJSON *jl = cJSON_GetObjectItemCaseSensitive(req, "limits");
        if (jl && limits_from_json(jl, &out->run_over, "limits", &err) < 0) {
                run_request_free(out);
                return fail(code, "bad_request", msg, msg_size, err.msg);
        }
        jl = cJSON_GetObjectItemCaseSensitive(req, "compile_limits");
        if (jl && limits_from_json(jl, &out->compile_over, "compile_limits", &err) < 0) {
                run_request_free(out);
                return fail(code, "bad_request", msg, msg_size, err.msg);
        }
        const cJSON *jin = cJSON_GetObjectItemCaseSensitive(req, "stdin");
        if (jin && !cJSON_IsString(jin)) {
                run_request_free(out);
                return fail(code, "bad_request", msg, msg_size, "\"stdin\" must be a string");
        }
        out->stdin_data = jin ? jin->valuestring : NULL;
        out->stdin_len = out->stdin_data ? strlen(out->stdin_data) : 0;
        out->interactive = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, "interactive"));
        return 0;
}

void run_request_job_spec(catalog_t *c, const run_request_t *r, job_spec_t *js)
{
        catalog_job_spec(c, r->lang, js);
        limits_overlay(&js->run_limits, &r->run_over);
        limits_overlay(&js->compile_limits, &r->compile_over);
        js->files = r->files;
        js->nfiles = r->nfiles;
        js->args = strv_array((strv_t *)&r->args);
        js->env = r->env.n ? strv_array((strv_t *)&r->env) : NULL;
        js->command = r->command.n ? strv_array((strv_t *)&r->command) : NULL;
        js->stdin_data = r->stdin_data;
        js->stdin_len = r->stdin_len;
        js->interactive = r->interactive;
}

void run_request_free(run_request_t *r)
{
        strv_free(&r->args);
        strv_free(&r->env);
        strv_free(&r->command);
}
