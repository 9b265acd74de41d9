/* util/unzip: ZIP archives in memory to files in memory, refusing anything unsafe. The archives
 * are written here by a small zip writer (stored and deflated entries, zlib's deflate), with
 * knobs to make each kind of bad archive; `zip` itself is used when it is installed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zlib.h>

#include "sandbox/sandbox.h"
#include "testutil.h"
#include "util/buf.h"
#include "util/unzip.h"

typedef struct zent {
        const char *name;
        size_t name_len; /* 0: strlen(name) */
        const void *data;
        size_t len;
        int method;        /* 0 stored, 8 deflated, else written stored with this number */
        uint16_t made_by;  /* 0: Unix (3 << 8 | 30) */
        uint32_t ext;      /* external attributes; 0: a regular file 0644 */
        uint16_t flags;    /* extra flag bits (1: encrypted) */
        bool descriptor;   /* sizes and CRC in a data descriptor after the data */
        uint32_t crc_xor;  /* corrupt the CRC everywhere */
        uint32_t desc_xor; /* corrupt the descriptor's CRC only */
        bool usize_set;    /* declare this uncompressed size instead of the real one */
        uint32_t usize;
        const char *local_name; /* the local header's name, if not the same */
        uint32_t local_off;     /* with force_off: point the central entry here */
        bool force_off;
} zent_t;

