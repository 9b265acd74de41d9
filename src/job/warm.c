#include "job/warm.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "job/preparer.h"
#include "sandbox/ids.h"
#include "sandbox/sandbox.h"
#include "sandbox/sync.h"
#include "util/fs.h"

#define WARM_CONNS_MAX 64
#define WARM_STOCK_MAX 32
#define WARM_LENT_MAX  128
#define WARM_KEYS_MAX  8
/* The stock is topped up once the runs lent last have run this long (or are over): preparing
 * then does not compete with their start. */
#define WARM_QUIET_NS (250 * 1000000LL)
/* What a worker says it ran, at most (job/warm.h: warm_worker_t.ran) */
#define WARM_RAN_MAX 128

/* A kind of request: its message with the leaf's naming (owner, seq, existing) cleared. */
typedef struct wkey {
        void *msg;
        size_t len;
        int64_t used_ns;
} wkey_t;

typedef struct stock {
        void *key; /* the wkey's msg it was made for (compared by address) */
        pid_t pid;
        int fds[SB_EXPORT_FDS]; /* pidfd, sync socket, stdin, stdout, stderr */
        cg_leaf_t *leaf;
} stock_t;

/* A sandbox lent (conn >= 0 while its borrower is connected) or taken down (-1), watched until
 * it is gone; then its leaf is removed. */
typedef struct lent {
        int conn;
        int pidfd;
        cg_leaf_t *leaf;
        int64_t since_ns;
} lent_t;

typedef struct warm {
        cg_manager_t *cg;
        const warm_opts_t *o;
        int lfd, sfd;
        int conns[WARM_CONNS_MAX];
        size_t nconns;
        stock_t stock[WARM_STOCK_MAX];
        size_t nstock;
        lent_t lent[WARM_LENT_MAX];
        size_t nlent;
        wkey_t keys[WARM_KEYS_MAX];
        size_t nkeys;
        int64_t last_req_ns;
        int stopping; /* signals seen */
        int lock_fd;
        /* the worker (opts->worker): its pid (0: none), the channel it takes a command's
         * connection from, idle until it took one; stale: a watched directory changed */
        pid_t wpid;
        int whand, wprep; /* wprep: its channel for sandboxes, a connection of conns */
        bool widle, stale;
        char wran[WARM_RAN_MAX]; /* what it said it ran, once it said it ("": not yet) */
        warm_held_t held;        /* what the next worker is forked with (nfds 0: nothing) */
        int ino;                 /* inotify on opts->worker->watch; -1: no worker at all */
        unsigned long long lent_total, from_stock;
        void *buf;
} warm_t;

static void kill_pidfd(int pidfd)
{
        syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
}

static bool gone(int pidfd)
{
        struct pollfd p = {.fd = pidfd, .events = POLLIN};
        return poll(&p, 1, 0) > 0;
}

/* Watch a sandbox until it is gone (its leaf removed then). */
static void watch(warm_t *w, int conn, int pidfd, cg_leaf_t *leaf)
{
        if (pidfd < 0) {
                cg_leaf_destroy(leaf);
                return;
        }
        if (w->nlent == WARM_LENT_MAX) {
                /* never with the limits above (stock + connections); bounded all the same */
                struct pollfd p = {.fd = w->lent[0].pidfd, .events = POLLIN};
                kill_pidfd(p.fd);
                poll(&p, 1, 5000);
                close(w->lent[0].pidfd);
                cg_leaf_destroy(w->lent[0].leaf);
                w->lent[0] = w->lent[--w->nlent];
        }
        if (leaf)
                cg_leaf_close_fds(leaf);
        w->lent[w->nlent++] = (lent_t){conn, pidfd, leaf, sb_now_ns()};
}

/* Take a stock sandbox down: killed, watched until gone. */
static void retire(warm_t *w, size_t i)
{
        stock_t *s = &w->stock[i];
        kill_pidfd(s->fds[0]);
        int pidfd = s->fds[0];
        s->fds[0] = -1;
        prep_close_fds(s->fds, SB_EXPORT_FDS);
        watch(w, -1, pidfd, s->leaf);
        w->stock[i] = w->stock[--w->nstock];
}

