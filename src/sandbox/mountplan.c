#include "sandbox/mountplan.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>

static int add(mount_plan_t *plan, mount_kind_t kind, const char *target, const char *source,
               unsigned long flags, const char *data, rc_err_t *err)
{
        if (plan->n >= MOUNT_PLAN_MAX)
                return rc_err_set(err, E2BIG, "mount plan: more than %d entries", MOUNT_PLAN_MAX);
        mount_op_t *op = &plan->ops[plan->n];
        memset(op, 0, sizeof(*op));
        op->kind = kind;
        op->flags = flags;
        if (snprintf(op->target, sizeof(op->target), "%s", target) >= (int)sizeof(op->target) ||
            snprintf(op->source, sizeof(op->source), "%s", source ? source : "") >=
                (int)sizeof(op->source) ||
            snprintf(op->data, sizeof(op->data), "%s", data ? data : "") >= (int)sizeof(op->data))
                return rc_err_set(err, ENAMETOOLONG, "mount plan: entry for %s too long", target);
        plan->n++;
        return 0;
}

/* tmpfs counts inodes separately from bytes: without nr_inodes a small tmpfs still takes
 * hundreds of thousands of empty files, each costing kernel memory. */
long long mount_tmpfs_inodes(long long mb)
{
        long long n = mb * 256;
        return n < 1024 ? 1024 : n;
}

void mount_tmpfs_data(char *buf, size_t size, long long mb, const char *mode)
{
        snprintf(buf, size, "size=%lldm,nr_inodes=%lld,mode=%s", mb, mount_tmpfs_inodes(mb), mode);
}

int mount_plan_build(mount_plan_t *plan, const rc_limits_t *lim, const char *work_dir,
                     rc_err_t *err)
{
        static const char *const devices[] = {"null", "zero", "full", "random", "urandom", "tty"};
        static const char *const links[][2] = {
            {"dev/ptmx", "pts/ptmx"},          {"dev/fd", "/proc/self/fd"},
            {"dev/stdin", "/proc/self/fd/0"},  {"dev/stdout", "/proc/self/fd/1"},
            {"dev/stderr", "/proc/self/fd/2"},
        };
        const unsigned long nsd = MS_NOSUID | MS_NODEV;
        long long disk = lim->disk_mb > 0 ? lim->disk_mb : 64;
        char data[128];
        int r;

        plan->n = 0;
        plan->work_source[0] = '\0';
        if (work_dir) {
                if (work_dir[0] != '/' ||
                    snprintf(plan->work_source, sizeof(plan->work_source), "%s", work_dir) >=
                        (int)sizeof(plan->work_source))
                        return rc_err_set(err, EINVAL, "mount plan: bad /work directory");
                if ((r = add(plan, MOUNT_OP_WORK_RO, "work", NULL, MS_RDONLY | nsd, NULL, err)) < 0)
                        return r;
        } else {
                mount_tmpfs_data(data, sizeof(data), disk, "0755");
                if ((r = add(plan, MOUNT_OP_TMPFS, "work", NULL, nsd, data, err)) < 0)
                        return r;
        }
        mount_tmpfs_data(data, sizeof(data), disk, "1777");
        if ((r = add(plan, MOUNT_OP_TMPFS, "tmp", NULL, nsd, data, err)) < 0)
                return r;
        if ((r = add(plan, MOUNT_OP_PROC, "proc", NULL, nsd | MS_NOEXEC, NULL, err)) < 0)
                return r;
        /* What container runtimes hide of /proc: kernel memory and symbols, other users' keys,
         * timers and scheduler internals, hardware trees, and every writable tunable. */
        static const char *const mask_files[] = {
            "proc/kcore",      "proc/keys",        "proc/key-users",     "proc/latency_stats",
            "proc/timer_list", "proc/sched_debug", "proc/sysrq-trigger", "proc/kallsyms",
            "proc/kpagecount", "proc/kpageflags",  "proc/kpagecgroup",   "proc/cmdline",
        };
        static const char *const mask_dirs[] = {"proc/acpi", "proc/asound", "proc/scsi",
                                                "proc/firmware", "proc/driver"};
        static const char *const ro_dirs[] = {"proc/bus", "proc/fs", "proc/irq", "proc/sys"};
        for (size_t i = 0; i < sizeof(mask_files) / sizeof(mask_files[0]); i++)
                if ((r = add(plan, MOUNT_OP_MASK_FILE, mask_files[i], "/dev/null", 0, NULL, err)) <
                    0)
                        return r;
        for (size_t i = 0; i < sizeof(mask_dirs) / sizeof(mask_dirs[0]); i++)
                if ((r = add(plan, MOUNT_OP_MASK_DIR, mask_dirs[i], NULL,
                             MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                             "size=4k,nr_inodes=1,mode=0555", err)) < 0)
                        return r;
        for (size_t i = 0; i < sizeof(ro_dirs) / sizeof(ro_dirs[0]); i++)
                if ((r = add(plan, MOUNT_OP_RO_BIND, ro_dirs[i], NULL,
                             MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, err)) < 0)
                        return r;
        if ((r = add(plan, MOUNT_OP_TMPFS, "dev", NULL, MS_NOSUID | MS_NOEXEC,
                     "size=64k,nr_inodes=64,mode=0755", err)) < 0)
                return r;
        for (size_t i = 0; i < sizeof(devices) / sizeof(devices[0]); i++) {
                char target[32], source[32];
                snprintf(target, sizeof(target), "dev/%s", devices[i]);
                snprintf(source, sizeof(source), "/dev/%s", devices[i]);
                if ((r = add(plan, MOUNT_OP_BIND_DEV, target, source, 0, NULL, err)) < 0)
                        return r;
        }
        if ((r = add(plan, MOUNT_OP_DEVPTS, "dev/pts", NULL, MS_NOSUID | MS_NOEXEC,
                     "newinstance,ptmxmode=0666,mode=0620", err)) < 0)
                return r;
        mount_tmpfs_data(data, sizeof(data), disk, "1777");
        if ((r = add(plan, MOUNT_OP_TMPFS, "dev/shm", NULL, nsd, data, err)) < 0)
                return r;
        /* Where the program's POSIX message queues show, so that a reset can remove them. */
        if ((r = add(plan, MOUNT_OP_MQUEUE, "dev/mqueue", NULL, nsd | MS_NOEXEC, NULL, err)) < 0)
                return r;
        for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
                if ((r = add(plan, MOUNT_OP_SYMLINK, links[i][0], links[i][1], 0, NULL, err)) < 0)
                        return r;
        return add(plan, MOUNT_OP_REMOUNT_RO, "dev", NULL, MS_NOSUID | MS_NOEXEC, NULL, err);
}

const char *mount_kind_name(mount_kind_t kind)
{
        switch (kind) {
        case MOUNT_OP_TMPFS:
                return "tmpfs";
        case MOUNT_OP_PROC:
                return "proc";
        case MOUNT_OP_BIND_DEV:
                return "bind";
        case MOUNT_OP_DEVPTS:
                return "devpts";
        case MOUNT_OP_SYMLINK:
                return "symlink";
        case MOUNT_OP_REMOUNT_RO:
                return "remount-ro";
        case MOUNT_OP_MASK_FILE:
                return "mask";
        case MOUNT_OP_MASK_DIR:
                return "mask-dir";
        case MOUNT_OP_RO_BIND:
                return "ro-bind";
        case MOUNT_OP_MQUEUE:
                return "mqueue";
        case MOUNT_OP_WORK_RO:
                return "work-ro-bind";
        default:
                return "?";
        }
}
