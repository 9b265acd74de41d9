/* Language root filesystems: zstd tarballs built by scripts/build-rootfs (NAME.tar.zst with
 * NAME.tar.zst.sha256 and NAME.manifest beside it), unpacked once per content hash into the
 * state directory and shared read-only by every run. A runcell that finds root's unpacked copy
 * of the same tarball (in shared_dir, named by the same sha256, made and changeable only by
 * root) uses it instead of unpacking its own. */
#ifndef RUNCELL_ROOTFS_STORE_H
#define RUNCELL_ROOTFS_STORE_H

#include <stdbool.h>

#include "util/err.h"

typedef struct rootfs_store {
        const char *rootfs_dir; /* where the tarballs are */
        const char *state_dir;  /* where runcell unpacks them: <state>/rootfs/<sha256>/ */
        const char *shared_dir; /* root's state directory, used read-only; NULL: none */
} rootfs_store_t;

/* The unpacked tree for name (heap path in *path), unpacking it first if needed. Concurrent
 * callers (other runcell processes) wait on a lock; a failed unpack leaves nothing behind. */
int rootfs_prepare(const rootfs_store_t *st, const char *name, char **path, rc_err_t *err);
/* root's unpacked copy of the tarball with this sha256 in shared_dir (heap path), when it is
 * complete and every directory from / down to it, and its ready mark, belong to root and are
 * writable by no one else; NULL otherwise. */
char *rootfs_shared_copy(const rootfs_store_t *st, const char *sha);
/* Is NAME.tar.zst there (built)? */
bool rootfs_available(const rootfs_store_t *st, const char *name);
/* The upstream version of package in NAME.manifest ("3.11.2-1+b1" -> "3.11.2"). */
int rootfs_package_version(const rootfs_store_t *st, const char *name, const char *package,
                           char **version, rc_err_t *err);
/* Strip a Debian epoch and revision: "1:2.3.4+dfsg-5" -> "2.3.4". Heap string. */
char *rootfs_upstream_version(const char *debian_version);

#endif
