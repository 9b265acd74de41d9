#include "util/unzip.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "util/base64.h"
#include "util/buf.h"
#include "util/json.h"

#define SIG_LOCAL   0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD    0x06054b50u
#define SIG_DESC    0x08074b50u
#define SIG_Z64LOC  0x07064b50u
#define EOCD_LEN    22
#define CENTRAL_LEN 46
#define LOCAL_LEN   30
#define DEPTH_MAX   8 /* as src/sandbox/files.c */

#define FLAG_ENCRYPTED  0x0001u
#define FLAG_DESCRIPTOR 0x0008u
#define FLAG_STRONG_ENC 0x0040u

static uint16_t rd16(const unsigned char *p)
{
        return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t rd32(const unsigned char *p)
{
        return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
               ((uint32_t)p[3] << 24);
}

static int failf(char *msg, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int failf(char *msg, size_t size, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        if (msg && size)
                vsnprintf(msg, size, fmt, ap);
        va_end(ap);
        return -1;
}

static bool name_char_ok(unsigned char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '-' || c == '+' || c == '@' || c == '$';
}

bool unzip_name_ok(const char *name, const char **why)
{
        const char *w = NULL;
        size_t len = strlen(name);
        if (len == 0)
                w = "an empty name";
        else if (len > UNZIP_NAME_MAX)
                w = "a name over 200 bytes";
        else if (name[0] == '/')
                w = "an absolute path";
        else if (strchr(name, '\\'))
                w = "a backslash in the name";
        else if (name[0] == '@')
                w = "a name starting with '@' (a compiler would read it as an argument file)";
        if (!w)
                for (const unsigned char *p = (const unsigned char *)name; *p; p++)
                        if (*p < 0x20 || *p == 0x7f) {
                                w = "a control character in the name";
                                break;
                        }
        int depth = 0;
        const char *comp = name;
        for (const char *p = name; !w; p++) {
                if (*p == '/' || *p == '\0') {
                        size_t cl = (size_t)(p - comp);
                        if (cl == 2 && comp[0] == '.' && comp[1] == '.')
                                w = "a \"..\" component";
                        else if (cl == 0 || (cl == 1 && comp[0] == '.'))
                                w = "an empty or \".\" component";
                        else if (comp[0] == '-')
                                w = "a component starting with '-' (a compiler would read it as "
                                    "an option)";
                        else if (comp[0] == '$')
                                w = "a component starting with '$'";
                        else if (++depth > DEPTH_MAX)
                                w = "more than 8 levels of directories";
                        if (*p == '\0')
                                break;
                        comp = p + 1;
                } else if (!name_char_ok((unsigned char)*p)) {
                        w = "a character other than letters, digits and . _ + @ $ - in the name";
                }
        }
        if (why)
                *why = w;
        return w == NULL;
}

/* A name from the archive as text, for messages: printable ASCII, the rest as '?'. */
static void show_name(const unsigned char *p, size_t n, char *out, size_t size)
{
        size_t k = 0;
        for (size_t i = 0; i < n && k + 4 < size; i++)
                out[k++] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
        if (n > 0 && k + 4 >= size && size > 4) {
                memcpy(out + k, "...", 3);
                k += 3;
        }
        out[k] = '\0';
}

typedef struct range {
        size_t start, end;
        size_t index;
} range_t;

static int range_cmp(const void *a, const void *b)
{
        const range_t *x = a, *y = b;
        return x->start < y->start ? -1 : x->start > y->start;
}

/* Inflate raw deflate data into a buffer of at most cap bytes; -1 with msg when it does not
 * end within src, goes past cap or is corrupt. */
static int inflate_capped(const unsigned char *src, size_t srclen, size_t cap, size_t hint,
                          const char *shown, char **out, size_t *outlen, char *msg, size_t size)
{
        z_stream zs;
        memset(&zs, 0, sizeof(zs));
        if (inflateInit2(&zs, -MAX_WBITS) != Z_OK)
                return failf(msg, size, "zip entry \"%s\": cannot start inflating", shown);
        size_t alloc = hint < cap ? hint : cap;
        if (alloc < 4096)
                alloc = cap < 4096 ? cap : 4096;
        char *buf = malloc(alloc + 1);
        size_t have = 0;
        int r = -1;
        if (!buf) {
                failf(msg, size, "out of memory");
                goto out;
        }
        zs.next_in = (unsigned char *)src;
        for (;;) {
                if (have == alloc) {
                        if (alloc >= cap) {
                                /* one more byte would be over the limit: is there any? */
                                unsigned char probe;
                                zs.next_out = &probe;
                                zs.avail_out = 1;
                                size_t left = srclen - (size_t)(zs.next_in - src);
                                zs.avail_in = left > (1u << 20) ? (1u << 20) : (uInt)left;
                                int zr = inflate(&zs, Z_NO_FLUSH);
                                if (zs.avail_out == 0) {
                                        failf(msg, size,
                                              "zip entry \"%s\" inflates past %zu bytes (the "
                                              "limit)",
                                              shown, cap);
                                        goto out;
                                }
                                if (zr == Z_STREAM_END)
                                        break;
                                if (zr != Z_OK && zr != Z_BUF_ERROR) {
                                        failf(msg, size, "zip entry \"%s\": corrupt deflate data",
                                              shown);
                                        goto out;
                                }
                                if (zs.avail_in == 0 && (size_t)(zs.next_in - src) == srclen) {
                                        failf(msg, size,
                                              "zip entry \"%s\": its deflate data is cut short",
                                              shown);
                                        goto out;
                                }
                                continue;
                        }
                        size_t n = alloc * 2 > cap ? cap : alloc * 2;
                        char *nb = realloc(buf, n + 1);
                        if (!nb) {
                                failf(msg, size, "out of memory");
                                goto out;
                        }
                        buf = nb;
                        alloc = n;
                }
                size_t room = alloc - have;
                zs.next_out = (unsigned char *)buf + have;
                zs.avail_out = room > (1u << 30) ? (1u << 30) : (uInt)room;
                size_t left = srclen - (size_t)(zs.next_in - src);
                zs.avail_in = left > (1u << 30) ? (1u << 30) : (uInt)left;
                uInt before = zs.avail_out;
                int zr = inflate(&zs, Z_NO_FLUSH);
                have += before - zs.avail_out;
                if (zr == Z_STREAM_END)
                        break;
                if (zr == Z_BUF_ERROR && zs.avail_out > 0 && (size_t)(zs.next_in - src) == srclen) {
                        failf(msg, size, "zip entry \"%s\": its deflate data is cut short", shown);
                        goto out;
                }
                if (zr != Z_OK && zr != Z_BUF_ERROR) {
                        failf(msg, size, "zip entry \"%s\": corrupt deflate data", shown);
                        goto out;
                }
        }
        if ((size_t)(zs.next_in - src) != srclen) {
                failf(msg, size,
                      "zip entry \"%s\": its deflate data ends before its compressed size", shown);
                goto out;
        }
        buf[have] = '\0';
        *out = buf;
        *outlen = have;
        buf = NULL;
        r = 0;
out:
        inflateEnd(&zs);
        free(buf);
        return r;
}

void unzip_free(unzip_file_t *files, size_t n)
{
        for (size_t i = 0; files && i < n; i++) {
                free(files[i].name);
                free(files[i].data);
        }
        free(files);
}

static void limits_fill(const unzip_limits_t *lim, unzip_limits_t *l)
{
        *l = lim ? *lim : (unzip_limits_t){0};
        if (!l->max_files)
                l->max_files = UNZIP_DEFAULT_FILES;
        if (!l->max_total)
                l->max_total = UNZIP_DEFAULT_TOTAL;
        if (!l->max_file)
                l->max_file = UNZIP_DEFAULT_FILE;
        if (!l->max_name || l->max_name > UNZIP_NAME_MAX)
                l->max_name = UNZIP_NAME_MAX;
}

/* Find the end of central directory record: the last signature whose comment ends the data
 * exactly. */
static long find_eocd(const unsigned char *z, size_t len)
{
        if (len < EOCD_LEN)
                return -1;
        size_t lo = len - EOCD_LEN > 0xffff ? len - EOCD_LEN - 0xffff : 0;
        for (size_t i = len - EOCD_LEN + 1; i-- > lo;)
                if (rd32(z + i) == SIG_EOCD && i + EOCD_LEN + rd16(z + i + 20) == len)
                        return (long)i;
        return -1;
}

int unzip_extract(const void *zip, size_t len, const unzip_limits_t *lim, unzip_file_t **files_out,
                  size_t *n_out, char *msg, size_t size)
{
        const unsigned char *z = zip;
        unzip_limits_t l;
        limits_fill(lim, &l);
        *files_out = NULL;
        *n_out = 0;
        long eo = find_eocd(z, len);
        if (eo < 0)
                return failf(msg, size,
                             "not a zip archive (no end of central directory record; cut short "
                             "or not a zip)");
        const unsigned char *e = z + eo;
        uint16_t disk = rd16(e + 4), cd_disk = rd16(e + 6), n_here = rd16(e + 8),
                 n_all = rd16(e + 10);
        uint32_t cd_size = rd32(e + 12), cd_off = rd32(e + 16);
        if ((eo >= 20 && rd32(z + eo - 20) == SIG_Z64LOC) || n_all == 0xffff ||
            cd_size == 0xffffffffu || cd_off == 0xffffffffu)
                return failf(msg, size, "zip64 archives are not supported");
        if (disk != 0 || cd_disk != 0 || n_here != n_all)
                return failf(msg, size, "multi-part (spanned) zip archives are not supported");
        if ((size_t)cd_off > (size_t)eo || (size_t)cd_size > (size_t)eo - cd_off)
                return failf(msg, size,
                             "corrupt zip archive: the central directory lies outside it");

        unzip_file_t *files = calloc(n_all ? n_all : 1, sizeof(*files));
        range_t *ranges = calloc(n_all ? n_all : 1, sizeof(*ranges));
        size_t nfiles = 0, nranges = 0, total = 0;
        int r = -1;
        if (!files || !ranges) {
                failf(msg, size, "out of memory");
                goto out;
        }
        size_t p = cd_off, cd_end = (size_t)cd_off + cd_size;
        for (size_t idx = 0; idx < n_all; idx++) {
                if (cd_end - p < CENTRAL_LEN || rd32(z + p) != SIG_CENTRAL) {
                        failf(msg, size, "corrupt zip archive: central directory entry %zu", idx);
                        goto out;
                }
                const unsigned char *c = z + p;
                uint16_t made_by = rd16(c + 4), flags = rd16(c + 8), method = rd16(c + 10);
                uint32_t crc = rd32(c + 16), csize = rd32(c + 20), usize = rd32(c + 24);
                uint16_t nlen = rd16(c + 28), xlen = rd16(c + 30), clen = rd16(c + 32);
                uint16_t dstart = rd16(c + 34);
                uint32_t ext = rd32(c + 38), loff = rd32(c + 42);
                if (cd_end - p - CENTRAL_LEN < (size_t)nlen + xlen + clen) {
                        failf(msg, size, "corrupt zip archive: central directory entry %zu", idx);
                        goto out;
                }
                const unsigned char *nm = c + CENTRAL_LEN;
                p += CENTRAL_LEN + (size_t)nlen + xlen + clen;
                char shown[80];
                show_name(nm, nlen, shown, sizeof(shown));
                if (csize == 0xffffffffu || usize == 0xffffffffu || loff == 0xffffffffu ||
                    dstart == 0xffff) {
                        failf(msg, size, "zip entry \"%s\": zip64 entries are not supported",
                              shown);
                        goto out;
                }
                if (memchr(nm, '\0', nlen)) {
                        failf(msg, size, "zip entry \"%s\": a NUL in the name", shown);
                        goto out;
                }
                /* the kind of entry: Unix mode bits when made on Unix, else the DOS bits */
                unsigned host = made_by >> 8;
                unsigned mode = host == 3 ? ext >> 16 : 0;
                bool is_dir =
                    (nlen > 0 && nm[nlen - 1] == '/') || (mode ? S_ISDIR(mode) : (ext & 0x10) != 0);
                if (mode && S_ISLNK(mode)) {
                        failf(msg, size, "zip entry \"%s\": symbolic links are not allowed", shown);
                        goto out;
                }
                if (is_dir)
                        continue; /* directories come with the files in them */
                /* permission bits with no file type (Python's zipfile.writestr writes
                 * 0600 so): a regular file */
                if ((mode & S_IFMT) && !S_ISREG(mode)) {
                        failf(msg, size, "zip entry \"%s\": not a regular file", shown);
                        goto out;
                }
                if (flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENC)) {
                        failf(msg, size, "zip entry \"%s\": encrypted entries are not supported",
                              shown);
                        goto out;
                }
                if (nfiles == l.max_files) {
                        failf(msg, size, "the zip archive holds more than %zu files", l.max_files);
                        goto out;
                }
                if (nlen > l.max_name) {
                        failf(msg, size, "zip entry \"%s\": its name is over %zu bytes", shown,
                              l.max_name);
                        goto out;
                }
                char *name = strndup((const char *)nm, nlen);
                if (!name) {
                        failf(msg, size, "out of memory");
                        goto out;
                }
                files[nfiles].name = name;
                const char *why = NULL;
                if (!unzip_name_ok(name, &why)) {
                        failf(msg, size, "zip entry \"%s\": %s", shown, why);
                        nfiles++;
                        goto out;
                }
                for (size_t k = 0; k < nfiles; k++)
                        if (strcmp(files[k].name, name) == 0) {
                                failf(msg, size, "zip entry \"%s\" is there twice", shown);
                                nfiles++;
                                goto out;
                        }
                nfiles++;
                if (method != 0 && method != 8) {
                        failf(msg, size,
                              "zip entry \"%s\": compression method %u is not supported (only "
                              "stored and deflated)",
                              shown, method);
                        goto out;
                }
                /* the local header must agree */
                if (loff > cd_off || (size_t)cd_off - loff < LOCAL_LEN ||
                    rd32(z + loff) != SIG_LOCAL) {
                        failf(msg, size, "zip entry \"%s\": its local header is missing", shown);
                        goto out;
                }
                const unsigned char *lh = z + loff;
                uint16_t lflags = rd16(lh + 6), lmethod = rd16(lh + 8);
                uint32_t lcrc = rd32(lh + 14), lcsize = rd32(lh + 18), lusize = rd32(lh + 22);
                uint16_t lnlen = rd16(lh + 26), lxlen = rd16(lh + 28);
                size_t data = (size_t)loff + LOCAL_LEN + lnlen + lxlen;
                if (data > cd_off || lnlen != nlen || memcmp(lh + LOCAL_LEN, nm, nlen) != 0 ||
                    lmethod != method || (lflags & (FLAG_ENCRYPTED | FLAG_STRONG_ENC)) ||
                    (lflags & FLAG_DESCRIPTOR) != (flags & FLAG_DESCRIPTOR)) {
                        failf(msg, size,
                              "zip entry \"%s\": its local header disagrees with the central "
                              "directory",
                              shown);
                        goto out;
                }
                if (!(flags & FLAG_DESCRIPTOR) &&
                    (lcrc != crc || lcsize != csize || lusize != usize)) {
                        failf(msg, size,
                              "zip entry \"%s\": its local header's sizes or CRC disagree with "
                              "the central directory",
                              shown);
                        goto out;
                }
                if ((flags & FLAG_DESCRIPTOR) &&
                    ((lcrc && lcrc != crc) || (lcsize && lcsize != csize) ||
                     (lusize && lusize != usize))) {
                        failf(msg, size,
                              "zip entry \"%s\": its local header's sizes or CRC disagree with "
                              "the central directory",
                              shown);
                        goto out;
                }
                if (csize > cd_off - data) {
                        failf(msg, size, "zip entry \"%s\": its data runs past the archive", shown);
                        goto out;
                }
                size_t end = data + csize;
                if (flags & FLAG_DESCRIPTOR) {
                        size_t dl = cd_off - end >= 16 && rd32(z + end) == SIG_DESC ? 16 : 12;
                        const unsigned char *d = z + end + (dl == 16 ? 4 : 0);
                        if (cd_off - end < dl || rd32(d) != crc || rd32(d + 4) != csize ||
                            rd32(d + 8) != usize) {
                                failf(msg, size,
                                      "zip entry \"%s\": its data descriptor disagrees with the "
                                      "central directory",
                                      shown);
                                goto out;
                        }
                        end += dl;
                }
                ranges[nranges++] = (range_t){.start = loff, .end = end, .index = nfiles - 1};
                /* the data, never more than the limits whatever the sizes say */
                size_t cap = l.max_file < l.max_total - total ? l.max_file : l.max_total - total;
                unzip_file_t *f = &files[nfiles - 1];
                if (method == 0) {
                        if (csize != usize) {
                                failf(msg, size, "zip entry \"%s\": stored, but its sizes differ",
                                      shown);
                                goto out;
                        }
                        if (usize > l.max_file) {
                                failf(msg, size, "zip entry \"%s\" is over %zu bytes (the limit)",
                                      shown, l.max_file);
                                goto out;
                        }
                        if (usize > cap) {
                                failf(msg, size,
                                      "the zip archive's files are over %zu bytes together (the "
                                      "limit) at \"%s\"",
                                      l.max_total, shown);
                                goto out;
                        }
                        f->data = malloc((size_t)usize + 1);
                        if (!f->data) {
                                failf(msg, size, "out of memory");
                                goto out;
                        }
                        memcpy(f->data, z + data, usize);
                        f->data[usize] = '\0';
                        f->len = usize;
                } else {
                        char sub[256];
                        if (inflate_capped(z + data, csize, cap, usize, shown, &f->data, &f->len,
                                           sub, sizeof(sub)) < 0) {
                                if (strstr(sub, "inflates past") && cap < l.max_file)
                                        failf(msg, size,
                                              "the zip archive's files inflate past %zu bytes "
                                              "together (the limit) at \"%s\"",
                                              l.max_total, shown);
                                else
                                        failf(msg, size, "%s", sub);
                                goto out;
                        }
                        if (f->len != usize) {
                                failf(msg, size,
                                      "zip entry \"%s\" inflates to %zu bytes, not the %u it "
                                      "declares",
                                      shown, f->len, usize);
                                goto out;
                        }
                }
                total += f->len;
                if ((uint32_t)crc32_z(0L, (const Bytef *)f->data, f->len) != crc) {
                        failf(msg, size, "zip entry \"%s\": CRC mismatch (corrupt data)", shown);
                        goto out;
                }
                f->executable = mode && (mode & 0111);
        }
        if (p != cd_end) {
                failf(msg, size, "corrupt zip archive: its central directory size is wrong");
                goto out;
        }
        qsort(ranges, nranges, sizeof(*ranges), range_cmp);
        for (size_t i = 1; i < nranges; i++)
                if (ranges[i].start < ranges[i - 1].end) {
                        failf(msg, size, "corrupt zip archive: entries \"%s\" and \"%s\" overlap",
                              files[ranges[i - 1].index].name, files[ranges[i].index].name);
                        goto out;
                }
        r = 0;
out:
        free(ranges);
        if (r < 0) {
                unzip_free(files, nfiles);
                return -1;
        }
        *files_out = files;
        *n_out = nfiles;
        return 0;
}

static bool is_text(const char *s, size_t len)
{
        for (size_t i = 0; i < len;) {
                if (s[i] == '\0')
                        return false;
                size_t n = utf8_seq_len((const unsigned char *)s + i, len - i);
                if (n == 0)
                        return false;
                i += n;
        }
        return true;
}

int unzip_files(const void *zip, size_t len, const unzip_limits_t *lim, cJSON **files_out,
                char *msg, size_t msgsize)
{
        unzip_file_t *files = NULL;
        size_t n = 0;
        *files_out = NULL;
        if (unzip_extract(zip, len, lim, &files, &n, msg, msgsize) < 0)
                return -1;
        cJSON *arr = cJSON_CreateArray();
        bool ok = arr != NULL;
        for (size_t i = 0; ok && i < n; i++) {
                cJSON *o = cJSON_CreateObject();
                ok = o && cJSON_AddItemToArray(arr, o) &&
                     cJSON_AddStringToObject(o, "name", files[i].name);
                if (ok && is_text(files[i].data, files[i].len)) {
                        ok = cJSON_AddStringToObject(o, "content", files[i].data) != NULL;
                } else if (ok) {
                        buf_t b = {0};
                        ok = base64_append(&b, files[i].data, files[i].len) == 0 &&
                             cJSON_AddStringToObject(o, "content", b.data) &&
                             cJSON_AddStringToObject(o, "encoding", "base64");
                        buf_free(&b);
                }
        }
        unzip_free(files, n);
        if (!ok) {
                cJSON_Delete(arr);
                return failf(msg, msgsize, "out of memory");
        }
        *files_out = arr;
        return 0;
}

cJSON *unzip_to_files_json(const void *zip, size_t len, const unzip_limits_t *lim, char *msg,
                           size_t msgsize)
{
        cJSON *files = NULL;
        return unzip_files(zip, len, lim, &files, msg, msgsize) == 0 ? files : NULL;
}
