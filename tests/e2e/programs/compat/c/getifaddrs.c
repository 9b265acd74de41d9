/* The interfaces a program sees: getifaddrs() and if_nameindex() (both route netlink). Lines
 * are sorted; the last says whether /proc/net/if_inet6 lists ::1, for the test to compare. */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static int cmp(const void *a, const void *b)
{
        return strcmp(a, b);
}

int main(void)
{
        struct ifaddrs *ifa = NULL;
        if (getifaddrs(&ifa) != 0) {
                perror("getifaddrs");
                return 1;
        }
        static char lines[64][160];
        int n = 0;
        for (struct ifaddrs *p = ifa; p && n < 64; p = p->ifa_next) {
                char addr[INET6_ADDRSTRLEN] = "-", mask[INET6_ADDRSTRLEN] = "-";
                const char *fam = "none";
                if (p->ifa_addr) {
                        int f = p->ifa_addr->sa_family;
                        if (f == AF_INET) {
                                fam = "inet";
                                inet_ntop(f, &((struct sockaddr_in *)p->ifa_addr)->sin_addr, addr,
                                          sizeof(addr));
                                inet_ntop(f, &((struct sockaddr_in *)p->ifa_netmask)->sin_addr,
                                          mask, sizeof(mask));
                        } else if (f == AF_INET6) {
                                fam = "inet6";
                                inet_ntop(f, &((struct sockaddr_in6 *)p->ifa_addr)->sin6_addr, addr,
                                          sizeof(addr));
                                inet_ntop(f, &((struct sockaddr_in6 *)p->ifa_netmask)->sin6_addr,
                                          mask, sizeof(mask));
                        } else if (f == AF_PACKET) {
                                fam = "packet";
                        }
                }
                snprintf(lines[n++], sizeof(lines[0]), "%s %s %s %s%s%s", p->ifa_name, fam, addr,
                         mask, (p->ifa_flags & IFF_UP) ? " up" : "",
                         (p->ifa_flags & IFF_LOOPBACK) ? " loopback" : "");
        }
        freeifaddrs(ifa);
        qsort(lines, (size_t)n, sizeof(lines[0]), cmp);
        for (int i = 0; i < n; i++)
                printf("%s\n", lines[i]);

        struct if_nameindex *ni = if_nameindex();
        if (!ni) {
                perror("if_nameindex");
                return 1;
        }
        for (struct if_nameindex *p = ni; p->if_index; p++)
                printf("index %u %s\n", p->if_index, p->if_name);
        if_freenameindex(ni);
        printf("nametoindex lo %u\n", if_nametoindex("lo"));

        FILE *f = fopen("/proc/net/if_inet6", "r");
        int v6 = 0;
        char buf[256];
        while (f && fgets(buf, sizeof(buf), f))
                v6 |= strncmp(buf, "00000000000000000000000000000001", 32) == 0;
        if (f)
                fclose(f);
        printf("proc ::1 %s\n", v6 ? "yes" : "no");
        return 0;
}
