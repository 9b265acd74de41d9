/* Shared between the parent (spawn.c) and child (child.c, init.c) sides of the clone. */
#ifndef RUNCELL_SANDBOX_INTERNAL_H
#define RUNCELL_SANDBOX_INTERNAL_H

#include <stdbool.h>

#include "sandbox/mountplan.h"
#include "sandbox/sandbox.h"

/* Everything the child needs, prepared by the parent before the clone: after it the child
 * only reads this (its copy-on-write image) and uses the stack. */
typedef struct sb_child_ctx {
        int sync_fd; /* child end of the socketpair */
        int stdin_fd, stdout_fd, stderr_fd;
        const sb_spec_t *spec;
        const mount_plan_t *plan;
        const char *path_env; /* PATH from spec->envp, for finding argv[0] */
        bool trace;           /* report each step's duration (RUNCELL_TRACE=1) */
} sb_child_ctx_t;

/* The child side: set-up steps, then becomes the sandbox's init. Never returns. */
__attribute__((noreturn)) void sb_child_main(const sb_child_ctx_t *ctx);
/* pid 1 of the sandbox: reaps, forwards signals, reports the program's end, collects files. */
__attribute__((noreturn)) void sb_init_main(const sb_child_ctx_t *ctx, pid_t program,
                                            int64_t start_ns);
/* Child side: place spec->files into the directory workfd. Returns 0 or -errno, with the
 * failing path in what. */
int sb_place_files(int workfd, const sb_file_t *files, size_t n, char *what, size_t what_size);
/* Init side: send every regular file below dirfd (depth-first, no symlinks followed). */
int sb_collect_files(int sync_fd, int dirfd);
/* Child side: bring the loopback interface up. */
int sb_net_lo_up(void);
/* Close every fd >= from except keep1 and keep2 (either may be -1), with no allocation. */
void sb_close_fds_except(int from, int keep1, int keep2);
/* Report a failed step to the parent and _exit. */
__attribute__((noreturn)) void sb_child_fail(int sync_fd, const char *step, int errnum);

#endif
