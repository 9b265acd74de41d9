#include "job/preparer.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/ids.h"
#include "sandbox/sandbox-internal.h"
#include "sandbox/sandbox.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/note.h"
#include "util/trace.h"

/* How long a caller that must have the answer (a ticket given up, shutdown) waits for it. */
#define PREP_WAIT_MS 30000

struct preparer {
        int sock;  /* requests; -1 once the helper is gone */
        pid_t pid; /* -1: not ours, a runcell warm's socket (preparer_connect) */
        cg_manager_t *cg;
        /* preparer_hold: a sandbox lent ahead, answered here to the request it was made for */
        void *held_key;
        size_t held_len;
        prep_answer_t held;
        int held_fds[PREP_FDS_MAX];
        int held_nfds;
};

struct prep_ticket {
        int fd; /* the answer comes here (-1: taken, or held) */
        /* the answer is here already, untaken: a sandbox held ahead (preparer_hold) */
        bool held;
        prep_answer_t held_answer;
        int held_fds[PREP_FDS_MAX];
        cg_manager_t *cg;
        cg_leaf_t *leaf; /* a spare leaf the sandbox goes into; NULL: a new one, named: */
        pid_t owner;
        unsigned seq;
        rc_limits_t limits;
        double cpus;
};

/* ------------------------------------------------------------------ the request on the wire */

ssize_t prep_wire_encode(const prep_params_t *pp, pid_t owner, unsigned seq, bool existing,
                         void *buf, size_t size)
{
        /* The root path with its NUL, padded so that the instructions after it are aligned. */
        size_t sl = strlen(pp->rootfs) + 1;
        size_t rl = (sl + 7) & ~(size_t)7;
        size_t ni = pp->seccomp ? pp->seccomp->len : 0;
        size_t need = sizeof(prep_wire_t) + rl + ni * sizeof(struct sock_filter);
        if (need > size || rl > 4096)
                return -E2BIG;
        prep_wire_t w = {
            .magic = PREP_WIRE_MAGIC,
            .seq = seq,
            .existing = existing,
            .owner = (int32_t)owner,
            .uid = (uint32_t)pp->host_uid,
            .gid = (uint32_t)pp->host_gid,
            .id_count = pp->id_count,
            .rootfs_len = (uint32_t)rl,
            .ninsns = (uint32_t)ni,
            .memory_mb = pp->limits.memory_mb,
            .processes = pp->limits.processes,
            .disk_mb = pp->limits.disk_mb,
            .cpus = pp->cpus,
        };
        char *p = buf;
        memcpy(p, &w, sizeof(w));
        memset(p + sizeof(w), 0, rl);
        memcpy(p + sizeof(w), pp->rootfs, sl);
        if (ni)
                memcpy(p + sizeof(w) + rl, pp->seccomp->insns, ni * sizeof(struct sock_filter));
        return (ssize_t)need;
}

int prep_wire_decode(void *buf, size_t len, prep_params_t *pp, seccomp_bpf_t *filter, pid_t *owner,
                     unsigned *seq, bool *existing)
{
        prep_wire_t w;
        if (len < sizeof(w))
                return -EBADMSG;
        memcpy(&w, buf, sizeof(w));
        char *p = (char *)buf + sizeof(w);
        size_t rest = len - sizeof(w);
        if (w.magic != PREP_WIRE_MAGIC || w.rootfs_len == 0 || w.rootfs_len % 8 ||
            w.rootfs_len > rest || w.ninsns > 0xffff || w.existing > 1 || (w.existing && !w.seq) ||
            (size_t)w.ninsns * sizeof(struct sock_filter) != rest - w.rootfs_len ||
            p[w.rootfs_len - 1] != '\0' || p[0] != '/')
                return -EBADMSG;
        memset(pp, 0, sizeof(*pp));
        memset(filter, 0, sizeof(*filter));
        pp->rootfs = p;
        pp->host_uid = (uid_t)w.uid;
        pp->host_gid = (gid_t)w.gid;
        pp->id_count = w.id_count;
        pp->limits.memory_mb = w.memory_mb;
        pp->limits.processes = w.processes;
        pp->limits.disk_mb = w.disk_mb;
        pp->cpus = w.cpus;
        if (w.ninsns) {
                /* Aligned: the header is a multiple of 8 bytes, the root path padded to one. */
                filter->len = (unsigned short)w.ninsns;
                filter->insns = (struct sock_filter *)(void *)(p + w.rootfs_len);
                pp->seccomp = filter;
        }
        *owner = (pid_t)w.owner;
        *seq = w.seq;
        *existing = w.existing;
        return 0;
}

