/* Jobe (trampgeek/jobe), the sandbox Moodle's CodeRunner talks to: POST /runs with a run_spec
 * answered at once with {run_id, outcome, cmpinfo, stdout, stderr}, PUT and HEAD /files/{id}
 * for the support files a run_spec's file_list names, GET /languages. docs/dialects.md
 * ("Jobe") maps run_spec fields, parameters and outcomes onto runcell's. */
#include "protocol/jobe.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/flags.h"
#include "protocol/dialect.h"
#include "util/base64.h"
#include "util/json.h"
#include "util/jsonstrict.h"
#include "util/shellwords.h"
#include "util/strv.h"

enum { R_RUNS, R_LANGUAGES, R_FILES };

/* Jobe's defaults: LanguageTask's default_params and config's cputime_upper_limit_secs. */
#define JOBE_CPUTIME_DEFAULT    5
#define JOBE_STREAMSIZE_DEFAULT 2
#define JOBE_MIN_FILE_ID        8
#define FILE_ID_MAX             128

/* Marks the stderr of a syntax check that failed (python3, php): what follows is cmpinfo. */
static const char CHECK_MARK[] = "\001runcell-jobe-cmpinfo\001";

/* The file cache: uploaded files by id, the least recently used dropped first when a bound
 * is reached (Jobe drops files unused for two days when its disk fills up: CodeRunner puts
 * them again when a run answers 404). */
typedef struct jfile {
        char id[FILE_ID_MAX + 1];
        char *data;
        size_t len;
        uint64_t used; /* a tick of the last put or run that used it */
} jfile_t;

static struct {
        jfile_t *v;
        size_t n, cap;
        size_t bytes;
        uint64_t tick;
} cache;

static size_t files_max = 1000;
static size_t files_max_bytes = 64u << 20;
static double cputime_max = 120;

typedef struct jrun {
        bool set; /* filled from the request (pending, below) */
        bool debug;
        bool strict_cmpinfo; /* c, cpp, java: any compiler message is a compile error */
        bool checked;        /* python3, php: the run stage starts with a syntax check */
        bool java;
} jrun_t;

/* ------------------------------------------------------------------ pure parts */

bool jobe_filename_ok(const char *name)
{
        static const char reserved[] = "<>:\"/\\|?*#[]@!$&'()+,;={}^~`";
        for (const unsigned char *p = (const unsigned char *)name; *p; p++)
                if (*p < 0x20 || *p == 0x7f || *p == 0xa0 || *p == 0xad || strchr(reserved, *p))
                        return false;
        return name[0] != '.' && name[0] != '-';
}

bool jobe_filespec_ok(const cJSON *spec)
{
        int n = cJSON_IsArray(spec) ? cJSON_GetArraySize(spec) : 0;
        if (n != 2 && n != 3)
                return false;
        const cJSON *id = cJSON_GetArrayItem(spec, 0), *name = cJSON_GetArrayItem(spec, 1);
        if (!cJSON_IsString(id) || !cJSON_IsString(name) ||
            strlen(id->valuestring) < JOBE_MIN_FILE_ID)
                return false;
        for (const char *p = id->valuestring; *p; p++)
                if (!isalnum((unsigned char)*p))
                        return false;
        bool alnum = false;
        for (const char *p = name->valuestring; *p; p++) {
                if (isalnum((unsigned char)*p))
                        alnum = true;
                else if (*p != '-' && *p != '_' && *p != '.')
                        return false;
        }
        return alnum;
}

int jobe_base64_decode(const char *s, size_t len, buf_t *out)
{
        unsigned acc = 0;
        size_t i = 0, pad = 0; /* i: alphabet characters so far */
        for (size_t k = 0; k < len; k++) {
                unsigned char c = (unsigned char)s[k];
                if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
                        continue;
                if (c == '=') {
                        pad++;
                        continue;
                }
                int v = c >= 'A' && c <= 'Z'   ? c - 'A'
                        : c >= 'a' && c <= 'z' ? c - 'a' + 26
                        : c >= '0' && c <= '9' ? c - '0' + 52
                        : c == '+'             ? 62
                        : c == '/'             ? 63
                                               : -1;
                if (v < 0 || pad)
                        return -1;
                acc = (acc << 6) | (unsigned)v;
                if (++i % 4 == 0) {
                        char b[3] = {(char)(acc >> 16), (char)(acc >> 8), (char)acc};
                        if (buf_append(out, b, 3) < 0)
                                return -1;
                        acc = 0;
                }
        }
        if (i % 4 == 1 || pad > 2 || (pad && (i + pad) % 4 != 0))
                return -1;
        if (i % 4 == 2) {
                char b = (char)(acc >> 4);
                return buf_append(out, &b, 1) < 0 ? -1 : 0;
        }
        if (i % 4 == 3) {
                char b[2] = {(char)(acc >> 10), (char)(acc >> 2)};
                return buf_append(out, b, 2) < 0 ? -1 : 0;
        }
        return 0;
}

static bool utf8_valid(const char *data, size_t len)
{
        for (size_t i = 0; i < len;) {
                size_t n = utf8_seq_len((const unsigned char *)data + i, len - i);
                if (!n)
                        return false;
                i += n;
        }
        return true;
}

void jobe_clean(const char *data, size_t len, buf_t *out)
{
        if (utf8_valid(data, len)) {
                buf_append(out, data, len);
                return;
        }
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)data[i];
                if ((c < 0x20 && c != '\n' && c != '\r' && c != '\t') || c > 0x7e)
                        buf_printf(out, "\\x%02x", c);
                else
                        buf_append(out, (const char *)&c, 1);
        }
}

static bool word_char(char c)
{
        return isalnum((unsigned char)c) || c == '_';
}

static const char *skip_space(const char *p, bool one)
{
        if (one && !isspace((unsigned char)*p))
                return NULL;
        while (isspace((unsigned char)*p))
                p++;
        return p;
}

