/* The parts of sandbox/ that need no namespaces: id maps, path validation, the mount plan,
 * sync messages, and placing/collecting /work files on an ordinary directory. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/mountplan.h"
#include "sandbox/sandbox-internal.h"
#include "sandbox/sandbox.h"
#include "sandbox/sync.h"
#include "testutil.h"

/* ---- id maps ---- */

static void test_id_map_line(void)
{
        char buf[64];
        int n = sb_id_map_line(buf, sizeof(buf), 1000);
        CHECK_INT_EQ(n, 9);
        CHECK_STR_EQ(buf, "0 1000 1\n");
        n = sb_id_map_line(buf, sizeof(buf), 0);
        CHECK_STR_EQ(buf, "0 0 1\n");
        CHECK_INT_EQ(n, 6);
        n = sb_id_map_line(buf, sizeof(buf), 4294967294UL);
        CHECK_STR_EQ(buf, "0 4294967294 1\n");
        CHECK_INT_EQ(n, (int)strlen(buf));
        /* exactly enough room: 9 characters + NUL */
        char ten[10];
        CHECK_INT_EQ(sb_id_map_line(ten, sizeof(ten), 1000), 9);
        CHECK_STR_EQ(ten, "0 1000 1\n");
}

static void test_id_map_line_truncated(void)
{
        char small[9];
        CHECK_FAIL(sb_id_map_line(small, sizeof(small), 1000), -ENAMETOOLONG);
        char tiny[4];
        CHECK_FAIL(sb_id_map_line(tiny, sizeof(tiny), 65534), -ENAMETOOLONG);
        CHECK_FAIL(sb_id_map_line(NULL, 0, 1), -ENAMETOOLONG);
}

/* ---- path validation ---- */

static void test_path_valid_accepts(void)
{
        static const char *const good[] = {
            "main.c",
            "src/util.h",
            "a-b_c+1@x.y",
            "Makefile",
            "a/b/c/d/e/f/g/h",
            "..a",
            "a..",
            ".hidden",
            "x.tar.gz",
            "A/B9",
            "node_modules/@scope/x.js",
            "a@b.c",
            "Main$.class",
            "Outer$Inner$1.class",
        };
        for (size_t i = 0; i < TU_COUNT(good); i++)
                if (!sb_path_valid(good[i]))
                        FAIL("sb_path_valid(\"%s\") is false", good[i]);
        char name[201];
        memset(name, 'n', 200);
        name[200] = '\0';
        CHECK(sb_path_valid(name)); /* exactly 200 bytes */
}

static void test_path_valid_rejects(void)
{
        static const char *const bad[] = {
            "",       "/etc/passwd", "../x",
            "a/../b", "a//b",        "a/",
            ".",      "..",          "./a",
            "a/.",    "a/..",        "a b",
            "a\nb",   "tab\tx",      "a\\b",
            "a*b",    "$HOME",       "a/$x",
            "a:b",    "caf\xC3\xA9", "a/b/c/d/e/f/g/h/i", /* 9 levels */
            "/",      "//",          "-B.c",
            "src/-o", "--help",      "@opts.c",
            "@",      "@x/main.c",
        };
        for (size_t i = 0; i < TU_COUNT(bad); i++)
                if (sb_path_valid(bad[i]))
                        FAIL("sb_path_valid(\"%s\") is true", bad[i]);
        char name[202];
        memset(name, 'n', 201);
        name[201] = '\0';
        CHECK(!sb_path_valid(name)); /* 201 bytes */
        /* long in total, short components */
        char *deep = tu_strf("%0100d/%0100d", 1, 2);
        CHECK(!sb_path_valid(deep)); /* 201 bytes */
        free(deep);
}

/* ---- mount plan ---- */

static const mount_op_t *expect_op(const mount_plan_t *plan, size_t i, mount_kind_t kind,
                                   const char *target, const char *source)
{
        if (i >= plan->n) {
                FAIL("op %zu (%s %s) missing: plan has %zu ops", i, mount_kind_name(kind), target,
                     plan->n);
                return NULL;
        }
        const mount_op_t *op = &plan->ops[i];
        if (op->kind != kind || strcmp(op->target, target) != 0 ||
            (source && strcmp(op->source, source) != 0)) {
                FAIL("op %zu is %s %s <- \"%s\", want %s %s <- \"%s\"", i,
                     mount_kind_name(op->kind), op->target, op->source, mount_kind_name(kind),
                     target, source ? source : "(any)");
                return NULL;
        }
        return op;
}

