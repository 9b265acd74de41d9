/* Judge0 CE (judge0/judge0 1.13): /submissions (single, batch, paged, deleted), /languages,
 * /statuses and the information routes at the root, answered in Judge0's shapes. Submissions
 * live in the submission store (store/store.h) as Judge0 keeps them: the whole submission
 * object, its texts in Ruby's Base64, first as queued (the request) then as done (the result).
 * docs/dialects.md ("Judge0 CE") maps the fields and statuses and lists what differs. */
#include "protocol/judge0.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "engine/compare.h"
#include "engine/flags.h"
#include "protocol/dialect.h"
#include "util/json.h"
#include "util/jsonstrict.h"
#include "util/unzip.h"

extern const dialect_t dialect_judge0;

#define DIALECT     "judge0"
#define API_VERSION "1.13.1"

enum {
        R_SUBMISSIONS,
        R_SUBMISSION,
        R_BATCH,
        R_LANGUAGES,
        R_LANGUAGE,
        R_LANGUAGES_ALL,
        R_STATUSES,
        R_SYSTEM_INFO,
        R_CONFIG_INFO,
        R_ABOUT,
        R_VERSION,
        R_WORKERS,
};

/* Judge0's configuration (judge0.conf's defaults; "dialects": {"judge0": {...}} changes
 * them). */
static struct {
        double cpu_time_limit, max_cpu_time_limit, cpu_extra_time, max_cpu_extra_time;
        double wall_time_limit, max_wall_time_limit;
        long memory_limit, max_memory_limit, stack_limit, max_stack_limit;
        long max_processes, max_max_processes, max_file_size, max_max_file_size;
        long number_of_runs, max_number_of_runs, max_batch, max_queue, max_text_bytes;
        bool enable_wait_result, enable_submission_delete, enable_batched_submissions;
        bool base64_default;
} cfg = {
    .cpu_time_limit = 5,
    .max_cpu_time_limit = 15,
    .cpu_extra_time = 1,
    .max_cpu_extra_time = 5,
    .wall_time_limit = 10,
    .max_wall_time_limit = 20,
    .memory_limit = 128000,
    .max_memory_limit = 512000,
    .stack_limit = 64000,
    .max_stack_limit = 128000,
    .max_processes = 60,
    .max_max_processes = 120,
    .max_file_size = 1024,
    .max_max_file_size = 4096,
    .number_of_runs = 1,
    .max_number_of_runs = 20,
    .max_batch = 20,
    .max_queue = 100,
    .max_text_bytes = 4 << 20,
    .enable_wait_result = true,
    .enable_submission_delete = false,
    .enable_batched_submissions = true,
    .base64_default = false,
};

typedef struct jrun {
        char token[STORE_TOKEN_MAX];
        cJSON *sub;         /* the submission object as queued */
        bool stored;        /* in the store */
        bool leased;        /* its lease taken: the run has started (attempts + 1), or (a shared
                               store) it was claimed, or a client waits for it here */
        bool base64;        /* wait=true: how the answer is encoded */
        uint64_t fields;    /* wait=true: which fields */
        buf_t merged[2];    /* per stage, stdout and stderr in the order they came */
        int64_t started_ms; /* wall clock, at the first stage */
        buf_t out[2];       /* the run stage's stdout and stderr (a run with no client captures
                               nothing itself) */
} jrun_t;

/* ------------------------------------------------------------------ statuses */

static const char *const status_names[] = {
    NULL,
    "In Queue",
    "Processing",
    "Accepted",
    "Wrong Answer",
    "Time Limit Exceeded",
    "Compilation Error",
    "Runtime Error (SIGSEGV)",
    "Runtime Error (SIGXFSZ)",
    "Runtime Error (SIGFPE)",
    "Runtime Error (SIGABRT)",
    "Runtime Error (NZEC)",
    "Runtime Error (Other)",
    "Internal Error",
    "Exec Format Error",
};

const char *judge0_status_name(int id)
{
        return id >= 1 && id <= 14 ? status_names[id] : NULL;
}

static int signal_status(int sig)
{
        switch (sig) {
        case SIGSEGV:
                return J0_SIGSEGV;
        case SIGXFSZ:
                return J0_SIGXFSZ;
        case SIGFPE:
                return J0_SIGFPE;
        case SIGABRT:
                return J0_SIGABRT;
        default:
                return J0_OTHER;
        }
}

int judge0_run_status(const stage_result_t *run, int64_t cpu_limit_ms, bool output_ok,
                      int *exit_signal, char *message, size_t size)
{
        *exit_signal = run->signal;
        message[0] = '\0';
        bool cpu_over = run->cpu_ms >= 0 && cpu_limit_ms > 0 && run->cpu_ms > cpu_limit_ms;
        switch (run->status) {
        case STATUS_TIME_LIMIT:
                *exit_signal = SIGKILL;
                snprintf(message, size, "%s",
                         run->limit_kind && strcmp(run->limit_kind, "wall") == 0
                             ? "Time limit exceeded (wall clock)"
                             : "Time limit exceeded");
                return J0_TLE;
        case STATUS_MEMORY_LIMIT: /* the cgroup's OOM kill: isolate sees signal 9 */
                *exit_signal = SIGKILL;
                snprintf(message, size, "Caught fatal signal %d", SIGKILL);
                return J0_OTHER;
        case STATUS_OUTPUT_LIMIT: /* max_file_size on stdout: the write gets SIGXFSZ */
                *exit_signal = SIGXFSZ;
                snprintf(message, size, "Caught fatal signal %d", SIGXFSZ);
                return J0_SIGXFSZ;
        case STATUS_INTERNAL_ERROR:
                *exit_signal = 0;
                snprintf(message, size, "%s", run->error);
                return J0_INTERNAL;
        default:
                break;
        }
        if (cpu_over) { /* within cpu_extra_time, but past cpu_time_limit */
                snprintf(message, size, "Time limit exceeded");
                return J0_TLE;
        }
        if (run->signal) {
                snprintf(message, size, "Caught fatal signal %d", run->signal);
                return signal_status(run->signal);
        }
        if (run->status == STATUS_KILLED) {
                *exit_signal = SIGKILL;
                snprintf(message, size, "Caught fatal signal %d", SIGKILL);
                return J0_OTHER;
        }
        if (run->exit_code > 0) {
                snprintf(message, size, "Exited with error status %d", run->exit_code);
                return J0_NZEC;
        }
        return output_ok ? J0_ACCEPTED : J0_WRONG_ANSWER;
}

/* ------------------------------------------------------------------ Base64 */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void judge0_b64_encode(const void *data, size_t len, buf_t *out)
{
        const unsigned char *p = data;
        size_t col = 0;
        for (size_t i = 0; i < len; i += 3) {
                unsigned v = (unsigned)p[i] << 16;
                if (i + 1 < len)
                        v |= (unsigned)p[i + 1] << 8;
                if (i + 2 < len)
                        v |= p[i + 2];
                char q[4] = {b64[(v >> 18) & 63], b64[(v >> 12) & 63],
                             i + 1 < len ? b64[(v >> 6) & 63] : '=',
                             i + 2 < len ? b64[v & 63] : '='};
                buf_append(out, q, 4);
                col += 4;
                if (col == 60) {
                        buf_append(out, "\n", 1);
                        col = 0;
                }
        }
        if (col)
                buf_append(out, "\n", 1);
        if (!out->data)
                buf_append(out, "", 0);
}

void judge0_b64_decode(const char *s, size_t len, buf_t *out)
{
        unsigned v = 0;
        int n = 0;
        for (size_t i = 0; i < len && s[i] != '='; i++) {
                const char *at = s[i] ? strchr(b64, s[i]) : NULL;
                if (!at)
                        continue;
                v = (v << 6) | (unsigned)(at - b64);
                if (++n == 4) {
                        char q[3] = {(char)(v >> 16), (char)(v >> 8), (char)v};
                        buf_append(out, q, 3);
                        v = 0;
                        n = 0;
                }
        }
        if (n == 2) {
                char c = (char)(v >> 4);
                buf_append(out, &c, 1);
        } else if (n == 3) {
                char q[2] = {(char)(v >> 10), (char)(v >> 2)};
                buf_append(out, q, 2);
        }
        if (!out->data)
                buf_append(out, "", 0);
}

/* ------------------------------------------------------------------ fields */

const char *const judge0_fields[J0_NFIELDS] = {
    "source_code",
    "language_id",
    "stdin",
    "expected_output",
    "stdout",
    "status_id",
    "created_at",
    "finished_at",
    "time",
    "memory",
    "stderr",
    "token",
    "number_of_runs",
    "cpu_time_limit",
    "cpu_extra_time",
    "wall_time_limit",
    "memory_limit",
    "stack_limit",
    "max_processes_and_or_threads",
    "enable_per_process_and_thread_time_limit",
    "enable_per_process_and_thread_memory_limit",
    "max_file_size",
    "compile_output",
    "exit_code",
    "exit_signal",
    "message",
    "wall_time",
    "compiler_options",
    "command_line_arguments",
    "redirect_stderr_to_stdout",
    "callback_url",
    "additional_files",
    "enable_network",
    "started_at",
    "queued_at",
    "updated_at",
    "queue_host",
    "execution_host",
    "status",
    "language",
};

static int field_index(const char *name, size_t len)
{
        for (int i = 0; i < J0_NFIELDS; i++)
                if (strlen(judge0_fields[i]) == len && memcmp(judge0_fields[i], name, len) == 0)
                        return i;
        return -1;
}

uint64_t judge0_default_fields(void)
{
        static const char *const d[] = {"token",  "time",           "memory",  "stdout",
                                        "stderr", "compile_output", "message", "status"};
        uint64_t m = 0;
        for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++)
                m |= 1ull << field_index(d[i], strlen(d[i]));
        return m;
}

uint64_t judge0_parse_fields(const char *arg, char *bad, size_t size)
{
        uint64_t m = 0;
        bool all = false;
        buf_t b = {0};
        const char *p = arg ? arg : "";
        while (*p) {
                const char *comma = strchr(p, ',');
                size_t len = comma ? (size_t)(comma - p) : strlen(p);
                int i = field_index(p, len);
                if (len == 1 && *p == '*')
                        all = true;
                else if (i >= 0)
                        m |= 1ull << i;
                else if (len) /* Ruby's split drops empty pieces */
                        buf_printf(&b, "%s%.*s", b.len ? ", " : "", (int)len, p);
                p += len + (comma ? 1 : 0);
        }
        snprintf(bad, size, "%s", b.data ? b.data : "");
        bool invalid = b.len > 0;
        buf_free(&b);
        if (invalid)
                return 0;
        if (all)
                return (J0_NFIELDS == 64 ? ~0ull : (1ull << J0_NFIELDS) - 1);
        return m ? m : judge0_default_fields();
}

void judge0_decimal(double v, char *out, size_t size)
{
        if (v == floor(v) && fabs(v) < 1e15)
                snprintf(out, size, "%.1f", v);
        else
                snprintf(out, size, "%.15g", v);
}

/* ------------------------------------------------------------------ arguments */

