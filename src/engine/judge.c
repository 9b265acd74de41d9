#include "engine/judge.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/strv.h"

#define IDX_COMPILE         ((size_t)-1) /* the submission's compile job */
#define IDX_CHECKER_COMPILE ((size_t)-2) /* the checker's */

typedef struct judge_slot {
        judge_t *jd;
        size_t idx; /* test index, or IDX_COMPILE / IDX_CHECKER_COMPILE */
        job_t *job;
        bool finished;
        bool checking;    /* the job is the checker's run for test idx */
        job_lane_t *lane; /* the sandbox its tests run in one after another; NULL: fresh ones */
} judge_slot_t;

struct judge {
        judge_spec_t spec;
        ev_loop_t *loop;
        judge_test_t *tests; /* copies */
        strv_t *args;
        rc_limits_t *limits;
        judge_test_result_t *results;
        bool *ran;
        stage_result_t compile;
        job_build_t *build;
        job_spec_t checker;         /* copy of spec.checker (files borrowed from the caller) */
        job_build_t *checker_build; /* a compiled checker's files */
        judge_slot_t *slots;        /* spec.parallel of them */
        unsigned running;
        size_t next;
        bool compiling, stopping, killed, done;
        bool checker_failed; /* every test: internal_error with checker_error */
        char checker_error[512];
        ev_timer_t *t_pump;
};

static int64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void pump(void *ud);

/* Jobs may not be freed from inside their callbacks: what ended is handled on the next turn. */
static void schedule(judge_t *jd)
{
        if (!jd->t_pump)
                jd->t_pump = jd->loop->ops->timer_add(jd->loop, now_ns(), pump, jd);
}

static void on_job_done(void *ud)
{
        judge_slot_t *s = ud;
        s->finished = true;
        schedule(s->jd);
}

/* A copy of a stage's result keeping at most keep bytes of each stream. */
static void keep_result(stage_result_t *dst, const stage_result_t *src, size_t keep)
{
        *dst = *src;
        memset(&dst->out, 0, sizeof(dst->out));
        memset(&dst->err, 0, sizeof(dst->err));
        size_t no = src->out.len < keep ? src->out.len : keep;
        size_t ne = src->err.len < keep ? src->err.len : keep;
        if (buf_append(&dst->out, src->out.data ? src->out.data : "", no) < 0 ||
            buf_append(&dst->err, src->err.data ? src->err.data : "", ne) < 0)
                dst->truncated = true;
        if (no < src->out.len || ne < src->err.len)
                dst->truncated = true;
}

static void start_failed(judge_t *jd, judge_slot_t *s, stage_result_t *r, const char *msg)
{
        s->job = NULL;
        memset(r, 0, sizeof(*r));
        r->present = true;
        r->status = STATUS_INTERNAL_ERROR;
        snprintf(r->error, sizeof(r->error), "%.500s", msg);
        s->finished = true;
        schedule(jd);
}

/* The checker's run for test s->idx, whose program's stdout is out. */
static void start_checker(judge_t *jd, judge_slot_t *s, const buf_t *out)
{
        const judge_test_t *t = &jd->tests[s->idx];
        job_spec_t js = jd->checker;
        js.capture = true;
        js.interactive = false;
        js.stdin_data = NULL;
        js.stdin_len = 0;
        js.compile_only = false;
        js.cb = (job_callbacks_t){.done = on_job_done, .ud = s};
        static char *const argv[] = {"input.txt", "output.txt", "answer.txt", NULL};
        js.args = argv;
        job_input_file_t data[3] = {
            {.name = "input.txt", .data = t->stdin_data, .len = t->stdin_len},
            {.name = "output.txt", .data = out->data ? out->data : "", .len = out->len},
            {.name = "answer.txt",
             .data = t->expected ? t->expected : "",
             .len = t->expected ? t->expected_len : 0},
        };
        job_input_file_t *files = NULL;
        if (jd->checker_build) { /* compiled: its build, and the three files beside it */
                js.build = jd->checker_build;
                js.extra = data;
                js.nextra = 3;
        } else { /* interpreted: its sources, then the three files */
                files = calloc(js.nfiles + 3, sizeof(*files));
                if (!files) {
                        start_failed(jd, s, &jd->results[s->idx].run, "out of memory");
                        return;
                }
                memcpy(files, js.files, js.nfiles * sizeof(*files));
                memcpy(files + js.nfiles, data, sizeof(data));
                js.files = files;
                js.nfiles += 3;
        }
        s->checking = true;
        s->finished = false;
        rc_err_t err = {0};
        if (job_start(&js, jd->loop, &s->job, &err) < 0) {
                char msg[600];
                snprintf(msg, sizeof(msg), "the checker: %s", err.msg);
                s->checking = false;
                start_failed(jd, s, &jd->results[s->idx].run, msg);
        }
        free(files);
}

