/* The small blocking HTTP/1.1 client (httpc.h): an http:// URL split, its host resolved from
 * numbers, /etc/hosts or "localhost" (no NSS, no DNS), one non-blocking socket waited on with
 * poll() so that every wait has a deadline, the answer's head parsed (RFC 9112: status line,
 * header fields) and its body read by Content-Length, chunked coding or up to the close. */
#include "util/httpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/cleanup.h"

#define RECV_CHUNK     (64u << 10)
#define CHUNK_LINE_MAX 4096 /* a chunk-size line with its extensions */

/* ------------------------------------------------------------------ URLs */

static bool host_char(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '.' || c == '_';
}

int httpc_url_parse(const char *url, httpc_url_t *u, rc_err_t *err)
{
        memset(u, 0, sizeof(*u));
        if (!url || !*url)
                return rc_err_set(err, EINVAL, "no URL");
        for (const unsigned char *p = (const unsigned char *)url; *p; p++)
                if (*p <= ' ' || *p == 0x7f)
                        return rc_err_set(err, EINVAL,
                                          "\"%.200s\": spaces or control characters in the URL",
                                          url);
        if (strncasecmp(url, "https://", 8) == 0)
                return rc_err_set(err, EPROTONOSUPPORT,
                                  "\"%.200s\": https is not supported, only plain http:// "
                                  "(e.g. http://127.0.0.1:8080)",
                                  url);
        if (strncasecmp(url, "http://", 7) != 0)
                return rc_err_set(err, EINVAL,
                                  "\"%.200s\": not an http:// URL (e.g. http://127.0.0.1:8080)",
                                  url);
        const char *a = url + 7;
        size_t n = strcspn(a, "/?#");
        if (memchr(a, '@', n))
                return rc_err_set(err, EINVAL,
                                  "\"%.200s\": a user name or password in the URL is not supported",
                                  url);
        const char *host = a, *colon = NULL;
        size_t hlen;
        if (n && a[0] == '[') {
                const char *close = memchr(a, ']', n);
                if (!close)
                        return rc_err_set(err, EINVAL,
                                          "\"%.200s\": an IPv6 address without its closing ']'",
                                          url);
                host = a + 1;
                hlen = (size_t)(close - host);
                u->v6 = true;
                if (close + 1 < a + n) {
                        if (close[1] != ':')
                                return rc_err_set(err, EINVAL,
                                                  "\"%.200s\": something after ']' that is not "
                                                  ":PORT",
                                                  url);
                        colon = close + 1;
                }
                for (size_t i = 0; i < hlen; i++)
                        if (!strchr("0123456789abcdefABCDEF:.", host[i]))
                                return rc_err_set(err, EINVAL,
                                                  "\"%.200s\": not an IPv6 address in [...] (zone "
                                                  "ids are not supported)",
                                                  url);
        } else {
                colon = memchr(a, ':', n);
                hlen = colon ? (size_t)(colon - a) : n;
                if (colon && memchr(colon + 1, ':', n - hlen - 1))
                        return rc_err_set(err, EINVAL,
                                          "\"%.200s\": an IPv6 address goes in brackets, e.g. "
                                          "http://[::1]:8080",
                                          url);
                for (size_t i = 0; i < hlen; i++)
                        if (!host_char(host[i]))
                                return rc_err_set(err, EINVAL,
                                                  "\"%.200s\": a host name with '%c' in it", url,
                                                  host[i]);
        }
        if (hlen == 0)
                return rc_err_set(err, EINVAL, "\"%.200s\": no host in the URL", url);
        if (hlen >= sizeof(u->host))
                return rc_err_set(err, EINVAL, "\"%.200s\": too long a host name", url);
        memcpy(u->host, host, hlen);
        u->host[hlen] = '\0';
        u->port = HTTPC_DEFAULT_PORT;
        if (colon) {
                const char *p = colon + 1, *end = a + n;
                long v = 0;
                if (p == end || end - p > 5)
                        return rc_err_set(err, EINVAL,
                                          "\"%.200s\": not a port number (1 to 65535) after ':'",
                                          url);
                for (; p < end; p++) {
                        if (*p < '0' || *p > '9')
                                return rc_err_set(err, EINVAL,
                                                  "\"%.200s\": not a port number (1 to 65535) "
                                                  "after ':'",
                                                  url);
                        v = v * 10 + (*p - '0');
                }
                if (v < 1 || v > 65535)
                        return rc_err_set(err, EINVAL,
                                          "\"%.200s\": not a port number (1 to 65535) after ':'",
                                          url);
                u->port = (int)v;
                u->has_port = true;
        }
        const char *path = a + n;
        size_t plen = strcspn(path, "#");
        const char *lead = plen && path[0] == '/' ? "" : "/";
        if (strlen(lead) + plen >= sizeof(u->target))
                return rc_err_set(err, EINVAL, "\"%.200s...\": the URL is too long", url);
        snprintf(u->target, sizeof(u->target), "%s%.*s", lead, (int)plen, path);
        return 0;
}

