/* toolchain/: parsing documents, loading a directory, argv expansion. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "testutil.h"
#include "toolchain/toolchain.h"
#include "util/fs.h"

static const char FULL_DOC[] =
    "{\n"
    "  \"name\": \"c\",\n"
    "  \"aliases\": [\"gcc\", \"c17\"],\n"
    "  \"rootfs\": \"gcc\",\n"
    "  \"version_package\": \"gcc-12\",\n"
    "  \"source_file\": \"main.c\",\n"
    "  \"source_extensions\": [\".c\"],\n"
    "  \"compile\": [\"gcc\", \"-O2\", \"-o\", \"main\", \"{sources}\"],\n"
    "  \"run\": [\"./main\"],\n"
    "  \"env\": {\"PATH\": \"/usr/bin:/bin\", \"LANG\": \"C.UTF-8\"},\n"
    "  \"limits\": {\n"
    "    \"compile\": {\"wall_ms\": 20000, \"memory_mb\": 1024},\n"
    "    \"run\": {\"wall_ms\": 5000, \"processes\": 16, \"disk_mb\": 32}\n"
    "  },\n"
    "  \"seccomp_profile\": \"default\",\n"
    "  \"display_name\": \"C (GCC)\",\n"
    "  \"examples\": {\"hello\": {\"source\": \"int main(){}\", \"stdout\": \"\"},\n"
    "               \"stdin\": {\"source\": \"s\", \"stdin\": \"a\\n\", \"stdout\": \"A\\n\"}}\n"
    "}\n";

static int parse_text(const char *text, toolchain_t **tc, rc_err_t *err)
{
        return toolchain_parse(text, strlen(text), "test.json", tc, err);
}

/* FULL_DOC with key replaced by the JSON value raw (added when absent), or removed when raw
 * is NULL. Heap string. */
static char *doc_with(const char *key, const char *raw)
{
        cJSON *root = cJSON_Parse(FULL_DOC);
        if (!root)
                abort();
        cJSON_DeleteItemFromObjectCaseSensitive(root, key);
        if (raw) {
                cJSON *v = cJSON_Parse(raw);
                if (!v) {
                        FAIL("test value does not parse: %s", raw);
                        v = cJSON_CreateNull();
                }
                cJSON_AddItemToObject(root, key, v);
        }
        char *text = cJSON_PrintUnformatted(root);
        cJSON_Delete(root);
        if (!text)
                abort();
        return text;
}

static void test_parse_full(void)
{
        toolchain_t *tc = NULL;
        rc_err_t err = {0};
        REQUIRE(CHECK_OK_E(parse_text(FULL_DOC, &tc, &err), err));
        REQUIRE(tc);
        CHECK_STR_EQ(tc->name, "c");
        CHECK_INT_EQ(tc->aliases.n, 2);
        if (tc->aliases.n == 2) {
                CHECK_STR_EQ(tc->aliases.v[0], "gcc");
                CHECK_STR_EQ(tc->aliases.v[1], "c17");
        }
        CHECK_STR_EQ(tc->rootfs, "gcc");
        CHECK_STR_EQ(tc->version_package, "gcc-12");
        CHECK_STR_EQ(tc->source_file, "main.c");
        CHECK_INT_EQ(tc->source_ext.n, 1);
        if (tc->source_ext.n == 1)
                CHECK_STR_EQ(tc->source_ext.v[0], ".c");
        CHECK_INT_EQ(tc->compile.n, 5);
        if (tc->compile.n == 5) {
                CHECK_STR_EQ(tc->compile.v[0], "gcc");
                CHECK_STR_EQ(tc->compile.v[4], "{sources}");
                CHECK(tc->compile.v[5] == NULL);
        }
        CHECK_INT_EQ(tc->run.n, 1);
        if (tc->run.n == 1)
                CHECK_STR_EQ(tc->run.v[0], "./main");
        CHECK_INT_EQ(tc->env.n, 2);
        CHECK_STR_EQ(toolchain_env_get(tc, "PATH"), "/usr/bin:/bin");
        CHECK_STR_EQ(toolchain_env_get(tc, "LANG"), "C.UTF-8");
        CHECK_INT_EQ(tc->limits_compile.wall_ms, 20000);
        CHECK_INT_EQ(tc->limits_compile.memory_mb, 1024);
        CHECK_INT_EQ(tc->limits_compile.processes, 0);
        CHECK_INT_EQ(tc->limits_run.wall_ms, 5000);
        CHECK_INT_EQ(tc->limits_run.processes, 16);
        CHECK_INT_EQ(tc->limits_run.disk_mb, 32);
        CHECK_INT_EQ(tc->limits_run.memory_mb, 0);
        CHECK_STR_EQ(tc->seccomp_profile, "default");
        CHECK_STR_EQ(tc->display_name, "C (GCC)");
        CHECK_STR_EQ(tc->hello.source, "int main(){}");
        CHECK_STR_EQ(tc->hello.stdout_text, "");
        CHECK(tc->hello.stdin_text == NULL);
        CHECK_STR_EQ(tc->stdin.stdin_text, "a\n");
        CHECK_STR_EQ(tc->stdin.stdout_text, "A\n");
        toolchain_free(tc);
        toolchain_free(NULL);
}

