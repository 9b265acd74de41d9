/* util/ratelimit: per-address token buckets in a fixed-size table, and the public routes'
 * patterns. */
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "util/ratelimit.h"

/* A burst of per_minute, then refused with the seconds until the next one. */
static void test_burst_then_refused(void)
{
        rl_table_t *t = rl_new(3);
        REQUIRE(t);
        int retry = -1;
        for (int i = 0; i < 3; i++)
                CHECK_INT_EQ(rl_take(t, "10.0.0.1", 1000, &retry), 0);
        CHECK_INT_EQ(rl_take(t, "10.0.0.1", 1000, &retry), -1);
        /* 3 a minute: one every 20 s */
        CHECK_INT_EQ(retry, 20);
        CHECK_INT_EQ(rl_take(t, "10.0.0.1", 11000, &retry), -1);
        CHECK_INT_EQ(retry, 10);
        CHECK_INT_EQ(rl_take(t, "10.0.0.1", 20999, &retry), -1);
        CHECK_INT_EQ(retry, 1);
        CHECK_INT_EQ(rl_take(t, "10.0.0.1", 21000, &retry), 0);
        CHECK_INT_EQ(rl_take(t, "10.0.0.1", 21000, &retry), -1);
        rl_free(t);
}

/* Another address has its own bucket. */
static void test_addresses_apart(void)
{
        rl_table_t *t = rl_new(1);
        REQUIRE(t);
        int retry = 0;
        CHECK_INT_EQ(rl_take(t, "10.0.0.1", 0, &retry), 0);
        CHECK_INT_EQ(rl_take(t, "10.0.0.1", 0, &retry), -1);
        CHECK_INT_EQ(retry, 60);
        CHECK_INT_EQ(rl_take(t, "10.0.0.2", 0, &retry), 0);
        CHECK_INT_EQ(rl_available(t, "10.0.0.3", 0), 1);
        CHECK_INT_EQ(rl_available(t, "10.0.0.1", 30000), 0);
        CHECK_INT_EQ(rl_available(t, "10.0.0.1", 60000), 1);
        /* a bucket never holds more than a minute's worth */
        CHECK_INT_EQ(rl_available(t, "10.0.0.1", 3600000), 1);
        rl_free(t);
}

/* Many addresses: the table stays at its size, and the address used last is still there
 * (an old quiet one was forgotten instead). */
static void test_bounded(void)
{
        rl_table_t *t = rl_new(2);
        REQUIRE(t);
        int retry = 0;
        char key[32];
        CHECK_INT_EQ(rl_take(t, "192.168.0.1", 0, &retry), 0);
        CHECK_INT_EQ(rl_take(t, "192.168.0.1", 0, &retry), 0);
        for (int i = 0; i < 100000; i++) {
                snprintf(key, sizeof(key), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
                rl_take(t, key, 1, &retry);
                /* The busy one keeps being seen: every 100 new addresses (0.2 per set on
                 * average), not 1000, between which eight landing in its set (and evicting it:
                 * p ~ 0.001 each time with a random seed) failed about one run in eight. */
                if (i % 100 == 0)
                        CHECK_INT_EQ(rl_take(t, "192.168.0.1", 1, &retry), -1);
        }
        CHECK(rl_count(t) <= RL_SETS * RL_WAYS);
        CHECK(rl_count(t) > RL_SETS * RL_WAYS / 2);
        CHECK_INT_EQ(rl_available(t, "192.168.0.1", 1), 0);
        /* the last one taken is held, with one left */
        CHECK_INT_EQ(rl_available(t, key, 1), 1);
        rl_free(t);
}

static void test_bad_rate(void)
{
        CHECK(rl_new(0) == NULL);
        CHECK(rl_new(-5) == NULL);
}

static void test_routes(void)
{
        CHECK(rl_route_match("/", "/"));
        CHECK(!rl_route_match("/", "/x"));
        CHECK(rl_route_match("/embed", "/embed"));
        CHECK(!rl_route_match("/embed", "/embedx"));
        CHECK(!rl_route_match("/embed", "/embed/"));
        CHECK(rl_route_match("/assets/*", "/assets/app.js"));
        CHECK(rl_route_match("/assets/*", "/assets/a/b.css"));
        CHECK(!rl_route_match("/assets/*", "/assets/"));
        CHECK(!rl_route_match("/assets/*", "/assets"));
        CHECK(!rl_route_match("/assets/*", "/assetsx/y"));
        CHECK(rl_route_match("/*", "/anything"));
        CHECK(!rl_route_match("/api/v1/run", "/api/v1/runs"));
}

int main(int argc, char **argv)
{
        static const tu_test_t tests[] = {
            TU_TEST(test_burst_then_refused), TU_TEST(test_addresses_apart), TU_TEST(test_bounded),
            TU_TEST(test_bad_rate),           TU_TEST(test_routes),
        };
        return tu_main("test_ratelimit", tests, TU_COUNT(tests), argc, argv);
}