sb_prep_t prep_sb(const prep_params_t *pp, cg_leaf_t *leaf, bool once)
{
        return (sb_prep_t){
            .rootfs = pp->rootfs,
            .hostname = "runcell",
            .host_uid = pp->host_uid,
            .host_gid = pp->host_gid,
            .id_count = pp->id_count,
            .seccomp = pp->seccomp,
            .cgroup = leaf,
            .disk_mb = pp->limits.disk_mb,
            .once = once,
        };
}

/* ------------------------------------------------------------------ fds over a socket */

int prep_send_fds(int sock, const void *data, size_t len, const int *fds, int nfds)
{
        struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
        union {
                char buf[CMSG_SPACE(sizeof(int) * PREP_FDS_MAX)];
                struct cmsghdr align;
        } u;
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        if (nfds > PREP_FDS_MAX)
                return -E2BIG;
        if (nfds > 0) {
                memset(&u, 0, sizeof(u));
                mh.msg_control = u.buf;
                mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
                struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
                memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
        }
        for (;;) {
                ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);
                if (n == (ssize_t)len)
                        return 0;
                if (n < 0 && errno == EINTR)
                        continue;
                return n < 0 ? -errno : -EIO;
        }
}

/* Receive one message of at most size bytes; up to max_fds fds land in fds (the rest of fds
 * is -1). Returns its length, 0 at end of stream, or -errno. */
ssize_t prep_recv_fds(int sock, void *data, size_t size, int *fds, int max_fds, int flags)
{
        struct iovec iov = {.iov_base = data, .iov_len = size};
        union {
                char buf[CMSG_SPACE(sizeof(int) * PREP_FDS_MAX)];
                struct cmsghdr align;
        } u;
        struct msghdr mh = {.msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = u.buf,
                            .msg_controllen = sizeof(u.buf)};
        for (int i = 0; i < max_fds; i++)
                fds[i] = -1;
        ssize_t n;
        do
                n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | flags);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        int got = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                        continue;
                size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < k; i++) {
                        int fd;
                        memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                        if (got < max_fds)
                                fds[got++] = fd;
                        else
                                close(fd);
                }
        }
        if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
                for (int i = 0; i < got; i++)
                        close(fds[i]);
                for (int i = 0; i < max_fds; i++)
                        fds[i] = -1;
                return -EBADMSG;
        }
        return n;
}

void prep_close_fds(int *fds, int n)
{
        for (int i = 0; i < n; i++)
                if (fds[i] >= 0) {
                        close(fds[i]);
                        fds[i] = -1;
                }
}

/* ------------------------------------------------------------------ the helper */

static void answer_error(int reply, const rc_err_t *e)
{
        prep_answer_t a;
        memset(&a, 0, sizeof(a));
        a.err = e->code > 0 ? e->code : EIO;
        snprintf(a.msg, sizeof(a.msg), "%s", e->msg);
        prep_send_fds(reply, &a, sizeof(a), NULL, 0);
}

