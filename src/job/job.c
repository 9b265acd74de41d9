#include "job/job.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "job/outputs.h"
#include "sandbox/mountplan.h"
#include "sandbox/sandbox.h"
#include "sandbox/sync.h"
#include "util/cleanup.h"
#include "util/glob.h"
#include "util/sha256.h"
#include "util/trace.h"

#define READ_CHUNK (64 * 1024)
/* From the request sent to the program's exec (the sandbox may still be building its root). */
#define JOB_SETUP_TIMEOUT_NS (30 * 1000000000LL)

static void set_internal(stage_result_t *res, const char *msg)
{
        res->status = STATUS_INTERNAL_ERROR;
        snprintf(res->error, sizeof(res->error), "%s", msg);
}

static void classify(stage_result_t *res, stage_kind_t kind, const sb_result_t *sr,
                     const char *time_limit, bool over_output, bool cancelled, bool oom)
{
        if (sr->exited) {
                if (WIFEXITED(sr->wait_status))
                        res->exit_code = WEXITSTATUS(sr->wait_status);
                else if (WIFSIGNALED(sr->wait_status))
                        res->signal = WTERMSIG(sr->wait_status);
        }
        if (time_limit) {
                res->status = STATUS_TIME_LIMIT;
                res->limit_kind = time_limit;
        } else if (over_output) {
                res->status = STATUS_OUTPUT_LIMIT;
        } else if (cancelled) {
                res->status = STATUS_KILLED;
        } else if (oom) {
                /* From the cgroup's OOM-kill counter, not guessed from a SIGKILL. */
                res->status = STATUS_MEMORY_LIMIT;
        } else if (!sr->exited) {
                set_internal(res, "sandbox ended before the program did");
        } else if (res->exit_code == 0) {
                res->status = STATUS_OK;
        } else {
                res->status = kind == STAGE_COMPILE ? STATUS_COMPILE_ERROR : STATUS_RUNTIME_ERROR;
        }
}

int job_prepare(const job_spec_t *js, const rc_limits_t *lim, prepared_t *out, rc_err_t *err)
{
        int64_t tt = trace_now();
        *out = (prepared_t){0}; /* runs, gen, lent: a new sandbox of the caller's */
        if (js->cgroups && cg_leaf_create(js->cgroups, lim, js->cpus, &out->leaf, err) < 0)
                return -EIO;
        tt = trace_step("cgroup leaf create", tt);
        sb_prep_t prep = {
            .rootfs = js->rootfs,
            .hostname = "runcell",
            .host_uid = js->host_uid,
            .host_gid = js->host_gid,
            .id_count = js->id_count,
            .seccomp = js->seccomp,
            .cgroup = out->leaf,
            .disk_mb = lim->disk_mb,
            .work_dir = js->work_dir,
            /* never kept (lane_keeps needs a lane or a pool) */
            .once = js->one_shot && !js->lane && !js->pool,
        };
        int r = sandbox_prepare(&prep, &out->sb, err);
        trace_step("prepare sandbox", tt);
        if (r < 0) {
                cg_leaf_destroy(out->leaf);
                out->leaf = NULL;
        }
        return r;
}

static prep_params_t prep_params(const job_spec_t *js, const rc_limits_t *lim)
{
        return (prep_params_t){.rootfs = js->rootfs,
                               .host_uid = js->host_uid,
                               .host_gid = js->host_gid,
                               .id_count = js->id_count,
                               .seccomp = js->seccomp,
                               .limits = *lim,
                               .cpus = js->cpus};
}

/* Top the pool up for key with sandboxes prepared with lim. */
static int pool_fill(const job_spec_t *js, const rc_limits_t *lim, rc_err_t *err)
{
        if (!js->pool || js->work_dir) /* the pool holds no sandbox with a /work of its own */
                return 0;
        pool_key_t key = {js->rootfs, js->seccomp, lim->disk_mb, NULL, false};
        /* With the helper, preparing costs the caller nothing: the pool may grow under load. A
         * sandbox the pool does not keep (full) ends the filling: nothing is made in vain. */
        for (;;) {
                unsigned target =
                    js->preparer ? job_pool_target(js->pool) : job_pool_per_key(js->pool);
                if (job_pool_count(js->pool, &key) >= target)
                        return 0;
                prep_ticket_t *t;
                if (js->preparer) {
                        prep_params_t pp = prep_params(js, lim);
                        if (preparer_request(js->preparer, &pp, &t, err) == 0) {
                                if (!job_pool_put_pending(js->pool, &key, t))
                                        return 0;
                                continue;
                        }
                }
                prepared_t pr;
                int r = job_prepare(js, lim, &pr, err);
                if (r < 0)
                        return r;
                if (!job_pool_put(js->pool, &key, pr))
                        return 0;
        }
}

int job_pool_fill(const job_spec_t *js, rc_err_t *err)
{
        return pool_fill(js, &js->run_limits, err);
}

/* ------------------------------------------------------------------ the engine */

typedef struct job_file_copy {
        char *name;
        char *data;
        size_t len;
        bool executable;
} job_file_copy_t;

struct job {
        job_spec_t spec; /* files, stdin, args point into the copies below */
        job_input_file_t *files;
        strv_t args;
        strv_t outputs; /* copies of spec.outputs */
        strv_t run_env; /* the toolchain's environment with the request's on top */
        ev_loop_t *loop;

        stage_kind_t stage;
        bool done;
        job_result_t res;
        sb_result_t compile_out; /* the compile stage's /work, carried into the run stage */
        strv_t compile_argv, run_argv;

        /* the running stage */
        stage_result_t *cur;
        rc_limits_t lim;
        prepared_t pr;
        /* one-shot: the last stage's sandbox, done with but laid to rest only at job_free, after
         * the caller has answered (its end is not the answer's to wait for) */
        prepared_t spent;
        ev_io_t *w_out, *w_err, *w_in, *w_sync, *w_pid;
        ev_io_t *w_tty; /* a tty run stage: the terminal's master (output and stdin) */
        bool tty_stage, tty_open, tty_eof_sent;
        uint16_t tty_rows, tty_cols; /* the size the stage's terminal was asked with */
        ev_timer_t *t_wall, *t_cpu, *t_setup;
        ev_timer_t *t_cached;               /* the compile stage comes from the cache */
        char cache_key[BUILDCACHE_KEY_LEN]; /* "": the compile stage is not cached */
        prep_ticket_t *ticket;              /* the sandbox is still being prepared by the helper */
        ev_io_t *w_ticket;
        ev_io_t *w_lane; /* the lane's sandbox, until its reset is done */
        bool started;    /* the stage's program was exec'd */
        bool refill;     /* took from the pool: ask for the next once the program has started */
        /* took from the pool a sandbox that is to go back into it after the run (reuse): owed
         * to the pool (job_pool_owe) until it goes back, or topped up if it does not */
        bool refill_unless_kept;
        bool owed;
        unsigned owed_gen; /* the pool's generation then (prepared_t.gen) */
        bool out_open, err_open, alive;
        bool killed_by_us, kill_requested, over_output, paused;
        const char *time_limit;
        int64_t out_total;
        int64_t t0;

        job_input_file_t *extra; /* copies of spec.extra */
        buf_t in;                /* stdin waiting to be written */
        size_t in_off;
        bool in_eof; /* no more will come */
};

static void stage_begin(job_t *j, stage_kind_t kind);

static void unwatch(job_t *j, ev_io_t **w)
{
        if (*w) {
                j->loop->ops->io_del(j->loop, *w);
                *w = NULL;
        }
}

static void untimer(job_t *j, ev_timer_t **t)
{
        if (*t) {
                j->loop->ops->timer_del(j->loop, *t);
                *t = NULL;
        }
}

/* The stage's watches and timers, all of them. */
static void unwatch_all(job_t *j)
{
        untimer(j, &j->t_wall);
        untimer(j, &j->t_cpu);
        untimer(j, &j->t_setup);
        untimer(j, &j->t_cached);
        unwatch(j, &j->w_ticket);
        unwatch(j, &j->w_lane);
        unwatch(j, &j->w_out);
        unwatch(j, &j->w_err);
        unwatch(j, &j->w_in);
        unwatch(j, &j->w_tty);
        unwatch(j, &j->w_sync);
        unwatch(j, &j->w_pid);
}

