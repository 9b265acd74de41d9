/* The on-disk cache of compiled seccomp programs (src/seccomp/cache.c): the same program as a
 * compile, taken from the cache only for the very same profile text, never from a file someone
 * else may write, and one file per profile. */
#include <dirent.h>
#include <linux/filter.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "seccomp/cache.h"
#include "testutil.h"
#include "util/fs.h"

static char *cache_file(const char *dir)
{
        DIR *d = opendir(dir);
        char *found = NULL;
        for (struct dirent *e; d && (e = readdir(d));)
                if (strstr(e->d_name, ".bpf") && e->d_name[0] != '.') {
                        free(found);
                        found = tu_strf("%s/%s", dir, e->d_name);
                }
        if (d)
                closedir(d);
        return found;
}

static int count_files(const char *dir)
{
        DIR *d = opendir(dir);
        int n = 0;
        for (struct dirent *e; d && (e = readdir(d));)
                n += e->d_name[0] != '.';
        if (d)
                closedir(d);
        return n;
}

static bool same(const seccomp_bpf_t *a, const seccomp_bpf_t *b)
{
        return a->len == b->len && memcmp(a->insns, b->insns, a->len * sizeof(*a->insns)) == 0;
}

static void test_cache_same_program(void)
{
        char *src = tu_strf("%s/seccomp-profiles/default.json", tu_source_dir());
        char *text = NULL;
        size_t len = 0;
        CHECK_OK(fs_read_file(src, 1 << 20, &text, &len, NULL));
        char *profile = tu_write_file(tu_tmpdir(), "default.json", text, len);
        char *cache = tu_strf("%s/cache", tu_tmpdir());
        rc_err_t err = {0};
        seccomp_bpf_t compiled = {0}, first = {0}, second = {0};
        CHECK_OK_E(seccomp_profile_load_file(profile, &compiled, &err), err);
        CHECK_OK_E(seccomp_profile_load_cached(profile, cache, &first, &err), err);
        char *file = cache_file(cache);
        CHECK(file != NULL);
        CHECK(same(&compiled, &first));
        CHECK_STR_EQ(first.name, "default");
        /* the second load reads the file: make that visible by its modification time staying */
        struct stat st1, st2;
        CHECK_OK(stat(file, &st1));
        CHECK_OK_E(seccomp_profile_load_cached(profile, cache, &second, &err), err);
        CHECK_OK(stat(file, &st2));
        CHECK(st1.st_ino == st2.st_ino);
        CHECK(same(&compiled, &second));
        CHECK_STR_EQ(second.name, "default");

        /* an edited profile (here: a trailing space) no longer matches the cached key: it is
         * compiled anew and its file replaces the old one */
        seccomp_bpf_t edited = {0}, edited_compiled = {0};
        char *text2 = tu_strf("%.*s", (int)len, text);
        char *text3 = tu_strf("%s ", text2);
        free(tu_write_file(tu_tmpdir(), "default.json", text3, strlen(text3)));
        CHECK_OK_E(seccomp_profile_load_cached(profile, cache, &edited, &err), err);
        CHECK_OK_E(seccomp_profile_load_file(profile, &edited_compiled, &err), err);
        CHECK(same(&edited, &edited_compiled));
        char *file2 = cache_file(cache);
        CHECK(file2 && strcmp(file, file2) != 0);
        CHECK_INT_EQ(count_files(cache), 1); /* one per profile */

        /* a cache file others may write is never read: make it group-writable and corrupt the
         * program; the load must compile and give the right program */
        CHECK_OK(chmod(file2, 0664));
        FILE *f = fopen(file2, "r+");
        CHECK(f != NULL);
        fseek(f, -8, SEEK_END);
        fputs("XXXXXXXX", f);
        fclose(f);
        seccomp_bpf_t third = {0};
        CHECK_OK_E(seccomp_profile_load_cached(profile, cache, &third, &err), err);
        CHECK(same(&third, &edited_compiled));

        /* a truncated file is not taken either */
        char *file3 = cache_file(cache);
        CHECK_OK(truncate(file3, 40));
        free(file3);
        seccomp_bpf_t fourth = {0};
        CHECK_OK_E(seccomp_profile_load_cached(profile, cache, &fourth, &err), err);
        CHECK(same(&fourth, &edited_compiled));

        /* no cache directory: the plain compile */
        seccomp_bpf_t none = {0};
        CHECK_OK_E(seccomp_profile_load_cached(profile, NULL, &none, &err), err);
        CHECK(same(&none, &edited_compiled));

        /* a broken profile is an error, as without the cache */
        free(tu_write_str(tu_tmpdir(), "default.json", "{\"defaultAction\": 42}"));
        seccomp_bpf_t bad = {0};
        CHECK(seccomp_profile_load_cached(profile, cache, &bad, &err) < 0);
        CHECK(bad.insns == NULL);

        seccomp_bpf_t *all[] = {&compiled,        &first, &second, &edited,
                                &edited_compiled, &third, &fourth, &none};
        for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
                seccomp_bpf_free(all[i]);
        free(src);
        free(text);
        free(text2);
        free(text3);
        free(profile);
        free(cache);
        free(file);
        free(file2);
}

int main(int argc, char **argv)
{
        static const tu_test_t tests[] = {TU_TEST(test_cache_same_program)};
        return tu_main("test_seccomp_cache", tests, TU_COUNT(tests), argc, argv);
}