/* fds: the request's leaf directories (an existing leaf), nfds of them; taken over. */
static void serve_request(cg_manager_t *cg, void *buf, size_t len, int reply, int *fds, int nfds)
{
        prep_params_t pp;
        seccomp_bpf_t filter;
        pid_t owner;
        unsigned seq;
        bool existing;
        rc_err_t e = {0};
        if (prep_wire_decode(buf, len, &pp, &filter, &owner, &seq, &existing) < 0) {
                prep_close_fds(fds, nfds);
                rc_err_set(&e, EBADMSG, "bad request to the sandbox preparer");
                answer_error(reply, &e);
                return;
        }
        int64_t tt = trace_now();
        cg_leaf_t *leaf = NULL;
        int r = 0;
        if (existing)
                r = cg_leaf_adopt(cg, owner, seq, NULL, 0, fds, nfds, &leaf, &e);
        else if (seq)
                r = cg_leaf_create_named(cg, owner, seq, &pp.limits, pp.cpus, &leaf, &e);
        prep_close_fds(fds, nfds);
        if (r < 0) {
                answer_error(reply, &e);
                return;
        }
        tt = trace_step(existing ? "cgroup leaf reused" : "cgroup leaf create", tt);
        sb_prep_t prep = prep_sb(&pp, leaf, false);
        sandbox_t *sb = NULL;
        if (sandbox_spawn(&prep, &sb, &e) < 0) {
                /* the caller removes (or keeps) the leaf: it named it */
                cg_leaf_forget(leaf);
                answer_error(reply, &e);
                return;
        }
        trace_step("spawn sandbox", tt);
        prep_answer_t a;
        memset(&a, 0, sizeof(a));
        int out[PREP_FDS_MAX];
        pid_t pid;
        sandbox_export(sb, &pid, out);
        a.pid = (int32_t)pid;
        int nleaf = 0;
        if (leaf && !existing &&
            (nleaf = cg_leaf_dir_fds(leaf, out + SB_EXPORT_FDS, CG_LEAF_DIRS_MAX)) < 0)
                nleaf = 0; /* the caller opens them itself */
        a.nleaf = nleaf;
        if (prep_send_fds(reply, &a, sizeof(a), out, SB_EXPORT_FDS + nleaf) < 0) {
                /* Nobody waits for it any more: take it down; the caller removes the leaf. */
                syscall(SYS_pidfd_send_signal, out[0], SIGKILL, NULL, 0);
                struct pollfd p = {.fd = out[0], .events = POLLIN};
                poll(&p, 1, PREP_WAIT_MS);
                prep_close_fds(out, SB_EXPORT_FDS);
                sandbox_free(sb);
                cg_leaf_forget(leaf);
                return;
        }
        prep_close_fds(out, SB_EXPORT_FDS); /* the leaf's stay the leaf's */
        /* The caller has the sandbox; the move into its leaf (cgroup v1) happens now, while
         * the child builds its root: the grace period it waits for delays neither. A failure
         * reaches the caller as the child's ERROR. */
        sandbox_attach(sb, &e);
        sandbox_free(sb);
        cg_leaf_forget(leaf); /* the caller has it */
}

static void reap_children(void)
{
        pid_t pid;
        while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
                sb_ids_reaped(pid); /* its outside id is free again */
}

__attribute__((noreturn)) static void helper_main(int sock, pid_t parent, cg_manager_t *cg)
{
        /* Dies with its runcell; its sandboxes (PR_SET_PDEATHSIG in each) die with it. */
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        if (getppid() != parent)
                _exit(0);
        prctl(PR_SET_NAME, "runcell-prep", 0, 0, 0);
        /* A Ctrl-C or SIGTERM meant for runcell reaches its whole process group: runcell decides
         * what happens to its sandboxes (a server lets runs finish), not this helper, which goes
         * when its channel closes. Sandboxes inherit these dispositions; their init needs none of
         * these signals and the program's process resets every disposition before execve. */
        signal(SIGINT, SIG_IGN);
        signal(SIGTERM, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        signal(SIGQUIT, SIG_IGN);
        signal(SIGPIPE, SIG_IGN);
        sigset_t chld;
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        sigprocmask(SIG_BLOCK, &chld, NULL);
        int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
        /* Nothing of runcell's: not its clients' sockets, not the stdin/stdout a batch client
         * waits on for EOF. stderr stays, for messages and RUNCELL_TRACE. */
        int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (devnull >= 0) {
                dup2(devnull, 0);
                dup2(devnull, 1);
        }
        sb_close_fds_except(3, sock, sfd);
        void *buf = malloc(PREP_MSG_MAX);
        if (!buf)
                _exit(1);
        for (;;) {
                struct pollfd p[2] = {{.fd = sock, .events = POLLIN},
                                      {.fd = sfd, .events = POLLIN}};
                if (poll(p, sfd >= 0 ? 2 : 1, sfd >= 0 ? -1 : 100) < 0 && errno != EINTR)
                        break;
                if (sfd >= 0 && (p[1].revents & POLLIN)) {
                        struct signalfd_siginfo si;
                        while (read(sfd, &si, sizeof(si)) > 0)
                                ;
                }
                reap_children();
                if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
                        continue;
                int fds[1 + CG_LEAF_DIRS_MAX];
                ssize_t n = prep_recv_fds(sock, buf, PREP_MSG_MAX, fds, 1 + CG_LEAF_DIRS_MAX, 0);
                if (n == 0 || (n < 0 && n != -EBADMSG && n != -EAGAIN))
                        break; /* runcell closed the channel, or is gone */
                if (n < 0 || fds[0] < 0) {
                        prep_close_fds(fds, 1 + CG_LEAF_DIRS_MAX);
                        continue;
                }
                int nfds = 0;
                while (nfds < CG_LEAF_DIRS_MAX && fds[1 + nfds] >= 0)
                        nfds++;
                serve_request(cg, buf, (size_t)n, fds[0], fds + 1, nfds);
                close(fds[0]);
                reap_children();
        }
        _exit(0);
}

/* ------------------------------------------------------------------ runcell's side */

int preparer_start(cg_manager_t *cg, preparer_t **out, rc_err_t *err)
{
        preparer_t *p = calloc(1, sizeof(*p));
        if (!p)
                return rc_err_set(err, ENOMEM, "out of memory");
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
                free(p);
                return rc_err_sys(err, errno, "socketpair");
        }
        /* Big enough for a request with its seccomp program in one packet. */
        int sz = PREP_MSG_MAX + 4096;
        setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
        setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
        fflush(stderr);
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0) {
                int e = errno;
                close(sv[0]);
                close(sv[1]);
                free(p);
                return rc_err_sys(err, e, "fork the sandbox preparer");
        }
        if (pid == 0) {
                close(sv[0]);
                helper_main(sv[1], parent, cg);
        }
        close(sv[1]);
        p->sock = sv[0];
        p->pid = pid;
        p->cg = cg;
        *out = p;
        return 0;
}

