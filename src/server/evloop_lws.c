#include "server/evloop_lws.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

struct ev_io {
        ev_loop_t *loop;
        struct lws *wsi; /* NULL once lws has closed it */
        unsigned events;
        ev_io_cb cb;
        void *ud;
        bool dead;         /* io_del was called: no more callbacks */
        bool closing;      /* lws has closed the connection (hang-up) */
        bool late_pending; /* a deliver_late() is scheduled */
        bool in_close;     /* the close handler is calling back: it frees afterwards */
};

struct ev_timer {
        lws_sorted_usec_list_t sul; /* first: the sul callback gets this pointer */
        ev_timer_cb cb;
        void *ud;
};

typedef struct lws_loop {
        ev_loop_t base;
        struct lws_context *ctx;
        struct lws_vhost *vh;
} lws_loop_t;

static ev_io_t *l_io_add(ev_loop_t *l, int fd, unsigned events, ev_io_cb cb, void *ud)
{
        lws_loop_t *ll = (lws_loop_t *)l;
        ev_io_t *w = calloc(1, sizeof(*w));
        if (!w)
                return NULL;
        /* lws closes what it adopts: give it a duplicate, the caller keeps its own fd. */
        int dup = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (dup < 0) {
                free(w);
                return NULL;
        }
        *w = (ev_io_t){.loop = l, .events = events, .cb = cb, .ud = ud};
        lws_sock_file_fd_type u;
        u.filefd = dup;
        w->wsi =
            lws_adopt_descriptor_vhost(ll->vh, LWS_ADOPT_RAW_FILE_DESC, u, EV_LWS_PROTOCOL, NULL);
        if (!w->wsi) { /* lws closed dup */
                free(w);
                return NULL;
        }
        lws_set_opaque_user_data(w->wsi, w);
        if (!(events & EV_READ))
                lws_rx_flow_control(w->wsi, 0);
        if (events & EV_WRITE)
                lws_callback_on_writable(w->wsi);
        return w;
}

static ev_timer_t *l_timer_add(ev_loop_t *l, int64_t at_ns, ev_timer_cb cb, void *ud);

static void deliver_late(void *ud)
{
        ev_io_t *w = ud;
        w->late_pending = false;
        if (w->dead) {
                free(w); /* io_del came meanwhile */
                return;
        }
        if (w->events)
                w->cb(w->ud, w->events & (EV_READ | EV_WRITE));
}

static void l_io_set(ev_loop_t *l, ev_io_t *w, unsigned events)
{
        if (!w || w->dead)
                return;
        if (w->closing) {
                /* lws has let go of the fd (hang-up): whatever is wanted now is there now (EOF,
                 * EPIPE). Deliver it from the loop, not from inside the caller. */
                w->events = events;
                if (events && !w->late_pending) {
                        w->late_pending = true;
                        l_timer_add(l, 0, deliver_late, w);
                }
                return;
        }
        if ((events & EV_READ) != (w->events & EV_READ))
                lws_rx_flow_control(w->wsi, (events & EV_READ) ? 1 : 0);
        w->events = events;
        if (events & EV_WRITE)
                lws_callback_on_writable(w->wsi);
}

static void l_io_del(ev_loop_t *l, ev_io_t *w)
{
        (void)l;
        if (!w || w->dead)
                return;
        w->dead = true;
        if (w->closing) {
                if (!w->late_pending && !w->in_close)
                        free(w); /* lws is done with it too */
        } else {
                /* Closed on the next service round (never inside its own callback); the
                 * RAW_CLOSE_FILE callback frees w. */
                lws_set_opaque_user_data(w->wsi, w);
                lws_set_timeout(w->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
        }
}

static void on_sul(lws_sorted_usec_list_t *sul)
{
        ev_timer_t *t = (ev_timer_t *)sul;
        ev_timer_cb cb = t->cb;
        void *ud = t->ud;
        free(t); /* one-shot: the callback must not cancel it any more */
        cb(ud);
}

static ev_timer_t *l_timer_add(ev_loop_t *l, int64_t at_ns, ev_timer_cb cb, void *ud)
{
        lws_loop_t *ll = (lws_loop_t *)l;
        ev_timer_t *t = calloc(1, sizeof(*t));
        if (!t)
                return NULL;
        t->cb = cb;
        t->ud = ud;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t now = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
        int64_t us = (at_ns - now) / 1000;
        lws_sul_schedule(ll->ctx, 0, &t->sul, on_sul, us > 0 ? us : 1);
        return t;
}

static void l_timer_del(ev_loop_t *l, ev_timer_t *t)
{
        (void)l;
        if (!t)
                return;
        lws_sul_cancel(&t->sul);
        free(t);
}

static const ev_loop_ops_t lws_ops = {
    .io_add = l_io_add,
    .io_set = l_io_set,
    .io_del = l_io_del,
    .timer_add = l_timer_add,
    .timer_del = l_timer_del,
};

ev_loop_t *ev_lws_new(struct lws_context *ctx, struct lws_vhost *vh)
{
        lws_loop_t *ll = calloc(1, sizeof(*ll));
        if (!ll)
                return NULL;
        ll->base.ops = &lws_ops;
        ll->ctx = ctx;
        ll->vh = vh;
        return &ll->base;
}

void ev_lws_free(ev_loop_t *l)
{
        free(l);
}

int ev_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
        (void)user;
        (void)in;
        (void)len;
        ev_io_t *w = lws_get_opaque_user_data(wsi);
        switch (reason) {
        case LWS_CALLBACK_RAW_RX_FILE:
                if (w && !w->dead && (w->events & EV_READ))
                        w->cb(w->ud, EV_READ);
                return 0;
        case LWS_CALLBACK_RAW_WRITEABLE_FILE:
                if (w && !w->dead && (w->events & EV_WRITE)) {
                        w->cb(w->ud, EV_WRITE);
                        /* lws reports writability once per request: ask again while wanted */
                        if (!w->dead && (w->events & EV_WRITE))
                                lws_callback_on_writable(wsi);
                }
                return 0;
        case LWS_CALLBACK_RAW_CLOSE_FILE:
                if (!w)
                        return 0;
                lws_set_opaque_user_data(wsi, NULL);
                w->wsi = NULL;
                if (w->dead) { /* our own io_del asked for this close */
                        if (!w->late_pending)
                                free(w);
                        return 0;
                }
                /* lws closes on hang-up: let the owner see the end (EOF, EPIPE) now; the watch
                 * stays allocated until the owner's io_del. */
                w->closing = true;
                w->in_close = true;
                for (int i = 0; i < 64 && !w->dead && w->events; i++)
                        w->cb(w->ud, w->events & (EV_READ | EV_WRITE));
                w->in_close = false;
                if (w->dead && !w->late_pending)
                        free(w);
                return 0;
        default:
                return 0;
        }
}
