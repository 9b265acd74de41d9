/* The server's event loop: libev (epoll on Linux), which lws drives as a foreign loop
 * (LWS_SERVER_OPTION_LIBEV). lws' default poll() passes over every descriptor each turn:
 * ~5 ms with 15,000 idle connections, several turns per request. Apart from server.c since
 * ev.h's EV_READ/EV_WRITE are also the job engine's (engine's ev_loop_t). */
#include <ev.h>

#include "server/loop_ev.h"

void *server_loop_new(void)
{
        return ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
}

void server_loop_once(void *loop, bool wait)
{
        ev_run(loop, wait ? EVRUN_ONCE : EVRUN_NOWAIT);
}

void server_loop_free(void *loop)
{
        if (loop)
                ev_loop_destroy(loop);
}
