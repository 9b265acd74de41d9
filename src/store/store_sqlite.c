/* The submission store's SQLite back-end: one database file in WAL mode (readers do not wait
 * for the writer; two processes or threads each with their own connection share it), every
 * statement prepared once at open. The only file with SQL in it (docs/STORE.md). */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"
#include "store/store_impl.h"

#define BUSY_TIMEOUT_MS 5000
#define EACH_BATCH      64  /* rows read per statement by store_each */
#define PATH_SHOWN      200 /* bytes of the path in messages */

/* ---- the schema ---- */

/* Applied in order, each in its own transaction with its row in schema_migrations. Never edit
 * a migration once shipped: add the next one. */
typedef struct migration {
        int version;
        const char *name;
        const char *sql;
} migration_t;

static const migration_t MIGRATIONS[] = {
    {1, "submissions",
     "CREATE TABLE submissions ("
     " token TEXT PRIMARY KEY NOT NULL,"
     " dialect TEXT NOT NULL,"
     " state INTEGER NOT NULL,"
     " attempts INTEGER NOT NULL DEFAULT 0,"
     " created_ms INTEGER NOT NULL,"
     " started_ms INTEGER NOT NULL DEFAULT 0,"
     " finished_ms INTEGER NOT NULL DEFAULT 0,"
     " request TEXT NOT NULL,"
     " result TEXT,"
     " error TEXT,"
     " lease_owner TEXT NOT NULL DEFAULT '',"
     " lease_expiry_ms INTEGER NOT NULL DEFAULT 0"
     ");"},
    {2, "callbacks",
     "ALTER TABLE submissions ADD COLUMN callback_url TEXT;"
     "ALTER TABLE submissions ADD COLUMN callback_state INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE submissions ADD COLUMN callback_attempts INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE submissions ADD COLUMN callback_next_ms INTEGER NOT NULL DEFAULT 0;"},
    {3, "indexes",
     "CREATE INDEX submissions_by_dialect ON submissions (dialect, created_ms);"
     "CREATE INDEX submissions_by_state ON submissions (state, finished_ms);"
     "CREATE INDEX submissions_callbacks_due ON submissions (callback_next_ms)"
     " WHERE callback_state = 1;"
     "CREATE INDEX submissions_leases ON submissions (lease_owner) WHERE state = 2;"},
    {4, "functions",
     "CREATE TABLE functions ("
     " name TEXT PRIMARY KEY NOT NULL,"
     " current INTEGER NOT NULL,"
     " latest INTEGER NOT NULL,"
     " created_ms INTEGER NOT NULL,"
     " updated_ms INTEGER NOT NULL"
     ");"
     "CREATE TABLE function_versions ("
     " name TEXT NOT NULL,"
     " version INTEGER NOT NULL,"
     " created_ms INTEGER NOT NULL,"
     " artifact TEXT NOT NULL,"
     " spec TEXT NOT NULL,"
     " PRIMARY KEY (name, version)"
     ");"
     "CREATE INDEX function_versions_by_artifact ON function_versions (artifact);"},
    /* artifacts as blobs are for a store nodes share (store_pg.c): here the tables are only
     * the schema's, unused */
    {5, "artifacts",
     "CREATE TABLE function_artifacts ("
     " sha TEXT PRIMARY KEY NOT NULL,"
     " bytes INTEGER NOT NULL,"
     " chunks INTEGER NOT NULL,"
     " created_ms INTEGER NOT NULL"
     ");"
     "CREATE TABLE function_artifact_chunks ("
     " sha TEXT NOT NULL REFERENCES function_artifacts (sha) ON DELETE CASCADE,"
     " idx INTEGER NOT NULL,"
     " data BLOB NOT NULL,"
     " PRIMARY KEY (sha, idx)"
     ");"},
};
#define NMIGRATIONS ((int)(sizeof(MIGRATIONS) / sizeof(MIGRATIONS[0])))

int store_sqlite_latest(void)
{
        return MIGRATIONS[NMIGRATIONS - 1].version;
}

/* ---- statements ---- */

#define COLS                                                                                       \
        "token, dialect, state, attempts, created_ms, started_ms, finished_ms, request, result, "  \
        "error, callback_url, callback_state, callback_attempts, callback_next_ms, lease_owner, "  \
        "lease_expiry_ms, rowid"
/* The oldest done submissions that retention may delete (pending callbacks kept), ?1 of them. */
#define OLDEST_DONE                                                                                \
        "DELETE FROM submissions WHERE rowid IN (SELECT rowid FROM submissions WHERE state = 3"    \
        " AND callback_state <> 1 ORDER BY finished_ms, rowid LIMIT ?1)"
/* A finished submission's callback: due now (?now) when it has a URL. */
#define CALLBACK_DUE(now)                                                                          \
        "callback_state = CASE WHEN callback_url IS NULL THEN 0 ELSE 1 END, callback_attempts = "  \
        "0,"                                                                                       \
        " callback_next_ms = CASE WHEN callback_url IS NULL THEN 0 ELSE " now " END"

enum {
        Q_BEGIN,
        Q_BEGIN_READ,
        Q_COMMIT,
        Q_ROLLBACK,
        Q_VERSION,
        Q_INSERT,
        Q_GET,
        Q_LEASE,
        Q_CLAIM,
        Q_RENEW,
        Q_RELEASE,
        Q_FINISH,
        Q_RECOVER_GIVEUP,
        Q_RECOVER_REQUEUE,
        Q_EACH,
        Q_PAGE,
        Q_COUNT,
        Q_COUNT_ALL,
        Q_DELETE,
        Q_PRUNE_AGE,
        Q_PRUNE_OLDEST,
        Q_DUE,
        Q_TRIED,
        Q_NEXT,
        Q_PAGES,
        Q_FN_GET,
        Q_FN_LIST,
        Q_FN_VERSION,
        Q_FN_VERSIONS,
        Q_FN_ADD,
        Q_FN_LATEST,
        Q_FN_VADD,
        Q_FN_SETNEW,
        Q_FN_PRUNE,
        Q_FN_SETCUR,
        Q_FN_DELV,
        Q_FN_DEL,
        Q_FN_REFS,
        NQ
};

/* A function with its current version. */
#define FN_COLS                                                                                    \
        "f.name, f.current, f.latest, f.created_ms, f.updated_ms, v.version, v.created_ms,"        \
        " v.artifact, v.spec FROM functions f JOIN function_versions v ON v.name = f.name AND"     \
        " v.version = f.current"
#define FNV_COLS "name, version, created_ms, artifact, spec FROM function_versions"