static void test_parse_minimal(void)
{
        static const char doc[] = "{\"name\":\"bash\",\"rootfs\":\"base\",\"version_package\":"
                                  "\"bash\",\"source_file\":\"main.sh\",\"run\":[\"bash\","
                                  "\"{entry}\"],\"compile\":[],\"seccomp_profile\":null,"
                                  "\"examples\":{\"hello\":{\"source\":\"echo hi\",\"stdout\":"
                                  "\"hi\\n\"},\"stdin\":{\"source\":\"cat\",\"stdin\":\"x\","
                                  "\"stdout\":\"x\"}}}";
        toolchain_t *tc = NULL;
        rc_err_t err = {0};
        REQUIRE(CHECK_OK_E(parse_text(doc, &tc, &err), err));
        CHECK_STR_EQ(tc->name, "bash");
        CHECK_INT_EQ(tc->aliases.n, 0);
        CHECK_INT_EQ(tc->source_ext.n, 0);
        CHECK_INT_EQ(tc->compile.n, 0); /* interpreted */
        CHECK_INT_EQ(tc->run.n, 2);
        CHECK_INT_EQ(tc->env.n, 0);
        CHECK(tc->seccomp_profile == NULL);
        CHECK(tc->display_name == NULL);
        CHECK(toolchain_env_get(tc, "PATH") == NULL);
        CHECK_INT_EQ(tc->limits_run.wall_ms, 0);
        toolchain_free(tc);

        /* the length bounds the document: trailing bytes past len are not read */
        char *padded = tu_strf("%sGARBAGE", doc);
        tc = NULL;
        if (CHECK_OK_E(toolchain_parse(padded, strlen(doc), "padded", &tc, &err), err))
                CHECK_STR_EQ(tc->name, "bash");
        toolchain_free(tc);
        free(padded);
}

struct bad_case {
        const char *key;  /* replaced in FULL_DOC */
        const char *raw;  /* its new JSON value; NULL: removed */
        const char *want; /* in the error message */
};

static void test_parse_invalid_fields(void)
{
        static const struct bad_case cases[] = {
            /* unknown key */
            {"compiler", "\"gcc\"", "unknown key \"compiler\""},
            {"Name", "\"c\"", "unknown key \"Name\""},
            /* missing required keys (absent or null) */
            {"name", NULL, "missing \"name\""},
            {"name", "null", "missing \"name\""},
            {"run", NULL, "missing \"run\""},
            {"rootfs", NULL, "missing \"rootfs\""},
            {"version_package", NULL, "missing \"version_package\""},
            {"source_file", NULL, "missing \"source_file\""},
            /* wrong types */
            {"name", "5", "\"name\" must be a non-empty string"},
            {"name", "\"\"", "\"name\" must be a non-empty string"},
            {"name", "[\"c\"]", "\"name\""},
            {"rootfs", "true", "\"rootfs\""},
            {"version_package", "{}", "\"version_package\""},
            {"source_file", "1", "\"source_file\""},
            {"seccomp_profile", "7", "\"seccomp_profile\""},
            {"aliases", "\"gcc\"", "\"aliases\" must be an array"},
            {"aliases", "[\"gcc\", 1]", "\"aliases\" must hold only strings"},
            {"source_extensions", "\".c\"", "\"source_extensions\""},
            {"compile", "\"gcc main.c\"", "\"compile\" must be an array"},
            {"compile", "[[\"gcc\"]]", "\"compile\" must hold only strings"},
            {"run", "\"./main\"", "\"run\" must be an array"},
            {"run", "[null]", "\"run\" must hold only strings"},
            {"env", "[\"PATH=/bin\"]", "\"env\" must be an object"},
            {"env", "{\"PATH\": 5}", "env \"PATH\""},
            {"env", "{\"A=B\": \"x\"}", "env \"A=B\""},
            {"env", "{\"\": \"x\"}", "env \"\""},
            {"limits", "[]", "\"limits\" must be an object"},
            {"limits", "5", "\"limits\" must be an object"},
            /* empty run */
            {"run", "[]", "\"run\" must not be empty"},
            /* bad limits */
            {"limits", "{\"run\": {\"wall_ms\": 0}}", "limits.run: 'wall_ms'"},
            {"limits", "{\"run\": {\"wall_ms\": 1.5}}", "limits.run: 'wall_ms'"},
            {"limits", "{\"compile\": {\"memory_mb\": \"x\"}}", "limits.compile: 'memory_mb'"},
            {"limits", "{\"run\": {\"cpu_ms\": -1}}", "'cpu_ms' must be an integer"},
            {"limits", "{\"run\": {\"bogus_ms\": 5}}", "unknown limit 'bogus_ms'"},
            {"limits", "{\"deploy\": {\"wall_ms\": 5}}", "unknown limits stage \"deploy\""},
            {"limits", "{\"run\": 5}", "limits.run: must be an object"},
            /* examples */
            {"examples", NULL, "missing \"examples\""},
            {"examples", "[]", "missing \"examples\""},
            {"examples", "{\"hello\": {\"source\": \"x\", \"stdout\": \"\"}}", "examples.stdin"},
            {"examples",
             "{\"hello\": {\"source\": \"x\", \"stdout\": \"\"}, \"stdin\": {\"source\": \"x\", "
             "\"stdout\": \"\"}}",
             "examples.stdin needs \"stdin\""},
            {"examples", "{\"hello\": {\"stdout\": \"\"}, \"stdin\": {}}", "examples.hello needs"},
            {"examples", "{\"hello\": {\"source\": 1, \"stdout\": \"\"}}", "examples.hello.source"},
            {"examples", "{\"hello\": {\"source\": \"x\", \"stdout\": \"\", \"args\": \"\"}}",
             "unknown key \"args\""},
            {"examples", "{\"bye\": {}}", "examples: unknown key \"bye\""},
            {"display_name", "3", "\"display_name\""},
            /* names */
            {"name", "\"c/x\"", "invalid name \"c/x\""},
            {"name", "\"C\"", "invalid name \"C\""},
            {"name", "\"Python\"", "invalid name"},
            {"name", "\"a b\"", "invalid name"},
            {"name", "\"../c\"", "invalid name"},
            {"aliases", "[\"ok\", \"Bad\"]", "invalid alias \"Bad\""},
            {"aliases", "[\"\"]", "invalid alias"},
            {"rootfs", "\"../gcc\"", "invalid rootfs name"},
            {"rootfs", "\"GCC\"", "invalid rootfs name"},
            /* source_file must be a plain name */
            {"source_file", "\"src/main.c\"", "source_file"},
            {"source_file", "\"/main.c\"", "source_file"},
            {"source_file", "\"..\"", "source_file"},
            {"source_file", "\".hidden\"", "source_file"},
        };
        for (size_t i = 0; i < TU_COUNT(cases); i++) {
                char *doc = doc_with(cases[i].key, cases[i].raw);
                toolchain_t *tc = NULL;
                rc_err_t err = {0};
                int r = parse_text(doc, &tc, &err);
                if (r >= 0) {
                        FAIL("case %zu (%s = %s) accepted: %s", i, cases[i].key,
                             cases[i].raw ? cases[i].raw : "(removed)", doc);
                        toolchain_free(tc);
                } else {
                        CHECK_INT_EQ(r, -EINVAL);
                        CHECK_INT_EQ(err.code, EINVAL);
                        if (!strstr(err.msg, cases[i].want))
                                FAIL("case %zu (%s = %s): message \"%s\" lacks \"%s\"", i,
                                     cases[i].key, cases[i].raw ? cases[i].raw : "(removed)",
                                     err.msg, cases[i].want);
                        CHECK_CONTAINS(err.msg, "test.json");
                        CHECK(tc == NULL);
                }
                free(doc);
        }
}