/* "public static void main (String" (or "static public") at p: the end of it, or NULL. */
static const char *main_at(const char *p)
{
        const char *q;
        if (strncmp(p, "public", 6) == 0 && (q = skip_space(p + 6, true)) &&
            strncmp(q, "static", 6) == 0)
                p = q + 6;
        else if (strncmp(p, "static", 6) == 0 && (q = skip_space(p + 6, true)) &&
                 strncmp(q, "public", 6) == 0)
                p = q + 6;
        else
                return NULL;
        if (!(p = skip_space(p, true)) || strncmp(p, "void", 4) != 0 ||
            !(p = skip_space(p + 4, true)) || strncmp(p, "main", 4) != 0)
                return NULL;
        p = skip_space(p + 4, false);
        if (*p != '(')
                return NULL;
        p = skip_space(p + 1, false);
        return strncmp(p, "String", 6) == 0 ? p + 6 : NULL;
}

/* Jobe's pattern (^|\W)public\s+class\s+(\w+)[^{]*\{.*?(public\s+static|static\s+public)\s+
 * void\s+main\s*\(\s*String, matched from p on: the end of the match, the class in *cls. */
static const char *class_match(const char *p, const char **cls, size_t *clen)
{
        const char *q = p;
        if (strncmp(q, "public", 6) != 0)
                return NULL;
        if (!(q = skip_space(q + 6, true)) || strncmp(q, "class", 5) != 0 ||
            !(q = skip_space(q + 5, true)) || !word_char(*q))
                return NULL;
        *cls = q;
        while (word_char(*q))
                q++;
        *clen = (size_t)(q - *cls);
        const char *brace = strchr(q, '{');
        if (!brace)
                return NULL;
        for (const char *m = brace + 1; *m; m++) {
                const char *end = main_at(m);
                if (end)
                        return end;
        }
        return NULL;
}

bool jobe_java_main_class(const char *src, char *out, size_t size)
{
        int found = 0;
        const char *cls = NULL;
        size_t clen = 0;
        for (const char *p = src; *p;) {
                const char *c;
                size_t cl;
                const char *end = (p == src || !word_char(p[-1])) ? class_match(p, &c, &cl) : NULL;
                if (end) {
                        if (found++ == 0) {
                                cls = c;
                                clen = cl;
                        }
                        p = end;
                } else {
                        p++;
                }
        }
        if (found != 1 || clen + 1 > size)
                return false;
        snprintf(out, size, "%.*s", (int)clen, cls);
        return true;
}

/* Jobe's language names where runcell's differ. */
static const struct {
        const char *jobe, *runcell;
} lang_names[] = {
    {"python3", "python"},
    {"nodejs", "javascript"},
};

const char *jobe_lang_name(const char *runcell_name)
{
        for (size_t i = 0; i < sizeof(lang_names) / sizeof(lang_names[0]); i++)
                if (strcmp(lang_names[i].runcell, runcell_name) == 0)
                        return lang_names[i].jobe;
        return runcell_name;
}

const char *jobe_lang_runcell(const char *jobe_id)
{
        for (size_t i = 0; i < sizeof(lang_names) / sizeof(lang_names[0]); i++)
                if (strcmp(lang_names[i].jobe, jobe_id) == 0)
                        return lang_names[i].runcell;
        return jobe_id;
}

/* Jobe's own languages, by runcell's name, and what each needs. */
static bool jobe_language(const char *rc, const char *which)
{
        return strcmp(rc, which) == 0;
}

/* ------------------------------------------------------------------ the file cache */

static jfile_t *cache_find(const char *id)
{
        for (size_t i = 0; i < cache.n; i++)
                if (strcmp(cache.v[i].id, id) == 0)
                        return &cache.v[i];
        return NULL;
}

static void cache_drop(size_t i)
{
        cache.bytes -= cache.v[i].len;
        free(cache.v[i].data);
        cache.v[i] = cache.v[--cache.n];
}

static void cache_drop_oldest(void)
{
        size_t oldest = 0;
        for (size_t i = 1; i < cache.n; i++)
                if (cache.v[i].used < cache.v[oldest].used)
                        oldest = i;
        cache_drop(oldest);
}

/* Take data over as id's contents; -1 when it cannot fit at all. */
static int cache_put(const char *id, char *data, size_t len)
{
        if (len > files_max_bytes)
                return -1;
        jfile_t *f = cache_find(id);
        if (f)
                cache_drop((size_t)(f - cache.v));
        while (cache.n && (cache.n >= files_max || cache.bytes + len > files_max_bytes))
                cache_drop_oldest();
        if (cache.n == cache.cap) {
                size_t cap = cache.cap ? cache.cap * 2 : 16;
                jfile_t *v = realloc(cache.v, cap * sizeof(*v));
                if (!v)
                        return -1;
                cache.v = v;
                cache.cap = cap;
        }
        f = &cache.v[cache.n++];
        snprintf(f->id, sizeof(f->id), "%s", id);
        f->data = data;
        f->len = len;
        f->used = ++cache.tick;
        cache.bytes += len;
        return 0;
}

/* ------------------------------------------------------------------ answers */

