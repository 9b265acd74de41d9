/* Files in and out of a sandbox's /work. Placing runs in the child before pivot_root, after
 * /work is the sandbox's own tmpfs; collecting runs in init after the program and everything
 * it started are dead. Both only ever open paths relative to a directory fd of that tmpfs,
 * never following symlinks, so nothing a program plants can point them at the host.
 *
 * The files a run asks back ("outputs") come the same way as a compile stage's /work: init
 * opens each and passes the open fd over its socket (SCM_RIGHTS), and runcell reads from that
 * fd. Reaching the tmpfs from outside through /proc/PID/root of init was the other way; it was
 * not taken: it resolves paths from the host's side of the mount namespace, where a symlink or
 * a rename in /work is one more thing to defend against (openat2 RESOLVE_IN_ROOT needs 5.6),
 * it has to race init's exit (the tmpfs goes with the namespace), and the path string must be
 * walked by runcell with privileges the sandbox does not have. Init is already in the right
 * namespace, has no more rights there than the program had, opens each file relative to a
 * directory fd with O_NOFOLLOW and checks it with fstat; runcell then only gets fds of regular
 * files on the sandbox's own tmpfs, which stay readable after the sandbox is gone and cost no
 * copy until they are read. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/sandbox-internal.h"
#include "sandbox/sync.h"
#include "util/glob.h"

#define SB_PATH_MAX       200
#define SB_PATH_DEPTH_MAX 8

/* '$' is in the class files of Java's nested classes and of every Scala object (Main$.class),
 * which a compile stage hands to the run stage; not at a name's start ("$HOME"). */
static bool name_char_ok(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '-' || c == '+' || c == '@' || c == '$';
}

bool sb_path_valid(const char *path)
{
        size_t len = strlen(path);
        if (len == 0 || len > SB_PATH_MAX || path[0] == '/' || path[len - 1] == '/')
                return false;
        /* A path that starts with '@' would reach a compiler's argv as an argument file
         * ("@opts.c" holding "-wrapper /bin/sh,-c,..." makes gcc run a command; rustc, javac,
         * mcs and ghc read @files too). Only the start of the path reaches argv that way:
         * "node_modules/@scope/x.js" is fine. */
        if (path[0] == '@')
                return false;
        int depth = 0;
        const char *comp = path;
        for (const char *p = path;; p++) {
                if (*p == '/' || *p == '\0') {
                        size_t cl = (size_t)(p - comp);
                        if (cl == 0 || (cl == 1 && comp[0] == '.') ||
                            (cl == 2 && comp[0] == '.' && comp[1] == '.'))
                                return false;
                        /* A name that starts with '-' would reach a compiler's argv as an
                         * option ("-B.c" makes gcc run a planted ./.ccollect2). */
                        if (comp[0] == '-' || comp[0] == '$')
                                return false;
                        if (++depth > SB_PATH_DEPTH_MAX)
                                return false;
                        if (*p == '\0')
                                return true;
                        comp = p + 1;
                } else if (!name_char_ok(*p)) {
                        return false;
                }
        }
}

void sb_files_free(sb_file_t *files, size_t n)
{
        if (!files)
                return;
        for (size_t i = 0; i < n; i++) {
                free(files[i].path);
                if (files[i].fd >= 0)
                        close(files[i].fd);
        }
        free(files);
}

static int write_all(int fd, const char *p, size_t n)
{
        while (n) {
                ssize_t w = write(fd, p, n);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += w;
                n -= (size_t)w;
        }
        return 0;
}

static int copy_from_fd(int out, int in)
{
        off_t off = 0;
        for (;;) {
                ssize_t n = sendfile(out, in, &off, 1 << 20);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return 0;
        }
}