static void test_parse_not_json(void)
{
        static const char *const bad[] = {"", "not json", "{\"name\": \"c\"", "{\"name\": 'c'}",
                                          "{,}"};
        for (size_t i = 0; i < TU_COUNT(bad); i++) {
                toolchain_t *tc = NULL;
                rc_err_t err = {0};
                if (!CHECK_FAIL(parse_text(bad[i], &tc, &err), -EINVAL)) {
                        FAIL("accepted [%s]", bad[i]);
                        toolchain_free(tc);
                        continue;
                }
                CHECK_CONTAINS(err.msg, "test.json");
                CHECK_CONTAINS(err.msg, "invalid JSON");
        }
        static const char *const not_obj[] = {"[1, 2]", "\"c\"", "42", "null"};
        for (size_t i = 0; i < TU_COUNT(not_obj); i++) {
                toolchain_t *tc = NULL;
                rc_err_t err = {0};
                if (CHECK_FAIL(parse_text(not_obj[i], &tc, &err), -EINVAL))
                        CHECK_CONTAINS(err.msg, "must be a JSON object");
                else
                        toolchain_free(tc);
        }
}

/* BUG (src/toolchain/toolchain.c, toolchain_parse): cJSON_ParseWithLengthOpts is called with
 * require_null_terminated = 0, so anything after the first JSON value is ignored: a valid
 * document followed by junk (e.g. a stray "}" or a second object) is accepted. */
static void test_parse_trailing_garbage(void)
{
        static const char *const tails[] = {"}", " {\"name\": \"x\"}", "garbage"};
        for (size_t i = 0; i < TU_COUNT(tails); i++) {
                char *doc = tu_strf("%s%s", FULL_DOC, tails[i]);
                toolchain_t *tc = NULL;
                rc_err_t err = {0};
                int r = parse_text(doc, &tc, &err);
                if (r >= 0)
                        FAIL("accepted a document followed by [%s]", tails[i]);
                else
                        CHECK_CONTAINS(err.msg, "after the JSON object");
                toolchain_free(tc);
                free(doc);
        }
}

/* ---- sets ---- */

static const char PY_DOC[] = "{\"name\":\"python\",\"aliases\":[\"py\",\"python3\"],"
                             "\"rootfs\":\"python\",\"version_package\":\"python3\","
                             "\"source_file\":\"main.py\",\"source_extensions\":[\".py\"],"
                             "\"run\":[\"python3\",\"{entry}\"]," TU_TC_EXAMPLES "}";

static void test_set_load_and_find(void)
{
        const char *dir = tu_tmpdir();
        REQUIRE(dir);
        char *a = tu_write_str(dir, "python.json", PY_DOC);
        char *b = tu_write_str(dir, "c.json", FULL_DOC);
        /* ignored: not *.json, hidden, a bare ".json" */
        char *c = tu_write_str(dir, "README.md", "not a toolchain");
        char *d = tu_write_str(dir, ".broken.json", "{");
        char *e = tu_write_str(dir, ".json", "{");
        char *f = tu_write_str(dir, "notes.json.bak", "{");
        toolchain_set_t set = {0};
        rc_err_t err = {0};
        if (CHECK_OK_E(toolchain_set_load(&set, dir, &err), err)) {
                CHECK_INT_EQ(set.n, 2);
                /* sorted by file name */
                if (set.n == 2) {
                        CHECK_STR_EQ(set.items[0]->name, "c");
                        CHECK_STR_EQ(set.items[1]->name, "python");
                }
                const toolchain_t *t = toolchain_set_find(&set, "python");
                CHECK(t && strcmp(t->name, "python") == 0);
                CHECK(toolchain_set_find(&set, "py") == t);
                CHECK(toolchain_set_find(&set, "python3") == t);
                t = toolchain_set_find(&set, "gcc");
                CHECK(t && strcmp(t->name, "c") == 0);
                CHECK(toolchain_set_find(&set, "c17") == t);
                CHECK(toolchain_set_find(&set, "c") == t);
                CHECK(toolchain_set_find(&set, "ruby") == NULL);
                CHECK(toolchain_set_find(&set, "") == NULL);
                CHECK(toolchain_set_find(&set, "Python") == NULL);
                CHECK(toolchain_set_find(&set, "pyth") == NULL);
        }
        toolchain_set_free(&set);
        CHECK_INT_EQ(set.n, 0);
        CHECK(set.items == NULL);
        free(a);
        free(b);
        free(c);
        free(d);
        free(e);
        free(f);
}

