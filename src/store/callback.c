/* The callback deliverer (callback.h): one thread, its own store_t, a small blocking HTTP/1.1
 * client with poll() timeouts. */
#include "store/callback.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/json.h"
#include "util/note.h"

#define DUE_BATCH   16
#define IDLE_MAX_MS 30000 /* look at the store at least this often (another node may finish) */
#define HOST_MAX    256

/* ---- URLs ---- */

typedef struct url {
        char host[HOST_MAX]; /* without the brackets of an IPv6 literal */
        char port[8];        /* "80" when the URL names none */
        bool has_port;
        bool v6;          /* an IPv6 literal: [host] in the Host header */
        const char *path; /* into the URL: "/..." up to '#', or "" for "/" */
        size_t path_len;
} url_t;

static bool set_msg(char *msg, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool set_msg(char *msg, size_t size, const char *fmt, ...)
{
        if (msg && size) {
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(msg, size, fmt, ap);
                va_end(ap);
        }
        return false;
}

static bool port_ok(const char *p, size_t n, char *out)
{
        if (n == 0 || n > 5)
                return false;
        long v = 0;
        for (size_t i = 0; i < n; i++) {
                if (p[i] < '0' || p[i] > '9')
                        return false;
                v = v * 10 + (p[i] - '0');
        }
        if (v < 1 || v > 65535)
                return false;
        snprintf(out, 8, "%ld", v);
        return true;
}

/* host[:port] or [v6][:port] into u; false with msg. */
static bool parse_hostport(const char *a, size_t n, url_t *u, char *msg, size_t size)
{
        const char *host = a, *colon = NULL;
        size_t hlen;
        u->v6 = false;
        if (n && a[0] == '[') {
                const char *close = memchr(a, ']', n);
                if (!close)
                        return set_msg(msg, size, "an IPv6 address without its closing ']'");
                host = a + 1;
                hlen = (size_t)(close - host);
                u->v6 = true;
                size_t rest = n - (size_t)(close + 1 - a);
                if (rest) {
                        if (close[1] != ':')
                                return set_msg(msg, size, "something after ']' that is not a port");
                        colon = close + 1;
                }
                for (size_t i = 0; i < hlen; i++)
                        if (!strchr("0123456789abcdefABCDEF:.", host[i]))
                                return set_msg(msg, size, "not an IPv6 address in [...]");
        } else {
                colon = memchr(a, ':', n);
                hlen = colon ? (size_t)(colon - a) : n;
                for (size_t i = 0; i < hlen; i++) {
                        char c = host[i];
                        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                  (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
                        if (!ok)
                                return set_msg(msg, size, "a host name with '%c' in it", c);
                }
        }
        if (hlen == 0)
                return set_msg(msg, size, "no host");
        if (hlen >= sizeof(u->host))
                return set_msg(msg, size, "too long a host name");
        memcpy(u->host, host, hlen);
        u->host[hlen] = '\0';
        u->has_port = colon != NULL;
        if (colon) {
                if (!port_ok(colon + 1, n - (size_t)(colon + 1 - a), u->port))
                        return set_msg(msg, size, "not a port number (1 to 65535) after ':'");
        } else {
                snprintf(u->port, sizeof(u->port), "80");
        }
        return true;
}

static bool parse_url(const char *s, url_t *u, char *msg, size_t size)
{
        memset(u, 0, sizeof(*u));
        if (!s || !*s)
                return set_msg(msg, size, "callback_url: empty");
        for (const unsigned char *p = (const unsigned char *)s; *p; p++)
                if (*p <= ' ' || *p == 0x7f)
                        return set_msg(msg, size,
                                       "callback_url: spaces or control characters in the URL");
        if (strncasecmp(s, "https://", 8) == 0)
                return set_msg(msg, size,
                               "callback_url: https is not supported: runcell calls back with "
                               "plain HTTP (an http:// URL, e.g. to a receiver on the same "
                               "network)");
        if (strncasecmp(s, "http://", 7) != 0)
                return set_msg(msg, size, "callback_url: not an http:// URL");
        const char *a = s + 7;
        size_t n = strcspn(a, "/?#");
        if (memchr(a, '@', n))
                return set_msg(msg, size,
                               "callback_url: a user name or password in the URL is not allowed");
        char why[96];
        if (!parse_hostport(a, n, u, why, sizeof(why)))
                return set_msg(msg, size, "callback_url: %s", why);
        u->path = a + n;
        u->path_len = strcspn(u->path, "#");
        return true;
}

/* Does one allow_hosts entry admit u? */
static bool entry_admits(const char *e, const url_t *u)
{
        url_t a;
        size_t n = strlen(e);
        const char *c1 = strchr(e, ':');
        if (e[0] != '[' && c1 && strchr(c1 + 1, ':')) {
                /* a bare IPv6 literal: no port */
                if (n >= sizeof(a.host))
                        return false;
                return u->v6 && strcasecmp(e, u->host) == 0;
        }
        if (!parse_hostport(e, n, &a, NULL, 0))
                return false;
        if (strcasecmp(a.host, u->host) != 0 || a.v6 != u->v6)
                return false;
        return !a.has_port || strcmp(a.port, u->port) == 0;
}

bool cb_url_allowed(const cb_opts_t *o, const char *url, char *msg, size_t size)
{
        url_t u;
        if (!parse_url(url, &u, msg, size))
                return false;
        for (size_t i = 0; o && i < o->nallow_hosts; i++)
                if (o->allow_hosts[i] && entry_admits(o->allow_hosts[i], &u))
                        return true;
        if (!o || o->nallow_hosts == 0)
                return set_msg(msg, size,
                               "callback_url: callbacks are off on this server (no host is "
                               "allowed)");
        return set_msg(msg, size, "callback_url: host %s%s%s port %s is not allowed on this server",
                       u.v6 ? "[" : "", u.host, u.v6 ? "]" : "", u.port);
}

/* ---- HTTP ---- */

static int64_t mono_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for events on fd until deadline; 1 ready, 0 timed out, -ECANCELED when cancel_fd
 * became readable, -errno. */
static int wait_fd(int fd, short events, int64_t deadline, int cancel_fd)
{
        for (;;) {
                int64_t left = deadline - mono_ms();
                if (left <= 0)
                        return 0;
                struct pollfd p[2] = {{.fd = fd, .events = events},
                                      {.fd = cancel_fd, .events = POLLIN}};
                int r = poll(p, cancel_fd >= 0 ? 2 : 1, (int)(left > INT32_MAX ? INT32_MAX : left));
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (cancel_fd >= 0 && (p[1].revents & POLLIN))
                        return -ECANCELED;
                if (r > 0 && p[0].revents)
                        return 1;
        }
}

static int connect_to(const url_t *u, int timeout_ms, int cancel_fd, rc_err_t *err)
{
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
        struct addrinfo *res = NULL;
        int g = getaddrinfo(u->host, u->port, &hints, &res);
        if (g != 0)
                return rc_err_set(err, g == EAI_SYSTEM ? errno : EHOSTUNREACH,
                                  "cannot resolve %s: %s", u->host,
                                  g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
        int64_t deadline = mono_ms() + timeout_ms;
        int last = ECONNREFUSED;
        int fd = -1;
        for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
                int s = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                               ai->ai_protocol);
                if (s < 0) {
                        last = errno;
                        continue;
                }
                if (connect(s, ai->ai_addr, ai->ai_addrlen) == 0) {
                        fd = s;
                        break;
                }
                if (errno != EINPROGRESS) {
                        last = errno;
                        close(s);
                        continue;
                }
                int w = wait_fd(s, POLLOUT, deadline, cancel_fd);
                if (w == -ECANCELED) {
                        close(s);
                        freeaddrinfo(res);
                        return rc_err_set(err, ECANCELED, "stopped");
                }
                int so = 0;
                socklen_t sl = sizeof(so);
                if (w == 1 && getsockopt(s, SOL_SOCKET, SO_ERROR, &so, &sl) == 0 && so == 0) {
                        fd = s;
                        break;
                }
                last = w == 0 ? ETIMEDOUT : w < 0 ? -w : so ? so : errno;
                close(s);
        }
        freeaddrinfo(res);
        if (fd < 0)
                return rc_err_sys(err, last, "cannot connect to %s port %s", u->host, u->port);
        return fd;
}

static int send_all(int fd, const char *p, size_t n, int64_t deadline, int cancel_fd)
{
        while (n > 0) {
                ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
                if (w > 0) {
                        p += w;
                        n -= (size_t)w;
                        continue;
                }
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0 && errno != EAGAIN)
                        return -errno;
                int r = wait_fd(fd, POLLOUT, deadline, cancel_fd);
                if (r <= 0)
                        return r == 0 ? -ETIMEDOUT : r;
        }
        return 0;
}

