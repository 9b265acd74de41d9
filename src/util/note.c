#include "util/note.h"

#include <stdarg.h>
#include <stdio.h>

static rc_note_sink_fn sink;

void rc_note_set_sink(rc_note_sink_fn fn)
{
        sink = fn;
}

void rc_note(rc_note_level_t lv, const char *event, const char *fmt, ...)
{
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (sink)
                sink(lv, event, msg);
        else
                fprintf(stderr, "runcell: %s\n", msg);
}
