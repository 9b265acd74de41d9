/* The server's event loop: libev (epoll on Linux), which lws drives as a foreign loop
 * (LWS_SERVER_OPTION_LIBEV). lws' default poll() passes over every descriptor each turn:
 * ~5 ms with 15,000 idle connections, several turns per request. Apart from server.c since
 * ev.h's EV_READ/EV_WRITE are also the job engine's (engine's ev_loop_t).
 *
 * lws 4.1's libev glue services its timers (lws_sul_schedule: runs' deadlines, reaping,
 * idle timeouts, SIGTERM's grace) only from its idle watcher, which only I/O starts; a timer
 * scheduled while nothing else happens waits. A tick every TICK_S wakes lws through its own
 * cancel pipe (lws_cancel_service), so timers run at most that late. */
#include <ev.h>
#include <libwebsockets.h>

#include "server/loop_ev.h"

#define TICK_S 0.005

static ev_timer tick;

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
        (void)loop;
        (void)revents;
        lws_cancel_service(w->data);
}

void *server_loop_new(void)
{
        return ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
}

void server_loop_start_tick(void *loop, struct lws_context *ctx)
{
        ev_timer_init(&tick, on_tick, TICK_S, TICK_S);
        tick.data = ctx;
        ev_timer_start(loop, &tick);
}

void server_loop_once(void *loop, bool wait)
{
        ev_run(loop, wait ? EVRUN_ONCE : EVRUN_NOWAIT);
}

void server_loop_free(void *loop)
{
        if (!loop)
                return;
        if (ev_is_active(&tick))
                ev_timer_stop(loop, &tick);
        ev_loop_destroy(loop);
}
