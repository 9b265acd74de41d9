/* The sandbox preparer's request as it travels to the helper (encode/decode), and the pool's
 * bookkeeping (by key, its size, growing after a take found it empty) with entries that hold no
 * sandbox. */
#include <errno.h>
#include <linux/filter.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "job/pool.h"
#include "job/preparer.h"
#include "testutil.h"

static struct sock_filter insns[3] = {
    {0x20, 0, 0, 4},
    {0x15, 0, 1, 0xc000003e},
    {0x06, 0, 0, 0x7fff0000},
};

static prep_params_t sample(seccomp_bpf_t *f)
{
        f->insns = insns;
        f->len = 3;
        f->name = NULL;
        return (prep_params_t){.rootfs = "/var/lib/runcell/rootfs/abc",
                               .host_uid = 65534,
                               .host_gid = 65533,
                               .seccomp = f,
                               .limits = {.memory_mb = 256, .processes = 64, .disk_mb = 32},
                               .cpus = 1.0};
}

static void test_round_trip(void)
{
        seccomp_bpf_t f;
        prep_params_t pp = sample(&f);
        /* 8-byte aligned like the helper's malloc'ed buffer */
        uint64_t store[PREP_MSG_MAX / 8];
        char *buf = (char *)store;
        ssize_t n = prep_wire_encode(&pp, 1234, 7, true, buf, sizeof(store));
        REQUIRE(n > 0);
        prep_params_t got;
        seccomp_bpf_t gf;
        pid_t owner;
        unsigned seq;
        bool existing;
        CHECK_OK(prep_wire_decode(buf, (size_t)n, &got, &gf, &owner, &seq, &existing));
        CHECK_STR_EQ(got.rootfs, pp.rootfs);
        CHECK_INT_EQ(got.host_uid, 65534);
        CHECK_INT_EQ(got.host_gid, 65533);
        CHECK_INT_EQ(got.limits.memory_mb, 256);
        CHECK_INT_EQ(got.limits.processes, 64);
        CHECK_INT_EQ(got.limits.disk_mb, 32);
        CHECK(got.cpus == 1.0);
        CHECK_INT_EQ(owner, 1234);
        CHECK_INT_EQ(seq, 7);
        CHECK(existing);
        REQUIRE(got.seccomp == &gf);
        CHECK_INT_EQ(gf.len, 3);
        /* the program lands aligned, so the kernel and C code may read it in place */
        CHECK_INT_EQ((uintptr_t)gf.insns % 8, 0);
        CHECK(memcmp(gf.insns, insns, sizeof(insns)) == 0);
}

/* Two requests that differ only in how the leaf is named compare equal once normalized (the key
 * runcell warm keeps its stock under); one that differs in anything else does not. */
static void test_normalize(void)
{
        seccomp_bpf_t f;
        prep_params_t pp = sample(&f);
        uint64_t a[PREP_MSG_MAX / 8], b[PREP_MSG_MAX / 8];
        ssize_t na = prep_wire_encode(&pp, 1234, 7, true, a, sizeof(a));
        ssize_t nb = prep_wire_encode(&pp, 99, 1, false, b, sizeof(b));
        REQUIRE(na > 0 && na == nb);
        CHECK(memcmp(a, b, (size_t)na) != 0);
        prep_wire_normalize(a);
        prep_wire_normalize(b);
        CHECK(memcmp(a, b, (size_t)na) == 0);
        pp.limits.memory_mb = 512;
        nb = prep_wire_encode(&pp, 1234, 7, true, b, sizeof(b));
        prep_wire_normalize(b);
        CHECK(nb == na && memcmp(a, b, (size_t)na) != 0);
        /* still a request that decodes */
        prep_params_t got;
        seccomp_bpf_t gf;
        pid_t owner;
        unsigned seq;
        bool existing;
        CHECK_OK(prep_wire_decode(a, (size_t)na, &got, &gf, &owner, &seq, &existing));
        CHECK_INT_EQ(owner, 0);
        CHECK_INT_EQ(seq, 0);
        CHECK(!existing);
}

static void test_no_filter_no_leaf(void)
{
        seccomp_bpf_t f;
        prep_params_t pp = sample(&f);
        pp.seccomp = NULL;
        uint64_t store[512];
        ssize_t n = prep_wire_encode(&pp, 1, 0, false, store, sizeof(store));
        REQUIRE(n > 0);
        prep_params_t got;
        seccomp_bpf_t gf;
        pid_t owner;
        unsigned seq;
        bool existing;
        CHECK_OK(prep_wire_decode(store, (size_t)n, &got, &gf, &owner, &seq, &existing));
        CHECK(got.seccomp == NULL);
        CHECK_INT_EQ(seq, 0);
        CHECK(!existing);
}

static void test_too_large(void)
{
        seccomp_bpf_t f;
        prep_params_t pp = sample(&f);
        uint64_t store[8];
        CHECK_INT_EQ(prep_wire_encode(&pp, 1, 1, false, store, sizeof(store)), -E2BIG);
}

