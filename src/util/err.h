/* Errors on the job path: an errno plus a human message, crun-style.
 * Functions return >= 0 on success and -errno on failure; the message is set only on failure
 * and callers add context with rc_err_wrap(). The struct has a fixed size and no heap, so it is
 * safe to use in a cloned child before execve. */
#ifndef RUNCELL_UTIL_ERR_H
#define RUNCELL_UTIL_ERR_H

#include <stddef.h>

#define RC_ERR_MSG_MAX 512

typedef struct rc_err {
        int code; /* positive errno, 0 when unset */
        char msg[RC_ERR_MSG_MAX];
} rc_err_t;

/* Set the error and return -code. `code` may be given positive or negative. */
int rc_err_set(rc_err_t *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Like rc_err_set, appending ": strerror(code)". */
int rc_err_sys(rc_err_t *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prefix the existing message with context ("context: old message"); returns -code. */
int rc_err_wrap(rc_err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rc_err_clear(rc_err_t *err);

#endif
