/* The parent side of a sandbox: prepare everything, clone into new namespaces, write the id
 * maps, release the child, and then follow it through the sync socket and its pidfd.
 *
 * Parent steps, in order (the child's are in child.c):
 *   1. build the mount plan and find PATH       (no allocation is left for the child)
 *   2. socketpair + stdio pipes, all CLOEXEC
 *   3. as root, take the sandbox's own outside id (ids.h) and clone as it (effective ids
 *      only, this thread only), so that it owns the new user namespace;
 *      clone3(CLONE_NEW* | CLONE_PIDFD | CLONE_INTO_CGROUP on v2)
 *   4. setgroups=deny, gid_map, uid_map          (one line each: 0 -> host id)
 *   5. send GO
 *   6. v1: move the child into its cgroup leaf, while it builds its root (the move waits for an
 *      RCU grace period); the child waits for the outcome before its cgroup namespace, and
 *      nothing of the request runs before that
 *   7. wait for READY (or ERROR) */
#include "sandbox/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/ids.h"
#include "sandbox/sandbox-internal.h"
#include "sandbox/sync.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/trace.h"

#define SB_SETUP_TIMEOUT_MS 30000

struct sandbox {
        pid_t pid; /* init, in our pid namespace */
        int pidfd;
        int sync_fd;
        int stdin_fd, stdout_fd, stderr_fd;
        int tty_fd; /* the terminal's master (a tty run, once STARTED); -1: none */
        int64_t start_ns;
        sb_result_t res;
        size_t files_cap;
        bool files_done;
        bool collect; /* the request asked for /work's files back */
        bool reaped;
        bool foreign;   /* not our child (a helper cloned it): waited for through its pidfd */
        bool ready;     /* READY seen: the child is prepared */
        bool requested; /* the request went out */
        bool started;   /* STARTED seen: the program was exec'd */
        int64_t request_ns;
        cg_leaf_t *attach_leaf; /* v1: the leaf to move the child into (not owned) */
        int attach_fd;          /* and where to tell it the outcome; -1: done or none */
        bool keep;              /* the request asked for another one after it (sb_run_t.keep) */
        bool kept;              /* and init, having reset the sandbox, said it takes one */
        int next_stdio[3];      /* a recycled sandbox's: the next program's ends, to send */
        bool stdio_owed;        /* recycled: the pipes are made with the next request */
        bool once;              /* sb_prep_t.once: never kept */
};

int sb_id_map_line(char *buf, size_t size, unsigned long host_id)
{
        int n = snprintf(buf, size, "0 %lu 1\n", host_id);
        return (n < 0 || (size_t)n >= size) ? -ENAMETOOLONG : n;
}

static int write_maps(pid_t pid, uid_t uid, gid_t gid, rc_err_t *err)
{
        char path[64], line[64];
        int n, r;
        snprintf(path, sizeof(path), "/proc/%d/setgroups", pid);
        /* Unprivileged writers must deny setgroups before gid_map, or the kernel refuses the
         * map: otherwise the sandbox could drop a group that denies it access somewhere. */
        if ((r = fs_write_file(path, "deny", 4, err)) < 0)
                return r;
        snprintf(path, sizeof(path), "/proc/%d/gid_map", pid);
        n = sb_id_map_line(line, sizeof(line), gid);
        if ((r = fs_write_file(path, line, (size_t)n, err)) < 0)
                return r;
        snprintf(path, sizeof(path), "/proc/%d/uid_map", pid);
        n = sb_id_map_line(line, sizeof(line), uid);
        return fs_write_file(path, line, (size_t)n, err);
}

/* The cgroup namespace is made by the child after it is in its cgroup (see child.c), so that
 * the namespace's root is the sandbox's own leaf. */
static pid_t clone_sandbox(int *pidfd, int cgroup_fd)
{
        const uint64_t ns =
            CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC;
        struct clone_args ca;
        memset(&ca, 0, sizeof(ca));
        ca.flags = ns | CLONE_PIDFD;
        if (cgroup_fd >= 0) {
                /* Born in its cgroup: no migration, which costs an RCU grace period. */
                ca.flags |= CLONE_INTO_CGROUP;
                ca.cgroup = (uint64_t)cgroup_fd;
        }
        ca.pidfd = (uint64_t)(uintptr_t)pidfd;
        ca.exit_signal = SIGCHLD;
        long pid = syscall(SYS_clone3, &ca, sizeof(ca));
        if (pid < 0 && errno == ENOSYS && cgroup_fd < 0) {
                /* Pre-5.3 kernels: the legacy clone returns the pidfd through parent_tid. */
                pid = syscall(SYS_clone, (unsigned long)(ns | CLONE_PIDFD | SIGCHLD), NULL, pidfd,
                              NULL, 0);
        }
        return (pid_t)pid;
}

