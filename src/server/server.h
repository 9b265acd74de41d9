/* runcell serve: one libwebsockets context on one port for HTTP and WebSocket, one service
 * thread; runs are jobs on the engine, their pipes and pidfds adopted into lws' loop. */
#ifndef RUNCELL_SERVER_SERVER_H
#define RUNCELL_SERVER_SERVER_H

#include "cli/catalog.h"

typedef struct server_opts {
        const char *host; /* "127.0.0.1" */
        int port;         /* 0: any free port */
        int max_concurrent;
        int queue_max;
} server_opts_t;

/* Serve until SIGTERM or SIGINT. Prints "runcell: listening on http://HOST:PORT" when ready. */
int server_run(catalog_t *cat, const server_opts_t *opts, rc_err_t *err);

#endif