/* Build one sandbox for key k, the leaf named by this process (it removes it). */
static int make_one(warm_t *w, size_t k, stock_t *out, rc_err_t *e)
{
        prep_params_t pp;
        seccomp_bpf_t filter;
        pid_t owner;
        unsigned seq;
        bool existing;
        /* decoded in place: pp and filter point into the key's copy, which outlives this */
        if (prep_wire_decode(w->keys[k].msg, w->keys[k].len, &pp, &filter, &owner, &seq,
                             &existing) < 0)
                return rc_err_set(e, EBADMSG, "bad request");
        cg_leaf_t *leaf = NULL;
        if (cg_leaf_create(w->cg, &pp.limits, pp.cpus, &leaf, e) < 0)
                return -EIO;
        sb_prep_t prep = prep_sb(&pp, leaf, true); /* lent for one run, never back */
        sandbox_t *sb = NULL;
        if (sandbox_spawn(&prep, &sb, e) < 0) {
                cg_leaf_destroy(leaf);
                return -EIO;
        }
        *out = (stock_t){.key = w->keys[k].msg, .leaf = leaf};
        sandbox_export(sb, &out->pid, out->fds);
        int r = sandbox_attach(sb, e);
        sandbox_free(sb);
        if (r < 0) {
                kill_pidfd(out->fds[0]);
                int pidfd = out->fds[0];
                out->fds[0] = -1;
                prep_close_fds(out->fds, SB_EXPORT_FDS);
                watch(w, -1, pidfd, leaf);
                return r;
        }
        return 0;
}

/* The answer lending stock sandbox s, and its fds (the sandbox's, then its leaf's directories,
 * still theirs) into out: how many. */
static int lend_answer(const stock_t *s, prep_answer_t *a, int out[PREP_FDS_MAX])
{
        memset(a, 0, sizeof(*a));
        memcpy(out, s->fds, sizeof(s->fds));
        int nleaf = s->leaf ? cg_leaf_dir_fds(s->leaf, out + SB_EXPORT_FDS, CG_LEAF_DIRS_MAX) : 0;
        a->pid = (int32_t)s->pid;
        a->nleaf = nleaf < 0 ? 0 : nleaf;
        a->lent = 1;
        a->lent_owner = (int32_t)getpid();
        a->lent_seq = s->leaf ? cg_leaf_seq(s->leaf) : 0;
        return SB_EXPORT_FDS + a->nleaf;
}

static void answer_error(int reply, int code, const char *msg)
{
        prep_answer_t a;
        memset(&a, 0, sizeof(a));
        a.err = code > 0 ? code : EIO;
        size_t l = strlen(msg);
        if (l >= sizeof(a.msg))
                l = sizeof(a.msg) - 1;
        memcpy(a.msg, msg, l); /* the borrower says it comes from runcell warm */
        prep_send_fds(reply, &a, sizeof(a), NULL, 0);
}

static size_t key_of(warm_t *w, void *msg, size_t len)
{
        size_t k;
        for (k = 0; k < w->nkeys; k++)
                if (w->keys[k].len == len && memcmp(w->keys[k].msg, msg, len) == 0)
                        break;
        if (k == w->nkeys) {
                void *copy = malloc(len);
                if (!copy)
                        return (size_t)-1;
                memcpy(copy, msg, len);
                if (w->nkeys == WARM_KEYS_MAX) {
                        /* the least recently asked for goes, with its stock */
                        k = 0;
                        for (size_t i = 1; i < w->nkeys; i++)
                                if (w->keys[i].used_ns < w->keys[k].used_ns)
                                        k = i;
                        for (size_t i = w->nstock; i-- > 0;)
                                if (w->stock[i].key == w->keys[k].msg)
                                        retire(w, i);
                        free(w->keys[k].msg);
                } else {
                        w->nkeys++;
                }
                w->keys[k] = (wkey_t){copy, len, 0};
        }
        w->keys[k].used_ns = sb_now_ns();
        return k;
}

