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
#include <ucontext.h>
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

/* What a probe child did. A fault signal (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP) is also
 * recorded by a handler in the child before the child dies of it, with its siginfo and the
 * instruction pointer, so that a kernel's refusal can be told from an ordinary crash. */
typedef struct outcome {
        bool installed; /* the child installed the filter */
        bool killed;    /* the child died by a signal (sig) before reporting */
        int sig;
        long ret; /* the probe's return value and errno */
        int err;
        pid_t pid;    /* the child's pid, as getpid() saw it */
        bool faulted; /* the fault handler ran (fields below) */
        int fault_sig;
        int fault_code;       /* si_code */
        uintptr_t fault_addr; /* si_addr */
        uintptr_t fault_ip;   /* the interrupted instruction pointer (0 if unknown) */
        long fault_trapno;    /* the CPU exception (13 is #GP) and its error code, x86_64 only */
        long fault_err;
        unsigned char fault_insn[2]; /* its first bytes when it is a known probe instruction */
} outcome_t;

typedef long (*probe_fn)(const void *arg);

#if defined(__x86_64__)
/* Two functions in assembly, so that the address of their int instruction is known:
 *   long int80_call(long nr): eax = nr; int $0x80 (the i386 entry) -> eax
 *   void int81_call(void): int $0x81, a vector with no user gate: always a #GP (SIGSEGV,
 *       si_code SI_KERNEL), the very fault a kernel without IA32 emulation gives for int $0x80
 * int $0x80 zeroes r8-r11 on return; they are caller-saved, so a call may clobber them. */
__asm__(".pushsection .text\n"
        ".globl rc_test_int80_call\n.hidden rc_test_int80_call\n"
        ".type rc_test_int80_call, @function\n"
        "rc_test_int80_call:\n"
        "\tendbr64\n"
        "\tmovq %rdi, %rax\n"
        ".globl rc_test_int80_insn\n.hidden rc_test_int80_insn\n"
        "rc_test_int80_insn:\n"
        "\tint $0x80\n"
        "\tret\n"
        ".size rc_test_int80_call, .-rc_test_int80_call\n"
        ".globl rc_test_int81_call\n.hidden rc_test_int81_call\n"
        ".type rc_test_int81_call, @function\n"
        "rc_test_int81_call:\n"
        "\tendbr64\n"
        ".globl rc_test_int81_insn\n.hidden rc_test_int81_insn\n"
        "rc_test_int81_insn:\n"
        "\tint $0x81\n"
        "\tret\n"
        ".size rc_test_int81_call, .-rc_test_int81_call\n"
        ".popsection\n");
long rc_test_int80_call(long nr);
void rc_test_int81_call(void);
extern const unsigned char rc_test_int80_insn[], rc_test_int81_insn[];
#endif

enum { MSG_RESULT = 1, MSG_FAULT = 2 };

typedef struct probe_msg {
        int kind;
        int installed;
        long ret;
        int err;
        pid_t pid;
        int sig, code;
        uintptr_t addr, ip;
        long trapno, errcode;
        unsigned char insn[2];
} probe_msg_t;

static int probe_report_fd = -1;

static void write_msg(const probe_msg_t *m)
{
        const char *p = (const char *)m;
        size_t left = sizeof(*m);
        while (left > 0) {
                ssize_t w = write(probe_report_fd, p, left);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return;
                p += w;
                left -= (size_t)w;
        }
}

/* In the probe child: record the fault, then die of it. The handler is reset on entry
 * (SA_RESETHAND), so a fault raised by an instruction kills the child when the handler
 * returns and the instruction runs again; a signal sent by a process is sent once more. */
