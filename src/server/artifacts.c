/* Functions' artifacts: written, streamed, unpacked, pruned, and moved to and from a shared
 * store on a thread of their own (artifacts.h). */
#include "server/artifacts.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocol/dialect.h"
#include "util/fs.h"
#include "util/sha256.h"

#define MAGIC     "runcell artifact 1"
#define PATH_MAX_ 4096
#define DEPTH_MAX 16
#define FILES_MAX 100000
#define IO_CHUNK  (1 << 16)

/* ------------------------------------------------------------------ trees */

static int rm_tree_at(int dfd, int depth)
{
        if (depth > DEPTH_MAX)
                return -ELOOP;
        DIR *d = fdopendir(dfd);
        if (!d) {
                close(dfd);
                return -errno;
        }
        struct dirent *e;
        int r = 0;
        while ((e = readdir(d))) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                        continue;
                if (unlinkat(dirfd(d), e->d_name, 0) == 0)
                        continue;
                if (errno != EISDIR && errno != EPERM) {
                        r = -errno;
                        continue;
                }
                if (fchmodat(dirfd(d), e->d_name, 0755, 0) < 0 && errno != EPERM)
                        r = -errno;
                int sub =
                    openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub < 0 || rm_tree_at(sub, depth + 1) < 0 ||
                    unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR) < 0)
                        r = -EIO;
        }
        closedir(d);
        return r;
}

int artifact_rm_tree(const char *path)
{
        if (chmod(path, 0755) < 0 && errno != ENOENT)
                return -errno;
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        int r = rm_tree_at(fd, 0);
        return rmdir(path) < 0 && r == 0 ? -errno : r;
}