static void kill_sandbox(job_t *j)
{
        if (!j->killed_by_us && j->pr.sb) {
                j->killed_by_us = true;
                sandbox_kill(j->pr.sb);
        }
}

static void deliver(job_t *j, stream_kind_t stream, const char *data, size_t len)
{
        if (j->over_output)
                return;
        int64_t limit = j->lim.output_bytes;
        if ((int64_t)len > limit - j->out_total) {
                len = (size_t)(limit - j->out_total);
                j->over_output = true;
                j->cur->truncated = true;
        }
        j->out_total += (int64_t)len;
        if (len) {
                if (j->spec.capture)
                        buf_append(stream == STREAM_STDERR ? &j->cur->err : &j->cur->out, data,
                                   len);
                if (j->spec.cb.output)
                        j->spec.cb.output(j->spec.cb.ud, j->stage, stream, data, len);
        }
        if (j->over_output)
                kill_sandbox(j);
}

static void stage_maybe_end(job_t *j);

/* Read what is there (bounded per call, so one chatty program cannot starve the loop). */
static void on_output(job_t *j, stream_kind_t stream)
{
        int fd =
            stream == STREAM_STDOUT ? sandbox_stdout_fd(j->pr.sb) : sandbox_stderr_fd(j->pr.sb);
        char buf[READ_CHUNK];
        for (int round = 0; round < 4; round++) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n > 0) {
                        deliver(j, stream, buf, (size_t)n);
                        continue;
                }
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        return;
                /* EOF (or an error): this stream is over */
                if (stream == STREAM_STDOUT) {
                        j->out_open = false;
                        unwatch(j, &j->w_out);
                } else {
                        j->err_open = false;
                        unwatch(j, &j->w_err);
                }
                stage_maybe_end(j);
                return;
        }
}

static void on_stdout(void *ud, unsigned ev)
{
        (void)ev;
        on_output(ud, STREAM_STDOUT);
}

static void on_stderr(void *ud, unsigned ev)
{
        (void)ev;
        on_output(ud, STREAM_STDERR);
}

static void close_stdin(job_t *j)
{
        unwatch(j, &j->w_in);
        if (j->pr.sb)
                sandbox_close_stdin(j->pr.sb);
}

static void on_stdin(void *ud, unsigned ev)
{
        job_t *j = ud;
        (void)ev;
        while (j->in_off < j->in.len) {
                size_t left = j->in.len - j->in_off;
                ssize_t w = write(sandbox_stdin_fd(j->pr.sb), j->in.data + j->in_off,
                                  left > 65536 ? 65536 : left);
                if (w > 0) {
                        j->in_off += (size_t)w;
                        continue;
                }
                if (w < 0 && (errno == EAGAIN || errno == EINTR))
                        return; /* the pipe is full: wait for the program to read */
                /* EPIPE: the program closed its stdin; the rest has nowhere to go */
                j->in_off = j->in.len;
                j->in_eof = true;
                break;
        }
        buf_free(&j->in);
        j->in_off = 0;
        if (j->in_eof)
                close_stdin(j);
        else if (j->w_in)
                j->loop->ops->io_set(j->loop, j->w_in, 0);
}

/* The terminal's master: read while output is wanted, write while input waits. */
static void tty_watch(job_t *j)
{
        if (!j->w_tty)
                return;
        bool pending = j->in.len > j->in_off || (j->in_eof && !j->tty_eof_sent);
        j->loop->ops->io_set(j->loop, j->w_tty,
                             (j->paused ? 0 : EV_READ) | (pending ? EV_WRITE : 0));
}

static void tty_write(job_t *j)
{
        int fd = sandbox_tty_fd(j->pr.sb);
        while (j->in_off < j->in.len) {
                size_t left = j->in.len - j->in_off;
                ssize_t w = write(fd, j->in.data + j->in_off, left > 4096 ? 4096 : left);
                if (w > 0) {
                        j->in_off += (size_t)w;
                        continue;
                }
                if (w < 0 && (errno == EAGAIN || errno == EINTR))
                        return;        /* the terminal's input queue is full */
                j->in_off = j->in.len; /* hung up: nowhere to go */
                j->tty_eof_sent = j->in_eof = true;
                break;
        }
        buf_free(&j->in);
        j->in_off = 0;
        /* The end of input on a terminal is its EOF character, once: a program reading a line
         * (canonical mode) gets end of file; the terminal itself stays open, as on a desk. */
        if (j->in_eof && !j->tty_eof_sent) {
                ssize_t w = write(fd, "\x04", 1);
                if (w == 1 || (w < 0 && errno != EAGAIN && errno != EINTR))
                        j->tty_eof_sent = true;
        }
}

static void on_tty(void *ud, unsigned ev)
{
        job_t *j = ud;
        if (ev & EV_WRITE)
                tty_write(j);
        if (ev & EV_READ) {
                char buf[READ_CHUNK];
                for (int round = 0; round < 4; round++) {
                        ssize_t n = read(sandbox_tty_fd(j->pr.sb), buf, sizeof(buf));
                        if (n > 0) {
                                deliver(j, STREAM_TTY, buf, (size_t)n);
                                continue;
                        }
                        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                                break;
                        /* EIO: every slave is closed (the program and what it left are gone) */
                        j->tty_open = false;
                        unwatch(j, &j->w_tty);
                        stage_maybe_end(j);
                        return;
                }
        }
        tty_watch(j);
}

static void stage_started(job_t *j);

static void on_sync(void *ud, unsigned ev)
{
        job_t *j = ud;
        (void)ev;
        rc_err_t e = {0};
        if (sandbox_handle_sync(j->pr.sb, &e) < 0) {
                /* a set-up step failed (the step is in the message), or the channel did */
                if (j->cur->status != STATUS_INTERNAL_ERROR)
                        set_internal(j->cur, e.msg);
                kill_sandbox(j);
        } else if (!j->started && sandbox_started(j->pr.sb)) {
                stage_started(j);
        }
        if (sandbox_sync_fd(j->pr.sb) < 0)
                unwatch(j, &j->w_sync);
        stage_maybe_end(j);
}

static void on_setup_timeout(void *ud)
{
        job_t *j = ud;
        j->t_setup = NULL;
        if (!j->started && j->cur->status != STATUS_INTERNAL_ERROR)
                set_internal(j->cur, "sandbox set-up timed out");
        kill_sandbox(j);
}

static void on_pidfd(void *ud, unsigned ev)
{
        job_t *j = ud;
        (void)ev;
        j->alive = false;
        unwatch(j, &j->w_pid);
        trace_step("init gone since start", sandbox_start_ns(j->pr.sb));
        stage_maybe_end(j);
}

static void on_wall(void *ud)
{
        job_t *j = ud;
        j->t_wall = NULL;
        if (!j->killed_by_us) {
                j->time_limit = "wall";
                kill_sandbox(j);
        }
}

/* CPU time is checked when it could first have run out: with a quota of `cpus` cores it grows at
 * most that fast, so nothing polls in between. */
static void schedule_cpu_check(job_t *j, int64_t used_us);

static void on_cpu(void *ud)
{
        job_t *j = ud;
        j->t_cpu = NULL;
        if (j->killed_by_us)
                return;
        cg_stats_t st;
        cg_leaf_stats(j->pr.leaf, &st);
        if (st.cpu_usage_us >= 0 && st.cpu_usage_us >= j->lim.cpu_ms * 1000) {
                j->time_limit = "cpu";
                kill_sandbox(j);
        } else {
                schedule_cpu_check(j, st.cpu_usage_us > 0 ? st.cpu_usage_us : 0);
        }
}

