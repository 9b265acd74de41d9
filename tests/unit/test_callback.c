/* store/callback.c: the callback deliverer against a small HTTP receiver run here on
 * 127.0.0.1 (a thread with a listening socket). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "store/callback.h"
#include "store/store.h"
#include "testutil.h"

/* ---- the receiver ---- */

typedef struct receiver {
        int lfd;
        int port;
        pthread_t thread;
        atomic_bool stop;
        pthread_mutex_t mu;
        int statuses[8]; /* the answers in turn; the last one repeats; 0: say nothing */
        int nstatuses;
        int served; /* requests read */
        char method[16], target[256], content_type[128], host[128];
        char *body; /* the last one */
        bool mute;  /* accept and never answer */
} receiver_t;

static void msleep(int ms)
{
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
}

/* A header's value from a request head (lower-case name), into out. */
static void header(const char *head, const char *name, char *out, size_t size)
{
        out[0] = '\0';
        for (const char *p = strstr(head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
                const char *line = p + 2;
                size_t n = strlen(name);
                if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
                        const char *v = line + n + 1;
                        while (*v == ' ')
                                v++;
                        size_t len = strcspn(v, "\r\n");
                        snprintf(out, size, "%.*s", (int)len, v);
                        return;
                }
        }
}

static void serve_one(receiver_t *r, int fd)
{
        char buf[65536];
        size_t len = 0;
        char *end = NULL;
        while (!end && len < sizeof(buf) - 1) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                if (poll(&p, 1, 2000) <= 0)
                        return;
                ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
                if (n <= 0)
                        return;
                len += (size_t)n;
                buf[len] = '\0';
                end = strstr(buf, "\r\n\r\n");
        }
        if (!end)
                return;
        *end = '\0';
        char cl[32];
        header(buf, "content-length", cl, sizeof(cl));
        size_t want = (size_t)strtoul(cl, NULL, 10);
        size_t have = len - (size_t)(end + 4 - buf);
        char *body = malloc(want + 1);
        if (!body)
                return;
        memcpy(body, end + 4, have < want ? have : want);
        while (have < want) {
                ssize_t n = read(fd, body + have, want - have);
                if (n <= 0)
                        break;
                have += (size_t)n;
        }
        body[have < want ? have : want] = '\0';
        pthread_mutex_lock(&r->mu);
        sscanf(buf, "%15s %255s", r->method, r->target);
        header(buf, "content-type", r->content_type, sizeof(r->content_type));
        header(buf, "host", r->host, sizeof(r->host));
        free(r->body);
        r->body = body;
        int i = r->served < r->nstatuses ? r->served : r->nstatuses - 1;
        int status = r->nstatuses ? r->statuses[i] : 200;
        r->served++;
        bool mute = r->mute;
        pthread_mutex_unlock(&r->mu);
        if (mute) {
                while (!atomic_load(&r->stop))
                        msleep(10);
                return;
        }
        char ans[256];
        int n =
            snprintf(ans, sizeof(ans),
                     "HTTP/1.1 %d Whatever\r\nContent-Length: 2\r\n%sConnection: close\r\n\r\nok",
                     status, status / 100 == 3 ? "Location: http://127.0.0.1:1/\r\n" : "");
        if (write(fd, ans, (size_t)n) < 0)
                return;
}

static void *receiver_main(void *arg)
{
        receiver_t *r = arg;
        while (!atomic_load(&r->stop)) {
                struct pollfd p = {.fd = r->lfd, .events = POLLIN};
                if (poll(&p, 1, 50) <= 0)
                        continue;
                int fd = accept(r->lfd, NULL, NULL);
                if (fd < 0)
                        continue;
                serve_one(r, fd);
                close(fd);
        }
        return NULL;
}