/* A function's artifact: /work is the host directory bound read-only, nothing else changes. */
static void test_mount_plan_work_dir(void)
{
        mount_plan_t plan, plain;
        rc_limits_t lim = {.disk_mb = 100};
        rc_err_t err = {0};
        REQUIRE(CHECK_OK_E(mount_plan_build(&plain, &lim, NULL, &err), err));
        REQUIRE(CHECK_OK_E(mount_plan_build(&plan, &lim, "/var/lib/x/artifacts/ab", &err), err));
        CHECK_STR_EQ(plain.work_source, "");
        CHECK_STR_EQ(plan.work_source, "/var/lib/x/artifacts/ab");
        const mount_op_t *op = expect_op(&plan, 0, MOUNT_OP_WORK_RO, "work", NULL);
        if (op)
                CHECK((op->flags & (MS_RDONLY | MS_NOSUID | MS_NODEV)) ==
                      (MS_RDONLY | MS_NOSUID | MS_NODEV));
        CHECK(plan.n == plain.n);
        for (size_t i = 1; i < plan.n && i < plain.n; i++)
                CHECK(plan.ops[i].kind == plain.ops[i].kind &&
                      strcmp(plan.ops[i].target, plain.ops[i].target) == 0);
        CHECK(mount_plan_build(&plan, &lim, "relative/dir", &err) == -EINVAL);
        CHECK_STR_EQ(mount_kind_name(MOUNT_OP_WORK_RO), "work-ro-bind");
}

static void test_mount_plan_layout(void)
{
        mount_plan_t plan;
        memset(&plan, 0xAA, sizeof(plan));
        rc_limits_t lim = {.disk_mb = 100};
        rc_err_t err = {0};
        REQUIRE(CHECK_OK_E(mount_plan_build(&plan, &lim, NULL, &err), err));
        CHECK(plan.n <= MOUNT_PLAN_MAX);
        size_t i = 0;
        const mount_op_t *op;

        op = expect_op(&plan, i++, MOUNT_OP_TMPFS, "work", NULL);
        if (op) {
                CHECK_CONTAINS(op->data, "size=100m");
                CHECK_CONTAINS(op->data, "nr_inodes=");
                CHECK(op->flags & MS_NOSUID);
                CHECK(op->flags & MS_NODEV);
        }
        op = expect_op(&plan, i++, MOUNT_OP_TMPFS, "tmp", NULL);
        if (op) {
                CHECK_CONTAINS(op->data, "size=100m");
                CHECK_CONTAINS(op->data, "nr_inodes=");
                CHECK_CONTAINS(op->data, "mode=1777");
                CHECK(op->flags & MS_NOSUID);
        }
        op = expect_op(&plan, i++, MOUNT_OP_PROC, "proc", NULL);
        if (op)
                CHECK((op->flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC)) ==
                      (MS_NOSUID | MS_NODEV | MS_NOEXEC));
        /* /proc masks: files under /dev/null, dirs under a read-only tmpfs, tunables read-only */
        CHECK(expect_op(&plan, i, MOUNT_OP_MASK_FILE, "proc/kcore", "/dev/null") != NULL);
        while (i < plan.n && plan.ops[i].kind == MOUNT_OP_MASK_FILE)
                i++;
        op = expect_op(&plan, i, MOUNT_OP_MASK_DIR, "proc/acpi", NULL);
        if (op)
                CHECK(op->flags & MS_RDONLY);
        while (i < plan.n && plan.ops[i].kind == MOUNT_OP_MASK_DIR)
                i++;
        op = expect_op(&plan, i, MOUNT_OP_RO_BIND, "proc/bus", NULL);
        bool saw_sys = false;
        while (i < plan.n && plan.ops[i].kind == MOUNT_OP_RO_BIND) {
                CHECK(plan.ops[i].flags & MS_RDONLY);
                saw_sys |= strcmp(plan.ops[i].target, "proc/sys") == 0;
                i++;
        }
        CHECK(saw_sys);
        op = expect_op(&plan, i++, MOUNT_OP_TMPFS, "dev", NULL);
        if (op) {
                CHECK(op->flags & MS_NOSUID);
                CHECK(op->flags & MS_NOEXEC);
                CHECK(!(op->flags & MS_NODEV)); /* it holds the device binds */
        }
        static const char *const devices[] = {"null", "zero", "full", "random", "urandom", "tty"};
        for (size_t d = 0; d < TU_COUNT(devices); d++) {
                char target[32], source[32];
                snprintf(target, sizeof(target), "dev/%s", devices[d]);
                snprintf(source, sizeof(source), "/dev/%s", devices[d]);
                expect_op(&plan, i++, MOUNT_OP_BIND_DEV, target, source);
        }
        op = expect_op(&plan, i++, MOUNT_OP_DEVPTS, "dev/pts", NULL);
        if (op) {
                CHECK_CONTAINS(op->data, "newinstance");
                CHECK_CONTAINS(op->data, "ptmxmode=0666");
        }
        op = expect_op(&plan, i++, MOUNT_OP_TMPFS, "dev/shm", NULL);
        if (op) {
                CHECK_CONTAINS(op->data, "nr_inodes=");
                CHECK(op->flags & MS_NODEV);
        }
        /* the POSIX message queues, where a recycled sandbox's reset finds them */
        op = expect_op(&plan, i++, MOUNT_OP_MQUEUE, "dev/mqueue", NULL);
        if (op)
                CHECK(op->flags & MS_NOEXEC);
        static const char *const links[][2] = {
            {"dev/ptmx", "pts/ptmx"},          {"dev/fd", "/proc/self/fd"},
            {"dev/stdin", "/proc/self/fd/0"},  {"dev/stdout", "/proc/self/fd/1"},
            {"dev/stderr", "/proc/self/fd/2"},
        };
        for (size_t l = 0; l < TU_COUNT(links); l++)
                expect_op(&plan, i++, MOUNT_OP_SYMLINK, links[l][0], links[l][1]);
        op = expect_op(&plan, i++, MOUNT_OP_REMOUNT_RO, "dev", NULL);
        if (op)
                CHECK(op->flags & MS_NOSUID);
        CHECK_INT_EQ(plan.n, i); /* the read-only remount is last */

        for (size_t k = 0; k < plan.n; k++) {
                const mount_op_t *o = &plan.ops[k];
                if (o->target[0] == '/' || o->target[0] == '\0' || strstr(o->target, ".."))
                        FAIL("op %zu: bad target \"%s\"", k, o->target);
                /* the fixed-size fields are NUL-terminated */
                CHECK(memchr(o->target, '\0', sizeof(o->target)) != NULL);
                CHECK(memchr(o->source, '\0', sizeof(o->source)) != NULL);
                CHECK(memchr(o->data, '\0', sizeof(o->data)) != NULL);
                if (o->kind == MOUNT_OP_TMPFS && strcmp(o->target, "dev") != 0 &&
                    !strstr(o->data, "size="))
                        FAIL("op %zu: tmpfs %s without a size", k, o->target);
        }
}

