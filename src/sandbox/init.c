/* pid 1 of a sandbox. It stays outside the program's seccomp and capability drop only as long
 * as it must: it reaps orphans, forwards signals from runcell to the program, reports the
 * program's end with its timestamps and, for a compile stage, hands /work's files back (or, for
 * a run stage that asked, the files its patterns match). When
 * it exits the kernel kills whatever is left in the pid namespace, so nothing outlives a run.
 * A request with keep (a judge's next test, in the same sandbox) instead has init kill every
 * other process itself, put the sandbox back as it was (sb_reset) and wait for the next. */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/sandbox-internal.h"
#include "sandbox/sync.h"

static void kill_and_reap_all(void)
{
        /* From pid 1, kill(-1) reaches every other process of the namespace. */
        kill(-1, SIGKILL);
        while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
                ;
}

static void collect(const sb_child_ctx_t *ctx, const sb_child_req_t *req)
{
        if (!req->collect && !req->noutputs)
                return;
        int r = req->noutputs ? sb_collect_outputs(ctx->sync_fd, -1, req->outputs, req->noutputs,
                                                   (long)req->limits.outputs_count)
                              : sb_collect_files(ctx->sync_fd, -1);
        sb_msg_t m;
        sb_msg_fill(&m, SB_MSG_FILES_DONE, r < 0 ? -r : 0, NULL);
        sb_msg_send(ctx->sync_fd, &m, -1);
}

void sb_init_main(const sb_child_ctx_t *ctx, pid_t program, const sb_child_req_t *req)
{
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sfd < 0)
                sb_child_fail(ctx->sync_fd, "signalfd", errno);
        /* 0-2 stay /dev/null (sb_child_main): fds a next request brings never take them. */
        sb_close_fds_except(3, ctx->sync_fd, sfd);

        int status = 0;
        bool done = false;
        bool check = true; /* reap once before the first poll */
        while (!done) {
                if (check) {
                        check = false;
                        for (;;) {
                                int st;
                                pid_t w = waitpid(-1, &st, WNOHANG);
                                if (w <= 0)
                                        break;
                                if (w == program) {
                                        status = st;
                                        done = true;
                                }
                        }
                        if (done)
                                break;
                }
                struct pollfd p[2] = {{.fd = sfd, .events = POLLIN},
                                      {.fd = ctx->sync_fd, .events = POLLIN}};
                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        _exit(127);
                }
                if (p[1].revents & POLLIN) {
                        sb_msg_t m;
                        int r = sb_msg_recv(ctx->sync_fd, &m, NULL);
                        if (r == -EPIPE)
                                _exit(127); /* runcell is gone: take everything down */
                        if (r == 0 && m.type == SB_MSG_SIGNAL && m.a > 0 && m.a < NSIG)
                                kill(program, m.a);
                } else if (p[1].revents & (POLLHUP | POLLERR)) {
                        _exit(127);
                }
                if (p[0].revents & POLLIN) {
                        struct signalfd_siginfo si;
                        while (read(sfd, &si, sizeof(si)) > 0)
                                ;
                        check = true;
                }
        }
        int64_t end = sb_now_ns();
        /* Stop anything the program left behind before its files are read or the end is
         * reported, so a background process cannot write output after "exited". */
        kill_and_reap_all();
        sb_msg_t m;
        if (req->keep) {
                /* Files first, then EXITED ("kept"), then the reset, off the answer's path: the
                 * next request waits for the READY that follows it (runcell's counters for the
                 * next run are taken then, when nothing of this one is left). A reset that
                 * fails ends init, and runcell makes a fresh sandbox for the next run. */
                collect(ctx, req);
                close(sfd);
                sb_msg_fill(&m, SB_MSG_EXITED, status, "kept");
                m.t_ns = end;
                if (sb_msg_send(ctx->sync_fd, &m, -1) < 0)
                        _exit(127);
                /* The answer is on its way: let runcell and its client have the CPU first
                 * (two cores are busy with them, and the reset is off the answer's path). */
                sched_yield();
                int64_t t0 = sb_now_ns();
                bool kept = sb_reset() == 0;
                if (ctx->trace) {
                        sb_msg_fill(&m, SB_MSG_TRACE, (int32_t)((sb_now_ns() - t0) / 1000),
                                    "reset%s", kept ? "" : " (failed)");
                        sb_msg_send(ctx->sync_fd, &m, -1);
                }
                if (!kept)
                        _exit(0);
                return;
        }
        sb_msg_fill(&m, SB_MSG_EXITED, status, NULL);
        m.t_ns = end;
        if (sb_msg_send(ctx->sync_fd, &m, -1) < 0)
                _exit(127);
        collect(ctx, req);
        _exit(0);
}
