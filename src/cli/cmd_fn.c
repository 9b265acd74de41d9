/* runcell fn: a client of a running server's functions API (docs/protocol.md, "Functions"):
 * deploy, invoke, ls, show, versions, rollback, rm, each one HTTP request (util/httpc.h) to
 * --server (default $RUNCELL_SERVER, else the server's default address) with --token (default
 * $RUNCELL_TOKEN) as a bearer token. It needs nothing local: no toolchains, root filesystems
 * or state directory.
 *
 * Exit status: 0 when the server did what was asked, 1 with one "runcell: ..." line (the
 * server's own message when it gave one) otherwise; `invoke` exits with the program's exit
 * status instead (128+N when signal N ended it). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "job/job.h"
#include "util/base64.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/httpc.h"
#include "util/json.h"

#define FN_DEFAULT_SERVER "http://127.0.0.1:8080" /* server.c's default listen address */
#define FN_TIMEOUT_S      300 /* a deploy compiles and an invocation runs: the server bounds both */
#define FN_FILE_MAX       (64u << 20)  /* a file deployed (the server has its own bound) */
#define FN_STDIN_MAX      (256u << 20) /* an invocation's body */
#define FN_SERVER_MAX     2048

enum {
        S_DEPLOY = 1 << 0,
        S_INVOKE = 1 << 1,
        S_LS = 1 << 2,
        S_SHOW = 1 << 3,
        S_VERSIONS = 1 << 4,
        S_ROLLBACK = 1 << 5,
        S_RM = 1 << 6,
        S_ALL = (1 << 7) - 1,
};

static const struct {
        const char *name;
        unsigned bit;
        int npos_min, npos_max; /* positional arguments: NAME, FILE... */
        const char *usage;
} subs[] = {
    {"deploy", S_DEPLOY, 2, 1 << 20, "deploy NAME FILE... --lang L [options]"},
    {"invoke", S_INVOKE, 1, 1, "invoke NAME [--stdin FILE|-] [--envelope] [--version N]"},
    {"ls", S_LS, 0, 0, "ls"},
    {"show", S_SHOW, 1, 1, "show NAME"},
    {"versions", S_VERSIONS, 1, 1, "versions NAME"},
    {"rollback", S_ROLLBACK, 1, 1, "rollback NAME [--version N]"},
    {"rm", S_RM, 1, 1, "rm NAME"},
};

/* The run-stage limits of a deploy (--wall-ms N, ...; --compile-wall-ms N, ... for the compile
 * stage), as the run document names them. */
static const char *const limit_names[] = {"wall_ms",   "cpu_ms",       "memory_mb",
                                          "processes", "output_bytes", "file_size_mb",
                                          "disk_mb",   "open_files",   "stack_mb"};

/* The function settings of a deploy given as integers (--min-warm N, ...). */
static const char *const setting_names[] = {"min_warm", "max_concurrent", "queue_max", "rpm",
                                            "idle_s"};

typedef struct fn_opts {
        unsigned sub;
        const char *sub_name;
        const char *server;
        const char *token;
        int timeout_ms;
        bool json;
        char **pos; /* NAME, FILE... */
        int npos;
        /* deploy */
        const char *lang;
        const char *lang_version;
        const char *entry_name; /* --name */
        const char *mode;
        const char *content_type;
        cJSON *args, *env, *compile_options, *cgi_headers, *limits, *compile_limits, *settings;
        /* invoke, rollback */
        const char *stdin_path;
        bool envelope;
        int version;
} fn_opts_t;

static void opts_free(fn_opts_t *o)
{
        cJSON_Delete(o->args);
        cJSON_Delete(o->env);
        cJSON_Delete(o->compile_options);
        cJSON_Delete(o->cgi_headers);
        cJSON_Delete(o->limits);
        cJSON_Delete(o->compile_limits);
        cJSON_Delete(o->settings);
        free(o->pos);
}

/* "--wall-ms" for "wall_ms" (prefix "--" or "--compile-") */
static bool flag_is(const char *flag, const char *prefix, const char *name)
{
        size_t n = strlen(prefix);
        if (strncmp(flag, prefix, n) != 0)
                return false;
        flag += n;
        for (; *name; name++, flag++)
                if (*flag != (*name == '_' ? '-' : *name))
                        return false;
        return *flag == '\0';
}

