/* Sandboxes prepared by a helper process, off the caller's thread.
 *
 * A long-running runcell (serve, batch) forks the helper once, while it is still small, before
 * it holds client connections. The helper makes each sandbox's cgroup leaf, clones the sandbox
 * (so the clone copies the helper's small address space, not the server's: no copy-on-write
 * faults in the server while the sandbox lives), moves it into its leaf (cgroup v1: waits for an
 * RCU grace period), writes its id maps and releases it; then it hands the sandbox's pidfd, sync
 * socket and stdio to the caller over a socket of the request's own. The caller watches that
 * socket in its event loop and never blocks on a sandbox being made.
 *
 * The helper dies with its runcell (PR_SET_PDEATHSIG), and every sandbox with the helper. */
#ifndef RUNCELL_JOB_PREPARER_H
#define RUNCELL_JOB_PREPARER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "job/limits.h"
#include "job/pool.h"
#include "sandbox/cgroup.h"
#include "seccomp/profile.h"
#include "util/err.h"

typedef struct preparer preparer_t;

/* What a sandbox is prepared with: as job_prepare's, plus its cgroup leaf's limits. */
typedef struct prep_params {
        const char *rootfs;
        uid_t host_uid;
        gid_t host_gid;
        uint32_t id_count; /* > 0: a range, one id per sandbox (sb_prep_t) */
        const seccomp_bpf_t *seccomp;
        rc_limits_t limits; /* memory_mb and processes for the leaf, disk_mb for the tmpfs */
        double cpus;
} prep_params_t;

/* Fork the helper. cg is the caller's cgroup manager (the helper uses its copy). */
int preparer_start(cg_manager_t *cg, preparer_t **out, rc_err_t *err);
/* A connection to the runcell warm listening on path, of this user only (SO_PEERCRED): the
 * socket, or -errno with err (-ENOENT, -ECONNREFUSED: none listens). */
int prep_dial(const char *path, rc_err_t *err);
/* A preparer whose sandboxes are lent by the runcell warm listening on path (job/warm.h), of
 * this user only (SO_PEERCRED). Fails (the caller prepares in-process) when none listens. */
int preparer_connect(const char *path, cg_manager_t *cg, preparer_t **out, rc_err_t *err);
/* The same over a socket already connected to a runcell warm (its worker's channel); the fd is
 * the preparer's (closed by preparer_stop, or here on failure). */
int preparer_from_fd(int fd, cg_manager_t *cg, preparer_t **out, rc_err_t *err);
/* Close the channel and wait for the helper to exit (accepts NULL). Tickets still open are
 * answered with an error. */
void preparer_stop(preparer_t *p);

/* Ask for a sandbox. The ticket's fd becomes readable when the answer is there. Fails at once
 * (the caller prepares in-process instead) when the helper is gone. */
int preparer_request(preparer_t *p, const prep_params_t *pp, prep_ticket_t **out, rc_err_t *err);
int prep_ticket_fd(const prep_ticket_t *t);
/* The answer: 0 and *out (a spawned sandbox: still building its root, see sandbox_spawn),
 * -EAGAIN only when not there yet (unless wait; an answer that is a failure with EAGAIN comes as
 * -EIO, its message in err), or -errno with err. */
int prep_ticket_take(prep_ticket_t *t, bool wait, prepared_t *out, rc_err_t *err);
/* Forget a ticket; a sandbox it still brings is waited for and destroyed. */
void prep_ticket_free(prep_ticket_t *t);

/* The helper's side, exposed for unit tests: the request as it travels. */
typedef struct prep_wire {
        uint32_t magic;
        uint32_t seq;      /* cgroup leaf rc-<owner>-<seq>; 0: no cgroup */
        uint32_t existing; /* 1: a leaf that exists (its directory fds come along), 0: make it */
        int32_t owner;
        uint32_t uid, gid;
        uint32_t id_count, pad;
        uint32_t rootfs_len; /* with its NUL, padded to a multiple of 8 */
        uint32_t ninsns;     /* seccomp instructions after the root path; 0: none */
        int64_t memory_mb, processes, disk_mb;
        double cpus;
} prep_wire_t;

_Static_assert(sizeof(prep_wire_t) % 8 == 0, "the seccomp program after it stays aligned");
#define PREP_WIRE_MAGIC 0x72637033u /* "rcp3" */
#define PREP_MSG_MAX    (128 * 1024)

/* Encode pp and its leaf (rc-<owner>-<seq>, existing or to make) into buf (size bytes);
 * returns the length or -E2BIG. */
ssize_t prep_wire_encode(const prep_params_t *pp, pid_t owner, unsigned seq, bool existing,
                         void *buf, size_t size);
/* Check and decode len bytes of buf in place: pp points into buf. Returns 0 or -EBADMSG. */
int prep_wire_decode(void *buf, size_t len, prep_params_t *pp, seccomp_bpf_t *filter, pid_t *owner,
                     unsigned *seq, bool *existing);

/* fds a message carries at most: a sandbox's and its leaf's directories. */
#define PREP_FDS_MAX (SB_EXPORT_FDS + CG_LEAF_DIRS_MAX)

/* The answer, with SB_EXPORT_FDS fds attached when err is 0, then nleaf fds of a new leaf's
 * directories. */
typedef struct prep_answer {
        int32_t err;
        int32_t pid;
        int32_t nleaf;
        /* 1: lent by a runcell warm (job/warm.h), its leaf rc-<lent_owner>-<lent_seq> (0: none)
         * the lender's, which reaps the sandbox and removes the leaf */
        int32_t lent;
        int32_t lent_owner;
        uint32_t lent_seq;
        char msg[RC_ERR_MSG_MAX];
} prep_answer_t;

/* One message with nfds fds (SCM_RIGHTS); 0 or -errno. */
int prep_send_fds(int sock, const void *data, size_t len, const int *fds, int nfds);
/* Receive one message of at most size bytes; up to max_fds fds land in fds (the rest of fds
 * is -1). Returns its length, 0 at end of stream, or -errno. */
ssize_t prep_recv_fds(int sock, void *data, size_t size, int *fds, int max_fds, int flags);
/* Close the fds that are open (>= 0) and set them to -1. */
void prep_close_fds(int *fds, int n);

/* A runcell warm's worker: the helper lent it a sandbox before forking it, with answer a (the
 * sandbox's fds and its leaf's, nfds of them, taken over), made for the request whose
 * normalized wire (prep_wire_normalize) is key: the first request like it gets that one without
 * asking. */
void preparer_hold(preparer_t *p, const void *key, size_t len, const prep_answer_t *a,
                   const int *fds, int nfds);
/* What sandbox_spawn is given for pp, its leaf (NULL: none); once: lent for one run only. */
sb_prep_t prep_sb(const prep_params_t *pp, cg_leaf_t *leaf, bool once);
/* Clear what names the leaf in an encoded request (owner, seq, existing), so that requests
 * that differ only there compare equal. */
void prep_wire_normalize(void *msg);

#endif
