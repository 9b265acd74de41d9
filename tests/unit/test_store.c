/* store/: the submission store (store.h) on its SQLite back-end: every call, migrations from a
 * v1 database, recovery, claims, retention, the size cap, two stores on one file, files that
 * are not stores; the functions (deploys, versions, rollback, pruning, artifact references,
 * migration from a v3 database).
 *
 * test_store_pg.c builds this file again with TEST_STORE_PG: the same tests (those not about
 * SQLite's file) on the PostgreSQL back-end, in a cluster of its own (tests/pgcluster), each
 * "file" a database of its own; plus the PostgreSQL-only ones at the end. */
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"
#include "testutil.h"

#ifdef TEST_STORE_PG
#include <libpq-fe.h>

static char *pg_conninfo; /* the test cluster's maintenance database */
static PGconn *pg_admin;
static pthread_mutex_t pg_admin_lock = PTHREAD_MUTEX_INITIALIZER; /* threads open stores too */

/* A database for a test's "file" (made the first time): its conninfo (free it). */
static char *pg_db_for(const char *path)
{
        uint64_t h = 1469598103934665603ULL; /* FNV-1a: the tmpdir makes it unique */
        for (const char *c = path; *c; c++)
                h = (h ^ (unsigned char)*c) * 1099511628211ULL;
        char name[32];
        snprintf(name, sizeof(name), "t%016llx", (unsigned long long)h);
        pthread_mutex_lock(&pg_admin_lock);
        char *id = PQescapeIdentifier(pg_admin, name, strlen(name));
        char *sql = tu_strf("CREATE DATABASE %s", id);
        PQfreemem(id);
        PGresult *r = PQexec(pg_admin, sql);
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (PQresultStatus(r) != PGRES_COMMAND_OK && !(state && strcmp(state, "42P04") == 0))
                FAIL("%s: %s", sql, PQresultErrorMessage(r));
        PQclear(r);
        pthread_mutex_unlock(&pg_admin_lock);
        free(sql);
        return tu_strf("%s dbname=%s", pg_conninfo, name);
}

/* SQL on a test's database, outside the store (a table that is not the store's, ...). */
static bool pg_sql(const char *path, const char *sql)
{
        char *ci = pg_db_for(path);
        PGconn *c = PQconnectdb(ci);
        free(ci);
        PGresult *r = PQexec(c, sql);
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
        if (!ok)
                FAIL("%s: %s", sql, PQresultErrorMessage(r));
        PQclear(r);
        PQfinish(c);
        return ok;
}
#endif

/* The store at path: the SQLite file, or (test_store_pg) the database that stands for it. */
static int open_at(const char *path, const store_opts_t *o, store_t **st, rc_err_t *err)
{
#ifdef TEST_STORE_PG
        char *ci = pg_db_for(path);
        int r = store_open_pg(ci, o, st, err);
        free(ci);
        return r;
#else
        return store_open_sqlite(path, o, st, err);
#endif
}

static store_t *open_in(const char *name, const store_opts_t *o)
{
        const char *dir = tu_tmpdir();
        if (!dir)
                return NULL;
        char *path = tu_strf("%s/%s", dir, name);
        store_t *st = NULL;
        rc_err_t err = {0};
        if (!CHECK_OK_E(open_at(path, o, &st, &err), err))
                st = NULL;
        free(path);
        return st;
}

static submission_t sub(const char *token, const char *dialect, const char *request,
                        int64_t created_ms)
{
        submission_t s;
        memset(&s, 0, sizeof(s));
        snprintf(s.token, sizeof(s.token), "%s", token);
        snprintf(s.dialect, sizeof(s.dialect), "%s", dialect);
        s.request = (char *)request;
        s.created_ms = created_ms;
        return s;
}

static int insert1(store_t *st, const char *token, const char *dialect, int64_t created_ms,
                   const char *callback_url)
{
        submission_t s = sub(token, dialect, "{\"source\": \"x\"}", created_ms);
        s.callback_url = (char *)callback_url;
        rc_err_t err = {0};
        int r = store_insert(st, &s, 1, &err);
        if (r < 0)
                FAIL("insert %s: %s", token, err.msg);
        return r;
}

static int state_of(store_t *st, const char *token)
{
        submission_t s;
        rc_err_t err = {0};
        int r = store_get(st, token, &s, &err);
        if (r <= 0)
                return r;
        int state = (int)s.state;
        submission_free(&s);
        return state;
}

/* ---- open ---- */

static void test_open_new(void)
{
        const char *dir = tu_tmpdir();
        REQUIRE(dir);
        char *path = tu_strf("%s/store.db", dir);
        store_t *st = NULL;
        rc_err_t err = {0};
        REQUIRE(CHECK_OK_E(store_open_sqlite(path, NULL, &st, &err), err));
        CHECK_INT_EQ(store_schema_version(st), store_schema_latest());
        CHECK(store_schema_latest() >= 2);
        struct stat sb;
        if (CHECK(stat(path, &sb) == 0))
                CHECK_INT_EQ(sb.st_mode & 0777, 0600);
        char *wal = tu_strf("%s-wal", path);
        if (CHECK(stat(wal, &sb) == 0)) /* WAL mode */
                CHECK_INT_EQ(sb.st_mode & 0777, 0600);
        CHECK(store_size(st) > 0);
        store_close(st);

        /* opened again: nothing to migrate, the same version */
        REQUIRE(CHECK_OK_E(store_open_sqlite(path, NULL, &st, &err), err));
        CHECK_INT_EQ(store_schema_version(st), store_schema_latest());
        store_close(st);
        free(wal);

        /* a loose mode is tightened */
        char *p2 = tu_write_str(dir, "loose.db", "");
        REQUIRE(p2);
        chmod(p2, 0644);
        REQUIRE(CHECK_OK_E(store_open_sqlite(p2, NULL, &st, &err), err));
        if (CHECK(stat(p2, &sb) == 0))
                CHECK_INT_EQ(sb.st_mode & 0777, 0600);
        store_close(st);

        /* no directory */
        char *p3 = tu_strf("%s/no/such/dir/x.db", dir);
        CHECK_FAIL(store_open_sqlite(p3, NULL, &st, &err), -ENOENT);
        CHECK(st == NULL);
        CHECK_CONTAINS(err.msg, "no/such/dir");
        free(p3);
        free(p2);
        free(path);
}

static void test_not_a_database(void)
{
        const char *dir = tu_tmpdir();
        REQUIRE(dir);
        char text[8192];
        memset(text, 'x', sizeof(text) - 1);
        text[sizeof(text) - 1] = '\0';
        char *path = tu_write_str(dir, "notes.txt", text);
        REQUIRE(path);
        store_t *st = NULL;
        rc_err_t err = {0};
        CHECK_FAIL(store_open_sqlite(path, NULL, &st, &err), -EINVAL);
        CHECK(st == NULL);
        CHECK_CONTAINS(err.msg, "not an SQLite database");
        CHECK_CONTAINS(err.msg, "notes.txt");

        /* an SQLite file header with garbage after it */
        char corrupt[8192];
        memset(corrupt, 0xa5, sizeof(corrupt));
        memcpy(corrupt, "SQLite format 3", 16);
        char *cpath = tu_write_file(dir, "corrupt.db", corrupt, sizeof(corrupt));
        REQUIRE(cpath);
        err.msg[0] = '\0';
        CHECK_FAIL(store_open_sqlite(cpath, NULL, &st, &err), -EINVAL);
        CHECK_CONTAINS(err.msg, "corrupt");

        /* someone else's database */
        char *fpath = tu_strf("%s/other.db", dir);
        sqlite3 *db = NULL;
        REQUIRE(sqlite3_open(fpath, &db) == SQLITE_OK);
        CHECK(sqlite3_exec(db, "CREATE TABLE users (name TEXT)", NULL, NULL, NULL) == SQLITE_OK);
        sqlite3_close(db);
        CHECK_FAIL(store_open_sqlite(fpath, NULL, &st, &err), -EINVAL);
        CHECK_CONTAINS(err.msg, "not a runcell submission store");

        /* a directory */
        CHECK_FAIL(store_open_sqlite(dir, NULL, &st, &err), 0);
        free(fpath);
        free(cpath);
        free(path);
}

/* The first schema as it was shipped (migration 1), made by hand. */
static const char V1_SQL[] =
    "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY NOT NULL, name TEXT NOT NULL,"
    " applied_ms INTEGER NOT NULL);"
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
    " lease_expiry_ms INTEGER NOT NULL DEFAULT 0);"
    "INSERT INTO schema_migrations VALUES (1, 'submissions', 1700000000000);"
    "INSERT INTO submissions (token, dialect, state, attempts, created_ms, started_ms,"
    " finished_ms, request, result) VALUES ('old-done', 'judge0', 3, 1, 1000, 1100, 1200,"
    " '{\"a\": 1}', '{\"ok\": true}');"
    "INSERT INTO submissions (token, dialect, state, created_ms, request) VALUES"
    " ('old-queued', 'judge0', 1, 2000, '{\"b\": 2}');";

static void test_migrate_from_v1(void)
{
        const char *dir = tu_tmpdir();
        REQUIRE(dir);
        char *path = tu_strf("%s/v1.db", dir);
        sqlite3 *db = NULL;
        REQUIRE(sqlite3_open(path, &db) == SQLITE_OK);
        char *msg = NULL;
        if (!CHECK(sqlite3_exec(db, V1_SQL, NULL, NULL, &msg) == SQLITE_OK))
                FAIL("v1 SQL: %s", msg ? msg : "?");
        sqlite3_free(msg);
        sqlite3_close(db);

        store_t *st = NULL;
        rc_err_t err = {0};
        REQUIRE(CHECK_OK_E(store_open_sqlite(path, NULL, &st, &err), err));
        CHECK_INT_EQ(store_schema_version(st), store_schema_latest());
        submission_t s;
        if (CHECK_INT_EQ(store_get(st, "old-done", &s, &err), 1)) {
                CHECK_STR_EQ(s.dialect, "judge0");
                CHECK_INT_EQ(s.state, SUB_DONE);
                CHECK_INT_EQ(s.attempts, 1);
                CHECK_INT_EQ(s.created_ms, 1000);
                CHECK_INT_EQ(s.started_ms, 1100);
                CHECK_INT_EQ(s.finished_ms, 1200);
                CHECK_STR_EQ(s.request, "{\"a\": 1}");
                CHECK_STR_EQ(s.result, "{\"ok\": true}");
                CHECK(s.error == NULL);
                CHECK(s.callback_url == NULL); /* the columns v2 added, at their defaults */
                CHECK_INT_EQ(s.callback_state, CB_NONE);
                CHECK_INT_EQ(s.callback_attempts, 0);
                CHECK_INT_EQ(s.callback_next_ms, 0);
                submission_free(&s);
        }
        /* the queued one runs as any other */
        int attempts = 0;
        CHECK_INT_EQ(store_lease(st, "old-queued", "node", store_now_ms() + 1000, &attempts, &err),
                     1);
        CHECK_INT_EQ(attempts, 1);
        store_close(st);

        /* each migration recorded once, in order */
        REQUIRE(sqlite3_open(path, &db) == SQLITE_OK);
        sqlite3_stmt *q = NULL;
        REQUIRE(sqlite3_prepare_v2(db, "SELECT version FROM schema_migrations ORDER BY version", -1,
                                   &q, NULL) == SQLITE_OK);
        int want = 1;
        while (sqlite3_step(q) == SQLITE_ROW)
                CHECK_INT_EQ(sqlite3_column_int(q, 0), want++);
        CHECK_INT_EQ(want - 1, store_schema_latest());
        sqlite3_finalize(q);
        /* v3's indexes are there */
        REQUIRE(sqlite3_prepare_v2(db,
                                   "SELECT count(*) FROM sqlite_schema WHERE type = 'index'"
                                   " AND name LIKE 'submissions_%'",
                                   -1, &q, NULL) == SQLITE_OK);
        if (CHECK(sqlite3_step(q) == SQLITE_ROW))
                CHECK(sqlite3_column_int(q, 0) >= 3);
        sqlite3_finalize(q);

        /* a schema newer than this build: refused, the file left alone */
        CHECK(sqlite3_exec(db, "INSERT INTO schema_migrations VALUES (999, 'future', 0)", NULL,
                           NULL, NULL) == SQLITE_OK);
        sqlite3_close(db);
        CHECK_FAIL(store_open_sqlite(path, NULL, &st, &err), -EPROTO);
        CHECK_CONTAINS(err.msg, "newer");
        free(path);
}

/* ---- submissions ---- */

