/* libFuzzer target: seccomp_profile_compile (seccomp/profile.h), a seccomp profile's JSON
 * parsed and compiled to BPF (in memory; nothing is installed). */
#include <stdint.h>
#include <stdlib.h>

#include "seccomp/profile.h"
#include "util/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        seccomp_bpf_t bpf = {0};
        rc_err_t err = {0};
        seccomp_profile_compile((const char *)data, size, "fuzz", &bpf, &err);
        seccomp_bpf_free(&bpf);
        return 0;
}