/* Read until the status line is in (or the connection ends); the status or -errno. */
static int read_status(int fd, int64_t deadline, int cancel_fd, rc_err_t *err)
{
        char buf[512];
        size_t len = 0;
        for (;;) {
                char *eol = memchr(buf, '\n', len);
                if (eol || len == sizeof(buf) - 1)
                        break;
                ssize_t r = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
                if (r > 0) {
                        len += (size_t)r;
                        continue;
                }
                if (r == 0)
                        break;
                if (errno == EINTR)
                        continue;
                if (errno != EAGAIN)
                        return rc_err_sys(err, errno, "reading the answer");
                int w = wait_fd(fd, POLLIN, deadline, cancel_fd);
                if (w == 0)
                        return rc_err_set(err, ETIMEDOUT, "no answer in time");
                if (w < 0)
                        return w == -ECANCELED ? rc_err_set(err, ECANCELED, "stopped")
                                               : rc_err_sys(err, -w, "waiting for the answer");
        }
        buf[len] = '\0';
        if (len == 0)
                return rc_err_set(err, ECONNRESET, "the connection closed with no answer");
        int major = 0, minor = 0, status = 0;
        char sp = 0;
        if (sscanf(buf, "HTTP/%d.%d %3d%c", &major, &minor, &status, &sp) != 4 || major != 1 ||
            status < 100 || status > 999 || (sp != ' ' && sp != '\r' && sp != '\n'))
                return rc_err_set(err, EPROTO, "not an HTTP/1 answer");
        return status;
}