static int parse_int(const char *flag, const char *v, long lo, long hi, long *out)
{
        char *end;
        errno = 0;
        long n = strtol(v, &end, 10);
        if (!*v || *end || errno || n < lo || n > hi)
                return cli_fail("fn: %s: an integer from %ld to %ld, not '%s'", flag, lo, hi, v);
        *out = n;
        return 0;
}

static cJSON *array_of(cJSON **a)
{
        if (!*a)
                *a = cJSON_CreateArray();
        return *a;
}

static cJSON *object_of(cJSON **o)
{
        if (!*o)
                *o = cJSON_CreateObject();
        return *o;
}

/* An option with a value that only deploy takes: 0 taken, 1 not one of them, -1 bad. */
static int deploy_opt(fn_opts_t *o, const char *a, const char *v)
{
        long n;
        if (strcmp(a, "--lang") == 0 || strcmp(a, "-l") == 0) {
                o->lang = v;
        } else if (strcmp(a, "--lang-version") == 0) {
                o->lang_version = v;
        } else if (strcmp(a, "--name") == 0) {
                if (!*v || strchr(v, '/'))
                        return cli_fail("fn deploy: --name: a file name without '/', got '%s'", v),
                               -1;
                o->entry_name = v;
        } else if (strcmp(a, "--mode") == 0) {
                if (strcmp(v, "stdin") != 0 && strcmp(v, "json") != 0 && strcmp(v, "cgi") != 0)
                        return cli_fail("fn deploy: --mode: stdin, json or cgi, not '%s'", v), -1;
                o->mode = v;
        } else if (strcmp(a, "--content-type") == 0) {
                o->content_type = v;
        } else if (strcmp(a, "--arg") == 0) {
                cJSON_AddItemToArray(array_of(&o->args), cJSON_CreateString(v));
        } else if (strcmp(a, "--env") == 0) {
                const char *eq = strchr(v, '=');
                if (!eq || eq == v)
                        return cli_fail("fn deploy: --env: NAME=VALUE, not '%s'", v), -1;
                char key[256];
                if ((size_t)(eq - v) >= sizeof(key))
                        return cli_fail("fn deploy: --env: too long a name"), -1;
                memcpy(key, v, (size_t)(eq - v));
                key[eq - v] = '\0';
                cJSON *env = object_of(&o->env);
                if (cJSON_GetObjectItemCaseSensitive(env, key))
                        return cli_fail("fn deploy: --env: %s given twice", key), -1;
                cJSON_AddStringToObject(env, key, eq + 1);
        } else if (strcmp(a, "--compile-option") == 0) {
                cJSON_AddItemToArray(array_of(&o->compile_options), cJSON_CreateString(v));
        } else if (strcmp(a, "--cgi-header") == 0) {
                cJSON_AddItemToArray(array_of(&o->cgi_headers), cJSON_CreateString(v));
        } else {
                for (size_t k = 0; k < ARRAY_SIZE(setting_names); k++)
                        if (flag_is(a, "--", setting_names[k])) {
                                if (parse_int(a, v, 0, 1000000000, &n) != 0)
                                        return -1;
                                cJSON *s = object_of(&o->settings);
                                cJSON_DeleteItemFromObjectCaseSensitive(s, setting_names[k]);
                                cJSON_AddNumberToObject(s, setting_names[k], (double)n);
                                return 0;
                        }
                for (size_t k = 0; k < ARRAY_SIZE(limit_names); k++) {
                        bool run = flag_is(a, "--", limit_names[k]);
                        if (!run && !flag_is(a, "--compile-", limit_names[k]))
                                continue;
                        if (parse_int(a, v, 1, 1L << 40, &n) != 0)
                                return -1;
                        cJSON *l = object_of(run ? &o->limits : &o->compile_limits);
                        cJSON_DeleteItemFromObjectCaseSensitive(l, limit_names[k]);
                        cJSON_AddNumberToObject(l, limit_names[k], (double)n);
                        return 0;
                }
                return 1;
        }
        return 0;
}