static void schedule_cpu_check(job_t *j, int64_t used_us)
{
        double rate = j->spec.cpus > 0 ? j->spec.cpus : 1.0;
        int64_t left_us = j->lim.cpu_ms * 1000 - used_us;
        int64_t wait_ns = (int64_t)((left_us > 0 ? left_us : 1000) * 1e3 / rate);
        if (wait_ns < 2000000)
                wait_ns = 2000000;
        j->t_cpu = j->loop->ops->timer_add(j->loop, sb_now_ns() + wait_ns, on_cpu, j);
}

static void job_finish(job_t *j)
{
        j->done = true;
        j->cur = NULL;
        if (j->spec.cb.done)
                j->spec.cb.done(j->spec.cb.ud);
}

static void refill_pool(job_t *j)
{
        if (j->refill) {
                j->refill = false;
                rc_err_t e = {0};
                pool_fill(&j->spec, &j->lim, &e);
        }
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The directories the files' paths need below /work ("a/b/c" needs "a" and "a/b"). */
static long long dirs_needed(const sb_file_t *files, size_t n)
{
        size_t cap = 0;
        for (size_t i = 0; i < n; i++)
                for (const char *p = files[i].path; *p; p++)
                        cap += *p == '/';
        if (cap == 0)
                return 0;
        char **dirs = calloc(cap, sizeof(char *));
        size_t m = 0;
        long long count = (long long)cap; /* out of memory: every one counted */
        if (dirs) {
                for (size_t i = 0; i < n; i++)
                        for (const char *p = files[i].path; *p; p++)
                                if (*p == '/')
                                        dirs[m++] =
                                            strndup(files[i].path, (size_t)(p - files[i].path));
                bool ok = true;
                for (size_t i = 0; i < m; i++)
                        ok = ok && dirs[i];
                if (ok) {
                        qsort(dirs, m, sizeof(char *), cmp_str);
                        count = 0;
                        for (size_t i = 0; i < m; i++)
                                count += i == 0 || strcmp(dirs[i - 1], dirs[i]) != 0;
                }
                for (size_t i = 0; i < m; i++)
                        free(dirs[i]);
                free(dirs);
        }
        return count;
}

/* What a compile stage leaves in /work goes into the run stage's fresh /work, whose size is the
 * run stage's disk_mb (pages of 4 KiB) and whose inodes are mount_tmpfs_inodes(disk_mb). Going
 * over either, or leaving more than SB_COLLECT_MAX files, is the compile stage's own doing (a
 * user's build): its verdict is compile_error with the reason on its stderr, not a sandbox
 * failure of the run stage. Returns true with why filled when over. */
static bool handover_over(const sb_result_t *sr, const rc_limits_t *run, char *why, size_t size)
{
        if (sr->files_over) {
                snprintf(why, size, "runcell: the compile stage left more than %d files in /work\n",
                         SB_COLLECT_MAX);
                return true;
        }
        long long bytes = 0;
        for (size_t i = 0; i < sr->nfiles; i++) {
                struct stat st;
                if (sr->files[i].fd >= 0 && fstat(sr->files[i].fd, &st) == 0)
                        bytes += ((long long)st.st_size + 4095) / 4096 * 4096;
        }
        long long inodes = (long long)sr->nfiles + dirs_needed(sr->files, sr->nfiles) + 1;
        long long space = run->disk_mb << 20, have_inodes = mount_tmpfs_inodes(run->disk_mb);
        if (run->disk_mb > 0 && bytes > space) {
                snprintf(why, size,
                         "runcell: the compile stage left %lld KiB in /work, over the run stage's "
                         "disk limit of %lld MiB\n",
                         bytes / 1024, (long long)run->disk_mb);
                return true;
        }
        if (run->disk_mb > 0 && inodes > have_inodes) {
                snprintf(why, size,
                         "runcell: the compile stage left %lld files and directories in /work, "
                         "over the %lld the run stage's disk limit of %lld MiB holds\n",
                         inodes - 1, have_inodes - 1, (long long)run->disk_mb);
                return true;
        }
        return false;
}

/* A line of runcell's own on the stage's stderr (after the program's output, if any). */
static void stage_note(job_t *j, const char *text)
{
        size_t len = strlen(text);
        if (j->spec.capture)
                buf_append(&j->cur->err, text, len);
        if (j->spec.cb.output)
                j->spec.cb.output(j->spec.cb.ud, j->stage, STREAM_STDERR, text, len);
}

/* The stage is over once init is gone and both output pipes are at EOF. */
static bool lane_keep(job_t *j, const stage_result_t *res);
static void job_unowe(job_t *j);
static void cache_put(job_t *j, const stage_result_t *res, const sb_result_t *sr);

/* A one-shot stage's sandbox, left to its end (stage_end). */
static void lay_spent(job_t *j)
{
        if (j->spent.sb)
                job_pool_bury(j->spec.pool, j->spent);
        j->spent = (prepared_t){0};
}

static void stage_end(job_t *j)
{
        stage_result_t *res = j->cur;
        unwatch_all(j);
        refill_pool(j); /* owed if the program never started */
        int64_t tt = trace_now();
        sb_result_t sr = {0};
        rc_err_t err = {0};
        if (j->pr.sb) {
                if (sandbox_finish(j->pr.sb, &sr, &err) < 0 && res->status != STATUS_INTERNAL_ERROR)
                        set_internal(res, err.msg);
                cg_stats_t st;
                bool oom = false;
                if (j->pr.leaf && cg_leaf_stats(j->pr.leaf, &st) == 0) {
                        res->cpu_ms = st.cpu_usage_us >= 0 ? st.cpu_usage_us / 1000 : -1;
                        res->memory_kb =
                            st.memory_peak_bytes >= 0 ? st.memory_peak_bytes / 1024 : -1;
                        oom = st.oom_kills > 0;
                }
                if (res->status != STATUS_INTERNAL_ERROR)
                        classify(res, j->stage, &sr, j->time_limit, j->over_output,
                                 j->kill_requested, oom);
                res->wall_ms = sr.exited && sr.end_ns > sr.start_ns
                                   ? (sr.end_ns - sr.start_ns) / 1000000
                               : j->started ? (sb_now_ns() - sandbox_start_ns(j->pr.sb)) / 1000000
                                            : (sb_now_ns() - j->t0) / 1000000;
        } else {
                res->wall_ms = (sb_now_ns() - j->t0) / 1000000;
        }
        if (j->stage == STAGE_RUN && j->spec.outputs && j->spec.outputs[0] &&
            job_outputs_read(&sr, &j->lim, res) < 0 && res->status != STATUS_INTERNAL_ERROR)
                set_internal(res, "reading the output files: out of memory");
        tt = trace_step("finish + stats", tt);
        if (j->pr.sb && lane_keep(j, res)) {
                ; /* the lane's, or the pool's, for a next run */
        } else if (j->pr.sb) {
                /* one that was to go back into the pool and does not: the pool is topped up */
                job_unowe(j);
                if (j->refill_unless_kept) {
                        j->refill = true;
                        refill_pool(j);
                }
                /* The program is done and init has said all it had to (it killed what the
                 * program left), or init is gone: what is left is its own exit (the namespaces
                 * going down), which the answer need not wait for. Then the leaf may serve
                 * another sandbox. A one-shot run's is laid to rest after its answer
                 * (job_free), unless a stage follows. */
                if (j->spec.one_shot)
                        j->spent = j->pr;
                else
                        job_pool_bury(j->spec.pool, j->pr);
        } else {
                cg_leaf_recycle(j->pr.leaf);
        }
        j->pr.sb = NULL;
        j->pr.leaf = NULL;
        trace_step("sandbox handed on", tt);
        stage_kind_t kind = j->stage;
        if (kind == STAGE_COMPILE && res->status == STATUS_RUNTIME_ERROR)
                res->status = STATUS_COMPILE_ERROR;
        char why[300];
        if (kind == STAGE_COMPILE && res->status == STATUS_OK && !j->spec.build_aside &&
            handover_over(&sr, &j->spec.run_limits, why, sizeof(why))) {
                res->status = STATUS_COMPILE_ERROR;
                stage_note(j, why);
        }
        if (j->spec.cb.stage_end)
                j->spec.cb.stage_end(j->spec.cb.ud, kind, res);
        if (kind == STAGE_COMPILE && res->status == STATUS_OK && !j->kill_requested) {
                cache_put(j, res, &sr);
                j->compile_out = sr; /* its files go into the run stage */
                if (j->spec.compile_only) {
                        job_finish(j);
                        return;
                }
                lay_spent(j);
                stage_begin(j, STAGE_RUN);
                return;
        }
        sb_result_free(&sr);
        job_finish(j);
}

/* A sandbox owed to the pool (taken to go back) that will not go back. */
static void job_unowe(job_t *j)
{
        if (!j->owed)
                return;
        pool_key_t key = {j->spec.rootfs, j->spec.seccomp, j->lim.disk_mb, NULL, false};
        prepared_t pr = {.gen = j->owed_gen};
        job_pool_unowe(j->spec.pool, &key, &pr);
        j->owed = false;
}

/* Whether the run stage's sandbox is to be kept: for the lane's next run, or with reuse for any
 * later run of its key (back into the pool), at most JOB_REUSE_MAX runs in all. */
static bool lane_keeps(const job_t *j)
{
        bool reuse = j->spec.reuse && j->spec.pool && !j->spec.work_dir &&
                     j->pr.runs + 1 < JOB_REUSE_MAX && cg_leaf_rebasable(j->pr.leaf);
        return (j->spec.lane || reuse) && j->stage == STAGE_RUN &&
               !(j->spec.tty_rows && j->spec.tty_cols) && !(j->spec.outputs && j->spec.outputs[0]);
}

/* After the run stage: keep its sandbox in the lane when its init reset it and is waiting for
 * another request, and nothing went wrong with it. */
static bool lane_keep(job_t *j, const stage_result_t *res)
{
        if (!lane_keeps(j) || !j->pr.sb || !j->alive || j->kill_requested || j->killed_by_us ||
            res->status == STATUS_INTERNAL_ERROR)
                return false;
        rc_err_t err = {0};
        if (sandbox_recycle(j->pr.sb, &err) < 0)
                return false;
        pool_key_t key = {j->spec.rootfs, j->spec.seccomp, j->lim.disk_mb, j->spec.work_dir, false};
        j->pr.runs++;
        if (j->spec.lane) {
                job_lane_put(j->spec.lane, &key, j->pr);
        } else {
                if (!j->owed) /* not counted as owed: counted once back */
                        job_pool_owe(j->spec.pool, &key, &j->pr);
                j->owed = false;
                job_pool_put_kept(j->spec.pool, &key, j->pr);
        }
        return true;
}

/* The stage is over once both output pipes are at EOF and init is gone, or has reported the
 * program's end (and handed files back, if asked): it killed whatever the program left first. */
static void stage_maybe_end(job_t *j)
{
        if (j->cur && !j->out_open && !j->err_open && !j->tty_open &&
            (!j->alive || (j->pr.sb && sandbox_program_done(j->pr.sb))))
                stage_end(j);
}

static void stage_acquire_fresh(job_t *j);

/* The sandbox is there: send the request and watch it. The program's start (STARTED) arms the
 * wall and CPU clocks (stage_started). */
static void stage_launch(job_t *j)
{
        stage_kind_t kind = j->stage;
        stage_result_t *res = j->cur;
        rc_err_t err = {0};
        if (cg_leaf_set_limits(j->pr.leaf, &j->lim, j->spec.cpus, &err) < 0) {
                /* a leaf that refuses its limits is not used: a fresh one, made now */
                prepared_destroy(&j->pr);
                if (job_prepare(&j->spec, &j->lim, &j->pr, &err) < 0) {
                        set_internal(res, err.msg);
                        stage_end(j);
                        return;
                }
        }
        /* files: the user's for the first stage, the compile stage's /work for the run stage */
        sb_file_t *files = NULL;
        size_t nfiles = 0;
        _cleanup_free_ sb_file_t *own = NULL;
        if (kind == STAGE_RUN && j->spec.build && j->spec.nextra) {
                const job_build_t *b = j->spec.build;
                own = calloc(b->nfiles + j->spec.nextra, sizeof(*own));
                if (!own) {
                        set_internal(res, "out of memory");
                        sandbox_kill(j->pr.sb);
                        stage_end(j);
                        return;
                }
                memcpy(own, b->files, b->nfiles * sizeof(*own));
                for (size_t i = 0; i < j->spec.nextra; i++)
                        own[b->nfiles + i] =
                            (sb_file_t){.path = (char *)j->extra[i].name,
                                        .mode = j->extra[i].executable ? 0755 : 0644,
                                        .data = j->extra[i].data,
                                        .len = j->extra[i].len,
                                        .fd = -1};
                files = own;
                nfiles = b->nfiles + j->spec.nextra;
        } else if (kind == STAGE_RUN && j->spec.build) {
                files = j->spec.build->files;
                nfiles = j->spec.build->nfiles;
        } else if (kind == STAGE_RUN && j->spec.tc->compile.n) {
                files = j->compile_out.files;
                nfiles = j->compile_out.nfiles;
        } else {
                own = calloc(j->spec.nfiles, sizeof(*own));
                if (!own) {
                        set_internal(res, "out of memory");
                        sandbox_kill(j->pr.sb);
                        stage_end(j);
                        return;
                }
                for (size_t i = 0; i < j->spec.nfiles; i++)
                        own[i] = (sb_file_t){.path = (char *)j->spec.files[i].name,
                                             .mode = j->spec.files[i].executable ? 0755 : 0644,
                                             .data = j->spec.files[i].data,
                                             .len = j->spec.files[i].len,
                                             .fd = -1};
                files = own;
                nfiles = j->spec.nfiles;
        }
        sb_run_t run = {
            .argv = (kind == STAGE_COMPILE ? j->compile_argv : j->run_argv).v,
            .envp = strv_array(kind == STAGE_RUN ? &j->run_env : (strv_t *)&j->spec.tc->env),
            .files = files,
            .nfiles = nfiles,
            .collect = kind == STAGE_COMPILE,
            .outputs = kind == STAGE_RUN ? j->spec.outputs : NULL,
            .limits = j->lim,
            .keep = lane_keeps(j),
        };
        j->tty_stage = kind == STAGE_RUN && j->spec.tty_rows && j->spec.tty_cols;
        j->tty_open = j->tty_eof_sent = false;
        if (j->tty_stage) {
                run.tty_rows = j->tty_rows = j->spec.tty_rows;
                run.tty_cols = j->tty_cols = j->spec.tty_cols;
        }
        trace_mark(sandbox_ready(j->pr.sb) ? "job: request to a ready sandbox"
                                           : "job: request to a preparing sandbox");
        if (sandbox_start(j->pr.sb, &run, &err) < 0) {
                if (j->pr.runs && (err.code == EPIPE || err.code == ECONNRESET)) {
                        /* A kept sandbox whose init went away after its READY was queued (a kill
                         * of this run while it waited for the reset, or from outside): the run
                         * goes on in a fresh one, as after a failed reset. */
                        job_pool_bury(j->spec.pool, j->pr);
                        j->pr = (prepared_t){0};
                        j->killed_by_us =
                            false; /* a kill asked for meanwhile is kill_requested's */
                        stage_acquire_fresh(j);
                        return;
                }
                set_internal(res, err.msg);
                sandbox_kill(j->pr.sb); /* it would wait for a request forever */
                stage_end(j);
                return;
        }
        if (kind == STAGE_RUN) {
                sb_result_free(&j->compile_out); /* sent into the sandbox now */
                memset(&j->compile_out, 0, sizeof(j->compile_out));
        }
        sandbox_t *sb = j->pr.sb;
        ev_loop_t *l = j->loop;
        j->out_open = j->err_open = j->alive = true;
        unsigned rd = j->paused ? 0 : EV_READ;
        j->w_out = l->ops->io_add(l, sandbox_stdout_fd(sb), rd, on_stdout, j);
        j->w_err = l->ops->io_add(l, sandbox_stderr_fd(sb), rd, on_stderr, j);
        j->w_sync = l->ops->io_add(l, sandbox_sync_fd(sb), EV_READ, on_sync, j);
        j->w_pid = l->ops->io_add(l, sandbox_pidfd(sb), EV_READ, on_pidfd, j);
        if (kind == STAGE_RUN && !j->tty_stage && (j->in.len > j->in_off || !j->in_eof)) {
                /* What there is goes into the pipe now (up to its 64 KiB): the program does not
                 * wait for a turn of the loop to read it, and a whole stdin needs no watch. */
                if (j->in.len > j->in_off)
                        on_stdin(j, EV_WRITE);
                if (sandbox_stdin_fd(sb) >= 0 && (j->in.len > j->in_off || !j->in_eof))
                        j->w_in = l->ops->io_add(l, sandbox_stdin_fd(sb),
                                                 j->in.len > j->in_off ? EV_WRITE : 0, on_stdin, j);
        } else {
                sandbox_close_stdin(sb);
        }
        j->t_setup = l->ops->timer_add(l, sb_now_ns() + JOB_SETUP_TIMEOUT_NS, on_setup_timeout, j);
        if (j->kill_requested)
                kill_sandbox(j);
}

static void stage_started(job_t *j)
{
        ev_loop_t *l = j->loop;
        sandbox_t *sb = j->pr.sb;
        j->started = true;
        refill_pool(j);
        untimer(j, &j->t_setup);
        j->cur->setup_us = (sandbox_start_ns(sb) - j->t0) / 1000;
        if (j->tty_stage && sandbox_tty_fd(sb) >= 0) {
                /* resized while the sandbox was starting the program */
                if (j->spec.tty_rows != j->tty_rows || j->spec.tty_cols != j->tty_cols)
                        sandbox_tty_resize(sb, j->spec.tty_rows, j->spec.tty_cols);
                j->tty_open = true;
                j->w_tty = l->ops->io_add(l, sandbox_tty_fd(sb), 0, on_tty, j);
                tty_watch(j);
        }
        j->t_wall =
            l->ops->timer_add(l, sandbox_start_ns(sb) + j->lim.wall_ms * 1000000, on_wall, j);
        if (j->pr.leaf && j->lim.cpu_ms > 0)
                schedule_cpu_check(j, 0);
}

static void on_ticket(void *ud, unsigned ev)
{
        job_t *j = ud;
        (void)ev;
        rc_err_t err = {0};
        int r = prep_ticket_take(j->ticket, false, &j->pr, &err);
        if (r == -EAGAIN) {
                if (!j->w_ticket)
                        j->w_ticket = j->loop->ops->io_add(j->loop, prep_ticket_fd(j->ticket),
                                                           EV_READ, on_ticket, j);
                return;
        }
        unwatch(j, &j->w_ticket);
        prep_ticket_free(j->ticket);
        j->ticket = NULL;
        trace_step("job: waited for the helper", j->t0);
        /* The helper failed (or is gone): prepare in-process, where the same failure, if it is
         * one, shows with its step. */
        if (r < 0 && job_prepare(&j->spec, &j->lim, &j->pr, &err) < 0) {
                set_internal(j->cur, err.msg);
                stage_end(j);
                return;
        }
        stage_launch(j);
}

/* The lane's sandbox, taken: launched once its reset is done (true, or false while it is not).
 * A failed reset ends its init: the stage goes on in a fresh sandbox, the run never sees it. */
static bool lane_ready(job_t *j)
{
        int r = sandbox_await_ready(j->pr.sb);
        if (r == 0)
                return false;
        unwatch(j, &j->w_lane);
        untimer(j, &j->t_setup);
        if (r > 0 && cg_leaf_rebase(j->pr.leaf) == 0) {
                trace_step("job: sandbox kept from the lane's last run", j->t0);
                stage_launch(j);
                return true;
        }
        job_pool_bury(j->spec.pool, j->pr);
        j->pr = (prepared_t){0};
        j->killed_by_us = false; /* a kill asked for meanwhile is kill_requested's */
        stage_acquire_fresh(j);
        return true;
}

static void on_lane_ready(void *ud, unsigned ev)
{
        (void)ev;
        lane_ready(ud);
}

/* A reset that does not end is a sandbox not to use: killed, its end is on_lane_ready's. */
static void on_lane_timeout(void *ud)
{
        job_t *j = ud;
        j->t_setup = NULL;
        sandbox_kill(j->pr.sb);
}

/* A sandbox kept from an earlier run, taken (j->pr): its init answered that run before
 * resetting the sandbox; READY says the reset is done (mostly it is, by the time another
 * request comes). Launched then. */
static void stage_await_kept(job_t *j)
{
        if (lane_ready(j))
                return;
        ev_loop_t *l = j->loop;
        j->w_lane = l->ops->io_add(l, sandbox_sync_fd(j->pr.sb), EV_READ, on_lane_ready, j);
        j->t_setup = l->ops->timer_add(l, sb_now_ns() + JOB_SETUP_TIMEOUT_NS, on_lane_timeout, j);
}

/* A prepared sandbox for this stage: the one its lane kept (once reset); from the pool (a new
 * one, or with reuse one an earlier run left, once reset); or asked of the helper, when there is
 * one (the stage goes on in on_ticket once it comes); or made now. */
static void stage_acquire(job_t *j)
{
        const job_spec_t *js = &j->spec;
        pool_key_t key = {js->rootfs, js->seccomp, j->lim.disk_mb, js->work_dir, false};
        if (j->stage == STAGE_RUN && job_lane_take(js->lane, &key, &j->pr)) {
                stage_await_kept(j);
                return;
        }
        stage_acquire_fresh(j);
}

/* Not from the lane: from the pool, the helper, or made now. */
static void stage_acquire_fresh(job_t *j)
{
        const job_spec_t *js = &j->spec;
        pool_key_t key = {js->rootfs, js->seccomp, j->lim.disk_mb, js->work_dir, false};
        prep_ticket_t *t = NULL;
        rc_err_t err = {0};
        job_unowe(j);           /* a kept sandbox taken before failed its reset */
        key.fresh = !js->reuse; /* a judge's tests, a function's runs, fresh_sandboxes */
        if (js->work_dir) {
                /* a /work of its own: neither the pool nor the helper makes such sandboxes */
        } else if (job_pool_take(js->pool, &key, &j->pr, &t)) {
                /* With reuse, the run's sandbox goes back into the pool after it: the pool is
                 * topped up only if it does not (stage_end). */
                bool back = !t && lane_keeps(j);
                j->refill_unless_kept = back && js->preparer != NULL;
                j->owed = back && job_pool_owe(js->pool, &key, &j->pr);
                j->owed_gen = j->pr.gen;
                /* Else the next one is prepared while this one runs: asked for once the program
                 * has started (cloning it meanwhile would compete with the program's exec), or
                 * now if this one is still being made (the pool is behind). */
                j->refill = !back && js->preparer != NULL;
                if (t)
                        refill_pool(j);
                if (j->pr.runs) {
                        /* left by an earlier run: launched once its reset is done */
                        stage_await_kept(j);
                        return;
                }
        } else if (js->preparer) {
                prep_params_t pp = prep_params(js, &j->lim);
                if (preparer_request(js->preparer, &pp, &t, &err) < 0)
                        t = NULL;
        }
        if (t) {
                /* Taken now if its answer is there already (a sandbox held ahead, a pool's that
                 * is done), else once it comes: no round through the loop for the former. */
                j->ticket = t;
                on_ticket(j, EV_READ);
                return;
        }
        if (!j->pr.sb && job_prepare(js, &j->lim, &j->pr, &err) < 0) {
                set_internal(j->cur, err.msg);
                stage_end(j);
                return;
        }
        stage_launch(j);
}

/* ------------------------------------------------------------------ the build cache */

static void key_str(sha256_t *h, const char *s)
{
        sha256_update(h, s, strlen(s) + 1);
}

static void key_int(sha256_t *h, int64_t v)
{
        char b[32];
        snprintf(b, sizeof(b), "%lld", (long long)v);
        key_str(h, b);
}

/* Everything the compile stage's output may depend on: the toolchain and its root filesystem
 * (its directory is named by the tarball's digest), the command (options included) and
 * environment, the limits, and every source file with its name and mode. */
static void compile_key(const job_t *j, char out[BUILDCACHE_KEY_LEN])
{
        const job_spec_t *js = &j->spec;
        const rc_limits_t *l = &js->compile_limits;
        sha256_t h;
        sha256_init(&h);
        key_str(&h, "runcell build 1");
        key_str(&h, js->tc->name);
        key_str(&h, js->rootfs);
        key_str(&h, js->seccomp ? "filter" : "no filter");
        key_int(&h, (int64_t)j->compile_argv.n);
        for (size_t i = 0; i < j->compile_argv.n; i++)
                key_str(&h, j->compile_argv.v[i]);
        key_int(&h, (int64_t)js->tc->env.n);
        for (size_t i = 0; i < js->tc->env.n; i++)
                key_str(&h, js->tc->env.v[i]);
        const int64_t lims[] = {l->wall_ms,   l->cpu_ms,     l->memory_mb,
                                l->processes, l->disk_mb,    l->file_size_mb,
                                l->stack_mb,  l->open_files, l->output_bytes};
        for (size_t i = 0; i < sizeof(lims) / sizeof(lims[0]); i++)
                key_int(&h, lims[i]);
        key_int(&h, (int64_t)js->nfiles);
        for (size_t i = 0; i < js->nfiles; i++) {
                key_str(&h, js->files[i].name);
                key_int(&h, js->files[i].executable);
                key_int(&h, (int64_t)js->files[i].len);
                sha256_update(&h, js->files[i].data, js->files[i].len);
        }
        sha256_final_hex(&h, out);
}

static void on_cached(void *ud)
{
        job_t *j = ud;
        j->t_cached = NULL;
        stage_result_t *res = j->cur;
        /* what the compiler said when it made this build, as a compile would show it */
        if (j->spec.cb.output) {
                if (res->out.len)
                        j->spec.cb.output(j->spec.cb.ud, STAGE_COMPILE, STREAM_STDOUT,
                                          res->out.data, res->out.len);
                if (res->err.len)
                        j->spec.cb.output(j->spec.cb.ud, STAGE_COMPILE, STREAM_STDERR,
                                          res->err.data, res->err.len);
        }
        if (!j->spec.capture) {
                buf_free(&res->out);
                buf_free(&res->err);
        }
        if (j->spec.cb.stage_end)
                j->spec.cb.stage_end(j->spec.cb.ud, STAGE_COMPILE, res);
        if (j->kill_requested) {
                res->status = STATUS_KILLED;
                job_finish(j);
        } else if (j->spec.compile_only) {
                job_finish(j);
        } else {
                stage_begin(j, STAGE_RUN);
        }
}

/* A compile stage the cache has: its files and output taken, ended on the loop's next turn
 * (never inside job_start). */
static bool cache_lookup(job_t *j)
{
        j->cache_key[0] = '\0';
        if (!j->spec.builds || !j->spec.tc->compile_cache)
                return false;
        compile_key(j, j->cache_key);
        stage_result_t *res = j->cur;
        if (buildcache_get(j->spec.builds, j->cache_key, &j->compile_out, &res->out, &res->err) !=
            1)
                return false;
        res->status = STATUS_OK;
        res->exit_code = 0;
        res->cached = true;
        res->wall_ms = 0;
        res->cpu_ms = res->memory_kb = -1; /* nothing ran: not measured (null) */
        j->t_cached = j->loop->ops->timer_add(j->loop, sb_now_ns(), on_cached, j);
        if (!j->t_cached) {
                sb_result_free(&j->compile_out);
                buf_free(&res->out);
                buf_free(&res->err);
                res->cached = false;
                return false;
        }
        return true;
}

/* A successful compile of a cached toolchain: keep what it left, with all it said (a stage
 * whose output was streamed, not kept, is not cached unless it said nothing). */
static void cache_put(job_t *j, const stage_result_t *res, const sb_result_t *sr)
{
        if (!j->cache_key[0] || sr->files_over || res->truncated ||
            (!j->spec.capture && j->out_total > 0))
                return;
        buildcache_put(j->spec.builds, j->cache_key, sr->files, sr->nfiles, res->out.data,
                       res->out.len, res->err.data, res->err.len);
}

static void stage_begin(job_t *j, stage_kind_t kind)
{
        j->stage = kind;
        stage_result_t *res = kind == STAGE_COMPILE ? &j->res.compile : &j->res.run;
        memset(res, 0, sizeof(*res));
        res->present = true;
        res->exit_code = -1;
        res->cpu_ms = res->memory_kb = -1;
        j->cur = res;
        j->lim = kind == STAGE_COMPILE ? j->spec.compile_limits : j->spec.run_limits;
        j->out_open = j->err_open = j->alive = false;
        j->killed_by_us = j->over_output = j->started = false;
        j->time_limit = NULL;
        j->out_total = 0;
        j->t0 = sb_now_ns();
        if (j->spec.cb.stage_start)
                j->spec.cb.stage_start(j->spec.cb.ud, kind);
        if (kind == STAGE_COMPILE && cache_lookup(j))
                return; /* the stage ends on the loop's next turn (on_cached) */
        stage_acquire(j);
}

/* A run stage on a terminal says which kind it is, unless the toolchain or the request did:
 * TERM=xterm-256color, what terminal emulators (xterm.js in a browser among them) answer to. */
static int tty_term(const job_spec_t *spec, strv_t *env, rc_err_t *err)
{
        if (!spec->tty_rows || !spec->tty_cols)
                return 0;
        for (size_t i = 0; i < env->n; i++)
                if (strncmp(env->v[i], "TERM=", 5) == 0)
                        return 0;
        return strv_push(env, "TERM=" JOB_TTY_TERM) < 0 ? rc_err_set(err, ENOMEM, "out of memory")
                                                        : 0;
}

/* The run stage's environment: the toolchain's, each of the request's KEY=value replacing a
 * variable of the same name or added. */
static int build_env(const toolchain_t *tc, char *const *extra, strv_t *out, rc_err_t *err)
{
        size_t n = 0;
        for (char *const *e = extra; e && *e; e++, n++) {
                const char *eq = strchr(*e, '=');
                if (!eq || eq == *e || n >= JOB_ENV_MAX)
                        return rc_err_set(err, EINVAL, "invalid environment variable \"%.60s\"",
                                          *e);
                for (const char *c = *e; c < eq; c++)
                        if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || *c == '_' ||
                              (c > *e && *c >= '0' && *c <= '9')))
                                return rc_err_set(err, EINVAL,
                                                  "invalid environment variable name \"%.*s\"",
                                                  (int)(eq - *e > 60 ? 60 : eq - *e), *e);
        }
        for (size_t i = 0; i < tc->env.n; i++) {
                const char *v = tc->env.v[i];
                size_t klen = (size_t)(strchr(v, '=') - v);
                bool replaced = false;
                for (char *const *e = extra; e && *e && !replaced; e++)
                        replaced = strncmp(*e, v, klen + 1) == 0;
                if (!replaced && strv_push(out, v) < 0)
                        return rc_err_set(err, ENOMEM, "out of memory");
        }
        for (char *const *e = extra; e && *e; e++)
                if (strv_push(out, *e) < 0)
                        return rc_err_set(err, ENOMEM, "out of memory");
        return 0;
}

