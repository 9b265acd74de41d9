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
