/* The job engine's event loop on libwebsockets' own. The fds jobs watch (a sandbox's pipes, its
 * sync socket, its pidfd, a helper's ticket) are in an epoll set of ours, and that one epoll fd
 * is adopted by lws as a raw-file connection: when lws's poll says it is readable, the ready
 * watches are dispatched from here. A watch is then one epoll_ctl to add, change or remove,
 * where adopting each fd into lws cost a dup, its flags, a wake-up of lws's loop and a close,
 * for each of the four to five fds of every run. Level-triggered, as poll is: what is not read
 * in a round is reported again in the next. Timers are lws_sul. One service thread. */
#include "server/evloop_lws.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

struct ev_io {
        ev_loop_t *loop;
        int fd;     /* in the epoll set (the caller's, or own_fd) */
        int own_fd; /* a duplicate of ours (the caller's fd was in the set already), or -1 */
        unsigned events;
        ev_io_cb cb;
        void *ud;
        bool registered; /* in the epoll set (not while paused: a hang-up would be reported) */
        bool dead;       /* io_del was called: no more callbacks */
        ev_io_t *next_dead;
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
        int epfd;
        struct lws *wsi; /* the epoll fd, adopted; NULL once lws closed it */
        int dispatching; /* inside a round of callbacks: watches are freed after it */
        ev_io_t *dead;   /* io_del'd during a round */
} lws_loop_t;

static uint32_t epoll_mask(unsigned events)
{
        return ((events & EV_READ) ? EPOLLIN : 0) | ((events & EV_WRITE) ? EPOLLOUT : 0);
}

static int ctl(lws_loop_t *ll, int op, ev_io_t *w)
{
        struct epoll_event e = {.events = epoll_mask(w->events), .data.ptr = w};
        return epoll_ctl(ll->epfd, op, w->fd, &e);
}

static ev_io_t *l_io_add(ev_loop_t *l, int fd, unsigned events, ev_io_cb cb, void *ud)
{
        lws_loop_t *ll = (lws_loop_t *)l;
        ev_io_t *w = calloc(1, sizeof(*w));
        if (!w)
                return NULL;
        *w = (ev_io_t){.loop = l, .fd = fd, .own_fd = -1, .events = events, .cb = cb, .ud = ud};
        if (!events)
                return w;
        if (ctl(ll, EPOLL_CTL_ADD, w) < 0) {
                /* Another watch has this fd (the set holds open files): watch a duplicate. Any
                 * other failure (a regular file cannot be watched) is the caller's to see. */
                w->own_fd = w->fd = errno == EEXIST ? fcntl(fd, F_DUPFD_CLOEXEC, 3) : -1;
                if (w->fd < 0 || ctl(ll, EPOLL_CTL_ADD, w) < 0) {
                        if (w->own_fd >= 0)
                                close(w->own_fd);
                        free(w);
                        return NULL;
                }
        }
        w->registered = true;
        return w;
}

static void l_io_set(ev_loop_t *l, ev_io_t *w, unsigned events)
{
        lws_loop_t *ll = (lws_loop_t *)l;
        if (!w || w->dead || events == w->events)
                return;
        w->events = events;
        if (!events) {
                if (w->registered && ctl(ll, EPOLL_CTL_DEL, w) == 0)
                        w->registered = false;
        } else if (w->registered) {
                ctl(ll, EPOLL_CTL_MOD, w);
        } else if (ctl(ll, EPOLL_CTL_ADD, w) == 0) {
                w->registered = true;
        }
}

static void io_free(ev_io_t *w)
{
        if (w->own_fd >= 0)
                close(w->own_fd);
        free(w);
}

static void l_io_del(ev_loop_t *l, ev_io_t *w)
{
        lws_loop_t *ll = (lws_loop_t *)l;
        if (!w || w->dead)
                return;
        w->dead = true;
        if (w->registered)
                ctl(ll, EPOLL_CTL_DEL, w); /* fails only if the fd was closed first: gone anyway */
        w->registered = false;
        if (ll->dispatching) {
                /* this round's events may still name it */
                w->next_dead = ll->dead;
                ll->dead = w;
        } else {
                io_free(w);
        }
}

/* One round: every ready watch once, with what it asked for (a hang-up or an error as all of
 * it: the read sees EOF, the write EPIPE). */
static void dispatch(lws_loop_t *ll)
{
        struct epoll_event evs[64];
        int n;
        do
                n = epoll_wait(ll->epfd, evs, 64, 0);
        while (n < 0 && errno == EINTR);
        ll->dispatching++;
        for (int i = 0; i < n; i++) {
                ev_io_t *w = evs[i].data.ptr;
                if (w->dead || !w->events)
                        continue;
                unsigned got = ((evs[i].events & EPOLLIN) ? EV_READ : 0) |
                               ((evs[i].events & EPOLLOUT) ? EV_WRITE : 0);
                if (evs[i].events & (EPOLLHUP | EPOLLERR))
                        got = w->events;
                got &= w->events;
                if (got)
                        w->cb(w->ud, got);
        }
        if (--ll->dispatching == 0)
                while (ll->dead) {
                        ev_io_t *w = ll->dead;
                        ll->dead = w->next_dead;
                        io_free(w);
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
        ll->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (ll->epfd < 0) {
                free(ll);
                return NULL;
        }
        lws_sock_file_fd_type u;
        u.filefd = ll->epfd;
        ll->wsi = lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, u, EV_LWS_PROTOCOL, NULL);
        if (!ll->wsi) { /* lws closed the fd */
                free(ll);
                return NULL;
        }
        lws_set_opaque_user_data(ll->wsi, ll);
        return &ll->base;
}

void ev_lws_free(ev_loop_t *l)
{
        lws_loop_t *ll = (lws_loop_t *)l;
        if (!ll)
                return;
        while (ll->dead) {
                ev_io_t *w = ll->dead;
                ll->dead = w->next_dead;
                io_free(w);
        }
        free(ll);
}

int ev_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
        (void)user;
        (void)in;
        (void)len;
        lws_loop_t *ll = lws_get_opaque_user_data(wsi);
        switch (reason) {
        case LWS_CALLBACK_RAW_RX_FILE:
                if (ll && ll->wsi == wsi)
                        dispatch(ll);
                return 0;
        case LWS_CALLBACK_RAW_CLOSE_FILE:
                /* the context is going down (lws closes what it adopted): no more rounds */
                if (ll && ll->wsi == wsi) {
                        lws_set_opaque_user_data(wsi, NULL);
                        ll->wsi = NULL;
                }
                return 0;
        default:
                return 0;
        }
}