static void start_job(judge_t *jd, judge_slot_t *s, size_t idx)
{
        job_spec_t js = idx == IDX_CHECKER_COMPILE ? jd->checker : jd->spec.job;
        js.capture = true;
        js.interactive = false;
        js.cb = (job_callbacks_t){.done = on_job_done, .ud = s};
        s->idx = idx;
        s->finished = false;
        s->checking = false;
        if (idx == IDX_COMPILE || idx == IDX_CHECKER_COMPILE) {
                js.compile_only = true;
                js.stdin_data = NULL;
                js.stdin_len = 0;
        } else {
                const judge_test_t *t = &jd->tests[idx];
                js.compile_only = false;
                js.build = jd->build;
                js.stdin_data = t->stdin_data;
                js.stdin_len = t->stdin_len;
                if (t->args)
                        js.args = t->args;
                if (t->limits)
                        js.run_limits = *t->limits;
                js.lane = s->lane;
                jd->ran[idx] = true;
        }
        jd->running++;
        rc_err_t err = {0};
        if (job_start(&js, jd->loop, &s->job, &err) < 0) /* checked at judge_start */
                start_failed(jd, s,
                             idx >= IDX_CHECKER_COMPILE ? &jd->compile : &jd->results[idx].run,
                             err.msg);
}

/* testlib's exit codes: 0 accepted, 1 wrong answer, 2 presentation error; 3 (the checker's own
 * failure) and anything else are the judge's problem, not the contestant's. */
static void checker_verdict(judge_test_result_t *tr, const stage_result_t *c)
{
        const buf_t *say = c->err.len ? &c->err : &c->out;
        size_t n = say->len < sizeof(tr->message) - 1 ? say->len : sizeof(tr->message) - 1;
        memcpy(tr->message, say->data ? say->data : "", n);
        tr->message[n] = '\0';
        while (n && (tr->message[n - 1] == '\n' || tr->message[n - 1] == '\r'))
                tr->message[--n] = '\0';
        if (c->status == STATUS_OK) {
                tr->verdict = "accepted";
        } else if (c->status == STATUS_RUNTIME_ERROR && c->exit_code == 1) {
                tr->verdict = "wrong_answer";
        } else if (c->status == STATUS_RUNTIME_ERROR && c->exit_code == 2) {
                tr->verdict = "presentation_error";
        } else {
                tr->verdict = "internal_error";
                char why[400];
                if (c->status == STATUS_RUNTIME_ERROR && c->exit_code == 3)
                        snprintf(why, sizeof(why), "the checker failed (exit 3)");
                else
                        snprintf(why, sizeof(why), "the checker ended with %s%s%.300s",
                                 stage_status_name(c->status),
                                 c->status == STATUS_INTERNAL_ERROR ? ": " : "",
                                 c->status == STATUS_INTERNAL_ERROR ? c->error : "");
                if (!tr->message[0])
                        snprintf(tr->message, sizeof(tr->message), "%s", why);
        }
}