static void test_insert_get_delete(void)
{
        store_t *st = open_in("s.db", NULL);
        REQUIRE(st);
        rc_err_t err = {0};
        submission_t two[2] = {sub("t1", "judge0", "{\"n\": 1}", 0),
                               sub("t2", "piston", "{\"n\": 2}", 5000)};
        two[1].callback_url = "http://127.0.0.1:9/cb";
        two[0].state = SUB_DONE; /* ignored */
        two[0].attempts = 7;     /* ignored */
        int64_t before = store_now_ms();
        REQUIRE(CHECK_OK_E(store_insert(st, two, 2, &err), err));
        submission_t s;
        if (CHECK_INT_EQ(store_get(st, "t1", &s, &err), 1)) {
                CHECK_STR_EQ(s.token, "t1");
                CHECK_STR_EQ(s.dialect, "judge0");
                CHECK_INT_EQ(s.state, SUB_QUEUED);
                CHECK_INT_EQ(s.attempts, 0);
                CHECK(s.created_ms >= before && s.created_ms <= store_now_ms());
                CHECK_INT_EQ(s.started_ms, 0);
                CHECK_INT_EQ(s.finished_ms, 0);
                CHECK_STR_EQ(s.request, "{\"n\": 1}");
                CHECK(s.result == NULL && s.error == NULL && s.callback_url == NULL);
                CHECK_STR_EQ(s.lease_owner, "");
                CHECK_INT_EQ(s.callback_state, CB_NONE);
                submission_free(&s);
                CHECK(s.request == NULL);
        }
        if (CHECK_INT_EQ(store_get(st, "t2", &s, &err), 1)) {
                CHECK_INT_EQ(s.created_ms, 5000);
                CHECK_STR_EQ(s.callback_url, "http://127.0.0.1:9/cb");
                CHECK_INT_EQ(s.callback_state, CB_NONE); /* pending only once done */
                submission_free(&s);
        }
        CHECK_INT_EQ(store_get(st, "nope", &s, &err), 0);

        /* a duplicate token: -EEXIST, and the batch is all or nothing */
        submission_t dup[2] = {sub("t3", "judge0", "{}", 0), sub("t1", "judge0", "{}", 0)};
        CHECK_FAIL(store_insert(st, dup, 2, &err), -EEXIST);
        CHECK_CONTAINS(err.msg, "t1");
        CHECK_INT_EQ(state_of(st, "t3"), 0);

        /* bad arguments */
        submission_t bad = sub("", "judge0", "{}", 0);
        CHECK_FAIL(store_insert(st, &bad, 1, &err), -EINVAL);
        bad = sub("t4", "", "{}", 0);
        CHECK_FAIL(store_insert(st, &bad, 1, &err), -EINVAL);
        bad = sub("t4", "judge0", NULL, 0);
        CHECK_FAIL(store_insert(st, &bad, 1, &err), -EINVAL);
        CHECK_OK(store_insert(st, NULL, 0, &err));

        /* unusual text survives */
        const char *odd = "{\"s\": \"quote ' and \\\" and \\u0000 and é\"}";
        submission_t o = sub("odd", "native", odd, 0);
        CHECK_OK_E(store_insert(st, &o, 1, &err), err);
        if (CHECK_INT_EQ(store_get(st, "odd", &s, &err), 1)) {
                CHECK_STR_EQ(s.request, odd);
                submission_free(&s);
        }

        CHECK_INT_EQ(store_delete(st, "t1", &err), 1);
        CHECK_INT_EQ(store_delete(st, "t1", &err), 0);
        CHECK_INT_EQ(state_of(st, "t1"), 0);
        store_close(st);
}

static void test_lease_release_finish(void)
{
        store_t *st = open_in("s.db", NULL);
        REQUIRE(st);
        rc_err_t err = {0};
        REQUIRE(insert1(st, "a", "judge0", 0, "http://127.0.0.1:9/x") >= 0);
        REQUIRE(insert1(st, "b", "judge0", 0, NULL) >= 0);
        store_set_clock(st, 100000);
        int attempts = 0;
        CHECK_INT_EQ(store_lease(st, "a", "node-1", 160000, &attempts, &err), 1);
        CHECK_INT_EQ(attempts, 1);
        submission_t s;
        if (CHECK_INT_EQ(store_get(st, "a", &s, &err), 1)) {
                CHECK_INT_EQ(s.state, SUB_RUNNING);
                CHECK_STR_EQ(s.lease_owner, "node-1");
                CHECK_INT_EQ(s.lease_expiry_ms, 160000);
                CHECK_INT_EQ(s.started_ms, 100000);
                submission_free(&s);
        }
        /* not queued: no second lease */
        attempts = -1;
        CHECK_INT_EQ(store_lease(st, "a", "node-2", 160000, &attempts, &err), 0);
        CHECK_INT_EQ(attempts, -1);
        CHECK_INT_EQ(store_lease(st, "nope", "node-2", 160000, &attempts, &err), 0);
        CHECK_FAIL(store_lease(st, "b", "", 160000, &attempts, &err), -EINVAL);

        CHECK_INT_EQ(store_lease(st, "b", "node-1", 160000, &attempts, &err), 1);
        CHECK_INT_EQ(store_renew(st, "node-1", 200000, &err), 2);
        CHECK_INT_EQ(store_renew(st, "node-2", 200000, &err), 0);
        if (CHECK_INT_EQ(store_get(st, "b", &s, &err), 1)) {
                CHECK_INT_EQ(s.lease_expiry_ms, 200000);
                submission_free(&s);
        }

        /* released: queued again, the run not counted */
        CHECK_INT_EQ(store_release(st, "b", &err), 1);
        CHECK_INT_EQ(store_release(st, "b", &err), 0);
        if (CHECK_INT_EQ(store_get(st, "b", &s, &err), 1)) {
                CHECK_INT_EQ(s.state, SUB_QUEUED);
                CHECK_INT_EQ(s.attempts, 0);
                CHECK_STR_EQ(s.lease_owner, "");
                submission_free(&s);
        }

        store_set_clock(st, 123456);
        CHECK_INT_EQ(store_finish(st, "a", NULL, "{\"status\": \"ok\"}", &err), 1);
        if (CHECK_INT_EQ(store_get(st, "a", &s, &err), 1)) {
                CHECK_INT_EQ(s.state, SUB_DONE);
                CHECK_STR_EQ(s.result, "{\"status\": \"ok\"}");
                CHECK(s.error == NULL);
                CHECK_INT_EQ(s.finished_ms, 123456);
                CHECK_STR_EQ(s.lease_owner, "");
                CHECK_INT_EQ(s.lease_expiry_ms, 0);
                CHECK_INT_EQ(s.attempts, 1);
                CHECK_INT_EQ(s.callback_state, CB_PENDING);
                CHECK_INT_EQ(s.callback_next_ms, 123456);
                submission_free(&s);
        }
        CHECK_INT_EQ(store_finish(st, "gone", NULL, "{}", &err), 0);
        CHECK_FAIL(store_finish(st, "b", NULL, NULL, &err), -EINVAL);
        /* finished without a callback_url: no callback */
        CHECK_INT_EQ(store_finish(st, "b", NULL, "{}", &err), 1);
        if (CHECK_INT_EQ(store_get(st, "b", &s, &err), 1)) {
                CHECK_INT_EQ(s.callback_state, CB_NONE);
                submission_free(&s);
        }
        store_close(st);
}

static void test_recover_once_then_error(void)
{
        store_opts_t o = {.max_attempts = 2};
        store_t *st = open_in("s.db", &o);
        REQUIRE(st);
        rc_err_t err = {0};
        REQUIRE(insert1(st, "r", "judge0", 0, "http://127.0.0.1:9/x") >= 0);
        REQUIRE(insert1(st, "q", "judge0", 0, NULL) >= 0);
        int64_t far = store_now_ms() + 3600000;
        int attempts = 0;

        /* run 1 interrupted: queued again */
        CHECK_INT_EQ(store_lease(st, "r", "me", far, &attempts, &err), 1);
        CHECK_INT_EQ(store_recover(st, "me", &err), 1);
        submission_t s;
        if (CHECK_INT_EQ(store_get(st, "r", &s, &err), 1)) {
                CHECK_INT_EQ(s.state, SUB_QUEUED);
                CHECK_INT_EQ(s.attempts, 1);
                CHECK_STR_EQ(s.lease_owner, "");
                submission_free(&s);
        }
        /* nothing running: nothing to do; queued ones are left alone */
        CHECK_INT_EQ(store_recover(st, "me", &err), 0);

        /* run 2 interrupted: given up */
        CHECK_INT_EQ(store_lease(st, "r", "me", far, &attempts, &err), 1);
        CHECK_INT_EQ(attempts, 2);
        CHECK_INT_EQ(store_recover(st, "me", &err), 1);
        if (CHECK_INT_EQ(store_get(st, "r", &s, &err), 1)) {
                CHECK_INT_EQ(s.state, SUB_DONE);
                CHECK(s.result == NULL);
                CHECK_STR_EQ(s.error, "interrupted 2 times");
                CHECK(s.finished_ms > 0);
                CHECK_INT_EQ(s.callback_state, CB_PENDING); /* told of the error too */
                submission_free(&s);
        }
        CHECK_INT_EQ(store_lease(st, "r", "me", far, &attempts, &err), 0);
        CHECK_INT_EQ(state_of(st, "q"), SUB_QUEUED);

        /* max_attempts 1: the first interruption gives it up */
        store_close(st);
        o.max_attempts = 1;
        char *path = tu_strf("%s/s.db", tu_tmpdir());
        REQUIRE(CHECK_OK_E(open_at(path, &o, &st, &err), err));
        CHECK_INT_EQ(store_lease(st, "q", "me", far, &attempts, &err), 1);
        CHECK_INT_EQ(store_recover(st, "me", &err), 1);
        if (CHECK_INT_EQ(store_get(st, "q", &s, &err), 1)) {
                CHECK_STR_EQ(s.error, "interrupted 1 time");
                CHECK_INT_EQ(s.callback_state, CB_NONE);
                submission_free(&s);
        }
        store_close(st);
        free(path);
}

static void test_recover_expired_leases(void)
{
        store_t *st = open_in("s.db", NULL);
        REQUIRE(st);
        rc_err_t err = {0};
        for (int i = 0; i < 4; i++) {
                char t[8];
                snprintf(t, sizeof(t), "e%d", i);
                REQUIRE(insert1(st, t, "judge0", 0, NULL) >= 0);
        }
        store_set_clock(st, 1000000);
        int a;
        CHECK_INT_EQ(store_lease(st, "e0", "other", 1000500, &a, &err), 1); /* expires */
        CHECK_INT_EQ(store_lease(st, "e1", "other", 2000000, &a, &err), 1); /* alive */
        CHECK_INT_EQ(store_lease(st, "e2", "me", 2000000, &a, &err), 1);    /* mine */
        store_set_clock(st, 1000400);
        CHECK_INT_EQ(store_recover(st, "nobody", &err), 0);
        store_set_clock(st, 1000500); /* expiry reached */
        CHECK_INT_EQ(store_recover(st, "nobody", &err), 1);
        CHECK_INT_EQ(state_of(st, "e0"), SUB_QUEUED);
        CHECK_INT_EQ(state_of(st, "e1"), SUB_RUNNING);
        CHECK_INT_EQ(state_of(st, "e2"), SUB_RUNNING);
        CHECK_INT_EQ(store_recover(st, "me", &err), 1);
        CHECK_INT_EQ(state_of(st, "e2"), SUB_QUEUED);
        CHECK_INT_EQ(state_of(st, "e1"), SUB_RUNNING);
        /* a renewed lease outlives the clock */
        CHECK_INT_EQ(store_renew(st, "other", 9000000, &err), 1);
        store_set_clock(st, 2500000);
        CHECK_INT_EQ(store_recover(st, "me", &err), 0);
        CHECK_INT_EQ(state_of(st, "e1"), SUB_RUNNING);
        store_close(st);
}

/* ---- walks ---- */

typedef struct walk {
        char tokens[300][STORE_TOKEN_MAX];
        int n;
        int stop_after; /* 0: never */
        store_t *st;    /* set: delete each one seen */
} walk_t;

static int walk_fn(const submission_t *s, void *ud)
{
        walk_t *w = ud;
        if (w->n < 300)
                snprintf(w->tokens[w->n], STORE_TOKEN_MAX, "%s", s->token);
        w->n++;
        if (w->st) {
                rc_err_t err = {0};
                if (store_delete(w->st, s->token, &err) != 1)
                        FAIL("delete %s during a walk: %s", s->token, err.msg);
        }
        return w->stop_after && w->n >= w->stop_after;
}

static void test_each_and_page(void)
{
        store_t *st = open_in("s.db", NULL);
        REQUIRE(st);
        rc_err_t err = {0};
        /* 150 judge0 (created 1000..1149, inserted newest first), 20 piston; created_ms ties
         * go in insertion order */
        for (int i = 149; i >= 0; i--) {
                char t[16];
                snprintf(t, sizeof(t), "j%03d", i);
                REQUIRE(insert1(st, t, "judge0", 1000 + i, NULL) >= 0);
        }
        for (int i = 0; i < 20; i++) {
                char t[16];
                snprintf(t, sizeof(t), "p%03d", i);
                REQUIRE(insert1(st, t, "piston", 5000, NULL) >= 0);
        }
        walk_t *w = calloc(1, sizeof(*w));
        REQUIRE(w);
        CHECK_INT_EQ(store_each(st, "judge0", 0, walk_fn, w, &err), 150);
        CHECK_INT_EQ(w->n, 150);
        bool ordered = true;
        for (int i = 0; i < 150; i++) {
                char t[16];
                snprintf(t, sizeof(t), "j%03d", i);
                ordered = ordered && strcmp(w->tokens[i], t) == 0;
        }
        CHECK(ordered);
        memset(w, 0, sizeof(*w));
        CHECK_INT_EQ(store_each(st, NULL, 0, walk_fn, w, &err), 170);
        CHECK_STR_EQ(w->tokens[150], "p000");
        CHECK_STR_EQ(w->tokens[169], "p019");

        /* by state */
        int a;
        CHECK_INT_EQ(store_lease(st, "j010", "n", store_now_ms() + 10000, &a, &err), 1);
        CHECK_INT_EQ(store_lease(st, "p005", "n", store_now_ms() + 10000, &a, &err), 1);
        memset(w, 0, sizeof(*w));
        CHECK_INT_EQ(store_each(st, NULL, SUB_RUNNING, walk_fn, w, &err), 2);
        CHECK_STR_EQ(w->tokens[0], "j010");
        CHECK_STR_EQ(w->tokens[1], "p005");
        memset(w, 0, sizeof(*w));
        CHECK_INT_EQ(store_each(st, "piston", SUB_QUEUED, walk_fn, w, &err), 19);
        memset(w, 0, sizeof(*w));
        CHECK_INT_EQ(store_each(st, "nobody", 0, walk_fn, w, &err), 0);

        /* stopped by fn */
        memset(w, 0, sizeof(*w));
        w->stop_after = 70; /* past the first batch */
        CHECK_INT_EQ(store_each(st, NULL, 0, walk_fn, w, &err), 70);
        CHECK_INT_EQ(w->n, 70);

        /* pages, newest first */
        memset(w, 0, sizeof(*w));
        int64_t total = -1;
        CHECK_INT_EQ(store_page(st, "judge0", 0, 10, walk_fn, w, &total, &err), 10);
        CHECK_INT_EQ(total, 150);
        CHECK_STR_EQ(w->tokens[0], "j149");
        CHECK_STR_EQ(w->tokens[9], "j140");
        memset(w, 0, sizeof(*w));
        CHECK_INT_EQ(store_page(st, "judge0", 145, 10, walk_fn, w, &total, &err), 5);
        CHECK_STR_EQ(w->tokens[4], "j000");
        memset(w, 0, sizeof(*w));
        CHECK_INT_EQ(store_page(st, "judge0", 500, 10, walk_fn, w, &total, &err), 0);
        CHECK_INT_EQ(total, 150);
        memset(w, 0, sizeof(*w));
        CHECK_INT_EQ(store_page(st, "piston", 0, 3, walk_fn, w, &total, &err), 3);
        CHECK_INT_EQ(total, 20);
        CHECK_STR_EQ(w->tokens[0], "p019"); /* ties: the last inserted first */
        memset(w, 0, sizeof(*w));
        CHECK_INT_EQ(store_page(st, NULL, 0, 0, walk_fn, w, &total, &err), 0);
        CHECK_INT_EQ(total, 170);
        CHECK_INT_EQ(store_page(st, "judge0", 0, 1, walk_fn, w, NULL, &err), 1);
        CHECK_FAIL(store_page(st, "judge0", -1, 1, walk_fn, w, &total, &err), -EINVAL);

        /* fn may write to the store it walks */
        memset(w, 0, sizeof(*w));
        w->st = st;
        CHECK_INT_EQ(store_each(st, "judge0", 0, walk_fn, w, &err), 150);
        memset(w, 0, sizeof(*w));
        CHECK_INT_EQ(store_each(st, NULL, 0, walk_fn, w, &err), 20);
        free(w);
        store_close(st);
}