static const char *const SQL[NQ] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_BEGIN_READ] = "BEGIN DEFERRED",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_VERSION] = "SELECT coalesce(max(version), 0) FROM schema_migrations",
    [Q_INSERT] = "INSERT INTO submissions (token, dialect, state, attempts, created_ms, request,"
                 " callback_url) VALUES (?1, ?2, 1, 0, ?3, ?4, ?5)",
    [Q_GET] = "SELECT " COLS " FROM submissions WHERE token = ?1",
    [Q_LEASE] = "UPDATE submissions SET state = 2, attempts = attempts + 1, started_ms = ?4,"
                " lease_owner = ?2, lease_expiry_ms = ?3 WHERE token = ?1 AND state = 1"
                " RETURNING attempts",
    [Q_CLAIM] = "UPDATE submissions SET state = 2, attempts = attempts + 1, started_ms = ?3,"
                " lease_owner = ?2, lease_expiry_ms = ?4 WHERE rowid = (SELECT rowid FROM"
                " submissions WHERE dialect = ?1 AND (state = 1 OR (state = 2 AND"
                " lease_expiry_ms <= ?3 AND attempts < ?5)) ORDER BY created_ms, rowid LIMIT 1)"
                " RETURNING " COLS,
    [Q_RENEW] = "UPDATE submissions SET lease_expiry_ms = ?2 WHERE state = 2 AND lease_owner = ?1",
    [Q_RELEASE] = "UPDATE submissions SET state = 1, attempts = max(attempts - 1, 0),"
                  " started_ms = 0, lease_owner = '', lease_expiry_ms = 0"
                  " WHERE token = ?1 AND state = 2",
    [Q_FINISH] =
        "UPDATE submissions SET state = 3, result = ?2, error = NULL, finished_ms = ?3,"
        " lease_owner = '', lease_expiry_ms = 0, " CALLBACK_DUE(
            "?3") " WHERE token = ?1"
                  " AND CASE WHEN ?4 = '' THEN state <> 3 ELSE state = 2 AND lease_owner = ?4 END",
    [Q_RECOVER_GIVEUP] =
        "UPDATE submissions SET state = 3, result = NULL, finished_ms = ?2,"
        " error = 'interrupted ' || attempts || CASE attempts WHEN 1 THEN ' time' ELSE ' times' "
        "END,"
        " lease_owner = '', lease_expiry_ms = 0, " CALLBACK_DUE(
            "?2") " WHERE state = 2"
                  " AND (lease_owner = ?1 OR lease_expiry_ms <= ?2) AND attempts >= ?3",
    [Q_RECOVER_REQUEUE] = "UPDATE submissions SET state = 1, started_ms = 0, lease_owner = '',"
                          " lease_expiry_ms = 0 WHERE state = 2"
                          " AND (lease_owner = ?1 OR lease_expiry_ms <= ?2)",
    [Q_EACH] = "SELECT " COLS " FROM submissions WHERE (?1 IS NULL OR dialect = ?1)"
               " AND (?2 = 0 OR state = ?2) AND (created_ms, rowid) > (?3, ?4)"
               " ORDER BY created_ms, rowid LIMIT ?5",
    [Q_PAGE] = "SELECT " COLS " FROM submissions WHERE (?1 IS NULL OR dialect = ?1)"
               " ORDER BY created_ms DESC, rowid DESC LIMIT ?3 OFFSET ?2",
    [Q_COUNT] = "SELECT count(*) FROM submissions WHERE (?1 IS NULL OR dialect = ?1)",
    [Q_COUNT_ALL] = "SELECT count(*) FROM submissions",
    [Q_DELETE] = "DELETE FROM submissions WHERE token = ?1",
    [Q_PRUNE_AGE] = "DELETE FROM submissions WHERE state = 3 AND callback_state <> 1"
                    " AND finished_ms < ?1",
    [Q_PRUNE_OLDEST] = OLDEST_DONE,
    [Q_DUE] = "SELECT " COLS " FROM submissions WHERE callback_state = 1"
              " AND callback_next_ms <= ?1 ORDER BY callback_next_ms, rowid LIMIT ?2",
    [Q_TRIED] = "UPDATE submissions SET callback_attempts = callback_attempts + 1,"
                " callback_state = CASE WHEN ?2 THEN 2 WHEN ?3 > 0 THEN 1 ELSE 3 END,"
                " callback_next_ms = CASE WHEN ?2 THEN 0 WHEN ?3 > 0 THEN ?3 ELSE 0 END"
                " WHERE token = ?1 AND callback_state = 1",
    [Q_NEXT] = "SELECT min(callback_next_ms) FROM submissions WHERE callback_state = 1",
    [Q_PAGES] = "SELECT page_count, freelist_count, page_size"
                " FROM pragma_page_count(), pragma_freelist_count(), pragma_page_size()",
    [Q_FN_GET] = "SELECT " FN_COLS " WHERE f.name = ?1",
    [Q_FN_LIST] = "SELECT " FN_COLS " ORDER BY f.name",
    [Q_FN_VERSION] = "SELECT " FNV_COLS " WHERE name = ?1 AND version = CASE WHEN ?2 = 0 THEN"
                     " (SELECT current FROM functions WHERE name = ?1) ELSE ?2 END",
    [Q_FN_VERSIONS] = "SELECT " FNV_COLS " WHERE name = ?1 ORDER BY version DESC",
    [Q_FN_ADD] = "INSERT INTO functions (name, current, latest, created_ms, updated_ms)"
                 " VALUES (?1, 0, 0, ?2, ?2) ON CONFLICT (name) DO NOTHING",
    [Q_FN_LATEST] = "SELECT latest FROM functions WHERE name = ?1",
    [Q_FN_VADD] = "INSERT INTO function_versions (name, version, created_ms, artifact, spec)"
                  " VALUES (?1, ?2, ?3, ?4, ?5)",
    [Q_FN_SETNEW] = "UPDATE functions SET current = ?2, latest = ?2, updated_ms = ?3"
                    " WHERE name = ?1",
    [Q_FN_PRUNE] = "DELETE FROM function_versions WHERE name = ?1 AND version <>"
                   " (SELECT current FROM functions WHERE name = ?1) AND version NOT IN"
                   " (SELECT version FROM function_versions WHERE name = ?1"
                   " ORDER BY version DESC LIMIT ?2)",
    [Q_FN_SETCUR] = "UPDATE functions SET current = ?2, updated_ms = ?3 WHERE name = ?1 AND"
                    " EXISTS (SELECT 1 FROM function_versions WHERE name = ?1 AND version = ?2)",
    [Q_FN_DELV] = "DELETE FROM function_versions WHERE name = ?1",
    [Q_FN_DEL] = "DELETE FROM functions WHERE name = ?1",
    [Q_FN_REFS] = "SELECT count(*) FROM function_versions WHERE artifact = ?1",
};

typedef struct sq_store {
        store_t base; /* first: a store_t * is a sq_store_t * */
        sqlite3 *db;
        sqlite3_stmt *q[NQ];
        char path[PATH_SHOWN + 1];
} sq_store_t;