char **judge0_split_args(const char *s, size_t *argc)
{
        size_t n = 0, cap = 8;
        char **v = calloc(cap, sizeof(*v));
        size_t len = strlen(s);
        char *word = malloc(len + 1);
        if (!v || !word) {
                free(v);
                free(word);
                return NULL;
        }
        const char *p = s;
        for (;;) {
                while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
                        p++;
                if (!*p)
                        break;
                size_t w = 0;
                char quote = 0;
                for (; *p; p++) {
                        char c = *p;
                        if (strchr("$&;<>|`", c)) /* Judge0 drops these before bash sees it */
                                continue;
                        if (quote) {
                                if (c == quote)
                                        quote = 0;
                                else if (c == '\\' && quote == '"' && p[1] && strchr("\"\\", p[1]))
                                        word[w++] = *++p;
                                else
                                        word[w++] = c;
                        } else if (c == '\'' || c == '"') {
                                quote = c;
                        } else if (c == '\\' && p[1]) {
                                word[w++] = *++p;
                        } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
                                break;
                        } else {
                                word[w++] = c;
                        }
                }
                word[w] = '\0';
                if (n + 2 > cap) {
                        char **nv = realloc(v, 2 * cap * sizeof(*v));
                        if (!nv)
                                break;
                        v = nv;
                        cap *= 2;
                }
                v[n++] = strdup(word);
                v[n] = NULL;
        }
        free(word);
        *argc = n;
        return v;
}

void judge0_free_args(char **v)
{
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
}

/* ------------------------------------------------------------------ languages */

/* Judge0 CE's id for each runcell language that Judge0 CE offers (the newest id of the same
 * compiler or interpreter; older ids of it are taken too), and ids from 1001 for runcell's
 * languages Judge0 CE has none for. The name is Judge0's form with runcell's version. */
typedef struct jlang {
        int id;
        const char *rc;
        const char *name; /* printf form: the version */
} jlang_t;

static const jlang_t jlangs[] = {
    {45, "assembly", "Assembly (NASM %s)"},
    {46, "bash", "Bash (%s)"},
    {50, "c", "C (GCC %s)"},
    {51, "csharp", "C# (Mono %s)"},
    {54, "cpp", "C++ (GCC %s)"},
    {55, "commonlisp", "Common Lisp (SBCL %s)"},
    {56, "d", "D (GDC %s)"},
    {57, "elixir", "Elixir (%s)"},
    {58, "erlang", "Erlang (OTP %s)"},
    {59, "fortran", "Fortran (GFortran %s)"},
    {60, "go", "Go (%s)"},
    {61, "haskell", "Haskell (GHC %s)"},
    {62, "java", "Java (OpenJDK %s)"},
    {63, "javascript", "JavaScript (Node.js %s)"},
    {64, "lua", "Lua (%s)"},
    {65, "ocaml", "OCaml (%s)"},
    {66, "octave", "Octave (%s)"},
    {67, "pascal", "Pascal (FPC %s)"},
    {68, "php", "PHP (%s)"},
    {69, "prolog", "Prolog (SWI-Prolog %s)"},
    {71, "python", "Python (%s)"},
    {72, "ruby", "Ruby (%s)"},
    {73, "rust", "Rust (%s)"},
    {74, "typescript", "TypeScript (%s)"},
    {75, "c-clang", "C (Clang %s)"},
    {76, "cpp-clang", "C++ (Clang %s)"},
    {77, "cobol", "COBOL (GnuCOBOL %s)"},
    {78, "kotlin", "Kotlin (%s)"},
    {79, "objc", "Objective-C (GCC %s)"},
    {80, "r", "R (%s)"},
    {81, "scala", "Scala (%s)"},
    {82, "sql", "SQL (SQLite %s)"},
    {85, "perl", "Perl (%s)"},
    {86, "clojure", "Clojure (%s)"},
    {88, "groovy", "Groovy (%s)"},
    {1001, "ada", "Ada (GNAT %s)"},
    {1002, "awk", "AWK (GNU Awk %s)"},
    {1003, "basic", "BASIC (yabasic %s)"},
    {1004, "bc", "bc (%s)"},
    {1005, "brainfuck", "Brainfuck (beef %s)"},
    {1006, "crystal", "Crystal (%s)"},
    {1007, "forth", "Forth (Gforth %s)"},
    {1008, "nim", "Nim (%s)"},
    {1009, "pypy", "Python (PyPy %s)"},
    {1010, "python-sci", "Python with NumPy, SciPy, pandas (%s)"},
    {1011, "racket", "Racket (%s)"},
    {1012, "scheme", "Scheme (GNU Guile %s)"},
    {1013, "tcl", "Tcl (%s)"},
    {1014, "zsh", "Zsh (%s)"},
};
#define NJLANGS (sizeof(jlangs) / sizeof(jlangs[0]))

/* Older Judge0 CE ids (active or archived) of a language runcell has: taken, run by runcell's
 * version, not listed (Judge0 itself answers "is archived" for 1 to 42; its documentation's
 * examples use 4, C). */
static const struct {
        int id;
        const char *rc;
} jolder[] = {
    {1, "bash"},    {2, "bash"},        {4, "c"},           {5, "c"},       {6, "c"},
    {7, "c"},       {8, "c"},           {9, "c"},           {10, "cpp"},    {11, "cpp"},
    {12, "cpp"},    {13, "cpp"},        {14, "cpp"},        {15, "cpp"},    {16, "csharp"},
    {17, "csharp"}, {18, "clojure"},    {19, "crystal"},    {20, "elixir"}, {21, "erlang"},
    {22, "go"},     {23, "haskell"},    {24, "haskell"},    {26, "java"},   {27, "java"},
    {28, "java"},   {29, "javascript"}, {30, "javascript"}, {31, "ocaml"},  {32, "octave"},
    {33, "pascal"}, {34, "python"},     {35, "python"},     {38, "ruby"},   {39, "ruby"},
    {40, "ruby"},   {41, "ruby"},       {42, "rust"},       {48, "c"},      {49, "c"},
    {52, "cpp"},    {53, "cpp"},
};

static const jlang_t *jlang_by_id(long id)
{
        for (size_t i = 0; i < NJLANGS; i++)
                if (jlangs[i].id == id)
                        return &jlangs[i];
        for (size_t i = 0; i < sizeof(jolder) / sizeof(jolder[0]); i++)
                if (jolder[i].id == id)
                        for (size_t k = 0; k < NJLANGS; k++)
                                if (strcmp(jlangs[k].rc, jolder[i].rc) == 0)
                                        return &jlangs[k];
        return NULL;
}

/* The language's toolchain (newest built) and its name with the version; NULL when runcell
 * has no such language built. */
static const toolchain_t *jlang_resolve(const jlang_t *jl, char *name, size_t size)
{
        catalog_t *cat = dl_catalog();
        size_t n = 0;
        catalog_variant_t *v = cat ? catalog_variants(cat, jl->rc, &n) : NULL;
        const toolchain_t *tc = NULL;
        if (v && n && v[0].version) {
                tc = v[0].tc;
                char ver[64];
                dl_semver(v[0].version, ver, sizeof(ver));
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
                snprintf(name, size, jl->name, ver);
#pragma GCC diagnostic pop
        }
        catalog_variants_free(v, n);
        return tc;
}

static char *join_argv(const strv_t *s, const char *source)
{
        buf_t b = {0};
        for (size_t i = 0; i < s->n; i++) {
                const char *w = s->v[i];
                if (!strcmp(w, "{entry}") || !strcmp(w, "{sources}"))
                        w = source;
                buf_printf(&b, "%s%s", i ? " " : "", w);
        }
        if (!b.data)
                buf_append(&b, "", 0);
        return b.data;
}

static cJSON *language_json(const jlang_t *jl, const char *name, const toolchain_t *tc, bool full)
{
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "id", jl->id);
        cJSON_AddStringToObject(o, "name", name);
        if (!full)
                return o;
        cJSON_AddBoolToObject(o, "is_archived", false);
        cJSON_AddStringToObject(o, "source_file", tc->source_file ? tc->source_file : "");
        if (tc->compile.n) {
                char *c = join_argv(&tc->compile, tc->source_file ? tc->source_file : "");
                cJSON_AddStringToObject(o, "compile_cmd", c);
                free(c);
        } else {
                cJSON_AddNullToObject(o, "compile_cmd");
        }
        char *r = join_argv(&tc->run, tc->source_file ? tc->source_file : "");
        cJSON_AddStringToObject(o, "run_cmd", r);
        free(r);
        return o;
}

static int cmp_name(const void *a, const void *b)
{
        const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
        return strcmp(cJSON_GetObjectItem(x, "name")->valuestring,
                      cJSON_GetObjectItem(y, "name")->valuestring);
}

static cJSON *languages_json(bool all)
{
        cJSON *items[NJLANGS];
        size_t n = 0;
        for (size_t i = 0; i < NJLANGS; i++) {
                char name[128];
                if (!jlang_resolve(&jlangs[i], name, sizeof(name)))
                        continue;
                items[n] = language_json(&jlangs[i], name, NULL, false);
                if (all)
                        cJSON_AddBoolToObject(items[n], "is_archived", false);
                n++;
        }
        if (all) /* Judge0 orders /languages/all by name, /languages by id */
                qsort(items, n, sizeof(items[0]), cmp_name);
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; i < n; i++)
                cJSON_AddItemToArray(arr, items[i]);
        return arr;
}

/* ------------------------------------------------------------------ answers */

static cJSON *error_json(const char *text)
{
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "error", text);
        return o;
}

static void not_found(dl_http_t *h)
{
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "status", 404);
        cJSON_AddStringToObject(o, "error", "Not Found");
        dl_http_json(h, 404, o);
}

static const char *const conversion_error =
    "some attributes for this submission cannot be converted to UTF-8, use base64_encoded=true "
    "query parameter";

static bool is_text_field(int i)
{
        const char *f = judge0_fields[i];
        return !strcmp(f, "source_code") || !strcmp(f, "stdin") || !strcmp(f, "expected_output") ||
               !strcmp(f, "stdout") || !strcmp(f, "stderr") || !strcmp(f, "compile_output");
}

static bool utf8_valid(const char *s, size_t len)
{
        for (size_t i = 0; i < len;) {
                size_t n = utf8_seq_len((const unsigned char *)s + i, len - i);
                if (!n)
                        return false;
                i += n;
        }
        return true;
}

/* The stored object (texts in Base64) as the client asked for it; NULL when a text is not
 * UTF-8 and base64 is off. state: the store's, for a submission not done. */