static void fault_handler(int sig, siginfo_t *si, void *ucv)
{
        int saved = errno;
        probe_msg_t m = {.kind = MSG_FAULT, .installed = 1, .sig = sig, .code = si->si_code};
        m.addr = (uintptr_t)si->si_addr;
#if defined(__x86_64__)
        const ucontext_t *uc = ucv;
        m.ip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
        m.trapno = (long)uc->uc_mcontext.gregs[REG_TRAPNO];
        m.errcode = (long)uc->uc_mcontext.gregs[REG_ERR];
        /* read the bytes only where they are known to be mapped */
        if (m.ip == (uintptr_t)rc_test_int80_insn || m.ip == (uintptr_t)rc_test_int81_insn)
                memcpy(m.insn, (const void *)m.ip, sizeof(m.insn));
#else
        (void)ucv;
#endif
        write_msg(&m);
        if (si->si_code <= 0) /* sent by kill, tgkill, sigqueue, ...: nothing to re-execute */
                raise(sig);
        errno = saved;
}

static const int fault_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP};

/* In the probe child, before the probe: forget the handlers inherited from the test binary
 * (a sanitizer's SIGSEGV handler would turn a fault into an exit status) and install ours. */
static void probe_child_signals(void)
{
        static const int others[] = {SIGSYS, SIGABRT, SIGPIPE, SIGXFSZ, SIGXCPU};
        for (size_t i = 0; i < TU_COUNT(others); i++)
                signal(others[i], SIG_DFL);
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_sigaction = fault_handler;
        sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER;
        sigemptyset(&sa.sa_mask);
        for (size_t i = 0; i < TU_COUNT(fault_signals); i++)
                sigaction(fault_signals[i], &sa, NULL);
        /* and no alternate stack: the handler runs on the probe's own */
        stack_t none = {.ss_flags = SS_DISABLE};
        sigaltstack(&none, NULL);
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
}

/* Fork; the child resets its signal handlers, sets no_new_privs, installs b (none when
 * NULL), runs fn(arg) and reports {ret, errno} through a pipe. */
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
                probe_msg_t m = {.kind = MSG_RESULT};
                close(p[0]);
                probe_report_fd = p[1];
                probe_child_signals();
                m.pid = getpid();
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
                        m.err = errno;
                } else if (b && (m.err = -seccomp_bpf_install(b)) != 0) {
                        /* not installed: m.err holds the errno */
                } else {
                        errno = 0;
                        m.installed = 1;
                        m.ret = fn(arg);
                        m.err = errno;
                }
                write_msg(&m);
                _exit(0);
        }
        close(p[1]);
        bool have_result = false, have_fault = false;
        probe_msg_t m, result = {0}, fault = {0};
        for (;;) {
                size_t got = 0;
                while (got < sizeof(m)) {
                        ssize_t n = read(p[0], (char *)&m + got, sizeof(m) - got);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0)
                                break;
                        got += (size_t)n;
                }
                if (got < sizeof(m))
                        break;
                if (m.kind == MSG_RESULT && !have_result) {
                        result = m;
                        have_result = true;
                } else if (m.kind == MSG_FAULT && !have_fault) {
                        fault = m;
                        have_fault = true;
                }
        }
        close(p[0]);
        int st = 0;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
        o.pid = pid;
        if (have_fault) {
                o.faulted = true;
                o.fault_sig = fault.sig;
                o.fault_code = fault.code;
                o.fault_addr = fault.addr;
                o.fault_ip = fault.ip;
                o.fault_trapno = fault.trapno;
                o.fault_err = fault.errcode;
                memcpy(o.fault_insn, fault.insn, sizeof(o.fault_insn));
        }
        if (have_result && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
                o.installed = result.installed == 1;
                o.ret = result.ret;
                o.err = result.err;
                o.pid = result.pid;
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
        (void)arg;
        return syscall(0x40000000L | SYS_getpid);
}

/* getpid through the 32-bit int $0x80 entry (i386 number 20). */
static long probe_int80(const void *arg)
{
        (void)arg;
        return rc_test_int80_call(20);
}

static long probe_int81(const void *arg)
{
        (void)arg;
        rc_test_int81_call();
        return 0;
}
#endif

/* A write to an unmapped address (passed in, so the compiler cannot see it). */
static long probe_bad_write(const void *arg)
{
        *(volatile int *)(uintptr_t)arg = 1;
        return 0;
}

static long probe_raise_segv(const void *arg)
{
        (void)arg;
        raise(SIGSEGV);
        return 0;
}

