/* The mounts that make up a sandbox's root, computed by the parent before the clone (pure, so
 * unit-testable) and carried out by the child in order. Fixed-size storage: the child must
 * not allocate. Targets are relative to the new root. */
#ifndef RUNCELL_SANDBOX_MOUNTPLAN_H
#define RUNCELL_SANDBOX_MOUNTPLAN_H

#include <stddef.h>

#include "job/limits.h"
#include "util/err.h"

typedef enum mount_kind {
        MOUNT_OP_TMPFS,      /* tmpfs at target with data options */
        MOUNT_OP_PROC,       /* fresh procfs of the sandbox's pid namespace */
        MOUNT_OP_BIND_DEV,   /* bind a host device node (source) onto a new empty file */
        MOUNT_OP_DEVPTS,     /* a new devpts instance */
        MOUNT_OP_SYMLINK,    /* symlink target -> source */
        MOUNT_OP_REMOUNT_RO, /* make an earlier tmpfs read-only */
        MOUNT_OP_MASK_FILE,  /* hide a /proc file under /dev/null (skipped if absent) */
        MOUNT_OP_MASK_DIR,   /* hide a /proc directory under an empty read-only tmpfs */
        MOUNT_OP_RO_BIND,    /* make a /proc subtree read-only (skipped if absent) */
        MOUNT_OP_MQUEUE,     /* the ipc namespace's POSIX message queues (skipped if absent) */
        MOUNT_OP_WORK_RO,    /* bind the plan's work_source (a host directory) read-only */
} mount_kind_t;

typedef struct mount_op {
        mount_kind_t kind;
        unsigned long flags;
        char target[64];
        char source[64];
        char data[128];
} mount_op_t;

#define MOUNT_PLAN_MAX 64

typedef struct mount_plan {
        mount_op_t ops[MOUNT_PLAN_MAX];
        size_t n;
        char work_source[4096]; /* MOUNT_OP_WORK_RO's source: longer than an op's source */
} mount_plan_t;

/* The standard sandbox layout: /work and /tmp tmpfs sized by lim->disk_mb (with an inode cap)
 * or, with work_dir (an absolute host path; NULL: none), /work that directory bound read-only
 * (a function's artifact: nothing copied, nothing a program can change),
 * /proc with the usual kernel-information files masked and its tunables read-only, a minimal
 * /dev (null zero full random urandom tty, pts, shm, fd links), /dev read-only once populated. */
int mount_plan_build(mount_plan_t *plan, const rc_limits_t *lim, const char *work_dir,
                     rc_err_t *err);
const char *mount_kind_name(mount_kind_t kind);
/* The inodes of a tmpfs of mb MiB (/work, /tmp, /dev/shm): 256 per MiB, at least 1024. */
long long mount_tmpfs_inodes(long long mb);
/* The tmpfs options for a disk budget of mb megabytes: "size=..m,nr_inodes=..,mode=..". */
void mount_tmpfs_data(char *buf, size_t size, long long mb, const char *mode);

#endif