/* ------------------------------------------------------------------ host names */

static bool addr_of(const char *text, int port, httpc_addr_t *out)
{
        memset(out, 0, sizeof(*out));
        struct sockaddr_in *sin = (struct sockaddr_in *)&out->sa;
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->sa;
        if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
                sin->sin_family = AF_INET;
                sin->sin_port = htons((uint16_t)port);
                out->len = sizeof(*sin);
                return true;
        }
        if (inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1) {
                sin6->sin6_family = AF_INET6;
                sin6->sin6_port = htons((uint16_t)port);
                out->len = sizeof(*sin6);
                return true;
        }
        return false;
}

static size_t add_addr(httpc_addr_t *out, size_t n, size_t max, const httpc_addr_t *a)
{
        for (size_t i = 0; i < n; i++)
                if (out[i].len == a->len && memcmp(&out[i].sa, &a->sa, a->len) == 0)
                        return n;
        if (n < max)
                out[n++] = *a;
        return n;
}

/* The addresses /etc/hosts (or hosts_file) gives name, in the file's order. */
static size_t hosts_lookup(const char *hosts_file, const char *name, int port, httpc_addr_t *out,
                           size_t max)
{
        _cleanup_fclose_ FILE *f = fopen(hosts_file, "re");
        if (!f)
                return 0;
        _cleanup_free_ char *line = NULL;
        size_t cap = 0, n = 0;
        while (getline(&line, &cap, f) >= 0 && n < max) {
                line[strcspn(line, "#")] = '\0';
                char *save = NULL;
                const char *addr = strtok_r(line, " \t\r\n", &save);
                if (!addr)
                        continue;
                for (const char *w; (w = strtok_r(NULL, " \t\r\n", &save));) {
                        httpc_addr_t a;
                        if (strcasecmp(w, name) == 0 && addr_of(addr, port, &a)) {
                                n = add_addr(out, n, max, &a);
                                break;
                        }
                }
        }
        return n;
}

static bool is_localhost(const char *name)
{
        size_t n = strlen(name);
        if (n && name[n - 1] == '.')
                n--; /* the root's dot */
        return (n == 9 && strncasecmp(name, "localhost", 9) == 0) ||
               (n > 10 && strncasecmp(name + n - 10, ".localhost", 10) == 0);
}

int httpc_resolve(const char *host, bool v6, int port, const char *hosts_file, httpc_addr_t *out,
                  size_t max, rc_err_t *err)
{
        if (!host || !*host || max == 0)
                return rc_err_set(err, EINVAL, "no host");
        httpc_addr_t a;
        if (v6) {
                struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a.sa;
                memset(&a, 0, sizeof(a));
                if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
                        return rc_err_set(err, EINVAL, "[%s] is not an IPv6 address", host);
                sin6->sin6_family = AF_INET6;
                sin6->sin6_port = htons((uint16_t)port);
                a.len = sizeof(*sin6);
                out[0] = a;
                return 1;
        }
        struct sockaddr_in *sin = (struct sockaddr_in *)&a.sa;
        memset(&a, 0, sizeof(a));
        if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
                sin->sin_family = AF_INET;
                sin->sin_port = htons((uint16_t)port);
                a.len = sizeof(*sin);
                out[0] = a;
                return 1;
        }
        for (const char *p = host; *p; p++)
                if (!host_char(*p))
                        return rc_err_set(err, EINVAL, "\"%s\" is not a host name", host);
        const char *file = hosts_file ? hosts_file : HTTPC_HOSTS_FILE;
        size_t n = hosts_lookup(file, host, port, out, max);
        if (n == 0 && is_localhost(host)) {
                addr_of("127.0.0.1", port, &a);
                n = add_addr(out, n, max, &a);
                addr_of("::1", port, &a);
                n = add_addr(out, n, max, &a);
        }
        if (n == 0)
                return rc_err_set(err, ENOENT,
                                  "cannot resolve host \"%s\": it is not an IP address, localhost "
                                  "or a name in %s (runcell does not ask DNS: give the server's "
                                  "address)",
                                  host, file);
        /* IPv4 first, each family in the file's order: runcell's server listens on IPv4 only,
         * and a name listed for both (localhost) would otherwise try ::1 first. */
        httpc_addr_t sorted[HTTPC_ADDRS_MAX];
        size_t k = 0;
        for (int pass = 0; pass < 2; pass++)
                for (size_t i = 0; i < n && k < HTTPC_ADDRS_MAX; i++)
                        if ((out[i].sa.ss_family == AF_INET) == (pass == 0))
                                sorted[k++] = out[i];
        memcpy(out, sorted, k * sizeof(*out));
        return (int)k;
}

