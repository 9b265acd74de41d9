/* cgroup v1: one hierarchy per controller (or co-mounted groups of them). Mount points come
 * from libcgroup; runcell's own place in each hierarchy from /proc/self/cgroup. A leaf is one
 * directory per hierarchy, and a sandbox is attached by writing its pid into each. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <libcgroup.h>
#include <linux/magic.h>

#include "sandbox/cgroup-internal.h"
#include "util/cleanup.h"
#include "util/fs.h"

static const char *const v1_controllers[] = {"memory", "pids", "cpu", "cpuacct"};

static int libcgroup_mount_point(const char *ctl, char **mp, rc_err_t *err)
{
        static int init_rc = -1;
        if (init_rc < 0)
                init_rc = cgroup_init();
        if (init_rc != 0) {
                /* libcgroup returns positive ECG* codes; ECGOTHER means "see errno". */
                int e = init_rc == ECGOTHER ? cgroup_get_last_errno() : EIO;
                return rc_err_set(err, ENOTSUP, "libcgroup: %s",
                                  cgroup_strerror(init_rc) ? cgroup_strerror(init_rc)
                                                           : strerror(e));
        }
        int r = cgroup_get_subsys_mount_point(ctl, mp);
        if (r != 0)
                return rc_err_set(err, ENOTSUP, "controller %s is not mounted", ctl);
        struct statfs sf;
        if (statfs(*mp, &sf) < 0 || sf.f_type != CGROUP_SUPER_MAGIC) {
                free(*mp);
                *mp = NULL;
                return rc_err_set(err, ENOTSUP, "controller %s is not on a v1 hierarchy", ctl);
        }
        return 0;
}

static int v1_open(cg_manager_t *m, rc_err_t *err)
{
        _cleanup_free_ char *self = NULL;
        if (fs_read_file("/proc/self/cgroup", 1 << 16, &self, NULL, err) < 0)
                return -ENOTSUP;
        for (size_t i = 0; i < ARRAY_SIZE(v1_controllers); i++) {
                const char *ctl = v1_controllers[i];
                _cleanup_free_ char *mp = NULL, *path = cg_proc_path(self, ctl);
                if (!path)
                        return rc_err_set(err, ENOTSUP, "controller %s is not in /proc/self/cgroup",
                                          ctl);
                int r = libcgroup_mount_point(ctl, &mp, err);
                if (r < 0)
                        return r;
                _cleanup_free_ char *dir = NULL;
                if (asprintf(&dir, "%s%s", mp, strcmp(path, "/") == 0 ? "" : path) < 0)
                        return rc_err_set(err, ENOMEM, "out of memory");
                /* Co-mounted controllers (cpu,cpuacct) share one directory. */
                bool dup = false;
                for (int k = 0; k < m->ndirs; k++)
                        dup |= strcmp(m->dirs[k], dir) == 0;
                if (dup)
                        continue;
                if (strcmp(path, "/") == 0)
                        return rc_err_set(
                            err, EPERM,
                            "runcell runs at the root of the %s hierarchy (%s); it only "
                            "creates cgroups beneath its own, so start it in a delegated "
                            "cgroup (scripts/cgroup-delegate, docs/CGROUPS.md)",
                            ctl, mp);
                if (access(dir, W_OK) < 0)
                        return rc_err_sys(err, errno,
                                          "%s is not delegated to uid %u (scripts/cgroup-delegate)",
                                          dir, (unsigned)geteuid());
                m->dirs[m->ndirs] = steal_pointer(&dir);
                m->ctl[m->ndirs] = ctl;
                m->ndirs++;
        }
        char probe[1024];
        snprintf(probe, sizeof(probe), "%s/memory.memsw.limit_in_bytes", m->dirs[0]);
        m->memsw = access(probe, F_OK) == 0;
        for (int i = 0; i < m->ndirs; i++)
                cg_remove_stale(m->dirs[i]);
        return 0;
}

