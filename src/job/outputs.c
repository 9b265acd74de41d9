#include "job/outputs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/json.h"

bool job_output_name_ok(const char *name)
{
        const unsigned char *s = (const unsigned char *)name;
        size_t len = strlen(name);
        for (size_t i = 0; i < len;) {
                if (s[i] < 0x20 || s[i] == 0x7f)
                        return false;
                size_t n = utf8_seq_len(s + i, len - i);
                if (n == 0)
                        return false;
                if (n == 2 && s[i] == 0xc2 && s[i + 1] < 0xa0)
                        return false; /* U+0080..U+009F: C1 controls */
                i += n;
        }
        return true;
}

static int by_path(const void *a, const void *b)
{
        const sb_file_t *x = *(const sb_file_t *const *)a, *y = *(const sb_file_t *const *)b;
        return strcmp(x->path, y->path);
}

/* All of the file's size bytes, from offset 0; -EIO if it is shorter now. */
static int read_whole(int fd, char *data, size_t size)
{
        size_t got = 0;
        while (got < size) {
                ssize_t n = pread(fd, data + got, size - got, (off_t)got);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -EIO;
                got += (size_t)n;
        }
        return 0;
}

int job_outputs_read(const sb_result_t *sr, const rc_limits_t *lim, stage_result_t *res)
{
        res->outputs = true;
        res->files_truncated = sr->files_over;
        if (sr->nfiles == 0)
                return 0;
        const sb_file_t **order = calloc(sr->nfiles, sizeof(*order));
        res->files = calloc(sr->nfiles, sizeof(*res->files));
        if (!order || !res->files) {
                free(order);
                return -ENOMEM;
        }
        for (size_t i = 0; i < sr->nfiles; i++)
                order[i] = &sr->files[i];
        qsort(order, sr->nfiles, sizeof(*order), by_path);
        size_t count = sr->nfiles;
        if (lim->outputs_count > 0 && (int64_t)count > lim->outputs_count) {
                count = (size_t)lim->outputs_count;
                res->files_truncated = true;
        }
        int64_t total = 0;
        int r = 0;
        for (size_t i = 0; i < count && r == 0; i++) {
                const sb_file_t *f = order[i];
                job_output_file_t *o = &res->files[res->nfiles];
                *o = (job_output_file_t){.name = strdup(f->path), .size = -1, .mode = -1};
                if (!o->name) {
                        r = -ENOMEM;
                        break;
                }
                res->nfiles++;
                struct stat st;
                if (f->fd >= 0 && fstat(f->fd, &st) == 0 && S_ISREG(st.st_mode)) {
                        o->size = st.st_size;
                        o->mode = (int)(st.st_mode & 0777);
                }
                if (!job_output_name_ok(f->path))
                        o->skipped = "bad_name";
                else if (o->size < 0)
                        o->skipped = "not_regular";
                else if (lim->outputs_file_bytes > 0 && o->size > lim->outputs_file_bytes)
                        o->skipped = "too_large";
                else if (lim->outputs_total_bytes > 0 && o->size > lim->outputs_total_bytes - total)
                        o->skipped = "total_limit";
                else {
                        o->data = malloc(o->size ? (size_t)o->size : 1);
                        if (!o->data) {
                                r = -ENOMEM;
                                break;
                        }
                        if (read_whole(f->fd, o->data, (size_t)o->size) < 0) {
                                free(o->data);
                                o->data = NULL;
                                o->skipped = "unreadable";
                        } else {
                                total += o->size;
                        }
                }
                if (o->skipped)
                        res->files_truncated = true;
        }
        free(order);
        return r;
}

void job_outputs_free(stage_result_t *res)
{
        for (size_t i = 0; i < res->nfiles; i++) {
                free(res->files[i].name);
                free(res->files[i].data);
        }
        free(res->files);
        res->files = NULL;
        res->nfiles = 0;
}
