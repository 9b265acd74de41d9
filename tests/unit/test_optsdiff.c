/* server/optsdiff: what a reload (SIGHUP) changes, and what it may not change without a
 * restart, named as the config names them. */
#include <stdlib.h>
#include <string.h>

#include "protocol/dialect.h"
#include "server/server.h"
#include "testutil.h"

typedef struct diff {
        buf_t changed, restart;
} diff_t;

static void run_diff(const server_opts_t *first, const server_opts_t *prev,
                     const server_opts_t *next, diff_t *d)
{
        memset(d, 0, sizeof(*d));
        server_opts_diff(first, prev, next, &d->changed, &d->restart);
}

static const char *text(const buf_t *b)
{
        return b->len ? b->data : "";
}

static void diff_free(diff_t *d)
{
        buf_free(&d->changed);
        buf_free(&d->restart);
}

static int dialect_index(const char *name)
{
        for (size_t i = 0; i < dialect_count; i++)
                if (strcmp(dialect_table[i]->name, name) == 0)
                        return (int)i;
        return -1;
}

/* Tokens with names, run limits and functions, as cmd_serve makes them. */
static void set_tokens(server_opts_t *o, const char *const *toks, size_t n)
{
        o->token_max_runs = calloc(n + 1, sizeof(int));
        o->token_names = calloc(n + 1, sizeof(char *));
        o->token_functions = calloc(n + 1, sizeof(strv_t));
        for (size_t i = 0; i < n; i++) {
                strv_push(&o->tokens, toks[i]);
                o->token_names[i] = strdup(toks[i]);
        }
}

static void test_same_is_nothing(void)
{
        server_opts_t a, b;
        server_opts_init(&a);
        server_opts_init(&b);
        static const char *const toks[] = {"t1", "t2"};
        set_tokens(&a, toks, 2);
        set_tokens(&b, toks, 2);
        strv_push(&a.origins, "https://a.example");
        strv_push(&b.origins, "https://a.example");
        diff_t d;
        run_diff(&a, &a, &b, &d);
        CHECK_STR_EQ(text(&d.changed), "");
        CHECK_STR_EQ(text(&d.restart), "");
        diff_free(&d);
        server_opts_free(&a);
        server_opts_free(&b);
}

static void test_live_changes_named(void)
{
        server_opts_t a, b;
        server_opts_init(&a);
        server_opts_init(&b);
        static const char *const ta[] = {"t1", "t2"}, *const tb[] = {"t1", "t3"};
        set_tokens(&a, ta, 2);
        set_tokens(&b, tb, 2);
        b.limits_max.wall_ms = 1000;
        strv_push(&b.origins, "https://b.example");
        b.max_concurrent = a.max_concurrent + 1;
        b.log_format = 1;
        b.public_on = true;
        b.public_rpm = 5;
        b.fn_keep_versions = 2;
        int piston = dialect_index("piston");
        if (!CHECK(piston >= 0))
                return;
        b.dialects[piston].disabled = true;
        b.dialects[piston].max_concurrent = 3;
        diff_t d;
        run_diff(&a, &a, &b, &d);
        const char *c = text(&d.changed);
        CHECK_CONTAINS(c, "max_concurrent");
        CHECK_CONTAINS(c, "limits_max");
        CHECK_CONTAINS(c, "allowed_origins");
        CHECK_CONTAINS(c, "tokens");
        CHECK_CONTAINS(c, "log.format");
        CHECK_CONTAINS(c, "public,");
        CHECK_CONTAINS(c, "public.runs_per_minute");
        CHECK_CONTAINS(c, "functions.keep_versions");
        CHECK_CONTAINS(c, "dialects.piston.enabled");
        CHECK_CONTAINS(c, "dialects.piston.max_concurrent");
        CHECK(!strstr(c, "queue"));         /* not changed: not named */
        CHECK(!strstr(c, "h2c"));           /* likewise */
        CHECK_STR_EQ(text(&d.restart), ""); /* turning a dialect off needs no restart */
        diff_free(&d);
        server_opts_free(&a);
        server_opts_free(&b);
}