static void close_fd(int *fd)
{
        if (*fd >= 0) {
                close(*fd);
                *fd = -1;
        }
}

/* Wait for READY (prepared) or STARTED (exec'd); an ERROR names the step that failed. */
/* A step the child timed (SB_MSG_TRACE: its name, its µs), said as one of ours. */
static void trace_child(const sb_msg_t *m)
{
        char what[sizeof(m->text) + 8];
        snprintf(what, sizeof(what), "child %s", m->text);
        trace_took(what, m->a);
}

static int wait_for(sandbox_t *sb, uint32_t want, rc_err_t *err)
{
        int64_t deadline = sb_now_ns() + (int64_t)SB_SETUP_TIMEOUT_MS * 1000000;
        for (;;) {
                int64_t left = (deadline - sb_now_ns()) / 1000000;
                if (left <= 0)
                        return rc_err_set(err, ETIMEDOUT, "sandbox set-up timed out");
                struct pollfd p = {.fd = sb->sync_fd, .events = POLLIN};
                int pr = poll(&p, 1, (int)left);
                if (pr < 0 && errno != EINTR)
                        return rc_err_sys(err, errno, "poll");
                if (pr <= 0)
                        continue;
                sb_msg_t m;
                int fd = -1;
                int r = sb_msg_recv(sb->sync_fd, &m, &fd);
                if (fd >= 0 && m.type == SB_MSG_STARTED && want == SB_MSG_STARTED &&
                    sb->tty_fd < 0) {
                        fcntl(fd, F_SETFL, O_NONBLOCK);
                        sb->tty_fd = fd;
                } else if (fd >= 0) {
                        close(fd);
                }
                if (r == -EPIPE || r == -ECONNRESET)
                        return rc_err_set(err, EPIPE, "sandbox exited during set-up");
                if (r < 0)
                        return rc_err_sys(err, -r, "read from sandbox");
                if (m.type == SB_MSG_ERROR)
                        return rc_err_set(err, m.a, "%s", m.text);
                if (m.type == SB_MSG_TRACE) {
                        trace_child(&m);
                        continue;
                }
                if (m.type == SB_MSG_READY) {
                        sb->ready = true;
                        if (want == SB_MSG_READY)
                                return 0;
                        continue;
                }
                if (m.type == want && want == SB_MSG_STARTED) {
                        sb->started = true;
                        sb->start_ns = m.t_ns;
                        sb->res.start_ns = m.t_ns;
                        return 0;
                }
                return rc_err_set(err, EPROTO, "unexpected message %u during set-up", m.type);
        }
}

int sandbox_attach(sandbox_t *sb, rc_err_t *err)
{
        if (sb->attach_fd < 0)
                return 0;
        int64_t tt = trace_now();
        int r = cg_leaf_attach(sb->attach_leaf, sb->pid, err);
        if (r < 0)
                rc_err_wrap(err, "cgroup");
        int32_t status = r < 0 ? -r : 0;
        /* The child reads it before going on; if it is gone, nobody needs it. */
        if (write(sb->attach_fd, &status, sizeof(status)) < 0 && r == 0)
                r = rc_err_sys(err, errno, "cgroup: tell the sandbox");
        close_fd(&sb->attach_fd);
        sb->attach_leaf = NULL;
        trace_step("parent: cgroup attach", tt);
        return r;
}

enum { SPAWN_WAIT_READY = 1, SPAWN_DEFER_ATTACH = 2 };

