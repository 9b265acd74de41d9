/* A judge's results as JSON: the shape of `runcell judge --json` and of the server's answers to
 * run requests with "tests" (docs/protocol.md). */
#ifndef RUNCELL_ENGINE_JUDGE_JSON_H
#define RUNCELL_ENGINE_JUDGE_JSON_H

#include <cjson/cJSON.h>

#include "engine/judge.h"

/* {"name","verdict","run":{stage},"diff":{"expected_line","expected","got_line","got"}|null
 *  [,"message": the checker's word]};
 * r NULL: {"name","verdict":"skipped","run":null,"diff":null} */
cJSON *judge_test_json(const char *name, const judge_test_result_t *r);
/* {"passed","total","run","first_failure": name|null} */
cJSON *judge_summary_json(const judge_t *jd);
/* {"language","version","compile","tests":[...],"summary"} */
cJSON *judge_result_json(const char *language, const char *version, const judge_t *jd);

#endif