static void drop_held(preparer_t *p);

void preparer_stop(preparer_t *p)
{
        if (!p)
                return;
        drop_held(p);
        if (p->sock >= 0)
                close(p->sock);
        /* It finishes the request at hand (its answer goes nowhere and the sandbox is taken
         * down), then sees the end of the channel. */
        while (p->pid > 0 && waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
                ;
        free(p);
}

int prep_dial(const char *path, rc_err_t *err)
{
        struct sockaddr_un sa;
        int dfd = fs_unix_addr(path, &sa);
        if (dfd < -1)
                return rc_err_sys(err, -dfd, "%s: no socket address", path);
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        int r = fd < 0 ? -1 : connect(fd, (struct sockaddr *)&sa, sizeof(sa));
        int e = errno;
        if (dfd >= 0)
                close(dfd);
        if (r < 0) {
                if (fd >= 0)
                        close(fd);
                return rc_err_sys(err, e, "connect %s", path);
        }
        /* Only a lender of our own user: what it prepares is what we would. */
        struct ucred uc;
        socklen_t ul = sizeof(uc);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ul) < 0 || uc.uid != geteuid()) {
                close(fd);
                return rc_err_set(err, EPERM, "%s: not a runcell warm of this user", path);
        }
        return fd;
}

int preparer_connect(const char *path, cg_manager_t *cg, preparer_t **out, rc_err_t *err)
{
        *out = NULL;
        int fd = prep_dial(path, err);
        return fd < 0 ? fd : preparer_from_fd(fd, cg, out, err);
}

int preparer_from_fd(int fd, cg_manager_t *cg, preparer_t **out, rc_err_t *err)
{
        int sz = PREP_MSG_MAX + 4096;
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
        preparer_t *p = calloc(1, sizeof(*p));
        if (!p) {
                close(fd);
                return rc_err_set(err, ENOMEM, "out of memory");
        }
        *p = (preparer_t){.sock = fd, .pid = -1, .cg = cg};
        *out = p;
        return 0;
}

void prep_wire_normalize(void *msg)
{
        prep_wire_t h;
        memcpy(&h, msg, sizeof(h));
        h.seq = 0;
        h.existing = 0;
        h.owner = 0;
        memcpy(msg, &h, sizeof(h));
}

void preparer_hold(preparer_t *p, const void *key, size_t len, const prep_answer_t *a,
                   const int *fds, int nfds)
{
        p->held_key = nfds <= PREP_FDS_MAX ? malloc(len) : NULL;
        if (!p->held_key)
                return;
        memcpy(p->held_key, key, len);
        p->held_len = len;
        p->held = *a;
        memcpy(p->held_fds, fds, sizeof(int) * (size_t)nfds);
        p->held_nfds = nfds;
}

static void drop_held(preparer_t *p)
{
        if (!p->held_key)
                return;
        prep_close_fds(p->held_fds, p->held_nfds);
        free(p->held_key);
        p->held_key = NULL;
}