static int parse_args(int argc, char **argv, fn_opts_t *o)
{
        if (argc < 2)
                return cli_fail("fn: which? deploy, invoke, ls, show, versions, rollback or rm "
                                "(see runcell fn --help)");
        for (size_t i = 0; i < ARRAY_SIZE(subs); i++)
                if (strcmp(argv[1], subs[i].name) == 0) {
                        o->sub = subs[i].bit;
                        o->sub_name = subs[i].name;
                }
        if (!o->sub)
                return cli_fail("fn: unknown command '%s': deploy, invoke, ls, show, versions, "
                                "rollback or rm (see runcell fn --help)",
                                argv[1]);
        o->server = getenv("RUNCELL_SERVER");
        if (!o->server || !*o->server)
                o->server = FN_DEFAULT_SERVER;
        o->token = getenv("RUNCELL_TOKEN");
        o->timeout_ms = FN_TIMEOUT_S * 1000;
        if (!(o->pos = calloc((size_t)argc, sizeof(*o->pos))))
                return cli_fail("out of memory");
        const char *sub = o->sub_name;
        bool dashdash = false;
        for (int i = 2; i < argc; i++) {
                const char *a = argv[i];
                if (dashdash || a[0] != '-' || strcmp(a, "-") == 0) {
                        o->pos[o->npos++] = argv[i];
                        continue;
                }
                if (strcmp(a, "--") == 0) {
                        dashdash = true;
                        continue;
                }
                if (strcmp(a, "--json") == 0) {
                        o->json = true;
                        continue;
                }
                if (strcmp(a, "--envelope") == 0) {
                        if (o->sub != S_INVOKE)
                                return cli_fail("fn %s: unknown option %s (see runcell fn --help)",
                                                sub, a);
                        o->envelope = true;
                        continue;
                }
                if (i + 1 >= argc)
                        return cli_fail("fn %s: %s needs a value", sub, a);
                const char *v = argv[++i];
                long n;
                if (strcmp(a, "--server") == 0) {
                        o->server = v;
                } else if (strcmp(a, "--token") == 0) {
                        o->token = v;
                } else if (strcmp(a, "--timeout") == 0) {
                        if (parse_int(a, v, 1, 86400, &n) != 0)
                                return 1;
                        o->timeout_ms = (int)n * 1000;
                } else if (strcmp(a, "--stdin") == 0 && o->sub == S_INVOKE) {
                        o->stdin_path = v;
                } else if (strcmp(a, "--version") == 0 && (o->sub & (S_INVOKE | S_ROLLBACK))) {
                        if (parse_int(a, v, 1, 1000000000, &n) != 0)
                                return 1;
                        o->version = (int)n;
                } else if (strcmp(a, "--version") == 0 && o->sub == S_DEPLOY) {
                        o->lang_version = v; /* a deploy's "version" is the language's */
                } else {
                        int r = o->sub == S_DEPLOY ? deploy_opt(o, a, v) : 1;
                        if (r < 0)
                                return 1;
                        if (r > 0)
                                return cli_fail("fn %s: unknown option %s (see runcell fn --help)",
                                                sub, a);
                }
        }
        for (size_t i = 0; i < ARRAY_SIZE(subs); i++) {
                if (subs[i].bit != o->sub)
                        continue;
                if (o->npos < subs[i].npos_min || o->npos > subs[i].npos_max)
                        return cli_fail("fn %s: usage: runcell fn %s", sub, subs[i].usage);
        }
        if (o->sub == S_DEPLOY && !o->lang)
                return cli_fail("fn deploy: --lang L is required (runcell languages, or GET "
                                "/api/v1/languages on the server)");
        if (o->json && o->sub == S_INVOKE)
                return cli_fail("fn invoke: --envelope for the answer as JSON");
        size_t sl = strlen(o->server);
        while (sl && o->server[sl - 1] == '/')
                sl--;
        httpc_url_t u;
        rc_err_t err = {0};
        if (sl >= FN_SERVER_MAX)
                return cli_fail("fn: --server: too long a URL");
        char server[FN_SERVER_MAX];
        snprintf(server, sizeof(server), "%.*s", (int)sl, o->server);
        if (httpc_url_parse(server, &u, &err) < 0)
                return cli_fail("fn: --server: %s", err.msg);
        if (strpbrk(server + 7, "?#"))
                return cli_fail("fn: --server: a URL without a ?query or #fragment, not \"%s\"",
                                server);
        return 0;
}

/* ------------------------------------------------------------------ requests */

typedef struct fn_client {
        const fn_opts_t *o;
        char auth[1024];
} fn_client_t;

