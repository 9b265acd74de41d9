#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "job/evloop.h"

struct ev_io {
        int fd;
        unsigned events;
        ev_io_cb cb;
        void *ud;
        bool dead;
        ev_io_t *next;
};

struct ev_timer {
        int64_t at_ns;
        ev_timer_cb cb;
        void *ud;
        bool dead;
        ev_timer_t *next;
};

typedef struct poll_loop {
        ev_loop_t base;
        ev_io_t *ios;
        ev_timer_t *timers;
} poll_loop_t;

static int64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static ev_io_t *p_io_add(ev_loop_t *l, int fd, unsigned events, ev_io_cb cb, void *ud)
{
        poll_loop_t *pl = (poll_loop_t *)l;
        ev_io_t *w = calloc(1, sizeof(*w));
        if (!w)
                return NULL;
        *w = (ev_io_t){.fd = fd, .events = events, .cb = cb, .ud = ud, .next = pl->ios};
        pl->ios = w;
        return w;
}

static void p_io_set(ev_loop_t *l, ev_io_t *w, unsigned events)
{
        (void)l;
        if (w)
                w->events = events;
}

static void p_io_del(ev_loop_t *l, ev_io_t *w)
{
        (void)l;
        if (w)
                w->dead = true; /* freed after the current round */
}

static ev_timer_t *p_timer_add(ev_loop_t *l, int64_t at_ns, ev_timer_cb cb, void *ud)
{
        poll_loop_t *pl = (poll_loop_t *)l;
        ev_timer_t *t = calloc(1, sizeof(*t));
        if (!t)
                return NULL;
        *t = (ev_timer_t){.at_ns = at_ns, .cb = cb, .ud = ud, .next = pl->timers};
        pl->timers = t;
        return t;
}

static void p_timer_del(ev_loop_t *l, ev_timer_t *t)
{
        (void)l;
        if (t)
                t->dead = true;
}

static const ev_loop_ops_t poll_ops = {
    .io_add = p_io_add,
    .io_set = p_io_set,
    .io_del = p_io_del,
    .timer_add = p_timer_add,
    .timer_del = p_timer_del,
};

ev_loop_t *ev_poll_new(void)
{
        poll_loop_t *pl = calloc(1, sizeof(*pl));
        if (!pl)
                return NULL;
        pl->base.ops = &poll_ops;
        return &pl->base;
}

static void sweep(poll_loop_t *pl)
{
        for (ev_io_t **pp = &pl->ios; *pp;) {
                if ((*pp)->dead) {
                        ev_io_t *d = *pp;
                        *pp = d->next;
                        free(d);
                } else {
                        pp = &(*pp)->next;
                }
        }
        for (ev_timer_t **pp = &pl->timers; *pp;) {
                if ((*pp)->dead) {
                        ev_timer_t *d = *pp;
                        *pp = d->next;
                        free(d);
                } else {
                        pp = &(*pp)->next;
                }
        }
}

void ev_poll_free(ev_loop_t *l)
{
        poll_loop_t *pl = (poll_loop_t *)l;
        if (!pl)
                return;
        for (ev_io_t *w = pl->ios; w; w = w->next)
                w->dead = true;
        for (ev_timer_t *t = pl->timers; t; t = t->next)
                t->dead = true;
        sweep(pl);
        free(pl);
}

int ev_poll_run_once(ev_loop_t *l, int timeout_ms)
{
        poll_loop_t *pl = (poll_loop_t *)l;
        sweep(pl);
        size_t n = 0;
        for (ev_io_t *w = pl->ios; w; w = w->next)
                n += w->events != 0;
        struct pollfd *p = calloc(n ? n : 1, sizeof(*p));
        ev_io_t **ws = calloc(n ? n : 1, sizeof(*ws));
        if (!p || !ws) {
                free(p);
                free(ws);
                return -ENOMEM;
        }
        size_t i = 0;
        for (ev_io_t *w = pl->ios; w; w = w->next) {
                if (!w->events)
                        continue;
                p[i] = (struct pollfd){.fd = w->fd,
                                       .events = (short)((w->events & EV_READ ? POLLIN : 0) |
                                                         (w->events & EV_WRITE ? POLLOUT : 0))};
                ws[i++] = w;
        }
        int64_t now = now_ns(), next = INT64_MAX;
        for (ev_timer_t *t = pl->timers; t; t = t->next)
                if (!t->dead && t->at_ns < next)
                        next = t->at_ns;
        int timeout = timeout_ms;
        if (next != INT64_MAX) {
                int64_t ms = next <= now ? 0 : (next - now + 999999) / 1000000;
                if (timeout < 0 || ms < timeout)
                        timeout = (int)ms;
        }
        int r = poll(p, (nfds_t)n, timeout);
        if (r < 0 && errno != EINTR) {
                free(p);
                free(ws);
                return -errno;
        }
        for (size_t k = 0; r > 0 && k < n; k++) {
                if (!p[k].revents || ws[k]->dead)
                        continue;
                unsigned rev = 0;
                if (p[k].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL))
                        rev |= ws[k]->events & EV_READ;
                if (p[k].revents & (POLLOUT | POLLHUP | POLLERR | POLLNVAL))
                        rev |= ws[k]->events & EV_WRITE;
                if (rev)
                        ws[k]->cb(ws[k]->ud, rev);
        }
        free(p);
        free(ws);
        now = now_ns();
        for (ev_timer_t *t = pl->timers; t; t = t->next)
                if (!t->dead && t->at_ns <= now) {
                        t->dead = true; /* one-shot */
                        t->cb(t->ud);
                }
        return 0;
}
