/* try-syscall: a probe copied into sandboxes by the security tests.
 *
 *   try-syscall VERB [ARG]
 *
 * attempts one thing and prints "VERB: ok" or "VERB: errno=N (ENAME)" (some verbs add
 * detail after that) and exits 0 — or dies by a signal, which is what the test looks for
 * with x32, int80, memhog, forkbomb, spin and diskfill under limits (int80 first prints
 * what a SIGSEGV's siginfo says, to tell the kernel's refusal from a crash). Build it static:
 *
 *   gcc -static -O2 -o try-syscall tests/security/try-syscall.c
 *
 * Arguments are chosen so that a call that is let through either does its real job inside
 * the sandbox or fails with an errno other than EPERM; run outside a sandbox only with care
 * (tiocsti writes to the terminal on fd 0, kill-all kills every process it may signal). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/fib_rules.h>
#include <linux/if.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/perf_event.h>
#include <linux/reboot.h>
#include <linux/rtnetlink.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

static const char *verb = "try-syscall";

/* Unbuffered output, so that nothing is lost when a limit kills the probe. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
        char buf[512];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        if ((size_t)n >= sizeof(buf))
                n = sizeof(buf) - 1;
        for (const char *p = buf; n > 0;) {
                ssize_t w = write(STDOUT_FILENO, p, (size_t)n);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return;
                p += w;
                n -= (int)w;
        }
}

static const char *errname(int e)
{
        const char *s = strerrorname_np(e);
        return s ? s : "?";
}

/* Report the outcome of "r = call(); e = errno" and exit 0. */
static int report(long r, int e)
{
        if (r < 0)
                say("%s: errno=%d (%s)\n", verb, e, errname(e));
        else
                say("%s: ok\n", verb);
        return 0;
}

static int report_call(long r)
{
        return report(r, errno);
}

/* Like report() for a count of things achieved before the failure. */
static int report_after(long r, int e, unsigned long count, const char *unit)
{
        if (r < 0)
                say("%s: errno=%d (%s) after %lu %s\n", verb, e, errname(e), count, unit);
        else
                say("%s: ok\n", verb);
        return 0;
}

static long need_num(const char *arg)
{
        char *end = NULL;
        errno = 0;
        long v = arg ? strtol(arg, &end, 10) : -1;
        if (!arg || errno || end == arg || *end || v < 0) {
                fprintf(stderr, "try-syscall %s: needs a non-negative number argument\n", verb);
                exit(2);
        }
        return v;
}

/* A child made by a clone-like call leaves at once; the parent reaps it. */
static int report_clone(long r)
{
        int e = errno;
        if (r == 0)
                _exit(0);
        if (r > 0)
                waitpid((pid_t)r, NULL, __WALL);
        return report(r, e);
}

static int do_setns(void)
{
        /* Re-entering one's own user namespace fails with EINVAL if setns is allowed. */
        int fd = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
        long r = syscall(SYS_setns, fd, 0);
        return report_call(r);
}

static int do_mount(void)
{
        const char *dir = "try-syscall-mnt";
        mkdir(dir, 0700);
        long r = mount("none", dir, "tmpfs", 0, "size=1m");
        int e = errno;
        if (r == 0)
                umount2(dir, MNT_DETACH);
        rmdir(dir);
        return report(r, e);
}

static int do_clone3(void)
{
        struct clone_args args;
        memset(&args, 0, sizeof(args));
        args.exit_signal = SIGCHLD;
        return report_clone(syscall(SYS_clone3, &args, sizeof(args)));
}

static int do_ptrace_attach(const char *arg)
{
        pid_t pid = (pid_t)need_num(arg);
        long r = ptrace(PTRACE_ATTACH, pid, NULL, NULL);
        int e = errno;
        if (r == 0) {
                waitpid(pid, NULL, __WALL);
                ptrace(PTRACE_DETACH, pid, NULL, NULL);
        }
        return report(r, e);
}

static int do_bpf(void)
{
        union bpf_attr attr;
        memset(&attr, 0, sizeof(attr));
        attr.map_type = BPF_MAP_TYPE_ARRAY;
        attr.key_size = 4;
        attr.value_size = 4;
        attr.max_entries = 1;
        return report_call(syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr)));
}