/* Jobe answers a refused request with a JSON string. */
static void refuse(dl_http_t *h, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void refuse(dl_http_t *h, int status, const char *fmt, ...)
{
        char msg[700];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        dl_http_json(h, status, cJSON_CreateString(msg));
}

static void add_clean(cJSON *o, const char *key, const char *data, size_t len)
{
        buf_t b = {0};
        jobe_clean(data ? data : "", len, &b);
        cJSON_AddItemToObject(o, key, json_bytes_item(b.data ? b.data : "", b.len));
        buf_free(&b);
}

static cJSON *result_object(const char *run_id, int outcome, const buf_t *cmpinfo, const buf_t *out,
                            const buf_t *err)
{
        cJSON *o = cJSON_CreateObject();
        if (run_id)
                cJSON_AddStringToObject(o, "run_id", run_id);
        else
                cJSON_AddNullToObject(o, "run_id");
        cJSON_AddNumberToObject(o, "outcome", outcome);
        add_clean(o, "cmpinfo", cmpinfo ? cmpinfo->data : "", cmpinfo ? cmpinfo->len : 0);
        add_clean(o, "stdout", out ? out->data : "", out ? out->len : 0);
        add_clean(o, "stderr", err ? err->data : "", err ? err->len : 0);
        return o;
}

/* Jobe's answer when no run could be had: ResultObject(0, RESULT_SERVER_OVERLOAD). */
static void overload(dl_http_t *h)
{
        dl_http_json(h, 200, result_object("0", JOBE_SERVER_OVERLOAD, NULL, NULL, NULL));
}

static void stage_note(const stage_result_t *s, buf_t *out)
{
        switch (s->status) {
        case STATUS_TIME_LIMIT:
                buf_printf(out, "time limit exceeded\n");
                break;
        case STATUS_MEMORY_LIMIT:
                buf_printf(out, "memory limit exceeded\n");
                break;
        case STATUS_OUTPUT_LIMIT:
                buf_printf(out, "output limit exceeded\n");
                break;
        default:
                if (s->signal)
                        buf_printf(out, "terminated with signal %d\n", s->signal);
                else if (s->exit_code > 0)
                        buf_printf(out, "exit status %d\n", s->exit_code);
                break;
        }
}

static void answer(dl_run_t *r, dl_http_t *h, const job_result_t *res)
{
        jrun_t *jr = dl_run_data(r);
        const char *run_id = jr->debug ? dl_run_id(r) : NULL;
        const stage_result_t *c = &res->compile, *s = &res->run;
        buf_t cmpinfo = {0}, out = {0}, err = {0};
        int outcome;
        if (c->present && c->status == STATUS_INTERNAL_ERROR) {
                outcome = JOBE_INTERNAL_ERROR;
                buf_printf(&err, "%s", c->error);
        } else if (c->present && (c->status != STATUS_OK || (jr->strict_cmpinfo && c->err.len))) {
                outcome = JOBE_COMPILE_ERROR;
                buf_append(&cmpinfo, c->err.data, c->err.len);
                if (!cmpinfo.len)
                        buf_append(&cmpinfo, c->out.data, c->out.len);
                if (c->status != STATUS_OK && c->status != STATUS_COMPILE_ERROR)
                        stage_note(c, &cmpinfo);
                else if (!cmpinfo.len)
                        buf_printf(&cmpinfo, "compilation failed (%s)\n",
                                   stage_status_name(c->status));
        } else if (!s->present) {
                outcome = JOBE_INTERNAL_ERROR;
                buf_printf(&err, "the program did not run");
        } else if (jr->checked && s->status == STATUS_RUNTIME_ERROR &&
                   s->err.len >= sizeof(CHECK_MARK) - 1 &&
                   memcmp(s->err.data, CHECK_MARK, sizeof(CHECK_MARK) - 1) == 0) {
                outcome = JOBE_COMPILE_ERROR;
                buf_append(&cmpinfo, s->err.data + sizeof(CHECK_MARK) - 1,
                           s->err.len - (sizeof(CHECK_MARK) - 1));
        } else {
                buf_append(&out, s->out.data, s->out.len);
                switch (s->status) {
                case STATUS_TIME_LIMIT:
                case STATUS_OUTPUT_LIMIT: /* Jobe's streams are cut, the program runs on
                                             until its time is up */
                        outcome = JOBE_TIME_LIMIT;
                        break;
                case STATUS_MEMORY_LIMIT:
                        outcome = JOBE_MEMORY_LIMIT;
                        buf_append(&err, s->err.data, s->err.len);
                        break;
                case STATUS_INTERNAL_ERROR:
                        outcome = JOBE_INTERNAL_ERROR;
                        buf_printf(&err, "%s", s->error);
                        break;
                case STATUS_KILLED:
                        outcome = JOBE_INTERNAL_ERROR;
                        buf_printf(&err, "%s",
                                   dl_draining() ? "the server is stopping" : "the run was killed");
                        break;
                default:
                        buf_append(&err, s->err.data, s->err.len);
                        if (s->signal == SIGSYS)
                                outcome = JOBE_ILLEGAL_SYSCALL;
                        else if (s->signal)
                                outcome = JOBE_RUNTIME_ERROR;
                        else /* Jobe: any output on stderr is a runtime error, the exit
                                status does not count */
                                outcome = err.len ? JOBE_RUNTIME_ERROR : JOBE_OK;
                        break;
                }
                if (jr->java) { /* Jobe's JavaTask::filteredStderr */
                        buf_t f = {0};
                        for (size_t i = 0; i < err.len; i++) {
                                if (err.data[i] == '\n' && i + 1 < err.len &&
                                    err.data[i + 1] == '\t') {
                                        buf_append(&f, "\n        ", 9);
                                        i++;
                                } else {
                                        buf_append(&f, &err.data[i], 1);
                                }
                        }
                        buf_free(&err);
                        err = f;
                }
        }
        dl_http_json(h, 200, result_object(run_id, outcome, &cmpinfo, &out, &err));
        buf_free(&cmpinfo);
        buf_free(&out);
        buf_free(&err);
}

/* What the request decided for its run, handed over at the run's first event (which may come
 * before dl_run_start returns). */
static jrun_t pending;

static void run_event(dl_run_t *r, const dl_event_t *ev)
{
        jrun_t *jr = dl_run_data(r);
        if (!jr->set && pending.set)
                *jr = pending;
        dl_http_t *h = dl_run_http(r);
        if (!h)
                return;
        if (ev->kind == DL_EV_DONE)
                answer(r, h, ev->result);
        else if (ev->kind == DL_EV_DROPPED)
                overload(h);
}

/* ------------------------------------------------------------------ run_spec */

/* PHP's is_numeric for a parameter: a number, or a string that is one. */
static bool param_number(const cJSON *v, double *out)
{
        if (cJSON_IsNumber(v)) {
                *out = v->valuedouble;
                return true;
        }
        if (!cJSON_IsString(v))
                return false;
        const char *s = v->valuestring;
        while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\v' || *s == '\f')
                s++;
        if (!*s || (!isdigit((unsigned char)*s) && *s != '-' && *s != '+' && *s != '.'))
                return false;
        char *end;
        errno = 0;
        double d = strtod(s, &end);
        while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r' || *end == '\v' ||
               *end == '\f')
                end++;
        if (*end || errno || !isfinite(d) || end == s)
                return false;
        *out = d;
        return true;
}

