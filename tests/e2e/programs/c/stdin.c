#include <ctype.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    char line[4096];
    int n = 0;

    while (fgets(line, sizeof line, stdin)) {
        size_t len = strlen(line);
        if (len && line[len - 1] == '\n')
            line[--len] = '\0';
        for (size_t i = 0; i < len; i++)
            line[i] = (char)toupper((unsigned char)line[i]);
        printf("%d:%s\n", ++n, line);
    }
    printf("lines=%d\n", n);
    return 0;
}