/* ------------------------------------------------------------------ the connection */

typedef struct conn {
        int fd;
        int timeout_ms;
        const char *host; /* for messages */
        int port;
        buf_t in; /* received and not consumed yet, from pos */
        size_t pos;
        bool eof;   /* the server closed its side */
        size_t got; /* bytes received in all */
} conn_t;

/* "30 s", "1.5 s", "200 ms" */
static const char *fmt_ms(int ms, char *b, size_t size)
{
        if (ms >= 1000 && ms % 1000 == 0)
                snprintf(b, size, "%d s", ms / 1000);
        else if (ms >= 1000)
                snprintf(b, size, "%.1f s", ms / 1000.0);
        else
                snprintf(b, size, "%d ms", ms);
        return b;
}

/* Wait until fd is ready for events, at most timeout_ms: 1 ready, 0 timed out, -errno. */
static int wait_fd(int fd, short events, int timeout_ms)
{
        struct pollfd p = {.fd = fd, .events = events};
        for (;;) {
                int r = poll(&p, 1, timeout_ms);
                if (r < 0 && errno == EINTR)
                        continue; /* the wait starts over: a signal is rare, and bounded anyway */
                if (r < 0)
                        return -errno;
                return r > 0 ? 1 : 0;
        }
}

static void addr_text(const httpc_addr_t *a, char *b, size_t size)
{
        const void *p = a->sa.ss_family == AF_INET
                            ? (const void *)&((const struct sockaddr_in *)&a->sa)->sin_addr
                            : (const void *)&((const struct sockaddr_in6 *)&a->sa)->sin6_addr;
        if (!inet_ntop(a->sa.ss_family, p, b, (socklen_t)size))
                snprintf(b, size, "?");
}

/* A connected non-blocking socket to one of addrs (tried in order), or -errno. When none
 * answers, the first one's failure is the one said (IPv4 comes first: runcell's server's). */
static int connect_any(const httpc_url_t *u, const httpc_addr_t *addrs, int n, int timeout_ms,
                       rc_err_t *err)
{
        int first = 0;
        char where[INET6_ADDRSTRLEN] = "";
        for (int i = 0; i < n; i++) {
                int e;
                _cleanup_close_ int s =
                    socket(addrs[i].sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                if (s < 0) {
                        e = errno;
                } else if (connect(s, (const struct sockaddr *)&addrs[i].sa, addrs[i].len) == 0) {
                        return steal_fd(&s);
                } else if (errno != EINPROGRESS) {
                        e = errno;
                } else {
                        int w = wait_fd(s, POLLOUT, timeout_ms);
                        int so = 0;
                        socklen_t sl = sizeof(so);
                        if (w == 1 && getsockopt(s, SOL_SOCKET, SO_ERROR, &so, &sl) == 0 && so == 0)
                                return steal_fd(&s);
                        e = w == 0 ? ETIMEDOUT : w < 0 ? -w : so ? so : errno;
                }
                if (!first) {
                        first = e ? e : ECONNREFUSED;
                        addr_text(&addrs[i], where, sizeof(where));
                }
        }
        char shown[HTTPC_HOST_MAX + INET6_ADDRSTRLEN + 8];
        if (strcmp(where, u->host) != 0)
                snprintf(shown, sizeof(shown), "%s (%s)", u->host, where);
        else
                snprintf(shown, sizeof(shown), "%s", u->host);
        if (first == ETIMEDOUT) {
                char t[32];
                return rc_err_set(err, ETIMEDOUT,
                                  "cannot connect to %s port %d: no answer within %s", shown,
                                  u->port, fmt_ms(timeout_ms, t, sizeof(t)));
        }
        return rc_err_sys(err, first ? first : ECONNREFUSED, "cannot connect to %s port %d", shown,
                          u->port);
}

/* Send all of p; -errno (the server closed, or took nothing for timeout_ms: -ETIMEDOUT). */
static int send_all(conn_t *c, const char *p, size_t n)
{
        while (n > 0) {
                ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
                if (w > 0) {
                        p += w;
                        n -= (size_t)w;
                        continue;
                }
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0 && errno != EAGAIN)
                        return -errno;
                int r = wait_fd(c->fd, POLLOUT, c->timeout_ms);
                if (r <= 0)
                        return r == 0 ? -ETIMEDOUT : r;
        }
        return 0;
}

