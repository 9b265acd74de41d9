/* The user and group lookups of a statically linked runcell (CMakeLists.txt, RUNCELL_STATIC).
 *
 * libcgroup.a's rules-file and configuration parsers call getpwnam and friends; runcell uses
 * only libcgroup's mount-point lookup, so those calls never happen, but linking them statically
 * would make the binary load glibc's shared NSS modules at run time (and the linker warns about
 * it). The link wraps each of them (-Wl,--wrap=NAME) to the functions below, which answer "no
 * such user or group". runcell's own code looks nothing up by name: `doctor` asks getent(1). */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stddef.h>
#include <sys/types.h>

struct passwd *__wrap_getpwnam(const char *name);
struct passwd *__wrap_getpwuid(uid_t uid);
int __wrap_getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t len,
                      struct passwd **out);
struct group *__wrap_getgrnam(const char *name);
struct group *__wrap_getgrgid(gid_t gid);
int __wrap_getgrnam_r(const char *name, struct group *gr, char *buf, size_t len,
                      struct group **out);

struct passwd *__wrap_getpwnam(const char *name)
{
        errno = ENOENT;
        return NULL;
}

struct passwd *__wrap_getpwuid(uid_t uid)
{
        errno = ENOENT;
        return NULL;
}

int __wrap_getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t len,
                      struct passwd **out)
{
        *out = NULL;
        return 0; /* not found */
}

struct group *__wrap_getgrnam(const char *name)
{
        errno = ENOENT;
        return NULL;
}

struct group *__wrap_getgrgid(gid_t gid)
{
        errno = ENOENT;
        return NULL;
}

int __wrap_getgrnam_r(const char *name, struct group *gr, char *buf, size_t len, struct group **out)
{
        *out = NULL;
        return 0;
}
