#include "engine/request.h"

#include "sandbox/sandbox.h"
#include "util/glob.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/flags.h"
#include "util/base64.h"
#include "util/buf.h"

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

/* The checker of "compare": {"mode": "checker", "language", "source" | "files": [{"name",
 * "content"}]}: a program in any language, judged by its exit code (engine/judge.h). */
static int parse_checker(catalog_t *c, const cJSON *jc, run_request_t *out, const char **code,
                         char *msg, size_t size)
{
        const char *name = get_str(jc, "language");
        const toolchain_t *tc = name ? toolchain_set_find(&c->set, name) : NULL;
        rc_err_t err = {0};
        if (!name || !tc) {
                *code = name ? "unknown_language" : "bad_request";
                snprintf(msg, size, "compare: the checker's \"language\" %s%.100s%s",
                         name ? "'" : "(a string) is required", name ? name : "",
                         name ? "' is unknown" : "");
                return -1;
        }
        if (catalog_lang(c, tc, &out->checker_lang, &err) < 0) {
                *code = "unavailable";
                snprintf(msg, size, "compare: the checker's language: %s", err.msg);
                return -1;
        }
        const char *src = get_str(jc, "source");
        const cJSON *files = cJSON_GetObjectItemCaseSensitive(jc, "files");
        if (src && !files) {
                out->checker_files[out->nchecker_files++] =
                    (job_input_file_t){.name = tc->source_file, .data = src, .len = strlen(src)};
                return 0;
        }
        const cJSON *f;
        if (!cJSON_IsArray(files) || src || cJSON_GetArraySize(files) < 1 ||
            cJSON_GetArraySize(files) > 16) {
                snprintf(msg, size,
                         "compare: the checker needs \"source\" or \"files\" (1 to "
                         "16 of {\"name\", \"content\"})");
                return -1;
        }
        cJSON_ArrayForEach(f, files)
        {
                const char *fname = get_str(f, "name");
                const char *content = get_str(f, "content");
                if (!content || (cJSON_GetObjectItemCaseSensitive(f, "name") && !fname)) {
                        snprintf(msg, size,
                                 "compare: each checker file needs \"content\" (and "
                                 "a string \"name\")");
                        return -1;
                }
                out->checker_files[out->nchecker_files++] =
                    (job_input_file_t){.name = fname ? fname : tc->source_file,
                                       .data = content,
                                       .len = strlen(content)};
        }
        return 0;
}

/* "compare": "trim" | {"mode": "float", "abs_tol": 1e-6, "rel_tol": 1e-6} |
 * {"mode": "checker", "language", "source" | "files"} */
static int parse_compare(catalog_t *c, const cJSON *jc, run_request_t *out, const char **code,
                         char *msg, size_t size)
{
        compare_opts_t *o = &out->compare;
        *o = (compare_opts_t){
            .mode = COMPARE_TRIM, .abs_tol = COMPARE_DEFAULT_TOL, .rel_tol = COMPARE_DEFAULT_TOL};
        *code = "bad_request";
        if (!jc)
                return 0;
        const cJSON *mode = jc;
        if (cJSON_IsObject(jc)) {
                mode = cJSON_GetObjectItemCaseSensitive(jc, "mode");
                if (cJSON_IsString(mode) && strcmp(mode->valuestring, "checker") == 0) {
                        const cJSON *it;
                        cJSON_ArrayForEach(it, jc)
                        {
                                if (strcmp(it->string, "mode") && strcmp(it->string, "language") &&
                                    strcmp(it->string, "source") && strcmp(it->string, "files")) {
                                        snprintf(msg, size, "compare: unknown key \"%.40s\"",
                                                 it->string);
                                        return -1;
                                }
                        }
                        return parse_checker(c, jc, out, code, msg, size);
                }
                const cJSON *it;
                cJSON_ArrayForEach(it, jc)
                {
                        bool tol = strcmp(it->string, "abs_tol") == 0 ||
                                   strcmp(it->string, "rel_tol") == 0;
                        if (tol && (!cJSON_IsNumber(it) || !(it->valuedouble >= 0))) {
                                snprintf(msg, size, "compare.%s must be a number >= 0", it->string);
                                return -1;
                        }
                        if (strcmp(it->string, "abs_tol") == 0)
                                o->abs_tol = it->valuedouble;
                        else if (strcmp(it->string, "rel_tol") == 0)
                                o->rel_tol = it->valuedouble;
                        else if (strcmp(it->string, "mode") != 0) {
                                snprintf(msg, size, "compare: unknown key \"%.40s\"", it->string);
                                return -1;
                        }
                }
                if (!mode)
                        return 0;
        }
        if (!cJSON_IsString(mode) || compare_mode_parse(mode->valuestring, &o->mode) < 0) {
                snprintf(msg, size,
                         "\"compare\" must be \"trim\", \"exact\", \"tokens\" or "
                         "\"float\" (or {\"mode\", \"abs_tol\", \"rel_tol\"}, or "
                         "{\"mode\": \"checker\", \"language\", \"source\"})");
                return -1;
        }
        return 0;
}

