/* engine/: the catalog and the run document, in a program linked against the engine and the
 * layers below it only (runcell_engine, runcell_base, both whole): it does not link if any of
 * their code calls up into the server or the command line (docs/ARCHITECTURE.md, layers). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "engine/catalog.h"
#include "engine/request.h"
#include "testutil.h"

static const char TOOLCHAIN[] =
    "{\"name\": \"tiny\", \"aliases\": [\"tn\"], \"rootfs\": \"base\",\n"
    " \"version_package\": \"tinysh\", \"source_file\": \"main.sh\",\n"
    " \"source_extensions\": [\".sh\"], \"run\": [\"/bin/sh\", \"{entry}\"],\n"
    " \"env\": {\"PATH\": \"/bin\"},\n"
    " \"limits\": {\"run\": {\"wall_ms\": 3000, \"memory_mb\": 64}},\n"
    " \"seccomp_profile\": \"default\", " TU_TC_EXAMPLES "}\n";

/* A toolchain "tiny" on a rootfs "base" (a tarball of a few files, when tar --zstd and
 * sha256sum are there: with_rootfs), the source tree's seccomp profiles, a fresh state dir. */
struct fixture {
        rc_paths_t paths;
        catalog_t cat;
        bool loaded;
};

static bool fixture_open(struct fixture *f, bool with_rootfs)
{
        memset(f, 0, sizeof(*f));
        if (with_rootfs &&
            !tu_shell_ok("tar --zstd -cf /dev/null -T /dev/null && command -v sha256sum")) {
                tu_skip("tar --zstd or sha256sum unavailable");
                return false;
        }
        const char *dir = tu_tmpdir();
        if (!dir)
                return false;
        f->paths.toolchains_dir = tu_strf("%s/toolchains", dir);
        f->paths.seccomp_dir = tu_strf("%s/seccomp-profiles", tu_source_dir());
        f->paths.rootfs_dir = tu_strf("%s/rootfs", dir);
        f->paths.state_dir = tu_strf("%s/state", dir);
        f->paths.rlimit_only = true;
        char *tc = tu_write_str(f->paths.toolchains_dir, "tiny.json", TOOLCHAIN);
        bool ok =
            tc && mkdir(f->paths.rootfs_dir, 0755) == 0 && mkdir(f->paths.state_dir, 0755) == 0;
        free(tc);
        if (ok && with_rootfs) {
                char *s = tu_write_str(dir, "tree/bin/sh", "#!/bin/true\n");
                char *m = tu_write_str(f->paths.rootfs_dir, "base.manifest", "tinysh 1:2.3.4-5\n");
                ok = s && m &&
                     tu_sh("tar --zstd -cf %s/base.tar.zst -C %s/tree .", f->paths.rootfs_dir,
                           dir) &&
                     tu_sh("cd %s && sha256sum base.tar.zst > base.tar.zst.sha256",
                           f->paths.rootfs_dir);
                free(s);
                free(m);
        }
        rc_err_t err = {0};
        ok = ok && CHECK_OK_E(catalog_load(&f->cat, &f->paths, &err), err);
        f->loaded = ok;
        return ok;
}

static void fixture_close(struct fixture *f)
{
        if (f->loaded)
                catalog_close(&f->cat);
        free(f->paths.toolchains_dir);
        free(f->paths.seccomp_dir);
        free(f->paths.rootfs_dir);
        free(f->paths.state_dir);
}

/* parse text as a run document: 0, or -1 with code and msg */
static int parse(struct fixture *f, const char *text, run_request_t *rr, cJSON **doc,
                 const char **code, char *msg, size_t size)
{
        *doc = cJSON_Parse(text);
        if (!CHECK(*doc != NULL))
                return -2;
        return run_request_parse(&f->cat, *doc, true, rr, code, msg, size);
}