/* Make the directories of rel (a checked relative path) under dfd. */
static int mkparents(int dfd, const char *rel)
{
        char p[PATH_MAX_];
        snprintf(p, sizeof(p), "%s", rel);
        for (char *s = strchr(p, '/'); s; s = strchr(s + 1, '/')) {
                *s = '\0';
                if (mkdirat(dfd, p, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        return 0;
}

/* ------------------------------------------------------------------ the stream's parts */

/* What the digest (and the stream) has of a file before its bytes: the header's length. */
static size_t file_head(const art_file_t *f, char *out, size_t size)
{
        size_t pl = strlen(f->path) + 1;
        int hl = snprintf(out + pl, size - pl, "%c%zu", f->exec ? 'x' : '-', f->len);
        memcpy(out, f->path, pl);
        return pl + (size_t)hl + 1;
}

/* The len bytes at off of fd, in pieces, to each (and the digest). */
static int copy_range(int fd, off_t off, size_t len, sha256_t *h, int out, char *buf)
{
        size_t done = 0;
        while (done < len) {
                size_t want = len - done < IO_CHUNK ? len - done : IO_CHUNK;
                ssize_t n = pread(fd, buf, want, off + (off_t)done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? -errno : -EIO;
                sha256_update(h, buf, (size_t)n);
                int r = out >= 0 ? fs_write_all(out, buf, (size_t)n) : 0;
                if (r < 0)
                        return r;
                done += (size_t)n;
        }
        return 0;
}

/* One file into the artifact's directory and the digest. */
static int art_put(int dfd, const art_file_t *f, sha256_t *h, char *buf, rc_err_t *err)
{
        int r = mkparents(dfd, f->path);
        if (r < 0)
                return rc_err_set(err, -r, "artifact: directory of %s: %s", f->path, strerror(-r));
        int fd = openat(dfd, f->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
                return rc_err_set(err, errno, "artifact: create %s: %s", f->path, strerror(errno));
        char head[PATH_MAX_ + 32];
        sha256_update(h, head, file_head(f, head, sizeof(head)));
        if (f->data) {
                sha256_update(h, f->data, f->len);
                r = fs_write_all(fd, f->data, f->len);
        } else {
                r = copy_range(f->fd, f->off, f->len, h, fd, buf);
        }
        if (r == 0 && fchmod(fd, f->exec ? 0555 : 0444) < 0)
                r = -errno;
        close(fd);
        return r < 0 ? rc_err_set(err, -r, "artifact: write %s: %s", f->path, strerror(-r)) : 0;
}

static int art_cmp(const void *a, const void *b)
{
        return strcmp(((const art_file_t *)a)->path, ((const art_file_t *)b)->path);
}

int artifact_write(const char *art_dir, int64_t max, art_file_t *files, size_t n, char sha[65],
                   int64_t *bytes, rc_err_t *err)
{
        if (n)
                qsort(files, n, sizeof(*files), art_cmp);
        int64_t total = 0;
        for (size_t i = 0; i < n; i++)
                total += (int64_t)files[i].len;
        *bytes = total;
        if (total > max)
                return rc_err_set(err, EFBIG, "the artifact is %lld bytes, over %lld",
                                  (long long)total, (long long)max);
        char tmp[PATH_MAX_], dst[PATH_MAX_];
        char rnd[17];
        dl_random_hex(rnd, 8);
        snprintf(tmp, sizeof(tmp), "%s/.tmp-%s", art_dir, rnd);
        if (mkdir(tmp, 0755) < 0)
                return rc_err_sys(err, errno, "mkdir %s", tmp);
        int dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        char *buf = malloc(IO_CHUNK);
        if (dfd < 0 || !buf) {
                int e = dfd < 0 ? errno : ENOMEM;
                if (dfd >= 0)
                        close(dfd);
                free(buf);
                rmdir(tmp);
                return rc_err_sys(err, e, "open %s", tmp);
        }
        sha256_t h;
        sha256_init(&h);
        sha256_update(&h, MAGIC, sizeof(MAGIC));
        int r = 0;
        for (size_t i = 0; i < n && r == 0; i++)
                r = art_put(dfd, &files[i], &h, buf, err);
        close(dfd);
        free(buf);
        if (r < 0) {
                artifact_rm_tree(tmp);
                return r;
        }
        sha256_final_hex(&h, sha);
        snprintf(dst, sizeof(dst), "%s/%s", art_dir, sha);
        if (rename(tmp, dst) < 0) {
                int e = errno;
                artifact_rm_tree(tmp);
                if (e != EEXIST && e != ENOTEMPTY)
                        return rc_err_sys(err, e, "rename %s", dst);
                /* the same content is there already */
        }
        return 0;
}

/* ------------------------------------------------------------------ streams */

typedef struct walk {
        art_file_t *v;
        size_t n, cap;
        int dirfd; /* the artifact's */
} walk_t;

static int walk_dir(walk_t *w, int dfd, const char *prefix, int depth, rc_err_t *err)
{
        if (depth > DEPTH_MAX)
                return rc_err_set(err, ELOOP, "artifact: directories nested too deep");
        DIR *d = fdopendir(dfd);
        if (!d) {
                close(dfd);
                return rc_err_sys(err, errno, "artifact: read %s", prefix[0] ? prefix : ".");
        }
        struct dirent *e;
        int r = 0;
        while (r == 0 && (e = readdir(d))) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                        continue;
                char rel[PATH_MAX_];
                struct stat st;
                if ((size_t)snprintf(rel, sizeof(rel), "%s%s%s", prefix, prefix[0] ? "/" : "",
                                     e->d_name) >= sizeof(rel)) {
                        r = rc_err_set(err, ENAMETOOLONG, "artifact: a path over %d bytes",
                                       PATH_MAX_);
                } else if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        r = rc_err_sys(err, errno, "artifact: stat %s", rel);
                } else if (S_ISDIR(st.st_mode)) {
                        int sub = openat(dirfd(d), e->d_name,
                                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        r = sub < 0 ? rc_err_sys(err, errno, "artifact: open %s", rel)
                                    : walk_dir(w, sub, rel, depth + 1, err);
                } else if (S_ISREG(st.st_mode)) {
                        if (w->n == w->cap) {
                                size_t cap = w->cap ? 2 * w->cap : 16;
                                art_file_t *v =
                                    cap <= FILES_MAX ? realloc(w->v, cap * sizeof(*v)) : NULL;
                                if (!v) {
                                        r = rc_err_set(err, ENOMEM, "artifact: too many files");
                                        break;
                                }
                                w->v = v;
                                w->cap = cap;
                        }
                        char *p = strdup(rel);
                        int fd = p ? openat(w->dirfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) : -1;
                        if (fd < 0) {
                                r = rc_err_sys(err, p ? errno : ENOMEM, "artifact: open %s", rel);
                                free(p);
                                break;
                        }
                        w->v[w->n++] = (art_file_t){.path = p,
                                                    .exec = (st.st_mode & 0111) != 0,
                                                    .fd = fd,
                                                    .len = (size_t)st.st_size};
                }
                /* nothing else is ever written into an artifact */
        }
        closedir(d);
        return r;
}

static void walk_free(walk_t *w)
{
        for (size_t i = 0; i < w->n; i++) {
                free((char *)w->v[i].path);
                close(w->v[i].fd);
        }
        free(w->v);
}

int artifact_stream(const char *art_dir, const char *sha, int out, int64_t *len, rc_err_t *err)
{
        char dir[PATH_MAX_];
        snprintf(dir, sizeof(dir), "%s/%s", art_dir, sha);
        walk_t w = {.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
        if (w.dirfd < 0)
                return rc_err_sys(err, errno, "artifact %.12s", sha);
        int top = dup(w.dirfd);
        int r = top < 0 ? rc_err_sys(err, errno, "dup") : walk_dir(&w, top, "", 0, err);
        char *buf = r == 0 ? malloc(IO_CHUNK) : NULL;
        if (r == 0 && !buf)
                r = rc_err_set(err, ENOMEM, "out of memory");
        sha256_t h;
        sha256_init(&h);
        sha256_update(&h, MAGIC, sizeof(MAGIC));
        int64_t total = (int64_t)sizeof(MAGIC);
        if (r == 0 && fs_write_all(out, MAGIC, sizeof(MAGIC)) < 0)
                r = rc_err_sys(err, errno, "artifact %.12s: writing its stream", sha);
        if (r == 0 && w.n)
                qsort(w.v, w.n, sizeof(*w.v), art_cmp);
        for (size_t i = 0; r == 0 && i < w.n; i++) {
                char head[PATH_MAX_ + 32];
                size_t hl = file_head(&w.v[i], head, sizeof(head));
                sha256_update(&h, head, hl);
                int e = fs_write_all(out, head, hl);
                if (e == 0)
                        e = copy_range(w.v[i].fd, 0, w.v[i].len, &h, out, buf);
                if (e < 0)
                        r = rc_err_set(err, -e, "artifact %.12s: streaming %s: %s", sha,
                                       w.v[i].path, strerror(-e));
                total += (int64_t)hl + (int64_t)w.v[i].len;
        }
        free(buf);
        walk_free(&w);
        close(w.dirfd);
        if (r < 0)
                return r;
        char got[65];
        sha256_final_hex(&h, got);
        if (strcmp(got, sha) != 0)
                return rc_err_set(err, EIO, "artifact %.12s: its files are not what its name says",
                                  sha);
        *len = total;
        return 0;
}

/* A path from a stream: relative, no empty, "." or ".." parts, at most DEPTH_MAX parts (deeper
 * directories could be written but neither read back by walk_dir nor removed by rm_tree_at). */
static bool rel_path_ok(const char *p)
{
        if (!*p || *p == '/')
                return false;
        int parts = 0;
        for (const char *s = p; *s;) {
                if (++parts > DEPTH_MAX)
                        return false;
                const char *e = strchr(s, '/');
                size_t n = e ? (size_t)(e - s) : strlen(s);
                if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
                        return false;
                s += n + (e ? 1 : 0);
                if (e && !*s)
                        return false;
        }
        return true;
}

/* Up to the next NUL of in at *off (at most size bytes with it) into out. */
static int read_field(int in, int64_t len, int64_t *off, char *out, size_t size)
{
        size_t want = (int64_t)size < len - *off ? size : (size_t)(len - *off);
        ssize_t n;
        do
                n = pread(in, out, want, (off_t)*off);
        while (n < 0 && errno == EINTR);
        if (n <= 0)
                return -EIO;
        char *z = memchr(out, '\0', (size_t)n);
        if (!z)
                return -EINVAL;
        *off += (z - out) + 1;
        return 0;
}

int artifact_unstream(const char *art_dir, int64_t max, int in, int64_t len, const char *sha,
                      rc_err_t *err)
{
        char magic[sizeof(MAGIC)];
        int64_t off = 0;
        if (read_field(in, len, &off, magic, sizeof(magic)) < 0 || strcmp(magic, MAGIC) != 0)
                return rc_err_set(err, EINVAL, "artifact %.12s: not an artifact's stream", sha);
        art_file_t *v = NULL;
        size_t n = 0, cap = 0;
        int64_t total = 0;
        int r = 0;
        while (r == 0 && off < len) {
                char path[PATH_MAX_], head[32];
                if (read_field(in, len, &off, path, sizeof(path)) < 0 || !rel_path_ok(path) ||
                    read_field(in, len, &off, head, sizeof(head)) < 0 ||
                    (head[0] != 'x' && head[0] != '-') || head[1] < '0' || head[1] > '9') {
                        r = rc_err_set(err, EINVAL, "artifact %.12s: a malformed stream at %lld",
                                       sha, (long long)off);
                        break;
                }
                char *end = NULL;
                errno = 0;
                unsigned long long fl = strtoull(head + 1, &end, 10);
                if (*end || errno || fl > (unsigned long long)(len - off) ||
                    fl > (unsigned long long)(max - total)) {
                        r = rc_err_set(err, EINVAL, "artifact %.12s: a file's length is wrong",
                                       sha);
                        break;
                }
                if (n == cap) {
                        cap = cap ? 2 * cap : 16;
                        art_file_t *nv = cap <= FILES_MAX ? realloc(v, cap * sizeof(*v)) : NULL;
                        if (!nv) {
                                r = rc_err_set(err, ENOMEM, "artifact %.12s: too many files", sha);
                                break;
                        }
                        v = nv;
                }
                char *p = strdup(path);
                if (!p) {
                        r = rc_err_set(err, ENOMEM, "out of memory");
                        break;
                }
                v[n++] = (art_file_t){
                    .path = p, .exec = head[0] == 'x', .fd = in, .off = (off_t)off, .len = fl};
                off += (int64_t)fl;
                total += (int64_t)fl;
        }
        for (size_t i = 1; r == 0 && i < n; i++)
                if (strcmp(v[i - 1].path, v[i].path) >= 0)
                        r = rc_err_set(err, EINVAL, "artifact %.12s: its files out of order", sha);
        char got[65];
        int64_t bytes = 0;
        if (r == 0)
                r = artifact_write(art_dir, max, v, n, got, &bytes, err);
        if (r == 0 && strcmp(got, sha) != 0) {
                char p[PATH_MAX_];
                snprintf(p, sizeof(p), "%s/%s", art_dir, got);
                artifact_rm_tree(p);
                r = rc_err_set(err, EIO, "artifact %.12s: what the store gave is %.12s", sha, got);
        }
        for (size_t i = 0; i < n; i++)
                free((char *)v[i].path);
        free(v);
        return r;
}

void artifacts_prune(store_t *st, const char *art_dir, bool temporaries)
{
        DIR *d = opendir(art_dir);
        if (!d)
                return;
        struct dirent *e;
        while ((e = readdir(d))) {
                if (e->d_name[0] == '.' && (!temporaries || strncmp(e->d_name, ".tmp-", 5) != 0))
                        continue;
                rc_err_t err = {0};
                if (e->d_name[0] != '.' && store_fn_artifact_refs(st, e->d_name, &err) != 0)
                        continue; /* used, or not known: kept */
                char p[PATH_MAX_ + 300];
                snprintf(p, sizeof(p), "%s/%s", art_dir, e->d_name);
                artifact_rm_tree(p);
        }
        closedir(d);
}

/* ------------------------------------------------------------------ transfers */

struct xferq {
        pthread_t thread;
        pthread_mutex_t mu;
        pthread_cond_t cv;
        xfer_t *todo, *done; /* both oldest first */
        int have_done;       /* done is not empty (read without the lock: __atomic) */
        xfer_t *cur;         /* the one under way */
        bool stop;
        char *url;
        store_opts_t so;
        char *art_dir;
        int64_t max;
        void (*wake)(void *);
        void *wake_ud;
        store_t *st; /* the thread's */
};

static void append(xfer_t **list, xfer_t *x)
{
        while (*list)
                list = &(*list)->next;
        x->next = NULL;
        *list = x;
}

/* A file for a stream: unnamed, beside the artifacts (or in memory). */
static int scratch(const char *dir)
{
        int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        return fd >= 0 ? fd : memfd_create("runcell-artifact", MFD_CLOEXEC);
}

static void xfer_run(xferq_t *q, xfer_t *x)
{
        rc_err_t err = {0};
        int r = 0;
        if (!q->st)
                r = store_open_pg(q->url, &q->so, &q->st, &err);
        int fd = r == 0 ? scratch(q->art_dir) : -1;
        if (r == 0 && fd < 0)
                r = rc_err_sys(&err, errno, "a scratch file");
        int64_t len = 0;
        if (r == 0 && x->kind == XFER_PUT) {
                r = artifact_stream(q->art_dir, x->sha, fd, &len, &err);
                if (r == 0)
                        r = store_blob_put(q->st, x->sha, fd, len, &err);
        } else if (r == 0) {
                char dir[PATH_MAX_];
                snprintf(dir, sizeof(dir), "%s/%s", q->art_dir, x->sha);
                if (access(dir, F_OK) == 0) {
                        r = 0; /* here already */
                } else {
                        r = store_blob_get(q->st, x->sha, fd, &len, &err);
                        if (r == 0)
                                r = rc_err_set(&err, ENOENT,
                                               "the store has no artifact %.12s (pruned?)", x->sha);
                        else if (r > 0)
                                r = artifact_unstream(q->art_dir, q->max, fd, len, x->sha, &err);
                }
        }
        if (fd >= 0)
                close(fd);
        x->rc = r < 0 ? r : 0;
        if (r < 0)
                snprintf(x->msg, sizeof(x->msg), "%s", err.msg);
}

static void *xfer_thread(void *arg)
{
        xferq_t *q = arg;
        pthread_mutex_lock(&q->mu);
        for (;;) {
                while (!q->stop && !q->todo)
                        pthread_cond_wait(&q->cv, &q->mu);
                if (q->stop)
                        break;
                xfer_t *x = q->todo;
                q->todo = x->next;
                q->cur = x;
                pthread_mutex_unlock(&q->mu);
                xfer_run(q, x);
                pthread_mutex_lock(&q->mu);
                q->cur = NULL;
                append(&q->done, x);
                __atomic_store_n(&q->have_done, 1, __ATOMIC_RELEASE);
                if (q->wake)
                        q->wake(q->wake_ud);
        }
        pthread_mutex_unlock(&q->mu);
        return NULL;
}

int xferq_new(const char *url, const store_opts_t *so, const char *art_dir, int64_t max,
              xferq_t **out, rc_err_t *err)
{
        xferq_t *q = calloc(1, sizeof(*q));
        if (!q || !(q->url = strdup(url)) || !(q->art_dir = strdup(art_dir))) {
                if (q) {
                        free(q->url);
                        free(q);
                }
                return rc_err_set(err, ENOMEM, "out of memory");
        }
        q->so = *so;
        q->max = max;
        pthread_mutex_init(&q->mu, NULL);
        pthread_cond_init(&q->cv, NULL);
        int r = pthread_create(&q->thread, NULL, xfer_thread, q);
        if (r != 0) {
                pthread_cond_destroy(&q->cv);
                pthread_mutex_destroy(&q->mu);
                free(q->art_dir);
                free(q->url);
                free(q);
                return rc_err_set(err, r, "the artifact transfer thread: %s", strerror(r));
        }
        *out = q;
        return 0;
}

void xferq_set_wake(xferq_t *q, void (*wake)(void *), void *ud)
{
        pthread_mutex_lock(&q->mu);
        q->wake = wake;
        q->wake_ud = ud;
        pthread_mutex_unlock(&q->mu);
}

int xferq_submit(xferq_t *q, xfer_kind_t kind, const char *sha, void *ud)
{
        xfer_t *x = calloc(1, sizeof(*x));
        if (!x)
                return -ENOMEM;
        x->kind = kind;
        snprintf(x->sha, sizeof(x->sha), "%s", sha);
        x->ud = ud;
        pthread_mutex_lock(&q->mu);
        append(&q->todo, x);
        pthread_cond_signal(&q->cv);
        pthread_mutex_unlock(&q->mu);
        return 0;
}

xfer_t *xferq_done(xferq_t *q)
{
        if (!__atomic_load_n(&q->have_done, __ATOMIC_ACQUIRE))
                return NULL; /* the loop asks every turn: no lock for nothing */
        pthread_mutex_lock(&q->mu);
        xfer_t *d = q->done;
        q->done = NULL;
        __atomic_store_n(&q->have_done, 0, __ATOMIC_RELAXED);
        pthread_mutex_unlock(&q->mu);
        return d;
}

void xferq_forget(xferq_t *q, void *ud)
{
        pthread_mutex_lock(&q->mu);
        if (q->cur && q->cur->ud == ud)
                q->cur->ud = NULL; /* the thread reads no ud */
        for (xfer_t *x = q->todo; x; x = x->next)
                if (x->ud == ud)
                        x->ud = NULL;
        for (xfer_t *x = q->done; x; x = x->next)
                if (x->ud == ud)
                        x->ud = NULL;
        pthread_mutex_unlock(&q->mu);
}

void xferq_free(xferq_t *q)
{
        if (!q)
                return;
        pthread_mutex_lock(&q->mu);
        q->stop = true;
        pthread_cond_signal(&q->cv);
        pthread_mutex_unlock(&q->mu);
        pthread_join(q->thread, NULL);
        for (xfer_t *l = q->todo; l;) {
                xfer_t *n = l->next;
                free(l);
                l = n;
        }
        for (xfer_t *l = q->done; l;) {
                xfer_t *n = l->next;
                free(l);
                l = n;
        }
        if (q->st)
                store_close(q->st);
        pthread_cond_destroy(&q->cv);
        pthread_mutex_destroy(&q->mu);
        free(q->art_dir);
        free(q->url);
        free(q);
}