static void expect_load_error(const char *dir, int code, const char *want1, const char *want2)
{
        toolchain_set_t set = {0};
        rc_err_t err = {0};
        int r = toolchain_set_load(&set, dir, &err);
        if (CHECK_FAIL(r, -code)) {
                CHECK_CONTAINS(err.msg, want1);
                if (want2)
                        CHECK_CONTAINS(err.msg, want2);
        }
        toolchain_set_free(&set);
}

static void test_set_load_duplicates(void)
{
        const char *dir = tu_tmpdir();
        REQUIRE(dir);
        char *d1 = tu_strf("%s/dup-name", dir);
        char *d2 = tu_strf("%s/dup-alias", dir);
        char *d3 = tu_strf("%s/alias-is-name", dir);
        REQUIRE(mkdir(d1, 0755) == 0 && mkdir(d2, 0755) == 0 && mkdir(d3, 0755) == 0);
        char *f[6];
        /* two files, same name */
        f[0] = tu_write_str(d1, "a.json", PY_DOC);
        char *other = doc_with("aliases", "[\"cc\"]");
        f[1] = tu_write_str(d1, "b.json", PY_DOC);
        /* a second toolchain with an alias already taken by the first */
        f[2] = tu_write_str(d2, "a.json", FULL_DOC);
        cJSON *j = cJSON_Parse(PY_DOC);
        REQUIRE(j);
        cJSON_ReplaceItemInObjectCaseSensitive(j, "aliases", cJSON_Parse("[\"py\", \"gcc\"]"));
        char *py_gcc = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        f[3] = tu_write_str(d2, "b.json", py_gcc);
        /* an alias equal to another toolchain's name */
        f[4] = tu_write_str(d3, "a.json", other);
        j = cJSON_Parse(PY_DOC);
        REQUIRE(j);
        cJSON_ReplaceItemInObjectCaseSensitive(j, "aliases", cJSON_Parse("[\"c\"]"));
        char *py_c = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        f[5] = tu_write_str(d3, "b.json", py_c);

        expect_load_error(d1, EEXIST,
                          "\"python\" from root filesystem \"python\" is already loaded", "b.json");
        expect_load_error(d2, EEXIST, "alias \"gcc\" is already taken", "b.json");
        expect_load_error(d3, EEXIST, "alias \"c\" is already taken", "b.json");
        for (size_t i = 0; i < TU_COUNT(f); i++)
                free(f[i]);
        free(other);
        free(py_gcc);
        free(py_c);
        free(d1);
        free(d2);
        free(d3);
}

/* Versions of one language: several files with one name, each from its own root filesystem;
 * the language's aliases may be repeated by its versions but not used by another language. */
static void test_set_load_versions(void)
{
        const char *dir = tu_tmpdir();
        REQUIRE(dir);
        char *ok_dir = tu_strf("%s/versions", dir);
        char *bad_dir = tu_strf("%s/alias-of-other", dir);
        char *bad2_dir = tu_strf("%s/name-is-alias", dir);
        REQUIRE(mkdir(ok_dir, 0755) == 0 && mkdir(bad_dir, 0755) == 0 &&
                mkdir(bad2_dir, 0755) == 0);
        cJSON *j = cJSON_Parse(PY_DOC);
        REQUIRE(j);
        cJSON_ReplaceItemInObjectCaseSensitive(j, "rootfs", cJSON_CreateString("python-new"));
        cJSON_ReplaceItemInObjectCaseSensitive(j, "aliases", cJSON_Parse("[\"py\"]"));
        char *py_new = cJSON_PrintUnformatted(j);
        cJSON_ReplaceItemInObjectCaseSensitive(j, "name", cJSON_CreateString("snake"));
        char *snake_py = cJSON_PrintUnformatted(j); /* another language with python's alias */
        cJSON_ReplaceItemInObjectCaseSensitive(j, "name", cJSON_CreateString("py"));
        cJSON_ReplaceItemInObjectCaseSensitive(j, "aliases", cJSON_Parse("[]"));
        char *named_py = cJSON_PrintUnformatted(j); /* a language named as python's alias */
        cJSON_Delete(j);
        char *f[7] = {
            tu_write_str(ok_dir, "python.json", PY_DOC),
            tu_write_str(ok_dir, "python@new.json", py_new),
            tu_write_str(ok_dir, "c.json", FULL_DOC),
            tu_write_str(bad_dir, "python.json", PY_DOC),
            tu_write_str(bad_dir, "snake.json", snake_py),
            tu_write_str(bad2_dir, "python.json", PY_DOC),
            tu_write_str(bad2_dir, "py.json", named_py),
        };
        toolchain_set_t set = {0};
        rc_err_t err = {0};
        if (CHECK_OK_E(toolchain_set_load(&set, ok_dir, &err), err) && CHECK_INT_EQ(set.n, 3)) {
                /* file order: python.json before python@new.json */
                CHECK_STR_EQ(set.items[1]->rootfs, "python");
                CHECK_STR_EQ(set.items[2]->rootfs, "python-new");
                CHECK(toolchain_set_find(&set, "python") == set.items[1]);
                CHECK(toolchain_set_find(&set, "py") == set.items[1]);
                CHECK(toolchain_set_find(&set, "python3") == set.items[1]);
        }
        toolchain_set_free(&set);
        expect_load_error(bad_dir, EEXIST, "alias \"py\" is already taken", "snake.json");
        /* py.json loads first (file order) and python.json's alias "py" is its name */
        expect_load_error(bad2_dir, EEXIST, "alias \"py\" is already taken", "python.json");
        for (size_t i = 0; i < TU_COUNT(f); i++)
                free(f[i]);
        free(py_new);
        free(snake_py);
        free(named_py);
        free(ok_dir);
        free(bad_dir);
        free(bad2_dir);
}