static void test_request_refusals(void)
{
        struct fixture f;
        if (!fixture_open(&f, false))
                return;
        static const struct {
                const char *doc, *code, *msg;
        } cases[] = {
            {"[1]", "bad_request", "a request is a JSON object"},
            {"{\"source\": \"x\"}", "bad_request", "\"language\" (a string) is required"},
            {"{\"language\": 3}", "bad_request", "\"language\" (a string) is required"},
            {"{\"language\": \"cobol\"}", "unknown_language", "unknown language 'cobol'"},
            /* known, but its root filesystem was never built: the catalog says why */
            {"{\"language\": \"tn\", \"source\": \"x\"}", "unavailable",
             "language 'tiny' is not ready: its root filesystem 'base' is not built yet"},
        };
        for (size_t i = 0; i < TU_COUNT(cases); i++) {
                run_request_t rr;
                cJSON *doc = NULL;
                const char *code = NULL;
                char msg[600] = "";
                int r = parse(&f, cases[i].doc, &rr, &doc, &code, msg, sizeof(msg));
                if (!CHECK_INT_EQ(r, -1))
                        fprintf(stderr, "  for %s\n", cases[i].doc);
                CHECK_STR_EQ(code, cases[i].code);
                CHECK_CONTAINS(msg, cases[i].msg);
                run_request_free(&rr);
                cJSON_Delete(doc);
        }
        fixture_close(&f);
}

static void test_request_to_job_spec(void)
{
        struct fixture f;
        if (!fixture_open(&f, true))
                return;
        run_request_t rr;
        cJSON *doc = NULL;
        const char *code = NULL;
        char msg[600] = "";
        /* a bad field after the language is found */
        CHECK_INT_EQ(parse(&f, "{\"language\": \"tiny\", \"source\": \"x\", \"args\": [1]}", &rr,
                           &doc, &code, msg, sizeof(msg)),
                     -1);
        CHECK_STR_EQ(code, "bad_request");
        CHECK_CONTAINS(msg, "\"args\" must be an array of strings");
        run_request_free(&rr);
        cJSON_Delete(doc);

        if (!CHECK_INT_EQ(parse(&f,
                                "{\"language\": \"tn\", \"source\": \"echo hi\", \"stdin\": \"in\","
                                " \"args\": [\"a\", \"b\"], \"env\": {\"K\": \"v\"},"
                                " \"limits\": {\"wall_ms\": 1000}}",
                                &rr, &doc, &code, msg, sizeof(msg)),
                          0)) {
                fprintf(stderr, "  %s: %s\n", code, msg);
                cJSON_Delete(doc);
                fixture_close(&f);
                return;
        }
        CHECK_STR_EQ(rr.lang->tc->name, "tiny");
        CHECK_STR_EQ(rr.lang->version, "2.3.4");
        CHECK(rr.lang->rootfs != NULL);
        job_spec_t js;
        run_request_job_spec(&f.cat, &rr, &js);
        CHECK(js.tc == rr.lang->tc);
        CHECK_STR_EQ(js.rootfs, rr.lang->rootfs);
        CHECK(js.seccomp && js.seccomp->len > 0);  /* the catalog compiled the profile */
        CHECK_INT_EQ(js.run_limits.wall_ms, 1000); /* the document's */
        CHECK_INT_EQ(js.run_limits.memory_mb, 64); /* the toolchain's */
        CHECK(js.run_limits.processes > 0);        /* a default */
        CHECK_INT_EQ(js.nfiles, 1);
        CHECK_STR_EQ(js.files[0].name, "main.sh");
        CHECK_INT_EQ(js.files[0].len, 7);
        CHECK_STR_EQ(js.args[0], "a");
        CHECK_STR_EQ(js.args[1], "b");
        CHECK(js.args[2] == NULL);
        CHECK_STR_EQ(js.env[0], "K=v");
        CHECK_INT_EQ(js.stdin_len, 2);
        CHECK(js.command == NULL); /* the toolchain's run command */
        rc_err_t err = {0};
        CHECK_OK_E(job_check(&js, &err), err);
        run_request_free(&rr);
        cJSON_Delete(doc);
        fixture_close(&f);
}

/* NAME's root filesystem "built" as far as listings go: a tarball that is not one, its
 * checksum file and a manifest. */
static bool fake_built(const struct fixture *f, const char *name, const char *manifest)
{
        char *tar = tu_strf("%s.tar.zst", name), *sum = tu_strf("%s.tar.zst.sha256", name),
             *mf = tu_strf("%s.manifest", name);
        char *t = tu_write_str(f->paths.rootfs_dir, tar, "not a tarball");
        char *a =
            tu_write_str(f->paths.rootfs_dir, sum,
                         "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n");
        char *b = tu_write_str(f->paths.rootfs_dir, mf, manifest);
        bool ok = t && a && b;
        free(t);
        free(tar);
        free(a);
        free(b);
        free(sum);
        free(mf);
        return ok;
}

static const char *found_rootfs(struct fixture *f, const char *name, const char *version)
{
        const toolchain_t *tc = NULL;
        rc_err_t err = {0};
        if (!CHECK_OK_E(catalog_find(&f->cat, name, version, &tc, &err), err)) {
                fprintf(stderr, "  for %s version %s\n", name, version ? version : "(none)");
                return "";
        }
        return tc->rootfs;
}

