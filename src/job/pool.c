#include "job/pool.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "job/preparer.h"
#include "sandbox/sync.h"

#define POOL_MAX  64
#define GRAVE_MAX 64
/* After a take found nothing ready, the pool may hold twice its size for this long. */
#define POOL_BOOST_NS  (1000 * 1000000LL)
#define POOL_KNOWN_MAX 16

typedef struct pool_entry {
        char *rootfs;
        const seccomp_bpf_t *seccomp;
        int64_t disk_mb;
        prepared_t pr;          /* ready */
        prep_ticket_t *pending; /* or still with the helper */
} pool_entry_t;

struct job_pool {
        unsigned per_key;
        pool_entry_t entries[POOL_MAX];
        size_t n;
        prepared_t grave[GRAVE_MAX]; /* programs done, inits still exiting */
        size_t ngrave;
        int64_t last_miss_ns; /* a take found nothing ready for a key the pool serves; 0: never */
        pool_key_t known[POOL_KNOWN_MAX]; /* keys it has held (rootfs copied) */
        unsigned owed[POOL_KNOWN_MAX];    /* of each, sandboxes out on runs that bring them back */
        size_t nknown;
        job_pool_stats_t stats; /* what takes found */
        unsigned gen;           /* how many times it was cleared */
};

job_pool_t *job_pool_new(unsigned per_key)
{
        job_pool_t *p = calloc(1, sizeof(*p));
        if (p)
                p->per_key = per_key;
        return p;
}

/* A lent sandbox goes back to its lender (the warm helper), which waits for its end. */
static bool give_back(prepared_t *pr)
{
        if (!pr->lent)
                return false;
        sandbox_release(pr->sb);
        cg_leaf_forget(pr->leaf);
        pr->sb = NULL;
        pr->leaf = NULL;
        pr->lent = false;
        return true;
}

void prepared_destroy(prepared_t *pr)
{
        if (give_back(pr))
                return;
        sandbox_free(pr->sb); /* kills and reaps a waiting child */
        cg_leaf_destroy(pr->leaf);
        pr->sb = NULL;
        pr->leaf = NULL;
}

/* The sandbox is gone: free it, and keep its leaf for another if it can be. */
static void lay_to_rest(prepared_t *pr)
{
        if (give_back(pr))
                return;
        sandbox_free(pr->sb);
        cg_leaf_recycle(pr->leaf);
        pr->sb = NULL;
        pr->leaf = NULL;
}

/* Free what is gone in the graveyard; with wait, everything (blocking until it is gone). */
static void reap_graves(job_pool_t *p, bool wait)
{
        struct pollfd fds[GRAVE_MAX];
        for (size_t i = 0; i < p->ngrave; i++)
                fds[i] = (struct pollfd){.fd = sandbox_pidfd(p->grave[i].sb), .events = POLLIN};
        if (!wait && p->ngrave && poll(fds, (nfds_t)p->ngrave, 0) <= 0)
                return;
        size_t k = 0;
        for (size_t i = 0; i < p->ngrave; i++) {
                if (wait || (fds[i].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)))
                        lay_to_rest(&p->grave[i]);
                else
                        p->grave[k++] = p->grave[i];
        }
        p->ngrave = k;
}

void job_pool_bury(job_pool_t *p, prepared_t pr)
{
        if (give_back(&pr))
                return;
        /* Only the pidfd is needed to see it go: how many fds a process holds stays flat. */
        sandbox_close_io(pr.sb);
        cg_leaf_close_fds(pr.leaf);
        if (!p) {
                lay_to_rest(&pr);
                return;
        }
        reap_graves(p, false);
        if (p->ngrave == GRAVE_MAX) {
                lay_to_rest(&p->grave[0]); /* the oldest: gone by now, or waited for */
                p->grave[0] = p->grave[--p->ngrave];
        }
        p->grave[p->ngrave++] = pr;
}

void job_pool_free(job_pool_t *p)
{
        if (!p)
                return;
        reap_graves(p, true);
        for (size_t i = 0; i < p->n; i++) {
                prep_ticket_free(p->entries[i].pending);
                prepared_destroy(&p->entries[i].pr);
                free(p->entries[i].rootfs);
        }
        for (size_t i = 0; i < p->nknown; i++)
                free((char *)p->known[i].rootfs);
        free(p);
}

void job_pool_clear(job_pool_t *p)
{
        if (!p)
                return;
        p->gen++; /* what runs took before is not to come back */
        for (size_t i = 0; i < p->n; i++) {
                prep_ticket_free(p->entries[i].pending);
                prepared_destroy(&p->entries[i].pr);
                free(p->entries[i].rootfs);
        }
        p->n = 0;
        for (size_t i = 0; i < p->nknown; i++)
                free((char *)p->known[i].rootfs);
        p->nknown = 0;
}

