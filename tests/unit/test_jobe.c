/* protocol/jobe: what the Jobe dialect checks and decodes as Jobe does (sourcefilename and
 * file_list checks, PHP's strict base64, ResultObject::clean, the Java main class guess,
 * language names). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/jobe.h"
#include "testutil.h"

static void test_filename(void)
{
        static const char *const good[] = {"test.py",   "prog.c",        "__tester__.python3",
                                           "Main.java", "a-b_c.d",       "x",
                                           "",          "r\xc3\xb4le.py"};
        static const char *const bad[] = {
            "../x.py", "a/b.c", ".hidden", "-x.c",  "a b\x01", "a:b", "a*b", "a?b",  "a#b",
            "a$b",     "a;b",   "a=b",     "a(b",   "a{b}",    "a~b", "a`b", "a\"b", "a<b",
            "a\\b",    "a\x7f", "a\xa0",   "a\xad", "a[b]",    "a@b", "a'b"};
        for (size_t i = 0; i < TU_COUNT(good); i++)
                if (!CHECK(jobe_filename_ok(good[i])))
                        fprintf(stderr, "  refused: \"%s\"\n", good[i]);
        for (size_t i = 0; i < TU_COUNT(bad); i++)
                if (!CHECK(!jobe_filename_ok(bad[i])))
                        fprintf(stderr, "  accepted: \"%s\"\n", bad[i]);
}

static bool spec_ok(const char *json)
{
        cJSON *j = cJSON_Parse(json);
        bool ok = jobe_filespec_ok(j);
        cJSON_Delete(j);
        return ok;
}

static void test_filespec(void)
{
        CHECK(spec_ok("[\"randomid0129798\", \"file1\"]"));
        CHECK(spec_ok("[\"d41d8cd98f00b204e9800998ecf8427e\", \"Thing.java\"]"));
        CHECK(spec_ok("[\"abcdefgh\", \"a-b_c.txt\", \"third\"]"));
        CHECK(!spec_ok("[\"abcdefg\", \"file1\"]"));    /* id under 8 */
        CHECK(!spec_ok("[\"abcdefg-h\", \"file1\"]"));  /* id not alphanumeric */
        CHECK(!spec_ok("[\"abcdefgh\", \"\"]"));        /* no name */
        CHECK(!spec_ok("[\"abcdefgh\", \"..\"]"));      /* nothing but dots */
        CHECK(!spec_ok("[\"abcdefgh\", \"a/b\"]"));     /* a slash */
        CHECK(!spec_ok("[\"abcdefgh\", \"a b\"]"));     /* a space */
        CHECK(!spec_ok("[\"abcdefgh\"]"));              /* one element */
        CHECK(!spec_ok("[\"abcdefgh\", \"a\", 1, 2]")); /* four */
        CHECK(!spec_ok("[12345678, \"a\"]"));           /* not strings */
        CHECK(!spec_ok("{\"0\": \"abcdefgh\", \"1\": \"a\"}"));
        CHECK(!spec_ok("\"abcdefgh\""));
}

static int b64(const char *in, char *out, size_t size)
{
        buf_t b = {0};
        int r = jobe_base64_decode(in, strlen(in), &b);
        if (r == 0)
                snprintf(out, size, "%.*s", (int)b.len, b.data ? b.data : "");
        buf_free(&b);
        return r;
}

static void test_base64(void)
{
        char out[128];
        CHECK(b64("SGVsbG8=", out, sizeof(out)) == 0 && strcmp(out, "Hello") == 0);
        CHECK(b64("SGVsbG8", out, sizeof(out)) == 0 && strcmp(out, "Hello") == 0);
        CHECK(b64("SGVs\nbG8h", out, sizeof(out)) == 0 && strcmp(out, "Hello!") == 0);
        CHECK(b64("SGVsbA==", out, sizeof(out)) == 0 && strcmp(out, "Hell") == 0);
        CHECK(b64(" S G V s ", out, sizeof(out)) == 0 && strcmp(out, "Hel") == 0);
        CHECK(b64("", out, sizeof(out)) == 0 && strcmp(out, "") == 0);
        CHECK(b64("abc$def", out, sizeof(out)) < 0);   /* not the alphabet */
        CHECK(b64("SGVsbG8=x", out, sizeof(out)) < 0); /* after the padding */
        CHECK(b64("S", out, sizeof(out)) < 0);         /* one character of a group */
        CHECK(b64("SGVsbG8==", out, sizeof(out)) < 0); /* padding that does not fit */
        CHECK(b64("SG===", out, sizeof(out)) < 0);
        CHECK(b64("SGV-bG8_", out, sizeof(out)) < 0); /* URL-safe alphabet */
}

