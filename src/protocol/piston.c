/* Piston v2 (engineer-man/piston): GET /api/v2/runtimes, POST /api/v2/execute,
 * GET /api/v2/packages and WebSocket /api/v2/connect, answered as Piston answers them.
 * docs/dialects.md ("Piston v2") maps its fields and statuses onto runcell's and lists what
 * was chosen where Piston leaves things open. */
#include "protocol/piston.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/dialect.h"
#include "rootfs/store.h"
#include "util/json.h"
#include "util/jsonstrict.h"

enum { R_RUNTIMES, R_EXECUTE, R_PACKAGES, R_CONNECT };

/* Piston closes a socket that has not sent "init" within a second. */
#define INIT_TIMEOUT_DEFAULT 1000
static int init_timeout_ms = INIT_TIMEOUT_DEFAULT;

typedef struct prun {
        buf_t output[2];    /* HTTP: per stage, stdout and stderr in the order they came */
        int last_stream[2]; /* per stage, the stream of its last output + 1 (0: none) */
        bool started;       /* WebSocket: "runtime" has gone out */
} prun_t;

typedef struct pconn {
        bool initialized;
} pconn_t;

/* ------------------------------------------------------------------ versions */

/* A version or the start of one: "3", "3.11", "3.x", "*", "v3.11.2". n: how many numbers were
 * given before the end or a wildcard. NULL when it is not one. */
static const char *sv_partial(const char *s, long v[3], int *n)
{
        *n = 0;
        v[0] = v[1] = v[2] = 0;
        if (*s == 'v' || *s == 'V')
                s++;
        bool wild = false;
        for (int i = 0; i < 3; i++) {
                if (i > 0) {
                        if (*s != '.')
                                break;
                        s++;
                }
                if (*s == 'x' || *s == 'X' || *s == '*') {
                        s++;
                        wild = true;
                        continue;
                }
                if (wild || *s < '0' || *s > '9')
                        return NULL;
                long x = 0;
                for (int digits = 0; *s >= '0' && *s <= '9'; digits++) {
                        if (digits == 9)
                                return NULL;
                        x = x * 10 + (*s++ - '0');
                }
                v[i] = x;
                (*n)++;
        }
        if (*s == '-') /* a pre-release: runcell's versions have none */
                return NULL;
        if (*s == '+') /* build metadata does not count */
                while (*s && *s != ' ' && *s != '|')
                        s++;
        return s;
}

static int sv_cmp(const long a[3], const long b[3])
{
        for (int i = 0; i < 3; i++)
                if (a[i] != b[i])
                        return a[i] < b[i] ? -1 : 1;
        return 0;
}

/* The first version after every one that starts with p's first k+1 numbers. */
static void sv_bump(const long p[3], int k, long out[3])
{
        for (int i = 0; i < 3; i++)
                out[i] = i < k ? p[i] : i == k ? p[i] + 1 : 0;
}

static bool sv_comparator(const long ver[3], const char *op, const long p[3], int n)
{
        long hi[3];
        if (n == 0) /* "*" and friends: anything, except below or above "anything" */
                return strcmp(op, "<") != 0 && strcmp(op, ">") != 0;
        sv_bump(p, n - 1, hi);
        int lo_c = sv_cmp(ver, p), hi_c = sv_cmp(ver, hi);
        if (!*op || strcmp(op, "=") == 0)
                return n == 3 ? lo_c == 0 : lo_c >= 0 && hi_c < 0;
        if (strcmp(op, ">=") == 0)
                return lo_c >= 0;
        if (strcmp(op, ">") == 0)
                return n == 3 ? lo_c > 0 : hi_c >= 0;
        if (strcmp(op, "<") == 0)
                return lo_c < 0;
        if (strcmp(op, "<=") == 0)
                return n == 3 ? lo_c <= 0 : hi_c < 0;
        if (strcmp(op, "~") == 0) {
                sv_bump(p, n >= 2 ? 1 : 0, hi);
                return lo_c >= 0 && sv_cmp(ver, hi) < 0;
        }
        /* "^": up to the next change of the leftmost number that is not zero */
        int k = 0;
        while (k < n - 1 && p[k] == 0)
                k++;
        sv_bump(p, k, hi);
        return lo_c >= 0 && sv_cmp(ver, hi) < 0;
}

bool piston_semver_satisfies(const char *version, const char *range)
{
        long ver[3];
        int n;
        const char *end = sv_partial(version, ver, &n);
        if (!end || *end || n != 3)
                return false;
        const char *s = range;
        bool any = false, all = true, invalid = false;
        for (;;) {
                while (*s == ' ' || *s == '\t')
                        s++;
                if (!*s || (s[0] == '|' && s[1] == '|')) { /* the end of one alternative */
                        any = any || all;
                        if (!*s)
                                break;
                        s += 2;
                        all = true;
                        continue;
                }
                char op[3] = "";
                if (s[0] == '>' || s[0] == '<') {
                        op[0] = s[0];
                        op[1] = s[1] == '=' ? '=' : '\0';
                        s += s[1] == '=' ? 2 : 1;
                } else if (s[0] == '=' || s[0] == '^' || s[0] == '~') {
                        op[0] = s[0];
                        s += s[0] == '~' && s[1] == '>' ? 2 : 1; /* "~>" is "~" */
                }
                while (*s == ' ')
                        s++;
                long p[3];
                const char *next = sv_partial(s, p, &n);
                if (!next || (*next && *next != ' ' && *next != '\t' && *next != '|')) {
                        invalid = true;
                        break;
                }
                s = next;
                all = all && sv_comparator(ver, op, p, n);
        }
        return any && !invalid;
}

