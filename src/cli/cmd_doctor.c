/* What this host offers a sandbox, checked by trying it rather than by reading settings. */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <seccomp.h>

#include "cli/cli.h"
#include "sandbox/cgroup.h"
#include "seccomp/profile.h"
#include "util/cleanup.h"
#include "util/fs.h"

typedef struct check {
        const char *name;
        bool ok;
        char detail[256];
} check_t;

static void check_userns(check_t *c)
{
        /* Fork a child that unshares every namespace a sandbox uses. */
        pid_t pid = fork();
        if (pid == 0) {
                int f = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS |
                        CLONE_NEWIPC | CLONE_NEWCGROUP;
                _exit(unshare(f) == 0 ? 0 : (errno & 0x7f));
        }
        int st = 0;
        if (pid < 0 || waitpid(pid, &st, 0) < 0) {
                snprintf(c->detail, sizeof(c->detail), "fork failed");
                return;
        }
        c->ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
        if (c->ok)
                snprintf(c->detail, sizeof(c->detail),
                         "user, pid, mount, net, uts, ipc, cgroup namespaces can be created");
        else
                snprintf(c->detail, sizeof(c->detail), "cannot be created: %s",
                         strerror(WEXITSTATUS(st)));
}

static void check_seccomp(check_t *c)
{
        const struct scmp_version *v = seccomp_version();
        int api = seccomp_api_get();
        c->ok = prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0 && api >= 1;
        snprintf(c->detail, sizeof(c->detail), "libseccomp %u.%u.%u, API level %d",
                 v ? v->major : 0, v ? v->minor : 0, v ? v->micro : 0, api);
}

static void check_filesystem(check_t *c, const char *fs)
{
        _cleanup_free_ char *text = NULL;
        c->ok = false;
        if (fs_read_file("/proc/filesystems", 1 << 16, &text, NULL, NULL) == 0) {
                char pat[64];
                snprintf(pat, sizeof(pat), "\t%s\n", fs);
                c->ok = strstr(text, pat) != NULL;
        }
        snprintf(c->detail, sizeof(c->detail), "%s",
                 c->ok ? "available" : "not in /proc/filesystems");
}

static void check_cgroups(check_t *v2, check_t *v1, check_t *deleg)
{
        _cleanup_free_ char *mounts = NULL, *self = NULL;
        fs_read_file("/proc/self/mounts", 1 << 20, &mounts, NULL, NULL);
        fs_read_file("/proc/self/cgroup", 1 << 16, &self, NULL, NULL);
        v2->ok = false;
        v1->ok = false;
        char v2mnt[256] = "", v1ctl[256] = "";
        for (char *line = mounts; line && *line;) {
                char *nl = strchr(line, '\n');
                if (nl)
                        *nl = '\0';
                char dev[64], mnt[256], type[32], opts[512];
                if (sscanf(line, "%63s %255s %31s %511s", dev, mnt, type, opts) == 4) {
                        if (strcmp(type, "cgroup2") == 0 && !v2mnt[0])
                                snprintf(v2mnt, sizeof(v2mnt), "%s", mnt);
                        if (strcmp(type, "cgroup") == 0) {
                                static const char *const ctl[] = {"memory", "cpu", "pids"};
                                for (size_t i = 0; i < ARRAY_SIZE(ctl); i++) {
                                        char k[32];
                                        snprintf(k, sizeof(k), ",%s", ctl[i]);
                                        if (strstr(opts, k) && !strstr(v1ctl, ctl[i])) {
                                                size_t l = strlen(v1ctl);
                                                snprintf(v1ctl + l, sizeof(v1ctl) - l, "%s%s",
                                                         l ? " " : "", ctl[i]);
                                        }
                                }
                        }
                }
                line = nl ? nl + 1 : NULL;
        }
        if (v2mnt[0]) {
                _cleanup_free_ char *path = fs_join(v2mnt, "cgroup.controllers");
                _cleanup_free_ char *ctl = NULL;
                if (path)
                        fs_read_file(path, 4096, &ctl, NULL, NULL);
                if (ctl) {
                        size_t l = strlen(ctl);
                        while (l && ctl[l - 1] == '\n')
                                ctl[--l] = '\0';
                }
                v2->ok = ctl && strstr(ctl, "memory") && strstr(ctl, "pids") && strstr(ctl, "cpu");
                snprintf(v2->detail, sizeof(v2->detail), "mounted at %.100s, controllers: %.120s",
                         v2mnt, ctl && *ctl ? ctl : "(none)");
        } else {
                snprintf(v2->detail, sizeof(v2->detail), "not mounted");
        }
        v1->ok = strstr(v1ctl, "memory") && strstr(v1ctl, "cpu") && strstr(v1ctl, "pids");
        snprintf(v1->detail, sizeof(v1->detail), "%s%.200s",
                 v1ctl[0] ? "controllers: " : "not mounted", v1ctl);
        /* Delegation: can we create a cgroup beneath our own (v2 path from the 0:: line)? */
        deleg->ok = false;
        snprintf(deleg->detail, sizeof(deleg->detail), "no cgroup v2 path for this process");
        for (char *line = self; line && *line;) {
                char *nl = strchr(line, '\n');
                if (nl)
                        *nl = '\0';
                if (strncmp(line, "0::", 3) == 0 && v2mnt[0]) {
                        char dir[1024];
                        snprintf(dir, sizeof(dir), "%s%s", v2mnt, line + 3);
                        deleg->ok = access(dir, W_OK) == 0;
                        snprintf(deleg->detail, sizeof(deleg->detail), "%.200s is %swritable", dir,
                                 deleg->ok ? "" : "not ");
                }
                line = nl ? nl + 1 : NULL;
        }
}