static cJSON *render(const cJSON *sub, uint64_t fields, bool base64, sub_state_t state)
{
        cJSON *o = cJSON_CreateObject();
        for (int i = 0; i < J0_NFIELDS; i++) {
                if (!(fields & (1ull << i)))
                        continue;
                const char *f = judge0_fields[i];
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(sub, f);
                if ((state == SUB_RUNNING || state == SUB_QUEUED) &&
                    (!strcmp(f, "status") || !strcmp(f, "status_id"))) {
                        int id = state == SUB_RUNNING ? J0_PROCESSING : J0_IN_QUEUE;
                        if (f[6] == '_') {
                                cJSON_AddNumberToObject(o, f, id);
                        } else {
                                cJSON *s = cJSON_AddObjectToObject(o, f);
                                cJSON_AddNumberToObject(s, "id", id);
                                cJSON_AddStringToObject(s, "description", status_names[id]);
                        }
                        continue;
                }
                if (!v || cJSON_IsNull(v)) {
                        cJSON_AddNullToObject(o, f);
                } else if (is_text_field(i) && !base64 && cJSON_IsString(v)) {
                        buf_t b = {0};
                        judge0_b64_decode(v->valuestring, strlen(v->valuestring), &b);
                        bool ok = utf8_valid(b.data, b.len);
                        if (ok)
                                cJSON_AddItemToObject(o, f, json_bytes_item(b.data, b.len));
                        buf_free(&b);
                        if (!ok) {
                                cJSON_Delete(o);
                                return NULL;
                        }
                } else if (!strcmp(f, "message") && base64 && cJSON_IsString(v)) {
                        buf_t b = {0};
                        judge0_b64_encode(v->valuestring, strlen(v->valuestring), &b);
                        cJSON_AddStringToObject(o, f, b.data);
                        buf_free(&b);
                } else {
                        cJSON_AddItemToObject(o, f, cJSON_Duplicate(v, 1));
                }
        }
        return o;
}

char *judge0_callback_body(const char *result)
{
        cJSON *sub = result ? cJSON_Parse(result) : NULL;
        cJSON *o = sub ? render(sub, judge0_default_fields(), true, SUB_DONE) : NULL;
        char *text = o ? cJSON_PrintUnformatted(o) : NULL;
        cJSON_Delete(sub);
        cJSON_Delete(o);
        return text;
}

static void iso_time(int64_t ms, char *out, size_t size)
{
        time_t s = (time_t)(ms / 1000);
        struct tm tm;
        gmtime_r(&s, &tm);
        char d[32];
        strftime(d, sizeof(d), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(out, size, "%s.%03dZ", d, (int)(ms % 1000));
}

static int64_t wall_now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_item(cJSON *o, const char *key, cJSON *v)
{
        if (cJSON_HasObjectItem(o, key))
                cJSON_ReplaceItemInObjectCaseSensitive(o, key, v);
        else
                cJSON_AddItemToObject(o, key, v);
}

static void set_text(cJSON *o, const char *key, const char *data, size_t len)
{
        if (!data || !len) { /* Judge0 keeps an empty output as nil */
                set_item(o, key, cJSON_CreateNull());
                return;
        }
        buf_t b = {0};
        judge0_b64_encode(data, len, &b);
        set_item(o, key, cJSON_CreateString(b.data));
        buf_free(&b);
}

static void set_decimal(cJSON *o, const char *key, double v, bool known)
{
        char d[64];
        judge0_decimal(v, d, sizeof(d));
        set_item(o, key, known ? cJSON_CreateString(d) : cJSON_CreateNull());
}

static void set_status(cJSON *o, int id)
{
        set_item(o, "status_id", cJSON_CreateNumber(id));
        cJSON *s = cJSON_CreateObject();
        cJSON_AddNumberToObject(s, "id", id);
        cJSON_AddStringToObject(s, "description", status_names[id]);
        set_item(o, "status", s);
}

static double num_of(const cJSON *o, const char *key, double dflt)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        if (cJSON_IsNumber(v))
                return v->valuedouble;
        if (cJSON_IsString(v))
                return strtod(v->valuestring, NULL);
        return dflt;
}

static bool bool_of(const cJSON *o, const char *key)
{
        return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static buf_t text_of(const cJSON *o, const char *key)
{
        buf_t b = {0};
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        if (cJSON_IsString(v))
                judge0_b64_decode(v->valuestring, strlen(v->valuestring), &b);
        if (!b.data)
                buf_append(&b, "", 0);
        return b;
}

/* The finished submission: the queued object with the run's outcome. */
static cJSON *finish_object(const cJSON *queued, const job_result_t *res, const jrun_t *jr)
{
        cJSON *o = cJSON_Duplicate(queued, 1);
        char when[40];
        iso_time(wall_now_ms(), when, sizeof(when));
        set_item(o, "finished_at", cJSON_CreateString(when));
        if (jr->started_ms) {
                char started[40];
                iso_time(jr->started_ms, started, sizeof(started));
                set_item(o, "started_at", cJSON_CreateString(started));
        }
        set_item(o, "updated_at", cJSON_CreateString(when));
        set_item(o, "execution_host",
                 *dl_node_id() ? cJSON_CreateString(dl_node_id()) : cJSON_CreateNull());
        const stage_result_t *c = &res->compile, *r = &res->run;
        if (c->present && jr->merged[0].len)
                set_text(o, "compile_output", jr->merged[0].data, jr->merged[0].len);
        if (c->present && c->status != STATUS_OK) {
                if (c->status == STATUS_INTERNAL_ERROR) {
                        set_status(o, J0_INTERNAL);
                        set_item(o, "message", cJSON_CreateString(c->error));
                        return o;
                }
                if (c->status == STATUS_TIME_LIMIT) {
                        const char *t = "Compilation time limit exceeded.";
                        set_text(o, "compile_output", t, strlen(t));
                }
                set_status(o, J0_COMPILE_ERROR);
                return o;
        }
        if (!r->present) {
                set_status(o, J0_INTERNAL);
                set_item(o, "message",
                         cJSON_CreateString(c->error[0] ? c->error : "the run did not start"));
                return o;
        }
        bool merge = bool_of(o, "redirect_stderr_to_stdout");
        const buf_t *out = merge ? &jr->merged[1] : &jr->out[0];
        bool output_ok = true;
        const cJSON *exp = cJSON_GetObjectItemCaseSensitive(o, "expected_output");
        if (cJSON_IsString(exp)) {
                buf_t e = text_of(o, "expected_output");
                compare_opts_t co = {.mode = COMPARE_TRIM};
                output_ok =
                    compare_outputs(&co, e.data, e.len, out->data ? out->data : "", out->len, NULL);
                buf_free(&e);
        }
        int sig = 0;
        char message[600];
        int64_t cpu_limit = (int64_t)ceil(num_of(o, "cpu_time_limit", cfg.cpu_time_limit) * 1000);
        int st = judge0_run_status(r, cpu_limit, output_ok, &sig, message, sizeof(message));
        set_text(o, "stdout", out->data, out->len);
        if (merge)
                set_item(o, "stderr", cJSON_CreateNull());
        else
                set_text(o, "stderr", jr->out[1].data, jr->out[1].len);
        set_decimal(o, "time", (double)r->cpu_ms / 1000.0, r->cpu_ms >= 0);
        set_decimal(o, "wall_time", (double)r->wall_ms / 1000.0, true);
        set_item(o, "memory",
                 r->memory_kb >= 0 ? cJSON_CreateNumber((double)r->memory_kb) : cJSON_CreateNull());
        set_item(o, "exit_code", cJSON_CreateNumber(r->exit_code >= 0 ? r->exit_code : 0));
        set_item(o, "exit_signal", sig ? cJSON_CreateNumber(sig) : cJSON_CreateNull());
        set_item(o, "message", message[0] ? cJSON_CreateString(message) : cJSON_CreateNull());
        set_status(o, st);
        return o;
}

/* ------------------------------------------------------------------ validation */

typedef struct verrs {
        cJSON *o; /* {"field": ["message", ...]} */
} verrs_t;

static void verr(verrs_t *e, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void verr(verrs_t *e, const char *field, const char *fmt, ...)
{
        char msg[300];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (!e->o)
                e->o = cJSON_CreateObject();
        cJSON *arr = cJSON_GetObjectItemCaseSensitive(e->o, field);
        if (!arr)
                arr = cJSON_AddArrayToObject(e->o, field);
        cJSON_AddItemToArray(arr, cJSON_CreateString(msg));
}

/* A string attribute: a string, or a number Rails turns into one; NULL absent (or null).
 * Anything else is "is invalid". */
static const char *str_attr(const cJSON *body, const char *key, char *tmp, size_t size, verrs_t *e)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, key);
        if (!v || cJSON_IsNull(v))
                return NULL;
        if (cJSON_IsString(v))
                return v->valuestring;
        if (cJSON_IsNumber(v)) {
                judge0_decimal(v->valuedouble, tmp, size);
                if (v->valuedouble == floor(v->valuedouble))
                        snprintf(tmp, size, "%.0f", v->valuedouble);
                return tmp;
        }
        verr(e, key, "is invalid");
        return NULL;
}

/* A numeric attribute with Judge0's bounds (Rails' numericality messages). Absent: dflt. */
static double num_attr(const cJSON *body, const char *key, double dflt, double lo, bool lo_incl,
                       double hi, bool integer, verrs_t *e, bool *given)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, key);
        if (given)
                *given = v && !cJSON_IsNull(v);
        if (!v || cJSON_IsNull(v) || (cJSON_IsString(v) && !*v->valuestring))
                return dflt;
        double d;
        if (cJSON_IsNumber(v)) {
                d = v->valuedouble;
        } else if (cJSON_IsString(v)) {
                char *end;
                const char *s = v->valuestring;
                while (isspace((unsigned char)*s))
                        s++;
                d = strtod(s, &end);
                while (isspace((unsigned char)*end))
                        end++;
                if (end == s || *end || !isfinite(d) || strpbrk(s, "xXnNiI")) {
                        verr(e, key, "is not a number");
                        return dflt;
                }
        } else {
                verr(e, key,
                     cJSON_IsArray(v) || cJSON_IsObject(v) ? "is invalid" : "is not a number");
                return dflt;
        }
        if (integer)
                d = trunc(d); /* an integer column: Rails casts 2.5 to 2 */
        char lim[64];
        if (lo_incl ? d < lo : d <= lo) { /* the model's lower bounds are integers */
                snprintf(lim, sizeof(lim), "%.0f", lo);
                verr(e, key, "must be greater than %s%s", lo_incl ? "or equal to " : "", lim);
        } else if (d > hi) {
                judge0_decimal(hi, lim, sizeof(lim));
                if (integer)
                        snprintf(lim, sizeof(lim), "%.0f", hi);
                verr(e, key, "must be less than or equal to %s", lim);
        }
        return d;
}

/* Rails' boolean cast: false for false, 0, "0", "f", "false", "off" (any case) and "", true
 * for any other scalar; an array or object "is invalid". Absent: dflt. */
static bool bool_attr(const cJSON *body, const char *key, bool dflt, verrs_t *e)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, key);
        if (!v || cJSON_IsNull(v))
                return dflt;
        if (cJSON_IsBool(v))
                return cJSON_IsTrue(v);
        if (cJSON_IsNumber(v))
                return v->valuedouble != 0;
        if (cJSON_IsString(v)) {
                const char *s = v->valuestring;
                if (!*s)
                        return dflt;
                return !(strcmp(s, "0") == 0 || strcasecmp(s, "f") == 0 ||
                         strcasecmp(s, "false") == 0 || strcasecmp(s, "off") == 0);
        }
        verr(e, key, "is invalid");
        return dflt;
}

