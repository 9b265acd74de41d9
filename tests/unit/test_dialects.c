/* protocol/dialects: the table and the helpers every codec shares. */
#include <signal.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "protocol/dialect.h"
#include "server/server.h"
#include "testutil.h"

static void test_table_is_sane(void)
{
        CHECK(dialect_count >= 1);
        CHECK(dialect_count <= DIALECTS_MAX);
        CHECK_STR_EQ(dialect_table[0]->name, "runcell"); /* the native protocol comes first */
        for (size_t i = 0; i < dialect_count; i++) {
                const dialect_t *d = dialect_table[i];
                CHECK(d->name && *d->name);
                CHECK(d->base && d->base[0] == '/');
                CHECK(d->nroutes > 0);
                CHECK(dialect_find(d->name) == d);
                for (size_t k = 0; k < d->nroutes; k++) {
                        CHECK(d->routes[k].methods != 0);
                        CHECK(d->routes[k].sub && (!*d->routes[k].sub || *d->routes[k].sub == '/'));
                        if (d->routes[k].methods & DL_WS)
                                CHECK(d->ws_message != NULL);
                        if (d->routes[k].methods & ~(unsigned)DL_WS)
                                CHECK(d->http != NULL);
                }
                for (size_t j = 0; j < i; j++)
                        CHECK(strcmp(dialect_table[j]->name, d->name) != 0);
        }
        CHECK(dialect_find("no-such-dialect") == NULL);
}

static void test_semver(void)
{
        char v[32];
        dl_semver("3.11.2-1+b1", v, sizeof(v));
        CHECK_STR_EQ(v, "3.11.2");
        dl_semver("1:2.36-9+deb12u4", v, sizeof(v));
        CHECK_STR_EQ(v, "2.36");
        dl_semver("1.63.0+dfsg1-2", v, sizeof(v));
        CHECK_STR_EQ(v, "1.63.0");
        dl_semver("18.19.0+dfsg-6~deb12u2", v, sizeof(v));
        CHECK_STR_EQ(v, "18.19.0");
        dl_semver("12.", v, sizeof(v));
        CHECK_STR_EQ(v, "12");
        dl_semver("", v, sizeof(v));
        CHECK_STR_EQ(v, "");
        dl_semver(NULL, v, sizeof(v));
        CHECK_STR_EQ(v, "");
        dl_semver("3.11.2", v, 4); /* cut, still terminated */
        CHECK_STR_EQ(v, "3.1");
}

static void test_signal_parse(void)
{
        cJSON *j;
#define SIG(json, want)                                                                            \
        do {                                                                                       \
                j = cJSON_Parse(json);                                                             \
                CHECK_INT_EQ(dl_signal_parse(j), want);                                            \
                cJSON_Delete(j);                                                                   \
        } while (0)
        SIG("\"SIGTERM\"", SIGTERM);
        SIG("\"TERM\"", SIGTERM);
        SIG("\"SIGKILL\"", SIGKILL);
        SIG("\"SIGINT\"", SIGINT);
        SIG("15", SIGTERM);
        SIG("9", SIGKILL);
        SIG("0", 0);
        SIG("64", 0);
        SIG("2.5", 0);
        SIG("\"SIGNOPE\"", 0);
        SIG("\"sigterm\"", 0);
        SIG("null", 0);
        SIG("[]", 0);
        CHECK_INT_EQ(dl_signal_parse(NULL), 0);
#undef SIG
}

static void test_random_hex(void)
{
        char a[65], b[65];
        dl_random_hex(a, 32);
        dl_random_hex(b, 32);
        CHECK_INT_EQ(strlen(a), 64);
        CHECK(strspn(a, "0123456789abcdef") == 64);
        CHECK(strcmp(a, b) != 0);
}

int main(int argc, char **argv)
{
        static const tu_test_t tests[] = {
            TU_TEST(test_table_is_sane),
            TU_TEST(test_semver),
            TU_TEST(test_signal_parse),
            TU_TEST(test_random_hex),
        };
        return tu_main("test_dialects", tests, TU_COUNT(tests), argc, argv);
}
