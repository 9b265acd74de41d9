/* The submission store's front: argument checks, the clock, then the back-end's operation
 * (store_impl.h). No SQL here. */
#include "store/store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store_impl.h"

void store_sub_clear(submission_t *s)
{
        if (!s)
                return;
        free(s->request);
        free(s->result);
        free(s->error);
        free(s->callback_url);
        memset(s, 0, sizeof(*s));
}

void submission_free(submission_t *s)
{
        store_sub_clear(s);
}

int64_t store_now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t store_clock(const store_t *st)
{
        return st->clock_ms ? st->clock_ms : store_now_ms();
}

void store_set_clock(store_t *st, int64_t now_ms)
{
        st->clock_ms = now_ms > 0 ? now_ms : 0;
}

store_opts_t store_opts_defaults(const store_opts_t *o)
{
        store_opts_t r = {0};
        if (o)
                r = *o;
        if (r.max_age_s < 0)
                r.max_age_s = 0;
        if (r.max_count < 0)
                r.max_count = 0;
        if (r.max_bytes < 0)
                r.max_bytes = 0;
        if (r.max_attempts <= 0)
                r.max_attempts = 2;
        if (r.lease_ms <= 0)
                r.lease_ms = 60000;
        return r;
}

void store_close(store_t *st)
{
        if (st)
                st->ops->close(st);
}

bool store_is_pg_url(const char *where)
{
        return where &&
               (strncmp(where, "postgresql://", 13) == 0 || strncmp(where, "postgres://", 11) == 0);
}

int store_open(const char *where, const store_opts_t *o, store_t **out, rc_err_t *err)
{
        if (store_is_pg_url(where))
                return store_open_pg(where, o, out, err);
        return store_open_sqlite(where, o, out, err);
}

bool store_shared(const store_t *st)
{
        return st && st->ops->shared;
}

const char *store_backend(const store_t *st)
{
        return st ? st->ops->name : "";
}

int store_node_register(store_t *st, const char *node, rc_err_t *err)
{
        if (!node || !*node || strlen(node) >= STORE_OWNER_MAX)
                return rc_err_set(err, EINVAL, "store: node id empty or too long");
        return st->ops->node_register ? st->ops->node_register(st, node, err) : 1;
}

int store_schema_version(store_t *st)
{
        return st->ops->schema_version(st);
}

int store_schema_latest(void)
{
        /* Versions name the same logical schema in every back-end. */
        return store_sqlite_latest();
}

static int check_token(const char *token, rc_err_t *err)
{
        if (!token || !*token)
                return rc_err_set(err, EINVAL, "store: empty token");
        if (strlen(token) >= STORE_TOKEN_MAX)
                return rc_err_set(err, EINVAL, "store: token longer than %d bytes",
                                  STORE_TOKEN_MAX - 1);
        return 0;
}

int store_insert(store_t *st, const submission_t *subs, size_t n, rc_err_t *err)
{
        for (size_t i = 0; i < n; i++) {
                int r = check_token(subs[i].token, err);
                if (r < 0)
                        return r;
                size_t dl = strnlen(subs[i].dialect, STORE_DIALECT_MAX);
                if (dl == 0 || dl >= STORE_DIALECT_MAX)
                        return rc_err_set(err, EINVAL, "store: submission %s: %s dialect",
                                          subs[i].token, dl ? "too long a" : "no");
                if (!subs[i].request)
                        return rc_err_set(err, EINVAL, "store: submission %s has no request",
                                          subs[i].token);
                if (strnlen(subs[i].lease_owner, STORE_OWNER_MAX) >= STORE_OWNER_MAX)
                        return rc_err_set(err, EINVAL, "store: lease owner too long");
        }
        if (n == 0)
                return 0;
        return st->ops->insert(st, subs, n, store_clock(st), err);
}

int store_get(store_t *st, const char *token, submission_t *out, rc_err_t *err)
{
        memset(out, 0, sizeof(*out));
        int r = check_token(token, err);
        if (r < 0)
                return r;
        return st->ops->get(st, token, out, err);
}

int store_lease(store_t *st, const char *token, const char *owner, int64_t expiry_ms, int *attempts,
                rc_err_t *err)
{
        int r = check_token(token, err);
        if (r < 0)
                return r;
        if (!owner || !*owner || strlen(owner) >= STORE_OWNER_MAX)
                return rc_err_set(err, EINVAL, "store: lease owner empty or too long");
        int a = 0;
        r = st->ops->lease(st, token, owner, expiry_ms, store_clock(st), &a, err);
        if (r > 0 && attempts)
                *attempts = a;
        return r;
}

