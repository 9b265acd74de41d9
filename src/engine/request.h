/* A run request in JSON (batch lines, the server's run messages and POST bodies) checked and
 * turned into a job spec. */
#ifndef RUNCELL_ENGINE_REQUEST_H
#define RUNCELL_ENGINE_REQUEST_H

#include <cjson/cJSON.h>

#include "engine/catalog.h"
#include "engine/judge.h"

#define REQUEST_FILES_MAX 256

typedef struct run_request {
        lang_t *lang;
        job_input_file_t files[REQUEST_FILES_MAX]; /* point into the cJSON document */
        size_t nfiles;
        strv_t args;
        strv_t env;                         /* "KEY=value" */
        strv_t command;                     /* empty: the toolchain's run command */
        strv_t compile_options;             /* "compile_options", checked by engine/flags.h */
        char *file_data[REQUEST_FILES_MAX]; /* decoded "encoding": "base64" contents (owned) */
        const char *stdin_data; /* "stdin" (with "stdin_encoding": "base64", decoded: any */
        size_t stdin_len;       /* bytes, in stdin_owned) */
        char *stdin_owned;
        rc_limits_t run_over, compile_over;
        bool interactive;
        /* "tty": {"rows", "cols"}: the run stage on a terminal of that size; 0: pipes */
        uint16_t tty_rows, tty_cols;
        strv_t outputs; /* "outputs": patterns of the files to hand back (util/glob.h) */
        /* "tests": judge the program (engine/judge.h); strings point into the document */
        judge_test_t *tests;
        size_t ntests;
        strv_t *test_args;
        rc_limits_t *test_over; /* each test's "limits", over run_over */
        compare_opts_t compare;
        bool stop_on_first_failure;
        bool fresh_sandboxes; /* judge_spec_t.fresh_sandboxes */
        /* "compare": {"mode": "checker", "language", "source" | "files"}: its language and
         * files (pointing into the document); checker_lang NULL: no checker */
        lang_t *checker_lang;
        job_input_file_t checker_files[16];
        size_t nchecker_files;
} run_request_t;

/* Parse req ("tests" only when judge is true: the dialects without test cases refuse them);
 * "language" and "version" choose the toolchain (catalog_find). On failure returns -1 with
 * *code one of "bad_request", "unknown_language", "unknown_version", "unavailable" and msg
 * filled. */
int run_request_parse(catalog_t *c, const cJSON *req, bool judge, run_request_t *out,
                      const char **code, char *msg, size_t msg_size);
/* The job spec for a parsed request; valid while out and the cJSON document live. */
void run_request_job_spec(catalog_t *c, const run_request_t *r, job_spec_t *js);
void run_request_free(run_request_t *r);
/* A terminal size from "tty" or a resize message: rows and cols, integers 1..REQUEST_TTY_MAX.
 * Returns 0, or -1 with why filled. */
#define REQUEST_TTY_MAX 1000
int request_tty_size(const cJSON *o, uint16_t *rows, uint16_t *cols, char *why, size_t why_size);

#endif