/* One request on connection c: lend a sandbox from the stock, or one made now. */
static void serve(warm_t *w, int c, void *msg, size_t len, int reply)
{
        prep_params_t pp;
        seccomp_bpf_t filter;
        pid_t owner;
        unsigned seq;
        bool existing;
        w->last_req_ns = sb_now_ns();
        if (w->stopping) {
                answer_error(reply, ESHUTDOWN, "stopping");
                return;
        }
        if (prep_wire_decode(msg, len, &pp, &filter, &owner, &seq, &existing) < 0) {
                answer_error(reply, EBADMSG, "bad request");
                return;
        }
        prep_wire_normalize(msg);
        size_t k = key_of(w, msg, len);
        if (k == (size_t)-1) {
                answer_error(reply, ENOMEM, "out of memory");
                return;
        }
        stock_t s = {0};
        bool found = false;
        for (size_t i = 0; i < w->nstock && !found; i++) {
                if (w->stock[i].key != w->keys[k].msg)
                        continue;
                if (gone(w->stock[i].fds[0])) {
                        retire(w, i--);
                        continue;
                }
                s = w->stock[i];
                w->stock[i] = w->stock[--w->nstock];
                found = true;
        }
        rc_err_t e = {0};
        if (!found && make_one(w, k, &s, &e) < 0) {
                answer_error(reply, e.code, e.msg);
                return;
        }
        prep_answer_t a;
        int out[PREP_FDS_MAX];
        lend_answer(&s, &a, out);
        int pidfd = s.fds[0];
        s.fds[0] = -1;
        if (prep_send_fds(reply, &a, sizeof(a), out, SB_EXPORT_FDS + a.nleaf) < 0) {
                kill_pidfd(pidfd);
                c = -1;
        } else {
                w->lent_total++;
                w->from_stock += found;
        }
        /* Its stdio and sync socket are the borrower's alone: its output's end is seen. */
        prep_close_fds(s.fds, SB_EXPORT_FDS);
        watch(w, c, pidfd, s.leaf);
}

static void drop_conn(warm_t *w, size_t i)
{
        int fd = w->conns[i];
        /* a borrower gone: what it still had is taken down */
        for (size_t k = 0; k < w->nlent; k++)
                if (w->lent[k].conn == fd) {
                        kill_pidfd(w->lent[k].pidfd);
                        w->lent[k].conn = -1;
                }
        close(fd);
        w->conns[i] = w->conns[--w->nconns];
}

/* A command for the worker: handed over when it is idle (its message still unread), else
 * answered WARM_ANSWER_BUSY (it may then ask for a sandbox on the same connection). */
static void on_run_request(warm_t *w, size_t i)
{
        int fd = w->conns[i];
        w->last_req_ns = sb_now_ns();
        if (w->wpid > 0 && w->widle && !w->stale && !w->stopping &&
            prep_send_fds(w->whand, "c", 1, &fd, 1) == 0) {
                w->widle = false;
                close(fd);
                w->conns[i] = w->conns[--w->nconns];
                return;
        }
        int fds[PREP_FDS_MAX];
        if (prep_recv_fds(fd, w->buf, PREP_MSG_MAX, fds, PREP_FDS_MAX, MSG_DONTWAIT) > 0)
                prep_close_fds(fds, PREP_FDS_MAX);
        uint32_t busy = WARM_ANSWER_BUSY;
        if (send(fd, &busy, sizeof(busy), MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)sizeof(busy))
                drop_conn(w, i);
}

static void on_conn(warm_t *w, size_t i)
{
        uint32_t magic = 0;
        if (recv(w->conns[i], &magic, sizeof(magic), MSG_PEEK | MSG_DONTWAIT) ==
                (ssize_t)sizeof(magic) &&
            magic == WARM_RUN_MAGIC) {
                on_run_request(w, i);
                return;
        }
        int fds[1 + CG_LEAF_DIRS_MAX];
        ssize_t n = prep_recv_fds(w->conns[i], w->buf, PREP_MSG_MAX, fds, 1 + CG_LEAF_DIRS_MAX,
                                  MSG_DONTWAIT);
        if (n == -EAGAIN)
                return;
        if (n <= 0 && n != -EBADMSG) {
                drop_conn(w, i);
                return;
        }
        /* fds[0]: where the answer goes; a leaf of the borrower's never comes along */
        prep_close_fds(fds + 1, CG_LEAF_DIRS_MAX);
        if (n > 0 && fds[0] >= 0 && (size_t)n >= sizeof(prep_wire_t))
                serve(w, w->conns[i], w->buf, (size_t)n, fds[0]);
        else if (fds[0] >= 0)
                answer_error(fds[0], EBADMSG, "bad request");
        if (fds[0] >= 0)
                close(fds[0]);
}