/* Listen on 127.0.0.1:port (0: any free one) and serve. */
static bool receiver_start(receiver_t *r, int port)
{
        r->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (!CHECK(r->lfd >= 0))
                return false;
        int one = 1;
        setsockopt(r->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (!CHECK(bind(r->lfd, (struct sockaddr *)&a, sizeof(a)) == 0) ||
            !CHECK(listen(r->lfd, 16) == 0)) {
                close(r->lfd);
                return false;
        }
        socklen_t al = sizeof(a);
        getsockname(r->lfd, (struct sockaddr *)&a, &al);
        r->port = ntohs(a.sin_port);
        pthread_mutex_init(&r->mu, NULL);
        atomic_store(&r->stop, false);
        if (!CHECK(pthread_create(&r->thread, NULL, receiver_main, r) == 0)) {
                close(r->lfd);
                return false;
        }
        return true;
}

static void receiver_stop(receiver_t *r)
{
        atomic_store(&r->stop, true);
        pthread_join(r->thread, NULL);
        close(r->lfd);
        free(r->body);
        r->body = NULL;
        pthread_mutex_destroy(&r->mu);
}

static int receiver_served(receiver_t *r)
{
        pthread_mutex_lock(&r->mu);
        int n = r->served;
        pthread_mutex_unlock(&r->mu);
        return n;
}

/* A port nothing listens on now (bound and let go). */
static int free_port(void)
{
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = {.sin_family = AF_INET};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t al = sizeof(a);
        if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
            getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
                if (fd >= 0)
                        close(fd);
                return -1;
        }
        close(fd);
        return ntohs(a.sin_port);
}

/* ---- set-up ---- */

typedef struct fixture {
        char *path;
        store_t *st;
        cb_deliverer_t *d;
} fixture_t;

static char *ALLOW_LOCAL[] = {"127.0.0.1"};

static bool fixture_open(fixture_t *f, const cb_opts_t *o)
{
        memset(f, 0, sizeof(*f));
        const char *dir = tu_tmpdir();
        if (!dir)
                return false;
        f->path = tu_strf("%s/store.db", dir);
        rc_err_t err = {0};
        if (!CHECK_OK_E(store_open_sqlite(f->path, NULL, &f->st, &err), err))
                return false;
        if (!CHECK_OK_E(cb_start(f->path, NULL, o, &f->d, &err), err))
                return false;
        return true;
}

static void fixture_close(fixture_t *f)
{
        cb_stop(f->d);
        store_close(f->st);
        free(f->path);
}

/* Insert token with callback url, run it and finish it with result; kick the deliverer. */
static bool submit_done(fixture_t *f, const char *token, const char *url, const char *result)
{
        submission_t s;
        memset(&s, 0, sizeof(s));
        snprintf(s.token, sizeof(s.token), "%s", token);
        snprintf(s.dialect, sizeof(s.dialect), "judge0");
        s.request = "{}";
        s.callback_url = (char *)url;
        rc_err_t err = {0};
        int a;
        if (!CHECK_OK_E(store_insert(f->st, &s, 1, &err), err) ||
            !CHECK_INT_EQ(store_lease(f->st, token, "me", store_now_ms() + 60000, &a, &err), 1) ||
            !CHECK_INT_EQ(store_finish(f->st, token, NULL, result, &err), 1))
                return false;
        cb_kick(f->d);
        return true;
}

/* Wait (up to ms) until token's callback is no longer pending; its final state. */
static cb_state_t wait_settled(fixture_t *f, const char *token, int ms, submission_t *out)
{
        for (int waited = 0;; waited += 20) {
                rc_err_t err = {0};
                if (store_get(f->st, token, out, &err) != 1) {
                        FAIL("%s: gone (%s)", token, err.msg);
                        return CB_NONE;
                }
                if (out->callback_state != CB_PENDING || waited >= ms)
                        return out->callback_state;
                submission_free(out);
                msleep(20);
        }
}

/* ---- tests ---- */

