/* Inside the submission store: what a back-end implements (store.c dispatches to it). Not for
 * callers outside src/store/. Every operation has the meaning store.h gives the public call of
 * the same name; the arguments are checked by store.c before a back-end sees them. */
#ifndef RUNCELL_STORE_STORE_IMPL_H
#define RUNCELL_STORE_STORE_IMPL_H

#include "store/store.h"

typedef struct store_ops {
        const char *name; /* "sqlite", "postgres" */
        bool shared;      /* several nodes share it (store_shared) */
        void (*close)(store_t *st);
        int (*schema_version)(store_t *st);
        int (*insert)(store_t *st, const submission_t *subs, size_t n, int64_t now_ms,
                      rc_err_t *err);
        int (*get)(store_t *st, const char *token, submission_t *out, rc_err_t *err);
        int (*lease)(store_t *st, const char *token, const char *owner, int64_t expiry_ms,
                     int64_t now_ms, int *attempts, rc_err_t *err);
        int (*claim)(store_t *st, const char *dialect, const char *owner, int64_t expiry_ms,
                     int64_t now_ms, submission_t *out, rc_err_t *err);
        int (*renew)(store_t *st, const char *owner, int64_t expiry_ms, rc_err_t *err);
        int (*release)(store_t *st, const char *token, rc_err_t *err);
        int (*finish)(store_t *st, const char *token, const char *owner, const char *result,
                      int64_t now_ms, rc_err_t *err);
        int (*recover)(store_t *st, const char *owner, int64_t now_ms, rc_err_t *err);
        /* Oldest first; fn is called with no statement open (it may call the store back). */
        int (*each)(store_t *st, const char *dialect, sub_state_t state, store_each_fn fn, void *ud,
                    rc_err_t *err);
        int (*page)(store_t *st, const char *dialect, int64_t offset, int64_t limit,
                    store_each_fn fn, void *ud, int64_t *total, rc_err_t *err);
        int (*del)(store_t *st, const char *token, rc_err_t *err);
        int (*prune)(store_t *st, int64_t now_ms, rc_err_t *err);
        int (*callbacks_due)(store_t *st, int64_t now_ms, int limit, store_each_fn fn, void *ud,
                             rc_err_t *err);
        int (*callback_tried)(store_t *st, const char *token, bool delivered, int64_t next_ms,
                              rc_err_t *err);
        int64_t (*callback_next)(store_t *st, rc_err_t *err);
        int64_t (*size)(store_t *st);
        int (*node_register)(store_t *st, const char *node, rc_err_t *err); /* NULL: 1 */
        int (*fn_put)(store_t *st, const char *name, const char *artifact, const char *spec,
                      int keep, int64_t now_ms, int *version, rc_err_t *err);
        int (*fn_get)(store_t *st, const char *name, fn_record_t *out, rc_err_t *err);
        int (*fn_version)(store_t *st, const char *name, int version, fn_version_t *out,
                          rc_err_t *err);
        /* by name / newest first; fn called with no statement open */
        int (*fn_list)(store_t *st, store_fn_each_fn fn, void *ud, rc_err_t *err);
        int (*fn_versions)(store_t *st, const char *name, store_fnv_each_fn fn, void *ud,
                           rc_err_t *err);
        int (*fn_set_current)(store_t *st, const char *name, int version, int64_t now_ms,
                              rc_err_t *err);
        int (*fn_delete)(store_t *st, const char *name, rc_err_t *err);
        int (*fn_artifact_refs)(store_t *st, const char *artifact, rc_err_t *err);
        /* NULL in a back-end no other node shares (store.c answers -ENOTSUP) */
        int (*blob_put)(store_t *st, const char *sha, int fd, int64_t len, int64_t now_ms,
                        rc_err_t *err);
        int (*blob_get)(store_t *st, const char *sha, int fd, int64_t *len, rc_err_t *err);
        int (*blob_prune)(store_t *st, int64_t before_ms, rc_err_t *err);
} store_ops_t;

/* The head of every back-end's own struct (its first member). */
struct store {
        const store_ops_t *ops;
        store_opts_t opts; /* defaults filled in */
        int64_t clock_ms;  /* store_set_clock: a fixed "now"; 0: the wall clock */
};

/* The options with defaults filled in (max_attempts 2, lease_ms 60000; negatives as 0). */
store_opts_t store_opts_defaults(const store_opts_t *o);

/* Give up the strings a submission holds and zero it (submission_free). */
void store_sub_clear(submission_t *s);

/* The current time as the store sees it (clock_ms or the wall clock). */
int64_t store_clock(const store_t *st);

int store_sqlite_latest(void);
int store_pg_latest(void);

#endif
