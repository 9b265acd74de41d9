/* runcell-bench-floor: the least work any fresh sandbox of runcell's kind has to do, as a
 * yardstick for the one-shot benchmarks (bench/startup.py, bench/vm_oneshot.py).
 *
 *   runcell-bench-floor ROOT [--file SRC DST] PROG [ARG...]
 *
 * A static executable (no dynamic loader) that clones a child into new user, pid, mount,
 * network, uts, ipc and cgroup namespaces, maps the caller's uid and gid to 0, and lets the
 * child bind ROOT onto itself read-only, mount a tmpfs on /tmp and a fresh /proc, bind one file
 * SRC read-only at DST (inside the new /tmp), pivot_root into ROOT and exec PROG as pid 1. It
 * then waits and exits with PROG's status.
 *
 * What it leaves out on purpose, each of which runcell does: a cgroup leaf and its limits, the
 * seccomp filter, /dev, an init process that reaps and reports, dropped capabilities, the
 * language's configuration, the result. The time it takes over the bare program is therefore
 * a lower bound for a sandbox built afresh per run: whatever runcell's overhead is measured
 * against, this row shows how much of it the kernel's own work already takes.
 *
 *   runcell-bench-floor --layers [--cgroup DIR] [--filter FILE] [--without LIST] ROOT
 *                       [--file SRC DST] PROG [ARG...]
 *
 * --layers adds, still with no configuration and nothing of runcell's own code, the kernel's
 * side of each isolation layer runcell adds to that (src/sandbox/mountplan.c, child.c, init.c):
 * the root as a read-only overlay (when ROOT has the empty directory ../.empty beside it, as
 * runcell's unpacked roots do), /work, /tmp, a fresh /proc with runcell's 12 masked files, 5
 * masked and 4 read-only directories, a /dev of its own (tmpfs, 6 devices bound, devpts,
 * /dev/shm, mqueue, 5 symlinks, read-only), the hostname, lo up, the bounding set emptied, no
 * new privileges, a seccomp filter (with --filter FILE runcell's own, from its cache in the
 * state directory, seccomp/<profile>-<hash>.bpf; else one as long as runcell's default, 496
 * instructions, every system call going through all of them), and an init (pid 1) that forks
 * PROG, reaps it and
 * reports its status on a pipe. With --cgroup, a leaf of the cgroup v2 directory DIR with
 * runcell's default limits (memory.max, memory.swap.max, pids.max, cpu.max), the sandbox born
 * in it (CLONE_INTO_CGROUP), removed at the end. Its overhead is what runcell's isolation costs
 * the kernel per fresh sandbox: the part of runcell's overhead no user-space work can remove.
 * --without leaves out the layers named (comma-separated: overlay, work, proc-masks, dev, lo,
 * caps, seccomp, init; with no init PROG is pid 1), to see what each one costs. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define TU_N(a) (sizeof(a) / sizeof((a)[0]))

static char child_stack[1 << 16] __attribute__((aligned(16)));

struct plan {
        const char *root;
        const char *file_src, *file_dst;
        char **argv;
        int go[2];
        int layers;    /* --layers */
        int report[2]; /* --layers: init writes PROG's wait status here */
};

static int fail(const char *what)
{
        fprintf(stderr, "runcell-bench-floor: %s: %s\n", what, strerror(errno));
        return 100;
}

/* A read-only remount of a bind must keep the flags the kernel locked on its source mount in a
 * user namespace (nosuid, nodev, noexec, the atime ones), or it fails with EPERM. */
static unsigned long kept_flags(const char *path)
{
        struct statvfs sv;
        unsigned long f = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV;
        if (statvfs(path, &sv) == 0) {
                f |= (sv.f_flag & ST_NOEXEC) ? MS_NOEXEC : 0;
                f |= (sv.f_flag & ST_NOATIME) ? MS_NOATIME : 0;
                f |= (sv.f_flag & ST_NODIRATIME) ? MS_NODIRATIME : 0;
                f |= (sv.f_flag & ST_RELATIME) ? MS_RELATIME : 0;
        }
        return f;
}

