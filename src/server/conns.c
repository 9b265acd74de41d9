/* Client connections: how many at once (in total and per client address), the descriptors
 * kept in reserve so that /healthz, /metrics and runs going keep working at the cap, and who
 * the client is behind a trusted reverse proxy (X-Forwarded-For, believed only from the
 * configured hops).
 *
 * A connection is counted from its accept (FILTER_NETWORK_CONNECTION decides, the adoption
 * charges it: SERVER_NEW_CLIENT_INSTANTIATED) until lws frees it (WSI_DESTROY). Over the cap,
 * up to CONNS_RESERVE more connections are accepted for /healthz and /metrics only; beyond
 * that a connection is answered 503 at once and closed, so accept() never meets EMFILE (which
 * left the connection queued and the loop spinning). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/log.h"
#include "server/server-internal.h"
#include "util/ratelimit.h"

#define ADDR_BUCKETS 1024

typedef struct addr_count {
        struct addr_count *next;
        int n;
        char key[INET6_ADDRSTRLEN];
} addr_count_t;

struct conn_acct {
        addr_count_t *addr; /* the client it is charged to */
        bool reserve;       /* over the cap: /healthz and /metrics only */
        bool proxied;       /* the peer is a trusted proxy */
        uint32_t peer;      /* the peer's IPv4 address, network order */
};

static unsigned addr_hash(const char *s)
{
        unsigned h = 2166136261u;
        for (; *s; s++)
                h = (h ^ (unsigned char)*s) * 16777619u;
        return h % ADDR_BUCKETS;
}

static addr_count_t *addr_get(server_t *srv, const char *key, bool create)
{
        unsigned b = addr_hash(key);
        for (addr_count_t *a = srv->addrs[b]; a; a = a->next)
                if (strcmp(a->key, key) == 0)
                        return a;
        if (!create)
                return NULL;
        addr_count_t *a = calloc(1, sizeof(*a));
        if (!a)
                return NULL;
        snprintf(a->key, sizeof(a->key), "%s", key);
        a->next = srv->addrs[b];
        srv->addrs[b] = a;
        return a;
}

static void addr_put(server_t *srv, addr_count_t *a)
{
        if (!a || --a->n > 0)
                return;
        for (addr_count_t **pp = &srv->addrs[addr_hash(a->key)]; *pp; pp = &(*pp)->next)
                if (*pp == a) {
                        *pp = a->next;
                        free(a);
                        return;
                }
}

static int addr_count(server_t *srv, const char *key)
{
        addr_count_t *a = addr_get(srv, key, false);
        return a ? a->n : 0;
}

/* "a.b.c.d" or "a.b.c.d/n" */
static int parse_net(const char *s, uint32_t *net, uint32_t *mask)
{
        char ip[INET_ADDRSTRLEN];
        const char *slash = strchr(s, '/');
        size_t len = slash ? (size_t)(slash - s) : strlen(s);
        if (len == 0 || len >= sizeof(ip))
                return -1;
        memcpy(ip, s, len);
        ip[len] = 0;
        struct in_addr a;
        if (inet_pton(AF_INET, ip, &a) != 1)
                return -1;
        int bits = 32;
        if (slash) {
                char *end;
                long b = strtol(slash + 1, &end, 10);
                if (!slash[1] || *end || b < 0 || b > 32)
                        return -1;
                bits = (int)b;
        }
        *mask = bits ? htonl(0xffffffffu << (32 - bits)) : 0;
        *net = a.s_addr & *mask;
        return 0;
}

bool server_proxy_valid(const char *s)
{
        uint32_t n, m;
        return parse_net(s, &n, &m) == 0;
}

static bool trusted(const server_opts_t *o, uint32_t addr)
{
        for (size_t i = 0; i < o->trusted_proxies.n; i++) {
                uint32_t net, mask;
                if (parse_net(o->trusted_proxies.v[i], &net, &mask) == 0 && (addr & mask) == net)
                        return true;
        }
        return false;
}

static bool trusted_str(const server_opts_t *o, const char *s)
{
        struct in_addr a;
        return inet_pton(AF_INET, s, &a) == 1 && trusted(o, a.s_addr);
}

