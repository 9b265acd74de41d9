/* The submission store's PostgreSQL back-end (libpq): one connection per store_t, shared by
 * every runcell node that names the same database, so that work submitted to one node can be
 * run by another (docs/STORE.md, "The PostgreSQL back-end"). The same logical schema and
 * migration versions as store_sqlite.c; every query parameterised (PQexecParams); writes of
 * more than one statement in transactions. */
#include <errno.h>
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "store/store_impl.h"

#define EACH_BATCH 64
#define MAXP       8
/* pg_advisory locks: (class, key). Migrations take an xact lock on (CLASS, 1), retention
 * during an insert (CLASS, 2); a node's id is a session lock on (NODE_CLASS, hashtext(id)). */
#define LOCK_CLASS      0x72636c6c /* "rcll" */
#define LOCK_NODE_CLASS 0x72636e64 /* "rcnd" */

/* ---- the schema (the versions of store_sqlite.c, in PostgreSQL's words) ---- */

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
     " created_ms BIGINT NOT NULL,"
     " started_ms BIGINT NOT NULL DEFAULT 0,"
     " finished_ms BIGINT NOT NULL DEFAULT 0,"
     " request TEXT NOT NULL,"
     " result TEXT,"
     " error TEXT,"
     " lease_owner TEXT NOT NULL DEFAULT '',"
     " lease_expiry_ms BIGINT NOT NULL DEFAULT 0,"
     " seq BIGINT GENERATED ALWAYS AS IDENTITY" /* insertion order: SQLite's rowid */
     ")"},
    {2, "callbacks",
     "ALTER TABLE submissions ADD COLUMN callback_url TEXT;"
     "ALTER TABLE submissions ADD COLUMN callback_state INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE submissions ADD COLUMN callback_attempts INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE submissions ADD COLUMN callback_next_ms BIGINT NOT NULL DEFAULT 0"},
    {3, "indexes",
     "CREATE INDEX submissions_by_dialect ON submissions (dialect, created_ms, seq);"
     "CREATE INDEX submissions_by_state ON submissions (state, finished_ms);"
     "CREATE INDEX submissions_callbacks_due ON submissions (callback_next_ms)"
     " WHERE callback_state = 1;"
     "CREATE INDEX submissions_leases ON submissions (lease_owner) WHERE state = 2"},
    {4, "functions",
     "CREATE TABLE functions ("
     " name TEXT PRIMARY KEY NOT NULL,"
     " current INTEGER NOT NULL,"
     " latest INTEGER NOT NULL,"
     " created_ms BIGINT NOT NULL,"
     " updated_ms BIGINT NOT NULL"
     ");"
     "CREATE TABLE function_versions ("
     " name TEXT NOT NULL,"
     " version INTEGER NOT NULL,"
     " created_ms BIGINT NOT NULL,"
     " artifact TEXT NOT NULL,"
     " spec TEXT NOT NULL,"
     " PRIMARY KEY (name, version)"
     ");"
     "CREATE INDEX function_versions_by_artifact ON function_versions (artifact)"},
    {5, "artifacts",
     "CREATE TABLE function_artifacts ("
     " sha TEXT PRIMARY KEY NOT NULL,"
     " bytes BIGINT NOT NULL,"
     " chunks INTEGER NOT NULL,"
     " created_ms BIGINT NOT NULL"
     ");"
     "CREATE TABLE function_artifact_chunks ("
     " sha TEXT NOT NULL REFERENCES function_artifacts (sha) ON DELETE CASCADE,"
     " idx INTEGER NOT NULL,"
     " data BYTEA NOT NULL,"
     " PRIMARY KEY (sha, idx)"
     ")"},
};
#define NMIGRATIONS ((int)(sizeof(MIGRATIONS) / sizeof(MIGRATIONS[0])))

/* ---- statements ---- */

#define COLS                                                                                       \
        "token, dialect, state, attempts, created_ms, started_ms, finished_ms, request, result, "  \
        "error, callback_url, callback_state, callback_attempts, callback_next_ms, lease_owner, "  \
        "lease_expiry_ms, seq"
#define CALLBACK_DUE(now)                                                                          \
        "callback_state = CASE WHEN callback_url IS NULL THEN 0 ELSE 1 END, callback_attempts = "  \
        "0, callback_next_ms = CASE WHEN callback_url IS NULL THEN 0 ELSE " now "::bigint END"

static const char SQL_INSERT[] =
    "INSERT INTO submissions (token, dialect, state, attempts, created_ms, request, callback_url)"
    " VALUES ($1, $2, 1, 0, $3, $4, $5)";
static const char SQL_GET[] = "SELECT " COLS " FROM submissions WHERE token = $1";
static const char SQL_LEASE[] =
    "UPDATE submissions SET state = 2, attempts = attempts + 1, started_ms = $4,"
    " lease_owner = $2, lease_expiry_ms = $3 WHERE token = $1 AND state = 1 RETURNING attempts";
static const char SQL_RENEW[] =
    "UPDATE submissions SET lease_expiry_ms = $2 WHERE state = 2 AND lease_owner = $1";
static const char SQL_RELEASE[] =
    "UPDATE submissions SET state = 1, attempts = greatest(attempts - 1, 0), started_ms = 0,"
    " lease_owner = '', lease_expiry_ms = 0 WHERE token = $1 AND state = 2";
/* $4: the lease owner that may finish it ('' : any, as long as it is not done) */
static const char SQL_FINISH[] =
    "UPDATE submissions SET state = 3, result = $2, error = NULL, finished_ms = $3,"
    " lease_owner = '', lease_expiry_ms = 0, " CALLBACK_DUE(
        "$3") " WHERE token = $1 AND"
              " CASE WHEN $4::text = '' THEN state <> 3 ELSE state = 2 AND lease_owner = $4::text "
              "END";
static const char SQL_RECOVER_GIVEUP[] =
    "UPDATE submissions SET state = 3, result = NULL, finished_ms = $2,"
    " error = 'interrupted ' || attempts || CASE attempts WHEN 1 THEN ' time' ELSE ' times' END,"
    " lease_owner = '', lease_expiry_ms = 0, " CALLBACK_DUE(
        "$2") " WHERE state = 2"
              " AND (lease_owner = $1 OR lease_expiry_ms <= $2) AND attempts >= $3";
static const char SQL_RECOVER_REQUEUE[] =
    "UPDATE submissions SET state = 1, started_ms = 0, lease_owner = '', lease_expiry_ms = 0"
    " WHERE state = 2 AND (lease_owner = $1 OR lease_expiry_ms <= $2)";
/* The oldest queued submission of $1 (or a running one whose lease expired, with runs left),
 * taken by $2 until $4: rows another node is taking right now are skipped, not waited for. */
