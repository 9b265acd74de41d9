/* libFuzzer target: json_parse_strict (util/jsonstrict.h), the parser every client request goes
 * through. What it accepts is printed by cJSON and must parse strictly again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "util/jsonstrict.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char why[256];
        cJSON *v = json_parse_strict((const char *)data, size, why, sizeof(why));
        if (!v)
                return 0;
        char *text = cJSON_PrintUnformatted(v);
        if (text) {
                cJSON *again = json_parse_strict(text, strlen(text), why, sizeof(why));
                cJSON_Delete(again);
                free(text);
        }
        cJSON_Delete(v);
        return 0;
}