static void test_versions(void)
{
        static const struct {
                const char *a, *b;
                int cmp;
        } cmps[] = {
            {"1.19.8", "1.24.4", -1}, {"1.9", "1.19", -1},       {"1.19", "1.19.1", -1},
            {"14.2.0", "12.2.0", 1},  {"20.19.2", "18.20.4", 1}, {"3.13.5", "3.13.5", 0},
            {"1.010", "1.10", 0},     {"1.2a", "1.2b", -1},      {"", "1", -1},
        };
        for (size_t i = 0; i < TU_COUNT(cmps); i++) {
                int c = toolchain_version_cmp(cmps[i].a, cmps[i].b);
                int back = toolchain_version_cmp(cmps[i].b, cmps[i].a);
                if (!CHECK_INT_EQ((c > 0) - (c < 0), cmps[i].cmp) ||
                    !CHECK_INT_EQ((back > 0) - (back < 0), -cmps[i].cmp))
                        fprintf(stderr, "  comparing %s and %s\n", cmps[i].a, cmps[i].b);
        }
        static const struct {
                const char *version, *want;
                bool match;
        } m[] = {
            {"1.24.4", NULL, true},        {"1.24.4", "", true},       {"1.24.4", "*", true},
            {"1.24.4", "x", true},         {"1.24.4", "latest", true}, {"1.24.4", "1.24.4", true},
            {"1.24.4", "1.24", true},      {"1.24.4", "1", true},      {"1.24.4", "1.x", true},
            {"1.24.4", "1.24.*", true},    {"1.24.4", "1.2", false},   {"1.24.4", "1.24.", false},
            {"1.24.4", "1.24.4.1", false}, {"1.24.4", "2", false},     {"1.24.4", "v1.24", false},
            {"1.24.4", ".x", false},
        };
        for (size_t i = 0; i < TU_COUNT(m); i++)
                if (!CHECK(toolchain_version_matches(m[i].version, m[i].want) == m[i].match))
                        fprintf(stderr, "  %s for %s: expected %s\n", m[i].version,
                                m[i].want ? m[i].want : "NULL", m[i].match ? "a match" : "none");
}

static void test_set_load_errors(void)
{
        const char *dir = tu_tmpdir();
        REQUIRE(dir);
        char *empty = tu_strf("%s/empty", dir);
        REQUIRE(mkdir(empty, 0755) == 0);
        expect_load_error(empty, ENOENT, "no toolchains", empty);

        /* only non-JSON files: still empty */
        char *readme = tu_write_str(empty, "README", "x");
        expect_load_error(empty, ENOENT, "no toolchains", NULL);

        char *missing = tu_strf("%s/missing", dir);
        expect_load_error(missing, ENOENT, "toolchains directory", missing);

        /* one broken file fails the whole load, naming the file */
        char *mixed = tu_strf("%s/mixed", dir);
        REQUIRE(mkdir(mixed, 0755) == 0);
        char *good = tu_write_str(mixed, "a.json", PY_DOC);
        char *bad = tu_write_str(mixed, "b.json", "{\"name\": \"x\"}");
        expect_load_error(mixed, EINVAL, "b.json", "missing \"rootfs\"");

        /* a file larger than the size cap */
        char *huge_dir = tu_strf("%s/huge", dir);
        REQUIRE(mkdir(huge_dir, 0755) == 0);
        size_t hl = 200 * 1024;
        char *huge = malloc(hl);
        REQUIRE(huge);
        memset(huge, ' ', hl);
        huge[0] = '{';
        huge[hl - 1] = '}';
        char *hp = tu_write_file(huge_dir, "huge.json", huge, hl);
        free(huge);
        expect_load_error(huge_dir, EFBIG, "huge.json", NULL);

        free(hp);
        free(huge_dir);
        free(good);
        free(bad);
        free(mixed);
        free(missing);
        free(readme);
        free(empty);
}

/* ---- argv expansion ---- */

static toolchain_t *parse_or_fail(const char *doc)
{
        toolchain_t *tc = NULL;
        rc_err_t err = {0};
        if (!CHECK_OK_E(parse_text(doc, &tc, &err), err))
                return NULL;
        return tc;
}

static bool argv_is(const strv_t *s, const char *const *want, size_t n, int line)
{
        bool ok = s->n == n;
        for (size_t i = 0; ok && i < n; i++)
                ok = strcmp(s->v[i], want[i]) == 0;
        if (ok && s->v[n] != NULL)
                ok = false;
        if (!ok) {
                char got[512] = "", *p = got;
                for (size_t i = 0; i < s->n && p < got + sizeof(got) - 64; i++)
                        p += snprintf(p, 64, "[%.60s]", s->v[i]);
                FAIL("line %d: argv is %s (%zu items), want %zu items", line, got, s->n, n);
        }
        return ok;
}

#define ARGV_IS(s, ...)                                                                            \
        do {                                                                                       \
                static const char *const want_[] = {__VA_ARGS__};                                  \
                argv_is((s), want_, TU_COUNT(want_), __LINE__);                                    \
        } while (0)