static sq_store_t *SQ(store_t *st)
{
        return (sq_store_t *)st;
}

/* An SQLite result code as -errno with err set: "store PATH: what: SQLite's message". */
static int sq_fail(sq_store_t *s, sqlite3 *db, int rc, rc_err_t *err, const char *what)
{
        int code;
        switch (rc & 0xff) {
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                code = EBUSY;
                break;
        case SQLITE_NOTADB:
        case SQLITE_CORRUPT:
                return rc_err_set(err, EINVAL,
                                  "store %s: not an SQLite database, or a corrupt one (%s): %s",
                                  s->path, what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        case SQLITE_FULL:
                code = ENOSPC;
                break;
        case SQLITE_NOMEM:
                code = ENOMEM;
                break;
        case SQLITE_READONLY:
                code = EROFS;
                break;
        case SQLITE_PERM:
        case SQLITE_AUTH:
                code = EACCES;
                break;
        case SQLITE_CANTOPEN:
                code = ENOENT;
                break;
        case SQLITE_CONSTRAINT:
                code = EEXIST;
                break;
        case SQLITE_TOOBIG:
                code = E2BIG;
                break;
        default:
                code = EIO;
                break;
        }
        return rc_err_set(err, code, "store %s: %s: %s", s->path, what,
                          db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

static int fail(sq_store_t *s, int rc, rc_err_t *err, const char *what)
{
        return sq_fail(s, s->db, rc, err, what);
}

/* A prepared statement, reset and unbound, ready for its arguments. */
static sqlite3_stmt *q(sq_store_t *s, int which)
{
        sqlite3_stmt *st = s->q[which];
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return st;
}

static void done(sqlite3_stmt *st)
{
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
        if (v)
                sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
        else
                sqlite3_bind_null(st, i);
}

/* Run a statement that returns no rows (or whose rows are not wanted); SQLITE_DONE or the
 * error. */
static int run(sqlite3_stmt *st)
{
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
                ;
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return rc;
}

static int tx(sq_store_t *s, int which, rc_err_t *err)
{
        int rc = run(q(s, which));
        if (rc != SQLITE_DONE)
                return fail(s, rc, err, SQL[which]);
        return 0;
}

static void rollback(sq_store_t *s)
{
        if (!sqlite3_get_autocommit(s->db))
                run(q(s, Q_ROLLBACK));
}

/* One statement's change count, or -errno. */
static int run_changes(sq_store_t *s, sqlite3_stmt *st, rc_err_t *err, const char *what)
{
        int rc = run(st);
        if (rc != SQLITE_DONE)
                return fail(s, rc, err, what);
        return sqlite3_changes(s->db);
}

/* ---- rows ---- */

static char *col_dup(sqlite3_stmt *st, int i, bool *oom)
{
        if (sqlite3_column_type(st, i) == SQLITE_NULL)
                return NULL;
        const unsigned char *t = sqlite3_column_text(st, i);
        if (!t) {
                *oom = true;
                return NULL;
        }
        char *r = strdup((const char *)t);
        if (!r)
                *oom = true;
        return r;
}

static void col_copy(sqlite3_stmt *st, int i, char *dst, size_t size)
{
        const unsigned char *t = sqlite3_column_text(st, i);
        snprintf(dst, size, "%s", t ? (const char *)t : "");
}

/* The current row (COLS) into *out; its rowid into *seq. */
static int read_row(sqlite3_stmt *st, submission_t *out, int64_t *seq, rc_err_t *err)
{
        bool oom = false;
        memset(out, 0, sizeof(*out));
        col_copy(st, 0, out->token, sizeof(out->token));
        col_copy(st, 1, out->dialect, sizeof(out->dialect));
        out->state = (sub_state_t)sqlite3_column_int(st, 2);
        out->attempts = sqlite3_column_int(st, 3);
        out->created_ms = sqlite3_column_int64(st, 4);
        out->started_ms = sqlite3_column_int64(st, 5);
        out->finished_ms = sqlite3_column_int64(st, 6);
        out->request = col_dup(st, 7, &oom);
        if (!out->request && !oom)
                out->request = strdup("");
        if (!out->request)
                oom = true;
        out->result = col_dup(st, 8, &oom);
        out->error = col_dup(st, 9, &oom);
        out->callback_url = col_dup(st, 10, &oom);
        out->callback_state = (cb_state_t)sqlite3_column_int(st, 11);
        out->callback_attempts = sqlite3_column_int(st, 12);
        out->callback_next_ms = sqlite3_column_int64(st, 13);
        col_copy(st, 14, out->lease_owner, sizeof(out->lease_owner));
        out->lease_expiry_ms = sqlite3_column_int64(st, 15);
        if (seq)
                *seq = sqlite3_column_int64(st, 16);
        if (oom) {
                store_sub_clear(out);
                return rc_err_set(err, ENOMEM, "store: out of memory reading a submission");
        }
        return 0;
}

/* Rows read into memory, handed to fn once no statement is open. */
typedef struct rows {
        submission_t *v;
        size_t n, cap;
        int64_t last_ms, last_seq;
} rows_t;

static void rows_free(rows_t *r)
{
        for (size_t i = 0; i < r->n; i++)
                store_sub_clear(&r->v[i]);
        free(r->v);
        memset(r, 0, sizeof(*r));
}

/* Step st to its end (or max rows), appending each row; st is reset. */
static int rows_read(sq_store_t *s, sqlite3_stmt *st, size_t max, rows_t *r, rc_err_t *err,
                     const char *what)
{
        int rc = SQLITE_DONE;
        while (r->n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (r->n == r->cap) {
                        size_t cap = r->cap ? r->cap * 2 : 16;
                        submission_t *v = realloc(r->v, cap * sizeof(*v));
                        if (!v) {
                                done(st);
                                return rc_err_set(err, ENOMEM, "store: out of memory");
                        }
                        r->v = v;
                        r->cap = cap;
                }
                int64_t seq = 0;
                int e = read_row(st, &r->v[r->n], &seq, err);
                if (e < 0) {
                        done(st);
                        return e;
                }
                r->last_ms = r->v[r->n].created_ms;
                r->last_seq = seq;
                r->n++;
                rc = SQLITE_DONE;
        }
        if (rc != SQLITE_DONE) {
                int e = fail(s, rc, err, what);
                done(st);
                return e;
        }
        done(st);
        return 0;
}

/* fn on each row in order; *stopped when fn returned nonzero. The number given to fn. */
static int rows_walk(rows_t *r, store_each_fn fn, void *ud, bool *stopped)
{
        int n = 0;
        for (size_t i = 0; i < r->n; i++) {
                n++;
                if (fn(&r->v[i], ud) != 0) {
                        if (stopped)
                                *stopped = true;
                        break;
                }
        }
        return n;
}

/* ---- open, migrate ---- */

static int exec_sql(sq_store_t *s, const char *sql, rc_err_t *err, const char *what)
{
        char *msg = NULL;
        int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
        if (rc != SQLITE_OK) {
                int e = fail(s, rc, err, what);
                if (msg && (rc & 0xff) != SQLITE_NOTADB && (rc & 0xff) != SQLITE_CORRUPT)
                        rc_err_set(err, e, "store %s: %s: %s", s->path, what, msg);
                sqlite3_free(msg);
                return e;
        }
        return 0;
}

static int one_int64(sq_store_t *s, const char *sql, int64_t *out, rc_err_t *err)
{
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
        if (rc != SQLITE_OK)
                return fail(s, rc, err, sql);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                *out = sqlite3_column_int64(st, 0);
        else if (rc == SQLITE_DONE)
                *out = 0;
        int e = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? 0 : fail(s, rc, err, sql);
        sqlite3_finalize(st);
        return e;
}

/* The version the database holds, in the open transaction (0: a new, empty database). */
static int db_version(sq_store_t *s, rc_err_t *err)
{
        int64_t has = 0;
        int r = one_int64(s,
                          "SELECT count(*) FROM sqlite_schema WHERE type = 'table'"
                          " AND name = 'schema_migrations'",
                          &has, err);
        if (r < 0)
                return r;
        if (!has) {
                int64_t other = 0;
                r = one_int64(s, "SELECT count(*) FROM sqlite_schema", &other, err);
                if (r < 0)
                        return r;
                if (other > 0)
                        return rc_err_set(err, EINVAL,
                                          "store %s: an SQLite database, but not a runcell "
                                          "submission store (it has tables and no "
                                          "schema_migrations)",
                                          s->path);
                return 0;
        }
        int64_t v = 0;
        r = one_int64(s, SQL[Q_VERSION], &v, err);
        return r < 0 ? r : (int)v;
}

/* Each migration the database lacks, in order, each in one transaction (two processes
 * opening the same new file at once: the second finds the first's work done). */
static int migrate(sq_store_t *s, rc_err_t *err)
{
        for (;;) {
                int r = exec_sql(s, "BEGIN IMMEDIATE", err, "beginning a migration");
                if (r < 0)
                        return r;
                int v = db_version(s, err);
                if (v < 0) {
                        exec_sql(s, "ROLLBACK", NULL, "");
                        return v;
                }
                if (v > store_sqlite_latest()) {
                        exec_sql(s, "ROLLBACK", NULL, "");
                        return rc_err_set(err, EPROTO,
                                          "store %s: schema version %d is newer than this "
                                          "runcell knows (%d); use a newer runcell or another "
                                          "file",
                                          s->path, v, store_sqlite_latest());
                }
                const migration_t *m = NULL;
                for (int i = 0; i < NMIGRATIONS; i++)
                        if (MIGRATIONS[i].version > v) {
                                m = &MIGRATIONS[i];
                                break;
                        }
                if (!m)
                        return exec_sql(s, "COMMIT", err, "ending the migrations");
                char what[96];
                snprintf(what, sizeof(what), "migration %d (%s)", m->version, m->name);
                if (v == 0)
                        r = exec_sql(s,
                                     "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                     " version INTEGER PRIMARY KEY NOT NULL,"
                                     " name TEXT NOT NULL,"
                                     " applied_ms INTEGER NOT NULL)",
                                     err, what);
                if (r >= 0)
                        r = exec_sql(s, m->sql, err, what);
                if (r >= 0) {
                        sqlite3_stmt *st = NULL;
                        int rc = sqlite3_prepare_v2(s->db,
                                                    "INSERT INTO schema_migrations (version, name,"
                                                    " applied_ms) VALUES (?1, ?2, ?3)",
                                                    -1, &st, NULL);
                        if (rc == SQLITE_OK) {
                                sqlite3_bind_int(st, 1, m->version);
                                bind_text(st, 2, m->name);
                                sqlite3_bind_int64(st, 3, store_now_ms());
                                rc = sqlite3_step(st);
                        }
                        if (rc != SQLITE_DONE)
                                r = fail(s, rc, err, what);
                        sqlite3_finalize(st);
                }
                if (r >= 0)
                        r = exec_sql(s, "COMMIT", err, what);
                if (r < 0) {
                        exec_sql(s, "ROLLBACK", NULL, "");
                        return r;
                }
        }
}

/* The file, made 0600 before SQLite opens it (its -wal and -shm files take its mode). */
static int make_file(sq_store_t *s, const char *path, rc_err_t *err)
{
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
        if (fd < 0)
                return rc_err_sys(err, errno, "store %s: cannot open", s->path);
        struct stat sb;
        int r = 0;
        if (fstat(fd, &sb) < 0)
                r = rc_err_sys(err, errno, "store %s: fstat", s->path);
        else if (!S_ISREG(sb.st_mode))
                r = rc_err_set(err, EINVAL, "store %s: not a regular file", s->path);
        else if ((sb.st_mode & 0777) != 0600 && fchmod(fd, 0600) < 0)
                r = rc_err_sys(err, errno, "store %s: chmod 0600", s->path);
        close(fd);
        return r;
}

static void sq_close(store_t *st)
{
        sq_store_t *s = SQ(st);
        for (int i = 0; i < NQ; i++)
                sqlite3_finalize(s->q[i]);
        sqlite3_close_v2(s->db);
        free(s);
}

static const store_ops_t SQLITE_OPS;

int store_open_sqlite(const char *path, const store_opts_t *o, store_t **out, rc_err_t *err)
{
        *out = NULL;
        if (!path || !*path)
                return rc_err_set(err, EINVAL, "store: no database path");
        sq_store_t *s = calloc(1, sizeof(*s));
        if (!s)
                return rc_err_set(err, ENOMEM, "store: out of memory");
        s->base.ops = &SQLITE_OPS;
        s->base.opts = store_opts_defaults(o);
        snprintf(s->path, sizeof(s->path), "%s", path);
        int r = make_file(s, path, err);
        if (r < 0) {
                free(s);
                return r;
        }
        int rc = sqlite3_open_v2(
            path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
            NULL);
        if (rc != SQLITE_OK) {
                r = fail(s, rc, err, "opening");
                goto fail;
        }
        sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
        /* The first read of the file: a file that is not a database fails here. */
        sqlite3_stmt *st = NULL;
        rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        if (rc != SQLITE_ROW) {
                r = fail(s, rc, err, "setting WAL mode");
                sqlite3_finalize(st);
                goto fail;
        }
        const unsigned char *mode = sqlite3_column_text(st, 0);
        bool wal = mode && strcmp((const char *)mode, "wal") == 0;
        char shown[32];
        snprintf(shown, sizeof(shown), "%s", mode ? (const char *)mode : "?");
        sqlite3_finalize(st);
        if (!wal) {
                r = rc_err_set(err, EINVAL, "store %s: cannot use WAL mode (journal mode %s)",
                               s->path, shown);
                goto fail;
        }
        r = exec_sql(s, "PRAGMA synchronous = NORMAL", err, "PRAGMA synchronous");
        if (r < 0)
                goto fail;
        r = migrate(s, err);
        if (r < 0)
                goto fail;
        for (int i = 0; i < NQ; i++) {
                rc = sqlite3_prepare_v3(s->db, SQL[i], -1, SQLITE_PREPARE_PERSISTENT, &s->q[i],
                                        NULL);
                if (rc != SQLITE_OK) {
                        r = fail(s, rc, err, SQL[i]);
                        goto fail;
                }
        }
        *out = &s->base;
        return 0;
fail:
        sq_close(&s->base);
        return r;
}

/* ---- operations ---- */

static int sq_schema_version(store_t *st)
{
        sq_store_t *s = SQ(st);
        sqlite3_stmt *v = q(s, Q_VERSION);
        int rc = sqlite3_step(v);
        int r = rc == SQLITE_ROW ? sqlite3_column_int(v, 0) : fail(s, rc, NULL, "schema version");
        done(v);
        return r;
}

static int count_all(sq_store_t *s, int64_t *n, rc_err_t *err)
{
        sqlite3_stmt *st = q(s, Q_COUNT_ALL);
        int rc = sqlite3_step(st);
        *n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        done(st);
        return rc == SQLITE_ROW ? 0 : fail(s, rc, err, "counting submissions");
}

/* Pages in use and the page size. */
static int pages(sq_store_t *s, int64_t *used, int64_t *total, int64_t *page_size, rc_err_t *err)
{
        sqlite3_stmt *st = q(s, Q_PAGES);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                int64_t pc = sqlite3_column_int64(st, 0), fl = sqlite3_column_int64(st, 1);
                if (used)
                        *used = pc - fl;
                if (total)
                        *total = pc;
                *page_size = sqlite3_column_int64(st, 2);
        }
        done(st);
        return rc == SQLITE_ROW ? 0 : fail(s, rc, err, "reading the page count");
}

/* Delete the n oldest prunable done submissions; the number deleted. */
static int prune_oldest(sq_store_t *s, int64_t n, rc_err_t *err)
{
        sqlite3_stmt *st = q(s, Q_PRUNE_OLDEST);
        sqlite3_bind_int64(st, 1, n);
        return run_changes(s, st, err, "deleting the oldest done submissions");
}

/* Within the open write transaction: max_count and max_bytes met by deleting the oldest done
 * submissions, or -ENOSPC. With extra > 0 (before an insert: about the bytes it will add),
 * room for that much more is made (deleting first lets the insert reuse the freed pages rather
 * than grow the file); nothing is refused then, the check after the insert does that. */
static int make_room(sq_store_t *s, int64_t extra, rc_err_t *err)
{
        const store_opts_t *o = &s->base.opts;
        if (o->max_count > 0 && extra == 0) {
                int64_t n = 0;
                int r = count_all(s, &n, err);
                if (r < 0)
                        return r;
                if (n > o->max_count) {
                        r = prune_oldest(s, n - o->max_count, err);
                        if (r < 0)
                                return r;
                        if (n - r > o->max_count)
                                return rc_err_set(err, ENOSPC,
                                                  "store %s: full: %lld submissions (at most "
                                                  "%lld) and no more done ones to delete",
                                                  s->path, (long long)(n - r),
                                                  (long long)o->max_count);
                }
        }
        if (o->max_bytes > 0) {
                /* one at a time at first (a big one may be enough), then more each step */
                for (int64_t step = 1;; step = step < 1024 ? step * 2 : step) {
                        int64_t used = 0, ps = 0;
                        int r = pages(s, &used, NULL, &ps, err);
                        if (r < 0)
                                return r;
                        if (used * ps + extra <= o->max_bytes)
                                break;
                        r = prune_oldest(s, step, err);
                        if (r < 0)
                                return r;
                        if (r == 0 && extra > 0)
                                break;
                        if (r == 0)
                                return rc_err_set(err, ENOSPC,
                                                  "store %s: full: %lld bytes (at most %lld) "
                                                  "and no more done submissions to delete",
                                                  s->path, (long long)(used * ps),
                                                  (long long)o->max_bytes);
                }
        }
        return 0;
}

static int sq_lease(store_t *stp, const char *token, const char *owner, int64_t expiry_ms,
                    int64_t now_ms, int *attempts, rc_err_t *err);

static int sq_insert(store_t *stp, const submission_t *subs, size_t n, int64_t now_ms,
                     rc_err_t *err)
{
        sq_store_t *s = SQ(stp);
        int r = tx(s, Q_BEGIN, err);
        if (r < 0)
                return r;
        if (s->base.opts.max_bytes > 0) {
                int64_t extra = 0;
                for (size_t i = 0; i < n; i++)
                        extra +=
                            (int64_t)strlen(subs[i].request) +
                            (subs[i].callback_url ? (int64_t)strlen(subs[i].callback_url) : 0) +
                            128;
                r = make_room(s, extra, err);
        }
        for (size_t i = 0; i < n && r >= 0; i++) {
                sqlite3_stmt *st = q(s, Q_INSERT);
                bind_text(st, 1, subs[i].token);
                bind_text(st, 2, subs[i].dialect);
                sqlite3_bind_int64(st, 3, subs[i].created_ms > 0 ? subs[i].created_ms : now_ms);
                bind_text(st, 4, subs[i].request);
                bind_text(st, 5, subs[i].callback_url);
                int rc = run(st);
                if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
                        r = rc_err_set(err, EEXIST, "store %s: submission %s already exists",
                                       s->path, subs[i].token);
                else if (rc != SQLITE_DONE)
                        r = fail(s, rc, err, "inserting a submission");
                int attempts = 0;
                if (r >= 0 && subs[i].lease_owner[0] &&
                    (r = sq_lease(stp, subs[i].token, subs[i].lease_owner, subs[i].lease_expiry_ms,
                                  now_ms, &attempts, err)) == 0)
                        r = rc_err_set(err, EIO, "store %s: submission %s not leased as inserted",
                                       s->path, subs[i].token);
        }
        if (r >= 0)
                r = make_room(s, 0, err);
        if (r >= 0)
                r = tx(s, Q_COMMIT, err);
        if (r < 0) {
                rollback(s);
                return r;
        }
        return 0;
}

static int sq_get(store_t *stp, const char *token, submission_t *out, rc_err_t *err)
{
        sq_store_t *s = SQ(stp);
        sqlite3_stmt *st = q(s, Q_GET);
        bind_text(st, 1, token);
        int rc = sqlite3_step(st);
        int r;
        if (rc == SQLITE_ROW)
                r = read_row(st, out, NULL, err) < 0 ? -ENOMEM : 1;
        else if (rc == SQLITE_DONE)
                r = 0;
        else
                r = fail(s, rc, err, "reading a submission");
        done(st);
        return r;
}

static int sq_lease(store_t *stp, const char *token, const char *owner, int64_t expiry_ms,
                    int64_t now_ms, int *attempts, rc_err_t *err)
{
        sq_store_t *s = SQ(stp);
        sqlite3_stmt *st = q(s, Q_LEASE);
        bind_text(st, 1, token);
        bind_text(st, 2, owner);
        sqlite3_bind_int64(st, 3, expiry_ms);
        sqlite3_bind_int64(st, 4, now_ms);
        int rc = sqlite3_step(st);
        int r = 0;
        if (rc == SQLITE_ROW) {
                *attempts = sqlite3_column_int(st, 0);
                r = 1;
                rc = sqlite3_step(st);
        }
        if (rc != SQLITE_DONE)
                r = fail(s, rc, err, "taking a lease");
        done(st);
        return r;
}

/* One UPDATE (SQLite takes the write lock for it): two stores claiming at once take
 * different submissions. */
static int sq_claim(store_t *stp, const char *dialect, const char *owner, int64_t expiry_ms,
                    int64_t now_ms, submission_t *out, rc_err_t *err)
{
        sq_store_t *s = SQ(stp);
        sqlite3_stmt *st = q(s, Q_CLAIM);
        bind_text(st, 1, dialect);
        bind_text(st, 2, owner);
        sqlite3_bind_int64(st, 3, now_ms);
        sqlite3_bind_int64(st, 4, expiry_ms);
        sqlite3_bind_int(st, 5, s->base.opts.max_attempts);
        int rc = sqlite3_step(st);
        int r = 0;
        if (rc == SQLITE_ROW) {
                r = read_row(st, out, NULL, err) < 0 ? -ENOMEM : 1;
                if (r == 1)
                        rc = sqlite3_step(st);
        }
        if (r >= 0 && rc != SQLITE_DONE) {
                store_sub_clear(out);
                r = fail(s, rc, err, "claiming a submission");
        }
        done(st);
        return r;
}

static int sq_renew(store_t *stp, const char *owner, int64_t expiry_ms, rc_err_t *err)
{
        sq_store_t *s = SQ(stp);
        sqlite3_stmt *st = q(s, Q_RENEW);
        bind_text(st, 1, owner);
        sqlite3_bind_int64(st, 2, expiry_ms);
        return run_changes(s, st, err, "renewing leases");
}

static int sq_release(store_t *stp, const char *token, rc_err_t *err)
{
        sq_store_t *s = SQ(stp);
        sqlite3_stmt *st = q(s, Q_RELEASE);
        bind_text(st, 1, token);
        return run_changes(s, st, err, "releasing a lease");
}

static int sq_finish(store_t *stp, const char *token, const char *owner, const char *result,
                     int64_t now_ms, rc_err_t *err)
{
        sq_store_t *s = SQ(stp);
        sqlite3_stmt *st = q(s, Q_FINISH);
        bind_text(st, 1, token);
        bind_text(st, 2, result);
        sqlite3_bind_int64(st, 3, now_ms);
        bind_text(st, 4, owner ? owner : "");
        return run_changes(s, st, err, "storing a result");
}

static int sq_recover(store_t *stp, const char *owner, int64_t now_ms, rc_err_t *err)
{
        sq_store_t *s = SQ(stp);
        int r = tx(s, Q_BEGIN, err);
        if (r < 0)
                return r;
        sqlite3_stmt *st = q(s, Q_RECOVER_GIVEUP);
        bind_text(st, 1, owner);
        sqlite3_bind_int64(st, 2, now_ms);
        sqlite3_bind_int(st, 3, s->base.opts.max_attempts);
        int given_up = run_changes(s, st, err, "giving up interrupted submissions");
        if (given_up < 0) {
                rollback(s);
                return given_up;
        }
        st = q(s, Q_RECOVER_REQUEUE);
        bind_text(st, 1, owner);
        sqlite3_bind_int64(st, 2, now_ms);
        int requeued = run_changes(s, st, err, "queueing interrupted submissions again");
        if (requeued >= 0)
                r = tx(s, Q_COMMIT, err);
        if (requeued < 0 || r < 0) {
                rollback(s);
                return requeued < 0 ? requeued : r;
        }
        return given_up + requeued;
}

static int sq_each(store_t *stp, const char *dialect, sub_state_t state, store_each_fn fn, void *ud,
                   rc_err_t *err)
{
        sq_store_t *s = SQ(stp);
        int64_t after_ms = INT64_MIN, after_seq = INT64_MIN;
        int total = 0;
        for (;;) {
                sqlite3_stmt *st = q(s, Q_EACH);
                bind_text(st, 1, dialect);
                sqlite3_bind_int(st, 2, (int)state);
                sqlite3_bind_int64(st, 3, after_ms);
                sqlite3_bind_int64(st, 4, after_seq);
                sqlite3_bind_int(st, 5, EACH_BATCH);
                rows_t rows = {0};
                int r = rows_read(s, st, EACH_BATCH, &rows, err, "reading submissions");
                if (r < 0) {
                        rows_free(&rows);
                        return r;
                }
                bool stopped = false;
                total += rows_walk(&rows, fn, ud, &stopped);
                bool last = rows.n < EACH_BATCH;
                after_ms = rows.last_ms;
                after_seq = rows.last_seq;
                rows_free(&rows);
                if (stopped || last)
                        return total;
        }
}

static int sq_page(store_t *stp, const char *dialect, int64_t offset, int64_t limit,
                   store_each_fn fn, void *ud, int64_t *total, rc_err_t *err)
{
        sq_store_t *s = SQ(stp);
        int r = tx(s, Q_BEGIN_READ, err); /* one snapshot for the count and the rows */
        if (r < 0)
                return r;
        sqlite3_stmt *st = q(s, Q_COUNT);
        bind_text(st, 1, dialect);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                *total = sqlite3_column_int64(st, 0);
        done(st);
        rows_t rows = {0};
        if (rc != SQLITE_ROW)
                r = fail(s, rc, err, "counting submissions");
        if (r >= 0 && limit > 0) {
                st = q(s, Q_PAGE);
                bind_text(st, 1, dialect);
                sqlite3_bind_int64(st, 2, offset);
                sqlite3_bind_int64(st, 3, limit);
                r = rows_read(s, st, (size_t)limit, &rows, err, "reading a page of submissions");
        }
        if (r >= 0)
                r = tx(s, Q_COMMIT, err);
        if (r < 0) {
                rollback(s);
                rows_free(&rows);
                return r;
        }
        r = rows_walk(&rows, fn, ud, NULL);
        rows_free(&rows);
        return r;
}

static int sq_delete(store_t *stp, const char *token, rc_err_t *err)
{
        sq_store_t *s = SQ(stp);
        sqlite3_stmt *st = q(s, Q_DELETE);
        bind_text(st, 1, token);
        return run_changes(s, st, err, "deleting a submission");
}

static int sq_prune(store_t *stp, int64_t now_ms, rc_err_t *err)
{
        sq_store_t *s = SQ(stp);
        const store_opts_t *o = &s->base.opts;
        int r = tx(s, Q_BEGIN, err);
        if (r < 0)
                return r;
        int deleted = 0;
        if (o->max_age_s > 0) {
                sqlite3_stmt *st = q(s, Q_PRUNE_AGE);
                sqlite3_bind_int64(st, 1, now_ms - o->max_age_s * 1000);
                r = run_changes(s, st, err, "deleting old submissions");
                if (r > 0)
                        deleted += r;
        }
        if (r >= 0 && o->max_count > 0) {
                int64_t n = 0;
                r = count_all(s, &n, err);
                if (r >= 0 && n > o->max_count) {
                        r = prune_oldest(s, n - o->max_count, err);
                        if (r > 0)
                                deleted += r;
                }
        }
        if (r >= 0)
                r = tx(s, Q_COMMIT, err);
        if (r < 0) {
                rollback(s);
                return r;
        }
        return deleted;
}

static int sq_callbacks_due(store_t *stp, int64_t now_ms, int limit, store_each_fn fn, void *ud,
                            rc_err_t *err)
{
        sq_store_t *s = SQ(stp);
        sqlite3_stmt *st = q(s, Q_DUE);
        sqlite3_bind_int64(st, 1, now_ms);
        sqlite3_bind_int(st, 2, limit);
        rows_t rows = {0};
        int r = rows_read(s, st, (size_t)limit, &rows, err, "reading the callbacks due");
        if (r >= 0)
                r = rows_walk(&rows, fn, ud, NULL);
        rows_free(&rows);
        return r;
}

static int sq_callback_tried(store_t *stp, const char *token, bool delivered, int64_t next_ms,
                             rc_err_t *err)
{
        sq_store_t *s = SQ(stp);
        sqlite3_stmt *st = q(s, Q_TRIED);
        bind_text(st, 1, token);
        sqlite3_bind_int(st, 2, delivered ? 1 : 0);
        sqlite3_bind_int64(st, 3, next_ms > 0 ? next_ms : 0);
        return run_changes(s, st, err, "recording a callback's try");
}

static int64_t sq_callback_next(store_t *stp, rc_err_t *err)
{
        sq_store_t *s = SQ(stp);
        sqlite3_stmt *st = q(s, Q_NEXT);
        int rc = sqlite3_step(st);
        int64_t r = 0;
        if (rc == SQLITE_ROW)
                r = sqlite3_column_type(st, 0) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 0);
        else
                r = fail(s, rc, err, "reading the next callback's time");
        done(st);
        return r;
}

static int64_t sq_size(store_t *stp)
{
        sq_store_t *s = SQ(stp);
        int64_t total = 0, ps = 0;
        int r = pages(s, NULL, &total, &ps, NULL);
        return r < 0 ? r : total * ps;
}

/* ---- functions ---- */

/* A function_versions row (FNV_COLS from column first). */
static int read_version(sqlite3_stmt *st, int first, fn_version_t *v)
{
        memset(v, 0, sizeof(*v));
        const unsigned char *name = sqlite3_column_text(st, first);
        const unsigned char *art = sqlite3_column_text(st, first + 3);
        const unsigned char *spec = sqlite3_column_text(st, first + 4);
        snprintf(v->name, sizeof(v->name), "%s", name ? (const char *)name : "");
        v->version = sqlite3_column_int(st, first + 1);
        v->created_ms = sqlite3_column_int64(st, first + 2);
        snprintf(v->artifact, sizeof(v->artifact), "%s", art ? (const char *)art : "");
        v->spec = strdup(spec ? (const char *)spec : "");
        return v->spec ? 0 : -ENOMEM;
}

/* A functions row joined with its current version (FN_COLS). */
static int read_record(sqlite3_stmt *st, fn_record_t *r)
{
        memset(r, 0, sizeof(*r));
        const unsigned char *name = sqlite3_column_text(st, 0);
        snprintf(r->name, sizeof(r->name), "%s", name ? (const char *)name : "");
        r->current = sqlite3_column_int(st, 1);
        r->latest = sqlite3_column_int(st, 2);
        r->created_ms = sqlite3_column_int64(st, 3);
        r->updated_ms = sqlite3_column_int64(st, 4);
        /* the version's columns: version, created_ms, artifact, spec (no name) */
        fn_version_t *v = &r->cur;
        snprintf(v->name, sizeof(v->name), "%s", r->name);
        v->version = sqlite3_column_int(st, 5);
        v->created_ms = sqlite3_column_int64(st, 6);
        const unsigned char *art = sqlite3_column_text(st, 7);
        const unsigned char *spec = sqlite3_column_text(st, 8);
        snprintf(v->artifact, sizeof(v->artifact), "%s", art ? (const char *)art : "");
        v->spec = strdup(spec ? (const char *)spec : "");
        return v->spec ? 0 : -ENOMEM;
}

static int sq_fn_put(store_t *stp, const char *name, const char *artifact, const char *spec,
                     int keep, int64_t now_ms, int *version, rc_err_t *err)
{
        sq_store_t *s = SQ(stp);
        int r = tx(s, Q_BEGIN, err);
        if (r < 0)
                return r;
        sqlite3_stmt *st = q(s, Q_FN_ADD);
        bind_text(st, 1, name);
        sqlite3_bind_int64(st, 2, now_ms);
        int created = run_changes(s, st, err, "adding a function");
        int latest = 0;
        if (created >= 0) {
                st = q(s, Q_FN_LATEST);
                bind_text(st, 1, name);
                int rc = sqlite3_step(st);
                if (rc == SQLITE_ROW)
                        latest = sqlite3_column_int(st, 0);
                else
                        r = fail(s, rc, err, "reading a function's latest version");
                done(st);
        } else {
                r = created;
        }
        if (r >= 0) {
                st = q(s, Q_FN_VADD);
                bind_text(st, 1, name);
                sqlite3_bind_int(st, 2, latest + 1);
                sqlite3_bind_int64(st, 3, now_ms);
                bind_text(st, 4, artifact);
                bind_text(st, 5, spec);
                r = run_changes(s, st, err, "adding a function's version");
        }
        if (r >= 0) {
                st = q(s, Q_FN_SETNEW);
                bind_text(st, 1, name);
                sqlite3_bind_int(st, 2, latest + 1);
                sqlite3_bind_int64(st, 3, now_ms);
                r = run_changes(s, st, err, "making a version current");
        }
        if (r >= 0) {
                st = q(s, Q_FN_PRUNE);
                bind_text(st, 1, name);
                sqlite3_bind_int(st, 2, keep);
                r = run_changes(s, st, err, "deleting a function's old versions");
        }
        if (r >= 0)
                r = tx(s, Q_COMMIT, err);
        if (r < 0) {
                rollback(s);
                return r;
        }
        *version = latest + 1;
        return created > 0 ? 1 : 0;
}

static int sq_fn_get(store_t *stp, const char *name, fn_record_t *out, rc_err_t *err)
{
        sq_store_t *s = SQ(stp);
        sqlite3_stmt *st = q(s, Q_FN_GET);
        bind_text(st, 1, name);
        int rc = sqlite3_step(st);
        int r;
        if (rc == SQLITE_ROW)
                r = read_record(st, out) < 0 ? -ENOMEM : 1;
        else if (rc == SQLITE_DONE)
                r = 0;
        else
                r = fail(s, rc, err, "reading a function");
        done(st);
        return r;
}

static int sq_fn_version(store_t *stp, const char *name, int version, fn_version_t *out,
                         rc_err_t *err)
{
        sq_store_t *s = SQ(stp);
        sqlite3_stmt *st = q(s, Q_FN_VERSION);
        bind_text(st, 1, name);
        sqlite3_bind_int(st, 2, version);
        int rc = sqlite3_step(st);
        int r;
        if (rc == SQLITE_ROW)
                r = read_version(st, 0, out) < 0 ? -ENOMEM : 1;
        else if (rc == SQLITE_DONE)
                r = 0;
        else
                r = fail(s, rc, err, "reading a function's version");
        done(st);
        return r;
}

/* Rows are read into memory first: the callbacks run with no statement open. */
static int sq_fn_list(store_t *stp, store_fn_each_fn fn, void *ud, rc_err_t *err)
{
        sq_store_t *s = SQ(stp);
        sqlite3_stmt *st = q(s, Q_FN_LIST);
        fn_record_t *rows = NULL;
        size_t n = 0, cap = 0;
        int rc, r = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (n == cap) {
                        size_t nc = cap ? cap * 2 : 16;
                        fn_record_t *nr = realloc(rows, nc * sizeof(*nr));
                        if (!nr) {
                                r = rc_err_set(err, ENOMEM, "out of memory");
                                break;
                        }
                        rows = nr;
                        cap = nc;
                }
                if (read_record(st, &rows[n]) < 0) {
                        r = rc_err_set(err, ENOMEM, "out of memory");
                        break;
                }
                n++;
        }
        if (r == 0 && rc != SQLITE_DONE)
                r = fail(s, rc, err, "listing the functions");
        done(st);
        int given = 0;
        for (size_t i = 0; i < n; i++) {
                if (r == 0) {
                        given++;
                        if (fn(&rows[i], ud))
                                r = 1;
                }
                fn_record_free(&rows[i]);
        }
        free(rows);
        return r < 0 ? r : given;
}

