#include <stdio.h>

int main(void)
{
    volatile int *volatile p = NULL;

    printf("about to crash\n");
    fflush(stdout);
    *p = 42;
    printf("not reached\n");
    return 0;
}
