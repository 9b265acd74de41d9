/* A judge: one submission, compiled once, run against many tests, each in a fresh sandbox of
 * its own (several at once), its output compared with the expected one (engine/compare.h).
 * Used by `runcell judge` and the server's run requests that carry "tests". */
#ifndef RUNCELL_ENGINE_JUDGE_H
#define RUNCELL_ENGINE_JUDGE_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/compare.h"
#include "job/job.h"

#define JUDGE_TESTS_MAX 1000

typedef struct judge_test {
        const char *name; /* NULL: its number, from 1 */
        const char *stdin_data;
        size_t stdin_len;
        const char *expected; /* NULL: nothing to compare, a clean run is accepted */
        size_t expected_len;
        char *const *args;         /* NULL-terminated; NULL: the submission's */
        const rc_limits_t *limits; /* run limits of this test (filled in); NULL: the job's */
} judge_test_t;

typedef struct judge_test_result {
        const char *verdict; /* "accepted", "wrong_answer" or the run's status name */
        stage_result_t run;  /* the run stage: status, exit, signal, times, output kept */
        bool has_diff;       /* wrong_answer: where the outputs first differ */
        compare_diff_t diff;
        char message[512]; /* a checker's word on it (its stderr, else stdout), or why the
                            * checker itself failed */
} judge_test_result_t;

typedef struct judge_callbacks {
        /* the compile stage's end (compiled languages only), before any test */
        void (*compiled)(void *ud, const stage_result_t *compile);
        /* test i is over (in the order they end) */
        void (*test_done)(void *ud, size_t i, const judge_test_result_t *r);
        void (*done)(void *ud);
        void *ud;
} judge_callbacks_t;

typedef struct judge_spec {
        job_spec_t job; /* the submission: toolchain, files, limits, sandboxes; its stdin, args
                         * and callbacks are not used */
        const judge_test_t *tests;
        size_t ntests;
        compare_opts_t compare;
        /* Compared by a checker program instead (testlib's conventions): compiled once, run in a
         * sandbox of its own per test with input.txt, output.txt (the program's stdout) and
         * answer.txt (the expected output) in /work and those three names as its arguments.
         * Exit 0: accepted, 1: wrong_answer, 2: presentation_error, 3 or anything else (a
         * crash, a limit): internal_error, never the contestant's fault. Its files, toolchain
         * and limits as for the submission; NULL: the built-in comparison. */
        const job_spec_t *checker;
        bool stop_on_first_failure; /* the tests not yet started are not run ("skipped") */
        unsigned parallel;          /* tests at once, at least 1 */
        /* each test in a sandbox made for it; false (the default): the tests running one after
         * another share a sandbox, which its init resets between them (sb_run_t.keep) */
        bool fresh_sandboxes;
        size_t output_keep; /* bytes of each test's stdout and stderr kept */
        judge_callbacks_t cb;
} judge_spec_t;

typedef struct judge judge_t;

/* Start judging on loop; tests are copied. -errno for bad input (err says what). */
int judge_start(const judge_spec_t *spec, ev_loop_t *loop, judge_t **out, rc_err_t *err);
bool judge_is_done(const judge_t *jd);
size_t judge_ntests(const judge_t *jd);
/* Test i's name ("1", "2", ... for tests given without one). */
const char *judge_test_name(const judge_t *jd, size_t i);
/* The compile stage (present only for a compiled language). */
const stage_result_t *judge_compile_result(const judge_t *jd);
/* Test i's result; NULL when it did not run (not yet, or skipped after a failure or a compile
 * error). */
const judge_test_result_t *judge_test_result(const judge_t *jd, size_t i);
/* passed (accepted) and run tests, and the first failing test in the tests' order (-1: none) */
void judge_summary(const judge_t *jd, size_t *passed, size_t *run, long *first_failure);
/* Kill whatever runs (verdict "killed") and start nothing more. */
void judge_kill(judge_t *jd);
void judge_free(judge_t *jd);

#endif
