/* rootfs/store: versions from manifests, and unpacking a tarball into the state dir. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rootfs/store.h"
#include "testutil.h"

static void test_upstream_version(void)
{
        static const char *const cases[][2] = {
            {"3.11.2-1+b1", "3.11.2"},
            {"1:2.3.4+dfsg-5", "2.3.4"},
            {"1.19.8-2", "1.19.8"},
            {"18.19.0+dfsg-6~deb12u2", "18.19.0"},
            {"5.2.15-2+b7", "5.2.15"},
            {"7", "7"},
            {"12.2.0-14", "12.2.0"},
            {"2:1.0", "1.0"},
            {"1.65.0+dfsg1-2", "1.65.0"},
            {"", ""},
            {"3.1.7+really3.1.2-0+deb12u1", "3.1.2"}, /* Debian's +really: the real one */
            {"1:2.0+really1.9+dfsg-1", "1.9"},
            {"1.0-1+really", "1.0"},
        };
        for (size_t i = 0; i < TU_COUNT(cases); i++) {
                char *v = rootfs_upstream_version(cases[i][0]);
                if (!CHECK(v != NULL))
                        continue;
                if (strcmp(v, cases[i][1]) != 0)
                        FAIL("rootfs_upstream_version(\"%s\") = \"%s\", want \"%s\"", cases[i][0],
                             v, cases[i][1]);
                free(v);
        }
}

static const char MANIFEST[] = "bash 5.2.15-2+b7\n"
                               "libc6 2.36-9+deb12u4\n"
                               "python3 3.11.2-1+b1\n"
                               "python3-minimal 3.11.2-1+b1\n"
                               "golang-1.19-go 1.19.8-2\n"
                               "nodejs 18.19.0+dfsg-6~deb12u2"; /* no final newline */

static void test_package_version(void)
{
        const char *dir = tu_tmpdir();
        REQUIRE(dir);
        char *mf = tu_write_str(dir, "python.manifest", MANIFEST);
        REQUIRE(mf);
        rootfs_store_t st = {.rootfs_dir = dir, .state_dir = dir};
        static const char *const cases[][2] = {
            {"bash", "5.2.15"},           {"python3", "3.11.2"}, {"python3-minimal", "3.11.2"},
            {"golang-1.19-go", "1.19.8"}, {"nodejs", "18.19.0"}, {"libc6", "2.36"},
        };
        for (size_t i = 0; i < TU_COUNT(cases); i++) {
                char *v = NULL;
                rc_err_t err = {0};
                if (CHECK_OK_E(rootfs_package_version(&st, "python", cases[i][0], &v, &err), err))
                        if (!v || strcmp(v, cases[i][1]) != 0)
                                FAIL("version of %s = \"%s\", want \"%s\"", cases[i][0],
                                     v ? v : "(null)", cases[i][1]);
                free(v);
        }
        /* absent packages, including prefixes of present ones */
        static const char *const absent[] = {"python", "python3-", "bas", "ruby", "5.2.15-2+b7"};
        for (size_t i = 0; i < TU_COUNT(absent); i++) {
                char *v = NULL;
                rc_err_t err = {0};
                if (CHECK_FAIL(rootfs_package_version(&st, "python", absent[i], &v, &err),
                               -ENOENT)) {
                        CHECK_CONTAINS(err.msg, "no package");
                        CHECK_CONTAINS(err.msg, absent[i]);
                        CHECK_CONTAINS(err.msg, "python.manifest");
                } else {
                        FAIL("found package \"%s\" (\"%s\")", absent[i], v ? v : "(null)");
                }
                free(v);
        }
        /* no manifest */
        char *v = NULL;
        rc_err_t err = {0};
        CHECK_FAIL(rootfs_package_version(&st, "gcc", "gcc-12", &v, &err), -ENOENT);
        CHECK_CONTAINS(err.msg, "gcc.manifest");
        CHECK(v == NULL);
        free(mf);
}

/* ---- rootfs_prepare ---- */

struct fixture {
        char *rootfs_dir; /* holds base.tar.zst */
        char *state_dir;
        char *tar;    /* base.tar.zst */
        char *sha;    /* its .sha256 */
        char *digest; /* the 64 hex characters */
        rootfs_store_t st;
};

