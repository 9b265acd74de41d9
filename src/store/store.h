/* The submission store: submissions (a request, its state, its result) kept by token, so that
 * a client submits now and reads later, and the work survives a restart of runcell.
 *
 * This is an interface with back-ends behind it (store.c dispatches): SQLite (store_sqlite.c,
 * WAL mode, one file in the state directory: one node) and PostgreSQL (store_pg.c, libpq: a
 * database several nodes share, each claiming queued work with store_claim). No SQL outside
 * the back-ends. Dialect code sees submissions, never tables.
 *
 * A submission's life: inserted SUB_QUEUED; a node that starts its run takes a lease (owner,
 * expiry; attempts + 1) and it is SUB_RUNNING; finished it is SUB_DONE with the dialect's
 * result document. A node that dies leaves its leases behind: at its next start (or, for
 * another node, once the lease expires) store_recover() puts such submissions back in the
 * queue, at most max_attempts runs in all; past that they are SUB_DONE with an error and no
 * result (the dialect reports it as its internal error).
 *
 * Times are wall-clock milliseconds since the epoch. Calls are not thread-safe on one
 * store_t; a thread opens its own (the callback deliverer does). */
#ifndef RUNCELL_STORE_STORE_H
#define RUNCELL_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

typedef struct store store_t;

typedef enum sub_state {
        SUB_QUEUED = 1,
        SUB_RUNNING = 2,
        SUB_DONE = 3,
} sub_state_t;

typedef enum cb_state {
        CB_NONE = 0,      /* no callback_url */
        CB_PENDING = 1,   /* done, not yet delivered; next try at callback_next_ms */
        CB_DELIVERED = 2, /* the receiver answered 2xx */
        CB_FAILED = 3,    /* given up after the configured tries */
} cb_state_t;

#define STORE_TOKEN_MAX   40 /* a UUID and its NUL */
#define STORE_DIALECT_MAX 32
#define STORE_OWNER_MAX   64

typedef struct submission {
        char token[STORE_TOKEN_MAX];
        char dialect[STORE_DIALECT_MAX]; /* whose it is: the codec that runs and answers it */
        sub_state_t state;
        int attempts;                                /* runs started (leases taken) */
        int64_t created_ms, started_ms, finished_ms; /* 0: not yet */
        char *request;      /* the dialect's own request document (JSON text); never NULL */
        char *result;       /* the dialect's answer once done (JSON text); NULL before, or
                               when error says why there is none */
        char *error;        /* done without a result: why ("interrupted 2 times"); else NULL */
        char *callback_url; /* NULL: none */
        cb_state_t callback_state;
        int callback_attempts;
        int64_t callback_next_ms;
        char lease_owner[STORE_OWNER_MAX]; /* "" when not leased */
        int64_t lease_expiry_ms;
} submission_t;

/* Free what a submission read from the store holds (not s itself). */
void submission_free(submission_t *s);

typedef struct store_opts {
        int64_t max_age_s; /* done submissions older than this are deleted; 0: kept */
        int64_t max_count; /* at most this many submissions: the oldest done ones go; 0: any */
        int64_t max_bytes; /* the database may not grow past this: inserts are refused
                              (-ENOSPC) once it is reached; 0: no cap */
        int max_attempts;  /* runs of one submission before it is given up (default 2) */
        int64_t lease_ms;  /* how long a lease lasts unless renewed (default 60000) */
} store_opts_t;

/* The SQLite back-end: path is the database file (made with 0600, its directory must exist).
 * The schema is brought up to date (migrations, each in a transaction) before this returns.
 * 0, or -errno with err: -EINVAL for a file that is not an SQLite database (or is corrupt) or
 * a database that is not a runcell store, -EPROTO for a schema newer than this build knows. */
int store_open_sqlite(const char *path, const store_opts_t *o, store_t **out, rc_err_t *err);
/* The PostgreSQL back-end: conninfo is libpq's (a postgresql:// URL or "host=... dbname=...").
 * The schema is brought up to date as for SQLite (the same versions), migrations serialized
 * across nodes by an advisory lock. -ECONNREFUSED when no connection could be made, -EINVAL
 * for a database with tables that is not a runcell store, -EPROTO for a newer schema. */
int store_open_pg(const char *conninfo, const store_opts_t *o, store_t **out, rc_err_t *err);
/* Either back-end by where it is: a postgresql:// (or postgres://) URL is PostgreSQL, anything
 * else an SQLite file's path. */
int store_open(const char *where, const store_opts_t *o, store_t **out, rc_err_t *err);
bool store_is_pg_url(const char *where);
void store_close(store_t *st);

/* Whether several nodes share this store (PostgreSQL): work queued by one may be claimed by
 * another (store_claim), and a node's id must be its own (store_node_register). */
bool store_shared(const store_t *st);
/* The back-end's name: "sqlite" or "postgres". */
const char *store_backend(const store_t *st);
/* Hold node as this node's id for as long as the store is open: 1 held, 0 another open store
 * (a live node) holds it. SQLite: always 1 (one server per file, the server's flock). */
int store_node_register(store_t *st, const char *node, rc_err_t *err);

