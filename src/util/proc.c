#include "util/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/cleanup.h"

extern char **environ;

int proc_run(char *const argv[], char **out, size_t max, rc_err_t *err)
{
        int op[2], ep[2];
        if (pipe2(op, O_CLOEXEC) < 0)
                return rc_err_sys(err, errno, "pipe");
        if (pipe2(ep, O_CLOEXEC) < 0) {
                close(op[0]);
                close(op[1]);
                return rc_err_sys(err, errno, "pipe");
        }
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, op[1], 1);
        posix_spawn_file_actions_adddup2(&fa, ep[1], 2);
        pid_t pid;
        int sr = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        close(op[1]);
        close(ep[1]);
        if (sr != 0) {
                close(op[0]);
                close(ep[0]);
                return rc_err_sys(err, sr, "run %s", argv[0]);
        }
        buf_t ob = {0}, eb = {0};
        struct pollfd p[2] = {{.fd = op[0], .events = POLLIN}, {.fd = ep[0], .events = POLLIN}};
        int open_fds = 2;
        bool err_cut = false; /* stderr went over what is kept: its last line kept is a part */
        while (open_fds > 0) {
                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                for (int i = 0; i < 2; i++) {
                        if (p[i].fd < 0 || !p[i].revents)
                                continue;
                        char tmp[8192];
                        ssize_t n = read(p[i].fd, tmp, sizeof(tmp));
                        if (n <= 0) {
                                close(p[i].fd);
                                p[i].fd = -1;
                                open_fds--;
                                continue;
                        }
                        buf_t *b = i == 0 ? &ob : &eb;
                        size_t lim = i == 0 ? max : 4096;
                        if (i == 1 && (size_t)n > lim - b->len)
                                err_cut = true;
                        if (b->len < lim)
                                buf_append(b, tmp,
                                           (size_t)n > lim - b->len ? lim - b->len : (size_t)n);
                }
        }
        int st = 0;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
        int r = 0;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                /* The first line and the last: the cause and how it ended (tar's first error,
                 * then that it gave up). A line cut short by the limit is left out. */
                const char *e = eb.data ? eb.data : "";
                while (*e == '\n' || *e == ' ')
                        e++;
                size_t len = strlen(e);
                const char *nl = err_cut ? memrchr(e, '\n', len) : NULL;
                if (nl)
                        len = (size_t)(nl - e);
                while (len && (e[len - 1] == '\n' || e[len - 1] == ' '))
                        len--;
                int first = (int)strcspn(e, "\n");
                if ((size_t)first > len)
                        first = (int)len;
                const char *last =
                    (size_t)first < len ? (const char *)memrchr(e, '\n', len) + 1 : NULL;
                r = rc_err_set(err, EIO, "%s failed (%s %d)%s%.*s%s%.*s", argv[0],
                               WIFEXITED(st) ? "exit" : "signal",
                               WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), len ? ": " : "",
                               first, e, last ? " ... " : "", last ? (int)(e + len - last) : 0,
                               last ? last : "");
        } else if (out) {
                if (!ob.data && buf_append(&ob, "", 0) < 0)
                        r = rc_err_set(err, ENOMEM, "out of memory");
                else {
                        *out = ob.data;
                        ob.data = NULL;
                }
        }
        buf_free(&ob);
        buf_free(&eb);
        return r;
}