static void fixture_free(struct fixture *f)
{
        free(f->rootfs_dir);
        free(f->state_dir);
        free(f->tar);
        free(f->sha);
        free(f->digest);
}

/* Build a tiny rootfs tarball NAME.tar.zst (+ .sha256) from a tree with a shell-like
 * program, a setuid and a setgid file, a /dev entry and a sticky /tmp. extra (may be NULL)
 * is a shell command run inside the tree before packing. */
static bool make_fixture(struct fixture *f, const char *extra)
{
        memset(f, 0, sizeof(*f));
        if (!tu_shell_ok("tar --zstd -cf /dev/null -T /dev/null && command -v sha256sum")) {
                tu_skip("tar --zstd or sha256sum unavailable");
                return false;
        }
        const char *dir = tu_tmpdir();
        if (!dir)
                return false;
        char *tree = tu_strf("%s/tree", dir);
        f->rootfs_dir = tu_strf("%s/cache", dir);
        f->state_dir = tu_strf("%s/state", dir);
        f->tar = tu_strf("%s/base.tar.zst", f->rootfs_dir);
        f->sha = tu_strf("%s.sha256", f->tar);
        f->st.rootfs_dir = f->rootfs_dir;
        f->st.state_dir = f->state_dir;
        bool ok = mkdir(f->rootfs_dir, 0755) == 0;
        char *files[] = {
            tu_write_str(tree, "bin/sh", "#!/bin/true\necho tiny shell\n"),
            tu_write_str(tree, "usr/bin/su", "setuid program\n"),
            tu_write_str(tree, "usr/bin/wall", "setgid program\n"),
            tu_write_str(tree, "dev/null", "not a device\n"),
            tu_write_str(tree, "etc/os-release", "ID=test\n"),
            tu_write_str(tree, "tmp/.keep", ""),
        };
        for (size_t i = 0; i < TU_COUNT(files); i++) {
                ok = ok && files[i];
                free(files[i]);
        }
        ok = ok && tu_sh("cd %s && chmod 0755 bin/sh && chmod 4755 usr/bin/su && chmod 2755 "
                         "usr/bin/wall && chmod 1777 tmp",
                         tree);
        if (ok && extra)
                ok = tu_sh("cd %s && %s", tree, extra);
        ok = ok && tu_sh("tar --zstd -cf %s -C %s .", f->tar, tree);
        ok = ok && tu_sh("cd %s && sha256sum base.tar.zst > base.tar.zst.sha256", f->rootfs_dir);
        if (ok) {
                FILE *fp = fopen(f->sha, "r");
                char line[128] = "";
                ok = fp && fgets(line, sizeof(line), fp) && strlen(line) > 64;
                if (fp)
                        fclose(fp);
                if (ok)
                        f->digest = strndup(line, 64);
        }
        free(tree);
        if (!ok)
                FAIL("could not build the test rootfs");
        return ok;
}

/* Names in dir other than "." and ".." joined with ',' in readdir order sorted by name. */
static char *list_dir(const char *dir)
{
        struct dirent **names = NULL;
        int n = scandir(dir, &names, NULL, alphasort);
        if (n < 0)
                return tu_strf("(cannot list %s: %s)", dir, strerror(errno));
        char *out = tu_strf("%s", "");
        for (int i = 0; i < n; i++) {
                const char *nm = names[i]->d_name;
                if (strcmp(nm, ".") != 0 && strcmp(nm, "..") != 0) {
                        char *next = tu_strf("%s%s%s", out, *out ? "," : "", nm);
                        free(out);
                        out = next;
                }
                free(names[i]);
        }
        free(names);
        return out;
}

static void check_only_lock_left(const struct fixture *f)
{
        char *base = tu_strf("%s/rootfs", f->state_dir);
        char *names = list_dir(base);
        CHECK_STR_EQ(names, ".empty,.lock"); /* the overlay's empty layer, and nothing unpacked */
        free(names);
        free(base);
}