static void test_bad_messages(void)
{
        seccomp_bpf_t f;
        prep_params_t pp = sample(&f);
        uint64_t store[512], copy[512];
        ssize_t n = prep_wire_encode(&pp, 1, 3, false, store, sizeof(store));
        REQUIRE(n > 0);
        prep_params_t got;
        seccomp_bpf_t gf;
        pid_t owner;
        unsigned seq;
        bool existing;
        /* every length short of the whole is refused, and so is one more */
        for (ssize_t k = 0; k < n; k += 4) {
                memcpy(copy, store, (size_t)n);
                CHECK_INT_EQ(prep_wire_decode(copy, (size_t)k, &got, &gf, &owner, &seq, &existing),
                             -EBADMSG);
        }
        memcpy(copy, store, (size_t)n);
        CHECK_INT_EQ(prep_wire_decode(copy, (size_t)n + 8, &got, &gf, &owner, &seq, &existing),
                     -EBADMSG);
        /* a wrong magic */
        memcpy(copy, store, (size_t)n);
        ((prep_wire_t *)copy)->magic ^= 1;
        CHECK_INT_EQ(prep_wire_decode(copy, (size_t)n, &got, &gf, &owner, &seq, &existing),
                     -EBADMSG);
        /* a root path that is not absolute */
        memcpy(copy, store, (size_t)n);
        ((char *)copy)[sizeof(prep_wire_t)] = 'x';
        CHECK_INT_EQ(prep_wire_decode(copy, (size_t)n, &got, &gf, &owner, &seq, &existing),
                     -EBADMSG);
        /* an existing leaf without a name */
        memcpy(copy, store, (size_t)n);
        ((prep_wire_t *)copy)->existing = 1;
        ((prep_wire_t *)copy)->seq = 0;
        CHECK_INT_EQ(prep_wire_decode(copy, (size_t)n, &got, &gf, &owner, &seq, &existing),
                     -EBADMSG);
        /* the root path's NUL overwritten up to the padding's end */
        memcpy(copy, store, (size_t)n);
        uint32_t rl = ((prep_wire_t *)copy)->rootfs_len;
        memset((char *)copy + sizeof(prep_wire_t), 'a', rl);
        ((char *)copy)[sizeof(prep_wire_t)] = '/';
        CHECK_INT_EQ(prep_wire_decode(copy, (size_t)n, &got, &gf, &owner, &seq, &existing),
                     -EBADMSG);
}

static void test_pool_empty_entries(void)
{
        /* Entries without a sandbox (none mode) are kept and handed out by key. */
        job_pool_t *p = job_pool_new(1);
        REQUIRE(p != NULL);
        seccomp_bpf_t f = {0};
        pool_key_t a = {"/r/a", &f, 32, NULL, false}, b = {"/r/b", &f, 32, NULL, false};
        prepared_t pr = {0};
        prep_ticket_t *t = (prep_ticket_t *)1;
        CHECK(!job_pool_take(p, &a, &pr, &t));
        CHECK(t == NULL);
        job_pool_put(p, &a, (prepared_t){0});
        job_pool_put(p, &a, (prepared_t){0}); /* over the size for a: dropped */
        CHECK_INT_EQ(job_pool_count(p, &a), 1);
        CHECK_INT_EQ(job_pool_count(p, &b), 0);
        CHECK(!job_pool_take(p, &b, &pr, &t));
        CHECK_INT_EQ(job_pool_target(p), 1); /* no take found it short yet */
        CHECK(job_pool_take(p, &a, &pr, &t));
        CHECK(t == NULL);
        CHECK_INT_EQ(job_pool_count(p, &a), 0);
        CHECK_INT_EQ(job_pool_target(p), 1);
        /* a key it never held is no sign of being short */
        CHECK(!job_pool_take(p, &b, &pr, &t));
        CHECK_INT_EQ(job_pool_target(p), 1);
        /* one it holds, found empty, is: twice the size for a while */
        CHECK(!job_pool_take(p, &a, &pr, &t));
        CHECK_INT_EQ(job_pool_target(p), 2);
        job_pool_put(p, &a, (prepared_t){0});
        job_pool_put(p, &a, (prepared_t){0});
        job_pool_put(p, &a, (prepared_t){0});
        CHECK_INT_EQ(job_pool_count(p, &a), 2);
        /* what the takes found: a once, nothing four times, none still being made */
        job_pool_stats_t st;
        job_pool_stats(p, &st);
        CHECK_INT_EQ(st.hits, 1);
        CHECK_INT_EQ(st.misses, 4);
        CHECK_INT_EQ(st.pending, 0);
        job_pool_clear(p); /* counters: kept */
        job_pool_stats(p, &st);
        CHECK_INT_EQ(st.hits + st.misses, 5);
        job_pool_free(p);
        job_pool_stats(NULL, &st);
        CHECK_INT_EQ(st.hits + st.misses + st.pending, 0);
}