/* --without LIST: the layers left out (comma-separated names), to see what each costs. */
static const char *const layer_names[] = {"overlay", "work", "proc-masks", "dev",
                                          "lo",      "caps", "seccomp",    "init"};
enum { L_OVERLAY, L_WORK, L_PROC_MASKS, L_DEV, L_LO, L_CAPS, L_SECCOMP, L_INIT, L_COUNT };
static int without[L_COUNT];

static int parse_without(const char *list)
{
        char buf[256];
        snprintf(buf, sizeof(buf), "%s", list);
        for (char *save = NULL, *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
                int k = 0;
                while (k < L_COUNT && strcmp(w, layer_names[k]) != 0)
                        k++;
                if (k == L_COUNT)
                        return -1;
                without[k] = 1;
        }
        return 0;
}

/* --layers: what runcell's mount plan adds inside the new root (cwd), in its order. */
static int layer_mounts(void)
{
        static const char *const mask_files[] = {
            "proc/kcore",      "proc/keys",        "proc/key-users",     "proc/latency_stats",
            "proc/timer_list", "proc/sched_debug", "proc/sysrq-trigger", "proc/kallsyms",
            "proc/kpagecount", "proc/kpageflags",  "proc/kpagecgroup",   "proc/cmdline"};
        static const char *const mask_dirs[] = {"proc/acpi", "proc/asound", "proc/scsi",
                                                "proc/firmware", "proc/driver"};
        static const char *const ro_dirs[] = {"proc/bus", "proc/fs", "proc/irq", "proc/sys"};
        static const char *const devices[] = {"null", "zero", "full", "random", "urandom", "tty"};
        static const char *const links[][2] = {{"dev/ptmx", "pts/ptmx"},
                                               {"dev/fd", "/proc/self/fd"},
                                               {"dev/stdin", "/proc/self/fd/0"},
                                               {"dev/stdout", "/proc/self/fd/1"},
                                               {"dev/stderr", "/proc/self/fd/2"}};
        const unsigned long nsd = MS_NOSUID | MS_NODEV;
        mkdir("work", 0755);
        if (!without[L_WORK] &&
            mount("tmpfs", "work", "tmpfs", nsd, "size=64m,nr_inodes=16384,mode=0755") < 0)
                return fail("tmpfs /work");
        if (mount("tmpfs", "tmp", "tmpfs", nsd, "size=64m,nr_inodes=16384,mode=1777") < 0)
                return fail("tmpfs /tmp");
        if (mount("proc", "proc", "proc", nsd | MS_NOEXEC, NULL) < 0)
                return fail("mount /proc");
        for (size_t i = 0; !without[L_PROC_MASKS] && i < TU_N(mask_files); i++)
                mount("/dev/null", mask_files[i], NULL, MS_BIND, NULL); /* absent: fine */
        for (size_t i = 0; !without[L_PROC_MASKS] && i < TU_N(mask_dirs); i++)
                mount("tmpfs", mask_dirs[i], "tmpfs", MS_RDONLY | nsd | MS_NOEXEC,
                      "size=4k,nr_inodes=1,mode=0555");
        for (size_t i = 0; !without[L_PROC_MASKS] && i < TU_N(ro_dirs); i++)
                if (mount(ro_dirs[i], ro_dirs[i], NULL, MS_BIND | MS_REC, NULL) == 0)
                        mount(NULL, ro_dirs[i], NULL,
                              MS_BIND | MS_REMOUNT | MS_RDONLY | nsd | MS_NOEXEC, NULL);
        if (without[L_DEV])
                return 0;
        mkdir("dev", 0755);
        if (mount("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_NOEXEC,
                  "size=64k,nr_inodes=64,mode=0755") < 0)
                return fail("tmpfs /dev");
        for (size_t i = 0; i < sizeof(devices) / sizeof(devices[0]); i++) {
                char dst[32], src[32];
                snprintf(dst, sizeof(dst), "dev/%s", devices[i]);
                snprintf(src, sizeof(src), "/dev/%s", devices[i]);
                int fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
                if (fd < 0)
                        return fail("create a device's mount point");
                close(fd);
                if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
                        return fail("bind a device");
        }
        mkdir("dev/pts", 0755);
        if (mount("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
                  "newinstance,ptmxmode=0666,mode=0620") < 0)
                return fail("devpts");
        mkdir("dev/shm", 0755);
        if (mount("tmpfs", "dev/shm", "tmpfs", nsd, "size=64m,nr_inodes=16384,mode=1777") < 0)
                return fail("tmpfs /dev/shm");
        mkdir("dev/mqueue", 01777);
        if (mount("mqueue", "dev/mqueue", "mqueue", nsd | MS_NOEXEC, NULL) < 0)
                return fail("mqueue");
        for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
                if (symlink(links[i][1], links[i][0]) < 0)
                        return fail("symlink in /dev");
        if (mount(NULL, "dev", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC, NULL) < 0)
                return fail("remount /dev read-only");
        return 0;
}