/* true when the slot goes on with the test's checker */
static bool finish_test(judge_t *jd, judge_slot_t *s)
{
        judge_test_result_t *tr = &jd->results[s->idx];
        const judge_test_t *t = &jd->tests[s->idx];
        if (s->checking) {
                if (s->job) {
                        checker_verdict(tr, &job_result(s->job)->run);
                        job_free(s->job);
                        s->job = NULL;
                } else {
                        tr->verdict = "internal_error";
                        snprintf(tr->message, sizeof(tr->message), "%s", tr->run.error);
                }
                s->checking = false;
        } else if (s->job && jd->checker.tc && job_result(s->job)->run.status == STATUS_OK) {
                const stage_result_t *run = &job_result(s->job)->run;
                keep_result(&tr->run, run, jd->spec.output_keep);
                buf_t out = {0};
                if (buf_append(&out, run->out.data ? run->out.data : "", run->out.len) < 0)
                        out.len = 0;
                job_free(s->job);
                s->job = NULL;
                start_checker(jd, s, &out);
                buf_free(&out);
                return true;
        } else if (s->job) {
                const stage_result_t *run = &job_result(s->job)->run;
                keep_result(&tr->run, run, jd->spec.output_keep);
                if (run->status == STATUS_OK && t->expected &&
                    !compare_outputs(&jd->spec.compare, t->expected, t->expected_len,
                                     run->out.data ? run->out.data : "", run->out.len, &tr->diff)) {
                        tr->verdict = "wrong_answer";
                        tr->has_diff = true;
                } else {
                        tr->verdict =
                            run->status == STATUS_OK ? "accepted" : stage_status_name(run->status);
                }
                job_free(s->job);
                s->job = NULL;
        } else {
                tr->verdict = stage_status_name(tr->run.status);
        }
        if (strcmp(tr->verdict, "accepted") != 0 && jd->spec.stop_on_first_failure)
                jd->stopping = true;
        if (jd->spec.cb.test_done)
                jd->spec.cb.test_done(jd->spec.cb.ud, s->idx, tr);
        return false;
}

/* The checker compiled: its build kept; a checker that does not compile is the judge's
 * failure (internal_error for every test), not the contestant's. */
static void finish_checker_compile(judge_t *jd, judge_slot_t *s)
{
        stage_result_t c = {0};
        if (s->job) {
                c = job_result(s->job)->compile;
                if (c.status == STATUS_OK && job_take_build(s->job, &jd->checker_build) < 0)
                        c.status = STATUS_INTERNAL_ERROR;
        } else {
                c = jd->compile; /* start_failed put it there */
        }
        if (c.status != STATUS_OK) {
                jd->checker_failed = true;
                snprintf(jd->checker_error, sizeof(jd->checker_error),
                         "the checker did not compile (%s): %.400s", stage_status_name(c.status),
                         c.err.data ? c.err.data : c.error);
        }
        job_free(s->job);
        s->job = NULL;
        jd->compiling = false;
}

static void finish_compile(judge_t *jd, judge_slot_t *s)
{
        if (s->idx == IDX_CHECKER_COMPILE) {
                finish_checker_compile(jd, s);
                return;
        }
        if (s->job) {
                keep_result(&jd->compile, &job_result(s->job)->compile, jd->spec.output_keep);
                if (jd->compile.status == STATUS_OK && job_take_build(s->job, &jd->build) < 0) {
                        jd->compile.status = STATUS_INTERNAL_ERROR;
                        snprintf(jd->compile.error, sizeof(jd->compile.error),
                                 "the compile stage's files could not be kept");
                }
                job_free(s->job);
                s->job = NULL;
        }
        jd->compiling = false;
        if (jd->compile.status != STATUS_OK)
                jd->stopping = true; /* compile_error ends the submission before any test */
        if (jd->spec.cb.compiled)
                jd->spec.cb.compiled(jd->spec.cb.ud, &jd->compile);
        if (!jd->stopping && jd->checker.tc && jd->checker.tc->compile.n) {
                jd->compiling = true;
                start_job(jd, s, IDX_CHECKER_COMPILE);
        }
}

