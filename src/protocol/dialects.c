/* The table of wire dialects, and small helpers they share. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "protocol/dialect.h"

extern const dialect_t dialect_native;
extern const dialect_t dialect_roadrunner;
extern const dialect_t dialect_livecode;
extern const dialect_t dialect_codapi;
extern const dialect_t dialect_microservice;
extern const dialect_t dialect_pivot;
extern const dialect_t dialect_ranna;
extern const dialect_t dialect_piston;
extern const dialect_t dialect_judge0;
extern const dialect_t dialect_jobe;
extern const dialect_t dialect_playground;
extern const dialect_t dialect_functions;

/* Order matters where dialects share a POST path and none claims a body: the first wins. */
const dialect_t *const dialect_table[] = {
    &dialect_native,       &dialect_roadrunner, &dialect_livecode,   &dialect_codapi,
    &dialect_microservice, &dialect_pivot,      &dialect_ranna,      &dialect_piston,
    &dialect_judge0,       &dialect_jobe,       &dialect_playground, &dialect_functions,
};
const size_t dialect_count = sizeof(dialect_table) / sizeof(dialect_table[0]);

const dialect_t *dialect_find(const char *name)
{
        for (size_t i = 0; i < dialect_count; i++)
                if (strcmp(dialect_table[i]->name, name) == 0)
                        return dialect_table[i];
        return NULL;
}

bool dl_echo_ok(const cJSON *v)
{
        if (!v)
                return true;
        if (cJSON_IsString(v) && strlen(v->valuestring) > DL_ECHO_MAX)
                return false; /* without printing a big one */
        char *p = cJSON_PrintUnformatted(v);
        bool ok = p && strlen(p) <= DL_ECHO_MAX;
        free(p);
        return ok;
}

void dl_random_hex(char *out, size_t n)
{
        static const char hex[] = "0123456789abcdef";
        unsigned char b[64];
        if (n > sizeof(b))
                n = sizeof(b);
        if (getrandom(b, n, 0) != (ssize_t)n) {
                /* getrandom does not fail for small sizes once the pool is ready; be safe */
                for (size_t i = 0; i < n; i++)
                        b[i] = (unsigned char)random();
        }
        for (size_t i = 0; i < n; i++) {
                out[2 * i] = hex[b[i] >> 4];
                out[2 * i + 1] = hex[b[i] & 15];
        }
        out[2 * n] = '\0';
}

int dl_signal_parse(const cJSON *v)
{
        static const struct {
                const char *name;
                int sig;
        } sigs[] = {{"KILL", SIGKILL}, {"TERM", SIGTERM},  {"INT", SIGINT},   {"HUP", SIGHUP},
                    {"QUIT", SIGQUIT}, {"USR1", SIGUSR1},  {"USR2", SIGUSR2}, {"CONT", SIGCONT},
                    {"STOP", SIGSTOP}, {"ALRM", SIGALRM},  {"ABRT", SIGABRT}, {"PIPE", SIGPIPE},
                    {"TSTP", SIGTSTP}, {"WINCH", SIGWINCH}};
        if (cJSON_IsNumber(v)) {
                double d = v->valuedouble;
                return d >= 1 && d <= 31 && d == (int)d ? (int)d : 0;
        }
        if (!cJSON_IsString(v))
                return 0;
        const char *s = v->valuestring;
        if (strncmp(s, "SIG", 3) == 0)
                s += 3;
        for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
                if (strcmp(s, sigs[i].name) == 0)
                        return sigs[i].sig;
        return 0;
}

void dl_semver(const char *v, char *out, size_t size)
{
        size_t n = 0;
        const char *p = v ? v : "";
        const char *colon = strchr(p, ':'); /* a Debian epoch */
        if (colon)
                p = colon + 1;
        while (p[n] && ((p[n] >= '0' && p[n] <= '9') || p[n] == '.'))
                n++;
        while (n && p[n - 1] == '.')
                n--;
        snprintf(out, size, "%.*s", (int)n, p);
}