/* NAME for a URL path: anything but [A-Za-z0-9._~-] percent-escaped (the server then refuses
 * a name that is not a function's with its own message). */
static int append_escaped(buf_t *b, const char *s)
{
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                             (*p >= '0' && *p <= '9') || strchr("._~-", *p);
                if ((plain ? buf_append(b, p, 1) : buf_printf(b, "%%%02X", *p)) < 0)
                        return -ENOMEM;
        }
        return 0;
}

/* One request to the server's PATH (path: "/api/v1/functions" + suffix for name, or "");
 * 0 with *resp filled, whatever the status; 1 after saying why there is no answer. */
static int request(const fn_client_t *c, const char *method, const char *name, const char *suffix,
                   const char *query, const void *body, size_t body_len, httpc_response_t *resp)
{
        const fn_opts_t *o = c->o;
        buf_t url = {0};
        size_t sl = strlen(o->server);
        while (sl && o->server[sl - 1] == '/')
                sl--;
        int r = buf_append(&url, o->server, sl);
        if (r >= 0)
                r = buf_printf(&url, "/api/v1/functions");
        if (r >= 0 && name) {
                r = buf_append(&url, "/", 1);
                if (r >= 0)
                        r = append_escaped(&url, name);
        }
        if (r >= 0 && suffix)
                r = buf_printf(&url, "%s", suffix);
        if (r >= 0 && query)
                r = buf_printf(&url, "%s", query);
        if (r < 0) {
                buf_free(&url);
                return cli_fail("out of memory");
        }
        const char *headers[4];
        size_t nh = 0;
        if (c->auth[0])
                headers[nh++] = c->auth;
        if (body)
                headers[nh++] = "Content-Type: application/json";
        headers[nh] = NULL;
        httpc_request_t req = {.method = method,
                               .url = url.data,
                               .headers = headers,
                               .body = body,
                               .body_len = body_len,
                               .timeout_ms = o->timeout_ms};
        rc_err_t err = {0};
        r = httpc_do(&req, resp, &err);
        buf_free(&url);
        if (r < 0)
                return cli_fail("fn %s%s%s: %s (server %s)", o->sub_name, name ? " " : "",
                                name ? name : "", err.msg, o->server);
        return 0;
}

/* The server's refusal, in its own words: {"error": {"code", "message"}}, or the status and
 * the start of what it sent. Returns 1. */
static int fail_answer(const fn_client_t *c, const char *name, const httpc_response_t *resp)
{
        _cleanup_cjson_ cJSON *j = cJSON_ParseWithLength(resp->body, resp->body_len);
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
        const char *sub = c->o->sub_name;
        const char *sp = name ? " " : "";
        if (!name)
                name = "";
        if (cJSON_IsString(msg))
                return cli_fail("fn %s%s%s: %s (HTTP %d%s%s)", sub, sp, name, msg->valuestring,
                                resp->status, cJSON_IsString(code) ? " " : "",
                                cJSON_IsString(code) ? code->valuestring : "");
        /* not runcell's JSON: a proxy's page, say */
        size_t n = 0;
        while (n < resp->body_len && n < 200 && resp->body[n] != '\n' && resp->body[n] != '\0')
                n++;
        return cli_fail("fn %s%s%s: HTTP %d %s%s%.*s", sub, sp, name, resp->status, resp->reason,
                        n ? ": " : "", (int)n, resp->body);
}

static int write_out(const char *p, size_t n)
{
        if (n && fwrite(p, 1, n, stdout) != n)
                return cli_fail("fn: writing to stdout: %s", strerror(errno));
        if (fflush(stdout) != 0)
                return cli_fail("fn: writing to stdout: %s", strerror(errno));
        return 0;
}

/* --json: the answer as the server sent it, on one line. */
static int print_raw(const httpc_response_t *resp)
{
        int r = write_out(resp->body, resp->body_len);
        if (r == 0 && (resp->body_len == 0 || resp->body[resp->body_len - 1] != '\n'))
                r = write_out("\n", 1);
        return r;
}

/* The answer's JSON object, or NULL after saying it is not one. */
static cJSON *answer_json(const fn_client_t *c, const httpc_response_t *resp)
{
        cJSON *j = cJSON_ParseWithLength(resp->body, resp->body_len);
        if (!cJSON_IsObject(j)) {
                cJSON_Delete(j);
                cli_fail("fn %s: the server's answer is not a JSON object", c->o->sub_name);
                return NULL;
        }
        return j;
}

