/* Resource limits through cgroups, behind one small interface with two back-ends (v2 and v1),
 * chosen by what the host offers. runcell only ever creates cgroups beneath the cgroup delegated
 * to it (its own, or on v2 the delegated parent of its leaf; as root at a hierarchy root, a
 * subtree <root>/runcell of its own): never leaves at a hierarchy root, never in a cgroup that
 * holds another process. See docs/CGROUPS.md. */
#ifndef RUNCELL_SANDBOX_CGROUP_H
#define RUNCELL_SANDBOX_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "job/limits.h"
#include "util/err.h"

typedef enum cg_mode {
        CG_MODE_AUTO,  /* v2 if it has the controllers, else v1, else refuse */
        CG_MODE_NONE,  /* rlimit-only: explicitly allowed, for development */
        CG_MODE_PROBE, /* as AUTO, but only find where runcell would go: make, move, enable
                        * nothing (runcell doctor); the manager makes no leaves */
} cg_mode_t;

typedef struct cg_stats {
        int64_t cpu_usage_us;
        int64_t memory_peak_bytes;
        int64_t oom_kills;
} cg_stats_t;

/* A leaf has at most this many directories (one per v1 hierarchy). */
#define CG_LEAF_DIRS_MAX 4

typedef struct cg_manager cg_manager_t;
typedef struct cg_leaf cg_leaf_t;

/* Find the hierarchy and our place in it; check we may create children there. On v2, when
 * runcell is the only process of its delegated cgroup, this moves runcell into a leaf of it. */
int cg_manager_open(cg_mode_t mode, cg_manager_t **out, rc_err_t *err);
void cg_manager_free(cg_manager_t *m);
const char *cg_manager_name(const cg_manager_t *m); /* "v2", "v1" or "none" */
/* Where runcell makes its cgroups (v2: the delegated dir; v1: memory's), for messages. */
const char *cg_manager_base(const cg_manager_t *m);
/* One line saying what runcell made or chose on its own (a subtree of its own as root at a
 * hierarchy root; in probe mode, what it would do), or NULL when there is nothing to say. */
const char *cg_manager_note(const cg_manager_t *m);

/* A leaf for one sandbox, with lim's memory (no swap), processes and a CPU rate of `cpus`
 * cores applied: a spare one (cg_leaf_recycle) or a new one. NULL *out (and 0) in "none"
 * mode. */
int cg_leaf_create(cg_manager_t *m, const rc_limits_t *lim, double cpus, cg_leaf_t **out,
                   rc_err_t *err);
/* Leaves are named rc-<owner pid>-<seq>; the next free seq of this process's leaves. */
unsigned cg_manager_next_seq(cg_manager_t *m);
/* cg_leaf_create with the name given: a helper process makes leaves for the runcell (owner)
 * that forked it, which names them, so they read as that runcell's. */
int cg_leaf_create_named(cg_manager_t *m, pid_t owner, unsigned seq, const rc_limits_t *lim,
                         double cpus, cg_leaf_t **out, rc_err_t *err);
/* Take over the leaf rc-<owner>-<seq> that another process made with lim and cpus (lim NULL:
 * not known), with nfds of its directories' fds if given (stolen). NULL *out in "none"
 * mode. */
int cg_leaf_adopt(cg_manager_t *m, pid_t owner, unsigned seq, const rc_limits_t *lim, double cpus,
                  int *fds, int nfds, cg_leaf_t **out, rc_err_t *err);
/* A spare leaf (emptied and reset by cg_leaf_recycle), or NULL. */
cg_leaf_t *cg_leaf_spare(cg_manager_t *m);
unsigned cg_leaf_seq(const cg_leaf_t *l);
/* The leaf's directory fds (opened if need be; still the leaf's): how many, or -errno. */
int cg_leaf_dir_fds(cg_leaf_t *l, int *fds, int max);
/* Close the directory fds and the counter files the leaf holds (opened again when needed). */
void cg_leaf_close_fds(cg_leaf_t *l);
/* Change the leaf's limits (a prepared sandbox gets the request's limits this way); writes
 * nothing when they are the ones it has. */
int cg_leaf_set_limits(cg_leaf_t *l, const rc_limits_t *lim, double cpus, rc_err_t *err);
/* v2: a directory fd for clone3(CLONE_INTO_CGROUP); -1 when the process must be attached. */
int cg_leaf_clone_fd(cg_leaf_t *l);
/* Move pid (a stopped-at-birth sandbox child) into the leaf. No-op after CLONE_INTO_CGROUP. */
int cg_leaf_attach(cg_leaf_t *l, pid_t pid, rc_err_t *err);
int cg_leaf_stats(cg_leaf_t *l, cg_stats_t *st);
/* The sandbox in l stays for another run: cg_leaf_stats counts from now on (CPU, memory peak,
 * OOM kills). 0 for NULL; -ENOTSUP where the back-end cannot (cgroup v2 before Linux 6.12,
 * whose memory.peak cannot be reset), and the sandbox is then not to be reused. */
int cg_leaf_rebase(cg_leaf_t *l);
/* False when its manager saw memory.peak read-only (cgroup v2 before Linux 6.12) or a rebase
 * of one of its leaves was refused (-ENOTSUP): keeping a sandbox for another run would only
 * cost a sandbox. True for NULL. */
bool cg_leaf_rebasable(const cg_leaf_t *l);
/* SIGKILL everything in the leaf. */
void cg_leaf_kill(cg_leaf_t *l);
/* Kill what is left, wait until empty (bounded), remove the directories; accepts NULL. */
void cg_leaf_destroy(cg_leaf_t *l);
/* Free l without touching its directories (another process adopted the leaf); accepts NULL. */
void cg_leaf_forget(cg_leaf_t *l);
/* The sandbox in l is gone: keep the leaf for the next one when the back-end can make it as
 * good as new (v1: nothing left in it, little memory still charged to it, counters reset;
 * see docs/CGROUPS.md), else destroy it. True when kept. Accepts NULL. */
bool cg_leaf_recycle(cg_leaf_t *l);

/* Parsing helpers, exposed for unit tests. */
/* From /proc/self/cgroup text: the path of a v1 controller ("memory") or, with ctl NULL, the
 * v2 path ("0::/x"). Heap string or NULL. */
char *cg_proc_path(const char *proc_cgroup, const char *ctl);
/* "max" or a number from a cgroupfs file's text. */
int64_t cg_parse_value(const char *text);
/* The value of `key` in a flat keyed file ("oom_kill 3\n..."), -1 when absent. */
int64_t cg_keyed_value(const char *text, const char *key);

#endif
