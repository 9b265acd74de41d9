/* Compiled seccomp programs kept on disk, so that a one-shot `runcell run` does not parse the
 * profile's JSON and run libseccomp's compiler each time (most of its own CPU time before the
 * sandbox, several times more under emulation). A file <dir>/<profile>-<hash>.bpf holds the
 * exact key it was made from (runcell and libseccomp versions, the kernel, the profile's whole
 * text) and the program; it is used only when its key equals the one computed now, so a hash
 * collision, an edited profile or a new kernel means a compile, never a wrong filter. One file
 * per profile is kept: writing one removes that profile's others. */
#include "seccomp/cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define CACHE_MAGIC      "runcell-bpf 1\n"
#define PROFILE_TEXT_MAX (1 << 20)
#define CACHE_FILE_MAX   (PROFILE_TEXT_MAX + (1 << 20))

static char *key_material(const char *name, const char *text, size_t len, size_t *key_len)
{
        struct utsname u;
        if (uname(&u) < 0)
                return NULL;
        const struct scmp_version *v = seccomp_version();
        char *head = NULL;
        int hl =
            asprintf(&head, "runcell %s\nlibseccomp %u.%u.%u\nkernel %s %s %s %s\nprofile %s\n",
                     RUNCELL_VERSION, v ? v->major : 0, v ? v->minor : 0, v ? v->micro : 0,
                     u.sysname, u.release, u.version, u.machine, name);
        if (hl < 0)
                return NULL;
        char *key = malloc((size_t)hl + len);
        if (key) {
                memcpy(key, head, (size_t)hl);
                memcpy(key + hl, text, len);
                *key_len = (size_t)hl + len;
        }
        free(head);
        return key;
}

static uint64_t fnv1a(const char *p, size_t n)
{
        uint64_t h = 0xcbf29ce484222325ULL;
        for (size_t i = 0; i < n; i++) {
                h ^= (unsigned char)p[i];
                h *= 0x100000001b3ULL;
        }
        return h;
}

static bool valid_name(const char *name)
{
        if (!*name || strlen(name) > 100)
                return false;
        for (const char *c = name; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                      (*c >= '0' && *c <= '9') || *c == '_' || *c == '.' || *c == '+'))
                        return false;
        return name[0] != '.';
}

/* The cached program for key, or -ENOENT. Only a file of ours that nobody else may write. */
static int cache_read(const char *file, const char *key, size_t key_len, seccomp_bpf_t *out)
{
        _cleanup_close_ int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
            (st.st_mode & 022) || st.st_size > CACHE_FILE_MAX)
                return -ENOENT;
        size_t size = (size_t)st.st_size;
        _cleanup_free_ char *buf = malloc(size ? size : 1);
        if (!buf)
                return -ENOMEM;
        size_t got = 0;
        while (got < size) {
                ssize_t n = read(fd, buf + got, size - got);
                if (n <= 0)
                        return -ENOENT;
                got += (size_t)n;
        }
        size_t ml = strlen(CACHE_MAGIC), hdr = ml + 2 * sizeof(uint32_t);
        uint32_t kl, nins;
        if (size < hdr || memcmp(buf, CACHE_MAGIC, ml) != 0)
                return -ENOENT;
        memcpy(&kl, buf + ml, sizeof(kl));
        memcpy(&nins, buf + ml + sizeof(kl), sizeof(nins));
        if (kl != key_len || nins == 0 || nins > 0xffff ||
            size != hdr + kl + (size_t)nins * sizeof(struct sock_filter) ||
            memcmp(buf + hdr, key, key_len) != 0)
                return -ENOENT;
        struct sock_filter *insns = malloc((size_t)nins * sizeof(*insns));
        if (!insns)
                return -ENOMEM;
        memcpy(insns, buf + hdr + kl, (size_t)nins * sizeof(*insns));
        out->insns = insns;
        out->len = (unsigned short)nins;
        return 0;
}

/* Write the program for key atomically, and remove the profile's other cached programs. */
static void cache_write(const char *dir, const char *name, const char *file, const char *key,
                        size_t key_len, const seccomp_bpf_t *b)
{
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return;
        uint32_t kl = (uint32_t)key_len, nins = b->len;
        buf_t blob = {0};
        bool ok = buf_append(&blob, CACHE_MAGIC, strlen(CACHE_MAGIC)) == 0 &&
                  buf_append(&blob, &kl, sizeof(kl)) == 0 &&
                  buf_append(&blob, &nins, sizeof(nins)) == 0 &&
                  buf_append(&blob, key, key_len) == 0 &&
                  buf_append(&blob, b->insns, (size_t)nins * sizeof(*b->insns)) == 0 &&
                  fs_write_atomic(file, blob.data, blob.len, 0644) == 0;
        buf_free(&blob);
        if (!ok)
                return;
        _cleanup_closedir_ DIR *d = opendir(dir);
        const char *keep = strrchr(file, '/') + 1;
        size_t nl = strlen(name);
        for (struct dirent *e; d && (e = readdir(d));)
                if (strncmp(e->d_name, name, nl) == 0 && e->d_name[nl] == '-' &&
                    strcmp(e->d_name, keep) != 0 && strstr(e->d_name, ".bpf"))
                        unlinkat(dirfd(d), e->d_name, 0);
}

int seccomp_profile_load_cached(const char *path, const char *cache_dir, seccomp_bpf_t *out,
                                rc_err_t *err)
{
        _cleanup_free_ char *name = seccomp_profile_name(path);
        if (!name)
                return rc_err_set(err, ENOMEM, "out of memory");
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        size_t key_len = 0;
        _cleanup_free_ char *key = NULL, *file = NULL;
        if (!cache_dir || !valid_name(name) ||
            fs_read_file(path, PROFILE_TEXT_MAX, &text, &len, NULL) < 0 ||
            !(key = key_material(name, text, len, &key_len)) ||
            asprintf(&file, "%s/%s-%016llx.bpf", cache_dir, name,
                     (unsigned long long)fnv1a(key, key_len)) < 0) {
                file = NULL;
                return seccomp_profile_load_file(path, out, err); /* no cache: compile */
        }
        seccomp_bpf_t b = {0};
        if (cache_read(file, key, key_len, &b) == 0) {
                b.name = steal_pointer(&name);
                *out = b;
                return 0;
        }
        int r = seccomp_profile_compile(text, len, path, &b, err);
        if (r < 0)
                return r;
        free(b.name);
        b.name = steal_pointer(&name);
        cache_write(cache_dir, b.name, file, key, key_len, &b);
        *out = b;
        return 0;
}
