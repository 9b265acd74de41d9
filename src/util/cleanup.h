/* Scope-bound cleanup of local resources (see STYLE: crun utils.h, systemd _cleanup_). */
#ifndef RUNCELL_UTIL_CLEANUP_H
#define RUNCELL_UTIL_CLEANUP_H

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void cleanup_freep(void *p)
{
        free(*(void **)p);
}

static inline void cleanup_closep(const int *fd)
{
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}

static inline void cleanup_fclosep(FILE **f)
{
        if (*f)
                fclose(*f);
}

static inline void cleanup_closedirp(DIR **d)
{
        if (*d)
                closedir(*d);
}

static inline void cleanup_cjsonp(cJSON **j)
{
        cJSON_Delete(*j);
}

#define _cleanup_free_     __attribute__((cleanup(cleanup_freep)))
#define _cleanup_close_    __attribute__((cleanup(cleanup_closep)))
#define _cleanup_fclose_   __attribute__((cleanup(cleanup_fclosep)))
#define _cleanup_closedir_ __attribute__((cleanup(cleanup_closedirp)))
#define _cleanup_cjson_    __attribute__((cleanup(cleanup_cjsonp)))

/* Hand ownership out of a cleanup-scoped variable. */
#define steal_pointer(pp)                                                                          \
        ({                                                                                         \
                __typeof__(*(pp)) steal_tmp_ = *(pp);                                              \
                *(pp) = NULL;                                                                      \
                steal_tmp_;                                                                        \
        })

#define steal_fd(fdp)                                                                              \
        ({                                                                                         \
                int steal_fd_tmp_ = *(fdp);                                                        \
                *(fdp) = -1;                                                                       \
                steal_fd_tmp_;                                                                     \
        })

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
