#include "job/result_json.h"

#include <string.h>

#include "util/base64.h"
#include "util/json.h"

cJSON *output_files_json(const stage_result_t *s)
{
        cJSON *a = cJSON_CreateArray();
        for (size_t i = 0; a && i < s->nfiles; i++) {
                const job_output_file_t *f = &s->files[i];
                cJSON *o = cJSON_CreateObject();
                cJSON_AddItemToArray(a, o);
                cJSON_AddItemToObject(o, "name", json_bytes_item(f->name, strlen(f->name)));
                if (f->size >= 0)
                        cJSON_AddNumberToObject(o, "size", (double)f->size);
                else
                        cJSON_AddNullToObject(o, "size");
                if (f->mode >= 0)
                        cJSON_AddNumberToObject(o, "mode", f->mode);
                if (f->skipped) {
                        cJSON_AddStringToObject(o, "skipped", f->skipped);
                        continue;
                }
                buf_t b = {0};
                if (base64_append(&b, f->data, (size_t)f->size) < 0 || buf_append(&b, "", 1) < 0) {
                        buf_free(&b);
                        cJSON_AddStringToObject(o, "skipped", "unreadable");
                        continue;
                }
                cJSON_AddStringToObject(o, "content", b.data);
                buf_free(&b);
        }
        return a;
}

cJSON *stage_result_json(const stage_result_t *s)
{
        if (!s->present)
                return cJSON_CreateNull();
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "status", stage_status_name(s->status));
        if (s->exit_code >= 0)
                cJSON_AddNumberToObject(o, "exit_code", s->exit_code);
        else
                cJSON_AddNullToObject(o, "exit_code");
        const char *sig = signal_name(s->signal);
        if (sig)
                cJSON_AddStringToObject(o, "signal", sig);
        else
                cJSON_AddNullToObject(o, "signal");
        cJSON_AddItemToObject(o, "stdout", json_bytes_item(s->out.data, s->out.len));
        cJSON_AddItemToObject(o, "stderr", json_bytes_item(s->err.data, s->err.len));
        cJSON_AddNumberToObject(o, "wall_ms", (double)s->wall_ms);
        if (s->cpu_ms >= 0)
                cJSON_AddNumberToObject(o, "cpu_ms", (double)s->cpu_ms);
        else
                cJSON_AddNullToObject(o, "cpu_ms");
        if (s->memory_kb >= 0)
                cJSON_AddNumberToObject(o, "memory_kb", (double)s->memory_kb);
        else
                cJSON_AddNullToObject(o, "memory_kb");
        cJSON_AddBoolToObject(o, "truncated", s->truncated);
        if (s->cached)
                cJSON_AddTrueToObject(o, "cached");
        if (s->limit_kind)
                cJSON_AddStringToObject(o, "limit", s->limit_kind);
        if (s->status == STATUS_INTERNAL_ERROR)
                cJSON_AddStringToObject(o, "error", s->error);
        if (s->outputs) {
                cJSON_AddItemToObject(o, "files", output_files_json(s));
                cJSON_AddBoolToObject(o, "files_truncated", s->files_truncated);
        }
        return o;
}

cJSON *job_result_json(const char *language, const char *version, const job_result_t *res)
{
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "language", language);
        if (version)
                cJSON_AddStringToObject(j, "version", version);
        else
                cJSON_AddNullToObject(j, "version");
        cJSON_AddItemToObject(j, "compile", stage_result_json(&res->compile));
        cJSON_AddItemToObject(j, "run", stage_result_json(&res->run));
        return j;
}