/* ---- retention ---- */

static void finish_at(store_t *st, const char *token, int64_t now)
{
        rc_err_t err = {0};
        int a;
        store_set_clock(st, now);
        if (store_lease(st, token, "n", now + 1000, &a, &err) != 1 ||
            store_finish(st, token, NULL, "{}", &err) != 1)
                FAIL("finishing %s: %s", token, err.msg);
}

static void test_prune_age_and_count(void)
{
        store_opts_t o = {.max_age_s = 3600};
        store_t *st = open_in("s.db", &o);
        REQUIRE(st);
        rc_err_t err = {0};
        int64_t h = 3600 * 1000;
        for (int i = 0; i < 8; i++) {
                char t[8];
                snprintf(t, sizeof(t), "d%d", i);
                REQUIRE(insert1(st, t, "judge0", 1000 + i, i == 1 ? "http://127.0.0.1:9/" : NULL) >=
                        0);
        }
        /* d0, d1 (pending callback), d2 finished long ago; d3, d4 lately; d5..d7 queued */
        finish_at(st, "d0", 10 * h);
        finish_at(st, "d1", 10 * h);
        finish_at(st, "d2", 10 * h + 1);
        finish_at(st, "d3", 12 * h);
        finish_at(st, "d4", 12 * h + 5);
        store_set_clock(st, 12 * h + 10);
        /* by age: d0 and d2 (d1's callback is pending) */
        CHECK_INT_EQ(store_prune(st, &err), 2);
        CHECK_INT_EQ(state_of(st, "d0"), 0);
        CHECK_INT_EQ(state_of(st, "d1"), SUB_DONE);
        CHECK_INT_EQ(state_of(st, "d2"), 0);
        CHECK_INT_EQ(store_prune(st, &err), 0);

        /* by count: 6 left, 5 allowed */
        CHECK_INT_EQ(store_callback_tried(st, "d1", true, 0, &err), 1);
        store_close(st);
        o.max_count = 5;
        char *path = tu_strf("%s/s.db", tu_tmpdir());
        REQUIRE(CHECK_OK_E(open_at(path, &o, &st, &err), err));
        store_set_clock(st, 12 * h + 10);
        REQUIRE(insert1(st, "d8", "judge0", 2000, NULL) >= 0); /* 7 > 5: makes room itself */
        CHECK_INT_EQ(state_of(st, "d1"), 0);                   /* the oldest done ones went */
        CHECK_INT_EQ(state_of(st, "d3"), 0);
        CHECK_INT_EQ(state_of(st, "d4"), SUB_DONE);
        CHECK_INT_EQ(state_of(st, "d8"), SUB_QUEUED);
        CHECK_INT_EQ(store_prune(st, &err), 0);

        /* full of queued and running ones: refused */
        REQUIRE(insert1(st, "d9", "judge0", 0, NULL) >= 0); /* d4 makes room */
        CHECK_INT_EQ(state_of(st, "d4"), 0);
        submission_t s = sub("d10", "judge0", "{}", 0);
        CHECK_FAIL(store_insert(st, &s, 1, &err), -ENOSPC);
        CHECK_CONTAINS(err.msg, "full");
        CHECK_INT_EQ(state_of(st, "d10"), 0);

        /* no retention set: prune deletes nothing */
        store_close(st);
        REQUIRE(CHECK_OK_E(open_at(path, NULL, &st, &err), err));
        finish_at(st, "d5", 100 * h);
        store_set_clock(st, 1000 * h);
        CHECK_INT_EQ(store_prune(st, &err), 0);
        CHECK_OK_E(store_insert(st, &s, 1, &err), err);
        store_close(st);
        free(path);
}

static void test_size_cap(void)
{
        store_opts_t o = {.max_bytes = 512 * 1024};
        store_t *st = open_in("s.db", &o);
        REQUIRE(st);
        rc_err_t err = {0};
        size_t big = 40 * 1024;
        char *req = malloc(big + 1);
        REQUIRE(req);
        memset(req, 'r', big);
        req[big] = '\0';
        int n = 0, r = 0;
        for (; n < 100; n++) {
                char t[16];
                snprintf(t, sizeof(t), "b%03d", n);
                submission_t s = sub(t, "judge0", req, 0);
                r = store_insert(st, &s, 1, &err);
                if (r < 0)
                        break;
        }
        CHECK_INT_EQ(r, -ENOSPC);
        CHECK_CONTAINS(err.msg, "bytes");
        CHECK(n >= 8 && n <= 13);
        CHECK(store_size(st) <= o.max_bytes + 64 * 1024);
        CHECK_INT_EQ(state_of(st, "b000"), SUB_QUEUED);

        /* done ones are deleted, oldest first, to make room */
        finish_at(st, "b001", 2000);
        finish_at(st, "b000", 3000);
        store_set_clock(st, 0);
        submission_t s = sub("new", "judge0", req, 0);
        CHECK_OK_E(store_insert(st, &s, 1, &err), err);
        CHECK_INT_EQ(state_of(st, "b001"), 0);
        CHECK_INT_EQ(state_of(st, "new"), SUB_QUEUED);
        int64_t size_then = store_size(st);
        /* free pages are used again: the file does not grow past the cap */
        s = sub("new2", "judge0", req, 0);
        CHECK_OK_E(store_insert(st, &s, 1, &err), err);
        CHECK_INT_EQ(state_of(st, "b000"), 0);
        CHECK(store_size(st) <= size_then + 8192);
        s = sub("new3", "judge0", req, 0);
        CHECK_FAIL(store_insert(st, &s, 1, &err), -ENOSPC);
        free(req);
        store_close(st);
}

/* ---- callbacks ---- */

static void test_callbacks_due_and_tried(void)
{
        store_t *st = open_in("s.db", NULL);
        REQUIRE(st);
        rc_err_t err = {0};
        REQUIRE(insert1(st, "c1", "judge0", 0, "http://h/1") >= 0);
        REQUIRE(insert1(st, "c2", "judge0", 0, "http://h/2") >= 0);
        REQUIRE(insert1(st, "c3", "judge0", 0, NULL) >= 0);
        CHECK_INT_EQ(store_callback_next_ms(st, &err), 0);
        finish_at(st, "c2", 1000);
        finish_at(st, "c1", 2000);
        finish_at(st, "c3", 500);
        CHECK_INT_EQ(store_callback_next_ms(st, &err), 1000);
        walk_t *w = calloc(1, sizeof(*w));
        REQUIRE(w);
        CHECK_INT_EQ(store_callbacks_due(st, 999, 10, walk_fn, w, &err), 0);
        CHECK_INT_EQ(store_callbacks_due(st, 1000, 10, walk_fn, w, &err), 1);
        memset(w, 0, sizeof(*w));
        CHECK_INT_EQ(store_callbacks_due(st, 5000, 10, walk_fn, w, &err), 2);
        CHECK_STR_EQ(w->tokens[0], "c2");
        CHECK_STR_EQ(w->tokens[1], "c1");
        memset(w, 0, sizeof(*w));
        CHECK_INT_EQ(store_callbacks_due(st, 5000, 1, walk_fn, w, &err), 1);

        /* c2 failed once: next try at 9000 */
        CHECK_INT_EQ(store_callback_tried(st, "c2", false, 9000, &err), 1);
        submission_t s;
        if (CHECK_INT_EQ(store_get(st, "c2", &s, &err), 1)) {
                CHECK_INT_EQ(s.callback_state, CB_PENDING);
                CHECK_INT_EQ(s.callback_attempts, 1);
                CHECK_INT_EQ(s.callback_next_ms, 9000);
                submission_free(&s);
        }
        CHECK_INT_EQ(store_callback_next_ms(st, &err), 2000);
        memset(w, 0, sizeof(*w));
        CHECK_INT_EQ(store_callbacks_due(st, 5000, 10, walk_fn, w, &err), 1);
        CHECK_STR_EQ(w->tokens[0], "c1");
        /* c1 delivered */
        CHECK_INT_EQ(store_callback_tried(st, "c1", true, 0, &err), 1);
        if (CHECK_INT_EQ(store_get(st, "c1", &s, &err), 1)) {
                CHECK_INT_EQ(s.callback_state, CB_DELIVERED);
                CHECK_INT_EQ(s.callback_attempts, 1);
                submission_free(&s);
        }
        CHECK_INT_EQ(store_callback_tried(st, "c1", true, 0, &err), 0); /* not pending */
        /* c2 given up */
        CHECK_INT_EQ(store_callback_tried(st, "c2", false, 0, &err), 1);
        if (CHECK_INT_EQ(store_get(st, "c2", &s, &err), 1)) {
                CHECK_INT_EQ(s.callback_state, CB_FAILED);
                CHECK_INT_EQ(s.callback_attempts, 2);
                submission_free(&s);
        }
        CHECK_INT_EQ(store_callback_next_ms(st, &err), 0);
        memset(w, 0, sizeof(*w));
        CHECK_INT_EQ(store_callbacks_due(st, INT64_MAX, 10, walk_fn, w, &err), 0);
        CHECK_INT_EQ(store_callback_tried(st, "nope", true, 0, &err), 0);
        free(w);
        store_close(st);
}

/* ---- two stores, one file ---- */

typedef struct worker {
        const char *path;
        int id;
        int inserted, leased;
        char err[RC_ERR_MSG_MAX];
} worker_t;

#define SHARED 200

static void *worker_main(void *arg)
{
        worker_t *w = arg;
        store_t *st = NULL;
        rc_err_t err = {0};
        if (open_at(w->path, NULL, &st, &err) < 0) {
                snprintf(w->err, sizeof(w->err), "open: %.400s", err.msg);
                return NULL;
        }
        char owner[16];
        snprintf(owner, sizeof(owner), "w%d", w->id);
        for (int i = 0; i < SHARED; i++) {
                char t[32];
                snprintf(t, sizeof(t), "own-%d-%d", w->id, i);
                submission_t s = sub(t, "judge0", "{}", 0);
                if (store_insert(st, &s, 1, &err) < 0) {
                        snprintf(w->err, sizeof(w->err), "insert: %.400s", err.msg);
                        break;
                }
                w->inserted++;
                /* both race for the same shared ones */
                snprintf(t, sizeof(t), "shared-%d", i);
                int a = 0;
                int r = store_lease(st, t, owner, store_now_ms() + 60000, &a, &err);
                if (r < 0) {
                        snprintf(w->err, sizeof(w->err), "lease: %.400s", err.msg);
                        break;
                }
                w->leased += r;
                if (r == 1 && a != 1)
                        snprintf(w->err, sizeof(w->err), "shared-%d leased twice", i);
        }
        store_close(st);
        return NULL;
}

static void test_two_stores_one_file(void)
{
        const char *dir = tu_tmpdir();
        REQUIRE(dir);
        char *path = tu_strf("%s/shared.db", dir);
        store_t *a = NULL, *b = NULL;
        rc_err_t err = {0};
        REQUIRE(CHECK_OK_E(open_at(path, NULL, &a, &err), err));
        REQUIRE(CHECK_OK_E(open_at(path, NULL, &b, &err), err));
        /* one writes, the other reads it */
        REQUIRE(insert1(a, "x", "judge0", 0, NULL) >= 0);
        CHECK_INT_EQ(state_of(b, "x"), SUB_QUEUED);
        int at;
        CHECK_INT_EQ(store_lease(b, "x", "b", store_now_ms() + 1000, &at, &err), 1);
        CHECK_INT_EQ(store_lease(a, "x", "a", store_now_ms() + 1000, &at, &err), 0);
        CHECK_INT_EQ(state_of(a, "x"), SUB_RUNNING);
        for (int i = 0; i < SHARED; i++) {
                char t[32];
                snprintf(t, sizeof(t), "shared-%d", i);
                REQUIRE(insert1(a, t, "judge0", 0, NULL) >= 0);
        }
        store_close(a);
        store_close(b);

        /* two threads, each with its own store: inserts all kept, each lease taken once */
        pthread_t th[2];
        worker_t w[2] = {{.path = path, .id = 0}, {.path = path, .id = 1}};
        for (int i = 0; i < 2; i++)
                REQUIRE(pthread_create(&th[i], NULL, worker_main, &w[i]) == 0);
        for (int i = 0; i < 2; i++)
                pthread_join(th[i], NULL);
        for (int i = 0; i < 2; i++) {
                if (w[i].err[0])
                        FAIL("worker %d: %s", i, w[i].err);
                CHECK_INT_EQ(w[i].inserted, SHARED);
        }
        CHECK_INT_EQ(w[0].leased + w[1].leased, SHARED);
        REQUIRE(CHECK_OK_E(open_at(path, NULL, &a, &err), err));
        int64_t total = 0;
        walk_t *wk = calloc(1, sizeof(*wk));
        REQUIRE(wk);
        CHECK_OK_E(store_page(a, NULL, 0, 0, walk_fn, wk, &total, &err), err);
        CHECK_INT_EQ(total, 1 + 3 * SHARED);
        CHECK_INT_EQ(store_each(a, NULL, SUB_RUNNING, walk_fn, wk, &err), 1 + SHARED);
        free(wk);
        store_close(a);
        free(path);
}