/* Three versions of "tiny", each from its own root filesystem (two built): the newest built is
 * the default, a version is chosen exactly or by its start, others are refused naming those
 * there are. */
static void test_find_versions(void)
{
        struct fixture f;
        if (!fixture_open(&f, false))
                return;
        catalog_close(&f.cat);
        f.loaded = false;
        cJSON *j = cJSON_Parse(TOOLCHAIN);
        REQUIRE(j);
        cJSON_ReplaceItemInObjectCaseSensitive(j, "rootfs", cJSON_CreateString("base-new"));
        cJSON_DeleteItemFromObjectCaseSensitive(j, "aliases"); /* the language's: from tiny.json */
        char *doc_new = cJSON_PrintUnformatted(j);
        cJSON_ReplaceItemInObjectCaseSensitive(j, "rootfs", cJSON_CreateString("base-next"));
        char *doc_next = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        char *t1 = tu_write_str(f.paths.toolchains_dir, "tiny@new.json", doc_new);
        char *t2 = tu_write_str(f.paths.toolchains_dir, "tiny@next.json", doc_next);
        rc_err_t err = {0};
        bool ok = t1 && t2 && fake_built(&f, "base", "tinysh 1:1.9.2-5\n") &&
                  fake_built(&f, "base-new", "other 1\ntinysh 1.19.0+dfsg-1\n") &&
                  CHECK_OK_E(catalog_load(&f.cat, &f.paths, &err), err);
        f.loaded = ok;
        if (ok) {
                CHECK_INT_EQ(f.cat.set.n, 3);
                CHECK_STR_EQ(found_rootfs(&f, "tiny", NULL), "base-new"); /* the newest */
                CHECK_STR_EQ(found_rootfs(&f, "tn", NULL), "base-new");   /* by its alias */
                CHECK_STR_EQ(found_rootfs(&f, "tiny", ""), "base-new");
                CHECK_STR_EQ(found_rootfs(&f, "tiny", "*"), "base-new");
                CHECK_STR_EQ(found_rootfs(&f, "tiny", "1"), "base-new");
                CHECK_STR_EQ(found_rootfs(&f, "tiny", "1.x"), "base-new");
                CHECK_STR_EQ(found_rootfs(&f, "tiny", "1.9"), "base");
                CHECK_STR_EQ(found_rootfs(&f, "tn", "1.9.2"), "base");
                CHECK_STR_EQ(found_rootfs(&f, "tiny", "1.19.0"), "base-new");

                static const char *const refused[] = {"1.1", "1.9.", "2", "1.19.0.1", "x1"};
                for (size_t i = 0; i < TU_COUNT(refused); i++) {
                        const toolchain_t *tc = NULL;
                        rc_err_t e = {0};
                        char *want = tu_strf("tiny has no version '%s' (versions: 1.19.0, 1.9.2)",
                                             refused[i]);
                        if (CHECK_FAIL(catalog_find(&f.cat, "tiny", refused[i], &tc, &e), -ESRCH))
                                CHECK_CONTAINS(e.msg, want);
                        free(want);
                }
                const toolchain_t *tc = NULL;
                rc_err_t e = {0};
                if (CHECK_FAIL(catalog_find(&f.cat, "cobol", NULL, &tc, &e), -ENOENT))
                        CHECK_CONTAINS(e.msg, "unknown language 'cobol'");

                /* every version, newest first; the one not built last */
                size_t n = 0;
                catalog_variant_t *v = catalog_variants(&f.cat, "tiny", &n);
                if (CHECK(v != NULL) && CHECK_INT_EQ(n, 3)) {
                        CHECK_STR_EQ(v[0].version, "1.19.0");
                        CHECK_STR_EQ(v[1].version, "1.9.2");
                        CHECK(v[2].version == NULL);
                        CHECK_STR_EQ(v[2].tc->rootfs, "base-next");
                }
                catalog_variants_free(v, n);

                /* the run document's "version" */
                static const struct {
                        const char *doc, *code, *msg;
                } cases[] = {
                    {"{\"language\": \"tiny\", \"version\": \"3\", \"source\": \"x\"}",
                     "unknown_version", "tiny has no version '3' (versions: 1.19.0, 1.9.2)"},
                    {"{\"language\": \"tiny\", \"version\": 1.9, \"source\": \"x\"}", "bad_request",
                     "\"version\" must be a string"},
                    /* chosen, but (here) not really built: unpacking it fails */
                    {"{\"language\": \"tiny\", \"version\": \"1.9\", \"source\": \"x\"}",
                     "unavailable", "base.tar.zst"},
                    {"{\"language\": \"tiny\", \"source\": \"x\"}", "unavailable",
                     "base-new.tar.zst"},
                };
                for (size_t i = 0; i < TU_COUNT(cases); i++) {
                        run_request_t rr;
                        cJSON *doc = NULL;
                        const char *code = NULL;
                        char msg[600] = "";
                        if (!CHECK_INT_EQ(
                                parse(&f, cases[i].doc, &rr, &doc, &code, msg, sizeof(msg)), -1))
                                fprintf(stderr, "  for %s\n", cases[i].doc);
                        CHECK_STR_EQ(code, cases[i].code);
                        CHECK_CONTAINS(msg, cases[i].msg);
                        run_request_free(&rr);
                        cJSON_Delete(doc);
                }
        }
        free(t1);
        free(t2);
        free(doc_new);
        free(doc_next);
        fixture_close(&f);
}