/* Piston's form of a language's version: three numbers ("1.19" -> "1.19.0"). */
static void piston_version(const lang_t *l, char *out, size_t size)
{
        char v[64];
        dl_semver(l->version, v, sizeof(v));
        const char *parts[3] = {"0", "0", "0"};
        size_t lens[3] = {1, 1, 1};
        const char *p = v;
        for (int i = 0; i < 3 && *p; i++) {
                const char *dot = strchr(p, '.');
                size_t len = dot ? (size_t)(dot - p) : strlen(p);
                if (len) {
                        parts[i] = p;
                        lens[i] = len;
                }
                p = dot ? dot + 1 : p + len;
        }
        snprintf(out, size, "%.*s.%.*s.%.*s", (int)lens[0], parts[0], (int)lens[1], parts[1],
                 (int)lens[2], parts[2]);
}

/* ------------------------------------------------------------------ runtimes */

/* The language ready to run (its root filesystem unpacked: this may take seconds), or NULL
 * when its root filesystem is not there. */
static lang_t *ready_lang(catalog_t *cat, const toolchain_t *tc)
{
        lang_t *l = NULL;
        rc_err_t err = {0};
        if (!rootfs_available(&cat->store, tc->rootfs) || catalog_lang(cat, tc, &l, &err) < 0)
                return NULL;
        return l;
}

/* Piston names the package ("runtime") when one provides several languages, as gcc does. */
static bool shared_rootfs(const catalog_t *cat, const toolchain_t *tc)
{
        for (size_t i = 0; i < cat->set.n; i++)
                if (cat->set.items[i] != tc && strcmp(cat->set.items[i]->rootfs, tc->rootfs) == 0)
                        return true;
        return false;
}

/* The listings run in the event loop: they read each root filesystem's manifest and unpack
 * nothing (unpacking takes seconds per language and would hold every connection up). A
 * language is listed when its root filesystem is built; it is unpacked on its first run. */
static cJSON *runtimes_json(catalog_t *cat)
{
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; i < cat->set.n; i++) {
                const toolchain_t *tc = cat->set.items[i];
                if (!rootfs_available(&cat->store, tc->rootfs))
                        continue;
                /* a language loaded already runs the version it was loaded with */
                const lang_t *loaded = cat->langs[i].ready ? &cat->langs[i] : NULL;
                char *raw = NULL;
                if (!loaded)
                        rootfs_package_version(&cat->store, tc->rootfs, tc->version_package, &raw,
                                               NULL);
                lang_t tmp = {.version = raw};
                char v[64];
                piston_version(loaded ? loaded : &tmp, v, sizeof(v));
                free(raw);
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "language", tc->name);
                cJSON_AddStringToObject(o, "version", v);
                cJSON *al = cJSON_AddArrayToObject(o, "aliases");
                for (size_t a = 0; a < tc->aliases.n; a++)
                        cJSON_AddItemToArray(al, cJSON_CreateString(tc->aliases.v[a]));
                if (shared_rootfs(cat, tc))
                        cJSON_AddStringToObject(o, "runtime", tc->rootfs);
                cJSON_AddItemToArray(arr, o);
        }
        return arr;
}

static cJSON *packages_json(catalog_t *cat)
{
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; i < cat->set.n; i++) {
                const toolchain_t *tc = cat->set.items[i];
                bool installed = rootfs_available(&cat->store, tc->rootfs);
                char *raw = NULL;
                rootfs_package_version(&cat->store, tc->rootfs, tc->version_package, &raw, NULL);
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "language", tc->name);
                if (raw) {
                        lang_t tmp = {.version = raw};
                        char v[64];
                        piston_version(&tmp, v, sizeof(v));
                        cJSON_AddStringToObject(o, "language_version", v);
                } else {
                        cJSON_AddNullToObject(o, "language_version");
                }
                free(raw);
                cJSON_AddBoolToObject(o, "installed", installed);
                cJSON_AddItemToArray(arr, o);
        }
        return arr;
}

/* Piston's get_latest_runtime_matching_language_version: among the versions of the language
 * (its toolchains, one per root filesystem) whose root filesystem is built, the highest that
 * satisfies range. Versions come from the manifests: only the one chosen is unpacked. */