static void put_text(cJSON *o, const char *key, const char *s, bool base64)
{
        if (!s) {
                cJSON_AddNullToObject(o, key);
                return;
        }
        buf_t raw = {0}, enc = {0};
        if (base64)
                judge0_b64_decode(s, strlen(s), &raw);
        else
                buf_append(&raw, s, strlen(s));
        judge0_b64_encode(raw.data, raw.len, &enc);
        cJSON_AddStringToObject(o, key, enc.data);
        buf_free(&raw);
        buf_free(&enc);
}

static void put_decimal(cJSON *o, const char *key, double v)
{
        char d[64];
        judge0_decimal(v, d, sizeof(d));
        cJSON_AddStringToObject(o, key, d);
}

/* The words of compiler_options for language (a toolchain's name) as a JSON array, or NULL
 * with msg (flags_check_compiler's reason). */
static cJSON *compiler_words(const char *lang, const char *opts, char *msg, size_t size)
{
        char **argv = NULL;
        size_t argc = 0;
        if (flags_check_compiler(lang, opts, &argv, &argc, msg, size) < 0)
                return NULL;
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; i < argc; i++)
                cJSON_AddItemToArray(arr, cJSON_CreateString(argv[i]));
        flags_free(argv, argc);
        return arr;
}

/* A request body as Judge0's model validates it: the queued submission object (texts in
 * Base64, defaults filled in), or NULL with the errors in *errs. */
static cJSON *validate(const cJSON *body, bool base64, cJSON **errs)
{
        verrs_t e = {0};
        char t1[64], t2[64], t3[64], t4[64];
        if (!cJSON_IsObject(body)) {
                verr(&e, "source_code", "can't be blank");
                verr(&e, "language_id", "can't be blank");
                *errs = e.o;
                return NULL;
        }
        const char *src = str_attr(body, "source_code", t1, sizeof(t1), &e);
        if (!src || !*src)
                if (!cJSON_GetObjectItemCaseSensitive(e.o, "source_code"))
                        verr(&e, "source_code", "can't be blank");
        const cJSON *jl = cJSON_GetObjectItemCaseSensitive(body, "language_id");
        char lang_text[64] = "";
        long lang_id = -1;
        if (!jl || cJSON_IsNull(jl) || (cJSON_IsString(jl) && !*jl->valuestring)) {
                verr(&e, "language_id", "can't be blank");
        } else if (cJSON_IsNumber(jl)) {
                double v = jl->valuedouble;
                if (v > -1e18 && v < 1e18) {
                        lang_id = (long)v;
                        snprintf(lang_text, sizeof(lang_text), "%ld", lang_id);
                } else { /* no language has it (and a cast past long's range is undefined) */
                        snprintf(lang_text, sizeof(lang_text), "%g", v);
                }
        } else if (cJSON_IsString(jl)) {
                char *end;
                lang_id = strtol(jl->valuestring, &end, 10);
                snprintf(lang_text, sizeof(lang_text), "%.40s", jl->valuestring);
                if (*end)
                        lang_id = -1;
        } else {
                verr(&e, "language_id", "is invalid");
        }
        double runs = num_attr(body, "number_of_runs", (double)cfg.number_of_runs, 0, false,
                               (double)cfg.max_number_of_runs, true, &e, NULL);
        double cpu = num_attr(body, "cpu_time_limit", cfg.cpu_time_limit, 0, true,
                              cfg.max_cpu_time_limit, false, &e, NULL);
        double extra = num_attr(body, "cpu_extra_time", cfg.cpu_extra_time, 0, true,
                                cfg.max_cpu_extra_time, false, &e, NULL);
        double wall = num_attr(body, "wall_time_limit", cfg.wall_time_limit, 1, true,
                               cfg.max_wall_time_limit, false, &e, NULL);
        double mem = num_attr(body, "memory_limit", (double)cfg.memory_limit, 2048, true,
                              (double)cfg.max_memory_limit, true, &e, NULL);
        double stack = num_attr(body, "stack_limit", (double)cfg.stack_limit, 0, true,
                                (double)cfg.max_stack_limit, true, &e, NULL);
        double procs = num_attr(body, "max_processes_and_or_threads", (double)cfg.max_processes, 0,
                                false, (double)cfg.max_max_processes, true, &e, NULL);
        bool pp_time = bool_attr(body, "enable_per_process_and_thread_time_limit", false, &e);
        bool pp_mem = bool_attr(body, "enable_per_process_and_thread_memory_limit", false, &e);
        double fsize = num_attr(body, "max_file_size", (double)cfg.max_file_size, 0, true,
                                (double)cfg.max_max_file_size, true, &e, NULL);
        const char *copts = str_attr(body, "compiler_options", t2, sizeof(t2), &e);
        if (copts && strlen(copts) > 512)
                verr(&e, "compiler_options", "is too long (maximum is 512 characters)");
        const char *cargs = str_attr(body, "command_line_arguments", t3, sizeof(t3), &e);
        if (cargs && strlen(cargs) > 512)
                verr(&e, "command_line_arguments", "is too long (maximum is 512 characters)");
        char t7[64];
        const char *stdin_s = str_attr(body, "stdin", t4, sizeof(t4), &e);
        const char *expected = str_attr(body, "expected_output", t7, sizeof(t7), &e);
        static const char *const texts[] = {"source_code", "stdin", "expected_output"};
        for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, texts[i]);
                /* runcell's own bound (Judge0 has none): the decoded text, in bytes */
                size_t n = cJSON_IsString(v) ? strlen(v->valuestring) : 0;
                if (base64)
                        n = n / 4 * 3;
                if (n > (size_t)cfg.max_text_bytes)
                        verr(&e, texts[i], "is too long (maximum is %ld characters)",
                             cfg.max_text_bytes);
        }
        bool redirect = bool_attr(body, "redirect_stderr_to_stdout", false, &e);
        bool network = bool_attr(body, "enable_network", false, &e);
        char t5[64], t6[64];
        const char *cb = str_attr(body, "callback_url", t5, sizeof(t5), &e);
        const char *files = str_attr(body, "additional_files", t6, sizeof(t6), &e);

        /* the model's own checks, in its order */
        const jlang_t *jlang = lang_id >= 0 ? jlang_by_id(lang_id) : NULL;
        char lname[128] = "";
        const toolchain_t *tc = jlang ? jlang_resolve(jlang, lname, sizeof(lname)) : NULL;
        if (lang_text[0] && !tc)
                verr(&e, "language_id", "language with id %s doesn't exist", lang_text);
        if (copts && *copts) {
                char msg[300];
                if (tc && !tc->compile.n)
                        verr(&e, "compiler_options",
                             "setting compiler options is only allowed for compiled languages");
                else if (tc) {
                        cJSON *w = compiler_words(tc->name, copts, msg, sizeof(msg));
                        if (!w)
                                verr(&e, "compiler_options", "%s", msg);
                        cJSON_Delete(w);
                }
        }
        if (cb && *cb) {
                char msg[300];
                if (!dl_callback_allowed(cb, msg, sizeof(msg)))
                        verr(&e, "callback_url", "%s", msg);
        }
        buf_t zip = {0};
        cJSON *extra_files = NULL;
        if (files && *files) {
                judge0_b64_decode(files, strlen(files), &zip);
                unzip_limits_t lim;
                memset(&lim, 0, sizeof(lim));
                char msg[300];
                if (unzip_files(zip.data, zip.len, &lim, &extra_files, msg, sizeof(msg)) < 0)
                        verr(&e, "additional_files", "%s", msg);
        }
        cJSON_Delete(extra_files); /* checked here; unpacked again when the run starts */
        buf_free(&zip);
        if (network)
                verr(&e, "enable_network", "enabling network is not allowed");
        if (e.o) {
                *errs = e.o;
                return NULL;
        }

        cJSON *o = cJSON_CreateObject();
        char token[40], hex[33], now[40];
        dl_random_hex(hex, 16);
        hex[12] = '4'; /* a version 4 UUID */
        hex[16] = "89ab"[hex[16] % 4];
        snprintf(token, sizeof(token), "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
                 hex + 16, hex + 20);
        iso_time(wall_now_ms(), now, sizeof(now));
        put_text(o, "source_code", src, base64);
        cJSON_AddNumberToObject(o, "language_id", (double)lang_id);
        put_text(o, "stdin", stdin_s, base64);
        put_text(o, "expected_output", expected, base64);
        cJSON_AddNullToObject(o, "stdout");
        cJSON_AddNumberToObject(o, "status_id", J0_IN_QUEUE);
        cJSON_AddStringToObject(o, "created_at", now);
        cJSON_AddNullToObject(o, "finished_at");
        cJSON_AddNullToObject(o, "time");
        cJSON_AddNullToObject(o, "memory");
        cJSON_AddNullToObject(o, "stderr");
        cJSON_AddStringToObject(o, "token", token);
        cJSON_AddNumberToObject(o, "number_of_runs", runs);
        put_decimal(o, "cpu_time_limit", cpu);
        put_decimal(o, "cpu_extra_time", extra);
        put_decimal(o, "wall_time_limit", wall);
        cJSON_AddNumberToObject(o, "memory_limit", mem);
        cJSON_AddNumberToObject(o, "stack_limit", stack);
        cJSON_AddNumberToObject(o, "max_processes_and_or_threads", procs);
        cJSON_AddBoolToObject(o, "enable_per_process_and_thread_time_limit", pp_time);
        cJSON_AddBoolToObject(o, "enable_per_process_and_thread_memory_limit", pp_mem);
        cJSON_AddNumberToObject(o, "max_file_size", fsize);
        cJSON_AddNullToObject(o, "compile_output");
        cJSON_AddNullToObject(o, "exit_code");
        cJSON_AddNullToObject(o, "exit_signal");
        cJSON_AddNullToObject(o, "message");
        cJSON_AddNullToObject(o, "wall_time");
        if (copts)
                cJSON_AddStringToObject(o, "compiler_options", copts);
        else
                cJSON_AddNullToObject(o, "compiler_options");
        if (cargs)
                cJSON_AddStringToObject(o, "command_line_arguments", cargs);
        else
                cJSON_AddNullToObject(o, "command_line_arguments");
        cJSON_AddBoolToObject(o, "redirect_stderr_to_stdout", redirect);
        if (cb && *cb)
                cJSON_AddStringToObject(o, "callback_url", cb);
        else
                cJSON_AddNullToObject(o, "callback_url");
        if (files && *files) /* kept as Judge0 shows it: Base64 of the archive */
                put_text(o, "additional_files", files, true);
        else
                cJSON_AddNullToObject(o, "additional_files");
        cJSON_AddBoolToObject(o, "enable_network", false);
        cJSON_AddNullToObject(o, "started_at");
        cJSON_AddStringToObject(o, "queued_at", now);
        cJSON_AddStringToObject(o, "updated_at", now);
        if (*dl_node_id())
                cJSON_AddStringToObject(o, "queue_host", dl_node_id());
        else
                cJSON_AddNullToObject(o, "queue_host");
        cJSON_AddNullToObject(o, "execution_host");
        set_status(o, J0_IN_QUEUE);
        cJSON *l = cJSON_AddObjectToObject(o, "language");
        cJSON_AddNumberToObject(l, "id", (double)lang_id);
        cJSON_AddStringToObject(l, "name", lname);
        *errs = NULL;
        return o;
}

