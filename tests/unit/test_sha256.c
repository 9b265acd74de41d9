/* util/sha256: the FIPS 180-4 example vectors, a million 'a' fed in uneven pieces, the lengths
 * around the padding's block boundary (55, 56, 63, 64, 65 bytes; digests from sha256sum), and
 * the one-call and init/update/final paths agreeing. */
#include <stdint.h>
#include <string.h>

#include "testutil.h"
#include "util/sha256.h"

static void test_standard_vectors(void)
{
        char hex[SHA256_HEX_LEN];
        sha256_hex("", 0, hex);
        CHECK_STR_EQ(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        sha256_hex(NULL, 0, hex);
        CHECK_STR_EQ(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        sha256_hex("abc", 3, hex);
        CHECK_STR_EQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        sha256_hex(m448, strlen(m448), hex);
        CHECK_STR_EQ(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_million_a_in_pieces(void)
{
        static const size_t pieces[] = {1, 63, 64, 65, 1000, 0, 7, 128, 4096, 3};
        static uint8_t a[4096];
        memset(a, 'a', sizeof(a));
        sha256_t s;
        sha256_init(&s);
        size_t left = 1000000;
        for (size_t i = 0; left > 0; i++) {
                size_t n = pieces[i % TU_COUNT(pieces)];
                if (n > left)
                        n = left;
                sha256_update(&s, a, n);
                left -= n;
        }
        char hex[SHA256_HEX_LEN];
        sha256_final_hex(&s, hex);
        CHECK_STR_EQ(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* Bytes 0, 1, ..., len - 1: `python3 -c "import sys; sys.stdout.buffer.write(bytes(range(N)))" |
 * sha256sum`. */
static const struct {
        size_t len;
        const char *hex;
} block_edges[] = {
    {55, "463eb28e72f82e0a96c0a4cc53690c571281131f672aa229e0d45ae59b598b59"},
    {56, "da2ae4d6b36748f2a318f23e7ab1dfdf45acdc9d049bd80e59de82a60895f562"},
    {63, "29af2686fd53374a36b0846694cc342177e428d1647515f078784d69cdb9e488"},
    {64, "fdeab9acf3710362bd2658cdc9a29e8f9c757fcf9811603a8c447cd1d9151108"},
    {65, "4bfd2c8b6f1eec7a2afeb48b934ee4b2694182027e6d0fc075074f2fabb31781"},
};

static void test_block_edges(void)
{
        uint8_t data[65];
        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (uint8_t)i;
        for (size_t i = 0; i < TU_COUNT(block_edges); i++) {
                char hex[SHA256_HEX_LEN];
                sha256_hex(data, block_edges[i].len, hex);
                CHECK_STR_EQ(hex, block_edges[i].hex);
        }
}

/* sha256_hex, init/update/final byte by byte and in every two-piece split, and the raw digest
 * against its hex, for every length up to 200 bytes. */
static void test_paths_agree(void)
{
        static const char hexd[] = "0123456789abcdef";
        uint8_t data[200];
        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (uint8_t)(i * 37 + 11);
        for (size_t len = 0; len <= sizeof(data); len++) {
                char one[SHA256_HEX_LEN], got[SHA256_HEX_LEN];
                sha256_hex(data, len, one);
                REQUIRE(strlen(one) == 64);

                sha256_t s;
                sha256_init(&s);
                for (size_t i = 0; i < len; i++)
                        sha256_update(&s, data + i, 1);
                sha256_final_hex(&s, got);
                if (!CHECK_STR_EQ(got, one))
                        return;

                for (size_t cut = 0; cut <= len; cut++) {
                        sha256_init(&s);
                        sha256_update(&s, data, cut);
                        sha256_update(&s, data + cut, len - cut);
                        sha256_final_hex(&s, got);
                        if (!CHECK_STR_EQ(got, one))
                                return;
                }

                uint8_t d[SHA256_DIGEST_LEN];
                sha256_init(&s);
                sha256_update(&s, data, len);
                sha256_final(&s, d);
                for (size_t i = 0; i < SHA256_DIGEST_LEN; i++) {
                        got[2 * i] = hexd[d[i] >> 4];
                        got[2 * i + 1] = hexd[d[i] & 15];
                }
                got[64] = '\0';
                if (!CHECK_STR_EQ(got, one))
                        return;
        }
}

int main(int argc, char **argv)
{
        static const tu_test_t tests[] = {
            TU_TEST(test_standard_vectors),
            TU_TEST(test_million_a_in_pieces),
            TU_TEST(test_block_edges),
            TU_TEST(test_paths_agree),
        };
        return tu_main("test_sha256", tests, TU_COUNT(tests), argc, argv);
}
