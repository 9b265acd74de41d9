/* Judge0 CE's pure parts, for the unit tests (tests/unit/test_judge0.c): statuses, the
 * verdict of a run, Ruby's Base64 forms and the "fields" argument. */
#ifndef RUNCELL_PROTOCOL_JUDGE0_H
#define RUNCELL_PROTOCOL_JUDGE0_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "job/job.h"
#include "util/buf.h"

enum {
        J0_IN_QUEUE = 1,
        J0_PROCESSING = 2,
        J0_ACCEPTED = 3,
        J0_WRONG_ANSWER = 4,
        J0_TLE = 5,
        J0_COMPILE_ERROR = 6,
        J0_SIGSEGV = 7,
        J0_SIGXFSZ = 8,
        J0_SIGFPE = 9,
        J0_SIGABRT = 10,
        J0_NZEC = 11,
        J0_OTHER = 12,
        J0_INTERNAL = 13,
        J0_EXEC_FORMAT = 14,
};

/* "Accepted" for 3; NULL outside 1..14. */
const char *judge0_status_name(int id);

/* The run stage's verdict, as Judge0's isolate job decides it: isolate's status first (time,
 * signal, exit status, sandbox error), then the output against expected_output. cpu_limit_ms:
 * the submission's cpu_time_limit (the sandbox had it plus cpu_extra_time), past it is a time
 * limit. output_ok: stdout matched expected_output (or there was none). exit_signal (0: none)
 * and message (isolate's words, "" for none) are filled. */
int judge0_run_status(const stage_result_t *run, int64_t cpu_limit_ms, bool output_ok,
                      int *exit_signal, char *message, size_t size);

/* Ruby's Base64.encode64: lines of 60 characters, each ending with "\n" ("" for nothing). */
void judge0_b64_encode(const void *data, size_t len, buf_t *out);
/* Ruby's Base64.decode64: lenient (characters outside the alphabet are skipped, the end is
 * the first '=' or the end of the text). */
void judge0_b64_decode(const char *s, size_t len, buf_t *out);

/* The submission's attributes, in Judge0's order (its table's columns, then status and
 * language); the default set is token, time, memory, stdout, stderr, compile_output, message,
 * status. */
#define J0_NFIELDS 40
extern const char *const judge0_fields[J0_NFIELDS];
uint64_t judge0_default_fields(void);
/* The "fields" argument (NULL or "" for the default set, "*" for all): the mask, or 0 with
 * the unknown names listed as Judge0 lists them ("a, b") in bad. */
uint64_t judge0_parse_fields(const char *arg, char *bad, size_t size);

/* The body Judge0 PUTs to a submission's callback_url: its default fields, Base64, from the
 * stored result (the whole submission object); heap text, NULL when result is not one. The
 * callback deliverer sends the stored result as it is: it should send this instead for a
 * submission of dialect "judge0". */
char *judge0_callback_body(const char *result);

/* Judge0's decimal columns as Rails renders them: "5.0", "0.5", "0.001". */
void judge0_decimal(double v, char *out, size_t size);

/* The arguments of command_line_arguments as bash would split them (quotes, backslashes), after
 * Judge0 has dropped the characters $&;<>|` from it. A NULL-terminated heap vector. */
char **judge0_split_args(const char *s, size_t *argc);
void judge0_free_args(char **v);

#endif
