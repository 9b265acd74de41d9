/* server/artifacts.c: functions' artifacts written, streamed and unpacked again (the stream is
 * what a shared store carries between nodes, so a stream read back is hostile input: malformed,
 * altered, or naming paths outside the artifact), and the transfer thread's queue. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/artifacts.h"
#include "testutil.h"
#include "util/fs.h"
#include "util/sha256.h"

#define MAX (1 << 20)

/* Entries in dir (not . and ..). */
static int entries(const char *dir)
{
        DIR *d = opendir(dir);
        if (!d)
                return -1;
        int n = 0;
        struct dirent *e;
        while ((e = readdir(d)))
                n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
        closedir(d);
        return n;
}

/* A stream made by hand: MAGIC, then each (path, exec, data). */
typedef struct sfile {
        const char *path;
        bool exec;
        const char *data;
} sfile_t;

static size_t make_stream(const sfile_t *f, size_t n, char *out)
{
        size_t o = 0;
        memcpy(out, "runcell artifact 1", 19);
        o = 19;
        for (size_t i = 0; i < n; i++) {
                size_t pl = strlen(f[i].path) + 1;
                memcpy(out + o, f[i].path, pl);
                o += pl;
                o +=
                    (size_t)sprintf(out + o, "%c%zu", f[i].exec ? 'x' : '-', strlen(f[i].data)) + 1;
                memcpy(out + o, f[i].data, strlen(f[i].data));
                o += strlen(f[i].data);
        }
        return o;
}

static int memfd_of(const char *data, size_t len)
{
        int fd = memfd_create("stream", MFD_CLOEXEC);
        if (fd >= 0 && len && write(fd, data, len) != (ssize_t)len) {
                close(fd);
                return -1;
        }
        return fd;
}

static const sfile_t FILES[] = {
    {"a.out", true, "\177ELF pretend"},
    {"data/x.txt", false, "some data\n"},
    {"data/y/z", false, ""},
    {"data.txt", false, "after a.out, before data/ ('.' < '/')\n"},
};

static void test_write_stream_unstream(void)
{
        const char *dir = tu_tmpdir();
        REQUIRE(dir);
        char *a = tu_strf("%s/a", dir), *b = tu_strf("%s/b", dir);
        REQUIRE(mkdir(a, 0755) == 0 && mkdir(b, 0755) == 0);
        /* given out of order: written sorted */
        art_file_t files[4];
        size_t order[4] = {3, 1, 0, 2};
        for (size_t i = 0; i < 4; i++) {
                const sfile_t *f = &FILES[order[i]];
                files[i] = (art_file_t){
                    .path = f->path, .exec = f->exec, .data = f->data, .len = strlen(f->data)};
        }
        char sha[65];
        int64_t bytes = 0;
        rc_err_t err = {0};
        REQUIRE(CHECK_OK_E(artifact_write(a, MAX, files, 4, sha, &bytes, &err), err));
        CHECK_INT_EQ(bytes, (long long)(strlen(FILES[0].data) + strlen(FILES[1].data) +
                                        strlen(FILES[3].data)));
        /* the name is the digest of the stream, files in byte order of their paths */
        sfile_t sorted[4] = {FILES[0], FILES[3], FILES[1], FILES[2]};
        char want[4096];
        size_t wl = make_stream(sorted, 4, want);
        char hex[65];
        sha256_hex(want, wl, hex);
        CHECK_STR_EQ(sha, hex);
        char *p = tu_strf("%s/%s/a.out", a, sha);
        struct stat st;
        if (CHECK(stat(p, &st) == 0))
                CHECK_INT_EQ(st.st_mode & 07777, 0555);
        free(p);
        p = tu_strf("%s/%s/data/y/z", a, sha);
        if (CHECK(stat(p, &st) == 0))
                CHECK_INT_EQ(st.st_mode & 07777, 0444);
        free(p);
        /* written again: the same name, nothing added */
        char sha2[65];
        REQUIRE(CHECK_OK_E(artifact_write(a, MAX, files, 4, sha2, &bytes, &err), err));
        CHECK_STR_EQ(sha2, sha);
        CHECK_INT_EQ(entries(a), 1);

        /* its stream is exactly that */
        int out = memfd_create("out", MFD_CLOEXEC);
        int64_t len = 0;
        REQUIRE(CHECK_OK_E(artifact_stream(a, sha, out, &len, &err), err));
        CHECK_INT_EQ(len, (long long)wl);
        char got[4096];
        CHECK_INT_EQ(pread(out, got, sizeof(got), 0), (long long)wl);
        CHECK(memcmp(got, want, wl) == 0);

        /* unpacked elsewhere: the same artifact */
        REQUIRE(CHECK_OK_E(artifact_unstream(b, MAX, out, len, sha, &err), err));
        p = tu_strf("%s/%s/data.txt", b, sha);
        char *text = NULL;
        size_t tl = 0;
        if (CHECK(fs_read_file(p, 4096, &text, &tl, &err) == 0))
                CHECK_STR_EQ(text, FILES[3].data);
        free(text);
        free(p);
        int out2 = memfd_create("out2", MFD_CLOEXEC);
        int64_t len2 = 0;
        CHECK_OK_E(artifact_stream(b, sha, out2, &len2, &err), err);
        CHECK_INT_EQ(len2, len);
        close(out2);

        /* a file of the local copy altered: its stream is refused */
        p = tu_strf("%s/%s/data/x.txt", a, sha);
        REQUIRE(chmod(p, 0644) == 0);
        FILE *fp = fopen(p, "w");
        REQUIRE(fp);
        fputs("other data\n", fp);
        fclose(fp);
        free(p);
        REQUIRE(ftruncate(out, 0) == 0 && lseek(out, 0, SEEK_SET) == 0);
        CHECK_FAIL(artifact_stream(a, sha, out, &len, &err), -EIO);
        CHECK_CONTAINS(err.msg, "not what its name says");
        CHECK_FAIL(
            artifact_stream(a, "0000000000000000000000000000000000000000000000000000000000000000",
                            out, &len, &err),
            -ENOENT);
        close(out);
        /* the empty artifact */
        char e[65];
        REQUIRE(CHECK_OK_E(artifact_write(b, MAX, NULL, 0, e, &bytes, &err), err));
        CHECK_INT_EQ(bytes, 0);
        sha256_hex("runcell artifact 1", 19, hex);
        CHECK_STR_EQ(e, hex);
        free(a);
        free(b);
}

