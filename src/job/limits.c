#include "job/limits.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "util/cleanup.h"

static const struct {
        const char *key;
        size_t offset;
        int64_t max;
} limit_fields[] = {
    {"wall_ms", offsetof(rc_limits_t, wall_ms), 24LL * 3600 * 1000},
    {"cpu_ms", offsetof(rc_limits_t, cpu_ms), 24LL * 3600 * 1000},
    {"memory_mb", offsetof(rc_limits_t, memory_mb), 1LL << 20},
    {"processes", offsetof(rc_limits_t, processes), 1LL << 20},
    {"output_bytes", offsetof(rc_limits_t, output_bytes), 1LL << 40},
    {"file_size_mb", offsetof(rc_limits_t, file_size_mb), 1LL << 20},
    {"disk_mb", offsetof(rc_limits_t, disk_mb), 1LL << 20},
    {"open_files", offsetof(rc_limits_t, open_files), 1LL << 20},
    {"stack_mb", offsetof(rc_limits_t, stack_mb), 1LL << 16},
    {"outputs_count", offsetof(rc_limits_t, outputs_count), LIMITS_OUTPUTS_COUNT_MAX},
    {"outputs_file_bytes", offsetof(rc_limits_t, outputs_file_bytes), LIMITS_OUTPUTS_BYTES_MAX},
    {"outputs_total_bytes", offsetof(rc_limits_t, outputs_total_bytes), LIMITS_OUTPUTS_BYTES_MAX},
};

static int64_t *field(rc_limits_t *lim, size_t i)
{
        return (int64_t *)(void *)((char *)lim + limit_fields[i].offset);
}

int limits_from_json(const cJSON *obj, rc_limits_t *lim, const char *what, rc_err_t *err)
{
        if (!cJSON_IsObject(obj))
                return rc_err_set(err, EINVAL, "%s: must be an object", what);
        const cJSON *item;
        cJSON_ArrayForEach(item, obj)
        {
                size_t i;
                for (i = 0; i < ARRAY_SIZE(limit_fields); i++)
                        if (strcmp(item->string, limit_fields[i].key) == 0)
                                break;
                if (i == ARRAY_SIZE(limit_fields))
                        return rc_err_set(err, EINVAL, "%s: unknown limit '%s'", what,
                                          item->string);
                double d = cJSON_GetNumberValue(item);
                if (!cJSON_IsNumber(item) || d != floor(d) || d < 1 ||
                    d > (double)limit_fields[i].max)
                        return rc_err_set(err, EINVAL, "%s: '%s' must be an integer from 1 to %lld",
                                          what, item->string, (long long)limit_fields[i].max);
                *field(lim, i) = (int64_t)d;
        }
        return 0;
}

void limits_overlay(rc_limits_t *base, const rc_limits_t *over)
{
        for (size_t i = 0; i < ARRAY_SIZE(limit_fields); i++)
                if (*field((rc_limits_t *)over, i) > 0)
                        *field(base, i) = *field((rc_limits_t *)over, i);
}

void limits_clamp(rc_limits_t *lim, const rc_limits_t *max)
{
        for (size_t i = 0; i < ARRAY_SIZE(limit_fields); i++) {
                int64_t m = *field((rc_limits_t *)max, i);
                if (m > 0 && (*field(lim, i) <= 0 || *field(lim, i) > m))
                        *field(lim, i) = m;
        }
}

void limits_fill_defaults(rc_limits_t *lim)
{
        const rc_limits_t d = {
            .wall_ms = 10000,
            .cpu_ms = 10000,
            .memory_mb = 512,
            .processes = 64,
            .output_bytes = 1 << 20,
            .file_size_mb = 64,
            .disk_mb = 128,
            .open_files = 1024,
            .stack_mb = 64,
            .outputs_count = 100,
            .outputs_file_bytes = 4 << 20,
            .outputs_total_bytes = 8 << 20,
        };
        for (size_t i = 0; i < ARRAY_SIZE(limit_fields); i++)
                if (*field(lim, i) <= 0)
                        *field(lim, i) = *field((rc_limits_t *)&d, i);
}
