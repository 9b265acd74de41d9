/* The server's listening address: a host name resolved, a port tried before libwebsockets
 * binds it (so a port in use is reported in runcell's words), and whether this process really
 * listens on it afterwards. IPv4 only (the server disables IPv6). */
#ifndef RUNCELL_UTIL_NET_H
#define RUNCELL_UTIL_NET_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

/* host (an IPv4 address or a name) to a dotted IPv4 address in out; the first one getaddrinfo
 * gives. */
int net_resolve_ipv4(const char *host, char *out, size_t size, rc_err_t *err);
/* Bind a socket to ip:port (SO_REUSEADDR, as libwebsockets does) and let it go: fails with
 * "address already in use" and the like when the server could not listen there. */
int net_try_bind(const char *ip, int port, rc_err_t *err);
/* Whether one of this process's sockets is listening on ip:port (TCP). */
bool net_listening(const char *ip, int port);

#endif
