/* Sandboxes prepared ahead of requests: namespaces, cgroup leaf and root already built, the
 * child waiting for its program. Taking one turns a run's start-up into sending the request.
 * An entry may still be with the helper that prepares it (preparer.h): a pending ticket. */
#ifndef RUNCELL_JOB_POOL_H
#define RUNCELL_JOB_POOL_H

#include <stdbool.h>
#include <stddef.h>

#include "sandbox/cgroup.h"
#include "sandbox/sandbox.h"
#include "seccomp/profile.h"

typedef struct prepared {
        sandbox_t *sb;
        cg_leaf_t *leaf;
        /* how many runs it has served: 0, a new sandbox; more, one a run left behind, reset by
         * its init (which owes READY: sandbox_await_ready) and its leaf to be rebased before the
         * next run (cg_leaf_rebase) */
        unsigned runs;
        unsigned gen; /* taken from the pool: how many times it had been cleared then */
        /* lent by a runcell warm (job/warm.h): the sandbox and its leaf rc-<warm's pid>-<seq>
         * are the lender's to reap and remove; done with, the sandbox is killed and let go
         * (sandbox_release), the leaf forgotten, nothing waited for */
        bool lent;
} prepared_t;

typedef struct job_pool job_pool_t;
typedef struct prep_ticket prep_ticket_t;

/* Keep per_key prepared sandboxes for each key; up to twice as many for a second after a take
 * found none ready (job_pool_target). */
job_pool_t *job_pool_new(unsigned per_key);
void job_pool_free(job_pool_t *p); /* kills and removes what is still waiting */
/* Kill and remove every prepared sandbox (and drop those still being prepared): what they
 * were prepared with is gone (the server reloaded its languages). NULL: nothing. */
void job_pool_clear(job_pool_t *p);
/* The key: what a sandbox was prepared with and cannot change later. */
typedef struct pool_key {
        const char *rootfs;
        const seccomp_bpf_t *seccomp;
        int64_t disk_mb;
        /* the host directory bound read-only at /work (sb_prep_t.work_dir); NULL: a tmpfs.
         * Only lanes hold such sandboxes: the pool's are all made with none. */
        const char *work_dir;
        /* a take: only a new sandbox, none an earlier run left (prepared_t.runs 0) */
        bool fresh;
} pool_key_t;

/* One for key: a ready sandbox in *out (*pending NULL), or else a ticket still being prepared in
 * *pending (the caller owns it). False when there is none. */
bool job_pool_take(job_pool_t *p, const pool_key_t *key, prepared_t *out, prep_ticket_t **pending);
/* Keep pr for later; destroys it (and returns false) when the pool is full for its key. */
bool job_pool_put(job_pool_t *p, const pool_key_t *key, prepared_t pr);
/* Keep a sandbox a run left behind (pr.runs > 0, sandbox_recycle done) for any later run of
 * key; buries it (and returns false) when the pool is full for its key, or was cleared since
 * it was taken. Ends what job_pool_owe owed. A take returns it like any other; the taker waits
 * for its READY and rebases its leaf. */
bool job_pool_put_kept(job_pool_t *p, const pool_key_t *key, prepared_t pr);
/* Keep a ticket for a sandbox being prepared; freed (false) when the pool is full for its key. */
bool job_pool_put_pending(job_pool_t *p, const pool_key_t *key, prep_ticket_t *t);
/* A sandbox of key was taken by a run that will put it back (job_pool_put_kept, which ends the
 * debt) or say it will not (job_pool_unowe): meanwhile it counts as the pool's, so the pool is
 * not topped up for it. False (nothing owed) when the pool cannot keep more keys. */
bool job_pool_owe(job_pool_t *p, const pool_key_t *key, const prepared_t *pr);
void job_pool_unowe(job_pool_t *p, const pool_key_t *key, const prepared_t *pr);
/* Entries for key, ready or pending, and those owed. */
size_t job_pool_count(const job_pool_t *p, const pool_key_t *key);
unsigned job_pool_per_key(const job_pool_t *p);
/* How many to keep for a key now: per_key, or 2 * per_key while runs start faster than single
 * sandboxes are made (a take found none ready in the last second). */
unsigned job_pool_target(const job_pool_t *p);
/* What job_pool_take found, since the pool was made (counters: a clear keeps them): hits, a
 * sandbox ready; pending, one still being made (the stage waits for the rest of its set-up);
 * misses, none at all (the stage's sandbox is made for it). */
typedef struct job_pool_stats {
        unsigned long long hits, pending, misses;
        unsigned long long reused; /* of the hits, sandboxes an earlier run left (runs > 0) */
} job_pool_stats_t;
/* p NULL: all zero. */
void job_pool_stats(const job_pool_t *p, job_pool_stats_t *out);
void prepared_destroy(prepared_t *pr);
/* A sandbox whose program is done while its init still exits (taking the namespaces down):
 * freed, and its leaf recycled, once it is gone, seen at the next take or bury, or at the
 * latest by job_pool_free (which waits). Without a pool: at once, waiting. */
void job_pool_bury(job_pool_t *p, prepared_t pr);

/* A sandbox kept from one run for the next of the same owner (a judge's tests, one lane per
 * test running at once): each run ends with the sandbox reset by its init (sb_run_t.keep), and
 * the next starts in it, with no set-up of its own. */
typedef struct job_lane job_lane_t;
/* pool: where a sandbox the lane gives up is buried (may be NULL: then at once). */
job_lane_t *job_lane_new(job_pool_t *pool);
/* Buries what the lane holds; accepts NULL. */
void job_lane_free(job_lane_t *l);
/* The kept sandbox, if there is one prepared with key (one prepared otherwise is buried). */
bool job_lane_take(job_lane_t *l, const pool_key_t *key, prepared_t *out);
/* Keep pr (recycled: sandbox_recycle done, leaf rebased) for the lane's next run. */
void job_lane_put(job_lane_t *l, const pool_key_t *key, prepared_t pr);
/* Whether the lane keeps a sandbox now. */
bool job_lane_holds(const job_lane_t *l);
/* Where the lane's sandboxes are buried. */
job_pool_t *job_lane_pool(const job_lane_t *l);

#endif
