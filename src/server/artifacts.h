/* Functions' artifacts (functions.c): the files a deploy keeps, content-addressed, in a directory
 * of their own (ART_DIR/<sha256>/, read-only), and their canonical stream: the bytes the sha256
 * is of, which is also how an artifact travels through a shared store to the other nodes.
 *
 * The stream: "runcell artifact 1" and a NUL, then each file in strcmp order of its path: the
 * path (relative, no "." or ".." parts) and a NUL, 'x' (executable) or '-' and its length in
 * decimal and a NUL, then its bytes. An artifact's name is the hex sha256 of its stream, so a
 * stream names itself: one read back from a store is checked against the name it was asked by.
 *
 * Transfers (xferq_*) run on a thread of their own with a store connection of their own: the
 * server's loop only hands them over and takes the finished ones back. */
#ifndef RUNCELL_SERVER_ARTIFACTS_H
#define RUNCELL_SERVER_ARTIFACTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "store/store.h"
#include "util/err.h"

typedef struct art_file {
        const char *path;
        bool exec;
        const char *data; /* or the len bytes at off of fd */
        int fd;
        off_t off;
        size_t len;
} art_file_t;

/* files (sorted here) as an artifact under art_dir: written to a temporary directory, then
 * renamed to its name, so it is there whole or not at all. Its name in sha (hex), its size in
 * *bytes. -EFBIG when the files are over max bytes. */
int artifact_write(const char *art_dir, int64_t max, art_file_t *files, size_t n, char sha[65],
                   int64_t *bytes, rc_err_t *err);
/* The stream of artifact sha (under art_dir), written to out; *len its length. -EIO when the
 * directory's files are not what its name says. */
int artifact_stream(const char *art_dir, const char *sha, int out, int64_t *len, rc_err_t *err);
/* The len bytes of in (from offset 0) unpacked as artifact sha under art_dir: checked (a
 * well-formed stream of at most max bytes of files, whose digest is sha) before it is renamed
 * into place. */
int artifact_unstream(const char *art_dir, int64_t max, int in, int64_t len, const char *sha,
                      rc_err_t *err);
/* Remove a tree this process made (modes set read-only are made writable first). */
int artifact_rm_tree(const char *path);
/* Artifacts under art_dir that no stored version names go (and, with temporaries, the
 * temporary directories a stopped write left). */
void artifacts_prune(store_t *st, const char *art_dir, bool temporaries);

/* ---- transfers between art_dir and a shared store ---- */

typedef enum xfer_kind {
        XFER_PUT, /* a local artifact into the store (as its stream) */
        XFER_GET, /* an artifact from the store into art_dir */
} xfer_kind_t;

typedef struct xfer {
        xfer_kind_t kind;
        char sha[65];
        void *ud; /* the submitter's; NULL once xferq_forget'ed */
        int rc;   /* 0, or -errno with msg */
        char msg[520];
        struct xfer *next;
} xfer_t;

typedef struct xferq xferq_t;

/* A transfer thread for the store at url (its own connection, opened on first use). */
int xferq_new(const char *url, const store_opts_t *so, const char *art_dir, int64_t max,
              xferq_t **out, rc_err_t *err);
/* wake(ud) is called on the thread after each transfer from now on (it must be safe there:
 * lws_cancel_service), with the queue's lock held. */
void xferq_set_wake(xferq_t *q, void (*wake)(void *), void *ud);
int xferq_submit(xferq_t *q, xfer_kind_t kind, const char *sha, void *ud);
/* The finished transfers, oldest first (free() each); NULL when none (then without taking
 * the lock: the loop asks every turn). */
xfer_t *xferq_done(xferq_t *q);
/* Transfers not yet taken back that carry ud: their ud becomes NULL. */
void xferq_forget(xferq_t *q, void *ud);
/* The thread stopped (after the transfer under way) and everything freed. NULL: nothing. */
void xferq_free(xferq_t *q);

#endif