static int do_perf_event_open(void)
{
        struct perf_event_attr attr;
        memset(&attr, 0, sizeof(attr));
        attr.type = PERF_TYPE_SOFTWARE;
        attr.size = sizeof(attr);
        attr.config = PERF_COUNT_SW_CPU_CLOCK;
        attr.exclude_kernel = 1;
        attr.exclude_hv = 1;
        return report_call(syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));
}

static int do_io_uring_setup(void)
{
        struct io_uring_params p;
        memset(&p, 0, sizeof(p));
        return report_call(syscall(SYS_io_uring_setup, 8, &p));
}

static int do_process_vm_readv(void)
{
        char src[8] = "secret", dst[8] = "";
        struct iovec local = {dst, sizeof(dst)}, remote = {src, sizeof(src)};
        return report_call(syscall(SYS_process_vm_readv, getpid(), &local, 1, &remote, 1, 0));
}

static int do_init_module(void)
{
        static const char image[64];
        return report_call(syscall(SYS_init_module, image, sizeof(image), ""));
}

#if defined(__x86_64__)
/* getpid through the i386 entry (number 20), in assembly so that the address of the int
 * instruction is known (int $0x80 zeroes r8-r11, which a call may clobber anyway). */
__asm__(".pushsection .text\n"
        ".globl int80_getpid\n.hidden int80_getpid\n.type int80_getpid, @function\n"
        "int80_getpid:\n"
        "\tendbr64\n"
        "\tmovl $20, %eax\n"
        ".globl int80_insn\n.hidden int80_insn\n"
        "int80_insn:\n"
        "\tint $0x80\n"
        "\tret\n"
        ".size int80_getpid, .-int80_getpid\n"
        ".popsection\n");
long int80_getpid(void);
extern const unsigned char int80_insn[];

/* A kernel without IA32 emulation refuses int $0x80 with a #GP: SIGSEGV, si_code SI_KERNEL
 * (128), si_addr 0, trap 13, error code 0x402 (IDT vector 0x80; 0 with FRED), at the int
 * instruction. Print what the signal says, then die of it: the handler is reset on entry,
 * and on return the instruction faults again. */
static void int80_segv(int sig, siginfo_t *si, void *ucv)
{
        const ucontext_t *uc = ucv;
        uintptr_t ip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
        int at = ip == (uintptr_t)int80_insn;
        say("%s: SIGSEGV si_code=%d si_addr=%#lx trap=%lld err=%#llx at_int80=%d insn=%02x%02x\n",
            verb, si->si_code, (unsigned long)(uintptr_t)si->si_addr,
            (long long)uc->uc_mcontext.gregs[REG_TRAPNO],
            (unsigned long long)uc->uc_mcontext.gregs[REG_ERR], at, at ? int80_insn[0] : 0,
            at ? int80_insn[1] : 0);
        if (si->si_code <= 0) /* sent by a process: nothing to re-execute */
                raise(sig);
}

/* "int80: ok" when getpid through int $0x80 returned the pid; see above for a SIGSEGV. */
static int do_int80(void)
{
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_sigaction = int80_segv;
        sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGSEGV, &sa, NULL);
        long r = int80_getpid();
        signal(SIGSEGV, SIG_DFL);
        if (r < 0 && r > -4096)
                return report(-1, (int)-r);
        if (r != getpid()) {
                say("%s: returned %ld, not the pid %ld\n", verb, r, (long)getpid());
                return 0;
        }
        return report(0, 0);
}
#endif

static int do_memhog(const char *arg)
{
        long mb = need_num(arg);
        const size_t chunk = 1 << 20;
        long done = 0;
        for (; done < mb; done++) {
                char *p = malloc(chunk);
                if (!p)
                        return report_after(-1, ENOMEM, (unsigned long)done, "MB");
                /* touch every page so the memory is really charged */
                for (size_t i = 0; i < chunk; i += 4096)
                        p[i] = (char)i;
                if ((done + 1) % 64 == 0)
                        say("%s: %ld MB\n", verb, done + 1);
        }
        return report(0, 0);
}

/* Every process forks forever; the first one reports its first failure (the pids limit). */
static __attribute__((noreturn)) void do_forkbomb(void)
{
        pid_t self = getpid();
        bool told = false;
        for (;;) {
                pid_t pid = fork();
                if (pid < 0 && !told && getpid() == self) {
                        told = true;
                        say("%s: errno=%d (%s)\n", verb, errno, errname(errno));
                }
        }
}

