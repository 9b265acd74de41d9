#include "rootfs/store.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/proc.h"

#define READY_MARK ".runcell-ready"

static int read_sha(const rootfs_store_t *st, const char *name, char sha[65], rc_err_t *err)
{
        _cleanup_free_ char *tar = NULL, *shafile = NULL, *text = NULL;
        if (asprintf(&tar, "%s/%s.tar.zst", st->rootfs_dir, name) < 0 ||
            asprintf(&shafile, "%s.sha256", tar) < 0)
                return rc_err_set(err, ENOMEM, "out of memory");
        if (!fs_exists(tar))
                return rc_err_set(
                    err, ENOENT,
                    "root filesystem '%s' is not built (no %s; run scripts/build-rootfs "
                    "%s)",
                    name, tar, name);
        rc_err_t e2 = {0};
        if (fs_read_file(shafile, 256, &text, NULL, &e2) < 0)
                return rc_err_set(err, e2.code, "root filesystem '%s': %s", name, e2.msg);
        size_t n = 0;
        while (n < 64 && isxdigit((unsigned char)text[n]))
                n++;
        if (n != 64 || (text[64] && !isspace((unsigned char)text[64])))
                return rc_err_set(err, EINVAL, "root filesystem '%s': %s does not hold a sha256",
                                  name, shafile);
        for (size_t i = 0; i < 64; i++)
                sha[i] = (char)tolower((unsigned char)text[i]);
        sha[64] = '\0';
        return 0;
}

bool rootfs_available(const rootfs_store_t *st, const char *name)
{
        char sha[65];
        return read_sha(st, name, sha, NULL) == 0;
}

static int strip_setid(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
        /* Set-id bits mean nothing in the sandbox (nosuid) but would on the host. */
        if ((type == FTW_F || type == FTW_D) && (sb->st_mode & (S_ISUID | S_ISGID)))
                chmod(path, sb->st_mode & 0777 & ~(mode_t)(S_ISUID | S_ISGID));
        return 0;
}

static void remove_tree(const char *path)
{
        char *argv[] = {"rm", "-rf", "--one-file-system", "--", (char *)path, NULL};
        proc_run(argv, NULL, 0, NULL);
}

static int unpack(const char *tar, const char *sha, const char *tmp, rc_err_t *err)
{
        int r;
        _cleanup_free_ char *sum = NULL;
        char *sum_argv[] = {"sha256sum", "--", (char *)tar, NULL};
        if ((r = proc_run(sum_argv, &sum, 4096, err)) < 0)
                return r;
        if (strncmp(sum, sha, 64) != 0)
                return rc_err_set(err, EBADMSG,
                                  "%s does not match its .sha256 (corrupt or replaced)", tar);
        if (mkdir(tmp, 0755) < 0)
                return rc_err_sys(err, errno, "mkdir %s", tmp);
        /* Device nodes cannot be created unprivileged and the sandbox brings its own /dev. */
        char *tar_argv[] = {"tar",
                            "--zstd",
                            "-xf",
                            (char *)tar,
                            "-C",
                            (char *)tmp,
                            "--no-same-owner",
                            "--exclude=./dev/*",
                            "--no-overwrite-dir",
                            NULL};
        if ((r = proc_run(tar_argv, NULL, 0, err)) < 0)
                return r;
        nftw(tmp, strip_setid, 32, FTW_PHYS);
        static const char *const dirs[] = {"work", "tmp", "proc", "dev"};
        for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
                _cleanup_free_ char *d = fs_join(tmp, dirs[i]);
                struct stat sb;
                if (!d)
                        return rc_err_set(err, ENOMEM, "out of memory");
                if (lstat(d, &sb) == 0 && !S_ISDIR(sb.st_mode))
                        return rc_err_set(err, EINVAL, "%s: /%s is not a directory", tar, dirs[i]);
                if (mkdir(d, 0755) < 0 && errno != EEXIST)
                        return rc_err_sys(err, errno, "mkdir %s", d);
        }
        if (chmod(tmp, 0755) < 0)
                return rc_err_sys(err, errno, "chmod %s", tmp);
        _cleanup_free_ char *mark = fs_join(tmp, READY_MARK);
        _cleanup_close_ int mfd = mark ? open(mark, O_WRONLY | O_CREAT | O_CLOEXEC, 0644) : -1;
        if (mfd < 0)
                return rc_err_sys(err, errno, "create %s", READY_MARK);
        return 0;
}

/* Owned by root, writable by no one else, and not a symbolic link. */
static bool root_only(const char *path, struct stat *sb)
{
        return lstat(path, sb) == 0 && sb->st_uid == 0 && !(sb->st_mode & (S_IWGRP | S_IWOTH)) &&
               !S_ISLNK(sb->st_mode);
}

char *rootfs_shared_copy(const rootfs_store_t *st, const char *sha)
{
        if (!st->shared_dir || !*st->shared_dir)
                return NULL;
        _cleanup_free_ char *want = NULL;
        if (asprintf(&want, "%s/rootfs/%s", st->shared_dir, sha) < 0)
                return NULL;
        _cleanup_free_ char *real = realpath(want, NULL);
        if (!real || strcmp(real, "/") == 0)
                return NULL;
        /* from the copy up to /: root's alone, so nobody else can change what it holds */
        struct stat sb;
        if (!root_only(real, &sb) || !S_ISDIR(sb.st_mode))
                return NULL;
        _cleanup_free_ char *up = strdup(real);
        if (!up)
                return NULL;
        for (char *slash = strrchr(up, '/'); slash; slash = strrchr(up, '/')) {
                if (slash == up)
                        slash[1] = '\0';
                else
                        *slash = '\0';
                if (!root_only(up, &sb) || !S_ISDIR(sb.st_mode))
                        return NULL;
                if (slash == up)
                        break;
        }
        _cleanup_free_ char *mark = fs_join(real, READY_MARK);
        if (!mark || !root_only(mark, &sb) || !S_ISREG(sb.st_mode))
                return NULL;
        return steal_pointer(&real);
}

