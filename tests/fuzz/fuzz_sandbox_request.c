/* libFuzzer target: the sandbox's run request as its child decodes it (sb_req_decode,
 * src/sandbox/request.c): the bytes of the parent's request memfd or START packet, decoded in
 * place into a sb_child_req_t, as the child does before it places the files and execs. Nothing
 * decoded is executed or placed: the target checks what the child would rely on (every string
 * and file inside the buffer and NUL-terminated, argv and envp NULL-terminated, the counts
 * within their bounds, the paths valid), then encodes the decoded request again with the
 * parent's encoder (sb_req_encode) and decodes that: the same request must come back.
 *
 * The first byte says how many files came before as fds (SB_MSG_FILE: the decoder appends
 * after them), the rest is the request. No process, no file.
 *
 * The seed corpus (tests/fuzz/corpus/sandbox_request/) is made by the encoder itself:
 * RUNCELL_FUZZ_WRITE_SEEDS=DIR build-fuzz/fuzz_sandbox_request writes a few real requests
 * (a compile, a run with stdin files and limits, a terminal, outputs, keep) into DIR and
 * exits. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/sandbox-internal.h"
#include "util/buf.h"
#include "util/glob.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ~1 MiB each: static, as in the child */
static sb_child_req_t req, again;

static void inside(const char *p, size_t n, const char *buf, size_t len)
{
        if (p < buf || n > len || (size_t)(p - buf) > len - n)
                abort();
}

static void check_string(const char *s, const char *buf, size_t len)
{
        if (!s)
                abort();
        inside(s, 1, buf, len);
        if (!memchr(s, '\0', len - (size_t)(s - buf)))
                abort(); /* not NUL-terminated inside the request */
}

static void check(const sb_child_req_t *r, size_t before, const char *buf, size_t len)
{
        size_t argc = 0, envc = 0;
        for (; argc <= SB_REQ_ARGS_MAX && r->argv[argc]; argc++)
                check_string(r->argv[argc], buf, len);
        for (; envc <= SB_REQ_ENV_MAX && r->envp[envc]; envc++)
                check_string(r->envp[envc], buf, len);
        if (argc == 0 || argc > SB_REQ_ARGS_MAX || envc > SB_REQ_ENV_MAX)
                abort();
        if (r->path_env && (strncmp(r->path_env - 5, "PATH=", 5) != 0))
                abort();
        if (r->noutputs > SB_OUTPUTS_MAX || r->outputs[r->noutputs])
                abort();
        for (size_t i = 0; i < r->noutputs; i++) {
                const char *why;
                check_string(r->outputs[i], buf, len);
                if (!glob_pattern_valid(r->outputs[i], &why))
                        abort();
        }
        if (r->nfiles < before || r->nfiles > SB_REQ_FILES_MAX)
                abort();
        for (size_t i = before; i < r->nfiles; i++) {
                const sb_file_t *f = &r->files[i];
                check_string(f->path, buf, len);
                if (!sb_path_valid(f->path) || f->fd != -1 || (f->mode & ~0777u))
                        abort();
                inside(f->data, f->len, buf, len);
        }
        if (!r->tty_rows != !r->tty_cols)
                abort();
}