static void *idle_thread(void *arg)
{
        for (;;)
                pause();
        return arg;
}

static int do_threadbomb(void)
{
        unsigned long n = 0;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 64 * 1024);
        for (;;) {
                pthread_t t;
                int r = pthread_create(&t, &attr, idle_thread, NULL);
                if (r != 0)
                        return report_after(-1, r, n, "threads");
                n++;
        }
}

static int do_fdbomb(void)
{
        unsigned long n = 0;
        for (;;) {
                int fd = open("/dev/null", O_RDONLY);
                if (fd < 0)
                        fd = dup(STDOUT_FILENO);
                if (fd < 0)
                        return report_after(-1, errno, n, "fds");
                n++;
        }
}

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int do_spin(const char *arg)
{
        long secs = need_num(arg);
        double end = now() + (double)secs;
        volatile unsigned long x = 0;
        while (now() < end)
                for (int i = 0; i < 100000; i++)
                        x = x + 1;
        return report(0, 0);
}

static int do_sleep(const char *arg)
{
        struct timespec ts = {need_num(arg), 0};
        while (nanosleep(&ts, &ts) < 0)
                if (errno != EINTR)
                        return report_call(-1);
        return report(0, 0);
}

static int do_print(const char *arg)
{
        long left = need_num(arg);
        char buf[65536];
        memset(buf, 'x', sizeof(buf));
        while (left > 0) {
                size_t n = left < (long)sizeof(buf) ? (size_t)left : sizeof(buf);
                ssize_t w = write(STDOUT_FILENO, buf, n);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0) {
                        fprintf(stderr, "%s: errno=%d (%s)\n", verb, errno, errname(errno));
                        return 0;
                }
                left -= w;
        }
        return 0;
}

static int do_inodes(const char *arg)
{
        long n = need_num(arg);
        for (long i = 0; i < n; i++) {
                char name[64];
                snprintf(name, sizeof(name), "inode-%ld", i);
                int fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
                if (fd < 0)
                        return report_after(-1, errno, (unsigned long)i, "files");
                close(fd);
        }
        return report(0, 0);
}