/* The sandbox held for a request like this one: a ticket whose answer is there already. */
static int take_held(preparer_t *p, void *msg, size_t len, const prep_params_t *pp,
                     prep_ticket_t **out)
{
        int64_t tt = trace_now();
        prep_wire_normalize(msg);
        bool match = p->held_key && len == p->held_len && memcmp(msg, p->held_key, len) == 0;
        prep_ticket_t *t = match ? calloc(1, sizeof(*t)) : NULL;
        if (!t)
                return -1;
        *t = (prep_ticket_t){.fd = -1,
                             .held = true,
                             .held_answer = p->held,
                             .cg = p->cg,
                             .owner = getpid(),
                             .limits = pp->limits,
                             .cpus = pp->cpus};
        for (int i = 0; i < PREP_FDS_MAX; i++)
                t->held_fds[i] = i < p->held_nfds ? p->held_fds[i] : -1;
        free(p->held_key); /* the fds are the ticket's now */
        p->held_key = NULL;
        *out = t;
        trace_step("sandbox held ahead", tt);
        return 0;
}

int preparer_request(preparer_t *p, const prep_params_t *pp, prep_ticket_t **out, rc_err_t *err)
{
        *out = NULL;
        if (!p || p->sock < 0)
                return rc_err_set(err, EPIPE, "the sandbox preparer is gone");
        _cleanup_free_ char *buf = malloc(PREP_MSG_MAX);
        if (!buf)
                return rc_err_set(err, ENOMEM, "out of memory");
        if (p->held_key) {
                ssize_t hn = prep_wire_encode(pp, 0, 0, false, buf, PREP_MSG_MAX);
                if (hn > 0 && take_held(p, buf, (size_t)hn, pp, out) == 0)
                        return 0;
        }
        /* A spare leaf if there is one (its directories go along), else a new one's name. */
        unsigned seq = 0;
        int fds[1 + CG_LEAF_DIRS_MAX];
        int nleaf = 0;
        cg_leaf_t *spare = NULL;
        /* A runcell warm names its leaves itself (it removes them): none of ours goes along. */
        if (p->pid > 0 && strcmp(cg_manager_name(p->cg), "none") != 0) {
                spare = cg_leaf_spare(p->cg);
                if (spare && (nleaf = cg_leaf_dir_fds(spare, fds + 1, CG_LEAF_DIRS_MAX)) < 0) {
                        cg_leaf_destroy(spare);
                        spare = NULL;
                        nleaf = 0;
                }
                seq = spare ? cg_leaf_seq(spare) : cg_manager_next_seq(p->cg);
        }
        ssize_t n = prep_wire_encode(pp, getpid(), seq, spare != NULL, buf, PREP_MSG_MAX);
        int sv[2];
        if (n < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
                int e = n < 0 ? E2BIG : errno;
                cg_leaf_recycle(spare);
                return rc_err_sys(err, e, "request to the sandbox preparer");
        }
        fds[0] = sv[1];
        int r = prep_send_fds(p->sock, buf, (size_t)n, fds, 1 + nleaf);
        close(sv[1]);
        cg_leaf_close_fds(spare); /* the helper has its own now */
        if (r < 0) {
                close(sv[0]);
                cg_leaf_recycle(spare);
                if (r == -EPIPE || r == -ECONNRESET) {
                        /* The helper died (it never does on its own): prepare in-process. It
                         * closed its end in exiting: reaped now, not left a zombie until the
                         * end. */
                        close(p->sock);
                        p->sock = -1;
                        if (p->pid > 0) {
                                rc_note(RC_NOTE_ERROR, "preparer_gone",
                                        "the sandbox preparer (pid %d) is gone; preparing "
                                        "sandboxes in-process",
                                        (int)p->pid);
                                while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
                                        ;
                        }
                        p->pid = 0;
                }
                return rc_err_sys(err, -r, "send to the sandbox preparer");
        }
        prep_ticket_t *t = calloc(1, sizeof(*t));
        if (!t) {
                close(sv[0]); /* the helper's answer goes nowhere; it takes the sandbox down */
                if (spare)
                        cg_leaf_destroy(spare);
                return rc_err_set(err, ENOMEM, "out of memory");
        }
        *t = (prep_ticket_t){.fd = sv[0],
                             .cg = p->cg,
                             .leaf = spare,
                             .owner = getpid(),
                             .seq = seq,
                             .limits = pp->limits,
                             .cpus = pp->cpus};
        *out = t;
        return 0;
}

int prep_ticket_fd(const prep_ticket_t *t)
{
        return t->fd;
}