/* The run stage's argv: the toolchain's run command, or the request's own command (run in the
 * same sandbox, found in its PATH), either with the request's args appended. */
static int run_command(const toolchain_t *tc, char *const *command, char **names, size_t nfiles,
                       char *const *args, strv_t *out, rc_err_t *err)
{
        if (!command || !*command)
                return toolchain_expand_argv(tc, &tc->run, names[0], names, nfiles, args, out, err);
        for (char *const *c = command; *c; c++)
                if (strv_push(out, *c) < 0)
                        return rc_err_set(err, ENOMEM, "out of memory");
        for (char *const *a = args; a && *a; a++)
                if (strv_push(out, *a) < 0)
                        return rc_err_set(err, ENOMEM, "out of memory");
        return 0;
}

/* Both stages' argv and environment fit a sandbox request and execve: a request over that is
 * the client's mistake (too many or too long arguments), not a sandbox failure. */
static int check_sizes(const job_spec_t *spec, strv_t *run_env, rc_err_t *err)
{
        const toolchain_t *tc = spec->tc;
        char **names = calloc(spec->nfiles + 1, sizeof(char *));
        if (!names)
                return rc_err_set(err, ENOMEM, "out of memory");
        for (size_t i = 0; i < spec->nfiles; i++)
                names[i] = (char *)spec->files[i].name;
        strv_t cargv = {0}, rargv = {0};
        sb_run_t run = {.nfiles = spec->nfiles};
        int r = 0;
        if (tc->compile.n) {
                r = toolchain_expand_argv_opts(tc, &tc->compile, names[0], names, spec->nfiles,
                                               spec->compile_options, NULL, &cargv, err);
                if (r == -EINVAL) { /* no file for {sources}: job_start says so, as the stage's
                                       internal_error (as before this check) */
                        strv_free(&cargv);
                        free(names);
                        rc_err_clear(err);
                        return 0;
                }
                run.argv = strv_array(&cargv);
                run.envp = strv_array((strv_t *)&tc->env);
                run.limits = spec->compile_limits;
                if (r >= 0 && (r = sandbox_run_check(&run, err)) < 0)
                        rc_err_wrap(err, "the compile stage");
                run.nfiles = 0; /* the run stage gets the compile stage's files */
        }
        if (r >= 0)
                r = run_command(tc, spec->command, names, spec->nfiles, spec->args, &rargv, err);
        if (r >= 0) {
                run.argv = strv_array(&rargv);
                run.envp = strv_array(run_env);
                run.limits = spec->run_limits;
                if ((r = sandbox_run_check(&run, err)) < 0)
                        rc_err_wrap(err, "the run stage");
        }
        strv_free(&cargv);
        strv_free(&rargv);
        free(names);
        return r;
}

