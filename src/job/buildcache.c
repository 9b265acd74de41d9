#include "job/buildcache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"

/* The first line of an entry's "list": the format and the bytes the entry holds. */
#define LIST_MAGIC    "runcell-build 1"
#define LIST_MAX      (1 << 20)
#define OUTPUT_MAX    (64 << 20)
#define EVICT_TO_PCT  90 /* eviction goes down to this share of the bound */
#define ENTRIES_LIMIT 100000

struct buildcache {
        char *dir;
        int64_t max_bytes;
        int64_t bytes; /* what the entries hold, as last counted plus what this process put */
        bool counted;
        unsigned seq;
};

int buildcache_open(const char *dir, int64_t max_bytes, buildcache_t **out, rc_err_t *err)
{
        *out = NULL;
        if (fs_mkdir_p(dir, 0700, err) < 0)
                return rc_err_wrap(err, "the build cache");
        buildcache_t *bc = calloc(1, sizeof(*bc));
        if (!bc || !(bc->dir = strdup(dir))) {
                free(bc);
                return rc_err_set(err, ENOMEM, "out of memory");
        }
        bc->max_bytes = max_bytes;
        *out = bc;
        return 0;
}

void buildcache_close(buildcache_t *bc)
{
        if (!bc)
                return;
        free(bc->dir);
        free(bc);
}

static bool key_ok(const char *key)
{
        size_t n = strlen(key);
        if (n != BUILDCACHE_KEY_LEN - 1)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((key[i] >= '0' && key[i] <= '9') || (key[i] >= 'a' && key[i] <= 'f')))
                        return false;
        return true;
}

static int entry_path(const buildcache_t *bc, const char *key, char *buf, size_t size)
{
        int n = snprintf(buf, size, "%s/%.2s/%s", bc->dir, key, key);
        return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Read all of dirfd/name (at most max bytes) and append it to b. */
static int read_at(int dirfd, const char *name, size_t max, buf_t *b)
{
        int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        char chunk[16384];
        size_t total = 0;
        int r = 0;
        for (;;) {
                ssize_t n = read(fd, chunk, sizeof(chunk));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = -errno;
                        break;
                }
                if (n == 0)
                        break;
                if ((total += (size_t)n) > max) {
                        r = -EFBIG;
                        break;
                }
                if (buf_append(b, chunk, (size_t)n) < 0) {
                        r = -ENOMEM;
                        break;
                }
        }
        close(fd);
        return r;
}

/* Remove what is below dirfd (ours: no mounts, depth bounded by the path length). */
static void remove_below(int dirfd)
{
        DIR *d = fdopendir(dirfd);
        if (!d) {
                close(dirfd);
                return;
        }
        struct dirent *e;
        while ((e = readdir(d))) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                        continue;
                if (unlinkat(dirfd, e->d_name, 0) == 0)
                        continue;
                int c = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (c >= 0) {
                        remove_below(c);
                        unlinkat(dirfd, e->d_name, AT_REMOVEDIR);
                }
        }
        closedir(d);
}

static void remove_tree(const char *path)
{
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0)
                remove_below(fd);
        rmdir(path);
}

/* ------------------------------------------------------------------ reading */