static lang_t *find_runtime(catalog_t *cat, const char *language, const char *range)
{
        const toolchain_t *lang = toolchain_set_find(&cat->set, language), *best = NULL;
        long best_v[3] = {0, 0, 0};
        for (size_t i = 0; lang && i < cat->set.n; i++) {
                const toolchain_t *tc = cat->set.items[i];
                if (strcmp(tc->name, lang->name) != 0)
                        continue;
                lang_t tmp = {.version = catalog_version(cat, tc)};
                char v[64];
                if (!tmp.version)
                        continue;
                piston_version(&tmp, v, sizeof(v));
                free(tmp.version);
                long pv[3];
                int n;
                if (!piston_semver_satisfies(v, range) || !sv_partial(v, pv, &n))
                        continue;
                if (!best || sv_cmp(pv, best_v) > 0) {
                        best = tc;
                        memcpy(best_v, pv, sizeof(best_v));
                }
        }
        return best ? ready_lang(cat, best) : NULL;
}

/* ------------------------------------------------------------------ requests */

/* Node's Buffer.from(s, "base64"): standard or URL-safe alphabet, other characters skipped,
 * up to the first '='. */
static void decode_base64(const char *s, buf_t *out)
{
        unsigned acc = 0;
        int bits = 0;
        for (; *s && *s != '='; s++) {
                int c = *s;
                int v = c >= 'A' && c <= 'Z'   ? c - 'A'
                        : c >= 'a' && c <= 'z' ? c - 'a' + 26
                        : c >= '0' && c <= '9' ? c - '0' + 52
                        : c == '+' || c == '-' ? 62
                        : c == '/' || c == '_' ? 63
                                               : -1;
                if (v < 0)
                        continue;
                acc = (acc << 6) | (unsigned)v;
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        char b = (char)((acc >> bits) & 0xff);
                        buf_append(out, &b, 1);
                }
        }
}

/* Node's Buffer.from(s, "hex"): pairs of hex digits up to the first that is not one. */
static void decode_hex(const char *s, buf_t *out)
{
        for (; s[0] && s[1]; s += 2) {
                int hi = s[0] >= '0' && s[0] <= '9'   ? s[0] - '0'
                         : s[0] >= 'a' && s[0] <= 'f' ? s[0] - 'a' + 10
                         : s[0] >= 'A' && s[0] <= 'F' ? s[0] - 'A' + 10
                                                      : -1;
                int lo = s[1] >= '0' && s[1] <= '9'   ? s[1] - '0'
                         : s[1] >= 'a' && s[1] <= 'f' ? s[1] - 'a' + 10
                         : s[1] >= 'A' && s[1] <= 'F' ? s[1] - 'A' + 10
                                                      : -1;
                if (hi < 0 || lo < 0)
                        break;
                char b = (char)(hi * 16 + lo);
                buf_append(out, &b, 1);
        }
}

static const char *file_encoding(const cJSON *f)
{
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(f, "encoding");
        if (cJSON_IsString(e) &&
            (strcmp(e->valuestring, "base64") == 0 || strcmp(e->valuestring, "hex") == 0))
                return e->valuestring;
        return "utf8";
}

/* JavaScript's truthiness, for the values a JSON body can hold. */
static bool js_truthy(const cJSON *v)
{
        if (!v || cJSON_IsNull(v) || cJSON_IsFalse(v))
                return false;
        if (cJSON_IsNumber(v))
                return v->valuedouble != 0 && !isnan(v->valuedouble);
        if (cJSON_IsString(v))
                return v->valuestring[0] != '\0';
        return true;
}

static int fail(char *msg, size_t size, const char *text)
{
        snprintf(msg, size, "%s", text);
        return -1;
}

/* Piston's checks of the limits: compile_/run_ memory_limit (bytes), timeout and cpu_time
 * (milliseconds), into the run document's "compile_limits" and "limits". */
static int decode_limits(const cJSON *body, cJSON *doc, char *msg, size_t size)
{
        static const struct {
                const char *suffix, *key;
                double max;
        } kinds[] = {
            {"memory_limit", "memory_mb", 1 << 20},
            {"timeout", "wall_ms", 24.0 * 3600 * 1000},
            {"cpu_time", "cpu_ms", 24.0 * 3600 * 1000},
        };
        static const char *const stages[] = {"compile", "run"};
        cJSON *lim[2] = {cJSON_AddObjectToObject(doc, "compile_limits"),
                         cJSON_AddObjectToObject(doc, "limits")};
        for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
                for (int s = 0; s < 2; s++) {
                        char name[64];
                        snprintf(name, sizeof(name), "%s_%s", stages[s], kinds[k].suffix);
                        const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, name);
                        if (!js_truthy(v))
                                continue;
                        if (!cJSON_IsNumber(v)) {
                                snprintf(msg, size, "If specified, %s must be a number", name);
                                return -1;
                        }
                        double d = v->valuedouble;
                        bool memory = k == 0;
                        if (d < 0 && memory) /* Piston's own default for memory is -1: none */
                                continue;
                        if (d < 0) {
                                snprintf(msg, size, "%s must be non-negative", name);
                                return -1;
                        }
                        d = memory ? ceil(d / (1024.0 * 1024.0)) : ceil(d);
                        if (d < 1)
                                d = 1;
                        if (d > kinds[k].max)
                                d = kinds[k].max;
                        cJSON_AddNumberToObject(lim[s], kinds[k].key, d);
                }
        }
        return 0;
}