/* ------------------------------------------- user namespaces in use, AppArmor's restriction */

#define APPARMOR_USERNS_SYSCTL "/proc/sys/kernel/apparmor_restrict_unprivileged_userns"
/* For the tests only (docs/HOSTS.md): read this file instead of the sysctl. */
#define APPARMOR_USERNS_SYSCTL_ENV "RUNCELL_TEST_APPARMOR_SYSCTL"

/* What a sandbox does first: a user namespace, its id maps, then capabilities used in it. */
typedef struct userns_probe {
        bool ok;
        bool ran;
        int step; /* that failed: 1 creating it, 2 its id maps, 3 using a capability in it */
        int err;
        char what[80];
} userns_probe_t;

static int write_proc(const char *path, const char *text)
{
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        ssize_t w = write(fd, text, strlen(text));
        int e = errno;
        close(fd);
        errno = e;
        return w == (ssize_t)strlen(text) ? 0 : -1;
}

static void probe_userns(userns_probe_t *p)
{
        memset(p, 0, sizeof(*p));
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) < 0)
                return;
        unsigned uid = (unsigned)geteuid(), gid = (unsigned)getegid();
        pid_t pid = fork();
        if (pid == 0) {
                userns_probe_t r = {.ok = true, .ran = true};
                char map[64];
                close(fds[0]);
#define PROBE_FAIL(s, w)                                                                           \
        do {                                                                                       \
                r.ok = false;                                                                      \
                r.step = (s);                                                                      \
                r.err = errno;                                                                     \
                snprintf(r.what, sizeof(r.what), "%s", (w));                                       \
                goto report;                                                                       \
        } while (0)
                if (unshare(CLONE_NEWUSER) < 0)
                        PROBE_FAIL(1, "creating a user namespace");
                if (write_proc("/proc/self/setgroups", "deny") < 0 && errno != ENOENT)
                        PROBE_FAIL(2, "writing its setgroups");
                snprintf(map, sizeof(map), "0 %u 1\n", uid);
                if (write_proc("/proc/self/uid_map", map) < 0)
                        PROBE_FAIL(2, "writing its uid_map");
                snprintf(map, sizeof(map), "0 %u 1\n", gid);
                if (write_proc("/proc/self/gid_map", map) < 0)
                        PROBE_FAIL(2, "writing its gid_map");
                if (unshare(CLONE_NEWNS | CLONE_NEWUTS) < 0)
                        PROBE_FAIL(3, "creating mount and uts namespaces in it");
                if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                        PROBE_FAIL(3, "changing mount propagation in it");
                if (mount("runcell-doctor", "/tmp", "tmpfs", 0, "size=16k") < 0)
                        PROBE_FAIL(3, "mounting a tmpfs in it");
                if (sethostname("runcell-doctor", 14) < 0)
                        PROBE_FAIL(3, "setting a host name in it");
#undef PROBE_FAIL
        report:
                if (write(fds[1], &r, sizeof(r)) != (ssize_t)sizeof(r))
                        _exit(1);
                _exit(0);
        }
        close(fds[1]);
        if (pid > 0) {
                if (read(fds[0], p, sizeof(*p)) != (ssize_t)sizeof(*p))
                        memset(p, 0, sizeof(*p));
                waitpid(pid, NULL, 0);
        }
        close(fds[0]);
}