/* The schema version the database holds now, and the newest this build knows. */
int store_schema_version(store_t *st);
int store_schema_latest(void);

/* Insert submissions (state SUB_QUEUED, attempts 0, created_ms as given or now when 0; token,
 * dialect, request, callback_url taken, the other fields ignored), all or none (one
 * transaction). One with a lease_owner is leased to it until lease_expiry_ms in the same
 * transaction (as store_lease: SUB_RUNNING, attempts 1), so no other node sharing the store can
 * claim it in between (a client waiting on this node for its run). To stay within max_count and
 * max_bytes the oldest done submissions are deleted first (as store_prune would, pending callbacks
 * kept). -EEXIST for a token already there, -ENOSPC over max_bytes or max_count with nothing done
 * left to prune, -EINVAL for an empty or too long token or dialect or a NULL request. */
int store_insert(store_t *st, const submission_t *subs, size_t n, rc_err_t *err);

/* 1 and *out filled (submission_free it), 0 when there is no such token, -errno. */
int store_get(store_t *st, const char *token, submission_t *out, rc_err_t *err);

/* Take a queued submission's lease for owner until expiry_ms: SUB_RUNNING, attempts + 1,
 * started_ms now. 1 taken (*attempts the new count), 0 when it is not queued (gone, running
 * elsewhere, done). */
int store_lease(store_t *st, const char *token, const char *owner, int64_t expiry_ms, int *attempts,
                rc_err_t *err);
/* Take the oldest queued submission of dialect, or a running one whose lease expired with
 * runs left (attempts < max_attempts), for owner until expiry_ms: as store_lease, in one
 * statement, so two nodes claiming at once take different ones (PostgreSQL: SELECT ... FOR
 * UPDATE SKIP LOCKED). 1 and *out filled (submission_free it; attempts already counted),
 * 0 nothing to claim. */
int store_claim(store_t *st, const char *dialect, const char *owner, int64_t expiry_ms,
                submission_t *out, rc_err_t *err);
/* Extend every lease owner holds to expiry_ms (a heartbeat). The count renewed or -errno. */
int store_renew(store_t *st, const char *owner, int64_t expiry_ms, rc_err_t *err);
/* A running submission goes back to the queue without counting the run (a node stopping on
 * purpose before its run was over). 1 done, 0 not running. */
int store_release(store_t *st, const char *token, rc_err_t *err);

/* Done: result (JSON text, not NULL) stored, lease cleared, finished_ms now; a callback_url
 * makes the callback CB_PENDING, due now. With owner, only while owner holds its lease (a node
 * whose lease expired and was taken by another does not write its result too); without
 * (NULL), only while it is not done. So a result is written once. 1 done, 0 not (no such
 * submission, done already, or leased by another). */
int store_finish(store_t *st, const char *token, const char *owner, const char *result,
                 rc_err_t *err);

/* At start (owner: this node) and from time to time: submissions running under owner, or
 * under anyone with an expired lease (lease_expiry_ms <= now), go back to the queue while
 * attempts < max_attempts, else are done with error "interrupted N times" (N: attempts) and
 * their callback, if any, CB_PENDING (the deliverer sends {"token", "error"} for a submission
 * with no result). The number moved, or -errno. */
int store_recover(store_t *st, const char *owner, rc_err_t *err);

typedef int (*store_each_fn)(const submission_t *s, void *ud); /* nonzero stops the walk */

/* Every submission of dialect (NULL: any) in state (0: any), oldest first (by created_ms, then
 * insertion). Read in batches: fn is called with no statement open, so it may call this store
 * back (lease, finish, delete). The number given to fn (the one that stopped it included), or
 * -errno. */
int store_each(store_t *st, const char *dialect, sub_state_t state, store_each_fn fn, void *ud,
               rc_err_t *err);

/* A page of dialect's (NULL: any) submissions, newest first: offset, at most limit; *total all
 * of them (total may be NULL). The page and the total are read in one snapshot. The number
 * given to fn, or -errno. */
int store_page(store_t *st, const char *dialect, int64_t offset, int64_t limit, store_each_fn fn,
               void *ud, int64_t *total, rc_err_t *err);

/* 1 deleted, 0 no such token. */
int store_delete(store_t *st, const char *token, rc_err_t *err);

/* Retention: done submissions that finished more than max_age_s ago, then the oldest done ones
 * (by finished_ms) past max_count. A submission whose callback is still CB_PENDING is kept. The
 * number deleted, or -errno. */
int store_prune(store_t *st, rc_err_t *err);

#define STORE_PG_CALLBACK_CLAIM_MS (10 * 60 * 1000)
/* Callbacks due (CB_PENDING with callback_next_ms <= now), oldest first, at most limit. The
 * number given to fn (called with no statement open), or -errno. PostgreSQL (several nodes,
 * each with a deliverer): the ones returned are claimed, their callback_next_ms moved to
 * now + STORE_PG_CALLBACK_CLAIM_MS, so no other deliverer sends them meanwhile (each comes
 * back with its due time); the try's store_callback_tried sets what follows. */