/* The run document of a queued submission; NULL with msg when it cannot run (its language is
 * gone). */
static cJSON *run_doc(const cJSON *sub, char *msg, size_t size)
{
        const jlang_t *jl = jlang_by_id((long)num_of(sub, "language_id", -1));
        if (!jl) {
                snprintf(msg, size, "the language is no longer there");
                return NULL;
        }
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "language", jl->rc);
        buf_t src = text_of(sub, "source_code");
        buf_t in = text_of(sub, "stdin");
        const cJSON *jf = cJSON_GetObjectItemCaseSensitive(sub, "additional_files");
        cJSON *files = NULL;
        if (cJSON_IsString(jf)) {
                buf_t zip = text_of(sub, "additional_files");
                unzip_limits_t lim;
                memset(&lim, 0, sizeof(lim));
                if (unzip_files(zip.data, zip.len, &lim, &files, msg, size) < 0)
                        files = NULL;
                buf_free(&zip);
        }
        if (files) {
                cJSON *f = cJSON_CreateObject();
                /* the source first, under the language's own name */
                const toolchain_t *tc = NULL;
                char nm[128];
                tc = jlang_resolve(jl, nm, sizeof(nm));
                cJSON_AddStringToObject(f, "name",
                                        tc && tc->source_file ? tc->source_file : "main");
                cJSON_AddStringToObject(f, "content", src.data);
                cJSON_InsertItemInArray(files, 0, f);
                cJSON_AddItemToObject(doc, "files", files);
        } else {
                cJSON_AddStringToObject(doc, "source", src.data);
        }
        if (in.len)
                cJSON_AddStringToObject(doc, "stdin", in.data);
        buf_free(&src);
        buf_free(&in);
        const cJSON *jo = cJSON_GetObjectItemCaseSensitive(sub, "compiler_options");
        if (cJSON_IsString(jo) && *jo->valuestring) {
                cJSON *w = compiler_words(jl->rc, jo->valuestring, msg, size);
                if (!w) {
                        cJSON_Delete(doc);
                        return NULL;
                }
                cJSON_AddItemToObject(doc, "compile_options", w);
        }
        const cJSON *ja = cJSON_GetObjectItemCaseSensitive(sub, "command_line_arguments");
        if (cJSON_IsString(ja) && *ja->valuestring) {
                size_t argc = 0;
                char **argv = judge0_split_args(ja->valuestring, &argc);
                cJSON *arr = cJSON_AddArrayToObject(doc, "args");
                for (size_t i = 0; argv && i < argc; i++)
                        cJSON_AddItemToArray(arr, cJSON_CreateString(argv[i]));
                judge0_free_args(argv);
        }
        cJSON *lim = cJSON_AddObjectToObject(doc, "limits");
        double cpu = num_of(sub, "cpu_time_limit", cfg.cpu_time_limit) +
                     num_of(sub, "cpu_extra_time", cfg.cpu_extra_time);
        double wall = num_of(sub, "wall_time_limit", cfg.wall_time_limit);
        double mem_kb = num_of(sub, "memory_limit", (double)cfg.memory_limit);
        double stack_kb = num_of(sub, "stack_limit", (double)cfg.stack_limit);
        double procs = num_of(sub, "max_processes_and_or_threads", (double)cfg.max_processes);
        double fsize_kb = num_of(sub, "max_file_size", (double)cfg.max_file_size);
        cJSON_AddNumberToObject(lim, "cpu_ms", fmax(1, ceil(cpu * 1000)));
        cJSON_AddNumberToObject(lim, "wall_ms", fmax(1, ceil(wall * 1000)));
        cJSON_AddNumberToObject(lim, "memory_mb", fmax(1, ceil(mem_kb / 1024)));
        if (stack_kb > 0)
                cJSON_AddNumberToObject(lim, "stack_mb", fmax(1, ceil(stack_kb / 1024)));
        cJSON_AddNumberToObject(lim, "processes", fmax(1, procs));
        cJSON_AddNumberToObject(lim, "file_size_mb", fmax(1, ceil(fsize_kb / 1024)));
        cJSON_AddNumberToObject(lim, "output_bytes", fmax(1, fsize_kb * 1024));
        return doc;
}

/* ------------------------------------------------------------------ runs */

/* The lease owner: the server's node id ("runcell" when it has none). */
static const char *owner(void)
{
        const char *n = dl_node_id();
        return n && *n ? n : "runcell";
}

/* The lease is taken as the run starts, not when it is queued: a submission that waited in
 * the queue when runcell died has not been tried. */
static void take_lease(dl_run_t *r)
{
        jrun_t *jr = dl_run_data(r);
        store_t *st = dl_store();
        rc_err_t err = {0};
        int attempts = 0;
        if (!jr->stored || !st || jr->leased)
                return;
        if (store_lease(st, jr->token, owner(), store_now_ms() + dl_lease_ms(), &attempts, &err) ==
            1) {
                jr->leased = true;
        } else { /* deleted meanwhile, or another node runs it */
                jr->stored = false;
                dl_run_kill(r, SIGKILL);
        }
}

/* Called once the run is made: it may have started already (its first events came before
 * this), and then its lease is taken now. */
static void jrun_setup(dl_run_t *r, const char *token, cJSON *sub, bool stored, bool base64,
                       uint64_t fields)
{
        jrun_t *jr = dl_run_data(r);
        snprintf(jr->token, sizeof(jr->token), "%s", token);
        jr->sub = sub;
        jr->stored = stored;
        jr->base64 = base64;
        jr->fields = fields;
        if (jr->started_ms)
                take_lease(r);
}

/* Answer a client waiting for its submission with the finished object. */
static void answer_done(dl_http_t *h, const cJSON *done, const jrun_t *jr)
{
        cJSON *o = render(done, jr->fields, jr->base64, SUB_DONE);
        if (!o) {
                o = error_json(conversion_error);
                cJSON_AddStringToObject(o, "token", jr->token);
        }
        dl_http_json(h, 201, o);
}

static void run_event(dl_run_t *r, const dl_event_t *ev)
{
        jrun_t *jr = dl_run_data(r);
        dl_http_t *h = dl_run_http(r);
        store_t *st = dl_store();
        rc_err_t err = {0};
        if (ev->kind == DL_EV_STAGE && !jr->started_ms) {
                jr->started_ms = wall_now_ms();
                take_lease(r);
        }
        if (ev->kind == DL_EV_OUTPUT) {
                int s = ev->stage == STAGE_COMPILE ? 0 : 1;
                if (jr->merged[s].len < (size_t)64 << 20)
                        buf_append(&jr->merged[s], ev->data, ev->len);
                if (s == 1 && jr->out[ev->stream].len < (size_t)64 << 20)
                        buf_append(&jr->out[ev->stream], ev->data, ev->len);
        } else if (ev->kind == DL_EV_DONE && jr->sub) {
                const job_result_t *res = ev->result;
                bool cut = dl_draining() &&
                           ((res->run.present && res->run.status == STATUS_KILLED) ||
                            (res->compile.present && res->compile.status == STATUS_KILLED) ||
                            (!res->run.present && !res->compile.present));
                if (cut && jr->stored && st) { /* cut short by the stop: it runs again later */
                        if (jr->leased)
                                store_release(st, jr->token, &err);
                        if (h)
                                dl_http_json(h, 503, error_json("the server is shutting down"));
                        return;
                }
                cJSON *done = finish_object(jr->sub, ev->result, jr);
                if (jr->stored && st) {
                        char *text = cJSON_PrintUnformatted(done);
                        /* only while this node holds its lease (or it never took one): one
                         * whose lease expired and went to another node is that node's now */
                        int w = text ? store_finish(st, jr->token, jr->leased ? owner() : NULL,
                                                    text, &err)
                                     : -ENOMEM;
                        if (w < 0)
                                dl_log(DL_LOG_ERROR, "judge0_store_error", "judge0: storing %s: %s",
                                       jr->token, w == -ENOMEM ? "out of memory" : err.msg);
                        else if (w == 0)
                                dl_log(DL_LOG_WARN, "judge0_result_dropped",
                                       "judge0: the result of %s is not stored: its lease went to "
                                       "another node (it expired), or it was deleted",
                                       jr->token);
                        else
                                dl_log(DL_LOG_INFO, "judge0_stored",
                                       "judge0: the result of %s stored by node %s", jr->token,
                                       owner());
                        free(text);
                        if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(done, "callback_url")))
                                dl_callbacks_kick();
                }
                if (h)
                        answer_done(h, done, jr);
                cJSON_Delete(done);
        } else if (ev->kind == DL_EV_DROPPED) {
                if (jr->leased && st)
                        store_release(st, jr->token, &err);
                if (h)
                        dl_http_json(h, 503,
                                     error_json(ev->message ? ev->message : "queue is full"));
        }
}

static void run_free(dl_run_t *r)
{
        jrun_t *jr = dl_run_data(r);
        cJSON_Delete(jr->sub);
        jr->sub = NULL;
        buf_free(&jr->merged[0]);
        buf_free(&jr->merged[1]);
        buf_free(&jr->out[0]);
        buf_free(&jr->out[1]);
}

/* Store a validated submission: queued, or with lease_owner already leased to it (in the
 * insert's transaction). 0, or -errno. */
static int store_new(store_t *st, const cJSON *sub, const char *lease_owner, rc_err_t *err)
{
        char *text = cJSON_PrintUnformatted(sub);
        if (!text)
                return -ENOMEM;
        submission_t s;
        memset(&s, 0, sizeof(s));
        snprintf(s.token, sizeof(s.token), "%s",
                 cJSON_GetObjectItemCaseSensitive(sub, "token")->valuestring);
        snprintf(s.dialect, sizeof(s.dialect), "%s", DIALECT);
        s.state = SUB_QUEUED;
        s.request = text;
        const cJSON *cb = cJSON_GetObjectItemCaseSensitive(sub, "callback_url");
        s.callback_url = cJSON_IsString(cb) ? cb->valuestring : NULL;
        if (lease_owner) {
                snprintf(s.lease_owner, sizeof(s.lease_owner), "%s", lease_owner);
                s.lease_expiry_ms = store_now_ms() + dl_lease_ms();
        }
        int rc = store_insert(st, &s, 1, err);
        free(text);
        return rc;
}

/* Start a stored submission's run with no client: a queued one (its lease is taken when the
 * run starts), or one this node claimed (leased: its lease is held already, and given back if
 * the run cannot start). 0, -EBUSY when the server's queue is full, other -errno. sub is taken
 * over. */
