/* One sandbox = one program run in fresh namespaces on a read-only language root.
 *
 * Parent-side lifecycle: sandbox_prepare() (clone, maps, cgroup, the whole root built; the
 * child then waits), or sandbox_spawn() + sandbox_attach() (the same without waiting for the
 * child; possibly in a helper process that hands the sandbox over: sandbox_export() /
 * sandbox_adopt()) -> sandbox_start() (files, argv, limits) -> the caller polls the stdio fds,
 * sandbox_sync_fd() and sandbox_pidfd() in its own loop, calling sandbox_handle_sync() when the
 * sync fd is readable (STARTED: the program was exec'd) -> sandbox_finish() once the pidfd is
 * readable (init exited) or sandbox_program_done() -> sandbox_free() (once the pidfd is
 * readable, so as not to wait). Preparing needs nothing of the request, so it can happen ahead
 * of it. */
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
/* An empty directory beside each root filesystem (rootfs/<sha> and rootfs/.empty): the second
 * lower layer of the sandbox's read-only overlay of its root (child.c). */
#define SB_ROOTFS_EMPTY_DIR ".empty"

typedef struct sb_prep {
        const char *rootfs;   /* absolute path of an unpacked root filesystem, beside an empty
                                 SB_ROOTFS_EMPTY_DIR (else it is bound, not overlaid) */
        const char *hostname; /* default "runcell" */
        uid_t host_uid;       /* the outside ids that uid/gid 0 inside map to */
        gid_t host_gid;
        /* > 0 (root): host_uid/host_gid are the first of id_count ids, and each sandbox takes
         * one of its own (ids.h), which also owns its user namespace */
        uint32_t id_count;
        const seccomp_bpf_t *seccomp; /* installed last before execve; NULL: none */
        cg_leaf_t *cgroup; /* born into it (v2) or moved into it (v1); the caller owns it */
        int64_t disk_mb;   /* size of /work, /tmp, /dev/shm until a run asks otherwise */
        /* an absolute host directory bound read-only at /work instead of a tmpfs (a function's
         * artifact); the run then places no files there, and a reset leaves it alone; NULL:
         * none */
        const char *work_dir;
        /* One request only, never kept (a one-shot run's sandbox): init takes no note of what a
         * reset would compare with (sb_reset_remember's work, off a pooled sandbox's run but on
         * this one's), and a request with keep is refused. */
        bool once;
} sb_prep_t;

/* What one program run brings to a prepared sandbox. */
typedef struct sb_run {
        char *const *argv;      /* argv[0] without '/' is looked up in envp's PATH */
        char *const *envp;      /* the whole environment of the program */
        const sb_file_t *files; /* placed in /work before the program starts */
        size_t nfiles;
        bool collect; /* after the program ends, hand /work's files back (sandbox_finish) */
        /* instead of collect: hand back the entries of /work that these patterns match
         * (util/glob.h; NULL-terminated, at most SB_OUTPUTS_MAX; each valid), at most
         * limits.outputs_count of them (sb_result_t.files, files_over) */
        char *const *outputs;
        rc_limits_t limits; /* rlimits and tmpfs sizes; cgroup limits are set on the leaf */
        /* > 0 both: the program's stdin, stdout and stderr are a pseudo-terminal of the
         * sandbox's own devpts, this size, the program's controlling terminal; its master comes
         * back with STARTED (sandbox_tty_fd). The stdio pipes then carry nothing. */
        uint16_t tty_rows, tty_cols;
        /* After the program's end (and the files handed back), init makes the sandbox as it
         * was before the request (sb_reset: every process gone, /work, /tmp, /dev/shm and
         * /dev/mqueue emptied, SysV IPC objects removed) and waits for another request of the
         * same owner (sandbox_recycle); EXITED comes once that is done, READY after it. */
        bool keep;
} sb_run_t;

typedef struct sandbox sandbox_t;

/* Whether run fits what a sandbox request and execve can carry: at most 4096 arguments, 1024
 * environment variables and 4096 files; no argument or variable of 128 KiB or more; arguments
 * and environment together within execve's space for the stack limit of run->limits (a
 * quarter of it, at most 6 MiB, at least 128 KiB). -E2BIG with err saying what is over: the
 * request's own mistake, to check before a sandbox is asked (sandbox_start fails too). */
int sandbox_run_check(const sb_run_t *run, rc_err_t *err);

typedef struct sb_result {
        bool setup_failed; /* the sandbox, not the program, failed; see err */
        bool exited;       /* the program's end was seen (wait_status valid) */
        int wait_status;
        int64_t start_ns; /* CLOCK_MONOTONIC at the program's fork, and at its reaping */
        int64_t end_ns;
        /* with collect: /work's regular files as fds (owned); with outputs: the entries
         * matched, a regular file as its fd, anything else (a symlink, a FIFO) with fd -1 and
         * mode 0; a path there is any bytes but NUL (checked: relative, no "." or ".."
         * component, at most SB_PATH_MAX bytes) */
        sb_file_t *files;
        size_t nfiles;
        /* with collect: /work held more than SB_COLLECT_MAX regular files, and files has only
         * the first of them (what the program left is over the bound: its own doing) */
        bool files_over;
} sb_result_t;

#define SB_COLLECT_MAX 4096
#define SB_OUTPUTS_MAX 16 /* patterns of one request */
/* Whether path is one init may hand back as an output: relative, 1..SB_PATH_MAX bytes, no
 * empty, "." or ".." component (any other byte but NUL allowed). */
bool sb_output_path_ok(const char *path);

/* Create the sandbox up to the point where only the request is missing. On set-up failure
 * returns -errno with err naming the step ("mount /proc: Operation not permitted"). */
