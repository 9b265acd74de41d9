/* The files a run asks back: pattern matching (util/glob), the sandbox side that finds and opens
 * them (sb_collect_outputs), the limits that bound what comes back (job_outputs_read). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "job/limits.h"
#include "job/outputs.h"
#include "job/result_json.h"
#include "sandbox/sandbox-internal.h"
#include "testutil.h"
#include "util/glob.h"

static bool m1(const char *pat, const char *name)
{
        return glob_match_component(pat, strlen(pat), name, strlen(name));
}

static void test_component(void)
{
        CHECK(m1("*", "a"));
        CHECK(m1("*", ""));
        CHECK(m1("*.png", "plot.png"));
        CHECK(m1("*.png", ".png.png") == false); /* a leading dot is not taken by '*' */
        CHECK(!m1("*.png", ".x.png"));
        CHECK(m1(".*.png", ".x.png"));
        CHECK(!m1("?x", ".x"));
        CHECK(!m1("[.]x", ".x"));
        CHECK(m1("*.png", "a.b.png"));
        CHECK(!m1("*.png", "plot.pn"));
        CHECK(!m1("*.png", "plot.png.txt"));
        CHECK(m1("a*b*c", "aXXbYYbc"));
        CHECK(!m1("a*b*c", "aXXbYYbd"));
        CHECK(m1("p?ot.png", "plot.png"));
        CHECK(!m1("p?ot.png", "pot.png"));
        CHECK(m1("[a-c]x", "bx"));
        CHECK(!m1("[a-c]x", "dx"));
        CHECK(m1("[!a-c]x", "dx"));
        CHECK(m1("[^a-c]x", "dx"));
        CHECK(!m1("[!a-c]x", "ax"));
        CHECK(m1("[]]", "]"));
        CHECK(m1("[!]]", "a"));
        CHECK(m1("\\*", "*"));
        CHECK(!m1("\\*", "a"));
        CHECK(m1("[abc", "[abc")); /* an unclosed '[' is literal */
        CHECK(m1("**", "abc"));
        CHECK(m1("*a", "aaaa"));
        /* bytes, not characters: '?' is one byte */
        CHECK(m1("caf??", "caf\xc3\xa9"));
        CHECK(m1("*", "bad\xff"));
        /* many stars do not blow up */
        CHECK(!m1("*a*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}

static void test_path(void)
{
        CHECK(glob_match("*.png", "plot.png"));
        CHECK(!glob_match("*.png", "sub/plot.png")); /* '*' does not cross '/' */
        CHECK(glob_match("*/*.png", "sub/plot.png"));
        CHECK(glob_match("out/*", "out/a"));
        CHECK(!glob_match("out/*", "out/a/b"));
        CHECK(!glob_match("out/*", "out"));
        CHECK(glob_match("a/b/c/d", "a/b/c/d"));
        CHECK(glob_match_dir("out/*", "out"));
        CHECK(!glob_match_dir("out/*", "other"));
        CHECK(!glob_match_dir("out/*", "out/x")); /* nothing deeper can match */
        CHECK(glob_match_dir("*/x/*.png", "a"));
        CHECK(glob_match_dir("*/x/*.png", "a/x"));
        CHECK(!glob_match_dir("*/x/*.png", "a/y"));
        CHECK(!glob_match_dir("*.png", "dir"));
        CHECK_INT_EQ(glob_depth("a/b/c"), 3);
}

static void test_pattern_valid(void)
{
        const char *why = NULL;
        CHECK(glob_pattern_valid("*.png", &why) && !why);
        CHECK(glob_pattern_valid("out/*", &why));
        CHECK(glob_pattern_valid("a/b/c/*.png", &why));
        CHECK(glob_pattern_valid("[]]x", &why));
        const char *bad[] = {"",          "/etc/passwd", "../x", "a/../b", "./x",   "a//b", "a/",
                             "a/b/c/d/e", "[abc",        "x\\",  "a\nb",   "a\x7f", "[a/b]"};
        for (size_t i = 0; i < TU_COUNT(bad); i++) {
                why = NULL;
                if (!CHECK(!glob_pattern_valid(bad[i], &why)))
                        FAIL("pattern %zu was taken", i);
                CHECK(why != NULL);
        }
        char big[GLOB_PATTERN_MAX + 2];
        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        CHECK(!glob_pattern_valid(big, &why));
        big[GLOB_PATTERN_MAX] = '\0';
        CHECK(glob_pattern_valid(big, &why));
}

static void test_names(void)
{
        CHECK(job_output_name_ok("plot.png"));
        CHECK(job_output_name_ok("caf\xc3\xa9/\xe2\x82\xac.txt"));
        CHECK(!job_output_name_ok("new\nline"));
        CHECK(!job_output_name_ok("tab\t"));
        CHECK(!job_output_name_ok("bad\xff"));
        CHECK(!job_output_name_ok("c1\xc2\x85"));
        CHECK(!job_output_name_ok("del\x7f"));
        CHECK(sb_output_path_ok("a/b c/\n"));
        CHECK(!sb_output_path_ok("/a"));
        CHECK(!sb_output_path_ok("a/../b"));
        CHECK(!sb_output_path_ok("a//b"));
        CHECK(!sb_output_path_ok(""));
}

static void test_limits_keys(void)
{
        cJSON *j = cJSON_Parse("{\"outputs_count\": 5, \"outputs_file_bytes\": 100,"
                               " \"outputs_total_bytes\": 1000}");
        rc_limits_t lim = {0};
        rc_err_t err = {0};
        CHECK_OK_E(limits_from_json(j, &lim, "limits", &err), err);
        cJSON_Delete(j);
        CHECK_INT_EQ(lim.outputs_count, 5);
        CHECK_INT_EQ(lim.outputs_file_bytes, 100);
        CHECK_INT_EQ(lim.outputs_total_bytes, 1000);
        j = cJSON_Parse("{\"outputs_count\": 1001}");
        CHECK(limits_from_json(j, &lim, "limits", &err) < 0);
        cJSON_Delete(j);
        rc_limits_t d = {0};
        limits_fill_defaults(&d);
        CHECK_INT_EQ(d.outputs_count, 100);
        CHECK_INT_EQ(d.outputs_file_bytes, 4 << 20);
        CHECK_INT_EQ(d.outputs_total_bytes, 8 << 20);
        rc_limits_t max = {.outputs_count = 2, .outputs_total_bytes = 10};
        limits_clamp(&d, &max);
        CHECK_INT_EQ(d.outputs_count, 2);
        CHECK_INT_EQ(d.outputs_total_bytes, 10);
        CHECK_INT_EQ(d.outputs_file_bytes, 4 << 20);
}

/* A /work of files, symlinks and a FIFO; what sb_collect_outputs sends for patterns. */
static void collect(const char *work, const char *const *pats, size_t n, long max, sb_result_t *res,
                    int *rc)
{
        int wfd = open(work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        REQUIRE(wfd >= 0);
        int sv[2];
        REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
        /* the socket's buffer is enough for these few messages */
        *rc = sb_collect_outputs(sv[0], wfd, pats, n, max);
        close(sv[0]);
        close(wfd);
        memset(res, 0, sizeof(*res));
        res->files = calloc(1100, sizeof(*res->files));
        sb_msg_t m;
        int fd;
        while (sb_msg_recv(sv[1], &m, &fd) == 0) {
                CHECK_INT_EQ(m.type, SB_MSG_OUTPUT);
                CHECK((m.a >= 0) == (fd >= 0));
                CHECK(sb_output_path_ok(m.text));
                res->files[res->nfiles++] = (sb_file_t){
                    .path = strdup(m.text), .mode = m.a >= 0 ? (mode_t)m.a : 0, .fd = fd};
        }
        close(sv[1]);
        res->files_over = *rc == -EMFILE;
}

static const sb_file_t *find(const sb_result_t *r, const char *path)
{
        for (size_t i = 0; i < r->nfiles; i++)
                if (strcmp(r->files[i].path, path) == 0)
                        return &r->files[i];
        return NULL;
}

static void test_collect(void)
{
        const char *dir = tu_tmpdir();
        char *work = tu_strf("%s/work", dir);
        REQUIRE(mkdir(work, 0755) == 0);
        tu_sh("cd '%s' && mkdir -p sub/deep out && printf hello > out.txt && printf png > a.png"
              " && printf s > sub/x.csv && printf d > sub/deep/y.csv && printf h > .h.txt"
              " && ln -s /etc/passwd x.png && ln -s /etc sub/link && mkfifo f.png"
              " && printf n > notes.md && printf 'b' > \"$(printf 'bad\\377.txt')\"",
              work);
        const char *pats[] = {"*.txt", "*.png", "sub/*", "sub/link/*", "none/*"};
        sb_result_t r;
        int rc;
        collect(work, pats, TU_COUNT(pats), 100, &r, &rc);
        CHECK_OK(rc);
        /* out.txt, bad\377.txt, a.png, x.png, f.png, sub/x.csv, sub/link */
        CHECK_INT_EQ(r.nfiles, 7);
        const sb_file_t *f = find(&r, "out.txt");
        char buf[16] = "";
        CHECK(f && f->fd >= 0 && pread(f->fd, buf, sizeof(buf), 0) == 5 &&
              memcmp(buf, "hello", 5) == 0);
        CHECK(f && f->mode == 0644);
        f = find(&r, "x.png");
        CHECK(f && f->fd < 0); /* the symlink: named, not opened */
        f = find(&r, "f.png");
        CHECK(f && f->fd < 0);
        CHECK(find(&r, "sub/x.csv") != NULL);
        CHECK(find(&r, "sub/deep") == NULL);
        f = find(&r, "sub/link"); /* matched by "sub/" "*": named, not opened, not entered */
        CHECK(f && f->fd < 0);
        CHECK(find(&r, "sub/link/passwd") == NULL);
        CHECK(find(&r, ".h.txt") == NULL);
        CHECK(find(&r, "bad\377.txt") != NULL);

        /* the limits: the two first in byte order of the three .png */
        rc_limits_t lim = {
            .outputs_count = 100, .outputs_file_bytes = 4, .outputs_total_bytes = 100};
        stage_result_t sr = {0};
        CHECK_OK(job_outputs_read(&r, &lim, &sr));
        CHECK(sr.outputs && sr.files_truncated);
        REQUIRE(sr.nfiles == 7);
        CHECK_STR_EQ(sr.files[0].name, "a.png");
        CHECK(sr.files[0].data && memcmp(sr.files[0].data, "png", 3) == 0);
        CHECK_STR_EQ(sr.files[1].name, "bad\377.txt");
        CHECK_STR_EQ(sr.files[1].skipped, "bad_name");
        CHECK_STR_EQ(sr.files[2].name, "f.png");
        CHECK_STR_EQ(sr.files[2].skipped, "not_regular");
        CHECK_INT_EQ(sr.files[2].size, -1);
        CHECK_STR_EQ(sr.files[3].name, "out.txt");
        CHECK_STR_EQ(sr.files[3].skipped, "too_large"); /* 5 bytes over 4 */
        CHECK_INT_EQ(sr.files[3].size, 5);
        CHECK(sr.files[3].data == NULL);
        CHECK_STR_EQ(sr.files[4].name, "sub/link");
        CHECK_STR_EQ(sr.files[4].skipped, "not_regular");
        CHECK_STR_EQ(sr.files[5].name, "sub/x.csv");
        CHECK(sr.files[5].data && sr.files[5].data[0] == 's');
        cJSON *j = output_files_json(&sr);
        char *text = cJSON_PrintUnformatted(j);
        CHECK_CONTAINS(text, "{\"name\":\"a.png\",\"size\":3,\"mode\":420,\"content\":\"cG5n\"}");
        CHECK_CONTAINS(text, "{\"name\":\"x.png\",\"size\":null,\"skipped\":\"not_regular\"}");
        free(text);
        cJSON_Delete(j);
        job_outputs_free(&sr);

        lim.outputs_file_bytes = 100;
        lim.outputs_total_bytes = 5;
        sr = (stage_result_t){0};
        CHECK_OK(job_outputs_read(&r, &lim, &sr));
        CHECK(sr.files[0].data != NULL);                  /* a.png, 3 bytes */
        CHECK_STR_EQ(sr.files[3].skipped, "total_limit"); /* out.txt: 3 + 5 > 5 */
        CHECK(sr.files[5].data != NULL);                  /* sub/x.csv: 3 + 1 */
        job_outputs_free(&sr);
        lim.outputs_count = 2;
        sr = (stage_result_t){0};
        CHECK_OK(job_outputs_read(&r, &lim, &sr));
        CHECK_INT_EQ(sr.nfiles, 2);
        CHECK(sr.files_truncated);
        job_outputs_free(&sr);
        sb_files_free(r.files, r.nfiles);

        /* more matches than max: the first max in byte order, whatever the directory's order */
        char *many = tu_strf("%s/many", dir);
        REQUIRE(mkdir(many, 0755) == 0);
        tu_sh("cd '%s' && for i in $(seq 1 300); do printf $i > f$i.txt; done", many);
        const char *all[] = {"*"};
        collect(many, all, 1, 5, &r, &rc);
        CHECK_FAIL(rc, -EMFILE);
        REQUIRE(r.nfiles == 5);
        const char *want[] = {"f1.txt", "f10.txt", "f100.txt", "f101.txt", "f102.txt"};
        for (size_t i = 0; i < 5; i++)
                CHECK_STR_EQ(r.files[i].path, want[i]);
        sb_files_free(r.files, r.nfiles);
        free(many);
        free(work);
}

/* The patterns travel in the sandbox request; a bad one does not pass the child's decoding. */
static void test_request_roundtrip(void)
{
        char *argv[] = {"python3", "main.py", NULL};
        char *envp[] = {"PATH=/usr/bin", NULL};
        char *outs[] = {"*.png", "out/*", NULL};
        sb_run_t run = {.argv = argv, .envp = envp, .outputs = outs};
        run.limits.outputs_count = 7;
        buf_t b = {0};
        REQUIRE(sb_req_encode(&run, &b) == 0);
        static sb_child_req_t req;
        memset(&req, 0, sizeof(req));
        CHECK_OK(sb_req_decode(b.data, b.len, &req));
        CHECK_INT_EQ(req.noutputs, 2);
        CHECK_STR_EQ(req.outputs[0], "*.png");
        CHECK_STR_EQ(req.outputs[1], "out/*");
        CHECK(req.outputs[2] == NULL);
        CHECK(!req.collect);
        CHECK_INT_EQ(req.limits.outputs_count, 7);
        CHECK_STR_EQ(req.argv[1], "main.py");
        buf_free(&b);
        char *bad[] = {"../x", NULL};
        run.outputs = bad;
        b = (buf_t){0};
        REQUIRE(sb_req_encode(&run, &b) == 0);
        memset(&req, 0, sizeof(req));
        CHECK_FAIL(sb_req_decode(b.data, b.len, &req), -EBADMSG);
        buf_free(&b);
}

int main(int argc, char **argv)
{
        static const tu_test_t tests[] = {
            TU_TEST(test_component),         TU_TEST(test_path),
            TU_TEST(test_pattern_valid),     TU_TEST(test_names),
            TU_TEST(test_limits_keys),       TU_TEST(test_collect),
            TU_TEST(test_request_roundtrip),
        };
        return tu_main("test_outputs", tests, TU_COUNT(tests), argc, argv);
}
