/* protocol/judge0: statuses, the verdict of a run, Ruby's Base64 forms, the fields argument,
 * decimals and command-line arguments as Judge0 CE has them. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/judge0.h"
#include "testutil.h"

static void test_status_names(void)
{
        CHECK(judge0_status_name(0) == NULL);
        CHECK(judge0_status_name(15) == NULL);
        CHECK_STR_EQ(judge0_status_name(1), "In Queue");
        CHECK_STR_EQ(judge0_status_name(3), "Accepted");
        CHECK_STR_EQ(judge0_status_name(6), "Compilation Error");
        CHECK_STR_EQ(judge0_status_name(8), "Runtime Error (SIGXFSZ)");
        CHECK_STR_EQ(judge0_status_name(12), "Runtime Error (Other)");
        CHECK_STR_EQ(judge0_status_name(14), "Exec Format Error");
}

static stage_result_t stage(stage_status_t st, int code, int sig, int64_t cpu_ms)
{
        stage_result_t r;
        memset(&r, 0, sizeof(r));
        r.present = true;
        r.status = st;
        r.exit_code = code;
        r.signal = sig;
        r.cpu_ms = cpu_ms;
        return r;
}

static void test_run_status(void)
{
        char msg[200];
        int sig;
        stage_result_t r = stage(STATUS_OK, 0, 0, 10);
        CHECK_INT_EQ(judge0_run_status(&r, 5000, true, &sig, msg, sizeof(msg)), J0_ACCEPTED);
        CHECK_INT_EQ(sig, 0);
        CHECK_STR_EQ(msg, "");
        CHECK_INT_EQ(judge0_run_status(&r, 5000, false, &sig, msg, sizeof(msg)), J0_WRONG_ANSWER);
        /* past cpu_time_limit within the extra time: a time limit all the same */
        r = stage(STATUS_OK, 0, 0, 1200);
        CHECK_INT_EQ(judge0_run_status(&r, 1000, true, &sig, msg, sizeof(msg)), J0_TLE);
        CHECK_STR_EQ(msg, "Time limit exceeded");
        r = stage(STATUS_TIME_LIMIT, -1, SIGKILL, 2000);
        r.limit_kind = "wall";
        CHECK_INT_EQ(judge0_run_status(&r, 1000, true, &sig, msg, sizeof(msg)), J0_TLE);
        CHECK_STR_EQ(msg, "Time limit exceeded (wall clock)");
        CHECK_INT_EQ(sig, SIGKILL);
        /* a runtime error wins over the output */
        r = stage(STATUS_RUNTIME_ERROR, 3, 0, 10);
        CHECK_INT_EQ(judge0_run_status(&r, 1000, false, &sig, msg, sizeof(msg)), J0_NZEC);
        CHECK_STR_EQ(msg, "Exited with error status 3");
        static const struct {
                int sig, want;
        } sigs[] = {{SIGSEGV, J0_SIGSEGV}, {SIGXFSZ, J0_SIGXFSZ}, {SIGFPE, J0_SIGFPE},
                    {SIGABRT, J0_SIGABRT}, {SIGBUS, J0_OTHER},    {SIGKILL, J0_OTHER}};
        for (size_t i = 0; i < TU_COUNT(sigs); i++) {
                r = stage(STATUS_RUNTIME_ERROR, -1, sigs[i].sig, 10);
                CHECK_INT_EQ(judge0_run_status(&r, 1000, true, &sig, msg, sizeof(msg)),
                             sigs[i].want);
                CHECK_INT_EQ(sig, sigs[i].sig);
        }
        /* the memory limit: the OOM killer's SIGKILL, "Runtime Error (Other)" as in Judge0 */
        r = stage(STATUS_MEMORY_LIMIT, -1, 0, 10);
        CHECK_INT_EQ(judge0_run_status(&r, 1000, true, &sig, msg, sizeof(msg)), J0_OTHER);
        CHECK_INT_EQ(sig, SIGKILL);
        CHECK_STR_EQ(msg, "Caught fatal signal 9");
        r = stage(STATUS_OUTPUT_LIMIT, -1, 0, 10);
        CHECK_INT_EQ(judge0_run_status(&r, 1000, true, &sig, msg, sizeof(msg)), J0_SIGXFSZ);
        r = stage(STATUS_INTERNAL_ERROR, -1, 0, -1);
        snprintf(r.error, sizeof(r.error), "clone failed");
        CHECK_INT_EQ(judge0_run_status(&r, 1000, true, &sig, msg, sizeof(msg)), J0_INTERNAL);
        CHECK_STR_EQ(msg, "clone failed");
}

static void check_b64(const char *in, size_t len, const char *want)
{
        buf_t b = {0};
        judge0_b64_encode(in, len, &b);
        CHECK_STR_EQ(b.data, want);
        buf_t d = {0};
        judge0_b64_decode(b.data, b.len, &d);
        CHECK(d.len == len && memcmp(d.data, in, len) == 0);
        buf_free(&b);
        buf_free(&d);
}

static void test_base64_ruby_form(void)
{
        check_b64("", 0, "");
        check_b64("a", 1, "YQ==\n");
        check_b64("ab", 2, "YWI=\n");
        check_b64("hello, Judge0\n", 14, "aGVsbG8sIEp1ZGdlMAo=\n");
        /* 45 bytes are 60 characters: one full line */
        char in[91];
        memset(in, 'x', 90);
        in[90] = '\0';
        check_b64(in, 45, "eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4\n");
        check_b64(in, 46, "eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4\neA==\n");
        check_b64("\xfe\x00\xff", 3, "/gD/\n");
}

