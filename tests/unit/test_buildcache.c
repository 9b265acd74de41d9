/* job/buildcache: entries kept whole by key, read back as fds, bounded with the least recently
 * used going first, and nothing taken from a damaged entry. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "job/buildcache.h"
#include "testutil.h"
#include "util/sha256.h"

static char dir[256];

static void rm_rf(const char *path)
{
        char cmd[600];
        snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", path);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", path);
}

static int memfd_with(const char *data, size_t len)
{
        int fd = memfd_create("t", MFD_CLOEXEC);
        if (fd >= 0 && write(fd, data, len) != (ssize_t)len) {
                close(fd);
                return -1;
        }
        return fd;
}

static void key_of(const char *what, char key[BUILDCACHE_KEY_LEN])
{
        sha256_hex(what, strlen(what), key);
}

static char *read_fd(int fd, size_t *len)
{
        struct stat st;
        if (fstat(fd, &st) < 0)
                return NULL;
        char *b = calloc(1, (size_t)st.st_size + 1);
        if (b && pread(fd, b, (size_t)st.st_size, 0) != st.st_size) {
                free(b);
                return NULL;
        }
        *len = (size_t)st.st_size;
        return b;
}

static void test_put_get(void)
{
        buildcache_t *bc;
        rc_err_t err = {0};
        CHECK_INT_EQ(buildcache_open(dir, 0, &bc, &err), 0);
        char key[BUILDCACHE_KEY_LEN];
        key_of("one", key);
        sb_result_t got;
        buf_t out = {0}, errb = {0};
        CHECK_INT_EQ(buildcache_get(bc, key, &got, &out, &errb), 0); /* not there yet */
        sb_file_t files[2] = {
            {.path = "main", .mode = 0755, .fd = memfd_with("\177ELF...", 7)},
            {.path = "sub/dir/data.txt", .mode = 0644, .fd = memfd_with("hello\n", 6)},
        };
        CHECK_INT_EQ(buildcache_put(bc, key, files, 2, "out", 3, "warning: x\n", 11), 0);
        CHECK_INT_EQ(buildcache_put(bc, key, files, 2, "other", 5, "", 0), 0); /* kept as was */
        CHECK_INT_EQ(buildcache_get(bc, key, &got, &out, &errb), 1);
        CHECK_INT_EQ(got.nfiles, 2);
        if (got.nfiles == 2) {
                CHECK_STR_EQ(got.files[0].path, "main");
                CHECK_INT_EQ(got.files[0].mode, 0755);
                CHECK_STR_EQ(got.files[1].path, "sub/dir/data.txt");
                CHECK_INT_EQ(got.files[1].mode, 0644);
                size_t n = 0;
                char *b = read_fd(got.files[1].fd, &n);
                CHECK(b && n == 6 && memcmp(b, "hello\n", 6) == 0);
                free(b);
        }
        CHECK(out.len == 3 && memcmp(out.data, "out", 3) == 0);
        CHECK(errb.len == 11 && memcmp(errb.data, "warning: x\n", 11) == 0);
        sb_result_free(&got);
        buf_free(&out);
        buf_free(&errb);
        close(files[0].fd);
        close(files[1].fd);
        /* a bad key is never looked up or written */
        CHECK_INT_EQ(buildcache_get(bc, "../../etc", &got, &out, &errb), 0);
        CHECK(buildcache_put(bc, "ABC", NULL, 0, "", 0, "", 0) < 0);
        /* a file name that escapes is refused, and nothing is kept */
        char key2[BUILDCACHE_KEY_LEN];
        key_of("two", key2);
        sb_file_t bad = {.path = "../x", .mode = 0644, .fd = memfd_with("x", 1)};
        CHECK(buildcache_put(bc, key2, &bad, 1, "", 0, "", 0) < 0);
        CHECK_INT_EQ(buildcache_get(bc, key2, &got, &out, &errb), 0);
        close(bad.fd);
        buildcache_close(bc);
}

static void test_damaged_entry(void)
{
        buildcache_t *bc;
        rc_err_t err = {0};
        CHECK_INT_EQ(buildcache_open(dir, 0, &bc, &err), 0);
        char key[BUILDCACHE_KEY_LEN];
        key_of("damaged", key);
        sb_file_t f = {.path = "main", .mode = 0755, .fd = memfd_with("12345678", 8)};
        CHECK_INT_EQ(buildcache_put(bc, key, &f, 1, "", 0, "", 0), 0);
        close(f.fd);
        /* the file shorter than the list says: the entry is not used */
        char path[600];
        snprintf(path, sizeof(path), "%s/%.2s/%s/files/main", dir, key, key);
        CHECK_INT_EQ(truncate(path, 3), 0);
        sb_result_t got;
        buf_t out = {0}, errb = {0};
        CHECK_INT_EQ(buildcache_get(bc, key, &got, &out, &errb), 0);
        CHECK_INT_EQ(out.len, 0);
        buildcache_close(bc);
}

static void test_bound(void)
{
        char sub[300];
        snprintf(sub, sizeof(sub), "%s/bounded", dir);
        buildcache_t *bc;
        rc_err_t err = {0};
        CHECK_INT_EQ(buildcache_open(sub, 1 << 20, &bc, &err), 0); /* 1 MiB */
        static char big[400 * 1024];
        memset(big, 'x', sizeof(big));
        char keys[4][BUILDCACHE_KEY_LEN];
        for (int i = 0; i < 4; i++) {
                char name[16];
                snprintf(name, sizeof(name), "build%d", i);
                key_of(name, keys[i]);
                sb_file_t f = {.path = "main", .mode = 0755, .fd = memfd_with(big, sizeof(big))};
                CHECK_INT_EQ(buildcache_put(bc, keys[i], &f, 1, "", 0, "", 0), 0);
                close(f.fd);
                if (i == 1) {
                        /* build0 used again: build1 becomes the least recently used */
                        struct timespec ts = {0, 20 * 1000 * 1000};
                        nanosleep(&ts, NULL);
                        sb_result_t got;
                        buf_t out = {0}, errb = {0};
                        CHECK_INT_EQ(buildcache_get(bc, keys[0], &got, &out, &errb), 1);
                        sb_result_free(&got);
                        nanosleep(&ts, NULL);
                }
        }
        CHECK(buildcache_bytes(bc) <= 1 << 20);
        sb_result_t got;
        buf_t out = {0}, errb = {0};
        CHECK_INT_EQ(buildcache_get(bc, keys[1], &got, &out, &errb), 0); /* evicted first */
        CHECK_INT_EQ(buildcache_get(bc, keys[3], &got, &out, &errb), 1); /* the newest stays */
        sb_result_free(&got);
        buildcache_close(bc);
}

int main(int argc, char **argv)
{
        snprintf(dir, sizeof(dir), "/tmp/runcell-test-buildcache-%d", (int)getpid());
        static const tu_test_t tests[] = {
            TU_TEST(test_put_get),
            TU_TEST(test_damaged_entry),
            TU_TEST(test_bound),
        };
        int r = tu_main("test_buildcache", tests, TU_COUNT(tests), argc, argv);
        rm_rf(dir);
        return r;
}