static void on_accept(warm_t *w)
{
        int fd = accept4(w->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
                return;
        struct ucred uc;
        socklen_t ul = sizeof(uc);
        if (w->nconns == WARM_CONNS_MAX || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ul) < 0 ||
            uc.uid != geteuid()) {
                close(fd); /* another user's, or too many: it prepares its own */
                return;
        }
        w->conns[w->nconns++] = fd;
}

static bool on_worker(warm_t *w);

static void worker_gone(warm_t *w)
{
        while (on_worker(w)) /* what it said last, if not read yet */
                ;
        if (w->wran[0] && w->o->worker->ran)
                w->o->worker->ran(w->o->worker->ctx, w->wran);
        w->wran[0] = '\0';
        close(w->whand);
        w->whand = -1;
        w->wpid = 0;
}

static void reap(warm_t *w)
{
        pid_t pid;
        while ((pid = waitpid(-1, NULL, WNOHANG)) > 0) {
                if (pid == w->wpid)
                        worker_gone(w);
                else
                        sb_ids_reaped(pid); /* its outside id is free again */
        }
        /* a leaf goes once its sandbox is gone and its borrower too (which reads the leaf's
         * counters after a run it killed) */
        for (size_t i = w->nlent; i-- > 0;)
                if (w->lent[i].conn < 0 && gone(w->lent[i].pidfd)) {
                        close(w->lent[i].pidfd);
                        /* removed, not kept as a spare: its borrower adopted it with counters
                         * from zero (a spare's OOM kills would count against the next run) */
                        cg_leaf_destroy(w->lent[i].leaf);
                        w->lent[i] = w->lent[--w->nlent];
                }
}

/* When the runs lent last have run WARM_QUIET_NS (or are over): preparing may start (ns). */
static int64_t quiet_at(const warm_t *w)
{
        int64_t at = 0;
        for (size_t i = 0; i < w->nlent; i++)
                if (w->lent[i].conn >= 0 && w->lent[i].since_ns + WARM_QUIET_NS > at)
                        at = w->lent[i].since_ns + WARM_QUIET_NS;
        return at;
}

/* When the stock may be topped up (ns), or -1 when nothing is missing. */
static int64_t refill_at(const warm_t *w)
{
        if (w->stopping)
                return -1;
        bool missing = false;
        for (size_t k = 0; k < w->nkeys && !missing; k++) {
                unsigned have = 0;
                for (size_t i = 0; i < w->nstock; i++)
                        have += w->stock[i].key == w->keys[k].msg;
                missing = have < w->o->per_key && w->nstock < WARM_STOCK_MAX;
        }
        return missing ? quiet_at(w) : -1;
}

/* One sandbox more for the first kind short of its stock; a kind that cannot be made is
 * forgotten (asked for again, it is tried again). */
static void refill(warm_t *w)
{
        for (size_t k = 0; k < w->nkeys; k++) {
                unsigned have = 0;
                for (size_t i = 0; i < w->nstock; i++)
                        have += w->stock[i].key == w->keys[k].msg;
                if (have >= w->o->per_key)
                        continue;
                rc_err_t e = {0};
                if (make_one(w, k, &w->stock[w->nstock], &e) == 0) {
                        w->nstock++;
                } else {
                        fprintf(stderr, "runcell warm: preparing a sandbox: %s\n", e.msg);
                        for (size_t i = w->nstock; i-- > 0;)
                                if (w->stock[i].key == w->keys[k].msg)
                                        retire(w, i);
                        free(w->keys[k].msg);
                        w->keys[k] = w->keys[--w->nkeys];
                }
                return;
        }
}

/* In the worker: none of the helper's fds but what it inherited from the caller (toolchains,
 * cgroup manager, build cache) and its two channels. */