/* ---- int $0x80 with and without IA32 emulation ----
 *
 * With IA32 emulation (CONFIG_IA32_EMULATION, not turned off by ia32_emulation=0), int $0x80
 * on x86_64 enters the i386 system call table, and the filter, which knows only x86_64, must
 * kill the process (SIGSYS). Without it the kernel refuses the entry itself: the vector has
 * no user gate, so the instruction raises #GP and the process gets SIGSEGV with si_code
 * SI_KERNEL and si_addr 0 at the int $0x80 instruction. Both are refusals; anything else (the
 * call returning, or a SIGSEGV of another kind) is not.
 *
 * Whether this host has it is found out by a probe without any filter (getpid through
 * int $0x80 returns the pid, or the kernel refuses). RUNCELL_TEST_IA32=on|off overrides the
 * answer, for testing these tests: with "off" on a host that has IA32 emulation, the
 * assertions must still pass (SIGSYS is accepted either way). */

typedef enum { IA32_UNKNOWN, IA32_ON, IA32_OFF } ia32_t;

static const char *ia32_name(ia32_t v)
{
        return v == IA32_ON ? "on" : v == IA32_OFF ? "off" : "unknown";
}

static char *describe_outcome(const outcome_t *o, char *buf, size_t n)
{
        int k;
        if (o->killed)
                k = snprintf(buf, n, "killed by signal %d (%s)", o->sig, strsignal(o->sig));
        else
                k = snprintf(buf, n, "returned %ld (errno %d, pid %ld)", o->ret, o->err,
                             (long)o->pid);
        if (o->faulted && k >= 0 && (size_t)k < n)
                snprintf(buf + k, n - (size_t)k,
                         "; fault: signal %d si_code %d si_addr %#lx ip %#lx insn %02x %02x "
                         "trap %ld error %#lx",
                         o->fault_sig, o->fault_code, (unsigned long)o->fault_addr,
                         (unsigned long)o->fault_ip, o->fault_insn[0], o->fault_insn[1],
                         o->fault_trapno, (unsigned long)o->fault_err);
        return buf;
}

/* NULL when o is the kernel refusing int $0x80 (see above), else why it is not. */
static const char *not_kernel_refusal(const outcome_t *o, char *buf, size_t n)
{
#if defined(__x86_64__)
        if (!o->killed)
                return "the probe was not killed";
        if (o->sig != SIGSEGV) {
                snprintf(buf, n, "killed by signal %d, not SIGSEGV", o->sig);
                return buf;
        }
        if (!o->faulted || o->fault_sig != SIGSEGV)
                return "no SIGSEGV was delivered to the probe's handler";
        if (o->fault_code != SI_KERNEL) {
                snprintf(buf, n, "si_code %d, not SI_KERNEL (%d): not the kernel's #GP",
                         o->fault_code, SI_KERNEL);
                return buf;
        }
        if (o->fault_addr != 0) {
                snprintf(buf, n, "si_addr %#lx, not 0", (unsigned long)o->fault_addr);
                return buf;
        }
        if (o->fault_ip != (uintptr_t)rc_test_int80_insn) {
                snprintf(buf, n, "the fault is at %#lx, not at the int $0x80 instruction (%p)",
                         (unsigned long)o->fault_ip, (const void *)rc_test_int80_insn);
                return buf;
        }
        if (o->fault_insn[0] != 0xcd || o->fault_insn[1] != 0x80) {
                snprintf(buf, n, "the instruction at the fault is %02x %02x, not cd 80",
                         o->fault_insn[0], o->fault_insn[1]);
                return buf;
        }
        /* #GP (13) with the error code of IDT vector 0x80 ((0x80 << 3) | 2), or 0 on kernels
         * with FRED, which report an int without a user gate as #GP(0) */
        if (o->fault_trapno != 13 || (o->fault_err != 0x402 && o->fault_err != 0)) {
                snprintf(buf, n, "exception %ld error code %#lx, not #GP (13) for vector 0x80",
                         o->fault_trapno, (unsigned long)o->fault_err);
                return buf;
        }
        return NULL;
#else
        (void)o;
        (void)buf;
        (void)n;
        return "not x86_64";
#endif
}

