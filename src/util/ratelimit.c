/* Per-address token buckets in a fixed-size table (util/ratelimit.h). */
#include "util/ratelimit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

typedef struct rl_entry {
        char key[RL_KEYMAX]; /* "": free */
        double tokens;       /* at stamp_ms */
        int64_t stamp_ms;
        uint64_t used; /* the table's clock when last taken from: the least recent goes */
} rl_entry_t;

struct rl_table {
        double cap;     /* per_minute */
        double per_ms;  /* refill */
        uint64_t clock; /* counts takes */
        uint64_t seed;
        int count;
        rl_entry_t e[RL_SETS][RL_WAYS];
};

rl_table_t *rl_new(int per_minute)
{
        if (per_minute < 1)
                return NULL;
        rl_table_t *t = calloc(1, sizeof(*t));
        if (!t)
                return NULL;
        t->cap = per_minute;
        t->per_ms = per_minute / 60000.0;
        if (getrandom(&t->seed, sizeof(t->seed), GRND_NONBLOCK) != (ssize_t)sizeof(t->seed))
                t->seed = (uint64_t)(uintptr_t)t ^ 0x9e3779b97f4a7c15ull;
        return t;
}

void rl_free(rl_table_t *t)
{
        free(t);
}

int rl_count(const rl_table_t *t)
{
        return t->count;
}

static unsigned set_of(const rl_table_t *t, const char *key)
{
        uint64_t h = 1469598103934665603ull ^ t->seed;
        for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
                h ^= *p;
                h *= 1099511628211ull;
        }
        h ^= h >> 29;
        h *= 0xbf58476d1ce4e5b9ull;
        h ^= h >> 32;
        return (unsigned)(h % RL_SETS);
}

static double level(const rl_table_t *t, const rl_entry_t *e, int64_t now_ms)
{
        double v = e->tokens;
        if (now_ms > e->stamp_ms)
                v += (double)(now_ms - e->stamp_ms) * t->per_ms;
        return v > t->cap ? t->cap : v;
}

static rl_entry_t *find(rl_table_t *t, const char *key, bool create)
{
        rl_entry_t *set = t->e[set_of(t, key)], *victim = NULL;
        for (int i = 0; i < RL_WAYS; i++)
                if (set[i].key[0] && strcmp(set[i].key, key) == 0)
                        return &set[i];
        if (!create)
                return NULL;
        for (int i = 0; i < RL_WAYS; i++) {
                if (!set[i].key[0]) {
                        victim = &set[i];
                        t->count++;
                        break;
                }
                if (!victim || set[i].used < victim->used)
                        victim = &set[i];
        }
        memset(victim, 0, sizeof(*victim));
        snprintf(victim->key, sizeof(victim->key), "%s", key);
        victim->tokens = t->cap;
        return victim;
}

int rl_take(rl_table_t *t, const char *key, int64_t now_ms, int *retry_s)
{
        rl_entry_t *e = find(t, key, true);
        double v = level(t, e, now_ms);
        e->tokens = v;
        e->stamp_ms = now_ms;
        e->used = ++t->clock;
        if (v >= 1.0) {
                e->tokens = v - 1.0;
                return 0;
        }
        double ms = (1.0 - v) / t->per_ms;
        int s = (int)((ms + 999.0) / 1000.0);
        *retry_s = s < 1 ? 1 : s;
        return -1;
}

int rl_available(rl_table_t *t, const char *key, int64_t now_ms)
{
        rl_entry_t *e = find(t, key, false);
        return (int)(e ? level(t, e, now_ms) : t->cap);
}

bool rl_route_match(const char *pattern, const char *path)
{
        size_t n = strlen(pattern);
        if (n >= 2 && strcmp(pattern + n - 2, "/*") == 0)
                return strncmp(pattern, path, n - 1) == 0 && path[n - 1] != 0;
        return strcmp(pattern, path) == 0;
}