static void test_expand_sources(void)
{
        toolchain_t *tc = parse_or_fail(FULL_DOC);
        REQUIRE(tc);
        char *files[] = {"main.c", "util.c", "util.h", "notes.txt", "lib/x.c", ".c", "c"};
        strv_t out = {0};
        rc_err_t err = {0};
        if (CHECK_OK_E(toolchain_expand_argv(tc, &tc->compile, "main.c", files, TU_COUNT(files),
                                             NULL, &out, &err),
                       err))
                ARGV_IS(&out, "gcc", "-O2", "-o", "main", "main.c", "util.c", "lib/x.c");
        strv_free(&out);

        /* no matching file: an error that names the extension */
        char *no_c[] = {"main.py", "README"};
        CHECK_FAIL(toolchain_expand_argv(tc, &tc->compile, "main.py", no_c, TU_COUNT(no_c), NULL,
                                         &out, &err),
                   -EINVAL);
        CHECK_CONTAINS(err.msg, "no source file");
        CHECK_CONTAINS(err.msg, ".c");
        strv_free(&out);
        CHECK_FAIL(toolchain_expand_argv(tc, &tc->compile, "main.c", NULL, 0, NULL, &out, &err),
                   -EINVAL);
        strv_free(&out);
        toolchain_free(tc);

        /* several extensions */
        char *doc = doc_with("source_extensions", "[\".cpp\", \".cc\", \".cxx\"]");
        tc = parse_or_fail(doc);
        free(doc);
        REQUIRE(tc);
        char *cxx[] = {"a.cpp", "b.cc", "c.hpp", "d.cxx", "e.c"};
        if (CHECK_OK_E(toolchain_expand_argv(tc, &tc->compile, "a.cpp", cxx, TU_COUNT(cxx), NULL,
                                             &out, &err),
                       err))
                ARGV_IS(&out, "gcc", "-O2", "-o", "main", "a.cpp", "b.cc", "d.cxx");
        strv_free(&out);
        toolchain_free(tc);

        /* no extension list: every file */
        doc = doc_with("source_extensions", NULL);
        tc = parse_or_fail(doc);
        free(doc);
        REQUIRE(tc);
        char *any[] = {"x.txt", "y"};
        if (CHECK_OK_E(toolchain_expand_argv(tc, &tc->compile, "x.txt", any, TU_COUNT(any), NULL,
                                             &out, &err),
                       err))
                ARGV_IS(&out, "gcc", "-O2", "-o", "main", "x.txt", "y");
        strv_free(&out);
        toolchain_free(tc);
}

static void test_expand_entry_and_args(void)
{
        toolchain_t *tc = parse_or_fail(PY_DOC);
        REQUIRE(tc);
        strv_t out = {0};
        rc_err_t err = {0};
        char *args[] = {"--flag", "two words", "{entry}", NULL};
        if (CHECK_OK_E(toolchain_expand_argv(tc, &tc->run, "prog.py", NULL, 0, args, &out, &err),
                       err))
                /* placeholders in user args are not expanded */
                ARGV_IS(&out, "python3", "prog.py", "--flag", "two words", "{entry}");
        strv_free(&out);

        /* no args */
        char *none[] = {NULL};
        if (CHECK_OK_E(toolchain_expand_argv(tc, &tc->run, "m.py", NULL, 0, none, &out, &err), err))
                ARGV_IS(&out, "python3", "m.py");
        strv_free(&out);

        /* a template without placeholders; out is appended to */
        strv_t tpl = {0};
        CHECK_OK(strv_push(&tpl, "./main"));
        CHECK_OK(strv_push(&tpl, "-v"));
        CHECK_OK(strv_push(&out, "prefix"));
        char *one[] = {"x", NULL};
        char *files[] = {"main.py"};
        if (CHECK_OK_E(toolchain_expand_argv(tc, &tpl, "ignored", files, 1, one, &out, &err), err))
                ARGV_IS(&out, "prefix", "./main", "-v", "x");
        strv_free(&out);

        /* an empty template with args is just the args */
        strv_t empty = {0};
        if (CHECK_OK_E(toolchain_expand_argv(tc, &empty, "m.py", NULL, 0, one, &out, &err), err))
                ARGV_IS(&out, "x");
        strv_free(&out);

        /* {entry} and {sources} in one template */
        strv_t both = {0};
        CHECK_OK(strv_push(&both, "{entry}"));
        CHECK_OK(strv_push(&both, "{sources}"));
        char *srcs[] = {"a.py", "b.txt", "c.py"};
        if (CHECK_OK_E(
                toolchain_expand_argv(tc, &both, "a.py", srcs, TU_COUNT(srcs), NULL, &out, &err),
                err))
                ARGV_IS(&out, "a.py", "a.py", "c.py");
        strv_free(&out);
        strv_free(&both);
        strv_free(&tpl);
        toolchain_free(tc);
}

static int expand_no_ext_no_files(void *arg)
{
        const toolchain_t *tc = arg;
        strv_t out = {0};
        rc_err_t err = {0};
        int r = toolchain_expand_argv(tc, &tc->compile, "main", NULL, 0, NULL, &out, &err);
        /* the correct behaviour: an error, not a crash */
        return (r == -EINVAL && strstr(err.msg, "no source file")) ? 0 : 1;
}

/* BUG (src/toolchain/toolchain.c, toolchain_expand_argv): a template with "{sources}", a
 * toolchain without "source_extensions" and no files dereferences tc->source_ext.v (NULL) for
 * the error message ("expected a name ending in %s", tc->source_ext.v[0]): SIGSEGV. */