static void pump(void *ud)
{
        judge_t *jd = ud;
        jd->t_pump = NULL;
        for (unsigned i = 0; i < jd->spec.parallel; i++) {
                judge_slot_t *s = &jd->slots[i];
                if (!s->finished)
                        continue;
                s->finished = false;
                if (s->idx == IDX_COMPILE || s->idx == IDX_CHECKER_COMPILE) {
                        jd->running--;
                        finish_compile(jd, s); /* may start the checker's compile */
                        continue;
                }
                if (finish_test(jd, s))
                        continue; /* the same test goes on with its checker */
                jd->running--;
                s->idx = 0;
                s->jd = jd;
        }
        if (jd->done)
                return;
        for (unsigned i = 0; i < jd->spec.parallel && !jd->compiling; i++) {
                judge_slot_t *s = &jd->slots[i];
                if (s->job || s->finished || jd->stopping || jd->killed ||
                    jd->next >= jd->spec.ntests)
                        continue;
                if (jd->checker_failed) { /* nothing can judge them */
                        for (; jd->next < jd->spec.ntests; jd->next++) {
                                judge_test_result_t *tr = &jd->results[jd->next];
                                jd->ran[jd->next] = true;
                                tr->verdict = "internal_error";
                                tr->run.status = STATUS_INTERNAL_ERROR;
                                snprintf(tr->message, sizeof(tr->message), "%s", jd->checker_error);
                                if (jd->spec.cb.test_done)
                                        jd->spec.cb.test_done(jd->spec.cb.ud, jd->next, tr);
                        }
                        break;
                }
                start_job(jd, s, jd->next++);
        }
        if (jd->running == 0 && !jd->compiling) {
                jd->done = true;
                if (jd->spec.cb.done)
                        jd->spec.cb.done(jd->spec.cb.ud);
        }
}

static void free_copies(judge_t *jd)
{
        for (size_t i = 0; jd->tests && i < jd->spec.ntests; i++) {
                free((char *)jd->tests[i].name);
                free((char *)jd->tests[i].stdin_data);
                free((char *)jd->tests[i].expected);
                if (jd->args)
                        strv_free(&jd->args[i]);
        }
        free(jd->tests);
        free(jd->args);
        free(jd->limits);
}

static char *dup_bytes(const char *p, size_t n)
{
        char *d = malloc(n + 1);
        if (d) {
                if (n)
                        memcpy(d, p, n);
                d[n] = '\0';
        }
        return d;
}

int judge_start(const judge_spec_t *spec, ev_loop_t *loop, judge_t **out, rc_err_t *err)
{
        if (spec->ntests == 0)
                return rc_err_set(err, EINVAL, "no tests");
        if (spec->ntests > JUDGE_TESTS_MAX)
                return rc_err_set(err, EINVAL, "%zu tests: at most %d", spec->ntests,
                                  JUDGE_TESTS_MAX);
        int r = job_check(&spec->job, err);
        if (r < 0)
                return r;
        if (spec->checker && (r = job_check(spec->checker, err)) < 0)
                return rc_err_wrap(err, "the checker");
        judge_t *jd = calloc(1, sizeof(*jd));
        if (!jd)
                return rc_err_set(err, ENOMEM, "out of memory");
        jd->spec = *spec;
        if (jd->spec.parallel < 1)
                jd->spec.parallel = 1;
        if (jd->spec.parallel > spec->ntests)
                jd->spec.parallel = (unsigned)spec->ntests;
        jd->loop = loop;
        size_t n = spec->ntests;
        jd->tests = calloc(n, sizeof(*jd->tests));
        jd->args = calloc(n, sizeof(*jd->args));
        jd->limits = calloc(n, sizeof(*jd->limits));
        jd->results = calloc(n, sizeof(*jd->results));
        jd->ran = calloc(n, sizeof(*jd->ran));
        jd->slots = calloc(jd->spec.parallel, sizeof(*jd->slots));
        if (!jd->tests || !jd->args || !jd->limits || !jd->results || !jd->ran || !jd->slots)
                goto oom;
        for (size_t i = 0; i < n; i++) {
                const judge_test_t *t = &spec->tests[i];
                judge_test_t *c = &jd->tests[i];
                char num[24];
                snprintf(num, sizeof(num), "%zu", i + 1);
                c->name = strdup(t->name ? t->name : num); /* unnamed: its number */
                c->stdin_data = dup_bytes(t->stdin_data ? t->stdin_data : "", t->stdin_len);
                c->stdin_len = t->stdin_len;
                c->expected = t->expected ? dup_bytes(t->expected, t->expected_len) : NULL;
                c->expected_len = t->expected_len;
                if (!c->name || !c->stdin_data || (t->expected && !c->expected))
                        goto oom;
                if (t->args) {
                        if (strv_copy(&jd->args[i], t->args) < 0)
                                goto oom;
                        c->args = strv_array(&jd->args[i]);
                }
                if (t->limits) {
                        jd->limits[i] = *t->limits;
                        c->limits = &jd->limits[i];
                }
        }
        jd->spec.tests = jd->tests;
        if (spec->checker)
                jd->checker = *spec->checker;
        jd->spec.checker = NULL;
        for (unsigned i = 0; i < jd->spec.parallel; i++) {
                jd->slots[i].jd = jd;
                if (!spec->fresh_sandboxes && !(jd->slots[i].lane = job_lane_new(spec->job.pool)))
                        goto oom;
        }
        *out = jd;
        if (spec->job.tc->compile.n) {
                jd->compiling = true;
                start_job(jd, &jd->slots[0], IDX_COMPILE);
                /* The tests' sandboxes are made by the helper while the compiler runs (without
                 * one, filling would make them here, in the way). */
                if (jd->spec.job.pool && jd->spec.job.preparer) {
                        rc_err_t e = {0};
                        job_pool_fill(&jd->spec.job, &e);
                }
        } else if (jd->checker.tc && jd->checker.tc->compile.n) {
                jd->compiling = true;
                start_job(jd, &jd->slots[0], IDX_CHECKER_COMPILE);
        } else {
                schedule(jd);
        }
        return 0;
oom:
        free_copies(jd);
        free(jd->results);
        free(jd->ran);
        for (unsigned i = 0; jd->slots && i < jd->spec.parallel; i++)
                job_lane_free(jd->slots[i].lane);
        free(jd->slots);
        free(jd);
        return rc_err_set(err, ENOMEM, "out of memory");
}