static int decode_files(const cJSON *files, const lang_t *l, cJSON *doc, char *msg, size_t size)
{
        cJSON *out = cJSON_AddArrayToObject(doc, "files");
        int entry = -1, i = 0;
        const cJSON *f;
        cJSON_ArrayForEach(f, files)
        {
                if (entry < 0 && strcmp(file_encoding(f), "utf8") == 0)
                        entry = i;
                i++;
        }
        /* the first UTF-8 file is the one Piston runs: runcell runs the first file */
        for (int pass = 0; pass < 2; pass++) {
                i = 0;
                cJSON_ArrayForEach(f, files)
                {
                        int me = i++;
                        if ((pass == 0) != (me == entry))
                                continue;
                        const cJSON *jn = cJSON_GetObjectItemCaseSensitive(f, "name");
                        const char *content =
                            cJSON_GetObjectItemCaseSensitive(f, "content")->valuestring;
                        /* unnamed: Piston's file<i>.code, but the program gets the
                         * toolchain's source name so that its compiler takes it */
                        char gen[32];
                        const char *name =
                            cJSON_IsString(jn) && *jn->valuestring ? jn->valuestring : NULL;
                        if (!name && me == entry)
                                name = l->tc->source_file;
                        if (!name) {
                                snprintf(gen, sizeof(gen), "file%d.code", me);
                                name = gen;
                        }
                        const char *enc = file_encoding(f);
                        cJSON *o = cJSON_CreateObject();
                        cJSON_AddItemToArray(out, o);
                        cJSON_AddStringToObject(o, "name", name);
                        if (strcmp(enc, "utf8") == 0) {
                                cJSON_AddStringToObject(o, "content", content);
                                continue;
                        }
                        buf_t b = {0};
                        if (enc[0] == 'b')
                                decode_base64(content, &b);
                        else
                                decode_hex(content, &b);
                        if (b.len && memchr(b.data, '\0', b.len)) {
                                buf_free(&b);
                                snprintf(msg, size,
                                         "files[%d] holds a NUL byte once decoded, which runcell "
                                         "cannot place in a file",
                                         me);
                                return -1;
                        }
                        cJSON_AddStringToObject(o, "content", b.data ? b.data : "");
                        buf_free(&b);
                }
        }
        return 0;
}

/* Piston's checks in Piston's order, then the run document (NULL with msg filled on a
 * mistake: Piston's own message). ws: for the WebSocket (interactive, stdin as given). */
static cJSON *decode(const cJSON *body, bool ws, char *msg, size_t size)
{
        const cJSON *jl = cJSON_GetObjectItemCaseSensitive(body, "language");
        const cJSON *jv = cJSON_GetObjectItemCaseSensitive(body, "version");
        const cJSON *jf = cJSON_GetObjectItemCaseSensitive(body, "files");
        if (!cJSON_IsString(jl) || !*jl->valuestring)
                return fail(msg, size, "language is required as a string"), NULL;
        if (!cJSON_IsString(jv) || !*jv->valuestring)
                return fail(msg, size, "version is required as a string"), NULL;
        if (!cJSON_IsArray(jf))
                return fail(msg, size, "files is required as an array"), NULL;
        int i = 0;
        const cJSON *f;
        cJSON_ArrayForEach(f, jf)
        {
                if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(f, "content"))) {
                        snprintf(msg, size, "files[%d].content is required as a string", i);
                        return NULL;
                }
                i++;
        }
        lang_t *l = find_runtime(dl_catalog(), jl->valuestring, jv->valuestring);
        if (!l) {
                snprintf(msg, size, "%.100s-%.100s runtime is unknown", jl->valuestring,
                         jv->valuestring);
                return NULL;
        }
        bool utf8 = false;
        cJSON_ArrayForEach(f, jf)
        {
                const cJSON *e = cJSON_GetObjectItemCaseSensitive(f, "encoding");
                utf8 =
                    utf8 || !js_truthy(e) || (cJSON_IsString(e) && !strcmp(e->valuestring, "utf8"));
        }
        if (!utf8)
                return fail(msg, size, "files must include at least one utf8 encoded file"), NULL;

        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "language", l->tc->name);
        if (l->version) /* the version found, exactly: the language may have several */
                cJSON_AddStringToObject(doc, "version", l->version);
        if (decode_limits(body, doc, msg, size) < 0 || decode_files(jf, l, doc, msg, size) < 0) {
                cJSON_Delete(doc);
                return NULL;
        }
        const cJSON *ja = cJSON_GetObjectItemCaseSensitive(body, "args");
        if (ja && !cJSON_IsNull(ja)) {
                bool ok = cJSON_IsArray(ja);
                for (const cJSON *a = ok ? ja->child : NULL; a; a = a->next)
                        ok = ok && cJSON_IsString(a);
                if (!ok) {
                        cJSON_Delete(doc);
                        return fail(msg, size, "args must be an array of strings"), NULL;
                }
                cJSON_AddItemToObject(doc, "args", cJSON_Duplicate(ja, 1));
        }
        const cJSON *js = cJSON_GetObjectItemCaseSensitive(body, "stdin");
        if (js && !cJSON_IsNull(js) && !cJSON_IsString(js)) {
                cJSON_Delete(doc);
                return fail(msg, size, "stdin must be a string"), NULL;
        }
        const char *in = cJSON_IsString(js) ? js->valuestring : "";
        if (ws) {
                if (*in)
                        cJSON_AddStringToObject(doc, "stdin", in);
                cJSON_AddBoolToObject(doc, "interactive", true);
        } else { /* Piston ends what it writes with a newline */
                size_t n = strlen(in);
                char *s = malloc(n + 2);
                if (s) {
                        memcpy(s, in, n);
                        if (!n || in[n - 1] != '\n')
                                s[n++] = '\n';
                        s[n] = '\0';
                        cJSON_AddStringToObject(doc, "stdin", s);
                        free(s);
                }
        }
        return doc;
}

