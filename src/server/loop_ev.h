/* The libev loop lws runs on (a foreign loop; loop_ev.c). Its own header: ev.h's EV_READ and
 * EV_WRITE are also the job engine's names. */
#ifndef RUNCELL_SERVER_LOOP_EV_H
#define RUNCELL_SERVER_LOOP_EV_H

#include <stdbool.h>

struct lws_context;

void *server_loop_new(void);
/* lws' timers serviced every few ms (see loop_ev.c); once the context exists */
void server_loop_start_tick(void *loop, struct lws_context *ctx);
void server_loop_once(void *loop, bool wait); /* one turn, waiting for an event or not */
void server_loop_free(void *loop);

#endif