int cb_http_put(const char *url, const char *body, int timeout_ms, int cancel_fd, int *status,
                rc_err_t *err)
{
        *status = 0;
        url_t u;
        char msg[256];
        if (!parse_url(url, &u, msg, sizeof(msg)))
                return rc_err_set(err, EINVAL, "%s", msg);
        if (timeout_ms <= 0)
                timeout_ms = 10000;
        buf_t req = {0};
        size_t blen = strlen(body);
        /* "http://h" and "http://h?q": the path is "/" */
        const char *slash = (u.path_len && u.path[0] == '/') ? "" : "/";
        int r = buf_printf(&req,
                           "PUT %s%.*s HTTP/1.1\r\nHost: %s%s%s%s%s\r\n"
                           "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                           "User-Agent: runcell\r\nConnection: close\r\n\r\n",
                           slash, (int)u.path_len, u.path, u.v6 ? "[" : "", u.host, u.v6 ? "]" : "",
                           u.has_port ? ":" : "", u.has_port ? u.port : "", blen);
        if (r >= 0)
                r = buf_append(&req, body, blen);
        if (r < 0) {
                buf_free(&req);
                return rc_err_set(err, ENOMEM, "out of memory");
        }
        int fd = connect_to(&u, timeout_ms, cancel_fd, err);
        if (fd < 0) {
                buf_free(&req);
                return fd;
        }
        int64_t deadline = mono_ms() + timeout_ms;
        int s = send_all(fd, req.data, req.len, deadline, cancel_fd);
        buf_free(&req);
        if (s == -ECANCELED) {
                close(fd);
                return rc_err_set(err, ECANCELED, "stopped");
        }
        /* A receiver may answer (413, say) and close before taking the whole body: its status
         * is still read. */
        rc_err_t rerr = {0};
        int st = read_status(fd, deadline, cancel_fd, &rerr);
        close(fd);
        if (st < 0) {
                if (s < 0 && st != -ECANCELED)
                        return rc_err_sys(err, -s, "sending the request");
                *err = rerr;
                return st;
        }
        *status = st;
        return 0;
}

/* ---- the deliverer ---- */

struct cb_deliverer {
        store_t *st;
        cb_opts_t o; /* allow_hosts copied */
        int kick_fd, stop_fd;
        atomic_bool stopping;
        pthread_t thread;
        bool started;
};