/* Receive once into b (at most room bytes): the count, 0 at the end of the connection, or
 * -errno with err set (what: the part of the answer awaited, for the message). */
static ssize_t conn_recv(conn_t *c, buf_t *b, size_t room, const char *what, rc_err_t *err)
{
        if (c->eof)
                return 0;
        if (room > RECV_CHUNK)
                room = RECV_CHUNK;
        if (buf_reserve(b, room) < 0)
                return rc_err_set(err, ENOMEM, "out of memory");
        for (;;) {
                ssize_t r = recv(c->fd, b->data + b->len, room, 0);
                if (r > 0) {
                        b->len += (size_t)r;
                        b->data[b->len] = '\0';
                        c->got += (size_t)r;
                        return r;
                }
                if (r == 0) {
                        c->eof = true;
                        return 0;
                }
                if (errno == EINTR)
                        continue;
                if (errno != EAGAIN)
                        return rc_err_sys(err, errno, "reading %s from %s port %d", what, c->host,
                                          c->port);
                int w = wait_fd(c->fd, POLLIN, c->timeout_ms);
                if (w < 0)
                        return rc_err_sys(err, -w, "waiting for %s", what);
                if (w == 0) {
                        char t[32];
                        fmt_ms(c->timeout_ms, t, sizeof(t));
                        if (c->got == 0)
                                return rc_err_set(err, ETIMEDOUT,
                                                  "no answer from %s port %d within %s", c->host,
                                                  c->port, t);
                        return rc_err_set(err, ETIMEDOUT,
                                          "%s port %d sent nothing more for %s, in the middle of "
                                          "%s",
                                          c->host, c->port, t, what);
                }
        }
}

/* Drop the consumed bytes of c->in once they are many. */
static void conn_compact(conn_t *c)
{
        if (c->pos < RECV_CHUNK && c->pos < c->in.len)
                return;
        memmove(c->in.data, c->in.data + c->pos, c->in.len - c->pos);
        c->in.len -= c->pos;
        c->pos = 0;
        if (c->in.data)
                c->in.data[c->in.len] = '\0';
}

/* ------------------------------------------------------------------ the answer */

/* The offset just past the empty line that ends a head starting at from, or 0 while there is
 * none yet. Lines end in CRLF, or in LF alone (RFC 9112 2.2 lets a recipient accept that). */
static size_t head_end(const char *p, size_t from, size_t len)
{
        for (size_t i = from; i < len; i++) {
                if (p[i] != '\n')
                        continue;
                if (i + 1 < len && p[i + 1] == '\n')
                        return i + 2;
                if (i + 2 < len && p[i + 1] == '\r' && p[i + 2] == '\n')
                        return i + 3;
        }
        return 0;
}