static int spawn(const sb_prep_t *spec, int mode, sandbox_t **out, rc_err_t *err)
{
        _cleanup_close_ int sp0 = -1, sp1 = -1, in0 = -1, in1 = -1, out0 = -1, out1 = -1, er0 = -1,
                            er1 = -1, at0 = -1, at1 = -1, ids_fd = -1;
        int sv[2], p[2];
        int r;

        mount_plan_t *plan = malloc(sizeof(*plan));
        if (!plan)
                return rc_err_set(err, ENOMEM, "out of memory");
        rc_limits_t disk = {.disk_mb = spec->disk_mb};
        if ((r = mount_plan_build(plan, &disk, spec->work_dir, err)) < 0) {
                free(plan);
                return r;
        }
        if (getuid() == 0 && getgroups(0, NULL) > 0 && setgroups(0, NULL) < 0) {
                /* Root's supplementary groups would follow the child into the sandbox, where
                 * setgroups is denied: drop them from runcell itself, which needs none. */
                free(plan);
                return rc_err_sys(err, errno, "setgroups");
        }

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
                free(plan);
                return rc_err_sys(err, errno, "socketpair");
        }
        sp0 = sv[0];
        sp1 = sv[1];
        if (pipe2(p, O_CLOEXEC) < 0)
                goto sys_fail;
        in0 = p[0];
        in1 = p[1];
        if (pipe2(p, O_CLOEXEC) < 0)
                goto sys_fail;
        out0 = p[0];
        out1 = p[1];
        if (pipe2(p, O_CLOEXEC) < 0)
                goto sys_fail;
        er0 = p[0];
        er1 = p[1];
        bool attach = spec->cgroup && cg_leaf_clone_fd(spec->cgroup) < 0;
        if (attach) {
                if (pipe2(p, O_CLOEXEC) < 0)
                        goto sys_fail;
                at0 = p[0];
                at1 = p[1];
        }

        /* The program may reopen its stdio by name (/dev/stdin is /proc/self/fd/0), which checks
         * the pipe's own mode against the sandbox's uid, not ours: the pipes are made open to all.
         * No one else can reach them: they have no path, and /proc/PID/fd of a process is only for
         * those who may ptrace it. */
        if (fchmod(in0, 0666) < 0 || fchmod(out1, 0666) < 0 || fchmod(er1, 0666) < 0)
                goto sys_fail;
        if (sp1 < 3 || in0 < 3 || out1 < 3 || er1 < 3 || (attach && at0 < 3)) {
                /* The child turns 0-2 into /dev/null: none of its own fds may have those numbers.
                 */
                free(plan);
                return rc_err_set(err, EBADF, "runcell's stdin, stdout or stderr is closed");
        }
        sb_child_ctx_t ctx = {
            .sync_fd = sp1,
            .stdin_fd = in0,
            .stdout_fd = out1,
            .stderr_fd = er1,
            .attach_fd = at0,
            .prep = spec,
            .plan = plan,
            .trace = trace_enabled(),
        };
        int pidfd = -1;
        int64_t tt = trace_now();
        uid_t uid = spec->host_uid;
        gid_t gid = spec->host_gid;
        if (spec->id_count) {
                uint32_t id;
                if ((r = sb_ids_take((uint32_t)spec->host_uid, spec->id_count, &id, &ids_fd, err)) <
                        0 ||
                    (r = sb_ids_become((uid_t)id,
                                       spec->host_gid + (gid_t)(id - (uint32_t)spec->host_uid),
                                       err)) < 0) {
                        free(plan);
                        return r;
                }
                uid = (uid_t)id;
                gid = spec->host_gid + (gid_t)(id - (uint32_t)spec->host_uid);
        }
        pid_t pid = clone_sandbox(&pidfd, cg_leaf_clone_fd(spec->cgroup));
        if (spec->id_count) {
                int e = errno;
                sb_ids_restore();
                errno = e;
        }
        if (pid < 0)
                goto sys_fail;
        if (pid == 0) {
                close(sp0);
                close(in1);
                close(out0);
                close(er0);
                if (at1 >= 0)
                        close(at1);
                sb_child_main(&ctx);
        }
        free(plan);
        close_fd(&sp1);
        close_fd(&in0);
        close_fd(&out1);
        close_fd(&er1);
        close_fd(&at0);
        /* The id stays taken until the sandbox is reaped (sb_ids_reaped). */
        sb_ids_hold(pid, steal_fd(&ids_fd));

        sandbox_t *sb = calloc(1, sizeof(*sb));
        if (!sb) {
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                sb_ids_reaped(pid);
                close(pidfd);
                return rc_err_set(err, ENOMEM, "out of memory");
        }
        sb->pid = pid;
        sb->pidfd = pidfd;
        sb->once = spec->once;
        sb->tty_fd = -1;
        sb->next_stdio[0] = sb->next_stdio[1] = sb->next_stdio[2] = -1;
        sb->sync_fd = steal_fd(&sp0);
        sb->stdin_fd = steal_fd(&in1);
        sb->stdout_fd = steal_fd(&out0);
        sb->stderr_fd = steal_fd(&er0);
        sb->attach_fd = steal_fd(&at1);
        sb->attach_leaf = attach ? spec->cgroup : NULL;
        fcntl(sb->stdin_fd, F_SETFL, O_NONBLOCK);
        fcntl(sb->stdout_fd, F_SETFL, O_NONBLOCK);
        fcntl(sb->stderr_fd, F_SETFL, O_NONBLOCK);

        tt = trace_step("parent: clone", tt);
        sb_msg_t go;
        sb_msg_fill(&go, SB_MSG_GO, 0, NULL);
        if ((r = write_maps(pid, uid, gid, err)) < 0) {
                rc_err_wrap(err, "user namespace id maps");
        } else if ((tt = trace_step("parent: id maps", tt)),
                   (r = sb_msg_send(sb->sync_fd, &go, -1)) < 0) {
                rc_err_sys(err, -r, "release sandbox");
        } else if (!(mode & SPAWN_DEFER_ATTACH) && (r = sandbox_attach(sb, err)) < 0) {
                ; /* the child reports it too, and exits */
        } else if (mode & SPAWN_WAIT_READY) {
                r = wait_for(sb, SB_MSG_READY, err);
                trace_step("parent: child prepared", tt);
        }
        if (r < 0) {
                sandbox_kill(sb);
                sandbox_free(sb);
                return r;
        }
        *out = sb;
        return 0;

