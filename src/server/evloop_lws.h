/* The job engine's event loop on libwebsockets' own: the watched fds in one epoll set, itself
 * adopted as one raw-file connection; timers as lws_sul. One service thread; nothing polls. */
#ifndef RUNCELL_SERVER_EVLOOP_LWS_H
#define RUNCELL_SERVER_EVLOOP_LWS_H

#include <libwebsockets.h>

#include "job/evloop.h"

#define EV_LWS_PROTOCOL "runcell-fd"

ev_loop_t *ev_lws_new(struct lws_context *ctx, struct lws_vhost *vh);
void ev_lws_free(ev_loop_t *l);
/* The callback of the EV_LWS_PROTOCOL protocol: put it in the context's protocol list. */
int ev_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len);

#endif
