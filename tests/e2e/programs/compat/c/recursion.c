/* Deep recursion on the main thread's stack (RLIMIT_STACK): argv[1] levels, about 100 bytes
 * each, kept from being turned into a loop by a volatile frame used after the call. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

static unsigned long long down(unsigned long long n)
{
        volatile unsigned char pad[64];
        pad[n % 64] = (unsigned char)n;
        if (n == 0)
                return 0;
        unsigned long long r = down(n - 1);
        return r + pad[n % 64];
}

int main(int argc, char **argv)
{
        struct rlimit rl;
        getrlimit(RLIMIT_STACK, &rl);
        printf("stack limit MB %llu\n", (unsigned long long)rl.rlim_cur >> 20);
        unsigned long long n = argc > 1 ? strtoull(argv[1], NULL, 10) : 100000;
        printf("depth %llu sum %llu\n", n, down(n));
        return 0;
}
