/* runcell run: the files, the language (given or guessed from the entry file's extension), the
 * program's stdin (a file, or runcell's own stdin passed on as the program reads it), one job on
 * a poll loop, its output streamed or printed as JSON. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/run_setup.h"
#include "cli/warm_run.h"
#include "engine/catalog.h"
#include "engine/request.h"
#include "job/job.h"
#include "job/outputs.h"
#include "job/preparer.h"
#include "job/result_json.h"
#include "job/warm.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/glob.h"
#include "util/note.h"
#include "util/trace.h"

/* runcell's stdin read ahead of the program, at most (then reading waits for the program). */
#define STDIN_QUEUE_MAX (1u << 20)

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
    {"--outputs-count", offsetof(rc_limits_t, outputs_count)},
    {"--outputs-file-bytes", offsetof(rc_limits_t, outputs_file_bytes)},
    {"--outputs-total-bytes", offsetof(rc_limits_t, outputs_total_bytes)},
};

/* Judge options (runcell judge only): --tests DIR, --compare MODE, --abs-tol X, --rel-tol X,
 * --parallel N, --stop-on-first-failure, --fresh-sandboxes. 1: not one of them; 0: taken; -1: a bad
 * value. */
static int parse_judge_opt(const char *a, const char *v, run_opts_t *o)
{
        char *end;
        if (strcmp(a, "--tests") == 0) {
                o->tests_dir = v;
        } else if (strcmp(a, "--checker") == 0) {
                o->checker = v;
        } else if (strcmp(a, "--checker-lang") == 0) {
                o->checker_lang = v;
        } else if (strcmp(a, "--compare") == 0) {
                if (compare_mode_parse(v, &o->compare.mode) < 0)
                        return cli_fail("--compare: exact, trim, tokens or float, not '%s'", v), -1;
        } else if (strcmp(a, "--abs-tol") == 0 || strcmp(a, "--rel-tol") == 0) {
                double x = strtod(v, &end);
                if (*end || !(x >= 0) || x > 1e300)
                        return cli_fail("%s: a number >= 0, not '%s'", a, v), -1;
                *(a[2] == 'a' ? &o->compare.abs_tol : &o->compare.rel_tol) = x;
        } else if (strcmp(a, "--parallel") == 0) {
                long n = strtol(v, &end, 10);
                if (*end || n < 1 || n > 64)
                        return cli_fail("--parallel: 1 to 64, not '%s'", v), -1;
                o->parallel = (unsigned)n;
        } else {
                return 1;
        }
        return 0;
}

