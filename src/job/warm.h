/* runcell warm: sandboxes, and a worker, prepared before a one-shot `runcell run` asks.
 *
 * A long-lived process of the user's, listening on a socket in the state directory
 * (<state>/warm.sock, the directory the user's own). A `runcell run` that finds it hands itself
 * over to its worker (warm_worker_t below), which runs the command in a sandbox of the stock. A
 * command that is not handed over (or finds the worker busy) asks for a sandbox instead
 * (preparer_connect), as it would ask the server's helper (preparer.h: the root filesystem, the
 * ids, the seccomp program, the leaf's limits). Either way the sandbox is one already built,
 * from a stock kept per such request, or one made at once when the stock has none; each is lent
 * once and never comes back: the borrower runs the program in it exactly as in one it made
 * itself (its own request, files, limits, output), then kills it and lets go. The lender, the
 * sandbox's parent, reaps it and removes its cgroup leaf (once the borrower is gone too), off
 * the command's time, then prepares the next one for the stock (once the runs it lent are over
 * or have run a while, so that preparing does not compete with their start).
 *
 * Nothing is shared between runs: every sandbox has its own namespaces, leaf, /work and /tmp,
 * and serves one run. Only connections of the same user are served (SO_PEERCRED): what it
 * prepares is what the command would have prepared itself. Its sandboxes die with it
 * (PR_SET_PDEATHSIG), so on SIGTERM, SIGINT or SIGHUP it stops taking requests, takes its stock
 * down and waits for the runs it lent to end (a second signal kills them); it also exits after
 * idle_s seconds without a request. */
#ifndef RUNCELL_JOB_WARM_H
#define RUNCELL_JOB_WARM_H

#include "job/preparer.h"
#include "sandbox/cgroup.h"
#include "util/err.h"

/* A sandbox the helper lent a worker before forking it, for the kind of run asked for last:
 * preparer_hold's arguments. */
typedef struct warm_held {
        const void *key; /* the normalized request it was made for */
        size_t len;
        prep_answer_t answer;
        int fds[PREP_FDS_MAX];
        int nfds;
} warm_held_t;

/* A whole command served by a worker: a process forked from the helper ahead of time, with
 * what the command would load first already loaded (the caller's: its toolchains, cgroup
 * manager, build cache), and with a sandbox of the stock lent to it ahead. The idle worker
 * accepts the next connection itself: one whose first message starts with WARM_RUN_MAGIC it
 * serves alone, then exits (the helper forks the next one); any other it hands to the helper.
 * The protocol of that conversation is the caller's (cli/warm_run.h); the helper only answers
 * WARM_ANSWER_BUSY when no worker is idle, after which the command may ask for a sandbox on the
 * same connection. */
typedef struct warm_worker {
        /* in the helper, before each worker is forked: bring what it inherits up to date
         * (stale: a watched directory changed since the last call); < 0: no worker this time */
        int (*refresh)(void *ctx, bool stale);
        /* in the worker: serve the command on conn; prep is a channel to the helper for its
         * sandbox (preparer_from_fd), held (or NULL) one lent ahead. Writes what it ran into
         * lang, in the caller's words ("" if nothing), which ran gets. */
        void (*run)(void *ctx, int conn, int prep, const warm_held_t *held, char *lang,
                    size_t lang_size);
        /* in the helper, after a worker ran lang: have it ready for the next worker */
        void (*ran)(void *ctx, const char *lang);
        void *ctx;
        /* directories whose change makes the idle worker stale (NULL-terminated; inotify) */
        const char *watch[5];
} warm_worker_t;

typedef struct warm_opts {
        const char *sock_path; /* bound here (a stale socket is replaced); removed at the end */
        unsigned per_key;      /* sandboxes kept ready per kind of request (1..8) */
        unsigned idle_s;       /* exit after this long without a request; 0: never */
        const warm_worker_t *worker; /* NULL: sandboxes only */
} warm_opts_t;

/* The socket's name in a state directory. */
#define WARM_SOCK_NAME "warm.sock"
/* The first four bytes of a command's request to be served by a worker. */
#define WARM_RUN_MAGIC 0x72637731u /* "rcw1" */
/* The helper's answer to such a request when no worker is idle (four bytes). */
#define WARM_ANSWER_BUSY 0x72637742u /* "rcwB" */

/* Serve until a signal or the idle time ends it; 0, or -errno with err (the socket could not be
 * bound). cg: where the leaves go (the caller's manager, freed by the caller after). */
int warm_serve(cg_manager_t *cg, const warm_opts_t *o, rc_err_t *err);

#endif
