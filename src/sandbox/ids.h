/* Per-sandbox outside ids (runcell as root).
 *
 * Every sandbox of a root runcell gets a host uid and gid of its own from a configured range
 * (RUNCELL_SANDBOX_IDS, config.c), the same number for both, so that what the kernel counts
 * per user (inotify instances and watches, processes, pipe buffers, user namespaces...) is
 * counted per sandbox. The id is also the owner of the sandbox's user namespace: the kernel
 * charges those counters to the owner in the host's namespace (see spawn.c).
 *
 * An id is taken with an open file description lock (F_OFD_SETLK) on byte <id> of one lock
 * file shared by every runcell on the host (SB_IDS_LOCK_FILE), so two runcells with
 * overlapping ranges never hand out the same id at once. The lock is held by the process that
 * cloned the sandbox (runcell, or its runcell-prep helper) until it has reaped the sandbox's
 * init, which is after every process of the sandbox is gone (the pid namespace's end). Ids are
 * taken round-robin from a per-process cursor, so a freed id is reused as late as possible.
 * When every id of the range is held, taking one fails with EAGAIN: never a live id twice. */
#ifndef RUNCELL_SANDBOX_IDS_H
#define RUNCELL_SANDBOX_IDS_H

#include <stdint.h>
#include <sys/types.h>

#include "util/err.h"

#define SB_IDS_LOCK_DIR  "/run/runcell"
#define SB_IDS_LOCK_FILE SB_IDS_LOCK_DIR "/sandbox-ids.lock"

/* Take a free id of [first, first + count): *id and the lock's fd (*fd, O_CLOEXEC). -EAGAIN
 * (err says so) when all are held. */
int sb_ids_take(uint32_t first, uint32_t count, uint32_t *id, int *fd, rc_err_t *err);
/* Keep fd (an id's lock) until pid, our child, is reaped; sb_ids_reaped(pid) closes it. */
void sb_ids_hold(pid_t pid, int fd);
void sb_ids_reaped(pid_t pid);
/* Make the calling thread (only it: raw system calls) create what it clones as uid/gid:
 * effective ids those, file-system uid 0 (so it may still clone into a root-owned cgroup).
 * sb_ids_restore undoes it (the real and saved ids stayed 0). */
int sb_ids_become(uid_t uid, gid_t gid, rc_err_t *err);
void sb_ids_restore(void);

#endif