int job_check(const job_spec_t *spec, rc_err_t *err)
{
        if (spec->nfiles == 0 && !spec->build)
                return rc_err_set(err, EINVAL, "no source file");
        if (spec->work_dir && (!spec->build || spec->build->nfiles || spec->nextra))
                return rc_err_set(err, EINVAL, "a read-only /work takes no files");
        for (size_t i = 0; i < spec->nfiles; i++) {
                const job_input_file_t *f = &spec->files[i];
                if (!sb_path_valid(f->name))
                        return rc_err_set(err, EINVAL, "invalid file name \"%.200s\"%s", f->name,
                                          f->name[0] == '@' || f->name[0] == '-'
                                              ? ": it may not start with '-' or '@' (a compiler "
                                                "would read it as an option or argument file)"
                                              : "");
                for (size_t k = 0; k < i; k++)
                        if (strcmp(spec->files[k].name, f->name) == 0)
                                return rc_err_set(err, EINVAL, "file \"%s\" given twice", f->name);
        }
        if (spec->command && (!spec->command[0] || !spec->command[0][0]))
                return rc_err_set(err, EINVAL, "the command's first word is empty");
        for (size_t i = 0; spec->outputs && spec->outputs[i]; i++) {
                const char *why = NULL;
                if (i == SB_OUTPUTS_MAX)
                        return rc_err_set(err, EINVAL, "outputs: at most %d patterns",
                                          SB_OUTPUTS_MAX);
                if (!glob_pattern_valid(spec->outputs[i], &why))
                        return rc_err_set(err, EINVAL, "outputs[%zu]: %s", i, why);
        }
        if (spec->compile_options && spec->compile_options[0] &&
            !toolchain_takes_options(&spec->tc->compile))
                return rc_err_set(err, EINVAL, "language '%s' takes no compile options",
                                  spec->tc->name);
        strv_t env = {0};
        int r = build_env(spec->tc, spec->env, &env, err);
        if (r >= 0)
                r = tty_term(spec, &env, err);
        if (r >= 0)
                r = check_sizes(spec, &env, err);
        strv_free(&env);
        return r < 0 ? r : 0;
}

