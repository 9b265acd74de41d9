/* The pure parts of the cgroup manager: reading /proc/self/cgroup and cgroupfs files. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/cgroup.h"
#include "testutil.h"

static const char *const hybrid = "9:name=systemd:/\n"
                                  "8:pids:/\n"
                                  "4:memory:/process_api/6b21\n"
                                  "2:cpu,cpuacct:/user.slice\n"
                                  "0::/user.slice/session-1.scope\n";

static void test_proc_path_v1(void)
{
        char *p = cg_proc_path(hybrid, "memory");
        CHECK_STR_EQ(p, "/process_api/6b21");
        free(p);
        p = cg_proc_path(hybrid, "pids");
        CHECK_STR_EQ(p, "/");
        free(p);
        /* co-mounted controllers are a comma list */
        p = cg_proc_path(hybrid, "cpuacct");
        CHECK_STR_EQ(p, "/user.slice");
        free(p);
        p = cg_proc_path(hybrid, "cpu");
        CHECK_STR_EQ(p, "/user.slice");
        free(p);
        /* a prefix of a name is not the name */
        CHECK(cg_proc_path(hybrid, "cpuac") == NULL);
        CHECK(cg_proc_path(hybrid, "blkio") == NULL);
        /* "name=systemd" is not a controller called systemd */
        CHECK(cg_proc_path(hybrid, "systemd") == NULL);
}

static void test_proc_path_v2(void)
{
        char *p = cg_proc_path(hybrid, NULL);
        CHECK_STR_EQ(p, "/user.slice/session-1.scope");
        free(p);
        p = cg_proc_path("0::/\n", NULL);
        CHECK_STR_EQ(p, "/");
        free(p);
        /* a v1-only host has no 0:: line */
        CHECK(cg_proc_path("4:memory:/x\n", NULL) == NULL);
        /* no trailing newline */
        p = cg_proc_path("0::/a/b", NULL);
        CHECK_STR_EQ(p, "/a/b");
        free(p);
        CHECK(cg_proc_path("", NULL) == NULL);
}

static void test_values(void)
{
        CHECK_INT_EQ(cg_parse_value("1234\n"), 1234);
        CHECK_INT_EQ(cg_parse_value("  77"), 77);
        CHECK(cg_parse_value("max\n") == INT64_MAX);
        CHECK_INT_EQ(cg_parse_value("nonsense"), -1);
        const char *events = "low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n";
        CHECK_INT_EQ(cg_keyed_value(events, "oom_kill"), 1);
        CHECK_INT_EQ(cg_keyed_value(events, "oom"), 2); /* not oom_kill's prefix */
        CHECK_INT_EQ(cg_keyed_value(events, "max"), 12);
        CHECK_INT_EQ(cg_keyed_value(events, "absent"), -1);
        const char *v1oom = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
        CHECK_INT_EQ(cg_keyed_value(v1oom, "oom_kill"), 3);
        const char *cpustat = "usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\n";
        CHECK_INT_EQ(cg_keyed_value(cpustat, "usage_usec"), 123456);
}

static void test_none_mode(void)
{
        cg_manager_t *m = NULL;
        rc_err_t err = {0};
        CHECK_OK_E(cg_manager_open(CG_MODE_NONE, &m, &err), err);
        REQUIRE(m != NULL);
        CHECK_STR_EQ(cg_manager_name(m), "none");
        rc_limits_t lim = {.memory_mb = 64, .processes = 8};
        cg_leaf_t *leaf = (cg_leaf_t *)1;
        CHECK_OK_E(cg_leaf_create(m, &lim, 1.0, &leaf, &err), err);
        CHECK(leaf == NULL); /* no leaf, and every leaf call accepts NULL */
        CHECK_INT_EQ(cg_leaf_clone_fd(leaf), -1);
        CHECK_OK(cg_leaf_attach(leaf, 1, &err));
        cg_stats_t st;
        CHECK(cg_leaf_stats(leaf, &st) < 0);
        CHECK_INT_EQ(st.cpu_usage_us, -1);
        cg_leaf_kill(leaf);
        cg_leaf_destroy(leaf);
        cg_manager_free(m);
}

int main(int argc, char **argv)
{
        static const tu_test_t tests[] = {
            TU_TEST(test_proc_path_v1),
            TU_TEST(test_proc_path_v2),
            TU_TEST(test_values),
            TU_TEST(test_none_mode),
        };
        return tu_main("test_cgroup", tests, TU_COUNT(tests), argc, argv);
}