/* The inode cap follows the size; an unset disk limit still gives a bounded tmpfs. */
static void test_mount_plan_sizes(void)
{
        mount_plan_t plan;
        rc_err_t err = {0};
        rc_limits_t small = {.disk_mb = 1};
        REQUIRE(CHECK_OK_E(mount_plan_build(&plan, &small, NULL, &err), err));
        REQUIRE(plan.n > 0);
        CHECK_CONTAINS(plan.ops[0].data, "size=1m,");
        const char *ino = strstr(plan.ops[0].data, "nr_inodes=");
        REQUIRE(CHECK(ino != NULL));
        long small_inodes = strtol(ino + strlen("nr_inodes="), NULL, 10);
        CHECK(small_inodes >= 1024);

        rc_limits_t big = {.disk_mb = 4096};
        REQUIRE(CHECK_OK_E(mount_plan_build(&plan, &big, NULL, &err), err));
        CHECK_CONTAINS(plan.ops[0].data, "size=4096m,");
        ino = strstr(plan.ops[0].data, "nr_inodes=");
        REQUIRE(CHECK(ino != NULL));
        long big_inodes = strtol(ino + strlen("nr_inodes="), NULL, 10);
        CHECK(big_inodes > small_inodes);

        rc_limits_t unset = {0};
        REQUIRE(CHECK_OK_E(mount_plan_build(&plan, &unset, NULL, &err), err));
        CHECK_CONTAINS(plan.ops[0].data, "size=");
        CHECK(strstr(plan.ops[0].data, "size=0m") == NULL);

        /* building twice restarts the plan */
        size_t n = plan.n;
        REQUIRE(CHECK_OK_E(mount_plan_build(&plan, &unset, NULL, &err), err));
        CHECK_INT_EQ(plan.n, n);
}

