/* Per-sandbox outside ids: see ids.h. */
#include "sandbox/ids.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t ids_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t ids_cursor;
static bool ids_cursor_set;

typedef struct held {
        pid_t pid;
        int fd;
} held_t;
static held_t *held;
static size_t nheld, held_cap;

static int lock_byte(int fd, uint64_t off)
{
        struct flock fl = {
            .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = (off_t)off, .l_len = 1, .l_pid = 0};
        return fcntl(fd, F_OFD_SETLK, &fl) < 0 ? -errno : 0;
}

int sb_ids_take(uint32_t first, uint32_t count, uint32_t *id, int *fd, rc_err_t *err)
{
        int lfd = open(SB_IDS_LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (lfd < 0 && errno == ENOENT) {
                if (mkdir(SB_IDS_LOCK_DIR, 0700) < 0 && errno != EEXIST)
                        return rc_err_sys(err, errno, "sandbox ids: mkdir %s", SB_IDS_LOCK_DIR);
                lfd = open(SB_IDS_LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        }
        if (lfd < 0)
                return rc_err_sys(err, errno, "sandbox ids: open %s", SB_IDS_LOCK_FILE);
        pthread_mutex_lock(&ids_lock);
        if (!ids_cursor_set) {
                /* Runcells started together begin at different places of the range. */
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                ids_cursor = (uint32_t)getpid() * 2654435761u ^ (uint32_t)ts.tv_nsec;
                ids_cursor_set = true;
        }
        uint32_t start = ids_cursor % count;
        int r = -EAGAIN;
        for (uint32_t i = 0; i < count; i++) {
                uint32_t slot = (start + i) % count;
                r = lock_byte(lfd, (uint64_t)first + slot);
                if (r == 0) {
                        *id = first + slot;
                        ids_cursor = slot + 1;
                        break;
                }
                if (r != -EAGAIN && r != -EACCES)
                        break;
                r = -EAGAIN;
        }
        pthread_mutex_unlock(&ids_lock);
        if (r < 0) {
                close(lfd);
                if (r == -EAGAIN)
                        return rc_err_set(err, EAGAIN,
                                          "no free sandbox id: all %u ids of RUNCELL_SANDBOX_IDS "
                                          "(%u-%u) are held by running sandboxes",
                                          count, first, first + count - 1);
                return rc_err_sys(err, -r, "sandbox ids: lock %s", SB_IDS_LOCK_FILE);
        }
        *fd = lfd;
        return 0;
}

void sb_ids_hold(pid_t pid, int fd)
{
        if (fd < 0)
                return;
        pthread_mutex_lock(&ids_lock);
        if (nheld == held_cap) {
                size_t cap = held_cap ? held_cap * 2 : 16;
                held_t *n = realloc(held, cap * sizeof(*n));
                if (!n) {
                        /* Keep the id held for good rather than risk handing it out live. */
                        pthread_mutex_unlock(&ids_lock);
                        return;
                }
                held = n;
                held_cap = cap;
        }
        held[nheld++] = (held_t){pid, fd};
        pthread_mutex_unlock(&ids_lock);
}

void sb_ids_reaped(pid_t pid)
{
        pthread_mutex_lock(&ids_lock);
        for (size_t i = 0; i < nheld; i++) {
                if (held[i].pid == pid) {
                        close(held[i].fd);
                        held[i] = held[--nheld];
                        break;
                }
        }
        pthread_mutex_unlock(&ids_lock);
}

/* What changing the effective uid costs the thread, put back by sb_ids_restore. */
static __thread int saved_pdeathsig, saved_dumpable;
static __thread pid_t saved_ppid;

int sb_ids_become(uid_t uid, gid_t gid, rc_err_t *err)
{
        /* The kernel clears the parent-death signal and dumpability when the effective ids
         * change; a runcell-prep helper relies on its parent-death signal. */
        if (prctl(PR_GET_PDEATHSIG, &saved_pdeathsig, 0, 0, 0) < 0)
                saved_pdeathsig = 0;
        saved_dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
        saved_ppid = getppid();
        if (syscall(SYS_setresgid, -1, gid, -1) < 0)
                return rc_err_sys(err, errno, "sandbox ids: setresgid");
        if (syscall(SYS_setresuid, -1, uid, -1) < 0) {
                int e = errno;
                syscall(SYS_setresgid, -1, 0, -1);
                return rc_err_sys(err, e, "sandbox ids: setresuid");
        }
        /* File access as root still (CLONE_INTO_CGROUP checks cgroup.procs with these). */
        syscall(SYS_setfsuid, 0);
        return 0;
}

void sb_ids_restore(void)
{
        syscall(SYS_setresuid, -1, 0, -1);
        syscall(SYS_setresgid, -1, 0, -1);
        if (saved_dumpable > 0)
                prctl(PR_SET_DUMPABLE, saved_dumpable, 0, 0, 0);
        if (saved_pdeathsig > 0) {
                prctl(PR_SET_PDEATHSIG, saved_pdeathsig, 0, 0, 0);
                /* The parent may have died while the signal was off: then nobody sends it. */
                if (getppid() != saved_ppid)
                        raise(saved_pdeathsig);
        }
}