/* What int $0x80 getpid without a filter says about this kernel; why when UNKNOWN. */
static ia32_t classify_unfiltered_int80(const outcome_t *o, char *why, size_t n)
{
        char tmp[160];
        if (!o->killed && o->pid > 0 && o->ret == o->pid)
                return IA32_ON;
        const char *r = not_kernel_refusal(o, tmp, sizeof(tmp));
        if (!r)
                return IA32_OFF;
        char d[256];
        snprintf(why, n,
                 "int $0x80 getpid neither returned the pid nor was refused by the "
                 "kernel (%s): %s",
                 r, describe_outcome(o, d, sizeof(d)));
        return IA32_UNKNOWN;
}

/* NULL when o (int $0x80 getpid under the default filter) is a refusal right for a kernel
 * whose IA32 emulation is ia32, else why not. */
static const char *int80_verdict(const outcome_t *o, ia32_t ia32, char *buf, size_t n)
{
        char d[256], tmp[160];
        if (o->killed && o->sig == SIGSYS)
                return NULL; /* the filter killed it */
        if (ia32 != IA32_OFF) {
                snprintf(buf, n, "IA32 emulation is %s: want death by SIGSYS, got %s",
                         ia32_name(ia32), describe_outcome(o, d, sizeof(d)));
                return buf;
        }
        const char *r = not_kernel_refusal(o, tmp, sizeof(tmp));
        if (!r)
                return NULL;
        snprintf(buf, n,
                 "IA32 emulation is off: want SIGSYS or the kernel's SIGSEGV (SI_KERNEL at the "
                 "int $0x80), got %s: %s",
                 describe_outcome(o, d, sizeof(d)), r);
        return buf;
}

/* This host's IA32 emulation, or RUNCELL_TEST_IA32's; IA32_UNKNOWN after recording a
 * failure. */
static ia32_t host_ia32(void)
{
#if defined(__x86_64__)
        outcome_t o = run_probe(NULL, probe_int80, NULL);
        char why[512];
        ia32_t real = classify_unfiltered_int80(&o, why, sizeof(why));
        const char *force = getenv("RUNCELL_TEST_IA32");
        if (force && *force) {
                ia32_t f = !strcmp(force, "on")    ? IA32_ON
                           : !strcmp(force, "off") ? IA32_OFF
                                                   : IA32_UNKNOWN;
                if (f == IA32_UNKNOWN) {
                        FAIL("RUNCELL_TEST_IA32=%s: must be on or off", force);
                        return IA32_UNKNOWN;
                }
                fprintf(stderr,
                        "test_seccomp: RUNCELL_TEST_IA32=%s: IA32 emulation taken as %s "
                        "(the probe found it %s)\n",
                        force, force, ia32_name(real));
                return f;
        }
        if (real == IA32_UNKNOWN)
                FAIL("cannot tell whether this kernel has IA32 emulation: %s", why);
        return real;
#else
        return IA32_OFF;
#endif
}

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
         * filter must send them to the bad-arch action, not to the rules. The filter sees
         * them before the kernel's own x32 check, so this holds with or without
         * CONFIG_X86_X32_ABI. */
        expect_killed(&b, probe_x32, NULL, "x32 getpid");

        ia32_t ia32 = host_ia32();
        if (ia32 != IA32_UNKNOWN) {
                outcome_t o = run_probe(&b, probe_int80, NULL);
                char buf[768];
                const char *bad = o.installed ? int80_verdict(&o, ia32, buf, sizeof(buf)) : NULL;
                if (bad)
                        FAIL("int $0x80 getpid under the default filter: %s", bad);
        }
        seccomp_bpf_free(&b);
#else
        tu_skip("x86_64 only");
#endif
}

/* The classifier above, fed outcomes of both kinds of kernel and of other crashes; the
 * SIGSEGVs are real ones where this host can give them. */
