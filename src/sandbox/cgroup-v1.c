/* cgroup v1: one hierarchy per controller (or co-mounted groups of them). Mount points come
 * from libcgroup; runcell's own place in each hierarchy from /proc/self/cgroup (as root at a
 * hierarchy's root: <root>/runcell, made or reused). A leaf is one directory per hierarchy, and a
 * sandbox is attached by writing its pid into each. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <libcgroup.h>
#include <linux/magic.h>

#include "sandbox/cgroup-internal.h"
#include "util/cleanup.h"
#include "util/fs.h"

static const char *const v1_controllers[] = {"memory", "pids", "cpu", "cpuacct"};

/* Undo mountinfo's octal escapes (\040 for a space) in place. */
static void mountinfo_unescape(char *s)
{
        char *w = s;
        for (char *r = s; *r; r++) {
                if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
                    r[3] >= '0' && r[3] <= '7') {
                        *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
                        r += 3;
                } else {
                        *w++ = *r;
                }
        }
        *w = '\0';
}

/* Where the v1 hierarchy of ctl is mounted, whole (its root "/"), from mountinfo's text: the
 * mount point in *mp (allocated), or -ENOENT. */
static int mountinfo_mount_point(char *text, const char *ctl, char **mp)
{
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS */
                char *f[6] = {0}, *p = line, *sp = NULL;
                size_t n = 0;
                while (n < 6 && (f[n] = strtok_r(n ? NULL : p, " ", &sp)))
                        n++;
                if (n < 6)
                        continue;
                char *w = strtok_r(NULL, " ", &sp);
                while (w && strcmp(w, "-") != 0) /* the optional fields */
                        w = strtok_r(NULL, " ", &sp);
                char *fstype = w ? strtok_r(NULL, " ", &sp) : NULL;
                char *source = fstype ? strtok_r(NULL, " ", &sp) : NULL;
                char *super = source ? strtok_r(NULL, " ", &sp) : NULL;
                if (!super || strcmp(fstype, "cgroup") != 0 || strcmp(f[3], "/") != 0)
                        continue;
                char *so = NULL;
                for (char *o = strtok_r(super, ",", &so); o; o = strtok_r(NULL, ",", &so)) {
                        if (strcmp(o, ctl) != 0)
                                continue;
                        mountinfo_unescape(f[4]);
                        *mp = strdup(f[4]);
                        return *mp ? 0 : -ENOMEM;
                }
        }
        return -ENOENT;
}

/* libcgroup's cgroup_init() costs milliseconds of CPU in every one-shot run (it fills tables of
 * megabytes): the mount point comes from mountinfo (the text of /proc/self/mountinfo, read once
 * by the caller; NULL: none) first, from libcgroup when that finds no whole hierarchy of ctl. */
static int libcgroup_mount_point(const char *ctl, char **mp, rc_err_t *err);

static int v1_mount_point(const char *mountinfo, const char *ctl, char **mp, rc_err_t *err)
{
        _cleanup_free_ char *text = mountinfo ? strdup(mountinfo) : NULL; /* strtok_r's */
        if (text && mountinfo_mount_point(text, ctl, mp) == 0) {
                struct statfs sf;
                if (statfs(*mp, &sf) == 0 && sf.f_type == CGROUP_SUPER_MAGIC)
                        return 0;
                free(*mp);
                *mp = NULL;
        }
        return libcgroup_mount_point(ctl, mp, err);
}

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

/* Which of the controllers a hierarchy's directory holds: the one it was found for, plus any
 * co-mounted with it (seen by a file only that controller has). Fixed per hierarchy, so found
 * once at open rather than probed on every use. */
static unsigned dir_controllers(const char *dir, const char *ctl)
{
        static const struct {
                const char *name, *probe;
                unsigned bit;
        } known[] = {
            {"memory", "memory.limit_in_bytes", CG_HAS_MEMORY},
            {"pids", "pids.max", CG_HAS_PIDS},
            {"cpu", "cpu.shares", CG_HAS_CPU},
            {"cpuacct", "cpuacct.usage", CG_HAS_CPUACCT},
        };
        unsigned has = 0;
        for (size_t k = 0; k < ARRAY_SIZE(known); k++) {
                char probe[1024];
                snprintf(probe, sizeof(probe), "%s/%s", dir, known[k].probe);
                if (strcmp(ctl, known[k].name) == 0 || access(probe, F_OK) == 0)
                        has |= known[k].bit;
        }
        return has;
}