static void test_mount_kind_name(void)
{
        CHECK_STR_EQ(mount_kind_name(MOUNT_OP_TMPFS), "tmpfs");
        CHECK_STR_EQ(mount_kind_name(MOUNT_OP_PROC), "proc");
        CHECK_STR_EQ(mount_kind_name(MOUNT_OP_BIND_DEV), "bind");
        CHECK_STR_EQ(mount_kind_name(MOUNT_OP_DEVPTS), "devpts");
        CHECK_STR_EQ(mount_kind_name(MOUNT_OP_SYMLINK), "symlink");
        CHECK_STR_EQ(mount_kind_name(MOUNT_OP_REMOUNT_RO), "remount-ro");
        CHECK_STR_EQ(mount_kind_name((mount_kind_t)99), "?");
}

/* ---- sync messages ---- */

static void test_sync_messages(void)
{
        int sv[2];
        REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
        sb_msg_t m, got;
        sb_msg_fill(&m, SB_MSG_ERROR, EPERM, "mount %s: %d", "/proc", 7);
        CHECK_INT_EQ(m.type, SB_MSG_ERROR);
        CHECK_INT_EQ(m.a, EPERM);
        CHECK_STR_EQ(m.text, "mount /proc: 7");
        CHECK_OK(sb_msg_send(sv[0], &m, -1));
        int fd = 123;
        if (CHECK_OK(sb_msg_recv(sv[1], &got, &fd))) {
                CHECK_INT_EQ(got.type, SB_MSG_ERROR);
                CHECK_INT_EQ(got.a, EPERM);
                CHECK_STR_EQ(got.text, "mount /proc: 7");
                CHECK_INT_EQ(fd, -1);
        }

        /* an fd travels with the message */
        int p[2];
        REQUIRE(pipe(p) == 0);
        sb_msg_fill(&m, SB_MSG_FILE, 0644, "dir/out.txt");
        m.t_ns = sb_now_ns();
        CHECK(m.t_ns > 0);
        CHECK_OK(sb_msg_send(sv[1], &m, p[0]));
        close(p[0]);
        if (CHECK_OK(sb_msg_recv(sv[0], &got, &fd))) {
                CHECK_INT_EQ(got.type, SB_MSG_FILE);
                CHECK_INT_EQ(got.a, 0644);
                CHECK_INT_EQ(got.t_ns, m.t_ns);
                CHECK_STR_EQ(got.text, "dir/out.txt");
                if (CHECK(fd >= 0)) {
                        CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
                        CHECK(write(p[1], "z", 1) == 1);
                        char c = 0;
                        CHECK(read(fd, &c, 1) == 1 && c == 'z');
                        close(fd);
                }
        }
        close(p[1]);

        /* a long text is truncated, NUL-terminated */
        char longs[600];
        memset(longs, 'L', sizeof(longs) - 1);
        longs[sizeof(longs) - 1] = '\0';
        sb_msg_fill(&m, SB_MSG_ERROR, 1, "%s", longs);
        CHECK_INT_EQ(strlen(m.text), SB_MSG_TEXT_MAX - 1);
        sb_msg_fill(&m, SB_MSG_GO, 0, NULL);
        CHECK_STR_EQ(m.text, "");

        /* a short packet is not a message */
        CHECK(send(sv[0], "short", 5, 0) == 5);
        CHECK_FAIL(sb_msg_recv(sv[1], &got, &fd), -EBADMSG);
        /* end of stream */
        close(sv[0]);
        CHECK_FAIL(sb_msg_recv(sv[1], &got, &fd), -EPIPE);
        CHECK_FAIL(sb_msg_send(sv[1], &m, -1), -EPIPE);
        close(sv[1]);
}

