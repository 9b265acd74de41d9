/* libFuzzer target: the Jobe dialect's decoders of client text (protocol/jobe.h): the first
 * byte chooses one, the rest is its input: PHP's strict base64_decode, ResultObject::clean, the
 * Java main class of a source, a sourcefilename, and a file_list entry (the rest parsed as
 * JSON first). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"

#include <cjson/cJSON.h>

#include "protocol/jobe.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size == 0)
                return 0;
        unsigned which = data[0] % 5;
        size_t len = size - 1;
        char *s = fz_cstr(data + 1, len);
        if (!s)
                return 0;
        switch (which) {
        case 0: {
                buf_t out = {0};
                jobe_base64_decode(s, len, &out);
                buf_free(&out);
                break;
        }
        case 1: {
                buf_t out = {0};
                jobe_clean(s, len, &out);
                buf_free(&out);
                break;
        }
        case 2: {
                char cls[256];
                jobe_java_main_class(s, cls, sizeof(cls));
                break;
        }
        case 3:
                jobe_filename_ok(s);
                break;
        default: {
                cJSON *spec = cJSON_ParseWithLength(s, len);
                if (spec)
                        jobe_filespec_ok(spec);
                cJSON_Delete(spec);
                break;
        }
        }
        free(s);
        return 0;
}
