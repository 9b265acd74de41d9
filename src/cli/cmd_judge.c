/* runcell judge: one submission, compiled once, run against the tests of a directory (NAME.in
 * and NAME.out pairs, the layout graders use), each test in a fresh sandbox of its own, several
 * at once; its output compared with NAME.out (--compare). A table on the terminal, or --json;
 * exit status 0 only when every test passed. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/run_setup.h"
#include "engine/judge.h"
#include "engine/judge_json.h"
#include "util/fs.h"

#define JUDGE_KEEP_BYTES (64u << 10) /* of each test's stdout and stderr, in --json */

typedef struct test_file {
        char *name;
        char *in, *out; /* contents; NULL: no such file */
        size_t in_len, out_len;
} test_file_t;

static int by_version(const void *a, const void *b)
{
        return strverscmp(((const test_file_t *)a)->name, ((const test_file_t *)b)->name);
}

static test_file_t *find_test(test_file_t *t, size_t n, const char *name)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(t[i].name, name) == 0)
                        return &t[i];
        return NULL;
}

static void free_tests(test_file_t *t, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(t[i].name);
                free(t[i].in);
                free(t[i].out);
        }
        free(t);
}

/* NAME.in and NAME.out of dir, in version order (2 before 10). A test needs at least one of
 * the two: without .in its stdin is empty, without .out nothing is compared. */
static int load_tests(const char *dir, test_file_t **out, size_t *n_out)
{
        DIR *d = opendir(dir);
        if (!d)
                return cli_fail("--tests %s: %s", dir, strerror(errno));
        test_file_t *t = NULL;
        size_t n = 0;
        int rc = 0;
        struct dirent *e;
        while (rc == 0 && (e = readdir(d))) {
                size_t len = strlen(e->d_name);
                bool is_in = len > 3 && strcmp(e->d_name + len - 3, ".in") == 0;
                bool is_out = len > 4 && strcmp(e->d_name + len - 4, ".out") == 0;
                if (!is_in && !is_out)
                        continue;
                char *name = strndup(e->d_name, len - (is_in ? 3 : 4));
                char *path = fs_join(dir, e->d_name);
                test_file_t *tf = name ? find_test(t, n, name) : NULL;
                if (!name || !path) {
                        rc = cli_fail("out of memory");
                } else if (!tf && n >= JUDGE_TESTS_MAX) {
                        rc = cli_fail("--tests %s: more than %d tests", dir, JUDGE_TESTS_MAX);
                } else {
                        if (!tf) {
                                test_file_t *nt = realloc(t, (n + 1) * sizeof(*t));
                                if (!nt) {
                                        rc = cli_fail("out of memory");
                                        goto next;
                                }
                                t = nt;
                                tf = &t[n++];
                                *tf = (test_file_t){.name = name};
                                name = NULL;
                        }
                        rc_err_t err = {0};
                        if (fs_read_file(path, CLI_FILE_MAX, is_in ? &tf->in : &tf->out,
                                         is_in ? &tf->in_len : &tf->out_len, &err) < 0)
                                rc = cli_fail("%s", err.msg);
                }
        next:
                free(name);
                free(path);
        }
        closedir(d);
        if (rc == 0 && n == 0)
                rc = cli_fail("--tests %s: no NAME.in or NAME.out files", dir);
        if (rc) {
                free_tests(t, n);
                return rc;
        }
        qsort(t, n, sizeof(*t), by_version);
        *out = t;
        *n_out = n;
        return 0;
}

typedef struct judge_cli {
        const run_opts_t *o;
        const test_file_t *tests;
        judge_t *jd;
        ev_loop_t *loop;
        ev_io_t *w_cancel;
        bool cancelled;
} judge_cli_t;

/* Ctrl-C, SIGTERM, SIGHUP: every running test is killed ("killed"), no other starts. */
static void on_cancel(void *ud, unsigned ev)
{
        judge_cli_t *jc = ud;
        (void)ev;
        jc->cancelled = true;
        judge_kill(jc->jd);
        jc->loop->ops->io_del(jc->loop, jc->w_cancel);
        jc->w_cancel = NULL;
}