int job_start(const job_spec_t *spec, ev_loop_t *loop, job_t **out, rc_err_t *err)
{
        const toolchain_t *tc = spec->tc;
        if (spec->nfiles == 0 && !spec->build)
                return rc_err_set(err, EINVAL, "no source file");
        if (spec->work_dir && (!spec->build || spec->build->nfiles || spec->nextra))
                return rc_err_set(err, EINVAL, "a read-only /work takes no files");
        job_t *j = calloc(1, sizeof(*j));
        if (!j)
                return rc_err_set(err, ENOMEM, "out of memory");
        j->spec = *spec;
        j->loop = loop;
        j->in_eof = !spec->interactive;
        j->files = calloc(spec->nfiles, sizeof(*j->files));
        char **names = calloc(spec->nfiles + 1, sizeof(char *));
        int r = 0;
        if (!j->files || !names) {
                r = rc_err_set(err, ENOMEM, "out of memory");
                goto fail;
        }
        if ((r = job_check(spec, err)) < 0)
                goto fail;
        for (size_t i = 0; i < spec->nfiles; i++) {
                const job_input_file_t *f = &spec->files[i];
                char *name = strdup(f->name);
                char *data = malloc(f->len ? f->len : 1);
                if (!name || !data) {
                        free(name);
                        free(data);
                        r = rc_err_set(err, ENOMEM, "out of memory");
                        goto fail;
                }
                memcpy(data, f->data, f->len);
                j->files[i] = (job_input_file_t){
                    .name = name, .data = data, .len = f->len, .executable = f->executable};
                names[i] = name;
        }
        j->spec.files = j->files;
        if (spec->build && spec->nextra) {
                j->extra = calloc(spec->nextra, sizeof(*j->extra));
                for (size_t i = 0; j->extra && i < spec->nextra; i++) {
                        char *name = strdup(spec->extra[i].name);
                        char *data = malloc(spec->extra[i].len ? spec->extra[i].len : 1);
                        if (name && data)
                                memcpy(data, spec->extra[i].data, spec->extra[i].len);
                        j->extra[i] = (job_input_file_t){.name = name,
                                                         .data = data,
                                                         .len = spec->extra[i].len,
                                                         .executable = spec->extra[i].executable};
                        if (!name || !data) {
                                j->spec.nextra = i + 1;
                                r = rc_err_set(err, ENOMEM, "out of memory");
                                goto fail;
                        }
                }
                if (!j->extra) {
                        j->spec.nextra = 0;
                        r = rc_err_set(err, ENOMEM, "out of memory");
                        goto fail;
                }
                j->spec.extra = j->extra;
        } else {
                j->spec.nextra = 0;
                j->spec.extra = NULL;
        }
        if (strv_copy(&j->args, spec->args) < 0 ||
            (spec->stdin_len && buf_append(&j->in, spec->stdin_data, spec->stdin_len) < 0)) {
                r = rc_err_set(err, ENOMEM, "out of memory");
                goto fail;
        }
        j->spec.args = strv_array(&j->args);
        if (spec->outputs) {
                if (strv_copy(&j->outputs, spec->outputs) < 0) {
                        r = rc_err_set(err, ENOMEM, "out of memory");
                        goto fail;
                }
                j->spec.outputs = strv_array(&j->outputs);
        }
        if ((r = build_env(tc, spec->env, &j->run_env, err)) < 0)
                goto fail;
        if ((r = tty_term(spec, &j->run_env, err)) < 0)
                goto fail;
        j->spec.env = NULL;
        j->spec.stdin_data = NULL;
        j->spec.stdin_len = 0;
        if ((tc->compile.n && (r = toolchain_expand_argv_opts(tc, &tc->compile, names[0], names,
                                                              spec->nfiles, spec->compile_options,
                                                              NULL, &j->compile_argv, err)) < 0) ||
            (r = run_command(tc, spec->command, names, spec->nfiles, j->spec.args, &j->run_argv,
                             err)) < 0)
                goto fail;
        j->spec.command = NULL;
        j->spec.compile_options = NULL; /* in compile_argv now */
        free(names);
        *out = j;
        stage_begin(j, tc->compile.n && !spec->build ? STAGE_COMPILE : STAGE_RUN);
        return 0;
fail:
        free(names);
        job_free(j);
        return r;
}

