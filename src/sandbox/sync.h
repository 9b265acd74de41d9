/* Messages between runcell (parent) and the sandbox's init over a SOCK_SEQPACKET socketpair.
 * One message per packet; files travel as SCM_RIGHTS. Used on both sides of the clone, so
 * nothing here allocates. */
#ifndef RUNCELL_SANDBOX_SYNC_H
#define RUNCELL_SANDBOX_SYNC_H

#include <stddef.h>
#include <stdint.h>

enum sb_msg_type {
        SB_MSG_GO = 1,     /* parent -> child: maps are written, go on */
        SB_MSG_ERROR,      /* child -> parent: set-up failed; a = errno, text = "step: detail" */
        SB_MSG_STARTED,    /* child -> parent: program exec'd; t_ns = CLOCK_MONOTONIC at fork */
        SB_MSG_EXITED,     /* child -> parent: a = wait status, t_ns = when it was reaped */
        SB_MSG_FILE,       /* either way: a = mode, text = path, one fd attached */
        SB_MSG_FILES_DONE, /* child -> parent: end of the collected files; a = 0 or errno */
        SB_MSG_SIGNAL,     /* parent -> child: forward signal a to the program */
        SB_MSG_TRACE,      /* child -> parent: step text took a microseconds (RUNCELL_TRACE) */
        SB_MSG_READY,      /* child -> parent: prepared, waiting for the request */
        SB_MSG_START,      /* parent -> child: the request, the encoded sb_run_t: a > 0, its a
                              bytes follow the message in the same packet; a = 0, a memfd
                              holding it is the last fd attached. A recycled sandbox's
                              program's stdin, stdout and stderr come first (3 more fds). */
        SB_MSG_OUTPUT,     /* child -> parent: an output (sb_run_t.outputs) matched; text = its
                              path; a = mode with an fd (a regular file), or -1 without one */
};

#define SB_MSG_TEXT_MAX 256
/* A file path travels in text: it must fit with its NUL (sb_path_valid allows 200 bytes). */
#define SB_MSG_PATH_BYTES 208

typedef struct sb_msg {
        uint32_t type;
        int32_t a;
        int64_t t_ns;
        char text[SB_MSG_TEXT_MAX];
} sb_msg_t;

/* A request up to this size travels in START's packet; a larger one in a memfd. */
#define SB_REQ_INLINE_MAX (32 * 1024)
/* At most this many fds travel with one message. */
#define SB_MSG_FDS_MAX 4

/* Send a message followed by len bytes of payload in the same packet, with nfds fds attached.
 * Returns 0 or -errno. */
int sb_msg_sendv(int sock, const sb_msg_t *msg, const void *payload, size_t len, const int *fds,
                 int nfds);
/* Receive one message, its payload (up to cap bytes: *len gets how many) and its fds (up to
 * max, O_CLOEXEC: *nfds gets how many). A packet with more payload or fds is refused
 * (-EBADMSG, its fds closed). Returns 0, -errno, or -EPIPE on end of stream. */
int sb_msg_recvv(int sock, sb_msg_t *msg, void *payload, size_t cap, size_t *len, int *fds, int max,
                 int *nfds);
/* Send a message, with fd attached when fd >= 0. Returns 0 or -errno. */
int sb_msg_send(int sock, const sb_msg_t *msg, int fd);
/* Receive one message; *fd gets an attached fd (O_CLOEXEC) or -1. Returns 0, -errno, or
 * -EPIPE on end of stream. */
int sb_msg_recv(int sock, sb_msg_t *msg, int *fd);
/* Fill a message, formatting text. */
void sb_msg_fill(sb_msg_t *msg, uint32_t type, int32_t a, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int64_t sb_now_ns(void);

#endif
