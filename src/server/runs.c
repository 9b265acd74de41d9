/* Runs: admission (server, dialect and token limits), the queue and per-dialect slots, a
 * run's job and its events to the dialect, and lifetimes (a client gone, SIGTERM's draining,
 * the pool refilled after an answer). */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/sync.h"
#include "server/log.h"
#include "server/server-internal.h"
#include "util/json.h"
#include "util/ratelimit.h"

static void emit(run_t *r, const dl_event_t *ev)
{
        if ((r->conn || r->http || r->kept) && r->d->run_event)
                r->d->run_event(r, ev);
}

static size_t incomplete_tail(const unsigned char *s, size_t n)
{
        /* An unfinished multi-byte sequence at the end waits for the next chunk. */
        for (size_t back = 1; back <= 3 && back <= n; back++) {
                unsigned char c = s[n - back];
                if ((c & 0xC0) == 0x80)
                        continue; /* a continuation byte: look further back */
                size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
                return need > back ? back : 0;
        }
        return 0;
}

static bool valid_utf8(const unsigned char *s, size_t n)
{
        for (size_t i = 0; i < n;) {
                size_t l = utf8_seq_len(s + i, n - i);
                if (!l)
                        return false;
                i += l;
        }
        return true;
}

static void emit_output(run_t *r, stage_kind_t stage, int s, const unsigned char *data, size_t len,
                        bool utf8)
{
        if (!len)
                return;
        dl_event_t ev = {.kind = DL_EV_OUTPUT,
                         .stage = stage,
                         .stream = (stream_kind_t)s,
                         .data = (const char *)data,
                         .len = len,
                         .utf8 = utf8};
        emit(r, &ev);
}

static void on_output(void *ud, stage_kind_t stage, stream_kind_t stream, const char *data,
                      size_t len)
{
        run_t *r = ud;
        int s = stream == STREAM_TTY ? 2 : stream == STREAM_STDERR ? 1 : 0;
        buf_t b = {0};
        buf_append(&b, r->carry[s], r->ncarry[s]);
        buf_append(&b, data, len);
        const unsigned char *u = (const unsigned char *)b.data;
        size_t tail = incomplete_tail(u, b.len);
        if (valid_utf8(u, b.len - tail)) {
                emit_output(r, stage, s, u, b.len - tail, true);
                memcpy(r->carry[s], u + b.len - tail, tail);
                r->ncarry[s] = tail;
        } else {
                emit_output(r, stage, s, u, b.len, false); /* exact bytes */
                r->ncarry[s] = 0;
        }
        buf_free(&b);
}

static void run_begin(run_t *r);
static void run_over(run_t *r);

static bool slot_free(server_t *srv, int di)
{
        const dialect_limits_t *dl = &srv->opts->dialects[di];
        return !dl->max_concurrent || srv->slots[di].running < dl->max_concurrent;
}

static void run_dequeue(server_t *srv, run_t *r)
{
        for (run_t **pp = &srv->qhead; *pp; pp = &(*pp)->qnext)
                if (*pp == r) {
                        *pp = r->qnext;
                        srv->queued--;
                        srv->slots[r->di].queued--;
                        break;
                }
        srv->qtail = NULL;
        for (run_t *q = srv->qhead; q; q = q->qnext)
                srv->qtail = q;
}

static void start_queued(server_t *srv)
{
        run_t **pp = &srv->qhead;
        while (*pp && srv->running < srv->max_concurrent) {
                run_t *r = *pp;
                if (!slot_free(srv, r->di) || !fn_slot_free(r)) {
                        /* its dialect's or function's own limit: the next one */
                        pp = &r->qnext;
                        continue;
                }
                run_dequeue(srv, r); /* *pp is the next one now */
                run_begin(r);
        }
}

void runs_kick(server_t *srv)
{
        start_queued(srv);
}

