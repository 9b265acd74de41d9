/* Init's side of a recycled sandbox (sb_run_t.keep): after a program, with no process but init
 * left, put back what a program can change and a later one could see. Runs under the sandbox's
 * own seccomp filter and without capabilities, as the sandbox's uid 0, which owns everything a
 * program could make: no allocation, fds only, nothing followed by name.
 *
 * What a program can leave, and where it goes:
 *   files, directories, FIFOs, sockets, links  /work, /tmp, /dev/shm: emptied, however deep or
 *                                              unreadable (each directory is made ours first);
 *                                              a read-only /work (a function's artifact) is
 *                                              left as it is: nothing there could change
 *   POSIX message queues                       /dev/mqueue (the ipc namespace's): emptied
 *   the modes and extended attributes (ACLs) of those four directories: put back / removed
 *   SysV shared memory, semaphores, queues     removed (the ipc namespace is the sandbox's)
 *   processes, locks, sockets, timers, ptys    gone with the processes (init killed them all)
 *   init's own nice value, scheduling policy, CPU affinity, I/O priority, OOM score adjustment
 *   and rlimits (a program has init's uid, so setpriority, prlimit and the like reach pid 1,
 *   and the next program inherits them): put back where the kernel lets an unprivileged
 *   process, else the sandbox is not used again (a program may lower a limit for good)
 *   the network namespace: it cannot be reset without a capability (TCP connections stay in
 *   TIME_WAIT for a minute; the loopback's and the protocols' counters keep counting), so a
 *   program that used the network at all (any counter of /proc/net/{dev,snmp,snmp6,netstat}
 *   changed since before the first program) leaves a sandbox that is not used again
 * Everything else a program could change needs a capability it does not have (mounts, host
 * name, network configuration) or a system call the profile refuses (keyrings). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "sandbox/sandbox-internal.h"

/* Directories deeper than this are moved up to the top of their tree and emptied from there:
 * the walk's stack stays bounded whatever a program made. */
#define RESET_DEPTH 32

static const char *const reset_dirs[] = {"/work", "/tmp", "/dev/shm", "/dev/mqueue"};
#define NDIRS (sizeof(reset_dirs) / sizeof(reset_dirs[0]))
static mode_t dir_mode[NDIRS];
static bool dir_present[NDIRS];
/* A read-only mount (a function's artifact bound at /work): nothing in it can have changed, and
 * nothing is to be emptied. */
static bool dir_readonly[NDIRS];
static unsigned moved_seq;

/* init's own attributes, as the sandbox had them before its first program; each one that
 * could not be read is not checked (the program's filter is init's: it could not change it). */
typedef struct init_attrs {
        bool has_nice, has_sched, has_affinity, has_ioprio, has_oom;
        int nice;
        int policy;
        struct sched_param param;
        cpu_set_t affinity;
        long ioprio;
        int oom;
        bool has_rlimit[RLIM_NLIMITS];
        struct rlimit rlimit[RLIM_NLIMITS];
} init_attrs_t;

static init_attrs_t init_first;

/* The network namespace's state, as a digest of each file (FNV-1a) before the first program. */
/* Not /proc/net/tcp: listing it walks the whole host's TCP tables (0.8 ms); a TCP connection
 * left in TIME_WAIT counted segments in snmp (the TCP MIB is shared by IPv4 and IPv6). */
static const char *const net_files[] = {"/proc/self/net/dev", "/proc/self/net/snmp",
                                        "/proc/self/net/snmp6", "/proc/self/net/netstat"};
#define NNET (sizeof(net_files) / sizeof(net_files[0]))
static uint64_t net_digest[NNET];
static bool net_known[NNET];

static int digest_file(const char *path, uint64_t *out)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        uint64_t h = 1469598103934665603ULL;
        char b[4096];
        ssize_t n;
        while ((n = read(fd, b, sizeof(b))) > 0)
                for (ssize_t i = 0; i < n; i++)
                        h = (h ^ (uint8_t)b[i]) * 1099511628211ULL;
        close(fd);
        if (n < 0)
                return -EIO;
        *out = h;
        return 0;
}

static bool network_untouched(void)
{
        for (size_t i = 0; i < NNET; i++) {
                uint64_t h;
                if (net_known[i] && (digest_file(net_files[i], &h) < 0 || h != net_digest[i]))
                        return false;
        }
        return true;
}

#define IOPRIO_WHO_PROCESS 1