/* ---- functions ---- */

/* An artifact name: 64 of c (a sha256's hex digits), the same string for the same c (main
 * thread only). */
static void art_into(char c, char out[65])
{
        memset(out, c, 64);
        out[64] = '\0';
}

static const char *art(char c)
{
        static char tab[128][65];
        char *a = tab[(unsigned char)c & 127];
        art_into(c, a);
        return a;
}

static int fn_put1(store_t *st, const char *name, const char *artifact, const char *spec, int keep)
{
        rc_err_t err = {0};
        int version = -1;
        int r = store_fn_put(st, name, artifact, spec, keep, &version, &err);
        if (r < 0) {
                FAIL("deploying %s: %s", name, err.msg);
                return r;
        }
        return version;
}

/* The versions a function keeps, newest first, as "5 4 3". */
typedef struct vwalk {
        char list[256];
        int n;
        int stop_after;
        store_t *st; /* set: calls the store back from the callback */
        bool bad;
} vwalk_t;

static int vwalk_fn(const fn_version_t *v, void *ud)
{
        vwalk_t *w = ud;
        size_t len = strlen(w->list);
        snprintf(w->list + len, sizeof(w->list) - len, "%s%d", len ? " " : "", v->version);
        w->n++;
        if (!v->spec || !v->name[0] || strlen(v->artifact) != 64)
                w->bad = true;
        if (w->st) {
                /* a nested walk reuses the statement: the outer one must not be open */
                vwalk_t inner = {.n = 0};
                rc_err_t err = {0};
                if (store_fn_versions(w->st, v->name, vwalk_fn, &inner, &err) < 0)
                        FAIL("nested versions of %s: %s", v->name, err.msg);
                fn_version_t one;
                if (store_fn_version(w->st, v->name, v->version, &one, &err) != 1)
                        FAIL("version %d of %s during a walk: %s", v->version, v->name, err.msg);
                else
                        fn_version_free(&one);
        }
        return w->stop_after && w->n >= w->stop_after;
}

static char *versions_of(store_t *st, const char *name)
{
        vwalk_t w = {.n = 0};
        rc_err_t err = {0};
        int r = store_fn_versions(st, name, vwalk_fn, &w, &err);
        if (r < 0)
                FAIL("versions of %s: %s", name, err.msg);
        if (r != w.n)
                FAIL("versions of %s: %d returned, %d given", name, r, w.n);
        if (w.bad)
                FAIL("versions of %s: a version read incompletely", name);
        return tu_strf("%s", w.list);
}

#define CHECK_VERSIONS(st, name, want)                                                             \
        do {                                                                                       \
                char *got_ = versions_of((st), (name));                                            \
                CHECK_STR_EQ(got_, (want));                                                        \
                free(got_);                                                                        \
        } while (0)

/* A count from the database file itself, behind the store's back. */
static long long sql_count(const char *path, const char *sql)
{
#ifdef TEST_STORE_PG
        char *ci = pg_db_for(path);
        PGconn *c = PQconnectdb(ci);
        free(ci);
        PGresult *r = PQexec(c, sql);
        long long v = -1;
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
                v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        else
                FAIL("%s: %s", sql, PQresultErrorMessage(r));
        PQclear(r);
        PQfinish(c);
        return v;
#endif
        sqlite3 *db = NULL;
        long long n = -1;
        if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
                FAIL("opening %s: %s", path, db ? sqlite3_errmsg(db) : "?");
                sqlite3_close(db);
                return -1;
        }
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
                FAIL("%s: %s", sql, sqlite3_errmsg(db));
        else if (sqlite3_step(q) == SQLITE_ROW)
                n = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
        sqlite3_close(db);
        return n;
}

static void test_fn_put_get_version(void)
{
        store_t *st = open_in("s.db", NULL);
        REQUIRE(st);
        rc_err_t err = {0};
        int version = -1;
        fn_record_t r;
        fn_version_t v;

        /* a new function: 1, version 1, current and latest */
        store_set_clock(st, 1000);
        CHECK_INT_EQ(store_fn_get(st, "hello", &r, &err), 0);
        CHECK_INT_EQ(store_fn_put(st, "hello", art('a'), "{\"v\": 1}", 5, &version, &err), 1);
        CHECK_INT_EQ(version, 1);
        if (CHECK_INT_EQ(store_fn_get(st, "hello", &r, &err), 1)) {
                CHECK_STR_EQ(r.name, "hello");
                CHECK_INT_EQ(r.current, 1);
                CHECK_INT_EQ(r.latest, 1);
                CHECK_INT_EQ(r.created_ms, 1000);
                CHECK_INT_EQ(r.updated_ms, 1000);
                CHECK_STR_EQ(r.cur.name, "hello");
                CHECK_INT_EQ(r.cur.version, 1);
                CHECK_INT_EQ(r.cur.created_ms, 1000);
                CHECK_STR_EQ(r.cur.artifact, art('a'));
                CHECK_STR_EQ(r.cur.spec, "{\"v\": 1}");
                fn_record_free(&r);
                CHECK(r.cur.spec == NULL);
        }

        /* a new version of it: 0, version 2, now current */
        store_set_clock(st, 2000);
        CHECK_INT_EQ(store_fn_put(st, "hello", art('b'), "{\"v\": 2}", 5, &version, &err), 0);
        CHECK_INT_EQ(version, 2);
        if (CHECK_INT_EQ(store_fn_get(st, "hello", &r, &err), 1)) {
                CHECK_INT_EQ(r.current, 2);
                CHECK_INT_EQ(r.latest, 2);
                CHECK_INT_EQ(r.created_ms, 1000); /* the function's, not the version's */
                CHECK_INT_EQ(r.updated_ms, 2000);
                CHECK_INT_EQ(r.cur.version, 2);
                CHECK_INT_EQ(r.cur.created_ms, 2000);
                CHECK_STR_EQ(r.cur.artifact, art('b'));
                CHECK_STR_EQ(r.cur.spec, "{\"v\": 2}");
                fn_record_free(&r);
        }

        /* one version: 0 is the current one */
        if (CHECK_INT_EQ(store_fn_version(st, "hello", 0, &v, &err), 1)) {
                CHECK_STR_EQ(v.name, "hello");
                CHECK_INT_EQ(v.version, 2);
                CHECK_STR_EQ(v.artifact, art('b'));
                CHECK_STR_EQ(v.spec, "{\"v\": 2}");
                fn_version_free(&v);
                CHECK(v.spec == NULL);
        }
        if (CHECK_INT_EQ(store_fn_version(st, "hello", 1, &v, &err), 1)) {
                CHECK_INT_EQ(v.version, 1);
                CHECK_INT_EQ(v.created_ms, 1000);
                CHECK_STR_EQ(v.artifact, art('a'));
                CHECK_STR_EQ(v.spec, "{\"v\": 1}");
                fn_version_free(&v);
        }
        CHECK_INT_EQ(store_fn_version(st, "hello", 3, &v, &err), 0);
        CHECK_INT_EQ(store_fn_version(st, "nope", 0, &v, &err), 0);
        CHECK_INT_EQ(store_fn_version(st, "nope", 1, &v, &err), 0);
        CHECK_FAIL(store_fn_version(st, "hello", -1, &v, &err), -EINVAL);
        CHECK_INT_EQ(store_fn_get(st, "nope", &r, &err), 0);

        /* back to version 1: current 1, latest still 2 */
        store_set_clock(st, 3000);
        CHECK_INT_EQ(store_fn_set_current(st, "hello", 1, &err), 1);
        if (CHECK_INT_EQ(store_fn_get(st, "hello", &r, &err), 1)) {
                CHECK_INT_EQ(r.current, 1);
                CHECK_INT_EQ(r.latest, 2);
                CHECK_INT_EQ(r.updated_ms, 3000);
                CHECK_INT_EQ(r.cur.version, 1);
                CHECK_STR_EQ(r.cur.artifact, art('a'));
                fn_record_free(&r);
        }
        if (CHECK_INT_EQ(store_fn_version(st, "hello", 0, &v, &err), 1)) {
                CHECK_INT_EQ(v.version, 1);
                fn_version_free(&v);
        }
        /* no such version or function: 0, nothing changed */
        store_set_clock(st, 4000);
        CHECK_INT_EQ(store_fn_set_current(st, "hello", 3, &err), 0);
        CHECK_INT_EQ(store_fn_set_current(st, "hello", 0, &err), 0);
        CHECK_INT_EQ(store_fn_set_current(st, "hello", -2, &err), 0);
        CHECK_INT_EQ(store_fn_set_current(st, "nope", 1, &err), 0);
        CHECK_INT_EQ(store_fn_get(st, "nope", &r, &err), 0);
        if (CHECK_INT_EQ(store_fn_get(st, "hello", &r, &err), 1)) {
                CHECK_INT_EQ(r.current, 1);
                CHECK_INT_EQ(r.updated_ms, 3000);
                fn_record_free(&r);
        }

        /* the next deploy is latest + 1 (not current + 1) */
        store_set_clock(st, 5000);
        CHECK_INT_EQ(fn_put1(st, "hello", art('c'), "{}", 5), 3);
        if (CHECK_INT_EQ(store_fn_get(st, "hello", &r, &err), 1)) {
                CHECK_INT_EQ(r.current, 3);
                CHECK_INT_EQ(r.latest, 3);
                fn_record_free(&r);
        }
        CHECK_VERSIONS(st, "hello", "3 2 1");

        /* names at the edges of the rule; unusual spec text */
        char longest[STORE_FN_NAME_MAX];
        memset(longest, 'z', sizeof(longest) - 1);
        longest[sizeof(longest) - 1] = '\0';
        CHECK_INT_EQ(fn_put1(st, longest, art('0'), "{}", 5), 1);
        const char *odd = "{\"s\": \"quote ' and \\\" and é\"}";
        CHECK_INT_EQ(fn_put1(st, "9lives_a-b", art('9'), odd, 5), 1);
        CHECK_INT_EQ(fn_put1(st, "x", art('f'), "{}", 5), 1);
        if (CHECK_INT_EQ(store_fn_get(st, longest, &r, &err), 1)) {
                CHECK_STR_EQ(r.name, longest);
                CHECK_STR_EQ(r.cur.name, longest);
                fn_record_free(&r);
        }
        if (CHECK_INT_EQ(store_fn_version(st, "9lives_a-b", 1, &v, &err), 1)) {
                CHECK_STR_EQ(v.spec, odd);
                fn_version_free(&v);
        }
        store_close(st);
}

/* Blobs (functions' artifacts for every node): only a shared store keeps them. */
static void test_blobs(void)
{
        const char *dir = tu_tmpdir();
        REQUIRE(dir);
        char *path = tu_strf("%s/s.db", dir);
        store_t *st = NULL;
        rc_err_t err = {0};
        REQUIRE(CHECK_OK_E(open_at(path, NULL, &st, &err), err));
        /* two and a half chunks, from a file */
        size_t len = STORE_BLOB_CHUNK * 2 + STORE_BLOB_CHUNK / 2;
        unsigned char *data = malloc(len), *back = malloc(len + 1);
        REQUIRE(data && back);
        for (size_t i = 0; i < len; i++)
                data[i] = (unsigned char)(i * 31 + i / 7);
        int fd = memfd_create("blob", MFD_CLOEXEC), out = memfd_create("out", MFD_CLOEXEC);
        REQUIRE(fd >= 0 && out >= 0);
        REQUIRE(write(fd, data, len) == (ssize_t)len);
        char b[65], c[65], e[65], d[65];
        art_into('b', b);
        art_into('c', c);
        art_into('e', e);
        art_into('d', d);
        int64_t got = -1;
#ifndef TEST_STORE_PG
        CHECK_FAIL(store_blob_put(st, b, fd, (int64_t)len, &err), -ENOTSUP);
        CHECK_CONTAINS(err.msg, "not shared");
        CHECK_FAIL(store_blob_get(st, b, out, &got, &err), -ENOTSUP);
        CHECK_FAIL(store_blob_prune(st, 0, &err), -ENOTSUP);
        CHECK_INT_EQ(sql_count(path, "SELECT count(*) FROM function_artifacts"), 0);
#else
        store_set_clock(st, 1000);
        CHECK_INT_EQ(store_blob_put(st, b, fd, (int64_t)len, &err), 1);
        CHECK_INT_EQ(store_blob_put(st, b, fd, (int64_t)len, &err), 0); /* there already */
        CHECK_INT_EQ(sql_count(path, "SELECT count(*) FROM function_artifact_chunks"), 3);
        if (CHECK_INT_EQ(store_blob_get(st, b, out, &got, &err), 1)) {
                CHECK_INT_EQ(got, (int64_t)len);
                CHECK_INT_EQ(pread(out, back, len + 1, 0), (ssize_t)len);
                CHECK(memcmp(back, data, len) == 0);
        }
        CHECK_INT_EQ(store_blob_get(st, c, out, &got, &err), 0);
        /* an empty one */
        CHECK_INT_EQ(store_blob_put(st, e, fd, 0, &err), 1);
        REQUIRE(ftruncate(out, 0) == 0 && lseek(out, 0, SEEK_SET) == 0);
        CHECK_INT_EQ(store_blob_get(st, e, out, &got, &err), 1);
        CHECK_INT_EQ(got, 0);
        /* a file shorter than it was said to be: nothing stored */
        CHECK_FAIL(store_blob_put(st, d, fd, (int64_t)len + 10, &err), -EIO);
        CHECK_CONTAINS(err.msg, "shorter");
        CHECK_INT_EQ(store_blob_get(st, d, out, &got, &err), 0);
        /* prune: what no version names, once old enough */
        REQUIRE(fn_put1(st, "f", b, "{}", 5) == 1);
        CHECK_INT_EQ(store_blob_prune(st, 5000, &err), 0); /* too young */
        store_set_clock(st, 10000);
        CHECK_INT_EQ(store_blob_prune(st, 5000, &err), 1); /* e */
        CHECK_INT_EQ(store_blob_get(st, e, out, &got, &err), 0);
        CHECK_INT_EQ(store_blob_get(st, b, out, &got, &err), 1);
        /* b no longer named: put again, it is young again and kept */
        CHECK_INT_EQ(store_fn_delete(st, "f", &err), 1);
        CHECK_INT_EQ(store_blob_put(st, b, fd, (int64_t)len, &err), 0);
        store_set_clock(st, 12000);
        CHECK_INT_EQ(store_blob_prune(st, 5000, &err), 0);
        store_set_clock(st, 20000);
        CHECK_INT_EQ(store_blob_prune(st, 5000, &err), 1);
        CHECK_INT_EQ(sql_count(path, "SELECT count(*) FROM function_artifact_chunks"), 0);
#endif
        /* names: a sha256 in lowercase hex */
        const char *bad[] = {NULL, "", "abc", "../../etc/passwd"};
        for (size_t i = 0; i < TU_COUNT(bad); i++) {
                CHECK_FAIL(store_blob_put(st, bad[i], fd, 1, &err), -EINVAL);
                CHECK_FAIL(store_blob_get(st, bad[i], out, &got, &err), -EINVAL);
        }
        close(fd);
        close(out);
        free(data);
        free(back);
        store_close(st);
        free(path);
}