static const char SQL_CLAIM[] =
    "UPDATE submissions SET state = 2, attempts = attempts + 1, started_ms = $3,"
    " lease_owner = $2, lease_expiry_ms = $4 WHERE token = (SELECT token FROM submissions"
    " WHERE dialect = $1 AND (state = 1 OR (state = 2 AND lease_expiry_ms <= $3 AND"
    " attempts < $5)) ORDER BY created_ms, seq LIMIT 1 FOR UPDATE SKIP LOCKED)"
    " AND (state = 1 OR (state = 2 AND lease_expiry_ms <= $3 AND attempts < $5))"
    " RETURNING " COLS;
static const char SQL_EACH[] =
    "SELECT " COLS " FROM submissions WHERE ($1::text IS NULL OR dialect = $1)"
    " AND ($2::int = 0 OR state = $2) AND (created_ms, seq) > ($3, $4)"
    " ORDER BY created_ms, seq LIMIT $5";
static const char SQL_PAGE[] = "SELECT " COLS " FROM submissions WHERE ($1::text IS NULL OR"
                               " dialect = $1) ORDER BY created_ms DESC, seq DESC LIMIT $3"
                               " OFFSET $2";
static const char SQL_COUNT[] =
    "SELECT count(*) FROM submissions WHERE ($1::text IS NULL OR dialect = $1)";
static const char SQL_COUNT_ALL[] = "SELECT count(*) FROM submissions";
static const char SQL_DELETE[] = "DELETE FROM submissions WHERE token = $1";
static const char SQL_PRUNE_AGE[] = "DELETE FROM submissions WHERE state = 3 AND"
                                    " callback_state <> 1 AND finished_ms < $1";
static const char SQL_PRUNE_OLDEST[] =
    "DELETE FROM submissions WHERE token IN (SELECT token FROM submissions WHERE state = 3"
    " AND callback_state <> 1 ORDER BY finished_ms, seq LIMIT $1)";
/* The callbacks due, claimed: their next try moved to $3 (STORE_PG_CALLBACK_CLAIM_MS on), so
 * that other nodes' deliverers, reading at the same time or later, skip them; the try's
 * callback_tried sets the real state. Returned with their due time, oldest first. */
static const char SQL_DUE[] =
    "WITH due AS (SELECT token, callback_next_ms AS due_ms FROM submissions"
    " WHERE callback_state = 1 AND callback_next_ms <= $1 ORDER BY callback_next_ms, seq"
    " LIMIT $2 FOR UPDATE SKIP LOCKED),"
    " claimed AS (UPDATE submissions s SET callback_next_ms = $3 FROM due"
    " WHERE s.token = due.token RETURNING s.*, due.due_ms)"
    " SELECT token, dialect, state, attempts, created_ms, started_ms, finished_ms, request,"
    " result, error, callback_url, callback_state, callback_attempts, due_ms, lease_owner,"
    " lease_expiry_ms, seq FROM claimed ORDER BY due_ms, seq";
static const char SQL_TRIED[] =
    "UPDATE submissions SET callback_attempts = callback_attempts + 1,"
    " callback_state = CASE WHEN $2::int = 1 THEN 2 WHEN $3::bigint > 0 THEN 1 ELSE 3 END,"
    " callback_next_ms = CASE WHEN $2::int = 1 THEN 0 WHEN $3::bigint > 0 THEN $3 ELSE 0 END"
    " WHERE token = $1 AND callback_state = 1";
static const char SQL_NEXT[] =
    "SELECT coalesce(min(callback_next_ms), 0) FROM submissions WHERE callback_state = 1";
static const char SQL_SIZE[] =
    "SELECT pg_total_relation_size('submissions') + coalesce(pg_total_relation_size("
    "to_regclass('functions')), 0) + coalesce(pg_total_relation_size("
    "to_regclass('function_versions')), 0) + coalesce(pg_total_relation_size("
    "to_regclass('function_artifacts')), 0) + coalesce(pg_total_relation_size("
    "to_regclass('function_artifact_chunks')), 0)";

#define FN_COLS                                                                                    \
        "f.name, f.current, f.latest, f.created_ms, f.updated_ms, v.version, v.created_ms,"        \
        " v.artifact, v.spec FROM functions f JOIN function_versions v ON v.name = f.name AND"     \
        " v.version = f.current"
#define FNV_COLS "name, version, created_ms, artifact, spec FROM function_versions"

static const char SQL_FN_GET[] = "SELECT " FN_COLS " WHERE f.name = $1";
static const char SQL_FN_LIST[] = "SELECT " FN_COLS " ORDER BY f.name COLLATE \"C\"";
static const char SQL_FN_VERSION[] =
    "SELECT " FNV_COLS " WHERE name = $1 AND version = CASE WHEN $2::int = 0 THEN"
    " (SELECT current FROM functions WHERE name = $1) ELSE $2::int END";
static const char SQL_FN_VERSIONS[] = "SELECT " FNV_COLS " WHERE name = $1 ORDER BY version DESC";
static const char SQL_FN_ADD[] =
    "INSERT INTO functions (name, current, latest, created_ms, updated_ms)"
    " VALUES ($1, 0, 0, $2, $2) ON CONFLICT (name) DO NOTHING";
/* the row locked: two deploys of one function take their turns */
static const char SQL_FN_LATEST[] = "SELECT latest FROM functions WHERE name = $1 FOR UPDATE";
static const char SQL_FN_VADD[] =
    "INSERT INTO function_versions (name, version, created_ms, artifact, spec)"
    " VALUES ($1, $2, $3, $4, $5)";
static const char SQL_FN_SETNEW[] =
    "UPDATE functions SET current = $2, latest = $2, updated_ms = $3 WHERE name = $1";
static const char SQL_FN_PRUNE[] =
    "DELETE FROM function_versions WHERE name = $1 AND version <>"
    " (SELECT current FROM functions WHERE name = $1) AND version NOT IN"
    " (SELECT version FROM function_versions WHERE name = $1 ORDER BY version DESC LIMIT $2)";
static const char SQL_FN_SETCUR[] =
    "UPDATE functions SET current = $2, updated_ms = $3 WHERE name = $1 AND"
    " EXISTS (SELECT 1 FROM function_versions WHERE name = $1 AND version = $2)";
static const char SQL_FN_DELV[] = "DELETE FROM function_versions WHERE name = $1";
static const char SQL_FN_DEL[] = "DELETE FROM functions WHERE name = $1";
static const char SQL_FN_REFS[] = "SELECT count(*) FROM function_versions WHERE artifact = $1";

typedef struct pg_store {
        store_t base; /* first: a store_t * is a pg_store_t * */
        PGconn *conn;
        char where[160];            /* "postgresql HOST:PORT/DB" for messages (no password) */
        char node[STORE_OWNER_MAX]; /* the node id whose session lock this connection holds */
        bool in_tx;                 /* a transaction of ours is open: no reconnecting inside it */
} pg_store_t;