static void test_url_allowed(void)
{
        char *hosts[] = {"127.0.0.1", "Hooks.Example.com:8080", "[::1]:9000", "fe80::1",
                         "judge.local"};
        cb_opts_t o = {.allow_hosts = hosts, .nallow_hosts = 5};
        char msg[256];
        CHECK(cb_url_allowed(&o, "http://127.0.0.1/x", msg, sizeof(msg)));
        CHECK(cb_url_allowed(&o, "http://127.0.0.1:5000/a/b?c=d", msg, sizeof(msg)));
        CHECK(cb_url_allowed(&o, "http://127.0.0.1", msg, sizeof(msg)));
        CHECK(cb_url_allowed(&o, "HTTP://hooks.example.COM:8080/cb", msg, sizeof(msg)));
        CHECK(!cb_url_allowed(&o, "http://hooks.example.com/cb", msg, sizeof(msg)));
        CHECK_CONTAINS(msg, "port 80 is not allowed");
        CHECK(!cb_url_allowed(&o, "http://hooks.example.com:8081/cb", msg, sizeof(msg)));
        CHECK(cb_url_allowed(&o, "http://[::1]:9000/", msg, sizeof(msg)));
        CHECK(!cb_url_allowed(&o, "http://[::1]:9001/", msg, sizeof(msg)));
        CHECK(cb_url_allowed(&o, "http://[fe80::1]:1234/", msg, sizeof(msg)));
        CHECK(cb_url_allowed(&o, "http://judge.local:1/x", msg, sizeof(msg)));
        /* a name is matched as written, not resolved or suffix-matched */
        CHECK(!cb_url_allowed(&o, "http://evil.judge.local/x", msg, sizeof(msg)));
        CHECK(!cb_url_allowed(&o, "http://127.0.0.2/x", msg, sizeof(msg)));
        CHECK_CONTAINS(msg, "127.0.0.2");
        CHECK(!cb_url_allowed(&o, "http://localhost/x", msg, sizeof(msg)));

        CHECK(!cb_url_allowed(&o, "https://127.0.0.1/x", msg, sizeof(msg)));
        CHECK_CONTAINS(msg, "https is not supported");
        CHECK(!cb_url_allowed(&o, "ftp://127.0.0.1/x", msg, sizeof(msg)));
        CHECK_CONTAINS(msg, "not an http:// URL");
        CHECK(!cb_url_allowed(&o, "http://user:pw@127.0.0.1/x", msg, sizeof(msg)));
        CHECK_CONTAINS(msg, "password");
        CHECK(!cb_url_allowed(&o, "http://127.0.0.1/x\r\nX-Evil: 1", msg, sizeof(msg)));
        CHECK_CONTAINS(msg, "control characters");
        CHECK(!cb_url_allowed(&o, "http://127.0.0.1:0/", msg, sizeof(msg)));
        CHECK(!cb_url_allowed(&o, "http://127.0.0.1:99999/", msg, sizeof(msg)));
        CHECK(!cb_url_allowed(&o, "http://127.0.0.1:x/", msg, sizeof(msg)));
        CHECK(!cb_url_allowed(&o, "http:///x", msg, sizeof(msg)));
        CHECK(!cb_url_allowed(&o, "", msg, sizeof(msg)));
        CHECK(!cb_url_allowed(&o, NULL, msg, sizeof(msg)));

        cb_opts_t none = {0};
        CHECK(!cb_url_allowed(&none, "http://127.0.0.1/x", msg, sizeof(msg)));
        CHECK_CONTAINS(msg, "no host is allowed");
        CHECK(!cb_url_allowed(NULL, "http://127.0.0.1/x", NULL, 0));
}

static void test_delivered(void)
{
        receiver_t r = {0};
        REQUIRE(receiver_start(&r, 0));
        cb_opts_t o = {.allow_hosts = ALLOW_LOCAL, .nallow_hosts = 1, .timeout_ms = 2000};
        fixture_t f;
        if (fixture_open(&f, &o)) {
                char *url = tu_strf("http://127.0.0.1:%d/hook/1?x=y", r.port);
                const char *result = "{\"status\": {\"id\": 3}, \"stdout\": \"hi\\n\", \"é\": 1}";
                submission_t s;
                if (submit_done(&f, "tok-1", url, result)) {
                        CHECK_INT_EQ(wait_settled(&f, "tok-1", 5000, &s), CB_DELIVERED);
                        CHECK_INT_EQ(s.callback_attempts, 1);
                        submission_free(&s);
                        pthread_mutex_lock(&r.mu);
                        CHECK_STR_EQ(r.method, "PUT");
                        CHECK_STR_EQ(r.target, "/hook/1?x=y");
                        CHECK_STR_EQ(r.content_type, "application/json");
                        char *host = tu_strf("127.0.0.1:%d", r.port);
                        CHECK_STR_EQ(r.host, host);
                        free(host);
                        CHECK_STR_EQ(r.body, result);
                        pthread_mutex_unlock(&r.mu);
                        CHECK_INT_EQ(receiver_served(&r), 1);
                }
                free(url);
        }
        fixture_close(&f);
        receiver_stop(&r);
}

