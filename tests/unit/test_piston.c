/* protocol/piston: the node-semver range forms the Piston dialect matches versions with. */
#include <stdio.h>

#include "protocol/piston.h"
#include "testutil.h"

typedef struct {
        const char *version, *range;
        bool want;
} sv_case_t;

static void check_cases(const sv_case_t *cases, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                bool got = piston_semver_satisfies(cases[i].version, cases[i].range);
                if (!CHECK(got == cases[i].want))
                        fprintf(stderr, "  satisfies(\"%s\", \"%s\") is %s\n", cases[i].version,
                                cases[i].range, got ? "true" : "false");
        }
}

static void test_partial_and_wildcards(void)
{
        static const sv_case_t cases[] = {
            {"3.11.2", "*", true},         {"3.11.2", "x", true},
            {"3.11.2", "3", true},         {"3.11.2", "3.11", true},
            {"3.11.2", "3.11.2", true},    {"3.11.2", "3.x", true},
            {"3.11.2", "3.11.x", true},    {"3.11.2", "3.X.x", true},
            {"3.11.2", "v3.11.2", true},   {"3.11.2", "=3.11.2", true},
            {"3.11.2", "3.11.2+b1", true}, {"3.11.2", "2", false},
            {"3.11.2", "3.1", false},      {"3.11.2", "3.11.3", false},
            {"3.11.2", "4.x", false},      {"3.11.2", "3.11.2-rc1", false},
            {"3.11.2", "latest", false},   {"3.11.2", "3.", false},
            {"3.11.2", "3.x.2", false},    {"3.11.2", "3..1", false},
        };
        check_cases(cases, TU_COUNT(cases));
}

static void test_operators(void)
{
        static const sv_case_t cases[] = {
            {"3.11.2", "^3", true},         {"3.11.2", "^3.9", true},
            {"3.11.2", "^3.11.3", false},   {"3.11.2", "^2", false},
            {"0.2.5", "^0.2.1", true},      {"0.3.0", "^0.2.1", false},
            {"0.0.3", "^0.0.3", true},      {"0.0.4", "^0.0.3", false},
            {"0.9.0", "^0", true},          {"0.1.0", "^0.0", false},
            {"3.11.2", "~3.11", true},      {"3.11.2", "~3.11.3", false},
            {"3.12.0", "~3.11", false},     {"3.11.2", "~3", true},
            {"3.11.2", "~>3.11.0", true},   {"3.11.2", ">=3.11.2", true},
            {"3.11.2", ">3.11.2", false},   {"3.11.2", ">3.10", true},
            {"3.11.2", ">3.11", false},     {"3.11.2", "<3.11.2", false},
            {"3.11.2", "<3.12", true},      {"3.11.2", "<=3.11", true},
            {"3.11.2", "<=3.10", false},    {"3.11.2", ">= 3 < 4", true},
            {"3.11.2", ">=3 <3.11", false}, {"3.11.2", "<*", false},
        };
        check_cases(cases, TU_COUNT(cases));
}

static void test_alternatives(void)
{
        static const sv_case_t cases[] = {
            {"3.11.2", "2 || 3", true},
            {"3.11.2", "2||3.11", true},
            {"3.11.2", "2 || 4", false},
            {"3.11.2", "1 || ", true},
            {"3.11.2", "<3 || >=3.11 <3.12", true},
            {"3.11.2", "2 || nonsense", false}, /* an invalid range matches nothing */
            {"3.11.2", "3.0 - 3.12", false},    /* hyphen ranges are not taken */
            {"3.11", "*", false},               /* a version is three numbers */
        };
        check_cases(cases, TU_COUNT(cases));
}

int main(int argc, char **argv)
{
        static const tu_test_t tests[] = {
            TU_TEST(test_partial_and_wildcards),
            TU_TEST(test_operators),
            TU_TEST(test_alternatives),
        };
        return tu_main("test_piston", tests, TU_COUNT(tests), argc, argv);
}