static void write_seed(const char *dir, const char *name, uint8_t before, const sb_run_t *run)
{
        buf_t out = {0};
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        FILE *f = fopen(path, "wb");
        if (sb_req_encode(run, &out) < 0 || !f || fwrite(&before, 1, 1, f) != 1 ||
            fwrite(out.data, 1, out.len, f) != out.len || fclose(f) != 0) {
                fprintf(stderr, "fuzz_sandbox_request: cannot write %s\n", path);
                exit(1);
        }
        buf_free(&out);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        const char *dir = getenv("RUNCELL_FUZZ_WRITE_SEEDS");
        if (!dir || !*dir)
                return 0;
        static char *cc[] = {"gcc", "-O2", "-o", "main", "main.c", "-lm", NULL};
        static char *py[] = {"python3", "main.py", "a b", "", NULL};
        static char *env[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/work", "LANG=C.UTF-8",
                              NULL};
        static char *sh[] = {"/bin/sh", "-c", "cat input.txt | ./main > out/result.txt", NULL};
        static char *outs[] = {"out/*.txt", "*.png", "[a-c]?.log", NULL};
        static char *none[] = {NULL};
        static const char src[] = "#include <stdio.h>\nint main(void){puts(\"hi\");}\n";
        static const char pysrc[] = "import sys\nprint(sys.argv)\n";
        sb_file_t files[] = {
            {.path = "main.c", .mode = 0644, .data = src, .len = sizeof(src) - 1, .fd = -1},
            {.path = "main.py", .mode = 0644, .data = pysrc, .len = sizeof(pysrc) - 1, .fd = -1},
            {.path = "lib/util/x.h", .mode = 0600, .data = "", .len = 0, .fd = -1},
            {.path = "run.sh", .mode = 0755, .data = "#!/bin/sh\n", .len = 10, .fd = -1},
            {.path = "big.bin", .mode = 0644, .data = "\0\1\2\3\xff", .len = 5, .fd = -1},
        };
        rc_limits_t lim = {.wall_ms = 10000,
                           .cpu_ms = 5000,
                           .memory_mb = 256,
                           .processes = 64,
                           .output_bytes = 1 << 20,
                           .file_size_mb = 16,
                           .disk_mb = 64,
                           .open_files = 256,
                           .stack_mb = 8,
                           .outputs_count = 8,
                           .outputs_file_bytes = 1 << 20,
                           .outputs_total_bytes = 4 << 20};
        sb_run_t compile = {.argv = cc, .envp = env, .files = files, .nfiles = 1, .limits = lim};
        sb_run_t run = {.argv = py,
                        .envp = env,
                        .files = files + 1,
                        .nfiles = 4,
                        .limits = lim,
                        .collect = true};
        sb_run_t tty = {.argv = sh,
                        .envp = none,
                        .limits = lim,
                        .tty_rows = 24,
                        .tty_cols = 80,
                        .outputs = outs,
                        .keep = true};
        sb_run_t bare = {.argv = py, .envp = none};
        write_seed(dir, "compile", 0, &compile);
        write_seed(dir, "run-files", 1, &run);
        write_seed(dir, "tty-outputs-keep", 2, &tty);
        write_seed(dir, "bare", 3, &bare);
        exit(0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 1)
                return 0;
        /* files that came as fds first: 0, a few, or the table nearly or quite full */
        static const size_t befores[] = {0, 1, 3, SB_REQ_FILES_MAX - 2, SB_REQ_FILES_MAX};
        size_t before = befores[data[0] % (sizeof(befores) / sizeof(befores[0]))];
        size_t len = size - 1;
        /* a copy of exactly the request's bytes (the child's mapping is its size) */
        char *buf = malloc(len ? len : 1);
        if (!buf)
                return 0;
        if (len)
                memcpy(buf, data + 1, len);
        req.nfiles = before;
        for (size_t i = 0; i < before; i++)
                req.files[i] = (sb_file_t){.path = "fd-file", .mode = 0644, .fd = 3};
        if (sb_req_decode(buf, len, &req) == 0) {
                check(&req, before, buf, len);
                /* the parent's encoder on what the child took: the same request again */
                sb_run_t run;
                memset(&run, 0, sizeof(run));
                run.argv = req.argv;
                run.envp = req.envp;
                run.outputs = req.noutputs ? (char *const *)req.outputs : NULL;
                run.collect = req.collect;
                run.keep = req.keep;
                run.tty_rows = req.tty_rows;
                run.tty_cols = req.tty_cols;
                run.limits = req.limits;
                run.files = req.files + before;
                run.nfiles = req.nfiles - before;
                buf_t out = {0};
                if (sb_req_encode(&run, &out) < 0)
                        abort(); /* what was decoded can be sent */
                again.nfiles = 0;
                if (sb_req_decode(out.data, out.len, &again) < 0)
                        abort();
                size_t n = 0;
                for (; req.argv[n]; n++)
                        if (!again.argv[n] || strcmp(req.argv[n], again.argv[n]) != 0)
                                abort();
                if (again.argv[n])
                        abort();
                for (n = 0; req.envp[n]; n++)
                        if (!again.envp[n] || strcmp(req.envp[n], again.envp[n]) != 0)
                                abort();
                if (again.envp[n] || again.noutputs != req.noutputs ||
                    again.nfiles != req.nfiles - before || again.collect != req.collect ||
                    again.keep != req.keep || again.tty_rows != req.tty_rows ||
                    again.tty_cols != req.tty_cols ||
                    memcmp(&again.limits, &req.limits, sizeof(req.limits)) != 0)
                        abort();
                for (size_t i = 0; i < again.noutputs; i++)
                        if (strcmp(again.outputs[i], req.outputs[i]) != 0)
                                abort();
                for (size_t i = 0; i < again.nfiles; i++) {
                        const sb_file_t *a = &again.files[i], *b = &req.files[before + i];
                        if (strcmp(a->path, b->path) != 0 || a->mode != b->mode ||
                            a->len != b->len || (a->len && memcmp(a->data, b->data, a->len) != 0))
                                abort();
                }
                buf_free(&out);
        }
        free(buf);
        return 0;
}
