/* util/httpc.c: the small HTTP/1.1 client against a scripted server run here on 127.0.0.1 (a
 * forked child with a listening socket: it reads one request, hands its bytes back over a pipe,
 * sends the answer it was given, in pieces if asked, and closes or hangs), plus URLs and host
 * names. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "util/buf.h"
#include "util/httpc.h"

/* ------------------------------------------------------------------ the scripted server */

typedef struct script {
        const char *answer; /* sent once the request is in (NULL: nothing) */
        size_t answer_len;  /* 0: strlen(answer) */
        size_t split;       /* > 0: send this many bytes, pause pause_ms, then the rest */
        int pause_ms;
        int hang_ms; /* after the answer, wait this long before closing */
        bool v6;     /* listen on [::1] */
} script_t;

typedef struct served {
        int r; /* httpc_do's return */
        rc_err_t err;
        httpc_response_t resp;
        buf_t request; /* the bytes the server received */
        int port;
} served_t;

static void msleep(int ms)
{
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static void send_all(int fd, const char *p, size_t n)
{
        while (n) {
                ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
                if (w <= 0)
                        return;
                p += w;
                n -= (size_t)w;
        }
}

/* Read one request: its head, and as much body as its Content-Length says. */
static void read_request(int fd, buf_t *b)
{
        char chunk[4096];
        for (;;) {
                char *end = b->data ? strstr(b->data, "\r\n\r\n") : NULL;
                if (end) {
                        const char *cl = strcasestr(b->data, "\r\nContent-Length:");
                        size_t want = (size_t)(end + 4 - b->data);
                        if (cl && cl < end)
                                want += strtoul(cl + 17, NULL, 10);
                        if (b->len >= want)
                                return;
                }
                struct pollfd p = {.fd = fd, .events = POLLIN};
                if (poll(&p, 1, 5000) <= 0)
                        return;
                ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
                if (n <= 0)
                        return;
                buf_append(b, chunk, (size_t)n);
        }
}

static void child(int lfd, int out, const script_t *s)
{
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0)
                _exit(1);
        buf_t b = {0};
        read_request(fd, &b);
        if (b.len && write(out, b.data, b.len) != (ssize_t)b.len)
                _exit(1);
        close(out);
        if (s->answer) {
                size_t n = s->answer_len ? s->answer_len : strlen(s->answer);
                size_t first = s->split && s->split < n ? s->split : n;
                send_all(fd, s->answer, first);
                if (first < n) {
                        msleep(s->pause_ms);
                        send_all(fd, s->answer + first, n - first);
                }
        }
        if (s->hang_ms)
                msleep(s->hang_ms);
        close(fd);
        _exit(0);
}

/* Listen on 127.0.0.1 (or ::1) port 0: the socket, its port in *port; -1 when not possible. */
static int listen_any(bool v6, int *port)
{
        int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -1;
        struct sockaddr_storage ss = {0};
        socklen_t len;
        if (v6) {
                struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
                a->sin6_family = AF_INET6;
                a->sin6_addr = in6addr_loopback;
                len = sizeof(*a);
        } else {
                struct sockaddr_in *a = (struct sockaddr_in *)&ss;
                a->sin_family = AF_INET;
                a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                len = sizeof(*a);
        }
        if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 4) < 0 ||
            getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
                close(fd);
                return -1;
        }
        *port = ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                         : ((struct sockaddr_in *)&ss)->sin_port);
        return fd;
}

/* One request to http://HOST:PORT/PATH against a server playing s. */
static bool serve(const script_t *s, httpc_request_t req, const char *host, const char *path,
                  served_t *out)
{
        memset(out, 0, sizeof(*out));
        int lfd = listen_any(s->v6, &out->port);
        if (lfd < 0) {
                FAIL("cannot listen on %s: %s", s->v6 ? "::1" : "127.0.0.1", strerror(errno));
                return false;
        }
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0) {
                close(lfd);
                FAIL("pipe: %s", strerror(errno));
                return false;
        }
        pid_t pid = fork();
        if (pid == 0) {
                close(p[0]);
                child(lfd, p[1], s);
        }
        close(lfd);
        close(p[1]);
        char url[256];
        snprintf(url, sizeof(url), "http://%s:%d%s", host, out->port, path);
        req.url = url;
        if (!req.method)
                req.method = "GET";
        out->r = httpc_do(&req, &out->resp, &out->err);
        /* the child has written the request before it answered (or hangs now) */
        char chunk[4096];
        for (;;) {
                struct pollfd pf = {.fd = p[0], .events = POLLIN};
                if (poll(&pf, 1, 5000) <= 0)
                        break;
                ssize_t n = read(p[0], chunk, sizeof(chunk));
                if (n <= 0)
                        break;
                buf_append(&out->request, chunk, (size_t)n);
        }
        close(p[0]);
        if (!out->request.data)
                buf_append(&out->request, "", 0);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return true;
}

