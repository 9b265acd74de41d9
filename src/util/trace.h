/* RUNCELL_TRACE=1: print how long each step of runcell's own work takes, to stderr. */
#ifndef RUNCELL_UTIL_TRACE_H
#define RUNCELL_UTIL_TRACE_H

#include <stdbool.h>
#include <stdint.h>

bool trace_enabled(void);
/* On or off whatever RUNCELL_TRACE says (a runcell warm's worker traces for the command it
 * serves when that command's RUNCELL_TRACE asked). */
void trace_set(bool enabled);
int64_t trace_now(void);
/* Print "what: N us" from t0 to t1 (trace_now's clock). */
void trace_span(const char *what, int64_t t0, int64_t t1);
/* Print "what: N us" since t0 and return the current time (for the next step). */
int64_t trace_step(const char *what, int64_t t0);

#endif