/* The same token strings with another name, run limit or functions: still "tokens". */
static void test_token_attributes(void)
{
        static const char *const toks[] = {"t1"};
        for (int what = 0; what < 3; what++) {
                server_opts_t a, b;
                server_opts_init(&a);
                server_opts_init(&b);
                set_tokens(&a, toks, 1);
                set_tokens(&b, toks, 1);
                if (what == 0) {
                        free(b.token_names[0]);
                        b.token_names[0] = strdup("renamed");
                } else if (what == 1) {
                        b.token_max_runs[0] = 2;
                } else {
                        strv_push(&b.token_functions[0], "f");
                }
                diff_t d;
                run_diff(&a, &a, &b, &d);
                CHECK_STR_EQ(text(&d.changed), "tokens");
                diff_free(&d);
                server_opts_free(&a);
                server_opts_free(&b);
        }
}

static void test_restart_only(void)
{
        server_opts_t first, next;
        server_opts_init(&first);
        server_opts_init(&next);
        next.port = first.port + 1;
        next.tls_cert = "/c.pem";
        next.tls_key = "/k.pem";
        next.store_max_age_s = 60;
        strv_push(&next.callback_hosts, "hooks.example");
        int piston = dialect_index("piston"), jobe = dialect_index("jobe");
        if (!CHECK(piston >= 0 && jobe >= 0))
                return;
        next.dialects[piston].base = strdup("/elsewhere");
        first.dialects[jobe].disabled = true; /* off at start: no routes were made for it */
        next.dialects[jobe].disabled = false;
        diff_t d;
        run_diff(&first, &first, &next, &d);
        const char *r = text(&d.restart);
        CHECK_CONTAINS(r, "listen");
        CHECK_CONTAINS(r, "tls");
        CHECK_CONTAINS(r, "store.max_age_s");
        CHECK_CONTAINS(r, "callbacks.allow_hosts");
        CHECK_CONTAINS(r, "dialects.piston.path");
        CHECK_CONTAINS(r, "dialects.jobe.enabled (off at start)");
        CHECK(!strstr(r, "store.max_count"));
        diff_free(&d);
        /* the same base spelled out is no change */
        free(next.dialects[piston].base);
        next.dialects[piston].base = strdup(dialect_table[piston]->base);
        run_diff(&first, &first, &next, &d);
        CHECK(!strstr(text(&d.restart), "piston"));
        diff_free(&d);
        server_opts_free(&first);
        server_opts_free(&next);
}

/* Restart-only settings compare with the start, live ones with the previous reload: a dialect
 * turned off by one reload and on again by the next needs no restart. */
static void test_against_first_and_prev(void)
{
        server_opts_t first, prev, next;
        server_opts_init(&first);
        server_opts_init(&prev);
        server_opts_init(&next);
        int piston = dialect_index("piston");
        if (!CHECK(piston >= 0))
                return;
        prev.dialects[piston].disabled = true;
        prev.queue_max = 5;
        next.queue_max = 5;
        diff_t d;
        run_diff(&first, &prev, &next, &d);
        CHECK_STR_EQ(text(&d.changed), "dialects.piston.enabled");
        CHECK_STR_EQ(text(&d.restart), "");
        diff_free(&d);
        server_opts_free(&first);
        server_opts_free(&prev);
        server_opts_free(&next);
}

int main(int argc, char **argv)
{
        static const tu_test_t tests[] = {
            TU_TEST(test_same_is_nothing),        TU_TEST(test_live_changes_named),
            TU_TEST(test_token_attributes),       TU_TEST(test_restart_only),
            TU_TEST(test_against_first_and_prev),
        };
        return tu_main("test_optsdiff", tests, TU_COUNT(tests), argc, argv);
}