/* With no version built, a request without a version goes to the first toolchain (whose
 * missing root filesystem is then the answer); one with a version names none. */
static void test_find_none_built(void)
{
        struct fixture f;
        if (!fixture_open(&f, false))
                return;
        catalog_close(&f.cat);
        f.loaded = false;
        cJSON *j = cJSON_Parse(TOOLCHAIN);
        REQUIRE(j);
        cJSON_ReplaceItemInObjectCaseSensitive(j, "rootfs", cJSON_CreateString("base-new"));
        char *doc_new = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        char *t1 = tu_write_str(f.paths.toolchains_dir, "tiny@new.json", doc_new);
        rc_err_t err = {0};
        f.loaded = t1 && CHECK_OK_E(catalog_load(&f.cat, &f.paths, &err), err);
        if (f.loaded) {
                CHECK_STR_EQ(found_rootfs(&f, "tiny", NULL), "base");
                const toolchain_t *tc = NULL;
                if (CHECK_FAIL(catalog_find(&f.cat, "tiny", "1", &tc, &err), -ESRCH))
                        CHECK_CONTAINS(err.msg, "tiny has no version '1' (versions: none built)");
        }
        free(t1);
        free(doc_new);
        fixture_close(&f);
}

static void test_load_profile(void)
{
        struct fixture f;
        if (!fixture_open(&f, false))
                return;
        seccomp_bpf_t bpf = {0};
        rc_err_t err = {0};
        if (CHECK_OK_E(catalog_load_profile(&f.paths, f.cat.set.items[0], &bpf, &err), err)) {
                CHECK(bpf.len > 0);
                CHECK_STR_EQ(bpf.name, "default");
        }
        seccomp_bpf_free(&bpf);
        fixture_close(&f);
}

/* catalog_rescan reloads only when a toolchain file or a tarball's .sha256 changed (or when
 * forced), keeps the current set when the new one does not load, and frees a replaced language
 * only once nothing holds it. */
static void test_rescan(void)
{
        struct fixture f;
        if (!fixture_open(&f, true))
                return;
        rc_err_t err = {0};
        CHECK_INT_EQ(catalog_rescan(&f.cat, false, &err), 0); /* nothing changed */
        lang_t *l = NULL;
        if (!CHECK_OK_E(catalog_lang(&f.cat, f.cat.set.items[0], &l, &err), err))
                goto out;
        CHECK(catalog_current(&f.cat, l));
        catalog_hold(l); /* a run going */
        /* a second toolchain appears */
        char *tc2 = tu_write_str(f.paths.toolchains_dir, "other.json",
                                 "{\"name\": \"other\", \"rootfs\": \"later\", "
                                 "\"version_package\": \"x\", \"source_file\": \"m.sh\", "
                                 "\"run\": [\"/bin/sh\", \"{entry}\"], " TU_TC_EXAMPLES "}\n");
        free(tc2);
        CHECK_INT_EQ(catalog_rescan(&f.cat, false, &err), 1);
        CHECK_INT_EQ((int)f.cat.set.n, 2);
        CHECK(!catalog_current(&f.cat, l));
        CHECK(f.cat.retired != NULL);      /* held: kept */
        CHECK_STR_EQ(l->tc->name, "tiny"); /* still readable */
        const toolchain_t *other = toolchain_set_find(&f.cat.set, "other");
        if (CHECK(other != NULL))
                CHECK(!catalog_ready(&f.cat, other)); /* later.tar.zst is not there */
        CHECK(catalog_ready(&f.cat, toolchain_set_find(&f.cat.set, "tiny")));
        catalog_release(&f.cat, l);
        CHECK(f.cat.retired == NULL); /* released: freed */
        CHECK_INT_EQ(catalog_rescan(&f.cat, false, &err), 0);
        /* a rebuilt tarball: another .sha256 file renamed in */
        CHECK(tu_sh("cd %s && cp base.tar.zst.sha256 n && mv n base.tar.zst.sha256",
                    f.paths.rootfs_dir));
        CHECK_INT_EQ(catalog_rescan(&f.cat, false, &err), 1);
        /* forced: always */
        CHECK_INT_EQ(catalog_rescan(&f.cat, true, &err), 1);
        /* a toolchains directory that does not load: an error, the current set stays */
        char *bad = tu_write_str(f.paths.toolchains_dir, "bad.json", "{not json");
        free(bad);
        CHECK(catalog_rescan(&f.cat, false, &err) < 0);
        CHECK_INT_EQ((int)f.cat.set.n, 2);
        CHECK_INT_EQ(catalog_rescan(&f.cat, false, &err), 0); /* not again until it changes */
out:
        fixture_close(&f);
}