static bool tchar(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Parse the head (NUL-terminated, ending in its empty line) into resp, which keeps it. */
static int parse_head(char *head, httpc_response_t *resp, rc_err_t *err)
{
        size_t lines = 0;
        for (const char *p = head; *p; p++)
                lines += *p == '\n';
        resp->head_ = head;
        resp->headers = calloc(lines ? lines : 1, sizeof(*resp->headers));
        if (!resp->headers)
                return rc_err_set(err, ENOMEM, "out of memory");
        char *line = head;
        char *nl = strchr(line, '\n');
        *nl = '\0';
        if (nl > line && nl[-1] == '\r')
                nl[-1] = '\0';
        /* HTTP/1.1 200 OK */
        int minor = -1, status = 0;
        if (strncmp(line, "HTTP/1.", 7) == 0 && line[7] >= '0' && line[7] <= '9' &&
            line[8] == ' ') {
                minor = line[7] - '0';
                const char *s = line + 9;
                if (s[0] >= '1' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' && s[2] >= '0' &&
                    s[2] <= '9' && (s[3] == ' ' || s[3] == '\0'))
                        status = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
        }
        if (minor < 0 || status == 0)
                return rc_err_set(err, EPROTO,
                                  "not an HTTP/1.x answer: its status line is \"%.80s\"", line);
        resp->minor = minor;
        resp->status = status;
        resp->reason = line[12] ? line + 13 : "";
        for (line = nl + 1; *line; line = nl + 1) {
                nl = strchr(line, '\n');
                *nl = '\0';
                if (nl > line && nl[-1] == '\r')
                        nl[-1] = '\0';
                if (!*line)
                        break; /* the empty line */
                if (*line == ' ' || *line == '\t')
                        return rc_err_set(err, EPROTO,
                                          "the answer has a folded header line (obsolete): "
                                          "\"%.80s\"",
                                          line);
                char *colon = line;
                while (tchar(*colon))
                        colon++;
                if (colon == line || *colon != ':')
                        return rc_err_set(err, EPROTO,
                                          "a malformed header line in the answer: "
                                          "\"%.80s\"",
                                          line);
                *colon = '\0';
                char *v = colon + 1, *e = v + strlen(v);
                while (*v == ' ' || *v == '\t')
                        v++;
                while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
                        *--e = '\0';
                for (const unsigned char *q = (const unsigned char *)v; *q; q++)
                        if ((*q < ' ' && *q != '\t') || *q == 0x7f)
                                return rc_err_set(err, EPROTO,
                                                  "the answer's header %s has a control "
                                                  "character in its value",
                                                  line);
                resp->headers[resp->nheaders++] = (httpc_header_t){.name = line, .value = v};
        }
        return 0;
}

const char *httpc_header(const httpc_response_t *resp, const char *name)
{
        for (size_t i = 0; resp && i < resp->nheaders; i++)
                if (strcasecmp(resp->headers[i].name, name) == 0)
                        return resp->headers[i].value;
        return NULL;
}

/* Read and parse heads until one that is not an interim (1xx) answer. */
static int read_head(conn_t *c, httpc_response_t *resp, rc_err_t *err)
{
        for (;;) {
                size_t end;
                size_t scanned = c->pos;
                while (!(end = head_end(c->in.data ? c->in.data : "", scanned, c->in.len))) {
                        if (c->in.len - c->pos > HTTPC_HEAD_MAX)
                                return rc_err_set(err, EMSGSIZE,
                                                  "the answer's status line and headers are over "
                                                  "%u bytes",
                                                  HTTPC_HEAD_MAX);
                        scanned = c->in.len > c->pos + 2 ? c->in.len - 2 : c->pos;
                        ssize_t r = conn_recv(c, &c->in, RECV_CHUNK, "the answer's headers", err);
                        if (r < 0)
                                return (int)r;
                        if (r == 0)
                                return rc_err_set(err, ECONNRESET,
                                                  c->in.len == c->pos
                                                      ? "the server closed the connection without "
                                                        "answering"
                                                      : "the server closed the connection in the "
                                                        "middle of the answer's headers");
                }
                if (end - c->pos > HTTPC_HEAD_MAX)
                        return rc_err_set(err, EMSGSIZE,
                                          "the answer's status line and headers are over %u bytes",
                                          HTTPC_HEAD_MAX);
                char *head = strndup(c->in.data + c->pos, end - c->pos);
                if (!head)
                        return rc_err_set(err, ENOMEM, "out of memory");
                c->pos = end;
                free(resp->head_);
                free(resp->headers);
                resp->head_ = NULL;
                resp->headers = NULL;
                resp->nheaders = 0;
                int r = parse_head(head, resp, err);
                if (r < 0)
                        return r;
                if (resp->status == 101)
                        return rc_err_set(err, EPROTO,
                                          "the server switched protocols (101), which this client "
                                          "does not speak");
                if (resp->status >= 200)
                        return 0;
                /* 100 Continue, 102, 103: an interim answer, the real one follows */
        }
}

/* Content-Length: one number, or the same number repeated (in several fields or a list). */
static int content_length(const httpc_response_t *resp, bool *has, unsigned long long *out,
                          rc_err_t *err)
{
        *has = false;
        for (size_t i = 0; i < resp->nheaders; i++) {
                if (strcasecmp(resp->headers[i].name, "content-length") != 0)
                        continue;
                const char *p = resp->headers[i].value;
                do {
                        while (*p == ' ' || *p == '\t' || *p == ',')
                                p++;
                        unsigned long long v = 0;
                        const char *start = p;
                        for (; *p >= '0' && *p <= '9'; p++) {
                                if (v > (UINT64_MAX - 9) / 10)
                                        return rc_err_set(err, EPROTO,
                                                          "the answer's Content-Length is too "
                                                          "large: \"%.40s\"",
                                                          resp->headers[i].value);
                                v = v * 10 + (unsigned)(*p - '0');
                        }
                        while (*p == ' ' || *p == '\t')
                                p++;
                        if (p == start || (*p && *p != ','))
                                return rc_err_set(err, EPROTO,
                                                  "the answer's Content-Length is not a number: "
                                                  "\"%.40s\"",
                                                  resp->headers[i].value);
                        if (*has && v != *out)
                                return rc_err_set(err, EPROTO,
                                                  "the answer has two different Content-Lengths");
                        *has = true;
                        *out = v;
                } while (*p);
        }
        return 0;
}

static int too_large(size_t max, rc_err_t *err)
{
        return rc_err_set(err, EFBIG, "the answer's body is over %zu bytes", max);
}

/* Move what is left of c->in after the head into body. */
static int take_rest(conn_t *c, buf_t *body, size_t max, rc_err_t *err)
{
        size_t n = c->in.len - c->pos;
        if (n > max)
                n = max + 1;
        if (n && buf_append(body, c->in.data + c->pos, n) < 0)
                return rc_err_set(err, ENOMEM, "out of memory");
        c->pos += n;
        return 0;
}

static int body_sized(conn_t *c, unsigned long long len, buf_t *body, size_t max, rc_err_t *err)
{
        if (len > max)
                return too_large(max, err);
        int r = take_rest(c, body, max, err);
        if (r < 0)
                return r;
        if (body->len > len)
                body->len = (size_t)len; /* bytes after the body: not ours to read */
        while (body->len < len) {
                ssize_t n = conn_recv(c, body, (size_t)len - body->len, "the answer's body", err);
                if (n < 0)
                        return (int)n;
                if (n == 0)
                        return rc_err_set(err, ECONNRESET,
                                          "the server closed the connection after %zu of %llu "
                                          "body bytes",
                                          body->len, len);
        }
        if (body->data)
                body->data[body->len] = '\0';
        return 0;
}

static int body_to_close(conn_t *c, buf_t *body, size_t max, rc_err_t *err)
{
        int r = take_rest(c, body, max, err);
        if (r < 0)
                return r;
        for (;;) {
                if (body->len > max)
                        return too_large(max, err);
                ssize_t n = conn_recv(c, body, max + 1 - body->len, "the answer's body", err);
                if (n < 0)
                        return (int)n;
                if (n == 0)
                        return 0;
        }
}

/* Make sure c->in holds need bytes from pos (or a line, when line): 0, or -errno. */
static int want_bytes(conn_t *c, size_t need, bool line, rc_err_t *err)
{
        for (;;) {
                size_t have = c->in.len - c->pos;
                if (line ? have && memchr(c->in.data + c->pos, '\n', have) : have >= need)
                        return 0;
                if (line && have > CHUNK_LINE_MAX)
                        return rc_err_set(err, EPROTO,
                                          "a chunk-size line over %d bytes in the answer",
                                          CHUNK_LINE_MAX);
                conn_compact(c);
                ssize_t r = conn_recv(c, &c->in, line ? RECV_CHUNK : need - have,
                                      "the answer's chunked body", err);
                if (r < 0)
                        return (int)r;
                if (r == 0)
                        return rc_err_set(err, ECONNRESET,
                                          "the server closed the connection in the middle of the "
                                          "answer's chunked body");
        }
}

/* One line of c->in (without its CRLF or LF), NUL-terminated in place. */
static char *take_line(conn_t *c)
{
        char *s = c->in.data + c->pos;
        char *nl = memchr(s, '\n', c->in.len - c->pos);
        c->pos = (size_t)(nl + 1 - c->in.data);
        *nl = '\0';
        if (nl > s && nl[-1] == '\r')
                nl[-1] = '\0';
        return s;
}

static int hexval(char ch)
{
        if (ch >= '0' && ch <= '9')
                return ch - '0';
        if (ch >= 'a' && ch <= 'f')
                return ch - 'a' + 10;
        if (ch >= 'A' && ch <= 'F')
                return ch - 'A' + 10;
        return -1;
}

/* RFC 9112 7.1: chunk-size [; ext] CRLF, data, CRLF; ...; 0 CRLF, trailer fields, CRLF. */
static int body_chunked(conn_t *c, buf_t *body, size_t max, rc_err_t *err)
{
        for (;;) {
                int r = want_bytes(c, 0, true, err);
                if (r < 0)
                        return r;
                const char *s = take_line(c);
                unsigned long long size = 0;
                const char *p = s;
                for (; hexval(*p) >= 0; p++) {
                        if (size > (max >> 4))
                                return too_large(max, err);
                        size = size * 16 + (unsigned)hexval(*p);
                }
                while (*p == ' ' || *p == '\t')
                        p++;
                if (p == s || (*p && *p != ';'))
                        return rc_err_set(err, EPROTO,
                                          "a bad chunk-size line in the answer: \"%.40s\"", s);
                if (size == 0)
                        break;
                if (size > max - body->len)
                        return too_large(max, err);
                r = want_bytes(c, (size_t)size, false, err);
                if (r < 0)
                        return r;
                if (buf_append(body, c->in.data + c->pos, (size_t)size) < 0)
                        return rc_err_set(err, ENOMEM, "out of memory");
                c->pos += (size_t)size;
                r = want_bytes(c, 0, true, err);
                if (r < 0)
                        return r;
                if (*take_line(c))
                        return rc_err_set(err, EPROTO,
                                          "a chunk of the answer is longer than its size says");
                conn_compact(c);
        }
        /* the trailer section: fields (ignored) up to an empty line */
        for (size_t total = 0;;) {
                int r = want_bytes(c, 0, true, err);
                if (r < 0)
                        return r;
                const char *s = take_line(c);
                if (!*s)
                        return 0;
                total += strlen(s);
                if (total > HTTPC_HEAD_MAX)
                        return rc_err_set(err, EMSGSIZE,
                                          "the answer's trailer fields are over %u bytes",
                                          HTTPC_HEAD_MAX);
        }
}

/* The body, framed as RFC 9112 6.3 says. */
static int read_body(conn_t *c, const httpc_request_t *req, httpc_response_t *resp, size_t max,
                     rc_err_t *err)
{
        buf_t body = {0};
        int r = 0;
        bool none = strcmp(req->method, "HEAD") == 0 || resp->status == 204 || resp->status == 304;
        const char *te = httpc_header(resp, "transfer-encoding");
        bool has_len = false;
        unsigned long long len = 0;
        if (!none && te) {
                /* only "chunked" (no compression is asked for) */
                if (strcasecmp(te, "chunked") != 0)
                        r = rc_err_set(err, EPROTO,
                                       "the answer's Transfer-Encoding \"%.60s\" is not supported "
                                       "(only chunked)",
                                       te);
                else
                        r = body_chunked(c, &body, max, err);
        } else if (!none && (r = content_length(resp, &has_len, &len, err)) == 0) {
                r = has_len ? body_sized(c, len, &body, max, err)
                            : body_to_close(c, &body, max, err);
        }
        if (r < 0) {
                buf_free(&body);
                return r;
        }
        if (!body.data && buf_reserve(&body, 0) < 0)
                return rc_err_set(err, ENOMEM, "out of memory");
        body.data[body.len] = '\0';
        resp->body = body.data;
        resp->body_len = body.len;
        return 0;
}

/* ------------------------------------------------------------------ the request */

static int build_request(const httpc_request_t *req, const httpc_url_t *u, buf_t *out,
                         rc_err_t *err)
{
        const char *m = req->method;
        if (!m || !*m)
                return rc_err_set(err, EINVAL, "no request method");
        for (const char *p = m; *p; p++)
                if (!tchar(*p))
                        return rc_err_set(err, EINVAL, "\"%.40s\" is not a request method", m);
        int r = buf_printf(out, "%s %s HTTP/1.1\r\nHost: %s%s%s", m, u->target, u->v6 ? "[" : "",
                           u->host, u->v6 ? "]" : "");
        if (r >= 0 && u->has_port)
                r = buf_printf(out, ":%d", u->port);
        if (r >= 0)
                r = buf_printf(out, "\r\nUser-Agent: runcell/%s\r\nConnection: close\r\n",
                               RUNCELL_VERSION);
        for (size_t i = 0; r >= 0 && req->headers && req->headers[i]; i++) {
                const char *h = req->headers[i];
                const char *colon = h;
                while (tchar(*colon))
                        colon++;
                if (colon == h || *colon != ':')
                        return rc_err_set(err, EINVAL,
                                          "a request header without \"Name:\": "
                                          "\"%.60s\"",
                                          h);
                for (const unsigned char *q = (const unsigned char *)colon; *q; q++)
                        if ((*q < ' ' && *q != '\t') || *q == 0x7f)
                                return rc_err_set(err, EINVAL,
                                                  "a control character (a line break?) in the "
                                                  "request header %.*s",
                                                  (int)(colon - h), h);
                r = buf_printf(out, "%s\r\n", h);
        }
        if (r >= 0 && req->body)
                r = buf_printf(out, "Content-Length: %zu\r\n", req->body_len);
        if (r >= 0)
                r = buf_append(out, "\r\n", 2);
        return r < 0 ? rc_err_set(err, ENOMEM, "out of memory") : 0;
}

int httpc_do(const httpc_request_t *req, httpc_response_t *resp, rc_err_t *err)
{
        memset(resp, 0, sizeof(*resp));
        httpc_url_t u;
        int r = httpc_url_parse(req->url, &u, err);
        if (r < 0)
                return r;
        httpc_addr_t addrs[HTTPC_ADDRS_MAX];
        int n = httpc_resolve(u.host, u.v6, u.port, req->hosts_file, addrs, HTTPC_ADDRS_MAX, err);
        if (n < 0)
                return n;
        buf_t head = {0};
        r = build_request(req, &u, &head, err);
        if (r < 0) {
                buf_free(&head);
                return r;
        }
        int fd = connect_any(
            &u, addrs, n, req->connect_timeout_ms > 0 ? req->connect_timeout_ms : HTTPC_CONNECT_MS,
            err);
        if (fd < 0) {
                buf_free(&head);
                return fd;
        }
        conn_t c = {.fd = fd,
                    .timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : HTTPC_TIMEOUT_MS,
                    .host = u.host,
                    .port = u.port};
        int s = send_all(&c, head.data, head.len);
        buf_free(&head);
        if (s == 0 && req->body && req->body_len)
                s = send_all(&c, req->body, req->body_len);
        /* A server may answer (401, 413) and close before it took the whole body: its answer is
         * still read, and the failure to send reported only when there is none. */
        rc_err_t rerr = {0};
        if (s == -ETIMEDOUT)
                c.timeout_ms = 100; /* only an answer already sent is worth reading */
        r = read_head(&c, resp, &rerr);
        size_t max = req->body_max ? req->body_max : HTTPC_BODY_MAX;
        if (max > SIZE_MAX / 2)
                max = SIZE_MAX / 2;
        if (r == 0)
                r = read_body(&c, req, resp, max, &rerr);
        close(fd);
        buf_free(&c.in);
        if (r < 0 && s < 0 && resp->status == 0) {
                char t[32];
                int ms = req->timeout_ms > 0 ? req->timeout_ms : HTTPC_TIMEOUT_MS;
                if (s == -ETIMEDOUT)
                        return rc_err_set(err, ETIMEDOUT,
                                          "%s port %d took no more of the request for %s", u.host,
                                          u.port, fmt_ms(ms, t, sizeof(t)));
                return rc_err_sys(err, -s, "sending the request to %s port %d", u.host, u.port);
        }
        if (r < 0)
                *err = rerr;
        return r;
}

void httpc_response_free(httpc_response_t *resp)
{
        if (!resp)
                return;
        free(resp->head_);
        free(resp->headers);
        free(resp->body);
        memset(resp, 0, sizeof(*resp));
}