static void close_helper_fds(warm_t *w, int keep1, int keep2)
{
        int own[] = {w->lfd, w->sfd, w->ino, w->lock_fd};
        for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
                if (own[i] >= 0)
                        close(own[i]);
        for (size_t i = 0; i < w->nconns; i++)
                if (w->conns[i] != keep1 && w->conns[i] != keep2)
                        close(w->conns[i]);
        for (size_t i = 0; i < w->nlent; i++)
                close(w->lent[i].pidfd);
        for (size_t i = 0; i < w->nstock; i++)
                prep_close_fds(w->stock[i].fds, SB_EXPORT_FDS);
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define WARM_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define WARM_SANITIZED 1
#endif
#endif
/* What prefault copies at most: a mapping (runcell's own data and heap are a few MiB), and in
 * all. */
#define WARM_PREFAULT_MAP_MAX   (16ul << 20)
#define WARM_PREFAULT_TOTAL_MAX (64ul << 20)

/* Copy, ahead, the pages the worker would copy on its first write to them (a fork shares them
 * with the helper): the faults are taken while it waits, not while it serves a command. Not
 * under a sanitizer, whose shadow memory is terabytes of private writable mappings, nor for
 * any mapping larger than WARM_PREFAULT_MAP_MAX. */
static void prefault(void)
{
#if defined(MADV_POPULATE_WRITE) && !defined(WARM_SANITIZED)
        FILE *f = fopen("/proc/self/maps", "re");
        char line[512];
        unsigned long total = 0;
        while (f && fgets(line, sizeof(line), f)) {
                unsigned long a, b;
                char perms[5];
                if (sscanf(line, "%lx-%lx %4s", &a, &b, perms) == 3 && perms[0] == 'r' &&
                    perms[1] == 'w' && perms[3] == 'p' && !strstr(line, "[stack]") &&
                    !strstr(line, "[v") && b - a <= WARM_PREFAULT_MAP_MAX &&
                    total + (b - a) <= WARM_PREFAULT_TOTAL_MAX) {
                        madvise((void *)a, b - a, MADV_POPULATE_WRITE);
                        total += b - a;
                }
        }
        if (f)
                fclose(f);
#endif
}

/* The first message of a connection the worker accepted: a command's (WARM_RUN_MAGIC)? */
static bool is_command(int fd)
{
        struct pollfd p = {.fd = fd, .events = POLLIN};
        uint32_t magic = 0;
        return poll(&p, 1, 1000) > 0 &&
               recv(fd, &magic, sizeof(magic), MSG_PEEK | MSG_DONTWAIT) == (ssize_t)sizeof(magic) &&
               magic == WARM_RUN_MAGIC;
}

__attribute__((noreturn)) static void worker_main(warm_t *w, pid_t helper, int hand, int prep)
{
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        if (getppid() != helper)
                _exit(0);
        prctl(PR_SET_NAME, "runcell-warm-w", 0, 0, 0);
        int lfd = w->lfd;
        w->lfd = -1; /* kept: the worker accepts the next connection itself */
        close_helper_fds(w, hand, prep);
        /* as a command starts: no signal blocked, none ignored */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        prefault();
        int fd = -1;
        for (;;) {
                struct pollfd p[2] = {{.fd = lfd, .events = POLLIN},
                                      {.fd = hand, .events = POLLIN}};
                if (poll(p, 2, -1) < 0 && errno != EINTR)
                        _exit(0);
                if (p[1].revents) {
                        /* the helper handing over a command it accepted, or gone */
                        char c;
                        if (prep_recv_fds(hand, &c, 1, &fd, 1, 0) <= 0 || fd < 0)
                                _exit(0);
                        break;
                }
                if (!(p[0].revents & POLLIN))
                        continue;
                fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0)
                        continue;
                struct ucred uc;
                socklen_t ul = sizeof(uc);
                if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ul) < 0 || uc.uid != geteuid()) {
                        close(fd);
                        continue;
                }
                if (is_command(fd)) {
                        send(hand, "b", 1, MSG_NOSIGNAL); /* busy: the helper accepts again */
                        break;
                }
                prep_send_fds(hand, "p", 1, &fd, 1); /* one that borrows: the helper's */
                close(fd);
        }
        close(lfd);
        char ran[WARM_RAN_MAX] = "r";
        w->o->worker->run(w->o->worker->ctx, fd, prep, w->held.nfds ? &w->held : NULL, ran + 1,
                          sizeof(ran) - 1);
        if (ran[1])
                send(hand, ran, strlen(ran), MSG_NOSIGNAL);
        _exit(0);
}

/* The worker said something: it took a command ('b': the helper accepts again), handed over a
 * connection that borrows ('p' with its fd), or, at its end, what it ran ('r' and the words
 * for ran, kept for worker_gone). */
