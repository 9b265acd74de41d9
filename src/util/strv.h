/* NULL-terminated, heap-owned string vectors (argv, envp). */
#ifndef RUNCELL_UTIL_STRV_H
#define RUNCELL_UTIL_STRV_H

#include <stddef.h>

typedef struct strv {
        char **v; /* always NULL-terminated once anything was added */
        size_t n;
        size_t cap;
} strv_t;

int strv_push(strv_t *s, const char *str); /* copies str; -ENOMEM on failure */
int strv_push_take(strv_t *s, char *str);  /* takes ownership of str */
void strv_free(strv_t *s);
/* A NULL-terminated array for execve; never NULL (an empty vector yields {NULL}). */
char *const *strv_array(strv_t *s);
/* Copy a NULL-terminated array. */
int strv_copy(strv_t *dst, char *const *src);

#endif