static void put16(buf_t *b, unsigned v)
{
        unsigned char c[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
        buf_append(b, c, 2);
}

static void put32(buf_t *b, uint32_t v)
{
        unsigned char c[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                              (unsigned char)(v >> 24)};
        buf_append(b, c, 4);
}

static buf_t deflate_raw(const void *data, size_t len)
{
        buf_t out = {0};
        z_stream zs;
        memset(&zs, 0, sizeof(zs));
        deflateInit2(&zs, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
        size_t cap = deflateBound(&zs, (uLong)len) + 16;
        unsigned char *o = malloc(cap);
        zs.next_in = (unsigned char *)data;
        zs.avail_in = (uInt)len;
        zs.next_out = o;
        zs.avail_out = (uInt)cap;
        deflate(&zs, Z_FINISH);
        buf_append(&out, o, cap - zs.avail_out);
        deflateEnd(&zs);
        free(o);
        return out;
}

/* Write an archive of n entries; EOCD fields may be spoiled with n_all_override. */
static buf_t mkzip_ex(const zent_t *e, size_t n, int n_all_override)
{
        buf_t z = {0};
        uint32_t *offs = calloc(n + 1, sizeof(*offs));
        uint32_t *crcs = calloc(n + 1, sizeof(*crcs));
        uint32_t *csz = calloc(n + 1, sizeof(*csz));
        for (size_t i = 0; i < n; i++) {
                const zent_t *x = &e[i];
                size_t nl = x->name_len ? x->name_len : strlen(x->name);
                const char *ln = x->local_name ? x->local_name : x->name;
                size_t lnl = x->local_name ? strlen(ln) : nl;
                buf_t body = {0};
                if (x->method == 8)
                        body = deflate_raw(x->data, x->len);
                else
                        buf_append(&body, x->data, x->len);
                uint32_t crc =
                    (uint32_t)crc32(0, (const Bytef *)(x->len ? x->data : ""), (uInt)x->len) ^
                    x->crc_xor;
                uint32_t usize = x->usize_set ? x->usize : (uint32_t)x->len;
                offs[i] = (uint32_t)z.len;
                crcs[i] = crc;
                csz[i] = (uint32_t)body.len;
                put32(&z, 0x04034b50);
                put16(&z, 20);
                put16(&z, x->flags | (x->descriptor ? 8 : 0));
                put16(&z, (unsigned)x->method);
                put16(&z, 0);
                put16(&z, 0x21);
                put32(&z, x->descriptor ? 0 : crc);
                put32(&z, x->descriptor ? 0 : (uint32_t)body.len);
                put32(&z, x->descriptor ? 0 : usize);
                put16(&z, (unsigned)lnl);
                put16(&z, 0);
                buf_append(&z, ln, lnl);
                buf_append(&z, body.data ? body.data : "", body.len);
                if (x->descriptor) {
                        put32(&z, 0x08074b50);
                        put32(&z, crc ^ x->desc_xor);
                        put32(&z, (uint32_t)body.len);
                        put32(&z, usize);
                }
                buf_free(&body);
        }
        uint32_t cd = (uint32_t)z.len;
        for (size_t i = 0; i < n; i++) {
                const zent_t *x = &e[i];
                size_t nl = x->name_len ? x->name_len : strlen(x->name);
                put32(&z, 0x02014b50);
                put16(&z, x->made_by ? x->made_by : (3 << 8 | 30));
                put16(&z, 20);
                put16(&z, x->flags | (x->descriptor ? 8 : 0));
                put16(&z, (unsigned)x->method);
                put16(&z, 0);
                put16(&z, 0x21);
                put32(&z, crcs[i]);
                put32(&z, csz[i]);
                put32(&z, x->usize_set ? x->usize : (uint32_t)x->len);
                put16(&z, (unsigned)nl);
                put16(&z, 0);
                put16(&z, 0);
                put16(&z, 0);
                put16(&z, 0);
                put32(&z, x->ext ? x->ext : (uint32_t)(S_IFREG | 0644) << 16);
                put32(&z, x->force_off ? x->local_off : offs[i]);
                buf_append(&z, x->name, nl);
        }
        uint32_t cd_size = (uint32_t)z.len - cd;
        put32(&z, 0x06054b50);
        put16(&z, 0);
        put16(&z, 0);
        put16(&z, n_all_override >= 0 ? (unsigned)n_all_override : (unsigned)n);
        put16(&z, n_all_override >= 0 ? (unsigned)n_all_override : (unsigned)n);
        put32(&z, cd_size);
        put32(&z, cd);
        put16(&z, 0);
        free(offs);
        free(crcs);
        free(csz);
        return z;
}

static buf_t mkzip(const zent_t *e, size_t n)
{
        return mkzip_ex(e, n, -1);
}

static const char hello[] = "#include <stdio.h>\nint main(void) { puts(\"hi\"); }\n";
static const char text[] = "alpha\nbeta\ngamma\n";
static const unsigned char binary[] = {0x7f, 'E', 'L', 'F', 0, 1, 2, 0xff, 0xfe, 0};

static void test_good_archive(void)
{
        zent_t e[] = {
            {.name = "a.txt", .data = text, .len = strlen(text)},
            {.name = "dir/", .ext = (uint32_t)(S_IFDIR | 0755) << 16},
            {.name = "dir/lib.c", .data = hello, .len = strlen(hello), .method = 8},
            {.name = "bin.dat", .data = binary, .len = sizeof(binary), .method = 8},
            {.name = "run.sh",
             .data = "echo x\n",
             .len = 7,
             .ext = (uint32_t)(S_IFREG | 0755) << 16,
             .descriptor = true,
             .method = 8},
            {.name = "empty.txt", .data = "", .len = 0},
            {.name = "dos.txt", .data = "dos", .len = 3, .made_by = 20, .ext = 0x20},
            {.name = "dosdir/", .made_by = 20, .ext = 0x10},
        };
        buf_t z = mkzip(e, TU_COUNT(e));
        unzip_file_t *f = NULL;
        size_t n = 0;
        char msg[256] = "";
        if (!CHECK_INT_EQ(unzip_extract(z.data, z.len, NULL, &f, &n, msg, sizeof(msg)), 0)) {
                FAIL("%s", msg);
                buf_free(&z);
                return;
        }
        if (CHECK_INT_EQ(n, 6)) {
                CHECK_STR_EQ(f[0].name, "a.txt");
                CHECK(f[0].len == strlen(text) && memcmp(f[0].data, text, f[0].len) == 0);
                CHECK(!f[0].executable);
                CHECK_STR_EQ(f[1].name, "dir/lib.c");
                CHECK(f[1].len == strlen(hello) && memcmp(f[1].data, hello, f[1].len) == 0);
                CHECK_STR_EQ(f[2].name, "bin.dat");
                CHECK(f[2].len == sizeof(binary) && memcmp(f[2].data, binary, f[2].len) == 0);
                CHECK_STR_EQ(f[3].name, "run.sh");
                CHECK(f[3].executable);
                CHECK_STR_EQ(f[3].data, "echo x\n");
                CHECK_STR_EQ(f[4].name, "empty.txt");
                CHECK_INT_EQ(f[4].len, 0);
                CHECK_STR_EQ(f[5].name, "dos.txt");
        }
        unzip_free(f, n);

        cJSON *files = NULL;
        if (!CHECK_INT_EQ(unzip_files(z.data, z.len, NULL, &files, msg, sizeof(msg)), 0)) {
                FAIL("%s", msg);
                buf_free(&z);
                return;
        }
        char *s = cJSON_PrintUnformatted(files);
        CHECK_STR_EQ(s, "[{\"name\":\"a.txt\",\"content\":\"alpha\\nbeta\\ngamma\\n\"},"
                        "{\"name\":\"dir/lib.c\",\"content\":\"#include <stdio.h>\\nint main(void) "
                        "{ puts(\\\"hi\\\"); }\\n\"},"
                        "{\"name\":\"bin.dat\",\"content\":\"f0VMRgABAv/+AA==\",\"encoding\":"
                        "\"base64\"},"
                        "{\"name\":\"run.sh\",\"content\":\"echo x\\n\"},"
                        "{\"name\":\"empty.txt\",\"content\":\"\"},"
                        "{\"name\":\"dos.txt\",\"content\":\"dos\"}]");
        free(s);
        cJSON_Delete(files);
        cJSON *again = unzip_to_files_json(z.data, z.len, NULL, msg, sizeof(msg));
        CHECK(cJSON_IsArray(again) && cJSON_GetArraySize(again) == 6);
        cJSON_Delete(again);
        CHECK(unzip_to_files_json("nope", 4, NULL, msg, sizeof(msg)) == NULL);
        CHECK_CONTAINS(msg, "not a zip archive");

        buf_free(&z);

        /* no files at all: an empty array */
        zent_t d[] = {{.name = "only/", .ext = (uint32_t)(S_IFDIR | 0755) << 16}};
        z = mkzip(d, 1);
        CHECK_INT_EQ(unzip_files(z.data, z.len, NULL, &files, msg, sizeof(msg)), 0);
        CHECK(cJSON_IsArray(files) && cJSON_GetArraySize(files) == 0);
        cJSON_Delete(files);
        buf_free(&z);
        z = mkzip(NULL, 0);
        CHECK_INT_EQ(unzip_files(z.data, z.len, NULL, &files, msg, sizeof(msg)), 0);
        CHECK(cJSON_IsArray(files) && cJSON_GetArraySize(files) == 0);
        cJSON_Delete(files);
        buf_free(&z);
}

/* The archive is refused with a message holding want. */
static void refused_lim(int line, const buf_t *z, const unzip_limits_t *lim, const char *want)
{
        cJSON *files = (cJSON *)1;
        char msg[512] = "";
        int r = unzip_files(z->data, z->len, lim, &files, msg, sizeof(msg));
        if (r != -1 || files != NULL)
                FAIL("line %d: accepted (r=%d), want a refusal with \"%s\"", line, r, want);
        else if (!strstr(msg, want))
                FAIL("line %d: refused with \"%s\", want \"%s\"", line, msg, want);
        if (r == 0)
                cJSON_Delete(files);
}

#define REFUSED_LIM(z, lim, want) refused_lim(__LINE__, &(z), (lim), (want))
#define REFUSED(z, want)          refused_lim(__LINE__, &(z), NULL, (want))

/* One entry with this name is refused with want. */
static void name_refused(int line, const char *name, size_t nl, const char *want)
{
        zent_t e[] = {{.name = name, .name_len = nl, .data = "x", .len = 1}};
        buf_t z = mkzip(e, 1);
        refused_lim(line, &z, NULL, want);
        buf_free(&z);
}

#define NAME_REFUSED(name, want) name_refused(__LINE__, name, 0, want)

static void test_bad_names(void)
{
        NAME_REFUSED("/etc/passwd", "an absolute path");
        NAME_REFUSED("a/../../b.txt", "a \"..\" component");
        NAME_REFUSED("../b.txt", "a \"..\" component");
        NAME_REFUSED("..", "a \"..\" component");
        NAME_REFUSED("dir\\a.txt", "a backslash");
        NAME_REFUSED("a\x01.txt", "a control character");
        NAME_REFUSED("a\x7f.txt", "a control character");
        NAME_REFUSED("a\nb", "a control character");
        name_refused(__LINE__, "a\0b.txt", 7, "a NUL in the name");
        NAME_REFUSED("-o.c", "starting with '-'");
        NAME_REFUSED("dir/-B.c", "starting with '-'");
        NAME_REFUSED("@opts", "starting with '@'");
        NAME_REFUSED("$HOME", "starting with '$'");
        NAME_REFUSED("a b.txt", "a character other than");
        NAME_REFUSED("caf\xc3\xa9.txt", "a character other than");
        NAME_REFUSED("a//b.txt", "an empty or \".\" component");
        NAME_REFUSED("./a.txt", "an empty or \".\" component");
        NAME_REFUSED("1/2/3/4/5/6/7/8/9.txt", "more than 8 levels");
        char longname[260];
        memset(longname, 'a', 201);
        longname[201] = '\0';
        NAME_REFUSED(longname, "over 200 bytes");
        /* a smaller max_name */
        zent_t e[] = {{.name = "abcdefghij.txt", .data = "x", .len = 1}};
        buf_t z = mkzip(e, 1);
        REFUSED_LIM(z, (&(unzip_limits_t){.max_name = 10}), "over 10 bytes");
        buf_free(&z);
}

/* unzip_name_ok says what a run request says (sb_path_valid), name by name. */
static void test_names_agree_with_requests(void)
{
        const char *names[] = {
            "main.c",
            "dir/a.txt",
            "node_modules/@scope/x.js",
            "Main$.class",
            "a+b-c_d.e",
            "a@b",
            ".hidden",
            "x/.y",
            "/abs",
            "a/",
            "a/../b",
            "..",
            ".",
            "-x",
            "@x",
            "$x",
            "d/$x",
            "a b",
            "a\\b",
            "a\tb",
            "1/2/3/4/5/6/7/8",
            "1/2/3/4/5/6/7/8/9",
            "",
            "é",
            "a//b",
            "d/-x",
            "a:b",
            "a*b",
            "a~",
        };
        for (size_t i = 0; i < TU_COUNT(names); i++) {
                const char *why = NULL;
                bool ours = unzip_name_ok(names[i], &why);
                bool theirs = sb_path_valid(names[i]);
                if (ours != theirs)
                        FAIL("\"%s\": unzip_name_ok %d (%s), sb_path_valid %d", names[i], ours,
                             why ? why : "-", theirs);
                if (!ours && !why)
                        FAIL("\"%s\": refused without a reason", names[i]);
        }
        char n200[202], n201[203];
        memset(n200, 'a', 200);
        n200[200] = '\0';
        memset(n201, 'a', 201);
        n201[201] = '\0';
        CHECK(unzip_name_ok(n200, NULL) == sb_path_valid(n200));
        CHECK(unzip_name_ok(n201, NULL) == sb_path_valid(n201));
}

static void test_bad_entries(void)
{
        buf_t z;
        /* a symbolic link, a FIFO, a character device */
        zent_t sl[] = {{.name = "link",
                        .data = "/etc/passwd",
                        .len = 11,
                        .ext = (uint32_t)(S_IFLNK | 0777) << 16}};
        z = mkzip(sl, 1);
        REFUSED(z, "symbolic links are not allowed");
        buf_free(&z);
        zent_t fifo[] = {
            {.name = "p", .data = "", .len = 0, .ext = (uint32_t)(S_IFIFO | 0644) << 16}};
        z = mkzip(fifo, 1);
        REFUSED(z, "not a regular file");
        buf_free(&z);
        zent_t chr[] = {
            {.name = "c", .data = "", .len = 0, .ext = (uint32_t)(S_IFCHR | 0644) << 16}};
        z = mkzip(chr, 1);
        REFUSED(z, "not a regular file");
        buf_free(&z);
        /* the same name twice */
        zent_t dup[] = {{.name = "a.txt", .data = "1", .len = 1},
                        {.name = "b.txt", .data = "2", .len = 1},
                        {.name = "a.txt", .data = "3", .len = 1, .method = 8}};
        z = mkzip(dup, 3);
        REFUSED(z, "\"a.txt\" is there twice");
        buf_free(&z);
        /* encrypted (traditional and strong) */
        zent_t enc[] = {{.name = "s.txt", .data = "xxxxxxxxxxxxxx", .len = 14, .flags = 1}};
        z = mkzip(enc, 1);
        REFUSED(z, "encrypted entries are not supported");
        buf_free(&z);
        enc[0].flags = 0x41;
        z = mkzip(enc, 1);
        REFUSED(z, "encrypted entries are not supported");
        buf_free(&z);
        /* bzip2 */
        zent_t bz[] = {{.name = "b.txt", .data = "x", .len = 1, .method = 12}};
        z = mkzip(bz, 1);
        REFUSED(z, "compression method 12 is not supported");
        buf_free(&z);
        /* a CRC that does not match, stored and deflated */
        zent_t crc[] = {{.name = "c.txt", .data = text, .len = strlen(text), .crc_xor = 1}};
        z = mkzip(crc, 1);
        REFUSED(z, "CRC mismatch");
        buf_free(&z);
        crc[0].method = 8;
        z = mkzip(crc, 1);
        REFUSED(z, "CRC mismatch");
        buf_free(&z);
        /* a data descriptor that disagrees */
        zent_t dd[] = {{.name = "d.txt",
                        .data = text,
                        .len = strlen(text),
                        .method = 8,
                        .descriptor = true,
                        .desc_xor = 0x100}};
        z = mkzip(dd, 1);
        REFUSED(z, "data descriptor disagrees");
        buf_free(&z);
        /* a local header that names another file */
        zent_t lh[] = {{.name = "a.txt", .local_name = "b.txt", .data = "x", .len = 1}};
        z = mkzip(lh, 1);
        REFUSED(z, "local header disagrees");
        buf_free(&z);
        /* a declared size that lies (small): the real size is found by inflating */
        zent_t lie[] = {{.name = "l.txt",
                         .data = text,
                         .len = strlen(text),
                         .method = 8,
                         .usize_set = true,
                         .usize = 3}};
        z = mkzip(lie, 1);
        REFUSED(z, "not the 3 it declares");
        buf_free(&z);
        /* a central entry pointing at nothing */
        zent_t off[] = {
            {.name = "o.txt", .data = "x", .len = 1, .force_off = true, .local_off = 1000}};
        z = mkzip(off, 1);
        REFUSED(z, "local header is missing");
        buf_free(&z);
        /* zip64 */
        zent_t one[] = {{.name = "a.txt", .data = "x", .len = 1}};
        z = mkzip_ex(one, 1, 0xffff);
        REFUSED(z, "zip64");
        buf_free(&z);
}

/* Entry b's local header and data inside entry a's data: two names for overlapping bytes. */
static void test_overlapping_entries(void)
{
        zent_t inner[] = {{.name = "b.txt", .data = text, .len = strlen(text)}};
        buf_t zi = mkzip(inner, 1);
        size_t inner_len = 30 + 5 + strlen(text); /* b's local header and data */
        zent_t e[] = {{.name = "a.bin", .data = zi.data, .len = inner_len},
                      {.name = "b.txt",
                       .data = text,
                       .len = strlen(text),
                       .force_off = true,
                       .local_off = 30 + 5}};
        buf_t z = mkzip(e, 2);
        REFUSED(z, "overlap");
        buf_free(&z);
        buf_free(&zi);
}

static void test_limits(void)
{
        char *big = malloc(5000);
        memset(big, 'x', 5000);
        zent_t e[] = {{.name = "a.txt", .data = big, .len = 5000},
                      {.name = "b.txt", .data = big, .len = 5000, .method = 8},
                      {.name = "c.txt", .data = big, .len = 5000, .method = 8}};
        buf_t z = mkzip(e, 3);
        unzip_limits_t lim = {.max_files = 2};
        REFUSED_LIM(z, &lim, "more than 2 files");
        lim = (unzip_limits_t){.max_files = 3};
        cJSON *files = NULL;
        char msg[256];
        CHECK_INT_EQ(unzip_files(z.data, z.len, &lim, &files, msg, sizeof(msg)), 0);
        cJSON_Delete(files);
        lim = (unzip_limits_t){.max_file = 4999};
        REFUSED_LIM(z, &lim, "\"a.txt\" is over 4999 bytes");
        lim = (unzip_limits_t){.max_total = 14999};
        REFUSED_LIM(z, &lim, "14999 bytes together");
        lim = (unzip_limits_t){.max_total = 15000, .max_file = 5000};
        CHECK_INT_EQ(unzip_files(z.data, z.len, &lim, &files, msg, sizeof(msg)), 0);
        cJSON_Delete(files);
        buf_free(&z);
        /* deflated, and past the file limit */
        zent_t d[] = {{.name = "d.txt", .data = big, .len = 5000, .method = 8}};
        z = mkzip(d, 1);
        lim = (unzip_limits_t){.max_file = 4096};
        REFUSED_LIM(z, &lim, "\"d.txt\" inflates past 4096 bytes");
        /* past it with the declared size lying small */
        buf_free(&z);
        d[0].usize_set = true;
        d[0].usize = 100;
        z = mkzip(d, 1);
        REFUSED_LIM(z, &lim, "inflates past 4096 bytes");
        buf_free(&z);
        free(big);
}

static double now_s(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 10 MB of zeros deflates to ~10 KB; with a 1 MB limit it is stopped while inflating, soon
 * after the first MB, whatever size it declares. */
static void test_zip_bomb(void)
{
        size_t n = 10u << 20;
        char *zeros = calloc(1, n);
        REQUIRE(zeros);
        zent_t e[] = {{.name = "bomb.txt", .data = zeros, .len = n, .method = 8}};
        buf_t z = mkzip(e, 1);
        CHECK(z.len < 20000);
        unzip_limits_t lim = {.max_file = 1u << 20, .max_total = 1u << 20};
        double t0 = now_s();
        REFUSED_LIM(z, &lim, "inflates past 1048576 bytes");
        double dt = now_s() - t0;
        CHECK(dt < 0.5);
        buf_free(&z);
        /* the same bomb declaring 1 KB */
        e[0].usize_set = true;
        e[0].usize = 1024;
        z = mkzip(e, 1);
        REFUSED_LIM(z, &lim, "inflates past 1048576 bytes");
        buf_free(&z);
        /* many small bombs: the total is the limit */
        char *mb = calloc(1, 600u << 10);
        zent_t m[] = {{.name = "1", .data = mb, .len = 600u << 10, .method = 8},
                      {.name = "2", .data = mb, .len = 600u << 10, .method = 8}};
        z = mkzip(m, 2);
        REFUSED_LIM(z, &lim, "inflate past 1048576 bytes together");
        buf_free(&z);
        free(mb);
        free(zeros);
}

static void test_truncated_and_garbage(void)
{
        zent_t e[] = {{.name = "a.txt", .data = text, .len = strlen(text), .method = 8},
                      {.name = "b.txt", .data = hello, .len = strlen(hello)}};
        buf_t z = mkzip(e, 2);
        /* every cut of the archive is refused, never crashes */
        for (size_t cut = 0; cut < z.len; cut++) {
                cJSON *files = NULL;
                char msg[256] = "";
                if (unzip_files(z.data, cut, NULL, &files, msg, sizeof(msg)) != -1 || files) {
                        FAIL("cut at %zu of %zu: accepted", cut, z.len);
                        cJSON_Delete(files);
                }
                if (!msg[0])
                        FAIL("cut at %zu: no message", cut);
        }
        buf_t head = {0};
        buf_append(&head, z.data, z.len - 22);
        REFUSED(head, "not a zip archive");
        buf_free(&head);
        /* every single byte flipped: refused or accepted, never a crash or a leak */
        for (size_t i = 0; i < z.len; i++) {
                buf_t c = {0};
                buf_append(&c, z.data, z.len);
                c.data[i] ^= 0x5a;
                cJSON *files = NULL;
                char msg[256];
                if (unzip_files(c.data, c.len, NULL, &files, msg, sizeof(msg)) == 0)
                        cJSON_Delete(files);
                buf_free(&c);
        }
        buf_free(&z);
        const char *garbage[] = {"", "PK", "hello world, not a zip at all", "PK\x05\x06 short",
                                 "PK\x03\x04garbagegarbagegarbagegarbage"};
        for (size_t i = 0; i < TU_COUNT(garbage); i++) {
                buf_t g = {0};
                buf_append(&g, garbage[i], strlen(garbage[i]));
                REFUSED(g, "not a zip archive");
                buf_free(&g);
        }
        /* random bytes */
        unsigned seed = 12345;
        for (int round = 0; round < 200; round++) {
                unsigned char r[512];
                for (size_t i = 0; i < sizeof(r); i++)
                        r[i] = (unsigned char)((seed = seed * 1103515245u + 12345u) >> 16);
                cJSON *files = NULL;
                char msg[256];
                if (unzip_files(r, sizeof(r), NULL, &files, msg, sizeof(msg)) == 0)
                        cJSON_Delete(files);
        }
        /* an EOCD whose central directory is outside the data */
        buf_t bad = {0};
        put32(&bad, 0x06054b50);
        put16(&bad, 0);
        put16(&bad, 0);
        put16(&bad, 1);
        put16(&bad, 1);
        put32(&bad, 46);
        put32(&bad, 1000);
        put16(&bad, 0);
        REFUSED(bad, "outside");
        buf_free(&bad);
}

/* A deflated entry whose data stops before the deflate stream does (its sizes written so). */
static void test_deflate_cut_short(void)
{
        buf_t body = deflate_raw(hello, strlen(hello));
        /* write it "stored" under method 8 by hand: a zent with method 99 writes the bytes
         * as they are; then patch the method fields to 8 */
        zent_t e[] = {{.name = "x.c",
                       .data = body.data,
                       .len = body.len - 4,
                       .method = 99,
                       .usize_set = true,
                       .usize = (uint32_t)strlen(hello)}};
        buf_t z = mkzip(e, 1);
        z.data[8] = 8; /* local header's method */
        for (size_t i = 0; i + 4 <= z.len; i++)
                if (memcmp(z.data + i, "PK\x01\x02", 4) == 0)
                        z.data[i + 10] = 8;
        REFUSED(z, "cut short");
        buf_free(&z);
        buf_free(&body);
}

static char *read_all(const char *path, size_t *len)
{
        FILE *f = fopen(path, "rb");
        if (!f)
                return NULL;
        buf_t b = {0};
        char tmp[4096];
        size_t n;
        while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
                buf_append(&b, tmp, n);
        fclose(f);
        *len = b.len;
        return b.data;
}

/* Archives made by Info-ZIP's zip: a directory tree, and one streamed to a pipe (data
 * descriptors). */
static void test_zip_command(void)
{
        if (!tu_shell_ok("command -v zip")) {
                tu_skip("no zip command (apt-get install zip)");
                return;
        }
        const char *dir = tu_tmpdir();
        REQUIRE(dir);
        char *src = tu_strf("%s/src", dir);
        char *p1 = tu_write_str(src, "main.c", hello);
        char *p2 = tu_write_str(src, "data/input.txt", text);
        char *p3 = tu_write_file(src, "data/deep/bin.dat", binary, sizeof(binary));
        REQUIRE(p1 && p2 && p3);
        REQUIRE(tu_sh("cd '%s' && zip -qr ../tree.zip . && zip -q - main.c data/input.txt | cat "
                      "> ../stream.zip",
                      src));
        const char *names[] = {"tree.zip", "stream.zip"};
        for (size_t k = 0; k < 2; k++) {
                char *path = tu_strf("%s/%s", dir, names[k]);
                size_t len = 0;
                char *z = read_all(path, &len);
                free(path);
                if (!CHECK(z))
                        continue;
                unzip_file_t *f = NULL;
                size_t n = 0;
                char msg[256] = "";
                if (!CHECK_INT_EQ(unzip_extract(z, len, NULL, &f, &n, msg, sizeof(msg)), 0)) {
                        FAIL("%s: %s", names[k], msg);
                        free(z);
                        continue;
                }
                CHECK_INT_EQ(n, k == 0 ? 3 : 2);
                size_t found = 0;
                for (size_t i = 0; i < n; i++) {
                        if (strcmp(f[i].name, "main.c") == 0)
                                found += f[i].len == strlen(hello) &&
                                         memcmp(f[i].data, hello, f[i].len) == 0;
                        else if (strcmp(f[i].name, "data/input.txt") == 0)
                                found += f[i].len == strlen(text) &&
                                         memcmp(f[i].data, text, f[i].len) == 0;
                        else if (strcmp(f[i].name, "data/deep/bin.dat") == 0)
                                found += f[i].len == sizeof(binary) &&
                                         memcmp(f[i].data, binary, f[i].len) == 0;
                        else
                                FAIL("%s: unexpected file \"%s\"", names[k], f[i].name);
                }
                CHECK_INT_EQ(found, n);
                unzip_free(f, n);
                free(z);
        }
        free(src);
        free(p1);
        free(p2);
        free(p3);
}

int main(int argc, char **argv)
{
        static const tu_test_t tests[] = {
            TU_TEST(test_good_archive),
            TU_TEST(test_bad_names),
            TU_TEST(test_names_agree_with_requests),
            TU_TEST(test_bad_entries),
            TU_TEST(test_overlapping_entries),
            TU_TEST(test_limits),
            TU_TEST(test_zip_bomb),
            TU_TEST(test_truncated_and_garbage),
            TU_TEST(test_deflate_cut_short),
            TU_TEST(test_zip_command),
        };
        return tu_main("test_unzip", tests, TU_COUNT(tests), argc, argv);
}