static bool on_worker(warm_t *w)
{
        char msg[WARM_RAN_MAX + 1];
        int fd = -1;
        ssize_t n = prep_recv_fds(w->whand, msg, sizeof(msg) - 1, &fd, 1, MSG_DONTWAIT);
        if (n <= 0)
                return false; /* nothing more, or gone: reaped */
        msg[n] = '\0';
        if (msg[0] == 'b')
                w->widle = false;
        else if (msg[0] == 'r')
                snprintf(w->wran, sizeof(w->wran), "%s", msg + 1);
        if (fd >= 0 && w->nconns < WARM_CONNS_MAX) {
                fcntl(fd, F_SETFL, O_NONBLOCK);
                w->conns[w->nconns++] = fd;
        } else if (fd >= 0) {
                close(fd);
        }
        return true;
}

/* The stock sandbox the next worker is forked with: one of the kind asked for last. */
static void hold_for_worker(warm_t *w)
{
        size_t best = (size_t)-1;
        for (size_t i = 0; i < w->nstock; i++) {
                if (gone(w->stock[i].fds[0]))
                        continue;
                for (size_t k = 0; k < w->nkeys; k++)
                        if (w->keys[k].msg == w->stock[i].key &&
                            (best == (size_t)-1 || w->keys[k].used_ns > w->keys[best >> 8].used_ns))
                                best = (k << 8) | i;
        }
        w->held.nfds = 0;
        if (best == (size_t)-1)
                return;
        size_t i = best & 0xff, k = best >> 8;
        stock_t *s = &w->stock[i];
        warm_held_t *h = &w->held;
        memset(h, 0, sizeof(*h));
        h->key = w->keys[k].msg;
        h->len = w->keys[k].len;
        h->nfds = lend_answer(s, &h->answer, h->fds);
}

