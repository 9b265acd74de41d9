/* A small blocking HTTP/1.1 client over TCP, for the command line's `runcell fn` (a client of a
 * running server's API, docs/protocol.md "Functions").
 *
 * http://HOST[:PORT][/PATH][?QUERY] only: no TLS, no proxy, no redirects followed, no
 * authentication of its own (a caller adds "Authorization: ..." as a header). One request per
 * connection (Connection: close); the request body goes with Content-Length; the answer's body
 * is delimited by Content-Length, by the chunked transfer coding, or by the end of the
 * connection, and kept whole in memory (up to body_max bytes). Every wait is bounded: the
 * connect by connect_timeout_ms, every later wait for the server (to take more of the request,
 * to send more of the answer) by timeout_ms. Each failure is an rc_err_t whose message says what
 * went wrong ("cannot connect to 127.0.0.1 port 8080: Connection refused", "the server closed
 * the connection after 10 of 50 body bytes", ...).
 *
 * Host names are resolved without NSS: the static runcell cannot load glibc's NSS modules (and
 * getaddrinfo in a static binary makes the linker warn about just that). Accepted: a numeric
 * IPv4 address, a numeric IPv6 address in brackets ("http://[::1]:8080"), a name listed in
 * /etc/hosts, and "localhost" (RFC 6761: 127.0.0.1, then ::1) when /etc/hosts has no line for
 * it. Not supported: DNS, mDNS and every other NSS source (LDAP, systemd-resolved's own names),
 * and IPv6 zone ids ("fe80::1%eth0"): give the server's address, or list its name in
 * /etc/hosts. */
#ifndef RUNCELL_UTIL_HTTPC_H
#define RUNCELL_UTIL_HTTPC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "util/err.h"

#define HTTPC_HOST_MAX     256
#define HTTPC_TARGET_MAX   4096
#define HTTPC_HEAD_MAX     (64u << 10) /* the answer's status line and headers together */
#define HTTPC_BODY_MAX     (1u << 30)  /* the default body_max */
#define HTTPC_ADDRS_MAX    8           /* addresses tried for one host */
#define HTTPC_TIMEOUT_MS   30000       /* the default timeout_ms */
#define HTTPC_CONNECT_MS   10000       /* the default connect_timeout_ms */
#define HTTPC_HOSTS_FILE   "/etc/hosts"
#define HTTPC_DEFAULT_PORT 80

typedef struct httpc_url {
        char host[HTTPC_HOST_MAX];     /* without the brackets of an IPv6 literal */
        int port;                      /* HTTPC_DEFAULT_PORT when the URL names none */
        bool has_port;                 /* the URL named the port (the Host header then does too) */
        bool v6;                       /* an IPv6 literal: [host] in the Host header */
        char target[HTTPC_TARGET_MAX]; /* the request target: "/PATH?QUERY", "/" when none */
} httpc_url_t;

typedef struct httpc_addr {
        struct sockaddr_storage sa;
        socklen_t len;
} httpc_addr_t;

typedef struct httpc_request {
        const char *method; /* "GET", "PUT", ...; HEAD answers have no body */
        const char *url;    /* http://HOST[:PORT][/PATH][?QUERY]; '#' and what follows ignored */
        /* more request headers, "Name: value" each, NULL-terminated (NULL: none); not Host,
         * Content-Length, Transfer-Encoding or Connection, which the client writes itself */
        const char *const *headers;
        const void *body; /* sent with Content-Length when not NULL (also when empty) */
        size_t body_len;
        int connect_timeout_ms; /* 0: HTTPC_CONNECT_MS */
        int timeout_ms;  /* the longest wait for the server after that; 0: HTTPC_TIMEOUT_MS */
        size_t body_max; /* the longest answer body kept; 0: HTTPC_BODY_MAX */
        const char *hosts_file; /* NULL: HTTPC_HOSTS_FILE (a test's own file) */
} httpc_request_t;

typedef struct httpc_header {
        const char *name;  /* as the server wrote it */
        const char *value; /* without the white space around it */
} httpc_header_t;

typedef struct httpc_response {
        int status;         /* 100 to 999 */
        int minor;          /* HTTP/1.minor */
        const char *reason; /* the status line's reason phrase (may be "") */
        httpc_header_t *headers;
        size_t nheaders;
        char *body; /* NUL-terminated (the NUL not counted), may hold NUL bytes; never NULL */
        size_t body_len;
        char *head_; /* private: the header block the pointers above point into */
} httpc_response_t;

/* Split an http:// URL; -EINVAL with what is wrong with it. */
int httpc_url_parse(const char *url, httpc_url_t *u, rc_err_t *err);
/* host's addresses (see above), IPv4 ones first (runcell's server listens on IPv4), each with
 * the port: how many (1 to max), or -ENOENT saying the name is not known. hosts_file NULL:
 * HTTPC_HOSTS_FILE; v6: host is an IPv6 literal (from brackets). */
int httpc_resolve(const char *host, bool v6, int port, const char *hosts_file, httpc_addr_t *out,
                  size_t max, rc_err_t *err);
/* Send one request and read its whole answer into *resp (free it with httpc_response_free, also
 * after a failure). 0 whatever the answer's status, or -errno with the reason in err. */
int httpc_do(const httpc_request_t *req, httpc_response_t *resp, rc_err_t *err);
/* The value of the answer's first header called name (case-insensitive), or NULL. */
const char *httpc_header(const httpc_response_t *resp, const char *name);
void httpc_response_free(httpc_response_t *resp);

#endif