static const char *str_of(const cJSON *o, const char *k)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
        return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double num_of(const cJSON *o, const char *k, double def)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
        return cJSON_IsNumber(v) ? v->valuedouble : def;
}

/* Milliseconds since the epoch as local time, "2025-01-31 12:00:00". */
static const char *when(double ms, char *b, size_t size)
{
        time_t t = (time_t)(ms / 1000);
        struct tm tm;
        if (ms <= 0 || !localtime_r(&t, &tm) || !strftime(b, size, "%Y-%m-%d %H:%M:%S", &tm))
                snprintf(b, size, "-");
        return b;
}

/* ------------------------------------------------------------------ deploy */

/* All of fd, at most max bytes. */
static int read_fd(int fd, const char *what, size_t max, buf_t *out)
{
        for (;;) {
                char chunk[65536];
                ssize_t n = read(fd, chunk, sizeof(chunk));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return cli_fail("fn: reading %s: %s", what, strerror(errno));
                if (n == 0)
                        return 0;
                if (out->len + (size_t)n > max)
                        return cli_fail("fn: %s is over %zu bytes", what, max);
                if (buf_append(out, chunk, (size_t)n) < 0)
                        return cli_fail("out of memory");
        }
}

static int read_path(const char *path, size_t max, buf_t *out)
{
        if (strcmp(path, "-") == 0)
                return read_fd(STDIN_FILENO, "stdin", max, out);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return cli_fail("fn: %s: %s", path, strerror(errno));
        return read_fd(fd, path, max, out);
}

/* A file's name in /work: its base name; none (the language's source file name, chosen by the
 * server) for stdin, or for a pipe without an extension (/dev/fd/63), as `runcell run` does. */
static const char *file_name(const char *path, char *b, size_t size)
{
        if (strcmp(path, "-") == 0)
                return NULL;
        snprintf(b, size, "%s", path);
        const char *base = basename(b);
        struct stat st;
        if (stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !strchr(base, '.'))
                return NULL;
        return base;
}

static int deploy_doc(const fn_opts_t *o, cJSON *doc)
{
        cJSON_AddStringToObject(doc, "language", o->lang);
        if (o->lang_version)
                cJSON_AddStringToObject(doc, "version", o->lang_version);
        cJSON *files = cJSON_AddArrayToObject(doc, "files");
        int stdin_files = 0;
        for (int i = 1; i < o->npos; i++) {
                const char *path = o->pos[i];
                if (strcmp(path, "-") == 0 && stdin_files++)
                        return cli_fail("fn deploy: stdin (-) can be read only once");
                buf_t data = {0}, b64 = {0};
                if (read_path(path, FN_FILE_MAX, &data) != 0) {
                        buf_free(&data);
                        return 1;
                }
                /* base64: any bytes, exactly (the server decodes it) */
                int r = base64_append(&b64, data.data ? data.data : "", data.len);
                buf_free(&data);
                if (r < 0 || buf_append(&b64, "", 0) < 0) {
                        buf_free(&b64);
                        return cli_fail("out of memory");
                }
                char nb[4096];
                const char *name =
                    i == 1 && o->entry_name ? o->entry_name : file_name(path, nb, sizeof(nb));
                if (!name && i > 1) {
                        buf_free(&b64);
                        return cli_fail("fn deploy: %s: only the first file may come without a "
                                        "name (stdin or a pipe)",
                                        path);
                }
                cJSON *f = cJSON_CreateObject();
                if (name)
                        cJSON_AddStringToObject(f, "name", name);
                cJSON_AddStringToObject(f, "content", b64.data);
                cJSON_AddStringToObject(f, "encoding", "base64");
                cJSON_AddItemToArray(files, f);
                buf_free(&b64);
        }
        if (o->mode)
                cJSON_AddStringToObject(doc, "mode", o->mode);
        if (o->content_type)
                cJSON_AddStringToObject(doc, "content_type", o->content_type);
        const struct {
                const char *key;
                cJSON *v;
        } items[] = {{"args", o->args},
                     {"env", o->env},
                     {"compile_options", o->compile_options},
                     {"cgi_headers", o->cgi_headers},
                     {"limits", o->limits},
                     {"compile_limits", o->compile_limits}};
        for (size_t i = 0; i < ARRAY_SIZE(items); i++)
                if (items[i].v)
                        cJSON_AddItemToObject(doc, items[i].key, cJSON_Duplicate(items[i].v, true));
        const cJSON *s;
        cJSON_ArrayForEach(s, o->settings)
        {
                cJSON_AddItemToObject(doc, s->string, cJSON_Duplicate(s, true));
        }
        return 0;
}