static int sq_fn_versions(store_t *stp, const char *name, store_fnv_each_fn fn, void *ud,
                          rc_err_t *err)
{
        sq_store_t *s = SQ(stp);
        sqlite3_stmt *st = q(s, Q_FN_VERSIONS);
        bind_text(st, 1, name);
        fn_version_t *rows = NULL;
        size_t n = 0, cap = 0;
        int rc, r = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (n == cap) {
                        size_t nc = cap ? cap * 2 : 8;
                        fn_version_t *nr = realloc(rows, nc * sizeof(*nr));
                        if (!nr) {
                                r = rc_err_set(err, ENOMEM, "out of memory");
                                break;
                        }
                        rows = nr;
                        cap = nc;
                }
                if (read_version(st, 0, &rows[n]) < 0) {
                        r = rc_err_set(err, ENOMEM, "out of memory");
                        break;
                }
                n++;
        }
        if (r == 0 && rc != SQLITE_DONE)
                r = fail(s, rc, err, "listing a function's versions");
        done(st);
        int given = 0;
        for (size_t i = 0; i < n; i++) {
                if (r == 0) {
                        given++;
                        if (fn(&rows[i], ud))
                                r = 1;
                }
                fn_version_free(&rows[i]);
        }
        free(rows);
        return r < 0 ? r : given;
}

