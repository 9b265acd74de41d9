/* Shared between the parent (spawn.c) and child (child.c, init.c) sides of the clone. */
#ifndef RUNCELL_SANDBOX_INTERNAL_H
#define RUNCELL_SANDBOX_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "sandbox/mountplan.h"
#include "sandbox/sandbox.h"
#include "sandbox/sync.h"
#include "util/buf.h"

/* Everything the child needs to prepare, made by the parent before the clone: after it the
 * child only reads this (its copy-on-write image) and uses the stack. */
typedef struct sb_child_ctx {
        int sync_fd; /* child end of the socketpair */
        int stdin_fd, stdout_fd, stderr_fd;
        int attach_fd; /* v1: the parent writes the outcome of moving us into our leaf; -1: none */
        const sb_prep_t *prep;
        const mount_plan_t *plan;
        bool trace; /* report each step's duration (RUNCELL_TRACE=1) */
} sb_child_ctx_t;

#define SB_REQ_ARGS_MAX  4096
#define SB_REQ_ENV_MAX   1024
#define SB_REQ_FILES_MAX 4096

/* A run request as the child sees it: decoded in place from the parent's request memfd
 * (mapped), plus the files that came as fds. Static storage in the child: no allocation. */
typedef struct sb_child_req {
        char *argv[SB_REQ_ARGS_MAX + 1];
        char *envp[SB_REQ_ENV_MAX + 1];
        const char *path_env; /* PATH from envp, for finding argv[0] */
        bool collect;
        bool keep;                               /* sb_run_t.keep */
        const char *outputs[SB_OUTPUTS_MAX + 1]; /* patterns; noutputs > 0: hand these back */
        size_t noutputs;
        rc_limits_t limits;
        uint16_t tty_rows, tty_cols; /* 0: stdio are the pipes */
        sb_file_t files[SB_REQ_FILES_MAX];
        char fd_paths[SB_REQ_FILES_MAX][SB_MSG_PATH_BYTES];
        size_t nfiles;
} sb_child_req_t;

/* Parent: serialise argv, envp, limits, collect and the in-memory files of run (fd files go
 * as SB_MSG_FILE messages) into out. */
int sb_req_encode(const sb_run_t *run, buf_t *out);
/* Child: decode data (len bytes, kept mapped) into req, appending to req->files. Returns 0 or
 * -EBADMSG / -E2BIG. */
int sb_req_decode(char *data, size_t len, sb_child_req_t *req);

/* The child side: set-up steps, then becomes the sandbox's init. Never returns. */
__attribute__((noreturn)) void sb_child_main(const sb_child_ctx_t *ctx);
/* pid 1 of the sandbox: reaps, forwards signals, reports the program's end, collects files
 * (req->collect, or req->outputs). Returns only after a request with keep whose sandbox is
 * reset (EXITED sent); exits otherwise. */
void sb_init_main(const sb_child_ctx_t *ctx, pid_t program, const sb_child_req_t *req);
/* Init side, no process but init left: put the sandbox back as a request found it (reset.c).
 * Returns 0 or -errno (then the sandbox is not to be used again). */
int sb_reset(void);
/* Init side, before the first request: remember what sb_reset restores. */
void sb_reset_remember(void);
/* Child side: place files into the directory workfd. Returns 0 or -errno, with the failing
 * path in what. */
int sb_place_files(int workfd, const sb_file_t *files, size_t n, char *what, size_t what_size);
/* Init side: send every regular file below dirfd (depth-first, no symlinks followed). */
int sb_collect_files(int sync_fd, int dirfd);
/* Init side: send the entries below dirfd (-1: /work) that patterns (n of them, valid) match,
 * as SB_MSG_OUTPUT, at most max of them: -EMFILE when more matched (the first max were sent). */
int sb_collect_outputs(int sync_fd, int dirfd, const char *const *patterns, size_t n, long max);
/* Child side: bring the loopback interface up. */
int sb_net_lo_up(void);
/* Close every fd >= from except keep1 and keep2 (either may be -1), with no allocation. */
void sb_close_fds_except(int from, int keep1, int keep2);
/* Close every fd >= from except the n in keep (sorted or not, -1 ignored). */
void sb_close_fds_keep(int from, const int *keep, int n);
/* Report a failed step to the parent and _exit. */
__attribute__((noreturn)) void sb_child_fail(int sync_fd, const char *step, int errnum);

#endif