/* The user_namespaces check says "ok" only when a user namespace can also be used. */
static void check_userns_usable(check_t *c, const userns_probe_t *p)
{
        if (!c->ok || p->ok)
                return;
        c->ok = false;
        if (!p->ran)
                snprintf(c->detail, sizeof(c->detail), "could not test using a user namespace");
        else
                snprintf(c->detail, sizeof(c->detail),
                         "created, but %s failed: %s; sandboxes cannot be built", p->what,
                         strerror(p->err));
}

/* The profile shipped in scripts/apparmor (installed to share/runcell/apparmor). */
static char *apparmor_profile_path(const rc_paths_t *paths)
{
        char *c[3] = {NULL, NULL, NULL};
        if (asprintf(&c[0], "%s/../scripts/apparmor/runcell", paths->toolchains_dir) < 0)
                c[0] = NULL;
        if (asprintf(&c[1], "%s/../apparmor/runcell", paths->toolchains_dir) < 0)
                c[1] = NULL;
        if (asprintf(&c[2], "%s/scripts/apparmor/runcell", RUNCELL_SOURCE_DIR) < 0)
                c[2] = NULL;
        char *found = NULL;
        for (size_t i = 0; i < ARRAY_SIZE(c) && !found; i++)
                if (c[i] && fs_exists(c[i]))
                        found = realpath(c[i], NULL);
        for (size_t i = 0; i < ARRAY_SIZE(c); i++)
                free(c[i]);
        return found ? found : strdup("scripts/apparmor/runcell");
}

/* Ubuntu 23.10+: kernel.apparmor_restrict_unprivileged_userns=1 leaves an unconfined program's
 * user namespaces without capabilities. ok unless it is set and the probe failed; then *fix
 * holds what to do (heap, the caller frees it). */
