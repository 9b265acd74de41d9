#include "sandbox/sync.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int sb_msg_sendv(int sock, const sb_msg_t *msg, const void *payload, size_t len, const int *fds,
                 int nfds)
{
        struct iovec iov[2] = {{.iov_base = (void *)msg, .iov_len = sizeof(*msg)},
                               {.iov_base = (void *)payload, .iov_len = len}};
        union {
                char buf[CMSG_SPACE(sizeof(int) * SB_MSG_FDS_MAX)];
                struct cmsghdr align;
        } u;
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
        if (nfds < 0 || nfds > SB_MSG_FDS_MAX)
                return -EINVAL;
        if (nfds > 0) {
                memset(&u, 0, sizeof(u));
                mh.msg_control = u.buf;
                mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
                struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
                memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
        }
        for (;;) {
                ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);
                if (n == (ssize_t)(sizeof(*msg) + len))
                        return 0;
                if (n < 0 && errno == EINTR)
                        continue;
                return n < 0 ? -errno : -EIO;
        }
}

int sb_msg_send(int sock, const sb_msg_t *msg, int fd)
{
        return sb_msg_sendv(sock, msg, NULL, 0, &fd, fd >= 0 ? 1 : 0);
}

int sb_msg_recvv(int sock, sb_msg_t *msg, void *payload, size_t cap, size_t *len, int *fds, int max,
                 int *nfds)
{
        struct iovec iov[2] = {{.iov_base = msg, .iov_len = sizeof(*msg)},
                               {.iov_base = payload, .iov_len = cap}};
        union {
                char buf[CMSG_SPACE(sizeof(int) * SB_MSG_FDS_MAX)];
                struct cmsghdr align;
        } u;
        struct msghdr mh = {.msg_iov = iov,
                            .msg_iovlen = payload && cap ? 2 : 1,
                            .msg_control = u.buf,
                            .msg_controllen = sizeof(u.buf)};
        *nfds = 0;
        if (len)
                *len = 0;
        ssize_t n;
        do
                n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        if (n == 0)
                return -EPIPE;
        bool extra = false; /* fds beyond max: closed, and the message refused */
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                        continue;
                size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < k; i++) {
                        int got;
                        memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                        if (*nfds < max) {
                                fds[(*nfds)++] = got;
                        } else {
                                close(got);
                                extra = true;
                        }
                }
        }
        if (extra || n < (ssize_t)sizeof(*msg) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
                for (int i = 0; i < *nfds; i++)
                        close(fds[i]);
                *nfds = 0;
                return -EBADMSG;
        }
        if (len)
                *len = (size_t)n - sizeof(*msg);
        else if (n != (ssize_t)sizeof(*msg))
                return -EBADMSG;
        msg->text[SB_MSG_TEXT_MAX - 1] = '\0';
        return 0;
}

int sb_msg_recv(int sock, sb_msg_t *msg, int *fd)
{
        int got = -1, n = 0;
        int r = sb_msg_recvv(sock, msg, NULL, 0, NULL, &got, 1, &n);
        if (fd)
                *fd = n ? got : -1;
        else if (n)
                close(got); /* not wanted here */
        return r;
}

void sb_msg_fill(sb_msg_t *msg, uint32_t type, int32_t a, const char *fmt, ...)
{
        memset(msg, 0, sizeof(*msg));
        msg->type = type;
        msg->a = a;
        if (fmt) {
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(msg->text, sizeof(msg->text), fmt, ap);
                va_end(ap);
        }
}

int64_t sb_now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