static int submit_stored(store_t *st, cJSON *sub, bool leased)
{
        const char *token = cJSON_GetObjectItemCaseSensitive(sub, "token")->valuestring;
        char tok[STORE_TOKEN_MAX];
        snprintf(tok, sizeof(tok), "%s", token);
        rc_err_t err = {0};
        char msg[300];
        cJSON *doc = run_doc(sub, msg, sizeof(msg));
        if (!doc) {
                cJSON *done = cJSON_Duplicate(sub, 1);
                set_status(done, J0_INTERNAL);
                set_item(done, "message", cJSON_CreateString(msg));
                char *text = cJSON_PrintUnformatted(done);
                if (text)
                        store_finish(st, tok, leased ? owner() : NULL, text, &err);
                free(text);
                cJSON_Delete(done);
                cJSON_Delete(sub);
                return 0;
        }
        dl_error_t e;
        dl_run_t *r = dl_run_submit(&dialect_judge0, doc, tok, &e);
        if (!r) {
                if (leased)
                        store_release(st, tok, &err);
                cJSON_Delete(sub);
                return strcmp(e.code, "busy") == 0 ? -EBUSY : -EIO;
        }
        jrun_t *jr = dl_run_data(r);
        jr->leased = leased;
        jrun_setup(r, tok, sub, true, false, 0);
        return 0;
}

/* ------------------------------------------------------------------ claims (a shared store)
 *
 * With a store several nodes share, a submission is not queued in the server that took it:
 * it waits in the store, and every node with free run slots claims the oldest ones
 * (store_claim) every dl_store_poll_ms(), and at once after a submission came in here. So
 * work submitted to one node runs on any, and a node that died has its claimed work (leases
 * expired) claimed by the others. */

static bool shared(void)
{
        store_t *st = dl_store();
        return st && store_shared(st);
}

static void poll_claims(void)
{
        store_t *st = dl_store();
        if (!st || dl_draining())
                return;
        int running = 0, queued = 0, max = 0;
        dl_load(&running, &queued, &max);
        for (int room = max - running - queued; room > 0; room--) {
                submission_t s;
                rc_err_t err = {0};
                int r = store_claim(st, DIALECT, owner(), store_now_ms() + dl_lease_ms(), &s, &err);
                if (r < 0)
                        dl_log(DL_LOG_ERROR, "judge0_store_error", "judge0: claiming work: %s",
                               err.msg);
                if (r <= 0)
                        break;
                cJSON *sub = cJSON_Parse(s.request);
                if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(sub, "token"))) {
                        cJSON_Delete(sub);
                        store_finish(st, s.token, owner(),
                                     "{\"status\": {\"id\": 13, \"description\": \"Internal "
                                     "Error\"}, \"message\": \"the stored request is not "
                                     "readable\"}",
                                     &err);
                } else if (submit_stored(st, sub, true) == -EBUSY) {
                        submission_free(&s);
                        break;
                }
                submission_free(&s);
        }
        dl_timer((int)dl_store_poll_ms(), poll_claims);
}

/* A submission came in: this node looks for work now rather than at the next poll. */
static void claim_soon(void)
{
        dl_timer(1, poll_claims);
}

/* ------------------------------------------------------------------ HTTP */

static bool arg_true(dl_http_t *h, const char *name)
{
        char buf[128]; /* lws copies "name=value" into it */
        const char *v = dl_http_arg(h, name, buf, sizeof(buf));
        return v && strcmp(v, "true") == 0;
}

static bool base64_arg(dl_http_t *h)
{
        char buf[128];
        const char *v = dl_http_arg(h, "base64_encoded", buf, sizeof(buf));
        if (!v)
                return cfg.base64_default;
        return cfg.base64_default ? strcmp(v, "false") != 0 : strcmp(v, "true") == 0;
}

/* The fields argument; false when it was answered (400). */
static bool fields_arg(dl_http_t *h, uint64_t *out)
{
        char buf[2048], bad[1024];
        const char *v = dl_http_arg(h, "fields", buf, sizeof(buf));
        *out = judge0_parse_fields(v, bad, sizeof(bad));
        if (*out)
                return true;
        char msg[1100];
        snprintf(msg, sizeof(msg), "invalid fields: [%s]", bad);
        dl_http_json(h, 400, error_json(msg));
        return false;
}

static cJSON *parse_body(dl_http_t *h, const char *body, size_t len)
{
        char why[200];
        cJSON *j = len ? json_parse_strict(body, len, why, sizeof(why)) : cJSON_CreateObject();
        if (!j) {
                char msg[300];
                snprintf(msg, sizeof(msg), "the body is not JSON: %s", why);
                dl_http_json(h, 400, error_json(msg));
                return NULL;
        }
        if (!dl_json_depth_ok(j)) {
                cJSON_Delete(j);
                dl_http_json(h, 400, error_json("the body is nested too deeply"));
                return NULL;
        }
        return j;
}

static void create(dl_http_t *h, const char *body, size_t len)
{
        bool wait = arg_true(h, "wait");
        if (wait && !cfg.enable_wait_result) {
                dl_http_json(h, 400, error_json("wait not allowed"));
                return;
        }
        uint64_t fields;
        if (!fields_arg(h, &fields))
                return;
        bool base64 = base64_arg(h);
        cJSON *j = parse_body(h, body, len);
        if (!j)
                return;
        cJSON *errs = NULL;
        cJSON *sub = validate(j, base64, &errs);
        cJSON_Delete(j);
        if (!sub) {
                dl_http_json(h, 422, errs);
                return;
        }
        store_t *st = dl_store();
        if (!st && !wait) {
                cJSON_Delete(sub);
                dl_http_json(h, 503,
                             error_json("this server keeps no submissions (no store): use "
                                        "wait=true"));
                return;
        }
        const char *token = cJSON_GetObjectItemCaseSensitive(sub, "token")->valuestring;
        char tok[STORE_TOKEN_MAX];
        snprintf(tok, sizeof(tok), "%s", token);
        rc_err_t err = {0};
        /* Shared and its client waits here: leased to this node as it is stored, so no other
         * node claims it before its run starts here (a language's first run unpacks its root
         * filesystem first; a lease taken after the insert lost that race now and then, and
         * the waiting client got this node's run killed). */
        bool leased = wait && st && shared();
        if (st && store_new(st, sub, leased ? owner() : NULL, &err) < 0) {
                cJSON_Delete(sub);
                dl_http_json(h, 503, error_json(err.msg[0] ? err.msg : "the store is full"));
                return;
        }
        if (!wait && shared()) { /* in the store's queue, for any node to claim */
                cJSON_Delete(sub);
                claim_soon();
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "token", tok);
                dl_http_json(h, 201, o);
                return;
        }
        if (!wait) {
                int rc = submit_stored(st, sub, false);
                if (rc < 0) {
                        store_delete(st, tok, &err);
                        dl_http_json(h, 503,
                                     error_json(rc == -EBUSY ? "queue is full"
                                                             : "the submission could not start"));
                        return;
                }
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "token", tok);
                dl_http_json(h, 201, o);
                return;
        }
        bool stored = st != NULL; /* inserted above; unless leased then, leased as its run starts */
        char msg[300];
        cJSON *doc = run_doc(sub, msg, sizeof(msg));
        dl_error_t e;
        dl_run_t *r = doc ? dl_run_start(NULL, h, doc, tok, &e) : NULL;
        if (!r) {
                if (st)
                        store_delete(st, tok, &err);
                cJSON_Delete(sub);
                int status = doc ? dl_error_status(e.code) : 500;
                dl_http_json(h, status == 429 || status == 503 ? 503 : status,
                             error_json(status == 429 || status == 503 ? "queue is full"
                                        : doc                          ? e.message
                                                                       : msg));
                return;
        }
        if (leased)
                ((jrun_t *)dl_run_data(r))->leased = true;
        jrun_setup(r, tok, sub, stored, base64, fields);
        if (stored)
                dl_run_keep(r); /* a stored submission finishes whether its client waits */
}

/* A batch of n submissions (or tokens) is within Judge0's bounds; else answered 400 as Judge0
 * words it. */
static bool batch_size_ok(dl_http_t *h, long n)
{
        char msg[200];
        if (n >= 1 && n <= cfg.max_batch)
                return true;
        if (n)
                snprintf(msg, sizeof(msg),
                         "number of submissions in a batch should be less than or equal to %ld",
                         cfg.max_batch);
        else
                snprintf(msg, sizeof(msg), "there should be at least one submission in a batch");
        dl_http_json(h, 400, error_json(msg));
        return false;
}

static void batch_create(dl_http_t *h, const char *body, size_t len)
{
        if (!cfg.enable_batched_submissions) {
                dl_http_json(h, 400, error_json("batched submissions are not allowed"));
                return;
        }
        bool base64 = base64_arg(h);
        cJSON *j = parse_body(h, body, len);
        if (!j)
                return;
        const cJSON *subs = cJSON_GetObjectItemCaseSensitive(j, "submissions");
        int n = cJSON_IsArray(subs) ? cJSON_GetArraySize(subs) : 0;
        if (!batch_size_ok(h, n)) {
                cJSON_Delete(j);
                return;
        }
        store_t *st = dl_store();
        if (!st) {
                cJSON_Delete(j);
                dl_http_json(h, 503, error_json("this server keeps no submissions (no store)"));
                return;
        }
        cJSON *out = cJSON_CreateArray();
        bool any = false;
        const cJSON *it;
        cJSON_ArrayForEach(it, subs)
        {
                cJSON *errs = NULL;
                cJSON *sub = validate(it, base64, &errs);
                if (!sub) {
                        cJSON_AddItemToArray(out, errs);
                        continue;
                }
                char tok[STORE_TOKEN_MAX];
                snprintf(tok, sizeof(tok), "%s",
                         cJSON_GetObjectItemCaseSensitive(sub, "token")->valuestring);
                rc_err_t err = {0};
                if (store_new(st, sub, NULL, &err) < 0) {
                        cJSON_Delete(sub);
                        cJSON_AddItemToArray(out, error_json(err.msg));
                        continue;
                }
                int rc = 0;
                if (shared()) {
                        cJSON_Delete(sub);
                        claim_soon();
                } else {
                        rc = submit_stored(st, sub, false);
                }
                if (rc < 0) {
                        store_delete(st, tok, &err);
                        cJSON_AddItemToArray(
                            out, error_json(rc == -EBUSY ? "queue is full"
                                                         : "the submission could not start"));
                        continue;
                }
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "token", tok);
                cJSON_AddItemToArray(out, o);
                any = true;
        }
        cJSON_Delete(j);
        dl_http_json(h, any ? 201 : 422, out);
}

/* The stored submission's object as it stands (the result once done, else the request). */
static cJSON *stored_object(const submission_t *s, sub_state_t *state)
{
        *state = s->state;
        if (s->state == SUB_DONE && s->result)
                return cJSON_Parse(s->result);
        cJSON *o = cJSON_Parse(s->request);
        if (o && s->state == SUB_DONE) { /* given up: no result */
                set_status(o, J0_INTERNAL);
                set_item(o, "message", cJSON_CreateString(s->error ? s->error : "lost"));
        }
        return o;
}

