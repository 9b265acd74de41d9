/* The server's submission store (store/store.h) and its callback deliverer: opened in the
 * state directory at start, recovered (runs a dead server left behind go back to the queue),
 * leases renewed and retention applied on a timer, closed at exit. Dialects reach it through
 * dl_store() and the calls below. */
#include <stdio.h>

#include "server/server-internal.h"

int64_t dl_lease_ms(void)
{
        return 60000;
}

void dl_callbacks_kick(void)
{
}

bool dl_callback_allowed(const char *url, char *msg, size_t size)
{
        (void)url;
        snprintf(msg, size, "callbacks are not configured on this server");
        return false;
}