int store_claim(store_t *st, const char *dialect, const char *owner, int64_t expiry_ms,
                submission_t *out, rc_err_t *err)
{
        memset(out, 0, sizeof(*out));
        if (!dialect || !*dialect)
                return rc_err_set(err, EINVAL, "store: claim: no dialect");
        if (!owner || !*owner || strlen(owner) >= STORE_OWNER_MAX)
                return rc_err_set(err, EINVAL, "store: lease owner empty or too long");
        return st->ops->claim(st, dialect, owner, expiry_ms, store_clock(st), out, err);
}

int store_renew(store_t *st, const char *owner, int64_t expiry_ms, rc_err_t *err)
{
        if (!owner || !*owner)
                return rc_err_set(err, EINVAL, "store: empty lease owner");
        return st->ops->renew(st, owner, expiry_ms, err);
}

int store_release(store_t *st, const char *token, rc_err_t *err)
{
        int r = check_token(token, err);
        return r < 0 ? r : st->ops->release(st, token, err);
}

int store_finish(store_t *st, const char *token, const char *owner, const char *result,
                 rc_err_t *err)
{
        int r = check_token(token, err);
        if (r < 0)
                return r;
        if (!result)
                return rc_err_set(err, EINVAL, "store: submission %s finished with no result",
                                  token);
        if (owner && (!*owner || strlen(owner) >= STORE_OWNER_MAX))
                return rc_err_set(err, EINVAL, "store: lease owner empty or too long");
        return st->ops->finish(st, token, owner, result, store_clock(st), err);
}

int store_recover(store_t *st, const char *owner, rc_err_t *err)
{
        if (!owner)
                owner = "";
        return st->ops->recover(st, owner, store_clock(st), err);
}

int store_each(store_t *st, const char *dialect, sub_state_t state, store_each_fn fn, void *ud,
               rc_err_t *err)
{
        return st->ops->each(st, dialect, state, fn, ud, err);
}

int store_page(store_t *st, const char *dialect, int64_t offset, int64_t limit, store_each_fn fn,
               void *ud, int64_t *total, rc_err_t *err)
{
        int64_t t = 0;
        if (offset < 0 || limit < 0)
                return rc_err_set(err, EINVAL, "store: negative page offset or limit");
        int r = st->ops->page(st, dialect, offset, limit, fn, ud, &t, err);
        if (r >= 0 && total)
                *total = t;
        return r;
}

int store_delete(store_t *st, const char *token, rc_err_t *err)
{
        int r = check_token(token, err);
        return r < 0 ? r : st->ops->del(st, token, err);
}

int store_prune(store_t *st, rc_err_t *err)
{
        return st->ops->prune(st, store_clock(st), err);
}

int store_callbacks_due(store_t *st, int64_t now_ms, int limit, store_each_fn fn, void *ud,
                        rc_err_t *err)
{
        if (limit <= 0)
                return 0;
        return st->ops->callbacks_due(st, now_ms, limit, fn, ud, err);
}

int store_callback_tried(store_t *st, const char *token, bool delivered, int64_t next_ms,
                         rc_err_t *err)
{
        int r = check_token(token, err);
        return r < 0 ? r : st->ops->callback_tried(st, token, delivered, next_ms, err);
}

int64_t store_callback_next_ms(store_t *st, rc_err_t *err)
{
        return st->ops->callback_next(st, err);
}

int64_t store_size(store_t *st)
{
        return st->ops->size(st);
}

/* ---- functions ---- */

void fn_version_free(fn_version_t *v)
{
        if (!v)
                return;
        free(v->spec);
        v->spec = NULL;
}

void fn_record_free(fn_record_t *r)
{
        if (r)
                fn_version_free(&r->cur);
}

static int check_fn_name(const char *name, rc_err_t *err)
{
        size_t n = name ? strlen(name) : 0;
        bool ok = n >= 1 && n < STORE_FN_NAME_MAX && name[0] != '_' && name[0] != '-';
        for (size_t i = 0; ok && i < n; i++)
                ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
                     name[i] == '_' || name[i] == '-';
        return ok ? 0
                  : rc_err_set(err, EINVAL,
                               "a function's name is 1 to %d of a-z, 0-9, '_' and '-', not "
                               "starting with '_' or '-'",
                               STORE_FN_NAME_MAX - 1);
}