static void test_prepare_unpacks(void)
{
        struct fixture f;
        if (!make_fixture(&f, NULL)) {
                fixture_free(&f);
                return;
        }
        CHECK(rootfs_available(&f.st, "base"));
        char *path = NULL;
        rc_err_t err = {0};
        if (!CHECK_OK_E(rootfs_prepare(&f.st, "base", &path, &err), err)) {
                fixture_free(&f);
                return;
        }
        char *want = tu_strf("%s/rootfs/%s", f.state_dir, f.digest);
        CHECK_STR_EQ(path, want);
        struct stat sb;
        static const char *const dirs[] = {"work", "tmp", "proc", "dev", "bin", "etc"};
        for (size_t i = 0; i < TU_COUNT(dirs); i++) {
                char *d = tu_strf("%s/%s", path, dirs[i]);
                if (!(stat(d, &sb) == 0 && S_ISDIR(sb.st_mode)))
                        FAIL("%s is not a directory", d);
                free(d);
        }
        /* the root of the tree is traversable by others */
        CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0755);
        /* ./dev entries are not unpacked */
        char *dev = tu_strf("%s/dev", path);
        char *names = list_dir(dev);
        CHECK_STR_EQ(names, "");
        free(names);
        free(dev);
        /* set-id bits are gone, other permission bits kept */
        char *su = tu_strf("%s/usr/bin/su", path);
        if (CHECK(stat(su, &sb) == 0))
                CHECK_INT_EQ(sb.st_mode & 07777, 0755);
        free(su);
        char *wall = tu_strf("%s/usr/bin/wall", path);
        if (CHECK(stat(wall, &sb) == 0))
                CHECK_INT_EQ(sb.st_mode & 07777, 0755);
        free(wall);
        char *sh = tu_strf("%s/bin/sh", path);
        if (CHECK(stat(sh, &sb) == 0)) {
                CHECK(S_ISREG(sb.st_mode));
                CHECK_INT_EQ(sb.st_mode & 07777, 0755);
                CHECK_INT_EQ(sb.st_size, 28);
        }
        /* the sticky /tmp of the tarball keeps its mode (tar restores modes as root) */
        char *tmp = tu_strf("%s/tmp", path);
        if (CHECK(stat(tmp, &sb) == 0) && geteuid() == 0)
                CHECK_INT_EQ(sb.st_mode & 07777, 01777);
        free(tmp);
        /* the state dirs are 0711 */
        char *base = tu_strf("%s/rootfs", f.state_dir);
        CHECK(stat(base, &sb) == 0 && (sb.st_mode & 0777) == 0711);
        CHECK(stat(f.state_dir, &sb) == 0 && (sb.st_mode & 0777) == 0711);
        /* nothing else was left in the state dir */
        names = list_dir(base);
        char *want_names = tu_strf(".empty,.lock,%s", f.digest);
        CHECK_STR_EQ(names, want_names);
        free(want_names);
        free(names);
        free(base);

        /* the second call reuses the tree */
        struct stat before_dir, before_sh, after_dir, after_sh;
        CHECK(stat(path, &before_dir) == 0 && stat(sh, &before_sh) == 0);
        char *sentinel = tu_write_str(path, "sentinel", "still here");
        char *path2 = NULL;
        if (CHECK_OK_E(rootfs_prepare(&f.st, "base", &path2, &err), err)) {
                CHECK_STR_EQ(path2, path);
                CHECK(stat(path, &after_dir) == 0 && stat(sh, &after_sh) == 0);
                CHECK_INT_EQ(after_dir.st_ino, before_dir.st_ino);
                CHECK_INT_EQ(after_sh.st_ino, before_sh.st_ino);
                CHECK_INT_EQ(after_sh.st_mtim.tv_nsec, before_sh.st_mtim.tv_nsec);
                CHECK_INT_EQ(after_sh.st_ctim.tv_sec, before_sh.st_ctim.tv_sec);
                CHECK_INT_EQ(after_sh.st_ctim.tv_nsec, before_sh.st_ctim.tv_nsec);
                CHECK(access(sentinel, F_OK) == 0);
        }
        free(path2);
        free(sentinel);
        free(sh);
        free(want);
        free(path);
        fixture_free(&f);
}