static void test_base64_lenient_decode(void)
{
        buf_t d = {0};
        judge0_b64_decode("SnVk\nZ2Uw", 9, &d); /* line breaks */
        CHECK_STR_EQ(d.data, "Judge0");
        buf_free(&d);
        judge0_b64_decode("SnVkZ2Uw!!", 10, &d); /* junk skipped */
        CHECK_STR_EQ(d.data, "Judge0");
        buf_free(&d);
        judge0_b64_decode("YQ", 2, &d); /* no padding */
        CHECK_STR_EQ(d.data, "a");
        buf_free(&d);
        judge0_b64_decode("YQ==YWI=", 8, &d); /* the first '=' ends it */
        CHECK_STR_EQ(d.data, "a");
        buf_free(&d);
}

static int idx(const char *name)
{
        for (int i = 0; i < J0_NFIELDS; i++)
                if (strcmp(judge0_fields[i], name) == 0)
                        return i;
        return -1;
}

static void test_fields(void)
{
        char bad[200];
        uint64_t d = judge0_default_fields();
        CHECK(d & (1ull << idx("token")));
        CHECK(d & (1ull << idx("status")));
        CHECK(!(d & (1ull << idx("source_code"))));
        CHECK(judge0_parse_fields(NULL, bad, sizeof(bad)) == d);
        CHECK(judge0_parse_fields("", bad, sizeof(bad)) == d);
        CHECK(judge0_parse_fields(",,", bad, sizeof(bad)) == d);
        uint64_t all = judge0_parse_fields("*", bad, sizeof(bad));
        CHECK(all == (1ull << J0_NFIELDS) - 1);
        CHECK(judge0_parse_fields("stdout,*", bad, sizeof(bad)) == all);
        uint64_t m = judge0_parse_fields("stdout,language_id", bad, sizeof(bad));
        CHECK(m == ((1ull << idx("stdout")) | (1ull << idx("language_id"))));
        CHECK(judge0_parse_fields("stdout,foo,bar", bad, sizeof(bad)) == 0);
        CHECK_STR_EQ(bad, "foo, bar");
        CHECK(judge0_parse_fields("id", bad, sizeof(bad)) == 0); /* not an attribute */
        CHECK_STR_EQ(judge0_fields[0], "source_code");
        CHECK_STR_EQ(judge0_fields[J0_NFIELDS - 1], "language");
}

static void test_decimal(void)
{
        char d[32];
        judge0_decimal(5, d, sizeof(d));
        CHECK_STR_EQ(d, "5.0");
        judge0_decimal(0.5, d, sizeof(d));
        CHECK_STR_EQ(d, "0.5");
        judge0_decimal(0.001, d, sizeof(d));
        CHECK_STR_EQ(d, "0.001");
        judge0_decimal(1.503, d, sizeof(d));
        CHECK_STR_EQ(d, "1.503");
}

static void test_split_args(void)
{
        size_t n;
        char **v = judge0_split_args("  a \"b c\" 'd e' f\\ g h;i $HOME `x`", &n);
        CHECK_INT_EQ(n, 7);
        if (n == 7) {
                CHECK_STR_EQ(v[0], "a");
                CHECK_STR_EQ(v[1], "b c");
                CHECK_STR_EQ(v[2], "d e");
                CHECK_STR_EQ(v[3], "f g");
                CHECK_STR_EQ(v[4], "hi");
                CHECK_STR_EQ(v[5], "HOME");
                CHECK_STR_EQ(v[6], "x");
        }
        judge0_free_args(v);
        v = judge0_split_args("", &n);
        CHECK_INT_EQ(n, 0);
        judge0_free_args(v);
}

static void test_callback_body(void)
{
        const char *stored = "{\"stdout\":\"aGkK\\n\",\"source_code\":\"eA==\\n\",\"time\":"
                             "\"0.01\",\"memory\":3000,\"stderr\":null,\"token\":\"t\","
                             "\"compile_output\":null,\"message\":\"Exited with error status 1\","
                             "\"status\":{\"id\":11,\"description\":\"Runtime Error (NZEC)\"}}";
        char *body = judge0_callback_body(stored);
        CHECK_STR_EQ(body, "{\"stdout\":\"aGkK\\n\",\"time\":\"0.01\",\"memory\":3000,"
                           "\"stderr\":null,\"token\":\"t\",\"compile_output\":null,"
                           "\"message\":\"RXhpdGVkIHdpdGggZXJyb3Igc3RhdHVzIDE=\\n\","
                           "\"status\":{\"id\":11,\"description\":\"Runtime Error (NZEC)\"}}");
        free(body);
        CHECK(judge0_callback_body("not json") == NULL);
}

int main(int argc, char **argv)
{
        static const tu_test_t tests[] = {
            TU_TEST(test_status_names),     TU_TEST(test_run_status),
            TU_TEST(test_base64_ruby_form), TU_TEST(test_base64_lenient_decode),
            TU_TEST(test_fields),           TU_TEST(test_decimal),
            TU_TEST(test_split_args),       TU_TEST(test_callback_body),
        };
        return tu_main("test_judge0", tests, TU_COUNT(tests), argc, argv);
}
