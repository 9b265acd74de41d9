#include "engine/judge_json.h"

#include "job/result_json.h"

cJSON *judge_test_json(const char *name, const judge_test_result_t *r)
{
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "name", name);
        cJSON_AddStringToObject(t, "verdict", r ? r->verdict : "skipped");
        cJSON_AddItemToObject(t, "run", r ? stage_result_json(&r->run) : cJSON_CreateNull());
        if (r && r->has_diff) {
                cJSON *d = cJSON_AddObjectToObject(t, "diff");
                cJSON_AddNumberToObject(d, "expected_line", (double)r->diff.expected_line);
                cJSON_AddStringToObject(d, "expected", r->diff.expected);
                cJSON_AddNumberToObject(d, "got_line", (double)r->diff.got_line);
                cJSON_AddStringToObject(d, "got", r->diff.got);
        } else {
                cJSON_AddNullToObject(t, "diff");
        }
        if (r && r->message[0])
                cJSON_AddStringToObject(t, "message", r->message);
        return t;
}

cJSON *judge_summary_json(const judge_t *jd)
{
        size_t passed, run;
        long first;
        judge_summary(jd, &passed, &run, &first);
        cJSON *s = cJSON_CreateObject();
        cJSON_AddNumberToObject(s, "passed", (double)passed);
        cJSON_AddNumberToObject(s, "total", (double)judge_ntests(jd));
        cJSON_AddNumberToObject(s, "run", (double)run);
        if (first >= 0)
                cJSON_AddStringToObject(s, "first_failure", judge_test_name(jd, (size_t)first));
        else
                cJSON_AddNullToObject(s, "first_failure");
        return s;
}

cJSON *judge_result_json(const char *language, const char *version, const judge_t *jd)
{
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "language", language);
        if (version)
                cJSON_AddStringToObject(o, "version", version);
        else
                cJSON_AddNullToObject(o, "version");
        const stage_result_t *c = judge_compile_result(jd);
        cJSON_AddItemToObject(o, "compile", c ? stage_result_json(c) : cJSON_CreateNull());
        cJSON *arr = cJSON_AddArrayToObject(o, "tests");
        for (size_t i = 0; i < judge_ntests(jd); i++)
                cJSON_AddItemToArray(
                    arr, judge_test_json(judge_test_name(jd, i), judge_test_result(jd, i)));
        cJSON_AddItemToObject(o, "summary", judge_summary_json(jd));
        return o;
}