/* The compile stage's output (of a deploy's answer) on stderr. */
static void print_compile_output(const cJSON *compile)
{
        const char *out = str_of(compile, "stdout"), *err = str_of(compile, "stderr");
        fflush(stdout);
        if (out && *out)
                fputs(out, stderr);
        if (err && *err)
                fputs(err, stderr);
        fflush(stderr);
}

static int cmd_deploy(const fn_client_t *c)
{
        const fn_opts_t *o = c->o;
        const char *name = o->pos[0];
        _cleanup_cjson_ cJSON *doc = cJSON_CreateObject();
        if (!doc)
                return cli_fail("out of memory");
        if (deploy_doc(o, doc) != 0)
                return 1;
        _cleanup_free_ char *body = cJSON_PrintUnformatted(doc);
        if (!body)
                return cli_fail("out of memory");
        httpc_response_t resp;
        int r = request(c, "PUT", name, NULL, NULL, body, strlen(body), &resp);
        if (r != 0) {
                httpc_response_free(&resp);
                return r;
        }
        _cleanup_cjson_ cJSON *j = cJSON_ParseWithLength(resp.body, resp.body_len);
        const cJSON *compile = cJSON_GetObjectItemCaseSensitive(j, "compile");
        if (resp.status == 422 && cJSON_IsObject(compile)) {
                /* the compiler's words, then ours */
                print_compile_output(compile);
                if (o->json)
                        print_raw(&resp);
                const char *st = str_of(compile, "status");
                r = cli_fail("fn deploy %s: the program did not compile (%s): nothing was "
                             "deployed",
                             name, st ? st : "compile_error");
        } else if (resp.status != 200 && resp.status != 201) {
                r = fail_answer(c, name, &resp);
        } else if (o->json) {
                r = print_raw(&resp);
        } else if (!cJSON_IsObject(j)) {
                r = cli_fail("fn deploy %s: the server's answer is not a JSON object", name);
        } else {
                /* warnings of a compile that went well */
                if (cJSON_IsObject(compile))
                        print_compile_output(compile);
                const char *art = str_of(j, "artifact");
                printf("%s version %.0f deployed (%s, artifact %.12s, %.0f bytes)\n", name,
                       num_of(j, "version", 0), str_of(j, "language") ? str_of(j, "language") : "?",
                       art ? art : "?", num_of(j, "artifact_bytes", 0));
                r = write_out(NULL, 0);
        }
        httpc_response_free(&resp);
        return r;
}

/* ------------------------------------------------------------------ invoke */

static int signal_number(const char *name)
{
        for (int s = 1; s < 65; s++) {
                const char *n = signal_name(s);
                if (n && strcmp(n, name) == 0)
                        return s;
        }
        return 0;
}

/* The program's exit status from the verdict headers: its exit code, 128+N for signal N, 1
 * for a verdict that has neither (a limit hit). A note on stderr when it did not end well by
 * itself. */
static int invoke_status(const char *name, const httpc_response_t *resp)
{
        const char *status = httpc_header(resp, "x-runcell-status");
        const char *code = httpc_header(resp, "x-runcell-exit-code");
        const char *sig = httpc_header(resp, "x-runcell-signal");
        if (!status)
                return cli_fail("fn invoke %s: the answer has no X-Runcell-Status header (is "
                                "the server runcell?)",
                                name);
        long ec = code ? strtol(code, NULL, 10) : -1;
        int signo = sig ? signal_number(sig) : 0;
        bool plain = strcmp(status, "ok") == 0 || (strcmp(status, "runtime_error") == 0 && ec > 0);
        if (!plain) {
                const char *trunc = httpc_header(resp, "x-runcell-truncated");
                fprintf(stderr, "runcell: fn invoke %s: %s%s%s%s\n", name, status, sig ? " (" : "",
                        sig ? sig : "", sig ? ")" : "");
                if (trunc && strcmp(trunc, "1") == 0 && strcmp(status, "output_limit") != 0)
                        fprintf(stderr, "runcell: fn invoke %s: the output was cut\n", name);
        }
        if (ec > 0 && ec < 256)
                return (int)ec;
        if (signo)
                return 128 + signo;
        return strcmp(status, "ok") == 0 ? 0 : 1;
}

