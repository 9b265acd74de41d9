/* Reads all of stdin: bytes, lines, and the sum of the number on each line. */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
        static char buf[1 << 16];
        unsigned long long bytes = 0, lines = 0, sum = 0, cur = 0;
        ssize_t n;
        while ((n = read(0, buf, sizeof(buf))) > 0) {
                bytes += (unsigned long long)n;
                for (ssize_t i = 0; i < n; i++) {
                        char c = buf[i];
                        if (c >= '0' && c <= '9') {
                                cur = cur * 10 + (unsigned long long)(c - '0');
                        } else if (c == '\n') {
                                lines++;
                                sum += cur;
                                cur = 0;
                        }
                }
        }
        printf("bytes %llu lines %llu sum %llu\n", bytes, lines, sum);
        return n < 0;
}
