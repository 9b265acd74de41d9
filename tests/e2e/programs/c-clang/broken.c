#include <stdio.h>

int main(void)
{
    printf("%d\n", undeclared_variable_xyz);
    return 0;
}
