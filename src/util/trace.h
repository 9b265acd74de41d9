/* RUNCELL_TRACE=1: print how long each step of runcell's own work takes, to stderr, one line
 * each: "runcell: trace: STEP  N us  @T", T the step's end in ms on CLOCK_MONOTONIC (the clock
 * of Python's time.monotonic(), and of every process of runcell's and its sandboxes': there is
 * no time namespace), so that a caller can place the lines of several processes on one time
 * line whatever order they reached it in. A moment without a duration: "runcell: trace: WHAT
 * @T". */
#ifndef RUNCELL_UTIL_TRACE_H
#define RUNCELL_UTIL_TRACE_H

#include <stdbool.h>
#include <stdint.h>

bool trace_enabled(void);
/* On or off whatever RUNCELL_TRACE says (a runcell warm's worker traces for the command it
 * serves when that command's RUNCELL_TRACE asked). */
void trace_set(bool enabled);
int64_t trace_now(void);
/* Print "what  N us  @t1" from t0 to t1 (trace_now's clock). */
void trace_span(const char *what, int64_t t0, int64_t t1);
/* Print "what  N us  @now" since t0 and return the current time (for the next step). */
int64_t trace_step(const char *what, int64_t t0);
/* Print "what  us us  @now": a step another process timed (the sandbox's child). */
void trace_took(const char *what, int64_t us);
/* Print "what  @now": a moment. */
void trace_mark(const char *what);

#endif
