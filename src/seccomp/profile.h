/* Seccomp profiles: Docker/OCI seccomp JSON compiled once, in the parent, into a classic BPF
 * program kept in memory. The sandbox child then installs it with one prctl() and no
 * allocation, as the last step before execve (see STYLE: the spawn sequence). */
#ifndef RUNCELL_SECCOMP_PROFILE_H
#define RUNCELL_SECCOMP_PROFILE_H

#include <stddef.h>

#include "util/err.h"

struct sock_filter;

typedef struct seccomp_bpf {
        struct sock_filter *insns; /* len instructions, heap */
        unsigned short len;
        char *name; /* profile name (origin, or the file's basename without .json) */
} seccomp_bpf_t;

/* Parse a profile (json, len bytes) and compile it for this machine's native architecture
 * plus the x86/x32 ABIs it lists. Errors name origin and the entry ("default.json:
 * syscalls[12]: unknown action ..."). out->name becomes a copy of origin. Parent side only. */
int seccomp_profile_compile(const char *json, size_t len, const char *origin, seccomp_bpf_t *out,
                            rc_err_t *err);
/* A profile's name: path's basename without ".json" (malloc'd; NULL when out of memory). */
char *seccomp_profile_name(const char *path);
/* Read and compile path; out->name is its basename without ".json". */
int seccomp_profile_load_file(const char *path, seccomp_bpf_t *out, rc_err_t *err);
/* Release the program and name; accepts an empty or zeroed struct. */
void seccomp_bpf_free(seccomp_bpf_t *b);

/* Child side, right before execve, after PR_SET_NO_NEW_PRIVS (or with CAP_SYS_ADMIN):
 * install the program for the calling thread. No allocation; returns 0 or -errno. */
int seccomp_bpf_install(const seccomp_bpf_t *b);

#endif