static void print_row(const char *name, const char *verdict, const stage_result_t *r,
                      const judge_test_result_t *tr)
{
        char t[32] = "-", m[32] = "-";
        if (r) {
                snprintf(t, sizeof(t), "%lld ms", (long long)r->wall_ms);
                if (r->memory_kb >= 0)
                        snprintf(m, sizeof(m), "%lld KiB", (long long)r->memory_kb);
        }
        printf("%-16s %-15s %9s %12s", name, verdict, t, m);
        if (tr && tr->has_diff)
                printf("  line %zu: expected \"%s\"%s, got \"%s\"%s", tr->diff.expected_line,
                       tr->diff.expected, tr->diff.expected_at_end ? " (end)" : "", tr->diff.got,
                       tr->diff.got_at_end ? " (end)" : "");
        else if (tr && tr->run.signal && signal_name(tr->run.signal))
                printf("  %s", signal_name(tr->run.signal));
        else if (tr && tr->run.exit_code > 0)
                printf("  exit %d", tr->run.exit_code);
        printf("\n");
        fflush(stdout);
}

static void on_compiled(void *ud, const stage_result_t *c)
{
        judge_cli_t *jc = ud;
        if (jc->o->json)
                return;
        if (c->status != STATUS_OK) {
                fwrite(c->out.data ? c->out.data : "", 1, c->out.len, stderr);
                fwrite(c->err.data ? c->err.data : "", 1, c->err.len, stderr);
                fprintf(stderr, "runcell: compile: %s%s%s\n", stage_status_name(c->status),
                        c->status == STATUS_INTERNAL_ERROR ? ": " : "",
                        c->status == STATUS_INTERNAL_ERROR ? c->error : "");
        } else if (c->err.len) {
                fwrite(c->err.data, 1, c->err.len, stderr); /* warnings */
        }
}

static void on_test(void *ud, size_t i, const judge_test_result_t *r)
{
        judge_cli_t *jc = ud;
        if (!jc->o->json)
                print_row(jc->tests[i].name, r->verdict, &r->run, r);
        if (!jc->o->json && r->message[0]) /* its first line: --json has all of it */
                printf("%16s %.*s\n", "", (int)strcspn(r->message, "\n"), r->message);
}

