/* cgroup v2: one unified hierarchy. runcell moves itself into a leaf of the cgroup it was started
 * in (a cgroup with enabled controllers may hold no processes) and makes every sandbox a sibling
 * leaf, placed there at birth with clone3(CLONE_INTO_CGROUP). libcgroup 2.0.2 is not used here:
 * it enables controllers in every ancestor up to the root, which a delegated service must not. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/cgroup-internal.h"
#include "util/cleanup.h"
#include "util/fs.h"

static char *v2_mount_point(void)
{
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

static int v2_open(cg_manager_t *m, rc_err_t *err)
{
        _cleanup_free_ char *self = NULL, *mnt = v2_mount_point();
        if (!mnt)
                return rc_err_set(err, ENOTSUP, "no cgroup2 mount");
        if (fs_read_file("/proc/self/cgroup", 1 << 16, &self, NULL, err) < 0)
                return -ENOTSUP;
        _cleanup_free_ char *path = cg_proc_path(self, NULL);
        if (!path)
                return rc_err_set(err, ENOTSUP, "no 0:: line in /proc/self/cgroup");
        _cleanup_free_ char *dir = NULL;
        if (asprintf(&dir, "%s%s", mnt, strcmp(path, "/") == 0 ? "" : path) < 0)
                return rc_err_set(err, ENOMEM, "out of memory");
        char ctl[512];
        if (cg_read(dir, "cgroup.controllers", ctl, sizeof(ctl)) < 0 || !has_word(ctl, "memory") ||
            !has_word(ctl, "pids") || !has_word(ctl, "cpu"))
                return rc_err_set(err, ENOTSUP, "%s lacks the memory, pids or cpu controller", dir);
        if (strcmp(path, "/") == 0)
                return rc_err_set(err, EPERM,
                                  "runcell runs in the root cgroup (%s); it only creates cgroups "
                                  "beneath its own, so start it in a delegated cgroup "
                                  "(systemd Delegate=yes, docs/CGROUPS.md)",
                                  mnt);
        char probe[1024];
        snprintf(probe, sizeof(probe), "%s/cgroup.subtree_control", dir);
        if (access(dir, W_OK) < 0 || access(probe, W_OK) < 0)
                return rc_err_sys(err, errno, "%s is not delegated to uid %u (Delegate=yes)", dir,
                                  (unsigned)geteuid());
        cg_remove_stale(dir);

        /* No internal processes: move runcell into its own leaf before enabling controllers. */
        char self_leaf[1024], pid[32];
        snprintf(self_leaf, sizeof(self_leaf), "%s/rc-%d-0", dir, (int)getpid());
        snprintf(pid, sizeof(pid), "%d", (int)getpid());
        if (mkdir(self_leaf, 0755) < 0 && errno != EEXIST)
                return rc_err_sys(err, errno, "mkdir %s", self_leaf);
        int r = cg_write(self_leaf, "cgroup.procs", pid, err);
        if (r < 0)
                return r;
        char enabled[512];
        if (cg_read(dir, "cgroup.subtree_control", enabled, sizeof(enabled)) < 0)
                enabled[0] = '\0';
        if (!has_word(enabled, "memory") || !has_word(enabled, "pids") ||
            !has_word(enabled, "cpu")) {
                for (int i = 0;; i++) {
                        rc_err_t e = {0};
                        r = cg_write(dir, "cgroup.subtree_control", "+memory +pids +cpu", &e);
                        if (r == 0)
                                break;
                        if (r != -EBUSY || i == 50) {
                                return rc_err_set(err, -r, "%s%s", e.msg,
                                                  r == -EBUSY
                                                      ? " (other processes live in this "
                                                        "cgroup; give runcell one of its own)"
                                                      : "");
                        }
                        struct timespec ts = {0, 2000000};
                        nanosleep(&ts, NULL); /* another runcell is moving out right now */
                }
        }
        char swap_probe[1100];
        snprintf(swap_probe, sizeof(swap_probe), "%s/memory.swap.max", self_leaf);
        m->swapmax = access(swap_probe, F_OK) == 0;
        m->dirs[0] = steal_pointer(&dir);
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
        if (cg_leaf_read(l, 0, "cpu.stat", buf, sizeof(buf)) == 0)
                st->cpu_usage_us = cg_keyed_value(buf, "usage_usec");
        if (cg_leaf_read(l, 0, "memory.peak", buf, sizeof(buf)) == 0)
                st->memory_peak_bytes = cg_parse_value(buf);
        if (cg_leaf_read(l, 0, "memory.events", buf, sizeof(buf)) == 0)
                st->oom_kills = cg_keyed_value(buf, "oom_kill");
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
};