/* A stream that is refused, leaving nothing in the directory. */
static void refused(const char *dir, const char *s, size_t len, const char *sha, int code,
                    const char *words)
{
        int fd = memfd_of(s, len);
        REQUIRE(fd >= 0);
        rc_err_t err = {0};
        CHECK_FAIL(artifact_unstream(dir, MAX, fd, (int64_t)len, sha, &err), -code);
        CHECK_CONTAINS(err.msg, words);
        CHECK_INT_EQ(entries(dir), 0);
        close(fd);
}

static void test_unstream_hostile(void)
{
        const char *dir = tu_tmpdir();
        REQUIRE(dir);
        char s[4096], sha[65];
        /* what it says it is, but altered: its digest is another */
        sfile_t one[] = {{"main", true, "echo hi"}};
        size_t n = make_stream(one, 1, s);
        sha256_hex(s, n, sha);
        s[n - 1] = 'o';
        refused(dir, s, n, sha, EIO, "what the store gave");
        s[n - 1] = 'i';
        /* well formed, named right: taken (the check above is of the digest alone) */
        int fd = memfd_of(s, n);
        rc_err_t err = {0};
        CHECK_OK_E(artifact_unstream(dir, MAX, fd, (int64_t)n, sha, &err), err);
        close(fd);
        char *p = tu_strf("%s/%s", dir, sha);
        CHECK_INT_EQ(artifact_rm_tree(p), 0);
        free(p);
        CHECK_INT_EQ(entries(dir), 0);

        refused(dir, "runcell artifact 2", 19, sha, EINVAL, "not an artifact's stream");
        refused(dir, "", 0, sha, EINVAL, "not an artifact's stream");
        /* paths outside the artifact, or odd ones */
        const char *bad_paths[] = {"../x", "/etc/passwd", "a//b",      "a/./b", "a/",
                                   ".",    "..",          "a/../../b", ""};
        for (size_t i = 0; i < TU_COUNT(bad_paths); i++) {
                sfile_t f[] = {{bad_paths[i], false, "x"}};
                n = make_stream(f, 1, s);
                sha256_hex(s, n, sha);
                refused(dir, s, n, sha, EINVAL, "malformed");
        }
        /* a length past the end, not a number, no kind */
        static const char *const heads[] = {"-99", "-1x", "q1", "-", "-18446744073709551617"};
        for (size_t i = 0; i < TU_COUNT(heads); i++) {
                size_t o = 19;
                memcpy(s, "runcell artifact 1", 19);
                memcpy(s + o, "f", 2);
                o += 2;
                size_t hl = strlen(heads[i]) + 1;
                memcpy(s + o, heads[i], hl);
                o += hl;
                memcpy(s + o, "x", 1);
                o += 1;
                sha256_hex(s, o, sha);
                fd = memfd_of(s, o);
                CHECK(artifact_unstream(dir, MAX, fd, (int64_t)o, sha, &err) == -EINVAL);
                close(fd);
                CHECK_INT_EQ(entries(dir), 0);
        }
        /* a header with no end */
        memcpy(s, "runcell artifact 1\0name-without-end", 35);
        refused(dir, s, 35, sha, EINVAL, "malformed");
        /* out of order, and the same path twice */
        sfile_t disorder[] = {{"b", false, "1"}, {"a", false, "2"}};
        n = make_stream(disorder, 2, s);
        sha256_hex(s, n, sha);
        refused(dir, s, n, sha, EINVAL, "out of order");
        sfile_t twice[] = {{"a", false, "1"}, {"a", false, "2"}};
        n = make_stream(twice, 2, s);
        sha256_hex(s, n, sha);
        refused(dir, s, n, sha, EINVAL, "out of order");
        /* over the size an artifact may have */
        char *big = malloc(MAX + 64);
        REQUIRE(big);
        memset(big, 'y', MAX + 1);
        big[MAX + 1] = '\0';
        sfile_t huge[] = {{"big", false, big}};
        char *hs = malloc(MAX + 128);
        REQUIRE(hs);
        n = make_stream(huge, 1, hs);
        sha256_hex(hs, n, sha);
        refused(dir, hs, n, sha, EINVAL, "length");
        free(hs);
        free(big);
}

