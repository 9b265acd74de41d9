/* Who may use the server: allowed origins (a browser's Origin header) and bearer tokens
 * (Authorization: Bearer, X-Auth-Token as Judge0's clients send it, X-API-KEY as Jobe's
 * clients (CodeRunner) do, or ?token= on a WebSocket), and public mode: a request with no
 * token at all is let in on the public routes as anonymous. Per-token and per-client run
 * limits are applied at admission (runs.c). A connection let in before a reload is checked
 * again under the new options at its next run (access_refresh). */
#include <string.h>

#include "server/server-internal.h"
#include "util/ratelimit.h"

static bool public_route(const server_opts_t *o, const char *path)
{
        for (size_t i = 0; i < o->public_routes.n; i++)
                if (rl_route_match(o->public_routes.v[i], path))
                        return true;
        return false;
}

bool origin_allowed(const server_opts_t *o, const char *origin)
{
        for (size_t i = 0; i < o->origins.n; i++)
                if (strcmp(origin, o->origins.v[i]) == 0)
                        return true;
        return false;
}

/* Origin and token checks; 0 when the request may go on, else the HTTP status to refuse with
 * and *code set. */
int check_access(server_t *srv, struct lws *wsi, bool ws, const char *path, const char **code,
                 int *token_idx, bool *anon)
{
        *token_idx = -1;
        *anon = false;
        const server_opts_t *o = srv->opts;
        char buf[512];
        if (o->origins.n && lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_ORIGIN) > 0 &&
            !origin_allowed(o, buf)) {
                /* Cross-site WebSocket hijacking: a browser sends the page's origin. */
                *code = "forbidden_origin";
                return 403;
        }
        if (o->tokens.n) {
                const char *token = NULL;
                if (lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_HTTP_AUTHORIZATION) > 0 &&
                    strncmp(buf, "Bearer ", 7) == 0)
                        token = buf + 7;
                else if (lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_X_AUTH_TOKEN) > 0)
                        token = buf; /* Judge0's header (lws knows it by name) */
                else if (lws_hdr_custom_copy(wsi, buf, sizeof(buf), "x-api-key:", 10) > 0)
                        token = buf; /* Jobe's, as CodeRunner sends its API key */
                else if (ws)
                        /* browsers cannot set headers on a WebSocket: ?token= (the call returns
                         * the value inside buf, which holds "token=VALUE") */
                        token = lws_get_urlarg_by_name(wsi, "token=", buf, sizeof(buf));
                if (!token && o->public_on && public_route(o, path)) {
                        /* no token at all (a wrong one is refused below): anonymous */
                        *anon = true;
                        return 0;
                }
                bool ok = false;
                for (size_t i = 0; token && i < o->tokens.n; i++)
                        if (strcmp(token, o->tokens.v[i]) == 0) {
                                ok = true;
                                *token_idx = (int)i;
                        }
                if (!ok) {
                        *code = "unauthorized";
                        return 401;
                }
                return 0;
        }
        *anon = o->public_on; /* no tokens: everyone is anonymous in public mode */
        return 0;
}

int access_refresh(server_t *srv, server_cfg_t **cfg, int *token, bool *anon)
{
        server_cfg_t *then = *cfg;
        if (then == srv->cfg)
                return 0;
        const server_opts_t *o = srv->opts;
        int now = -1;
        if (!o->tokens.n) {
                *anon = o->public_on; /* no tokens now: everyone is let in */
        } else if (then && *token >= 0 && (size_t)*token < then->o->tokens.n) {
                /* the same token, wherever it stands in the new list */
                const char *tok = then->o->tokens.v[*token];
                for (size_t i = 0; i < o->tokens.n && now < 0; i++)
                        if (strcmp(o->tokens.v[i], tok) == 0)
                                now = (int)i;
                if (now < 0)
                        return -1; /* withdrawn */
                *anon = false;
        } else if (!o->public_on || !*anon) {
                return -1; /* let in without a token, which is now needed */
        }
        *token = now;
        *cfg = cfg_hold(srv->cfg);
        cfg_release(then);
        return 0;
}

/* A token given "functions" in the config may invoke those and do nothing else. */
bool token_scoped(const server_opts_t *o, int token)
{
        return token >= 0 && o->token_functions && o->token_functions[token].n > 0;
}

bool dl_token_may_invoke(int token, const char *name)
{
        const server_opts_t *o = the_server->opts;
        if (!token_scoped(o, token))
                return true;
        for (size_t i = 0; i < o->token_functions[token].n; i++)
                if (strcmp(o->token_functions[token].v[i], name) == 0)
                        return true;
        return false;
}
