#include "job/pool.h"

#include <stdlib.h>
#include <string.h>

#define POOL_MAX 64

typedef struct pool_entry {
        char *rootfs;
        const seccomp_bpf_t *seccomp;
        int64_t disk_mb;
        prepared_t pr;
} pool_entry_t;

struct job_pool {
        unsigned per_key;
        pool_entry_t entries[POOL_MAX];
        size_t n;
};

job_pool_t *job_pool_new(unsigned per_key)
{
        job_pool_t *p = calloc(1, sizeof(*p));
        if (p)
                p->per_key = per_key;
        return p;
}

void prepared_destroy(prepared_t *pr)
{
        sandbox_free(pr->sb); /* kills and reaps a waiting child */
        cg_leaf_destroy(pr->leaf);
        pr->sb = NULL;
        pr->leaf = NULL;
}

void job_pool_free(job_pool_t *p)
{
        if (!p)
                return;
        for (size_t i = 0; i < p->n; i++) {
                prepared_destroy(&p->entries[i].pr);
                free(p->entries[i].rootfs);
        }
        free(p);
}

static bool same_key(const pool_entry_t *e, const pool_key_t *k)
{
        return e->seccomp == k->seccomp && e->disk_mb == k->disk_mb &&
               strcmp(e->rootfs, k->rootfs) == 0;
}

bool job_pool_take(job_pool_t *p, const pool_key_t *key, prepared_t *out)
{
        if (!p)
                return false;
        for (size_t i = 0; i < p->n; i++) {
                if (!same_key(&p->entries[i], key))
                        continue;
                *out = p->entries[i].pr;
                free(p->entries[i].rootfs);
                p->entries[i] = p->entries[--p->n];
                return true;
        }
        return false;
}

size_t job_pool_count(const job_pool_t *p, const pool_key_t *key)
{
        size_t c = 0;
        for (size_t i = 0; p && i < p->n; i++)
                c += same_key(&p->entries[i], key);
        return c;
}

unsigned job_pool_per_key(const job_pool_t *p)
{
        return p ? p->per_key : 0;
}

void job_pool_put(job_pool_t *p, const pool_key_t *key, prepared_t pr)
{
        char *rootfs = NULL;
        if (!p || p->n == POOL_MAX || job_pool_count(p, key) >= p->per_key ||
            !(rootfs = strdup(key->rootfs))) {
                prepared_destroy(&pr);
                return;
        }
        p->entries[p->n++] = (pool_entry_t){
            .rootfs = rootfs, .seccomp = key->seccomp, .disk_mb = key->disk_mb, .pr = pr};
}
