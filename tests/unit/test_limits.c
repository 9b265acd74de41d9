/* job/limits: parsing, overlay, clamp, defaults. */
#include <errno.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "job/limits.h"
#include "testutil.h"

/* Parse text into lim (which keeps what it held for absent keys); returns the result. */
static int parse(const char *text, rc_limits_t *lim, rc_err_t *err)
{
        cJSON *j = cJSON_Parse(text);
        if (!j) {
                FAIL("test JSON does not parse: %s", text);
                return -1000;
        }
        int r = limits_from_json(j, lim, "limits.run", err);
        cJSON_Delete(j);
        return r;
}

static void test_from_json_full(void)
{
        rc_limits_t lim = {0};
        rc_err_t err = {0};
        CHECK_OK_E(parse("{\"wall_ms\": 5000, \"cpu_ms\": 4000, \"memory_mb\": 256,"
                         " \"processes\": 32, \"output_bytes\": 65536, \"file_size_mb\": 8,"
                         " \"disk_mb\": 100}",
                         &lim, &err),
                   err);
        CHECK_INT_EQ(lim.wall_ms, 5000);
        CHECK_INT_EQ(lim.cpu_ms, 4000);
        CHECK_INT_EQ(lim.memory_mb, 256);
        CHECK_INT_EQ(lim.processes, 32);
        CHECK_INT_EQ(lim.output_bytes, 65536);
        CHECK_INT_EQ(lim.file_size_mb, 8);
        CHECK_INT_EQ(lim.disk_mb, 100);
}

static void test_from_json_partial_keeps_rest(void)
{
        rc_limits_t lim = {.wall_ms = 1, .cpu_ms = 2, .memory_mb = 3};
        rc_err_t err = {0};
        CHECK_OK_E(parse("{\"cpu_ms\": 9}", &lim, &err), err);
        CHECK_INT_EQ(lim.wall_ms, 1);
        CHECK_INT_EQ(lim.cpu_ms, 9);
        CHECK_INT_EQ(lim.memory_mb, 3);
        CHECK_INT_EQ(lim.disk_mb, 0);
        /* an empty object changes nothing */
        CHECK_OK_E(parse("{}", &lim, &err), err);
        CHECK_INT_EQ(lim.cpu_ms, 9);
        /* boundaries: 1 and the documented maxima are accepted; 2.0 is an integer */
        CHECK_OK_E(parse("{\"wall_ms\": 86400000, \"memory_mb\": 1, \"output_bytes\": "
                         "1099511627776, \"processes\": 2.0}",
                         &lim, &err),
                   err);
        CHECK_INT_EQ(lim.wall_ms, 86400000LL);
        CHECK_INT_EQ(lim.memory_mb, 1);
        CHECK_INT_EQ(lim.output_bytes, 1099511627776LL);
        CHECK_INT_EQ(lim.processes, 2);
}

static void test_from_json_bad_values(void)
{
        static const struct {
                const char *json;
                const char *key;
        } bad[] = {
            {"{\"wall_ms\": 0}", "wall_ms"},
            {"{\"cpu_ms\": -5}", "cpu_ms"},
            {"{\"memory_mb\": 1.5}", "memory_mb"},
            {"{\"processes\": \"x\"}", "processes"},
            {"{\"processes\": \"10\"}", "processes"},
            {"{\"disk_mb\": true}", "disk_mb"},
            {"{\"disk_mb\": null}", "disk_mb"},
            {"{\"disk_mb\": [1]}", "disk_mb"},
            {"{\"disk_mb\": {}}", "disk_mb"},
            {"{\"wall_ms\": 86400001}", "wall_ms"},
            {"{\"memory_mb\": 1e300}", "memory_mb"},
            {"{\"file_size_mb\": 0.5}", "file_size_mb"},
            {"{\"output_bytes\": 1099511627777}", "output_bytes"},
        };
        for (size_t i = 0; i < TU_COUNT(bad); i++) {
                rc_limits_t lim = {0};
                rc_err_t err = {0};
                int r = parse(bad[i].json, &lim, &err);
                if (!CHECK_FAIL(r, -EINVAL)) {
                        FAIL("accepted %s", bad[i].json);
                        continue;
                }
                CHECK_CONTAINS(err.msg, bad[i].key);
                CHECK_CONTAINS(err.msg, "limits.run");
                CHECK_CONTAINS(err.msg, "must be an integer from 1 to");
        }
}

static void test_from_json_unknown_key(void)
{
        rc_limits_t lim = {0};
        rc_err_t err = {0};
        CHECK_FAIL(parse("{\"wall_ms\": 10, \"stack_kb\": 8}", &lim, &err), -EINVAL);
        CHECK_CONTAINS(err.msg, "unknown limit");
        CHECK_CONTAINS(err.msg, "stack_kb");
        CHECK_CONTAINS(err.msg, "limits.run");
        /* keys are case-sensitive */
        CHECK_FAIL(parse("{\"WALL_MS\": 10}", &lim, &err), -EINVAL);
        CHECK_CONTAINS(err.msg, "WALL_MS");
}