/* "tests": [{"name", "stdin", "expected_output", "args", "limits"}], 1 to JUDGE_TESTS_MAX. */
static int parse_tests(const cJSON *jt, run_request_t *out, char *msg, size_t size)
{
        int n = cJSON_GetArraySize(jt);
        if (!cJSON_IsArray(jt) || n < 1 || n > JUDGE_TESTS_MAX) {
                snprintf(msg, size, "\"tests\" must be an array of 1 to %d test objects",
                         JUDGE_TESTS_MAX);
                return -1;
        }
        out->tests = calloc((size_t)n, sizeof(*out->tests));
        out->test_args = calloc((size_t)n, sizeof(*out->test_args));
        out->test_over = calloc((size_t)n, sizeof(*out->test_over));
        if (!out->tests || !out->test_args || !out->test_over) {
                snprintf(msg, size, "out of memory");
                return -1;
        }
        out->ntests = (size_t)n;
        size_t i = 0;
        const cJSON *t;
        cJSON_ArrayForEach(t, jt)
        {
                judge_test_t *jt_ = &out->tests[i];
                if (!cJSON_IsObject(t)) {
                        snprintf(msg, size, "tests[%zu] must be an object", i);
                        return -1;
                }
                const cJSON *it;
                cJSON_ArrayForEach(it, t)
                {
                        const char *k = it->string;
                        bool str = cJSON_IsString(it);
                        if (strcmp(k, "name") == 0 && str && strlen(it->valuestring) <= 128) {
                                jt_->name = it->valuestring;
                        } else if (strcmp(k, "stdin") == 0 && str) {
                                jt_->stdin_data = it->valuestring;
                                jt_->stdin_len = strlen(it->valuestring);
                        } else if (strcmp(k, "expected_output") == 0 && (str || cJSON_IsNull(it))) {
                                jt_->expected = str ? it->valuestring : NULL;
                                jt_->expected_len = str ? strlen(it->valuestring) : 0;
                        } else if (strcmp(k, "args") == 0 && cJSON_IsArray(it)) {
                                const cJSON *a;
                                cJSON_ArrayForEach(a, it)
                                {
                                        if (!cJSON_IsString(a) ||
                                            strv_push(&out->test_args[i], a->valuestring) < 0) {
                                                snprintf(msg, size,
                                                         "tests[%zu].args must be an array of "
                                                         "strings",
                                                         i);
                                                return -1;
                                        }
                                }
                                jt_->args = strv_array(&out->test_args[i]);
                        } else if (strcmp(k, "limits") == 0) {
                                rc_err_t err = {0};
                                char what[48];
                                snprintf(what, sizeof(what), "tests[%zu].limits", i);
                                if (limits_from_json(it, &out->test_over[i], what, &err) < 0) {
                                        snprintf(msg, size, "%s", err.msg);
                                        return -1;
                                }
                        } else {
                                snprintf(msg, size,
                                         "tests[%zu].%.40s: unknown key or wrong type (name: a "
                                         "string of at most 128 bytes, stdin and "
                                         "expected_output: strings, args: an array, limits: an "
                                         "object)",
                                         i, k);
                                return -1;
                        }
                }
                i++;
        }
        return 0;
}

