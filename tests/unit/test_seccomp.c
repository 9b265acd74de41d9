/* seccomp/: parsing and compiling profiles, and what the compiled default profile does to a
 * process that installed it (each probe runs in its own forked child). */
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "seccomp/profile.h"
#include "testutil.h"

/* ---- helpers ---- */

static int compile_str(const char *json, seccomp_bpf_t *b, rc_err_t *err)
{
        rc_err_clear(err);
        return seccomp_profile_compile(json, strlen(json), "test.json", b, err);
}

static bool load_default(seccomp_bpf_t *b)
{
        char *path = tu_strf("%s/seccomp-profiles/default.json", tu_source_dir());
        rc_err_t err = {0};
        bool ok = CHECK_OK_E(seccomp_profile_load_file(path, b, &err), err);
        free(path);
        return ok;
}

typedef struct outcome {
        bool installed; /* the child installed the filter */
        bool killed;    /* the child died by a signal (sig) before reporting */
        int sig;
        long ret; /* the probe's return value and errno */
        int err;
} outcome_t;

typedef long (*probe_fn)(const void *arg);

/* Fork; the child sets no_new_privs, installs b (none when NULL), runs fn(arg) and reports
 * {ret, errno} through a pipe. */
static outcome_t run_probe(const seccomp_bpf_t *b, probe_fn fn, const void *arg)
{
        outcome_t o = {0};
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0) {
                FAIL("pipe2: %s", strerror(errno));
                return o;
        }
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
                FAIL("fork: %s", strerror(errno));
                close(p[0]);
                close(p[1]);
                return o;
        }
        if (pid == 0) {
                long msg[3] = {0, 0, 0};
                close(p[0]);
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
                        msg[2] = errno;
                } else if (b && (msg[2] = -seccomp_bpf_install(b)) != 0) {
                        /* not installed: msg[2] holds the errno */
                } else {
                        errno = 0;
                        msg[1] = fn(arg);
                        msg[2] = errno;
                        msg[0] = 1;
                }
                if (write(p[1], msg, sizeof(msg)) < 0)
                        _exit(2);
                _exit(0);
        }
        close(p[1]);
        long msg[3];
        ssize_t n;
        do
                n = read(p[0], msg, sizeof(msg));
        while (n < 0 && errno == EINTR);
        close(p[0]);
        int st = 0;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
        if (n == (ssize_t)sizeof(msg)) {
                o.installed = msg[0] == 1;
                o.ret = msg[1];
                o.err = (int)msg[2];
                if (!o.installed)
                        FAIL("installing the filter failed: %s", strerror(o.err));
        } else if (WIFSIGNALED(st)) {
                o.installed = true;
                o.killed = true;
                o.sig = WTERMSIG(st);
        } else {
                FAIL("probe child ended without a report (status %#x)", st);
        }
        return o;
}

/* A raw system call with fixed arguments. */
typedef struct raw_call {
        const char *name;
        long nr;
        long a[6];
} raw_call_t;

static long probe_raw(const void *arg)
{
        const raw_call_t *c = arg;
        return syscall(c->nr, c->a[0], c->a[1], c->a[2], c->a[3], c->a[4], c->a[5]);
}

/* Report a mismatch naming the call; want_errno 0 means "succeeds". */
static void expect_call(const seccomp_bpf_t *b, const raw_call_t *c, int want_errno)
{
        outcome_t o = run_probe(b, probe_raw, c);
        if (!o.installed)
                return;
        if (o.killed)
                FAIL("%s: killed by signal %d", c->name, o.sig);
        else if (want_errno && (o.ret != -1 || o.err != want_errno))
                FAIL("%s: returned %ld errno %d (%s), want errno %d", c->name, o.ret, o.err,
                     strerror(o.err), want_errno);
        else if (!want_errno && o.ret < 0)
                FAIL("%s: failed with errno %d (%s), want success", c->name, o.err,
                     strerror(o.err));
}

static void expect_killed(const seccomp_bpf_t *b, probe_fn fn, const void *arg, const char *what)
{
        outcome_t o = run_probe(b, fn, arg);
        if (o.installed && !(o.killed && o.sig == SIGSYS))
                FAIL("%s: want death by SIGSYS, got %s %d (ret %ld errno %d)", what,
                     o.killed ? "signal" : "no signal", o.sig, o.ret, o.err);
}

/* ---- parsing and compiling ---- */

static void test_default_profile_compiles(void)
{
        seccomp_bpf_t b = {0};
        REQUIRE(load_default(&b));
        CHECK_STR_EQ(b.name, "default");
        CHECK(b.insns != NULL);
        CHECK(b.len > 10);
        /* deterministic: compiling again gives the same program */
        seccomp_bpf_t again = {0};
        if (load_default(&again)) {
                CHECK_INT_EQ(again.len, b.len);
                if (again.len == b.len)
                        CHECK(memcmp(again.insns, b.insns, b.len * 8u) == 0);
        }
        seccomp_bpf_free(&again);
        seccomp_bpf_free(&b);
        CHECK(b.insns == NULL && b.name == NULL && b.len == 0);
        seccomp_bpf_free(&b);
        seccomp_bpf_free(NULL);
}