static int cmd_invoke(const fn_client_t *c)
{
        const fn_opts_t *o = c->o;
        const char *name = o->pos[0];
        buf_t in = {0};
        if (o->stdin_path && read_path(o->stdin_path, FN_STDIN_MAX, &in) != 0) {
                buf_free(&in);
                return 1;
        }
        char query[64] = "";
        if (o->envelope)
                snprintf(query, sizeof(query), "?envelope=1");
        if (o->version) {
                size_t n = strlen(query);
                snprintf(query + n, sizeof(query) - n, "%sversion=%d", n ? "&" : "?", o->version);
        }
        httpc_response_t resp;
        int r = request(c, "POST", name, "/invoke", query[0] ? query : NULL, in.data ? in.data : "",
                        in.len, &resp);
        buf_free(&in);
        if (r != 0) {
                httpc_response_free(&resp);
                return r;
        }
        if (resp.status != 200 && !(o->envelope && httpc_header(&resp, "x-runcell-status"))) {
                r = fail_answer(c, name, &resp);
                httpc_response_free(&resp);
                return r;
        }
        r = write_out(resp.body, resp.body_len);
        if (r == 0 && o->envelope && (resp.body_len == 0 || resp.body[resp.body_len - 1] != '\n'))
                r = write_out("\n", 1);
        if (r == 0)
                r = invoke_status(name, &resp);
        httpc_response_free(&resp);
        return r;
}

/* ------------------------------------------------------------------ ls, show, versions, ... */

/* GET/POST/DELETE and its answer as JSON (printed raw with --json: *out NULL then). 0, or 1
 * after saying what failed. */
static int simple(const fn_client_t *c, const char *method, const char *name, const char *suffix,
                  const char *body, cJSON **out)
{
        *out = NULL;
        httpc_response_t resp;
        int r = request(c, method, name, suffix, NULL, body, body ? strlen(body) : 0, &resp);
        if (r == 0 && resp.status != 200)
                r = fail_answer(c, name, &resp);
        else if (r == 0 && c->o->json)
                r = print_raw(&resp);
        else if (r == 0 && !(*out = answer_json(c, &resp)))
                r = 1;
        httpc_response_free(&resp);
        return r;
}

static int cmd_ls(const fn_client_t *c)
{
        _cleanup_cjson_ cJSON *j = NULL;
        int r = simple(c, "GET", NULL, NULL, NULL, &j);
        if (r != 0 || !j)
                return r;
        const cJSON *fns = cJSON_GetObjectItemCaseSensitive(j, "functions"), *f;
        int w = 4;
        cJSON_ArrayForEach(f, fns)
        {
                const char *n = str_of(f, "name");
                if (n && (int)strlen(n) > w)
                        w = (int)strlen(n);
        }
        if (cJSON_GetArraySize(fns) == 0) {
                fprintf(stderr, "runcell: fn ls: no functions on %s\n", c->o->server);
                return 0;
        }
        printf("%-*s  %7s  %-12s  %-5s  %s\n", w, "NAME", "VERSION", "LANGUAGE", "MODE", "UPDATED");
        cJSON_ArrayForEach(f, fns)
        {
                char t[64], v[32];
                const char *n = str_of(f, "name"), *l = str_of(f, "language"),
                           *m = str_of(f, "mode");
                double ver = num_of(f, "version", 0), latest = num_of(f, "latest", ver);
                if (latest != ver)
                        snprintf(v, sizeof(v), "%.0f/%.0f", ver, latest);
                else
                        snprintf(v, sizeof(v), "%.0f", ver);
                printf("%-*s  %7s  %-12s  %-5s  %s\n", w, n ? n : "?", v, l ? l : "?", m ? m : "?",
                       when(num_of(f, "updated_ms", 0), t, sizeof(t)));
        }
        return write_out(NULL, 0);
}

