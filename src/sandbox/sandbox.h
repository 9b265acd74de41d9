/* One sandbox = one program run in fresh namespaces on a read-only language root.
 *
 * Parent-side lifecycle: sandbox_prepare() (clone, maps, cgroup, the whole root built; the
 * child then waits) -> sandbox_run() (files, argv, limits; the program is exec'd) -> the caller
 * polls the stdio fds, sandbox_sync_fd() and sandbox_pidfd() in its own loop, calling
 * sandbox_handle_sync() when the sync fd is readable -> sandbox_finish() once the pidfd is
 * readable (init exited) -> sandbox_free(). Preparing needs nothing of the request, so it can
 * happen ahead of it. */
#ifndef RUNCELL_SANDBOX_SANDBOX_H
#define RUNCELL_SANDBOX_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "job/limits.h"
#include "sandbox/cgroup.h"
#include "seccomp/profile.h"
#include "util/err.h"

/* A file to place in /work. Exactly one of data (len bytes) or fd (>= 0, read from offset 0)
 * is the content. path is relative, validated with sb_path_valid(). */
typedef struct sb_file {
        char *path;
        mode_t mode;
        const void *data;
        size_t len;
        int fd;
} sb_file_t;

/* Frees path and closes fd of each entry (not data), then the array. */
void sb_files_free(sb_file_t *files, size_t n);
/* A relative path of 1..8 components, each [A-Za-z0-9._+-@], not "." or "..", not starting
 * with '-' (it would be an option on a command line), <= 200 bytes in all. */
bool sb_path_valid(const char *path);

/* What a sandbox is prepared with, before any request: its root, ids, filter, cgroup. */
typedef struct sb_prep {
        const char *rootfs;   /* absolute path of an unpacked root filesystem */
        const char *hostname; /* default "runcell" */
        uid_t host_uid;       /* the outside ids that uid/gid 0 inside map to */
        gid_t host_gid;
        const seccomp_bpf_t *seccomp; /* installed last before execve; NULL: none */
        cg_leaf_t *cgroup; /* born into it (v2) or moved into it (v1); the caller owns it */
        int64_t disk_mb;   /* size of /work, /tmp, /dev/shm until a run asks otherwise */
} sb_prep_t;

/* What one program run brings to a prepared sandbox. */
typedef struct sb_run {
        char *const *argv;      /* argv[0] without '/' is looked up in envp's PATH */
        char *const *envp;      /* the whole environment of the program */
        const sb_file_t *files; /* placed in /work before the program starts */
        size_t nfiles;
        bool collect;       /* after the program ends, hand /work's files back (sandbox_finish) */
        rc_limits_t limits; /* rlimits and tmpfs sizes; cgroup limits are set on the leaf */
} sb_run_t;

typedef struct sandbox sandbox_t;

typedef struct sb_result {
        bool setup_failed; /* the sandbox, not the program, failed; see err */
        bool exited;       /* the program's end was seen (wait_status valid) */
        int wait_status;
        int64_t start_ns; /* CLOCK_MONOTONIC at the program's fork, and at its reaping */
        int64_t end_ns;
        sb_file_t *files; /* with collect: /work's regular files as fds (owned) */
        size_t nfiles;
} sb_result_t;

/* Create the sandbox up to the point where only the request is missing. On set-up failure
 * returns -errno with err naming the step ("mount /proc: Operation not permitted"). */
int sandbox_prepare(const sb_prep_t *prep, sandbox_t **out, rc_err_t *err);
/* Start the program in a prepared sandbox (once). Returns when it was exec'd, or -errno with
 * err naming the failed step. */
int sandbox_run(sandbox_t *sb, const sb_run_t *run, rc_err_t *err);
int sandbox_stdin_fd(const sandbox_t *sb);  /* write end, non-blocking; -1 once closed */
int sandbox_stdout_fd(const sandbox_t *sb); /* read ends, non-blocking */
int sandbox_stderr_fd(const sandbox_t *sb);
int sandbox_sync_fd(const sandbox_t *sb); /* -1 once init has hung up */
int sandbox_pidfd(const sandbox_t *sb);   /* readable when init (the whole sandbox) is gone */
int64_t sandbox_start_ns(const sandbox_t *sb);
void sandbox_close_stdin(sandbox_t *sb);
/* Read what init sent; call when sandbox_sync_fd() is readable. */
int sandbox_handle_sync(sandbox_t *sb, rc_err_t *err);
/* Deliver a signal to the program (forwarded by init). */
int sandbox_signal(sandbox_t *sb, int sig);
/* Kill everything in the sandbox now (SIGKILL to init tears the pid namespace down). */
void sandbox_kill(sandbox_t *sb);
/* Reap init and fill res; blocks until init is gone (kill first if you cannot wait). */
int sandbox_finish(sandbox_t *sb, sb_result_t *res, rc_err_t *err);
void sb_result_free(sb_result_t *res);
void sandbox_free(sandbox_t *sb);

/* "0 <host_id> 1\n": the single-line id map written to uid_map/gid_map. */
int sb_id_map_line(char *buf, size_t size, unsigned long host_id);

#endif