/* A child of ours (exited at once, or pausing) as a sandbox the pool holds: only its pidfd. */
static prepared_t adopted_child(bool exit_now, pid_t *pid)
{
        prepared_t pr = {0};
        *pid = fork();
        if (*pid == 0) {
                if (!exit_now)
                        pause();
                _exit(0);
        }
        int fds[SB_EXPORT_FDS];
        for (int i = 0; i < SB_EXPORT_FDS; i++)
                fds[i] = -1;
        fds[0] = *pid > 0 ? (int)syscall(SYS_pidfd_open, *pid, 0) : -1;
        rc_err_t err = {0};
        if (fds[0] < 0 || sandbox_adopt(*pid, fds, &pr.sb, &err) < 0)
                pr.sb = NULL;
        return pr;
}

static void test_pool_drops_gone(void)
{
        /* A prepared sandbox whose init died while it waited (with the helper that made it) is
         * not handed out: the take frees it and gives the next one. */
        job_pool_t *p = job_pool_new(2);
        REQUIRE(p != NULL);
        seccomp_bpf_t f = {0};
        pool_key_t a = {"/r/a", &f, 32, NULL, false};
        pid_t dead, live;
        prepared_t d = adopted_child(true, &dead), l = adopted_child(false, &live);
        REQUIRE(d.sb != NULL && l.sb != NULL);
        int st;
        CHECK(waitpid(dead, &st, 0) == dead); /* reaped: its pidfd stays readable */
        sandbox_t *want = l.sb;
        CHECK(job_pool_put(p, &a, d));
        CHECK(job_pool_put(p, &a, l));
        prepared_t pr = {0};
        prep_ticket_t *t = NULL;
        CHECK(job_pool_take(p, &a, &pr, &t));
        CHECK(pr.sb == want);
        CHECK_INT_EQ(job_pool_count(p, &a), 0);
        prepared_destroy(&pr); /* kills it, waits for it on its pidfd */
        job_pool_free(p);
        kill(live, SIGKILL); /* in case the take gave the dead one */
        CHECK(waitpid(live, &st, 0) == live && WIFSIGNALED(st));
}

static void test_pool_kept(void)
{
        /* Sandboxes runs left (runs > 0): handed to any take but a fresh one's; owed while a
         * run has one, so the pool is not topped up for it; a clear makes what was taken
         * before stale. */
        job_pool_t *p = job_pool_new(1);
        REQUIRE(p != NULL);
        seccomp_bpf_t f = {0};
        pool_key_t a = {"/r/a", &f, 32, NULL, false}, fresh = {"/r/a", &f, 32, NULL, true};
        prepared_t pr = {0};
        prep_ticket_t *t = NULL;
        CHECK(job_pool_put_kept(p, &a, (prepared_t){.runs = 1}));
        CHECK_INT_EQ(job_pool_count(p, &a), 1);
        CHECK(!job_pool_take(p, &fresh, &pr, &t)); /* a judge's test: not this one */
        CHECK(t == NULL);
        CHECK_INT_EQ(job_pool_count(p, &a), 1);
        CHECK(job_pool_take(p, &a, &pr, &t));
        CHECK_INT_EQ(pr.runs, 1);
        CHECK_INT_EQ(job_pool_count(p, &a), 0);
        CHECK(job_pool_owe(p, &a, &pr)); /* to come back: counted */
        CHECK_INT_EQ(job_pool_count(p, &a), 1);
        pr.runs++;
        CHECK(job_pool_put_kept(p, &a, pr)); /* back: owed no more */
        CHECK_INT_EQ(job_pool_count(p, &a), 1);
        job_pool_stats_t st;
        job_pool_stats(p, &st);
        CHECK_INT_EQ(st.hits, 1);
        CHECK_INT_EQ(st.reused, 1);
        /* taken, owed, then given up: the debt ends */
        CHECK(job_pool_take(p, &a, &pr, &t));
        CHECK_INT_EQ(pr.runs, 2);
        CHECK(job_pool_owe(p, &a, &pr));
        job_pool_unowe(p, &a, &pr);
        CHECK_INT_EQ(job_pool_count(p, &a), 0);
        /* taken before a clear: its debt and its return are the old pool's */
        CHECK(job_pool_owe(p, &a, &pr));
        job_pool_clear(p);
        CHECK_INT_EQ(job_pool_count(p, &a), 0);
        CHECK(!job_pool_owe(p, &a, &pr));
        job_pool_unowe(p, &a, &pr);
        CHECK_INT_EQ(job_pool_count(p, &a), 0);
        job_pool_free(p);
}

int main(int argc, char **argv)
{
        static const tu_test_t tests[] = {
            TU_TEST(test_round_trip),         TU_TEST(test_no_filter_no_leaf),
            TU_TEST(test_too_large),          TU_TEST(test_bad_messages),
            TU_TEST(test_pool_empty_entries), TU_TEST(test_pool_drops_gone),
            TU_TEST(test_pool_kept),          TU_TEST(test_normalize),
        };
        return tu_main("test_preparer", tests, TU_COUNT(tests), argc, argv);
}
