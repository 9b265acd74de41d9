/* getaddrinfo() as ordinary C programs use it: localhost and the sandbox's own host name come
 * from /etc/hosts (nsswitch "hosts: files dns"). Each line: LABEL: sorted unique addresses, or
 * the error's name. */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int cmp(const void *a, const void *b)
{
        return strcmp(a, b);
}

static void show(const char *label, const char *host, int family, int flags)
{
        struct addrinfo hints, *res = NULL;
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = family;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = flags;
        int r = getaddrinfo(host, "80", &hints, &res);
        if (r != 0) {
                printf("%s: %s\n", label,
                       r == EAI_NONAME  ? "EAI_NONAME"
                       : r == EAI_AGAIN ? "EAI_AGAIN"
                                        : "error");
                return;
        }
        char out[16][INET6_ADDRSTRLEN];
        int n = 0;
        for (struct addrinfo *p = res; p && n < 16; p = p->ai_next) {
                char buf[INET6_ADDRSTRLEN];
                const void *a = p->ai_family == AF_INET
                                    ? (const void *)&((struct sockaddr_in *)p->ai_addr)->sin_addr
                                    : (const void *)&((struct sockaddr_in6 *)p->ai_addr)->sin6_addr;
                inet_ntop(p->ai_family, a, buf, sizeof(buf));
                int seen = 0;
                for (int i = 0; i < n; i++)
                        seen |= strcmp(out[i], buf) == 0;
                if (!seen)
                        strcpy(out[n++], buf);
        }
        freeaddrinfo(res);
        qsort(out, (size_t)n, sizeof(out[0]), cmp);
        printf("%s:", label);
        for (int i = 0; i < n; i++)
                printf(" %s", out[i]);
        printf("\n");
}

int main(void)
{
        char name[256];
        if (gethostname(name, sizeof(name)) != 0)
                return 1;
        printf("hostname: %s\n", name);
        show("localhost", "localhost", AF_UNSPEC, 0);
        show("localhost inet", "localhost", AF_INET, 0);
        show("localhost inet6", "localhost", AF_INET6, 0);
        /* AI_ADDRCONFIG asks route netlink which addresses exist; loopback ones do not
         * count (glibc), so with only lo: no narrowing for AF_UNSPEC, nothing for AF_INET. */
        show("localhost addrconfig", "localhost", AF_UNSPEC, AI_ADDRCONFIG);
        show("localhost inet addrconfig", "localhost", AF_INET, AI_ADDRCONFIG);
        show("hostname inet", name, AF_INET, 0);
        show("numeric", "127.0.0.1", AF_UNSPEC, AI_NUMERICHOST);
        struct hostent *h = gethostbyname("localhost");
        if (h && h->h_addrtype == AF_INET && h->h_addr_list[0]) {
                char buf[INET_ADDRSTRLEN];
                inet_ntop(AF_INET, h->h_addr_list[0], buf, sizeof(buf));
                printf("gethostbyname: %s %s\n", h->h_name, buf);
        } else {
                printf("gethostbyname: failed\n");
        }
        return 0;
}