/* PHP's intval, for Jobe's cputime check. */
static double php_intval(const cJSON *v)
{
        if (cJSON_IsNumber(v))
                return trunc(v->valuedouble);
        if (cJSON_IsTrue(v))
                return 1;
        if (cJSON_IsString(v))
                return trunc(strtod(v->valuestring, NULL));
        return 0;
}

/* A list parameter (compileargs, linkargs, interpreterargs, runargs) as Jobe uses it: the
 * strings joined with spaces into a shell command line, so split as sh would (quotes). */
static int param_words(const cJSON *params, const char *key, strv_t *out, bool *given, char *msg,
                       size_t size)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, key);
        *given = v != NULL && !cJSON_IsNull(v);
        if (!*given)
                return 0;
        if (!cJSON_IsArray(v)) {
                snprintf(msg, size, "parameters: %s must be a list of strings", key);
                return -1;
        }
        const cJSON *a;
        cJSON_ArrayForEach(a, v)
        {
                char num[32];
                const char *s = NULL;
                if (cJSON_IsString(a)) {
                        s = a->valuestring;
                } else if (cJSON_IsNumber(a) && a->valuedouble == trunc(a->valuedouble) &&
                           fabs(a->valuedouble) < 1e15) {
                        snprintf(num, sizeof(num), "%.0f", a->valuedouble);
                        s = num;
                }
                if (!s) {
                        snprintf(msg, size, "parameters: %s must be a list of strings", key);
                        return -1;
                }
                rc_err_t err = {0};
                if (shell_split(s, out, &err) < 0) {
                        snprintf(msg, size, "parameters: %s: %s", key, err.msg);
                        return -1;
                }
        }
        return 0;
}

/* compileargs and linkargs into the run's compile options, checked by the compiler-flags
 * allowlist (engine/flags.h). Dropped first: -x naming the language the file is compiled as
 * anyway (Jobe's C default has "-x c") and -lm for C and C++ (runcell links it). */
static int compile_words(const char *lang, const strv_t *words, strv_t *opts, char *msg,
                         size_t size)
{
        bool c = strcmp(lang, "c") == 0, cpp = strcmp(lang, "cpp") == 0;
        const char *x = c ? "c" : cpp ? "c++" : NULL;
        for (size_t i = 0; i < words->n; i++) {
                const char *w = words->v[i];
                if (x && strcmp(w, "-x") == 0 && i + 1 < words->n &&
                    strcmp(words->v[i + 1], x) == 0) {
                        i++;
                        continue;
                }
                if ((x && strncmp(w, "-x", 2) == 0 && strcmp(w + 2, x) == 0) ||
                    ((c || cpp) && strcmp(w, "-lm") == 0))
                        continue;
                if (strv_push(opts, w) < 0)
                        return snprintf(msg, size, "out of memory"), -1;
        }
        if (!opts->n)
                return 0;
        char why[300];
        if (!flags_language_known(lang))
                return snprintf(msg, size,
                                "compileargs and linkargs: %s takes no compiler options on this "
                                "server",
                                lang),
                       -1;
        if (flags_check_words(lang, opts->v, opts->n, why, sizeof(why)) < 0)
                return snprintf(msg, size, "compileargs and linkargs: %s", why), -1;
        return 0;
}

/* Jobe's tasks that do not use compileargs (interpreted languages) or linkargs (all but C
 * and C++) ignore them. */
static bool ignore_compile_args(const toolchain_t *tc, bool link)
{
        if (!tc->compile.n)
                return true;
        return link && strcmp(tc->name, "c") != 0 && strcmp(tc->name, "cpp") != 0;
}

/* The extension of name is one the toolchain compiles. */
static bool ext_ok(const toolchain_t *tc, const char *name)
{
        const char *dot = strrchr(name, '.');
        if (!tc->source_ext.n)
                return true;
        for (size_t i = 0; dot && i < tc->source_ext.n; i++)
                if (strcmp(dot, tc->source_ext.v[i]) == 0)
                        return true;
        return false;
}

/* The name the program gets: Jobe's languages keep the run_spec's (a compiled one gets the
 * toolchain's extension when its own is not one the compiler takes: CodeRunner sends
 * __tester__.pascal), or Jobe's default name; other languages get the toolchain's name. */
static void source_name(const toolchain_t *tc, bool jobe_lang, const char *given, const char *src,
                        char *out, size_t size)
{
        if (!jobe_lang) {
                snprintf(out, size, "%s", tc->source_file);
                return;
        }
        if (!*given) {
                char cls[128];
                if (strcmp(tc->name, "java") == 0)
                        snprintf(out, size, "%s.java",
                                 jobe_java_main_class(src, cls, sizeof(cls)) ? cls : "prog");
                else
                        snprintf(out, size, "prog%s",
                                 tc->source_ext.n ? tc->source_ext.v[0] : ".txt");
                return;
        }
        if (!tc->compile.n || ext_ok(tc, given) || !tc->source_ext.n) {
                snprintf(out, size, "%s", given);
                return;
        }
        const char *dot = strrchr(given, '.');
        size_t stem = dot ? (size_t)(dot - given) : strlen(given);
        snprintf(out, size, "%.*s%s", (int)stem, given, tc->source_ext.v[0]);
}

/* The run command when the toolchain's will not do: interpreterargs before the program's file
 * (after the executable for a compiled program), Java's main class, a syntax check first. */
