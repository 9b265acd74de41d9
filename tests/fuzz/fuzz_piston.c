/* libFuzzer target: the Piston dialect's version ranges (protocol/piston.h
 * piston_semver_satisfies): the input is "VERSION\nRANGE" (a client's "version" against a
 * language's). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"

#include "protocol/piston.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *s = fz_cstr(data, size);
        if (!s)
                return 0;
        char *nl = strchr(s, '\n');
        const char *range = "";
        if (nl) {
                *nl = '\0';
                range = nl + 1;
        }
        piston_semver_satisfies(s, range);
        piston_semver_satisfies(range, s);
        free(s);
        return 0;
}