/* "files" with "encoding": "base64" are decoded (NUL bytes and all); "compile_options" go
 * only to a language whose compile template has "{options}" (tiny has none). */
static void test_request_base64_and_compile_options(void)
{
        struct fixture f;
        if (!fixture_open(&f, true))
                return;
        run_request_t rr;
        cJSON *doc = NULL;
        const char *code = NULL;
        char msg[600] = "";
        if (CHECK_INT_EQ(parse(&f,
                               "{\"language\": \"tiny\", \"files\": [{\"name\": \"main.sh\", "
                               "\"content\": \"echo hi\"}, {\"name\": \"d/bin.dat\", "
                               "\"content\": \"AAEC/w==\", \"encoding\": \"base64\"}, "
                               "{\"name\": \"t.txt\", \"content\": \"AAEC\", \"encoding\": "
                               "\"utf8\"}]}",
                               &rr, &doc, &code, msg, sizeof(msg)),
                         0)) {
                CHECK_INT_EQ(rr.nfiles, 3);
                CHECK_INT_EQ(rr.files[1].len, 4);
                CHECK(memcmp(rr.files[1].data, "\0\1\2\377", 4) == 0);
                CHECK_STR_EQ(rr.files[2].data, "AAEC");
        } else {
                FAIL("%s", msg);
        }
        run_request_free(&rr);
        run_request_free(&rr); /* twice is harmless (a caller's refusal path does it) */
        cJSON_Delete(doc);
        static const struct {
                const char *doc, *msg;
        } bad[] = {
            {"{\"language\": \"tiny\", \"files\": [{\"name\": \"a.sh\", \"content\": \"x\"}, "
             "{\"name\": \"b\", \"content\": \"!!\", \"encoding\": \"base64\"}]}",
             "file \"b\": \"content\" is not valid base64"},
            {"{\"language\": \"tiny\", \"files\": [{\"name\": \"a.sh\", \"content\": \"x\", "
             "\"encoding\": \"hex\"}]}",
             "a file's \"encoding\" must be \"utf8\" (the default) or \"base64\""},
            {"{\"language\": \"tiny\", \"source\": \"x\", \"compile_options\": [\"-O2\"]}",
             "language 'tiny' takes no compile options"},
            {"{\"language\": \"tiny\", \"source\": \"x\", \"compile_options\": \"-O2\"}",
             "\"compile_options\" must be an array of strings"},
        };
        for (size_t i = 0; i < TU_COUNT(bad); i++) {
                CHECK_INT_EQ(parse(&f, bad[i].doc, &rr, &doc, &code, msg, sizeof(msg)), -1);
                CHECK_STR_EQ(code, "bad_request");
                CHECK_CONTAINS(msg, bad[i].msg);
                run_request_free(&rr);
                cJSON_Delete(doc);
        }
        /* an empty array is no options, for any language */
        CHECK_INT_EQ(parse(&f,
                           "{\"language\": \"tiny\", \"source\": \"x\", \"compile_options\": []}",
                           &rr, &doc, &code, msg, sizeof(msg)),
                     0);
        run_request_free(&rr);
        cJSON_Delete(doc);
        fixture_close(&f);
}

