#include "cli/warm_run.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cli/cli.h"
#include "job/preparer.h"
#include "job/warm.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/trace.h"

/* fds of a request: stdin, stdout, stderr, the working directory, the files, --stdin's. */
#define WARM_FDS_MAX (4 + WARM_RUN_FILES_MAX + 1)
#define WARM_MSG_MAX (128 * 1024)
/* How long a worker that answered waits for the command to be gone before it lets the
 * sandbox go (ms). */
#define WARM_PEER_WAIT_MS 200

/* The command's request, then the paths (NUL-separated), then its arguments from "run" on. */
typedef struct warm_req {
        uint32_t magic; /* WARM_RUN_MAGIC */
        uint32_t argc;
        uint32_t nfiles; /* file fds after the first four (-1 for "-" is not sent: flags) */
        uint32_t flags;
        uint32_t paths_len, args_len;
        uint64_t dash_files; /* bit i: file operand i is "-" (no fd sent for it) */
} warm_req_t;
#define WARM_REQ_TRACE 1u
#define WARM_REQ_STDIN 2u /* --stdin FILE's fd is the last */

/* The worker's answer. */
typedef struct warm_ans {
        uint32_t magic; /* WARM_ANS_MAGIC */
        int32_t kind;   /* WARM_ANS_DECLINED, WARM_ANS_EXIT */
        int32_t value;  /* the exit status */
} warm_ans_t;
#define WARM_ANS_MAGIC    0x72637752u /* "rcwR" */
#define WARM_ANS_DECLINED 0
#define WARM_ANS_EXIT     1

/* What both sides must agree on: the directories and settings a run depends on. */
static size_t paths_blob(const rc_paths_t *p, char *buf, size_t size)
{
        int n = snprintf(buf, size, "%s%c%s%c%s%c%s%c%s%c%d%c%lld%c%u:%u:%u", p->toolchains_dir, 0,
                         p->seccomp_dir, 0, p->rootfs_dir, 0, p->state_dir, 0,
                         p->shared_state_dir ? p->shared_state_dir : "", 0, (int)p->rlimit_only, 0,
                         (long long)p->build_cache_mb, 0, (unsigned)p->sandbox_uid,
                         (unsigned)p->sandbox_gid, (unsigned)p->sandbox_ids);
        return n < 0 || (size_t)n >= size ? 0 : (size_t)n + 1;
}

static int send_msg(int sock, const void *data, size_t len, const int *fds, int nfds)
{
        struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
        union {
                char buf[CMSG_SPACE(sizeof(int) * WARM_FDS_MAX)];
                struct cmsghdr align;
        } u;
        memset(&u, 0, sizeof(u));
        struct msghdr mh = {.msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = u.buf,
                            .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds)};
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
        ssize_t n;
        do
                n = sendmsg(sock, &mh, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        return n == (ssize_t)len ? 0 : -1;
}

/* Wait for the worker's answer, passing on the signals that would end this command. */
static int await_answer(int conn, int sfd, warm_ans_t *a)
{
        for (;;) {
                struct pollfd p[2] = {{.fd = conn, .events = POLLIN},
                                      {.fd = sfd, .events = POLLIN}};
                if (poll(p, sfd >= 0 ? 2 : 1, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -1;
                }
                if (sfd >= 0 && (p[1].revents & POLLIN)) {
                        struct signalfd_siginfo si;
                        while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                                int32_t sig = (int32_t)si.ssi_signo;
                                send(conn, &sig, sizeof(sig), MSG_NOSIGNAL);
                        }
                }
                if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
                        memset(a, 0, sizeof(*a));
                        ssize_t n = recv(conn, a, sizeof(*a), 0);
                        if (n == (ssize_t)sizeof(uint32_t) && a->magic == WARM_ANSWER_BUSY) {
                                a->kind = WARM_ANS_DECLINED;
                                return 0;
                        }
                        if (n != (ssize_t)sizeof(*a) || a->magic != WARM_ANS_MAGIC)
                                return -1;
                        return 0;
                }
        }
}