static void test_fn_bad_arguments(void)
{
        const char *dir = tu_tmpdir();
        REQUIRE(dir);
        char *path = tu_strf("%s/s.db", dir);
        store_t *st = NULL;
        rc_err_t err = {0};
        REQUIRE(CHECK_OK_E(open_at(path, NULL, &st, &err), err));
        REQUIRE(fn_put1(st, "ok", art('a'), "{}", 5) == 1);

        char too_long[STORE_FN_NAME_MAX + 1];
        memset(too_long, 'a', sizeof(too_long) - 1);
        too_long[sizeof(too_long) - 1] = '\0'; /* 64 */
        const char *bad_names[] = {"Hello", "hellO", "_x",   "-x",   "",    too_long, "a/b",
                                   "/",     "..",    "a.b",  "a b",  " a",  "a\n",    "é",
                                   "a*",    "../x",  "x/..", "a\\b", "A-1", "ok/"};
        fn_record_t r;
        fn_version_t v;
        vwalk_t w = {.n = 0};
        int version = -7;
        for (size_t i = 0; i < TU_COUNT(bad_names); i++) {
                const char *n = bad_names[i];
                err.msg[0] = '\0';
                if (!CHECK_FAIL(store_fn_put(st, n, art('b'), "{}", 5, &version, &err), -EINVAL))
                        FAIL("name \"%s\" taken", n);
                CHECK_CONTAINS(err.msg, "name");
                CHECK_FAIL(store_fn_get(st, n, &r, &err), -EINVAL);
                CHECK_FAIL(store_fn_version(st, n, 0, &v, &err), -EINVAL);
                CHECK_FAIL(store_fn_versions(st, n, vwalk_fn, &w, &err), -EINVAL);
                CHECK_FAIL(store_fn_set_current(st, n, 1, &err), -EINVAL);
                CHECK_FAIL(store_fn_delete(st, n, &err), -EINVAL);
        }
        CHECK_FAIL(store_fn_put(st, NULL, art('b'), "{}", 5, &version, &err), -EINVAL);
        CHECK_FAIL(store_fn_get(st, NULL, &r, &err), -EINVAL);
        CHECK_INT_EQ(w.n, 0);

        /* an artifact is a sha256: 64 lowercase hex digits */
        char a63[64], a65[66], upper[65], nonhex[65], spaced[65];
        memset(a63, 'a', 63);
        a63[63] = '\0';
        memset(a65, 'a', 65);
        a65[65] = '\0';
        memset(upper, 'A', 64);
        upper[64] = '\0';
        art_into('a', nonhex);
        nonhex[10] = 'g';
        art_into('a', spaced);
        spaced[63] = ' ';
        const char *bad_arts[] = {NULL, "", "abc", a63, a65, upper, nonhex, spaced, "../../etc"};
        for (size_t i = 0; i < TU_COUNT(bad_arts); i++) {
                const char *a = bad_arts[i];
                if (!CHECK_FAIL(store_fn_put(st, "ok", a, "{}", 5, &version, &err), -EINVAL))
                        FAIL("artifact \"%s\" taken", a ? a : "(null)");
                if (!CHECK_FAIL(store_fn_put(st, "new", a, "{}", 5, &version, &err), -EINVAL))
                        FAIL("artifact \"%s\" taken", a ? a : "(null)");
        }
        /* a spec: not NULL, not empty */
        CHECK_FAIL(store_fn_put(st, "ok", art('b'), NULL, 5, &version, &err), -EINVAL);
        CHECK_FAIL(store_fn_put(st, "ok", art('b'), "", 5, &version, &err), -EINVAL);
        CHECK_FAIL(store_fn_put(st, "new", art('b'), NULL, 5, &version, &err), -EINVAL);
        CHECK_FAIL(store_fn_put(st, "new", art('b'), "", 5, &version, &err), -EINVAL);
        CHECK_INT_EQ(version, -7); /* not touched on failure */
        CHECK_FAIL(store_fn_artifact_refs(st, NULL, &err), -EINVAL);
        CHECK_FAIL(store_fn_artifact_refs(st, "", &err), -EINVAL);

        /* nothing written: "ok" as it was, no "new" */
        if (CHECK_INT_EQ(store_fn_get(st, "ok", &r, &err), 1)) {
                CHECK_INT_EQ(r.current, 1);
                CHECK_INT_EQ(r.latest, 1);
                CHECK_STR_EQ(r.cur.artifact, art('a'));
                fn_record_free(&r);
        }
        CHECK_INT_EQ(store_fn_get(st, "new", &r, &err), 0);
        CHECK_VERSIONS(st, "ok", "1");
        CHECK_INT_EQ(store_fn_artifact_refs(st, art('b'), &err), 0);
        CHECK_INT_EQ(sql_count(path, "SELECT count(*) FROM functions"), 1);
        CHECK_INT_EQ(sql_count(path, "SELECT count(*) FROM function_versions"), 1);
        store_close(st);
        free(path);
}

static void test_fn_keep_versions(void)
{
        store_t *st = open_in("s.db", NULL);
        REQUIRE(st);
        rc_err_t err = {0};
        fn_record_t r;
        fn_version_t v;
        const char digits[] = "0123456789abcdef";
        /* keep 3: the oldest go as new ones come */
        for (int i = 1; i <= 5; i++)
                CHECK_INT_EQ(fn_put1(st, "f", art(digits[i]), "{}", 3), i);
        CHECK_VERSIONS(st, "f", "5 4 3");
        CHECK_INT_EQ(store_fn_version(st, "f", 2, &v, &err), 0);
        CHECK_INT_EQ(store_fn_artifact_refs(st, art('1'), &err), 0);
        CHECK_INT_EQ(store_fn_artifact_refs(st, art('2'), &err), 0);
        CHECK_INT_EQ(store_fn_artifact_refs(st, art('3'), &err), 1);
        CHECK_INT_EQ(store_fn_set_current(st, "f", 2, &err), 0); /* pruned: not kept */

        /* back to the oldest kept one: a rollback deletes nothing */
        CHECK_INT_EQ(store_fn_set_current(st, "f", 3, &err), 1);
        CHECK_VERSIONS(st, "f", "5 4 3");
        /* a deploy with a smaller keep: the new one (current now) and the newest before it */
        CHECK_INT_EQ(fn_put1(st, "f", art('6'), "{}", 2), 6);
        CHECK_VERSIONS(st, "f", "6 5");
        if (CHECK_INT_EQ(store_fn_get(st, "f", &r, &err), 1)) {
                CHECK_INT_EQ(r.current, 6);
                CHECK_INT_EQ(r.latest, 6);
                fn_record_free(&r);
        }
        /* back to 5, deploy more: each deploy's version is current, so it always stays */
        CHECK_INT_EQ(store_fn_set_current(st, "f", 5, &err), 1);
        CHECK_INT_EQ(fn_put1(st, "f", art('7'), "{}", 2), 7);
        CHECK_VERSIONS(st, "f", "7 6");
        CHECK_INT_EQ(fn_put1(st, "f", art('8'), "{}", 2), 8);
        CHECK_VERSIONS(st, "f", "8 7");
        if (CHECK_INT_EQ(store_fn_version(st, "f", 0, &v, &err), 1)) {
                CHECK_INT_EQ(v.version, 8);
                fn_version_free(&v);
        }
        /* a rollback to the oldest kept, then a deploy keeping 1: only the new one */
        CHECK_INT_EQ(store_fn_set_current(st, "f", 7, &err), 1);
        CHECK_INT_EQ(fn_put1(st, "f", art('9'), "{}", 1), 9);
        CHECK_VERSIONS(st, "f", "9");
        /* keep below 1 counts as 1: the current one is never deleted */
        CHECK_INT_EQ(fn_put1(st, "f", art('a'), "{}", 0), 10);
        CHECK_VERSIONS(st, "f", "10");
        CHECK_INT_EQ(fn_put1(st, "f", art('b'), "{}", -5), 11);
        CHECK_VERSIONS(st, "f", "11");
        if (CHECK_INT_EQ(store_fn_get(st, "f", &r, &err), 1)) {
                CHECK_INT_EQ(r.current, 11);
                CHECK_INT_EQ(r.latest, 11);
                CHECK_STR_EQ(r.cur.artifact, art('b'));
                fn_record_free(&r);
        }
        /* a larger keep deletes nothing back: they are gone */
        CHECK_INT_EQ(fn_put1(st, "f", art('c'), "{}", 10), 12);
        CHECK_VERSIONS(st, "f", "12 11");
        /* another function's versions are its own */
        CHECK_INT_EQ(fn_put1(st, "g", art('c'), "{}", 1), 1);
        CHECK_INT_EQ(fn_put1(st, "g", art('d'), "{}", 1), 2);
        CHECK_VERSIONS(st, "f", "12 11");
        CHECK_VERSIONS(st, "g", "2");
        CHECK_INT_EQ(store_fn_artifact_refs(st, art('c'), &err), 1);
        store_close(st);
}

typedef struct fwalk {
        char names[16][STORE_FN_NAME_MAX];
        int current[16];
        int n;
        int stop_after;
        store_t *st; /* set: calls the store back from the callback */
} fwalk_t;

static int fwalk_fn(const fn_record_t *r, void *ud)
{
        fwalk_t *w = ud;
        if (w->n < 16) {
                snprintf(w->names[w->n], STORE_FN_NAME_MAX, "%s", r->name);
                w->current[w->n] = r->current;
        }
        w->n++;
        if (r->cur.version != r->current || !r->cur.spec || strcmp(r->cur.name, r->name) != 0)
                FAIL("%s: its current version read wrong", r->name);
        if (w->st) {
                rc_err_t err = {0};
                /* a nested list reuses the statement: the outer one must not be open */
                fwalk_t *inner = calloc(1, sizeof(*inner));
                if (!inner || store_fn_list(w->st, fwalk_fn, inner, &err) < 0)
                        FAIL("nested list: %s", err.msg);
                free(inner);
                fn_record_t g;
                int version = 0;
                if (strcmp(r->name, "zeta") == 0) {
                        if (store_fn_delete(w->st, r->name, &err) != 1)
                                FAIL("delete %s during a walk: %s", r->name, err.msg);
                } else if (store_fn_get(w->st, r->name, &g, &err) != 1) {
                        FAIL("get %s during a walk: %s", r->name, err.msg);
                } else {
                        fn_record_free(&g);
                        if (store_fn_put(w->st, r->name, art('e'), "{\"again\": 1}", 5, &version,
                                         &err) != 0)
                                FAIL("deploy %s during a walk: %s", r->name, err.msg);
                }
        }
        return w->stop_after && w->n >= w->stop_after;
}

