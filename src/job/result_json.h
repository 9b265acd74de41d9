/* A job's results as JSON: the shape of `runcell run --json`, of batch answers and of the
 * server's HTTP answers. Output bytes that are not valid UTF-8 become U+FFFD. */
#ifndef RUNCELL_JOB_RESULT_JSON_H
#define RUNCELL_JOB_RESULT_JSON_H

#include <cjson/cJSON.h>

#include "job/job.h"

/* {"status","exit_code","signal","stdout","stderr","wall_ms","cpu_ms","memory_kb",
 *  "truncated"[,"limit"][,"error"]}, or null for an absent stage. */
cJSON *stage_result_json(const stage_result_t *s);
/* The files a run asked back: [{"name","size","mode","content" (base64)}], or for one left out
 * {"name","size","mode","skipped"} ("size" null and no "mode" when not a regular file). A
 * stage_result_json has them as "files" with "files_truncated" when s->outputs. */
cJSON *output_files_json(const stage_result_t *s);
/* {"language","version","compile","run"} */
cJSON *job_result_json(const char *language, const char *version, const job_result_t *res);

#endif