static bool dir_has(const cg_leaf_t *l, int i, const char *ctl)
{
        /* dirs[i] holds the controller named in ctl[i], plus any co-mounted with it. */
        if (strcmp(l->m->ctl[i], ctl) == 0)
                return true;
        char probe[1024];
        snprintf(probe, sizeof(probe), "%s/%s.%s", l->dirs[i], ctl,
                 strcmp(ctl, "cpuacct") == 0 ? "usage"
                 : strcmp(ctl, "cpu") == 0   ? "shares"
                                             : "max");
        return access(probe, F_OK) == 0;
}

static int v1_set_limits(cg_leaf_t *l, const rc_limits_t *lim, double cpus, rc_err_t *err)
{
        char v[64];
        int r;
        for (int i = 0; i < l->ndirs; i++) {
                if (dir_has(l, i, "memory") && lim->memory_mb > 0) {
                        snprintf(v, sizeof(v), "%lld", (long long)lim->memory_mb << 20);
                        /* memory+swap equal to memory: no swap at all. The kernel keeps
                         * memsw >= memory at every step, so raise memsw first when growing. */
                        r = cg_write(l->dirs[i], "memory.limit_in_bytes", v, err);
                        if (r == -EINVAL && l->m->memsw) {
                                if ((r = cg_write(l->dirs[i], "memory.memsw.limit_in_bytes", v,
                                                  err)) < 0 ||
                                    (r = cg_write(l->dirs[i], "memory.limit_in_bytes", v, err)) < 0)
                                        return r;
                        } else if (r < 0) {
                                return r;
                        } else if (l->m->memsw &&
                                   (r = cg_write(l->dirs[i], "memory.memsw.limit_in_bytes", v,
                                                 err)) < 0) {
                                return r;
                        }
                }
                if (dir_has(l, i, "pids") && lim->processes > 0) {
                        snprintf(v, sizeof(v), "%lld", (long long)lim->processes);
                        if ((r = cg_write(l->dirs[i], "pids.max", v, err)) < 0)
                                return r;
                }
                if (dir_has(l, i, "cpu") && cpus > 0) {
                        snprintf(v, sizeof(v), "%lld", (long long)(cpus * 100000));
                        if ((r = cg_write(l->dirs[i], "cpu.cfs_period_us", "100000", err)) < 0 ||
                            (r = cg_write(l->dirs[i], "cpu.cfs_quota_us", v, err)) < 0)
                                return r;
                }
        }
        return 0;
}

static int v1_attach(cg_leaf_t *l, pid_t pid, rc_err_t *err)
{
        char v[32];
        snprintf(v, sizeof(v), "%d", (int)pid);
        for (int i = 0; i < l->ndirs; i++) {
                int r = cg_write(l->dirs[i], "cgroup.procs", v, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int v1_stats(cg_leaf_t *l, cg_stats_t *st)
{
        char buf[4096];
        for (int i = 0; i < l->ndirs; i++) {
                if (dir_has(l, i, "cpuacct") &&
                    cg_read(l->dirs[i], "cpuacct.usage", buf, sizeof(buf)) == 0)
                        st->cpu_usage_us = cg_parse_value(buf) / 1000;
                if (dir_has(l, i, "memory")) {
                        if (cg_read(l->dirs[i], "memory.max_usage_in_bytes", buf, sizeof(buf)) == 0)
                                st->memory_peak_bytes = cg_parse_value(buf);
                        if (cg_read(l->dirs[i], "memory.oom_control", buf, sizeof(buf)) == 0)
                                st->oom_kills = cg_keyed_value(buf, "oom_kill");
                }
        }
        return 0;
}

static void v1_kill(cg_leaf_t *l)
{
        /* No cgroup.kill in v1: signal every listed task until none is left to list (a fork
         * between reading and killing shows up in the next round; pids.max bounds the rounds). */
        for (int round = 0; round < 16; round++)
                if (l->ndirs == 0 || cg_kill_listed(l->dirs[0]) == 0)
                        return;
}

const cg_backend_t cg_backend_v1 = {
    .name = "v1",
    .open = v1_open,
    .set_limits = v1_set_limits,
    .attach = v1_attach,
    .stats = v1_stats,
    .kill = v1_kill,
};
