/* The server's log: one line per event on stderr, in logfmt (the default) or JSON lines
 * (docs/OPERATIONS.md, "Logs"). Every line has a timestamp (RFC 3339, UTC, milliseconds), a
 * level, an event name and the event's fields, in that order:
 *
 *   ts=2026-12-06T17:29:07.123Z level=info event=run run_id=9f2c41d07be35a10-1 ...
 *   {"ts":"2026-12-06T17:29:07.123Z","level":"info","event":"run","run_id":"9f2c...-1",...}
 *
 * When stderr is the systemd journal (JOURNAL_STREAM names stderr's device and inode), each
 * line starts with its syslog priority ("<3>" error, "<4>" warn, "<6>" info), which journald
 * takes as the line's priority and strips.
 *
 * logfmt: a value of printable ASCII other than '"', '=' and '\' is written bare; any other
 * is quoted, with \" \\ \n \r \t, \xNN for any other control byte and for every byte that is
 * not part of a valid UTF-8 sequence (valid UTF-8 is kept as is); a null value is "-". JSON:
 * strings are always valid UTF-8 (util/json.h: an invalid byte becomes U+FFFD), null is null.
 * Keys are the caller's literals (identifiers), written as they are.
 *
 * A line is built with slog_begin(), fields, slog_end() (one write(2) of the whole line), on
 * the event loop's thread. */
#ifndef RUNCELL_SERVER_LOG_H
#define RUNCELL_SERVER_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/buf.h"
#include "util/note.h"

typedef enum slog_level { SLOG_ERROR, SLOG_WARN, SLOG_INFO } slog_level_t;
typedef enum slog_format { SLOG_LOGFMT, SLOG_JSON } slog_format_t;

typedef struct slog_line {
        buf_t b;
        slog_format_t fmt;
} slog_line_t;

/* "logfmt" or "json" into *out; -1 for anything else. */
int slog_format_parse(const char *s, slog_format_t *out);
const char *slog_level_name(slog_level_t lv);

/* The process's format, and whether stderr is the journal (looked up now). */
void slog_setup(slog_format_t fmt);
/* Is the stream with device dev and inode ino the one JOURNAL_STREAM ("DEV:INO") names? */
bool slog_journal_stream(const char *journal_stream, dev_t dev, ino_t ino);

/* "2026-12-06T17:29:07.123Z" (24 characters and a NUL) for unix_ms. */
#define SLOG_TS_LEN 32
void slog_timestamp(char out[SLOG_TS_LEN], int64_t unix_ms);

/* A line to out's buffer at unix_ms, in fmt, with the journal's level prefix or not. */
void slog_begin_at(slog_line_t *l, slog_format_t fmt, bool journal, slog_level_t lv,
                   int64_t unix_ms, const char *event);
/* A line in the process's format, now. */
void slog_begin(slog_line_t *l, slog_level_t lv, const char *event);
void slog_str(slog_line_t *l, const char *key, const char *v); /* NULL: null */
void slog_bytes(slog_line_t *l, const char *key, const char *v, size_t n);
void slog_int(slog_line_t *l, const char *key, long long v);
void slog_num(slog_line_t *l, const char *key, double v, int decimals);
void slog_bool(slog_line_t *l, const char *key, bool v);
void slog_null(slog_line_t *l, const char *key);
void slog_strf(slog_line_t *l, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The line closed (its newline) in l->b: what slog_end writes. */
void slog_finish(slog_line_t *l);
/* Closed, written to stderr in one write, freed. */
void slog_end(slog_line_t *l);

/* An event with one field, msg. */
void slog_msg(slog_level_t lv, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The sink for util/note.h: each note one line, event and msg, at its level (any thread). */
void slog_note(rc_note_level_t lv, const char *event, const char *msg);

#endif