static int read_oom_adj(int *v)
{
        int fd = open("/proc/self/oom_score_adj", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        char b[16];
        ssize_t n = read(fd, b, sizeof(b) - 1);
        close(fd);
        if (n <= 0)
                return -EIO;
        b[n] = '\0';
        *v = atoi(b);
        return 0;
}

static void read_attrs(init_attrs_t *a)
{
        memset(a, 0, sizeof(*a));
        errno = 0;
        a->nice = getpriority(PRIO_PROCESS, 0);
        a->has_nice = errno == 0;
        a->policy = sched_getscheduler(0);
        a->has_sched = a->policy >= 0 && sched_getparam(0, &a->param) == 0;
        a->has_affinity = sched_getaffinity(0, sizeof(a->affinity), &a->affinity) == 0;
        a->ioprio = syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0);
        a->has_ioprio = a->ioprio >= 0;
        a->has_oom = read_oom_adj(&a->oom) == 0;
        for (int i = 0; i < RLIM_NLIMITS; i++)
                a->has_rlimit[i] = getrlimit(i, &a->rlimit[i]) == 0;
}

/* What differs between now and then, after putting back what differed. */
static bool attrs_restored(const init_attrs_t *then)
{
        init_attrs_t now;
        read_attrs(&now);
        if (then->has_nice && now.has_nice && now.nice != then->nice)
                setpriority(PRIO_PROCESS, 0, then->nice);
        if (then->has_sched && now.has_sched &&
            (now.policy != then->policy || now.param.sched_priority != then->param.sched_priority))
                sched_setscheduler(0, then->policy, &then->param);
        if (then->has_affinity && now.has_affinity && !CPU_EQUAL(&now.affinity, &then->affinity))
                sched_setaffinity(0, sizeof(then->affinity), &then->affinity);
        if (then->has_ioprio && now.has_ioprio && now.ioprio != then->ioprio)
                syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, then->ioprio);
        if (then->has_oom && now.has_oom && now.oom != then->oom) {
                int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
                if (fd >= 0) {
                        char b[16];
                        int n = snprintf(b, sizeof(b), "%d", then->oom);
                        if (write(fd, b, (size_t)n) < 0) {
                                /* checked below */
                        }
                        close(fd);
                }
        }
        for (int i = 0; i < RLIM_NLIMITS; i++)
                if (then->has_rlimit[i] && now.has_rlimit[i] &&
                    (now.rlimit[i].rlim_cur != then->rlimit[i].rlim_cur ||
                     now.rlimit[i].rlim_max != then->rlimit[i].rlim_max))
                        setrlimit(i, &then->rlimit[i]);
        read_attrs(&now);
        if ((then->has_nice && now.nice != then->nice) ||
            (then->has_sched && (now.policy != then->policy ||
                                 now.param.sched_priority != then->param.sched_priority)) ||
            (then->has_affinity && !CPU_EQUAL(&now.affinity, &then->affinity)) ||
            (then->has_ioprio && now.ioprio != then->ioprio) ||
            (then->has_oom && now.oom != then->oom))
                return false;
        for (int i = 0; i < RLIM_NLIMITS; i++)
                if (then->has_rlimit[i] && (now.rlimit[i].rlim_cur != then->rlimit[i].rlim_cur ||
                                            now.rlimit[i].rlim_max != then->rlimit[i].rlim_max))
                        return false;
        return true;
}

void sb_reset_remember(void)
{
        for (size_t i = 0; i < NDIRS; i++) {
                struct stat st;
                struct statvfs vfs;
                dir_present[i] = stat(reset_dirs[i], &st) == 0 && S_ISDIR(st.st_mode);
                dir_mode[i] = st.st_mode & 07777;
                dir_readonly[i] =
                    dir_present[i] && statvfs(reset_dirs[i], &vfs) == 0 && (vfs.f_flag & ST_RDONLY);
        }
        read_attrs(&init_first);
        for (size_t i = 0; i < NNET; i++)
                net_known[i] = digest_file(net_files[i], &net_digest[i]) == 0;
}

struct dirent64_raw {
        uint64_t d_ino;
        int64_t d_off;
        unsigned short d_reclen;
        unsigned char d_type;
        char d_name[];
};

static bool dot_or_dotdot(const char *n)
{
        return n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0'));
}

/* Empty the directory fd (ours: mode 0700 already), top the directory its tree started at.
 * Returns 0 or -errno. */
