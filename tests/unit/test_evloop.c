/* The poll implementation of the job engine's event loop. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "job/evloop.h"
#include "testutil.h"

static int64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

typedef struct rec {
        int calls;
        unsigned last;
        char order[16];
        size_t n;
        ev_loop_t *loop;
        ev_io_t *self;
        ev_io_t *other;
        int fd;
} rec_t;

static void on_read(void *ud, unsigned ev)
{
        rec_t *r = ud;
        char buf[64];
        r->calls++;
        r->last = ev;
        if (read(r->fd, buf, sizeof(buf)) <= 0)
                r->loop->ops->io_del(r->loop, r->self); /* deleting itself inside its callback */
}

static void test_io_read_and_eof(void)
{
        int p[2];
        REQUIRE(pipe(p) == 0);
        ev_loop_t *l = ev_poll_new();
        rec_t r = {.loop = l, .fd = p[0]};
        r.self = l->ops->io_add(l, p[0], EV_READ, on_read, &r);
        REQUIRE(r.self != NULL);
        CHECK(write(p[1], "x", 1) == 1);
        CHECK_OK(ev_poll_run_once(l, 1000));
        CHECK_INT_EQ(r.calls, 1);
        CHECK_INT_EQ(r.last, EV_READ);
        /* paused: nothing is reported even though data waits */
        l->ops->io_set(l, r.self, 0);
        CHECK(write(p[1], "y", 1) == 1);
        CHECK_OK(ev_poll_run_once(l, 50));
        CHECK_INT_EQ(r.calls, 1);
        l->ops->io_set(l, r.self, EV_READ);
        CHECK_OK(ev_poll_run_once(l, 1000));
        CHECK_INT_EQ(r.calls, 2);
        /* EOF is reported as readable, and the callback may remove its own watch */
        close(p[1]);
        CHECK_OK(ev_poll_run_once(l, 1000));
        CHECK_INT_EQ(r.calls, 3);
        CHECK_OK(ev_poll_run_once(l, 50));
        CHECK_INT_EQ(r.calls, 3);
        close(p[0]);
        ev_poll_free(l);
}

static void on_write(void *ud, unsigned ev)
{
        rec_t *r = ud;
        r->calls++;
        r->last = ev;
}

static void test_io_write(void)
{
        int p[2];
        REQUIRE(pipe2(p, O_NONBLOCK) == 0);
        ev_loop_t *l = ev_poll_new();
        rec_t r = {.loop = l};
        ev_io_t *w = l->ops->io_add(l, p[1], EV_WRITE, on_write, &r);
        CHECK_OK(ev_poll_run_once(l, 1000));
        CHECK_INT_EQ(r.calls, 1);
        CHECK_INT_EQ(r.last, EV_WRITE);
        /* fill the pipe: no more writability until someone reads */
        char big[4096];
        memset(big, 'z', sizeof(big));
        while (write(p[1], big, sizeof(big)) > 0)
                ;
        r.calls = 0;
        CHECK_OK(ev_poll_run_once(l, 50));
        CHECK_INT_EQ(r.calls, 0);
        l->ops->io_del(l, w);
        close(p[0]);
        close(p[1]);
        ev_poll_free(l);
}

static void on_timer(void *ud)
{
        rec_t *r = ud;
        r->order[r->n++] = (char)('0' + r->calls++);
}

typedef struct tag {
        rec_t *r;
        char c;
} tag_t;

static void on_tagged(void *ud)
{
        tag_t *t = ud;
        t->r->order[t->r->n++] = t->c;
}

static void test_timers(void)
{
        ev_loop_t *l = ev_poll_new();
        rec_t r = {0};
        int64_t now = now_ns();
        tag_t a = {&r, 'a'}, b = {&r, 'b'}, c = {&r, 'c'};
        l->ops->timer_add(l, now + 60000000, on_tagged, &b);
        l->ops->timer_add(l, now + 20000000, on_tagged, &a);
        ev_timer_t *tc = l->ops->timer_add(l, now + 40000000, on_tagged, &c);
        l->ops->timer_del(l, tc); /* cancelled: never fires */
        int64_t t0 = now_ns();
        while (r.n < 2 && now_ns() - t0 < 2000000000LL)
                CHECK_OK(ev_poll_run_once(l, -1));
        r.order[r.n] = '\0';
        CHECK_STR_EQ(r.order, "ab");
        /* the loop slept until the timers were due rather than spinning or oversleeping */
        int64_t took = now_ns() - t0;
        CHECK(took >= 55000000 && took < 1000000000);
        /* a timer in the past fires on the next round */
        rec_t q = {0};
        l->ops->timer_add(l, now_ns() - 1000, on_timer, &q);
        CHECK_OK(ev_poll_run_once(l, 1000));
        CHECK_INT_EQ(q.calls, 1);
        ev_poll_free(l);
}

int main(int argc, char **argv)
{
        static const tu_test_t tests[] = {
            TU_TEST(test_io_read_and_eof),
            TU_TEST(test_io_write),
            TU_TEST(test_timers),
        };
        return tu_main("test_evloop", tests, TU_COUNT(tests), argc, argv);
}