int run_request_parse(catalog_t *c, const cJSON *req, bool judge, run_request_t *out,
                      const char **code, char *msg, size_t msg_size)
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
        if (!catalog_ready(c, tc)) {
                *code = "unavailable";
                snprintf(msg, msg_size,
                         "language '%s' is not ready: its root filesystem '%s' is not built yet "
                         "(scripts/build-rootfs %s)",
                         tc->name, tc->rootfs, tc->rootfs);
                return -1;
        }
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
                        const cJSON *jenc = cJSON_GetObjectItemCaseSensitive(f, "encoding");
                        if (!content) {
                                run_request_free(out);
                                return fail(code, "bad_request", msg, msg_size,
                                            "each file needs \"content\" (a string)");
                        }
                        if (out->nfiles == REQUEST_FILES_MAX) {
                                run_request_free(out);
                                return fail(code, "bad_request", msg, msg_size, "too many files");
                        }
                        size_t len = strlen(content);
                        if (jenc &&
                            (!cJSON_IsString(jenc) || (strcmp(jenc->valuestring, "base64") != 0 &&
                                                       strcmp(jenc->valuestring, "utf8") != 0))) {
                                run_request_free(out);
                                return fail(code, "bad_request", msg, msg_size,
                                            "a file's \"encoding\" must be \"utf8\" (the "
                                            "default) or \"base64\"");
                        }
                        if (jenc && strcmp(jenc->valuestring, "base64") == 0) {
                                buf_t b = {0};
                                if (base64_decode(&b, content, len) < 0) {
                                        buf_free(&b);
                                        run_request_free(out);
                                        *code = "bad_request";
                                        snprintf(msg, msg_size,
                                                 "file \"%.100s\": \"content\" is not valid "
                                                 "base64",
                                                 fname ? fname : tc->source_file);
                                        return -1;
                                }
                                out->file_data[out->nfiles] = b.data;
                                content = b.data ? b.data : "";
                                len = b.len;
                        }
                        out->files[out->nfiles++] = (job_input_file_t){
                            .name = fname ? fname : tc->source_file, .data = content, .len = len};
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
        const cJSON *jo = cJSON_GetObjectItemCaseSensitive(req, "compile_options");
        if (jo) {
                const cJSON *a;
                if (!cJSON_IsArray(jo)) {
                        run_request_free(out);
                        return fail(code, "bad_request", msg, msg_size,
                                    "\"compile_options\" must be an array of strings");
                }
                cJSON_ArrayForEach(a, jo)
                {
                        if (!cJSON_IsString(a) ||
                            strv_push(&out->compile_options, a->valuestring) < 0) {
                                run_request_free(out);
                                return fail(code, "bad_request", msg, msg_size,
                                            "\"compile_options\" must be an array of strings");
                        }
                }
                if (out->compile_options.n &&
                    (!tc->compile.n || !toolchain_takes_options(&tc->compile))) {
                        run_request_free(out);
                        *code = "bad_request";
                        snprintf(msg, msg_size, "language '%s' takes no compile options", tc->name);
                        return -1;
                }
                if (flags_check_words(tc->name, out->compile_options.v, out->compile_options.n, msg,
                                      msg_size) < 0) {
                        run_request_free(out);
                        *code = "bad_request";
                        return -1;
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
        const cJSON *jenc = cJSON_GetObjectItemCaseSensitive(req, "stdin_encoding");
        if (jenc && (!cJSON_IsString(jenc) || (strcmp(jenc->valuestring, "utf8") != 0 &&
                                               strcmp(jenc->valuestring, "base64") != 0))) {
                run_request_free(out);
                return fail(code, "bad_request", msg, msg_size,
                            "\"stdin_encoding\" must be \"utf8\" or \"base64\"");
        }
        if (jenc && jin && strcmp(jenc->valuestring, "base64") == 0) {
                /* any bytes, NUL included */
                buf_t b = {0};
                if (base64_decode(&b, out->stdin_data, out->stdin_len) < 0) {
                        buf_free(&b);
                        run_request_free(out);
                        return fail(code, "bad_request", msg, msg_size, "\"stdin\" is not base64");
                }
                out->stdin_owned = b.data;
                out->stdin_data = b.data ? b.data : "";
                out->stdin_len = b.len;
        }
        out->interactive = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, "interactive"));
        const cJSON *jtty = cJSON_GetObjectItemCaseSensitive(req, "tty");
        if (jtty && !cJSON_IsNull(jtty) && !cJSON_IsFalse(jtty)) {
                char why[160];
                if (request_tty_size(jtty, &out->tty_rows, &out->tty_cols, why, sizeof(why)) < 0) {
                        run_request_free(out);
                        return fail(code, "bad_request", msg, msg_size, why);
                }
        }
        const cJSON *jout = cJSON_GetObjectItemCaseSensitive(req, "outputs");
        if (jout) {
                const cJSON *p;
                int n = cJSON_GetArraySize(jout);
                if (!cJSON_IsArray(jout) || n < 1 || n > SB_OUTPUTS_MAX) {
                        run_request_free(out);
                        snprintf(msg, msg_size,
                                 "\"outputs\" must be an array of 1 to %d patterns (\"*.png\")",
                                 SB_OUTPUTS_MAX);
                        *code = "bad_request";
                        return -1;
                }
                cJSON_ArrayForEach(p, jout)
                {
                        const char *why = "each pattern is a string";
                        if (!cJSON_IsString(p) || !glob_pattern_valid(p->valuestring, &why)) {
                                run_request_free(out);
                                *code = "bad_request";
                                snprintf(msg, msg_size, "\"outputs\": %s", why);
                                return -1;
                        }
                        if (strv_push(&out->outputs, p->valuestring) < 0) {
                                run_request_free(out);
                                return fail(code, "bad_request", msg, msg_size, "out of memory");
                        }
                }
        }
        const cJSON *jt = cJSON_GetObjectItemCaseSensitive(req, "tests");
        const cJSON *jcmp = cJSON_GetObjectItemCaseSensitive(req, "compare");
        const cJSON *jstop = cJSON_GetObjectItemCaseSensitive(req, "stop_on_first_failure");
        const cJSON *jfresh = cJSON_GetObjectItemCaseSensitive(req, "fresh_sandboxes");
        if ((jt || jcmp || jstop || jfresh) && !judge) {
                run_request_free(out);
                return fail(code, "bad_request", msg, msg_size,
                            "this API has no test cases (\"tests\")");
        }
        if (jt) {
                const char *why = NULL;
                if (out->interactive)
                        why = "\"tests\" and \"interactive\" do not go together";
                else if (out->tty_rows)
                        why = "\"tests\" and \"tty\" do not go together";
                else if (jout)
                        why = "\"tests\" and \"outputs\" do not go together (a judged run "
                              "hands no files back)";
                else if (jin)
                        why = "with \"tests\", the input goes in each test's \"stdin\"";
                else if (jstop && !cJSON_IsBool(jstop))
                        why = "\"stop_on_first_failure\" must be true or false";
                else if (jfresh && !cJSON_IsBool(jfresh))
                        why = "\"fresh_sandboxes\" must be true or false";
                *code = "bad_request";
                if (why || parse_tests(jt, out, msg, msg_size) < 0 ||
                    parse_compare(c, jcmp, out, code, msg, msg_size) < 0) {
                        run_request_free(out);
                        if (why)
                                snprintf(msg, msg_size, "%s", why);
                        return -1;
                }
                out->stop_on_first_failure = cJSON_IsTrue(jstop);
                out->fresh_sandboxes = cJSON_IsTrue(jfresh);
        } else if (jcmp || jstop || jfresh) {
                run_request_free(out);
                return fail(code, "bad_request", msg, msg_size,
                            "\"compare\", \"stop_on_first_failure\" and \"fresh_sandboxes\" go "
                            "with \"tests\"");
        }
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
        js->compile_options =
            r->compile_options.n ? strv_array((strv_t *)&r->compile_options) : NULL;
        js->stdin_data = r->stdin_data;
        js->stdin_len = r->stdin_len;
        js->interactive = r->interactive;
        js->tty_rows = r->tty_rows;
        js->tty_cols = r->tty_cols;
        js->outputs = r->outputs.n ? strv_array((strv_t *)&r->outputs) : NULL;
}

