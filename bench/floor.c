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
 * against, this row shows how much of it the kernel's own work already takes. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static char child_stack[1 << 16] __attribute__((aligned(16)));

struct plan {
        const char *root;
        const char *file_src, *file_dst;
        char **argv;
        int go[2];
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

static int child_main(void *arg)
{
        struct plan *p = arg;
        char c;
        close(p->go[1]);
        if (read(p->go[0], &c, 1) != 1)
                _exit(101);
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                _exit(fail("make / private"));
        if (mount(p->root, p->root, NULL, MS_BIND | MS_REC, NULL) < 0 ||
            mount(NULL, p->root, NULL, kept_flags(p->root), NULL) < 0)
                _exit(fail("bind the root read-only"));
        if (chdir(p->root) < 0)
                _exit(fail("chdir into the root"));
        if (mount("tmpfs", "tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=1777") < 0)
                _exit(fail("tmpfs /tmp"));
        if (mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                _exit(fail("mount /proc"));
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
        execv(p->argv[0], p->argv);
        _exit(fail("exec") + 27);
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
        if (argc < 3) {
                fprintf(stderr, "usage: runcell-bench-floor ROOT [--file SRC DST] PROG [ARG...]\n");
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
        if (pipe2(p.go, O_CLOEXEC) < 0)
                return fail("pipe");
        int flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS |
                    CLONE_NEWIPC | CLONE_NEWCGROUP;
        pid_t pid = clone(child_main, child_stack + sizeof(child_stack), flags | SIGCHLD, &p);
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
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
