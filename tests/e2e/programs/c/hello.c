#include <stdio.h>

int main(void)
{
    printf("Hello from c\n");
    return 0;
}
