#include "sandbox/cgroup.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/cgroup-internal.h"
#include "util/cleanup.h"

static const cg_backend_t cg_backend_none = {.name = "none"};

char *cg_proc_path(const char *text, const char *ctl)
{
        /* Lines are "id:controllers:path"; v2 is "0::path". */
        for (const char *line = text; line && *line;) {
                const char *nl = strchr(line, '\n');
                size_t ll = nl ? (size_t)(nl - line) : strlen(line);
                const char *c1 = memchr(line, ':', ll);
                const char *c2 = c1 ? memchr(c1 + 1, ':', ll - (size_t)(c1 + 1 - line)) : NULL;
                if (c2) {
                        size_t cl = (size_t)(c2 - c1 - 1);
                        bool match = false;
                        if (!ctl) {
                                match = cl == 0 && c1 - line == 1 && line[0] == '0';
                        } else {
                                /* a comma-separated list ("cpu,cpuacct") */
                                const char *p = c1 + 1;
                                size_t want = strlen(ctl);
                                while (p < c2) {
                                        const char *comma = memchr(p, ',', (size_t)(c2 - p));
                                        const char *end = comma ? comma : c2;
                                        if ((size_t)(end - p) == want && strncmp(p, ctl, want) == 0)
                                                match = true;
                                        p = end + 1;
                                }
                        }
                        if (match)
                                return strndup(c2 + 1, ll - (size_t)(c2 + 1 - line));
                }
                line = nl ? nl + 1 : NULL;
        }
        return NULL;
}

int64_t cg_parse_value(const char *text)
{
        while (isspace((unsigned char)*text))
                text++;
        if (strncmp(text, "max", 3) == 0)
                return INT64_MAX;
        char *end;
        long long v = strtoll(text, &end, 10);
        return end == text ? -1 : v;
}

int64_t cg_keyed_value(const char *text, const char *key)
{
        size_t kl = strlen(key);
        for (const char *line = text; line && *line;) {
                if (strncmp(line, key, kl) == 0 && line[kl] == ' ')
                        return cg_parse_value(line + kl + 1);
                line = strchr(line, '\n');
                if (line)
                        line++;
        }
        return -1;
}

static int read_fd(int fd, char *buf, size_t size)
{
        ssize_t n = read(fd, buf, size - 1);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        return 0;
}

static int write_fd(int fd, const char *path, const char *value, rc_err_t *err)
{
        size_t len = strlen(value);
        ssize_t w = write(fd, value, len);
        if (w < 0)
                return rc_err_sys(err, errno, "write '%s' to %s", value, path);
        return (size_t)w == len ? 0 : rc_err_set(err, EIO, "short write to %s", path);
}

int cg_write(const char *dir, const char *file, const char *value, rc_err_t *err)
{
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, file);
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return rc_err_sys(err, errno, "open %s", path);
        return write_fd(fd, path, value, err);
}

int cg_read(const char *dir, const char *file, char *buf, size_t size)
{
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, file);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return read_fd(fd, buf, size);
}