static void test_expand_sources_no_ext_no_files(void)
{
        char *doc = doc_with("source_extensions", NULL);
        toolchain_t *tc = parse_or_fail(doc);
        free(doc);
        REQUIRE(tc);
        int st = tu_run_in_child(expand_no_ext_no_files, tc);
        if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
                FAIL("toolchain_expand_argv({sources}, no extensions, no files): %s %d",
                     WIFSIGNALED(st) ? "killed by signal" : "exit status",
                     WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
        toolchain_free(tc);
}

static void test_env_get(void)
{
        char *doc = doc_with("env", "{\"PATH\": \"/bin\", \"PATHX\": \"x\", \"OPTS\": \"a=b=c\", "
                                    "\"EMPTY\": \"\"}");
        toolchain_t *tc = parse_or_fail(doc);
        free(doc);
        REQUIRE(tc);
        CHECK_STR_EQ(toolchain_env_get(tc, "PATH"), "/bin");
        CHECK_STR_EQ(toolchain_env_get(tc, "PATHX"), "x");
        CHECK_STR_EQ(toolchain_env_get(tc, "OPTS"), "a=b=c");
        CHECK_STR_EQ(toolchain_env_get(tc, "EMPTY"), "");
        CHECK(toolchain_env_get(tc, "PAT") == NULL);
        CHECK(toolchain_env_get(tc, "HOME") == NULL);
        CHECK(toolchain_env_get(tc, "path") == NULL);
        CHECK_INT_EQ(tc->env.n, 4);
        CHECK_STR_EQ(tc->env.v[2], "OPTS=a=b=c");
        toolchain_free(tc);
}

/* ---- the repository's toolchains/ ---- */

static void test_repo_toolchains(void)
{
        char *dir = tu_strf("%s/toolchains", tu_source_dir());
        toolchain_set_t set = {0};
        rc_err_t err = {0};
        char *probe = tu_strf("ls %s/*.json", dir);
        if (!tu_shell_ok(probe)) {
                tu_skip("no toolchains/*.json in %s yet", tu_source_dir());
                goto out;
        }
        if (!CHECK_OK_E(toolchain_set_load(&set, dir, &err), err))
                goto out;
        static const char *const required[] = {"bash",       "python", "c",   "cpp",
                                               "javascript", "go",     "rust"};
        static const char *const compiled[] = {"c", "cpp", "go", "rust"};
        for (size_t i = 0; i < TU_COUNT(required); i++) {
                const toolchain_t *tc = toolchain_set_find(&set, required[i]);
                if (!tc) {
                        FAIL("toolchain \"%s\" is missing from %s", required[i], dir);
                        continue;
                }
                CHECK(tc->run.n > 0);
                /* its root filesystem has a recipe */
                char *recipe = tu_strf("%s/rootfs/%s.packages", tu_source_dir(), tc->rootfs);
                if (access(recipe, F_OK) != 0)
                        FAIL("toolchain \"%s\": rootfs \"%s\" has no recipe %s", tc->name,
                             tc->rootfs, recipe);
                free(recipe);
        }
        for (size_t i = 0; i < TU_COUNT(compiled); i++) {
                const toolchain_t *tc = toolchain_set_find(&set, compiled[i]);
                if (tc && tc->compile.n == 0)
                        FAIL("toolchain \"%s\" has no compile command", compiled[i]);
        }
out:
        toolchain_set_free(&set);
        free(probe);
        free(dir);
}

/* Replace path's bytes with text of the same length and put its modification time back: to
 * the index, the same file (device, inode, size and time unchanged). */
static void rewrite_keeping_identity(const char *path, const char *text)
{
        struct stat st;
        REQUIRE(stat(path, &st) == 0);
        REQUIRE((size_t)st.st_size >= strlen(text));
        char *padded = calloc(1, (size_t)st.st_size + 1);
        REQUIRE(padded);
        memset(padded, ' ', (size_t)st.st_size);
        memcpy(padded, text, strlen(text));
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        CHECK(fd >= 0 && write(fd, padded, (size_t)st.st_size) == st.st_size);
        if (fd >= 0)
                close(fd);
        struct timespec ts[2] = {st.st_atim, st.st_mtim};
        CHECK(utimensat(AT_FDCWD, path, ts, 0) == 0);
        free(padded);
}

/* Date path 10 s back: the index takes only files not changed in the last 2 s. */
static void age(const char *path)
{
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        now.tv_sec -= 10;
        struct timespec ts[2] = {now, now};
        CHECK(path && utimensat(AT_FDCWD, path, ts, 0) == 0);
}

static int load_indexed(const char *dir, const char *token, const char *index, size_t *n,
                        rc_err_t *err)
{
        toolchain_set_t set = {0};
        int r = toolchain_set_load_indexed(&set, dir, token, index, err);
        *n = set.n;
        if (r == 0 && !toolchain_set_find(&set, token) && token[0] != '.')
                *n = 0; /* not found: as the caller would see it */
        toolchain_set_free(&set);
        return r;
}

static void test_set_load_indexed(void)
{
        const char *tmp = tu_tmpdir();
        REQUIRE(tmp);
        char *dir = tu_strf("%s/tc", tmp), *index = tu_strf("%s/toolchains.index", tmp);
        char *c_path = tu_write_str(dir, "c.json", FULL_DOC);
        char *py_path = tu_write_str(dir, "python.json", PY_DOC);
        age(c_path);
        age(py_path);
        char *text = NULL;
        size_t n = 0, len = 0;
        rc_err_t err = {0};
        /* no index yet: every file is read, and the index is written */
        CHECK_OK_E(load_indexed(dir, "python", index, &n, &err), err);
        CHECK_INT_EQ(n, 1);
        REQUIRE(fs_read_file(index, 1 << 20, &text, &len, &err) == 0);
        CHECK_CONTAINS(text, "runcell-toolchains-index 1 ");
        CHECK_CONTAINS(text, "\tc gcc c17 .c\n");
        CHECK_CONTAINS(text, "\tpython py python3 .py\n");
        free(text);
        /* an indexed file the lookup does not name is not read: c.json, made a document that
         * mentions "python" and does not parse, with its identity kept, changes nothing */
        rewrite_keeping_identity(c_path, "{\"python\"");
        CHECK_OK_E(load_indexed(dir, "python", index, &n, &err), err);
        CHECK_INT_EQ(n, 1);
        CHECK_OK_E(load_indexed(dir, ".py", index, &n, &err), err); /* by extension */
        CHECK_INT_EQ(n, 1);
        /* ... where reading every file finds it */
        toolchain_set_t set = {0};
        CHECK(toolchain_set_load_mentioning(&set, dir, "python", &err) < 0);
        toolchain_set_free(&set);
        /* a file changed in the last 2 s is read each time (a coarse clock may give a rewrite
         * its time): python.json, renewed, is read and not indexed until it is older */
        CHECK(utimensat(AT_FDCWD, py_path, NULL, 0) == 0);
        CHECK_OK_E(load_indexed(dir, "python", index, &n, &err), err);
        REQUIRE(fs_read_file(index, 1 << 20, &text, &len, &err) == 0);
        CHECK(strstr(text, "python.json") == NULL);
        free(text);
        age(py_path);
        /* a changed file is read again: c.json gets an alias "python", which is taken */
        free(c_path);
        char *dup = doc_with("aliases", "[\"gcc\", \"python\"]");
        c_path = tu_write_str(dir, "c.json", dup);
        free(dup);
        CHECK_FAIL(load_indexed(dir, "python", index, &n, &err), -EEXIST);
        CHECK_CONTAINS(err.msg, "already taken");
        /* a new file (a new alias) is found at once; then the index has it */
        free(c_path);
        c_path = tu_write_str(dir, "c.json", FULL_DOC);
        age(c_path);
        char *r_path = tu_write_str(dir, "ruby.json",
                                    "{\"name\":\"ruby\",\"aliases\":[\"rb\"],\"rootfs\":\"ruby\","
                                    "\"version_package\":\"ruby\","
                                    "\"source_file\":\"main.rb\",\"source_extensions\":[\".rb\"],"
                                    "\"run\":[\"ruby\",\"{entry}\"]," TU_TC_EXAMPLES "}");
        age(r_path);
        CHECK_OK_E(load_indexed(dir, "rb", index, &n, &err), err);
        CHECK_INT_EQ(n, 1);
        REQUIRE(fs_read_file(index, 1 << 20, &text, &len, &err) == 0);
        CHECK_CONTAINS(text, "ruby.json\t");
        CHECK_CONTAINS(text, "\truby rb .rb\n");
        free(text);
        /* a file that does not parse is marked in the index, and read (and refused) each time
         * it is named; the index is not written again for it */
        char *bad = tu_write_str(dir, "zz.json", "{\"name\": \"zz\", \"c17\": ");
        age(bad);
        CHECK_FAIL(load_indexed(dir, "c17", index, &n, &err), -EINVAL);
        CHECK_OK_E(load_indexed(dir, "python", index, &n, &err), err);
        REQUIRE(fs_read_file(index, 1 << 20, &text, &len, &err) == 0);
        CHECK_CONTAINS(text, "\t!\n");
        free(text);
        struct stat before, after;
        CHECK(stat(index, &before) == 0);
        CHECK_FAIL(load_indexed(dir, "c17", index, &n, &err), -EINVAL);
        CHECK_OK_E(load_indexed(dir, "python", index, &n, &err), err);
        CHECK(stat(index, &after) == 0 && after.st_ino == before.st_ino); /* not renamed over */
        /* a removed file leaves the index */
        CHECK(unlink(bad) == 0 && unlink(r_path) == 0);
        CHECK_OK_E(load_indexed(dir, "python", index, &n, &err), err);
        REQUIRE(fs_read_file(index, 1 << 20, &text, &len, &err) == 0);
        CHECK(strstr(text, "ruby.json") == NULL);
        free(text);
        /* another directory's index is not used: written anew for this one */
        char *other = tu_strf("%s/other", tmp);
        char *o_path = tu_write_str(other, "python.json", PY_DOC);
        age(o_path);
        CHECK_OK_E(load_indexed(other, "python", index, &n, &err), err);
        CHECK_INT_EQ(n, 1);
        REQUIRE(fs_read_file(index, 1 << 20, &text, &len, &err) == 0);
        CHECK(strncmp(text + strlen("runcell-toolchains-index 1 "), other, strlen(other)) == 0);
        CHECK(strstr(text, "c.json") == NULL);
        free(text);
        /* an index that cannot be written costs nothing but the reads */
        char *nowhere = tu_strf("%s/missing/toolchains.index", tmp);
        CHECK_OK_E(load_indexed(dir, "python", nowhere, &n, &err), err);
        CHECK_INT_EQ(n, 1);
        free(nowhere);
        free(o_path);
        free(other);
        free(bad);
        free(r_path);
        free(py_path);
        free(c_path);
        free(index);
        free(dir);
}

int main(int argc, char **argv)
{
        static const tu_test_t tests[] = {
            TU_TEST(test_parse_full),
            TU_TEST(test_parse_minimal),
            TU_TEST(test_parse_invalid_fields),
            TU_TEST(test_parse_not_json),
            TU_TEST(test_parse_trailing_garbage),
            TU_TEST(test_set_load_and_find),
            TU_TEST(test_set_load_duplicates),
            TU_TEST(test_set_load_versions),
            TU_TEST(test_versions),
            TU_TEST(test_set_load_errors),
            TU_TEST(test_set_load_indexed),
            TU_TEST(test_expand_sources),
            TU_TEST(test_expand_entry_and_args),
            TU_TEST(test_expand_sources_no_ext_no_files),
            TU_TEST(test_env_get),
            TU_TEST(test_repo_toolchains),
        };
        return tu_main("test_toolchain", tests, TU_COUNT(tests), argc, argv);
}
