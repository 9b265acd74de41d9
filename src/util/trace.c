#include "util/trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int on = -1;

void trace_set(bool enabled)
{
        on = enabled;
}

bool trace_enabled(void)
{
        if (on < 0) {
                const char *v = getenv("RUNCELL_TRACE");
                on = v && strcmp(v, "1") == 0;
        }
        return on;
}

int64_t trace_now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void line(const char *what, int64_t us, int64_t at)
{
        long long ms = (long long)(at / 1000000), frac = (long long)(at % 1000000 / 1000);
        if (us >= 0)
                fprintf(stderr, "runcell: trace: %-28s %6lld us  @%lld.%03lld\n", what,
                        (long long)us, ms, frac);
        else
                fprintf(stderr, "runcell: trace: %s  @%lld.%03lld\n", what, ms, frac);
}

void trace_span(const char *what, int64_t t0, int64_t t1)
{
        if (trace_enabled())
                line(what, (t1 - t0) / 1000, t1);
}

void trace_took(const char *what, int64_t us)
{
        if (trace_enabled())
                line(what, us < 0 ? 0 : us, trace_now());
}

void trace_mark(const char *what)
{
        if (trace_enabled())
                line(what, -1, trace_now());
}

int64_t trace_step(const char *what, int64_t t0)
{
        int64_t t = trace_now();
        trace_span(what, t0, t);
        return t;
}
