/* cgroup v2: one unified hierarchy, where a cgroup with enabled controllers may hold no
 * processes. Where the sandboxes' leaves go (docs/CGROUPS.md):
 *  - runcell's cgroup is a leaf of a delegated cgroup (marked by systemd or
 *    scripts/cgroup-delegate, controllers on, no processes of its own): beside it, in that
 *    delegated cgroup; runcell stays where it is, so any number of runcells share it;
 *  - runcell is the only process of a delegated cgroup (a systemd unit with Delegate=yes): it
 *    moves itself into a leaf rc-<pid>-0 of it, enables the controllers and uses it;
 *  - root in the root cgroup: <root>/runcell, made or reused.
 * Each sandbox is placed in its leaf at birth with clone3(CLONE_INTO_CGROUP). libcgroup 2.0.2 is
 * not used here: it enables controllers in every ancestor up to the root, which a delegated
 * service must not. */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/cgroup-internal.h"
#include "util/cleanup.h"
#include "util/fs.h"

static char *v2_mount_point(void)
{
        /* Where systemd and the kernel's documentation mount it: one statfs, rather than the
         * text of every mount (which the kernel makes afresh for each read of mountinfo). */
        struct statfs sf;
        if (statfs("/sys/fs/cgroup", &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC)
                return strdup("/sys/fs/cgroup");
        _cleanup_free_ char *mi = NULL;
        if (fs_read_file("/proc/self/mountinfo", 1 << 20, &mi, NULL, NULL) < 0)
                return NULL;
        for (char *line = mi; line && *line;) {
                char *nl = strchr(line, '\n');
                if (nl)
                        *nl = '\0';
                char *sep = strstr(line, " - ");
                char mnt[512];
                if (sep && strncmp(sep + 3, "cgroup2 ", 8) == 0 &&
                    sscanf(line, "%*s %*s %*s %*s %511s", mnt) == 1)
                        return strdup(mnt);
                line = nl ? nl + 1 : NULL;
        }
        return NULL;
}

static bool has_word(const char *list, const char *word)
{
        size_t wl = strlen(word);
        for (const char *p = list; (p = strstr(p, word)); p += wl)
                if ((p == list || p[-1] == ' ') && (p[wl] == ' ' || p[wl] == '\n' || !p[wl]))
                        return true;
        return false;
}

static bool has_controllers(const char *dir, const char *file)
{
        char ctl[512];
        return cg_read(dir, file, ctl, sizeof(ctl)) == 0 && has_word(ctl, "memory") &&
               has_word(ctl, "pids") && has_word(ctl, "cpu");
}

/* Enable memory, pids and cpu for dir's children unless they are. */
static int enable_controllers(const char *dir, rc_err_t *err)
{
        if (has_controllers(dir, "cgroup.subtree_control"))
                return 0;
        return cg_write(dir, "cgroup.subtree_control", "+memory +pids +cpu", err);
}

/* systemd marks the cgroup of a unit with Delegate=yes with the extended attribute
 * trusted.delegate (readable by root) or user.delegate; scripts/cgroup-delegate does the same. */
static bool marked_delegated(const char *dir)
{
        char v[8];
        ssize_t n = getxattr(dir, "user.delegate", v, sizeof(v));
        if (n <= 0)
                n = getxattr(dir, "trusted.delegate", v, sizeof(v));
        return n > 0 && v[0] == '1';
}

static bool writable(const char *dir)
{
        char p[1100];
        if (access(dir, W_OK) < 0)
                return false;
        snprintf(p, sizeof(p), "%s/cgroup.procs", dir);
        if (access(p, W_OK) < 0)
                return false;
        snprintf(p, sizeof(p), "%s/cgroup.subtree_control", dir);
        return access(p, W_OK) == 0;
}

/* How many processes other than this one live in dir; `others_runcell` counts those that are
 * runcell too (they may be moving out into leaves of their own right now). */
static int other_processes(const char *dir, int *others_runcell)
{
        char buf[8192];
        int n = 0;
        *others_runcell = 0;
        if (cg_read(dir, "cgroup.procs", buf, sizeof(buf)) < 0)
                return 0;
        for (char *p = buf; *p;) {
                char *end;
                long pid = strtol(p, &end, 10);
                if (end == p)
                        break;
                if (pid > 0 && pid != getpid()) {
                        char comm[64] = "", path[64];
                        snprintf(path, sizeof(path), "/proc/%ld", pid);
                        n++;
                        if (cg_read(path, "comm", comm, sizeof(comm)) == 0 &&
                            (strcmp(comm, "runcell\n") == 0 ||
                             strcmp(comm, "runcell-serve\n") == 0))
                                (*others_runcell)++;
                }
                p = end;
                while (*p == '\n')
                        p++;
        }
        return n;
}

/* The exact command that gives runcell a delegated cgroup of its own on this host. */
static const char *delegation_hint(void)
{
        if (access("/run/systemd/system", F_OK) == 0)
                return geteuid() == 0 ? "systemd-run --scope -p Delegate=yes -- runcell ..."
                                      : "systemd-run --user --scope -p Delegate=yes -- runcell ...";
        return "scripts/cgroup-delegate create runcell --owner USER; scripts/cgroup-delegate "
               "exec runcell -- runcell ... (docs/CGROUPS.md)";
}

/* Root in the root cgroup: make or reuse <root>/runcell with the controllers enabled, as
 * scripts/cgroup-delegate would, and make the sandboxes beneath it. */
static int use_own_subtree(cg_manager_t *m, const char *mnt, bool probe, rc_err_t *err)
{
        _cleanup_free_ char *dir = NULL;
        if (asprintf(&dir, "%s/runcell", mnt) < 0)
                return rc_err_set(err, ENOMEM, "out of memory");
        bool existed = access(dir, F_OK) == 0;
        if (!probe) {
                int r = enable_controllers(mnt, err);
                if (r < 0)
                        return r;
                if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                        return rc_err_sys(err, errno, "mkdir %s", dir);
                (void)setxattr(dir, "trusted.delegate", "1", 1, 0);
                if ((r = enable_controllers(dir, err)) < 0)
                        return rc_err_wrap(err, "%s holds processes of its own", dir);
        }
        snprintf(m->note, sizeof(m->note),
                 "runcell: started in the root cgroup; sandboxes go beneath %s (%s)", dir,
                 existed ? "reused"
                 : probe ? "to be made"
                         : "made");
        m->dirs[0] = steal_pointer(&dir);
        return 0;
}

/* runcell is the only process of a delegated cgroup (a systemd service or scope): move into a
 * leaf of it (a cgroup with enabled controllers may hold no processes) and enable them. */
static int use_own_cgroup(cg_manager_t *m, const char *dir, bool probe, rc_err_t *err)
{
        if (!writable(dir))
                return rc_err_set(err, EACCES,
                                  "%s is not delegated to uid %u; give runcell a delegated cgroup: "
                                  "%s",
                                  dir, (unsigned)geteuid(), delegation_hint());
        for (int i = 0;; i++) {
                int rc_others, others = other_processes(dir, &rc_others);
                if (others == 0)
                        break;
                if (others > rc_others || i == 100)
                        return rc_err_set(err, EBUSY,
                                          "%s holds %d other process%s (a shell, a test runner?) "
                                          "and its parent is not delegated, so runcell cannot "
                                          "enable controllers there; give runcell a cgroup of "
                                          "its own: %s",
                                          dir, others, others == 1 ? "" : "es", delegation_hint());
                struct timespec ts = {0, 2000000};
                nanosleep(&ts, NULL); /* another runcell is moving into its leaf right now */
        }
        if (probe) {
                snprintf(m->note, sizeof(m->note),
                         "runcell would move itself into %s/rc-<pid>-0 and enable controllers",
                         dir);
                m->dirs[0] = strdup(dir);
                return m->dirs[0] ? 0 : rc_err_set(err, ENOMEM, "out of memory");
        }
        char self_leaf[1100], pid[32];
        snprintf(self_leaf, sizeof(self_leaf), "%s/rc-%d-0", dir, (int)getpid());
        snprintf(pid, sizeof(pid), "%d", (int)getpid());
        if (mkdir(self_leaf, 0755) < 0 && errno != EEXIST)
                return rc_err_sys(err, errno, "mkdir %s", self_leaf);
        int r = cg_write(self_leaf, "cgroup.procs", pid, err);
        if (r < 0) {
                rmdir(self_leaf);
                return r;
        }
        for (int i = 0;; i++) {
                rc_err_t e = {0};
                r = enable_controllers(dir, &e);
                if (r == 0)
                        break;
                if (r != -EBUSY || i == 50)
                        return rc_err_set(err, -r, "%s%s", e.msg,
                                          r == -EBUSY ? " (another process moved in; give "
                                                        "runcell a cgroup of its own)"
                                                      : "");
                struct timespec ts = {0, 2000000};
                nanosleep(&ts, NULL); /* another runcell is moving out right now */
        }
        m->dirs[0] = strdup(dir);
        return m->dirs[0] ? 0 : rc_err_set(err, ENOMEM, "out of memory");
}

static int v2_open(cg_manager_t *m, rc_err_t *err)
{
        bool probe = m->probe;
        _cleanup_free_ char *self = NULL, *mnt = v2_mount_point();
        if (!mnt)
                return rc_err_set(err, ENOTSUP, "no cgroup2 mount");
        if (fs_read_file("/proc/self/cgroup", 1 << 16, &self, NULL, err) < 0)
                return -ENOTSUP;
        _cleanup_free_ char *path = cg_proc_path(self, NULL);
        if (!path)
                return rc_err_set(err, ENOTSUP, "no 0:: line in /proc/self/cgroup");
        bool at_root = strcmp(path, "/") == 0;
        _cleanup_free_ char *dir = NULL;
        if (asprintf(&dir, "%s%s", mnt, at_root ? "" : path) < 0)
                return rc_err_set(err, ENOMEM, "out of memory");
        if (!has_controllers(dir, "cgroup.controllers"))
                return rc_err_set(err, ENOTSUP, "%s lacks the memory, pids or cpu controller", dir);

        int r;
        if (at_root) {
                if (geteuid() != 0)
                        return rc_err_set(err, EPERM,
                                          "runcell runs in the root cgroup (%s); it only creates "
                                          "cgroups beneath a delegated one: %s",
                                          mnt, delegation_hint());
                r = use_own_subtree(m, mnt, probe, err);
        } else {
                /* A delegated parent with the controllers on and no processes of its own (what
                 * scripts/cgroup-delegate exec makes: each command in a leaf of it): the
                 * sandboxes go there beside runcell's cgroup, and runcell stays where it is, so
                 * any number of runcells, and the shell that started them, share it. */
                _cleanup_free_ char *parent = strdup(dir);
                if (!parent)
                        return rc_err_set(err, ENOMEM, "out of memory");
                *strrchr(parent, '/') = '\0';
                int rc_others;
                if (strcmp(parent, mnt) != 0 && marked_delegated(parent) && writable(parent) &&
                    has_controllers(parent, "cgroup.subtree_control") &&
                    other_processes(parent, &rc_others) == 0) {
                        m->dirs[0] = steal_pointer(&parent);
                        r = 0;
                } else {
                        r = use_own_cgroup(m, dir, probe, err);
                }
        }
        if (r < 0)
                return r;
        if (!probe)
                cg_remove_stale(m->dirs[0]);
        char probe_path[1100];
        snprintf(probe_path, sizeof(probe_path), "%s/memory.swap.max", m->dirs[0]);
        m->swapmax = access(probe_path, F_OK) == 0;
        /* memory.peak is writable (mode 0644, a reset) since Linux 6.12, read-only (0444)
         * before: a sandbox kept for another run would report its first run's peak, so none is
         * kept (cg_leaf_rebasable). The mode tells, whoever owns the file. */
        struct stat pst;
        snprintf(probe_path, sizeof(probe_path), "%s/memory.peak", m->dirs[0]);
        if (stat(probe_path, &pst) == 0 && !(pst.st_mode & S_IWUSR))
                m->no_rebase = true;
        m->ctl[0] = "unified";
        m->ndirs = 1;
        m->seq = 0;
        return 0;
}

static int v2_set_limits(cg_leaf_t *l, const rc_limits_t *lim, double cpus, rc_err_t *err)
{
        char v[64];
        int r;
        if (lim->memory_mb > 0) {
                snprintf(v, sizeof(v), "%lld", (long long)lim->memory_mb << 20);
                if ((r = cg_leaf_write(l, 0, "memory.max", v, err)) < 0)
                        return r;
                if (l->m->swapmax && (r = cg_leaf_write(l, 0, "memory.swap.max", "0", err)) < 0)
                        return r;
                cg_leaf_write(l, 0, "memory.oom.group", "1", NULL);
        }
        if (lim->processes > 0) {
                snprintf(v, sizeof(v), "%lld", (long long)lim->processes);
                if ((r = cg_leaf_write(l, 0, "pids.max", v, err)) < 0)
                        return r;
        }
        if (cpus > 0) {
                snprintf(v, sizeof(v), "%lld 100000", (long long)(cpus * 100000));
                if ((r = cg_leaf_write(l, 0, "cpu.max", v, err)) < 0)
                        return r;
        }
        return 0;
}

static int v2_stats(cg_leaf_t *l, cg_stats_t *st)
{
        char buf[4096];
        if (cg_leaf_pread(l, 0, "cpu.stat", buf, sizeof(buf)) == 0 &&
            (st->cpu_usage_us = cg_keyed_value(buf, "usage_usec")) >= 0)
                st->cpu_usage_us -= l->cpu_base;
        if (l->peak_fd >= 0) {
                /* rebased: the peak since the reset made through this fd */
                ssize_t n = pread(l->peak_fd, buf, sizeof(buf) - 1, 0);
                if (n > 0) {
                        buf[n] = '\0';
                        st->memory_peak_bytes = cg_parse_value(buf);
                }
        } else if (cg_leaf_read(l, 0, "memory.peak", buf, sizeof(buf)) == 0) {
                st->memory_peak_bytes = cg_parse_value(buf);
        }
        if (cg_leaf_pread(l, 0, "memory.events", buf, sizeof(buf)) == 0 &&
            (st->oom_kills = cg_keyed_value(buf, "oom_kill")) >= 0)
                st->oom_kills -= l->oom_base;
        return 0;
}

/* memory.peak can be reset since Linux 6.12, for reads through the fd the reset was written
 * to; before, the file is read-only and a kept sandbox would report its first run's peak. */
static int v2_rebase(cg_leaf_t *l)
{
        char buf[4096];
        if (cg_leaf_pread(l, 0, "cpu.stat", buf, sizeof(buf)) < 0 ||
            (l->cpu_base = cg_keyed_value(buf, "usage_usec")) < 0)
                return -EIO;
        if (cg_leaf_pread(l, 0, "memory.events", buf, sizeof(buf)) == 0 &&
            (l->oom_base = cg_keyed_value(buf, "oom_kill")) < 0)
                l->oom_base = 0;
        if (l->peak_fd < 0) {
                int dfd = cg_leaf_fd(l, 0);
                if (dfd < 0)
                        return -EIO;
                l->peak_fd = openat(dfd, "memory.peak", O_RDWR | O_CLOEXEC);
                if (l->peak_fd < 0)
                        return errno == ENOENT ? 0 : -ENOTSUP; /* no memory controller here */
        }
        if (write(l->peak_fd, "reset\n", 6) != 6)
                return -ENOTSUP;
        return 0;
}

static void v2_kill(cg_leaf_t *l)
{
        if (cg_leaf_write(l, 0, "cgroup.kill", "1", NULL) < 0)
                cg_kill_listed(l->dirs[0]);
}

const cg_backend_t cg_backend_v2 = {
    .name = "v2",
    .open = v2_open,
    .set_limits = v2_set_limits,
    /* no attach: the sandbox is born in its leaf (CLONE_INTO_CGROUP); no reset: a fresh leaf
     * for each (memory.peak is reset only for one open fd, on kernels from 6.12) */
    .stats = v2_stats,
    .kill = v2_kill,
    .rebase = v2_rebase,
};