static void check_apparmor(check_t *c, const rc_paths_t *paths, const userns_probe_t *p, char **fix)
{
        const char *path = getenv(APPARMOR_USERNS_SYSCTL_ENV);
        if (!path || !*path)
                path = APPARMOR_USERNS_SYSCTL;
        _cleanup_free_ char *text = NULL;
        int restricted = -1; /* -1: no such sysctl (no AppArmor, or an older one) */
        if (fs_read_file(path, 64, &text, NULL, NULL) == 0)
                restricted = atoi(text) != 0;
        *fix = NULL;
        c->ok = restricted != 1 || p->ok;
        if (restricted < 0)
                snprintf(c->detail, sizeof(c->detail),
                         "kernel.apparmor_restrict_unprivileged_userns absent: no AppArmor "
                         "restriction on user namespaces");
        else if (restricted == 0)
                snprintf(c->detail, sizeof(c->detail),
                         "kernel.apparmor_restrict_unprivileged_userns = 0: user namespaces "
                         "not restricted");
        else if (c->ok)
                snprintf(c->detail, sizeof(c->detail),
                         "kernel.apparmor_restrict_unprivileged_userns = 1, and runcell may use "
                         "user namespaces (%s)",
                         geteuid() == 0 ? "root" : "an AppArmor profile allows it");
        else
                snprintf(c->detail, sizeof(c->detail),
                         "kernel.apparmor_restrict_unprivileged_userns = 1: AppArmor denies "
                         "runcell the use of user namespaces (%.80s failed: %.60s)",
                         p->what, strerror(p->err));
        if (c->ok)
                return;
        _cleanup_free_ char *profile = apparmor_profile_path(paths);
        _cleanup_free_ char *exe = realpath("/proc/self/exe", NULL);
        bool listed = exe && (strcmp(exe, "/usr/local/bin/runcell") == 0 ||
                              strcmp(exe, "/usr/bin/runcell") == 0);
        char *add = NULL;
        if (exe && !listed &&
            asprintf(&add,
                     "    sudo sed -i 's|^@{runcell} = |&%s |' /etc/apparmor.d/runcell\n"
                     "      (this runcell is %s, not /usr/local/bin/runcell or /usr/bin/runcell)\n",
                     exe, exe) < 0)
                add = NULL;
        if (asprintf(fix,
                     "install runcell's AppArmor profile, which allows it user namespaces:\n"
                     "    sudo install -m 0644 %s /etc/apparmor.d/runcell\n"
                     "%s"
                     "    sudo apparmor_parser -r /etc/apparmor.d/runcell\n"
                     "or lift the restriction for every program (weaker):\n"
                     "    sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0\n"
                     "    echo kernel.apparmor_restrict_unprivileged_userns=0 | "
                     "sudo tee /etc/sysctl.d/60-runcell-userns.conf\n"
                     "(docs/HOSTS.md)",
                     profile, add ? add : "") < 0)
                *fix = NULL;
        free(add);
}

/* ---------------------------------------------------------------- one verdict per line */

/* The lines must agree: cgroup_delegation is "ok" only when runcell could open its cgroups
 * here (unless rlimit-only mode skipped that), and what is "enforced" says "yes" only when
 * the checks it rests on are ok. */
static void reconcile_cgroups(check_t *deleg, bool rlimit_only, bool limits_ok, const char *cg_line)
{
        if (rlimit_only || !deleg->ok || limits_ok)
                return;
        deleg->ok = false;
        /* cg_line: "NO, runcell will refuse to run: REASON" */
        const char *why = strstr(cg_line, ": ");
        snprintf(deleg->detail, sizeof(deleg->detail), "runcell cannot use it: %.200s",
                 why ? why + 2 : cg_line);
}

/* An /etc/subuid or /etc/subgid entry (NAME:FIRST:COUNT) that overlaps [first, last]. */
static bool subid_overlap(const char *file, unsigned long first, unsigned long last, char *what,
                          size_t size)
{
        _cleanup_fclose_ FILE *f = fopen(file, "re");
        char line[512];
        while (f && fgets(line, sizeof(line), f)) {
                char name[256];
                unsigned long a, n;
                if (sscanf(line, "%255[^:]:%lu:%lu", name, &a, &n) == 3 && n > 0 && a <= last &&
                    a + n - 1 >= first) {
                        snprintf(what, size, "%s entry %s:%lu:%lu", file, name, a, n);
                        return true;
                }
        }
        return false;
}

/* Whether an entry of the NSS database db ("passwd" or "group": files, LDAP, whatever the host
 * uses) has its id (third field) in first..last; what names it. Asked of getent(1) rather than
 * getpwent(3), so that a statically linked runcell needs no shared NSS modules. */
static bool id_db_overlap(const char *db, const char *kind, const char *idname, unsigned long first,
                          unsigned long last, char *what, size_t size)
{
        char cmd[64];
        snprintf(cmd, sizeof(cmd), "getent %s 2>/dev/null", db);
        FILE *f = popen(cmd, "r");
        if (!f)
                return false;
        char line[1024];
        bool hit = false;
        while (!hit && fgets(line, sizeof(line), f)) {
                /* name:password:id:... (fields may be empty) */
                char *name = line, *pass = strchr(line, ':');
                char *id = pass ? strchr(pass + 1, ':') : NULL;
                if (!id)
                        continue;
                *pass = '\0';
                char *end = NULL;
                unsigned long v = strtoul(++id, &end, 10);
                if (end != id && *end == ':' && v >= first && v <= last) {
                        snprintf(what, size, "%s %.120s (%s %lu)", kind, name, idname, v);
                        hit = true;
                }
        }
        pclose(f);
        return hit;
}