/* A tree left without its ready mark (an older or interrupted layout) is unpacked afresh. */
static void test_prepare_replaces_unfinished(void)
{
        struct fixture f;
        if (!make_fixture(&f, NULL)) {
                fixture_free(&f);
                return;
        }
        char *dest = tu_strf("%s/rootfs/%s", f.state_dir, f.digest);
        char *junk = tu_write_str(dest, "half/done", "partial");
        REQUIRE(junk);
        char *path = NULL;
        rc_err_t err = {0};
        if (CHECK_OK_E(rootfs_prepare(&f.st, "base", &path, &err), err)) {
                CHECK_STR_EQ(path, dest);
                CHECK(access(junk, F_OK) != 0);
                char *sh = tu_strf("%s/bin/sh", dest);
                CHECK(access(sh, F_OK) == 0);
                free(sh);
        }
        free(path);
        free(junk);
        free(dest);
        fixture_free(&f);
}

static void test_prepare_concurrent(void)
{
        struct fixture f;
        if (!make_fixture(&f, NULL)) {
                fixture_free(&f);
                return;
        }
        enum { N = 3 };
        pid_t pids[N];
        fflush(NULL);
        for (int i = 0; i < N; i++) {
                pids[i] = fork();
                if (pids[i] == 0) {
                        char *p = NULL;
                        rc_err_t e = {0};
                        int r = rootfs_prepare(&f.st, "base", &p, &e);
                        _exit(r == 0 ? 0 : 1);
                }
                CHECK(pids[i] > 0);
        }
        for (int i = 0; i < N; i++) {
                int status = 0;
                if (pids[i] > 0 && CHECK(waitpid(pids[i], &status, 0) == pids[i]))
                        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
        char *base = tu_strf("%s/rootfs", f.state_dir);
        char *names = list_dir(base);
        char *want = tu_strf(".empty,.lock,%s", f.digest);
        CHECK_STR_EQ(names, want);
        free(want);
        free(names);
        free(base);
        fixture_free(&f);
}

static void test_prepare_missing_tarball(void)
{
        const char *dir = tu_tmpdir();
        REQUIRE(dir);
        char *state = tu_strf("%s/state", dir);
        rootfs_store_t st = {.rootfs_dir = dir, .state_dir = state};
        CHECK(!rootfs_available(&st, "python"));
        char *path = NULL;
        rc_err_t err = {0};
        CHECK_FAIL(rootfs_prepare(&st, "python", &path, &err), -ENOENT);
        CHECK(path == NULL);
        CHECK_CONTAINS(err.msg, "build-rootfs");
        CHECK_CONTAINS(err.msg, "python");
        CHECK_CONTAINS(err.msg, "python.tar.zst");
        /* nothing is created for a missing rootfs */
        CHECK(access(state, F_OK) != 0);

        /* a tarball without its .sha256 */
        char *t = tu_write_str(dir, "python.tar.zst", "x");
        CHECK(!rootfs_available(&st, "python"));
        CHECK_FAIL(rootfs_prepare(&st, "python", &path, &err), -ENOENT);
        CHECK_CONTAINS(err.msg, "python.tar.zst.sha256");
        CHECK(path == NULL);
        free(t);
        free(state);
}

static void test_prepare_sha_mismatch(void)
{
        struct fixture f;
        if (!make_fixture(&f, NULL)) {
                fixture_free(&f);
                return;
        }
        /* a well-formed digest of something else */
        char *other = tu_strf("%.64s  base.tar.zst\n",
                              "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
        char *p = tu_write_str(f.rootfs_dir, "base.tar.zst.sha256", other);
        free(p);
        free(other);
        CHECK(rootfs_available(&f.st, "base")); /* the files are there */
        char *path = NULL;
        rc_err_t err = {0};
        int r = rootfs_prepare(&f.st, "base", &path, &err);
        CHECK_FAIL(r, -EBADMSG);
        CHECK(path == NULL);
        CHECK_CONTAINS(err.msg, "does not match");
        CHECK_CONTAINS(err.msg, "base");
        check_only_lock_left(&f);
        free(path);
        fixture_free(&f);
}

static void test_prepare_bad_sha_file(void)
{
        struct fixture f;
        if (!make_fixture(&f, NULL)) {
                fixture_free(&f);
                return;
        }
        char *upper = tu_strf("%s\n", f.digest);
        for (char *c = upper; *c; c++)
                if (*c >= 'a' && *c <= 'f')
                        *c = (char)(*c - 'a' + 'A');
        char *sixtyfive = tu_strf("%sa\n", f.digest);
        char *sixtythree = tu_strf("%.63s\n", f.digest);
        char *nonhex = tu_strf("%.63sg\n", f.digest);
        const char *bad[] = {"", "not a digest\n", sixtythree, sixtyfive, nonhex, "\n"};
        for (size_t i = 0; i < TU_COUNT(bad); i++) {
                char *p = tu_write_str(f.rootfs_dir, "base.tar.zst.sha256", bad[i]);
                free(p);
                char *path = NULL;
                rc_err_t err = {0};
                if (CHECK_FAIL(rootfs_prepare(&f.st, "base", &path, &err), -EINVAL))
                        CHECK_CONTAINS(err.msg, "does not hold a sha256");
                else
                        FAIL("accepted .sha256 [%s]", bad[i]);
                CHECK(!rootfs_available(&f.st, "base"));
                free(path);
        }
        /* an upper-case digest without a file name is fine and maps to the lower-case dir */
        char *p = tu_write_str(f.rootfs_dir, "base.tar.zst.sha256", upper);
        free(p);
        char *path = NULL;
        rc_err_t err = {0};
        if (CHECK_OK_E(rootfs_prepare(&f.st, "base", &path, &err), err)) {
                char *want = tu_strf("%s/rootfs/%s", f.state_dir, f.digest);
                CHECK_STR_EQ(path, want);
                free(want);
        }
        free(path);
        free(upper);
        free(sixtyfive);
        free(sixtythree);
        free(nonhex);
        fixture_free(&f);
}

static void test_prepare_corrupt_tarball(void)
{
        struct fixture f;
        if (!make_fixture(&f, NULL)) {
                fixture_free(&f);
                return;
        }
        /* garbage with a matching digest: tar itself fails */
        char *p = tu_write_str(f.rootfs_dir, "base.tar.zst", "this is not zstd data\n");
        free(p);
        if (!tu_sh("cd %s && sha256sum base.tar.zst > base.tar.zst.sha256", f.rootfs_dir)) {
                fixture_free(&f);
                return;
        }
        char *path = NULL;
        rc_err_t err = {0};
        CHECK_FAIL(rootfs_prepare(&f.st, "base", &path, &err), 0);
        CHECK(path == NULL);
        CHECK_CONTAINS(err.msg, "unpack root filesystem 'base'");
        CHECK_CONTAINS(err.msg, "tar");
        check_only_lock_left(&f);
        fixture_free(&f);
}

static void test_prepare_proc_not_dir(void)
{
        struct fixture f;
        if (!make_fixture(&f, "echo x > proc")) {
                fixture_free(&f);
                return;
        }
        char *path = NULL;
        rc_err_t err = {0};
        CHECK_FAIL(rootfs_prepare(&f.st, "base", &path, &err), -EINVAL);
        CHECK(path == NULL);
        CHECK_CONTAINS(err.msg, "/proc is not a directory");
        check_only_lock_left(&f);
        fixture_free(&f);
}

int main(int argc, char **argv)
{
        static const tu_test_t tests[] = {
            TU_TEST(test_upstream_version),        TU_TEST(test_package_version),
            TU_TEST(test_prepare_unpacks),         TU_TEST(test_prepare_replaces_unfinished),
            TU_TEST(test_prepare_concurrent),      TU_TEST(test_prepare_missing_tarball),
            TU_TEST(test_prepare_sha_mismatch),    TU_TEST(test_prepare_bad_sha_file),
            TU_TEST(test_prepare_corrupt_tarball), TU_TEST(test_prepare_proc_not_dir),
        };
        return tu_main("test_rootfs", tests, TU_COUNT(tests), argc, argv);
}
