/* The cgroup back-ends' shared state and vtable (crun's cgroup_manager is the model). */
#ifndef RUNCELL_SANDBOX_CGROUP_INTERNAL_H
#define RUNCELL_SANDBOX_CGROUP_INTERNAL_H

#include "sandbox/cgroup.h"

#define CG_DIRS_MAX 4

typedef struct cg_backend {
        const char *name;
        int (*open)(cg_manager_t *m, rc_err_t *err);
        int (*leaf_init)(cg_leaf_t *l, rc_err_t *err); /* after the directories exist */
        int (*set_limits)(cg_leaf_t *l, const rc_limits_t *lim, double cpus, rc_err_t *err);
        int (*attach)(cg_leaf_t *l, pid_t pid, rc_err_t *err);
        int (*stats)(cg_leaf_t *l, cg_stats_t *st);
        void (*kill)(cg_leaf_t *l);
} cg_backend_t;

struct cg_manager {
        const cg_backend_t *be;
        /* v2: dirs[0] is the delegated cgroup. v1: one base dir per hierarchy, in the order of
         * ctl[] (memory first); co-mounted controllers share one entry. */
        char *dirs[CG_DIRS_MAX];
        const char *ctl[CG_DIRS_MAX];
        int ndirs;
        bool memsw;   /* v1: swap accounting (memory.memsw.*) is there */
        bool swapmax; /* v2: memory.swap.max is there */
        unsigned seq;
};

struct cg_leaf {
        cg_manager_t *m;
        char *dirs[CG_DIRS_MAX];
        int ndirs;
        int dirfd; /* v2: for CLONE_INTO_CGROUP */
};

extern const cg_backend_t cg_backend_v1;
extern const cg_backend_t cg_backend_v2;

/* Write a value into dir/file. */
int cg_write(const char *dir, const char *file, const char *value, rc_err_t *err);
/* Read dir/file (small) into buf; returns 0 or -errno. */
int cg_read(const char *dir, const char *file, char *buf, size_t size);
/* Remove leaves named rc-<pid>-* under dir whose pid is gone (a runcell that was SIGKILLed). */
void cg_remove_stale(const char *dir);
/* Kill every pid listed in dir/cgroup.procs; returns how many were listed. */
int cg_kill_listed(const char *dir);

#endif
