/* The child side of the clone, run once per sandbox. It starts in fresh user, pid, mount,
 * network, uts, ipc and cgroup namespaces with every capability of the new user namespace,
 * builds the root, and becomes pid 1 (init.c) after forking the program; a request with keep
 * brings it back here for the next one, after init's reset (reset.c).
 *
 * No allocation here: the parent may have threads, and the child works on a copy of its memory. */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
#endif

#include "sandbox/sandbox-internal.h"
#include "sandbox/sync.h"
#include "util/proctitle.h"

void sb_child_fail(int sync_fd, const char *step, int errnum)
{
        sb_msg_t m;
        char ebuf[96];
        const char *es = strerror_r(errnum, ebuf, sizeof(ebuf));
        sb_msg_fill(&m, SB_MSG_ERROR, errnum, "%s: %s", step, es);
        sb_msg_send(sync_fd, &m, -1);
        _exit(127);
}

static int step_wait_for_parent(const sb_child_ctx_t *ctx)
{
        /* The parent writes our uid/gid maps, then says go; EOF means it died. */
        sb_msg_t m;
        int r = sb_msg_recv(ctx->sync_fd, &m, NULL);
        if (r < 0)
                _exit(127);
        return m.type == SB_MSG_GO ? 0 : -EPROTO;
}

static int step_not_dumpable(const sb_child_ctx_t *ctx)
{
        /* Nothing of runcell's memory may be read through /proc/1. Not before the id maps are
         * written: a non-dumpable process's /proc files belong to root, and an unprivileged
         * parent could no longer write them. */
        return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 ? -errno : 0;
}

static int step_cgroup_ns(const sb_child_ctx_t *ctx)
{
        /* cgroup v1: the parent moves us into our leaf while we build the root (the move waits
         * for an RCU grace period); wait for the outcome. Nothing of the request runs before. */
        if (ctx->attach_fd >= 0) {
                int32_t status = EPIPE;
                ssize_t n;
                do
                        n = read(ctx->attach_fd, &status, sizeof(status));
                while (n < 0 && errno == EINTR);
                close(ctx->attach_fd);
                if (n != (ssize_t)sizeof(status))
                        return -EPIPE;
                if (status)
                        return -status;
        }
        /* Now that we are in our leaf, a new cgroup namespace makes it the sandbox's "/". */
        return unshare(CLONE_NEWCGROUP) < 0 ? -errno : 0;
}

static int step_become_root(const sb_child_ctx_t *ctx)
{
        /* Until now our ids are the parent's host ids (root's are unmapped here); switch to the
         * mapped 0 so every file we create is owned by the sandbox's user. */
        if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
                return -errno;
        /* The kernel clears the parent-death signal when the effective or file-system ids
         * change, as they do here for a root runcell's sandbox: set it again. */
        return prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 ? -errno : 0;
}

static int step_hostname(const sb_child_ctx_t *ctx)
{
        const char *h = ctx->prep->hostname ? ctx->prep->hostname : "runcell";
        if (sethostname(h, strlen(h)) < 0 || setdomainname("", 0) < 0)
                return -errno;
        return 0;
}

static int step_private_root(const sb_child_ctx_t *ctx)
{
        /* Our mount namespace is a copy of the host's: stop propagation both ways before
         * touching anything, or mounts could leak to the host's shared peers. */
        return mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ? -errno : 0;
}

static unsigned long locked_flags(const char *path)
{
        /* A bind remount inside a user namespace must keep the flags the original mount has
         * locked (nodev, noexec, atime...), or the kernel refuses it with EPERM. */
        struct statvfs sv;
        unsigned long f = 0;
        if (statvfs(path, &sv) < 0)
                return 0;
        if (sv.f_flag & ST_NODEV)
                f |= MS_NODEV;
        if (sv.f_flag & ST_NOEXEC)
                f |= MS_NOEXEC;
        if (sv.f_flag & ST_NOSUID)
                f |= MS_NOSUID;
        if (sv.f_flag & ST_NOATIME)
                f |= MS_NOATIME;
        if (sv.f_flag & ST_NODIRATIME)
                f |= MS_NODIRATIME;
        if (sv.f_flag & ST_RELATIME)
                f |= MS_RELATIME;
        return f;
}

