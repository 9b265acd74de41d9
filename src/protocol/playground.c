/* The playground: a web page to write and run code (web/ in the source tree, built by
 * scripts/build-web into build/web and installed into share/runcell/web). GET / is the page,
 * GET /embed the compact page for embedding in other sites, GET /assets/NAME the bundled files.
 * The page itself talks to the native protocol (GET /api/v1/languages, WebSocket /api/v1/ws).
 * docs/PLAYGROUND.md describes it.
 *
 * Options ("dialects": {"playground": {...}}): "dir" (the built web directory; else
 * RUNCELL_WEB_DIR, else beside the executable: build/web in a checkout, share/runcell/web when
 * installed), "frame_ancestors" (who may frame /embed: a CSP source list, default "*"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "protocol/dialect.h"
#include "util/fs.h"

enum { R_PAGE, R_EMBED, R_ASSET };

#define FILE_MAX (16u << 20)

static char *opt_dir;
static char *opt_frame_ancestors;
static char *web_dir; /* resolved once */

static bool dir_ok(const char *d)
{
        char *p = fs_join(d, "index.html");
        bool ok = p && fs_exists(p);
        free(p);
        return ok;
}

static const char *find_web_dir(void)
{
        if (web_dir)
                return web_dir;
        const char *env = getenv("RUNCELL_WEB_DIR");
        if (opt_dir)
                web_dir = strdup(opt_dir);
        else if (env && *env)
                web_dir = strdup(env);
        else {
                char *exe = fs_exe_dir();
                char *c[3] = {NULL, NULL, NULL};
                if (exe) {
                        if (asprintf(&c[0], "%s/web", exe) < 0)
                                c[0] = NULL;
                        if (asprintf(&c[1], "%s/../share/runcell/web", exe) < 0)
                                c[1] = NULL;
                }
                if (asprintf(&c[2], "%s/web", RUNCELL_DATADIR) < 0)
                        c[2] = NULL;
                for (int i = 0; i < 3 && !web_dir; i++)
                        if (c[i] && dir_ok(c[i]))
                                web_dir = realpath(c[i], NULL);
                for (int i = 0; i < 3; i++)
                        free(c[i]);
                free(exe);
        }
        return web_dir;
}

static int configure(const cJSON *opts, rc_err_t *err)
{
        const cJSON *o;
        cJSON_ArrayForEach(o, opts)
        {
                if (strcmp(o->string, "dir") == 0 || strcmp(o->string, "frame_ancestors") == 0) {
                        if (!cJSON_IsString(o) || !*o->valuestring ||
                            strpbrk(o->valuestring, "\r\n;,"))
                                return rc_err_set(err, EINVAL,
                                                  "\"%s\" must be a non-empty string on one line "
                                                  "without ';' or ','",
                                                  o->string);
                        if (strcmp(o->string, "dir") == 0 && o->valuestring[0] != '/')
                                return rc_err_set(err, EINVAL, "\"dir\" must be an absolute path");
                        char **slot =
                            strcmp(o->string, "dir") == 0 ? &opt_dir : &opt_frame_ancestors;
                        free(*slot);
                        if (!(*slot = strdup(o->valuestring)))
                                return rc_err_set(err, ENOMEM, "out of memory");
                        if (slot == &opt_dir) {
                                free(web_dir);
                                web_dir = NULL;
                        }
                } else {
                        return rc_err_set(err, EINVAL, "unknown option \"%s\"", o->string);
                }
        }
        return 0;
}

static const char *content_type(const char *name)
{
        static const struct {
                const char *ext, *type;
        } types[] = {
            {".html", "text/html; charset=utf-8"},
            {".js", "text/javascript; charset=utf-8"},
            {".css", "text/css; charset=utf-8"},
            {".json", "application/json"},
            {".map", "application/json"},
            {".svg", "image/svg+xml"},
            {".png", "image/png"},
            {".ico", "image/x-icon"},
            {".woff2", "font/woff2"},
            {".txt", "text/plain; charset=utf-8"},
        };
        const char *dot = strrchr(name, '.');
        for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
                if (strcmp(dot, types[i].ext) == 0)
                        return types[i].type;
        return "application/octet-stream";
}

/* esbuild's [name]-[hash] names: eight or more upper-case letters and digits after the last '-'
 * before the extension. Their content never changes under the name. */
static bool hashed(const char *name)
{
        const char *dot = strrchr(name, '.'), *dash = strrchr(name, '-');
        if (!dot || !dash || dash > dot || dot - dash - 1 < 8)
                return false;
        for (const char *p = dash + 1; p < dot; p++)
                if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
                        return false;
        return true;
}

static bool name_ok(const char *n)
{
        if (!*n || *n == '.' || strlen(n) > 128)
                return false;
        for (const char *p = n; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == '_'))
                        return false;
        return true;
}

static void not_found(dl_http_t *h, const char *what)
{
        dl_http_header(h, "x-content-type-options:", "nosniff");
        dl_http_text(h, 404, "text/plain; charset=utf-8", what, strlen(what));
}

static bool accepts_gzip(dl_http_t *h)
{
        char ae[256];
        const char *v = dl_http_req_header(h, "accept-encoding:", ae, sizeof(ae));
        return v && strstr(v, "gzip");
}