/* As root each running sandbox takes its own id of the range (sandbox/ids.h): it must be
 * nobody else's. */
static void check_sandbox_ids(check_t *c, const rc_paths_t *paths)
{
        if (!paths->sandbox_ids) {
                c->ok = true;
                snprintf(c->detail, sizeof(c->detail),
                         "rootless: every sandbox runs as your uid %u (per-user kernel counters "
                         "are shared, docs/SECURITY.md)",
                         (unsigned)paths->sandbox_uid);
                return;
        }
        unsigned long first = paths->sandbox_uid, last = first + paths->sandbox_ids - 1;
        char what[300] = "";
        if (!id_db_overlap("passwd", "user", "uid", first, last, what, sizeof(what)))
                id_db_overlap("group", "group", "gid", first, last, what, sizeof(what));
        if (!*what && !subid_overlap("/etc/subuid", first, last, what, sizeof(what)))
                subid_overlap("/etc/subgid", first, last, what, sizeof(what));
        c->ok = !*what;
        if (c->ok)
                snprintf(c->detail, sizeof(c->detail),
                         "%lu-%lu (RUNCELL_SANDBOX_IDS): one per running sandbox, no user, group "
                         "or subordinate range in it",
                         first, last);
        else
                snprintf(c->detail, sizeof(c->detail),
                         "%lu-%lu (RUNCELL_SANDBOX_IDS) holds %.150s: choose a free range", first,
                         last, what);
}

