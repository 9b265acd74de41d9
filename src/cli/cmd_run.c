#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/catalog.h"
#include "cli/cli.h"
#include "job/job.h"
#include "job/result_json.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/trace.h"

#define CLI_FILE_MAX  (16u << 20)
#define CLI_FILES_MAX 256

typedef struct run_opts {
        const char *lang;
        const char *stdin_path;
        bool json;
        rc_limits_t limits;
        char **files;
        int nfiles;
        char **args;
} run_opts_t;

static const struct {
        const char *flag;
        size_t offset;
} limit_flags[] = {
    {"--wall-ms", offsetof(rc_limits_t, wall_ms)},
    {"--cpu-ms", offsetof(rc_limits_t, cpu_ms)},
    {"--memory-mb", offsetof(rc_limits_t, memory_mb)},
    {"--processes", offsetof(rc_limits_t, processes)},
    {"--output-bytes", offsetof(rc_limits_t, output_bytes)},
    {"--file-size-mb", offsetof(rc_limits_t, file_size_mb)},
    {"--disk-mb", offsetof(rc_limits_t, disk_mb)},
    {"--open-files", offsetof(rc_limits_t, open_files)},
    {"--stack-mb", offsetof(rc_limits_t, stack_mb)},
};

static int parse_run_args(int argc, char **argv, run_opts_t *o)
{
        int i = 1;
        for (; i < argc; i++) {
                const char *a = argv[i];
                if (strcmp(a, "--") == 0) {
                        i++;
                        break;
                }
                if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
                        return cli_fail("usage: runcell run --lang L [--stdin FILE] [--json] "
                                        "[limits] FILE... [-- ARGS...] (see runcell --help)");
                if (strcmp(a, "--json") == 0) {
                        o->json = true;
                        continue;
                }
                if (a[0] != '-' || strcmp(a, "-") == 0) {
                        if (!o->files)
                                o->files = argv + i;
                        if (o->files + o->nfiles != argv + i)
                                return cli_fail("options must come before the files");
                        o->nfiles++;
                        continue;
                }
                if (i + 1 >= argc)
                        return cli_fail("%s needs a value", a);
                const char *v = argv[++i];
                if (strcmp(a, "--lang") == 0 || strcmp(a, "-l") == 0) {
                        o->lang = v;
                        continue;
                }
                if (strcmp(a, "--stdin") == 0) {
                        o->stdin_path = v;
                        continue;
                }
                size_t k;
                for (k = 0; k < ARRAY_SIZE(limit_flags); k++)
                        if (strcmp(a, limit_flags[k].flag) == 0)
                                break;
                if (k == ARRAY_SIZE(limit_flags))
                        return cli_fail("run: unknown option %s", a);
                char *end;
                long long n = strtoll(v, &end, 10);
                if (*end || n <= 0)
                        return cli_fail("%s: expected a positive integer, got '%s'", a, v);
                *(int64_t *)((char *)&o->limits + limit_flags[k].offset) = n;
        }
        o->args = argv + i;
        if (!o->lang)
                return cli_fail("run: --lang is required (see runcell languages)");
        if (o->nfiles == 0)
                return cli_fail("run: no source file given");
        if (o->nfiles > CLI_FILES_MAX)
                return cli_fail("run: more than %d files", CLI_FILES_MAX);
        return 0;
}

static void on_output(void *ud, stage_kind_t stage, stream_kind_t stream, const char *data,
                      size_t len)
{
        int fd = stream == STREAM_STDOUT ? 1 : 2;
        while (len) {
                ssize_t w = write(fd, data, len);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return;
                data += w;
                len -= (size_t)w;
        }
}

static void print_summary(stage_kind_t kind, const stage_result_t *s)
{
        char detail[600];
        if (s->status == STATUS_INTERNAL_ERROR)
                snprintf(detail, sizeof(detail), "%s", s->error);
        else {
                char what[64] = "";
                if (s->signal)
                        snprintf(what, sizeof(what), "signal %s, ",
                                 signal_name(s->signal) ? signal_name(s->signal) : "?");
                else if (s->exit_code >= 0)
                        snprintf(what, sizeof(what), "exit %d, ", s->exit_code);
                snprintf(detail, sizeof(detail), "%s%lld ms", what, (long long)s->wall_ms);
                if (s->cpu_ms >= 0)
                        snprintf(detail + strlen(detail), sizeof(detail) - strlen(detail),
                                 ", cpu %lld ms", (long long)s->cpu_ms);
                if (s->memory_kb >= 0)
                        snprintf(detail + strlen(detail), sizeof(detail) - strlen(detail),
                                 ", %lld KiB", (long long)s->memory_kb);
        }
        fprintf(stderr, "runcell: %s: %s (%s%s%s)\n", stage_kind_name(kind),
                stage_status_name(s->status), detail, s->limit_kind ? ", limit " : "",
                s->limit_kind ? s->limit_kind : "");
}

