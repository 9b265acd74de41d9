/* What C sees of the CPUs: sysconf, get_nprocs, the affinity mask, /proc/cpuinfo. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <unistd.h>

int main(void)
{
        cpu_set_t set;
        CPU_ZERO(&set);
        sched_getaffinity(0, sizeof(set), &set);
        FILE *f = fopen("/proc/cpuinfo", "r");
        char line[512];
        int procs = 0;
        while (f && fgets(line, sizeof(line), f))
                procs += strncmp(line, "processor", 9) == 0;
        printf("onln %ld get_nprocs %d affinity %d cpuinfo %d\n", sysconf(_SC_NPROCESSORS_ONLN),
               get_nprocs(), CPU_COUNT(&set), procs);
        return 0;
}
