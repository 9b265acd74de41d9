/* libFuzzer target: shell_split (util/shellwords.h), the input as one NUL-terminated string. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"

#include "util/err.h"
#include "util/shellwords.h"
#include "util/strv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *s = fz_cstr(data, size);
        if (!s)
                return 0;
        strv_t words = {0};
        rc_err_t err = {0};
        int n = shell_split(s, &words, &err);
        /* the count returned is what was appended; nothing on failure */
        if ((n >= 0 && (size_t)n != words.n) || (n < 0 && words.n != 0))
                abort();
        strv_free(&words);
        free(s);
        return 0;
}
