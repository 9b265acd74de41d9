/* Per-stage resource limits. A value <= 0 means "not set" (inherit the default). */
#ifndef RUNCELL_JOB_LIMITS_H
#define RUNCELL_JOB_LIMITS_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "util/err.h"

/* The most a request or limits_max may set for the files a run asks back: base64 makes them a
 * third bigger in the answer, which is held in memory whole. */
#define LIMITS_OUTPUTS_COUNT_MAX 1000
#define LIMITS_OUTPUTS_BYTES_MAX (64LL << 20)

typedef struct rc_limits {
        int64_t wall_ms;
        int64_t cpu_ms;
        int64_t memory_mb;
        int64_t processes;
        int64_t output_bytes;
        int64_t file_size_mb;
        int64_t disk_mb;    /* each of /work, /tmp and /dev/shm (all charged to memory too) */
        int64_t open_files; /* RLIMIT_NOFILE */
        int64_t stack_mb;   /* RLIMIT_STACK */
        /* the files a run asks back ("outputs"): how many, bytes of one, bytes of all */
        int64_t outputs_count;
        int64_t outputs_file_bytes;
        int64_t outputs_total_bytes;
} rc_limits_t;

/* Parse {"wall_ms":..,...} into lim; unknown keys and non-positive integers are errors. */
int limits_from_json(const cJSON *obj, rc_limits_t *lim, const char *what, rc_err_t *err);
/* Every field of over that is set replaces the one in base. */
void limits_overlay(rc_limits_t *base, const rc_limits_t *over);
/* Clamp every set field of lim to the one in max (where max is set). */
void limits_clamp(rc_limits_t *lim, const rc_limits_t *max);
/* Built-in fallbacks for fields no toolchain set. */
void limits_fill_defaults(rc_limits_t *lim);

#endif