static void test_load_file_errors(void)
{
        const char *dir = tu_tmpdir();
        REQUIRE(dir);
        rc_err_t err = {0};
        seccomp_bpf_t b = {0};
        char *missing = tu_strf("%s/nope.json", dir);
        CHECK_FAIL(seccomp_profile_load_file(missing, &b, &err), -ENOENT);
        CHECK_CONTAINS(err.msg, "nope.json");
        free(missing);

        char *bad = tu_write_str(dir, "broken.json",
                                 "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [\n"
                                 " {\"names\": [\"read\"], \"action\": \"SCMP_ACT_FOO\"}]}");
        REQUIRE(bad);
        CHECK_FAIL(seccomp_profile_load_file(bad, &b, &err), -EINVAL);
        CHECK_CONTAINS(err.msg, "broken.json: syscalls[0]: unknown action \"SCMP_ACT_FOO\"");
        CHECK(b.insns == NULL && b.name == NULL);
        free(bad);

        char *ok = tu_write_str(dir, "tiny.json", "{\"defaultAction\": \"SCMP_ACT_ALLOW\"}");
        REQUIRE(ok);
        if (CHECK_OK_E(seccomp_profile_load_file(ok, &b, &err), err)) {
                CHECK_STR_EQ(b.name, "tiny");
                CHECK(b.len > 0);
        }
        seccomp_bpf_free(&b);
        free(ok);
}

typedef struct bad_case {
        const char *json;
        const char *want; /* in the message */
} bad_case_t;