/* A message with a payload and several fds in one packet (START), and what is refused. */
static void test_sync_packets(void)
{
        int sv[2];
        REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
        int p[SB_MSG_FDS_MAX][2];
        int ends[SB_MSG_FDS_MAX];
        for (int i = 0; i < SB_MSG_FDS_MAX; i++) {
                REQUIRE(pipe(p[i]) == 0);
                ends[i] = p[i][1];
        }
        static char payload[SB_REQ_INLINE_MAX];
        for (size_t i = 0; i < sizeof(payload); i++)
                payload[i] = (char)(i * 7);
        sb_msg_t m, got;
        sb_msg_fill(&m, SB_MSG_START, (int32_t)sizeof(payload), NULL);
        CHECK_OK(sb_msg_sendv(sv[0], &m, payload, sizeof(payload), ends, SB_MSG_FDS_MAX));
        static char in[SB_REQ_INLINE_MAX];
        size_t len = 0;
        int fds[SB_MSG_FDS_MAX];
        int nfds = -1;
        if (CHECK_OK(sb_msg_recvv(sv[1], &got, in, sizeof(in), &len, fds, SB_MSG_FDS_MAX, &nfds))) {
                CHECK_INT_EQ(got.type, SB_MSG_START);
                CHECK_INT_EQ(len, sizeof(payload));
                CHECK(memcmp(in, payload, sizeof(payload)) == 0);
                CHECK_INT_EQ(nfds, SB_MSG_FDS_MAX);
                /* in order: each is the write end of the pipe of the same index */
                for (int i = 0; i < nfds; i++) {
                        char c = (char)('a' + i), r = 0;
                        CHECK(write(fds[i], &c, 1) == 1);
                        CHECK(read(p[i][0], &r, 1) == 1 && r == c);
                        close(fds[i]);
                }
        }
        /* no payload, no fds: as sb_msg_recv */
        sb_msg_fill(&m, SB_MSG_GO, 0, NULL);
        CHECK_OK(sb_msg_sendv(sv[0], &m, NULL, 0, NULL, 0));
        if (CHECK_OK(sb_msg_recvv(sv[1], &got, in, sizeof(in), &len, fds, 2, &nfds))) {
                CHECK_INT_EQ(len, 0);
                CHECK_INT_EQ(nfds, 0);
        }
        /* more fds than the receiver takes: refused, none left open in the receiver */
        CHECK_OK(sb_msg_sendv(sv[0], &m, NULL, 0, ends, 3));
        CHECK_FAIL(sb_msg_recvv(sv[1], &got, in, sizeof(in), &len, fds, 2, &nfds), -EBADMSG);
        CHECK_INT_EQ(nfds, 0);
        /* a payload larger than the buffer: refused (truncated) */
        CHECK_OK(sb_msg_sendv(sv[0], &m, payload, 100, NULL, 0));
        CHECK_FAIL(sb_msg_recvv(sv[1], &got, in, 50, &len, fds, 2, &nfds), -EBADMSG);
        /* a payload where none is expected: refused */
        CHECK_OK(sb_msg_sendv(sv[0], &m, payload, 10, NULL, 0));
        int fd = -1;
        CHECK_FAIL(sb_msg_recv(sv[1], &got, &fd), -EBADMSG);
        /* too many fds to send */
        int many[SB_MSG_FDS_MAX + 1] = {0};
        CHECK_FAIL(sb_msg_sendv(sv[0], &m, NULL, 0, many, SB_MSG_FDS_MAX + 1), -EINVAL);
        for (int i = 0; i < SB_MSG_FDS_MAX; i++) {
                close(p[i][0]);
                close(p[i][1]);
        }
        close(sv[0]);
        close(sv[1]);
}

/* ---- /work files on an ordinary directory ---- */