typedef struct due {
        char token[STORE_TOKEN_MAX];
        char *url;
        char *body;
        int attempts; /* tries so far */
} due_t;

typedef struct dues {
        due_t v[DUE_BATCH];
        int n;
        char *(*body)(const char *dialect, const char *result);
} dues_t;

static int collect(const submission_t *s, void *ud)
{
        dues_t *d = ud;
        if (d->n >= DUE_BATCH)
                return 1;
        due_t *e = &d->v[d->n];
        memset(e, 0, sizeof(*e));
        snprintf(e->token, sizeof(e->token), "%s", s->token);
        e->attempts = s->callback_attempts;
        e->url = strdup(s->callback_url ? s->callback_url : "");
        if (s->result) {
                e->body = d->body ? d->body(s->dialect, s->result) : NULL;
                if (!e->body)
                        e->body = strdup(s->result);
        } else {
                buf_t b = {0};
                const char *why = s->error ? s->error : "no result";
                if (buf_printf(&b, "{\"token\": ") < 0 ||
                    json_quote_bytes(&b, s->token, strlen(s->token)) < 0 ||
                    buf_printf(&b, ", \"error\": ") < 0 ||
                    json_quote_bytes(&b, why, strlen(why)) < 0 || buf_printf(&b, "}") < 0)
                        buf_free(&b);
                e->body = b.data;
        }
        if (!e->url || !e->body) {
                free(e->url);
                free(e->body);
                return 1; /* out of memory: the rest waits for the next round */
        }
        d->n++;
        return 0;
}

static int64_t backoff(const cb_opts_t *o, int tries)
{
        int64_t d = o->backoff_ms;
        for (int i = 1; i < tries && d < o->backoff_max_ms; i++)
                d *= 2;
        return d < o->backoff_max_ms ? d : o->backoff_max_ms;
}

/* One try and its record; false when the store could not record it. */
static bool deliver(cb_deliverer_t *d, const due_t *e)
{
        char why[RC_ERR_MSG_MAX + 64];
        rc_err_t err = {0};
        int tries = e->attempts + 1;
        bool ok = false, retry = true;
        if (!cb_url_allowed(&d->o, e->url, why, sizeof(why))) {
                retry = false;
        } else {
                int status = 0;
                int r = cb_http_put(e->url, e->body, d->o.timeout_ms, d->stop_fd, &status, &err);
                if (r == -ECANCELED)
                        return true; /* stopping: this try does not count */
                if (r < 0)
                        snprintf(why, sizeof(why), "%s", err.msg);
                else if (status / 100 == 2)
                        ok = true;
                else
                        snprintf(why, sizeof(why), "HTTP status %d", status);
        }
        int64_t next = 0;
        if (!ok && retry && tries < d->o.max_tries)
                next = store_now_ms() + backoff(&d->o, tries);
        if (!ok && next == 0)
                rc_note(RC_NOTE_WARN, "callback_given_up",
                        "callback of %s to %s given up after %d tr%s: %s", e->token, e->url, tries,
                        tries == 1 ? "y" : "ies", why);
        rc_err_t serr = {0};
        if (store_callback_tried(d->st, e->token, ok, next, &serr) < 0) {
                rc_note(RC_NOTE_ERROR, "callback_error", "callback of %s: %s", e->token, serr.msg);
                return false;
        }
        return true;
}

static void drain(int fd)
{
        uint64_t v;
        while (read(fd, &v, sizeof(v)) > 0)
                ;
}