static void test_down_then_up(void)
{
        int port = free_port();
        REQUIRE(port > 0);
        cb_opts_t o = {.allow_hosts = ALLOW_LOCAL,
                       .nallow_hosts = 1,
                       .max_tries = 50,
                       .backoff_ms = 20,
                       .backoff_max_ms = 80,
                       .timeout_ms = 1000};
        fixture_t f;
        receiver_t r = {0};
        bool up = false;
        if (fixture_open(&f, &o)) {
                char *url = tu_strf("http://127.0.0.1:%d/late", port);
                submission_t s;
                if (submit_done(&f, "tok-late", url, "{\"late\": true}")) {
                        /* refused twice or more meanwhile, and still pending */
                        int tries = 0;
                        for (int waited = 0; waited < 5000 && tries < 2; waited += 20) {
                                msleep(20);
                                if (!CHECK_INT_EQ(store_get(f.st, "tok-late", &s, NULL), 1))
                                        break;
                                CHECK_INT_EQ(s.callback_state, CB_PENDING);
                                tries = s.callback_attempts;
                                submission_free(&s);
                        }
                        CHECK(tries >= 2);
                        up = receiver_start(&r, port);
                        if (up) {
                                CHECK_INT_EQ(wait_settled(&f, "tok-late", 5000, &s), CB_DELIVERED);
                                CHECK(s.callback_attempts >= 3);
                                submission_free(&s);
                                pthread_mutex_lock(&r.mu);
                                CHECK_STR_EQ(r.body, "{\"late\": true}");
                                pthread_mutex_unlock(&r.mu);
                        }
                }
                free(url);
        }
        fixture_close(&f);
        if (up)
                receiver_stop(&r);
}

static void test_500_then_200(void)
{
        receiver_t r = {.statuses = {500, 200}, .nstatuses = 2};
        REQUIRE(receiver_start(&r, 0));
        cb_opts_t o = {.allow_hosts = ALLOW_LOCAL,
                       .nallow_hosts = 1,
                       .max_tries = 5,
                       .backoff_ms = 30,
                       .backoff_max_ms = 100};
        fixture_t f;
        if (fixture_open(&f, &o)) {
                char *url = tu_strf("http://127.0.0.1:%d/", r.port);
                submission_t s;
                if (submit_done(&f, "tok-500", url, "{\"n\": 500}")) {
                        CHECK_INT_EQ(wait_settled(&f, "tok-500", 5000, &s), CB_DELIVERED);
                        CHECK_INT_EQ(s.callback_attempts, 2);
                        submission_free(&s);
                        CHECK_INT_EQ(receiver_served(&r), 2);
                }
                free(url);
        }
        fixture_close(&f);
        receiver_stop(&r);
}

static void test_gives_up(void)
{
        /* a redirect is not followed and counts as a failure; 3 tries in all */
        receiver_t r = {.statuses = {503, 404, 302}, .nstatuses = 3};
        REQUIRE(receiver_start(&r, 0));
        cb_opts_t o = {.allow_hosts = ALLOW_LOCAL,
                       .nallow_hosts = 1,
                       .max_tries = 3,
                       .backoff_ms = 10,
                       .backoff_max_ms = 20};
        fixture_t f;
        if (fixture_open(&f, &o)) {
                char *url = tu_strf("http://127.0.0.1:%d/cb", r.port);
                submission_t s;
                if (submit_done(&f, "tok-fail", url, "{}")) {
                        CHECK_INT_EQ(wait_settled(&f, "tok-fail", 5000, &s), CB_FAILED);
                        CHECK_INT_EQ(s.callback_attempts, 3);
                        submission_free(&s);
                        msleep(100);
                        CHECK_INT_EQ(receiver_served(&r), 3);
                }
                free(url);
        }
        fixture_close(&f);
        receiver_stop(&r);
}