static pg_store_t *PG(store_t *st)
{
        return (pg_store_t *)st;
}

/* ---- parameters: text, or NULL ---- */

typedef struct params {
        int n;
        const char *v[MAXP];
        char num[MAXP][24];
} params_t;

static void p_s(params_t *p, const char *s)
{
        p->v[p->n++] = s;
}

static void p_i(params_t *p, int64_t x)
{
        snprintf(p->num[p->n], sizeof(p->num[p->n]), "%lld", (long long)x);
        p->v[p->n] = p->num[p->n];
        p->n++;
}

/* ---- errors ---- */

static int errno_of(const char *state)
{
        if (!state)
                return EIO;
        if (strcmp(state, "23505") == 0) /* unique_violation */
                return EEXIST;
        if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
            strcmp(state, "55P03") == 0) /* serialization, deadlock, lock not available */
                return EBUSY;
        if (strcmp(state, "53100") == 0) /* disk full */
                return ENOSPC;
        if (strcmp(state, "53200") == 0)
                return ENOMEM;
        if (strcmp(state, "42501") == 0 || strncmp(state, "28", 2) == 0)
                return EACCES;
        if (strncmp(state, "08", 2) == 0)
                return ECONNRESET;
        return EIO;
}

/* libpq's message on one line (its trailing newline cut). */
static void one_line(const char *in, char *out, size_t size)
{
        snprintf(out, size, "%s", in && *in ? in : "unknown error");
        for (char *c = out; *c; c++)
                if (*c == '\n')
                        *c = c[1] ? ' ' : '\0';
}

static int pg_fail(pg_store_t *s, const PGresult *res, rc_err_t *err, const char *what)
{
        char msg[300];
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        one_line(res ? PQresultErrorMessage(res) : PQerrorMessage(s->conn), msg, sizeof(msg));
        if (!*msg || strcmp(msg, "unknown error") == 0)
                one_line(PQerrorMessage(s->conn), msg, sizeof(msg));
        int code = errno_of(state);
        if (!state && PQstatus(s->conn) != CONNECTION_OK)
                code = ECONNRESET;
        return rc_err_set(err, code, "store %s: %s: %s", s->where, what, msg);
}

/* The connection again after it broke (the server restarted): the node's session lock is taken
 * again with it. Not inside a transaction: its statements so far are gone with the old
 * connection, so the rest must fail with it rather than run on their own. */
static void reconnect(pg_store_t *s)
{
        if (PQstatus(s->conn) == CONNECTION_OK || s->in_tx)
                return;
        PQreset(s->conn);
        if (PQstatus(s->conn) == CONNECTION_OK && s->node[0]) {
                char cls[16];
                snprintf(cls, sizeof(cls), "%d", LOCK_NODE_CLASS);
                const char *v[2] = {cls, s->node};
                PGresult *r =
                    PQexecParams(s->conn, "SELECT pg_try_advisory_lock($1::int, hashtext($2))", 2,
                                 NULL, v, NULL, NULL, 0);
                PQclear(r);
        }
}

/* Run sql with p's parameters: 0 and *out (PQclear it; NULL: not wanted), or -errno. */
static int ex(pg_store_t *s, const char *sql, const params_t *p, PGresult **out, rc_err_t *err,
              const char *what)
{
        if (out)
                *out = NULL;
        reconnect(s);
        PGresult *res =
            PQexecParams(s->conn, sql, p ? p->n : 0, NULL, p ? p->v : NULL, NULL, NULL, 0);
        ExecStatusType t = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
        if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK) {
                int r = pg_fail(s, res, err, what);
                PQclear(res);
                return r;
        }
        if (out)
                *out = res;
        else
                PQclear(res);
        return 0;
}

/* The rows a statement changed, or -errno. */
static int changes(pg_store_t *s, const char *sql, const params_t *p, rc_err_t *err,
                   const char *what)
{
        PGresult *res = NULL;
        int r = ex(s, sql, p, &res, err, what);
        if (r < 0)
                return r;
        r = atoi(PQcmdTuples(res));
        PQclear(res);
        return r;
}

/* One integer (the first column of the first row; 0 when there is none). */
static int one_int64(pg_store_t *s, const char *sql, const params_t *p, int64_t *out, rc_err_t *err,
                     const char *what)
{
        PGresult *res = NULL;
        int r = ex(s, sql, p, &res, err, what);
        if (r < 0)
                return r;
        *out = PQntuples(res) > 0 && !PQgetisnull(res, 0, 0)
                   ? strtoll(PQgetvalue(res, 0, 0), NULL, 10)
                   : 0;
        PQclear(res);
        return 0;
}

static int begin(pg_store_t *s, const char *how, rc_err_t *err)
{
        int r = ex(s, how, NULL, NULL, err, how);
        s->in_tx = r == 0;
        return r;
}

static int commit(pg_store_t *s, rc_err_t *err)
{
        int r = ex(s, "COMMIT", NULL, NULL, err, "COMMIT");
        s->in_tx = false;
        return r;
}

static void rollback(pg_store_t *s)
{
        s->in_tx = false;
        if (PQstatus(s->conn) == CONNECTION_OK && PQtransactionStatus(s->conn) != PQTRANS_IDLE) {
                PGresult *r = PQexec(s->conn, "ROLLBACK");
                PQclear(r);
        }
}

/* ---- rows ---- */