sys_fail:
        r = rc_err_sys(err, errno, "sandbox set-up");
        free(plan);
        return r;
}

int sandbox_prepare(const sb_prep_t *spec, sandbox_t **out, rc_err_t *err)
{
        return spawn(spec, SPAWN_WAIT_READY, out, err);
}

int sandbox_spawn(const sb_prep_t *spec, sandbox_t **out, rc_err_t *err)
{
        return spawn(spec, SPAWN_DEFER_ATTACH, out, err);
}

void sandbox_export(sandbox_t *sb, pid_t *pid, int fds[SB_EXPORT_FDS])
{
        *pid = sb->pid;
        fds[0] = steal_fd(&sb->pidfd);
        fds[1] = steal_fd(&sb->sync_fd);
        fds[2] = steal_fd(&sb->stdin_fd);
        fds[3] = steal_fd(&sb->stdout_fd);
        fds[4] = steal_fd(&sb->stderr_fd);
        sb->reaped = true; /* whoever reaps it, it is not this sandbox_t's to kill any more */
}

int sandbox_adopt(pid_t pid, int fds[SB_EXPORT_FDS], sandbox_t **out, rc_err_t *err)
{
        sandbox_t *sb = calloc(1, sizeof(*sb));
        if (!sb)
                return rc_err_set(err, ENOMEM, "out of memory");
        sb->pid = pid;
        sb->foreign = true;
        sb->attach_fd = -1;
        sb->tty_fd = -1;
        sb->next_stdio[0] = sb->next_stdio[1] = sb->next_stdio[2] = -1;
        sb->pidfd = steal_fd(&fds[0]);
        sb->sync_fd = steal_fd(&fds[1]);
        sb->stdin_fd = steal_fd(&fds[2]);
        sb->stdout_fd = steal_fd(&fds[3]);
        sb->stderr_fd = steal_fd(&fds[4]);
        fcntl(sb->stdin_fd, F_SETFL, O_NONBLOCK);
        fcntl(sb->stdout_fd, F_SETFL, O_NONBLOCK);
        fcntl(sb->stderr_fd, F_SETFL, O_NONBLOCK);
        *out = sb;
        return 0;
}

/* Wait until init is gone: our child is reaped; another's is waited for through its pidfd
 * (readable once it exited; its parent reaps it). Bounded for one that is not ours. */
static void wait_gone(sandbox_t *sb, int timeout_ms)
{
        if (sb->reaped)
                return;
        if (!sb->foreign) {
                int st;
                while (waitpid(sb->pid, &st, 0) < 0 && errno == EINTR)
                        ;
                sb_ids_reaped(sb->pid);
        } else if (sb->pidfd >= 0) {
                int64_t deadline = sb_now_ns() + (int64_t)timeout_ms * 1000000;
                for (;;) {
                        int64_t left = (deadline - sb_now_ns()) / 1000000;
                        struct pollfd p = {.fd = sb->pidfd, .events = POLLIN};
                        int pr = poll(&p, 1, timeout_ms < 0 ? -1 : (int)(left > 0 ? left : 0));
                        if (pr != 0 && !(pr < 0 && errno == EINTR))
                                break;
                        if (pr == 0 && timeout_ms >= 0)
                                break;
                }
        }
        sb->reaped = true;
}

