/* The cgroup back-ends' shared state and vtable (crun's cgroup_manager is the model). */
#ifndef RUNCELL_SANDBOX_CGROUP_INTERNAL_H
#define RUNCELL_SANDBOX_CGROUP_INTERNAL_H

#include "sandbox/cgroup.h"

#define CG_DIRS_MAX CG_LEAF_DIRS_MAX
/* Empty leaves kept for the next sandbox (v1), at most. */
#define CG_SPARE_MAX 16

enum { CG_HAS_MEMORY = 1, CG_HAS_PIDS = 2, CG_HAS_CPU = 4, CG_HAS_CPUACCT = 8 };

typedef struct cg_backend {
        const char *name;
        int (*open)(cg_manager_t *m, rc_err_t *err);
        int (*set_limits)(cg_leaf_t *l, const rc_limits_t *lim, double cpus, rc_err_t *err);
        /* NULL: a sandbox is born in its leaf (clone3 CLONE_INTO_CGROUP with its dir fd) */
        int (*attach)(cg_leaf_t *l, pid_t pid, rc_err_t *err);
        int (*stats)(cg_leaf_t *l, cg_stats_t *st);
        void (*kill)(cg_leaf_t *l);
        /* Make an emptied leaf fit for another sandbox: nothing left in it, counters back to
         * zero or taken as the base the next figures are read from. NULL: leaves are not
         * reused. */
        int (*reset)(cg_leaf_t *l);
        /* A sandbox stays in its leaf for another run (sb_run_t.keep): the next figures are
         * counted from now, with init still in the leaf. -ENOTSUP: they cannot be. */
        int (*rebase)(cg_leaf_t *l);
} cg_backend_t;

struct cg_manager {
        const cg_backend_t *be;
        /* v2: dirs[0] is the delegated cgroup. v1: one base dir per hierarchy, in the order of
         * ctl[] (memory first); co-mounted controllers share one entry. */
        char *dirs[CG_DIRS_MAX];
        const char *ctl[CG_DIRS_MAX];
        int ndirs;
        unsigned has[CG_DIRS_MAX]; /* v1: CG_HAS_* of the controllers in each dir */
        bool memsw;                /* v1: swap accounting (memory.memsw.*) is there */
        bool swapmax;              /* v2: memory.swap.max is there */
        unsigned seq;
        bool no_rebase; /* memory.peak read-only, or a rebase refused: leaves serve one run */
        bool probe;     /* CG_MODE_PROBE: find the place, change nothing */
        char note[600]; /* what runcell made or chose, to say in one line; "" if nothing */
        cg_leaf_t *spare[CG_SPARE_MAX]; /* emptied leaves, reset, for the next sandboxes */
        int nspare;
};

#define CG_OPEN_FILES_MAX 4

struct cg_leaf {
        cg_manager_t *m;
        pid_t owner; /* named rc-<owner>-<seq> */
        unsigned seq;
        char *dirs[CG_DIRS_MAX];
        int fds[CG_DIRS_MAX]; /* the directories, opened when first needed; -1 until then */
        int ndirs;
        /* The limits last written, so that applying the same ones again writes nothing. */
        bool applied;
        int64_t memory_mb, processes;
        double cpus;
        int64_t oom_base; /* OOM kills counted before this sandbox (v1 reuse) or run (rebase) */
        int64_t cpu_base; /* v2 rebase: CPU microseconds used before this run */
        int peak_fd;      /* v2 rebase: memory.peak, reset through this fd; -1: none */
        /* Files read or written for every run (statistics, rebase), kept open: cg_leaf_pread,
         * cg_leaf_pwrite. file points to a string constant of the caller's. */
        struct {
                int dir;
                const char *file;
                int fd;
        } open_files[CG_OPEN_FILES_MAX];
        int nopen_files;
};

extern const cg_backend_t cg_backend_v1;
extern const cg_backend_t cg_backend_v2;

/* Write a value into dir/file. */
int cg_write(const char *dir, const char *file, const char *value, rc_err_t *err);
/* Read dir/file (small) into buf; returns 0 or -errno. */
int cg_read(const char *dir, const char *file, char *buf, size_t size);
/* The same for a file of the leaf's i-th directory, opened relative to its fd (no walk down
 * the whole cgroupfs path each time). */
int cg_leaf_fd(cg_leaf_t *l, int i);
int cg_leaf_write(cg_leaf_t *l, int i, const char *file, const char *value, rc_err_t *err);
int cg_leaf_read(cg_leaf_t *l, int i, const char *file, char *buf, size_t size);
/* The same through a file kept open for the leaf's lifetime (for what every run reads or writes;
 * at most CG_OPEN_FILES_MAX of them, then as cg_leaf_read/cg_leaf_write): one system call, not
 * three. file must be a string constant. */
int cg_leaf_pread(cg_leaf_t *l, int i, const char *file, char *buf, size_t size);
int cg_leaf_pwrite(cg_leaf_t *l, int i, const char *file, const char *value);
/* Remove leaves named rc-<pid>-* under dir whose pid is gone (a runcell that was SIGKILLed). */
void cg_remove_stale(const char *dir);
/* Kill every pid listed in dir/cgroup.procs; returns how many were listed. */
int cg_kill_listed(const char *dir);

#endif
