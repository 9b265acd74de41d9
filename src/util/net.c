#include "util/net.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

int net_resolve_ipv4(const char *host, char *out, size_t size, rc_err_t *err)
{
        if (!*host)
                return rc_err_set(err, EINVAL, "no host");
        if (strchr(host, ':') || host[0] == '[')
                return rc_err_set(err, EAFNOSUPPORT,
                                  "%s: IPv6 is not supported; give an IPv4 address or a host name "
                                  "with one",
                                  host);
        struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
        struct addrinfo *res = NULL;
        int r = getaddrinfo(host, NULL, &hints, &res);
        if (r != 0 || !res)
                return rc_err_set(err, ENOENT, "cannot resolve host \"%s\" to an IPv4 address: %s",
                                  host, r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
        const struct sockaddr_in *sin = (const struct sockaddr_in *)(void *)res->ai_addr;
        const char *ok = inet_ntop(AF_INET, &sin->sin_addr, out, (socklen_t)size);
        freeaddrinfo(res);
        if (!ok)
                return rc_err_set(err, ENOSPC, "%s: address too long", host);
        return 0;
}

static int sockaddr_of(const char *ip, int port, struct sockaddr_in *sa)
{
        memset(sa, 0, sizeof(*sa));
        sa->sin_family = AF_INET;
        sa->sin_port = htons((uint16_t)port);
        return inet_pton(AF_INET, ip, &sa->sin_addr) == 1 ? 0 : -1;
}

int net_try_bind(const char *ip, int port, rc_err_t *err)
{
        struct sockaddr_in sa;
        if (sockaddr_of(ip, port, &sa) < 0)
                return rc_err_set(err, EINVAL, "%s: not an IPv4 address", ip);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return rc_err_sys(err, errno, "socket");
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
        int e = errno;
        close(fd);
        if (r == 0)
                return 0;
        switch (e) {
        case EADDRINUSE:
                return rc_err_set(err, e,
                                  "cannot listen on %s:%d: address already in use (another "
                                  "program listens there; choose another port with --listen)",
                                  ip, port);
        case EADDRNOTAVAIL:
                return rc_err_set(err, e,
                                  "cannot listen on %s:%d: the address is not one of this host's",
                                  ip, port);
        case EACCES:
                return rc_err_set(err, e,
                                  "cannot listen on %s:%d: ports below 1024 need root or "
                                  "CAP_NET_BIND_SERVICE",
                                  ip, port);
        default:
                return rc_err_set(err, e, "cannot listen on %s:%d: %s", ip, port, strerror(e));
        }
}

bool net_listening(const char *ip, int port)
{
        struct sockaddr_in want;
        if (sockaddr_of(ip, port, &want) < 0)
                return false;
        DIR *d = opendir("/proc/self/fd");
        if (!d)
                return false;
        bool found = false;
        struct dirent *de;
        while (!found && (de = readdir(d))) {
                char *end;
                long fd = strtol(de->d_name, &end, 10);
                struct stat st;
                if (*end || fd < 0 || fd == dirfd(d) || fstat((int)fd, &st) < 0 ||
                    !S_ISSOCK(st.st_mode))
                        continue;
                int acc = 0;
                socklen_t l = sizeof(acc);
                struct sockaddr_in sa;
                socklen_t sl = sizeof(sa);
                if (getsockopt((int)fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &l) < 0 || !acc ||
                    getsockname((int)fd, (struct sockaddr *)&sa, &sl) < 0 ||
                    sa.sin_family != AF_INET)
                        continue;
                found =
                    sa.sin_port == want.sin_port && (sa.sin_addr.s_addr == want.sin_addr.s_addr ||
                                                     sa.sin_addr.s_addr == htonl(INADDR_ANY));
        }
        closedir(d);
        return found;
}
