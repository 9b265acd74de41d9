/* A judged C program for tests/e2e/cases/judge_reuse.py: stdin "replace" swaps the program's
 * own executable in /work (and every other file the build left there) for a script printing
 * "tampered"; any other stdin prints "clean" and what /work holds. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void)
{
        char word[64] = "";
        if (scanf("%63s", word) != 1)
                word[0] = '\0';
        char self[4096];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n < 0) {
                perror("readlink");
                return 1;
        }
        self[n] = '\0';
        printf("clean\n");
        DIR *d = opendir("/work");
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                        continue;
                struct stat st;
                char p[512];
                snprintf(p, sizeof(p), "/work/%s", e->d_name);
                if (lstat(p, &st) == 0)
                        printf("/work/%s %lld %o\n", e->d_name, (long long)st.st_size,
                               (unsigned)(st.st_mode & 07777));
        }
        if (d)
                closedir(d);
        if (strcmp(word, "replace") == 0) {
                fflush(stdout);
                if (unlink(self) < 0) {
                        perror("unlink");
                        return 1;
                }
                FILE *f = fopen(self, "w");
                if (!f) {
                        perror("fopen");
                        return 1;
                }
                fputs("#!/bin/sh\necho tampered\n", f);
                fclose(f);
                chmod(self, 0755);
                fprintf(stderr, "replaced %s\n", self);
        }
        return 0;
}
