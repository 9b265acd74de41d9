#include "util/base64.h"

int base64_append(buf_t *out, const void *data, size_t len)
{
        static const char tbl[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        const unsigned char *s = data;
        for (size_t i = 0; i < len; i += 3) {
                unsigned v = (unsigned)s[i] << 16;
                if (i + 1 < len)
                        v |= (unsigned)s[i + 1] << 8;
                if (i + 2 < len)
                        v |= s[i + 2];
                char q[4] = {tbl[(v >> 18) & 63], tbl[(v >> 12) & 63],
                             i + 1 < len ? tbl[(v >> 6) & 63] : '=',
                             i + 2 < len ? tbl[v & 63] : '='};
                if (buf_append(out, q, 4) < 0)
                        return -1;
        }
        return 0;
}

static int b64_value(unsigned char c)
{
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+')
                return 62;
        if (c == '/')
                return 63;
        return -1;
}

int base64_decode(buf_t *out, const char *s, size_t len)
{
        size_t start = out->len;
        unsigned v = 0;
        int bits = 0, pad = 0;
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)s[i];
                if (c == '\n' || c == '\r')
                        continue;
                if (c == '=') {
                        pad++;
                        continue;
                }
                int d = b64_value(c);
                if (d < 0 || pad) /* not base64, or data after the padding */
                        goto bad;
                v = (v << 6) | (unsigned)d;
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        char byte = (char)((v >> bits) & 0xff);
                        if (buf_append(out, &byte, 1) < 0)
                                goto bad;
                }
        }
        /* what is left must be the padding's zero bits: 2 or 4 of them (one or two '='),
         * or none */
        if (bits >= 6 || (v & ((1u << bits) - 1)) != 0 || pad > 2 || (pad && pad != bits / 2))
                goto bad;
        return 0;
bad:
        out->len = start;
        if (out->data)
                out->data[start] = '\0';
        return -1;
}