static int step_bind_rootfs(const sb_child_ctx_t *ctx)
{
        const char *root = ctx->prep->rootfs;
        /* A read-only overlay of the language root rather than a bind mount of it: its files
         * are inodes of this mount's own, so a lock one sandbox takes on a file of the shared
         * root (flock, fcntl) is not seen by another, and the mount's root shows as "/" in
         * /proc/self/mountinfo where a bind of a subdirectory shows the host's path to it.
         * Without an upper layer overlayfs wants two lower ones: the other is an empty directory
         * beside the root (rootfs/store.c). Both are named relative to the root's directory,
         * which is all the mount options show. Kernels that refuse overlayfs in a user
         * namespace (before 5.11) get the bind mount. */
        if (chdir(root) < 0)
                return -errno;
        if (mount("overlay", root, "overlay", MS_RDONLY | MS_NOSUID | MS_NODEV,
                  "lowerdir=.:../" SB_ROOTFS_EMPTY_DIR) < 0) {
                if (mount(root, root, NULL, MS_BIND, NULL) < 0)
                        return -errno;
                unsigned long f = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV;
                if (mount(NULL, root, NULL, f | locked_flags(root), NULL) < 0)
                        return -errno;
        }
        /* Enter the new mount, not the directory underneath it. */
        return chdir(root) < 0 ? -errno : 0;
}