static int do_diskfill(const char *arg)
{
        long mb = need_num(arg);
        /* Report RLIMIT_FSIZE as EFBIG instead of dying by SIGXFSZ. */
        signal(SIGXFSZ, SIG_IGN);
        int fd = open("diskfill.bin", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return report_call(-1);
        static char buf[1 << 20];
        memset(buf, 'x', sizeof(buf));
        for (long i = 0; i < mb; i++) {
                for (size_t off = 0; off < sizeof(buf);) {
                        ssize_t w = write(fd, buf + off, sizeof(buf) - off);
                        if (w < 0 && errno == EINTR)
                                continue;
                        if (w <= 0)
                                return report_after(-1, w < 0 ? errno : ENOSPC, (unsigned long)i,
                                                    "MB");
                        off += (size_t)w;
                }
        }
        if (fsync(fd) < 0)
                return report_after(-1, errno, (unsigned long)mb, "MB");
        close(fd);
        return report(0, 0);
}

/* ---- netlink ---- */

static const struct {
        const char *verb;
        int protocol;
} netlink_protos[] = {
    {"netlink-route", NETLINK_ROUTE},         {"netlink-usersock", NETLINK_USERSOCK},
    {"netlink-sock-diag", NETLINK_SOCK_DIAG}, {"netlink-xfrm", NETLINK_XFRM},
    {"netlink-audit", NETLINK_AUDIT},         {"netlink-connector", NETLINK_CONNECTOR},
    {"netlink-netfilter", NETLINK_NETFILTER}, {"netlink-uevent", NETLINK_KOBJECT_UEVENT},
    {"netlink-generic", NETLINK_GENERIC},     {"netlink-rdma", NETLINK_RDMA},
    {"netlink-crypto", NETLINK_CRYPTO},
};

/* A route netlink request under construction. */
typedef struct nlreq {
        struct nlmsghdr h;
        char body[1024];
} nlreq_t;

static void *nl_put(nlreq_t *r, const void *data, size_t len)
{
        char *p = (char *)&r->h + NLMSG_ALIGN(r->h.nlmsg_len);
        if (data)
                memcpy(p, data, len);
        else
                memset(p, 0, len);
        r->h.nlmsg_len = NLMSG_ALIGN(r->h.nlmsg_len) + (unsigned)len;
        return p;
}

static struct rtattr *nl_attr(nlreq_t *r, unsigned short type, const void *data, size_t len)
{
        struct rtattr *a = (struct rtattr *)((char *)&r->h + NLMSG_ALIGN(r->h.nlmsg_len));
        a->rta_type = type;
        a->rta_len = (unsigned short)RTA_LENGTH(len);
        if (len)
                memcpy(RTA_DATA(a), data, len);
        r->h.nlmsg_len = NLMSG_ALIGN(r->h.nlmsg_len) + RTA_ALIGN(a->rta_len);
        return a;
}

static void nl_nest_end(nlreq_t *r, struct rtattr *nest)
{
        nest->rta_len = (unsigned short)((char *)&r->h + r->h.nlmsg_len - (char *)nest);
}

static void nl_start(nlreq_t *r, unsigned short type, unsigned short flags)
{
        memset(r, 0, sizeof(*r));
        r->h.nlmsg_len = NLMSG_HDRLEN;
        r->h.nlmsg_type = type;
        r->h.nlmsg_flags = (unsigned short)(NLM_F_REQUEST | flags);
}

typedef void (*nl_each_fn)(const struct nlmsghdr *m);

/* Send the request on a new NETLINK_ROUTE socket; hand every answer to each() until the
 * dump's end or the ack. Returns 0, or -errno (the socket call's, or the kernel's answer). */
static int nl_talk(nlreq_t *r, nl_each_fn each)
{
        int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (fd < 0)
                return -errno;
        r->h.nlmsg_seq = 1;
        struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
        if (sendto(fd, &r->h, r->h.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                int e = errno;
                close(fd);
                return -e;
        }
        static char buf[65536] __attribute__((aligned(8)));
        for (;;) {
                ssize_t n = recv(fd, buf, sizeof(buf), 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        int e = n < 0 ? errno : EIO;
                        close(fd);
                        return -e;
                }
                int len = (int)n;
                for (struct nlmsghdr *m = (struct nlmsghdr *)buf; NLMSG_OK(m, len);
                     m = NLMSG_NEXT(m, len)) {
                        if (m->nlmsg_seq != 1)
                                continue;
                        int ret = 1;
                        if (m->nlmsg_type == NLMSG_DONE)
                                ret = m->nlmsg_len >= NLMSG_LENGTH(sizeof(int))
                                          ? *(int *)NLMSG_DATA(m)
                                          : 0;
                        else if (m->nlmsg_type == NLMSG_ERROR)
                                ret = ((struct nlmsgerr *)NLMSG_DATA(m))->error;
                        else if (each)
                                each(m);
                        if (ret <= 0) {
                                close(fd);
                                return ret;
                        }
                }
        }
}

static int report_nl(int r)
{
        return report(r < 0 ? -1 : 0, -r);
}

static void each_link(const struct nlmsghdr *m)
{
        if (m->nlmsg_type != RTM_NEWLINK)
                return;
        const struct ifinfomsg *ifi = NLMSG_DATA(m);
        const char *name = "?";
        int len = (int)IFLA_PAYLOAD(m);
        for (const struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len))
                if (a->rta_type == IFLA_IFNAME)
                        name = RTA_DATA(a);
        say("%s: link %s index=%d up=%d\n", verb, name, ifi->ifi_index,
            (ifi->ifi_flags & IFF_UP) ? 1 : 0);
}

static void each_addr(const struct nlmsghdr *m)
{
        if (m->nlmsg_type != RTM_NEWADDR)
                return;
        const struct ifaddrmsg *ifa = NLMSG_DATA(m);
        char text[INET6_ADDRSTRLEN] = "?";
        int len = (int)IFA_PAYLOAD(m);
        for (const struct rtattr *a = IFA_RTA(ifa); RTA_OK(a, len); a = RTA_NEXT(a, len))
                if (a->rta_type == IFA_ADDRESS)
                        inet_ntop(ifa->ifa_family, RTA_DATA(a), text, sizeof(text));
        say("%s: addr index=%d %s/%d\n", verb, (int)ifa->ifa_index, text, ifa->ifa_prefixlen);
}

static void each_route(const struct nlmsghdr *m)
{
        if (m->nlmsg_type != RTM_NEWROUTE)
                return;
        const struct rtmsg *rt = NLMSG_DATA(m);
        char text[INET6_ADDRSTRLEN] = "default";
        int len = (int)RTM_PAYLOAD(m);
        for (const struct rtattr *a = RTM_RTA(rt); RTA_OK(a, len); a = RTA_NEXT(a, len))
                if (a->rta_type == RTA_DST)
                        inet_ntop(rt->rtm_family, RTA_DATA(a), text, sizeof(text));
        say("%s: route table=%d %s/%d\n", verb, rt->rtm_table, text, rt->rtm_dst_len);
}

static int rtnl_dump(unsigned short type, size_t body, nl_each_fn each)
{
        nlreq_t r;
        nl_start(&r, type, NLM_F_DUMP);
        nl_put(&r, NULL, body); /* family 0: AF_UNSPEC, every family */
        return report_nl(nl_talk(&r, each));
}

/* A dump of another namespace's links by netnsid: needs an id assigned in this namespace and
 * CAP_NET_ADMIN over the other one. */
static int rtnl_links_netnsid(const char *arg)
{
        nlreq_t r;
        nl_start(&r, RTM_GETLINK, NLM_F_DUMP);
        nl_put(&r, NULL, sizeof(struct ifinfomsg));
        int id = (int)need_num(arg);
        nl_attr(&r, IFLA_TARGET_NETNSID, &id, sizeof(id));
        return report_nl(nl_talk(&r, each_link));
}

static int rtnl_change(const char *what)
{
        nlreq_t r;
        struct in_addr a4;
        if (!strcmp(what, "newlink")) { /* create a dummy link */
                nl_start(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK);
                nl_put(&r, NULL, sizeof(struct ifinfomsg));
                nl_attr(&r, IFLA_IFNAME, "rcdummy0", sizeof("rcdummy0"));
                struct rtattr *info = nl_attr(&r, IFLA_LINKINFO, NULL, 0);
                nl_attr(&r, IFLA_INFO_KIND, "dummy", sizeof("dummy"));
                nl_nest_end(&r, info);
        } else if (!strcmp(what, "lo-down") || !strcmp(what, "setlink-lo-down")) {
                nl_start(&r, !strcmp(what, "lo-down") ? RTM_NEWLINK : RTM_SETLINK, NLM_F_ACK);
                struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC,
                                        .ifi_index = 1, /* lo in a new namespace */
                                        .ifi_flags = 0,
                                        .ifi_change = IFF_UP};
                nl_put(&r, &ifi, sizeof(ifi));
        } else if (!strcmp(what, "dellink-lo")) {
                nl_start(&r, RTM_DELLINK, NLM_F_ACK);
                struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = 1};
                nl_put(&r, &ifi, sizeof(ifi));
        } else if (!strcmp(what, "newaddr") || !strcmp(what, "deladdr")) {
                bool add = !strcmp(what, "newaddr");
                nl_start(&r, add ? RTM_NEWADDR : RTM_DELADDR,
                         (unsigned short)(NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0)));
                struct ifaddrmsg ifa = {.ifa_family = AF_INET,
                                        .ifa_prefixlen = (unsigned char)(add ? 24 : 8),
                                        .ifa_index = 1};
                nl_put(&r, &ifa, sizeof(ifa));
                inet_pton(AF_INET, add ? "10.9.8.7" : "127.0.0.1", &a4);
                nl_attr(&r, IFA_LOCAL, &a4, sizeof(a4));
                nl_attr(&r, IFA_ADDRESS, &a4, sizeof(a4));
        } else if (!strcmp(what, "newroute") || !strcmp(what, "delroute")) {
                bool add = !strcmp(what, "newroute");
                nl_start(&r, add ? RTM_NEWROUTE : RTM_DELROUTE,
                         (unsigned short)(NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0)));
                struct rtmsg rt = {.rtm_family = AF_INET,
                                   .rtm_dst_len = (unsigned char)(add ? 16 : 8),
                                   .rtm_table = add ? RT_TABLE_MAIN : RT_TABLE_LOCAL,
                                   .rtm_protocol = RTPROT_BOOT,
                                   .rtm_scope = add ? RT_SCOPE_LINK : RT_SCOPE_HOST,
                                   .rtm_type = add ? RTN_UNICAST : RTN_LOCAL};
                nl_put(&r, &rt, sizeof(rt));
                inet_pton(AF_INET, add ? "10.1.0.0" : "127.0.0.0", &a4);
                nl_attr(&r, RTA_DST, &a4, sizeof(a4));
                int oif = 1;
                nl_attr(&r, RTA_OIF, &oif, sizeof(oif));
        } else if (!strcmp(what, "newneigh")) {
                nl_start(&r, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK);
                struct ndmsg nd = {
                    .ndm_family = AF_INET, .ndm_ifindex = 1, .ndm_state = NUD_PERMANENT};
                nl_put(&r, &nd, sizeof(nd));
                inet_pton(AF_INET, "127.0.0.9", &a4);
                nl_attr(&r, NDA_DST, &a4, sizeof(a4));
                static const unsigned char mac[6] = {2, 0, 0, 0, 0, 9};
                nl_attr(&r, NDA_LLADDR, mac, sizeof(mac));
        } else if (!strcmp(what, "newrule")) {
                nl_start(&r, RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK);
                struct rtmsg rt = {
                    .rtm_family = AF_INET, .rtm_table = RT_TABLE_MAIN, .rtm_type = FR_ACT_TO_TBL};
                nl_put(&r, &rt, sizeof(rt));
                unsigned prio = 100;
                nl_attr(&r, FRA_PRIORITY, &prio, sizeof(prio));
        } else {
                fprintf(stderr, "try-syscall: unknown rtnl change \"%s\"\n", what);
                exit(2);
        }
        return report_nl(nl_talk(&r, NULL));
}