int cmd_doctor(const rc_paths_t *paths, int argc, char **argv)
{
        bool json = false;
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--json") == 0)
                        json = true;
                else
                        return cli_fail("doctor: unknown option %s", argv[i]);
        }
        check_t checks[9] = {
            {.name = "user_namespaces"},   {.name = "seccomp"},
            {.name = "overlayfs"},         {.name = "tmpfs"},
            {.name = "cgroup_v2"},         {.name = "cgroup_v1"},
            {.name = "cgroup_delegation"}, {.name = "apparmor_userns"},
            {.name = "sandbox_ids"},
        };
        check_userns(&checks[0]);
        userns_probe_t probe;
        probe_userns(&probe);
        check_userns_usable(&checks[0], &probe);
        _cleanup_free_ char *fix = NULL;
        check_apparmor(&checks[7], paths, &probe, &fix);
        check_seccomp(&checks[1]);
        check_filesystem(&checks[2], "overlay");
        check_filesystem(&checks[3], "tmpfs");
        check_cgroups(&checks[4], &checks[5], &checks[6]);
        check_sandbox_ids(&checks[8], paths);

        bool sandbox_ok = checks[0].ok && checks[3].ok;
        /* What runcell itself would choose, from where this process runs. */
        char cg_line[700], sc_line[600];
        cg_manager_t *cg = NULL;
        rc_err_t err = {0};
        bool limits_ok = false;
        if (paths->rlimit_only) {
                snprintf(cg_line, sizeof(cg_line),
                         "NO: rlimit-only mode was asked for (development only)");
        } else if (cg_manager_open(CG_MODE_PROBE, &cg, &err) == 0) {
                /* PROBE: where runcell would go, with nothing made, moved or enabled */
                limits_ok = true;
                snprintf(cg_line, sizeof(cg_line), "yes (cgroup %s, beneath %.300s%s%.300s)",
                         cg_manager_name(cg), cg_manager_base(cg), cg_manager_note(cg) ? "; " : "",
                         cg_manager_note(cg) ? cg_manager_note(cg) : "");
        } else {
                snprintf(cg_line, sizeof(cg_line), "NO, runcell will refuse to run: %.600s",
                         err.msg);
        }
        cg_manager_free(cg);
        reconcile_cgroups(&checks[6], paths->rlimit_only, limits_ok, cg_line);
        seccomp_bpf_t filter = {0};
        char *profile = NULL;
        rc_err_clear(&err);
        bool seccomp_ok = false;
        if (!checks[1].ok)
                snprintf(sc_line, sizeof(sc_line), "NO: the kernel or libseccomp lacks seccomp");
        else if (asprintf(&profile, "%s/default.json", paths->seccomp_dir) >= 0 &&
                 seccomp_profile_load_file(profile, &filter, &err) == 0) {
                seccomp_ok = true;
                snprintf(sc_line, sizeof(sc_line), "yes (default profile: %u BPF instructions)",
                         filter.len);
        } else
                snprintf(sc_line, sizeof(sc_line), "NO: %.560s", err.msg);
        free(profile);
        seccomp_bpf_free(&filter);
        bool can_run = sandbox_ok && seccomp_ok && (limits_ok || paths->rlimit_only);
        const char *enforce[][2] = {
            {"namespaces, read-only root, private /work and /tmp", sandbox_ok ? "yes" : "NO"},
            {"wall time, output bytes, file size, disk (tmpfs size and inodes)",
             sandbox_ok ? "yes" : "NO"},
            {"memory (no swap), CPU time and rate, processes (cgroups)", cg_line},
            {"seccomp filter, no capabilities, no_new_privs", sc_line},
        };
        if (json) {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "version", RUNCELL_VERSION);
                cJSON_AddBoolToObject(o, "root", geteuid() == 0);
                cJSON_AddNumberToObject(o, "sandbox_uid", paths->sandbox_uid);
                cJSON_AddNumberToObject(o, "sandbox_ids", paths->sandbox_ids);
                cJSON_AddStringToObject(o, "toolchains_dir", paths->toolchains_dir);
                cJSON_AddStringToObject(o, "rootfs_dir", paths->rootfs_dir);
                cJSON_AddStringToObject(o, "state_dir", paths->state_dir);
                cJSON *c = cJSON_AddObjectToObject(o, "checks");
                for (size_t i = 0; i < ARRAY_SIZE(checks); i++) {
                        cJSON *e = cJSON_AddObjectToObject(c, checks[i].name);
                        cJSON_AddBoolToObject(e, "ok", checks[i].ok);
                        cJSON_AddStringToObject(e, "detail", checks[i].detail);
                }
                cJSON *en = cJSON_AddObjectToObject(o, "enforced");
                for (size_t i = 0; i < ARRAY_SIZE(enforce); i++)
                        cJSON_AddStringToObject(en, enforce[i][0], enforce[i][1]);
                cJSON_AddBoolToObject(o, "cgroup_limits", limits_ok);
                cJSON_AddBoolToObject(o, "rlimit_only", paths->rlimit_only);
                cJSON_AddBoolToObject(o, "can_run", can_run);
                if (fix)
                        cJSON_AddStringToObject(o, "fix", fix);
                char *t = cJSON_PrintUnformatted(o);
                printf("%s\n", t);
                free(t);
                cJSON_Delete(o);
                return 0;
        }
        if (paths->sandbox_ids)
                printf("runcell %s, running as root (each sandbox runs as its own uid of %u-%u "
                       "outside)\n",
                       RUNCELL_VERSION, (unsigned)paths->sandbox_uid,
                       (unsigned)paths->sandbox_uid + paths->sandbox_ids - 1);
        else
                printf("runcell %s, running as an unprivileged user (sandboxes run as uid %u "
                       "outside)\n",
                       RUNCELL_VERSION, (unsigned)paths->sandbox_uid);
        printf("toolchains: %s\nroot filesystems: %s\nstate: %s\n\n", paths->toolchains_dir,
               paths->rootfs_dir, paths->state_dir);
        for (size_t i = 0; i < ARRAY_SIZE(checks); i++)
                printf("%-18s %-4s %s\n", checks[i].name, checks[i].ok ? "ok" : "no",
                       checks[i].detail);
        printf("\nenforced:\n");
        for (size_t i = 0; i < ARRAY_SIZE(enforce); i++)
                printf("  %-58s %s\n", enforce[i][0], enforce[i][1]);
        if (fix)
                printf("\nfix: %s\n", fix);
        printf("\nsandboxes can run: %s\n", can_run ? "yes" : "NO");
        return 0;
}