/* ------------------------------------------------------------------ results */

/* isolate's status and message for a stage, as Piston reports them. */
static const char *stage_status(const stage_result_t *s, int last_stream, char *message,
                                size_t size, const char **sig)
{
        *sig = signal_name(s->signal);
        message[0] = '\0';
        switch (s->status) {
        case STATUS_OK:
                return NULL;
        case STATUS_TIME_LIMIT:
                *sig = "SIGKILL";
                snprintf(message, size, "%s",
                         s->limit_kind && strcmp(s->limit_kind, "wall") == 0
                             ? "Time limit exceeded (wall clock)"
                             : "Time limit exceeded");
                return "TO";
        case STATUS_OUTPUT_LIMIT:
                *sig = "SIGKILL";
                if (last_stream == STREAM_STDERR + 1) {
                        snprintf(message, size, "stderr length exceeded");
                        return "EL";
                }
                snprintf(message, size, "stdout length exceeded");
                return "OL";
        case STATUS_MEMORY_LIMIT: /* the kernel's OOM kill: isolate sees signal 9 */
                *sig = "SIGKILL";
                snprintf(message, size, "Caught fatal signal %d", SIGKILL);
                return "SG";
        case STATUS_INTERNAL_ERROR:
                snprintf(message, size, "%s", s->error);
                return "XX";
        case STATUS_KILLED:
                if (!s->signal && s->exit_code < 0) { /* ended with its sandbox */
                        *sig = "SIGKILL";
                        snprintf(message, size, "Caught fatal signal %d", SIGKILL);
                        return "SG";
                }
                break; /* otherwise as the program ended, below */
        case STATUS_COMPILE_ERROR:
        case STATUS_RUNTIME_ERROR:
        default:
                break;
        }
        if (s->signal) {
                snprintf(message, size, "Caught fatal signal %d", s->signal);
                return "SG";
        }
        if (s->exit_code > 0) {
                snprintf(message, size, "Exited with error status %d", s->exit_code);
                return "RE";
        }
        return NULL;
}

static void add_str_or_null(cJSON *o, const char *key, const char *v)
{
        if (v && *v)
                cJSON_AddStringToObject(o, key, v);
        else
                cJSON_AddNullToObject(o, key);
}

static void add_num_or_null(cJSON *o, const char *key, double v, bool known)
{
        if (known)
                cJSON_AddNumberToObject(o, key, v);
        else
                cJSON_AddNullToObject(o, key);
}

static cJSON *stage_json(const stage_result_t *s, const buf_t *output, int last_stream)
{
        char message[600];
        const char *sig;
        const char *status = stage_status(s, last_stream, message, sizeof(message), &sig);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "stdout", json_bytes_item(s->out.data, s->out.len));
        cJSON_AddItemToObject(o, "stderr", json_bytes_item(s->err.data, s->err.len));
        cJSON_AddItemToObject(o, "output", json_bytes_item(output->data, output->len));
        add_num_or_null(o, "code", s->exit_code, s->exit_code >= 0);
        add_str_or_null(o, "signal", sig);
        add_str_or_null(o, "message", message);
        add_str_or_null(o, "status", status);
        add_num_or_null(o, "cpu_time", (double)s->cpu_ms, s->cpu_ms >= 0);
        cJSON_AddNumberToObject(o, "wall_time", (double)s->wall_ms);
        add_num_or_null(o, "memory", (double)s->memory_kb * 1024, s->memory_kb >= 0);
        return o;
}

static cJSON *message(const char *text)
{
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "message", text);
        return o;
}