static void served_free(served_t *s)
{
        httpc_response_free(&s->resp);
        buf_free(&s->request);
}

#define URL "http://127.0.0.1:%d"

/* ------------------------------------------------------------------ URLs and names */

static void test_url_parse(void)
{
        httpc_url_t u;
        rc_err_t err = {0};
        CHECK_OK_E(httpc_url_parse("http://127.0.0.1:8080", &u, &err), err);
        CHECK_STR_EQ(u.host, "127.0.0.1");
        CHECK_INT_EQ(u.port, 8080);
        CHECK(u.has_port && !u.v6);
        CHECK_STR_EQ(u.target, "/");
        CHECK_OK_E(httpc_url_parse("HTTP://Example.org/a/b?x=1#frag", &u, &err), err);
        CHECK_STR_EQ(u.host, "Example.org");
        CHECK_INT_EQ(u.port, 80);
        CHECK(!u.has_port);
        CHECK_STR_EQ(u.target, "/a/b?x=1");
        CHECK_OK_E(httpc_url_parse("http://h?q", &u, &err), err);
        CHECK_STR_EQ(u.target, "/?q");
        CHECK_OK_E(httpc_url_parse("http://[::1]:9/x", &u, &err), err);
        CHECK_STR_EQ(u.host, "::1");
        CHECK(u.v6 && u.has_port);
        CHECK_INT_EQ(u.port, 9);
        CHECK_STR_EQ(u.target, "/x");

        static const struct {
                const char *url;
                const char *says;
        } bad[] = {
            {"", "no URL"},
            {"127.0.0.1:8080", "not an http:// URL"},
            {"ftp://h/", "not an http:// URL"},
            {"https://h/", "https is not supported"},
            {"http://", "no host"},
            {"http:///x", "no host"},
            {"http://h:0", "port number"},
            {"http://h:65536", "port number"},
            {"http://h:", "port number"},
            {"http://h:8x", "port number"},
            {"http://user:pw@h/", "user name or password"},
            {"http://::1:80/", "in brackets"},
            {"http://[::1/", "closing ']'"},
            {"http://[::1]x/", "not :PORT"},
            {"http://[fe80::1%25eth0]/", "zone"},
            {"http://h h/", "spaces or control"},
            {"http://h\n/", "spaces or control"},
            {"http://h!/", "a host name with '!'"},
        };
        for (size_t i = 0; i < TU_COUNT(bad); i++) {
                rc_err_t e = {0};
                if (!CHECK(httpc_url_parse(bad[i].url, &u, &e) < 0))
                        FAIL("\"%s\" was accepted", bad[i].url);
                else if (!strstr(e.msg, bad[i].says))
                        FAIL("\"%s\": \"%s\" does not say \"%s\"", bad[i].url, e.msg, bad[i].says);
        }
}

static const char *addr_str(const httpc_addr_t *a, char *b, size_t n)
{
        if (a->sa.ss_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *)&a->sa)->sin_addr, b,
                          (socklen_t)n);
        else
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&a->sa)->sin6_addr, b,
                          (socklen_t)n);
        return b;
}

static int addr_port(const httpc_addr_t *a)
{
        return ntohs(a->sa.ss_family == AF_INET ? ((const struct sockaddr_in *)&a->sa)->sin_port
                                                : ((const struct sockaddr_in6 *)&a->sa)->sin6_port);
}