static int read_inputs(const run_opts_t *o, job_input_file_t *files, char **bufs)
{
        for (int i = 0; i < o->nfiles; i++) {
                const char *p = o->files[i];
                rc_err_t err = {0};
                size_t len = 0;
                struct stat st;
                if (stat(p, &st) < 0)
                        return cli_fail("%s: %s", p, strerror(errno));
                if (!S_ISREG(st.st_mode))
                        return cli_fail("%s: not a regular file", p);
                if (fs_read_file(p, CLI_FILE_MAX, &bufs[i], &len, &err) < 0)
                        return cli_fail("%s", err.msg);
                _cleanup_free_ char *copy = strdup(p);
                char *base = copy ? strdup(basename(copy)) : NULL;
                if (!base)
                        return cli_fail("out of memory");
                files[i] = (job_input_file_t){.name = base,
                                              .data = bufs[i],
                                              .len = len,
                                              .executable = (st.st_mode & 0100) != 0};
        }
        return 0;
}

int cmd_run(const rc_paths_t *paths, int argc, char **argv)
{
        run_opts_t o = {0};
        if (parse_run_args(argc, argv, &o))
                return 1;

        catalog_t cat;
        memset(&cat, 0, sizeof(cat));
        rc_err_t err = {0};
        int rc = 1;
        job_input_file_t *files = calloc((size_t)o.nfiles, sizeof(*files));
        char **bufs = calloc((size_t)o.nfiles, sizeof(char *));
        char *stdin_data = NULL;
        size_t stdin_len = 0;
        job_result_t res = {0};
        /* Ctrl-C, SIGTERM or SIGHUP end the run, not runcell: the sandbox is killed, the verdict is
         * "killed", the output so far is reported, and nothing is left behind. */
        sigset_t stop;
        sigemptyset(&stop);
        sigaddset(&stop, SIGINT);
        sigaddset(&stop, SIGTERM);
        sigaddset(&stop, SIGHUP);
        sigprocmask(SIG_BLOCK, &stop, NULL);
        int cancel_fd = signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK);
        if (!files || !bufs) {
                cli_fail("out of memory");
                goto out;
        }
        int64_t tt = trace_now();
        if (catalog_load(&cat, paths, &err) < 0) {
                cli_fail("%s", err.msg);
                goto out;
        }
        const toolchain_t *tc = toolchain_set_find(&cat.set, o.lang);
        if (!tc) {
                cli_fail("unknown language '%s' (see runcell languages)", o.lang);
                goto out;
        }
        if (read_inputs(&o, files, bufs))
                goto out;
        if (o.stdin_path &&
            fs_read_file(o.stdin_path, CLI_FILE_MAX, &stdin_data, &stdin_len, &err) < 0) {
                cli_fail("--stdin: %s", err.msg);
                goto out;
        }
        lang_t *lang = NULL;
        if (catalog_lang(&cat, tc, &lang, &err) < 0) {
                cli_fail("%s", err.msg);
                goto out;
        }
        tt = trace_step("toolchains, inputs, rootfs, seccomp", tt);
        /* No pool: a one-shot run prepares its sandboxes when it needs them. */
        if (catalog_open_limits(&cat, 0, &err) < 0) {
                cli_fail("%s", err.msg);
                goto out;
        }
        tt = trace_step("cgroup manager open", tt);
        job_spec_t js;
        catalog_job_spec(&cat, lang, &js);
        limits_overlay(&js.run_limits, &o.limits);
        js.files = files;
        js.nfiles = (size_t)o.nfiles;
        js.stdin_data = stdin_data;
        js.stdin_len = stdin_len;
        js.args = o.args;
        js.capture = o.json;
        js.cancel_fd = cancel_fd;
        js.cb.output = o.json ? NULL : on_output;
        if (job_run(&js, &res, &err) < 0) {
                cli_fail("%s", err.msg);
                goto out;
        }
        bool internal = (res.compile.present && res.compile.status == STATUS_INTERNAL_ERROR) ||
                        (res.run.present && res.run.status == STATUS_INTERNAL_ERROR);
        if (o.json) {
                cJSON *j = job_result_json(tc->name, lang->version, &res);
                char *text = cJSON_PrintUnformatted(j);
                if (text)
                        printf("%s\n", text);
                free(text);
                cJSON_Delete(j);
        } else {
                if (res.compile.present)
                        print_summary(STAGE_COMPILE, &res.compile);
                if (res.run.present)
                        print_summary(STAGE_RUN, &res.run);
        }
        rc = internal ? 3 : 0;
        struct signalfd_siginfo si;
        if (cancel_fd >= 0 && read(cancel_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
                rc = 128 + (int)si.ssi_signo; /* as if the signal had ended runcell */
out:
        job_result_free(&res);
        for (int i = 0; files && bufs && i < o.nfiles; i++) {
                free(bufs[i]);
                free((char *)files[i].name);
        }
        free(files);
        free(bufs);
        free(stdin_data);
        if (cancel_fd >= 0)
                close(cancel_fd);
        catalog_close(&cat);
        return rc;
}