/* One "key: value" line per member (nested objects as key.member), times as dates too. */
static void print_fields(const cJSON *o, const char *prefix)
{
        const cJSON *v;
        cJSON_ArrayForEach(v, o)
        {
                char key[128];
                snprintf(key, sizeof(key), "%s%s", prefix, v->string ? v->string : "?");
                if (cJSON_IsObject(v)) {
                        char p[136];
                        snprintf(p, sizeof(p), "%s.", key);
                        print_fields(v, p);
                        continue;
                }
                printf("%-22s ", key);
                size_t kl = strlen(key);
                if (cJSON_IsString(v)) {
                        printf("%s\n", v->valuestring);
                } else if (cJSON_IsNumber(v) && kl > 3 && strcmp(key + kl - 3, "_ms") == 0 &&
                           v->valuedouble > 1e12) {
                        char t[64];
                        printf("%.0f (%s)\n", v->valuedouble, when(v->valuedouble, t, sizeof(t)));
                } else {
                        _cleanup_free_ char *s = cJSON_PrintUnformatted(v);
                        printf("%s\n", s ? s : "?");
                }
        }
}

static int cmd_show(const fn_client_t *c)
{
        _cleanup_cjson_ cJSON *j = NULL;
        int r = simple(c, "GET", c->o->pos[0], NULL, NULL, &j);
        if (r != 0 || !j)
                return r;
        print_fields(j, "");
        return write_out(NULL, 0);
}

static int cmd_versions(const fn_client_t *c)
{
        _cleanup_cjson_ cJSON *j = NULL;
        int r = simple(c, "GET", c->o->pos[0], "/versions", NULL, &j);
        if (r != 0 || !j)
                return r;
        double cur = num_of(j, "current", 0);
        const cJSON *v;
        /* newest first, one line each, starting with its number */
        cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(j, "versions"))
        {
                char t[64];
                const char *l = str_of(v, "language"), *a = str_of(v, "artifact");
                double n = num_of(v, "version", 0);
                printf("%.0f  %s  %-12s  %.12s%s\n", n,
                       when(num_of(v, "created_ms", 0), t, sizeof(t)), l ? l : "?", a ? a : "?",
                       n == cur ? "  current" : "");
        }
        return write_out(NULL, 0);
}

static int cmd_rollback(const fn_client_t *c)
{
        char body[64] = "{}";
        if (c->o->version)
                snprintf(body, sizeof(body), "{\"version\":%d}", c->o->version);
        _cleanup_cjson_ cJSON *j = NULL;
        int r = simple(c, "POST", c->o->pos[0], "/rollback", body, &j);
        if (r != 0 || !j)
                return r;
        printf("%s is at version %.0f (latest %.0f)\n", c->o->pos[0], num_of(j, "version", 0),
               num_of(j, "latest", 0));
        return write_out(NULL, 0);
}

static int cmd_rm(const fn_client_t *c)
{
        _cleanup_cjson_ cJSON *j = NULL;
        int r = simple(c, "DELETE", c->o->pos[0], NULL, NULL, &j);
        if (r != 0 || !j)
                return r;
        printf("%s removed\n", c->o->pos[0]);
        return write_out(NULL, 0);
}

int cmd_fn(const rc_paths_t *paths, int argc, char **argv)
{
        fn_opts_t o = {0};
        int r = parse_args(argc, argv, &o);
        if (r != 0) {
                opts_free(&o);
                return r;
        }
        fn_client_t c = {.o = &o};
        if (o.token && *o.token) {
                if (strlen(o.token) > sizeof(c.auth) - 32) {
                        opts_free(&o);
                        return cli_fail("fn: --token: too long a token");
                }
                snprintf(c.auth, sizeof(c.auth), "Authorization: Bearer %s", o.token);
        }
        switch (o.sub) {
        case S_DEPLOY:
                r = cmd_deploy(&c);
                break;
        case S_INVOKE:
                r = cmd_invoke(&c);
                break;
        case S_LS:
                r = cmd_ls(&c);
                break;
        case S_SHOW:
                r = cmd_show(&c);
                break;
        case S_VERSIONS:
                r = cmd_versions(&c);
                break;
        case S_ROLLBACK:
                r = cmd_rollback(&c);
                break;
        case S_RM:
                r = cmd_rm(&c);
                break;
        default:
                r = cli_fail("fn: unknown command");
                break;
        }
        opts_free(&o);
        return r;
}