static void test_fn_list_and_versions(void)
{
        store_t *st = open_in("s.db", NULL);
        REQUIRE(st);
        rc_err_t err = {0};
        fwalk_t *w = calloc(1, sizeof(*w));
        REQUIRE(w);
        CHECK_INT_EQ(store_fn_list(st, fwalk_fn, w, &err), 0);
        CHECK_INT_EQ(w->n, 0);
        /* deployed out of order; byte order of names: '-' < '0' < '_' < 'a' */
        const char *names[] = {"zeta", "alpha", "beta", "a_b", "a-b", "a0", "mid"};
        for (size_t i = 0; i < TU_COUNT(names); i++)
                REQUIRE(fn_put1(st, names[i], art('a'), "{}", 5) == 1);
        REQUIRE(fn_put1(st, "mid", art('b'), "{}", 5) == 2);
        REQUIRE(store_fn_set_current(st, "mid", 1, &err) == 1);
        CHECK_INT_EQ(store_fn_list(st, fwalk_fn, w, &err), 7);
        const char *sorted[] = {"a-b", "a0", "a_b", "alpha", "beta", "mid", "zeta"};
        for (size_t i = 0; i < TU_COUNT(sorted); i++)
                CHECK_STR_EQ(w->names[i], sorted[i]);
        CHECK_INT_EQ(w->current[5], 1); /* mid, at its current version (not its latest) */

        /* stopped by fn */
        memset(w, 0, sizeof(*w));
        w->stop_after = 3;
        CHECK_INT_EQ(store_fn_list(st, fwalk_fn, w, &err), 3);
        CHECK_INT_EQ(w->n, 3);
        CHECK_STR_EQ(w->names[2], "a_b");

        /* fn may call the store back: read, list, deploy, delete */
        memset(w, 0, sizeof(*w));
        w->st = st;
        CHECK_INT_EQ(store_fn_list(st, fwalk_fn, w, &err), 7); /* read before the walk */
        CHECK_STR_EQ(w->names[6], "zeta");
        memset(w, 0, sizeof(*w));
        CHECK_INT_EQ(store_fn_list(st, fwalk_fn, w, &err), 6); /* zeta deleted itself */
        CHECK_INT_EQ(w->current[0], 2);                        /* a-b: the walk's deploy */
        CHECK_INT_EQ(w->current[4], 2);                        /* beta */
        CHECK_INT_EQ(w->current[5], 3);                        /* mid */

        /* versions, newest first */
        for (int i = 0; i < 5; i++)
                REQUIRE(fn_put1(st, "vv", art('c'), "{}", 10) == i + 1);
        CHECK_VERSIONS(st, "vv", "5 4 3 2 1");
        CHECK_VERSIONS(st, "mid", "3 2 1");
        CHECK_VERSIONS(st, "nope", "");
        CHECK_VERSIONS(st, "zeta", "");
        vwalk_t vw = {.n = 0};
        vw.stop_after = 2;
        CHECK_INT_EQ(store_fn_versions(st, "vv", vwalk_fn, &vw, &err), 2);
        CHECK_STR_EQ(vw.list, "5 4");
        memset(&vw, 0, sizeof(vw));
        vw.st = st; /* nested walks and reads from the callback */
        CHECK_INT_EQ(store_fn_versions(st, "vv", vwalk_fn, &vw, &err), 5);
        CHECK_STR_EQ(vw.list, "5 4 3 2 1");
        CHECK(!vw.bad);
        free(w);
        store_close(st);
}

static void test_fn_delete_and_refs(void)
{
        const char *dir = tu_tmpdir();
        REQUIRE(dir);
        char *path = tu_strf("%s/s.db", dir);
        store_t *st = NULL;
        rc_err_t err = {0};
        REQUIRE(CHECK_OK_E(open_at(path, NULL, &st, &err), err));
        const char *x = art('1'), *y = art('2'), *z = art('3');
        CHECK_INT_EQ(store_fn_artifact_refs(st, x, &err), 0);
        REQUIRE(fn_put1(st, "a", x, "{}", 5) == 1);
        REQUIRE(fn_put1(st, "a", y, "{}", 5) == 2);
        REQUIRE(fn_put1(st, "a", x, "{}", 5) == 3); /* the same files deployed again */
        REQUIRE(fn_put1(st, "b", x, "{}", 5) == 1);
        CHECK_INT_EQ(store_fn_artifact_refs(st, x, &err), 3);
        CHECK_INT_EQ(store_fn_artifact_refs(st, y, &err), 1);
        CHECK_INT_EQ(store_fn_artifact_refs(st, z, &err), 0);
        CHECK_INT_EQ(store_fn_artifact_refs(st, "not-a-sha", &err), 0);

        /* deleted with its versions */
        CHECK_INT_EQ(store_fn_delete(st, "a", &err), 1);
        fn_record_t r;
        fn_version_t v;
        CHECK_INT_EQ(store_fn_get(st, "a", &r, &err), 0);
        CHECK_INT_EQ(store_fn_version(st, "a", 0, &v, &err), 0);
        CHECK_INT_EQ(store_fn_version(st, "a", 2, &v, &err), 0);
        CHECK_VERSIONS(st, "a", "");
        CHECK_INT_EQ(store_fn_set_current(st, "a", 1, &err), 0);
        CHECK_INT_EQ(store_fn_artifact_refs(st, x, &err), 1);
        CHECK_INT_EQ(store_fn_artifact_refs(st, y, &err), 0);
        CHECK_INT_EQ(sql_count(path, "SELECT count(*) FROM function_versions WHERE name = 'a'"), 0);
        CHECK_INT_EQ(store_fn_delete(st, "a", &err), 0);
        CHECK_INT_EQ(store_fn_delete(st, "never", &err), 0);
        if (CHECK_INT_EQ(store_fn_get(st, "b", &r, &err), 1)) { /* the other one untouched */
                CHECK_STR_EQ(r.cur.artifact, x);
                fn_record_free(&r);
        }

        /* deployed again: a new function, from version 1 */
        int version = 0;
        CHECK_INT_EQ(store_fn_put(st, "a", z, "{\"new\": true}", 5, &version, &err), 1);
        CHECK_INT_EQ(version, 1);
        CHECK_VERSIONS(st, "a", "1");
        if (CHECK_INT_EQ(store_fn_version(st, "a", 1, &v, &err), 1)) {
                CHECK_STR_EQ(v.artifact, z);
                CHECK_STR_EQ(v.spec, "{\"new\": true}");
                fn_version_free(&v);
        }

        /* pruned versions count no more */
        REQUIRE(fn_put1(st, "b", y, "{}", 1) == 2);
        CHECK_INT_EQ(store_fn_artifact_refs(st, x, &err), 0);
        CHECK_INT_EQ(store_fn_artifact_refs(st, y, &err), 1);
        CHECK_INT_EQ(store_fn_artifact_refs(st, z, &err), 1);
        CHECK_INT_EQ(store_fn_delete(st, "b", &err), 1);
        CHECK_INT_EQ(store_fn_delete(st, "a", &err), 1);
        CHECK_INT_EQ(store_fn_artifact_refs(st, y, &err), 0);
        CHECK_INT_EQ(store_fn_artifact_refs(st, z, &err), 0);
        CHECK_INT_EQ(sql_count(path, "SELECT count(*) FROM functions"), 0);
        CHECK_INT_EQ(sql_count(path, "SELECT count(*) FROM function_versions"), 0);
        store_close(st);
        free(path);
}

static void test_fn_survive_reopen(void)
{
        const char *dir = tu_tmpdir();
        REQUIRE(dir);
        char *path = tu_strf("%s/s.db", dir);
        store_t *st = NULL;
        rc_err_t err = {0};
        REQUIRE(CHECK_OK_E(open_at(path, NULL, &st, &err), err));
        store_set_clock(st, 10000);
        REQUIRE(fn_put1(st, "keep-me", art('a'), "{\"n\": 1}", 5) == 1);
        store_set_clock(st, 20000);
        REQUIRE(fn_put1(st, "keep-me", art('b'), "{\"n\": 2}", 5) == 2);
        store_set_clock(st, 30000);
        REQUIRE(store_fn_set_current(st, "keep-me", 1, &err) == 1);
        REQUIRE(fn_put1(st, "other", art('c'), "{}", 5) == 1);
        store_close(st);

        REQUIRE(CHECK_OK_E(open_at(path, NULL, &st, &err), err));
        fn_record_t r;
        if (CHECK_INT_EQ(store_fn_get(st, "keep-me", &r, &err), 1)) {
                CHECK_INT_EQ(r.current, 1);
                CHECK_INT_EQ(r.latest, 2);
                CHECK_INT_EQ(r.created_ms, 10000);
                CHECK_INT_EQ(r.updated_ms, 30000);
                CHECK_INT_EQ(r.cur.created_ms, 10000);
                CHECK_STR_EQ(r.cur.artifact, art('a'));
                CHECK_STR_EQ(r.cur.spec, "{\"n\": 1}");
                fn_record_free(&r);
        }
        fn_version_t v;
        if (CHECK_INT_EQ(store_fn_version(st, "keep-me", 2, &v, &err), 1)) {
                CHECK_INT_EQ(v.created_ms, 20000);
                CHECK_STR_EQ(v.artifact, art('b'));
                CHECK_STR_EQ(v.spec, "{\"n\": 2}");
                fn_version_free(&v);
        }
        CHECK_VERSIONS(st, "keep-me", "2 1");
        fwalk_t *w = calloc(1, sizeof(*w));
        REQUIRE(w);
        CHECK_INT_EQ(store_fn_list(st, fwalk_fn, w, &err), 2);
        CHECK_STR_EQ(w->names[0], "keep-me");
        CHECK_STR_EQ(w->names[1], "other");
        free(w);
        CHECK_INT_EQ(store_fn_artifact_refs(st, art('b'), &err), 1);
        /* the numbering goes on from latest */
        CHECK_INT_EQ(fn_put1(st, "keep-me", art('d'), "{}", 5), 3);
        store_close(st);
        free(path);
}

/* Migrations 2 and 3 as they were shipped, on top of V1_SQL: a store at schema version 3. */
static const char V3_SQL[] =
    "ALTER TABLE submissions ADD COLUMN callback_url TEXT;"
    "ALTER TABLE submissions ADD COLUMN callback_state INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE submissions ADD COLUMN callback_attempts INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE submissions ADD COLUMN callback_next_ms INTEGER NOT NULL DEFAULT 0;"
    "INSERT INTO schema_migrations VALUES (2, 'callbacks', 1700000000001);"
    "CREATE INDEX submissions_by_dialect ON submissions (dialect, created_ms);"
    "CREATE INDEX submissions_by_state ON submissions (state, finished_ms);"
    "CREATE INDEX submissions_callbacks_due ON submissions (callback_next_ms)"
    " WHERE callback_state = 1;"
    "CREATE INDEX submissions_leases ON submissions (lease_owner) WHERE state = 2;"
    "INSERT INTO schema_migrations VALUES (3, 'indexes', 1700000000002);"
    "INSERT INTO submissions (token, dialect, state, attempts, created_ms, started_ms,"
    " finished_ms, request, result, callback_url, callback_state, callback_attempts,"
    " callback_next_ms) VALUES ('v3-cb', 'judge0', 3, 1, 3000, 3100, 3200, '{\"c\": 3}',"
    " '{\"ok\": 3}', 'http://h/cb', 1, 2, 9000);";

static void test_fn_migrate_from_v3(void)
{
        const char *dir = tu_tmpdir();
        REQUIRE(dir);
        char *path = tu_strf("%s/v3.db", dir);
        sqlite3 *db = NULL;
        REQUIRE(sqlite3_open(path, &db) == SQLITE_OK);
        char *msg = NULL;
        if (!CHECK(sqlite3_exec(db, V1_SQL, NULL, NULL, &msg) == SQLITE_OK))
                FAIL("v1 SQL: %s", msg ? msg : "?");
        sqlite3_free(msg);
        msg = NULL;
        if (!CHECK(sqlite3_exec(db, V3_SQL, NULL, NULL, &msg) == SQLITE_OK))
                FAIL("v3 SQL: %s", msg ? msg : "?");
        sqlite3_free(msg);
        sqlite3_close(db);
        CHECK_INT_EQ(sql_count(path, "SELECT max(version) FROM schema_migrations"), 3);
        CHECK_INT_EQ(sql_count(path, "SELECT count(*) FROM sqlite_schema WHERE name = 'functions'"),
                     0);

        store_t *st = NULL;
        rc_err_t err = {0};
        REQUIRE(CHECK_OK_E(store_open_sqlite(path, NULL, &st, &err), err));
        CHECK(store_schema_latest() >= 4);
        CHECK_INT_EQ(store_schema_version(st), store_schema_latest());
        /* the submissions kept, every column */
        submission_t s;
        if (CHECK_INT_EQ(store_get(st, "v3-cb", &s, &err), 1)) {
                CHECK_INT_EQ(s.state, SUB_DONE);
                CHECK_INT_EQ(s.created_ms, 3000);
                CHECK_INT_EQ(s.finished_ms, 3200);
                CHECK_STR_EQ(s.request, "{\"c\": 3}");
                CHECK_STR_EQ(s.result, "{\"ok\": 3}");
                CHECK_STR_EQ(s.callback_url, "http://h/cb");
                CHECK_INT_EQ(s.callback_state, CB_PENDING);
                CHECK_INT_EQ(s.callback_attempts, 2);
                CHECK_INT_EQ(s.callback_next_ms, 9000);
                submission_free(&s);
        }
        if (CHECK_INT_EQ(store_get(st, "old-done", &s, &err), 1)) {
                CHECK_STR_EQ(s.result, "{\"ok\": true}");
                submission_free(&s);
        }
        CHECK_INT_EQ(state_of(st, "old-queued"), SUB_QUEUED);
        CHECK_INT_EQ(store_callback_next_ms(st, &err), 9000);
        /* the functions tables are there, empty, and work */
        fwalk_t *w = calloc(1, sizeof(*w));
        REQUIRE(w);
        CHECK_INT_EQ(store_fn_list(st, fwalk_fn, w, &err), 0);
        free(w);
        CHECK_INT_EQ(fn_put1(st, "after", art('a'), "{}", 5), 1);
        CHECK_INT_EQ(store_fn_artifact_refs(st, art('a'), &err), 1);
        store_close(st);

        /* migration 4 recorded once, by name; its index made */
        CHECK_INT_EQ(sql_count(path, "SELECT count(*) FROM schema_migrations WHERE version = 4"
                                     " AND name = 'functions'"),
                     1);
        CHECK_INT_EQ(sql_count(path, "SELECT count(*) FROM schema_migrations"),
                     store_schema_latest());
        CHECK_INT_EQ(sql_count(path, "SELECT count(*) FROM sqlite_schema WHERE type = 'index'"
                                     " AND name = 'function_versions_by_artifact'"),
                     1);
        CHECK_INT_EQ(sql_count(path, "SELECT count(*) FROM submissions"), 3);
        /* opened again: nothing to do */
        REQUIRE(CHECK_OK_E(store_open_sqlite(path, NULL, &st, &err), err));
        CHECK_INT_EQ(store_schema_version(st), store_schema_latest());
        CHECK_INT_EQ(fn_put1(st, "after", art('b'), "{}", 5), 2);
        store_close(st);
        free(path);
}