static void test_from_json_not_object(void)
{
        static const char *const bad[] = {"[1, 2]", "5", "\"wall_ms\"", "null", "true"};
        for (size_t i = 0; i < TU_COUNT(bad); i++) {
                rc_limits_t lim = {0};
                rc_err_t err = {0};
                if (CHECK_FAIL(parse(bad[i], &lim, &err), -EINVAL))
                        CHECK_CONTAINS(err.msg, "must be an object");
                else
                        FAIL("accepted %s", bad[i]);
        }
        rc_err_t err = {0};
        rc_limits_t lim = {0};
        CHECK_FAIL(limits_from_json(NULL, &lim, "nothing", &err), -EINVAL);
        CHECK_CONTAINS(err.msg, "nothing");
}

static void test_overlay(void)
{
        rc_limits_t base = {.wall_ms = 1000,
                            .cpu_ms = 2000,
                            .memory_mb = 300,
                            .processes = 4,
                            .output_bytes = 5,
                            .file_size_mb = 6,
                            .disk_mb = 7};
        rc_limits_t over = {.wall_ms = 50, .memory_mb = 0, .processes = -1, .disk_mb = 99};
        limits_overlay(&base, &over);
        CHECK_INT_EQ(base.wall_ms, 50);
        CHECK_INT_EQ(base.cpu_ms, 2000);
        CHECK_INT_EQ(base.memory_mb, 300);
        CHECK_INT_EQ(base.processes, 4);
        CHECK_INT_EQ(base.output_bytes, 5);
        CHECK_INT_EQ(base.file_size_mb, 6);
        CHECK_INT_EQ(base.disk_mb, 99);
        /* every field is covered */
        rc_limits_t all = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
        rc_limits_t zero = {0};
        limits_overlay(&zero, &all);
        CHECK(memcmp(&zero, &all, sizeof(all)) == 0);
        /* an empty overlay changes nothing */
        rc_limits_t none = {0};
        limits_overlay(&all, &none);
        CHECK_INT_EQ(all.disk_mb, 7);
        CHECK_INT_EQ(all.wall_ms, 1);
}

static void test_clamp(void)
{
        rc_limits_t lim = {.wall_ms = 60000,
                           .cpu_ms = 100,
                           .memory_mb = 0,
                           .processes = -3,
                           .output_bytes = 10,
                           .file_size_mb = 500,
                           .disk_mb = 42};
        rc_limits_t max = {.wall_ms = 30000,
                           .cpu_ms = 200,
                           .memory_mb = 256,
                           .processes = 16,
                           .output_bytes = 0,
                           .file_size_mb = 500};
        limits_clamp(&lim, &max);
        CHECK_INT_EQ(lim.wall_ms, 30000);   /* above max: clamped */
        CHECK_INT_EQ(lim.cpu_ms, 100);      /* below max: kept */
        CHECK_INT_EQ(lim.memory_mb, 256);   /* unset: gets max */
        CHECK_INT_EQ(lim.processes, 16);    /* negative = unset: gets max */
        CHECK_INT_EQ(lim.output_bytes, 10); /* max unset: kept */
        CHECK_INT_EQ(lim.file_size_mb, 500);
        CHECK_INT_EQ(lim.disk_mb, 42);
        /* an unset max leaves unset fields unset */
        rc_limits_t empty = {0}, nomax = {0};
        limits_clamp(&empty, &nomax);
        CHECK_INT_EQ(empty.wall_ms, 0);
        CHECK_INT_EQ(empty.disk_mb, 0);
}

static void test_fill_defaults(void)
{
        rc_limits_t lim = {0};
        limits_fill_defaults(&lim);
        CHECK_INT_EQ(lim.wall_ms, 10000);
        CHECK_INT_EQ(lim.cpu_ms, 10000);
        CHECK_INT_EQ(lim.memory_mb, 512);
        CHECK_INT_EQ(lim.processes, 64);
        CHECK_INT_EQ(lim.output_bytes, 1 << 20);
        CHECK_INT_EQ(lim.file_size_mb, 64);
        CHECK_INT_EQ(lim.disk_mb, 128);

        rc_limits_t set = {.wall_ms = 3, .memory_mb = -1, .disk_mb = 9};
        limits_fill_defaults(&set);
        CHECK_INT_EQ(set.wall_ms, 3);
        CHECK_INT_EQ(set.memory_mb, 512);
        CHECK_INT_EQ(set.disk_mb, 9);
        CHECK_INT_EQ(set.cpu_ms, 10000);
}

int main(int argc, char **argv)
{
        static const tu_test_t tests[] = {
            TU_TEST(test_from_json_full),
            TU_TEST(test_from_json_partial_keeps_rest),
            TU_TEST(test_from_json_bad_values),
            TU_TEST(test_from_json_unknown_key),
            TU_TEST(test_from_json_not_object),
            TU_TEST(test_overlay),
            TU_TEST(test_clamp),
            TU_TEST(test_fill_defaults),
        };
        return tu_main("test_limits", tests, TU_COUNT(tests), argc, argv);
}
