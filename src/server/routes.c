/* The dialects' routes: each dialect's paths under its base, made at start for the dialects
 * enabled then, found by path and method among those still enabled (a reload may turn one
 * off); a POST path several dialects share goes to the one that claims the body. */
#include <stdio.h>
#include <string.h>

#include "server/server-internal.h"

static void route_path(char *out, size_t size, const char *base, const char *sub)
{
        size_t bl = strlen(base);
        if (bl && base[bl - 1] == '/' && *sub == '/')
                bl--;
        snprintf(out, size, "%.*s%s", (int)bl, base, sub);
        if (!*out)
                snprintf(out, size, "/");
}

void build_routes(server_t *srv)
{
        for (size_t i = 0; i < dialect_count && i < DIALECTS_MAX; i++) {
                const dialect_t *d = dialect_table[i];
                const dialect_limits_t *dl = &srv->opts->dialects[i];
                if (dl->disabled)
                        continue;
                for (size_t k = 0; k < d->nroutes && srv->nroutes < NROUTES_MAX; k++) {
                        route_t *rt = &srv->routes[srv->nroutes++];
                        rt->d = d;
                        rt->di = (int)i;
                        route_path(rt->path, sizeof(rt->path), dl->base ? dl->base : d->base,
                                   d->routes[k].sub);
                        rt->methods = d->routes[k].methods;
                        rt->tag = d->routes[k].tag;
                }
        }
}

/* The first route for path that takes method (HEAD goes where GET does); *any: the path is
 * known at all. */
bool route_wild(const route_t *rt)
{
        size_t n = strlen(rt->path);
        return (n >= 2 && strcmp(rt->path + n - 2, "/*") == 0) || route_rest(rt);
}

/* A path ending in a slash and two asterisks: whatever follows the slash. */
bool route_rest(const route_t *rt)
{
        size_t n = strlen(rt->path);
        return n >= 3 && strcmp(rt->path + n - 3, "/**") == 0;
}

/* Where the part a wildcard route matched starts in path. */
size_t route_arg_offset(const route_t *rt)
{
        return strlen(rt->path) - (route_rest(rt) ? 2 : 1);
}

/* A wildcard route's path matches path: the same up to the '*', then one segment, not empty, with
 * no '/' in it. */
static bool wild_match(const route_t *rt, const char *path)
{
        size_t n = route_arg_offset(rt); /* up to and with the '/' */
        if (strncmp(rt->path, path, n) != 0)
                return false;
        const char *seg = path + n;
        return *seg && (route_rest(rt) || !strchr(seg, '/'));
}

static const route_t *find_in(server_t *srv, const char *path, unsigned method, bool wild,
                              bool *any)
{
        for (int i = 0; i < srv->nroutes; i++) {
                const route_t *rt = &srv->routes[i];
                if (srv->opts->dialects[rt->di].disabled) /* turned off by a reload */
                        continue;
                if (wild ? !route_wild(rt) || !wild_match(rt, path) : strcmp(rt->path, path) != 0)
                        continue;
                *any = true;
                unsigned m = rt->methods;
                if (m & DL_GET)
                        m |= DL_HEAD;
                if (m & method)
                        return rt;
        }
        return NULL;
}

/* Exact paths first: /submissions/batch wins over the wildcard beside it. */
const route_t *find_route(server_t *srv, const char *path, unsigned method, bool *any)
{
        *any = false;
        bool exact = false;
        const route_t *rt = find_in(srv, path, method, false, &exact);
        if (rt || exact) {
                *any = exact;
                return rt;
        }
        return find_in(srv, path, method, true, any);
}

/* A POST path several dialects share: the body decides. */
const route_t *claim_route(server_t *srv, const route_t *first, const char *body, size_t len)
{
        cJSON *doc = cJSON_ParseWithLength(body ? body : "", len);
        const route_t *pick = NULL;
        for (int i = 0; i < srv->nroutes && !pick; i++) {
                const route_t *rt = &srv->routes[i];
                if (!srv->opts->dialects[rt->di].disabled && strcmp(rt->path, first->path) == 0 &&
                    (rt->methods & DL_POST) && rt->d->claims && rt->d->claims(doc))
                        pick = rt;
        }
        cJSON_Delete(doc);
        return pick ? pick : first;
}