static cJSON *run_command(const toolchain_t *tc, const char *entry, const strv_t *interp,
                          const char *java_class, const char *check)
{
        cJSON *cmd = cJSON_CreateArray();
        if (check) {
                cJSON_AddItemToArray(cmd, cJSON_CreateString("sh"));
                cJSON_AddItemToArray(cmd, cJSON_CreateString("-c"));
                cJSON_AddItemToArray(cmd, cJSON_CreateString(check));
                cJSON_AddItemToArray(cmd, cJSON_CreateString("sh"));
                cJSON_AddItemToArray(cmd, cJSON_CreateString(entry));
        }
        bool placed = false;
        for (size_t i = 0; i < tc->run.n; i++) {
                const char *w = tc->run.v[i];
                bool is_entry = strcmp(w, "{entry}") == 0;
                bool is_class = java_class && strcmp(w, "Main") == 0;
                if ((is_entry || is_class) && !placed) {
                        for (size_t k = 0; k < interp->n; k++)
                                cJSON_AddItemToArray(cmd, cJSON_CreateString(interp->v[k]));
                        placed = true;
                }
                cJSON_AddItemToArray(cmd, cJSON_CreateString(is_entry   ? entry
                                                             : is_class ? java_class
                                                                        : w));
        }
        for (size_t k = 0; !placed && k < interp->n; k++)
                cJSON_AddItemToArray(cmd, cJSON_CreateString(interp->v[k]));
        return cmd;
}

/* PHP's print_r of a file specifier, for Jobe's message. */
static void print_r(const cJSON *v, buf_t *out)
{
        if (cJSON_IsString(v)) {
                buf_printf(out, "%.100s", v->valuestring);
        } else if (cJSON_IsNumber(v)) {
                buf_printf(out, "%g", v->valuedouble);
        } else if (cJSON_IsTrue(v)) {
                buf_printf(out, "1");
        } else if (cJSON_IsArray(v) || cJSON_IsObject(v)) {
                buf_printf(out, "%s\n(\n", cJSON_IsArray(v) ? "Array" : "stdClass Object");
                int i = 0;
                const cJSON *it;
                cJSON_ArrayForEach(it, v)
                {
                        if (i >= 8)
                                break;
                        if (v->type & cJSON_Array)
                                buf_printf(out, "    [%d] => ", i);
                        else
                                buf_printf(out, "    [%.60s] => ", it->string);
                        if (cJSON_IsArray(it) || cJSON_IsObject(it))
                                buf_printf(out, "%s", cJSON_IsArray(it) ? "Array" : "Object");
                        else
                                print_r(it, out);
                        buf_printf(out, "\n");
                        i++;
                }
                buf_printf(out, ")\n");
        }
}

static const cJSON *get(const cJSON *o, const char *key)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        return v && !cJSON_IsNull(v) ? v : NULL;
}

/* The run_spec checked in Jobe's order and turned into a run document; NULL with the status
 * and message of Jobe's refusal. */