int job_write_stdin(job_t *j, const char *data, size_t len)
{
        if (j->in_eof || j->done)
                return -EPIPE;
        if (buf_append(&j->in, data, len) < 0)
                return -ENOMEM;
        tty_watch(j);
        if (j->w_in)
                j->loop->ops->io_set(j->loop, j->w_in, EV_WRITE);
        return 0;
}

size_t job_stdin_queued(const job_t *j)
{
        return j->in.len - j->in_off;
}

void job_close_stdin(job_t *j)
{
        if (j->in_eof)
                return;
        j->in_eof = true;
        tty_watch(j);
        if (j->w_in && j->in_off >= j->in.len)
                close_stdin(j);
        else if (j->w_in)
                j->loop->ops->io_set(j->loop, j->w_in, EV_WRITE);
}

int job_resize(job_t *j, uint16_t rows, uint16_t cols)
{
        if (!j->spec.tty_rows || !j->spec.tty_cols)
                return -ENOTTY;
        if (!rows || !cols)
                return -EINVAL;
        j->spec.tty_rows = rows; /* what the run stage starts with, if it has not yet */
        j->spec.tty_cols = cols;
        if (j->done || !j->tty_stage || !j->pr.sb || sandbox_tty_fd(j->pr.sb) < 0)
                return 0;
        return sandbox_tty_resize(j->pr.sb, rows, cols);
}