/* --filter FILE: runcell's own compiled filter, from its cache (src/seccomp/cache.c: the magic
 * line, the key's length and the instruction count as two uint32, the key, the program). */
static struct sock_filter *cached_filter;
static unsigned short cached_len;

static int load_filter(const char *file)
{
        static const char magic[] = "runcell-bpf 1\n";
        static char buf[4 << 20];
        int fd = open(file, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf));
        if (fd >= 0)
                close(fd);
        size_t ml = sizeof(magic) - 1, hdr = ml + 8;
        uint32_t kl, nins;
        if (n < (ssize_t)hdr || memcmp(buf, magic, ml) != 0)
                return -1;
        memcpy(&kl, buf + ml, 4);
        memcpy(&nins, buf + ml + 4, 4);
        if (nins == 0 || nins > 0xffff ||
            (size_t)n != hdr + kl + (size_t)nins * sizeof(struct sock_filter))
                return -1;
        cached_filter = (struct sock_filter *)(void *)(buf + hdr + kl);
        cached_len = (unsigned short)nins;
        return 0;
}

/* --layers, after pivot_root: lo up, capabilities gone, the filter. */
static int layer_lockdown(void)
{
        if (!without[L_LO]) {
                int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
                struct ifreq ifr;
                memset(&ifr, 0, sizeof(ifr));
                strcpy(ifr.ifr_name, "lo");
                if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
                        return fail("lo");
                ifr.ifr_flags |= IFF_UP;
                if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
                        return fail("lo up");
                close(s);
        }
        for (int c = 0; !without[L_CAPS] && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) == 0; c++)
                ;
        if (without[L_SECCOMP])
                return 0;
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return fail("no_new_privs");
        /* As long as runcell's default filter, and every instruction run: 495 comparisons with
         * a number no system call has, then allow. */
        static struct sock_filter insns[496];
        insns[0] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                                offsetof(struct seccomp_data, nr));
        for (int i = 1; i < 495; i++)
                insns[i] =
                    (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 100000 + i, 0, 0);
        insns[495] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
        struct sock_fprog prog = {.len = 496, .filter = insns};
        if (cached_filter)
                prog = (struct sock_fprog){.len = cached_len, .filter = cached_filter};
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
                return fail("seccomp");
        return 0;
}

/* --layers: pid 1 forks PROG, reaps everything, reports PROG's status. */
static void layer_init(struct plan *p)
{
        sigset_t chld;
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        sigprocmask(SIG_BLOCK, &chld, NULL);
        pid_t pid = vfork();
        if (pid == 0) {
                sigprocmask(SIG_UNBLOCK, &chld, NULL);
                execv(p->argv[0], p->argv);
                _exit(127);
        }
        int st = 127 << 8, w;
        pid_t r;
        while ((r = wait(&w)) > 0 || (r < 0 && errno == EINTR))
                if (r == pid)
                        st = w;
        if (write(p->report[1], &st, sizeof(st)) != (ssize_t)sizeof(st))
                _exit(102);
        _exit(0);
}