static void http_done(dl_run_t *r, dl_http_t *h, const job_result_t *res)
{
        prun_t *pr = dl_run_data(r);
        const lang_t *l = dl_run_lang(r);
        char v[64];
        piston_version(l, v, sizeof(v));
        cJSON *o = cJSON_CreateObject();
        cJSON *compile = NULL;
        if (res->compile.present) {
                compile = stage_json(&res->compile, &pr->output[0], pr->last_stream[0]);
                cJSON_AddItemToObject(o, "compile", compile);
        }
        if (res->run.present) /* Piston repeats compile as run when run did not start */
                cJSON_AddItemToObject(o, "run",
                                      stage_json(&res->run, &pr->output[1], pr->last_stream[1]));
        else if (compile)
                cJSON_AddItemToObject(o, "run", cJSON_Duplicate(compile, 1));
        cJSON_AddStringToObject(o, "language", l->tc->name);
        cJSON_AddStringToObject(o, "version", v);
        dl_http_json(h, 200, o);
}

/* ------------------------------------------------------------------ WebSocket */

/* Node's JSON.parse message for text cJSON could not parse. */
static void syntax_error(const char *body, size_t len, char *out, size_t size)
{
        const char *at = cJSON_GetErrorPtr();
        size_t pos = at && at >= body && at <= body + len ? (size_t)(at - body) : len;
        while (pos < len &&
               (body[pos] == ' ' || body[pos] == '\n' || body[pos] == '\r' || body[pos] == '\t'))
                pos++;
        /* cJSON points at the value that could not be finished: when the text ends inside it
         * (after a separator, or in a string never closed), JSON.parse says so */
        size_t rest = pos + 1;
        while (rest < len && body[rest] && strchr(" \t\r\n", body[rest]))
                rest++;
        bool in_string = false;
        for (size_t i = 0; i < len; i++) {
                if (in_string && body[i] == '\\')
                        i++;
                else if (body[i] == '"')
                        in_string = !in_string;
        }
        bool ended =
            in_string || (pos < len && rest >= len && body[pos] && strchr(",:[{", body[pos]));
        if (pos >= len || ended)
                snprintf(out, size, "Unexpected end of JSON input");
        else if ((unsigned char)body[pos] > 0x20 && (unsigned char)body[pos] < 0x7f)
                snprintf(out, size, "Unexpected token %c in JSON at position %zu", body[pos], pos);
        else
                snprintf(out, size, "Unexpected token in JSON at position %zu", pos);
}

/* The body or message parsed strictly (util/jsonstrict.h), or NULL with the reason in out:
 * JSON.parse's wording where the text is not JSON at all, runcell's for what JSON.parse would
 * let through (a NUL in a string, equal keys, a second value after the first). */
static cJSON *parse_strict(const char *body, size_t len, char *out, size_t size)
{
        char why[160];
        cJSON *j = json_parse_strict(body, len, why, sizeof(why));
        if (j)
                return j;
        cJSON *lenient = cJSON_ParseWithLength(body, len);
        if (!lenient)
                syntax_error(body, len, out, size);
        else
                snprintf(out, size, "Invalid JSON: %s", why);
        cJSON_Delete(lenient);
        return NULL;
}

static void ws_fail(dl_conn_t *c, const char *text)
{
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "type", "error");
        cJSON_AddStringToObject(o, "message", text);
        dl_send_json(c, o);
        dl_close(c, 4002, "Notified Error");
}

static void ws_started(dl_run_t *r, dl_conn_t *c)
{
        prun_t *pr = dl_run_data(r);
        if (pr->started)
                return;
        pr->started = true;
        const lang_t *l = dl_run_lang(r);
        char v[64];
        piston_version(l, v, sizeof(v));
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "type", "runtime");
        cJSON_AddStringToObject(o, "language", l->tc->name);
        cJSON_AddStringToObject(o, "version", v);
        dl_send_json(c, o);
}

static void ws_event(dl_run_t *r, dl_conn_t *c, const dl_event_t *ev)
{
        prun_t *pr = dl_run_data(r);
        cJSON *o;
        switch (ev->kind) {
        case DL_EV_QUEUED: /* Piston says nothing until the job has its slot */
                break;
        case DL_EV_STAGE:
                ws_started(r, c);
                o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "type", "stage");
                cJSON_AddStringToObject(o, "stage", stage_kind_name(ev->stage));
                dl_send_json(c, o);
                break;
        case DL_EV_OUTPUT:
                o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "type", "data");
                cJSON_AddStringToObject(o, "stream",
                                        ev->stream == STREAM_STDOUT ? "stdout" : "stderr");
                cJSON_AddItemToObject(o, "data", json_bytes_item(ev->data, ev->len));
                dl_send_json(c, o);
                break;
        case DL_EV_EXIT: {
                char msg[600];
                const char *sig;
                stage_status(ev->res, 0, msg, sizeof(msg), &sig);
                o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "type", "exit");
                cJSON_AddStringToObject(o, "stage", stage_kind_name(ev->stage));
                add_num_or_null(o, "code", ev->res->exit_code, ev->res->exit_code >= 0);
                add_str_or_null(o, "signal", sig);
                dl_send_json(c, o);
                break;
        }
        case DL_EV_DONE:
                if (!pr->started) { /* no stage began: the sandbox could not be set up */
                        const stage_result_t *s =
                            ev->result->compile.present ? &ev->result->compile : &ev->result->run;
                        ws_fail(c, s->error[0] ? s->error : "the job could not start");
                } else {
                        dl_close(c, 4999, "Job Completed");
                }
                break;
        case DL_EV_DROPPED:
        default:
                ws_fail(c, ev->message ? ev->message : "the job was dropped");
                break;
        }
}

