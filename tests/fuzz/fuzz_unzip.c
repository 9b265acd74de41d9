/* libFuzzer target: the zip reader (util/unzip.h), Judge0's additional_files: the archive
 * extracted under small limits (their refusals) and as the run document's "files" array under
 * the default ones. Everything stays in memory. */
#include <stdint.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "util/unzip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char msg[256];
        unzip_limits_t small = {
            .max_files = 4, .max_total = 4096, .max_file = 2048, .max_name = 32};
        unzip_file_t *files = NULL;
        size_t n = 0;
        if (unzip_extract(data, size, &small, &files, &n, msg, sizeof(msg)) == 0)
                unzip_free(files, n);
        unzip_limits_t defaults = {0};
        cJSON *arr = NULL;
        if (unzip_files(data, size, &defaults, &arr, msg, sizeof(msg)) == 0)
                cJSON_Delete(arr);
        return 0;
}