static bool same_key(const pool_entry_t *e, const pool_key_t *k)
{
        return e->seccomp == k->seccomp && e->disk_mb == k->disk_mb &&
               strcmp(e->rootfs, k->rootfs) == 0;
}

static void remove_entry(job_pool_t *p, size_t i)
{
        free(p->entries[i].rootfs);
        p->entries[i] = p->entries[--p->n];
}

static ssize_t known_at(const job_pool_t *p, const pool_key_t *key)
{
        for (size_t i = 0; i < p->nknown; i++)
                if (p->known[i].seccomp == key->seccomp && p->known[i].disk_mb == key->disk_mb &&
                    strcmp(p->known[i].rootfs, key->rootfs) == 0)
                        return (ssize_t)i;
        return -1;
}

static bool known(const job_pool_t *p, const pool_key_t *key)
{
        return known_at(p, key) >= 0;
}

/* Remember key (its rootfs copied); its index, or -1 when there is no room. */
static ssize_t know(job_pool_t *p, const pool_key_t *key)
{
        ssize_t i = known_at(p, key);
        if (i >= 0 || p->nknown == POOL_KNOWN_MAX)
                return i;
        char *r = strdup(key->rootfs);
        if (!r)
                return -1;
        p->owed[p->nknown] = 0;
        p->known[p->nknown] =
            (pool_key_t){.rootfs = r, .seccomp = key->seccomp, .disk_mb = key->disk_mb};
        return (ssize_t)p->nknown++;
}

bool job_pool_owe(job_pool_t *p, const pool_key_t *key, const prepared_t *pr)
{
        ssize_t i = p && pr->gen == p->gen ? know(p, key) : -1;
        if (i < 0)
                return false;
        p->owed[i]++;
        return true;
}

void job_pool_unowe(job_pool_t *p, const pool_key_t *key, const prepared_t *pr)
{
        ssize_t i = p && pr->gen == p->gen ? known_at(p, key) : -1;
        if (i >= 0 && p->owed[i] > 0)
                p->owed[i]--;
}

/* A prepared sandbox whose init is gone while it waited (killed from outside, or with the helper
 * that made it): a request sent to it would only fail. */
static bool gone(const prepared_t *pr)
{
        if (!pr->sb)
                return false;
        struct pollfd fd = {.fd = sandbox_pidfd(pr->sb), .events = POLLIN};
        return poll(&fd, 1, 0) > 0;
}

static bool take(job_pool_t *p, const pool_key_t *key, prepared_t *out, prep_ticket_t **pending)
{
        /* A ready one first; then a pending one whose answer has come (taken now, it is ready
         * too); then the one asked for first. */
        size_t first_pending = p->n;
        for (size_t i = 0; i < p->n; i++) {
                pool_entry_t *e = &p->entries[i];
                if (!same_key(e, key) || (key->fresh && e->pr.runs))
                        continue;
                if (!e->pending && gone(&e->pr)) {
                        lay_to_rest(&e->pr);
                        remove_entry(p, i--);
                        continue;
                }
                if (!e->pending) {
                        *out = e->pr;
                        remove_entry(p, i);
                        return true;
                }
                if (first_pending == p->n)
                        first_pending = i;
        }
        for (size_t i = first_pending; i < p->n; i++) {
                pool_entry_t *e = &p->entries[i];
                if (!same_key(e, key) || !e->pending)
                        continue;
                rc_err_t err = {0};
                int r = prep_ticket_take(e->pending, false, &e->pr, &err);
                if (r == -EAGAIN)
                        continue;
                /* Answered: ready, or failed (the caller's own request meets the same fate, or
                 * works: dropped here). */
                prep_ticket_free(e->pending);
                e->pending = NULL;
                if (r == 0 && !gone(&e->pr)) {
                        *out = e->pr;
                        remove_entry(p, i);
                        return true;
                }
                if (r == 0)
                        lay_to_rest(&e->pr);
                remove_entry(p, i--);
        }
        for (size_t i = 0; i < p->n; i++) {
                if (!same_key(&p->entries[i], key) || !p->entries[i].pending)
                        continue;
                *pending = p->entries[i].pending;
                memset(out, 0, sizeof(*out));
                remove_entry(p, i);
                return true;
        }
        return false;
}

bool job_pool_take(job_pool_t *p, const pool_key_t *key, prepared_t *out, prep_ticket_t **pending)
{
        *pending = NULL;
        if (!p)
                return false;
        reap_graves(p, false);
        bool got = take(p, key, out, pending);
        out->gen = p->gen;
        if (*pending || (!got && known(p, key)))
                p->last_miss_ns = sb_now_ns(); /* runs start faster than the pool keeps up */
        if (*pending)
                p->stats.pending++;
        else if (got) {
                p->stats.hits++;
                p->stats.reused += out->runs > 0;
        } else
                p->stats.misses++;
        return got;
}