static void run_unlink(run_t *r)
{
        if (r->conn) {
                for (run_t **pp = &r->conn->runs; *pp; pp = &(*pp)->next)
                        if (*pp == r) {
                                *pp = r->next;
                                break;
                        }
                r->conn = NULL;
        }
        if (r->http) {
                r->http->run = NULL;
                r->http = NULL;
        }
}

void run_free(run_t *r)
{
        lang_t *held = r->held;
        lws_sul_cancel(&r->timer);
        run_unlink(r);
        if (r->d->run_free)
                r->d->run_free(r);
        if (r->all_prev)
                r->all_prev->all_next = r->all_next;
        else
                r->srv->all = r->all_next;
        if (r->all_next)
                r->all_next->all_prev = r->all_prev;
        job_free(r->job);
        judge_free(r->judge);
        fn_run_free(r);
        run_request_free(&r->rr);
        cJSON_Delete(r->doc);
        buf_free(&r->pending_in);
        free(r->data);
        free(r->id);
        if (held)
                catalog_release(r->srv->cat, held); /* last: the job borrowed from it */
        if (r->held_checker)
                catalog_release(r->srv->cat, r->held_checker);
        cfg_release(r->cfg);
        free(r);
}

/* The counters of a language, added on its first run (NULL: out of memory). */
static runs_by_t *runs_by(server_t *srv, const char *language)
{
        for (size_t i = 0; i < srv->nruns_by; i++)
                if (strcmp(srv->runs_by[i].language, language) == 0)
                        return &srv->runs_by[i];
        runs_by_t *n = realloc(srv->runs_by, (srv->nruns_by + 1) * sizeof(*n));
        if (!n)
                return NULL;
        srv->runs_by = n;
        memset(&n[srv->nruns_by], 0, sizeof(*n));
        if (!(n[srv->nruns_by].language = strdup(language)))
                return NULL;
        return &n[srv->nruns_by++];
}

static void on_refill(lws_sorted_usec_list_t *sul)
{
        refill_t *rf = lws_container_of(sul, refill_t, sul);
        for (refill_t **pp = &rf->srv->refills; *pp; pp = &(*pp)->next)
                if (*pp == rf) {
                        *pp = rf->next;
                        break;
                }
        catalog_refill(rf->srv->cat, rf->lang); /* nothing when a reload replaced it */
        catalog_release(rf->srv->cat, rf->lang);
        free(rf);
}

/* Prepare the language's next sandbox a moment later, once the answer has gone out: preparing
 * can take milliseconds (a cgroup v1 move waits for an RCU grace period). */
static void schedule_refill(server_t *srv, lang_t *lang)
{
        if (!catalog_current(srv->cat, lang))
                return;
        refill_t *rf = calloc(1, sizeof(*rf));
        if (!rf)
                return;
        rf->srv = srv;
        rf->lang = lang;
        catalog_hold(lang);
        rf->next = srv->refills;
        srv->refills = rf;
        lws_sul_schedule(srv->ctx, 0, &rf->sul, on_refill, 2000);
}

static void on_reap(lws_sorted_usec_list_t *sul)
{
        run_free(lws_container_of(sul, run_t, reap));
}

static void on_stage_start(void *ud, stage_kind_t stage)
{
        run_t *r = ud;
        dl_event_t ev = {.kind = DL_EV_STAGE, .stage = stage};
        emit(r, &ev);
}

static void on_stage_end(void *ud, stage_kind_t stage, const stage_result_t *res)
{
        run_t *r = ud;
        for (int s = 0; s < 3; s++) { /* what was held back is not going to be completed */
                emit_output(r, stage, s, r->carry[s], r->ncarry[s], false);
                r->ncarry[s] = 0;
        }
        dl_event_t ev = {.kind = DL_EV_EXIT, .stage = stage, .res = res};
        emit(r, &ev);
}

