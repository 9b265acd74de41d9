#include "util/proctitle.h"

#include <string.h>

extern char **environ;

static char *area_start;
static char *area_end;

void proctitle_init(int argc, char **argv)
{
        if (argc < 1 || !argv[0])
                return;
        /* The kernel lays argv and then envp strings out back to back; take the contiguous run. */
        char *end = argv[0] + strlen(argv[0]) + 1;
        for (int i = 1; i < argc; i++)
                if (argv[i] == end)
                        end = argv[i] + strlen(argv[i]) + 1;
        for (char **e = environ; e && *e; e++)
                if (*e == end)
                        end = *e + strlen(*e) + 1;
        area_start = argv[0];
        area_end = end;
}

void proctitle_scrub(const char *title)
{
        if (!area_start)
                return;
        size_t size = (size_t)(area_end - area_start);
        memset(area_start, 0, size);
        size_t tl = strlen(title);
        if (size > 1)
                memcpy(area_start, title, tl < size - 1 ? tl : size - 1);
}
