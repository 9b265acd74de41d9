/* libFuzzer target: base64_decode (util/base64.h) on any bytes, and what it decodes encoded
 * again must decode to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/base64.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        buf_t out = {0};
        if (base64_decode(&out, (const char *)data, size) == 0) {
                buf_t enc = {0}, back = {0};
                if (base64_append(&enc, out.data, out.len) == 0 &&
                    base64_decode(&back, enc.data, enc.len) == 0) {
                        if (back.len != out.len ||
                            (out.len && memcmp(back.data, out.data, out.len)))
                                abort();
                }
                buf_free(&enc);
                buf_free(&back);
        }
        buf_free(&out);
        return 0;
}
