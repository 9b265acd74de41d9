/* libFuzzer target: the Judge0 dialect's decoders of client text (protocol/judge0.h): the
 * first byte chooses one, the rest is its input: Ruby's lenient Base64.decode64 (the
 * submission's base64_encoded fields), the "fields" query argument, command_line_arguments
 * split as bash would, and the callback body made from a stored result. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"

#include "protocol/judge0.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size == 0)
                return 0;
        unsigned which = data[0] % 4;
        size_t len = size - 1;
        char *s = fz_cstr(data + 1, len);
        if (!s)
                return 0;
        switch (which) {
        case 0: {
                buf_t out = {0}, enc = {0};
                judge0_b64_decode(s, len, &out);
                judge0_b64_encode(out.data, out.len, &enc);
                buf_free(&enc);
                buf_free(&out);
                break;
        }
        case 1: {
                char bad[256];
                judge0_parse_fields(s, bad, sizeof(bad));
                break;
        }
        case 2: {
                size_t argc = 0;
                char **v = judge0_split_args(s, &argc);
                if (v) {
                        for (size_t i = 0; i < argc; i++)
                                if (!v[i])
                                        abort();
                        if (v[argc])
                                abort();
                }
                judge0_free_args(v);
                break;
        }
        default:
                free(judge0_callback_body(s));
                break;
        }
        free(s);
        return 0;
}