/* Fork the next worker; its channel for sandboxes is a connection like any other. */
static void spawn_worker(warm_t *w)
{
        const warm_worker_t *wk = w->o->worker;
        if (w->wpid || w->stopping || w->nconns + 1 >= WARM_CONNS_MAX)
                return;
        bool stale = w->stale;
        w->stale = false;
        if (wk->refresh(wk->ctx, stale) < 0)
                return;
        int hand[2], prep[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, hand) < 0)
                return;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, prep) < 0) {
                close(hand[0]);
                close(hand[1]);
                return;
        }
        int sz = PREP_MSG_MAX + 4096;
        setsockopt(prep[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
        setsockopt(prep[0], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
        hold_for_worker(w);
        size_t held_i = (size_t)-1;
        for (size_t i = 0; w->held.nfds && i < w->nstock; i++)
                if (w->stock[i].fds[0] == w->held.fds[0])
                        held_i = i;
        cg_leaf_t *held_leaf = NULL;
        if (held_i != (size_t)-1) {
                held_leaf = w->stock[held_i].leaf;
                w->stock[held_i] = w->stock[--w->nstock]; /* the worker's (the fds are held) */
        }
        fflush(stderr);
        pid_t helper = getpid();
        pid_t pid = fork();
        if (pid == 0) {
                close(hand[0]);
                close(prep[0]);
                worker_main(w, helper, hand[1], prep[1]);
        }
        close(hand[1]);
        close(prep[1]);
        if (pid < 0) {
                close(hand[0]);
                close(prep[0]);
        } else {
                fcntl(prep[0], F_SETFL, O_NONBLOCK);
                fcntl(hand[0], F_SETFL, O_NONBLOCK);
                w->conns[w->nconns++] = prep[0];
                w->wprep = prep[0];
                w->wpid = pid;
                w->whand = hand[0];
                w->widle = true;
        }
        if (w->held.nfds) {
                /* lent to the worker: watched as such (killed if the worker goes without it) */
                int pidfd = w->held.fds[0];
                w->held.fds[0] = -1;
                if (pid < 0)
                        kill_pidfd(pidfd);
                prep_close_fds(w->held.fds, SB_EXPORT_FDS);
                watch(w, pid < 0 ? -1 : prep[0], pidfd, held_leaf);
                w->held.nfds = 0;
                w->lent_total += pid > 0;
                w->from_stock += pid > 0;
        }
}

static void on_inotify(warm_t *w)
{
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        while (read(w->ino, buf, sizeof(buf)) > 0)
                ;
        w->stale = true;
        if (w->wpid > 0 && w->widle)
                kill(w->wpid, SIGKILL); /* the next one loads what changed */
}

static void stop(warm_t *w)
{
        if (w->wpid > 0 && w->widle)
                kill(w->wpid, SIGKILL);
        if (w->lfd >= 0) {
                close(w->lfd);
                w->lfd = -1;
                unlink(w->o->sock_path);
        }
        while (w->nstock)
                retire(w, w->nstock - 1);
}

static int listen_on(const char *path, rc_err_t *err)
{
        struct sockaddr_un sa;
        int dfd = fs_unix_addr(path, &sa);
        if (dfd < -1)
                return rc_err_sys(err, -dfd, "%s: no socket address", path);
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
                if (dfd >= 0)
                        close(dfd);
                return rc_err_sys(err, errno, "socket");
        }
        int sz = PREP_MSG_MAX + 4096;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
        unlink(path); /* a stale one: the lock says no other runcell warm has it */
        mode_t old = umask(077);
        int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
        umask(old);
        if (dfd >= 0)
                close(dfd);
        if (r < 0 || listen(fd, 64) < 0) {
                int e = errno;
                close(fd);
                return rc_err_sys(err, e, "listen on %s", path);
        }
        return fd;
}

int warm_serve(cg_manager_t *cg, const warm_opts_t *o, rc_err_t *err)
{
        char lock[4200];
        snprintf(lock, sizeof(lock), "%s.lock", o->sock_path);
        int lfd_lock = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (lfd_lock < 0)
                return rc_err_sys(err, errno, "open %s", lock);
        if (flock(lfd_lock, LOCK_EX | LOCK_NB) < 0) {
                close(lfd_lock);
                return rc_err_set(err, EBUSY, "another runcell warm serves %s", o->sock_path);
        }
        warm_t *w = calloc(1, sizeof(*w));
        void *buf = malloc(PREP_MSG_MAX);
        if (!w || !buf) {
                free(w);
                free(buf);
                close(lfd_lock);
                return rc_err_set(err, ENOMEM, "out of memory");
        }
        w->cg = cg;
        w->o = o;
        w->buf = buf;
        w->sfd = -1;
        w->ino = -1;
        w->whand = -1;
        w->lock_fd = lfd_lock;
        if (o->worker) {
                w->ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
                for (size_t i = 0; w->ino >= 0 && i < 4 && o->worker->watch[i]; i++)
                        if (inotify_add_watch(w->ino, o->worker->watch[i],
                                              IN_CREATE | IN_DELETE | IN_MODIFY | IN_ATTRIB |
                                                  IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO |
                                                  IN_DELETE_SELF | IN_MOVE_SELF) < 0 &&
                            errno != ENOENT) {
                                /* a worker could not tell when it is stale: none */
                                close(w->ino);
                                w->ino = -1;
                        }
        }
        w->lfd = listen_on(o->sock_path, err);
        if (w->lfd < 0) {
                int r = w->lfd;
                free(buf);
                free(w);
                close(lfd_lock);
                return r;
        }
        sigset_t sigs;
        sigemptyset(&sigs);
        sigaddset(&sigs, SIGCHLD);
        sigaddset(&sigs, SIGTERM);
        sigaddset(&sigs, SIGINT);
        sigaddset(&sigs, SIGHUP);
        sigprocmask(SIG_BLOCK, &sigs, NULL);
        signal(SIGPIPE, SIG_IGN);
        w->sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
        w->last_req_ns = sb_now_ns();
        fprintf(stderr,
                "runcell warm: serving %s (pid %d; cgroups %s%s%s; %u ready per kind of run; %s)\n",
                o->sock_path, (int)getpid(), cg_manager_name(cg),
                *cg_manager_base(cg) ? " at " : "", cg_manager_base(cg), o->per_key,
                o->idle_s ? "exits when idle" : "no idle exit");
        for (;;) {
                reap(w);
                if (w->stopping && w->nlent == 0 && w->wpid == 0)
                        break;
                if (!w->stopping && o->idle_s &&
                    sb_now_ns() - w->last_req_ns > (int64_t)o->idle_s * 1000000000LL) {
                        /* what an idle worker holds is not a run */
                        bool busy = w->wpid > 0 && !w->widle;
                        for (size_t i = 0; i < w->nlent; i++)
                                busy |= w->lent[i].conn >= 0 &&
                                        !(w->wpid > 0 && w->widle && w->lent[i].conn == w->wprep);
                        if (!busy) {
                                fprintf(stderr, "runcell warm: idle for %u s\n", o->idle_s);
                                w->stopping = 1;
                                stop(w);
                                continue;
                        }
                }
                int64_t now = sb_now_ns(), at = refill_at(w);
                if (at >= 0 && at <= now) {
                        refill(w);
                        continue;
                }
                /* the next worker, once the stock is full and the runs lent have started */
                if (at < 0 && w->ino >= 0 && w->wpid == 0 && !w->stopping) {
                        int64_t q = quiet_at(w);
                        if (q <= now) {
                                spawn_worker(w);
                                continue;
                        }
                        at = q;
                }
                struct pollfd p[4 + WARM_CONNS_MAX + WARM_LENT_MAX + WARM_STOCK_MAX];
                nfds_t n = 0;
                p[n++] = (struct pollfd){.fd = w->sfd, .events = POLLIN};
                /* an idle worker accepts the next connection: not we */
                p[n++] =
                    (struct pollfd){.fd = w->wpid > 0 && w->widle ? -1 : w->lfd, .events = POLLIN};
                p[n++] = (struct pollfd){.fd = w->ino, .events = POLLIN};
                p[n++] = (struct pollfd){.fd = w->wpid > 0 ? w->whand : -1, .events = POLLIN};
                for (size_t i = 0; i < w->nconns; i++)
                        p[n++] = (struct pollfd){.fd = w->conns[i], .events = POLLIN};
                for (size_t i = 0; i < w->nlent; i++)
                        p[n++] = (struct pollfd){.fd = w->lent[i].conn < 0 ? w->lent[i].pidfd : -1,
                                                 .events = POLLIN};
                for (size_t i = 0; i < w->nstock; i++)
                        p[n++] = (struct pollfd){.fd = w->stock[i].fds[0], .events = POLLIN};
                int64_t wake = at;
                if (o->idle_s && !w->stopping) {
                        int64_t idle_end = w->last_req_ns + (int64_t)o->idle_s * 1000000000LL + 1;
                        wake = wake < 0 || idle_end < wake ? idle_end : wake;
                }
                int timeout = wake < 0 ? -1 : (int)((wake - now) / 1000000 + 1);
                if (poll(p, n, timeout) < 0 && errno != EINTR)
                        break;
                if (p[0].revents & POLLIN) {
                        struct signalfd_siginfo si;
                        while (read(w->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                                if (si.ssi_signo == SIGCHLD)
                                        continue;
                                if (w->stopping++ == 0) {
                                        fprintf(stderr,
                                                "runcell warm: stopping (the runs lent finish; "
                                                "a second signal ends them)\n");
                                        stop(w);
                                } else {
                                        for (size_t i = 0; i < w->nlent; i++)
                                                kill_pidfd(w->lent[i].pidfd);
                                        if (w->wpid > 0)
                                                kill(w->wpid, SIGKILL);
                                }
                        }
                }
                if (w->lfd >= 0 && (p[1].revents & POLLIN))
                        on_accept(w);
                if (w->ino >= 0 && (p[2].revents & POLLIN))
                        on_inotify(w);
                if (w->wpid > 0 && (p[3].revents & POLLIN))
                        on_worker(w);
                /* connections (from the end: dropping one moves the last into its place) */
                for (size_t i = w->nconns; i-- > 0;)
                        on_conn(w, i);
                for (size_t i = w->nstock; i-- > 0;)
                        if (gone(w->stock[i].fds[0]))
                                retire(w, i);
        }
        fprintf(stderr, "runcell warm: %llu sandboxes lent, %llu of them ready ahead\n",
                w->lent_total, w->from_stock);
        stop(w);
        for (size_t i = 0; i < w->nconns; i++)
                close(w->conns[i]);
        for (size_t k = 0; k < w->nkeys; k++)
                free(w->keys[k].msg);
        if (w->sfd >= 0)
                close(w->sfd);
        if (w->ino >= 0)
                close(w->ino);
        free(buf);
        free(w);
        close(lfd_lock);
        return 0;
}