int cli_run_parse(int argc, char **argv, run_opts_t *o, bool judge)
{
        o->judge = judge;
        o->compare = (compare_opts_t){
            .mode = COMPARE_TRIM, .abs_tol = COMPARE_DEFAULT_TOL, .rel_tol = COMPARE_DEFAULT_TOL};
        const char *cmd = judge ? "judge" : "run";
        int i = 1;
        for (; i < argc; i++) {
                const char *a = argv[i];
                if (strcmp(a, "--") == 0) {
                        i++;
                        break;
                }
                if (strcmp(a, "--json") == 0) {
                        o->json = true;
                        continue;
                }
                if (judge && strcmp(a, "--stop-on-first-failure") == 0) {
                        o->stop_on_first_failure = true;
                        continue;
                }
                if (judge && strcmp(a, "--fresh-sandboxes") == 0) {
                        o->fresh_sandboxes = true;
                        continue;
                }
                if (!judge && strcmp(a, "--no-warm") == 0) {
                        o->no_warm = true;
                        continue;
                }
                if (!judge && (strcmp(a, "-t") == 0 || strcmp(a, "--tty") == 0)) {
                        o->tty = true;
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
                if (strcmp(a, "--lang-version") == 0) {
                        o->version = v;
                        continue;
                }
                if (!judge && strcmp(a, "--outputs") == 0) {
                        const char *why = NULL;
                        if (o->noutputs == SB_OUTPUTS_MAX)
                                return cli_fail("--outputs: at most %d patterns", SB_OUTPUTS_MAX);
                        if (!glob_pattern_valid(v, &why))
                                return cli_fail("--outputs '%s': %s", v, why);
                        o->outputs[o->noutputs++] = (char *)v;
                        continue;
                }
                if (!judge && strcmp(a, "--outputs-dir") == 0) {
                        o->outputs_dir = v;
                        continue;
                }
                if (!judge && strcmp(a, "--stdin") == 0) {
                        o->stdin_path = v;
                        continue;
                }
                if (judge) {
                        int jr = parse_judge_opt(a, v, o);
                        if (jr < 0)
                                return 1;
                        if (jr == 0)
                                continue;
                }
                if (strcmp(a, "--name") == 0) {
                        if (!*v || strchr(v, '/') || strcmp(v, ".") == 0 || strcmp(v, "..") == 0)
                                return cli_fail("--name: a file name without '/', got '%s'", v);
                        o->name = v;
                        continue;
                }
                size_t k;
                for (k = 0; k < ARRAY_SIZE(limit_flags); k++)
                        if (strcmp(a, limit_flags[k].flag) == 0)
                                break;
                if (k == ARRAY_SIZE(limit_flags))
                        return cli_fail("%s: unknown option %s (see runcell %s --help)", cmd, a,
                                        cmd);
                char *end;
                long long n = strtoll(v, &end, 10);
                if (*end || n <= 0)
                        return cli_fail("%s: expected a positive integer, got '%s'", a, v);
                *(int64_t *)(void *)((char *)&o->limits + limit_flags[k].offset) = n;
        }
        o->args = argv + i;
        if (o->nfiles == 0)
                return cli_fail("%s: no source file given (see runcell %s --help)", cmd, cmd);
        if (o->nfiles > CLI_FILES_MAX)
                return cli_fail("%s: more than %d files", cmd, CLI_FILES_MAX);
        if (o->noutputs && !o->outputs_dir && !o->json)
                return cli_fail("run: --outputs needs --outputs-dir DIR (or --json)");
        if (o->outputs_dir && !o->noutputs)
                return cli_fail("run: --outputs-dir goes with --outputs GLOB");
        if (judge && !o->tests_dir)
                return cli_fail("judge: --tests DIR is required (NAME.in and NAME.out files)");
        if (o->checker_lang && !o->checker)
                return cli_fail("judge: --checker-lang goes with --checker FILE");
        int dashes = 0;
        for (int k = 0; k < o->nfiles; k++)
                dashes += strcmp(o->files[k], "-") == 0;
        if (o->tty && o->json)
                return cli_fail("run: -t (a terminal to type into) and --json (one object at the "
                                "end) do not go together");
        if (o->tty && (o->stdin_path || dashes))
                return cli_fail("run: with -t the program's input is your terminal: no --stdin "
                                "and no file read from stdin (-)");
        if (dashes > 1 || (dashes && o->stdin_path && strcmp(o->stdin_path, "-") == 0))
                return cli_fail("%s: runcell's stdin (-) can be read only once", cmd);
        return 0;
}

/* Open (creating) the directories of name below dfd, never through a symlink; returns an fd of
 * the last one with *base its file name, or -errno. */
static int output_parent(int dfd, const char *name, const char **base)
{
        char comp[256]; /* a name is at most 200 bytes (sb_output_path_ok) */
        int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
        const char *start = name;
        for (const char *slash; fd >= 0 && (slash = strchr(start, '/')); start = slash + 1) {
                size_t cl = (size_t)(slash - start);
                if (cl >= sizeof(comp)) {
                        close(fd);
                        return -ENAMETOOLONG;
                }
                memcpy(comp, start, cl);
                comp[cl] = '\0';
                if (mkdirat(fd, comp, 0755) < 0 && errno != EEXIST) {
                        int e = errno;
                        close(fd);
                        return -e;
                }
                int nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                int e = errno;
                close(fd);
                if (nfd < 0)
                        return -e;
                fd = nfd;
        }
        *base = start;
        return fd < 0 ? -errno : fd;
}

/* --outputs-dir: the run stage's files into dir, each name checked again (relative, no "." or
 * ".." component, UTF-8) and created below dir only: O_NOFOLLOW, O_EXCL (never over a file
 * that is there). What was left out is said on stderr. -1 when a file could not be written. */
static int write_outputs(const char *dir, const stage_result_t *s)
{
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return cli_fail("--outputs-dir %s: %s", dir, strerror(errno)), -1;
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return cli_fail("--outputs-dir %s: %s", dir, strerror(errno)), -1;
        int written = 0, failed = 0;
        for (size_t i = 0; i < s->nfiles; i++) {
                const job_output_file_t *f = &s->files[i];
                if (f->skipped || !f->data) {
                        fprintf(stderr, "runcell: outputs: %s left out: %s\n",
                                job_output_name_ok(f->name) ? f->name : "(a name not shown)",
                                f->skipped ? f->skipped : "?");
                        continue;
                }
                const char *base = NULL;
                int pfd = -EINVAL;
                if (sb_output_path_ok(f->name) && job_output_name_ok(f->name))
                        pfd = output_parent(dfd, f->name, &base);
                int fd = pfd >= 0 ? openat(pfd, base,
                                           O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                                           (mode_t)(f->mode >= 0 ? f->mode & 0777 : 0644))
                                  : -1;
                int e = pfd < 0 ? -pfd : errno;
                if (pfd >= 0)
                        close(pfd);
                int wr = fd < 0 ? 0 : fs_write_all(fd, f->data, (size_t)f->size);
                if (fd < 0 || wr < 0) {
                        if (fd >= 0)
                                e = -wr;
                        cli_fail("--outputs-dir: %s/%s: %s", dir, f->name, strerror(e));
                        failed++;
                } else {
                        written++;
                }
                if (fd >= 0)
                        close(fd);
        }
        close(dfd);
        fprintf(stderr, "runcell: outputs: %d file%s written to %s%s\n", written,
                written == 1 ? "" : "s", dir, s->files_truncated ? " (some were left out)" : "");
        return failed ? -1 : 0;
}

/* ".py" in "dir/x.py"; NULL when the base name has none (".bashrc" has none either). */
static const char *extension(const char *path)
{
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        const char *dot = strrchr(base, '.');
        return dot && dot != base && dot[1] ? dot : NULL;
}

/* The language whose toolchain lists name's extension in "source_extensions"; with complain
 * false, NULL without a message when none does (the set may be a part of them). */
const toolchain_t *cli_guess_lang(const toolchain_set_t *set, const char *name, bool complain)
{
        const char *ext = extension(name);
        if (!ext) {
                cli_fail("run: %s has no extension to tell its language by: give --lang "
                         "(see runcell languages)",
                         name);
                return NULL;
        }
        const toolchain_t *found = NULL;
        char known[512] = "";
        size_t kl = 0;
        for (size_t i = 0; i < set->n; i++) {
                const toolchain_t *tc = set->items[i];
                for (size_t k = 0; k < tc->source_ext.n; k++) {
                        if (strcmp(tc->source_ext.v[k], ext) == 0) {
                                /* several versions of one language share extensions */
                                if (found && strcmp(found->name, tc->name) != 0) {
                                        if (!complain)
                                                return NULL;
                                        cli_fail("run: the extension %s is claimed by %s and %s: "
                                                 "give --lang",
                                                 ext, found->name, tc->name);
                                        return NULL;
                                }
                                found = tc;
                        }
                        if (kl + 1 < sizeof(known))
                                kl += (size_t)snprintf(known + kl, sizeof(known) - kl, "%s%s",
                                                       kl ? " " : "", tc->source_ext.v[k]);
                }
        }
        if (!found && complain)
                cli_fail("run: cannot tell the language of %s by its extension %s (known: %s): "
                         "give --lang",
                         name, ext, known);
        return found;
}

/* The terminal's output did not end a line: the summary starts one of its own. */
static bool tty_mid_line;

static void on_output(void *ud, stage_kind_t stage, stream_kind_t stream, const char *data,
                      size_t len)
{
        (void)ud;
        (void)stage;
        int fd = stream == STREAM_STDERR ? 2 : 1; /* a terminal's output goes to ours */
        if (stream == STREAM_TTY && len)
                tty_mid_line = data[len - 1] != '\n';
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

/* All of fd (a pipe, a terminal, a file) up to max bytes. */
static int read_fd_all(int fd, const char *what, char **out, size_t *len)
{
        size_t cap = 65536, n = 0;
        char *buf = malloc(cap + 1);
        if (!buf)
                return cli_fail("out of memory");
        for (;;) {
                if (n == cap) {
                        if (cap >= CLI_FILE_MAX) {
                                free(buf);
                                return cli_fail("%s: larger than %u bytes", what, CLI_FILE_MAX);
                        }
                        char *nb = realloc(buf, cap * 2 + 1);
                        if (!nb) {
                                free(buf);
                                return cli_fail("out of memory");
                        }
                        buf = nb;
                        cap *= 2;
                }
                ssize_t r = read(fd, buf + n, cap - n);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0) {
                        int e = errno;
                        free(buf);
                        return cli_fail("%s: %s", what, strerror(e));
                }
                if (r == 0)
                        break;
                n += (size_t)r;
        }
        buf[n] = '\0';
        *out = buf;
        *len = n;
        return 0;
}

/* The files as they go to /work: regular files and pipes (<(...), /dev/fd/N, FIFOs) are read
 * whole; "-" is runcell's stdin. Each keeps its base name, except the entry point: --name, or
 * for a pipe or "-" without an extension the language's source file name (main.py). */
static int read_inputs(const run_opts_t *o, const toolchain_t *tc, const int *fds,
                       job_input_file_t *files, char **bufs)
{
        for (int i = 0; i < o->nfiles; i++) {
                const char *p = o->files[i];
                rc_err_t err = {0};
                size_t len = 0;
                struct stat st = {0};
                bool dash = strcmp(p, "-") == 0;
                if (dash) {
                        if (read_fd_all(0, "stdin", &bufs[i], &len))
                                return 1;
                } else if (fds && fds[i] >= 0) {
                        /* a runcell warm's worker: the command opened it */
                        if (fstat(fds[i], &st) < 0)
                                return cli_fail("%s: %s", p, strerror(errno));
                        if (S_ISDIR(st.st_mode))
                                return cli_fail("%s: is a directory", p);
                        if (read_fd_all(fds[i], p, &bufs[i], &len))
                                return 1;
                } else {
                        if (stat(p, &st) < 0)
                                return cli_fail("%s: %s", p, strerror(errno));
                        if (S_ISDIR(st.st_mode))
                                return cli_fail("%s: is a directory", p);
                        if (fs_read_file(p, CLI_FILE_MAX, &bufs[i], &len, &err) < 0)
                                return cli_fail("%s", err.msg);
                }
                const char *name;
                _cleanup_free_ char *copy = strdup(p);
                if (!copy)
                        return cli_fail("out of memory");
                if (i == 0 && o->name)
                        name = o->name;
                else if (i == 0 && (dash || !S_ISREG(st.st_mode)) && !extension(p))
                        name = tc->source_file;
                else if (dash)
                        return cli_fail("run: a file read from stdin (-) needs a name: put it "
                                        "first and give --name");
                else
                        name = basename(copy);
                char *own = strdup(name);
                if (!own)
                        return cli_fail("out of memory");
                files[i] = (job_input_file_t){.name = own,
                                              .data = bufs[i],
                                              .len = len,
                                              .executable =
                                                  S_ISREG(st.st_mode) && (st.st_mode & 0100) != 0};
        }
        return 0;
}

/* Whether runcell's stdin goes to the program as it reads it: yes unless a source file took it
 * or it is a terminal of which runcell is in the background (reading would stop runcell). */
static bool stream_stdin(const run_opts_t *o)
{
        if (o->stdin_path)
                return strcmp(o->stdin_path, "-") == 0;
        for (int i = 0; i < o->nfiles; i++)
                if (strcmp(o->files[i], "-") == 0)
                        return false;
        if (isatty(0)) {
                pid_t fg = tcgetpgrp(0);
                if (fg >= 0 && fg != getpgrp())
                        return false;
        }
        return true;
}

/* A runcell warm listening in the state directory (job/warm.h): the run's sandbox is lent by it,
 * prepared before this command started. Not with -t (its sandboxes have no terminal) nor with
 * --no-warm; none there (or another user's socket): NULL, and the sandbox is made here. */
static preparer_t *warm_connect(const run_opts_t *o, const rc_paths_t *paths, cg_manager_t *cg)
{
        if (o->no_warm || o->tty || !cg)
                return NULL;
        _cleanup_free_ char *path = fs_join(paths->state_dir, WARM_SOCK_NAME);
        preparer_t *p = NULL;
        rc_err_t err = {0};
        int64_t tt = trace_now();
        if (!path || preparer_connect(path, cg, &p, &err) < 0)
                return NULL;
        trace_step("runcell warm: connected", tt);
        return p;
}

/* A job on a poll loop with runcell's stdin passed on to it and a signal fd that kills it. */
typedef struct pump {
        job_t *job;
        ev_loop_t *loop;
        ev_io_t *w_in, *w_cancel, *w_winch, *w_conn;
        /* -t: runcell's terminal, raw while the run stage runs */
        bool tty, raw;
        struct termios saved;
        int winch_fd;
        int conn; /* a runcell warm's worker: the command it serves; -1: none */
} pump_t;

/* The size of runcell's terminal (24x80 when it does not say). */
static void own_size(uint16_t *rows, uint16_t *cols)
{
        struct winsize ws;
        if (ioctl(0, TIOCGWINSZ, &ws) < 0 || !ws.ws_row || !ws.ws_col)
                ws = (struct winsize){.ws_row = 24, .ws_col = 80};
        *rows = ws.ws_row > REQUEST_TTY_MAX ? REQUEST_TTY_MAX : ws.ws_row;
        *cols = ws.ws_col > REQUEST_TTY_MAX ? REQUEST_TTY_MAX : ws.ws_col;
}

/* Our terminal as it was, whatever ends the run: the normal end, an error path, exit(). */
static struct termios restore_attr;
static bool restore_owed;

static void tty_restore(void)
{
        if (restore_owed) {
                restore_owed = false;
                tcsetattr(0, TCSADRAIN, &restore_attr);
        }
}

/* A signal that would end runcell (one it does not take through its signal fds) restores the
 * terminal first, then ends it as it would have. */
static void on_fatal(int sig)
{
        if (restore_owed)
                tcsetattr(0, TCSANOW, &restore_attr);
        signal(sig, SIG_DFL);
        raise(sig);
}

static void restore_on_fatal(void)
{
        static const int sigs[] = {SIGQUIT, SIGABRT, SIGSEGV, SIGBUS,  SIGFPE,
                                   SIGILL,  SIGUSR1, SIGUSR2, SIGALRM, SIGPIPE};
        for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
                signal(sigs[i], on_fatal);
}

/* Raw mode: every key goes to the program's terminal as it is typed, which does the echo, line
 * editing and Ctrl-C (its own line discipline); runcell's terminal only shows. */
static void tty_raw(pump_t *p)
{
        if (p->raw || tcgetattr(0, &p->saved) < 0)
                return;
        struct termios t = p->saved;
        cfmakeraw(&t);
        restore_attr = p->saved;
        restore_owed = true;
        if (tcsetattr(0, TCSADRAIN, &t) == 0)
                p->raw = true;
        else
                restore_owed = false;
}

static void on_stage_start(void *ud, stage_kind_t stage)
{
        pump_t *p = ud;
        if (stage == STAGE_RUN && p->tty)
                tty_raw(p);
}

static void on_stage_end(void *ud, stage_kind_t stage, const stage_result_t *res)
{
        pump_t *p = ud;
        (void)res;
        if (stage == STAGE_RUN && p->raw) {
                p->raw = false;
                tty_restore();
        }
}

static void on_winch(void *ud, unsigned ev)
{
        pump_t *p = ud;
        struct signalfd_siginfo si;
        (void)ev;
        while (read(p->winch_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
                ;
        uint16_t rows, cols;
        own_size(&rows, &cols);
        job_resize(p->job, rows, cols);
}

static void on_input(void *ud, unsigned ev)
{
        pump_t *p = ud;
        char buf[65536];
        (void)ev;
        ssize_t n = read(0, buf, sizeof(buf));
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return;
        if (n > 0 && job_write_stdin(p->job, buf, (size_t)n) == 0)
                return;
        /* End of input or a read error (EIO: a terminal runcell may no longer read) end the
         * program's input; a failed write means the program closed its stdin or is gone. */
        if (n <= 0)
                job_close_stdin(p->job);
        p->loop->ops->io_del(p->loop, p->w_in);
        p->w_in = NULL;
}

static void on_cancel(void *ud, unsigned ev)
{
        pump_t *p = ud;
        (void)ev;
        job_kill(p->job, SIGKILL); /* the fd stays readable: cmd_run reads the signal */
        p->loop->ops->io_del(p->loop, p->w_cancel);
        p->w_cancel = NULL;
}

/* A runcell warm's worker: the command took a signal (it is ours now: the same end as if it had
 * come here), or is gone (as a hang-up). */
static void on_command(void *ud, unsigned ev)
{
        pump_t *p = ud;
        (void)ev;
        int32_t sig = 0;
        ssize_t n = recv(p->conn, &sig, sizeof(sig), MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return;
        if (n == (ssize_t)sizeof(sig) && (sig == SIGINT || sig == SIGTERM || sig == SIGHUP)) {
                raise(sig); /* blocked: cli_cancel_fd's */
                return;
        }
        raise(SIGHUP);
        p->loop->ops->io_del(p->loop, p->w_conn);
        p->w_conn = NULL;
}

int cli_cancel_fd(void)
{
        sigset_t stop;
        sigemptyset(&stop);
        sigaddset(&stop, SIGINT);
        sigaddset(&stop, SIGTERM);
        sigaddset(&stop, SIGHUP);
        sigprocmask(SIG_BLOCK, &stop, NULL);
        return signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK);
}

int cli_run_setup(cli_run_t *r, const rc_paths_t *paths)
{
        const run_opts_t *o = &r->o;
        rc_err_t err = {0};
        r->files = calloc((size_t)o->nfiles, sizeof(*r->files));
        r->bufs = calloc((size_t)o->nfiles, sizeof(char *));
        if (!r->files || !r->bufs)
                return cli_fail("out of memory");
        int64_t tt = trace_now();
        /* Only the toolchain files that mention the language (or the entry's extension) are
         * parsed; when none of them is it, everything is, for the error message. */
        const char *entry = o->name ? o->name : o->files[0];
        /* a checker may be in another language: then every toolchain is loaded */
        const char *token = o->checker ? NULL : o->lang ? o->lang : extension(entry);
        catalog_t *cat = r->pre ? r->pre : &r->cat;
        if (r->pre) {
                /* loaded ahead, whole (a runcell warm's worker) */
                r->tc = o->lang ? toolchain_set_find(&cat->set, o->lang)
                                : cli_guess_lang(&cat->set, entry, true);
                if (!r->tc && o->lang)
                        return cli_fail("unknown language '%s' (see runcell languages)", o->lang);
        }
        for (int pass = token ? 0 : 1; !r->pre && pass < 2 && !r->tc; pass++) {
                catalog_close(&r->cat);
                if (catalog_load_mentioning(&r->cat, paths, pass ? NULL : token, &err) < 0)
                        return cli_fail("%s", err.msg);
                if (o->lang)
                        r->tc = toolchain_set_find(&r->cat.set, o->lang);
                else if (pass == 1 || r->cat.set.n > 0)
                        r->tc = cli_guess_lang(&r->cat.set, entry, pass == 1);
                if (!r->tc && pass == 1 && o->lang)
                        return cli_fail("unknown language '%s' (see runcell languages)", o->lang);
        }
        tt = trace_step("toolchains", tt);
        if (r->tc && catalog_find(cat, r->tc->name, o->version, &r->tc, &err) < 0)
                return cli_fail("%s (see runcell languages)", err.msg); /* the version */
        tt = trace_step("version", tt);
        if (!r->tc || read_inputs(o, r->tc, r->file_fds, r->files, r->bufs))
                return 1;
        if (catalog_lang(cat, r->tc, &r->lang, &err) < 0)
                return cli_fail("%s", err.msg);
        tt = trace_step("inputs, rootfs, seccomp", tt);
        if (r->pre) {
                /* its cgroups and build cache are open; said as the command would say it */
                const char *note = cg_manager_note(cat->cgroups);
                if (note)
                        rc_note(RC_NOTE_INFO, "cgroups", "%s",
                                strncmp(note, "runcell: ", 9) == 0 ? note + 9 : note);
                return 0;
        }
        /* No pool: a one-shot run prepares its sandboxes when it needs them. A judge runs many
         * tests: their sandboxes are prepared by the helper while others run. */
        if (catalog_open_limits(&r->cat, r->pool, &err) < 0)
                return cli_fail("%s", err.msg);
        trace_step("cgroup manager open", tt);
        return 0;
}

void cli_run_free(cli_run_t *r)
{
        for (int i = 0; r->files && r->bufs && i < r->o.nfiles; i++) {
                free(r->bufs[i]);
                free((char *)r->files[i].name);
        }
        free(r->files);
        free(r->bufs);
        catalog_close(&r->cat);
}

int cmd_run(const rc_paths_t *paths, int argc, char **argv)
{
        return cli_run_cmd(paths, argc, argv, NULL);
}

int cli_run_cmd(const rc_paths_t *paths, int argc, char **argv, const cli_run_env_t *env)
{
        cli_run_t cr;
        memset(&cr, 0, sizeof(cr));
        run_opts_t o = {0};
        if (cli_run_parse(argc, argv, &o, false))
                return 1;
        int drc, d = env ? 1 : cli_warm_delegate(paths, argc, argv, &o, stream_stdin(&o), &drc);
        if (d == 0)
                return drc; /* a runcell warm's worker ran it */
        if (d == 2)
                o.no_warm = true; /* none listens: not asked again for a sandbox */
        cr.o = o;
        cr.pre = env ? env->cat : NULL;
        cr.file_fds = env ? env->file_fds : NULL;
        rc_err_t err = {0};
        int rc = 1;
        char *stdin_data = NULL;
        size_t stdin_len = 0;
        pump_t p = {.winch_fd = -1, .conn = env ? env->conn : -1};
        preparer_t *warm = NULL;
        /* Ctrl-C, SIGTERM or SIGHUP end the run, not runcell: the sandbox is killed, the verdict is
         * "killed", the output so far is reported, and nothing is left behind. */
        int cancel_fd = cli_cancel_fd();
        if (o.tty && !isatty(0)) {
                cli_fail("run: -t needs runcell's stdin to be a terminal (it is a pipe or a file "
                         "here); leave -t out to pass the input on as it is");
                goto out;
        }
        if (cli_run_setup(&cr, paths))
                goto out;
        if (env && env->lang_size) /* which of the language's toolchains: its root filesystem */
                snprintf(env->lang, env->lang_size, "%s\n%s", cr.tc->name, cr.tc->rootfs);
        bool streamed = o.tty || stream_stdin(&o);
        if (o.stdin_path && !streamed && env && env->stdin_fd >= 0) {
                if (read_fd_all(env->stdin_fd, "--stdin", &stdin_data, &stdin_len))
                        goto out;
        } else if (o.stdin_path && !streamed &&
                   fs_read_file(o.stdin_path, CLI_FILE_MAX, &stdin_data, &stdin_len, &err) < 0) {
                cli_fail("--stdin: %s", err.msg);
                goto out;
        }
        catalog_t *cat = cr.pre ? cr.pre : &cr.cat;
        const toolchain_t *tc = cr.tc;
        lang_t *lang = cr.lang;
        job_input_file_t *files = cr.files;
        job_spec_t js;
        catalog_job_spec(cat, lang, &js);
        limits_overlay(&js.run_limits, &o.limits);
        js.one_shot = true;
        if (env)
                js.preparer = env->preparer;
        else if ((warm = warm_connect(&o, paths, js.cgroups)) != NULL)
                js.preparer = warm;
        js.files = files;
        js.nfiles = (size_t)o.nfiles;
        js.stdin_data = stdin_data;
        js.stdin_len = stdin_len;
        js.interactive = streamed;
        js.args = o.args;
        js.capture = o.json;
        js.outputs = o.noutputs ? o.outputs : NULL;
        js.cb.output = o.json ? NULL : on_output;
        /* -t: the program's terminal is of the kind runcell's is (TERM as runcell has it) */
        char term_var[80];
        char *term_env[2] = {NULL, NULL};
        const char *term = getenv("TERM");
        if (o.tty && term && *term && strlen(term) < sizeof(term_var) - 5 &&
            strspn(term, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-+._") ==
                strlen(term)) {
                snprintf(term_var, sizeof(term_var), "TERM=%s", term);
                term_env[0] = term_var;
                js.env = term_env;
        }
        if (o.tty) {
                own_size(&js.tty_rows, &js.tty_cols);
                p.tty = true;
                js.cb.stage_start = on_stage_start;
                js.cb.stage_end = on_stage_end;
                js.cb.ud = &p;
                atexit(tty_restore);
                restore_on_fatal();
                sigset_t winch;
                sigemptyset(&winch);
                sigaddset(&winch, SIGWINCH);
                sigprocmask(SIG_BLOCK, &winch, NULL);
                p.winch_fd = signalfd(-1, &winch, SFD_CLOEXEC | SFD_NONBLOCK);
        }
        if (streamed)
                signal(SIGTTIN, SIG_IGN); /* a terminal that is no longer ours reads as EIO */
        p.loop = ev_poll_new();
        if (!p.loop) {
                cli_fail("out of memory");
                goto out;
        }
        if (job_start(&js, p.loop, &p.job, &err) < 0) {
                cli_fail("%s", err.msg);
                goto out;
        }
        const ev_loop_ops_t *ops = p.loop->ops;
        if (cancel_fd >= 0)
                p.w_cancel = ops->io_add(p.loop, cancel_fd, EV_READ, on_cancel, &p);
        if (streamed)
                p.w_in = ops->io_add(p.loop, 0, EV_READ, on_input, &p);
        if (p.winch_fd >= 0)
                p.w_winch = ops->io_add(p.loop, p.winch_fd, EV_READ, on_winch, &p);
        if (p.conn >= 0)
                p.w_conn = ops->io_add(p.loop, p.conn, EV_READ, on_command, &p);
        while (!job_is_done(p.job)) {
                /* read ahead of the program by at most STDIN_QUEUE_MAX */
                if (p.w_in)
                        ops->io_set(p.loop, p.w_in,
                                    job_stdin_queued(p.job) < STDIN_QUEUE_MAX ? EV_READ : 0);
                int r = ev_poll_run_once(p.loop, -1);
                if (r < 0) {
                        cli_fail("event loop: %s", strerror(-r));
                        rc = 3;
                        goto out;
                }
        }
        tty_restore();
        if (tty_mid_line)
                fputc('\n', stderr);
        const job_result_t *res = job_result(p.job);
        bool internal = (res->compile.present && res->compile.status == STATUS_INTERNAL_ERROR) ||
                        (res->run.present && res->run.status == STATUS_INTERNAL_ERROR);
        if (o.json) {
                cJSON *j = job_result_json(tc->name, lang->version, res);
                char *text = cJSON_PrintUnformatted(j);
                if (text)
                        printf("%s\n", text);
                free(text);
                cJSON_Delete(j);
        } else {
                if (res->compile.present)
                        print_summary(STAGE_COMPILE, &res->compile);
                if (res->run.present)
                        print_summary(STAGE_RUN, &res->run);
        }
        rc = internal ? 3 : 0;
        if (o.outputs_dir && res->run.present && write_outputs(o.outputs_dir, &res->run) < 0)
                rc = 3;
        struct signalfd_siginfo si;
        if (cancel_fd >= 0 && read(cancel_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
                rc = 128 + (int)si.ssi_signo; /* as if the signal had ended runcell */
        if (env && env->done) {
                /* everything written: the command may exit while the rest is freed here */
                fflush(NULL);
                env->done(env, rc);
        }
out:
        if (p.loop) {
                if (p.w_in)
                        p.loop->ops->io_del(p.loop, p.w_in);
                if (p.w_cancel)
                        p.loop->ops->io_del(p.loop, p.w_cancel);
                if (p.w_winch)
                        p.loop->ops->io_del(p.loop, p.w_winch);
                if (p.w_conn)
                        p.loop->ops->io_del(p.loop, p.w_conn);
                job_free(p.job);
                ev_poll_free(p.loop);
        }
        preparer_stop(warm);
        tty_restore();
        free(stdin_data);
        if (cancel_fd >= 0)
                close(cancel_fd);
        if (p.winch_fd >= 0)
                close(p.winch_fd);
        cli_run_free(&cr);
        return rc;
}
