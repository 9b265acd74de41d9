/* A job: one program in one language, compiled (if the toolchain says so) and run, each stage
 * in a fresh sandbox. The CLI and the server both describe work as a job and learn about its
 * progress through the same callbacks. */
#ifndef RUNCELL_JOB_JOB_H
#define RUNCELL_JOB_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "job/buildcache.h"
#include "job/evloop.h"
#include "job/limits.h"
#include "job/pool.h"
#include "job/preparer.h"
#include "sandbox/cgroup.h"
#include "seccomp/profile.h"
#include "toolchain/toolchain.h"
#include "util/buf.h"
#include "util/err.h"

#define JOB_ENV_MAX  64               /* variables a request may add to the environment */
#define JOB_TTY_TERM "xterm-256color" /* a tty run's TERM unless the request gives one */

typedef enum stage_kind { STAGE_COMPILE, STAGE_RUN } stage_kind_t;
/* STREAM_TTY: a run stage on a terminal (job_spec.tty_rows): stdout and stderr are one. */
typedef enum stream_kind { STREAM_STDOUT, STREAM_STDERR, STREAM_TTY } stream_kind_t;

typedef enum stage_status {
        STATUS_OK,
        STATUS_COMPILE_ERROR,
        STATUS_RUNTIME_ERROR,
        STATUS_TIME_LIMIT,
        STATUS_MEMORY_LIMIT,
        STATUS_OUTPUT_LIMIT,
        STATUS_KILLED,
        STATUS_INTERNAL_ERROR,
} stage_status_t;

/* A file a run asked back ("outputs"), read from its sandbox's /work after the program ended
 * (job/outputs.h). */
typedef struct job_output_file {
        char *name;          /* relative to /work, as the program named it (any bytes but NUL) */
        int64_t size;        /* bytes; -1 when not a regular file */
        int mode;            /* permission bits; -1 when not a regular file */
        char *data;          /* the content (size bytes); NULL when skipped */
        const char *skipped; /* why there is no content: "too_large", "total_limit",
                                "not_regular", "bad_name", "unreadable"; NULL: none */
} job_output_file_t;

typedef struct stage_result {
        bool present;
        stage_status_t status;
        int exit_code;          /* -1 when the program did not exit normally */
        int signal;             /* 0 when not killed by a signal */
        const char *limit_kind; /* time_limit: "wall" or "cpu"; NULL otherwise */
        buf_t out, err;         /* captured output (when job_spec.capture); a tty's in out */
        bool truncated;         /* output was cut at the output limit */
        int64_t wall_ms;
        int64_t cpu_ms;    /* from the cgroup; -1 when unknown */
        int64_t memory_kb; /* peak, from the cgroup; -1 when unknown */
        int64_t setup_us;  /* from the stage's start to its program's exec */
        bool cached;       /* a compile stage taken from the build cache: nothing ran */
        char error[512];   /* internal_error: which step failed */
        /* the run stage of a job with outputs: what came back, in the order of their names */
        bool outputs;
        job_output_file_t *files;
        size_t nfiles;
        bool files_truncated; /* some were left out (skipped, or over outputs_count) */
} stage_result_t;

typedef struct job_input_file {
        const char *name; /* relative path in /work */
        const char *data;
        size_t len;
        bool executable;
} job_input_file_t;

typedef struct job_callbacks {
        void (*stage_start)(void *ud, stage_kind_t stage);
        void (*output)(void *ud, stage_kind_t stage, stream_kind_t stream, const char *data,
                       size_t len);
        void (*stage_end)(void *ud, stage_kind_t stage, const stage_result_t *res);
        void (*done)(void *ud); /* the job is over: job_result() holds everything */
        void *ud;
} job_callbacks_t;

/* A compile stage's result, /work's files as it left them, kept to run several times (a judge's
 * tests): job_take_build() after a compile_only job, then job_spec.build of each run. The files
 * are fds of the compile sandbox's tmpfs, read with explicit offsets, so any number of runs may
 * copy them at once. */