static void *run(void *arg)
{
        cb_deliverer_t *d = arg;
        while (!atomic_load(&d->stopping)) {
                dues_t due = {.body = d->o.body};
                rc_err_t err = {0};
                int64_t now = store_now_ms();
                int n = store_callbacks_due(d->st, now, DUE_BATCH, collect, &due, &err);
                if (n < 0)
                        rc_note(RC_NOTE_ERROR, "callback_error", "callbacks: %s", err.msg);
                bool recorded = true;
                for (int i = 0; i < due.n; i++) {
                        if (!atomic_load(&d->stopping) && !deliver(d, &due.v[i]))
                                recorded = false;
                        free(due.v[i].url);
                        free(due.v[i].body);
                }
                if (due.n > 0 && recorded)
                        continue;
                if (!recorded)
                        n = -1; /* the store failed: not again at once (they are still due) */
                int64_t wait = IDLE_MAX_MS;
                if (n >= 0) {
                        int64_t next = store_callback_next_ms(d->st, &err);
                        if (next > 0)
                                wait = next - store_now_ms();
                        else if (next < 0)
                                wait = 1000;
                }
                if (n < 0)
                        wait = 1000;
                if (wait > IDLE_MAX_MS)
                        wait = IDLE_MAX_MS;
                if (wait < 0)
                        wait = 0;
                struct pollfd p[2] = {{.fd = d->kick_fd, .events = POLLIN},
                                      {.fd = d->stop_fd, .events = POLLIN}};
                if (poll(p, 2, (int)wait) > 0 && (p[0].revents & POLLIN))
                        drain(d->kick_fd);
        }
        return NULL;
}

static void free_deliverer(cb_deliverer_t *d)
{
        if (!d)
                return;
        for (size_t i = 0; i < d->o.nallow_hosts; i++)
                free(d->o.allow_hosts[i]);
        free(d->o.allow_hosts);
        if (d->kick_fd >= 0)
                close(d->kick_fd);
        if (d->stop_fd >= 0)
                close(d->stop_fd);
        store_close(d->st);
        free(d);
}

int cb_start(const char *db_path, const store_opts_t *so, const cb_opts_t *o, cb_deliverer_t **out,
             rc_err_t *err)
{
        *out = NULL;
        cb_deliverer_t *d = calloc(1, sizeof(*d));
        if (!d)
                return rc_err_set(err, ENOMEM, "callbacks: out of memory");
        d->kick_fd = d->stop_fd = -1;
        if (o)
                d->o = *o;
        d->o.allow_hosts = NULL;
        d->o.nallow_hosts = 0;
        if (d->o.max_tries <= 0)
                d->o.max_tries = 5;
        if (d->o.backoff_ms <= 0)
                d->o.backoff_ms = 1000;
        if (d->o.backoff_max_ms <= 0)
                d->o.backoff_max_ms = 60000;
        if (d->o.backoff_max_ms < d->o.backoff_ms)
                d->o.backoff_max_ms = d->o.backoff_ms;
        if (d->o.timeout_ms <= 0)
                d->o.timeout_ms = 10000;
        int r = 0;
        if (o && o->nallow_hosts) {
                d->o.allow_hosts = calloc(o->nallow_hosts, sizeof(char *));
                if (!d->o.allow_hosts)
                        r = -ENOMEM;
                for (size_t i = 0; r == 0 && i < o->nallow_hosts; i++) {
                        d->o.allow_hosts[i] = strdup(o->allow_hosts[i] ? o->allow_hosts[i] : "");
                        d->o.nallow_hosts = i + 1;
                        if (!d->o.allow_hosts[i])
                                r = -ENOMEM;
                }
        }
        if (r < 0) {
                free_deliverer(d);
                return rc_err_set(err, ENOMEM, "callbacks: out of memory");
        }
        d->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        d->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (d->kick_fd < 0 || d->stop_fd < 0) {
                r = rc_err_sys(err, errno, "callbacks: eventfd");
                free_deliverer(d);
                return r;
        }
        r = store_open(db_path, so, &d->st, err);
        if (r < 0) {
                rc_err_wrap(err, "callbacks");
                free_deliverer(d);
                return r;
        }
        r = pthread_create(&d->thread, NULL, run, d);
        if (r != 0) {
                r = rc_err_sys(err, r, "callbacks: starting the thread");
                free_deliverer(d);
                return r;
        }
        d->started = true;
        *out = d;
        return 0;
}

void cb_kick(cb_deliverer_t *d)
{
        if (!d)
                return;
        uint64_t one = 1;
        ssize_t w = write(d->kick_fd, &one, sizeof(one));
        (void)w; /* EAGAIN: the counter is full, so a kick is pending anyway */
}

void cb_stop(cb_deliverer_t *d)
{
        if (!d)
                return;
        atomic_store(&d->stopping, true);
        uint64_t one = 1;
        ssize_t w = write(d->stop_fd, &one, sizeof(one));
        (void)w;
        if (d->started)
                pthread_join(d->thread, NULL);
        free_deliverer(d);
}