void job_pool_stats(const job_pool_t *p, job_pool_stats_t *out)
{
        *out = p ? p->stats : (job_pool_stats_t){0};
}

size_t job_pool_count(const job_pool_t *p, const pool_key_t *key)
{
        size_t c = 0;
        for (size_t i = 0; p && i < p->n; i++)
                c += same_key(&p->entries[i], key);
        ssize_t k = p ? known_at(p, key) : -1;
        return c + (k >= 0 ? p->owed[k] : 0);
}

unsigned job_pool_per_key(const job_pool_t *p)
{
        return p ? p->per_key : 0;
}

unsigned job_pool_target(const job_pool_t *p)
{
        if (!p)
                return 0;
        bool boost = p->last_miss_ns && sb_now_ns() - p->last_miss_ns < POOL_BOOST_NS;
        return boost ? 2 * p->per_key : p->per_key;
}

static bool add_entry(job_pool_t *p, const pool_key_t *key, prepared_t pr, prep_ticket_t *t)
{
        if (p)
                know(p, key);
        char *rootfs = NULL;
        if (!p || p->n == POOL_MAX || job_pool_count(p, key) >= job_pool_target(p) ||
            !(rootfs = strdup(key->rootfs)))
                return false;
        p->entries[p->n++] = (pool_entry_t){.rootfs = rootfs,
                                            .seccomp = key->seccomp,
                                            .disk_mb = key->disk_mb,
                                            .pr = pr,
                                            .pending = t};
        return true;
}

bool job_pool_put(job_pool_t *p, const pool_key_t *key, prepared_t pr)
{
        if (add_entry(p, key, pr, NULL))
                return true;
        prepared_destroy(&pr);
        return false;
}

bool job_pool_put_kept(job_pool_t *p, const pool_key_t *key, prepared_t pr)
{
        /* taken before the pool was cleared: made with what is gone (a reload) */
        bool stale = p && pr.gen != p->gen;
        job_pool_unowe(p, key, &pr); /* it is back: no longer owed */
        if (!stale && add_entry(p, key, pr, NULL))
                return true;
        job_pool_bury(p, pr); /* its init is waiting for a request: the kill is bury's */
        return false;
}

bool job_pool_put_pending(job_pool_t *p, const pool_key_t *key, prep_ticket_t *t)
{
        if (add_entry(p, key, (prepared_t){0}, t))
                return true;
        prep_ticket_free(t);
        return false;
}

/* ------------------------------------------------------------------ lanes */

struct job_lane {
        job_pool_t *pool;
        prepared_t pr; /* pr.sb NULL: none kept */
        char *rootfs;
        char *work_dir; /* NULL: none */
        const seccomp_bpf_t *seccomp;
        int64_t disk_mb;
};

job_lane_t *job_lane_new(job_pool_t *pool)
{
        job_lane_t *l = calloc(1, sizeof(*l));
        if (l)
                l->pool = pool;
        return l;
}

static void lane_drop(job_lane_t *l)
{
        if (l->pr.sb)
                job_pool_bury(l->pool, l->pr);
        l->pr = (prepared_t){0};
        free(l->rootfs);
        l->rootfs = NULL;
        free(l->work_dir);
        l->work_dir = NULL;
}

void job_lane_free(job_lane_t *l)
{
        if (!l)
                return;
        lane_drop(l);
        free(l);
}

bool job_lane_take(job_lane_t *l, const pool_key_t *key, prepared_t *out)
{
        if (!l || !l->pr.sb)
                return false;
        bool same_work = !l->work_dir == !key->work_dir &&
                         (!l->work_dir || strcmp(l->work_dir, key->work_dir) == 0);
        if (l->seccomp != key->seccomp || l->disk_mb != key->disk_mb ||
            strcmp(l->rootfs, key->rootfs) != 0 || !same_work) {
                lane_drop(l); /* made for another kind of run: a fresh one for this */
                return false;
        }
        *out = l->pr;
        l->pr = (prepared_t){0};
        free(l->rootfs);
        l->rootfs = NULL;
        free(l->work_dir);
        l->work_dir = NULL;
        return true;
}

void job_lane_put(job_lane_t *l, const pool_key_t *key, prepared_t pr)
{
        lane_drop(l);
        if (!(l->rootfs = strdup(key->rootfs)) ||
            (key->work_dir && !(l->work_dir = strdup(key->work_dir)))) {
                free(l->rootfs);
                l->rootfs = NULL;
                job_pool_bury(l->pool, pr);
                return;
        }
        l->pr = pr;
        l->seccomp = key->seccomp;
        l->disk_mb = key->disk_mb;
}

bool job_lane_holds(const job_lane_t *l)
{
        return l && l->pr.sb;
}

job_pool_t *job_lane_pool(const job_lane_t *l)
{
        return l ? l->pool : NULL;
}