static void ws_open(dl_conn_t *c, int tag)
{
        (void)tag;
        dl_conn_close_after(c, init_timeout_ms, 4001, "Initialization Timeout");
}

static void on_init(dl_conn_t *c, pconn_t *pc, const cJSON *msg)
{
        if (pc->initialized) {
                dl_close(c, 4000, "Already Initialized");
                return;
        }
        char emsg[600];
        cJSON *doc = decode(msg, true, emsg, sizeof(emsg));
        if (!doc) {
                ws_fail(c, emsg);
                return;
        }
        pc->initialized = true;
        dl_conn_close_after(c, 0, 0, NULL);
        char id[17];
        dl_random_hex(id, 8);
        dl_error_t e;
        if (!dl_run_start(c, NULL, doc, id, &e))
                ws_fail(c, e.message);
}

/* Piston's signal names, by number (globals.SIGNALS). */
static int piston_signal(const cJSON *v)
{
        static const char *const names[] = {
            NULL,       "SIGHUP",  "SIGINT",    "SIGQUIT", "SIGILL",  "SIGTRAP",   "SIGABRT",
            "SIGBUS",   "SIGFPE",  "SIGKILL",   "SIGUSR1", "SIGSEGV", "SIGUSR2",   "SIGPIPE",
            "SIGALRM",  "SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT", "SIGSTOP",   "SIGTSTP",
            "SIGTTIN",  "SIGTTOU", "SIGURG",    "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF",
            "SIGWINCH", "SIGIO",   "SIGPWR",    "SIGSYS"};
        if (cJSON_IsNumber(v)) { /* runcell also takes the number */
                double d = v->valuedouble;
                return d >= 1 && d <= 64 && d == (int)d && (d < 32 || d > 33) ? (int)d : 0;
        }
        if (!cJSON_IsString(v))
                return 0;
        const char *s = v->valuestring;
        for (int i = 1; i < (int)(sizeof(names) / sizeof(names[0])); i++)
                if (strcmp(s, names[i]) == 0)
                        return i;
        int n;
        char tail;
        if (sscanf(s, "SIGRTMIN+%d%c", &n, &tail) == 1 && n >= 1 && n <= 15 &&
            strspn(s + 9, "0123456789") == strlen(s + 9))
                return 34 + n;
        if (sscanf(s, "SIGRTMAX-%d%c", &n, &tail) == 1 && n >= 1 && n <= 14 &&
            strspn(s + 9, "0123456789") == strlen(s + 9))
                return 64 - n;
        if (strcmp(s, "SIGRTMIN") == 0)
                return 34;
        if (strcmp(s, "SIGRTMAX") == 0)
                return 64;
        return 0;
}

static void ws_message(dl_conn_t *c, const char *data, size_t len, bool binary)
{
        (void)binary; /* Piston parses a binary frame's bytes as JSON text too */
        pconn_t *pc = dl_conn_data(c);
        if (!data) {
                ws_fail(c, "the message is over the size limit");
                return;
        }
        char emsg[240];
        cJSON *msg = parse_strict(data, len, emsg, sizeof(emsg));
        if (!msg) { /* JSON.parse's message, as Piston sends it */
                ws_fail(c, emsg);
                return;
        }
        if (!dl_json_depth_ok(msg)) {
                cJSON_Delete(msg);
                ws_fail(c, "the message is nested too deeply");
                return;
        }
        const cJSON *jt = cJSON_GetObjectItemCaseSensitive(msg, "type");
        const char *type = cJSON_IsString(jt) ? jt->valuestring : "";
        dl_run_t *r = dl_conn_next_run(c, NULL);
        if (strcmp(type, "init") == 0) {
                on_init(c, pc, msg);
        } else if (strcmp(type, "data") == 0 || strcmp(type, "signal") == 0) {
                if (!pc->initialized) {
                        dl_close(c, 4003, "Not yet initialized");
                } else if (type[0] == 'd') {
                        const cJSON *js = cJSON_GetObjectItemCaseSensitive(msg, "stream");
                        const cJSON *jd = cJSON_GetObjectItemCaseSensitive(msg, "data");
                        if (!cJSON_IsString(js) || strcmp(js->valuestring, "stdin") != 0)
                                dl_close(c, 4004, "Can only write to stdin");
                        else if (!cJSON_IsString(jd))
                                ws_fail(c, "data must be a string");
                        else if (r)
                                dl_run_stdin(r, jd->valuestring, strlen(jd->valuestring));
                } else {
                        int sig = piston_signal(cJSON_GetObjectItemCaseSensitive(msg, "signal"));
                        if (!sig)
                                dl_close(c, 4005, "Invalid signal");
                        else if (r)
                                dl_run_kill(r, sig);
                }
        }
        /* other types: Piston does nothing */
        cJSON_Delete(msg);
}

/* ------------------------------------------------------------------ HTTP */