/* "tty": {"rows", "cols"} and its refusals; the resize message's size takes the same check. */
static void test_request_tty(void)
{
        struct fixture f;
        if (!fixture_open(&f, true))
                return;
        run_request_t rr;
        cJSON *doc = NULL;
        const char *code = NULL;
        char msg[600] = "";
        if (CHECK_INT_EQ(parse(&f,
                               "{\"language\": \"tn\", \"source\": \"x\","
                               " \"tty\": {\"rows\": 33, \"cols\": 101}}",
                               &rr, &doc, &code, msg, sizeof(msg)),
                         0)) {
                job_spec_t js;
                run_request_job_spec(&f.cat, &rr, &js);
                CHECK_INT_EQ(js.tty_rows, 33);
                CHECK_INT_EQ(js.tty_cols, 101);
                run_request_free(&rr);
        }
        cJSON_Delete(doc);
        /* absent, null or false: pipes */
        static const char *const none[] = {
            "{\"language\": \"tn\", \"source\": \"x\"}",
            "{\"language\": \"tn\", \"source\": \"x\", \"tty\": null}",
            "{\"language\": \"tn\", \"source\": \"x\", \"tty\": false}"};
        for (size_t i = 0; i < TU_COUNT(none); i++) {
                if (CHECK_INT_EQ(parse(&f, none[i], &rr, &doc, &code, msg, sizeof(msg)), 0)) {
                        CHECK_INT_EQ(rr.tty_rows, 0);
                        CHECK_INT_EQ(rr.tty_cols, 0);
                        run_request_free(&rr);
                }
                cJSON_Delete(doc);
        }
        static const struct {
                const char *tty, *msg;
        } bad[] = {
            {"true", "\"tty\" must be an object"},
            {"{\"rows\": 24}", "\"cols\" must be an integer from 1 to 1000"},
            {"{\"rows\": 0, \"cols\": 80}", "\"rows\" must be an integer from 1 to 1000"},
            {"{\"rows\": 24, \"cols\": 1001}", "\"cols\" must be an integer"},
            {"{\"rows\": 2.5, \"cols\": 80}", "\"rows\" must be an integer"},
            {"{\"rows\": \"24\", \"cols\": 80}", "\"rows\" must be an integer"},
            {"{\"rows\": -3, \"cols\": 80}", "\"rows\" must be an integer"},
        };
        for (size_t i = 0; i < TU_COUNT(bad); i++) {
                char text[300];
                snprintf(text, sizeof(text),
                         "{\"language\": \"tn\", \"source\": \"x\", \"tty\": %s}", bad[i].tty);
                if (!CHECK_INT_EQ(parse(&f, text, &rr, &doc, &code, msg, sizeof(msg)), -1))
                        fprintf(stderr, "  for %s\n", text);
                else {
                        CHECK_STR_EQ(code, "bad_request");
                        CHECK_CONTAINS(msg, bad[i].msg);
                }
                run_request_free(&rr);
                cJSON_Delete(doc);
        }
        /* not with test cases */
        CHECK_INT_EQ(parse(&f,
                           "{\"language\": \"tn\", \"source\": \"x\", \"tty\": {\"rows\": 2,"
                           " \"cols\": 2}, \"tests\": [{\"stdin\": \"\"}]}",
                           &rr, &doc, &code, msg, sizeof(msg)),
                     -1);
        CHECK_CONTAINS(msg, "\"tests\" and \"tty\" do not go together");
        run_request_free(&rr);
        cJSON_Delete(doc);
        /* the bounds themselves */
        uint16_t rows = 0, cols = 0;
        char why[160];
        cJSON *o = cJSON_Parse("{\"rows\": 1, \"cols\": 1000}");
        CHECK_INT_EQ(request_tty_size(o, &rows, &cols, why, sizeof(why)), 0);
        CHECK_INT_EQ(rows, 1);
        CHECK_INT_EQ(cols, 1000);
        cJSON_Delete(o);
        fixture_close(&f);
}

int main(int argc, char **argv)
{
        static const tu_test_t tests[] = {
            TU_TEST(test_request_refusals),
            TU_TEST(test_request_to_job_spec),
            TU_TEST(test_request_base64_and_compile_options),
            TU_TEST(test_find_versions),
            TU_TEST(test_find_none_built),
            TU_TEST(test_load_profile),
            TU_TEST(test_rescan),
            TU_TEST(test_request_tty),
        };
        return tu_main("test_engine", tests, TU_COUNT(tests), argc, argv);
}
