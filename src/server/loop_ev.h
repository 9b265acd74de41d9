/* The libev loop lws runs on (a foreign loop; loop_ev.c). Its own header: ev.h's EV_READ and
 * EV_WRITE are also the job engine's names. */
#ifndef RUNCELL_SERVER_LOOP_EV_H
#define RUNCELL_SERVER_LOOP_EV_H

#include <stdbool.h>

void *server_loop_new(void);
void server_loop_once(void *loop, bool wait); /* one turn, waiting for an event or not */
void server_loop_free(void *loop);

#endif