void conns_init(server_t *srv)
{
        struct rlimit rl;
        long nofile = 1024;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
                if (rl.rlim_cur < rl.rlim_max) { /* take what the hard limit allows */
                        rlim_t want = rl.rlim_max == RLIM_INFINITY ? 1 << 20 : rl.rlim_max;
                        struct rlimit nr = {want, rl.rlim_max};
                        if (setrlimit(RLIMIT_NOFILE, &nr) == 0)
                                rl.rlim_cur = want;
                }
                nofile = rl.rlim_cur == RLIM_INFINITY ? 1 << 20 : (long)rl.rlim_cur;
        }
        srv->nofile = (int)(nofile > (1 << 20) ? 1 << 20 : nofile);
        conns_limits(srv, true);
}

/* The caps from the options (at start, and again when a reload changed them); fresh_rl: the
 * public runs-a-minute table is made anew (its buckets start full). */
void conns_limits(server_t *srv, bool fresh_rl)
{
        const server_opts_t *o = srv->opts;
        /* What is kept back from client connections: per run slot its pipes, pidfd and
         * sandbox sockets, the pool's and queue's own, lws' and runcell's files, and the
         * reserve connections for /healthz and /metrics. */
        int kept = CONNS_FDS_FIXED + CONNS_FDS_PER_RUN * srv->max_concurrent + CONNS_RESERVE;
        int derived = srv->nofile - kept;
        if (derived < 1)
                derived = 1;
        srv->conns_max = o->max_conns > 0 ? o->max_conns : derived;
        srv->conns_per_client = o->max_conns_per_client > 0 ? o->max_conns_per_client
                                : srv->conns_max / 8 > 16   ? srv->conns_max / 8
                                                            : 16;
        if (fresh_rl) {
                rl_free(srv->rl);
                srv->rl = o->public_on && o->public_rpm > 0 ? rl_new(o->public_rpm) : NULL;
                /* NULL (no memory): no such limit */
        }
        if (srv->conns_per_client > srv->conns_max)
                srv->conns_per_client = srv->conns_max;
        if (srv->conns_max + kept > srv->nofile)
                slog_msg(SLOG_WARN, "max_connections",
                         "max_connections %d leaves %d of %d file descriptors for runs and the "
                         "reserve (%d wanted)",
                         srv->conns_max, srv->nofile - srv->conns_max, srv->nofile, kept);
}

void conns_free(server_t *srv)
{
        for (int i = 0; i < ADDR_BUCKETS; i++)
                while (srv->addrs[i]) {
                        addr_count_t *a = srv->addrs[i];
                        srv->addrs[i] = a->next;
                        free(a);
                }
        free(srv->pending);
        srv->pending = NULL;
        rl_free(srv->rl);
        srv->rl = NULL;
}

