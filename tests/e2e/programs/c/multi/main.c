#include <stdio.h>
#include "util.h"

int main(void)
{
    printf("%s %d\n", UTIL_GREETING, util_add(40, 2));
    return 0;
}
