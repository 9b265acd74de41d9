#ifndef UTIL_H
#define UTIL_H

#define UTIL_GREETING "multi-file sum:"

int util_add(int a, int b);

#endif