int cli_warm_delegate(const rc_paths_t *paths, int argc, char **argv, const run_opts_t *o,
                      bool streams, int *rc)
{
        if (o->no_warm || o->tty || o->outputs_dir || o->nfiles > WARM_RUN_FILES_MAX ||
            (streams && isatty(0)))
                return 1;
        int64_t tt = trace_now();
        _cleanup_free_ char *sock = fs_join(paths->state_dir, WARM_SOCK_NAME);
        if (sock && faccessat(AT_FDCWD, sock, F_OK, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
                return 2; /* none listens: nothing to borrow from either */
        /* The whole message is made before connecting: the worker, woken by the connection,
         * finds it there (under emulation a wake-up more costs about a millisecond). */
        _cleanup_free_ char *buf = malloc(WARM_MSG_MAX);
        int fds[WARM_FDS_MAX];
        int nfds = 0, r = 1, conn = -1;
        if (!buf || !sock)
                goto out;
        fds[nfds++] = 0;
        fds[nfds++] = 1;
        fds[nfds++] = 2;
        int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (cwd < 0)
                goto out;
        fds[nfds++] = cwd;
        warm_req_t h = {.magic = WARM_RUN_MAGIC, .argc = (uint32_t)argc};
        /* Each file opened here, as the command would read it; one that cannot be (or is a
         * directory) is left to the command, which says what is wrong. */
        for (int i = 0; i < o->nfiles; i++) {
                if (strcmp(o->files[i], "-") == 0) {
                        h.dash_files |= 1ull << i;
                        continue;
                }
                int fd = open(o->files[i], O_RDONLY | O_CLOEXEC);
                struct stat st;
                if (fd < 0 || fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
                        if (fd >= 0)
                                close(fd);
                        goto out;
                }
                fds[nfds++] = fd;
                h.nfiles++;
        }
        if (o->stdin_path && strcmp(o->stdin_path, "-") != 0 && !streams) {
                int fd = open(o->stdin_path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        goto out;
                fds[nfds++] = fd;
                h.flags |= WARM_REQ_STDIN;
        }
        if (trace_enabled())
                h.flags |= WARM_REQ_TRACE;
        size_t off = sizeof(h);
        h.paths_len = (uint32_t)paths_blob(paths, buf + off, WARM_MSG_MAX - off);
        if (!h.paths_len)
                goto out;
        off += h.paths_len;
        for (int i = 0; i < argc; i++) {
                size_t l = strlen(argv[i]) + 1;
                if (off + l > WARM_MSG_MAX)
                        goto out; /* too long for one message: the command runs it */
                memcpy(buf + off, argv[i], l);
                off += l;
                h.args_len += (uint32_t)l;
        }
        memcpy(buf, &h, sizeof(h));
        /* From now on a signal that would end the command ends its run instead (taken before
         * the connection, so that the worker, woken by it, finds the message there already; a
         * command not handed over blocks the same signals for its own run). */
        int sfd = cli_cancel_fd();
        rc_err_t err = {0};
        conn = prep_dial(sock, &err);
        if (conn < 0 || send_msg(conn, buf, off, fds, nfds) < 0) {
                if (conn == -ENOENT || conn == -ECONNREFUSED)
                        r = 2; /* a socket left behind: none listens */
                if (sfd >= 0)
                        close(sfd);
                goto out;
        }
        trace_step("runcell warm: handed over", tt);
        warm_ans_t a;
        int ar = await_answer(conn, sfd, &a);
        trace_step("runcell warm: answered", tt);
        if (sfd >= 0)
                close(sfd);
        if (ar < 0) {
                /* the worker died with the run under way: nothing to run again */
                cli_fail("run: the runcell warm worker running it ended (see its log)");
                *rc = 3;
                r = 0;
        } else if (a.kind == WARM_ANS_EXIT) {
                *rc = a.value;
                r = 0;
        } else {
                trace_step("runcell warm: declined (busy, or other directories)", tt);
        }
out:
        for (int i = 3; i < nfds; i++)
                close(fds[i]);
        if (conn >= 0)
                close(conn);
        return r;
}

static void answer(int conn, int kind, int value)
{
        warm_ans_t a = {.magic = WARM_ANS_MAGIC, .kind = kind, .value = value};
        send(conn, &a, sizeof(a), MSG_NOSIGNAL);
}

/* cli_run_env_t.done: the command's exit status as soon as it is final. Then, before the
 * sandbox is killed and the worker exits (the helper forking the next), the command's own
 * exit: the namespaces going down and the next worker's fork would compete with it for the
 * CPUs, and the command's caller waits for it. */
static void run_done(const cli_run_env_t *env, int rc)
{
        /* The command's stdio let go first: its caller reading the output to the end (a
         * pipe, $(...)) waits for the worker's copies too, which the worker would otherwise
         * hold until it exits. Everything was written (the caller flushed). */
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        for (int fd = 0; null >= 0 && fd < 3; fd++)
                dup2(null, fd);
        if (null > 2)
                close(null);
        answer(env->conn, WARM_ANS_EXIT, rc);
        *env->answered = true;
        if (env->peer_pidfd >= 0) {
                struct pollfd p = {.fd = env->peer_pidfd, .events = POLLIN};
                while (poll(&p, 1, WARM_PEER_WAIT_MS) < 0 && errno == EINTR)
                        ;
        }
}

/* The connected command's process, as a pidfd (-1 if it cannot be had). */
static int peer_pidfd(int conn)
{
        struct ucred uc;
        socklen_t ul = sizeof(uc);
        if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &uc, &ul) < 0 || uc.pid <= 0)
                return -1;
        return (int)syscall(SYS_pidfd_open, uc.pid, 0);
}

void cli_warm_command(const rc_paths_t *paths, catalog_t *cat, int conn, int prep,
                      const warm_held_t *held, char *lang, size_t lang_size)
{
        int64_t tt = trace_now();
        char *buf = malloc(WARM_MSG_MAX + 1);
        int fds[WARM_FDS_MAX];
        for (int i = 0; i < WARM_FDS_MAX; i++)
                fds[i] = -1;
        if (!buf) {
                answer(conn, WARM_ANS_DECLINED, 0);
                return;
        }
        struct iovec iov = {.iov_base = buf, .iov_len = WARM_MSG_MAX};
        union {
                char b[CMSG_SPACE(sizeof(int) * WARM_FDS_MAX)];
                struct cmsghdr align;
        } u;
        struct msghdr mh = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof(u.b)};
        ssize_t n = recvmsg(conn, &mh, MSG_CMSG_CLOEXEC);
        int got = 0;
        for (struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL; c; c = CMSG_NXTHDR(&mh, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                        for (size_t i = 0; i < k && got < WARM_FDS_MAX; i++)
                                memcpy(&fds[got++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                }
        warm_req_t h;
        char own[8192];
        size_t own_len = paths_blob(paths, own, sizeof(own));
        bool ok = n >= (ssize_t)sizeof(h) && !(mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC));
        if (ok) {
                memcpy(&h, buf, sizeof(h));
                bool with_stdin = h.flags & WARM_REQ_STDIN;
                ok = h.magic == WARM_RUN_MAGIC && h.argc >= 1 && h.argc < 65536 &&
                     h.nfiles <= WARM_RUN_FILES_MAX &&
                     (size_t)got == 4 + h.nfiles + (with_stdin ? 1 : 0) &&
                     sizeof(h) + (size_t)h.paths_len + h.args_len == (size_t)n &&
                     h.paths_len == own_len && memcmp(buf + sizeof(h), own, own_len) == 0 &&
                     h.args_len > 0 && buf[n - 1] == '\0';
        }
        char **argv = ok ? calloc(h.argc + 1, sizeof(char *)) : NULL;
        if (argv) {
                char *s = buf + sizeof(h) + h.paths_len, *end = buf + n;
                for (uint32_t i = 0; i < h.argc; i++) {
                        if (s >= end) {
                                ok = false;
                                break;
                        }
                        argv[i] = s;
                        s += strlen(s) + 1;
                }
        }
        run_opts_t o = {0};
        /* the file operands as the command parsed them: one fd each, "-" excepted */
        int file_fds[WARM_RUN_FILES_MAX];
        if (ok && argv) {
                int saved = dup(2);
                int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
                if (devnull >= 0)
                        dup2(devnull, 2); /* the command parses again: no message twice */
                ok = cli_run_parse((int)h.argc, argv, &o, false) == 0 &&
                     (uint32_t)o.nfiles <= WARM_RUN_FILES_MAX;
                dup2(saved, 2);
                close(saved);
                if (devnull >= 0)
                        close(devnull);
                for (int i = 0, k = 4; ok && i < o.nfiles; i++) {
                        bool dash = strcmp(o.files[i], "-") == 0;
                        ok = dash == !!(h.dash_files & (1ull << i)) && (dash || k < got);
                        file_fds[i] = dash ? -1 : fds[k++];
                }
        }
        if (!ok || !argv || fchdir(fds[3]) < 0 || dup2(fds[0], 0) < 0 || dup2(fds[1], 1) < 0 ||
            dup2(fds[2], 2) < 0) {
                answer(conn, WARM_ANS_DECLINED, 0);
        } else {
                for (int i = 0; i < 3; i++) {
                        close(fds[i]); /* now 0, 1 and 2: one copy of each, let go in run_done */
                        fds[i] = -1;
                }
                trace_set(h.flags & WARM_REQ_TRACE);
                tt = trace_step("runcell warm: worker read the command", tt);
                preparer_t *pp = NULL;
                rc_err_t err = {0};
                if (preparer_from_fd(prep, cat->cgroups, &pp, &err) == 0 && held)
                        preparer_hold(pp, held->key, held->len, &held->answer, held->fds,
                                      held->nfds);
                trace_step("runcell warm: worker's preparer", tt);
                bool answered = false;
                int pidfd = peer_pidfd(conn);
                cli_run_env_t env = {
                    .cat = cat,
                    .preparer = pp,
                    .file_fds = file_fds,
                    .stdin_fd = (h.flags & WARM_REQ_STDIN) ? fds[got - 1] : -1,
                    .conn = conn,
                    .peer_pidfd = pidfd,
                    .lang = lang,
                    .lang_size = lang_size,
                    .done = run_done,
                    .answered = &answered,
                };
                int rc = cli_run_cmd(paths, (int)h.argc, argv, &env);
                fflush(NULL);
                if (!answered) /* ended before its run: bad arguments, an unknown language */
                        answer(conn, WARM_ANS_EXIT, rc);
                if (pidfd >= 0)
                        close(pidfd);
                preparer_stop(pp);
        }
        for (int i = 0; i < got; i++)
                if (fds[i] >= 0)
                        close(fds[i]);
        free(argv);
        free(buf);
}