static int mkdir_target(const char *path, mode_t mode)
{
        if (mkdir(path, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

static int run_mount_op(const mount_plan_t *plan, const mount_op_t *op)
{
        int r = 0;
        switch (op->kind) {
        case MOUNT_OP_TMPFS:
                if ((r = mkdir_target(op->target, 0755)) < 0)
                        return r;
                return mount("tmpfs", op->target, "tmpfs", op->flags, op->data) < 0 ? -errno : 0;
        case MOUNT_OP_PROC:
                if ((r = mkdir_target(op->target, 0555)) < 0)
                        return r;
                return mount("proc", op->target, "proc", op->flags, NULL) < 0 ? -errno : 0;
        case MOUNT_OP_DEVPTS:
                if ((r = mkdir_target(op->target, 0755)) < 0)
                        return r;
                return mount("devpts", op->target, "devpts", op->flags, op->data) < 0 ? -errno : 0;
        case MOUNT_OP_BIND_DEV: {
                /* mknod is not allowed in a user namespace: bind the host's node instead. */
                int fd =
                    open(op->target, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
                if (fd < 0)
                        return -errno;
                close(fd);
                return mount(op->source, op->target, NULL, MS_BIND, NULL) < 0 ? -errno : 0;
        }
        case MOUNT_OP_SYMLINK:
                return symlink(op->source, op->target) < 0 ? -errno : 0;
        case MOUNT_OP_MASK_FILE:
                if (mount(op->source, op->target, NULL, MS_BIND, NULL) < 0)
                        return errno == ENOENT ? 0 : -errno;
                return 0;
        case MOUNT_OP_MASK_DIR:
                if (mount("tmpfs", op->target, "tmpfs", op->flags, op->data) < 0)
                        return errno == ENOENT ? 0 : -errno;
                return 0;
        case MOUNT_OP_RO_BIND:
                if (mount(op->target, op->target, NULL, MS_BIND | MS_REC, NULL) < 0)
                        return errno == ENOENT ? 0 : -errno;
                return mount(NULL, op->target, NULL, MS_REMOUNT | MS_BIND | op->flags, NULL) < 0
                           ? -errno
                           : 0;
        case MOUNT_OP_MQUEUE:
                if ((r = mkdir_target(op->target, 01777)) < 0)
                        return r;
                if (mount("mqueue", op->target, "mqueue", op->flags, NULL) < 0)
                        return errno == ENODEV ? 0 : -errno;
                return 0;
        case MOUNT_OP_WORK_RO:
                /* Not recursive: what is mounted beneath the host's directory stays out. */
                if ((r = mkdir_target(op->target, 0755)) < 0)
                        return r;
                if (mount(plan->work_source, op->target, NULL, MS_BIND, NULL) < 0)
                        return -errno;
                return mount(NULL, op->target, NULL, MS_REMOUNT | MS_BIND | op->flags, NULL) < 0
                           ? -errno
                           : 0;
        case MOUNT_OP_REMOUNT_RO:
                return mount(NULL, op->target, NULL, MS_REMOUNT | MS_RDONLY | op->flags, NULL) < 0
                           ? -errno
                           : 0;
        default:
                return -EINVAL;
        }
}

static int step_mounts(const sb_child_ctx_t *ctx)
{
        for (size_t i = 0; i < ctx->plan->n; i++) {
                int r = run_mount_op(ctx->plan, &ctx->plan->ops[i]);
                if (r < 0) {
                        char step[160];
                        snprintf(step, sizeof(step), "%s /%s",
                                 mount_kind_name(ctx->plan->ops[i].kind), ctx->plan->ops[i].target);
                        sb_child_fail(ctx->sync_fd, step, -r);
                }
        }
        return 0;
}

static int step_pivot_root(const sb_child_ctx_t *ctx)
{
        /* pivot_root(".", ".") stacks the old root on top of the new one; detaching it leaves
         * only the new root, with no directory needed for the old one (crun, lxc). */
        if (syscall(SYS_pivot_root, ".", ".") < 0)
                return -errno;
        if (umount2(".", MNT_DETACH) < 0)
                return -errno;
        if (chdir("/work") < 0)
                return -errno;
        return 0;
}

static int step_loopback(const sb_child_ctx_t *ctx)
{
        return sb_net_lo_up();
}

static int apply_rlimits(const rc_limits_t *l)
{
        const struct rlimit zero = {0, 0};
        if (setrlimit(RLIMIT_CORE, &zero) < 0)
                return -errno;
        if (l->cpu_ms > 0) {
                /* A per-process backstop; the run's total is watched through its cgroup. */
                rlim_t s = (rlim_t)(l->cpu_ms + 999) / 1000 + 1;
                struct rlimit cpu = {s, s + 1};
                if (setrlimit(RLIMIT_CPU, &cpu) < 0)
                        return -errno;
        }
        if (l->open_files > 0) {
                struct rlimit nf = {(rlim_t)l->open_files, (rlim_t)l->open_files};
                if (setrlimit(RLIMIT_NOFILE, &nf) < 0)
                        return -errno;
        }
        if (l->stack_mb > 0) {
                rlim_t v = (rlim_t)l->stack_mb << 20;
                struct rlimit st = {v, v};
                if (setrlimit(RLIMIT_STACK, &st) < 0)
                        return -errno;
        }
        if (l->file_size_mb > 0) {
                rlim_t v = (rlim_t)l->file_size_mb << 20;
                struct rlimit fs = {v, v};
                if (setrlimit(RLIMIT_FSIZE, &fs) < 0)
                        return -errno;
        }
        return 0;
}

static void drop_capabilities(void)
{
        /* Empty the bounding set and lock root's special treatment away, so that execve as uid 0
         * grants no capability; then clear what we hold. */
        for (int cap = 0; cap <= 63; cap++)
                if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno == EINVAL)
                        break;
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
        prctl(PR_SET_SECUREBITS,
              SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                  SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
                  SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED,
              0, 0, 0);
        struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
        struct __user_cap_data_struct d[2];
        memset(d, 0, sizeof(d));
        syscall(SYS_capset, &h, d);
}

static int step_drop_capabilities(const sb_child_ctx_t *ctx)
{
        drop_capabilities();
        return 0;
}

static int step_no_new_privs(const sb_child_ctx_t *ctx)
{
        return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? -errno : 0;
}

static int step_seccomp(const sb_child_ctx_t *ctx)
{
        return ctx->prep->seccomp ? seccomp_bpf_install(ctx->prep->seccomp) : 0;
}

typedef struct child_step {
        const char *name;
        int (*run)(const sb_child_ctx_t *ctx);
} child_step_t;

/* Preparing, in order: ids before anything creates files; "/" private before the first mount;
 * the host's paths used only as bind sources; pivot_root last among the mount work. Then init
 * gives up what it no longer needs: every capability, new privileges, and every syscall the
 * profile denies. The filter is installed here rather than right before execve (bubblewrap's
 * habit) because what is left to do for a request (placing files in its own tmpfs, rlimits,
 * cloning and exec'ing the program) needs nothing it denies, and installing it costs ~150 us
 * (the kernel translates and JITs the program): a prepared sandbox pays it before the request.
 * The program inherits all three. What depends on the request comes after READY. */
static const child_step_t child_steps[] = {
    {"wait for parent", step_wait_for_parent},
    {"not dumpable", step_not_dumpable},
    {"setresuid", step_become_root},
    {"sethostname", step_hostname},
    {"make / private", step_private_root},
    {"bind root filesystem", step_bind_rootfs},
    {"mounts", step_mounts},
    {"pivot_root", step_pivot_root},
    {"bring up lo", step_loopback},
    {"cgroup", step_cgroup_ns},
    {"drop capabilities", step_drop_capabilities},
    {"no_new_privs", step_no_new_privs},
    {"seccomp", step_seccomp},
};

/* execvpe() would search the PATH of our own environment; the program's PATH is in envp. */
static void exec_in_path(const char *path_env, char *const *argv, char *const *envp)
{
        const char *file = argv[0];
        if (strchr(file, '/')) {
                execve(file, argv, envp);
                return;
        }
        int first_err = ENOENT;
        const char *p = path_env ? path_env : "/usr/local/bin:/usr/bin:/bin";
        while (*p) {
                const char *colon = strchrnul(p, ':');
                char full[4096];
                size_t dl = (size_t)(colon - p);
                if (dl + 1 + strlen(file) + 1 <= sizeof(full)) {
                        memcpy(full, p, dl);
                        full[dl] = '/';
                        strcpy(full + dl + 1, file);
                        execve(full, argv, envp);
                        if (errno != ENOENT && errno != ENOTDIR)
                                first_err = errno;
                }
                p = *colon ? colon + 1 : colon;
        }
        errno = first_err;
}

/* What the program's process leaves in init's memory (CLONE_VM) when a last step before exec fails.
 */
typedef struct program_failure {
        int step; /* index into program_steps */
        int err;
} program_failure_t;

enum {
        PSTEP_STDIO,
        PSTEP_SETSID,
        PSTEP_NNP,
        PSTEP_SECCOMP,
        PSTEP_EXECVE,
        PSTEP_CTTY,
        PSTEP_RLIMITS
};
static const char *const program_steps[] = {
    "stdio", "setsid", "no_new_privs", "seccomp", "execve", "controlling terminal", "rlimits"};

/* The program's stdio pipes (the sandbox's ends): those it was made with, then those each
 * request of a recycled sandbox brings (with SB_MSG_START). -1 once handed to a program. */
static int child_stdio[3] = {-1, -1, -1};

/* In the program's process, after fork from init: stdio, then the last steps before exec. With
 * a terminal (slave >= 0) the program leads a session of its own whose controlling terminal is
 * the slave, which is also its stdin, stdout and stderr. */
__attribute__((noreturn)) static void program_main(const sb_child_ctx_t *ctx,
                                                   const sb_child_req_t *req,
                                                   program_failure_t *failed, int slave)
{
        program_failure_t f = {PSTEP_STDIO, 0};
        if (slave >= 0) {
                f.step = PSTEP_SETSID;
                if (setsid() < 0)
                        goto fail;
                f.step = PSTEP_CTTY;
                if (ioctl(slave, TIOCSCTTY, 0) < 0)
                        goto fail;
                f.step = PSTEP_STDIO;
                if (dup2(slave, 0) < 0 || dup2(slave, 1) < 0 || dup2(slave, 2) < 0)
                        goto fail;
        } else if (dup2(child_stdio[0], 0) < 0 || dup2(child_stdio[1], 1) < 0 ||
                   dup2(child_stdio[2], 2) < 0) {
                goto fail;
        }
        /* The program's own, not init's: a recycled sandbox's next program may be given
         * higher limits (per-test limits of a judge), which init could no longer raise. */
        f.step = PSTEP_RLIMITS;
        int rr = apply_rlimits(&req->limits);
        if (rr < 0) {
                errno = -rr;
                goto fail;
        }
        /* Every other fd goes, however high (a server has many). */
        sb_close_fds_except(3, -1, -1);
        /* Signal dispositions: init set them all to the default when it started, and execve
         * puts back the default of any it catches; the mask is init's, so cleared here. */
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        f.step = PSTEP_SETSID;
        if (slave < 0 && setsid() < 0)
                goto fail;
        f.step = PSTEP_EXECVE;
        exec_in_path(req->path_env, req->argv, req->envp);
fail:
        /* init's memory (CLONE_VM), read once init resumes, which is at this _exit: no pipe
         * is needed to tell init why */
        f.err = errno;
        *failed = f;
        _exit(127);
}

typedef struct program_args {
        const sb_child_ctx_t *ctx;
        const sb_child_req_t *req;
        program_failure_t failed; /* set by the program's process if a step before exec fails */
        int slave;                /* the terminal's slave, or -1 */
} program_args_t;

static int program_entry(void *arg)
{
        program_args_t *pa = arg;
        program_main(pa->ctx, pa->req, &pa->failed, pa->slave);
}

/* A terminal of the sandbox's own devpts instance (mounted with ptmxmode=0666, /dev/ptmx its
 * ptmx): the master for runcell, the slave for the program. Not the host's: the program sees
 * and reaches only its own terminals. */
static void open_terminal(const sb_child_ctx_t *ctx, const sb_child_req_t *req, int *master,
                          int *slave)
{
        int m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (m < 0)
                sb_child_fail(ctx->sync_fd, "open /dev/ptmx", errno);
        int unlock = 0;
        if (ioctl(m, TIOCSPTLCK, &unlock) < 0)
                sb_child_fail(ctx->sync_fd, "unlock terminal", errno);
        struct winsize ws = {.ws_row = req->tty_rows, .ws_col = req->tty_cols};
        if (ioctl(m, TIOCSWINSZ, &ws) < 0)
                sb_child_fail(ctx->sync_fd, "terminal size", errno);
        int s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (s < 0)
                sb_child_fail(ctx->sync_fd, "open terminal slave", errno);
        /* The kernel's defaults (canonical, echo, ^C as SIGINT), and: input is UTF-8 (an erase
         * takes a whole character back); no suspend character, as no shell is there to
         * continue a program ^Z would stop (it reads 0x1a instead). The program may change
         * either. */
        struct termios t;
        if (tcgetattr(s, &t) < 0)
                sb_child_fail(ctx->sync_fd, "terminal attributes", errno);
        t.c_iflag |= IUTF8;
        t.c_cc[VSUSP] = _POSIX_VDISABLE;
        if (tcsetattr(s, TCSANOW, &t) < 0)
                sb_child_fail(ctx->sync_fd, "terminal attributes", errno);
        *master = m;
        *slave = s;
}

static void start_program(const sb_child_ctx_t *ctx, const sb_child_req_t *req)
{
        int master = -1, slave = -1;
        if (req->tty_rows && req->tty_cols)
                open_terminal(ctx, req, &master, &slave);
        /* Block SIGCHLD before the fork: a program that exits at once must still be seen by
         * init's signalfd. The program unblocks everything before execve. */
        sigset_t chld;
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        sigprocmask(SIG_BLOCK, &chld, NULL);
        int64_t start = sb_now_ns();
        /* Like posix_spawn: share init's memory until execve instead of copying it (init is a
         * copy of runcell, with every library mapped; copying it cost ~1 ms per run). init is
         * suspended meanwhile (CLONE_VFORK); the program has its own stack and signal table. */
        static char program_stack[256 * 1024] __attribute__((aligned(16)));
        program_args_t pa = {
            .ctx = ctx, .req = req, .failed = {.step = -1, .err = 0}, .slave = slave};
#ifdef __SANITIZE_ADDRESS__
        /* The last program's frames never returned (it exec'd): under ASan their redzones are
         * still marked in the shared shadow memory, and this program would trip over them. */
        __asan_unpoison_memory_region(program_stack, sizeof(program_stack));
#endif
        pid_t pid = clone(program_entry, program_stack + sizeof(program_stack),
                          CLONE_VM | CLONE_VFORK | SIGCHLD, &pa);
        if (pid < 0)
                sb_child_fail(ctx->sync_fd, "clone program", errno);
        for (int i = 0; i < 3; i++) {
                close(child_stdio[i]);
                child_stdio[i] = -1;
        }
        if (slave >= 0)
                close(slave); /* the program's alone: its last close hangs the terminal up */
        /* init resumes once the program's process has exec'd (CLONE_VFORK), or exited having
         * said in pa.failed which step failed. */
        program_failure_t f = pa.failed;
        if (f.step >= 0) {
                waitpid(pid, NULL, 0);
                char step[300];
                if (f.step == PSTEP_EXECVE)
                        snprintf(step, sizeof(step), "execve %.200s", req->argv[0]);
                else
                        snprintf(step, sizeof(step), "%s",
                                 f.step >= 0 && f.step <= PSTEP_RLIMITS ? program_steps[f.step]
                                                                        : "?");
                sb_child_fail(ctx->sync_fd, step, f.err);
        }
        sb_msg_t m;
        if (ctx->trace) {
                sb_msg_fill(&m, SB_MSG_TRACE, (int32_t)((sb_now_ns() - start) / 1000),
                            "fork to exec");
                sb_msg_send(ctx->sync_fd, &m, -1);
        }
        sb_msg_fill(&m, SB_MSG_STARTED, pid, NULL);
        m.t_ns = start;
        /* The terminal's master goes with it; init keeps no copy. */
        if (sb_msg_send(ctx->sync_fd, &m, master) < 0)
                _exit(127);
        if (master >= 0)
                close(master);
        sb_init_main(ctx, pid, req);
}

/* The child's copy of the request: static, as the child must not allocate. */
static sb_child_req_t child_req;
/* What it is decoded from (strings point into it), until the next one: the packet's payload, or
 * a mapped memfd for a larger request. */
static char child_req_inline[SB_REQ_INLINE_MAX] __attribute__((aligned(16)));
static void *child_req_map;
static size_t child_req_len;

static void take_stdio(int i, int fd)
{
        if (child_stdio[i] >= 0)
                close(child_stdio[i]);
        child_stdio[i] = fd;
}

/* Wait for the request: files that travel as fds, then START with (for a recycled sandbox) the
 * program's stdio and the encoded rest, in its packet or a memfd. */
static void receive_request(const sb_child_ctx_t *ctx, sb_child_req_t *req)
{
        if (child_req_map) {
                munmap(child_req_map, child_req_len);
                child_req_map = NULL;
        }
        req->nfiles = 0;
        for (;;) {
                sb_msg_t m;
                int fds[SB_MSG_FDS_MAX];
                int nfds = 0;
                size_t len = 0;
                int r = sb_msg_recvv(ctx->sync_fd, &m, child_req_inline, sizeof(child_req_inline),
                                     &len, fds, SB_MSG_FDS_MAX, &nfds);
                if (r < 0)
                        _exit(127); /* runcell went away before asking for anything */
                int fd = nfds == 1 ? fds[0] : -1;
                if (m.type == SB_MSG_SIGNAL) {
                        for (int i = 0; i < nfds; i++)
                                close(fds[i]);
                        continue; /* meant for a program that is gone */
                }
                if (m.type == SB_MSG_FILE && fd >= 0 && req->nfiles < SB_REQ_FILES_MAX &&
                    strlen(m.text) < SB_MSG_PATH_BYTES && sb_path_valid(m.text)) {
                        char *path = req->fd_paths[req->nfiles];
                        strcpy(path, m.text);
                        req->files[req->nfiles++] = (sb_file_t){.path = path,
                                                                .mode = (mode_t)(m.a & 0777),
                                                                .data = NULL,
                                                                .len = 0,
                                                                .fd = fd};
                        continue;
                }
                /* inline: 0 or 3 fds (stdio); in a memfd: 1 or 4 (stdio, then the memfd) */
                bool inl = m.a > 0;
                if (m.type == SB_MSG_START && (inl ? (size_t)m.a == len && (nfds == 0 || nfds == 3)
                                                   : len == 0 && (nfds == 1 || nfds == 4))) {
                        if (nfds >= 3)
                                for (int i = 0; i < 3; i++)
                                        take_stdio(i, fds[i]);
                        void *data = child_req_inline;
                        if (!inl) {
                                int mfd = fds[nfds - 1];
                                struct stat st;
                                if (fstat(mfd, &st) < 0 || st.st_size <= 0)
                                        sb_child_fail(ctx->sync_fd, "read request", EBADMSG);
                                data = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
                                            MAP_PRIVATE, mfd, 0);
                                close(mfd);
                                if (data == MAP_FAILED)
                                        sb_child_fail(ctx->sync_fd, "map request", errno);
                                child_req_map = data;
                                child_req_len = len = (size_t)st.st_size;
                        }
                        r = sb_req_decode(data, len, req);
                        if (r < 0)
                                sb_child_fail(ctx->sync_fd, "decode request", -r);
                        if (child_stdio[0] < 0 || child_stdio[1] < 0 || child_stdio[2] < 0)
                                sb_child_fail(ctx->sync_fd, "request without stdio", EPROTO);
                        return;
                }
                for (int i = 0; i < nfds; i++)
                        close(fds[i]);
                sb_child_fail(ctx->sync_fd, "request", EPROTO);
        }
}

/* What the request changes in the prepared sandbox: tmpfs sizes, files, rlimits. */
static void start_request(const sb_child_ctx_t *ctx, const sb_child_req_t *req)
{
        /* The tmpfs sizes were fixed when preparing; the pool only hands out a sandbox whose
         * size matches (init can no longer mount anything). */
        if (req->limits.disk_mb > 0 && req->limits.disk_mb != ctx->prep->disk_mb)
                sb_child_fail(ctx->sync_fd, "request", EINVAL);
        if (req->nfiles == 0)
                return; /* nothing to place (a function's files are bound in already) */
        int wfd = open("/work", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (wfd < 0)
                sb_child_fail(ctx->sync_fd, "open /work", errno);
        char what[240];
        int r = sb_place_files(wfd, req->files, req->nfiles, what, sizeof(what));
        close(wfd);
        if (r < 0) {
                char step[300];
                snprintf(step, sizeof(step), "place file %s", what);
                sb_child_fail(ctx->sync_fd, step, -r);
        }
        /* The carried files' fds must not reach the program (they are closed there anyway). */
        for (size_t i = 0; i < req->nfiles; i++)
                if (req->files[i].fd >= 0)
                        close(req->files[i].fd);
}

void sb_child_main(const sb_child_ctx_t *ctx)
{
        /* If runcell dies, so does the whole sandbox: init's death ends the pid namespace. */
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        /* Our copy of runcell's argv and environment would show in /proc/1/cmdline. */
        proctitle_scrub("runcell-init");
        prctl(PR_SET_NAME, "runcell-init", 0, 0, 0);
        /* Every disposition to the default once, here, rather than in each program before its
         * execve (64 system calls a run): what runcell or its helper ignored (SIGPIPE, SIGINT,
         * ...) would be ignored by the programs too. Init, pid 1 of its namespace, gets no
         * signal from inside it whose action is the default. */
        for (int s = 1; s < NSIG; s++)
                signal(s, SIG_DFL);
        /* Nothing of runcell's may stay open here while the sandbox waits for a request: not its
         * stdio (a client waiting for EOF on it would wait for the sandbox too), not any other
         * fd it holds (a server's client sockets). Only ours survive; 0-2 become /dev/null. */
        int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 || dup2(devnull, 2) < 0)
                sb_child_fail(ctx->sync_fd, "stdio", errno);
        const int keep[] = {ctx->sync_fd, ctx->stdin_fd, ctx->stdout_fd, ctx->stderr_fd,
                            ctx->attach_fd};
        sb_close_fds_keep(3, keep, 5);
        for (size_t i = 0; i < sizeof(child_steps) / sizeof(child_steps[0]); i++) {
                int64_t t0 = ctx->trace ? sb_now_ns() : 0;
                int r = child_steps[i].run(ctx);
                if (r < 0)
                        sb_child_fail(ctx->sync_fd, child_steps[i].name, -r);
                if (ctx->trace) {
                        sb_msg_t m;
                        sb_msg_fill(&m, SB_MSG_TRACE, (int32_t)((sb_now_ns() - t0) / 1000), "%s",
                                    child_steps[i].name);
                        sb_msg_send(ctx->sync_fd, &m, -1);
                }
        }
        child_stdio[0] = ctx->stdin_fd;
        child_stdio[1] = ctx->stdout_fd;
        child_stdio[2] = ctx->stderr_fd;
        if (!ctx->prep->once)
                sb_reset_remember();
        /* One request, or (each with keep) one after another, each after a reset. */
        for (;;) {
                sb_msg_t ready;
                sb_msg_fill(&ready, SB_MSG_READY, 0, NULL);
                if (sb_msg_send(ctx->sync_fd, &ready, -1) < 0)
                        _exit(127);
                sb_child_req_t *req = &child_req;
                receive_request(ctx, req);
                int64_t t0 = ctx->trace ? sb_now_ns() : 0;
                start_request(ctx, req);
                if (ctx->trace) {
                        sb_msg_t m;
                        sb_msg_fill(&m, SB_MSG_TRACE, (int32_t)((sb_now_ns() - t0) / 1000),
                                    "request");
                        sb_msg_send(ctx->sync_fd, &m, -1);
                }
                start_program(ctx, req);
        }
}