int buildcache_get(buildcache_t *bc, const char *key, sb_result_t *files, buf_t *out, buf_t *errout)
{
        memset(files, 0, sizeof(*files));
        char path[PATH_MAX];
        if (!bc || !key_ok(key) || entry_path(bc, key, path, sizeof(path)) < 0)
                return 0;
        _cleanup_close_ int efd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (efd < 0)
                return 0;
        buf_t list = {0};
        if (read_at(efd, "list", LIST_MAX, &list) < 0 || buf_append(&list, "", 1) < 0) {
                buf_free(&list);
                return 0;
        }
        _cleanup_close_ int filesfd =
            openat(efd, "files", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        /* "runcell-build 1 BYTES\n", then "MODE SIZE PATH\0" per file */
        const char *p = list.data, *end = list.data + list.len - 1;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        bool ok = filesfd >= 0 && nl && strncmp(p, LIST_MAGIC " ", strlen(LIST_MAGIC) + 1) == 0;
        size_t cap = 0;
        for (p = nl ? nl + 1 : end; ok && p < end;) {
                size_t rec = strlen(p);
                unsigned mode;
                long long size;
                int used = 0;
                if (sscanf(p, "%o %lld %n", &mode, &size, &used) != 2 || used <= 0 ||
                    (size_t)used >= rec || !sb_path_valid(p + used) ||
                    files->nfiles == SB_COLLECT_MAX) {
                        ok = false;
                        break;
                }
                if (files->nfiles == cap) {
                        cap = cap ? cap * 2 : 8;
                        sb_file_t *nf = realloc(files->files, cap * sizeof(*nf));
                        if (!nf) {
                                ok = false;
                                break;
                        }
                        files->files = nf;
                }
                int fd = openat(filesfd, p + used, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                struct stat st;
                char *name = strdup(p + used);
                if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
                    st.st_size != (off_t)size || !name) {
                        if (fd >= 0)
                                close(fd);
                        free(name);
                        ok = false;
                        break;
                }
                files->files[files->nfiles++] = (sb_file_t){
                    .path = name, .mode = (mode_t)(mode & 0777), .data = NULL, .len = 0, .fd = fd};
                p += rec + 1;
        }
        buf_free(&list);
        size_t out0 = out->len, err0 = errout->len;
        if (ok && (read_at(efd, "stdout", OUTPUT_MAX, out) < 0 ||
                   read_at(efd, "stderr", OUTPUT_MAX, errout) < 0))
                ok = false;
        if (!ok) {
                sb_result_free(files);
                out->len = out0;
                errout->len = err0;
                return 0;
        }
        futimens(efd, NULL); /* used now: the last to go */
        return 1;
}

/* ------------------------------------------------------------------ writing */

static int write_at(int dirfd, const char *name, const char *data, size_t len)
{
        int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        int r = fs_write_all(fd, data, len);
        close(fd);
        return r;
}

/* The directories of path below dirfd (its last component is the file's). */
static int make_parents(int dirfd, const char *path)
{
        char dir[256]; /* sb_path_valid: 200 bytes at most */
        for (const char *s = strchr(path, '/'); s; s = strchr(s + 1, '/')) {
                size_t n = (size_t)(s - path);
                if (n >= sizeof(dir))
                        return -ENAMETOOLONG;
                memcpy(dir, path, n);
                dir[n] = '\0';
                if (mkdirat(dirfd, dir, 0700) < 0 && errno != EEXIST)
                        return -errno;
        }
        return 0;
}

/* Copy src (from offset 0, with pread: others may read it at once) into dirfd/path. */
static int copy_file(int dirfd, const char *path, mode_t mode, int src, int64_t *bytes)
{
        int r = make_parents(dirfd, path);
        if (r < 0)
                return r;
        int fd = openat(dirfd, path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                        (mode & 0777) | 0600);
        if (fd < 0)
                return -errno;
        char chunk[65536];
        off_t off = 0;
        for (;;) {
                ssize_t n = pread(src, chunk, sizeof(chunk), off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = -errno;
                        break;
                }
                if (n == 0)
                        break;
                if ((r = fs_write_all(fd, chunk, (size_t)n)) < 0)
                        break;
                off += n;
        }
        /* the mode as the compile stage left it (umask aside) */
        if (r == 0 && fchmod(fd, mode & 0777) < 0)
                r = -errno;
        close(fd);
        *bytes += off;
        return r;
}

static void count_and_evict(buildcache_t *bc);

int buildcache_put(buildcache_t *bc, const char *key, const sb_file_t *files, size_t n,
                   const char *out, size_t out_len, const char *errout, size_t err_len)
{
        char path[PATH_MAX], tmp[PATH_MAX], bucket[PATH_MAX];
        if (!bc || !key_ok(key) || entry_path(bc, key, path, sizeof(path)) < 0)
                return -EINVAL;
        if (access(path, F_OK) == 0)
                return 0; /* there already: the same inputs made the same build */
        snprintf(bucket, sizeof(bucket), "%s/%.2s", bc->dir, key);
        if (mkdir(bucket, 0700) < 0 && errno != EEXIST)
                return -errno;
        snprintf(tmp, sizeof(tmp), "%s/.new-%d-%u-%lld", bc->dir, (int)getpid(), bc->seq++,
                 (long long)time(NULL));
        if (mkdir(tmp, 0700) < 0)
                return -errno;
        int r = 0;
        int64_t bytes = (int64_t)(out_len + err_len);
        buf_t list = {0};
        int tfd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int ffd = -1;
        if (tfd < 0 || mkdirat(tfd, "files", 0700) < 0 ||
            (ffd = openat(tfd, "files", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
                r = -errno;
        for (size_t i = 0; r == 0 && i < n; i++) {
                const sb_file_t *f = &files[i];
                int64_t before = bytes;
                if (f->fd < 0 || !sb_path_valid(f->path))
                        r = -EINVAL;
                else if ((r = copy_file(ffd, f->path, f->mode, f->fd, &bytes)) == 0 &&
                         (buf_printf(&list, "%04o %lld ", (unsigned)(f->mode & 0777),
                                     (long long)(bytes - before)) < 0 ||
                          buf_append(&list, f->path, strlen(f->path) + 1) < 0))
                        r = -ENOMEM;
        }
        buf_t head = {0};
        if (r == 0 && (buf_printf(&head, "%s %lld\n", LIST_MAGIC, (long long)bytes) < 0 ||
                       buf_append(&head, list.data ? list.data : "", list.len) < 0))
                r = -ENOMEM;
        if (r == 0)
                r = write_at(tfd, "stdout", out ? out : "", out_len);
        if (r == 0)
                r = write_at(tfd, "stderr", errout ? errout : "", err_len);
        if (r == 0)
                r = write_at(tfd, "list", head.data, head.len); /* last: an entry is whole */
        buf_free(&list);
        buf_free(&head);
        if (ffd >= 0)
                close(ffd);
        if (tfd >= 0)
                close(tfd);
        if (r == 0 && rename(tmp, path) < 0)
                r = errno == EEXIST || errno == ENOTEMPTY ? 1 : -errno; /* another put it */
        if (r != 0) {
                remove_tree(tmp);
                return r > 0 ? 0 : r;
        }
        bc->bytes += bytes;
        if (bc->max_bytes > 0 && (!bc->counted || bc->bytes > bc->max_bytes))
                count_and_evict(bc);
        return 0;
}

/* ------------------------------------------------------------------ eviction */

typedef struct entry_info {
        char name[BUILDCACHE_KEY_LEN + 4]; /* "xx/<key>" */
        int64_t bytes;
        struct timespec used;
} entry_info_t;

static int older_first(const void *a, const void *b)
{
        const entry_info_t *x = a, *y = b;
        if (x->used.tv_sec != y->used.tv_sec)
                return x->used.tv_sec < y->used.tv_sec ? -1 : 1;
        if (x->used.tv_nsec != y->used.tv_nsec)
                return x->used.tv_nsec < y->used.tv_nsec ? -1 : 1;
        return strcmp(x->name, y->name);
}

/* An entry's size from the head of its list. */
static int64_t entry_bytes(int bucketfd, const char *key)
{
        char p[BUILDCACHE_KEY_LEN + 8];
        snprintf(p, sizeof(p), "%s/list", key);
        int fd = openat(bucketfd, p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -1;
        char head[64];
        ssize_t n = read(fd, head, sizeof(head) - 1);
        close(fd);
        if (n <= 0)
                return -1;
        head[n] = '\0';
        long long b;
        return sscanf(head, LIST_MAGIC " %lld", &b) == 1 && b >= 0 ? b : -1;
}

/* Count every entry; over the bound, remove the ones used longest ago. */
static void count_and_evict(buildcache_t *bc)
{
        DIR *top = opendir(bc->dir);
        if (!top)
                return;
        entry_info_t *v = NULL;
        size_t nv = 0, cap = 0;
        int64_t total = 0;
        struct dirent *b;
        time_t now = time(NULL);
        while ((b = readdir(top)) && nv < ENTRIES_LIMIT) {
                if (strncmp(b->d_name, ".new-", 5) == 0 || strncmp(b->d_name, ".gone-", 6) == 0) {
                        /* what a runcell killed while writing or removing an entry left */
                        struct stat st;
                        char stale[PATH_MAX];
                        snprintf(stale, sizeof(stale), "%s/%s", bc->dir, b->d_name);
                        if (lstat(stale, &st) == 0 && st.st_mtime < now - 3600)
                                remove_tree(stale);
                        continue;
                }
                if (strlen(b->d_name) != 2 || b->d_name[0] == '.')
                        continue;
                int bfd =
                    openat(dirfd(top), b->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                DIR *bd = bfd >= 0 ? fdopendir(bfd) : NULL;
                if (!bd) {
                        if (bfd >= 0)
                                close(bfd);
                        continue;
                }
                struct dirent *e;
                while ((e = readdir(bd)) && nv < ENTRIES_LIMIT) {
                        struct stat st;
                        if (!key_ok(e->d_name) ||
                            fstatat(bfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                                continue;
                        int64_t sz = entry_bytes(bfd, e->d_name);
                        if (sz < 0)
                                continue;
                        if (nv == cap) {
                                cap = cap ? cap * 2 : 64;
                                entry_info_t *nvv = realloc(v, cap * sizeof(*v));
                                if (!nvv)
                                        break;
                                v = nvv;
                        }
                        snprintf(v[nv].name, sizeof(v[nv].name), "%.2s/%.64s", b->d_name,
                                 e->d_name);
                        v[nv].bytes = sz;
                        v[nv].used = st.st_mtim;
                        total += sz;
                        nv++;
                }
                closedir(bd);
        }
        closedir(top);
        bc->counted = true;
        bc->bytes = total;
        if (bc->max_bytes > 0 && total > bc->max_bytes) {
                qsort(v, nv, sizeof(*v), older_first);
                int64_t goal = bc->max_bytes / 100 * EVICT_TO_PCT;
                for (size_t i = 0; i < nv && bc->bytes > goal; i++) {
                        char from[PATH_MAX], gone[PATH_MAX];
                        snprintf(from, sizeof(from), "%s/%s", bc->dir, v[i].name);
                        snprintf(gone, sizeof(gone), "%s/.gone-%d-%u", bc->dir, (int)getpid(),
                                 bc->seq++);
                        /* out of sight at once, then removed */
                        if (rename(from, gone) == 0) {
                                remove_tree(gone);
                                bc->bytes -= v[i].bytes;
                        }
                }
        }
        free(v);
}

int64_t buildcache_bytes(buildcache_t *bc)
{
        count_and_evict(bc);
        return bc->bytes;
}