int store_callbacks_due(store_t *st, int64_t now_ms, int limit, store_each_fn fn, void *ud,
                        rc_err_t *err);
/* After one try: delivered, or not (then next_ms is the next try, or 0 to give up: CB_FAILED);
 * callback_attempts + 1. 1 done, 0 no such submission or its callback is not pending. */
int store_callback_tried(store_t *st, const char *token, bool delivered, int64_t next_ms,
                         rc_err_t *err);

/* The earliest callback_next_ms of the pending callbacks: 0 when there is none, -errno. */
int64_t store_callback_next_ms(store_t *st, rc_err_t *err);

/* The database's size in bytes now (its pages, page_count * page_size; the WAL not counted).
 * The max_bytes cap counts the pages in use (free pages left by deletions are used again). */
int64_t store_size(store_t *st);

/* For tests: the store's "now" (created_ms, started_ms, finished_ms, lease expiry, retention)
 * is now_ms from here on; 0: the wall clock again. */
void store_set_clock(store_t *st, int64_t now_ms);

/* Wall-clock milliseconds now. */
int64_t store_now_ms(void);

/* ---- functions: code deployed once, invoked many times (docs/protocol.md, "Functions") ----
 *
 * A function has versions 1, 2, ... (a deploy adds one and makes it current; a rollback makes an
 * earlier one current); each version names its artifact (the sha256 of the deployed files, kept
 * by the server) and a spec (JSON text: what the server needs to run it). */
#define STORE_FN_NAME_MAX 64

typedef struct fn_version {
        char name[STORE_FN_NAME_MAX];
        int version;
        int64_t created_ms;
        char artifact[65]; /* sha256 hex */
        char *spec;        /* never NULL when read */
} fn_version_t;

typedef struct fn_record {
        char name[STORE_FN_NAME_MAX];
        int current, latest; /* versions */
        int64_t created_ms, updated_ms;
        fn_version_t cur; /* the current version, read with it */
} fn_record_t;

void fn_version_free(fn_version_t *v); /* its spec */
void fn_record_free(fn_record_t *r);

/* A new version (latest + 1) of name, made current; versions beyond the keep newest are
 * deleted (never the current one). 1: the function is new, 0: a new version of one there;
 * *version the new number. -EINVAL for a bad name (a-z, 0-9, '_', '-', 1 to 63, not starting
 * with '_' or '-'), artifact or spec. One transaction. */
int store_fn_put(store_t *st, const char *name, const char *artifact, const char *spec, int keep,
                 int *version, rc_err_t *err);
/* 1 and *out (fn_record_free it), 0 no such function. */
int store_fn_get(store_t *st, const char *name, fn_record_t *out, rc_err_t *err);
/* One version (0: the current one): 1 and *out (fn_version_free it), 0 none. */
int store_fn_version(store_t *st, const char *name, int version, fn_version_t *out, rc_err_t *err);
typedef int (*store_fn_each_fn)(const fn_record_t *r, void *ud); /* nonzero stops */
typedef int (*store_fnv_each_fn)(const fn_version_t *v, void *ud);
/* Every function, by name (fn called with no statement open). The count given, or -errno. */
int store_fn_list(store_t *st, store_fn_each_fn fn, void *ud, rc_err_t *err);
/* name's versions, newest first. The count given, or -errno. */
int store_fn_versions(store_t *st, const char *name, store_fnv_each_fn fn, void *ud, rc_err_t *err);
/* Make version current: 1 done, 0 no such function or version. */
int store_fn_set_current(store_t *st, const char *name, int version, rc_err_t *err);
/* 1 deleted (with its versions), 0 no such function. */
int store_fn_delete(store_t *st, const char *name, rc_err_t *err);
/* How many versions (of any function) name artifact: >= 0, or -errno. */
int store_fn_artifact_refs(store_t *st, const char *artifact, rc_err_t *err);

/* ---- artifacts as blobs, in a shared store only (store_shared): what one node deploys, every
 * node can fetch ----
 *
 * A blob is named by its sha256 (hex: the artifact's name) and holds what the caller makes of an
 * artifact (the server: its canonical stream, docs/protocol.md, "Functions"); the store keeps it
 * in chunks of STORE_BLOB_CHUNK bytes and checks nothing of its content. A store no other node
 * shares keeps no blobs: these answer -ENOTSUP there. */
#define STORE_BLOB_CHUNK (1 << 20)
/* The len bytes of fd (read with pread from offset 0) as blob sha: 1 stored, 0 it was there
 * already (its age is reset: see store_blob_prune). One transaction: a blob is there whole or
 * not at all. */
int store_blob_put(store_t *st, const char *sha, int fd, int64_t len, rc_err_t *err);
/* Blob sha written to fd at its current offset: 1 and *len (may be NULL), 0 no such blob. */
int store_blob_get(store_t *st, const char *sha, int fd, int64_t *len, rc_err_t *err);
/* Blobs that no function version names and that were put more than age_ms ago (a deploy on
 * another node puts its blob before it records the version) go: how many, or -errno. */
int store_blob_prune(store_t *st, int64_t age_ms, rc_err_t *err);

#endif
