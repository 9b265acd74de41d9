#include "job/job.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "sandbox/sync.h"
#include "util/cleanup.h"
#include "util/trace.h"

#define READ_CHUNK (64 * 1024)

typedef struct stage_io {
        const job_spec_t *js;
        stage_kind_t kind;
        stage_result_t *res;
        int64_t out_total;
        int64_t out_limit;
        bool over_output;
} stage_io_t;

static void deliver(stage_io_t *io, stream_kind_t stream, const char *data, size_t len)
{
        if (io->over_output)
                return;
        if ((int64_t)len > io->out_limit - io->out_total) {
                len = (size_t)(io->out_limit - io->out_total);
                io->over_output = true;
                io->res->truncated = true;
        }
        io->out_total += (int64_t)len;
        if (len == 0)
                return;
        if (io->js->capture)
                buf_append(stream == STREAM_STDOUT ? &io->res->out : &io->res->err, data, len);
        if (io->js->cb.output)
                io->js->cb.output(io->js->cb.ud, io->kind, stream, data, len);
}

/* Read what is there; returns false at EOF. */
static bool drain(stage_io_t *io, int fd, stream_kind_t stream)
{
        char buf[READ_CHUNK];
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n > 0) {
                        deliver(io, stream, buf, (size_t)n);
                        continue;
                }
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return true;
                return false;
        }
}

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
        out->sb = NULL;
        out->leaf = NULL;
        if (js->cgroups && cg_leaf_create(js->cgroups, lim, js->cpus, &out->leaf, err) < 0)
                return -EIO;
        tt = trace_step("cgroup leaf create", tt);
        sb_prep_t prep = {
            .rootfs = js->rootfs,
            .hostname = "runcell",
            .host_uid = js->host_uid,
            .host_gid = js->host_gid,
            .seccomp = js->seccomp,
            .cgroup = out->leaf,
            .disk_mb = lim->disk_mb,
        };
        int r = sandbox_prepare(&prep, &out->sb, err);
        trace_step("prepare sandbox", tt);
        if (r < 0) {
                cg_leaf_destroy(out->leaf);
                out->leaf = NULL;
        }
        return r;
}

int job_pool_fill(const job_spec_t *js, rc_err_t *err)
{
        if (!js->pool)
                return 0;
        pool_key_t key = {js->rootfs, js->seccomp, js->run_limits.disk_mb};
        while (job_pool_count(js->pool, &key) < job_pool_per_key(js->pool)) {
                prepared_t pr;
                int r = job_prepare(js, &js->run_limits, &pr, err);
                if (r < 0)
                        return r;
                job_pool_put(js->pool, &key, pr);
        }
        return 0;
}

/* A prepared sandbox for this stage: from the pool (given the stage's limits), or made now. */
static int get_prepared(const job_spec_t *js, const rc_limits_t *lim, prepared_t *pr, rc_err_t *err)
{
        pool_key_t key = {js->rootfs, js->seccomp, lim->disk_mb};
        if (job_pool_take(js->pool, &key, pr)) {
                if (cg_leaf_set_limits(pr->leaf, lim, js->cpus, err) == 0)
                        return 0;
                prepared_destroy(pr);
        }
        return job_prepare(js, lim, pr, err);
}