/* The Host header, if it is a plain host[:port], for the WebSocket sources of connect-src. */
static bool host_of(dl_http_t *h, char *buf, size_t size)
{
        if (!dl_http_req_header(h, "host:", buf, size) || !*buf)
                return false;
        for (const char *p = buf; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == ':' ||
                      *p == '[' || *p == ']'))
                        return false;
        return true;
}

static void security_headers(dl_http_t *h, bool page, bool embed)
{
        dl_http_header(h, "x-content-type-options:", "nosniff");
        if (!page)
                return;
        char host[200], csp[1024];
        char ws[512] = "";
        if (host_of(h, host, sizeof(host)))
                snprintf(ws, sizeof(ws), " ws://%s wss://%s", host, host);
        const char *fa = embed ? (opt_frame_ancestors ? opt_frame_ancestors : "*") : "'none'";
        /* Styles inline: CodeMirror and xterm.js set element styles and add style sheets at run
         * time. Scripts only from this server, never inline, never eval. */
        snprintf(csp, sizeof(csp),
                 "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                 "img-src 'self' data:; font-src 'self'; connect-src 'self'%s; object-src "
                 "'none'; base-uri 'none'; form-action 'none'; frame-ancestors %s",
                 ws, fa);
        dl_http_header(h, "content-security-policy:", csp);
        dl_http_header(h, "referrer-policy:", "no-referrer");
        dl_http_header(h, "cross-origin-opener-policy:", embed ? "unsafe-none" : "same-origin");
        if (!embed)
                dl_http_header(h, "x-frame-options:", "DENY");
}

static void serve_file(dl_http_t *h, const char *name, bool page, bool embed)
{
        const char *dir = find_web_dir();
        if (!dir) {
                security_headers(h, false, false);
                const char *m = "the playground is not built (scripts/build-web)\n";
                dl_http_text(h, 404, "text/plain; charset=utf-8", m, strlen(m));
                return;
        }
        char *path = NULL, *gz = NULL;
        if (asprintf(&path, "%s/%s", dir, name) < 0)
                path = NULL;
        if (!path) {
                dl_http_text(h, 500, "text/plain", "", 0);
                return;
        }
        struct stat st;
        bool use_gz = false;
        if (accepts_gzip(h) && asprintf(&gz, "%s.gz", path) >= 0 && stat(gz, &st) == 0 &&
            S_ISREG(st.st_mode))
                use_gz = true;
        const char *file = use_gz ? gz : path;
        if (!use_gz && (stat(path, &st) != 0 || !S_ISREG(st.st_mode))) {
                free(path);
                free(gz);
                not_found(h, "no such file\n");
                return;
        }
        char etag[96], inm[128];
        snprintf(etag, sizeof(etag), "\"%llx-%llx%s\"", (unsigned long long)st.st_size,
                 (unsigned long long)st.st_mtime, use_gz ? "-gz" : "");
        security_headers(h, page, embed);
        dl_http_header(h, "etag:", etag);
        dl_http_header(h, "vary:", "Accept-Encoding");
        dl_http_header(h, "cache-control:",
                       !page && hashed(name) ? "public, max-age=31536000, immutable" : "no-cache");
        const char *v = dl_http_req_header(h, "if-none-match:", inm, sizeof(inm));
        if (v && strstr(v, etag)) {
                free(path);
                free(gz);
                dl_http_text(h, 304, content_type(name), "", 0);
                return;
        }
        char *data = NULL;
        size_t len = 0;
        rc_err_t err;
        if (fs_read_file(file, FILE_MAX, &data, &len, &err) < 0) {
                free(path);
                free(gz);
                not_found(h, "cannot read the file\n");
                return;
        }
        if (use_gz)
                dl_http_header(h, "content-encoding:", "gzip");
        dl_http_text(h, 200, content_type(name), data, len);
        free(data);
        free(path);
        free(gz);
}

static void http(dl_http_t *h, int tag, dl_method_t method, const char *body, size_t len)
{
        (void)method;
        (void)body;
        (void)len;
        if (tag == R_PAGE) {
                serve_file(h, "index.html", true, false);
        } else if (tag == R_EMBED) {
                serve_file(h, "embed.html", true, true);
        } else {
                const char *name = dl_http_path_arg(h);
                if (!name_ok(name) || (strlen(name) > 3 && !strcmp(name + strlen(name) - 3, ".gz")))
                        not_found(h, "no such file\n");
                else {
                        char rel[160];
                        snprintf(rel, sizeof(rel), "assets/%s", name);
                        serve_file(h, rel, false, false);
                }
        }
}

static void stop(void)
{
        free(opt_dir);
        free(opt_frame_ancestors);
        free(web_dir);
        opt_dir = opt_frame_ancestors = web_dir = NULL;
}

static const dl_route_t routes[] = {
    {"", DL_GET, R_PAGE},
    {"/embed", DL_GET, R_EMBED},
    {"/assets/*", DL_GET, R_ASSET},
};

const dialect_t dialect_playground = {
    .name = "playground",
    .base = "/",
    .routes = routes,
    .nroutes = sizeof(routes) / sizeof(routes[0]),
    .configure = configure,
    .http = http,
    .stop = stop,
};
