/* A contestant's program for the judge cases: what it does depends on the test's first word.
 * ok A B: prints A+B; wrong A B: prints A+B+1; div A B: prints A/B with 7 decimals;
 * loop: spins forever; crash: dereferences NULL; hog: allocates and touches memory forever. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile char *volatile sink;

int main(void)
{
        char what[16];
        double a = 0, b = 0;
        if (scanf("%15s %lf %lf", what, &a, &b) < 1)
                return 2;
        if (strcmp(what, "ok") == 0)
                printf("%.0f\n", a + b);
        else if (strcmp(what, "wrong") == 0)
                printf("%.0f\n", a + b + 1);
        else if (strcmp(what, "div") == 0)
                printf("%.7f\n", a / b);
        else if (strcmp(what, "loop") == 0)
                for (volatile unsigned long i = 0;; i++)
                        ;
        else if (strcmp(what, "crash") == 0)
                *(volatile int *)sink = 1;
        else if (strcmp(what, "hog") == 0)
                for (;;) {
                        char *p = malloc(1 << 20);
                        if (!p)
                                return 3;
                        for (int i = 0; i < (1 << 20); i += 4096)
                                p[i] = 1;
                        sink = p;
                }
        return 0;
}
