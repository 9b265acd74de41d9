/* A checker in C: the first word of the output against the answer's, case ignored. */
#include <stdio.h>
#include <strings.h>

int main(int argc, char **argv)
{
        char a[100] = {0}, b[100] = {0};
        FILE *out = argc > 3 ? fopen(argv[2], "r") : NULL, *ans = argc > 3 ? fopen(argv[3], "r") : NULL;
        if (!out || !ans)
                return 3;
        if (fscanf(out, "%99s", a) != 1)
                return 2;
        if (fscanf(ans, "%99s", b) == 1 && strcasecmp(a, b) == 0)
                return 0;
        fprintf(stderr, "differ: %s vs %s\n", a, b);
        return 1;
}