int prep_ticket_take(prep_ticket_t *t, bool wait, prepared_t *out, rc_err_t *err)
{
        memset(out, 0, sizeof(*out));
        prep_answer_t a;
        int fds[PREP_FDS_MAX];
        ssize_t n;
        if (t->held) {
                /* the answer and its fds as a receive would give them */
                t->held = false;
                a = t->held_answer;
                memcpy(fds, t->held_fds, sizeof(fds));
                n = (ssize_t)sizeof(a);
                goto answered;
        }
        if (t->fd < 0)
                return rc_err_set(err, EINVAL, "ticket already used");
        if (wait) {
                struct pollfd p = {.fd = t->fd, .events = POLLIN};
                int pr;
                while ((pr = poll(&p, 1, PREP_WAIT_MS)) < 0 && errno == EINTR)
                        ;
                if (pr == 0)
                        return rc_err_set(err, ETIMEDOUT, "the sandbox preparer did not answer");
        }
        memset(&a, 0, sizeof(a));
        n = prep_recv_fds(t->fd, &a, sizeof(a), fds, PREP_FDS_MAX, MSG_DONTWAIT);
        if (n == -EAGAIN)
                return -EAGAIN;
        close(t->fd);
        t->fd = -1;
answered:;
        int r;
        if (n == 0) {
                r = rc_err_set(err, EPIPE, "the sandbox preparer exited");
        } else if (n < 0) {
                r = rc_err_sys(err, (int)-n, "answer of the sandbox preparer");
        } else if (n != (ssize_t)sizeof(a) || a.nleaf < 0 || a.nleaf > CG_LEAF_DIRS_MAX) {
                r = rc_err_set(err, EPROTO, "bad answer from the sandbox preparer");
        } else if (a.err) {
                a.msg[sizeof(a.msg) - 1] = '\0';
                r = rc_err_set(err, a.err, "%s", a.msg);
        } else {
                r = 0;
                for (int i = 0; i < SB_EXPORT_FDS; i++)
                        if (fds[i] < 0)
                                r = rc_err_set(err, EPROTO, "bad answer from the sandbox preparer");
                if (r == 0)
                        r = sandbox_adopt((pid_t)a.pid, fds, &out->sb, err);
                if (r == 0 && a.lent) {
                        /* the lender's leaf, reached through the fds it sent */
                        out->lent = true;
                        if (a.lent_seq &&
                            (r = cg_leaf_adopt(t->cg, (pid_t)a.lent_owner, a.lent_seq, &t->limits,
                                               t->cpus, fds + SB_EXPORT_FDS, a.nleaf, &out->leaf,
                                               err)) < 0) {
                                sandbox_release(out->sb);
                                *out = (prepared_t){0};
                        }
                } else if (r == 0 && t->leaf) {
                        out->leaf = t->leaf;
                        t->leaf = NULL;
                } else if (r == 0 && t->seq &&
                           (r = cg_leaf_adopt(t->cg, t->owner, t->seq, &t->limits, t->cpus,
                                              fds + SB_EXPORT_FDS, a.nleaf, &out->leaf, err)) < 0) {
                        sandbox_free(out->sb);
                        out->sb = NULL;
                }
        }
        prep_close_fds(fds, PREP_FDS_MAX);
        if (r < 0 && t->leaf) {
                cg_leaf_destroy(t->leaf);
                t->leaf = NULL;
        } else if (r < 0 && t->seq && !a.lent) {
                /* The leaf may have been made, with nobody else to remove it. */
                cg_leaf_t *l = NULL;
                rc_err_t e2 = {0};
                if (cg_leaf_adopt(t->cg, t->owner, t->seq, NULL, 0, NULL, 0, &l, &e2) == 0)
                        cg_leaf_destroy(l);
        }
        /* -EAGAIN says "no answer yet": a failure with EAGAIN (the helper's clone over a
         * pids.max of the cgroup above the leaves) is an answer, and the ticket is used up. */
        return r == -EAGAIN ? -EIO : r;
}

void prep_ticket_free(prep_ticket_t *t)
{
        if (!t)
                return;
        if (t->fd >= 0 || t->held) {
                prepared_t pr;
                rc_err_t e = {0};
                if (prep_ticket_take(t, true, &pr, &e) == 0)
                        prepared_destroy(&pr);
        }
        if (t->leaf)
                cg_leaf_destroy(t->leaf);
        free(t);
}