/* ---- the transfer queue, against a store that cannot be reached ---- */

static pthread_mutex_t wmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wcv = PTHREAD_COND_INITIALIZER;
static int wakes;

static void on_wake(void *ud)
{
        (void)ud;
        pthread_mutex_lock(&wmu);
        wakes++;
        pthread_cond_signal(&wcv);
        pthread_mutex_unlock(&wmu);
}

static void test_xferq_unreachable(void)
{
        const char *dir = tu_tmpdir();
        REQUIRE(dir);
        store_opts_t so;
        memset(&so, 0, sizeof(so));
        xferq_t *q = NULL;
        rc_err_t err = {0};
        REQUIRE(CHECK_OK_E(xferq_new("postgresql://nobody@127.0.0.1:1/none?connect_timeout=5", &so,
                                     dir, MAX, &q, &err),
                           err));
        xferq_set_wake(q, on_wake, NULL);
        char sha[65];
        memset(sha, 'a', 64);
        sha[64] = '\0';
        int me = 0, other = 0;
        CHECK_INT_EQ(xferq_submit(q, XFER_GET, sha, &me), 0);
        CHECK_INT_EQ(xferq_submit(q, XFER_PUT, sha, &other), 0);
        xferq_forget(q, &other);
        pthread_mutex_lock(&wmu);
        while (wakes < 2)
                pthread_cond_wait(&wcv, &wmu);
        pthread_mutex_unlock(&wmu);
        xfer_t *d = xferq_done(q);
        if (CHECK(d && d->next && !d->next->next)) {
                CHECK_INT_EQ(d->kind, XFER_GET);
                CHECK(d->ud == &me);
                CHECK(d->rc < 0);
                CHECK(d->msg[0] != '\0');
                CHECK_INT_EQ(d->next->kind, XFER_PUT);
                CHECK(d->next->ud == NULL); /* forgotten */
                CHECK(d->next->rc < 0);
        }
        while (d) {
                xfer_t *n = d->next;
                free(d);
                d = n;
        }
        CHECK(xferq_done(q) == NULL);
        /* freed with work still queued: the thread stops, nothing leaks */
        CHECK_INT_EQ(xferq_submit(q, XFER_GET, sha, NULL), 0);
        xferq_free(q);
        CHECK_INT_EQ(entries(dir), 0);
}

int main(int argc, char **argv)
{
        static const tu_test_t tests[] = {
            TU_TEST(test_write_stream_unstream),
            TU_TEST(test_unstream_hostile),
            TU_TEST(test_xferq_unreachable),
        };
        return tu_main("test_artifacts", tests, TU_COUNT(tests), argc, argv);
}