/* A plain answer on a socket that lws never saw, then it is closed. */
static void refuse_raw(int fd)
{
        static const char body[] = "{\"error\":{\"code\":\"too_many_connections\",\"message\":"
                                   "\"the server has no room for another connection\"}}\n";
        char resp[512];
        int n = snprintf(resp, sizeof(resp),
                         "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
                         "x-content-type-options: nosniff\r\n"
                         "content-length: %zu\r\nretry-after: 1\r\nconnection: close\r\n\r\n%s",
                         sizeof(body) - 1, body);
        ssize_t w = send(fd, resp, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)w;
        /* what the client sent already is read, so that close() sends FIN, not RST, and the
         * answer is not lost */
        char sink[4096];
        while (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
                ;
        shutdown(fd, SHUT_WR);
}

int conns_filter(server_t *srv, const struct lws_filter_network_conn_args *f)
{
        free(srv->pending);
        srv->pending = NULL;
        uint32_t peer = 0;
        char key[INET6_ADDRSTRLEN] = "?";
        if (f->cli_addr.ss_family == AF_INET) {
                const struct sockaddr_in *sin = (const struct sockaddr_in *)&f->cli_addr;
                peer = sin->sin_addr.s_addr;
                inet_ntop(AF_INET, &sin->sin_addr, key, sizeof(key));
        }
        bool proxied = trusted(srv->opts, peer);
        bool reserve = srv->conns >= srv->conns_max;
        /* a trusted proxy carries many clients: they are counted once its requests name them */
        bool over_client = !proxied && addr_count(srv, key) >= srv->conns_per_client;
        if (over_client || (reserve && srv->conns_reserve >= CONNS_RESERVE)) {
                srv->conns_refused++;
                refuse_raw(f->accept_fd);
                return 1;
        }
        conn_acct_t *a = calloc(1, sizeof(*a));
        if (!a || (!proxied && !(a->addr = addr_get(srv, key, true)))) {
                free(a);
                refuse_raw(f->accept_fd);
                return 1;
        }
        a->reserve = reserve;
        a->proxied = proxied;
        a->peer = peer;
        srv->pending = a;
        return 0;
}

void conns_adopted(server_t *srv, struct lws *wsi)
{
        conn_acct_t *a = srv->pending;
        srv->pending = NULL;
        if (!a)
                return;
        if (a->addr)
                a->addr->n++;
        if (a->reserve)
                srv->conns_reserve++;
        else
                srv->conns++;
        lws_set_opaque_user_data(wsi, a);
}

void conns_destroyed(server_t *srv, struct lws *wsi)
{
        conn_acct_t *a = lws_get_opaque_user_data(wsi);
        if (!a)
                return;
        lws_set_opaque_user_data(wsi, NULL);
        addr_put(srv, a->addr);
        if (a->reserve)
                srv->conns_reserve--;
        else
                srv->conns--;
        free(a);
}

/* The client of this request: the peer, or behind trusted proxies the last hop of
 * X-Forwarded-For that is not one of them. */
static void client_of(server_t *srv, struct lws *wsi, const conn_acct_t *a, char *out, size_t outsz)
{
        struct in_addr pa = {.s_addr = a->peer};
        inet_ntop(AF_INET, &pa, out, (socklen_t)outsz);
        if (!a->proxied)
                return;
        int len = lws_hdr_total_length(wsi, WSI_TOKEN_X_FORWARDED_FOR);
        if (len <= 0)
                return;
        char *xff = malloc((size_t)len + 1);
        if (!xff)
                return;
        if (lws_hdr_copy(wsi, xff, len + 1, WSI_TOKEN_X_FORWARDED_FOR) > 0) {
                char *end = xff + strlen(xff);
                for (;;) { /* right to left */
                        char *p = end;
                        while (p > xff && p[-1] != ',')
                                p--;
                        char *s = p, *e = end;
                        while (s < e && (*s == ' ' || *s == '\t'))
                                s++;
                        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
                                e--;
                        *e = 0;
                        unsigned char tmp[16];
                        bool ip =
                            inet_pton(AF_INET, s, tmp) == 1 || inet_pton(AF_INET6, s, tmp) == 1;
                        if (!ip) /* not an address: the hop that sent it is the client */
                                break;
                        snprintf(out, outsz, "%s", s);
                        if (!trusted_str(srv->opts, s) || p == xff)
                                break;
                        end = p - 1;
                }
        }
        free(xff);
}

void conns_client(server_t *srv, struct lws *wsi, char *out, size_t outsz)
{
        conn_acct_t *a = lws_get_opaque_user_data(wsi);
        if (!a) /* an HTTP/2 stream: its connection was counted */
                a = lws_get_opaque_user_data(lws_get_network_wsi(wsi));
        if (!a) {
                snprintf(out, outsz, "?");
                return;
        }
        client_of(srv, wsi, a, out, outsz);
}

int conns_request(server_t *srv, struct lws *wsi, const char *path, bool ws, const char **code,
                  bool *close)
{
        *close = false;
        conn_acct_t *a = lws_get_opaque_user_data(wsi);
        if (!a) /* an HTTP/2 stream: its connection was counted */
                a = lws_get_opaque_user_data(lws_get_network_wsi(wsi));
        if (!a)
                return 0;
        *code = "too_many_connections";
        *close = a->reserve;
        if (a->reserve && (ws || (strcmp(path, "/healthz") != 0 && strcmp(path, "/metrics") != 0)))
                return 503;
        if (!a->proxied)
                return 0;
        char key[INET6_ADDRSTRLEN];
        client_of(srv, wsi, a, key, sizeof(key));
        if (a->addr && strcmp(a->addr->key, key) == 0)
                return 0;
        /* the connection is counted for the client of its latest request */
        addr_put(srv, a->addr);
        a->addr = NULL;
        if (addr_count(srv, key) >= srv->conns_per_client)
                return 503;
        if ((a->addr = addr_get(srv, key, true)))
                a->addr->n++;
        return 0;
}