static int sq_fn_set_current(store_t *stp, const char *name, int version, int64_t now_ms,
                             rc_err_t *err)
{
        sq_store_t *s = SQ(stp);
        sqlite3_stmt *st = q(s, Q_FN_SETCUR);
        bind_text(st, 1, name);
        sqlite3_bind_int(st, 2, version);
        sqlite3_bind_int64(st, 3, now_ms);
        return run_changes(s, st, err, "making a version current");
}

static int sq_fn_delete(store_t *stp, const char *name, rc_err_t *err)
{
        sq_store_t *s = SQ(stp);
        int r = tx(s, Q_BEGIN, err);
        if (r < 0)
                return r;
        sqlite3_stmt *st = q(s, Q_FN_DELV);
        bind_text(st, 1, name);
        r = run_changes(s, st, err, "deleting a function's versions");
        int gone = 0;
        if (r >= 0) {
                st = q(s, Q_FN_DEL);
                bind_text(st, 1, name);
                gone = r = run_changes(s, st, err, "deleting a function");
        }
        if (r >= 0)
                r = tx(s, Q_COMMIT, err);
        if (r < 0) {
                rollback(s);
                return r;
        }
        return gone > 0 ? 1 : 0;
}

static int sq_fn_artifact_refs(store_t *stp, const char *artifact, rc_err_t *err)
{
        sq_store_t *s = SQ(stp);
        sqlite3_stmt *st = q(s, Q_FN_REFS);
        bind_text(st, 1, artifact);
        int rc = sqlite3_step(st);
        int r = rc == SQLITE_ROW ? sqlite3_column_int(st, 0)
                                 : fail(s, rc, err, "counting an artifact's versions");
        done(st);
        return r;
}

static const store_ops_t SQLITE_OPS = {
    .name = "sqlite",
    .close = sq_close,
    .schema_version = sq_schema_version,
    .insert = sq_insert,
    .get = sq_get,
    .lease = sq_lease,
    .claim = sq_claim,
    .renew = sq_renew,
    .release = sq_release,
    .finish = sq_finish,
    .recover = sq_recover,
    .each = sq_each,
    .page = sq_page,
    .del = sq_delete,
    .prune = sq_prune,
    .callbacks_due = sq_callbacks_due,
    .callback_tried = sq_callback_tried,
    .callback_next = sq_callback_next,
    .size = sq_size,
    .fn_put = sq_fn_put,
    .fn_get = sq_fn_get,
    .fn_version = sq_fn_version,
    .fn_list = sq_fn_list,
    .fn_versions = sq_fn_versions,
    .fn_set_current = sq_fn_set_current,
    .fn_delete = sq_fn_delete,
    .fn_artifact_refs = sq_fn_artifact_refs,
};