/* An artifact is named by its sha256: 64 lowercase hex digits (it is a file name too). */
static bool fn_artifact_ok(const char *a)
{
        bool ok = a && strlen(a) == 64;
        for (size_t i = 0; ok && i < 64; i++)
                ok = (a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f');
        return ok;
}

int store_fn_put(store_t *st, const char *name, const char *artifact, const char *spec, int keep,
                 int *version, rc_err_t *err)
{
        int r = check_fn_name(name, err);
        if (r < 0)
                return r;
        if (!fn_artifact_ok(artifact))
                return rc_err_set(err, EINVAL,
                                  "a function's artifact is a sha256: 64 lowercase hex digits");
        if (!spec || !*spec)
                return rc_err_set(err, EINVAL, "a function's version needs a spec");
        return st->ops->fn_put(st, name, artifact, spec, keep < 1 ? 1 : keep, store_clock(st),
                               version, err);
}

int store_fn_get(store_t *st, const char *name, fn_record_t *out, rc_err_t *err)
{
        int r = check_fn_name(name, err);
        return r < 0 ? r : st->ops->fn_get(st, name, out, err);
}

int store_fn_version(store_t *st, const char *name, int version, fn_version_t *out, rc_err_t *err)
{
        int r = check_fn_name(name, err);
        if (r == 0 && version < 0)
                r = rc_err_set(err, EINVAL, "a version is 0 (the current one) or more");
        return r < 0 ? r : st->ops->fn_version(st, name, version, out, err);
}

int store_fn_list(store_t *st, store_fn_each_fn fn, void *ud, rc_err_t *err)
{
        return st->ops->fn_list(st, fn, ud, err);
}

int store_fn_versions(store_t *st, const char *name, store_fnv_each_fn fn, void *ud, rc_err_t *err)
{
        int r = check_fn_name(name, err);
        return r < 0 ? r : st->ops->fn_versions(st, name, fn, ud, err);
}

int store_fn_set_current(store_t *st, const char *name, int version, rc_err_t *err)
{
        int r = check_fn_name(name, err);
        return r < 0 ? r : st->ops->fn_set_current(st, name, version, store_clock(st), err);
}

int store_fn_delete(store_t *st, const char *name, rc_err_t *err)
{
        int r = check_fn_name(name, err);
        return r < 0 ? r : st->ops->fn_delete(st, name, err);
}

int store_fn_artifact_refs(store_t *st, const char *artifact, rc_err_t *err)
{
        if (!artifact || !*artifact)
                return rc_err_set(err, EINVAL, "no artifact");
        return st->ops->fn_artifact_refs(st, artifact, err);
}

static int check_sha(const char *sha, rc_err_t *err)
{
        size_t n = 0;
        for (; sha && n < 65 &&
               ((sha[n] >= '0' && sha[n] <= '9') || (sha[n] >= 'a' && sha[n] <= 'f'));
             n++)
                ;
        if (!sha || n != 64 || sha[64])
                return rc_err_set(err, EINVAL, "a blob's name is a sha256 in lowercase hex");
        return 0;
}

static int no_blobs(const store_t *st, rc_err_t *err)
{
        return rc_err_set(err, ENOTSUP, "a %s store keeps no blobs (it is not shared)",
                          st->ops->name);
}

/* 0: sha is a blob's name and the back-end has the operation (has). */
static int blob_call(const store_t *st, const char *sha, bool has, rc_err_t *err)
{
        int r = check_sha(sha, err);
        return r < 0 ? r : has ? 0 : no_blobs(st, err);
}

int store_blob_put(store_t *st, const char *sha, int fd, int64_t len, rc_err_t *err)
{
        int r = blob_call(st, sha, st->ops->blob_put != NULL, err);
        if (r < 0)
                return r;
        if (fd < 0 || len < 0)
                return rc_err_set(err, EINVAL, "no blob to store");
        return st->ops->blob_put(st, sha, fd, len, store_clock(st), err);
}

int store_blob_get(store_t *st, const char *sha, int fd, int64_t *len, rc_err_t *err)
{
        int r = blob_call(st, sha, st->ops->blob_get != NULL, err);
        if (r < 0)
                return r;
        int64_t got = 0;
        r = st->ops->blob_get(st, sha, fd, &got, err);
        if (len)
                *len = got;
        return r;
}

int store_blob_prune(store_t *st, int64_t age_ms, rc_err_t *err)
{
        if (!st->ops->blob_prune)
                return no_blobs(st, err);
        return st->ops->blob_prune(st, store_clock(st) - (age_ms > 0 ? age_ms : 0), err);
}