static void on_done(void *ud)
{
        run_t *r = ud;
        server_t *srv = r->srv;
        r->state = RUN_DONE;
        const job_result_t *res = job_result(r->job);
        dl_event_t ev = {.kind = DL_EV_DONE, .result = res};
        emit(r, &ev);
        const stage_result_t *last = res->run.present ? &res->run : &res->compile;
        runs_by_t *rb = runs_by(srv, r->rr.lang->tc->name);
        if (rb)
                rb->n[last->status]++;
        metrics_run_done(r, res);
        log_run_done(r, res);
        run_over(r);
}

/* The end of a run, done or failed to start: its slot goes to the next, the pool is topped up. */
static void run_over(run_t *r)
{
        server_t *srv = r->srv;
        if (r->fn) {
                const job_result_t *res = r->job ? job_result(r->job) : NULL;
                fn_run_end(r, res && res->run.present ? res->run.setup_us : 0);
        }
        srv->running--;
        srv->slots[r->di].running--;
        /* The job cannot be freed from inside its own callback: a moment later. */
        lws_sul_schedule(srv->ctx, 0, &r->reap, on_reap, 1);
        start_queued(srv);
        if (!srv->draining && !r->fnv) /* a function's sandboxes are its own */
                schedule_refill(srv, r->rr.lang);
}

static void on_judge_compiled(void *ud, const stage_result_t *res)
{
        run_t *r = ud;
        dl_event_t ev = {.kind = DL_EV_STAGE, .stage = STAGE_COMPILE};
        emit(r, &ev);
        ev = (dl_event_t){.kind = DL_EV_EXIT, .stage = STAGE_COMPILE, .res = res};
        emit(r, &ev);
}

static void on_judge_test(void *ud, size_t i, const judge_test_result_t *tr)
{
        run_t *r = ud;
        dl_event_t ev = {.kind = DL_EV_TEST,
                         .test_index = i,
                         .test_name = judge_test_name(r->judge, i),
                         .test = tr};
        emit(r, &ev);
}

static void on_judge_done(void *ud)
{
        run_t *r = ud;
        r->state = RUN_DONE;
        dl_event_t ev = {.kind = DL_EV_DONE, .judge = r->judge};
        emit(r, &ev);
        metrics_judge_done(r);
        log_judge_done(r);
        run_over(r);
}

/* A run with "tests": compiled once, each test in its own sandbox, as many at once as the
 * server runs (the run takes one slot of max_concurrent: docs/protocol.md). */