static int stage_exec(const job_spec_t *js, stage_kind_t kind, const strv_t *argv,
                      const sb_file_t *files, size_t nfiles, bool collect, const rc_limits_t *lim,
                      stage_result_t *res, sb_result_t *sr)
{
        memset(res, 0, sizeof(*res));
        memset(sr, 0, sizeof(*sr));
        res->present = true;
        res->exit_code = -1;
        res->cpu_ms = res->memory_kb = -1;
        if (js->cb.stage_start)
                js->cb.stage_start(js->cb.ud, kind);

        sb_run_t run = {
            .argv = argv->v,
            .envp = strv_array((strv_t *)&js->tc->env),
            .files = files,
            .nfiles = nfiles,
            .collect = collect,
            .limits = *lim,
        };
        stage_io_t io = {.js = js, .kind = kind, .res = res, .out_limit = lim->output_bytes};
        rc_err_t err = {0};
        prepared_t pr = {0};
        int64_t t0 = sb_now_ns();
        int64_t tt = trace_now();
        if (get_prepared(js, lim, &pr, &err) < 0) {
                set_internal(res, err.msg);
                goto out;
        }
        sandbox_t *sb = pr.sb;
        cg_leaf_t *leaf = pr.leaf;
        if (sandbox_run(sb, &run, &err) < 0) {
                set_internal(res, err.msg);
                res->wall_ms = (sb_now_ns() - t0) / 1000000;
                goto out;
        }

        const char *in = kind == STAGE_RUN ? js->stdin_data : NULL;
        size_t in_left = kind == STAGE_RUN ? js->stdin_len : 0;
        if (!in || in_left == 0)
                sandbox_close_stdin(sb);
        int64_t deadline = sandbox_start_ns(sb) + lim->wall_ms * 1000000;
        /* CPU time is checked when it could first have run out: with a quota of `cpus` cores
         * it grows at most that fast, so no polling in between. */
        double rate = js->cpus > 0 ? js->cpus : 1.0;
        int64_t cpu_check = leaf && lim->cpu_ms > 0
                                ? sandbox_start_ns(sb) + (int64_t)(lim->cpu_ms * 1e6 / rate)
                                : INT64_MAX;
        const char *time_limit = NULL;
        bool out_open = true, err_open = true, alive = true, killed = false, cancelled = false;
        while (out_open || err_open || alive) {
                struct pollfd p[6];
                int n = 0, i_out = -1, i_err = -1, i_in = -1, i_sync = -1, i_pid = -1,
                    i_cancel = -1;
                if (js->cancel_fd >= 0 && !killed)
                        p[i_cancel = n++] = (struct pollfd){js->cancel_fd, POLLIN, 0};
                if (out_open)
                        p[i_out = n++] = (struct pollfd){sandbox_stdout_fd(sb), POLLIN, 0};
                if (err_open)
                        p[i_err = n++] = (struct pollfd){sandbox_stderr_fd(sb), POLLIN, 0};
                if (sandbox_stdin_fd(sb) >= 0)
                        p[i_in = n++] = (struct pollfd){sandbox_stdin_fd(sb), POLLOUT, 0};
                if (sandbox_sync_fd(sb) >= 0)
                        p[i_sync = n++] = (struct pollfd){sandbox_sync_fd(sb), POLLIN, 0};
                if (alive)
                        p[i_pid = n++] = (struct pollfd){sandbox_pidfd(sb), POLLIN, 0};
                int64_t next = deadline < cpu_check ? deadline : cpu_check;
                int64_t left_ms = (next - sb_now_ns()) / 1000000;
                int timeout = killed ? -1 : (int)(left_ms < 0 ? 0 : left_ms + 1);
                int polled = poll(p, (nfds_t)n, timeout);
                if (polled < 0 && errno != EINTR) {
                        set_internal(res, "poll failed");
                        sandbox_kill(sb);
                        killed = true;
                }
                int64_t now = sb_now_ns();
                if (!killed && now >= deadline) {
                        time_limit = "wall";
                        killed = true;
                        sandbox_kill(sb);
                }
                if (!killed && now >= cpu_check) {
                        cg_stats_t st;
                        cg_leaf_stats(leaf, &st);
                        int64_t left_us = lim->cpu_ms * 1000 - st.cpu_usage_us;
                        if (st.cpu_usage_us >= 0 && left_us <= 0) {
                                time_limit = "cpu";
                                killed = true;
                                sandbox_kill(sb);
                        } else {
                                int64_t wait_ns =
                                    (int64_t)((left_us > 0 ? left_us : 1000) * 1e3 / rate);
                                cpu_check = now + (wait_ns < 2000000 ? 2000000 : wait_ns);
                        }
                }
                if (polled <= 0)
                        continue;
                if (i_cancel >= 0 && p[i_cancel].revents) {
                        /* Left readable on purpose: a later stage sees it too and never starts. */
                        cancelled = killed = true;
                        sandbox_kill(sb);
                }
                if (i_out >= 0 && p[i_out].revents)
                        out_open = drain(&io, sandbox_stdout_fd(sb), STREAM_STDOUT);
                if (i_err >= 0 && p[i_err].revents)
                        err_open = drain(&io, sandbox_stderr_fd(sb), STREAM_STDERR);
                if (io.over_output && !killed) {
                        killed = true;
                        sandbox_kill(sb);
                }
                if (i_in >= 0 && p[i_in].revents) {
                        ssize_t w =
                            write(sandbox_stdin_fd(sb), in, in_left > 65536 ? 65536 : in_left);
                        if (w > 0) {
                                in += w;
                                in_left -= (size_t)w;
                        }
                        if (in_left == 0 || (w < 0 && errno != EAGAIN && errno != EINTR))
                                sandbox_close_stdin(sb);
                }
                if (i_sync >= 0 && p[i_sync].revents) {
                        rc_err_t e2 = {0};
                        if (sandbox_handle_sync(sb, &e2) < 0) {
                                set_internal(res, e2.msg);
                                killed = true;
                                sandbox_kill(sb);
                        }
                }
                if (i_pid >= 0 && p[i_pid].revents) {
                        alive = false;
                        trace_step("init gone since start", sandbox_start_ns(sb));
                }
        }
        tt = trace_step("program run + output", tt);
        if (sandbox_finish(sb, sr, &err) < 0 && res->status != STATUS_INTERNAL_ERROR)
                set_internal(res, err.msg);
        cg_stats_t st;
        bool oom = false;
        if (leaf && cg_leaf_stats(leaf, &st) == 0) {
                res->cpu_ms = st.cpu_usage_us >= 0 ? st.cpu_usage_us / 1000 : -1;
                res->memory_kb = st.memory_peak_bytes >= 0 ? st.memory_peak_bytes / 1024 : -1;
                oom = st.oom_kills > 0;
        }
        if (res->status != STATUS_INTERNAL_ERROR)
                classify(res, kind, sr, time_limit, io.over_output, cancelled, oom);
        res->wall_ms = sr->exited && sr->end_ns > sr->start_ns
                           ? (sr->end_ns - sr->start_ns) / 1000000
                           : (sb_now_ns() - sandbox_start_ns(sb)) / 1000000;
out:
        tt = trace_step("finish + stats", tt);
        prepared_destroy(&pr);
        trace_step("sandbox and cgroup leaf gone", tt);
        if (js->cb.stage_end)
                js->cb.stage_end(js->cb.ud, kind, res);
        return 0;
}

