#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/cleanup.h"

int fs_read_file(const char *path, size_t max, char **out, size_t *len, rc_err_t *err)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return rc_err_sys(err, errno, "open %s", path);
        size_t cap = max < 4096 ? max : 4096, n = 0;
        _cleanup_free_ char *buf = malloc(cap + 1);
        if (!buf)
                return rc_err_set(err, ENOMEM, "out of memory");
        for (;;) {
                if (n == cap) {
                        if (cap >= max) {
                                /* Full: the file fits only if nothing is left to read. */
                                char extra;
                                ssize_t r = read(fd, &extra, 1);
                                if (r < 0 && errno == EINTR)
                                        continue;
                                if (r < 0)
                                        return rc_err_sys(err, errno, "read %s", path);
                                if (r == 0)
                                        break;
                                return rc_err_set(err, EFBIG, "%s: larger than %zu bytes", path,
                                                  max);
                        }
                        cap = cap * 2 > max ? max : cap * 2;
                        char *nb = realloc(buf, cap + 1);
                        if (!nb)
                                return rc_err_set(err, ENOMEM, "out of memory");
                        buf = nb;
                }
                ssize_t r = read(fd, buf + n, cap - n);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return rc_err_sys(err, errno, "read %s", path);
                }
                if (r == 0)
                        break;
                n += (size_t)r;
        }
        buf[n] = '\0';
        if (len)
                *len = n;
        *out = steal_pointer(&buf);
        return 0;
}

int fs_write_file(const char *path, const char *data, size_t len, rc_err_t *err)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return rc_err_sys(err, errno, "open %s", path);
        ssize_t w = write(fd, data, len);
        if (w < 0)
                return rc_err_sys(err, errno, "write %s", path);
        if ((size_t)w != len)
                return rc_err_set(err, EIO, "write %s: short write", path);
        return 0;
}

int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
        const char *slash = strrchr(path, '/');
        int dl = slash ? (int)(slash - path) + 1 : 0;
        _cleanup_free_ char *tmp = NULL;
        if (asprintf(&tmp, "%.*s.%s.XXXXXX", dl, path, path + dl) < 0)
                return -ENOMEM;
        int fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = fs_write_all(fd, data, len);
        if (r == 0 && fchmod(fd, mode) < 0)
                r = -errno;
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0)
                unlink(tmp);
        return r;
}

int fs_write_all(int fd, const void *p, size_t n)
{
        const char *c = p;
        while (n) {
                ssize_t w = write(fd, c, n);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return w < 0 ? -errno : -EIO;
                c += w;
                n -= (size_t)w;
        }
        return 0;
}

int fs_mkdir_p(const char *path, mode_t mode, rc_err_t *err)
{
        char buf[PATH_MAX];
        if (!*path)
                return rc_err_set(err, EINVAL, "mkdir: empty path");
        if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
                return rc_err_set(err, ENAMETOOLONG, "path too long: %s", path);
        for (char *p = buf + 1;; p++) {
                if (*p == '/' || *p == '\0') {
                        char c = *p;
                        *p = '\0';
                        if (mkdir(buf, mode) < 0 && errno != EEXIST)
                                return rc_err_sys(err, errno, "mkdir %s", buf);
                        *p = c;
                        if (c == '\0')
                                break;
                }
        }
        /* "it exists" is not enough: a file in the way is not the directory asked for */
        struct stat st;
        if (stat(path, &st) < 0)
                return rc_err_sys(err, errno, "stat %s", path);
        if (!S_ISDIR(st.st_mode))
                return rc_err_set(err, ENOTDIR, "%s is not a directory", path);
        return 0;
}

int fs_exists(const char *path)
{
        struct stat st;
        return lstat(path, &st) == 0;
}

char *fs_exe_dir(void)
{
        char buf[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
        if (n < 0)
                return NULL;
        buf[n] = '\0';
        return strdup(dirname(buf));
}

char *fs_join(const char *a, const char *b)
{
        char *out = NULL;
        size_t la = strlen(a);
        const char *sep = (la == 0 || a[la - 1] == '/') ? "" : "/";
        if (asprintf(&out, "%s%s%s", a, sep, b) < 0)
                return NULL;
        return out;
}

int fs_unix_addr(const char *path, struct sockaddr_un *sa)
{
        memset(sa, 0, sizeof(*sa));
        sa->sun_family = AF_UNIX;
        size_t l = strlen(path);
        if (l < sizeof(sa->sun_path)) {
                memcpy(sa->sun_path, path, l + 1);
                return -1;
        }
        const char *slash = strrchr(path, '/');
        if (!slash || slash == path || strlen(slash + 1) + 32 >= sizeof(sa->sun_path))
                return -ENAMETOOLONG;
        _cleanup_free_ char *dir = strndup(path, (size_t)(slash - path));
        if (!dir)
                return -ENOMEM;
        int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d/%s", dfd, slash + 1);
        return dfd;
}
