/* The run request, carried from runcell to a prepared sandbox in a memfd: argv, environment,
 * limits and the files that live in runcell's memory. The child decodes it in place from its
 * mapping, so nothing there allocates. Same binary on both ends: native byte order. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "sandbox/sandbox-internal.h"
#include "util/glob.h"

#define SB_REQ_MAGIC 0x52434c31u /* "RCL1" */

typedef struct req_header {
        uint32_t magic;
        uint32_t argc;
        uint32_t envc;
        uint32_t nfiles;
        uint32_t collect;
        uint32_t tty;      /* rows << 16 | cols; 0: no terminal */
        uint32_t noutputs; /* patterns, after the environment */
        uint32_t keep;     /* reset and wait for another request after this one */
        rc_limits_t limits;
} req_header_t;

typedef struct req_file {
        uint32_t path_len; /* with the NUL */
        uint32_t mode;
        uint64_t size;
} req_file_t;

static int put_strings(buf_t *out, char *const *v, uint32_t *count)
{
        uint32_t n = 0;
        for (; v && v[n]; n++)
                if (buf_append(out, v[n], strlen(v[n]) + 1) < 0)
                        return -ENOMEM;
        *count = n;
        return 0;
}

/* The kernel's MAX_ARG_STRLEN (32 pages), _STK_LIM / 4 * 3 and ARG_MAX (fs/exec.c). */
#define EXEC_STRLEN_MAX (32 * 4096)
#define EXEC_SPACE_MAX  (6u << 20)
#define EXEC_SPACE_MIN  (128u << 10)
/* Room left for the program's path (execve copies it too) and rounding. */
#define EXEC_SPACE_SLACK 8192

static int strings_check(char *const *v, const char *what, size_t max, size_t *count, size_t *bytes,
                         rc_err_t *err)
{
        size_t n = 0;
        for (; v && v[n]; n++) {
                size_t len = strlen(v[n]) + 1;
                if (len > EXEC_STRLEN_MAX)
                        return rc_err_set(err, E2BIG,
                                          "%s %zu is %zu bytes, over the %d execve takes", what,
                                          n + 1, len - 1, EXEC_STRLEN_MAX - 1);
                *bytes += len + sizeof(char *);
        }
        if (n > max)
                return rc_err_set(err, E2BIG, "%zu %ss, over the %zu a program can be given", n,
                                  what, max);
        *count = n;
        return 0;
}

int sandbox_run_check(const sb_run_t *run, rc_err_t *err)
{
        size_t argc = 0, envc = 0, bytes = 0;
        int r;
        if ((r = strings_check(run->argv, "argument", SB_REQ_ARGS_MAX, &argc, &bytes, err)) < 0 ||
            (r = strings_check(run->envp, "environment variable", SB_REQ_ENV_MAX, &envc, &bytes,
                               err)) < 0)
                return r;
        if (run->nfiles > SB_REQ_FILES_MAX)
                return rc_err_set(err, E2BIG, "%zu files, over the %d a sandbox takes", run->nfiles,
                                  SB_REQ_FILES_MAX);
        size_t space = EXEC_SPACE_MAX;
        if (run->limits.stack_mb > 0 && (uint64_t)run->limits.stack_mb < (EXEC_SPACE_MAX >> 18))
                space = (size_t)run->limits.stack_mb << 18; /* a quarter of the stack limit */
        if (space < EXEC_SPACE_MIN)
                space = EXEC_SPACE_MIN;
        if (bytes + EXEC_SPACE_SLACK > space)
                return rc_err_set(err, E2BIG,
                                  "the arguments and environment are %zu bytes together, over the "
                                  "%zu execve takes",
                                  bytes, space - EXEC_SPACE_SLACK);
        return 0;
}