static void usage(void)
{
        fprintf(
            stderr,
            "usage: try-syscall VERB [ARG]\n"
            "verbs: unshare-user unshare-net setns mount umount pivot_root clone-newuser\n"
            "       clone3 ptrace-traceme 'ptrace-attach PID' keyctl add_key bpf\n"
            "       perf_event_open userfaultfd io_uring_setup socket-packet\n"
            "       socket-inet socket-unix tiocsti tiocsti-high process_vm_readv kill-all\n"
            "       reboot init_module x32 int80 personality 'memhog MB' forkbomb\n"
            "       threadbomb fdbomb 'spin SECONDS' 'sleep SECONDS' 'print BYTES'\n"
            "       'inodes N' 'diskfill MB'\n"
            "netlink: netlink-route netlink-usersock netlink-sock-diag netlink-xfrm\n"
            "       netlink-audit netlink-connector netlink-netfilter netlink-uevent\n"
            "       netlink-generic netlink-rdma netlink-crypto (socket() of that protocol)\n"
            "       rtnl-links rtnl-addrs rtnl-routes (dumps: one line each, then the outcome)\n"
            "       'rtnl-links-netnsid ID' rtnl-newlink rtnl-lo-down rtnl-setlink-lo-down\n"
            "       rtnl-dellink-lo rtnl-newaddr rtnl-deladdr rtnl-newroute rtnl-delroute\n"
            "       rtnl-newneigh rtnl-newrule (changes: the kernel's answer)\n");
}

