/* Local time: UTC by default (/etc/localtime), then TZ=Europe/Paris from tzdata. argv: times. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static void show(const char *label, time_t t)
{
        char buf[64];
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S %Z %z", &tm);
        printf("%s %lld %s\n", label, (long long)t, buf);
}

int main(int argc, char **argv)
{
        tzset();
        for (int i = 1; i < argc; i++)
                show("default", (time_t)atoll(argv[i]));
        setenv("TZ", "Europe/Paris", 1);
        tzset();
        for (int i = 1; i < argc; i++)
                show("paris", (time_t)atoll(argv[i]));
        return 0;
}
