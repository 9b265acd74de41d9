#include "util/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int normalize(int code)
{
        if (code < 0)
                code = -code;
        return code ? code : EIO;
}

int rc_err_set(rc_err_t *err, int code, const char *fmt, ...)
{
        code = normalize(code);
        if (err) {
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
                va_end(ap);
                err->code = code;
        }
        return -code;
}

int rc_err_sys(rc_err_t *err, int code, const char *fmt, ...)
{
        code = normalize(code);
        if (err) {
                char head[RC_ERR_MSG_MAX];
                char ebuf[128];
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(head, sizeof(head), fmt, ap);
                va_end(ap);
                /* strerror_r (GNU) may return a static string instead of filling ebuf. */
                const char *es = strerror_r(code, ebuf, sizeof(ebuf));
                snprintf(err->msg, sizeof(err->msg), "%.380s: %.120s", head, es);
                err->code = code;
        }
        return -code;
}

int rc_err_wrap(rc_err_t *err, const char *fmt, ...)
{
        if (!err)
                return -EIO;
        char head[RC_ERR_MSG_MAX];
        char old[RC_ERR_MSG_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(head, sizeof(head), fmt, ap);
        va_end(ap);
        memcpy(old, err->msg, sizeof(old));
        snprintf(err->msg, sizeof(err->msg), "%.200s: %.300s", head, old);
        return -normalize(err->code);
}

void rc_err_clear(rc_err_t *err)
{
        if (err) {
                err->code = 0;
                err->msg[0] = '\0';
        }
}