int sandbox_prepare(const sb_prep_t *prep, sandbox_t **out, rc_err_t *err);
/* sandbox_prepare up to releasing the child (clone, id maps, GO), without waiting for it to be
 * ready: it goes on building its root while the caller does something else. A set-up step that
 * fails then shows as an ERROR after sandbox_start (sandbox_handle_sync). On cgroup v1 the
 * child waits, before its cgroup namespace, for sandbox_attach(), which the caller owes it. */
int sandbox_spawn(const sb_prep_t *prep, sandbox_t **out, rc_err_t *err);
/* Move a spawned sandbox into its cgroup leaf (v1; nothing to do on v2, where it was born
 * there) and tell it the outcome. Waits for an RCU grace period. */
int sandbox_attach(sandbox_t *sb, rc_err_t *err);
/* Hand a sandbox over to another process: its init's pid and fds (pidfd, sync socket, stdin,
 * stdout, stderr, in that order). sb keeps only what sandbox_attach needs; free it after. */
#define SB_EXPORT_FDS 5
void sandbox_export(sandbox_t *sb, pid_t *pid, int fds[SB_EXPORT_FDS]);
/* Take over an exported sandbox (the fds are stolen). It is not our child: its parent reaps it,
 * and we wait for its end through the pidfd. */
int sandbox_adopt(pid_t pid, int fds[SB_EXPORT_FDS], sandbox_t **out, rc_err_t *err);
/* An adopted sandbox lent by a runcell warm (job/warm.h), done with: kill it and free sb without
 * waiting for its end, which the lender watches for (it reaps init and removes the leaf). */
void sandbox_release(sandbox_t *sb);
/* Send the request (once) to a prepared or spawned sandbox without waiting: STARTED, or ERROR
 * naming the step that failed, comes through sandbox_handle_sync(). */
int sandbox_start(sandbox_t *sb, const sb_run_t *run, rc_err_t *err);
/* The child has built its root and waits for a request (READY seen, or there now). */
bool sandbox_ready(sandbox_t *sb);
/* For a recycled sandbox, whose init resets it after its EXITED and then says READY: 1 ready,
 * 0 not yet (wait for sandbox_sync_fd() to be readable), -1 never (init gone: its reset failed,
 * or it was killed). Never blocks. */
int sandbox_await_ready(sandbox_t *sb);
/* The program was exec'd (STARTED seen; sandbox_start_ns() is its start). */
bool sandbox_started(const sandbox_t *sb);
/* sandbox_start, then wait until the program was exec'd, or -errno with err naming the failed
 * step. */
int sandbox_run(sandbox_t *sb, const sb_run_t *run, rc_err_t *err);
int sandbox_stdin_fd(const sandbox_t *sb);  /* write end, non-blocking; -1 once closed */
int sandbox_stdout_fd(const sandbox_t *sb); /* read ends, non-blocking */
int sandbox_stderr_fd(const sandbox_t *sb);
int sandbox_sync_fd(const sandbox_t *sb); /* -1 once init has hung up */
/* With a tty run, once started: the terminal's master, non-blocking (read: the program's output;
 * write: its input); -1 before STARTED or without a tty. Stays the sandbox's. */
int sandbox_tty_fd(const sandbox_t *sb);
/* Set the terminal's size (the kernel sends SIGWINCH to its foreground process group). */
int sandbox_tty_resize(sandbox_t *sb, uint16_t rows, uint16_t cols);
int sandbox_pidfd(const sandbox_t *sb); /* readable when init (the whole sandbox) is gone */
int64_t sandbox_start_ns(const sandbox_t *sb);
void sandbox_close_stdin(sandbox_t *sb);
/* Read what init sent; call when sandbox_sync_fd() is readable. An ERROR (a set-up step failed)
 * is returned as -errno with err naming the step. */
int sandbox_handle_sync(sandbox_t *sb, rc_err_t *err);
/* Deliver a signal to the program (forwarded by init). */
int sandbox_signal(sandbox_t *sb, int sig);
/* Kill everything in the sandbox now (SIGKILL to init tears the pid namespace down). */
void sandbox_kill(sandbox_t *sb);
/* Init has reported the program's end (EXITED) and, if asked, handed /work's files back: all
 * that is left is its own exit, which takes the sandbox's namespaces down. */
bool sandbox_program_done(const sandbox_t *sb);
/* After a run with keep whose program is done (its EXITED seen) and whose init is still
 * there: make sb ready for another sandbox_start, which makes new stdio pipes (the program's
 * ends go with the request: a sandbox waiting in a pool holds none). Init resets the sandbox after
 * its EXITED: send the next request once sandbox_await_ready() says 1. -ESRCH if the sandbox cannot
 * take another run (not kept, init gone or hung up); sb is then only good for sandbox_free. */
int sandbox_recycle(sandbox_t *sb, rc_err_t *err);
/* Fill res. Unless sandbox_program_done(), first reads what init still sends and waits until it
 * is gone (kill first if you cannot wait); else returns at once, init maybe still exiting
 * (sandbox_free() waits for that). */
int sandbox_finish(sandbox_t *sb, sb_result_t *res, rc_err_t *err);
void sb_result_free(sb_result_t *res);
/* Close everything but the pidfd: for a sandbox whose program is done, while init exits. */
void sandbox_close_io(sandbox_t *sb);
void sandbox_free(sandbox_t *sb);

/* "0 <host_id> 1\n": the single-line id map written to uid_map/gid_map. */
int sb_id_map_line(char *buf, size_t size, unsigned long host_id);

#endif