/* Sending to the sandbox failed with r: if it went away because a set-up step failed (a
 * prepared-ahead sandbox reports that only now), its ERROR is still queued: that is the why. */
static int why_gone(sandbox_t *sb, int r, const char *what, rc_err_t *err)
{
        if (r == -EPIPE || r == -ECONNRESET) {
                /* The peer is gone: reading cannot block, it ends in EOF. */
                for (int i = 0; i < 64; i++) {
                        sb_msg_t m;
                        if (sb_msg_recv(sb->sync_fd, &m, NULL) < 0)
                                break;
                        if (m.type == SB_MSG_ERROR)
                                return rc_err_set(err, m.a, "%s", m.text);
                }
        }
        return rc_err_sys(err, -r, "%s", what);
}

/* The program's rlimits are set, soft and hard, in its own process, whose user namespace
 * cannot raise a hard limit over the one runcell was started with (a server started under
 * `ulimit -n 64`): such a request is refused here, naming the limit, rather than failing in the
 * sandbox as "rlimits: Operation not permitted". */
static int rlimits_check(const rc_limits_t *l, rc_err_t *err)
{
        const struct {
                int res;
                const char *name, *rname;
                int64_t asked;
                rlim_t want;
        } v[] = {
            {RLIMIT_NOFILE, "open_files", "RLIMIT_NOFILE", l->open_files, (rlim_t)l->open_files},
            {RLIMIT_STACK, "stack_mb", "RLIMIT_STACK", l->stack_mb, (rlim_t)l->stack_mb << 20},
            {RLIMIT_FSIZE, "file_size_mb", "RLIMIT_FSIZE", l->file_size_mb,
             (rlim_t)l->file_size_mb << 20},
            {RLIMIT_CPU, "cpu_ms", "RLIMIT_CPU", l->cpu_ms, (rlim_t)(l->cpu_ms + 999) / 1000 + 2},
        };
        for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
                struct rlimit rl;
                if (v[i].asked <= 0 || getrlimit(v[i].res, &rl) < 0 ||
                    rl.rlim_max == RLIM_INFINITY || v[i].want <= rl.rlim_max)
                        continue;
                return rc_err_set(err, EPERM,
                                  "rlimits: %s %lld needs %s %llu, over runcell's own hard limit "
                                  "of %llu, which a sandbox cannot raise (raise runcell's: ulimit "
                                  "-H, systemd's Limit*=)",
                                  v[i].name, (long long)v[i].asked, v[i].rname,
                                  (unsigned long long)v[i].want, (unsigned long long)rl.rlim_max);
        }
        return 0;
}

/* A recycled sandbox's next program's pipes, as spawn makes them: ours kept, the sandbox's
 * ends (next_stdio) sent with the request. */
static int make_next_stdio(sandbox_t *sb, rc_err_t *err)
{
        int p[2];
        for (int i = 0; i < 3; i++) {
                if (pipe2(p, O_CLOEXEC) < 0)
                        return rc_err_sys(err, errno, "pipes for the next run");
                int ours = i == 0 ? p[1] : p[0];
                int theirs = i == 0 ? p[0] : p[1];
                if (fchmod(theirs, 0666) < 0) {
                        int e = errno;
                        close(p[0]);
                        close(p[1]);
                        return rc_err_sys(err, e, "pipes for the next run");
                }
                fcntl(ours, F_SETFL, O_NONBLOCK);
                sb->next_stdio[i] = theirs;
                if (i == 0)
                        sb->stdin_fd = ours;
                else if (i == 1)
                        sb->stdout_fd = ours;
                else
                        sb->stderr_fd = ours;
        }
        sb->stdio_owed = false;
        return 0;
}

