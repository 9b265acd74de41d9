/* What the layers below the server have to say outside of a request (the cgroup manager's note
 * at start, the sandbox helper gone, a callback given up): "runcell: MESSAGE" on stderr, or,
 * once a program installs a sink, whatever the sink makes of it (the server writes each as one
 * event line of its log: docs/OPERATIONS.md). The sink is installed once, before any thread that
 * notes anything starts; it is called from that thread (the callback deliverer's is its own). */
#ifndef RUNCELL_UTIL_NOTE_H
#define RUNCELL_UTIL_NOTE_H

typedef enum rc_note_level { RC_NOTE_ERROR, RC_NOTE_WARN, RC_NOTE_INFO } rc_note_level_t;

/* event: a name for the kind of note ("preparer_gone"); msg: the sentence. */
typedef void (*rc_note_sink_fn)(rc_note_level_t lv, const char *event, const char *msg);

/* NULL: back to plain lines on stderr. */
void rc_note_set_sink(rc_note_sink_fn fn);
void rc_note(rc_note_level_t lv, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