int rootfs_prepare(const rootfs_store_t *st, const char *name, char **path, rc_err_t *err)
{
        char sha[65];
        int r = read_sha(st, name, sha, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *base = fs_join(st->state_dir, "rootfs");
        _cleanup_free_ char *dest = base ? fs_join(base, sha) : NULL;
        _cleanup_free_ char *mark = dest ? fs_join(dest, READY_MARK) : NULL;
        if (!mark)
                return rc_err_set(err, ENOMEM, "out of memory");
        _cleanup_free_ char *empty = fs_join(base, SB_ROOTFS_EMPTY_DIR);
        if (!empty)
                return rc_err_set(err, ENOMEM, "out of memory");
        if (fs_exists(mark)) {
                /* Made by an older runcell: the overlay's empty layer may be missing. */
                if (mkdir(empty, 0755) < 0 && errno != EEXIST)
                        return rc_err_sys(err, errno, "mkdir %s", empty);
                *path = steal_pointer(&dest);
                return 0;
        }
        /* root unpacked this very tarball already: read-only for us, as for every sandbox */
        char *shared = rootfs_shared_copy(st, sha);
        if (shared) {
                *path = shared;
                return 0;
        }

        /* The state dir and rootfs/ are traversable by others (0711): in root mode the sandbox
         * runs as an unprivileged uid and must reach its root filesystem to bind it. */
        if ((r = fs_mkdir_p(base, 0711, err)) < 0)
                return rc_err_wrap(err, "state directory");
        chmod(st->state_dir, 0711);
        chmod(base, 0711);
        _cleanup_free_ char *lock = fs_join(base, ".lock");
        _cleanup_close_ int lfd = lock ? open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600) : -1;
        if (lfd < 0)
                return rc_err_sys(err, errno, "open %s", lock ? lock : "lock");
        while (flock(lfd, LOCK_EX) < 0)
                if (errno != EINTR)
                        return rc_err_sys(err, errno, "lock %s", lock);
        if (mkdir(empty, 0755) < 0 && errno != EEXIST)
                return rc_err_sys(err, errno, "mkdir %s", empty);
        if (fs_exists(mark)) {
                *path = steal_pointer(&dest);
                return 0;
        }
        if (fs_exists(dest))
                remove_tree(dest); /* an older, unfinished layout */

        _cleanup_free_ char *tar = NULL, *tmp = NULL;
        if (asprintf(&tar, "%s/%s.tar.zst", st->rootfs_dir, name) < 0 ||
            asprintf(&tmp, "%s/.unpack-%s-%d", base, sha, (int)getpid()) < 0)
                return rc_err_set(err, ENOMEM, "out of memory");
        remove_tree(tmp);
        r = unpack(tar, sha, tmp, err);
        if (r == 0 && rename(tmp, dest) < 0)
                r = rc_err_sys(err, errno, "rename %s", tmp);
        if (r < 0) {
                remove_tree(tmp);
                return rc_err_wrap(err, "unpack root filesystem '%s'", name);
        }
        *path = steal_pointer(&dest);
        return 0;
}

char *rootfs_upstream_version(const char *v)
{
        const char *colon = strchr(v, ':');
        if (colon && colon - v < 4)
                v = colon + 1;
        /* Debian's "X+reallyY": a newer-looking number kept to go back to Y, the real one
         * (ruby3.1 3.1.7+really3.1.2-0+deb12u1 is Ruby 3.1.2) */
        const char *really = strstr(v, "+really");
        if (really && (size_t)(really - v) < strcspn(v, "-"))
                v = really + strlen("+really");
        size_t n = strcspn(v, "-+~");
        /* a repacked upstream tarball: "1.14.0.dfsg" is Elixir 1.14.0 */
        static const char *const repack[] = {".dfsg", ".ds"};
        for (size_t i = 0; i < sizeof(repack) / sizeof(repack[0]); i++) {
                size_t rl = strlen(repack[i]);
                if (n > rl && strncmp(v + n - rl, repack[i], rl) == 0 &&
                    (n == rl || v[n - rl - 1] != '.'))
                        n -= rl;
        }
        return strndup(v, n);
}

int rootfs_package_version(const rootfs_store_t *st, const char *name, const char *package,
                           char **version, rc_err_t *err)
{
        _cleanup_free_ char *mf = NULL, *text = NULL;
        if (asprintf(&mf, "%s/%s.manifest", st->rootfs_dir, name) < 0)
                return rc_err_set(err, ENOMEM, "out of memory");
        int r = fs_read_file(mf, 1 << 20, &text, NULL, err);
        if (r < 0)
                return r;
        size_t pl = strlen(package);
        for (char *line = text; line && *line;) {
                char *nl = strchr(line, '\n');
                if (nl)
                        *nl = '\0';
                if (strncmp(line, package, pl) == 0 && line[pl] == ' ') {
                        *version = rootfs_upstream_version(line + pl + 1);
                        return *version ? 0 : rc_err_set(err, ENOMEM, "out of memory");
                }
                line = nl ? nl + 1 : NULL;
        }
        return rc_err_set(err, ENOENT, "%s: no package %s", mf, package);
}
