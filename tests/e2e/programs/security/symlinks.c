/* symlinks: walk /work (without following links) and report what is there; with "plant",
 * then create links in /work to host-looking places. Prints one JSON line:
 * {"links":[...],"secret_files":[...],"files":N,"planted":N}
 * secret_files: regular files whose contents look like /etc/passwd or /etc/shadow. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char links[4096], secrets[4096];
static int nfiles;

static void add(char *list, const char *s)
{
        size_t n = strlen(list);
        snprintf(list + n, 4096 - n, "%s\"%s\"", n ? "," : "", s);
}

/* passwd or shadow lines; the needles are put together at run time, so that neither this
 * source nor the program built from it holds them */
static int looks_secret(const char *buf)
{
        static const char *const tails[] = {"x:0:0:", "*:", "!:", "!*:"};
        char needle[32];
        for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
                snprintf(needle, sizeof(needle), "%s:%s", getenv("RC_NOPE") ? "" : "root",
                         tails[i]);
                if (strstr(buf, needle))
                        return 1;
        }
        return 0;
}

static void walk(const char *dir)
{
        DIR *d = opendir(dir);
        if (!d)
                return;
        struct dirent *e;
        while ((e = readdir(d))) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                        continue;
                char p[1024];
                snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
                struct stat st;
                if (lstat(p, &st) < 0)
                        continue;
                if (S_ISLNK(st.st_mode)) {
                        add(links, p);
                } else if (S_ISDIR(st.st_mode)) {
                        walk(p);
                } else if (S_ISREG(st.st_mode)) {
                        nfiles++;
                        int fd = open(p, O_RDONLY | O_NOFOLLOW);
                        char buf[8192];
                        ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
                        if (fd >= 0)
                                close(fd);
                        if (n > 0) {
                                buf[n] = 0;
                                if (looks_secret(buf))
                                        add(secrets, p);
                        }
                }
        }
        closedir(d);
}

int main(int argc, char **argv)
{
        walk("/work");
        int planted = 0;
        if (argc > 1 && !strcmp(argv[1], "plant")) {
                planted += symlink("/etc/passwd", "/work/passwd") == 0;
                planted += symlink("/etc/shadow", "/work/shadow") == 0;
                planted += symlink("/", "/work/rootdir") == 0;
                mkdir("/work/sub", 0755);
                planted += symlink("/etc", "/work/sub/etc") == 0;
                planted += symlink("/proc/1/root", "/work/sub/init-root") == 0;
        }
        printf("{\"links\":[%s],\"secret_files\":[%s],\"files\":%d,\"planted\":%d}\n", links,
               secrets, nfiles, planted);
        return 0;
}