static void test_resolve(void)
{
        const char *dir = tu_tmpdir();
        REQUIRE(dir);
        char *empty = tu_write_str(dir, "hosts.empty", "");
        char *hosts = tu_write_str(dir, "hosts",
                                   "# a comment\n"
                                   "::1       both.example   # IPv6 listed first\n"
                                   "10.0.0.5\tfoo.example foo alias\n"
                                   "10.0.0.6  both.example\n"
                                   "not-an-address bad.example\n"
                                   "127.0.0.1 localhost\n"
                                   "10.9.9.9  other.example # foo.example\n");
        REQUIRE(empty && hosts);
        httpc_addr_t a[HTTPC_ADDRS_MAX];
        char b[INET6_ADDRSTRLEN];
        rc_err_t err = {0};

        CHECK_INT_EQ(httpc_resolve("192.0.2.7", false, 81, empty, a, HTTPC_ADDRS_MAX, &err), 1);
        CHECK_STR_EQ(addr_str(&a[0], b, sizeof(b)), "192.0.2.7");
        CHECK_INT_EQ(addr_port(&a[0]), 81);
        CHECK_INT_EQ(httpc_resolve("::1", true, 82, empty, a, HTTPC_ADDRS_MAX, &err), 1);
        CHECK_INT_EQ(a[0].sa.ss_family, AF_INET6);
        CHECK_INT_EQ(addr_port(&a[0]), 82);
        CHECK(httpc_resolve("zz::1", true, 82, empty, a, HTTPC_ADDRS_MAX, &err) < 0);

        /* localhost without a line in the hosts file: 127.0.0.1, then ::1 */
        CHECK_INT_EQ(httpc_resolve("localhost", false, 80, empty, a, HTTPC_ADDRS_MAX, &err), 2);
        CHECK_STR_EQ(addr_str(&a[0], b, sizeof(b)), "127.0.0.1");
        CHECK_STR_EQ(addr_str(&a[1], b, sizeof(b)), "::1");
        CHECK_INT_EQ(httpc_resolve("api.localhost", false, 80, empty, a, HTTPC_ADDRS_MAX, &err), 2);
        /* with one: the file's */
        CHECK_INT_EQ(httpc_resolve("LocalHost", false, 80, hosts, a, HTTPC_ADDRS_MAX, &err), 1);
        CHECK_STR_EQ(addr_str(&a[0], b, sizeof(b)), "127.0.0.1");

        CHECK_INT_EQ(httpc_resolve("alias", false, 80, hosts, a, HTTPC_ADDRS_MAX, &err), 1);
        CHECK_STR_EQ(addr_str(&a[0], b, sizeof(b)), "10.0.0.5");
        CHECK_INT_EQ(httpc_resolve("FOO.example", false, 80, hosts, a, HTTPC_ADDRS_MAX, &err), 1);
        /* IPv4 first, whatever the file's order */
        CHECK_INT_EQ(httpc_resolve("both.example", false, 80, hosts, a, HTTPC_ADDRS_MAX, &err), 2);
        CHECK_STR_EQ(addr_str(&a[0], b, sizeof(b)), "10.0.0.6");
        CHECK_STR_EQ(addr_str(&a[1], b, sizeof(b)), "::1");
        /* max bounds the count */
        CHECK_INT_EQ(httpc_resolve("both.example", false, 80, hosts, a, 1, &err), 1);

        /* not known: no DNS is asked */
        CHECK_FAIL(httpc_resolve("bad.example", false, 80, hosts, a, HTTPC_ADDRS_MAX, &err),
                   -ENOENT);
        CHECK_FAIL(httpc_resolve("example.invalid", false, 80, hosts, a, HTTPC_ADDRS_MAX, &err),
                   -ENOENT);
        CHECK_CONTAINS(err.msg, "cannot resolve host \"example.invalid\"");
        CHECK_CONTAINS(err.msg, "DNS");
        CHECK_FAIL(
            httpc_resolve("x.example", false, 80, "/nonexistent/hosts", a, HTTPC_ADDRS_MAX, &err),
            -ENOENT);
        free(empty);
        free(hosts);
}

/* ------------------------------------------------------------------ answers */