/* Create the parent directories of path below workfd; returns an fd of the last one. */
static int open_parent(int workfd, const char *path, const char **base)
{
        char comp[SB_PATH_MAX + 1];
        int dfd = fcntl(workfd, F_DUPFD_CLOEXEC, 3);
        if (dfd < 0)
                return -errno;
        const char *start = path;
        for (const char *slash; (slash = strchr(start, '/')); start = slash + 1) {
                size_t cl = (size_t)(slash - start);
                memcpy(comp, start, cl);
                comp[cl] = '\0';
                if (mkdirat(dfd, comp, 0755) < 0 && errno != EEXIST) {
                        int e = errno;
                        close(dfd);
                        return -e;
                }
                int nfd = openat(dfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                int e = errno;
                close(dfd);
                if (nfd < 0)
                        return -e;
                dfd = nfd;
        }
        *base = start;
        return dfd;
}

int sb_place_files(int workfd, const sb_file_t *files, size_t n, char *what, size_t what_size)
{
        for (size_t i = 0; i < n; i++) {
                const sb_file_t *f = &files[i];
                snprintf(what, what_size, "%s", f->path);
                const char *base = NULL;
                int dfd = open_parent(workfd, f->path, &base);
                if (dfd < 0)
                        return dfd;
                int fd =
                    openat(dfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                int e = errno;
                close(dfd);
                if (fd < 0)
                        return -e;
                int r = f->fd >= 0 ? copy_from_fd(fd, f->fd) : write_all(fd, f->data, f->len);
                if (r == 0 && fchmod(fd, f->mode & 0777) < 0)
                        r = -errno;
                close(fd);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Each entry of directory dfd but "." and "..": its name is appended to path (which holds the
 * directory's own path, plen bytes) and fn called with the entry's name and the new length;
 * path is put back after. Names that would make path longer than SB_PATH_MAX are passed over.
 * 0, or the first error of getdents or fn. No allocation: this runs in the sandbox's init. */
typedef int (*entry_fn)(void *ud, int dfd, const char *name, size_t len, int depth);

static int each_entry(int dfd, char *path, size_t plen, int depth, entry_fn fn, void *ud)
{
        _Alignas(struct dirent64) char dbuf[4096];
        for (;;) {
                long nread = syscall(SYS_getdents64, dfd, dbuf, sizeof(dbuf));
                if (nread < 0)
                        return -errno;
                if (nread == 0)
                        return 0;
                for (long off = 0; off < nread;) {
                        struct dirent64 *d = (struct dirent64 *)(void *)(dbuf + off);
                        off += d->d_reclen;
                        if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
                                continue;
                        size_t nl = strlen(d->d_name);
                        if (plen + nl + 1 > SB_PATH_MAX)
                                continue; /* a name too long to hand back */
                        size_t np = plen;
                        if (plen)
                                path[np++] = '/';
                        memcpy(path + np, d->d_name, nl + 1);
                        int r = fn(ud, dfd, d->d_name, np + nl, depth);
                        path[plen] = '\0';
                        if (r < 0)
                                return r;
                }
        }
}

struct collect_state {
        int sync_fd;
        int count;
        char path[SB_PATH_MAX + 2];
};

static int collect_entry(void *ud, int dfd, const char *name, size_t len, int depth)
{
        struct collect_state *st = ud;
        if (!sb_path_valid(st->path))
                return 0;
        int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
                return 0; /* a symlink (ELOOP) or a vanished entry */
        struct stat sb;
        int r = 0;
        if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
                if (++st->count > SB_COLLECT_MAX) {
                        r = -EMFILE;
                } else {
                        sb_msg_t m;
                        sb_msg_fill(&m, SB_MSG_FILE, (int32_t)(sb.st_mode & 0777), "%s", st->path);
                        r = sb_msg_send(st->sync_fd, &m, fd);
                }
        } else if (S_ISDIR(sb.st_mode) && depth < SB_PATH_DEPTH_MAX) {
                r = each_entry(fd, st->path, len, depth + 1, collect_entry, st);
        }
        close(fd);
        return r;
}

int sb_collect_files(int sync_fd, int dirfd)
{
        int fd =
            dirfd >= 0 ? dirfd : open("/work", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        struct collect_state st = {.sync_fd = sync_fd};
        int r = each_entry(fd, st.path, 0, 1, collect_entry, &st);
        if (dirfd < 0)
                close(fd);
        return r;
}

bool sb_output_path_ok(const char *path)
{
        size_t len = strnlen(path, SB_PATH_MAX + 1);
        if (len == 0 || len > SB_PATH_MAX || path[0] == '/')
                return false;
        const char *comp = path;
        for (const char *p = path;; p++) {
                if (*p == '/' || *p == '\0') {
                        size_t cl = (size_t)(p - comp);
                        if (cl == 0 || (cl == 1 && comp[0] == '.') ||
                            (cl == 2 && comp[0] == '.' && comp[1] == '.'))
                                return false;
                        if (*p == '\0')
                                return true;
                        comp = p + 1;
                }
        }
}

/* The files a run asks back. Only what a pattern could match is looked at: a directory is
 * entered when its path matches the first components of a longer pattern, so the walk is as
 * deep as the deepest pattern (GLOB_DEPTH_MAX) and no deeper. The walk only gathers names (the
 * first max of them in byte order, so which ones come back when more match does not depend on
 * the order of the directory); then each is opened again from /work's fd, one component at a
 * time with O_NOFOLLOW (a directory with O_DIRECTORY), looked at with fstatat
 * (AT_SYMLINK_NOFOLLOW), and a regular file opened with O_NOFOLLOW | O_NONBLOCK and checked
 * again with fstat on that fd, which is what is sent: the parent reads the file through it and
 * never by a path. Anything else that matches (a symlink, a FIFO, a socket) is reported
 * without an fd. The program and everything it started are dead by then; this would hold
 * without that too. Static storage: init does not allocate. */
static char out_names[LIMITS_OUTPUTS_COUNT_MAX][SB_PATH_MAX + 1];
static int out_order[LIMITS_OUTPUTS_COUNT_MAX]; /* indices into out_names, sorted */

struct outputs_state {
        const char *const *patterns;
        size_t n;
        int max, kept;
        bool over;
        char path[SB_PATH_MAX + 2];
};

/* Keep path if it is among the first max names seen so far. */
static void outputs_keep(struct outputs_state *st)
{
        int lo = 0, hi = st->kept;
        while (lo < hi) {
                int mid = (lo + hi) / 2;
                if (strcmp(out_names[out_order[mid]], st->path) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        int slot;
        if (st->kept < st->max) {
                slot = st->kept++;
        } else {
                st->over = true;
                if (lo == st->kept)
                        return;                 /* after all the kept ones */
                slot = out_order[st->kept - 1]; /* the last one gives its place */
        }
        memmove(&out_order[lo + 1], &out_order[lo],
                (size_t)(st->kept - 1 - lo) * sizeof(out_order[0]));
        out_order[lo] = slot;
        strcpy(out_names[slot], st->path);
}

static int outputs_entry(void *ud, int dfd, const char *name, size_t len, int depth)
{
        struct outputs_state *st = ud;
        bool match = false, below = false;
        for (size_t i = 0; i < st->n; i++) {
                match = match || glob_match(st->patterns[i], st->path);
                below =
                    below || (depth < GLOB_DEPTH_MAX && glob_match_dir(st->patterns[i], st->path));
        }
        struct stat sb;
        int r = 0;
        if ((!match && !below) || fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
                /* not asked for, or gone */
        } else if (S_ISDIR(sb.st_mode)) {
                int fd =
                    below ? openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
                if (fd >= 0) {
                        r = each_entry(fd, st->path, len, depth + 1, outputs_entry, st);
                        close(fd);
                }
        } else if (match) {
                outputs_keep(st);
        }
        return r;
}

/* Open path's directory from workfd, component by component, never through a symlink. */
static int outputs_send(int sync_fd, int workfd, char *path)
{
        int dfd = fcntl(workfd, F_DUPFD_CLOEXEC, 3);
        if (dfd < 0)
                return -errno;
        char *comp = path, *slash;
        while ((slash = strchr(comp, '/'))) {
                *slash = '\0';
                int nfd = openat(dfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                *slash = '/';
                close(dfd);
                if (nfd < 0)
                        return 0; /* gone, or no longer a directory: not sent */
                dfd = nfd;
                comp = slash + 1;
        }
        struct stat sb;
        int fd = -1, mode = -1;
        if (fstatat(dfd, comp, &sb, AT_SYMLINK_NOFOLLOW) < 0 || S_ISDIR(sb.st_mode)) {
                close(dfd);
                return 0;
        }
        if (S_ISREG(sb.st_mode)) {
                fd = openat(dfd, comp, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
                if (fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode))
                        mode = (int)(sb.st_mode & 0777);
                else if (fd >= 0) {
                        close(fd);
                        fd = -1;
                }
        }
        close(dfd);
        sb_msg_t m;
        sb_msg_fill(&m, SB_MSG_OUTPUT, mode, "%s", path);
        int r = sb_msg_send(sync_fd, &m, fd);
        if (fd >= 0)
                close(fd);
        return r;
}

int sb_collect_outputs(int sync_fd, int dirfd, const char *const *patterns, size_t n, long max)
{
        int fd =
            dirfd >= 0 ? dirfd : open("/work", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        struct outputs_state st = {.patterns = patterns, .n = n};
        st.max = max <= 0 || max > LIMITS_OUTPUTS_COUNT_MAX ? LIMITS_OUTPUTS_COUNT_MAX : (int)max;
        int r = each_entry(fd, st.path, 0, 1, outputs_entry, &st);
        for (int i = 0; r == 0 && i < st.kept; i++)
                r = outputs_send(sync_fd, fd, out_names[out_order[i]]);
        if (dirfd < 0)
                close(fd);
        return r < 0 ? r : st.over ? -EMFILE : 0;
}

static void close_range_or_loop(unsigned lo, unsigned hi)
{
        if (lo > hi)
                return;
        if (syscall(SYS_close_range, lo, hi, 0) == 0)
                return;
        /* Kernels before 5.9: close one by one up to the fd limit. */
        long max = sysconf(_SC_OPEN_MAX);
        if (max < 0 || max > 1 << 20)
                max = 1 << 20;
        for (unsigned fd = lo; fd <= hi && fd < (unsigned)max; fd++)
                close((int)fd);
}

void sb_close_fds_keep(int from, const int *keep, int n)
{
        int sorted[8];
        int m = 0;
        for (int i = 0; i < n && m < 8; i++)
                if (keep[i] >= from)
                        sorted[m++] = keep[i];
        for (int i = 1; i < m; i++) /* insertion sort: a handful of fds */
                for (int j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
                        int t = sorted[j];
                        sorted[j] = sorted[j - 1];
                        sorted[j - 1] = t;
                }
        unsigned lo = (unsigned)from;
        for (int i = 0; i < m; i++) {
                if ((unsigned)sorted[i] < lo)
                        continue; /* a duplicate */
                close_range_or_loop(lo, (unsigned)sorted[i] - 1);
                lo = (unsigned)sorted[i] + 1;
        }
        close_range_or_loop(lo, ~0U);
}

void sb_close_fds_except(int from, int keep1, int keep2)
{
        const int keep[2] = {keep1, keep2};
        sb_close_fds_keep(from, keep, 2);
}