int sb_req_encode(const sb_run_t *run, buf_t *out)
{
        req_header_t h;
        memset(&h, 0, sizeof(h));
        h.magic = SB_REQ_MAGIC;
        h.collect = run->collect;
        h.keep = run->keep;
        if (run->tty_rows && run->tty_cols)
                h.tty = (uint32_t)run->tty_rows << 16 | run->tty_cols;
        h.limits = run->limits;
        if (buf_append(out, &h, sizeof(h)) < 0)
                return -ENOMEM;
        int r;
        if ((r = put_strings(out, run->argv, &h.argc)) < 0 ||
            (r = put_strings(out, run->envp, &h.envc)) < 0 ||
            (r = put_strings(out, run->outputs, &h.noutputs)) < 0)
                return r;
        if (h.argc == 0 || h.argc > SB_REQ_ARGS_MAX || h.envc > SB_REQ_ENV_MAX ||
            h.noutputs > SB_OUTPUTS_MAX)
                return -E2BIG;
        for (size_t i = 0; i < run->nfiles; i++) {
                const sb_file_t *f = &run->files[i];
                if (f->fd >= 0)
                        continue; /* sent as SB_MSG_FILE with its fd */
                req_file_t rf = {.path_len = (uint32_t)strlen(f->path) + 1,
                                 .mode = (uint32_t)f->mode,
                                 .size = f->len};
                if (buf_append(out, &rf, sizeof(rf)) < 0 ||
                    buf_append(out, f->path, rf.path_len) < 0 ||
                    buf_append(out, f->data, f->len) < 0)
                        return -ENOMEM;
                h.nfiles++;
        }
        if (h.nfiles > SB_REQ_FILES_MAX)
                return -E2BIG;
        memcpy(out->data, &h, sizeof(h)); /* now with the counts */
        return 0;
}

/* The next NUL-terminated string at *pos, within len. */
static char *take_string(char *data, size_t len, size_t *pos)
{
        if (*pos >= len)
                return NULL;
        char *s = data + *pos;
        char *nul = memchr(s, '\0', len - *pos);
        if (!nul)
                return NULL;
        *pos += (size_t)(nul - s) + 1;
        return s;
}

int sb_req_decode(char *data, size_t len, sb_child_req_t *req)
{
        req_header_t h;
        if (len < sizeof(h))
                return -EBADMSG;
        memcpy(&h, data, sizeof(h));
        if (h.magic != SB_REQ_MAGIC || h.argc == 0 || h.argc > SB_REQ_ARGS_MAX ||
            h.envc > SB_REQ_ENV_MAX || h.noutputs > SB_OUTPUTS_MAX ||
            h.nfiles > SB_REQ_FILES_MAX - req->nfiles)
                return -EBADMSG;
        size_t pos = sizeof(h);
        for (uint32_t i = 0; i < h.argc; i++)
                if (!(req->argv[i] = take_string(data, len, &pos)))
                        return -EBADMSG;
        req->argv[h.argc] = NULL;
        req->path_env = NULL;
        for (uint32_t i = 0; i < h.envc; i++) {
                if (!(req->envp[i] = take_string(data, len, &pos)))
                        return -EBADMSG;
                if (strncmp(req->envp[i], "PATH=", 5) == 0)
                        req->path_env = req->envp[i] + 5;
        }
        req->envp[h.envc] = NULL;
        for (uint32_t i = 0; i < h.noutputs; i++) {
                const char *why;
                if (!(req->outputs[i] = take_string(data, len, &pos)) ||
                    !glob_pattern_valid(req->outputs[i], &why))
                        return -EBADMSG;
        }
        req->outputs[h.noutputs] = NULL;
        req->noutputs = h.noutputs;
        for (uint32_t i = 0; i < h.nfiles; i++) {
                req_file_t rf;
                if (len - pos < sizeof(rf))
                        return -EBADMSG;
                memcpy(&rf, data + pos, sizeof(rf));
                pos += sizeof(rf);
                if (rf.path_len == 0 || rf.path_len > len - pos ||
                    data[pos + rf.path_len - 1] != '\0')
                        return -EBADMSG;
                char *path = data + pos;
                pos += rf.path_len;
                if (rf.size > len - pos || !sb_path_valid(path))
                        return -EBADMSG;
                req->files[req->nfiles++] = (sb_file_t){.path = path,
                                                        .mode = (mode_t)(rf.mode & 0777),
                                                        .data = data + pos,
                                                        .len = (size_t)rf.size,
                                                        .fd = -1};
                pos += (size_t)rf.size;
        }
        if (pos != len)
                return -EBADMSG;
        req->collect = h.collect != 0;
        req->keep = h.keep != 0;
        req->tty_rows = (uint16_t)(h.tty >> 16);
        req->tty_cols = (uint16_t)(h.tty & 0xffff);
        if (!req->tty_rows || !req->tty_cols)
                req->tty_rows = req->tty_cols = 0;
        req->limits = h.limits;
        return 0;
}