static void test_content_length(void)
{
        script_t s = {.answer = "HTTP/1.1 200 OK\r\n"
                                "Content-Type: text/plain\r\n"
                                "X-Runcell-Status:  ok \r\n"
                                "Content-Length: 5\r\n"
                                "\r\n"
                                "helloEXTRA"};
        const char *const hdrs[] = {"Authorization: Bearer tok", "Content-Type: application/json",
                                    NULL};
        served_t r;
        REQUIRE(serve(
            &s, (httpc_request_t){.method = "PUT", .headers = hdrs, .body = "abc", .body_len = 3},
            "127.0.0.1", "/api/v1/functions/f?x=1#frag", &r));
        CHECK_OK_E(r.r, r.err);
        CHECK_INT_EQ(r.resp.status, 200);
        CHECK_INT_EQ(r.resp.minor, 1);
        CHECK_STR_EQ(r.resp.reason, "OK");
        CHECK_STR_EQ(httpc_header(&r.resp, "x-runcell-status"), "ok");
        CHECK_STR_EQ(httpc_header(&r.resp, "CONTENT-TYPE"), "text/plain");
        CHECK(httpc_header(&r.resp, "x-missing") == NULL);
        CHECK_INT_EQ(r.resp.nheaders, 3);
        CHECK_INT_EQ(r.resp.body_len, 5);
        CHECK_STR_EQ(r.resp.body, "hello");
        /* what was sent */
        const char *q = r.request.data;
        CHECK(strncmp(q, "PUT /api/v1/functions/f?x=1 HTTP/1.1\r\n", 38) == 0);
        char host[64];
        snprintf(host, sizeof(host), "\r\nHost: 127.0.0.1:%d\r\n", r.port);
        CHECK_CONTAINS(q, host);
        CHECK_CONTAINS(q, "\r\nAuthorization: Bearer tok\r\n");
        CHECK_CONTAINS(q, "\r\nContent-Type: application/json\r\n");
        CHECK_CONTAINS(q, "\r\nContent-Length: 3\r\n");
        CHECK_CONTAINS(q, "\r\nConnection: close\r\n");
        CHECK(r.request.len > 7 && strcmp(q + r.request.len - 7, "\r\n\r\nabc") == 0);
        served_free(&r);

        /* an empty body is still sent with its length; a GET without one has none */
        REQUIRE(serve(&(script_t){.answer = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
                      (httpc_request_t){.method = "POST", .body = "", .body_len = 0}, "127.0.0.1",
                      "/", &r));
        CHECK_OK_E(r.r, r.err);
        CHECK_CONTAINS(r.request.data, "POST / HTTP/1.1\r\n");
        CHECK_CONTAINS(r.request.data, "\r\nContent-Length: 0\r\n");
        CHECK(r.resp.body && r.resp.body_len == 0);
        served_free(&r);
        REQUIRE(serve(&(script_t){.answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"},
                      (httpc_request_t){0}, "127.0.0.1", "/", &r));
        CHECK_OK_E(r.r, r.err);
        CHECK(!strstr(r.request.data, "Content-Length"));
        served_free(&r);

        /* the body in pieces, with NUL bytes, and the same length said twice */
        static const char bin[] = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\ncontent-length: 6, 6"
                                  "\r\n\r\na\0b\0cd";
        REQUIRE(serve(&(script_t){.answer = bin,
                                  .answer_len = sizeof(bin) - 1,
                                  .split = sizeof(bin) - 4,
                                  .pause_ms = 50},
                      (httpc_request_t){0}, "127.0.0.1", "/", &r));
        CHECK_OK_E(r.r, r.err);
        CHECK_INT_EQ(r.resp.body_len, 6);
        CHECK(memcmp(r.resp.body, "a\0b\0cd", 6) == 0);
        served_free(&r);

        /* a HEAD answer has no body, whatever its Content-Length; nor has a 204 */
        REQUIRE(serve(
            &(script_t){.answer = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", .hang_ms = 3000},
            (httpc_request_t){.method = "HEAD", .timeout_ms = 2000}, "127.0.0.1", "/", &r));
        CHECK_OK_E(r.r, r.err);
        CHECK_INT_EQ(r.resp.body_len, 0);
        served_free(&r);
        REQUIRE(serve(&(script_t){.answer = "HTTP/1.1 204 No Content\r\n\r\n", .hang_ms = 3000},
                      (httpc_request_t){.timeout_ms = 2000}, "127.0.0.1", "/", &r));
        CHECK_OK_E(r.r, r.err);
        CHECK_INT_EQ(r.resp.status, 204);
        served_free(&r);
}

static void test_chunked(void)
{
        static const char ans[] = "HTTP/1.1 200 OK\r\n"
                                  "Transfer-Encoding: Chunked\r\n"
                                  "Content-Length: 999\r\n" /* chunked wins */
                                  "\r\n"
                                  "5;name=value\r\nhe\0lo\r\n"
                                  "1A \r\n abcdefghijklmnopqrstuvwxy\r\n"
                                  "0\r\n"
                                  "Trailer-Field: x\r\n"
                                  "\r\n";
        /* whole, then cut in the middle of a chunk-size line, and in the middle of data */
        size_t splits[] = {0, 62, 75, 80};
        for (size_t i = 0; i < TU_COUNT(splits); i++) {
                served_t r;
                REQUIRE(serve(&(script_t){.answer = ans,
                                          .answer_len = sizeof(ans) - 1,
                                          .split = splits[i],
                                          .pause_ms = 30,
                                          .hang_ms = 3000},
                              (httpc_request_t){.timeout_ms = 2000}, "127.0.0.1", "/", &r));
                CHECK_OK_E(r.r, r.err);
                CHECK_INT_EQ(r.resp.body_len, 31);
                CHECK(memcmp(r.resp.body, "he\0lo abcdefghijklmnopqrstuvwxy", 31) == 0);
                served_free(&r);
        }
        /* LF alone ends lines too; no trailers */
        served_t r;
        REQUIRE(serve(&(script_t){.answer = "HTTP/1.1 200 OK\n"
                                            "Transfer-Encoding: chunked\n\n"
                                            "3\nabc\n0\n\n"},
                      (httpc_request_t){0}, "127.0.0.1", "/", &r));
        CHECK_OK_E(r.r, r.err);
        CHECK_STR_EQ(r.resp.body, "abc");
        served_free(&r);

        static const struct {
                const char *answer;
                int code;
                const char *says;
        } bad[] = {
            {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", -EPROTO,
             "bad chunk-size"},
            {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n", -EPROTO,
             "longer than its size"},
            {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", -EPROTO,
             "not supported"},
            {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", -ECONNRESET,
             "middle of the answer's chunked body"},
            {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", -ECONNRESET,
             "middle of the answer's chunked body"},
            {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\n", -EFBIG,
             "over"},
        };
        for (size_t i = 0; i < TU_COUNT(bad); i++) {
                REQUIRE(serve(&(script_t){.answer = bad[i].answer}, (httpc_request_t){0},
                              "127.0.0.1", "/", &r));
                if (!CHECK_INT_EQ(r.r, bad[i].code) || !strstr(r.err.msg, bad[i].says))
                        FAIL("bad chunked answer %zu: %d \"%s\" (wanted \"%s\")", i, r.r, r.err.msg,
                             bad[i].says);
                served_free(&r);
        }
}

static void test_body_to_close(void)
{
        static const char ans[] = "HTTP/1.0 200 OK\r\nX-A: 1\r\n\r\nall\0of it\n";
        served_t r;
        REQUIRE(serve(
            &(script_t){.answer = ans, .answer_len = sizeof(ans) - 1, .split = 30, .pause_ms = 50},
            (httpc_request_t){0}, "127.0.0.1", "/", &r));
        CHECK_OK_E(r.r, r.err);
        CHECK_INT_EQ(r.resp.minor, 0);
        CHECK_INT_EQ(r.resp.body_len, 10);
        CHECK(memcmp(r.resp.body, "all\0of it\n", 10) == 0);
        served_free(&r);
        /* over body_max */
        REQUIRE(serve(&(script_t){.answer = "HTTP/1.1 200 OK\r\n\r\n0123456789"},
                      (httpc_request_t){.body_max = 4}, "127.0.0.1", "/", &r));
        CHECK_FAIL(r.r, -EFBIG);
        CHECK_CONTAINS(r.err.msg, "over 4 bytes");
        served_free(&r);
        REQUIRE(
            serve(&(script_t){.answer = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789"},
                  (httpc_request_t){.body_max = 4}, "127.0.0.1", "/", &r));
        CHECK_FAIL(r.r, -EFBIG);
        served_free(&r);
}

static void test_status_line(void)
{
        served_t r;
        REQUIRE(serve(&(script_t){.answer = "HTTP/1.1 404 Not Found Here\r\n"
                                            "Content-Length: 2\r\n\r\n{}"},
                      (httpc_request_t){0}, "127.0.0.1", "/", &r));
        CHECK_OK_E(r.r, r.err);
        CHECK_INT_EQ(r.resp.status, 404);
        CHECK_STR_EQ(r.resp.reason, "Not Found Here");
        served_free(&r);
        /* no reason phrase */
        REQUIRE(serve(&(script_t){.answer = "HTTP/1.1 401\r\nContent-Length: 0\r\n\r\n"},
                      (httpc_request_t){0}, "127.0.0.1", "/", &r));
        CHECK_OK_E(r.r, r.err);
        CHECK_INT_EQ(r.resp.status, 401);
        CHECK_STR_EQ(r.resp.reason, "");
        served_free(&r);
        /* interim answers are skipped */
        REQUIRE(serve(&(script_t){.answer = "HTTP/1.1 100 Continue\r\n\r\n"
                                            "HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
                                            "HTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx",
                                  .split = 20,
                                  .pause_ms = 30},
                      (httpc_request_t){0}, "127.0.0.1", "/", &r));
        CHECK_OK_E(r.r, r.err);
        CHECK_INT_EQ(r.resp.status, 201);
        CHECK(httpc_header(&r.resp, "link") == NULL);
        CHECK_STR_EQ(r.resp.body, "x");
        served_free(&r);

        static const struct {
                const char *answer;
                const char *says;
        } bad[] = {
            {"HTTP/2 200 OK\r\n\r\n", "status line is \"HTTP/2 200 OK\""},
            {"ICY 200 OK\r\n\r\n", "status line"},
            {"HTTP/1.1 20 OK\r\n\r\n", "status line"},
            {"HTTP/1.1 2000 OK\r\n\r\n", "status line"},
            {"HTTP/1.1 099 OK\r\n\r\n", "status line"},
            {"HTTP/1.1 101 Switching Protocols\r\n\r\n", "switched protocols"},
            {"HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n", "malformed header line"},
            {"HTTP/1.1 200 OK\r\n: empty name\r\n\r\n", "malformed header line"},
            {"HTTP/1.1 200 OK\r\nName : space before the colon\r\n\r\n", "malformed header"},
            {"HTTP/1.1 200 OK\r\nA: 1\r\n folded\r\n\r\n", "folded"},
            {"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n", "not a number"},
            {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "not a number"},
            {"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n", "too large"},
            {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
             "two different"},
        };
        for (size_t i = 0; i < TU_COUNT(bad); i++) {
                REQUIRE(serve(&(script_t){.answer = bad[i].answer}, (httpc_request_t){0},
                              "127.0.0.1", "/", &r));
                if (!CHECK_INT_EQ(r.r, -EPROTO) || !strstr(r.err.msg, bad[i].says))
                        FAIL("bad answer %zu: %d \"%s\" (wanted \"%s\")", i, r.r, r.err.msg,
                             bad[i].says);
                served_free(&r);
        }
}

static void test_early_close(void)
{
        static const struct {
                const char *answer; /* then the server closes */
                const char *says;
        } cases[] = {
            {NULL, "closed the connection without answering"},
            {"HTTP/1.1 200 OK\r\nContent-Le", "in the middle of the answer's headers"},
            {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "after 3 of 10 body bytes"},
        };
        for (size_t i = 0; i < TU_COUNT(cases); i++) {
                served_t r;
                REQUIRE(serve(&(script_t){.answer = cases[i].answer}, (httpc_request_t){0},
                              "127.0.0.1", "/", &r));
                if (!CHECK_INT_EQ(r.r, -ECONNRESET) || !strstr(r.err.msg, cases[i].says))
                        FAIL("early close %zu: %d \"%s\" (wanted \"%s\")", i, r.r, r.err.msg,
                             cases[i].says);
                served_free(&r);
        }
}

static void test_timeout(void)
{
        served_t r;
        /* no answer at all */
        REQUIRE(serve(&(script_t){.hang_ms = 5000}, (httpc_request_t){.timeout_ms = 200},
                      "127.0.0.1", "/", &r));
        CHECK_FAIL(r.r, -ETIMEDOUT);
        char want[96];
        snprintf(want, sizeof(want), "no answer from 127.0.0.1 port %d within 200 ms", r.port);
        CHECK_CONTAINS(r.err.msg, want);
        served_free(&r);
        /* an answer that stops in its body */
        REQUIRE(serve(&(script_t){.answer = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab",
                                  .hang_ms = 5000},
                      (httpc_request_t){.timeout_ms = 300}, "127.0.0.1", "/", &r));
        CHECK_FAIL(r.r, -ETIMEDOUT);
        CHECK_CONTAINS(r.err.msg, "sent nothing more for 300 ms, in the middle of the answer's "
                                  "body");
        served_free(&r);
        /* a pause shorter than the timeout is waited out */
        REQUIRE(serve(&(script_t){.answer = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd",
                                  .split = 20,
                                  .pause_ms = 300},
                      (httpc_request_t){.timeout_ms = 2000}, "127.0.0.1", "/", &r));
        CHECK_OK_E(r.r, r.err);
        CHECK_STR_EQ(r.resp.body, "abcd");
        served_free(&r);
}

static void test_oversized_headers(void)
{
        buf_t ans = {0};
        buf_printf(&ans, "HTTP/1.1 200 OK\r\n");
        for (int i = 0; i < 1200; i++)
                buf_printf(&ans, "X-Filler-%04d: %060d\r\n", i, i);
        buf_printf(&ans, "Content-Length: 0\r\n\r\n");
        REQUIRE(ans.len > HTTPC_HEAD_MAX);
        served_t r;
        REQUIRE(serve(&(script_t){.answer = ans.data, .hang_ms = 3000},
                      (httpc_request_t){.timeout_ms = 2000}, "127.0.0.1", "/", &r));
        CHECK_FAIL(r.r, -EMSGSIZE);
        CHECK_CONTAINS(r.err.msg, "headers are over 65536 bytes");
        served_free(&r);
        /* just under the bound is fine */
        buf_free(&ans);
        buf_printf(&ans, "HTTP/1.1 200 OK\r\n");
        for (int i = 0; i < 700; i++)
                buf_printf(&ans, "X-Filler-%04d: %060d\r\n", i, i);
        buf_printf(&ans, "Content-Length: 2\r\n\r\nok");
        REQUIRE(ans.len < HTTPC_HEAD_MAX);
        REQUIRE(serve(&(script_t){.answer = ans.data}, (httpc_request_t){0}, "127.0.0.1", "/", &r));
        CHECK_OK_E(r.r, r.err);
        CHECK_INT_EQ(r.resp.nheaders, 701);
        char want[64];
        snprintf(want, sizeof(want), "%060d", 699);
        CHECK_STR_EQ(httpc_header(&r.resp, "x-filler-0699"), want);
        served_free(&r);
        buf_free(&ans);
}

static void test_bad_requests(void)
{
        httpc_response_t resp;
        rc_err_t err = {0};
        /* a bad URL, an unknown host: nothing is sent */
        CHECK_FAIL(
            httpc_do(&(httpc_request_t){.method = "GET", .url = "https://127.0.0.1/"}, &resp, &err),
            -EPROTONOSUPPORT);
        CHECK_CONTAINS(err.msg, "https is not supported");
        httpc_response_free(&resp);
        CHECK_FAIL(httpc_do(&(httpc_request_t){.method = "GET", .url = "not a url"}, &resp, &err),
                   -EINVAL);
        httpc_response_free(&resp);
        CHECK_FAIL(httpc_do(&(httpc_request_t){.method = "GET",
                                               .url = "http://nowhere.invalid:1/",
                                               .hosts_file = "/nonexistent"},
                            &resp, &err),
                   -ENOENT);
        CHECK_CONTAINS(err.msg, "nowhere.invalid");
        httpc_response_free(&resp);
        /* a header with a line break, or without a name; a bad method */
        const char *const inject[] = {"X-A: 1\r\nX-B: 2", NULL};
        CHECK_FAIL(httpc_do(&(httpc_request_t){.method = "GET",
                                               .url = "http://127.0.0.1:1/",
                                               .headers = inject},
                            &resp, &err),
                   -EINVAL);
        CHECK_CONTAINS(err.msg, "control character");
        httpc_response_free(&resp);
        const char *const noname[] = {"no name", NULL};
        CHECK_FAIL(httpc_do(&(httpc_request_t){.method = "GET",
                                               .url = "http://127.0.0.1:1/",
                                               .headers = noname},
                            &resp, &err),
                   -EINVAL);
        httpc_response_free(&resp);
        CHECK_FAIL(httpc_do(&(httpc_request_t){.method = "G T", .url = "http://127.0.0.1:1/"},
                            &resp, &err),
                   -EINVAL);
        httpc_response_free(&resp);

        /* nobody listening */
        int port;
        int fd = listen_any(false, &port);
        REQUIRE(fd >= 0);
        close(fd);
        char url[64];
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", port);
        CHECK_FAIL(httpc_do(&(httpc_request_t){.method = "GET", .url = url}, &resp, &err),
                   -ECONNREFUSED);
        char want[64];
        snprintf(want, sizeof(want), "cannot connect to 127.0.0.1 port %d: ", port);
        CHECK_CONTAINS(err.msg, want);
        httpc_response_free(&resp);
        /* localhost by name: both addresses tried */
        snprintf(url, sizeof(url), "http://localhost:%d/x", port);
        CHECK(httpc_do(&(httpc_request_t){.method = "GET", .url = url}, &resp, &err) < 0);
        snprintf(want, sizeof(want), "cannot connect to localhost (127.0.0.1) port %d: ", port);
        CHECK_CONTAINS(err.msg, want);
        httpc_response_free(&resp);
}

static void test_localhost_and_ipv6(void)
{
        served_t r;
        REQUIRE(serve(&(script_t){.answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nv4"},
                      (httpc_request_t){0}, "localhost", "/", &r));
        CHECK_OK_E(r.r, r.err);
        CHECK_STR_EQ(r.resp.body, "v4");
        char host[64];
        snprintf(host, sizeof(host), "\r\nHost: localhost:%d\r\n", r.port);
        CHECK_CONTAINS(r.request.data, host);
        served_free(&r);

        int port, fd = listen_any(true, &port);
        if (fd < 0) {
                tu_skip("no IPv6 loopback here: %s", strerror(errno));
                return;
        }
        close(fd);
        REQUIRE(serve(
            &(script_t){.answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nv6", .v6 = true},
            (httpc_request_t){0}, "[::1]", "/six", &r));
        CHECK_OK_E(r.r, r.err);
        CHECK_STR_EQ(r.resp.body, "v6");
        snprintf(host, sizeof(host), "\r\nHost: [::1]:%d\r\n", r.port);
        CHECK_CONTAINS(r.request.data, host);
        CHECK_CONTAINS(r.request.data, "GET /six HTTP/1.1\r\n");
        served_free(&r);
}

/* A server that answers and closes without reading a large body: its answer still counts. */
static void test_answer_before_body(void)
{
        int port;
        int lfd = listen_any(false, &port);
        REQUIRE(lfd >= 0);
        pid_t pid = fork();
        if (pid == 0) {
                int fd = accept(lfd, NULL, NULL);
                char b[1024];
                if (fd >= 0 && recv(fd, b, sizeof(b), 0) > 0) {
                        const char *a = "HTTP/1.1 413 Too Large\r\nContent-Length: 3\r\n\r\nbig";
                        send_all(fd, a, strlen(a));
                        shutdown(fd, SHUT_WR);
                        msleep(300);
                }
                _exit(0);
        }
        close(lfd);
        size_t n = 32u << 20;
        char *body = calloc(1, n);
        REQUIRE(body);
        char url[64];
        snprintf(url, sizeof(url), URL "/up", port);
        httpc_response_t resp;
        rc_err_t err = {0};
        int r = httpc_do(
            &(httpc_request_t){
                .method = "PUT", .url = url, .body = body, .body_len = n, .timeout_ms = 3000},
            &resp, &err);
        free(body);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        /* the answer when it arrived before the connection was reset, else the send's failure */
        if (r == 0) {
                CHECK_INT_EQ(resp.status, 413);
                CHECK_STR_EQ(resp.body, "big");
        } else {
                CHECK(strstr(err.msg, "sending the request") || strstr(err.msg, "reading"));
        }
        httpc_response_free(&resp);
}

int main(int argc, char **argv)
{
        signal(SIGPIPE, SIG_IGN);
        static const tu_test_t tests[] = {
            TU_TEST(test_url_parse),          TU_TEST(test_resolve),
            TU_TEST(test_content_length),     TU_TEST(test_chunked),
            TU_TEST(test_body_to_close),      TU_TEST(test_status_line),
            TU_TEST(test_early_close),        TU_TEST(test_timeout),
            TU_TEST(test_oversized_headers),  TU_TEST(test_bad_requests),
            TU_TEST(test_localhost_and_ipv6), TU_TEST(test_answer_before_body),
        };
        return tu_main("test_httpc", tests, TU_COUNT(tests), argc, argv);
}
