/* Small file-system helpers for the parent side (they allocate; never call in a cloned child). */
#ifndef RUNCELL_UTIL_FS_H
#define RUNCELL_UTIL_FS_H

#include <stddef.h>
#include <sys/types.h>

#include "util/err.h"

/* Read a whole file (at most max bytes, else -EFBIG) into a NUL-terminated heap buffer. */
int fs_read_file(const char *path, size_t max, char **out, size_t *len, rc_err_t *err);
/* open(O_WRONLY|O_CLOEXEC) + one write of the whole buffer; for /proc and sysfs knobs. */
int fs_write_file(const char *path, const char *data, size_t len, rc_err_t *err);
/* Write path whole or not at all: the data goes to a hidden temporary file beside it
 * (.NAME.XXXXXX) made with mode, which is then renamed over path. 0, or -errno with no
 * temporary file left. For caches several processes may write at once. */
int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* The address of the unix socket at path for bind or connect. A path longer than sun_path
 * (108 bytes) is reached through its directory, opened: /proc/self/fd/N/NAME. Returns that
 * directory's fd (close it after the bind or connect), -1 when none was needed, or -errno. */
struct sockaddr_un;
int fs_unix_addr(const char *path, struct sockaddr_un *sa);
/* Write all n bytes to fd (again after EINTR and short writes): 0, or -errno (-EIO when write
 * made no progress). Allocates nothing. */
int fs_write_all(int fd, const void *p, size_t n);
/* mkdir -p with the given mode for created components; ENOTDIR when path exists as another kind of
 * file. */
int fs_mkdir_p(const char *path, mode_t mode, rc_err_t *err);
/* Does path exist (any type)? */
int fs_exists(const char *path);
/* Directory containing the running executable (/proc/self/exe), heap string. */
char *fs_exe_dir(void);
/* join two path parts with one '/', heap string. */
char *fs_join(const char *a, const char *b);

#endif