static void show(dl_http_t *h, const char *token)
{
        uint64_t fields;
        if (!fields_arg(h, &fields))
                return;
        bool base64 = base64_arg(h);
        store_t *st = dl_store();
        submission_t s;
        rc_err_t err = {0};
        memset(&s, 0, sizeof(s));
        if (!st || store_get(st, token, &s, &err) != 1 || strcmp(s.dialect, DIALECT) != 0) {
                if (s.dialect[0])
                        submission_free(&s);
                not_found(h);
                return;
        }
        sub_state_t state;
        cJSON *sub = stored_object(&s, &state);
        submission_free(&s);
        cJSON *o = sub ? render(sub, fields, base64, state) : NULL;
        cJSON_Delete(sub);
        if (!o)
                dl_http_json(h, 400, error_json(conversion_error));
        else
                dl_http_json(h, 200, o);
}

static void destroy(dl_http_t *h, const char *token)
{
        if (!cfg.enable_submission_delete) {
                dl_http_json(h, 400, error_json("delete not allowed"));
                return;
        }
        uint64_t fields;
        if (!fields_arg(h, &fields))
                return;
        store_t *st = dl_store();
        submission_t s;
        rc_err_t err = {0};
        memset(&s, 0, sizeof(s));
        if (!st || store_get(st, token, &s, &err) != 1 || strcmp(s.dialect, DIALECT) != 0) {
                if (s.dialect[0])
                        submission_free(&s);
                not_found(h);
                return;
        }
        if (s.state != SUB_DONE) {
                int id = s.state == SUB_RUNNING ? J0_PROCESSING : J0_IN_QUEUE;
                char msg[200];
                snprintf(msg, sizeof(msg),
                         "submission cannot be deleted because its status is %d (%s)", id,
                         status_names[id]);
                submission_free(&s);
                dl_http_json(h, 400, error_json(msg));
                return;
        }
        sub_state_t state;
        cJSON *sub = stored_object(&s, &state);
        submission_free(&s);
        store_delete(st, token, &err);
        cJSON *o = sub ? render(sub, fields, true, state) : cJSON_CreateObject();
        cJSON_Delete(sub);
        dl_http_json(h, 200, o);
}

typedef struct page_ctx {
        cJSON *arr;
        uint64_t fields;
        bool base64, bad;
} page_ctx_t;

static int page_one(const submission_t *s, void *ud)
{
        page_ctx_t *pc = ud;
        sub_state_t state;
        cJSON *sub = stored_object(s, &state);
        cJSON *o = sub ? render(sub, pc->fields, pc->base64, state) : NULL;
        cJSON_Delete(sub);
        if (!o) {
                pc->bad = true;
                return 1;
        }
        cJSON_AddItemToArray(pc->arr, o);
        return 0;
}

static void add_page_num(cJSON *o, const char *key, long v, bool known)
{
        if (known)
                cJSON_AddNumberToObject(o, key, (double)v);
        else
                cJSON_AddNullToObject(o, key);
}

static void index_page(dl_http_t *h)
{
        char b1[128], b2[128], msg[100];
        const char *pv = dl_http_arg(h, "page", b1, sizeof(b1));
        const char *ppv = dl_http_arg(h, "per_page", b2, sizeof(b2));
        long page = pv ? strtol(pv, NULL, 10) : 1;
        long per = ppv ? strtol(ppv, NULL, 10) : 20;
        if (page <= 0) {
                snprintf(msg, sizeof(msg), "invalid page: %ld", page);
                dl_http_json(h, 400, error_json(msg));
                return;
        }
        if (per <= 0) { /* Judge0 refuses below 0; 0 makes will_paginate fail */
                snprintf(msg, sizeof(msg), "invalid per_page: %ld", per);
                dl_http_json(h, 400, error_json(msg));
                return;
        }
        if (per > 100)
                per = 100;
        uint64_t fields;
        if (!fields_arg(h, &fields))
                return;
        store_t *st = dl_store();
        if (!st) {
                dl_http_json(h, 503, error_json("this server keeps no submissions (no store)"));
                return;
        }
        page_ctx_t pc = {.arr = cJSON_CreateArray(), .fields = fields, .base64 = base64_arg(h)};
        int64_t total = 0;
        rc_err_t err = {0};
        if (page > 1000000000L)
                page = 1000000000L;
        store_page(st, DIALECT, (int64_t)(page - 1) * per, per, page_one, &pc, &total, &err);
        if (pc.bad) {
                cJSON_Delete(pc.arr);
                dl_http_json(h, 400,
                             error_json("some attributes for one or more submissions cannot be "
                                        "converted to UTF-8, use base64_encoded=true query "
                                        "parameter"));
                return;
        }
        long pages = per > 0 ? (long)((total + per - 1) / per) : 0;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "submissions", pc.arr);
        cJSON *meta = cJSON_AddObjectToObject(o, "meta");
        cJSON_AddNumberToObject(meta, "current_page", (double)page);
        add_page_num(meta, "next_page", page + 1, page < pages);
        add_page_num(meta, "prev_page", page - 1, page > 1);
        cJSON_AddNumberToObject(meta, "total_pages", (double)pages);
        cJSON_AddNumberToObject(meta, "total_count", (double)total);
        dl_http_json(h, 200, o);
}

static void batch_show(dl_http_t *h)
{
        if (!cfg.enable_batched_submissions) {
                dl_http_json(h, 400, error_json("batched submissions are not allowed"));
                return;
        }
        uint64_t fields;
        if (!fields_arg(h, &fields))
                return;
        size_t bsize = 64 * 1024;
        char *buf = malloc(bsize), *list = malloc(bsize);
        if (!buf || !list) {
                free(buf);
                free(list);
                dl_http_json(h, 500, error_json("out of memory"));
                return;
        }
        const char *tv = dl_http_req_header(h, "tokens:", buf, bsize);
        if (!tv)
                tv = dl_http_arg(h, "tokens", buf, bsize);
        snprintf(list, bsize, "%s", tv ? tv : "");
        free(buf);
        long n = 0;
        char *save = NULL;
        for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
                n++;
        if (!batch_size_ok(h, n)) {
                free(list);
                return;
        }
        /* strtok_r left a NUL after each token: walk them again */
        char **toks = calloc((size_t)n, sizeof(*toks));
        char *p = list;
        for (long i = 0; toks && i < n; i++) {
                while (*p == ',' || *p == '\0')
                        p++;
                toks[i] = p;
                p += strlen(p);
        }
        if (!toks) {
                free(list);
                dl_http_json(h, 500, error_json("out of memory"));
                return;
        }
        for (long i = 0; i < n; i++)
                while (*toks[i] == ' ')
                        toks[i]++;
        store_t *st = dl_store();
        bool base64 = base64_arg(h);
        cJSON *arr = cJSON_CreateArray();
        for (long i = 0; i < n; i++) {
                submission_t s;
                rc_err_t err = {0};
                memset(&s, 0, sizeof(s));
                if (!st || store_get(st, toks[i], &s, &err) != 1 ||
                    strcmp(s.dialect, DIALECT) != 0) {
                        if (s.dialect[0])
                                submission_free(&s);
                        cJSON_AddItemToArray(arr, cJSON_CreateNull());
                        continue;
                }
                sub_state_t state;
                cJSON *sub = stored_object(&s, &state);
                submission_free(&s);
                cJSON *o = sub ? render(sub, fields, base64, state) : NULL;
                cJSON_Delete(sub);
                if (!o) {
                        cJSON_Delete(arr);
                        free(toks);
                        free(list);
                        dl_http_json(h, 400,
                                     error_json("some attributes for one or more submissions "
                                                "cannot be converted to UTF-8, use "
                                                "base64_encoded=true query parameter"));
                        return;
                }
                cJSON_AddItemToArray(arr, o);
        }
        free(toks);
        free(list);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "submissions", arr);
        dl_http_json(h, 200, o);
}

static void language_show(dl_http_t *h, const char *id)
{
        char *end;
        long n = strtol(id, &end, 10);
        const jlang_t *jl = *id && !*end ? jlang_by_id(n) : NULL;
        char name[128];
        const toolchain_t *tc = jl && jl->id == n ? jlang_resolve(jl, name, sizeof(name)) : NULL;
        if (!tc) {
                not_found(h);
                return;
        }
        dl_http_json(h, 200, language_json(jl, name, tc, true));
}

static cJSON *statuses_json(void)
{
        cJSON *arr = cJSON_CreateArray();
        for (int i = 1; i <= 14; i++) {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddNumberToObject(o, "id", i);
                cJSON_AddStringToObject(o, "description", status_names[i]);
                cJSON_AddItemToArray(arr, o);
        }
        return arr;
}

static cJSON *config_json(void)
{
        cJSON *o = cJSON_CreateObject();
        cJSON_AddBoolToObject(o, "maintenance_mode", false);
        cJSON_AddBoolToObject(o, "enable_wait_result", cfg.enable_wait_result);
        cJSON_AddBoolToObject(o, "enable_compiler_options", true);
        cJSON_AddArrayToObject(o, "allowed_languages_for_compile_options");
        cJSON_AddBoolToObject(o, "enable_command_line_arguments", true);
        cJSON_AddBoolToObject(o, "enable_submission_delete", cfg.enable_submission_delete);
        int tries = 0, timeout_ms = 0;
        bool callbacks = dl_callbacks_config(&tries, &timeout_ms);
        cJSON_AddBoolToObject(o, "enable_callbacks", callbacks);
        cJSON_AddNumberToObject(o, "callbacks_max_tries", tries);
        cJSON_AddNumberToObject(o, "callbacks_timeout", timeout_ms / 1000.0);
        cJSON_AddBoolToObject(o, "enable_additional_files", true);
        cJSON_AddNumberToObject(o, "max_queue_size", (double)cfg.max_queue);
        cJSON_AddNumberToObject(o, "cpu_time_limit", cfg.cpu_time_limit);
        cJSON_AddNumberToObject(o, "max_cpu_time_limit", cfg.max_cpu_time_limit);
        cJSON_AddNumberToObject(o, "cpu_extra_time", cfg.cpu_extra_time);
        cJSON_AddNumberToObject(o, "max_cpu_extra_time", cfg.max_cpu_extra_time);
        cJSON_AddNumberToObject(o, "wall_time_limit", cfg.wall_time_limit);
        cJSON_AddNumberToObject(o, "max_wall_time_limit", cfg.max_wall_time_limit);
        cJSON_AddNumberToObject(o, "memory_limit", (double)cfg.memory_limit);
        cJSON_AddNumberToObject(o, "max_memory_limit", (double)cfg.max_memory_limit);
        cJSON_AddNumberToObject(o, "stack_limit", (double)cfg.stack_limit);
        cJSON_AddNumberToObject(o, "max_stack_limit", (double)cfg.max_stack_limit);
        cJSON_AddNumberToObject(o, "max_processes_and_or_threads", (double)cfg.max_processes);
        cJSON_AddNumberToObject(o, "max_max_processes_and_or_threads",
                                (double)cfg.max_max_processes);
        cJSON_AddBoolToObject(o, "enable_per_process_and_thread_time_limit", false);
        cJSON_AddBoolToObject(o, "allow_enable_per_process_and_thread_time_limit", true);
        cJSON_AddBoolToObject(o, "enable_per_process_and_thread_memory_limit", false);
        cJSON_AddBoolToObject(o, "allow_enable_per_process_and_thread_memory_limit", true);
        cJSON_AddNumberToObject(o, "max_file_size", (double)cfg.max_file_size);
        cJSON_AddNumberToObject(o, "max_max_file_size", (double)cfg.max_max_file_size);
        cJSON_AddNumberToObject(o, "number_of_runs", (double)cfg.number_of_runs);
        cJSON_AddNumberToObject(o, "max_number_of_runs", (double)cfg.max_number_of_runs);
        cJSON_AddBoolToObject(o, "redirect_stderr_to_stdout", false);
        cJSON_AddNumberToObject(o, "max_extract_size", 10240);
        cJSON_AddBoolToObject(o, "enable_batched_submissions", cfg.enable_batched_submissions);
        cJSON_AddNumberToObject(o, "max_submission_batch_size", (double)cfg.max_batch);
        cJSON_AddNumberToObject(o, "submission_cache_duration", 0);
        cJSON_AddBoolToObject(o, "use_docs_as_homepage", false);
        cJSON_AddBoolToObject(o, "allow_enable_network", false);
        cJSON_AddBoolToObject(o, "enable_network", false);
        cJSON_AddBoolToObject(o, "disable_implicit_base64_encoding", !cfg.base64_default);
        return o;
}