int main(int argc, char **argv)
{
        if (argc < 2) {
                usage();
                return 2;
        }
        verb = argv[1];
        const char *arg = argc > 2 ? argv[2] : NULL;
        const char *v = verb;

        if (!strcmp(v, "unshare-user"))
                return report_call(unshare(CLONE_NEWUSER));
        if (!strcmp(v, "unshare-net"))
                return report_call(unshare(CLONE_NEWNET));
        if (!strcmp(v, "setns"))
                return do_setns();
        if (!strcmp(v, "mount"))
                return do_mount();
        if (!strcmp(v, "umount")) /* ENOENT when the call is allowed */
                return report_call(umount2("/nonexistent-try-syscall", MNT_DETACH));
        if (!strcmp(v, "pivot_root")) /* likewise */
                return report_call(syscall(SYS_pivot_root, "/nonexistent-try-syscall",
                                           "/nonexistent-try-syscall"));
        if (!strcmp(v, "clone-newuser"))
                return report_clone(syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0));
        if (!strcmp(v, "clone3"))
                return do_clone3();
        if (!strcmp(v, "ptrace-traceme"))
                return report_call(ptrace(PTRACE_TRACEME, 0, NULL, NULL));
        if (!strcmp(v, "ptrace-attach"))
                return do_ptrace_attach(arg);
        if (!strcmp(v, "keyctl"))
                return report_call(
                    syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0));
        if (!strcmp(v, "add_key"))
                return report_call(
                    syscall(SYS_add_key, "user", "try-syscall", "x", 1, KEY_SPEC_PROCESS_KEYRING));
        if (!strcmp(v, "bpf"))
                return do_bpf();
        if (!strcmp(v, "perf_event_open"))
                return do_perf_event_open();
        if (!strcmp(v, "userfaultfd"))
                return report_call(syscall(SYS_userfaultfd, O_CLOEXEC));
        if (!strcmp(v, "io_uring_setup"))
                return do_io_uring_setup();
        for (size_t i = 0; i < sizeof(netlink_protos) / sizeof(netlink_protos[0]); i++)
                if (!strcmp(v, netlink_protos[i].verb))
                        return report_call(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC,
                                                  netlink_protos[i].protocol));
        if (!strcmp(v, "rtnl-links"))
                return rtnl_dump(RTM_GETLINK, sizeof(struct ifinfomsg), each_link);
        if (!strcmp(v, "rtnl-addrs"))
                return rtnl_dump(RTM_GETADDR, sizeof(struct ifaddrmsg), each_addr);
        if (!strcmp(v, "rtnl-routes"))
                return rtnl_dump(RTM_GETROUTE, sizeof(struct rtmsg), each_route);
        if (!strcmp(v, "rtnl-links-netnsid"))
                return rtnl_links_netnsid(arg);
        if (!strncmp(v, "rtnl-", 5))
                return rtnl_change(v + 5);
        if (!strcmp(v, "socket-packet"))
                return report_call(socket(AF_PACKET, SOCK_RAW, __builtin_bswap16(ETH_P_ALL)));
        if (!strcmp(v, "socket-inet"))
                return report_call(socket(AF_INET, SOCK_STREAM, 0));
        if (!strcmp(v, "socket-unix"))
                return report_call(socket(AF_UNIX, SOCK_STREAM, 0));
        if (!strcmp(v, "tiocsti"))
                return report_call(ioctl(STDIN_FILENO, TIOCSTI, "x"));
        if (!strcmp(v, "tiocsti-high")) /* the kernel reads the request as 32 bits */
                return report_call(
                    syscall(SYS_ioctl, STDIN_FILENO, (unsigned long)TIOCSTI | (1UL << 32), "x"));
        if (!strcmp(v, "process_vm_readv"))
                return do_process_vm_readv();
        if (!strcmp(v, "kill-all"))
                return report_call(kill(-1, SIGKILL));
        if (!strcmp(v, "reboot")) /* harmless if allowed: turns Ctrl-Alt-Del off */
                return report_call(syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2,
                                           LINUX_REBOOT_CMD_CAD_OFF, NULL));
        if (!strcmp(v, "init_module"))
                return do_init_module();
        if (!strcmp(v, "personality"))
                return report_call(personality(ADDR_NO_RANDOMIZE));
#if defined(__x86_64__)
        if (!strcmp(v, "x32")) /* getpid with the x32 bit: a filter should kill */
                return report_call(syscall(0x40000000L | SYS_getpid));
        if (!strcmp(v, "int80"))
                return do_int80();
#else
        if (!strcmp(v, "x32") || !strcmp(v, "int80"))
                return report(-1, ENOSYS);
#endif
        if (!strcmp(v, "memhog"))
                return do_memhog(arg);
        if (!strcmp(v, "forkbomb"))
                do_forkbomb();
        if (!strcmp(v, "threadbomb"))
                return do_threadbomb();
        if (!strcmp(v, "fdbomb"))
                return do_fdbomb();
        if (!strcmp(v, "spin"))
                return do_spin(arg);
        if (!strcmp(v, "sleep"))
                return do_sleep(arg);
        if (!strcmp(v, "print"))
                return do_print(arg);
        if (!strcmp(v, "inodes"))
                return do_inodes(arg);
        if (!strcmp(v, "diskfill"))
                return do_diskfill(arg);
        fprintf(stderr, "try-syscall: unknown verb \"%s\"\n", v);
        usage();
        return 2;
}