static void test_int80_classifier(void)
{
#if defined(__x86_64__)
        char buf[768];
        const pid_t pid = 4242;
        const outcome_t returned = {.installed = true, .ret = pid, .pid = pid};
        const outcome_t enosys = {.installed = true, .ret = -ENOSYS, .pid = pid};
        const outcome_t sigsys = {.installed = true, .killed = true, .sig = SIGSYS, .pid = pid};
        const outcome_t refused = {.installed = true,
                                   .killed = true,
                                   .sig = SIGSEGV,
                                   .pid = pid,
                                   .faulted = true,
                                   .fault_sig = SIGSEGV,
                                   .fault_code = SI_KERNEL,
                                   .fault_addr = 0,
                                   .fault_ip = (uintptr_t)rc_test_int80_insn,
                                   .fault_trapno = 13,
                                   .fault_err = 0x402,
                                   .fault_insn = {0xcd, 0x80}};

        /* detection without a filter */
        CHECK_INT_EQ(classify_unfiltered_int80(&returned, buf, sizeof(buf)), IA32_ON);
        CHECK_INT_EQ(classify_unfiltered_int80(&refused, buf, sizeof(buf)), IA32_OFF);
        CHECK_INT_EQ(classify_unfiltered_int80(&sigsys, buf, sizeof(buf)), IA32_UNKNOWN);
        CHECK_INT_EQ(classify_unfiltered_int80(&enosys, buf, sizeof(buf)), IA32_UNKNOWN);
        CHECK_CONTAINS(buf, "returned -38");

        /* under the filter: SIGSYS is right on both kinds; a kernel SIGSEGV only without
         * IA32 emulation; a call that returns never */
        CHECK(int80_verdict(&sigsys, IA32_ON, buf, sizeof(buf)) == NULL);
        CHECK(int80_verdict(&sigsys, IA32_OFF, buf, sizeof(buf)) == NULL);
        CHECK(int80_verdict(&refused, IA32_OFF, buf, sizeof(buf)) == NULL);
        CHECK(int80_verdict(&refused, IA32_ON, buf, sizeof(buf)) != NULL);
        CHECK_CONTAINS(buf, "IA32 emulation is on: want death by SIGSYS");
        CHECK(int80_verdict(&returned, IA32_ON, buf, sizeof(buf)) != NULL);
        CHECK(int80_verdict(&returned, IA32_OFF, buf, sizeof(buf)) != NULL);
        CHECK_CONTAINS(buf, "the probe was not killed");
        CHECK(int80_verdict(&enosys, IA32_OFF, buf, sizeof(buf)) != NULL);

        /* a SIGSEGV that is not the kernel's refusal of int $0x80 is not accepted */
        outcome_t v = refused;
        v.fault_code = SEGV_MAPERR;
        CHECK(int80_verdict(&v, IA32_OFF, buf, sizeof(buf)) != NULL);
        CHECK_CONTAINS(buf, "not SI_KERNEL");
        v = refused;
        v.fault_code = SI_TKILL;
        CHECK(int80_verdict(&v, IA32_OFF, buf, sizeof(buf)) != NULL);
        v = refused;
        v.fault_addr = 0x10;
        CHECK(int80_verdict(&v, IA32_OFF, buf, sizeof(buf)) != NULL);
        CHECK_CONTAINS(buf, "si_addr 0x10");
        v = refused;
        v.fault_ip += 2;
        CHECK(int80_verdict(&v, IA32_OFF, buf, sizeof(buf)) != NULL);
        CHECK_CONTAINS(buf, "not at the int $0x80 instruction");
        v = refused;
        v.fault_insn[1] = 0x81;
        CHECK(int80_verdict(&v, IA32_OFF, buf, sizeof(buf)) != NULL);
        v = refused;
        v.fault_trapno = 14; /* a page fault */
        CHECK(int80_verdict(&v, IA32_OFF, buf, sizeof(buf)) != NULL);
        CHECK_CONTAINS(buf, "not #GP (13) for vector 0x80");
        v = refused;
        v.fault_err = 0x40a; /* vector 0x81 */
        CHECK(int80_verdict(&v, IA32_OFF, buf, sizeof(buf)) != NULL);
        v = refused;
        v.fault_err = 0;
        CHECK(int80_verdict(&v, IA32_OFF, buf, sizeof(buf)) == NULL);
        v = refused;
        v.faulted = false;
        CHECK(int80_verdict(&v, IA32_OFF, buf, sizeof(buf)) != NULL);
        CHECK_CONTAINS(buf, "no SIGSEGV was delivered");
        v = refused;
        v.sig = v.fault_sig = SIGBUS;
        CHECK(int80_verdict(&v, IA32_OFF, buf, sizeof(buf)) != NULL);
        CHECK_CONTAINS(buf, "not SIGSEGV");

        /* Real faults, under the default filter (the handler must work there too). */
        seccomp_bpf_t b = {0};
        REQUIRE(load_default(&b));
        /* int $0x81 has no user gate on any x86_64 kernel: the same #GP that int $0x80 gives
         * without IA32 emulation. Only its place differs from the accepted outcome. */
        outcome_t o = run_probe(&b, probe_int81, NULL);
        char d[256];
        if (o.installed) {
                if (!CHECK(o.killed && o.sig == SIGSEGV && o.faulted) ||
                    !CHECK_INT_EQ(o.fault_code, SI_KERNEL) || !CHECK(o.fault_addr == 0) ||
                    !CHECK(o.fault_ip == (uintptr_t)rc_test_int81_insn) ||
                    !CHECK(o.fault_insn[0] == 0xcd && o.fault_insn[1] == 0x81) ||
                    !CHECK_INT_EQ(o.fault_trapno, 13) ||
                    !CHECK(o.fault_err == 0x40a || o.fault_err == 0))
                        FAIL("int $0x81: %s", describe_outcome(&o, d, sizeof(d)));
                CHECK(int80_verdict(&o, IA32_OFF, buf, sizeof(buf)) != NULL);
                CHECK_CONTAINS(buf, "not at the int $0x80 instruction");
                o.fault_ip = (uintptr_t)rc_test_int80_insn;
                o.fault_insn[1] = 0x80;
                if (o.fault_err)
                        o.fault_err = 0x402;
                if (int80_verdict(&o, IA32_OFF, buf, sizeof(buf)) != NULL)
                        FAIL("the kernel's #GP, moved to the int $0x80: %s", buf);
        }
        /* an ordinary crash: SEGV_MAPERR at the address written */
        o = run_probe(&b, probe_bad_write, (const void *)16);
        if (o.installed) {
                if (!CHECK(o.killed && o.sig == SIGSEGV && o.faulted) ||
                    !CHECK_INT_EQ(o.fault_code, SEGV_MAPERR) || !CHECK(o.fault_addr == 16))
                        FAIL("write to 16: %s", describe_outcome(&o, d, sizeof(d)));
                CHECK(int80_verdict(&o, IA32_OFF, buf, sizeof(buf)) != NULL);
        }
        /* a SIGSEGV sent by a process */
        o = run_probe(&b, probe_raise_segv, NULL);
        if (o.installed) {
                if (!CHECK(o.killed && o.sig == SIGSEGV && o.faulted) ||
                    !CHECK_INT_EQ(o.fault_code, SI_TKILL))
                        FAIL("raise(SIGSEGV): %s", describe_outcome(&o, d, sizeof(d)));
                CHECK(int80_verdict(&o, IA32_OFF, buf, sizeof(buf)) != NULL);
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
        ia32_t ia32 = host_ia32();
        if (ia32 == IA32_UNKNOWN)
                return;
        if (ia32 == IA32_OFF) {
                /* int $0x80 never reaches a filter here (test_default_kills_other_abis checks
                 * that the kernel refuses it) */
                tu_skip("no IA32 emulation: int $0x80 cannot reach a filter that maps x86");
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
        outcome_t o = run_probe(&b, probe_int80, NULL);
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
            TU_TEST(test_default_kills_other_abis), TU_TEST(test_int80_classifier),
            TU_TEST(test_small_profile_args),       TU_TEST(test_includes_excludes),
            TU_TEST(test_arch_map_adds_x86),        TU_TEST(test_install_rejects_empty),
            TU_TEST(test_default_netlink),
        };
        return tu_main("test_seccomp", tests, TU_COUNT(tests), argc, argv);
}