static int judge_begin(run_t *r, const job_spec_t *js, rc_err_t *err)
{
        server_t *srv = r->srv;
        const server_opts_t *o = r->cfg->o; /* what it was admitted under */
        rc_limits_t *lim = calloc(r->rr.ntests, sizeof(*lim));
        judge_test_t *tests = calloc(r->rr.ntests, sizeof(*tests));
        if (!lim || !tests) {
                free(lim);
                free(tests);
                return rc_err_set(err, ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < r->rr.ntests; i++) {
                tests[i] = r->rr.tests[i];
                lim[i] = js->run_limits;
                limits_overlay(&lim[i], &r->rr.test_over[i]);
                limits_clamp(&lim[i], &o->limits_max);
                if (r->anon)
                        limits_clamp(&lim[i], &o->public_limits_max);
                tests[i].limits = &lim[i];
        }
        job_spec_t checker;
        if (r->rr.checker_lang) {
                catalog_job_spec(srv->cat, r->rr.checker_lang, &checker);
                limits_clamp(&checker.run_limits, &o->limits_max);
                limits_clamp(&checker.compile_limits, &o->limits_max);
                if (r->anon) {
                        limits_clamp(&checker.run_limits, &o->public_limits_max);
                        limits_clamp(&checker.compile_limits, &o->public_limits_max);
                }
                checker.files = r->rr.checker_files;
                checker.nfiles = r->rr.nchecker_files;
        }
        judge_spec_t spec = {.job = *js,
                             .checker = r->rr.checker_lang ? &checker : NULL,
                             .tests = tests,
                             .ntests = r->rr.ntests,
                             .compare = r->rr.compare,
                             .stop_on_first_failure = r->rr.stop_on_first_failure,
                             .fresh_sandboxes = r->rr.fresh_sandboxes,
                             .parallel =
                                 (unsigned)(srv->max_concurrent > 0 ? srv->max_concurrent : 1),
                             .output_keep = (size_t)js->run_limits.output_bytes,
                             .cb = {.compiled = on_judge_compiled,
                                    .test_done = on_judge_test,
                                    .done = on_judge_done,
                                    .ud = r}};
        int rc = judge_start(&spec, srv->loop, &r->judge, err);
        free(lim);
        free(tests);
        return rc;
}

/* A run that could not begin: dropped, an internal error, its slot free again. */
static void run_failed_at_begin(run_t *r, const char *why)
{
        r->state = RUN_DONE;
        dl_event_t ev = {.kind = DL_EV_DROPPED, .code = "internal", .message = why};
        emit(r, &ev);
        log_run_ended(r, "internal_error", why);
        run_over(r);
}

static void run_begin(run_t *r)
{
        server_t *srv = r->srv;
        srv->running++;
        srv->slots[r->di].running++;
        r->state = RUN_RUNNING;
        r->t_begin = sb_now_ns();
        metrics_run_started(r);
        job_spec_t js;
        run_request_job_spec(srv->cat, &r->rr, &js);
        rc_err_t err = {0};
        if (r->fnv) {
                if (fn_run_spec(r, &js, &err) < 0) { /* its artifact could not be had */
                        run_failed_at_begin(r, err.msg);
                        return;
                }
                fn_run_begin(r, &js);
        }
        /* the limits of the options it was admitted under, whatever a reload did since */
        const server_opts_t *o = r->cfg->o;
        limits_clamp(&js.run_limits, &o->limits_max);
        limits_clamp(&js.compile_limits, &o->limits_max);
        if (r->anon) { /* public mode: an anonymous run's own ceiling */
                limits_clamp(&js.run_limits, &o->public_limits_max);
                limits_clamp(&js.compile_limits, &o->public_limits_max);
        }
        if (r->rr.ntests) {
                /* checked when it came: only resources fail here */
                if (judge_begin(r, &js, &err) < 0)
                        run_failed_at_begin(r, err.msg);
                return;
        }
        js.capture = r->http != NULL;
        js.interactive = r->conn && r->rr.interactive;
        /* the run stage's sandbox reset and kept for later runs (docs/ARCHITECTURE.md,
         * "Sandboxes reused across runs"); a function's runs have lanes of their own */
        js.reuse = !o->fresh_sandboxes && !js.lane && !js.work_dir;
        js.cb = (job_callbacks_t){.stage_start = on_stage_start,
                                  .output = on_output, /* HTTP runs too: a dialect may interleave */
                                  .stage_end = on_stage_end,
                                  .done = on_done,
                                  .ud = r};
        if (job_start(&js, srv->loop, &r->job, &err) < 0) {
                /* The request was checked when it came (job_check): only resources fail here,
                 * reported as the run's result, an internal error. */
                srv->running--;
                srv->slots[r->di].running--;
                r->state = RUN_DONE;
                job_result_t none;
                memset(&none, 0, sizeof(none));
                stage_result_t *st = r->rr.lang->tc->compile.n ? &none.compile : &none.run;
                st->present = true;
                st->status = STATUS_INTERNAL_ERROR;
                st->exit_code = -1;
                st->cpu_ms = st->memory_kb = -1;
                snprintf(st->error, sizeof(st->error), "%s", err.msg);
                dl_event_t ev = {.kind = DL_EV_DONE, .result = &none};
                emit(r, &ev);
                log_run_done(r, &none);
                lws_sul_schedule(srv->ctx, 0, &r->reap, on_reap, 1);
                start_queued(srv);
                return;
        }
        /* the job copied what it needs */
        if (r->job && !job_is_done(r->job)) {
                if (r->pending_in.len)
                        job_write_stdin(r->job, r->pending_in.data, r->pending_in.len);
                if (r->pending_eof)
                        job_close_stdin(r->job);
                if (r->kill_sig)
                        job_kill(r->job, r->kill_sig);
                if (r->conn && r->conn->paused)
                        job_pause_output(r->job, true);
        }
}

static int fail(dl_error_t *e, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(dl_error_t *e, const char *code, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        e->code = code;
        vsnprintf(e->message, sizeof(e->message), fmt, ap);
        va_end(ap);
        return -1;
}

/* Can one more run of this dialect and token be taken now? A stored submission (stored) was
 * admitted when it was submitted: the store bounds how many wait, not the run queue. */
static int admit(server_t *srv, int di, int token, bool stored, dl_error_t *e)
{
        if (srv->draining || stop_requested) { /* SIGTERM came: not yet seen by the loop */
                e->retry_after_s = 1;          /* elsewhere: another node behind the balancer */
                return fail(e, "shutting_down", "the server is shutting down");
        }
        if (stored)
                return 0;
        int token_max =
            token >= 0 && srv->opts->token_max_runs ? srv->opts->token_max_runs[token] : 0;
        int token_runs = 0;
        /* runs admitted before a reload have their index in their own options' list */
        const char *tok = token_max ? srv->opts->tokens.v[token] : NULL;
        for (run_t *o = srv->all; token_max && o; o = o->all_next)
                token_runs += o->token >= 0 && o->state != RUN_DONE &&
                              strcmp(o->cfg->o->tokens.v[o->token], tok) == 0;
        if (token_max && token_runs >= token_max)
                return fail(e, "busy", "this token's %d runs are all going or waiting", token_max);
        const dialect_limits_t *dl = &srv->opts->dialects[di];
        if (dl->max_concurrent && srv->slots[di].running >= dl->max_concurrent &&
            srv->slots[di].queued >= dl->queue_max)
                return fail(e, "busy", "all %d of this API's runs are going and %d wait",
                            dl->max_concurrent, srv->slots[di].queued);
        if (srv->running >= srv->max_concurrent && srv->queued >= srv->queue_max)
                return fail(e, "busy", "all %d sandboxes are busy and %d runs wait", srv->running,
                            srv->queued);
        return 0;
}

/* Public mode: may this anonymous client start one more run now? Its runs going or waiting
 * (public_max_running), then its runs a minute (the table's bucket, charged only when the
 * run is taken). Refused: -1, e says busy or rate_limited and when to try again. */
static int admit_client(server_t *srv, const char *client, dl_error_t *e)
{
        const server_opts_t *o = srv->opts;
        if (o->public_max_running > 0) {
                int going = 0;
                for (run_t *r = srv->all; r; r = r->all_next)
                        going += r->anon && r->state != RUN_DONE && strcmp(r->client, client) == 0;
                if (going >= o->public_max_running) {
                        srv->public_refused++;
                        e->retry_after_s = 1;
                        return fail(e, "busy",
                                    "this address's %d runs are all going or waiting: wait for "
                                    "one to end",
                                    o->public_max_running);
                }
        }
        int retry = 0;
        if (srv->rl && rl_take(srv->rl, client, dl_now_ms(), &retry) < 0) {
                srv->public_refused++;
                e->retry_after_s = retry;
                return fail(e, "rate_limited",
                            "this address has had its %d runs a minute: try again in %d s",
                            o->public_rpm, retry);
        }
        return 0;
}

static dl_run_t *run_start(server_t *srv, const dialect_t *d, int di, int token, bool anon,
                           const char *client, dl_conn_t *c, dl_http_t *h, bool kept, cJSON *doc,
                           const char *id, dl_error_t *e)
{
        e->retry_after_s = 0;
        run_t *r = calloc(1, sizeof(*r));
        if (!r || !(r->id = strdup(id)) || !(r->data = calloc(1, d->run_size ? d->run_size : 1))) {
                if (r)
                        free(r->id);
                free(r);
                cJSON_Delete(doc);
                fail(e, "internal", "out of memory");
                return NULL;
        }
        r->srv = srv;
        r->d = d;
        r->di = di;
        r->doc = doc;
        r->cfg = cfg_hold(srv->cfg); /* token is in the options in force (access_refresh) */
        r->token = token;
        r->anon = anon;
        if (client || anon)
                snprintf(r->client, sizeof(r->client), "%s", client ? client : "?");
        r->kept = kept;
        if (admit(srv, di, token, kept && !c && !h, e) < 0)
                goto refuse;
        if (cJSON_GetObjectItemCaseSensitive(doc, "function")) {
                if (fn_run_resolve(srv, r, &doc, e) < 0)
                        goto refuse;
                r->doc = doc;
        } else if (token_scoped(srv->opts, token)) {
                fail(e, "forbidden", "this token may only invoke its functions");
                goto refuse;
        }
        if (run_request_parse(srv->cat, doc, d->judges && !r->fnv, &r->rr, &e->code, e->message,
                              sizeof(e->message)) < 0)
                goto refuse;
        size_t total = 0;
        for (size_t i = 0; i < r->rr.nfiles; i++)
                total += r->rr.files[i].len;
        if (total > srv->opts->source_max) {
                fail(e, "too_large", "the files are %zu bytes together, over %zu", total,
                     srv->opts->source_max);
                goto refuse;
        }
        job_spec_t js;
        rc_err_t err = {0};
        run_request_job_spec(srv->cat, &r->rr, &js);
        if (r->fnv && fn_run_spec(r, &js, &err) < 0) {
                fail(e, "internal", "%s", err.msg);
                goto refuse;
        }
        if (job_check(&js, &err) < 0) {
                fail(e, "bad_request", "%s", err.msg);
                goto refuse;
        }
        if (r->rr.checker_lang) {
                job_spec_t cjs;
                catalog_job_spec(srv->cat, r->rr.checker_lang, &cjs);
                cjs.files = r->rr.checker_files;
                cjs.nfiles = r->rr.nchecker_files;
                if (job_check(&cjs, &err) < 0) {
                        fail(e, "bad_request", "the checker: %s", err.msg);
                        goto refuse;
                }
        }
        /* last, so that a refused request costs an anonymous client nothing */
        if (anon && admit_client(srv, r->client, e) < 0)
                goto refuse;
        r->held = r->rr.lang; /* valid until the run is freed, whatever a reload does */
        catalog_hold(r->held);
        if (r->rr.checker_lang) { /* the checker's language too */
                r->held_checker = r->rr.checker_lang;
                catalog_hold(r->held_checker);
        }
        r->conn = c;
        r->http = h;
        r->all_next = srv->all;
        if (srv->all)
                srv->all->all_prev = r;
        srv->all = r;
        if (c) {
                r->next = c->runs;
                c->runs = r;
        }
        if (h)
                h->run = r;
        srv->slots[di].runs++;
        r->t_queued = sb_now_ns();
        bool now = srv->running < srv->max_concurrent && slot_free(srv, di) && fn_slot_free(r);
        int position = now ? 0 : srv->queued + 1;
        dl_event_t ev = {.kind = DL_EV_QUEUED, .position = position};
        emit(r, &ev);
        if (now) {
                run_begin(r);
        } else {
                r->state = RUN_QUEUED;
                if (srv->qtail)
                        srv->qtail->qnext = r;
                else
                        srv->qhead = r;
                srv->qtail = r;
                srv->queued++;
                srv->slots[di].queued++;
        }
        return r;
refuse:
        if (h && e->retry_after_s > 0) { /* draining, or a public client's own limits */
                char ra[16];
                snprintf(ra, sizeof(ra), "%d", e->retry_after_s);
                dl_http_header(h, "retry-after:", ra);
        }
        log_run_refused(srv, d, c, h, token, anon, client, e);
        fn_run_free(r);
        run_request_free(&r->rr);
        cJSON_Delete(doc);
        cfg_release(r->cfg);
        free(r->data);
        free(r->id);
        free(r);
        return NULL;
}

dl_run_t *dl_run_start(dl_conn_t *c, dl_http_t *h, cJSON *doc, const char *id, dl_error_t *e)
{
        /* let in before a reload: its token is checked again under the options now */
        server_t *srv = c ? c->srv : h->srv;
        if (c ? access_refresh(srv, &c->cfg, &c->token, &c->anon) < 0
              : access_refresh(srv, &h->cfg, &h->token, &h->anon) < 0) {
                e->retry_after_s = 0;
                fail(e, "unauthorized", "this connection's token is no longer accepted");
                log_run_refused(srv, c ? c->d : h->route->d, c, h, -1, false,
                                c ? c->client : h->client, e);
                cJSON_Delete(doc);
                return NULL;
        }
        if (c)
                return run_start(c->srv, c->d, c->di, c->token, c->anon, c->client, c, NULL, false,
                                 doc, id, e);
        return run_start(h->srv, h->route->d, h->route->di, h->token, h->anon, h->client, NULL, h,
                         false, doc, id, e);
}

/* A client-less run of dialect d (a stored submission): kept from the start, so its first
 * event (DL_EV_QUEUED) reaches the codec too. Its token is none: a submission was admitted
 * when it was submitted. */
dl_run_t *dl_run_submit(const dialect_t *d, cJSON *doc, const char *id, dl_error_t *e)
{
        server_t *srv = the_server;
        int di = -1;
        for (size_t i = 0; i < dialect_count; i++)
                if (dialect_table[i] == d)
                        di = (int)i;
        if (!srv || di < 0) {
                cJSON_Delete(doc);
                fail(e, "internal", "no server for this run");
                return NULL;
        }
        return run_start(srv, d, di, -1, false, NULL, NULL, NULL, true, doc, id, e);
}

/* The client is gone: its runs end (killed), queued ones never start; a kept run goes on. */
void run_orphan(run_t *r)
{
        run_unlink(r);
        if (r->kept)
                return;
        if (r->state == RUN_QUEUED) {
                run_dequeue(r->srv, r);
                log_run_ended(r, "dropped",
                              r->srv->draining ? "the server is shutting down"
                                               : "its client went away");
                r->state = RUN_DONE;
                lws_sul_schedule(r->srv->ctx, 0, &r->reap, on_reap, 1);
        } else if (r->state == RUN_RUNNING && r->job) {
                job_kill(r->job, SIGKILL);
        } else if (r->state == RUN_RUNNING && r->judge) {
                judge_kill(r->judge);
        }
}

/* SIGTERM: no new runs; queued ones never start (their clients are told); those going get
 * grace_ms to finish, then are killed (and still reported). */
void start_draining(server_t *srv)
{
        srv->draining = true;
        slog_line_t l;
        slog_begin(&l, SLOG_INFO, "stopping");
        slog_strf(&l, "msg", "stopping: %d runs going, %d queued dropped", srv->running,
                  srv->queued);
        slog_int(&l, "running", srv->running);
        slog_int(&l, "queued", srv->queued);
        slog_int(&l, "drain_delay_ms", srv->opts->drain_delay_ms);
        slog_end(&l);
        while (srv->qhead) {
                run_t *q = srv->qhead;
                dl_event_t ev = {.kind = DL_EV_DROPPED,
                                 .code = "shutting_down",
                                 .message = "the server is shutting down"};
                emit(q, &ev);
                q->kept = false; /* dropped, kept or not */
                run_orphan(q);
        }
}