static int tty_dim(const cJSON *o, const char *name, uint16_t *out, char *why, size_t why_size)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
        /* the range first: a cast of a double past int's is undefined */
        if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > REQUEST_TTY_MAX ||
            v->valuedouble != (double)(int)v->valuedouble) {
                snprintf(why, why_size, "\"%s\" must be an integer from 1 to %d", name,
                         REQUEST_TTY_MAX);
                return -1;
        }
        *out = (uint16_t)v->valuedouble;
        return 0;
}

int request_tty_size(const cJSON *o, uint16_t *rows, uint16_t *cols, char *why, size_t why_size)
{
        if (!cJSON_IsObject(o)) {
                snprintf(why, why_size, "\"tty\" must be an object: {\"rows\": R, \"cols\": C}");
                return -1;
        }
        return tty_dim(o, "rows", rows, why, why_size) < 0 ||
                       tty_dim(o, "cols", cols, why, why_size) < 0
                   ? -1
                   : 0;
}

void run_request_free(run_request_t *r)
{
        for (size_t i = 0; r->test_args && i < r->ntests; i++)
                strv_free(&r->test_args[i]);
        free(r->test_args);
        free(r->test_over);
        free(r->tests);
        r->tests = NULL;
        r->test_args = NULL;
        r->test_over = NULL;
        r->ntests = 0;
        strv_free(&r->args);
        strv_free(&r->env);
        strv_free(&r->command);
        strv_free(&r->outputs);
        free(r->stdin_owned);
        r->stdin_owned = NULL;
        strv_free(&r->compile_options);
        for (size_t i = 0; i < REQUEST_FILES_MAX; i++) {
                free(r->file_data[i]);
                r->file_data[i] = NULL;
        }
}