static void test_broken_profiles(void)
{
        static const bad_case_t cases[] = {
            {"{\"defaultAction\": ", "test.json: invalid JSON"},
            {"[1, 2]", "test.json: must be a JSON object"},
            {"{\"syscalls\": []}", "missing \"defaultAction\""},
            {"{\"defaultAction\": \"SCMP_ACT_FOO\"}", "defaultAction: unknown action"},
            {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"defaultAktion\": 1}",
             "unknown key \"defaultAktion\""},
            {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"defaultErrnoRet\": 1}",
             "\"defaultErrnoRet\" is only valid with"},
            {"{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": \"1\"}",
             "\"defaultErrnoRet\" must be an integer"},
            {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"SCMP_ARCH_FOO\"]}",
             "architectures: unknown architecture \"SCMP_ARCH_FOO\""},
            {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": \"SCMP_ARCH_X86\"}",
             "\"architectures\" must be an array of strings"},
            {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"archMap\": [{\"architecture\": "
             "\"SCMP_ARCH_X86_64\", \"subArchitectures\": [\"SCMP_ARCH_BAR\"]}]}",
             "archMap[0]: unknown architecture \"SCMP_ARCH_BAR\""},
            {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": {}}",
             "\"syscalls\" must be an array"},
            {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [\n"
             " {\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\"},\n"
             " {\"names\": [\"write\"], \"action\": \"SCMP_ACT_FOO\"}]}",
             "test.json: syscalls[1]: unknown action \"SCMP_ACT_FOO\""},
            {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [\n"
             " {\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": [\n"
             "  {\"index\": 0, \"value\": 1, \"op\": \"SCMP_CMP_FOO\"}]}]}",
             "test.json: syscalls[0].args[0]: unknown op \"SCMP_CMP_FOO\""},
            {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [\n"
             " {\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": [\n"
             "  {\"index\": 0, \"value\": 1, \"op\": \"SCMP_CMP_EQ\"},\n"
             "  {\"index\": 6, \"value\": 1, \"op\": \"SCMP_CMP_EQ\"}]}]}",
             "test.json: syscalls[0].args[1]: \"index\" must be an integer from 0 to 5"},
            {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [\n"
             " {\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": [\n"
             "  {\"index\": 0, \"value\": -1, \"op\": \"SCMP_CMP_EQ\"}]}]}",
             "syscalls[0].args[0]: \"value\" must be an integer"},
            {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [\n"
             " {\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": [\n"
             "  {\"index\": 0, \"value\": 1.5, \"op\": \"SCMP_CMP_EQ\"}]}]}",
             "syscalls[0].args[0]: \"value\" must be an integer"},
            {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [\n"
             " {\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": [\n"
             "  {\"index\": 0, \"value\": 1, \"op\": \"SCMP_CMP_EQ\", \"bogus\": 1}]}]}",
             "syscalls[0].args[0]: unknown key \"bogus\""},
            {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [\n"
             " {\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\"},\n"
             " {\"names\": [\"write\"], \"action\": \"SCMP_ACT_ERRNO\"},\n"
             " {\"names\": [\"getpid\", \"notasyscall\"], \"action\": \"SCMP_ACT_ERRNO\"}]}",
             "test.json: syscalls[2]: unknown system call \"notasyscall\""},
            {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [\n"
             " {\"names\": \"read\", \"action\": \"SCMP_ACT_ERRNO\"}]}",
             "test.json: syscalls[0]: \"names\" must be an array of strings"},
            {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [\n"
             " {\"names\": [\"read\", 3], \"action\": \"SCMP_ACT_ERRNO\"}]}",
             "test.json: syscalls[0]: \"names\" must be an array of strings"},
            {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [\n"
             " {\"names\": [], \"action\": \"SCMP_ACT_ERRNO\"}]}",
             "syscalls[0]: no system call names"},
            {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [\n"
             " {\"nmes\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\"}]}",
             "syscalls[0]: unknown key \"nmes\""},
            {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [\n"
             " {\"names\": [\"read\"]}]}",
             "syscalls[0]: missing \"action\""},
            {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [\n"
             " {\"names\": [\"read\"], \"action\": \"SCMP_ACT_KILL\", \"errnoRet\": 1}]}",
             "syscalls[0]: \"errnoRet\" is only valid with"},
            {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [\n"
             " {\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 5000}]}",
             "syscalls[0]: \"errnoRet\" must be an integer from 0 to 4095"},
            {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [\n"
             " {\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": {}}]}",
             "syscalls[0]: \"args\" must be an array"},
            {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [\n"
             " {\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\",\n"
             "  \"includes\": {\"minKernel\": \"new\"}}]}",
             "syscalls[0].includes: bad minKernel \"new\""},
            {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [\n"
             " {\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\",\n"
             "  \"excludes\": {\"caps\": \"CAP_SYS_ADMIN\"}}]}",
             "syscalls[0].excludes: \"caps\" must be an array of strings"},
            {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [\n"
             " {\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\",\n"
             "  \"includes\": {\"kernel\": \"4.8\"}}]}",
             "syscalls[0].includes: unknown key \"kernel\""},
            {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [\n"
             " {\"names\": [\"close\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": [\n"
             "  {\"index\": 0, \"value\": 5, \"op\": \"SCMP_CMP_EQ\"}]},\n"
             " {\"names\": [\"close\"], \"action\": \"SCMP_ACT_KILL\", \"args\": [\n"
             "  {\"index\": 0, \"value\": 5, \"op\": \"SCMP_CMP_EQ\"}]}]}",
             "syscalls[1]: rule for \"close\" conflicts with an earlier one"},
            /* checked even when the entry does not apply on this machine */
            {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [\n"
             " {\"names\": [\"read\"], \"action\": \"SCMP_ACT_FOO\",\n"
             "  \"includes\": {\"caps\": [\"CAP_SYS_ADMIN\"]}}]}",
             "syscalls[0]: unknown action \"SCMP_ACT_FOO\""},
        };
        for (size_t i = 0; i < TU_COUNT(cases); i++) {
                rc_err_t err = {0};
                seccomp_bpf_t b = {0};
                int r = compile_str(cases[i].json, &b, &err);
                if (!CHECK_FAIL(r, -EINVAL) || !CHECK_CONTAINS(err.msg, cases[i].want))
                        FAIL("case %zu: %s", i, cases[i].json);
                CHECK(b.insns == NULL && b.name == NULL);
                seccomp_bpf_free(&b);
        }
}

static void test_lenient_parts(void)
{
        /* Names of other architectures' system calls are skipped; rules whose action is the
         * default are redundant; a full 64-bit value may be written as a string; foreign
         * architectures are ignored. */
        const char *json =
            "{\"comment\": \"x\", \"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 1,\n"
            " \"architectures\": [\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_AARCH64\",\n"
            "                   \"SCMP_ARCH_LOONGARCH64\"],\n"
            " \"archMap\": [{\"architecture\": \"SCMP_ARCH_AARCH64\",\n"
            "               \"subArchitectures\": [\"SCMP_ARCH_ARM\"]}],\n"
            " \"syscalls\": [\n"
            "  {\"names\": [\"socketcall\", \"arm_fadvise64_64\", \"read\"],\n"
            "   \"action\": \"SCMP_ACT_ALLOW\", \"comment\": \"y\"},\n"
            "  {\"name\": \"write\", \"action\": \"SCMP_ACT_ERRNO\"},\n"
            "  {\"names\": [\"ioctl\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": [\n"
            "   {\"index\": 1, \"value\": \"0xffffffffffffffff\", \"valueTwo\": 5,\n"
            "    \"op\": \"SCMP_CMP_MASKED_EQ\"}]},\n"
            "  {\"names\": [\"getpid\"], \"action\": \"SCMP_ACT_TRACE\", \"errnoRet\": 3},\n"
            "  {\"names\": [\"getppid\"], \"action\": \"SCMP_ACT_LOG\"},\n"
            "  {\"names\": [\"gettid\"], \"action\": \"SCMP_ACT_KILL_THREAD\"},\n"
            "  {\"names\": [\"getuid\"], \"action\": \"SCMP_ACT_KILL_PROCESS\"},\n"
            "  {\"names\": [\"getgid\"], \"action\": \"SCMP_ACT_TRAP\"},\n"
            "  {\"names\": [\"getegid\"], \"action\": \"SCMP_ACT_KILL\", \"args\": null}\n"
            " ]}";
        rc_err_t err = {0};
        seccomp_bpf_t b = {0};
        if (CHECK_OK_E(compile_str(json, &b, &err), err)) {
                CHECK_STR_EQ(b.name, "test.json");
                CHECK(b.len > 0);
        }
        seccomp_bpf_free(&b);
}

/* ---- behaviour of the default profile ---- */

static long probe_fork(const void *arg)
{
        pid_t pid = fork();
        if (pid < 0)
                return -1;
        if (pid == 0)
                _exit(7);
        int st;
        if (waitpid(pid, &st, 0) < 0)
                return -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : -100;
}

static void *thread_main(void *arg)
{
        return arg;
}

static long probe_thread(const void *arg)
{
        pthread_t t;
        int r = pthread_create(&t, NULL, thread_main, (void *)arg);
        if (r != 0) {
                errno = r;
                return -1;
        }
        void *res = NULL;
        pthread_join(t, &res);
        return res == arg ? 0 : -1;
}

/* clone with a namespace flag; a child (if the filter let it through) leaves at once. */
static long probe_clone_flags(const void *arg)
{
        long flags = *(const long *)arg;
        long r = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
        if (r == 0)
                _exit(0);
        if (r > 0)
                waitpid((pid_t)r, NULL, 0);
        return r;
}

static long probe_socket(const void *arg)
{
        const long *a = arg;
        long fd = syscall(SYS_socket, a[0], a[1], 0);
        if (fd >= 0)
                close((int)fd);
        return fd;
}

/* ioctl(request) on a pipe holding 3 bytes; FIONREAD answers 3. */
static long probe_ioctl(const void *arg)
{
        unsigned long req = *(const unsigned long *)arg;
        int p[2];
        if (pipe(p) < 0 || write(p[1], "abc", 3) != 3)
                return -100;
        int n = 0;
        char c = 'x';
        long r = syscall(SYS_ioctl, p[0], req,
                         (req & 0xffffffffUL) == FIONREAD ? (void *)&n : (void *)&c);
        int e = errno;
        close(p[0]);
        close(p[1]);
        errno = e;
        return r == 0 && (req & 0xffffffffUL) == FIONREAD ? n : r;
}

#if defined(__x86_64__)
static long probe_x32(const void *arg)
{
        return syscall(0x40000000L | SYS_getpid);
}

/* getpid through the 32-bit int $0x80 entry (i386 number 20). */
static long probe_int80(const void *arg)
{
        long ret;
        __asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory", "r8", "r9", "r10", "r11");
        return ret;
}
#endif

static void test_default_allows(void)
{
        seccomp_bpf_t b = {0};
        REQUIRE(load_default(&b));
        raw_call_t getpid_call = {"getpid", SYS_getpid, {0}};
        expect_call(&b, &getpid_call, 0);
        raw_call_t pers_query = {"personality(0xffffffff)", SYS_personality, {0xffffffffL}};
        expect_call(&b, &pers_query, 0);
        raw_call_t pers_linux = {"personality(PER_LINUX)", SYS_personality, {0}};
        expect_call(&b, &pers_linux, 0);

        outcome_t o = run_probe(&b, probe_fork, NULL);
        if (o.installed && (o.killed || o.ret != 7))
                FAIL("fork: ret %ld errno %d killed %d", o.ret, o.err, o.killed);
        o = run_probe(&b, probe_thread, &b);
        if (o.installed && (o.killed || o.ret != 0))
                FAIL("pthread_create: ret %ld errno %d (%s)", o.ret, o.err, strerror(o.err));

        static const long inet[2] = {AF_INET, SOCK_DGRAM}, unx[2] = {AF_UNIX, SOCK_STREAM},
                          unx_dgram[2] = {AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC};
        const long *ok_sockets[] = {inet, unx, unx_dgram};
        for (size_t i = 0; i < TU_COUNT(ok_sockets); i++) {
                o = run_probe(&b, probe_socket, ok_sockets[i]);
                if (o.installed && (o.killed || o.ret < 0))
                        FAIL("socket(%ld, %ld): errno %d (%s)", ok_sockets[i][0], ok_sockets[i][1],
                             o.err, strerror(o.err));
        }
        static const long inet6[2] = {AF_INET6, SOCK_DGRAM};
        o = run_probe(&b, probe_socket, inet6);
        if (o.installed && o.ret < 0 && o.err == EPERM)
                FAIL("socket(AF_INET6): EPERM");

        /* other ioctls pass, even with junk in the upper 32 bits of the request */
        static const unsigned long fionread = FIONREAD, fionread_high = FIONREAD | (1UL << 32);
        o = run_probe(&b, probe_ioctl, &fionread);
        if (o.installed && o.ret != 3)
                FAIL("ioctl(FIONREAD): ret %ld errno %d (%s)", o.ret, o.err, strerror(o.err));
        o = run_probe(&b, probe_ioctl, &fionread_high);
        if (o.installed && o.ret != 3)
                FAIL("ioctl(FIONREAD | 1 << 32): ret %ld errno %d (%s)", o.ret, o.err,
                     strerror(o.err));
        seccomp_bpf_free(&b);
}

static void test_default_denies(void)
{
        seccomp_bpf_t b = {0};
        REQUIRE(load_default(&b));
        /* Harmless arguments throughout: should the filter let one through, the call fails
         * on its own or does nothing that outlives the probe's child. */
        const long bad = -1;
        const raw_call_t denied[] = {
                {"unshare(CLONE_NEWUSER)", SYS_unshare, {CLONE_NEWUSER}},
                {"unshare(CLONE_NEWNET)", SYS_unshare, {CLONE_NEWNET}},
                {"setns", SYS_setns, {bad, 0}},
                {"mount", SYS_mount, {(long)"none", (long)"/nonexistent-runcell", (long)"tmpfs"}},
                {"umount2", SYS_umount2, {(long)"/nonexistent-runcell", 0}},
                {"pivot_root",
                 SYS_pivot_root,
                 {(long)"/nonexistent-runcell", (long)"/nonexistent-runcell"}},
                {"move_mount", SYS_move_mount, {bad, 0, bad, 0, 0}},
                {"open_tree", SYS_open_tree, {bad, 0, 0}},
                {"fsopen", SYS_fsopen, {0, 0}},
                {"fsconfig", SYS_fsconfig, {bad, 0, 0, 0, 0}},
                {"fsmount", SYS_fsmount, {bad, 0, 0}},
                {"fspick", SYS_fspick, {bad, 0, 0}},
                {"mount_setattr", SYS_mount_setattr, {bad, 0, 0, 0, 0}},
                {"chroot", SYS_chroot, {(long)"/nonexistent-runcell"}},
                {"ptrace(PTRACE_TRACEME)", SYS_ptrace, {0}},
                {"process_vm_readv", SYS_process_vm_readv, {0, 0, 0, 0, 0, 0}},
                {"process_vm_writev", SYS_process_vm_writev, {0, 0, 0, 0, 0, 0}},
                {"kcmp", SYS_kcmp, {0, 0, KCMP_FILE, 0, 0}},
                {"pidfd_getfd", SYS_pidfd_getfd, {bad, 0, 0}},
                {"keyctl", SYS_keyctl, {0 /* KEYCTL_GET_KEYRING_ID */, -3, 0}},
                {"add_key", SYS_add_key, {0, 0, 0, 0, 0}},
                {"request_key", SYS_request_key, {0, 0, 0, 0}},
                {"bpf", SYS_bpf, {bad, 0, 0}},
                {"perf_event_open", SYS_perf_event_open, {0, 0, bad, bad, 0}},
                {"userfaultfd", SYS_userfaultfd, {0}},
                {"io_uring_setup", SYS_io_uring_setup, {0, 0}},
                {"io_uring_enter", SYS_io_uring_enter, {bad, 0, 0, 0, 0, 0}},
                {"io_uring_register", SYS_io_uring_register, {bad, 0, 0, 0}},
                {"io_setup", SYS_io_setup, {0, 0}},
                {"name_to_handle_at", SYS_name_to_handle_at, {AT_FDCWD, 0, 0, 0, 0}},
                {"open_by_handle_at", SYS_open_by_handle_at, {bad, 0, 0}},
                {"reboot", SYS_reboot, {0, 0, 0, 0}},
                {"kexec_load", SYS_kexec_load, {0, 0, 0, 0x7fff0000}},
                {"kexec_file_load", SYS_kexec_file_load, {bad, bad, 0, 0, 0x7fff0000}},
                {"init_module", SYS_init_module, {0, 0, (long)""}},
                {"finit_module", SYS_finit_module, {bad, (long)"", 0}},
                {"delete_module", SYS_delete_module, {(long)"runcell_nonexistent", O_NONBLOCK}},
                {"swapon", SYS_swapon, {(long)"/nonexistent-runcell", 0}},
                {"swapoff", SYS_swapoff, {(long)"/nonexistent-runcell"}},
                {"acct", SYS_acct, {(long)"/nonexistent-runcell"}},
                {"settimeofday", SYS_settimeofday, {0, 0}},
                {"clock_settime", SYS_clock_settime, {bad, 0}},
                {"clock_adjtime", SYS_clock_adjtime, {bad, 0}},
                {"adjtimex", SYS_adjtimex, {0}},
                {"syslog", SYS_syslog, {10 /* SYSLOG_ACTION_SIZE_BUFFER */, 0, 0}},
                {"quotactl", SYS_quotactl, {0, 0, 0, 0}},
                {"fanotify_init", SYS_fanotify_init, {0, 0}},
                {"mbind", SYS_mbind, {0, 0, 0, 0, 0, 0}},
                {"set_mempolicy", SYS_set_mempolicy, {0, 0, 0}},
                {"get_mempolicy", SYS_get_mempolicy, {0, 0, 0, 0, 0}},
                {"migrate_pages", SYS_migrate_pages, {0, 0, 0, 0}},
                {"move_pages", SYS_move_pages, {0, 0, 0, 0, 0, 0}},
                {"sethostname", SYS_sethostname, {0, 100000}},
                {"setdomainname", SYS_setdomainname, {0, 100000}},
                {"personality(ADDR_NO_RANDOMIZE)", SYS_personality, {0x0040000}},
                {"personality(0x100000000)", SYS_personality, {0x100000000L}},
                {"socket(AF_PACKET)", SYS_socket, {17, SOCK_RAW, 0}},
                {"socket(AF_VSOCK)", SYS_socket, {40, SOCK_STREAM, 0}},
                {"socket(AF_PACKET | 1 << 32)", SYS_socket, {17L | (1L << 32), SOCK_RAW, 0}},
                {"socketpair(AF_INET)", SYS_socketpair, {AF_INET, SOCK_STREAM, 0, 0}},
                {"memfd_secret", SYS_memfd_secret, {0}},
                {"process_madvise", SYS_process_madvise, {bad, 0, 0, 0, 0}},
                {"sysfs", SYS_sysfs, {3}},
#if defined(__x86_64__)
                {"iopl", SYS_iopl, {0}},
                {"ioperm", SYS_ioperm, {0, 0, 0}},
                {"modify_ldt", SYS_modify_ldt, {0, 0, 0}},
                {"uselib", SYS_uselib, {0}},
                {"ustat", SYS_ustat, {0, 0}},
                {"_sysctl", SYS__sysctl, {0}},
                {"lookup_dcookie", SYS_lookup_dcookie, {0, 0, 0}},
#endif
        };
        for (size_t i = 0; i < TU_COUNT(denied); i++)
                expect_call(&b, &denied[i], EPERM);

        raw_call_t clone3 = {"clone3", SYS_clone3, {0, 0}};
        expect_call(&b, &clone3, ENOSYS);

        static const long ns_flags[] = {
            CLONE_NEWUSER, CLONE_NEWNS,  CLONE_NEWPID,    CLONE_NEWNET,
            CLONE_NEWUTS,  CLONE_NEWIPC, CLONE_NEWCGROUP, CLONE_NEWUSER | CLONE_NEWNET};
        for (size_t i = 0; i < TU_COUNT(ns_flags); i++) {
                outcome_t o = run_probe(&b, probe_clone_flags, &ns_flags[i]);
                if (o.installed && (o.ret != -1 || o.err != EPERM))
                        FAIL("clone(%#lx): ret %ld errno %d, want EPERM", ns_flags[i], o.ret,
                             o.err);
        }

        static const unsigned long ioctls[] = {TIOCSTI, TIOCSTI | (1UL << 32),
                                               TIOCSTI | 0xffffffff00000000UL, TIOCLINUX,
                                               TIOCLINUX | (1UL << 40)};
        for (size_t i = 0; i < TU_COUNT(ioctls); i++) {
                outcome_t o = run_probe(&b, probe_ioctl, &ioctls[i]);
                if (o.installed && (o.ret != -1 || o.err != EPERM))
                        FAIL("ioctl(%#lx): ret %ld errno %d, want EPERM", ioctls[i], o.ret, o.err);
        }
        seccomp_bpf_free(&b);
}

/* ---- netlink: NETLINK_ROUTE only ---- */

/* Under the filter: open a NETLINK_ROUTE socket as glibc's getifaddrs does, dump the links and
 * return how many there were (-1 with errno; ENOENT when "lo" was not among them). The probe
 * runs in the test's own network namespace, so nothing but reading is attempted. */
static long probe_rtnl_dump_links(const void *arg)
{
        (void)arg;
        bool saw_lo = false;
        int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (fd < 0)
                return -1;
        struct {
                struct nlmsghdr h;
                struct ifinfomsg i;
        } req = {.h = {.nlmsg_len = sizeof(req),
                       .nlmsg_type = RTM_GETLINK,
                       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
                       .nlmsg_seq = 1},
                 .i = {.ifi_family = AF_UNSPEC}};
        struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
        if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return -1;
        static char buf[65536] __attribute__((aligned(4)));
        long links = 0;
        for (;;) {
                ssize_t n = recv(fd, buf, sizeof(buf), 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return -1;
                int len = (int)n;
                for (struct nlmsghdr *m = (struct nlmsghdr *)buf; NLMSG_OK(m, len);
                     m = NLMSG_NEXT(m, len)) {
                        if (m->nlmsg_type == NLMSG_DONE) {
                                errno = saw_lo ? 0 : ENOENT;
                                return saw_lo ? links : -1;
                        }
                        if (m->nlmsg_type == NLMSG_ERROR) {
                                errno = -((struct nlmsgerr *)NLMSG_DATA(m))->error;
                                return -1;
                        }
                        if (m->nlmsg_type != RTM_NEWLINK)
                                continue;
                        links++;
                        struct ifinfomsg *ifi = NLMSG_DATA(m);
                        int alen = (int)IFLA_PAYLOAD(m);
                        for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, alen);
                             a = RTA_NEXT(a, alen))
                                if (a->rta_type == IFLA_IFNAME &&
                                    strcmp((const char *)RTA_DATA(a), "lo") == 0)
                                        saw_lo = true;
                }
        }
}

static void test_default_netlink(void)
{
        seccomp_bpf_t b = {0};
        REQUIRE(load_default(&b));
        /* AF_NETLINK = 16, NETLINK_ROUTE = 0; the kernel reads family, type and protocol as
         * ints, so junk in the upper 32 bits changes nothing on either side. */
        const raw_call_t allowed[] = {
            {"socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)", SYS_socket, {16, SOCK_RAW, 0}},
            {"socket(AF_NETLINK, SOCK_RAW|SOCK_CLOEXEC, NETLINK_ROUTE)",
             SYS_socket,
             {16, SOCK_RAW | SOCK_CLOEXEC, 0}},
            {"socket(AF_NETLINK, SOCK_RAW|SOCK_CLOEXEC|SOCK_NONBLOCK, NETLINK_ROUTE)",
             SYS_socket,
             {16, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0}},
            {"socket(AF_NETLINK, SOCK_DGRAM, NETLINK_ROUTE)", SYS_socket, {16, SOCK_DGRAM, 0}},
            {"socket(AF_NETLINK, SOCK_DGRAM|SOCK_NONBLOCK, NETLINK_ROUTE)",
             SYS_socket,
             {16, SOCK_DGRAM | SOCK_NONBLOCK, 0}},
            {"socket(AF_NETLINK | 1 << 32, SOCK_RAW, NETLINK_ROUTE)",
             SYS_socket,
             {16L | (1L << 32), SOCK_RAW, 0}},
            {"socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE | 1 << 32)",
             SYS_socket,
             {16, SOCK_RAW, 1L << 32}},
        };
        for (size_t i = 0; i < TU_COUNT(allowed); i++)
                expect_call(&b, &allowed[i], 0);

        /* Every other protocol (audit 9, kobject_uevent 15, netfilter 12, generic 16,
         * sock_diag 4, xfrm 6, connector 11, ...), with any type flags: EPERM. */
        static const long types[] = {SOCK_RAW, SOCK_RAW | SOCK_CLOEXEC,
                                     SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK};
        for (long proto = 1; proto < 32; proto++)
                for (size_t t = 0; t < TU_COUNT(types); t++) {
                        raw_call_t c = {"socket(AF_NETLINK, type, protocol)",
                                        SYS_socket,
                                        {16, types[t], proto}};
                        outcome_t o = run_probe(&b, probe_raw, &c);
                        if (o.installed && (o.killed || o.ret != -1 || o.err != EPERM))
                                FAIL("socket(AF_NETLINK, %#lx, %ld): ret %ld errno %d, want EPERM",
                                     types[t], proto, o.ret, o.err);
                }
        const raw_call_t denied[] = {
            {"socket(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT | 1 << 32)",
             SYS_socket,
             {16, SOCK_RAW, 9L | (1L << 32)}},
            {"socket(AF_NETLINK, SOCK_RAW, -1)", SYS_socket, {16, SOCK_RAW, 0xffffffffL}},
            {"socket(AF_NETLINK, SOCK_STREAM, NETLINK_ROUTE)", SYS_socket, {16, SOCK_STREAM, 0}},
            {"socket(AF_NETLINK, SOCK_SEQPACKET, NETLINK_ROUTE)",
             SYS_socket,
             {16, SOCK_SEQPACKET, 0}},
            {"socket(AF_NETLINK, SOCK_RAW | 0x40000000, NETLINK_ROUTE)",
             SYS_socket,
             {16, SOCK_RAW | 0x40000000L, 0}},
            {"socketpair(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)",
             SYS_socketpair,
             {16, SOCK_RAW, 0, 0}},
        };
        for (size_t i = 0; i < TU_COUNT(denied); i++)
                expect_call(&b, &denied[i], EPERM);

        /* the rest of a query (sendto, recv) passes too: a link dump of this namespace */
        outcome_t o = run_probe(&b, probe_rtnl_dump_links, NULL);
        if (o.installed && (o.killed || o.ret < 1))
                FAIL("RTM_GETLINK dump under the filter: ret %ld errno %d (%s)", o.ret, o.err,
                     strerror(o.err));
        seccomp_bpf_free(&b);
}

static void test_default_kills_other_abis(void)
{
#if defined(__x86_64__)
        seccomp_bpf_t b = {0};
        REQUIRE(load_default(&b));
        /* x32 numbers (bit 30 set) share the x86_64 audit arch: libseccomp's x86_64-only
         * filter must send them to the bad-arch action, not to the rules. */
        expect_killed(&b, probe_x32, NULL, "x32 getpid");

        outcome_t o = run_probe(NULL, probe_int80, NULL);
        if (o.killed || o.ret <= 0) {
                tu_skip("int $0x80 does not work here without a filter either (signal %d, "
                        "ret %ld): no IA32 emulation",
                        o.sig, o.ret);
        } else {
                expect_killed(&b, probe_int80, NULL, "int $0x80 getpid");
        }
        seccomp_bpf_free(&b);
#else
        tu_skip("x86_64 only");
#endif
}

/* ---- behaviour of argument comparisons and entry filters ---- */

static void test_small_profile_args(void)
{
        /* Calls that ignore their arguments (getppid, ...) but whose registers the filter
         * sees let every operator be checked without side effects. */
        const char *json =
            "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [\n"
            " {\"names\": [\"personality\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13,\n"
            "  \"args\": [{\"index\": 0, \"value\": 4294967295, \"op\": \"SCMP_CMP_EQ\"}]},\n"
            " {\"names\": [\"getppid\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13,\n"
            "  \"args\": [{\"index\": 0, \"value\": 5, \"op\": \"SCMP_CMP_NE\"}]},\n"
            " {\"names\": [\"getpgrp\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13,\n"
            "  \"args\": [{\"index\": 2, \"value\": 5, \"op\": \"SCMP_CMP_LT\"}]},\n"
            " {\"names\": [\"getegid\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13,\n"
            "  \"args\": [{\"index\": 3, \"value\": 5, \"op\": \"SCMP_CMP_LE\"}]},\n"
            " {\"names\": [\"geteuid\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13,\n"
            "  \"args\": [{\"index\": 4, \"value\": 5, \"op\": \"SCMP_CMP_GE\"}]},\n"
            " {\"names\": [\"sched_yield\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13,\n"
            "  \"args\": [{\"index\": 5, \"value\": \"0x100000000\", \"op\": \"SCMP_CMP_GT\"}]},\n"
            " {\"names\": [\"munlockall\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13,\n"
            "  \"args\": [{\"index\": 1, \"value\": 240, \"valueTwo\": 48,\n"
            "             \"op\": \"SCMP_CMP_MASKED_EQ\"}]},\n"
            " {\"names\": [\"alarm\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13,\n"
            "  \"args\": [{\"index\": 0, \"value\": 1, \"op\": \"SCMP_CMP_EQ\"},\n"
            "             {\"index\": 0, \"value\": 2, \"op\": \"SCMP_CMP_EQ\"}]},\n"
            " {\"names\": [\"getcpu\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13,\n"
            "  \"args\": [{\"index\": 0, \"value\": 0, \"op\": \"SCMP_CMP_EQ\"},\n"
            "             {\"index\": 1, \"value\": 0, \"op\": \"SCMP_CMP_EQ\"}]}\n"
            "]}";
        rc_err_t err = {0};
        seccomp_bpf_t b = {0};
        REQUIRE(CHECK_OK_E(compile_str(json, &b, &err), err));
        unsigned cpu = 0;
        const struct {
                raw_call_t call;
                bool denied;
        } cases[] = {
            {{"personality(0xffffffff)", SYS_personality, {0xffffffffL}}, true},
            {{"personality(0xffffffff | 1 << 32)", SYS_personality, {0x1ffffffffL}}, false},
            {{"personality(PER_LINUX)", SYS_personality, {0}}, false},
            {{"getppid NE 5: 5", SYS_getppid, {5}}, false},
            {{"getppid NE 5: 6", SYS_getppid, {6}}, true},
            {{"getppid NE 5: 5 | 1 << 32", SYS_getppid, {5L | (1L << 32)}}, true},
            {{"getpgrp LT 5: 4", SYS_getpgrp, {0, 0, 4}}, true},
            {{"getpgrp LT 5: 5", SYS_getpgrp, {0, 0, 5}}, false},
            {{"getegid LE 5: 5", SYS_getegid, {0, 0, 0, 5}}, true},
            {{"getegid LE 5: 6", SYS_getegid, {0, 0, 0, 6}}, false},
            {{"geteuid GE 5: 5", SYS_geteuid, {0, 0, 0, 0, 5}}, true},
            {{"geteuid GE 5: 4", SYS_geteuid, {0, 0, 0, 0, 4}}, false},
            {{"sched_yield GT 2^32: 2^32 + 1", SYS_sched_yield, {0, 0, 0, 0, 0, 0x100000001L}},
             true},
            {{"sched_yield GT 2^32: 2^32", SYS_sched_yield, {0, 0, 0, 0, 0, 0x100000000L}}, false},
            {{"munlockall & 0xf0 == 0x30: 0x3f", SYS_munlockall, {0, 0x3f}}, true},
            {{"munlockall & 0xf0 == 0x30: 0x4f", SYS_munlockall, {0, 0x4f}}, false},
            {{"alarm 1 or 2: 1", SYS_alarm, {1}}, true},
            {{"alarm 1 or 2: 2", SYS_alarm, {2}}, true},
            {{"alarm 1 or 2: 0", SYS_alarm, {0}}, false},
            {{"getcpu a0 == 0 && a1 == 0: both", SYS_getcpu, {0, 0, 0}}, true},
            {{"getcpu a0 == 0 && a1 == 0: a0 set", SYS_getcpu, {(long)&cpu, 0, 0}}, false},
        };
        for (size_t i = 0; i < TU_COUNT(cases); i++)
                expect_call(&b, &cases[i].call, cases[i].denied ? EACCES : 0);
        seccomp_bpf_free(&b);
}

static void test_includes_excludes(void)
{
        const char *json =
            "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [\n"
            " {\"names\": [\"getppid\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13,\n"
            "  \"includes\": {\"caps\": [\"CAP_SYS_ADMIN\"]}},\n"
            " {\"names\": [\"getpgrp\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13,\n"
            "  \"excludes\": {\"caps\": [\"CAP_SYS_ADMIN\"]}},\n"
            " {\"names\": [\"getegid\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13,\n"
            "  \"includes\": {\"arches\": [\"s390x\", \"ppc64le\"]}},\n"
            " {\"names\": [\"getgid\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13,\n"
            "  \"includes\": {\"arches\": [\"amd64\", \"arm64\"]}},\n"
            " {\"names\": [\"geteuid\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13,\n"
            "  \"excludes\": {\"arches\": [\"amd64\", \"arm64\"]}},\n"
            " {\"names\": [\"sched_yield\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13,\n"
            "  \"includes\": {\"minKernel\": \"3.10\"}},\n"
            " {\"names\": [\"munlockall\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13,\n"
            "  \"includes\": {\"minKernel\": \"99.0\"}}\n"
            "]}";
        rc_err_t err = {0};
        seccomp_bpf_t b = {0};
        REQUIRE(CHECK_OK_E(compile_str(json, &b, &err), err));
        const struct {
                raw_call_t call;
                bool denied;
        } cases[] = {
                {{"includes.caps", SYS_getppid, {0}}, false},
                {{"excludes.caps", SYS_getpgrp, {0}}, true},
                {{"includes.arches (other)", SYS_getegid, {0}}, false},
#if defined(__x86_64__) || defined(__aarch64__)
                {{"includes.arches (native)", SYS_getgid, {0}}, true},
                {{"excludes.arches (native)", SYS_geteuid, {0}}, false},
#endif
                {{"includes.minKernel 3.10", SYS_sched_yield, {0}}, true},
                {{"includes.minKernel 99.0", SYS_munlockall, {0}}, false},
        };
        for (size_t i = 0; i < TU_COUNT(cases); i++)
                expect_call(&b, &cases[i].call, cases[i].denied ? EACCES : 0);
        seccomp_bpf_free(&b);
}

static void test_arch_map_adds_x86(void)
{
#if defined(__x86_64__)
        outcome_t o = run_probe(NULL, probe_int80, NULL);
        if (o.killed || o.ret <= 0) {
                tu_skip("no IA32 emulation (int $0x80 fails without a filter)");
                return;
        }
        /* With x86 mapped in, int $0x80 calls go through the rules instead of being killed;
         * getpid is i386 number 20, translated by libseccomp. */
        const char *json = "{\"defaultAction\": \"SCMP_ACT_ALLOW\",\n"
                           " \"archMap\": [{\"architecture\": \"SCMP_ARCH_X86_64\",\n"
                           "   \"subArchitectures\": [\"SCMP_ARCH_X86\"]}],\n"
                           " \"syscalls\": [{\"names\": [\"getpid\"], \"action\": "
                           "\"SCMP_ACT_ERRNO\", \"errnoRet\": 13}]}";
        rc_err_t err = {0};
        seccomp_bpf_t b = {0};
        REQUIRE(CHECK_OK_E(compile_str(json, &b, &err), err));
        o = run_probe(&b, probe_int80, NULL);
        if (o.installed && (o.killed || o.ret != -EACCES))
                FAIL("int $0x80 getpid with x86 mapped: killed %d sig %d ret %ld", o.killed, o.sig,
                     o.ret);
        /* x32 is still not part of the filter */
        expect_killed(&b, probe_x32, NULL, "x32 getpid with only x86 mapped");
        seccomp_bpf_free(&b);
#else
        tu_skip("x86_64 only");
#endif
}

static void test_install_rejects_empty(void)
{
        seccomp_bpf_t b = {0};
        CHECK_FAIL(seccomp_bpf_install(&b), -EINVAL);
        CHECK_FAIL(seccomp_bpf_install(NULL), -EINVAL);
}

int main(int argc, char **argv)
{
        static const tu_test_t tests[] = {
            TU_TEST(test_default_profile_compiles), TU_TEST(test_load_file_errors),
            TU_TEST(test_broken_profiles),          TU_TEST(test_lenient_parts),
            TU_TEST(test_default_allows),           TU_TEST(test_default_denies),
            TU_TEST(test_default_kills_other_abis), TU_TEST(test_small_profile_args),
            TU_TEST(test_includes_excludes),        TU_TEST(test_arch_map_adds_x86),
            TU_TEST(test_install_rejects_empty),    TU_TEST(test_default_netlink),
        };
        return tu_main("test_seccomp", tests, TU_COUNT(tests), argc, argv);
}