/* Two threads, each with its own store, deploy the same function at once. */
#define FN_DEPLOYS 40

typedef struct deployer {
        const char *path;
        int id;
        int versions[FN_DEPLOYS];
        int created;
        char err[RC_ERR_MSG_MAX];
} deployer_t;

static void *deployer_main(void *arg)
{
        deployer_t *d = arg;
        store_t *st = NULL;
        rc_err_t err = {0};
        if (open_at(d->path, NULL, &st, &err) < 0) {
                snprintf(d->err, sizeof(d->err), "open: %.400s", err.msg);
                return NULL;
        }
        char own[16], mine[65], common[65];
        snprintf(own, sizeof(own), "own-%d", d->id);
        art_into(d->id ? 'b' : 'a', mine);
        art_into('c', common);
        for (int i = 0; i < FN_DEPLOYS; i++) {
                char spec[32];
                snprintf(spec, sizeof(spec), "{\"by\": %d, \"i\": %d}", d->id, i);
                int r = store_fn_put(st, "shared", mine, spec, 1000, &d->versions[i], &err);
                if (r < 0) {
                        snprintf(d->err, sizeof(d->err), "deploy %d: %.400s", i, err.msg);
                        break;
                }
                d->created += r;
                int v = 0;
                if (store_fn_put(st, own, common, spec, 3, &v, &err) < 0 || v != i + 1) {
                        snprintf(d->err, sizeof(d->err), "deploy %s %d: %.400s (version %d)", own,
                                 i, err.msg, v);
                        break;
                }
        }
        store_close(st);
        return NULL;
}

static void test_fn_two_stores_one_file(void)
{
        const char *dir = tu_tmpdir();
        REQUIRE(dir);
        char *path = tu_strf("%s/shared.db", dir);
        store_t *a = NULL, *b = NULL;
        rc_err_t err = {0};
        REQUIRE(CHECK_OK_E(open_at(path, NULL, &a, &err), err));
        REQUIRE(CHECK_OK_E(open_at(path, NULL, &b, &err), err));
        fn_record_t r;
        /* one deploys, the other sees it */
        REQUIRE(fn_put1(a, "f", art('a'), "{\"by\": \"a\"}", 5) == 1);
        if (CHECK_INT_EQ(store_fn_get(b, "f", &r, &err), 1)) {
                CHECK_INT_EQ(r.current, 1);
                CHECK_STR_EQ(r.cur.spec, "{\"by\": \"a\"}");
                fn_record_free(&r);
        }
        int version = 0;
        CHECK_INT_EQ(store_fn_put(b, "f", art('b'), "{\"by\": \"b\"}", 5, &version, &err), 0);
        CHECK_INT_EQ(version, 2);
        if (CHECK_INT_EQ(store_fn_get(a, "f", &r, &err), 1)) {
                CHECK_INT_EQ(r.current, 2);
                CHECK_INT_EQ(r.latest, 2);
                CHECK_STR_EQ(r.cur.artifact, art('b'));
                fn_record_free(&r);
        }
        CHECK_VERSIONS(a, "f", "2 1");
        CHECK_INT_EQ(store_fn_set_current(a, "f", 1, &err), 1);
        fn_version_t v;
        if (CHECK_INT_EQ(store_fn_version(b, "f", 0, &v, &err), 1)) {
                CHECK_INT_EQ(v.version, 1);
                fn_version_free(&v);
        }
        CHECK_INT_EQ(store_fn_artifact_refs(b, art('b'), &err), 1);
        fwalk_t *w = calloc(1, sizeof(*w));
        REQUIRE(w);
        CHECK_INT_EQ(store_fn_list(b, fwalk_fn, w, &err), 1);
        CHECK_INT_EQ(store_fn_delete(b, "f", &err), 1);
        CHECK_INT_EQ(store_fn_get(a, "f", &r, &err), 0);
        CHECK_INT_EQ(store_fn_artifact_refs(a, art('b'), &err), 0);
        CHECK_INT_EQ(store_fn_delete(a, "f", &err), 0);
        store_close(a);
        store_close(b);

        /* two threads deploying at once: every version numbered once, none lost */
        pthread_t th[2];
        deployer_t *d = calloc(2, sizeof(*d));
        REQUIRE(d);
        for (int i = 0; i < 2; i++) {
                d[i].path = path;
                d[i].id = i;
        }
        for (int i = 0; i < 2; i++)
                REQUIRE(pthread_create(&th[i], NULL, deployer_main, &d[i]) == 0);
        for (int i = 0; i < 2; i++)
                pthread_join(th[i], NULL);
        bool seen[2 * FN_DEPLOYS + 1] = {false};
        bool unique = true;
        for (int i = 0; i < 2; i++) {
                if (d[i].err[0])
                        FAIL("deployer %d: %s", i, d[i].err);
                for (int j = 0; j < FN_DEPLOYS; j++) {
                        int n = d[i].versions[j];
                        if (n < 1 || n > 2 * FN_DEPLOYS || seen[n])
                                unique = false;
                        else
                                seen[n] = true;
                        if (j && n <= d[i].versions[j - 1])
                                unique = false; /* each one's own go up */
                }
        }
        CHECK(unique);
        CHECK_INT_EQ(d[0].created + d[1].created, 1); /* one of them made it */
        REQUIRE(CHECK_OK_E(open_at(path, NULL, &a, &err), err));
        if (CHECK_INT_EQ(store_fn_get(a, "shared", &r, &err), 1)) {
                CHECK_INT_EQ(r.latest, 2 * FN_DEPLOYS);
                CHECK_INT_EQ(r.current, 2 * FN_DEPLOYS);
                fn_record_free(&r);
        }
        vwalk_t vw = {.n = 0};
        CHECK_INT_EQ(store_fn_versions(a, "shared", vwalk_fn, &vw, &err), 2 * FN_DEPLOYS);
        CHECK_INT_EQ(store_fn_artifact_refs(a, art('a'), &err), FN_DEPLOYS);
        CHECK_INT_EQ(store_fn_artifact_refs(a, art('c'), &err), 6); /* 3 kept of each own-N */
        memset(w, 0, sizeof(*w));
        CHECK_INT_EQ(store_fn_list(a, fwalk_fn, w, &err), 3);
        CHECK_STR_EQ(w->names[0], "own-0");
        CHECK_STR_EQ(w->names[2], "shared");
        free(w);
        free(d);
        store_close(a);
        free(path);
}

/* ---- claims: nodes sharing a store take queued work ---- */

static void test_claim(void)
{
        store_opts_t o = {.max_attempts = 2};
        store_t *st = open_in("claim.db", &o);
        REQUIRE(st);
        rc_err_t err = {0};
        REQUIRE(insert1(st, "c2", "judge0", 2000, NULL) >= 0);
        REQUIRE(insert1(st, "c1", "judge0", 1000, NULL) >= 0);
        REQUIRE(insert1(st, "c0", "other", 500, NULL) >= 0);
        store_set_clock(st, 10000);
        submission_t s;
        /* the oldest of the dialect first */
        if (CHECK_INT_EQ(store_claim(st, "judge0", "n1", 11000, &s, &err), 1)) {
                CHECK_STR_EQ(s.token, "c1");
                CHECK_INT_EQ(s.state, SUB_RUNNING);
                CHECK_INT_EQ(s.attempts, 1);
                CHECK_STR_EQ(s.lease_owner, "n1");
                CHECK_INT_EQ(s.lease_expiry_ms, 11000);
                CHECK_INT_EQ(s.started_ms, 10000);
                CHECK_STR_EQ(s.request, "{\"source\": \"x\"}");
                submission_free(&s);
        }
        if (CHECK_INT_EQ(store_claim(st, "judge0", "n2", 11000, &s, &err), 1)) {
                CHECK_STR_EQ(s.token, "c2");
                submission_free(&s);
        }
        CHECK_INT_EQ(store_claim(st, "judge0", "n2", 11000, &s, &err), 0);
        CHECK_INT_EQ(state_of(st, "c0"), SUB_QUEUED);
        /* n1 renews c1, n2 does not renew c2: past 11000 c2 is claimable again */
        CHECK_INT_EQ(store_renew(st, "n1", 20000, &err), 1);
        store_set_clock(st, 12000);
        if (CHECK_INT_EQ(store_claim(st, "judge0", "n3", 30000, &s, &err), 1)) {
                CHECK_STR_EQ(s.token, "c2");
                CHECK_INT_EQ(s.attempts, 2);
                CHECK_STR_EQ(s.lease_owner, "n3");
                submission_free(&s);
        }
        /* the result once: n2 lost its lease, n3 holds it */
        CHECK_INT_EQ(store_finish(st, "c2", "n2", "{\"by\": 2}", &err), 0);
        CHECK_INT_EQ(store_finish(st, "c2", "n3", "{\"by\": 3}", &err), 1);
        CHECK_INT_EQ(store_finish(st, "c2", "n3", "{\"again\": 3}", &err), 0);
        CHECK_INT_EQ(store_finish(st, "c2", NULL, "{\"any\": 1}", &err), 0); /* done */
        if (CHECK_INT_EQ(store_get(st, "c2", &s, &err), 1)) {
                CHECK_STR_EQ(s.result, "{\"by\": 3}");
                submission_free(&s);
        }
        /* c1 at its last run (attempts 2 of 2) expires: not claimed, recovery gives it up */
        store_set_clock(st, 20000);
        if (CHECK_INT_EQ(store_claim(st, "judge0", "n3", 21000, &s, &err), 1)) {
                CHECK_STR_EQ(s.token, "c1");
                CHECK_INT_EQ(s.attempts, 2);
                submission_free(&s);
        }
        store_set_clock(st, 22000);
        CHECK_INT_EQ(store_claim(st, "judge0", "n1", 30000, &s, &err), 0);
        CHECK_INT_EQ(store_recover(st, NULL, &err), 1);
        if (CHECK_INT_EQ(store_get(st, "c1", &s, &err), 1)) {
                CHECK_INT_EQ(s.state, SUB_DONE);
                CHECK_STR_EQ(s.error, "interrupted 2 times");
                submission_free(&s);
        }
        CHECK_FAIL(store_claim(st, "", "n1", 1, &s, &err), -EINVAL);
        CHECK_FAIL(store_claim(st, "judge0", "", 1, &s, &err), -EINVAL);
        store_close(st);
}

/* A submission inserted with a lease owner is that owner's at once (a client waiting on that
 * node): running, attempts 1, never claimable by another until its lease expires. */
static void test_insert_leased(void)
{
        store_opts_t o = {.max_attempts = 2};
        store_t *st = open_in("insert_leased.db", &o);
        REQUIRE(st);
        rc_err_t err = {0};
        store_set_clock(st, 10000);
        submission_t in = sub("w1", "judge0", "{\"source\": \"x\"}", 0);
        snprintf(in.lease_owner, sizeof(in.lease_owner), "%s", "n1");
        in.lease_expiry_ms = 11000;
        REQUIRE(CHECK_OK_E(store_insert(st, &in, 1, &err), err));
        REQUIRE(insert1(st, "q1", "judge0", 20000, NULL) >= 0);
        submission_t s;
        if (CHECK_INT_EQ(store_get(st, "w1", &s, &err), 1)) {
                CHECK_INT_EQ(s.state, SUB_RUNNING);
                CHECK_INT_EQ(s.attempts, 1);
                CHECK_STR_EQ(s.lease_owner, "n1");
                CHECK_INT_EQ(s.lease_expiry_ms, 11000);
                CHECK_INT_EQ(s.started_ms, 10000);
                submission_free(&s);
        }
        /* another node claims the queued one, not the leased one (older as it is) */
        if (CHECK_INT_EQ(store_claim(st, "judge0", "n2", 11000, &s, &err), 1)) {
                CHECK_STR_EQ(s.token, "q1");
                submission_free(&s);
        }
        CHECK_INT_EQ(store_claim(st, "judge0", "n2", 11000, &s, &err), 0);
        CHECK_INT_EQ(store_lease(st, "w1", "n2", 11000, NULL, &err), 0);
        CHECK_INT_EQ(store_finish(st, "w1", "n1", "{\"by\": 1}", &err), 1);
        /* an owner too long is refused, nothing inserted */
        submission_t bad = sub("w2", "judge0", "{}", 0);
        memset(bad.lease_owner, 'x', sizeof(bad.lease_owner));
        CHECK_FAIL(store_insert(st, &bad, 1, &err), -EINVAL);
        CHECK_INT_EQ(state_of(st, "w2"), 0);
        store_close(st);
}

#define CLAIMS 150

typedef struct claimer {
        const char *path;
        int id, claimed;
        unsigned char *seen; /* CLAIMS counters, shared: each written by its claimer only */
        char err[RC_ERR_MSG_MAX];
} claimer_t;

static void *claimer_main(void *arg)
{
        claimer_t *c = arg;
        store_t *st = NULL;
        rc_err_t err = {0};
        if (open_at(c->path, NULL, &st, &err) < 0) {
                snprintf(c->err, sizeof(c->err), "open: %.400s", err.msg);
                return NULL;
        }
        char owner[16];
        snprintf(owner, sizeof(owner), "node%d", c->id);
        for (;;) {
                submission_t s;
                int r = store_claim(st, "judge0", owner, store_now_ms() + 60000, &s, &err);
                if (r < 0)
                        snprintf(c->err, sizeof(c->err), "claim: %.400s", err.msg);
                if (r <= 0)
                        break;
                int i = atoi(s.token + 1);
                if (i >= 0 && i < CLAIMS)
                        __atomic_add_fetch(&c->seen[i], 1, __ATOMIC_RELAXED);
                c->claimed++;
                if (store_finish(st, s.token, owner, "{}", &err) != 1)
                        snprintf(c->err, sizeof(c->err), "finish %s failed", s.token);
                submission_free(&s);
        }
        store_close(st);
        return NULL;
}