/* Piston's answer to a body it could not read: express' error handler, 400 {stack}; runcell
 * adds the message. */
static void body_error(dl_http_t *h, const char *kind, const char *text)
{
        char stack[700];
        snprintf(stack, sizeof(stack), "%s: %s", kind, text);
        cJSON *o = message(text);
        cJSON_AddStringToObject(o, "stack", stack);
        dl_http_json(h, 400, o);
}

static void http_too_large(dl_http_t *h, int tag)
{
        (void)tag;
        body_error(h, "PayloadTooLargeError", "request entity too large");
}

static void execute(dl_http_t *h, const char *body, size_t len)
{
        size_t start = 0;
        while (start < len && (body[start] == ' ' || body[start] == '\n' || body[start] == '\r' ||
                               body[start] == '\t'))
                start++;
        cJSON *parsed = len == 0 ? cJSON_CreateObject() : NULL;
        char emsg[600];
        if (!parsed) {
                /* body-parser's strict mode: an object or an array, nothing else */
                if (start < len && body[start] != '{' && body[start] != '[') {
                        snprintf(emsg, sizeof(emsg), "Unexpected token %c in JSON at position %zu",
                                 body[start], start);
                        body_error(h, "SyntaxError", emsg);
                        return;
                }
                parsed = parse_strict(body, len, emsg, sizeof(emsg));
                if (!parsed) {
                        body_error(h, "SyntaxError", emsg);
                        return;
                }
        }
        if (!dl_json_depth_ok(parsed)) {
                cJSON_Delete(parsed);
                dl_http_json(h, 400, message("the body is nested too deeply"));
                return;
        }
        cJSON *doc = cJSON_IsObject(parsed)
                         ? decode(parsed, false, emsg, sizeof(emsg))
                         : (fail(emsg, sizeof(emsg), "language is required as a string"), NULL);
        cJSON_Delete(parsed);
        if (!doc) {
                dl_http_json(h, 400, message(emsg));
                return;
        }
        char id[17];
        dl_random_hex(id, 8);
        dl_error_t e;
        if (!dl_run_start(NULL, h, doc, id, &e)) {
                int status = dl_error_status(e.code);
                dl_http_json(h, status == 429 || status == 503 || status == 500 ? status : 400,
                             message(e.message));
        }
}

static void http(dl_http_t *h, int tag, dl_method_t method, const char *body, size_t len)
{
        (void)method;
        if (tag == R_RUNTIMES)
                dl_http_json(h, 200, runtimes_json(dl_catalog()));
        else if (tag == R_PACKAGES)
                dl_http_json(h, 200, packages_json(dl_catalog()));
        else
                execute(h, body, len);
}

static void run_event(dl_run_t *r, const dl_event_t *ev)
{
        dl_http_t *h = dl_run_http(r);
        dl_conn_t *c = dl_run_conn(r);
        if (c) {
                ws_event(r, c, ev);
                return;
        }
        prun_t *pr = dl_run_data(r);
        if (ev->kind == DL_EV_OUTPUT) { /* bounded: a stage's output stops at its limit */
                int s = ev->stage == STAGE_COMPILE ? 0 : 1;
                buf_append(&pr->output[s], ev->data, ev->len);
                pr->last_stream[s] = (int)ev->stream + 1;
        } else if (ev->kind == DL_EV_DONE) {
                http_done(r, h, ev->result);
        } else if (ev->kind == DL_EV_DROPPED) {
                dl_http_json(h, 503, message(ev->message ? ev->message : "shutting down"));
        }
}

static void run_free(dl_run_t *r)
{
        prun_t *pr = dl_run_data(r);
        buf_free(&pr->output[0]);
        buf_free(&pr->output[1]);
}

static int configure(const cJSON *opts, rc_err_t *err)
{
        const cJSON *it;
        cJSON_ArrayForEach(it, opts)
        {
                if (strcmp(it->string, "init_timeout_ms") != 0)
                        return rc_err_set(err, EINVAL, "unknown option \"%s\"", it->string);
                double d = it->valuedouble;
                if (!cJSON_IsNumber(it) || d != floor(d) || d < 1 || d > 600000)
                        return rc_err_set(err, EINVAL,
                                          "init_timeout_ms: an integer from 1 to 600000");
                init_timeout_ms = (int)d;
        }
        return 0;
}

static const dl_route_t routes[] = {
    {"/runtimes", DL_GET, R_RUNTIMES},
    {"/execute", DL_POST, R_EXECUTE},
    {"/packages", DL_GET, R_PACKAGES},
    {"/connect", DL_WS, R_CONNECT},
};

const dialect_t dialect_piston = {
    .name = "piston",
    .base = "/api/v2",
    .routes = routes,
    .nroutes = sizeof(routes) / sizeof(routes[0]),
    .conn_size = sizeof(pconn_t),
    .run_size = sizeof(prun_t),
    .configure = configure,
    .http = http,
    .http_too_large = http_too_large,
    .ws_open = ws_open,
    .ws_message = ws_message,
    .run_event = run_event,
    .run_free = run_free,
};