static int child_main(void *arg)
{
        struct plan *p = arg;
        char c;
        close(p->go[1]);
        if (read(p->go[0], &c, 1) != 1)
                _exit(101);
        if (p->layers && sethostname("runcell", 7) < 0)
                _exit(fail("sethostname"));
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                _exit(fail("make / private"));
        if (chdir(p->root) < 0)
                _exit(fail("chdir into the root"));
        if (p->layers && !without[L_OVERLAY] &&
            mount("overlay", p->root, "overlay", MS_RDONLY | MS_NOSUID | MS_NODEV,
                  "lowerdir=.:../.empty") == 0) {
                /* runcell's read-only overlay of the root */
        } else if (mount(p->root, p->root, NULL, MS_BIND | MS_REC, NULL) < 0 ||
                   mount(NULL, p->root, NULL, kept_flags(p->root), NULL) < 0) {
                _exit(fail("bind the root read-only"));
        }
        if (chdir(p->root) < 0)
                _exit(fail("chdir into the root"));
        if (p->layers) {
                if (layer_mounts() != 0)
                        _exit(100);
        } else {
                if (mount("tmpfs", "tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=1777") < 0)
                        _exit(fail("tmpfs /tmp"));
                if (mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                        _exit(fail("mount /proc"));
        }
        if (p->file_src) {
                const char *dst = p->file_dst[0] == '/' ? p->file_dst + 1 : p->file_dst;
                int fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
                if (fd < 0)
                        _exit(fail("create the file's mount point"));
                close(fd);
                if (mount(p->file_src, dst, NULL, MS_BIND, NULL) < 0 ||
                    mount(NULL, dst, NULL, kept_flags(p->file_src), NULL) < 0)
                        _exit(fail("bind the file"));
        }
        if (syscall(SYS_pivot_root, ".", ".") < 0)
                _exit(fail("pivot_root"));
        if (umount2(".", MNT_DETACH) < 0)
                _exit(fail("detach the old root"));
        if (chdir("/") < 0)
                _exit(fail("chdir /"));
        if (p->layers) {
                if (layer_lockdown() != 0)
                        _exit(100);
                if (!without[L_INIT])
                        layer_init(p); /* else PROG is pid 1, as without --layers */
        }
        execv(p->argv[0], p->argv);
        _exit(fail("exec") + 27);
}

/* --cgroup: a leaf of dir with runcell's default limits; its fd, or -1. */
static int make_leaf(const char *dir, char *leaf, size_t size)
{
        static const char *const limits[][2] = {{"memory.max", "268435456"},
                                                {"memory.swap.max", "0"},
                                                {"pids.max", "64"},
                                                {"cpu.max", "100000 100000"}};
        snprintf(leaf, size, "%s/floor-%d", dir, (int)getpid());
        if (mkdir(leaf, 0755) < 0)
                return -1;
        int fd = open(leaf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        for (size_t i = 0; fd >= 0 && i < sizeof(limits) / sizeof(limits[0]); i++) {
                int f = openat(fd, limits[i][0], O_WRONLY | O_CLOEXEC);
                if (f < 0 || write(f, limits[i][1], strlen(limits[i][1])) < 0) {
                        if (f >= 0)
                                close(f);
                        close(fd);
                        fd = -1;
                        break;
                }
                close(f);
        }
        if (fd < 0)
                rmdir(leaf);
        return fd;
}

static int write_file(pid_t pid, const char *name, const char *text)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        ssize_t n = write(fd, text, strlen(text));
        close(fd);
        return n == (ssize_t)strlen(text) ? 0 : -1;
}

int main(int argc, char **argv)
{
        struct plan p = {0};
        int i = 1;
        const char *cg_dir = NULL;
        if (argc > 1 && strcmp(argv[1], "--layers") == 0) {
                p.layers = 1;
                i++;
                while (argc > i + 1 &&
                       (strcmp(argv[i], "--cgroup") == 0 || strcmp(argv[i], "--filter") == 0 ||
                        strcmp(argv[i], "--without") == 0)) {
                        if (strcmp(argv[i], "--cgroup") == 0)
                                cg_dir = argv[i + 1];
                        else if (strcmp(argv[i], "--without") == 0 &&
                                 parse_without(argv[i + 1]) < 0)
                                return fail("--without: names of overlay, work, proc-masks, dev, "
                                            "lo, caps, seccomp, init");
                        else if (strcmp(argv[i], "--filter") == 0 && load_filter(argv[i + 1]) < 0)
                                return fail("--filter: not a runcell-bpf file");
                        i += 2;
                }
        }
        if (argc < i + 2) {
                fprintf(stderr, "usage: runcell-bench-floor [--layers [--cgroup DIR] [--filter "
                                "FILE] [--without L]] "
                                "ROOT [--file SRC DST] PROG [ARG...]\n");
                return 2;
        }
        p.root = argv[i++];
        if (strcmp(argv[i], "--file") == 0) {
                if (argc < i + 4)
                        return 2;
                p.file_src = argv[i + 1];
                p.file_dst = argv[i + 2];
                i += 3;
        }
        p.argv = argv + i;
        if (pipe2(p.go, O_CLOEXEC) < 0 || (p.layers && pipe2(p.report, O_CLOEXEC) < 0))
                return fail("pipe");
        int flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS |
                    CLONE_NEWIPC | CLONE_NEWCGROUP;
        char leaf[4096];
        int leaf_fd = -1;
        if (cg_dir && (leaf_fd = make_leaf(cg_dir, leaf, sizeof(leaf))) < 0)
                return fail("make the cgroup leaf");
        pid_t pid;
        if (leaf_fd >= 0) {
                /* born in the leaf, as runcell's sandboxes are on cgroup v2 */
                struct clone_args ca;
                memset(&ca, 0, sizeof(ca));
                ca.flags = (unsigned)flags | CLONE_INTO_CGROUP;
                ca.cgroup = (unsigned)leaf_fd;
                ca.exit_signal = SIGCHLD;
                pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
                if (pid == 0)
                        _exit(child_main(&p));
        } else {
                pid = clone(child_main, child_stack + sizeof(child_stack), flags | SIGCHLD, &p);
        }
        if (pid < 0)
                return fail("clone");
        close(p.go[0]);
        char map[64];
        int r = write_file(pid, "setgroups", "deny");
        snprintf(map, sizeof(map), "0 %u 1", (unsigned)getuid());
        r = r < 0 ? r : write_file(pid, "uid_map", map);
        snprintf(map, sizeof(map), "0 %u 1", (unsigned)getgid());
        r = r < 0 ? r : write_file(pid, "gid_map", map);
        if (r < 0) {
                kill(pid, SIGKILL);
                return fail("write the id maps");
        }
        if (write(p.go[1], "g", 1) != 1)
                return fail("start the child");
        int st;
        while (waitpid(pid, &st, 0) < 0)
                if (errno != EINTR)
                        return fail("waitpid");
        if (p.layers && !without[L_INIT]) {
                /* init's report: PROG's own status */
                close(p.report[1]);
                if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 ||
                    read(p.report[0], &st, sizeof(st)) != (ssize_t)sizeof(st))
                        st = 126 << 8;
        }
        if (leaf_fd >= 0) {
                close(leaf_fd);
                while (rmdir(leaf) < 0 && errno == EBUSY)
                        ; /* the last task leaves the cgroup just after the wait */
        }
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