int cmd_judge(const rc_paths_t *paths, int argc, char **argv)
{
        cli_run_t cr;
        memset(&cr, 0, sizeof(cr));
        if (cli_run_parse(argc, argv, &cr.o, true))
                return 1;
        const run_opts_t *o = &cr.o;
        test_file_t *tf = NULL;
        size_t ntf = 0;
        judge_test_t *tests = NULL;
        ev_loop_t *loop = NULL;
        judge_cli_t jc = {.o = o};
        int rc = 1;
        job_spec_t checker;
        job_input_file_t checker_file = {0};
        char *checker_text = NULL; /* before any goto out */
        int cancel_fd = cli_cancel_fd();
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        unsigned parallel = o->parallel ? o->parallel : (unsigned)(cpus > 0 ? cpus : 1);
        if (load_tests(o->tests_dir, &tf, &ntf))
                goto out;
        /* a sandbox prepared ahead for each test going at once (the helper makes them while
         * the compiler and the other tests run), no more than there are tests */
        cr.pool = parallel < ntf ? parallel : (unsigned)ntf;
        if (cr.pool > 16)
                cr.pool = 16;
        if (cli_run_setup(&cr, paths))
                goto out;
        jc.tests = tf;
        tests = calloc(ntf, sizeof(*tests));
        loop = ev_poll_new();
        if (!tests || !loop) {
                cli_fail("out of memory");
                goto out;
        }
        for (size_t i = 0; i < ntf; i++)
                tests[i] = (judge_test_t){.name = tf[i].name,
                                          .stdin_data = tf[i].in,
                                          .stdin_len = tf[i].in_len,
                                          .expected = tf[i].out,
                                          .expected_len = tf[i].out_len,
                                          .args = o->args};
        if (o->checker) {
                const toolchain_t *ctc = o->checker_lang
                                             ? toolchain_set_find(&cr.cat.set, o->checker_lang)
                                             : cli_guess_lang(&cr.cat.set, o->checker, true);
                lang_t *cl = NULL;
                size_t clen = 0;
                rc_err_t cerr = {0};
                if (!ctc) {
                        if (o->checker_lang)
                                cli_fail("--checker-lang: unknown language '%s'", o->checker_lang);
                        goto out;
                }
                if (fs_read_file(o->checker, CLI_FILE_MAX, &checker_text, &clen, &cerr) < 0 ||
                    catalog_lang(&cr.cat, ctc, &cl, &cerr) < 0) {
                        cli_fail("--checker: %s", cerr.msg);
                        goto out;
                }
                const char *base = strrchr(o->checker, '/');
                checker_file = (job_input_file_t){
                    .name = base ? base + 1 : o->checker, .data = checker_text, .len = clen};
                catalog_job_spec(&cr.cat, cl, &checker);
                checker.files = &checker_file;
                checker.nfiles = 1;
        }
        judge_spec_t spec = {.tests = tests,
                             .checker = o->checker ? &checker : NULL,
                             .ntests = ntf,
                             .compare = o->compare,
                             .stop_on_first_failure = o->stop_on_first_failure,
                             .fresh_sandboxes = o->fresh_sandboxes,
                             .output_keep = JUDGE_KEEP_BYTES,
                             .cb = {.compiled = on_compiled, .test_done = on_test, .ud = &jc}};
        spec.parallel = parallel;
        catalog_job_spec(&cr.cat, cr.lang, &spec.job);
        limits_overlay(&spec.job.run_limits, &o->limits);
        spec.job.files = cr.files;
        spec.job.nfiles = (size_t)o->nfiles;
        spec.job.args = o->args;
        rc_err_t err = {0};
        if (!o->json)
                printf("%-16s %-15s %9s %12s\n", "TEST", "VERDICT", "TIME", "MEMORY");
        if (judge_start(&spec, loop, &jc.jd, &err) < 0) {
                cli_fail("%s", err.msg);
                goto out;
        }
        jc.loop = loop;
        if (cancel_fd >= 0)
                jc.w_cancel = loop->ops->io_add(loop, cancel_fd, EV_READ, on_cancel, &jc);
        while (!judge_is_done(jc.jd)) {
                int r = ev_poll_run_once(loop, -1);
                if (r < 0) {
                        cli_fail("event loop: %s", strerror(-r));
                        rc = 3;
                        goto out;
                }
        }
        size_t passed, run;
        long first;
        judge_summary(jc.jd, &passed, &run, &first);
        const stage_result_t *c = judge_compile_result(jc.jd);
        bool internal = c && c->status == STATUS_INTERNAL_ERROR;
        for (size_t i = 0; i < ntf; i++) {
                const judge_test_result_t *r = judge_test_result(jc.jd, i);
                if (r && strcmp(r->verdict, "internal_error") == 0)
                        internal = true;
                else if (!r && !o->json && !(c && c->status != STATUS_OK))
                        print_row(tf[i].name, "skipped", NULL, NULL);
        }
        if (o->json) {
                cJSON *j = judge_result_json(cr.tc->name, cr.lang->version, jc.jd);
                char *text = cJSON_PrintUnformatted(j);
                if (text)
                        printf("%s\n", text);
                free(text);
                cJSON_Delete(j);
        } else if (c && c->status != STATUS_OK) {
                printf("%s: no test was run\n", stage_status_name(c->status));
        } else {
                printf("passed %zu/%zu", passed, ntf);
                if (first >= 0)
                        printf(" (first failure: %s)", tf[first].name);
                printf("\n");
        }
        rc = internal ? 3 : passed == ntf ? 0 : 1;
        if (jc.cancelled)
                rc = 130;
out:
        free(checker_text);
        if (jc.w_cancel && jc.loop)
                jc.loop->ops->io_del(jc.loop, jc.w_cancel);
        judge_free(jc.jd);
        if (loop)
                ev_poll_free(loop);
        free(tests);
        free_tests(tf, ntf);
        if (cancel_fd >= 0)
                close(cancel_fd);
        cli_run_free(&cr);
        return rc;
}
