/* Runs per minute per client address, for the server's public mode: a token bucket per
 * address (it holds up to the per-minute number, and refills at that rate spread over the
 * minute), in a table of fixed size so that many addresses cannot grow memory.
 *
 * The table is set-associative: an address hashes (with a per-table random key, so that a
 * client cannot choose addresses that collide) to one set of RL_WAYS entries. A new address
 * takes a free entry of its set, else the one least recently used. An entry whose bucket has
 * refilled is as good as none, so eviction only ever forgets a client that has been quiet the
 * longest in its set; with RL_SETS * RL_WAYS entries, evicting one that still owes something
 * takes that many addresses busy at once. */
#ifndef RUNCELL_UTIL_RATELIMIT_H
#define RUNCELL_UTIL_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#define RL_SETS   512
#define RL_WAYS   8
#define RL_KEYMAX 48 /* an IPv6 address in text, with its terminator */

typedef struct rl_table rl_table_t;

/* A table allowing per_minute takes a minute per key (a burst of up to per_minute at once);
 * NULL when out of memory or per_minute < 1. */
rl_table_t *rl_new(int per_minute);
void rl_free(rl_table_t *t);
/* Take one from key's bucket at now_ms (a monotonic clock): 0 when taken; when its bucket is
 * empty, -1 with *retry_s the whole seconds until one is there (at least 1). */
int rl_take(rl_table_t *t, const char *key, int64_t now_ms, int *retry_s);
/* How many key could take at now_ms (per_minute for a key the table does not hold). */
int rl_available(rl_table_t *t, const char *key, int64_t now_ms);
/* How many keys the table holds (at most RL_SETS * RL_WAYS). */
int rl_count(const rl_table_t *t);

/* A configured route pattern matches a request path: "/x" that path exactly; "/x/" followed by
 * an asterisk any path under /x/ (one or more segments, not /x itself); "/" and an asterisk
 * every path but "/" itself. */
bool rl_route_match(const char *pattern, const char *path);

#endif
