/* libFuzzer target: toolchain_parse (toolchain/toolchain.h), a toolchain file's JSON. */
#include <stdint.h>
#include <stdlib.h>

#include "toolchain/toolchain.h"
#include "util/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        toolchain_t *tc = NULL;
        rc_err_t err = {0};
        if (toolchain_parse((const char *)data, size, "fuzz.json", &tc, &err) >= 0)
                toolchain_free(tc);
        return 0;
}