int sandbox_start(sandbox_t *sb, const sb_run_t *run, rc_err_t *err)
{
        for (size_t i = 0; i < run->nfiles; i++)
                if (!sb_path_valid(run->files[i].path))
                        return rc_err_set(err, EINVAL, "invalid file name \"%s\"",
                                          run->files[i].path);
        if (!run->argv || !run->argv[0])
                return rc_err_set(err, EINVAL, "no program to run");
        int cr = sandbox_run_check(run, err);
        if (cr < 0 || (cr = rlimits_check(&run->limits, err)) < 0)
                return cr;
        if (sb->requested)
                return rc_err_set(err, EBUSY, "sandbox already ran a program");
        if (run->keep && sb->once)
                return rc_err_set(err, EINVAL, "a sandbox prepared for one run is not kept");
        if (sb->stdio_owed && (cr = make_next_stdio(sb, err)) < 0)
                return cr;
        sb->requested = true;
        sb->collect = run->collect || (run->outputs && run->outputs[0]);
        sb->keep = run->keep;
        sb->request_ns = trace_now();
        buf_t blob = {0};
        int r = sb_req_encode(run, &blob);
        if (r < 0) {
                buf_free(&blob);
                return rc_err_set(err, -r, "request too large");
        }
        for (size_t i = 0; i < run->nfiles; i++) {
                if (run->files[i].fd < 0)
                        continue;
                sb_msg_t m;
                sb_msg_fill(&m, SB_MSG_FILE, (int32_t)run->files[i].mode, "%s", run->files[i].path);
                if ((r = sb_msg_send(sb->sync_fd, &m, run->files[i].fd)) < 0) {
                        buf_free(&blob);
                        return why_gone(sb, r, "send file to sandbox", err);
                }
        }
        /* One packet: a recycled sandbox's program's stdio, and the request itself, in the packet
         * when it is small, else as a memfd (any size; the child maps it without copying). */
        int fds[SB_MSG_FDS_MAX];
        int nfds = 0;
        if (sb->next_stdio[0] >= 0 && sb->next_stdio[1] >= 0 && sb->next_stdio[2] >= 0)
                for (int i = 0; i < 3; i++)
                        fds[nfds++] = sb->next_stdio[i];
        _cleanup_close_ int mfd = -1;
        bool inl = blob.len > 0 && blob.len <= SB_REQ_INLINE_MAX;
        for (;;) {
                if (!inl) {
                        mfd = memfd_create("runcell-request", MFD_CLOEXEC);
                        if (mfd < 0) {
                                buf_free(&blob);
                                return rc_err_sys(err, errno, "memfd_create");
                        }
                        if (fs_write_all(mfd, blob.data, blob.len) < 0) {
                                buf_free(&blob);
                                return rc_err_sys(err, errno, "write request");
                        }
                        fds[nfds++] = mfd;
                }
                sb_msg_t start;
                sb_msg_fill(&start, SB_MSG_START, inl ? (int32_t)blob.len : 0, NULL);
                r = sb_msg_sendv(sb->sync_fd, &start, inl ? blob.data : NULL, inl ? blob.len : 0,
                                 fds, nfds);
                /* a host whose socket buffers are smaller than the packet: the memfd then */
                if (r != -EMSGSIZE || !inl)
                        break;
                inl = false;
        }
        buf_free(&blob);
        for (int i = 0; i < 3; i++)
                close_fd(&sb->next_stdio[i]); /* the sandbox's now (or, it gone, nobody's) */
        if (r < 0)
                return why_gone(sb, r, "send request to sandbox", err);
        return 0;
}

int sandbox_run(sandbox_t *sb, const sb_run_t *run, rc_err_t *err)
{
        int64_t tt = trace_now();
        int r = sandbox_start(sb, run, err);
        if (r == 0)
                r = wait_for(sb, SB_MSG_STARTED, err);
        trace_step("parent: request + exec", tt);
        return r;
}

bool sandbox_ready(sandbox_t *sb)
{
        /* READY may be waiting in the socket (behind TRACE lines): take it, and nothing else. */
        while (!sb->ready && !sb->requested && sb->sync_fd >= 0) {
                sb_msg_t m;
                if (recv(sb->sync_fd, &m, sizeof(m), MSG_PEEK | MSG_DONTWAIT) != sizeof(m) ||
                    (m.type != SB_MSG_READY && m.type != SB_MSG_TRACE) ||
                    sandbox_handle_sync(sb, NULL) < 0)
                        break;
        }
        return sb->ready;
}

