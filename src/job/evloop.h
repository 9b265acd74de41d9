/* The event loop a job runs on: fd watches and timers behind a small vtable, so the same job
 * engine runs on a poll loop (the command line, batch) and on libwebsockets' loop (the server). */
#ifndef RUNCELL_JOB_EVLOOP_H
#define RUNCELL_JOB_EVLOOP_H

#include <stdbool.h>
#include <stdint.h>

enum { EV_READ = 1, EV_WRITE = 2 };

typedef struct ev_loop ev_loop_t;
typedef struct ev_io ev_io_t;
typedef struct ev_timer ev_timer_t;

/* revents holds EV_READ/EV_WRITE; hang-up and errors are reported as the events asked for. */
typedef void (*ev_io_cb)(void *ud, unsigned revents);
typedef void (*ev_timer_cb)(void *ud);

typedef struct ev_loop_ops {
        ev_io_t *(*io_add)(ev_loop_t *l, int fd, unsigned events, ev_io_cb cb, void *ud);
        void (*io_set)(ev_loop_t *l, ev_io_t *w, unsigned events); /* 0: paused */
        void (*io_del)(ev_loop_t *l, ev_io_t *w);                  /* safe inside a callback */
        ev_timer_t *(*timer_add)(ev_loop_t *l, int64_t at_ns, ev_timer_cb cb, void *ud);
        void (*timer_del)(ev_loop_t *l, ev_timer_t *t);
} ev_loop_ops_t;

struct ev_loop {
        const ev_loop_ops_t *ops;
};

/* A poll(2) loop. */
ev_loop_t *ev_poll_new(void);
void ev_poll_free(ev_loop_t *l);
/* Wait for and dispatch one round of events (or until timeout_ms, -1 = none). */
int ev_poll_run_once(ev_loop_t *l, int timeout_ms);

#endif