static void test_place_and_collect_files(void)
{
        const char *dir = tu_tmpdir();
        REQUIRE(dir);
        char *work = tu_strf("%s/work", dir);
        REQUIRE(mkdir(work, 0755) == 0);
        int wfd = open(work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        REQUIRE(wfd >= 0);
        char *src = tu_write_str(dir, "from-fd", "data from an fd\n");
        int srcfd = src ? open(src, O_RDONLY | O_CLOEXEC) : -1;
        CHECK(srcfd >= 0);

        sb_file_t files[] = {
            {.path = "main.c", .mode = 0644, .data = "int main;", .len = 9, .fd = -1},
            {.path = "src/lib/util.h", .mode = 0600, .data = "", .len = 0, .fd = -1},
            {.path = "run.sh", .mode = 04755, .data = "#!/bin/sh\n", .len = 10, .fd = -1},
            {.path = "in/copy.txt", .mode = 0640, .data = NULL, .len = 0, .fd = srcfd},
        };
        char what[256] = "";
        CHECK_OK(sb_place_files(wfd, files, TU_COUNT(files), what, sizeof(what)));
        struct stat st;
        char *p = tu_strf("%s/src/lib/util.h", work);
        CHECK(stat(p, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0600 &&
              st.st_size == 0);
        free(p);
        p = tu_strf("%s/run.sh", work);
        /* only permission bits are applied */
        CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 0755);
        free(p);
        p = tu_strf("%s/in/copy.txt", work);
        CHECK(stat(p, &st) == 0 && st.st_size == 16 && (st.st_mode & 0777) == 0640);
        free(p);

        /* a second placement of the same path fails and names it */
        CHECK_FAIL(sb_place_files(wfd, files, 1, what, sizeof(what)), -EEXIST);
        CHECK_STR_EQ(what, "main.c");
        /* a symlink planted in the way is not followed */
        char *outside = tu_strf("%s/outside", dir);
        REQUIRE(mkdir(outside, 0755) == 0);
        char *lnk = tu_strf("%s/evil", work);
        CHECK(symlink(outside, lnk) == 0);
        sb_file_t via_link = {.path = "evil/x", .mode = 0644, .data = "x", .len = 1, .fd = -1};
        CHECK_FAIL(sb_place_files(wfd, &via_link, 1, what, sizeof(what)), 0);
        char *escaped = tu_strf("%s/x", outside);
        CHECK(access(escaped, F_OK) != 0);
        free(escaped);

        /* collect: every regular file once, symlinks and FIFOs left out */
        char *fifo = tu_strf("%s/pipe", work);
        CHECK(mkfifo(fifo, 0644) == 0);
        int sv[2];
        REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
        CHECK_OK(sb_collect_files(sv[0], wfd));
        close(sv[0]);
        unsigned seen = 0;
        sb_msg_t m;
        int fd;
        while (sb_msg_recv(sv[1], &m, &fd) == 0) {
                if (!CHECK_INT_EQ(m.type, SB_MSG_FILE)) {
                        if (fd >= 0)
                                close(fd);
                        continue;
                }
                if (strcmp(m.text, "main.c") == 0) {
                        seen |= 1;
                        CHECK_INT_EQ(m.a, 0644);
                        char buf[32] = "";
                        CHECK(fd >= 0 && pread(fd, buf, sizeof(buf) - 1, 0) == 9);
                        CHECK_STR_EQ(buf, "int main;");
                } else if (strcmp(m.text, "src/lib/util.h") == 0) {
                        seen |= 2;
                        CHECK_INT_EQ(m.a, 0600);
                } else if (strcmp(m.text, "run.sh") == 0) {
                        seen |= 4;
                } else if (strcmp(m.text, "in/copy.txt") == 0) {
                        seen |= 8;
                } else {
                        FAIL("collected unexpected file \"%s\"", m.text);
                }
                CHECK(fd >= 0);
                if (fd >= 0)
                        close(fd);
        }
        CHECK_INT_EQ(seen, 15);
        close(sv[1]);
        close(wfd);
        if (srcfd >= 0)
                close(srcfd);
        free(fifo);
        free(lnk);
        free(outside);
        free(src);
        free(work);
}

/* ---- the run request: the terminal's size travels with it ---- */

static void test_request_tty_roundtrip(void)
{
        char *argv[] = {"prog", "a", NULL};
        char *envp[] = {"PATH=/bin", NULL};
        static const struct {
                uint16_t rows, cols, want_rows, want_cols;
        } cases[] = {
            {0, 0, 0, 0}, {24, 80, 24, 80}, {1000, 1, 1000, 1}, {24, 0, 0, 0}, {0, 80, 0, 0}};
        for (size_t i = 0; i < TU_COUNT(cases); i++) {
                sb_run_t run = {.argv = argv,
                                .envp = envp,
                                .tty_rows = cases[i].rows,
                                .tty_cols = cases[i].cols};
                buf_t b = {0};
                CHECK_INT_EQ(sb_req_encode(&run, &b), 0);
                static sb_child_req_t req;
                memset(&req, 0, sizeof(req));
                CHECK_INT_EQ(sb_req_decode(b.data, b.len, &req), 0);
                CHECK_INT_EQ(req.tty_rows, cases[i].want_rows);
                CHECK_INT_EQ(req.tty_cols, cases[i].want_cols);
                CHECK_STR_EQ(req.argv[1], "a");
                buf_free(&b);
        }
}

int main(int argc, char **argv)
{
        static const tu_test_t tests[] = {
            TU_TEST(test_id_map_line),
            TU_TEST(test_id_map_line_truncated),
            TU_TEST(test_path_valid_accepts),
            TU_TEST(test_path_valid_rejects),
            TU_TEST(test_mount_plan_layout),
            TU_TEST(test_mount_plan_work_dir),
            TU_TEST(test_mount_plan_sizes),
            TU_TEST(test_mount_kind_name),
            TU_TEST(test_sync_messages),
            TU_TEST(test_sync_packets),
            TU_TEST(test_place_and_collect_files),
            TU_TEST(test_request_tty_roundtrip),
        };
        return tu_main("test_sandbox_pure", tests, TU_COUNT(tests), argc, argv);
}