static cJSON *decode(const cJSON *body, jrun_t *jr, int *status, char *msg, size_t size)
{
        *status = 400;
        const cJSON *run = cJSON_IsObject(body) ? get(body, "run_spec") : NULL;
        if (!cJSON_IsObject(body))
                return snprintf(msg, size, "Non-JSON post data received"), NULL;
        if (!cJSON_IsObject(run))
                return snprintf(msg, size, "No run_spec attribute found in post data"), NULL;
        static const char *const required[] = {"sourcecode", "language_id"};
        const cJSON *req[2];
        for (size_t i = 0; i < 2; i++) {
                req[i] = get(run, required[i]);
                if (!req[i])
                        return snprintf(msg, size,
                                        "run_spec is missing the required attribute '%s'",
                                        required[i]),
                               NULL;
                if (!cJSON_IsString(req[i]) || !req[i]->valuestring)
                        return snprintf(msg, size, "run_spec's '%s' must be a string", required[i]),
                               NULL;
        }
        const char *src = req[0]->valuestring, *lang_id = req[1]->valuestring;
        char lang[64];
        snprintf(lang, sizeof(lang), "%s", lang_id);
        for (char *p = lang; *p; p++)
                *p = (char)tolower((unsigned char)*p);
        catalog_t *cat = dl_catalog();
        const toolchain_t *tc = NULL;
        rc_err_t err = {0};
        const char *rc_name = jobe_lang_runcell(lang);
        if (strlen(lang_id) >= sizeof(lang) || catalog_find(cat, rc_name, NULL, &tc, &err) < 0 ||
            !catalog_ready(cat, tc))
                return snprintf(msg, size, "Language '%.100s' is not known", lang), NULL;
        const cJSON *jin = get(run, "input");
        if (jin && !cJSON_IsString(jin))
                return snprintf(msg, size, "run_spec's 'input' must be a string"), NULL;
        const cJSON *jdebug = get(run, "debug");
        jr->debug = jdebug &&
                    (cJSON_IsTrue(jdebug) || (cJSON_IsNumber(jdebug) && jdebug->valuedouble != 0) ||
                     (cJSON_IsString(jdebug) && *jdebug->valuestring &&
                      strcmp(jdebug->valuestring, "0") != 0));

        const cJSON *params = get(run, "parameters");
        if (params && !cJSON_IsObject(params) && !cJSON_IsArray(params))
                return snprintf(msg, size, "run_spec's 'parameters' must be an object"), NULL;
        if (params && cJSON_IsArray(params)) /* PHP's json_encode of an empty array: [] */
                params = NULL;
        const cJSON *jcpu = params ? get(params, "cputime") : NULL;
        if (php_intval(jcpu) > cputime_max)
                return snprintf(msg, size,
                                "cputime exceeds maximum allowed on this Jobe server (%.0f secs)",
                                cputime_max),
                       NULL;

        const cJSON *jname = get(run, "sourcefilename");
        const char *given = "";
        if (jname) {
                if (!cJSON_IsString(jname) || !jobe_filename_ok(jname->valuestring))
                        return snprintf(msg, size,
                                        "The sourcefilename for the run_spec is illegal"),
                               NULL;
                if (strcmp(jname->valuestring, "prog.java") != 0) /* Jobe's legacy hack */
                        given = jname->valuestring;
        }
        const cJSON *jfiles = get(run, "file_list");
        const cJSON *spec;
        if (jfiles && !cJSON_IsArray(jfiles))
                return snprintf(msg, size, "run_spec's 'file_list' must be a list"), NULL;
        cJSON_ArrayForEach(spec, jfiles)
        {
                if (!jobe_filespec_ok(spec)) {
                        buf_t b = {0};
                        print_r(spec, &b);
                        snprintf(msg, size, "Invalid file specifier: %s", b.data ? b.data : "");
                        buf_free(&b);
                        return NULL;
                }
        }

        /* the parameters */
        strv_t cargs = {0}, largs = {0}, copts = {0}, interp = {0}, runargs = {0};
        bool cgiven, lgiven, igiven, rgiven;
        if (param_words(params, "compileargs", &cargs, &cgiven, msg, size) < 0 ||
            param_words(params, "linkargs", &largs, &lgiven, msg, size) < 0 ||
            param_words(params, "interpreterargs", &interp, &igiven, msg, size) < 0 ||
            param_words(params, "runargs", &runargs, &rgiven, msg, size) < 0 ||
            (ignore_compile_args(tc, false)
                 ? 0
                 : compile_words(tc->name, &cargs, &copts, msg, size)) < 0 ||
            (ignore_compile_args(tc, true)
                 ? 0
                 : compile_words(tc->name, &largs, &copts, msg, size)) < 0) {
                strv_free(&cargs);
                strv_free(&largs);
                strv_free(&copts);
                strv_free(&interp);
                strv_free(&runargs);
                return NULL;
        }
        strv_free(&cargs);
        strv_free(&largs);

        bool java = strcmp(tc->name, "java") == 0;
        bool jobe_lang = java || jobe_language(tc->name, "c") || jobe_language(tc->name, "cpp") ||
                         jobe_language(tc->name, "python") ||
                         jobe_language(tc->name, "javascript") || jobe_language(tc->name, "php") ||
                         jobe_language(tc->name, "octave") || jobe_language(tc->name, "pascal");
        jr->java = java;
        jr->strict_cmpinfo = java || jobe_language(tc->name, "c") || jobe_language(tc->name, "cpp");
        char name[256];
        source_name(tc, jobe_lang, given, src, name, sizeof(name));

        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "language", tc->name);
        cJSON *files = cJSON_AddArrayToObject(doc, "files");
        cJSON *main_file = cJSON_CreateObject();
        cJSON_AddStringToObject(main_file, "name", name);
        cJSON_AddStringToObject(main_file, "content", src);
        cJSON_AddItemToArray(files, main_file);
        cJSON_ArrayForEach(spec, jfiles)
        {
                const char *id = cJSON_GetArrayItem(spec, 0)->valuestring;
                const char *fname = cJSON_GetArrayItem(spec, 1)->valuestring;
                jfile_t *f = cache_find(id);
                if (!f) {
                        *status = 404;
                        snprintf(msg, size,
                                 "One or more of the specified files is missing/unavailable");
                        goto fail;
                }
                f->used = ++cache.tick;
                /* Jobe copies the files in after the source, in order: a later one with the
                 * same name replaces the earlier one */
                cJSON *o = NULL, *it;
                cJSON_ArrayForEach(it, files)
                {
                        if (strcmp(cJSON_GetObjectItemCaseSensitive(it, "name")->valuestring,
                                   fname) == 0)
                                o = it;
                }
                if (!o) {
                        o = cJSON_CreateObject();
                        cJSON_AddStringToObject(o, "name", fname);
                        cJSON_AddItemToArray(files, o);
                } else {
                        cJSON_DeleteItemFromObjectCaseSensitive(o, "content");
                        cJSON_DeleteItemFromObjectCaseSensitive(o, "encoding");
                }
                /* a file with a NUL byte goes as base64 */
                if (memchr(f->data, '\0', f->len)) {
                        buf_t b64 = {0};
                        if (base64_append(&b64, f->data, f->len) < 0 ||
                            buf_append(&b64, "", 1) < 0) {
                                buf_free(&b64);
                                snprintf(msg, size, "out of memory");
                                goto fail;
                        }
                        cJSON_AddStringToObject(o, "content", b64.data);
                        cJSON_AddStringToObject(o, "encoding", "base64");
                        buf_free(&b64);
                        continue;
                }
                cJSON_AddStringToObject(o, "content", f->data);
        }
        if (jin && *jin->valuestring)
                cJSON_AddStringToObject(doc, "stdin", jin->valuestring);
        if (copts.n) {
                cJSON *a = cJSON_AddArrayToObject(doc, "compile_options");
                for (size_t i = 0; i < copts.n; i++)
                        cJSON_AddItemToArray(a, cJSON_CreateString(copts.v[i]));
        }
        strv_free(&copts);
        if (runargs.n) {
                cJSON *a = cJSON_AddArrayToObject(doc, "args");
                for (size_t i = 0; i < runargs.n; i++)
                        cJSON_AddItemToArray(a, cJSON_CreateString(runargs.v[i]));
        }

        /* limits: cputime (s, the wall clock twice that as Jobe's runguard), memorylimit (MB; 0
         * none, Java's ignored as Jobe does), streamsize (MB), numprocs (+1: Jobe's sh),
         * disklimit (MB per file) */
        cJSON *lim = cJSON_AddObjectToObject(doc, "limits");
        double d;
        double cpu = jcpu && param_number(jcpu, &d) && d > 0 ? d : JOBE_CPUTIME_DEFAULT;
        cJSON_AddNumberToObject(lim, "cpu_ms", ceil(cpu * 1000));
        cJSON_AddNumberToObject(lim, "wall_ms", 2 * ceil(cpu * 1000));
        const cJSON *v = params ? get(params, "memorylimit") : NULL;
        if (!java && v && param_number(v, &d) && d >= 1)
                cJSON_AddNumberToObject(lim, "memory_mb", fmin(ceil(d), 1 << 20));
        v = params ? get(params, "streamsize") : NULL;
        double stream = v && param_number(v, &d) && d > 0 ? d : JOBE_STREAMSIZE_DEFAULT;
        cJSON_AddNumberToObject(lim, "output_bytes",
                                fmax(1, ceil(fmin(stream, 1 << 20) * 1024000)));
        v = params ? get(params, "numprocs") : NULL;
        if (v && param_number(v, &d) && d >= 1)
                cJSON_AddNumberToObject(lim, "processes",
                                        fmin(floor(java && d < 256 ? 256 : d) + 1, 1 << 20));
        v = params ? get(params, "disklimit") : NULL;
        if (v && param_number(v, &d) && d >= 1)
                cJSON_AddNumberToObject(lim, "file_size_mb", fmin(ceil(d), 1 << 20));

        /* the run command */
        char cls[256] = "";
        const cJSON *jmain = params ? get(params, "main_class") : NULL;
        if (java) {
                if (cJSON_IsString(jmain) && *jmain->valuestring)
                        snprintf(cls, sizeof(cls), "%s", jmain->valuestring);
                else
                        snprintf(cls, sizeof(cls), "%.*s", (int)strcspn(name, "."), name);
        }
        const char *check = NULL;
        char script[600];
        if (jobe_language(tc->name, "python") || jobe_language(tc->name, "php")) {
                bool py = tc->name[0] == 'p' && tc->name[1] == 'y';
                snprintf(script, sizeof(script),
                         "f=$1; shift; %s \"$f\" >/tmp/.jobe-cmpinfo 2>&1 || "
                         "{ printf '%s' >&2; cat /tmp/.jobe-cmpinfo >&2; exit 1; }; "
                         "rm -f /tmp/.jobe-cmpinfo; exec \"$@\"",
                         py ? "PYTHONPYCACHEPREFIX=/tmp/.jobe-pyc python3 -m py_compile" : "php -l",
                         "\\001runcell-jobe-cmpinfo\\001");
                check = script;
                jr->checked = true;
        }
        if (igiven || check || (java && strcmp(cls, "Main") != 0))
                cJSON_AddItemToObject(doc, "command",
                                      run_command(tc, name, &interp, java ? cls : NULL, check));
        strv_free(&interp);
        strv_free(&runargs);
        (void)cgiven;
        (void)lgiven;
        (void)rgiven;
        return doc;