static cJSON *system_json(void)
{
        cJSON *o = cJSON_CreateObject();
        struct utsname u;
        if (uname(&u) == 0)
                cJSON_AddStringToObject(o, "Architecture", u.machine);
        cJSON_AddStringToObject(o, "CPU(s)", "");
        char n[32];
        snprintf(n, sizeof(n), "%ld", sysconf(_SC_NPROCESSORS_ONLN));
        cJSON_ReplaceItemInObject(o, "CPU(s)", cJSON_CreateString(n));
        FILE *f = fopen("/proc/cpuinfo", "r");
        char line[512];
        while (f && fgets(line, sizeof(line), f)) {
                if (strncmp(line, "model name", 10) == 0) {
                        char *c = strchr(line, ':');
                        if (c) {
                                c++;
                                while (*c == ' ')
                                        c++;
                                c[strcspn(c, "\n")] = '\0';
                                cJSON_AddStringToObject(o, "Model name", c);
                        }
                        break;
                }
        }
        if (f)
                fclose(f);
        long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
        char mem[32];
        snprintf(mem, sizeof(mem), "%.1fG", (double)pages * (double)psize / (1 << 30));
        cJSON_AddStringToObject(o, "Mem", mem);
        return o;
}

static void http(dl_http_t *h, int tag, dl_method_t method, const char *body, size_t len)
{
        switch (tag) {
        case R_SUBMISSIONS:
                if (method == DL_POST)
                        create(h, body, len);
                else
                        index_page(h);
                return;
        case R_SUBMISSION:
                if (method == DL_DELETE)
                        destroy(h, dl_http_path_arg(h));
                else
                        show(h, dl_http_path_arg(h));
                return;
        case R_BATCH:
                if (method == DL_POST)
                        batch_create(h, body, len);
                else
                        batch_show(h);
                return;
        case R_LANGUAGES:
                dl_http_json(h, 200, languages_json(false));
                return;
        case R_LANGUAGES_ALL:
                dl_http_json(h, 200, languages_json(true));
                return;
        case R_LANGUAGE:
                language_show(h, dl_http_path_arg(h));
                return;
        case R_STATUSES:
                dl_http_json(h, 200, statuses_json());
                return;
        case R_CONFIG_INFO:
                dl_http_json(h, 200, config_json());
                return;
        case R_SYSTEM_INFO:
                dl_http_json(h, 200, system_json());
                return;
        case R_ABOUT: {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "version", API_VERSION);
                cJSON_AddStringToObject(o, "homepage", "https://github.com/runcell/runcell");
                cJSON_AddStringToObject(o, "source_code", "https://github.com/runcell/runcell");
                cJSON_AddStringToObject(o, "maintainer", "runcell");
                dl_http_json(h, 200, o);
                return;
        }
        case R_VERSION:
                dl_http_text(h, 200, "text/plain; charset=utf-8", API_VERSION, strlen(API_VERSION));
                return;
        case R_WORKERS: { /* Judge0's one queue: runcell's sandboxes are its workers */
                int running, queued, max;
                dl_load(&running, &queued, &max);
                cJSON *arr = cJSON_CreateArray();
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "queue", API_VERSION);
                cJSON_AddNumberToObject(o, "size", queued);
                cJSON_AddNumberToObject(o, "available", max);
                cJSON_AddNumberToObject(o, "idle", max > running ? max - running : 0);
                cJSON_AddNumberToObject(o, "working", running);
                cJSON_AddNumberToObject(o, "paused", 0);
                cJSON_AddNumberToObject(o, "failed", 0);
                cJSON_AddItemToArray(arr, o);
                dl_http_json(h, 200, arr);
                return;
        }
        default:
                not_found(h);
        }
}

static void http_too_large(dl_http_t *h, int tag)
{
        (void)tag;
        dl_http_json(h, 413, error_json("request entity too large"));
}

/* ------------------------------------------------------------------ start */

typedef struct pending {
        char **texts;
        size_t n, cap;
} pending_t;

static int collect(const submission_t *s, void *ud)
{
        pending_t *p = ud;
        if (p->n == p->cap) {
                size_t cap = p->cap ? 2 * p->cap : 16;
                char **nv = realloc(p->texts, cap * sizeof(*nv));
                if (!nv)
                        return 1;
                p->texts = nv;
                p->cap = cap;
        }
        p->texts[p->n++] = strdup(s->request);
        return 0;
}

/* Resume the queued submissions (after the server's store_recover): each gets its run. With a
 * shared store the queue is every node's: this node claims from it as it has room instead. */
static void start(void)
{
        store_t *st = dl_store();
        if (!st)
                return;
        if (shared()) {
                claim_soon();
                return;
        }
        pending_t p = {0};
        rc_err_t err = {0};
        if (store_each(st, DIALECT, SUB_QUEUED, collect, &p, &err) < 0)
                dl_log(DL_LOG_ERROR, "judge0_store_error", "judge0: reading the queue: %s",
                       err.msg);
        size_t resumed = 0;
        for (size_t i = 0; i < p.n; i++) {
                cJSON *sub = p.texts[i] ? cJSON_Parse(p.texts[i]) : NULL;
                free(p.texts[i]);
                if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(sub, "token"))) {
                        cJSON_Delete(sub);
                        continue;
                }
                /* submit_stored takes sub over, whatever it returns */
                if (submit_stored(st, sub, false) == 0)
                        resumed++;
        }
        free(p.texts);
        if (p.n)
                dl_log(DL_LOG_INFO, "judge0_resumed",
                       "judge0: %zu of %zu queued submissions resumed", resumed, p.n);
}

static void stop(void)
{
        dl_timer(0, poll_claims);
}

/* ------------------------------------------------------------------ configuration */

static int configure(const cJSON *opts, rc_err_t *err)
{
        static const struct {
                const char *key;
                double *d;
                long *l;
                bool *b;
        } keys[] = {
            {"cpu_time_limit", &cfg.cpu_time_limit, NULL, NULL},
            {"max_cpu_time_limit", &cfg.max_cpu_time_limit, NULL, NULL},
            {"cpu_extra_time", &cfg.cpu_extra_time, NULL, NULL},
            {"max_cpu_extra_time", &cfg.max_cpu_extra_time, NULL, NULL},
            {"wall_time_limit", &cfg.wall_time_limit, NULL, NULL},
            {"max_wall_time_limit", &cfg.max_wall_time_limit, NULL, NULL},
            {"memory_limit", NULL, &cfg.memory_limit, NULL},
            {"max_memory_limit", NULL, &cfg.max_memory_limit, NULL},
            {"stack_limit", NULL, &cfg.stack_limit, NULL},
            {"max_stack_limit", NULL, &cfg.max_stack_limit, NULL},
            {"max_processes_and_or_threads", NULL, &cfg.max_processes, NULL},
            {"max_max_processes_and_or_threads", NULL, &cfg.max_max_processes, NULL},
            {"max_file_size", NULL, &cfg.max_file_size, NULL},
            {"max_max_file_size", NULL, &cfg.max_max_file_size, NULL},
            {"number_of_runs", NULL, &cfg.number_of_runs, NULL},
            {"max_number_of_runs", NULL, &cfg.max_number_of_runs, NULL},
            {"max_submission_batch_size", NULL, &cfg.max_batch, NULL},
            {"max_text_bytes", NULL, &cfg.max_text_bytes, NULL},
            {"enable_wait_result", NULL, NULL, &cfg.enable_wait_result},
            {"enable_submission_delete", NULL, NULL, &cfg.enable_submission_delete},
            {"enable_batched_submissions", NULL, NULL, &cfg.enable_batched_submissions},
            {"base64_encoded_by_default", NULL, NULL, &cfg.base64_default},
        };
        const cJSON *it;
        cJSON_ArrayForEach(it, opts)
        {
                size_t k = 0;
                while (k < sizeof(keys) / sizeof(keys[0]) && strcmp(keys[k].key, it->string))
                        k++;
                if (k == sizeof(keys) / sizeof(keys[0]))
                        return rc_err_set(err, EINVAL, "unknown option \"%s\"", it->string);
                if (keys[k].b) {
                        if (!cJSON_IsBool(it))
                                return rc_err_set(err, EINVAL, "%s: true or false", it->string);
                        *keys[k].b = cJSON_IsTrue(it);
                        continue;
                }
                double d = it->valuedouble;
                if (!cJSON_IsNumber(it) || d < 0 || d > 1e9 || (keys[k].l && d != floor(d)))
                        return rc_err_set(err, EINVAL, "%s: a number from 0", it->string);
                if (keys[k].d)
                        *keys[k].d = d;
                else
                        *keys[k].l = (long)d;
        }
        return 0;
}

static const dl_route_t routes[] = {
    {"/submissions", DL_GET | DL_POST, R_SUBMISSIONS},
    {"/submissions/batch", DL_GET | DL_POST, R_BATCH},
    {"/submissions/*", DL_GET | DL_DELETE, R_SUBMISSION},
    {"/languages", DL_GET, R_LANGUAGES},
    {"/languages/all", DL_GET, R_LANGUAGES_ALL},
    {"/languages/*", DL_GET, R_LANGUAGE},
    {"/statuses", DL_GET, R_STATUSES},
    {"/system_info", DL_GET, R_SYSTEM_INFO},
    {"/config_info", DL_GET, R_CONFIG_INFO},
    {"/about", DL_GET, R_ABOUT},
    {"/version", DL_GET, R_VERSION},
    {"/workers", DL_GET, R_WORKERS},
};

const dialect_t dialect_judge0 = {
    .name = DIALECT,
    .base = "/",
    .routes = routes,
    .nroutes = sizeof(routes) / sizeof(routes[0]),
    .run_size = sizeof(jrun_t),
    .configure = configure,
    .http = http,
    .http_too_large = http_too_large,
    .run_event = run_event,
    .run_free = run_free,
    .start = start,
    .stop = stop,
    .callback_body = judge0_callback_body,
};