size_t judge_ntests(const judge_t *jd)
{
        return jd->spec.ntests;
}

const char *judge_test_name(const judge_t *jd, size_t i)
{
        return i < jd->spec.ntests ? jd->tests[i].name : NULL;
}

bool judge_is_done(const judge_t *jd)
{
        return jd->done;
}

const stage_result_t *judge_compile_result(const judge_t *jd)
{
        return jd->compile.present ? &jd->compile : NULL;
}

const judge_test_result_t *judge_test_result(const judge_t *jd, size_t i)
{
        return i < jd->spec.ntests && jd->ran[i] && jd->results[i].verdict ? &jd->results[i] : NULL;
}

void judge_summary(const judge_t *jd, size_t *passed, size_t *run, long *first_failure)
{
        *passed = *run = 0;
        *first_failure = -1;
        for (size_t i = 0; i < jd->spec.ntests; i++) {
                const judge_test_result_t *r = judge_test_result(jd, i);
                if (!r)
                        continue;
                (*run)++;
                if (strcmp(r->verdict, "accepted") == 0)
                        (*passed)++;
                else if (*first_failure < 0)
                        *first_failure = (long)i;
        }
}

void judge_kill(judge_t *jd)
{
        jd->killed = true;
        for (unsigned i = 0; i < jd->spec.parallel; i++)
                if (jd->slots[i].job)
                        job_kill(jd->slots[i].job, SIGKILL);
}

void judge_free(judge_t *jd)
{
        if (!jd)
                return;
        if (jd->t_pump)
                jd->loop->ops->timer_del(jd->loop, jd->t_pump);
        for (unsigned i = 0; i < jd->spec.parallel; i++) {
                job_free(jd->slots[i].job);
                job_lane_free(jd->slots[i].lane);
        }
        for (size_t i = 0; i < jd->spec.ntests; i++) {
                buf_free(&jd->results[i].run.out);
                buf_free(&jd->results[i].run.err);
        }
        buf_free(&jd->compile.out);
        buf_free(&jd->compile.err);
        job_build_free(jd->build);
        job_build_free(jd->checker_build);
        free_copies(jd);
        free(jd->results);
        free(jd->ran);
        free(jd->slots);
        free(jd);
}