fail:
        strv_free(&copts);
        strv_free(&interp);
        strv_free(&runargs);
        cJSON_Delete(doc);
        return NULL;
}

static void post_run(dl_http_t *h, const char *body, size_t len)
{
        char why[160];
        cJSON *parsed = json_parse_strict(body, len, why, sizeof(why));
        if (!parsed) {
                /* JSON that runcell will not take as it is (a NUL in a string, a key twice,
                 * data after the value): said why; not JSON at all: Jobe's words */
                cJSON *lenient = cJSON_ParseWithLength(body, len);
                if (lenient)
                        refuse(h, 400, "Non-JSON post data received (%s)", why);
                else
                        refuse(h, 400, "Non-JSON post data received");
                cJSON_Delete(lenient);
                return;
        }
        if (!dl_json_depth_ok(parsed)) {
                cJSON_Delete(parsed);
                refuse(h, 400, "Non-JSON post data received (nested too deeply)");
                return;
        }
        /* Jobe's test of its overload answer (LanguageTask's "hack alert") */
        const cJSON *rs = cJSON_GetObjectItemCaseSensitive(parsed, "run_spec");
        const cJSON *sc = cJSON_GetObjectItemCaseSensitive(rs, "sourcecode");
        jrun_t jr = {0};
        int status;
        char msg[700];
        cJSON *doc = decode(parsed, &jr, &status, msg, sizeof(msg));
        if (!doc) {
                cJSON_Delete(parsed);
                refuse(h, status, "%s", msg);
                return;
        }
        if (cJSON_IsString(sc) &&
            strcmp(sc->valuestring, "!** TESTING OVERLOAD EXCEPTION **!") == 0) {
                cJSON_Delete(parsed);
                cJSON_Delete(doc);
                overload(h);
                return;
        }
        cJSON_Delete(parsed);
        char id[32];
        snprintf(id, sizeof(id), "jobe_");
        dl_random_hex(id + 5, 6);
        dl_error_t e;
        jr.set = true;
        pending = jr;
        dl_run_t *r = dl_run_start(NULL, h, doc, id, &e);
        pending.set = false;
        if (r) {
                jrun_t *d = dl_run_data(r);
                if (!d->set)
                        *d = jr;
                return;
        }
        int st = dl_error_status(e.code);
        if (st == 429 || strcmp(e.code, "shutting_down") == 0)
                overload(h);
        else if (st == 500)
                refuse(h, 500, "Server exception (%s)", e.message);
        else
                refuse(h, st == 404 ? 400 : st, "%s", e.message);
}

/* ------------------------------------------------------------------ files and languages */

static bool id_ok(const char *id)
{
        if (!*id || strlen(id) > FILE_ID_MAX)
                return false;
        for (const char *p = id; *p; p++)
                if (!isalnum((unsigned char)*p))
                        return false;
        return true;
}