typedef struct job_build {
        sb_file_t *files;
        size_t nfiles;
} job_build_t;

typedef struct job_spec {
        const toolchain_t *tc;
        const char *rootfs;            /* unpacked root filesystem */
        const job_input_file_t *files; /* files[0] is the entry point */
        size_t nfiles;
        const char *stdin_data; /* given to the run stage, then EOF */
        size_t stdin_len;
        char *const *args;            /* appended to the run command */
        char *const *env;             /* "KEY=value" over the toolchain's, run stage; NULL: none */
        char *const *command;         /* replaces the toolchain's run command; NULL: keep it */
        char *const *compile_options; /* words for the compile template's "{options}" (checked
                                       * by engine/flags.h); NULL: none */
        rc_limits_t compile_limits;   /* fully filled in (limits_fill_defaults) */
        rc_limits_t run_limits;
        const seccomp_bpf_t *seccomp; /* the toolchain's profile, compiled */
        cg_manager_t *cgroups;        /* where each stage gets its cgroup leaf */
        double cpus;                  /* CPU rate per stage, in cores (cgroup quota) */
        job_pool_t *pool;             /* prepared sandboxes to take from; NULL: none */
        preparer_t *preparer;         /* prepares sandboxes off this thread; NULL: in-process */
        uid_t host_uid; /* the sandbox's outside ids, or the first of id_count (sb_prep_t) */
        gid_t host_gid;
        uint32_t id_count;
        bool capture;     /* keep stdout/stderr in the results */
        bool interactive; /* stdin stays open for job_write_stdin() after stdin_data */
        /* > 0 both: the run stage (not the compile stage) runs on a pseudo-terminal of this size:
         * its output is STREAM_TTY, stdin goes to the terminal, and the end of stdin is the
         * terminal's EOF character (^D: end of file to a program reading a line at a time) */
        uint16_t tty_rows, tty_cols; /* (the environment gets TERM=JOB_TTY_TERM unless it has
                                      * a TERM) */
        int cancel_fd;               /* readable = kill the job now (verdict "killed"); -1: none */
        bool compile_only;           /* end after a successful compile stage (job_take_build) */
        bool build_aside; /* with compile_only: the build never goes into a run stage's /work (a
                           * function's artifact, bounded by its caller), so the run stage's
                           * disk limit does not bound what the compile stage leaves */
        const job_build_t *build; /* compiled already: no compile stage, the run stage gets
                                   * these files (borrowed: must outlive the job) */
        /* with build (and no files in it, no extra): the run stage's /work is this host
         * directory, bound read-only (a function's artifact: nothing is copied); such sandboxes
         * are made for the job (or kept in its lane), never taken from the pool */
        const char *work_dir;
        const job_input_file_t *extra; /* with build: more files for the run stage (copied) */
        size_t nextra;
        /* patterns of the files to hand back after the run stage (util/glob.h), at most
         * SB_OUTPUTS_MAX, NULL-terminated (copied); NULL: none. Bounded by run_limits'
         * outputs_count, outputs_file_bytes and outputs_total_bytes. */
        char *const *outputs;
        /* the run stage runs in the sandbox the lane kept from its previous run (reset by its
         * init), if it has one, and leaves its own there for the next; NULL: a fresh sandbox
         * (pool.h; not with a terminal or outputs) */
        job_lane_t *lane;
        /* without a lane: the run stage's sandbox goes back into the pool after the run, reset
         * by its init as a lane's is, for any later run of the same root filesystem, filter and
         * disk size (at most JOB_REUSE_MAX runs; not with a terminal, outputs or work_dir; a
         * sandbox whose program used the network, was killed or lowered a limit is never
         * kept: docs/ARCHITECTURE.md, "Sandboxes reused across runs") */
        bool reuse;
        /* a one-shot command's job (runcell run: no pool, no lane): each sandbox it prepares
         * serves one stage only and is never kept, so its init takes no note for a reset
         * (sb_prep_t.once); the last stage's is killed and let go only in job_free, after the
         * caller has answered. Not for a server, whose in-process preparations may fill the
         * pool for later runs that keep them. */
        bool one_shot;
        /* where a compile stage of a toolchain with compile_cache is looked up first and kept
         * after (job/buildcache.h); NULL: always compiled */
        buildcache_t *builds;
        job_callbacks_t cb;
} job_spec_t;