static void test_clean(void)
{
        buf_t b = {0};
        jobe_clean("Un r\xc3\xb4le\n\t\x01", 10, &b); /* valid UTF-8: as it is */
        CHECK(b.len == 10 && memcmp(b.data, "Un r\xc3\xb4le\n\t\x01", 10) == 0);
        buf_free(&b);
        b = (buf_t){0};
        static const char in[] = "Hello world\n\001\006\300\311\n";
        jobe_clean(in, sizeof(in) - 1, &b);
        CHECK(b.len == strlen("Hello world\n\\x01\\x06\\xc0\\xc9\n") &&
              memcmp(b.data, "Hello world\n\\x01\\x06\\xc0\\xc9\n", b.len) == 0);
        buf_free(&b);
        b = (buf_t){0};
        jobe_clean("\xff\r\x7f~", 4, &b);
        CHECK(b.len == 10 && memcmp(b.data, "\\xff\r\\x7f~", 10) == 0);
        buf_free(&b);
}

static void main_class(const char *src, const char *want)
{
        char out[64] = "";
        bool got = jobe_java_main_class(src, out, sizeof(out));
        if (want) {
                if (!CHECK(got && strcmp(out, want) == 0))
                        fprintf(stderr, "  wanted %s, got %s (%s)\n", want, got ? "it" : "none",
                                out);
        } else if (!CHECK(!got)) {
                fprintf(stderr, "  wanted none, got %s\n", out);
        }
}

static void test_java_main_class(void)
{
        main_class("\npublic class Test {\n    public static void main(String[] args) {}\n}\n",
                   "Test");
        main_class("public class Blah extends Thing implements Runnable {\n"
                   "  static public void main ( String... a) {}\n}",
                   "Blah");
        main_class(
            "import x;\npublic  class\tA {\n void f() {}\n public static void main(String[] a) "
            "{}\n}",
            "A");
        /* no main: Jobe calls the file prog.java */
        main_class("public class Thing {\n  public void printme() {}\n}\n", NULL);
        /* not public */
        main_class("class Test {\n  public static void main(String[] a) {}\n}\n", NULL);
        /* two matches */
        main_class("public class A { public static void main(String[] a) {} }\n"
                   "public class B { public static void main(String[] a) {} }\n",
                   NULL);
        /* a class without main first: the match runs on to the next main */
        main_class("public class Util { }\nclass M { public static void main(String[] a) {} }",
                   "Util");
        /* publicclass is not "public class"; xpublic neither */
        main_class("xpublic class A { public static void main(String[] a) {} }", NULL);
}

static void test_languages(void)
{
        CHECK_STR_EQ(jobe_lang_name("python"), "python3");
        CHECK_STR_EQ(jobe_lang_name("javascript"), "nodejs");
        CHECK_STR_EQ(jobe_lang_name("c"), "c");
        CHECK_STR_EQ(jobe_lang_name("rust"), "rust");
        CHECK_STR_EQ(jobe_lang_runcell("python3"), "python");
        CHECK_STR_EQ(jobe_lang_runcell("nodejs"), "javascript");
        CHECK_STR_EQ(jobe_lang_runcell("java"), "java");
}

int main(int argc, char **argv)
{
        static const tu_test_t tests[] = {
            TU_TEST(test_filename), TU_TEST(test_filespec),        TU_TEST(test_base64),
            TU_TEST(test_clean),    TU_TEST(test_java_main_class), TU_TEST(test_languages),
        };
        return tu_main("test_jobe", tests, TU_COUNT(tests), argc, argv);
}