int cg_leaf_fd(cg_leaf_t *l, int i)
{
        if (l->fds[i] < 0)
                l->fds[i] = open(l->dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return l->fds[i];
}

int cg_leaf_write(cg_leaf_t *l, int i, const char *file, const char *value, rc_err_t *err)
{
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", l->dirs[i], file);
        int dfd = cg_leaf_fd(l, i);
        if (dfd < 0)
                return rc_err_sys(err, errno, "open %s", l->dirs[i]);
        _cleanup_close_ int fd = openat(dfd, file, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return rc_err_sys(err, errno, "open %s", path);
        return write_fd(fd, path, value, err);
}

int cg_leaf_read(cg_leaf_t *l, int i, const char *file, char *buf, size_t size)
{
        int dfd = cg_leaf_fd(l, i);
        if (dfd < 0)
                return -errno;
        _cleanup_close_ int fd = openat(dfd, file, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return read_fd(fd, buf, size);
}

/* The leaf's kept-open fd of dir i's file (opened read-write where the file allows it, else
 * read-only), or -1 with errno when there is no room left or it cannot be opened. */
static int kept_file(cg_leaf_t *l, int i, const char *file)
{
        for (int k = 0; k < l->nopen_files; k++)
                if (l->open_files[k].dir == i && l->open_files[k].file == file)
                        return l->open_files[k].fd;
        if (l->nopen_files == CG_OPEN_FILES_MAX) {
                errno = ENOSPC;
                return -1;
        }
        int dfd = cg_leaf_fd(l, i);
        if (dfd < 0)
                return -1;
        int fd = openat(dfd, file, O_RDWR | O_CLOEXEC);
        if (fd < 0 && errno == EACCES)
                fd = openat(dfd, file, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        l->open_files[l->nopen_files].dir = i;
        l->open_files[l->nopen_files].file = file;
        l->open_files[l->nopen_files++].fd = fd;
        return fd;
}

int cg_leaf_pread(cg_leaf_t *l, int i, const char *file, char *buf, size_t size)
{
        int fd = kept_file(l, i, file);
        if (fd < 0)
                return errno == ENOSPC ? cg_leaf_read(l, i, file, buf, size) : -errno;
        /* cgroup files are made anew for each read from offset 0 */
        ssize_t n = pread(fd, buf, size - 1, 0);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        return 0;
}

int cg_leaf_pwrite(cg_leaf_t *l, int i, const char *file, const char *value)
{
        int fd = kept_file(l, i, file);
        if (fd < 0)
                return errno == ENOSPC ? cg_leaf_write(l, i, file, value, NULL) : -errno;
        size_t len = strlen(value);
        ssize_t w = pwrite(fd, value, len, 0);
        return w < 0 ? -errno : (size_t)w == len ? 0 : -EIO;
}

int cg_kill_listed(const char *dir)
{
        char buf[8192];
        if (cg_read(dir, "cgroup.procs", buf, sizeof(buf)) < 0)
                return 0;
        int n = 0;
        for (char *p = buf; *p;) {
                char *end;
                long pid = strtol(p, &end, 10);
                if (end == p)
                        break;
                if (pid > 0) {
                        kill((pid_t)pid, SIGKILL);
                        n++;
                }
                p = end;
                while (*p == '\n')
                        p++;
        }
        return n;
}

static void free_leaf_struct(cg_leaf_t *l)
{
        if (l->peak_fd >= 0)
                close(l->peak_fd);
        for (int k = 0; k < l->nopen_files; k++)
                close(l->open_files[k].fd);
        for (int i = 0; i < l->ndirs; i++) {
                if (l->fds[i] >= 0)
                        close(l->fds[i]);
                free(l->dirs[i]);
        }
        free(l);
}

static void rmdir_when_empty(const char *dir)
{
        /* After the sandbox's init is reaped its pid namespace is empty, so this is quick; the
         * loop covers the kernel finishing the last exits. */
        for (int i = 0; i < 200; i++) {
                if (rmdir(dir) == 0 || errno == ENOENT)
                        return;
                if (errno != EBUSY)
                        return;
                cg_kill_listed(dir);
                struct timespec ts = {0, 1000000};
                nanosleep(&ts, NULL);
        }
}

void cg_remove_stale(const char *dir)
{
        _cleanup_closedir_ DIR *d = opendir(dir);
        if (!d)
                return;
        struct dirent *e;
        while ((e = readdir(d))) {
                int pid = 0, seq = 0;
                char tail;
                if (sscanf(e->d_name, "rc-%d-%d%c", &pid, &seq, &tail) != 2 || pid <= 0)
                        continue;
                if (pid == getpid() || kill(pid, 0) == 0 || errno != ESRCH)
                        continue;
                char sub[1024];
                snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
                rmdir_when_empty(sub);
        }
}

int cg_manager_open(cg_mode_t mode, cg_manager_t **out, rc_err_t *err)
{
        cg_manager_t *m = calloc(1, sizeof(*m));
        if (!m)
                return rc_err_set(err, ENOMEM, "out of memory");
        if (mode == CG_MODE_NONE) {
                m->be = &cg_backend_none;
                *out = m;
                return 0;
        }
        rc_err_t e2 = {0}, e1 = {0};
        bool probe = mode == CG_MODE_PROBE;
        m->probe = probe;
        m->be = &cg_backend_v2;
        int r = cg_backend_v2.open(m, &e2);
        if (r == -ENOTSUP) {
                cg_manager_free(m);
                m = calloc(1, sizeof(*m));
                if (!m)
                        return rc_err_set(err, ENOMEM, "out of memory");
                m->be = &cg_backend_v1;
                m->probe = probe;
                r = cg_backend_v1.open(m, &e1);
                if (r < 0 && r != -ENOTSUP) {
                        cg_manager_free(m);
                        return rc_err_set(err, -r, "cgroup v1: %s", e1.msg);
                }
                if (r == -ENOTSUP) {
                        cg_manager_free(m);
                        return rc_err_set(err, ENOTSUP,
                                          "no cgroup hierarchy with the memory, cpu and pids "
                                          "controllers (v2: %s; v1: %s)",
                                          e2.msg, e1.msg);
                }
        } else if (r < 0) {
                cg_manager_free(m);
                return rc_err_set(err, -r, "cgroup v2: %s", e2.msg);
        }
        *out = m;
        return 0;
}

void cg_manager_free(cg_manager_t *m)
{
        if (!m)
                return;
        while (m->nspare > 0)
                cg_leaf_destroy(m->spare[--m->nspare]);
        for (int i = 0; i < m->ndirs; i++)
                free(m->dirs[i]);
        free(m);
}

const char *cg_manager_name(const cg_manager_t *m)
{
        return m->be->name;
}

const char *cg_manager_base(const cg_manager_t *m)
{
        return m->ndirs ? m->dirs[0] : "";
}

const char *cg_manager_note(const cg_manager_t *m)
{
        return m->note[0] ? m->note : NULL;
}

unsigned cg_manager_next_seq(cg_manager_t *m)
{
        return ++m->seq;
}

/* A leaf's struct with the directory names rc-<owner>-<seq>, none made yet. */
static int leaf_new(cg_manager_t *m, pid_t owner, unsigned seq, cg_leaf_t **out, rc_err_t *err)
{
        cg_leaf_t *l = calloc(1, sizeof(*l));
        if (!l)
                return rc_err_set(err, ENOMEM, "out of memory");
        l->m = m;
        l->owner = owner;
        l->seq = seq;
        for (int i = 0; i < CG_DIRS_MAX; i++)
                l->fds[i] = -1;
        l->peak_fd = -1;
        for (int i = 0; i < m->ndirs; i++) {
                if (asprintf(&l->dirs[i], "%s/rc-%d-%u", m->dirs[i], (int)owner, seq) < 0) {
                        l->dirs[i] = NULL;
                        l->ndirs = i;
                        free_leaf_struct(l);
                        return rc_err_set(err, ENOMEM, "out of memory");
                }
        }
        l->ndirs = m->ndirs;
        *out = l;
        return 0;
}

static void remember_limits(cg_leaf_t *l, const rc_limits_t *lim, double cpus)
{
        l->applied = true;
        l->memory_mb = lim->memory_mb;
        l->processes = lim->processes;
        l->cpus = cpus;
}

int cg_leaf_create_named(cg_manager_t *m, pid_t owner, unsigned seq, const rc_limits_t *lim,
                         double cpus, cg_leaf_t **out, rc_err_t *err)
{
        *out = NULL;
        if (!m->be->set_limits)
                return 0;
        cg_leaf_t *l;
        int r = leaf_new(m, owner, seq, &l, err);
        if (r < 0)
                return r;
        for (int i = 0; i < l->ndirs; i++) {
                if (mkdir(l->dirs[i], 0755) < 0) {
                        r = rc_err_sys(err, errno, "mkdir %s", l->dirs[i]);
                        for (int k = i; k < l->ndirs; k++) {
                                free(l->dirs[k]);
                                l->dirs[k] = NULL;
                        }
                        l->ndirs = i;
                        cg_leaf_destroy(l);
                        return r;
                }
        }
        if (!m->be->attach && cg_leaf_fd(l, 0) < 0)
                r = rc_err_sys(err, errno, "open %s", l->dirs[0]); /* for CLONE_INTO_CGROUP */
        else
                r = m->be->set_limits(l, lim, cpus, err);
        if (r < 0) {
                cg_leaf_destroy(l);
                return r;
        }
        remember_limits(l, lim, cpus);
        *out = l;
        return 0;
}

cg_leaf_t *cg_leaf_spare(cg_manager_t *m)
{
        return m->nspare > 0 ? m->spare[--m->nspare] : NULL;
}

int cg_leaf_create(cg_manager_t *m, const rc_limits_t *lim, double cpus, cg_leaf_t **out,
                   rc_err_t *err)
{
        *out = NULL;
        if (!m->be->set_limits)
                return 0;
        cg_leaf_t *l = cg_leaf_spare(m);
        if (l) {
                /* Its directories may have been removed meanwhile (empty, it could be): opened
                 * here, so that such a spare gives way to a new leaf, not a failed attach. */
                int fds[CG_DIRS_MAX];
                int r = cg_leaf_dir_fds(l, fds, CG_DIRS_MAX);
                if (r >= 0)
                        r = cg_leaf_set_limits(l, lim, cpus, err);
                if (r == 0) {
                        *out = l;
                        return 0;
                }
                cg_leaf_destroy(l);
        }
        return cg_leaf_create_named(m, getpid(), cg_manager_next_seq(m), lim, cpus, out, err);
}

int cg_leaf_adopt(cg_manager_t *m, pid_t owner, unsigned seq, const rc_limits_t *lim, double cpus,
                  int *fds, int nfds, cg_leaf_t **out, rc_err_t *err)
{
        *out = NULL;
        if (!m->be->set_limits)
                return 0;
        int r = leaf_new(m, owner, seq, out, err);
        if (r < 0)
                return r;
        if (lim)
                remember_limits(*out, lim, cpus);
        for (int i = 0; fds && i < nfds && i < (*out)->ndirs; i++) {
                (*out)->fds[i] = fds[i];
                fds[i] = -1;
        }
        return 0;
}

unsigned cg_leaf_seq(const cg_leaf_t *l)
{
        return l->seq;
}

int cg_leaf_dir_fds(cg_leaf_t *l, int *fds, int max)
{
        int n = 0;
        for (int i = 0; i < l->ndirs && n < max; i++, n++)
                if ((fds[n] = cg_leaf_fd(l, i)) < 0)
                        return -errno;
        return n;
}

void cg_leaf_close_fds(cg_leaf_t *l)
{
        if (!l)
                return;
        for (int i = 0; i < l->ndirs; i++)
                if (l->fds[i] >= 0) {
                        close(l->fds[i]);
                        l->fds[i] = -1;
                }
        /* The counter files kept open for its runs too (kept_file opens them again when the
         * leaf is used again); else every spare and buried leaf held 3 fds on v1. */
        for (int k = 0; k < l->nopen_files; k++)
                close(l->open_files[k].fd);
        l->nopen_files = 0;
}

bool cg_leaf_recycle(cg_leaf_t *l)
{
        if (!l)
                return false;
        cg_manager_t *m = l->m;
        if (!m->be->reset || m->nspare == CG_SPARE_MAX || m->be->reset(l) < 0) {
                cg_leaf_destroy(l);
                return false;
        }
        cg_leaf_close_fds(l); /* a spare holds no fds: how many a process has stays flat */
        m->spare[m->nspare++] = l;
        return true;
}

int cg_leaf_set_limits(cg_leaf_t *l, const rc_limits_t *lim, double cpus, rc_err_t *err)
{
        if (!l)
                return 0;
        if (l->applied && l->memory_mb == lim->memory_mb && l->processes == lim->processes &&
            l->cpus == cpus)
                return 0;   /* what the leaf has already: nothing to write */
        l->applied = false; /* until every write below went through */
        int r = l->m->be->set_limits(l, lim, cpus, err);
        if (r == 0)
                remember_limits(l, lim, cpus);
        return r;
}

int cg_leaf_clone_fd(cg_leaf_t *l)
{
        return l && !l->m->be->attach ? cg_leaf_fd(l, 0) : -1;
}

int cg_leaf_attach(cg_leaf_t *l, pid_t pid, rc_err_t *err)
{
        if (!l || !l->m->be->attach)
                return 0;
        return l->m->be->attach(l, pid, err);
}

int cg_leaf_stats(cg_leaf_t *l, cg_stats_t *st)
{
        memset(st, 0, sizeof(*st));
        st->cpu_usage_us = st->memory_peak_bytes = st->oom_kills = -1;
        if (!l)
                return -ENOENT;
        return l->m->be->stats(l, st);
}

int cg_leaf_rebase(cg_leaf_t *l)
{
        if (!l)
                return 0;
        int r = l->m->be->rebase ? l->m->be->rebase(l) : -ENOTSUP;
        if (r == -ENOTSUP)
                l->m->no_rebase = true;
        return r;
}

bool cg_leaf_rebasable(const cg_leaf_t *l)
{
        return !l || !l->m->no_rebase;
}

void cg_leaf_kill(cg_leaf_t *l)
{
        if (l)
                l->m->be->kill(l);
}

void cg_leaf_forget(cg_leaf_t *l)
{
        if (l)
                free_leaf_struct(l);
}

void cg_leaf_destroy(cg_leaf_t *l)
{
        if (!l)
                return;
        for (int i = 0; i < l->ndirs; i++)
                if (l->dirs[i])
                        rmdir_when_empty(l->dirs[i]);
        free_leaf_struct(l);
}