static int64_t v64(const PGresult *r, int row, int col)
{
        return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static char *vdup(const PGresult *r, int row, int col, bool *oom)
{
        if (PQgetisnull(r, row, col))
                return NULL;
        char *d = strdup(PQgetvalue(r, row, col));
        if (!d)
                *oom = true;
        return d;
}

static int read_row(const PGresult *r, int row, submission_t *out, int64_t *seq, rc_err_t *err)
{
        bool oom = false;
        memset(out, 0, sizeof(*out));
        snprintf(out->token, sizeof(out->token), "%s", PQgetvalue(r, row, 0));
        snprintf(out->dialect, sizeof(out->dialect), "%s", PQgetvalue(r, row, 1));
        out->state = (sub_state_t)v64(r, row, 2);
        out->attempts = (int)v64(r, row, 3);
        out->created_ms = v64(r, row, 4);
        out->started_ms = v64(r, row, 5);
        out->finished_ms = v64(r, row, 6);
        out->request = vdup(r, row, 7, &oom);
        if (!out->request && !oom && !(out->request = strdup("")))
                oom = true;
        out->result = vdup(r, row, 8, &oom);
        out->error = vdup(r, row, 9, &oom);
        out->callback_url = vdup(r, row, 10, &oom);
        out->callback_state = (cb_state_t)v64(r, row, 11);
        out->callback_attempts = (int)v64(r, row, 12);
        out->callback_next_ms = v64(r, row, 13);
        snprintf(out->lease_owner, sizeof(out->lease_owner), "%s", PQgetvalue(r, row, 14));
        out->lease_expiry_ms = v64(r, row, 15);
        if (seq)
                *seq = v64(r, row, 16);
        if (oom) {
                store_sub_clear(out);
                return rc_err_set(err, ENOMEM, "store: out of memory reading a submission");
        }
        return 0;
}

/* Every row of res (COLS) handed to fn, the result cleared first: fn may call the store.
 * The number given to fn; *stopped when fn said stop; *last_ms, *last_seq the last row's. */
static int walk(PGresult *res, store_each_fn fn, void *ud, bool *stopped, int64_t *last_ms,
                int64_t *last_seq, rc_err_t *err)
{
        int n = PQntuples(res);
        submission_t *v = n ? calloc((size_t)n, sizeof(*v)) : NULL;
        if (n && !v) {
                PQclear(res);
                return rc_err_set(err, ENOMEM, "store: out of memory");
        }
        int r = 0;
        for (int i = 0; i < n && r == 0; i++) {
                int64_t seq = 0;
                r = read_row(res, i, &v[i], &seq, err);
                if (r == 0 && last_ms) {
                        *last_ms = v[i].created_ms;
                        *last_seq = seq;
                }
        }
        PQclear(res);
        int given = 0;
        for (int i = 0; i < n; i++) {
                if (r == 0) {
                        given++;
                        if (fn(&v[i], ud) != 0) {
                                r = 1;
                                if (stopped)
                                        *stopped = true;
                        }
                }
                store_sub_clear(&v[i]);
        }
        free(v);
        return r < 0 ? r : given;
}

/* ---- open, migrate ---- */

int store_pg_latest(void)
{
        return MIGRATIONS[NMIGRATIONS - 1].version;
}

/* The version the database holds, in the open transaction (0: no store there yet). */
static int db_version(pg_store_t *s, rc_err_t *err)
{
        int64_t has = 0;
        int r = one_int64(s,
                          "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"
                          " AND tablename = 'schema_migrations'",
                          NULL, &has, err, "reading the schema");
        if (r < 0)
                return r;
        if (!has) {
                int64_t other = 0;
                r = one_int64(s,
                              "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()",
                              NULL, &other, err, "reading the schema");
                if (r < 0)
                        return r;
                if (other > 0)
                        return rc_err_set(err, EINVAL,
                                          "store %s: a database, but not a runcell submission "
                                          "store (it has tables and no schema_migrations)",
                                          s->where);
                return 0;
        }
        int64_t v = 0;
        r = one_int64(s, "SELECT coalesce(max(version), 0) FROM schema_migrations", NULL, &v, err,
                      "reading the schema version");
        return r < 0 ? r : (int)v;
}

/* Each missing migration in its own transaction, serialized across nodes by an advisory lock
 * (PostgreSQL's DDL is transactional: a migration is all or nothing). */
static int migrate(pg_store_t *s, rc_err_t *err)
{
        for (;;) {
                params_t p = {0};
                p_i(&p, LOCK_CLASS);
                int r = begin(s, "BEGIN", err);
                if (r == 0)
                        r = ex(s, "SELECT pg_advisory_xact_lock($1::int, 1)", &p, NULL, err,
                               "locking the schema");
                int v = r < 0 ? r : db_version(s, err);
                if (v < 0) {
                        rollback(s);
                        return v;
                }
                if (v > store_pg_latest()) {
                        rollback(s);
                        return rc_err_set(err, EPROTO,
                                          "store %s: schema version %d is newer than this "
                                          "runcell knows (%d); use a newer runcell or another "
                                          "database",
                                          s->where, v, store_pg_latest());
                }
                const migration_t *m = NULL;
                for (int i = 0; i < NMIGRATIONS; i++)
                        if (MIGRATIONS[i].version > v) {
                                m = &MIGRATIONS[i];
                                break;
                        }
                if (!m)
                        return commit(s, err);
                char what[96];
                snprintf(what, sizeof(what), "migration %d (%s)", m->version, m->name);
                if (v == 0)
                        r = ex(s,
                               "CREATE TABLE IF NOT EXISTS schema_migrations ("
                               " version INTEGER PRIMARY KEY NOT NULL,"
                               " name TEXT NOT NULL,"
                               " applied_ms BIGINT NOT NULL)",
                               NULL, NULL, err, what);
                if (r == 0) {
                        /* several statements: the simple query protocol, no parameters */
                        PGresult *res = PQexec(s->conn, m->sql);
                        if (PQresultStatus(res) != PGRES_COMMAND_OK)
                                r = pg_fail(s, res, err, what);
                        PQclear(res);
                }
                if (r == 0) {
                        params_t q = {0};
                        p_i(&q, m->version);
                        p_s(&q, m->name);
                        p_i(&q, store_now_ms());
                        r = ex(s,
                               "INSERT INTO schema_migrations (version, name, applied_ms)"
                               " VALUES ($1, $2, $3)",
                               &q, NULL, err, what);
                }
                if (r == 0)
                        r = commit(s, err);
                if (r < 0) {
                        rollback(s);
                        return r;
                }
        }
}

static void pg_close(store_t *st)
{
        pg_store_t *s = PG(st);
        if (s->conn)
                PQfinish(s->conn); /* the session's advisory locks go with it */
        free(s);
}

static const store_ops_t PG_OPS;

int store_open_pg(const char *conninfo, const store_opts_t *o, store_t **out, rc_err_t *err)
{
        *out = NULL;
        if (!conninfo || !*conninfo)
                return rc_err_set(err, EINVAL, "store: no PostgreSQL connection string");
        pg_store_t *s = calloc(1, sizeof(*s));
        if (!s)
                return rc_err_set(err, ENOMEM, "store: out of memory");
        s->base.ops = &PG_OPS;
        s->base.opts = store_opts_defaults(o);
        snprintf(s->where, sizeof(s->where), "postgresql");
        s->conn = PQconnectdb(conninfo);
        if (!s->conn) {
                free(s);
                return rc_err_set(err, ENOMEM, "store: out of memory connecting to PostgreSQL");
        }
        int r = 0;
        if (PQstatus(s->conn) != CONNECTION_OK) {
                char msg[300];
                one_line(PQerrorMessage(s->conn), msg, sizeof(msg));
                r = rc_err_set(err, ECONNREFUSED, "store postgresql: cannot connect: %s", msg);
                goto fail;
        }
        snprintf(s->where, sizeof(s->where), "postgresql %.60s:%.8s/%.60s", PQhost(s->conn),
                 PQport(s->conn), PQdb(s->conn));
        /* errors and notices in English-independent form are not needed: keep notices quiet */
        r = ex(s, "SET client_min_messages = warning", NULL, NULL, err, "setting up the session");
        if (r == 0)
                r = migrate(s, err);
        if (r < 0)
                goto fail;
        *out = &s->base;
        return 0;
fail:
        pg_close(&s->base);
        return r;
}

/* ---- operations ---- */

static int pg_schema_version(store_t *st)
{
        int64_t v = 0;
        int r = one_int64(PG(st), "SELECT coalesce(max(version), 0) FROM schema_migrations", NULL,
                          &v, NULL, "schema version");
        return r < 0 ? r : (int)v;
}

/* The n oldest done submissions retention may delete; the number deleted. */
static int prune_oldest(pg_store_t *s, int64_t n, rc_err_t *err)
{
        params_t p = {0};
        p_i(&p, n);
        return changes(s, SQL_PRUNE_OLDEST, &p, err, "deleting the oldest done submissions");
}

/* In the open transaction: at most max_count submissions, or -ENOSPC. */
static int keep_count(pg_store_t *s, rc_err_t *err)
{
        int64_t max = s->base.opts.max_count, n = 0;
        if (max <= 0)
                return 0;
        params_t p = {0};
        p_i(&p, LOCK_CLASS);
        int r = ex(s, "SELECT pg_advisory_xact_lock($1::int, 2)", &p, NULL, err,
                   "locking for retention");
        if (r == 0)
                r = one_int64(s, SQL_COUNT_ALL, NULL, &n, err, "counting submissions");
        if (r < 0 || n <= max)
                return r;
        r = prune_oldest(s, n - max, err);
        if (r < 0)
                return r;
        if (n - r > max)
                return rc_err_set(err, ENOSPC,
                                  "store %s: full: %lld submissions (at most %lld) and no more "
                                  "done ones to delete",
                                  s->where, (long long)(n - r), (long long)max);
        return 0;
}

static int pg_lease(store_t *stp, const char *token, const char *owner, int64_t expiry_ms,
                    int64_t now_ms, int *attempts, rc_err_t *err);

static int pg_insert(store_t *stp, const submission_t *subs, size_t n, int64_t now_ms,
                     rc_err_t *err)
{
        pg_store_t *s = PG(stp);
        int r = begin(s, "BEGIN", err);
        for (size_t i = 0; i < n && r >= 0; i++) {
                params_t p = {0};
                p_s(&p, subs[i].token);
                p_s(&p, subs[i].dialect);
                p_i(&p, subs[i].created_ms > 0 ? subs[i].created_ms : now_ms);
                p_s(&p, subs[i].request);
                p_s(&p, subs[i].callback_url);
                r = ex(s, SQL_INSERT, &p, NULL, err, "inserting a submission");
                if (r == -EEXIST)
                        r = rc_err_set(err, EEXIST, "store %s: submission %s already exists",
                                       s->where, subs[i].token);
                /* in the insert's transaction: no other node's claim sees it queued */
                int attempts = 0;
                if (r >= 0 && subs[i].lease_owner[0] &&
                    (r = pg_lease(stp, subs[i].token, subs[i].lease_owner, subs[i].lease_expiry_ms,
                                  now_ms, &attempts, err)) == 0)
                        r = rc_err_set(err, EIO, "store %s: submission %s not leased as inserted",
                                       s->where, subs[i].token);
        }
        if (r >= 0)
                r = keep_count(s, err);
        if (r >= 0)
                r = commit(s, err);
        if (r < 0) {
                rollback(s);
                return r;
        }
        return 0;
}

static int pg_get(store_t *stp, const char *token, submission_t *out, rc_err_t *err)
{
        pg_store_t *s = PG(stp);
        params_t p = {0};
        p_s(&p, token);
        PGresult *res = NULL;
        int r = ex(s, SQL_GET, &p, &res, err, "reading a submission");
        if (r < 0)
                return r;
        r = PQntuples(res) > 0 ? (read_row(res, 0, out, NULL, err) < 0 ? -ENOMEM : 1) : 0;
        PQclear(res);
        return r;
}

static int pg_lease(store_t *stp, const char *token, const char *owner, int64_t expiry_ms,
                    int64_t now_ms, int *attempts, rc_err_t *err)
{
        pg_store_t *s = PG(stp);
        params_t p = {0};
        p_s(&p, token);
        p_s(&p, owner);
        p_i(&p, expiry_ms);
        p_i(&p, now_ms);
        PGresult *res = NULL;
        int r = ex(s, SQL_LEASE, &p, &res, err, "taking a lease");
        if (r < 0)
                return r;
        r = PQntuples(res) > 0;
        if (r)
                *attempts = (int)v64(res, 0, 0);
        PQclear(res);
        return r;
}

static int pg_claim(store_t *stp, const char *dialect, const char *owner, int64_t expiry_ms,
                    int64_t now_ms, submission_t *out, rc_err_t *err)
{
        pg_store_t *s = PG(stp);
        params_t p = {0};
        p_s(&p, dialect);
        p_s(&p, owner);
        p_i(&p, now_ms);
        p_i(&p, expiry_ms);
        p_i(&p, s->base.opts.max_attempts);
        PGresult *res = NULL;
        int r = ex(s, SQL_CLAIM, &p, &res, err, "claiming a submission");
        if (r < 0)
                return r;
        r = PQntuples(res) > 0 ? (read_row(res, 0, out, NULL, err) < 0 ? -ENOMEM : 1) : 0;
        PQclear(res);
        return r;
}

static int pg_renew(store_t *stp, const char *owner, int64_t expiry_ms, rc_err_t *err)
{
        params_t p = {0};
        p_s(&p, owner);
        p_i(&p, expiry_ms);
        return changes(PG(stp), SQL_RENEW, &p, err, "renewing leases");
}

static int pg_release(store_t *stp, const char *token, rc_err_t *err)
{
        params_t p = {0};
        p_s(&p, token);
        return changes(PG(stp), SQL_RELEASE, &p, err, "releasing a lease");
}

static int pg_finish(store_t *stp, const char *token, const char *owner, const char *result,
                     int64_t now_ms, rc_err_t *err)
{
        params_t p = {0};
        p_s(&p, token);
        p_s(&p, result);
        p_i(&p, now_ms);
        p_s(&p, owner ? owner : "");
        return changes(PG(stp), SQL_FINISH, &p, err, "storing a result");
}

static int pg_recover(store_t *stp, const char *owner, int64_t now_ms, rc_err_t *err)
{
        pg_store_t *s = PG(stp);
        int r = begin(s, "BEGIN", err);
        if (r < 0)
                return r;
        params_t p = {0};
        p_s(&p, owner);
        p_i(&p, now_ms);
        p_i(&p, s->base.opts.max_attempts);
        int given_up = changes(s, SQL_RECOVER_GIVEUP, &p, err, "giving up interrupted submissions");
        int requeued = -1;
        if (given_up >= 0) {
                p.n = 2;
                requeued = changes(s, SQL_RECOVER_REQUEUE, &p, err,
                                   "queueing interrupted submissions again");
        }
        if (requeued >= 0)
                r = commit(s, err);
        if (given_up < 0 || requeued < 0 || r < 0) {
                rollback(s);
                return given_up < 0 ? given_up : requeued < 0 ? requeued : r;
        }
        return given_up + requeued;
}

static int pg_each(store_t *stp, const char *dialect, sub_state_t state, store_each_fn fn, void *ud,
                   rc_err_t *err)
{
        pg_store_t *s = PG(stp);
        int64_t after_ms = INT64_MIN, after_seq = INT64_MIN;
        int total = 0;
        for (;;) {
                params_t p = {0};
                p_s(&p, dialect);
                p_i(&p, (int)state);
                p_i(&p, after_ms);
                p_i(&p, after_seq);
                p_i(&p, EACH_BATCH);
                PGresult *res = NULL;
                int r = ex(s, SQL_EACH, &p, &res, err, "reading submissions");
                if (r < 0)
                        return r;
                bool last = PQntuples(res) < EACH_BATCH, stopped = false;
                r = walk(res, fn, ud, &stopped, &after_ms, &after_seq, err);
                if (r < 0)
                        return r;
                total += r;
                if (stopped || last)
                        return total;
        }
}

static int pg_page(store_t *stp, const char *dialect, int64_t offset, int64_t limit,
                   store_each_fn fn, void *ud, int64_t *total, rc_err_t *err)
{
        pg_store_t *s = PG(stp);
        /* one snapshot for the count and the rows */
        int r = begin(s, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err);
        params_t p = {0};
        p_s(&p, dialect);
        if (r == 0)
                r = one_int64(s, SQL_COUNT, &p, total, err, "counting submissions");
        PGresult *res = NULL;
        if (r == 0 && limit > 0) {
                p_i(&p, offset);
                p_i(&p, limit);
                r = ex(s, SQL_PAGE, &p, &res, err, "reading a page of submissions");
        }
        if (r == 0)
                r = commit(s, err);
        if (r < 0) {
                rollback(s);
                PQclear(res);
                return r;
        }
        return res ? walk(res, fn, ud, NULL, NULL, NULL, err) : 0;
}

static int pg_delete(store_t *stp, const char *token, rc_err_t *err)
{
        params_t p = {0};
        p_s(&p, token);
        return changes(PG(stp), SQL_DELETE, &p, err, "deleting a submission");
}

static int pg_prune(store_t *stp, int64_t now_ms, rc_err_t *err)
{
        pg_store_t *s = PG(stp);
        const store_opts_t *o = &s->base.opts;
        int r = begin(s, "BEGIN", err);
        int deleted = 0;
        if (r >= 0 && o->max_age_s > 0) {
                params_t p = {0};
                p_i(&p, now_ms - o->max_age_s * 1000);
                r = changes(s, SQL_PRUNE_AGE, &p, err, "deleting old submissions");
                if (r > 0)
                        deleted += r;
        }
        if (r >= 0 && o->max_count > 0) {
                params_t p = {0};
                p_i(&p, LOCK_CLASS);
                int64_t n = 0;
                r = ex(s, "SELECT pg_advisory_xact_lock($1::int, 2)", &p, NULL, err,
                       "locking for retention");
                if (r >= 0)
                        r = one_int64(s, SQL_COUNT_ALL, NULL, &n, err, "counting submissions");
                if (r >= 0 && n > o->max_count) {
                        r = prune_oldest(s, n - o->max_count, err);
                        if (r > 0)
                                deleted += r;
                }
        }
        if (r >= 0)
                r = commit(s, err);
        if (r < 0) {
                rollback(s);
                return r;
        }
        return deleted;
}

static int pg_callbacks_due(store_t *stp, int64_t now_ms, int limit, store_each_fn fn, void *ud,
                            rc_err_t *err)
{
        pg_store_t *s = PG(stp);
        params_t p = {0};
        p_i(&p, now_ms);
        p_i(&p, limit);
        p_i(&p, now_ms < INT64_MAX - STORE_PG_CALLBACK_CLAIM_MS
                    ? now_ms + STORE_PG_CALLBACK_CLAIM_MS
                    : INT64_MAX);
        PGresult *res = NULL;
        int r = ex(s, SQL_DUE, &p, &res, err, "claiming the callbacks due");
        return r < 0 ? r : walk(res, fn, ud, NULL, NULL, NULL, err);
}

static int pg_callback_tried(store_t *stp, const char *token, bool delivered, int64_t next_ms,
                             rc_err_t *err)
{
        params_t p = {0};
        p_s(&p, token);
        p_i(&p, delivered ? 1 : 0);
        p_i(&p, next_ms > 0 ? next_ms : 0);
        return changes(PG(stp), SQL_TRIED, &p, err, "recording a callback's try");
}

static int64_t pg_callback_next(store_t *stp, rc_err_t *err)
{
        int64_t v = 0;
        int r = one_int64(PG(stp), SQL_NEXT, NULL, &v, err, "reading the next callback's time");
        return r < 0 ? r : v;
}

static int64_t pg_size(store_t *stp)
{
        int64_t v = 0;
        int r = one_int64(PG(stp), SQL_SIZE, NULL, &v, NULL, "the store's size");
        return r < 0 ? r : v;
}

/* The node's id held for as long as this connection lives: 1 taken, 0 another live
 * connection holds it. */
static int pg_node_register(store_t *stp, const char *node, rc_err_t *err)
{
        pg_store_t *s = PG(stp);
        params_t p = {0};
        p_i(&p, LOCK_NODE_CLASS);
        p_s(&p, node);
        int64_t got = 0;
        int r = one_int64(s, "SELECT pg_try_advisory_lock($1::int, hashtext($2))::int", &p, &got,
                          err, "registering the node id");
        if (r < 0)
                return r;
        if (got)
                snprintf(s->node, sizeof(s->node), "%s", node);
        return got ? 1 : 0;
}

/* ---- functions ---- */

static int read_version(const PGresult *r, int row, fn_version_t *v)
{
        memset(v, 0, sizeof(*v));
        snprintf(v->name, sizeof(v->name), "%s", PQgetvalue(r, row, 0));
        v->version = (int)v64(r, row, 1);
        v->created_ms = v64(r, row, 2);
        snprintf(v->artifact, sizeof(v->artifact), "%s", PQgetvalue(r, row, 3));
        v->spec = strdup(PQgetvalue(r, row, 4));
        return v->spec ? 0 : -ENOMEM;
}

static int read_record(const PGresult *r, int row, fn_record_t *f)
{
        memset(f, 0, sizeof(*f));
        snprintf(f->name, sizeof(f->name), "%s", PQgetvalue(r, row, 0));
        f->current = (int)v64(r, row, 1);
        f->latest = (int)v64(r, row, 2);
        f->created_ms = v64(r, row, 3);
        f->updated_ms = v64(r, row, 4);
        fn_version_t *v = &f->cur;
        snprintf(v->name, sizeof(v->name), "%s", f->name);
        v->version = (int)v64(r, row, 5);
        v->created_ms = v64(r, row, 6);
        snprintf(v->artifact, sizeof(v->artifact), "%s", PQgetvalue(r, row, 7));
        v->spec = strdup(PQgetvalue(r, row, 8));
        return v->spec ? 0 : -ENOMEM;
}

static int pg_fn_put(store_t *stp, const char *name, const char *artifact, const char *spec,
                     int keep, int64_t now_ms, int *version, rc_err_t *err)
{
        pg_store_t *s = PG(stp);
        int r = begin(s, "BEGIN", err);
        params_t p = {0};
        p_s(&p, name);
        p_i(&p, now_ms);
        int created = r < 0 ? r : changes(s, SQL_FN_ADD, &p, err, "adding a function");
        int64_t latest = 0;
        if (created >= 0) {
                p.n = 1;
                r = one_int64(s, SQL_FN_LATEST, &p, &latest, err,
                              "reading a function's latest version");
        } else {
                r = created;
        }
        if (r >= 0) {
                params_t q = {0};
                p_s(&q, name);
                p_i(&q, latest + 1);
                p_i(&q, now_ms);
                p_s(&q, artifact);
                p_s(&q, spec);
                r = ex(s, SQL_FN_VADD, &q, NULL, err, "adding a function's version");
        }
        if (r >= 0) {
                params_t q = {0};
                p_s(&q, name);
                p_i(&q, latest + 1);
                p_i(&q, now_ms);
                r = ex(s, SQL_FN_SETNEW, &q, NULL, err, "making a version current");
        }
        if (r >= 0) {
                params_t q = {0};
                p_s(&q, name);
                p_i(&q, keep);
                r = ex(s, SQL_FN_PRUNE, &q, NULL, err, "deleting a function's old versions");
        }
        if (r >= 0)
                r = commit(s, err);
        if (r < 0) {
                rollback(s);
                return r;
        }
        *version = (int)latest + 1;
        return created > 0 ? 1 : 0;
}

static int pg_fn_get(store_t *stp, const char *name, fn_record_t *out, rc_err_t *err)
{
        params_t p = {0};
        p_s(&p, name);
        PGresult *res = NULL;
        int r = ex(PG(stp), SQL_FN_GET, &p, &res, err, "reading a function");
        if (r < 0)
                return r;
        r = PQntuples(res) > 0 ? (read_record(res, 0, out) < 0 ? -ENOMEM : 1) : 0;
        PQclear(res);
        return r;
}

static int pg_fn_version(store_t *stp, const char *name, int version, fn_version_t *out,
                         rc_err_t *err)
{
        params_t p = {0};
        p_s(&p, name);
        p_i(&p, version);
        PGresult *res = NULL;
        int r = ex(PG(stp), SQL_FN_VERSION, &p, &res, err, "reading a function's version");
        if (r < 0)
                return r;
        r = PQntuples(res) > 0 ? (read_version(res, 0, out) < 0 ? -ENOMEM : 1) : 0;
        PQclear(res);
        return r;
}

static int pg_fn_list(store_t *stp, store_fn_each_fn fn, void *ud, rc_err_t *err)
{
        PGresult *res = NULL;
        int r = ex(PG(stp), SQL_FN_LIST, NULL, &res, err, "listing the functions");
        if (r < 0)
                return r;
        int n = PQntuples(res);
        fn_record_t *rows = n ? calloc((size_t)n, sizeof(*rows)) : NULL;
        if (n && !rows)
                r = rc_err_set(err, ENOMEM, "out of memory");
        for (int i = 0; i < n && r == 0; i++)
                if (read_record(res, i, &rows[i]) < 0)
                        r = rc_err_set(err, ENOMEM, "out of memory");
        PQclear(res);
        int given = 0;
        for (int i = 0; rows && i < n; i++) {
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

static int pg_fn_versions(store_t *stp, const char *name, store_fnv_each_fn fn, void *ud,
                          rc_err_t *err)
{
        params_t p = {0};
        p_s(&p, name);
        PGresult *res = NULL;
        int r = ex(PG(stp), SQL_FN_VERSIONS, &p, &res, err, "listing a function's versions");
        if (r < 0)
                return r;
        int n = PQntuples(res);
        fn_version_t *rows = n ? calloc((size_t)n, sizeof(*rows)) : NULL;
        if (n && !rows)
                r = rc_err_set(err, ENOMEM, "out of memory");
        for (int i = 0; i < n && r == 0; i++)
                if (read_version(res, i, &rows[i]) < 0)
                        r = rc_err_set(err, ENOMEM, "out of memory");
        PQclear(res);
        int given = 0;
        for (int i = 0; rows && i < n; i++) {
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

static int pg_fn_set_current(store_t *stp, const char *name, int version, int64_t now_ms,
                             rc_err_t *err)
{
        params_t p = {0};
        p_s(&p, name);
        p_i(&p, version);
        p_i(&p, now_ms);
        return changes(PG(stp), SQL_FN_SETCUR, &p, err, "making a version current");
}

static int pg_fn_delete(store_t *stp, const char *name, rc_err_t *err)
{
        pg_store_t *s = PG(stp);
        int r = begin(s, "BEGIN", err);
        params_t p = {0};
        p_s(&p, name);
        if (r >= 0)
                r = ex(s, SQL_FN_DELV, &p, NULL, err, "deleting a function's versions");
        int gone = r < 0 ? r : changes(s, SQL_FN_DEL, &p, err, "deleting a function");
        if (gone < 0)
                r = gone;
        if (r >= 0)
                r = commit(s, err);
        if (r < 0) {
                rollback(s);
                return r;
        }
        return gone > 0 ? 1 : 0;
}

static int pg_fn_artifact_refs(store_t *stp, const char *artifact, rc_err_t *err)
{
        params_t p = {0};
        p_s(&p, artifact);
        int64_t n = 0;
        int r = one_int64(PG(stp), SQL_FN_REFS, &p, &n, err, "counting an artifact's versions");
        return r < 0 ? r : (int)n;
}

/* ---- blobs (functions' artifacts, for every node) ---- */

/* Inserted, or there already (then its age starts again, and the insert says 0: (xmax = 0) is
 * true only of a row this statement inserted). */
static const char SQL_BLOB_ADD[] =
    "INSERT INTO function_artifacts (sha, bytes, chunks, created_ms) VALUES ($1, $2, $3, $4)"
    " ON CONFLICT (sha) DO UPDATE SET created_ms = EXCLUDED.created_ms"
    " RETURNING (xmax = 0)::int";
static const char SQL_BLOB_CHUNK_ADD[] =
    "INSERT INTO function_artifact_chunks (sha, idx, data) VALUES ($1, $2, $3)";
static const char SQL_BLOB_HEAD[] = "SELECT bytes, chunks FROM function_artifacts WHERE sha = $1";
static const char SQL_BLOB_CHUNK[] =
    "SELECT data FROM function_artifact_chunks WHERE sha = $1 AND idx = $2";
static const char SQL_BLOB_PRUNE[] =
    "DELETE FROM function_artifacts a WHERE a.created_ms < $1 AND NOT EXISTS"
    " (SELECT 1 FROM function_versions v WHERE v.artifact = a.sha)";

static int pg_blob_put(store_t *stp, const char *sha, int fd, int64_t len, int64_t now_ms,
                       rc_err_t *err)
{
        pg_store_t *s = PG(stp);
        int64_t nchunks = (len + STORE_BLOB_CHUNK - 1) / STORE_BLOB_CHUNK;
        if (nchunks > INT32_MAX)
                return rc_err_set(err, EFBIG, "a blob of %lld bytes", (long long)len);
        int r = begin(s, "BEGIN", err);
        params_t p = {0};
        p_s(&p, sha);
        p_i(&p, len);
        p_i(&p, nchunks);
        p_i(&p, now_ms);
        int64_t inserted = 0;
        if (r == 0)
                r = one_int64(s, SQL_BLOB_ADD, &p, &inserted, err, "adding a blob");
        char *buf = r == 0 && inserted && len > 0 ? malloc(STORE_BLOB_CHUNK) : NULL;
        if (r == 0 && inserted && len > 0 && !buf)
                r = rc_err_set(err, ENOMEM, "out of memory");
        for (int64_t i = 0; r == 0 && inserted && i < nchunks; i++) {
                int64_t off = i * STORE_BLOB_CHUNK;
                size_t want = (size_t)(len - off < STORE_BLOB_CHUNK ? len - off : STORE_BLOB_CHUNK);
                size_t got = 0;
                while (got < want) {
                        ssize_t n = pread(fd, buf + got, want - got, (off_t)(off + (int64_t)got));
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0) {
                                r = rc_err_set(err, n < 0 ? errno : EIO,
                                               "reading the blob at %lld: %s",
                                               (long long)(off + (int64_t)got),
                                               n < 0 ? strerror(errno) : "it is shorter");
                                break;
                        }
                        got += (size_t)n;
                }
                if (r < 0)
                        break;
                char idx[24];
                snprintf(idx, sizeof(idx), "%lld", (long long)i);
                const char *v[3] = {sha, idx, buf};
                const int lens[3] = {0, 0, (int)want};
                const int fmts[3] = {0, 0, 1}; /* the chunk in binary */
                PGresult *res =
                    PQexecParams(s->conn, SQL_BLOB_CHUNK_ADD, 3, NULL, v, lens, fmts, 0);
                if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
                        r = pg_fail(s, res, err, "adding a blob's chunk");
                PQclear(res);
        }
        free(buf);
        if (r == 0)
                r = commit(s, err);
        if (r < 0) {
                rollback(s);
                return r;
        }
        return inserted ? 1 : 0;
}

static int pg_blob_get(store_t *stp, const char *sha, int fd, int64_t *len, rc_err_t *err)
{
        pg_store_t *s = PG(stp);
        /* one snapshot: a prune between two chunks cannot leave half a blob */
        int r = begin(s, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err);
        params_t p = {0};
        p_s(&p, sha);
        PGresult *res = NULL;
        if (r == 0)
                r = ex(s, SQL_BLOB_HEAD, &p, &res, err, "reading a blob");
        int64_t bytes = 0, nchunks = 0, done = 0;
        bool found = r == 0 && PQntuples(res) > 0;
        if (found) {
                bytes = v64(res, 0, 0);
                nchunks = v64(res, 0, 1);
        }
        PQclear(res);
        for (int64_t i = 0; r == 0 && found && i < nchunks; i++) {
                char idx[24];
                snprintf(idx, sizeof(idx), "%lld", (long long)i);
                const char *v[2] = {sha, idx};
                res = PQexecParams(s->conn, SQL_BLOB_CHUNK, 2, NULL, v, NULL, NULL, 1);
                if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
                        r = pg_fail(s, res, err, "reading a blob's chunk");
                } else if (PQntuples(res) != 1) {
                        r = rc_err_set(err, EIO, "store %s: blob %.12s lacks its chunk %lld",
                                       s->where, sha, (long long)i);
                } else {
                        const char *data = PQgetvalue(res, 0, 0);
                        size_t n = (size_t)PQgetlength(res, 0, 0), off = 0;
                        while (r == 0 && off < n) {
                                ssize_t w = write(fd, data + off, n - off);
                                if (w < 0 && errno == EINTR)
                                        continue;
                                if (w <= 0)
                                        r = rc_err_set(err, w < 0 ? errno : EIO,
                                                       "writing blob %.12s: %s", sha,
                                                       w < 0 ? strerror(errno) : "short write");
                                else
                                        off += (size_t)w;
                        }
                        done += (int64_t)n;
                }
                PQclear(res);
        }
        if (r == 0 && found && done != bytes)
                r = rc_err_set(err, EIO, "store %s: blob %.12s has %lld bytes, not %lld", s->where,
                               sha, (long long)done, (long long)bytes);
        if (r == 0)
                r = commit(s, err);
        if (r < 0) {
                rollback(s);
                return r;
        }
        *len = done;
        return found ? 1 : 0;
}

static int pg_blob_prune(store_t *stp, int64_t before_ms, rc_err_t *err)
{
        params_t p = {0};
        p_i(&p, before_ms);
        return changes(PG(stp), SQL_BLOB_PRUNE, &p, err, "deleting blobs no version names");
}

static const store_ops_t PG_OPS = {
    .name = "postgres",
    .shared = true,
    .close = pg_close,
    .schema_version = pg_schema_version,
    .insert = pg_insert,
    .get = pg_get,
    .lease = pg_lease,
    .claim = pg_claim,
    .renew = pg_renew,
    .release = pg_release,
    .finish = pg_finish,
    .recover = pg_recover,
    .each = pg_each,
    .page = pg_page,
    .del = pg_delete,
    .prune = pg_prune,
    .callbacks_due = pg_callbacks_due,
    .callback_tried = pg_callback_tried,
    .callback_next = pg_callback_next,
    .size = pg_size,
    .node_register = pg_node_register,
    .fn_put = pg_fn_put,
    .fn_get = pg_fn_get,
    .fn_version = pg_fn_version,
    .fn_list = pg_fn_list,
    .fn_versions = pg_fn_versions,
    .fn_set_current = pg_fn_set_current,
    .fn_delete = pg_fn_delete,
    .fn_artifact_refs = pg_fn_artifact_refs,
    .blob_put = pg_blob_put,
    .blob_get = pg_blob_get,
    .blob_prune = pg_blob_prune,
};
