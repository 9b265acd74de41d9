/* The UTF-8 locale from LANG: wide characters, case mapping, a UTF-8 file name. argv[1] is
 * the text to work on. */
#include <dirent.h>
#include <langinfo.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <wctype.h>

int main(int argc, char **argv)
{
        if (argc < 2)
                return 2;
        const char *loc = setlocale(LC_ALL, "");
        printf("locale %s\n", loc ? loc : "(null)");
        printf("codeset %s\n", nl_langinfo(CODESET));
        const char *s = argv[1];
        size_t n = mbstowcs(NULL, s, 0);
        printf("bytes %zu chars %zu\n", strlen(s), n);
        wchar_t *w = calloc(n + 1, sizeof(*w));
        mbstowcs(w, s, n + 1);
        for (size_t i = 0; i < n; i++)
                w[i] = (wchar_t)towupper((wint_t)w[i]);
        printf("upper %ls\n", w);
        char path[512];
        snprintf(path, sizeof(path), "/tmp/%s.txt", s);
        FILE *f = fopen(path, "w");
        if (!f) {
                perror(path);
                return 1;
        }
        fprintf(f, "%s\n", s);
        fclose(f);
        DIR *d = opendir("/tmp");
        struct dirent *e;
        while (d && (e = readdir(d)))
                if (strstr(e->d_name, ".txt"))
                        printf("file %s\n", e->d_name);
        if (d)
                closedir(d);
        free(w);
        return 0;
}