static void test_not_allowed_refused(void)
{
        receiver_t r = {0};
        REQUIRE(receiver_start(&r, 0));
        char *hosts[] = {"hooks.example.invalid"};
        cb_opts_t o = {.allow_hosts = hosts, .nallow_hosts = 1, .max_tries = 5, .backoff_ms = 10};
        fixture_t f;
        if (fixture_open(&f, &o)) {
                char *url = tu_strf("http://127.0.0.1:%d/cb", r.port);
                submission_t s;
                if (submit_done(&f, "tok-no", url, "{}")) {
                        /* failed at once, no retries */
                        CHECK_INT_EQ(wait_settled(&f, "tok-no", 5000, &s), CB_FAILED);
                        CHECK_INT_EQ(s.callback_attempts, 1);
                        submission_free(&s);
                }
                char *https = tu_strf("https://127.0.0.1:%d/cb", r.port);
                if (submit_done(&f, "tok-https", https, "{}")) {
                        CHECK_INT_EQ(wait_settled(&f, "tok-https", 5000, &s), CB_FAILED);
                        submission_free(&s);
                }
                CHECK_INT_EQ(receiver_served(&r), 0);
                free(https);
                free(url);
        }
        fixture_close(&f);
        receiver_stop(&r);
}

static void test_error_without_result(void)
{
        receiver_t r = {0};
        REQUIRE(receiver_start(&r, 0));
        cb_opts_t o = {.allow_hosts = ALLOW_LOCAL, .nallow_hosts = 1};
        fixture_t f;
        if (fixture_open(&f, &o)) {
                char *url = tu_strf("http://127.0.0.1:%d/cb", r.port);
                submission_t s;
                memset(&s, 0, sizeof(s));
                snprintf(s.token, sizeof(s.token), "tok-int");
                snprintf(s.dialect, sizeof(s.dialect), "judge0");
                s.request = "{}";
                s.callback_url = url;
                rc_err_t err = {0};
                int a;
                store_close(f.st); /* max_attempts 1: the first interruption gives up */
                store_opts_t so = {.max_attempts = 1};
                REQUIRE(CHECK_OK_E(store_open_sqlite(f.path, &so, &f.st, &err), err));
                CHECK_OK_E(store_insert(f.st, &s, 1, &err), err);
                CHECK_INT_EQ(store_lease(f.st, "tok-int", "me", store_now_ms() + 60000, &a, &err),
                             1);
                CHECK_INT_EQ(store_recover(f.st, "me", &err), 1);
                cb_kick(f.d);
                CHECK_INT_EQ(wait_settled(&f, "tok-int", 5000, &s), CB_DELIVERED);
                submission_free(&s);
                pthread_mutex_lock(&r.mu);
                CHECK_STR_EQ(r.body, "{\"token\": \"tok-int\", \"error\": \"interrupted 1 time\"}");
                pthread_mutex_unlock(&r.mu);
                free(url);
        }
        fixture_close(&f);
        receiver_stop(&r);
}