int sandbox_await_ready(sandbox_t *sb)
{
        if (sandbox_ready(sb))
                return 1;
        if (sb->requested || sb->sync_fd < 0)
                return -1;
        sb_msg_t m;
        if (recv(sb->sync_fd, &m, sizeof(m), MSG_PEEK | MSG_DONTWAIT) < 0 &&
            (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
                return 0;
        return -1; /* hung up, or something other than READY came first */
}

bool sandbox_started(const sandbox_t *sb)
{
        return sb->started;
}

int sandbox_stdin_fd(const sandbox_t *sb)
{
        return sb->stdin_fd;
}
int sandbox_tty_fd(const sandbox_t *sb)
{
        return sb->tty_fd;
}
int sandbox_tty_resize(sandbox_t *sb, uint16_t rows, uint16_t cols)
{
        if (sb->tty_fd < 0)
                return -ENOTTY;
        struct winsize ws = {.ws_row = rows, .ws_col = cols};
        return ioctl(sb->tty_fd, TIOCSWINSZ, &ws) < 0 ? -errno : 0;
}
int sandbox_stdout_fd(const sandbox_t *sb)
{
        return sb->stdout_fd;
}
int sandbox_stderr_fd(const sandbox_t *sb)
{
        return sb->stderr_fd;
}
int sandbox_sync_fd(const sandbox_t *sb)
{
        return sb->sync_fd;
}
int sandbox_pidfd(const sandbox_t *sb)
{
        return sb->pidfd;
}
int64_t sandbox_start_ns(const sandbox_t *sb)
{
        return sb->start_ns;
}

void sandbox_close_stdin(sandbox_t *sb)
{
        close_fd(&sb->stdin_fd);
}

static int add_file(sandbox_t *sb, const sb_msg_t *m, int fd)
{
        sb_result_t *res = &sb->res;
        if (res->nfiles == sb->files_cap) {
                size_t cap = sb->files_cap ? sb->files_cap * 2 : 8;
                sb_file_t *nf = realloc(res->files, cap * sizeof(*nf));
                if (!nf)
                        return -ENOMEM;
                res->files = nf;
                sb->files_cap = cap;
        }
        char *path = strdup(m->text);
        if (!path)
                return -ENOMEM;
        res->files[res->nfiles++] = (sb_file_t){
            .path = path, .mode = (mode_t)(m->a & 0777), .data = NULL, .len = 0, .fd = fd};
        return 0;
}

int sandbox_handle_sync(sandbox_t *sb, rc_err_t *err)
{
        if (sb->sync_fd < 0)
                return 0;
        sb_msg_t m;
        int fd = -1;
        int r = sb_msg_recv(sb->sync_fd, &m, &fd);
        if (r == -EAGAIN)
                return 0;
        if (r < 0) {
                close_fd(&sb->sync_fd);
                /* The end; ECONNRESET when it went with our request still unread (killed while
                 * it was being prepared). */
                return r == -EPIPE || r == -ECONNRESET ? 0
                                                       : rc_err_sys(err, -r, "read from sandbox");
        }
        switch (m.type) {
        case SB_MSG_READY:
                sb->ready = true;
                break;
        case SB_MSG_TRACE:
                trace_child(&m);
                break;
        case SB_MSG_STARTED:
                if (sb->started || !sb->requested)
                        return rc_err_set(err, EPROTO, "unexpected message %u", m.type);
                sb->started = true;
                sb->start_ns = m.t_ns;
                sb->res.start_ns = m.t_ns;
                if (fd >= 0 && sb->tty_fd < 0) {
                        fcntl(fd, F_SETFL, O_NONBLOCK);
                        sb->tty_fd = fd;
                        fd = -1;
                }
                if (m.t_ns > sb->request_ns) {
                        /* init's clock is ours (no time namespace): where the time went */
                        trace_span("parent: request to init's fork", sb->request_ns, m.t_ns);
                        trace_step("parent: init's fork to STARTED", m.t_ns);
                }
                trace_step("parent: request + exec", sb->request_ns);
                break;
        case SB_MSG_ERROR:
                /* A set-up step failed (preparing, or starting the program): the child exits. */
                return rc_err_set(err, m.a, "%s", m.text);
        case SB_MSG_EXITED:
                trace_step("parent: EXITED since start", sb->start_ns);
                sb->res.exited = true;
                sb->res.wait_status = m.a;
                sb->res.end_ns = m.t_ns;
                m.text[sizeof(m.text) - 1] = '\0';
                sb->kept = sb->keep && strcmp(m.text, "kept") == 0;
                break;
        case SB_MSG_FILE:
                if (fd < 0)
                        return rc_err_set(err, EPROTO, "file without descriptor");
                if (!sb_path_valid(m.text) || add_file(sb, &m, fd) < 0) {
                        close(fd);
                        return rc_err_set(err, EPROTO, "bad file from sandbox");
                }
                fd = -1;
                break;
        case SB_MSG_OUTPUT:
                /* the path is checked again here: it is the sandbox's to choose */
                m.text[sizeof(m.text) - 1] = '\0';
                if (!sb->collect || !sb_output_path_ok(m.text) || (m.a >= 0) != (fd >= 0)) {
                        if (fd >= 0)
                                close(fd);
                        return rc_err_set(err, EPROTO, "bad output file from sandbox");
                }
                if (m.a < 0)
                        m.a = 0;
                if (add_file(sb, &m, fd) < 0) {
                        if (fd >= 0)
                                close(fd);
                        return rc_err_set(err, ENOMEM, "out of memory");
                }
                fd = -1;
                break;
        case SB_MSG_FILES_DONE:
                sb->files_done = true;
                if (m.a == EMFILE) /* init's own bound (SB_COLLECT_MAX): not a failure */
                        sb->res.files_over = true;
                else if (m.a)
                        return rc_err_sys(err, m.a, "collecting files");
                break;
        default:
                break;
        }
        if (fd >= 0)
                close(fd);
        return 0;
}

int sandbox_signal(sandbox_t *sb, int sig)
{
        if (sig == SIGKILL) {
                sandbox_kill(sb);
                return 0;
        }
        if (sb->sync_fd < 0)
                return -ESRCH;
        sb_msg_t m;
        sb_msg_fill(&m, SB_MSG_SIGNAL, sig, NULL);
        return sb_msg_send(sb->sync_fd, &m, -1);
}

void sandbox_kill(sandbox_t *sb)
{
        if (!sb->reaped && sb->pidfd >= 0)
                syscall(SYS_pidfd_send_signal, sb->pidfd, SIGKILL, NULL, 0);
}

bool sandbox_program_done(const sandbox_t *sb)
{
        return sb->res.exited && (!sb->collect || sb->files_done);
}

/* The program's side: the terminal, the stdio pipes, and those not yet sent. */
static void close_stdio(sandbox_t *sb)
{
        close_fd(&sb->tty_fd);
        close_fd(&sb->stdin_fd);
        close_fd(&sb->stdout_fd);
        close_fd(&sb->stderr_fd);
        for (int i = 0; i < 3; i++)
                close_fd(&sb->next_stdio[i]);
}

int sandbox_recycle(sandbox_t *sb, rc_err_t *err)
{
        /* kept: EXITED said so, which with keep comes after the files; the reset follows it */
        if (!sb->kept || sb->reaped || sb->sync_fd < 0)
                return rc_err_set(err, ESRCH, "the sandbox cannot take another run");
        close_stdio(sb);
        /* New pipes come with the next request (next_stdio): a sandbox kept in a pool holds
         * none meanwhile. */
        sb->stdio_owed = true;
        sb_result_free(&sb->res);
        memset(&sb->res, 0, sizeof(sb->res));
        sb->files_cap = 0;
        sb->files_done = sb->collect = false;
        sb->ready = sb->requested = sb->started = false;
        sb->keep = sb->kept = false;
        sb->start_ns = 0;
        return 0;
}

int sandbox_finish(sandbox_t *sb, sb_result_t *res, rc_err_t *err)
{
        /* Unless init has said all it had to, drain what it sent before it exited (the socket
         * keeps queued packets), and wait for it to be gone. */
        if (!sandbox_program_done(sb)) {
                while (sb->sync_fd >= 0) {
                        int r = sandbox_handle_sync(sb, err);
                        if (r < 0)
                                return r;
                }
                wait_gone(sb, -1);
        }
        *res = sb->res;
        memset(&sb->res, 0, sizeof(sb->res));
        sb->files_cap = 0;
        return 0;
}

void sb_result_free(sb_result_t *res)
{
        sb_files_free(res->files, res->nfiles);
        res->files = NULL;
        res->nfiles = 0;
}

void sandbox_close_io(sandbox_t *sb)
{
        close_fd(&sb->sync_fd);
        close_stdio(sb);
        close_fd(&sb->attach_fd);
}

void sandbox_release(sandbox_t *sb)
{
        if (!sb)
                return;
        sandbox_kill(sb);
        sb->reaped = true;
        sandbox_free(sb);
}

void sandbox_free(sandbox_t *sb)
{
        if (!sb)
                return;
        if (!sb->reaped) {
                sandbox_kill(sb);
                wait_gone(sb, SB_SETUP_TIMEOUT_MS);
        }
        close_fd(&sb->attach_fd);
        close_fd(&sb->pidfd);
        close_fd(&sb->sync_fd);
        close_stdio(sb);
        sb_result_free(&sb->res);
        free(sb);
}