void job_kill(job_t *j, int sig)
{
        if (j->done)
                return;
        j->kill_requested = true;
        if (!j->pr.sb)
                return;
        if (sig == SIGKILL)
                kill_sandbox(j);
        else
                sandbox_signal(j->pr.sb, sig);
}

void job_pause_output(job_t *j, bool paused)
{
        j->paused = paused;
        unsigned ev = paused ? 0 : EV_READ;
        if (j->w_out)
                j->loop->ops->io_set(j->loop, j->w_out, ev);
        if (j->w_err)
                j->loop->ops->io_set(j->loop, j->w_err, ev);
        tty_watch(j);
}

bool job_is_done(const job_t *j)
{
        return j->done;
}

const job_result_t *job_result(const job_t *j)
{
        return &j->res;
}

int job_take_build(job_t *j, job_build_t **out)
{
        if (!j->done || !j->compile_out.files)
                return -ENOENT;
        job_build_t *b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        b->files = j->compile_out.files;
        b->nfiles = j->compile_out.nfiles;
        j->compile_out.files = NULL;
        j->compile_out.nfiles = 0;
        *out = b;
        return 0;
}

void job_build_free(job_build_t *b)
{
        if (!b)
                return;
        sb_files_free(b->files, b->nfiles);
        free(b);
}

void job_free(job_t *j)
{
        if (!j)
                return;
        job_unowe(j);
        unwatch_all(j);
        prep_ticket_free(j->ticket);
        prepared_destroy(&j->pr);
        lay_spent(j);
        sb_result_free(&j->compile_out);
        for (size_t i = 0; j->files && i < j->spec.nfiles; i++) {
                free((char *)j->files[i].name);
                free((char *)j->files[i].data);
        }
        free(j->files);
        for (size_t i = 0; j->extra && i < j->spec.nextra; i++) {
                free((char *)j->extra[i].name);
                free((char *)j->extra[i].data);
        }
        free(j->extra);
        strv_free(&j->args);
        strv_free(&j->outputs);
        strv_free(&j->run_env);
        strv_free(&j->compile_argv);
        strv_free(&j->run_argv);
        buf_free(&j->in);
        job_result_free(&j->res);
        free(j);
}

/* ------------------------------------------------------------------ blocking */

static void on_cancel(void *ud, unsigned ev)
{
        (void)ev;
        job_kill(ud, SIGKILL); /* the fd stays readable: the watch is paused below */
}

int job_run(const job_spec_t *js, job_result_t *res, rc_err_t *err)
{
        memset(res, 0, sizeof(*res));
        ev_loop_t *loop = ev_poll_new();
        if (!loop)
                return rc_err_set(err, ENOMEM, "out of memory");
        job_t *j = NULL;
        int r = job_start(js, loop, &j, err);
        if (r < 0) {
                ev_poll_free(loop);
                return r;
        }
        ev_io_t *wc = js->cancel_fd >= 0
                          ? loop->ops->io_add(loop, js->cancel_fd, EV_READ, on_cancel, j)
                          : NULL;
        while (!job_is_done(j)) {
                if (wc && j->kill_requested)
                        loop->ops->io_set(loop, wc, 0);
                if ((r = ev_poll_run_once(loop, -1)) < 0)
                        break;
        }
        if (r == 0) {
                *res = j->res; /* the buffers move to the caller */
                memset(&j->res, 0, sizeof(j->res));
        } else {
                rc_err_sys(err, -r, "event loop");
        }
        job_free(j);
        ev_poll_free(loop);
        return r;
}

void job_result_free(job_result_t *res)
{
        buf_free(&res->compile.out);
        buf_free(&res->compile.err);
        buf_free(&res->run.out);
        buf_free(&res->run.err);
        job_outputs_free(&res->compile);
        job_outputs_free(&res->run);
}

const char *stage_status_name(stage_status_t s)
{
        switch (s) {
        case STATUS_OK:
                return "ok";
        case STATUS_COMPILE_ERROR:
                return "compile_error";
        case STATUS_RUNTIME_ERROR:
                return "runtime_error";
        case STATUS_TIME_LIMIT:
                return "time_limit";
        case STATUS_MEMORY_LIMIT:
                return "memory_limit";
        case STATUS_OUTPUT_LIMIT:
                return "output_limit";
        case STATUS_KILLED:
                return "killed";
        case STATUS_INTERNAL_ERROR:
                return "internal_error";
        default:
                return "unknown";
        }
}

const char *stage_kind_name(stage_kind_t s)
{
        return s == STAGE_COMPILE ? "compile" : "run";
}

const char *signal_name(int sig)
{
        static const struct {
                int sig;
                const char *name;
        } names[] = {
            {SIGHUP, "SIGHUP"},       {SIGINT, "SIGINT"},   {SIGQUIT, "SIGQUIT"},
            {SIGILL, "SIGILL"},       {SIGTRAP, "SIGTRAP"}, {SIGABRT, "SIGABRT"},
            {SIGBUS, "SIGBUS"},       {SIGFPE, "SIGFPE"},   {SIGKILL, "SIGKILL"},
            {SIGUSR1, "SIGUSR1"},     {SIGSEGV, "SIGSEGV"}, {SIGUSR2, "SIGUSR2"},
            {SIGPIPE, "SIGPIPE"},     {SIGALRM, "SIGALRM"}, {SIGTERM, "SIGTERM"},
            {SIGCHLD, "SIGCHLD"},     {SIGCONT, "SIGCONT"}, {SIGSTOP, "SIGSTOP"},
            {SIGTSTP, "SIGTSTP"},     {SIGTTIN, "SIGTTIN"}, {SIGTTOU, "SIGTTOU"},
            {SIGURG, "SIGURG"},       {SIGXCPU, "SIGXCPU"}, {SIGXFSZ, "SIGXFSZ"},
            {SIGVTALRM, "SIGVTALRM"}, {SIGPROF, "SIGPROF"}, {SIGWINCH, "SIGWINCH"},
            {SIGIO, "SIGIO"},         {SIGPWR, "SIGPWR"},   {SIGSYS, "SIGSYS"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(names); i++)
                if (names[i].sig == sig)
                        return names[i].name;
        return NULL;
}