/* Co-mounted controllers (cpu,cpuacct) share one directory: is dir taken already? */
static bool seen(const cg_manager_t *m, const char *dir)
{
        for (int k = 0; k < m->ndirs; k++)
                if (strcmp(m->dirs[k], dir) == 0)
                        return true;
        return false;
}

static int v1_open(cg_manager_t *m, rc_err_t *err)
{
        _cleanup_free_ char *self = NULL, *mountinfo = NULL;
        rc_err_t ignored = {0};
        if (fs_read_file("/proc/self/mountinfo", 1 << 20, &mountinfo, NULL, &ignored) < 0)
                mountinfo = NULL; /* libcgroup finds the mount points then */
        if (fs_read_file("/proc/self/cgroup", 1 << 16, &self, NULL, err) < 0)
                return -ENOTSUP;
        for (size_t i = 0; i < ARRAY_SIZE(v1_controllers); i++) {
                const char *ctl = v1_controllers[i];
                _cleanup_free_ char *mp = NULL, *path = cg_proc_path(self, ctl);
                if (!path)
                        return rc_err_set(err, ENOTSUP, "controller %s is not in /proc/self/cgroup",
                                          ctl);
                int r = v1_mount_point(mountinfo, ctl, &mp, err);
                if (r < 0)
                        return r;
                _cleanup_free_ char *dir = NULL;
                if (asprintf(&dir, "%s%s", mp, strcmp(path, "/") == 0 ? "" : path) < 0)
                        return rc_err_set(err, ENOMEM, "out of memory");
                if (strcmp(path, "/") == 0) {
                        if (geteuid() != 0)
                                return rc_err_set(
                                    err, EPERM,
                                    "runcell runs at the root of the %s hierarchy (%s); it only "
                                    "creates cgroups beneath a delegated one, so start it in one "
                                    "(scripts/cgroup-delegate, docs/CGROUPS.md)",
                                    ctl, mp);
                        /* root at a hierarchy's root: a subtree of its own, <root>/runcell,
                         * made or reused (never leaves at the root itself) */
                        free(dir);
                        if (asprintf(&dir, "%s/runcell", mp) < 0) {
                                dir = NULL;
                                return rc_err_set(err, ENOMEM, "out of memory");
                        }
                        if (seen(m, dir))
                                continue;
                        bool existed = access(dir, F_OK) == 0;
                        if (!m->probe && !existed && mkdir(dir, 0755) < 0 && errno != EEXIST)
                                return rc_err_sys(err, errno, "mkdir %s", dir);
                        size_t l = strlen(m->note);
                        snprintf(m->note + l, sizeof(m->note) - l, "%s%s (%s)",
                                 l ? ", "
                                   : "runcell: started at the root of a cgroup hierarchy; "
                                     "sandboxes go beneath ",
                                 dir,
                                 existed    ? "reused"
                                 : m->probe ? "to be made"
                                            : "made");
                }
                if (seen(m, dir))
                        continue;
                if (!m->probe && access(dir, W_OK) < 0)
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
        for (int i = 0; i < m->ndirs; i++) {
                m->has[i] = dir_controllers(m->dirs[i], m->ctl[i]);
                if (!m->probe)
                        cg_remove_stale(m->dirs[i]);
        }
        return 0;
}

static bool dir_has(const cg_leaf_t *l, int i, unsigned ctl)
{
        return (l->m->has[i] & ctl) != 0;
}

static int v1_set_limits(cg_leaf_t *l, const rc_limits_t *lim, double cpus, rc_err_t *err)
{
        char v[64];
        int r;
        for (int i = 0; i < l->ndirs; i++) {
                if (dir_has(l, i, CG_HAS_MEMORY) && lim->memory_mb > 0) {
                        snprintf(v, sizeof(v), "%lld", (long long)lim->memory_mb << 20);
                        /* memory+swap equal to memory: no swap at all. The kernel keeps
                         * memsw >= memory at every step, so raise memsw first when growing. */
                        r = cg_leaf_write(l, i, "memory.limit_in_bytes", v, err);
                        if (r == -EINVAL && l->m->memsw) {
                                if ((r = cg_leaf_write(l, i, "memory.memsw.limit_in_bytes", v,
                                                       err)) < 0 ||
                                    (r = cg_leaf_write(l, i, "memory.limit_in_bytes", v, err)) < 0)
                                        return r;
                        } else if (r < 0) {
                                return r;
                        } else if (l->m->memsw &&
                                   (r = cg_leaf_write(l, i, "memory.memsw.limit_in_bytes", v,
                                                      err)) < 0) {
                                return r;
                        }
                }
                if (dir_has(l, i, CG_HAS_PIDS) && lim->processes > 0) {
                        snprintf(v, sizeof(v), "%lld", (long long)lim->processes);
                        if ((r = cg_leaf_write(l, i, "pids.max", v, err)) < 0)
                                return r;
                }
                if (dir_has(l, i, CG_HAS_CPU) && cpus > 0) {
                        snprintf(v, sizeof(v), "%lld", (long long)(cpus * 100000));
                        if ((r = cg_leaf_write(l, i, "cpu.cfs_period_us", "100000", err)) < 0 ||
                            (r = cg_leaf_write(l, i, "cpu.cfs_quota_us", v, err)) < 0)
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
                int r = cg_leaf_write(l, i, "cgroup.procs", v, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int v1_stats(cg_leaf_t *l, cg_stats_t *st)
{
        char buf[4096];
        for (int i = 0; i < l->ndirs; i++) {
                if (dir_has(l, i, CG_HAS_CPUACCT) &&
                    cg_leaf_pread(l, i, "cpuacct.usage", buf, sizeof(buf)) == 0)
                        st->cpu_usage_us = cg_parse_value(buf) / 1000;
                if (dir_has(l, i, CG_HAS_MEMORY)) {
                        if (cg_leaf_pread(l, i, "memory.max_usage_in_bytes", buf, sizeof(buf)) == 0)
                                st->memory_peak_bytes = cg_parse_value(buf);
                        if (cg_leaf_pread(l, i, "memory.oom_control", buf, sizeof(buf)) == 0 &&
                            (st->oom_kills = cg_keyed_value(buf, "oom_kill")) >= 0)
                                st->oom_kills -= l->oom_base; /* this sandbox's, not the leaf's */
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

/* Memory still charged to an emptied leaf (page cache its sandboxes read first, dentries)
 * counts against the next sandbox's limit, reclaimable, and in its reported peak: a leaf with
 * more than this is not reused. */
#define V1_REUSE_MAX_CHARGED (1 << 20)

static int v1_reset(cg_leaf_t *l)
{
        char buf[4096];
        for (int i = 0; i < l->ndirs; i++) {
                if (dir_has(l, i, CG_HAS_MEMORY)) {
                        /* Empty: every process of a sandbox is in each of its directories. */
                        if (cg_leaf_read(l, i, "cgroup.procs", buf, sizeof(buf)) < 0 || buf[0])
                                return -EBUSY;
                        if (cg_leaf_read(l, i, "memory.usage_in_bytes", buf, sizeof(buf)) < 0 ||
                            cg_parse_value(buf) > V1_REUSE_MAX_CHARGED)
                                return -E2BIG;
                        /* The peak restarts from what is charged now; OOM kills cannot be reset:
                         * the next figures are counted from here. */
                        if (cg_leaf_pwrite(l, i, "memory.max_usage_in_bytes", "0") < 0 ||
                            cg_leaf_pread(l, i, "memory.oom_control", buf, sizeof(buf)) < 0 ||
                            (l->oom_base = cg_keyed_value(buf, "oom_kill")) < 0)
                                return -EIO;
                }
                if (dir_has(l, i, CG_HAS_CPUACCT) && cg_leaf_pwrite(l, i, "cpuacct.usage", "0") < 0)
                        return -EIO;
        }
        return 0;
}

static int v1_rebase(cg_leaf_t *l)
{
        char buf[4096];
        for (int i = 0; i < l->ndirs; i++) {
                if (dir_has(l, i, CG_HAS_MEMORY) &&
                    (cg_leaf_pwrite(l, i, "memory.max_usage_in_bytes", "0") < 0 ||
                     cg_leaf_pread(l, i, "memory.oom_control", buf, sizeof(buf)) < 0 ||
                     (l->oom_base = cg_keyed_value(buf, "oom_kill")) < 0))
                        return -EIO;
                if (dir_has(l, i, CG_HAS_CPUACCT) && cg_leaf_pwrite(l, i, "cpuacct.usage", "0") < 0)
                        return -EIO;
        }
        return 0;
}

const cg_backend_t cg_backend_v1 = {
    .name = "v1",
    .open = v1_open,
    .set_limits = v1_set_limits,
    .attach = v1_attach,
    .stats = v1_stats,
    .kill = v1_kill,
    .reset = v1_reset,
    .rebase = v1_rebase,
};
