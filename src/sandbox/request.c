/* The run request, carried from runcell to a prepared sandbox in a memfd: argv, environment,
 * limits and the files that live in runcell's memory. The child decodes it in place from its
 * mapping, so nothing there allocates. Same binary on both ends: native byte order. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "sandbox/sandbox-internal.h"

#define SB_REQ_MAGIC 0x52434c31u /* "RCL1" */

typedef struct req_header {
        uint32_t magic;
        uint32_t argc;
        uint32_t envc;
        uint32_t nfiles;
        uint32_t collect;
        uint32_t reserved;
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

int sb_req_encode(const sb_run_t *run, buf_t *out)
{
        req_header_t h;
        memset(&h, 0, sizeof(h));
        h.magic = SB_REQ_MAGIC;
        h.collect = run->collect;
        h.limits = run->limits;
        if (buf_append(out, &h, sizeof(h)) < 0)
                return -ENOMEM;
        int r;
        if ((r = put_strings(out, run->argv, &h.argc)) < 0 ||
            (r = put_strings(out, run->envp, &h.envc)) < 0)
                return r;
        if (h.argc == 0 || h.argc > SB_REQ_ARGS_MAX || h.envc > SB_REQ_ENV_MAX)
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
            h.envc > SB_REQ_ENV_MAX || h.nfiles > SB_REQ_FILES_MAX - req->nfiles)
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
        req->limits = h.limits;
        return 0;
}