static void test_due_later_wakes_itself(void)
{
        /* no kick: the deliverer wakes at the earliest callback_next_ms */
        receiver_t r = {0};
        REQUIRE(receiver_start(&r, 0));
        cb_opts_t o = {.allow_hosts = ALLOW_LOCAL, .nallow_hosts = 1};
        fixture_t f;
        if (fixture_open(&f, &o)) {
                char *url = tu_strf("http://127.0.0.1:%d/cb", r.port);
                submission_t s;
                memset(&s, 0, sizeof(s));
                snprintf(s.token, sizeof(s.token), "tok-wake");
                snprintf(s.dialect, sizeof(s.dialect), "judge0");
                s.request = "{}";
                s.callback_url = url;
                rc_err_t err = {0};
                int a;
                msleep(100); /* the deliverer is asleep with nothing due */
                CHECK_OK_E(store_insert(f.st, &s, 1, &err), err);
                CHECK_INT_EQ(store_lease(f.st, "tok-wake", "me", store_now_ms() + 60000, &a, &err),
                             1);
                /* finished "in the future": due 300 ms from now */
                store_set_clock(f.st, store_now_ms() + 300);
                CHECK_INT_EQ(store_finish(f.st, "tok-wake", NULL, "{\"w\": 1}", &err), 1);
                store_set_clock(f.st, 0);
                cb_kick(f.d); /* looks, finds it not due yet, sleeps until then */
                msleep(100);
                CHECK_INT_EQ(receiver_served(&r), 0);
                CHECK_INT_EQ(wait_settled(&f, "tok-wake", 5000, &s), CB_DELIVERED);
                submission_free(&s);
                free(url);
        }
        fixture_close(&f);
        receiver_stop(&r);
}

static void test_stop_cuts_a_try_short(void)
{
        receiver_t r = {.mute = true};
        REQUIRE(receiver_start(&r, 0));
        cb_opts_t o = {.allow_hosts = ALLOW_LOCAL, .nallow_hosts = 1, .timeout_ms = 20000};
        fixture_t f;
        if (fixture_open(&f, &o)) {
                char *url = tu_strf("http://127.0.0.1:%d/cb", r.port);
                if (submit_done(&f, "tok-mute", url, "{}")) {
                        for (int i = 0; i < 250 && receiver_served(&r) == 0; i++)
                                msleep(20);
                        CHECK_INT_EQ(receiver_served(&r), 1);
                        struct timespec t0, t1;
                        clock_gettime(CLOCK_MONOTONIC, &t0);
                        cb_stop(f.d);
                        f.d = NULL;
                        clock_gettime(CLOCK_MONOTONIC, &t1);
                        double s = (double)(t1.tv_sec - t0.tv_sec) +
                                   (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
                        CHECK(s < 2.0);
                        /* the cut try does not count: still pending, no attempt recorded */
                        submission_t sub;
                        if (CHECK_INT_EQ(store_get(f.st, "tok-mute", &sub, NULL), 1)) {
                                CHECK_INT_EQ(sub.callback_state, CB_PENDING);
                                CHECK_INT_EQ(sub.callback_attempts, 0);
                                submission_free(&sub);
                        }
                }
                free(url);
        }
        fixture_close(&f);
        receiver_stop(&r);
}

static void test_start_fails_on_a_bad_file(void)
{
        const char *dir = tu_tmpdir();
        REQUIRE(dir);
        char *path = tu_write_str(dir, "junk", "this is not a database, not at all, no........");
        REQUIRE(path);
        cb_deliverer_t *d = (cb_deliverer_t *)1;
        rc_err_t err = {0};
        cb_opts_t o = {0};
        CHECK_FAIL(cb_start(path, NULL, &o, &d, &err), -EINVAL);
        CHECK(d == NULL);
        CHECK_CONTAINS(err.msg, "callbacks");
        CHECK_CONTAINS(err.msg, "not an SQLite database");
        cb_stop(NULL);
        cb_kick(NULL);
        free(path);
}

int main(int argc, char **argv)
{
        static const tu_test_t tests[] = {
            TU_TEST(test_url_allowed),
            TU_TEST(test_delivered),
            TU_TEST(test_down_then_up),
            TU_TEST(test_500_then_200),
            TU_TEST(test_gives_up),
            TU_TEST(test_not_allowed_refused),
            TU_TEST(test_error_without_result),
            TU_TEST(test_due_later_wakes_itself),
            TU_TEST(test_stop_cuts_a_try_short),
            TU_TEST(test_start_fails_on_a_bad_file),
        };
        return tu_main("test_callback", tests, TU_COUNT(tests), argc, argv);
}