/* Two stores (nodes) claiming from one queue at once: each submission taken exactly once. */
static void test_claim_two_stores(void)
{
        char *path = tu_strf("%s/claims.db", tu_tmpdir());
        store_t *st = NULL;
        rc_err_t err = {0};
        REQUIRE(CHECK_OK_E(open_at(path, NULL, &st, &err), err));
        for (int i = 0; i < CLAIMS; i++) {
                char t[16];
                snprintf(t, sizeof(t), "q%d", i);
                REQUIRE(insert1(st, t, "judge0", 1000 + i, NULL) >= 0);
        }
        unsigned char seen[CLAIMS] = {0};
        claimer_t c[2] = {{.path = path, .id = 1, .seen = seen},
                          {.path = path, .id = 2, .seen = seen}};
        pthread_t th[2];
        for (int i = 0; i < 2; i++)
                REQUIRE(pthread_create(&th[i], NULL, claimer_main, &c[i]) == 0);
        for (int i = 0; i < 2; i++)
                pthread_join(th[i], NULL);
        for (int i = 0; i < 2; i++)
                if (c[i].err[0])
                        FAIL("claimer %d: %s", i, c[i].err);
        CHECK_INT_EQ(c[0].claimed + c[1].claimed, CLAIMS);
        int once = 0;
        for (int i = 0; i < CLAIMS; i++)
                once += seen[i] == 1;
        CHECK_INT_EQ(once, CLAIMS);
        walk_t *wk = calloc(1, sizeof(*wk));
        REQUIRE(wk);
        CHECK_INT_EQ(store_each(st, "judge0", SUB_DONE, walk_fn, wk, &err), CLAIMS);
        free(wk);
        store_close(st);
        free(path);
}

/* A node id is held while its store is open (PostgreSQL); SQLite leaves that to the server's
 * flock and always says yes. */
static void test_node_register(void)
{
        char *path = tu_strf("%s/nodes.db", tu_tmpdir());
        store_t *a = NULL, *b = NULL;
        rc_err_t err = {0};
        REQUIRE(CHECK_OK_E(open_at(path, NULL, &a, &err), err));
        REQUIRE(CHECK_OK_E(open_at(path, NULL, &b, &err), err));
        CHECK_INT_EQ(store_node_register(a, "n1", &err), 1);
        CHECK_INT_EQ(store_node_register(b, "n2", &err), 1);
        CHECK_FAIL(store_node_register(b, "", &err), -EINVAL);
#ifdef TEST_STORE_PG
        CHECK(store_shared(a));
        CHECK_STR_EQ(store_backend(a), "postgres");
        CHECK_INT_EQ(store_node_register(b, "n1", &err), 0); /* a holds it */
        /* a node gone: its id is free once the server has ended its session (soon after the
         * connection closed, not at once) */
        store_close(a);
        int got = 0;
        for (int i = 0; i < 100 && (got = store_node_register(b, "n1", &err)) == 0; i++)
                usleep(50 * 1000);
        CHECK_INT_EQ(got, 1);
#else
        CHECK(!store_shared(a));
        CHECK_STR_EQ(store_backend(a), "sqlite");
        CHECK_INT_EQ(store_node_register(b, "n1", &err), 1);
        store_close(a);
#endif
        store_close(b);
        free(path);
}

#ifdef TEST_STORE_PG
/* ---- PostgreSQL only ---- */

/* A connection the server ended (a restart, an administrator) is made again at the next call,
 * with the node's id held again. */
static void test_pg_reconnect(void)
{
        char *path = tu_strf("%s/re.db", tu_tmpdir());
        store_t *a = NULL, *b = NULL;
        rc_err_t err = {0};
        REQUIRE(CHECK_OK_E(open_at(path, NULL, &a, &err), err));
        CHECK_INT_EQ(store_node_register(a, "n1", &err), 1);
        REQUIRE(insert1(a, "x", "judge0", 0, NULL) >= 0);
        REQUIRE(pg_sql(path, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE"
                             " datname = current_database() AND pid <> pg_backend_pid()"));
        /* the call that finds it broken fails, saying so; the next one reconnects */
        submission_t s;
        CHECK_FAIL(store_get(a, "x", &s, &err), -ECONNRESET);
        CHECK_INT_EQ(state_of(a, "x"), SUB_QUEUED);
        REQUIRE(CHECK_OK_E(open_at(path, NULL, &b, &err), err));
        CHECK_INT_EQ(store_node_register(b, "n1", &err), 0); /* a holds it again */
        store_close(b);
        store_close(a);
        free(path);
}

/* Callbacks due are claimed: two stores (nodes' deliverers) never get the same one. */
static void test_pg_callbacks_claimed(void)
{
        char *path = tu_strf("%s/cb.db", tu_tmpdir());
        store_t *a = NULL, *b = NULL;
        rc_err_t err = {0};
        REQUIRE(CHECK_OK_E(open_at(path, NULL, &a, &err), err));
        REQUIRE(CHECK_OK_E(open_at(path, NULL, &b, &err), err));
        for (int i = 0; i < 6; i++) {
                char t[8];
                snprintf(t, sizeof(t), "k%d", i);
                REQUIRE(insert1(a, t, "judge0", 0, "http://h/x") >= 0);
                finish_at(a, t, 1000 + 10 * (5 - i)); /* k5 is due first */
        }
        walk_t *w = calloc(1, sizeof(*w));
        REQUIRE(w);
        CHECK_INT_EQ(store_callbacks_due(a, 999, 10, walk_fn, w, &err), 0);
        /* a takes the 2 first, with their due times */
        CHECK_INT_EQ(store_callbacks_due(a, 5000, 2, walk_fn, w, &err), 2);
        CHECK_STR_EQ(w->tokens[0], "k5");
        CHECK_STR_EQ(w->tokens[1], "k4");
        submission_t s;
        /* b gets the others only */
        memset(w, 0, sizeof(*w));
        CHECK_INT_EQ(store_callbacks_due(b, 5000, 10, walk_fn, w, &err), 4);
        CHECK_STR_EQ(w->tokens[0], "k3");
        CHECK_STR_EQ(w->tokens[3], "k0");
        memset(w, 0, sizeof(*w));
        CHECK_INT_EQ(store_callbacks_due(a, 5000, 10, walk_fn, w, &err), 0);
        /* a delivered k5; k4's try failed, next at 6000 */
        CHECK_INT_EQ(store_callback_tried(a, "k5", true, 0, &err), 1);
        CHECK_INT_EQ(store_callback_tried(a, "k4", false, 6000, &err), 1);
        if (CHECK_INT_EQ(store_get(b, "k4", &s, &err), 1)) {
                CHECK_INT_EQ(s.callback_state, CB_PENDING);
                CHECK_INT_EQ(s.callback_next_ms, 6000);
                submission_free(&s);
        }
        memset(w, 0, sizeof(*w));
        CHECK_INT_EQ(store_callbacks_due(b, 6000, 10, walk_fn, w, &err), 1);
        CHECK_STR_EQ(w->tokens[0], "k4");
        /* a claim not followed by a try (its node died) is due again after the claim */
        memset(w, 0, sizeof(*w));
        CHECK_INT_EQ(
            store_callbacks_due(a, 5000 + STORE_PG_CALLBACK_CLAIM_MS, 10, walk_fn, w, &err), 4);
        free(w);
        store_close(a);
        store_close(b);
        free(path);
}

static void test_pg_open_refusals(void)
{
        rc_err_t err = {0};
        store_t *st = NULL;
        /* a database with other tables */
        char *path = tu_strf("%s/other.db", tu_tmpdir());
        REQUIRE(pg_sql(path, "CREATE TABLE users (name text)"));
        CHECK_FAIL(open_at(path, NULL, &st, &err), -EINVAL);
        CHECK_CONTAINS(err.msg, "not a runcell submission store");
        CHECK(st == NULL);
        /* a schema newer than this build: left alone */
        char *p2 = tu_strf("%s/newer.db", tu_tmpdir());
        REQUIRE(CHECK_OK_E(open_at(p2, NULL, &st, &err), err));
        CHECK_INT_EQ(store_schema_version(st), store_schema_latest());
        store_close(st);
        REQUIRE(pg_sql(p2, "INSERT INTO schema_migrations VALUES (999, 'future', 0)"));
        CHECK_FAIL(open_at(p2, NULL, &st, &err), -EPROTO);
        CHECK_CONTAINS(err.msg, "newer");
        /* no server there */
        CHECK_FAIL(store_open_pg("host=127.0.0.1 port=1 connect_timeout=3", NULL, &st, &err),
                   -ECONNREFUSED);
        CHECK_CONTAINS(err.msg, "cannot connect");
        CHECK_FAIL(store_open_pg("", NULL, &st, &err), -EINVAL);
        /* store_open picks the back-end by the URL */
        CHECK(store_is_pg_url("postgresql://h/db"));
        CHECK(store_is_pg_url("postgres://h/db"));
        CHECK(!store_is_pg_url("/var/lib/runcell/submissions.db"));
        free(p2);
        free(path);
}
#endif

#ifndef TEST_STORE_PG
int main(int argc, char **argv)
{
        static const tu_test_t tests[] = {
            TU_TEST(test_open_new),
            TU_TEST(test_not_a_database),
            TU_TEST(test_migrate_from_v1),
            TU_TEST(test_insert_get_delete),
            TU_TEST(test_lease_release_finish),
            TU_TEST(test_recover_once_then_error),
            TU_TEST(test_recover_expired_leases),
            TU_TEST(test_each_and_page),
            TU_TEST(test_prune_age_and_count),
            TU_TEST(test_size_cap),
            TU_TEST(test_callbacks_due_and_tried),
            TU_TEST(test_two_stores_one_file),
            TU_TEST(test_fn_put_get_version),
            TU_TEST(test_fn_bad_arguments),
            TU_TEST(test_blobs),
            TU_TEST(test_fn_keep_versions),
            TU_TEST(test_fn_list_and_versions),
            TU_TEST(test_fn_delete_and_refs),
            TU_TEST(test_fn_survive_reopen),
            TU_TEST(test_fn_migrate_from_v3),
            TU_TEST(test_fn_two_stores_one_file),
            TU_TEST(test_claim),
            TU_TEST(test_insert_leased),
            TU_TEST(test_claim_two_stores),
            TU_TEST(test_node_register),
        };
        return tu_main("test_store", tests, TU_COUNT(tests), argc, argv);
}
#else
/* The tests above on a PostgreSQL cluster of the test's own (tests/pgcluster): skipped (77),
 * with the reason, only when no PostgreSQL server is installed. The tests run in a child
 * process, so that the cluster is stopped whatever becomes of them (a crash, a sanitizer's
 * abort). test_callbacks_due_and_tried is SQLite's: PostgreSQL claims the callbacks it
 * returns (test_pg_callbacks_claimed). */
int main(int argc, char **argv)
{
        static const tu_test_t tests[] = {
            TU_TEST(test_insert_get_delete),       TU_TEST(test_lease_release_finish),
            TU_TEST(test_recover_once_then_error), TU_TEST(test_recover_expired_leases),
            TU_TEST(test_each_and_page),           TU_TEST(test_prune_age_and_count),
            TU_TEST(test_two_stores_one_file),     TU_TEST(test_fn_put_get_version),
            TU_TEST(test_fn_bad_arguments),        TU_TEST(test_blobs),
            TU_TEST(test_fn_keep_versions),        TU_TEST(test_fn_list_and_versions),
            TU_TEST(test_fn_delete_and_refs),      TU_TEST(test_fn_survive_reopen),
            TU_TEST(test_fn_two_stores_one_file),  TU_TEST(test_claim),
            TU_TEST(test_insert_leased),           TU_TEST(test_claim_two_stores),
            TU_TEST(test_node_register),           TU_TEST(test_pg_open_refusals),
            TU_TEST(test_pg_callbacks_claimed),    TU_TEST(test_pg_reconnect),
        };
        const char *src = getenv("RUNCELL_SOURCE_DIR");
        char dir[] = "/tmp/runcell-pgtest.XXXXXX";
        if (!mkdtemp(dir) || chmod(dir, 0755) < 0) {
                perror("test_store_pg: mkdtemp");
                return 1;
        }
        char *start = tu_strf("'%s/tests/pgcluster' start '%s/c'", src ? src : ".", dir);
        FILE *p = popen(start, "r");
        char line[512] = "";
        if (p && !fgets(line, sizeof(line), p))
                line[0] = '\0';
        int st = p ? pclose(p) : -1;
        free(start);
        char *stop = tu_strf("'%s/tests/pgcluster' stop '%s/c'", src ? src : ".", dir);
        int rc = 1;
        if (st != 0 || !line[0]) {
                rc = WIFEXITED(st) && WEXITSTATUS(st) == 77 ? 77 : 1;
                printf("test_store_pg: %s\n", rc == 77 ? "skipped: no PostgreSQL server (the "
                                                         "reason is above)"
                                                       : "could not start a PostgreSQL cluster");
        } else {
                fflush(stdout);
                pid_t pid = fork();
                if (pid == 0) {
                        line[strcspn(line, "\n")] = '\0';
                        pg_conninfo = line;
                        pg_admin = PQconnectdb(line);
                        if (PQstatus(pg_admin) != CONNECTION_OK) {
                                printf("test_store_pg: cannot connect to the test cluster: %s",
                                       PQerrorMessage(pg_admin));
                                rc = 1;
                        } else {
                                rc = tu_main("test_store_pg", tests, TU_COUNT(tests), argc, argv);
                        }
                        PQfinish(pg_admin);
                        fflush(stdout);
                        _exit(rc);
                }
                int ws = 0;
                if (pid > 0 && waitpid(pid, &ws, 0) == pid)
                        rc = WIFEXITED(ws) ? WEXITSTATUS(ws) : 1;
                if (pid < 0 || !WIFEXITED(ws))
                        printf("test_store_pg: the tests did not end on their own (%s)\n",
                               pid < 0 ? "fork failed" : "killed by a signal");
        }
        if (system(stop) != 0)
                fprintf(stderr, "test_store_pg: stopping the cluster failed\n");
        free(stop);
        rmdir(dir);
        return rc;
}
#endif
