/* SHA-256 (FIPS 180-4, section 6.2), written here from the standard: a digest of bytes, fed in
 * pieces of any size (init, update as often as wanted, final) or in one call. The state is a
 * plain struct that lives wherever the caller puts it (the stack will do); nothing here
 * allocates. Messages up to 2^61 - 1 bytes (the standard's 2^64 bits). */
#ifndef RUNCELL_UTIL_SHA256_H
#define RUNCELL_UTIL_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN 32
#define SHA256_HEX_LEN    65 /* 64 hex digits and the NUL */

typedef struct sha256 {
        uint32_t h[8];   /* the hash value so far (H0..H7) */
        uint64_t len;    /* bytes fed so far */
        uint8_t buf[64]; /* the current block, nbuf bytes of it filled */
        size_t nbuf;
} sha256_t;

/* Start a digest (s may hold anything before). */
void sha256_init(sha256_t *s);
/* Feed len bytes of data (data may be NULL when len is 0). */
void sha256_update(sha256_t *s, const void *data, size_t len);
/* Pad, finish and write the 32-byte digest to out; s must be initialized again before reuse. */
void sha256_final(sha256_t *s, uint8_t out[SHA256_DIGEST_LEN]);
/* sha256_final, as 64 lowercase hex digits with their NUL. */
void sha256_final_hex(sha256_t *s, char out[SHA256_HEX_LEN]);
/* The digest of one buffer, as lowercase hex with its NUL. */
void sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN]);

#endif