static int empty_dir(int fd, int top, int depth)
{
        char buf[2048] __attribute__((aligned(8)));
        for (;;) {
                /* From the start each round: entries go while the directory is read. */
                if (lseek(fd, 0, SEEK_SET) < 0)
                        return -errno;
                long n = syscall(SYS_getdents64, fd, buf, sizeof(buf));
                if (n < 0)
                        return -errno;
                bool any = false;
                for (long off = 0; off < n;) {
                        const struct dirent64_raw *d = (const void *)(buf + off);
                        off += d->d_reclen;
                        if (dot_or_dotdot(d->d_name))
                                continue;
                        any = true;
                        if (d->d_type != DT_DIR) {
                                if (unlinkat(fd, d->d_name, 0) < 0 && errno != ENOENT)
                                        return -errno;
                                continue;
                        }
                        if (depth >= RESET_DEPTH) {
                                /* Up to the top, under a name of ours; emptied from there. */
                                char name[48];
                                int r;
                                do {
                                        snprintf(name, sizeof(name), ".runcell-reset-%u",
                                                 moved_seq++);
                                        r = renameat2(fd, d->d_name, top, name, RENAME_NOREPLACE);
                                } while (r < 0 && errno == EEXIST);
                                if (r < 0)
                                        return -errno;
                                continue;
                        }
                        /* A program may have taken every permission away from its own
                         * directory: as its owner we give them back, then go in. */
                        if (fchmodat(fd, d->d_name, 0700, 0) < 0)
                                return -errno;
                        int c =
                            openat(fd, d->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (c < 0)
                                return -errno;
                        int r = empty_dir(c, top, depth + 1);
                        close(c);
                        if (r < 0)
                                return r;
                        if (unlinkat(fd, d->d_name, AT_REMOVEDIR) < 0)
                                return -errno;
                }
                if (!any)
                        return 0;
        }
}

static int clear_xattrs(int fd)
{
        char names[4096];
        ssize_t n = flistxattr(fd, names, sizeof(names));
        if (n < 0)
                return errno == ENOTSUP ? 0 : -errno;
        for (ssize_t off = 0; off < n; off += (ssize_t)strlen(names + off) + 1)
                if (fremovexattr(fd, names + off) < 0 && errno != ENODATA)
                        return -errno;
        return 0;
}

static int reset_dir(size_t i)
{
        int fd = open(reset_dirs[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        /* Ours (/work, /tmp, /dev/shm): a program could have changed its mode, and so can we.
         * Not ours (the mqueue file system's root): neither could the program. */
        struct stat st;
        int r = fstat(fd, &st) < 0 ? -errno : 0;
        bool own = r == 0 && st.st_uid == geteuid();
        if (r == 0 && own && fchmod(fd, 0700) < 0)
                r = -errno;
        if (r == 0)
                r = empty_dir(fd, fd, 0);
        if (r == 0 && own)
                r = clear_xattrs(fd);
        if (r == 0 && own && fchmod(fd, dir_mode[i]) < 0)
                r = -errno;
        close(fd);
        return r;
}

union reset_semun {
        int val;
        struct semid_ds *buf;
        unsigned short *array;
        struct seminfo *info;
};

/* Every SysV IPC object of the namespace: all are the sandbox's, none is in use any more. */
static int remove_ipc(void)
{
        struct shm_info shi;
        int max = shmctl(0, SHM_INFO, (struct shmid_ds *)(void *)&shi);
        for (int i = 0; i <= max; i++) {
                struct shmid_ds ds;
                int id = shmctl(i, SHM_STAT_ANY, &ds);
                if (id < 0)
                        id = shmctl(i, SHM_STAT, &ds);
                if (id >= 0)
                        shmctl(id, IPC_RMID, NULL);
        }
        struct seminfo si;
        union reset_semun arg = {.info = &si};
        max = semctl(0, 0, SEM_INFO, arg);
        for (int i = 0; i <= max; i++) {
                struct semid_ds ds;
                arg.buf = &ds;
                int id = semctl(i, 0, SEM_STAT_ANY, arg);
                if (id < 0)
                        id = semctl(i, 0, SEM_STAT, arg);
                if (id >= 0)
                        semctl(id, 0, IPC_RMID);
        }
        struct msginfo mi;
        max = msgctl(0, MSG_INFO, (struct msqid_ds *)(void *)&mi);
        for (int i = 0; i <= max; i++) {
                struct msqid_ds ds;
                int id = msgctl(i, MSG_STAT_ANY, &ds);
                if (id < 0)
                        id = msgctl(i, MSG_STAT, &ds);
                if (id >= 0)
                        msgctl(id, IPC_RMID, NULL);
        }
        /* What is left would be seen by the next program: then it gets no next program. */
        if (shmctl(0, SHM_INFO, (struct shmid_ds *)(void *)&shi) >= 0 && shi.used_ids > 0)
                return -EBUSY;
        arg.info = &si;
        if (semctl(0, 0, SEM_INFO, arg) >= 0 && si.semusz > 0)
                return -EBUSY;
        if (msgctl(0, MSG_INFO, (struct msqid_ds *)(void *)&mi) >= 0 && mi.msgpool > 0)
                return -EBUSY;
        return 0;
}

int sb_reset(void)
{
        /* A limit lowered for good, a priority init may not take back: no next program. */
        if (!attrs_restored(&init_first))
                return -EPERM;
        if (!network_untouched())
                return -EADDRINUSE;
        for (size_t i = 0; i < NDIRS; i++) {
                if (!dir_present[i] || dir_readonly[i])
                        continue;
                int r = reset_dir(i);
                if (r < 0)
                        return r;
        }
        return remove_ipc();
}