/* How many runs one sandbox serves at most with job_spec_t.reuse: the process ids of its pid
 * namespace go on counting, and this bounds how far. */
#define JOB_REUSE_MAX 64

typedef struct job_result {
        stage_result_t compile; /* present only when the toolchain compiles */
        stage_result_t run;     /* absent when compilation failed */
} job_result_t;

/* Prepare a sandbox for js's root filesystem ahead of a request (cgroup leaf with lim). */
int job_prepare(const job_spec_t *js, const rc_limits_t *lim, prepared_t *out, rc_err_t *err);
/* Top js->pool up to its size for js's root filesystem (with a preparer: asks for them and
 * returns; they arrive while the caller goes on). */
int job_pool_fill(const job_spec_t *js, rc_err_t *err);

/* The job engine: a job runs on an event loop, one stage after another, and reports through
 * its callbacks. */
typedef struct job job_t;

/* The request's own mistakes (file names, environment, command), found before it is queued:
 * -errno with err saying what. job_start checks the same. */
int job_check(const job_spec_t *spec, rc_err_t *err);
/* Start a job on loop. Files, stdin and args are copied; tc, rootfs, seccomp, cgroups, pool and
 * preparer are borrowed and must outlive the job. -errno for bad input (err says what). A sandbox
 * that fails is not an error here: it is the stage's internal_error, reported through the
 * callbacks. */
int job_start(const job_spec_t *spec, ev_loop_t *loop, job_t **out, rc_err_t *err);
/* More input for an interactive job (queued until the program reads it). */
int job_write_stdin(job_t *j, const char *data, size_t len);
/* Bytes given to job_write_stdin() that the program has not read yet (for back-pressure). */
size_t job_stdin_queued(const job_t *j);
/* End of input: stdin is closed once what was queued has been written. */
void job_close_stdin(job_t *j);
/* A tty run's new terminal size (the program gets SIGWINCH); kept for the run stage if it
 * has not started. -ENOTTY: the job has no terminal. */
int job_resize(job_t *j, uint16_t rows, uint16_t cols);
/* Ask for the job's end: SIGKILL ends its sandbox, another signal goes to the program itself.
 * Either way the stage's verdict is "killed" and no further stage starts. */
void job_kill(job_t *j, int sig);
/* Stop (true) or resume reading the program's output: a slow reader makes the program block in
 * write while its wall clock goes on. */
void job_pause_output(job_t *j, bool paused);
bool job_is_done(const job_t *j);
const job_result_t *job_result(const job_t *j);
/* After a compile_only job whose compile stage succeeded: its files, now the caller's (free with
 * job_build_free). -ENOENT when there is none. */
int job_take_build(job_t *j, job_build_t **out);
void job_build_free(job_build_t *b);
/* Kills what still runs, releases everything. Not from inside the job's own callbacks. */
void job_free(job_t *j);

/* Run the job to its end (blocking). Returns 0 when the job ran, whatever the program did;
 * -errno for bad input (err says what). Sandbox failures are stage results (internal_error). */
int job_run(const job_spec_t *spec, job_result_t *res, rc_err_t *err);
void job_result_free(job_result_t *res);

const char *stage_status_name(stage_status_t s);
const char *stage_kind_name(stage_kind_t s);
/* "SIGSEGV" for 11; NULL for 0 or unknown. */
const char *signal_name(int sig);

#endif
