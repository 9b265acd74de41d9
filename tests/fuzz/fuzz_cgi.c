/* libFuzzer target: the functions dialect's CGI response parser (cgi_answer in
 * src/protocol/functions.c: a function's output read as RFC 3875 header lines, a blank line and
 * the body). cgi_answer is static, so this file compiles functions.c itself with the two calls
 * it answers through (dl_http_header, dl_http_text) renamed to recorders here; everything else
 * it references comes from runcell_server, linked without --whole-archive (CMakeLists.txt), so
 * that the archive's own functions.o is not pulled in. No server runs. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define dl_http_header fuzz_http_header
#define dl_http_text   fuzz_http_text
#include "../../src/protocol/functions.c"
#undef dl_http_header
#undef dl_http_text

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *fuzz_in;
static size_t fuzz_len;

void fuzz_http_header(dl_http_t *h, const char *name, const char *value)
{
        /* a header name ends with its colon; both are NUL-terminated */
        size_t n = strlen(name);
        if (n == 0 || name[n - 1] != ':' || strlen(value) >= 1024)
                abort();
}

void fuzz_http_text(dl_http_t *h, int status, const char *ctype, const char *text, size_t len)
{
        /* the body is the end of the output, the status an HTTP one */
        if (status < 100 || status > 599 || !ctype || text < fuzz_in || len > fuzz_len ||
            text + len != fuzz_in + fuzz_len)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        /* a copy of exactly size bytes: ASan sees any read past the output's end */
        char *out = malloc(size ? size : 1);
        if (!out)
                return 0;
        if (size)
                memcpy(out, data, size);
        fuzz_in = out;
        fuzz_len = size;
        cgi_answer(NULL, out, size);
        free(out);
        return 0;
}