static void files(dl_http_t *h, dl_method_t method, const char *body, size_t len)
{
        const char *id = dl_http_path_arg(h);
        if (!id_ok(id)) { /* Jobe's route takes letters and digits only */
                if (method == DL_HEAD)
                        dl_http_json(h, 404, NULL);
                else
                        refuse(h, 404, "Not found");
                return;
        }
        if (method == DL_HEAD) {
                dl_http_json(h, cache_find(id) ? 204 : 404, NULL);
                return;
        }
        char why[160];
        cJSON *j = json_parse_strict(body, len, why, sizeof(why));
        if (!j) {
                cJSON *lenient = cJSON_ParseWithLength(body, len);
                if (lenient)
                        refuse(h, 400, "put: the body is not valid JSON (%s)", why);
                else
                        refuse(h, 400, "put: missing file_contents parameter");
                cJSON_Delete(lenient);
                return;
        }
        if (!dl_json_depth_ok(j)) {
                cJSON_Delete(j);
                refuse(h, 400, "put: the body is nested too deeply");
                return;
        }
        const cJSON *fc = cJSON_GetObjectItemCaseSensitive(j, "file_contents");
        if (!cJSON_IsObject(j) || !fc || cJSON_IsNull(fc)) {
                cJSON_Delete(j);
                refuse(h, 400, "put: missing file_contents parameter");
                return;
        }
        buf_t b = {0};
        if (!cJSON_IsString(fc) ||
            jobe_base64_decode(fc->valuestring, strlen(fc->valuestring), &b) < 0) {
                cJSON_Delete(j);
                buf_free(&b);
                refuse(h, 400, "put: contents of file %s are not valid base-64", id);
                return;
        }
        cJSON_Delete(j);
        size_t n = b.len;
        char *data = malloc(n + 1); /* with a NUL after the contents */
        if (data) {
                if (n)
                        memcpy(data, b.data, n);
                data[n] = '\0';
        }
        buf_free(&b);
        if (!data || cache_put(id, data, n) < 0) {
                free(data);
                refuse(h, 500, "put: failed to write file %s to cache (the cache holds %zu bytes)",
                       id, files_max_bytes);
                return;
        }
        dl_http_json(h, 204, NULL);
}

static int cmp_pair(const void *a, const void *b)
{
        const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
        return strcmp(cJSON_GetArrayItem(x, 0)->valuestring, cJSON_GetArrayItem(y, 0)->valuestring);
}

/* [[name, version], ...]: every language whose root filesystem is built, by Jobe's name. */
static cJSON *languages_json(catalog_t *cat)
{
        size_t n = 0;
        cJSON **pairs = calloc(cat->set.n + 1, sizeof(*pairs));
        for (size_t i = 0; pairs && i < cat->set.n; i++) {
                const toolchain_t *tc = cat->set.items[i], *use = NULL;
                if (toolchain_set_find(&cat->set, tc->name) != tc)
                        continue; /* a second version of a language listed already */
                rc_err_t err = {0};
                if (catalog_find(cat, tc->name, NULL, &use, &err) < 0 || !catalog_ready(cat, use))
                        continue;
                char *raw = catalog_version(cat, use);
                char v[64];
                dl_semver(raw, v, sizeof(v));
                free(raw);
                cJSON *p = cJSON_CreateArray();
                cJSON_AddItemToArray(p, cJSON_CreateString(jobe_lang_name(tc->name)));
                cJSON_AddItemToArray(p, cJSON_CreateString(*v ? v : "Unknown"));
                pairs[n++] = p;
        }
        if (pairs)
                qsort(pairs, n, sizeof(*pairs), cmp_pair);
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; i < n; i++)
                cJSON_AddItemToArray(arr, pairs[i]);
        free(pairs);
        return arr;
}

static void http(dl_http_t *h, int tag, dl_method_t method, const char *body, size_t len)
{
        if (tag == R_LANGUAGES)
                dl_http_json(h, 200, languages_json(dl_catalog()));
        else if (tag == R_FILES)
                files(h, method, body, len);
        else
                post_run(h, body, len);
}

static void http_too_large(dl_http_t *h, int tag)
{
        (void)tag;
        refuse(h, 413, "the request is over this server's size limit");
}

static int configure(const cJSON *opts, rc_err_t *err)
{
        const cJSON *it;
        cJSON_ArrayForEach(it, opts)
        {
                double d = it->valuedouble;
                bool integer = cJSON_IsNumber(it) && d == floor(d);
                if (strcmp(it->string, "files_max") == 0) {
                        if (!integer || d < 1 || d > 1000000)
                                return rc_err_set(err, EINVAL,
                                                  "files_max: an integer from 1 to 1000000");
                        files_max = (size_t)d;
                } else if (strcmp(it->string, "files_max_bytes") == 0) {
                        if (!integer || d < 1 || d > 64.0 * (1u << 30))
                                return rc_err_set(err, EINVAL,
                                                  "files_max_bytes: an integer from 1 to 64 GiB");
                        files_max_bytes = (size_t)d;
                } else if (strcmp(it->string, "cputime_max") == 0) {
                        if (!cJSON_IsNumber(it) || d < 1 || d > 86400)
                                return rc_err_set(err, EINVAL,
                                                  "cputime_max: seconds, from 1 to 86400");
                        cputime_max = d;
                } else {
                        return rc_err_set(err, EINVAL, "unknown option \"%s\"", it->string);
                }
        }
        return 0;
}

static void metrics(buf_t *out)
{
        buf_printf(out,
                   "# HELP runcell_jobe_files Files in the Jobe dialect's file cache.\n"
                   "# TYPE runcell_jobe_files gauge\nruncell_jobe_files %zu\n"
                   "# HELP runcell_jobe_file_bytes Bytes in the Jobe dialect's file cache.\n"
                   "# TYPE runcell_jobe_file_bytes gauge\nruncell_jobe_file_bytes %zu\n",
                   cache.n, cache.bytes);
}

static void stop(void)
{
        while (cache.n)
                cache_drop(cache.n - 1);
        free(cache.v);
        memset(&cache, 0, sizeof(cache));
}

/* Jobe's own routes, with the trailing slash its clients may add (testsubmit.py posts to
 * runs/). */
static const dl_route_t routes[] = {
    {"/runs", DL_POST, R_RUNS},
    {"/runs/", DL_POST, R_RUNS},
    {"/languages", DL_GET, R_LANGUAGES},
    {"/languages/", DL_GET, R_LANGUAGES},
    {"/files/*", DL_PUT | DL_HEAD, R_FILES},
};

const dialect_t dialect_jobe = {
    .name = "jobe",
    .base = "/jobe/index.php/restapi",
    .routes = routes,
    .nroutes = sizeof(routes) / sizeof(routes[0]),
    .run_size = sizeof(jrun_t),
    .configure = configure,
    .http = http,
    .http_too_large = http_too_large,
    .run_event = run_event,
    .metrics = metrics,
    .stop = stop,
};