int job_run(const job_spec_t *js, job_result_t *res, rc_err_t *err)
{
        memset(res, 0, sizeof(*res));
        const toolchain_t *tc = js->tc;
        if (js->nfiles == 0)
                return rc_err_set(err, EINVAL, "no source file");
        _cleanup_free_ sb_file_t *files = calloc(js->nfiles, sizeof(*files));
        _cleanup_free_ char **names = calloc(js->nfiles + 1, sizeof(char *));
        if (!files || !names)
                return rc_err_set(err, ENOMEM, "out of memory");
        for (size_t i = 0; i < js->nfiles; i++) {
                const job_input_file_t *f = &js->files[i];
                if (!sb_path_valid(f->name))
                        return rc_err_set(err, EINVAL, "invalid file name \"%s\"", f->name);
                for (size_t j = 0; j < i; j++)
                        if (strcmp(names[j], f->name) == 0)
                                return rc_err_set(err, EINVAL, "file \"%s\" given twice", f->name);
                files[i] = (sb_file_t){.path = (char *)f->name,
                                       .mode = f->executable ? 0755 : 0644,
                                       .data = f->data,
                                       .len = f->len,
                                       .fd = -1};
                names[i] = (char *)f->name;
        }

        strv_t compile_argv = {0}, run_argv = {0};
        int r = 0;
        if (tc->compile.n && (r = toolchain_expand_argv(tc, &tc->compile, names[0], names,
                                                        js->nfiles, NULL, &compile_argv, err)) < 0)
                goto out;
        if ((r = toolchain_expand_argv(tc, &tc->run, names[0], names, js->nfiles, js->args,
                                       &run_argv, err)) < 0)
                goto out;

        if (tc->compile.n) {
                sb_result_t sr;
                stage_exec(js, STAGE_COMPILE, &compile_argv, files, js->nfiles, true,
                           &js->compile_limits, &res->compile, &sr);
                if (res->compile.status == STATUS_RUNTIME_ERROR)
                        res->compile.status = STATUS_COMPILE_ERROR;
                if (res->compile.status == STATUS_OK) {
                        sb_result_t rr;
                        stage_exec(js, STAGE_RUN, &run_argv, sr.files, sr.nfiles, false,
                                   &js->run_limits, &res->run, &rr);
                        sb_result_free(&rr);
                }
                sb_result_free(&sr);
        } else {
                sb_result_t rr;
                stage_exec(js, STAGE_RUN, &run_argv, files, js->nfiles, false, &js->run_limits,
                           &res->run, &rr);
                sb_result_free(&rr);
        }
out:
        strv_free(&compile_argv);
        strv_free(&run_argv);
        return r;
}

void job_result_free(job_result_t *res)
{
        buf_free(&res->compile.out);
        buf_free(&res->compile.err);
        buf_free(&res->run.out);
        buf_free(&res->run.err);
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
