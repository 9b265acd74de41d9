/* /metrics: runs by language and status, by dialect and status, by language, dialect and
 * verdict (runs with tests); histograms of run durations and sandbox set-ups by language and
 * dialect and of queue waits by dialect; queue depth, connections, the pool's hits and misses,
 * and each dialect's own lines, in Prometheus text format (exposition format 0.0.4). Every
 * label value is escaped, and every label set is bounded: languages and dialects are the
 * catalog's and the table's, statuses and verdicts fixed lists. */
#include <stdlib.h>
#include <string.h>

#include "sandbox/sync.h"
#include "server/server-internal.h"

const hist_le_t hist_le_run = {
    15, {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}};
const hist_le_t hist_le_setup = {16,
                                 {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                  0.1, 0.25, 0.5, 1, 2.5, 5, 10}};

/* A run with tests, by its overall verdict: the first failing test's (or the compile stage's
 * status when it failed), "accepted" when all passed; anything else is "other". */
static const char *const verdict_names[] = {"accepted",       "wrong_answer",  "presentation_error",
                                            "compile_error",  "runtime_error", "time_limit",
                                            "memory_limit",   "output_limit",  "killed",
                                            "internal_error", "other"};
#define NVERDICTS (sizeof(verdict_names) / sizeof(verdict_names[0]))
_Static_assert(NVERDICTS <= sizeof(((run_stats_t *)0)->verdicts) / sizeof(uint64_t),
               "run_stats_t.verdicts too small");

void hist_add(hist_t *h, double v)
{
        const hist_le_t *le = h->le ? h->le : &hist_le_run;
        if (!(v >= 0)) /* NaN or a clock that went back */
                v = 0;
        h->sum += v;
        h->count++;
        for (int i = 0; i < le->n; i++)
                if (v <= le->le[i])
                        h->buckets[i]++;
}

/* A label value as the exposition format wants it: backslash, double quote and line feed
 * escaped. */
static void label_value(buf_t *b, const char *s)
{
        const char *p = s;
        for (; *s; s++) {
                const char *esc = *s == '\\'   ? "\\\\"
                                  : *s == '"'  ? "\\\""
                                  : *s == '\n' ? "\\n"
                                               : NULL;
                if (!esc)
                        continue;
                buf_append(b, p, (size_t)(s - p));
                buf_append(b, esc, 2);
                p = s + 1;
        }
        buf_append(b, p, (size_t)(s - p));
}

static void head(buf_t *b, const char *name, const char *type, const char *help)
{
        buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One label set's series of a histogram; labels: "" or `k="v",...` (escaped already). */
static void hist_series(buf_t *b, const char *name, const char *labels, const hist_t *h)
{
        const hist_le_t *le = h->le ? h->le : &hist_le_run;
        const char *sep = *labels ? "," : "";
        for (int i = 0; i < le->n; i++)
                buf_printf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, le->le[i],
                           (unsigned long long)h->buckets[i]);
        buf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
                   (unsigned long long)h->count);
        if (*labels)
                buf_printf(b, "%s_sum{%s} %.6f\n%s_count{%s} %llu\n", name, labels, h->sum, name,
                           labels, (unsigned long long)h->count);
        else
                buf_printf(b, "%s_sum %.6f\n%s_count %llu\n", name, h->sum, name,
                           (unsigned long long)h->count);
}

void metrics_hist(buf_t *b, const char *name, const char *help, const hist_t *h)
{
        head(b, name, "histogram", help);
        hist_series(b, name, "", h);
}

/* The entry of a language and dialect, made at its first run (NULL: out of memory). */
static run_stats_t *stats_of(server_t *srv, const char *language, int di)
{
        for (size_t i = 0; i < srv->nrstats; i++)
                if (srv->rstats[i].di == di && strcmp(srv->rstats[i].language, language) == 0)
                        return &srv->rstats[i];
        char *name = strdup(language);
        run_stats_t *n = name ? realloc(srv->rstats, (srv->nrstats + 1) * sizeof(*n)) : NULL;
        if (!n) {
                free(name);
                return NULL;
        }
        srv->rstats = n;
        n = &n[srv->nrstats++];
        memset(n, 0, sizeof(*n));
        n->language = name;
        n->di = di;
        n->dur.le = &hist_le_run;
        n->setup.le = &hist_le_setup;
        return n;
}

void metrics_free(server_t *srv)
{
        for (size_t i = 0; i < srv->nrstats; i++)
                free(srv->rstats[i].language);
        free(srv->rstats);
        srv->rstats = NULL;
        srv->nrstats = 0;
}

void metrics_run_started(run_t *r)
{
        hist_t *h = &r->srv->slots[r->di].queue_wait;
        h->le = &hist_le_run;
        hist_add(h, r->t_queued ? (double)(r->t_begin - r->t_queued) / 1e9 : 0);
}

static void setup_add(run_stats_t *st, const stage_result_t *s)
{
        /* a stage whose program never started (or a cached compile) set nothing up */
        if (s && s->present && !s->cached && s->setup_us > 0)
                hist_add(&st->setup, (double)s->setup_us / 1e6);
}

void metrics_run_done(run_t *r, const job_result_t *res)
{
        server_t *srv = r->srv;
        const stage_result_t *last = res->run.present ? &res->run : &res->compile;
        if (last->status < NSTATUS)
                srv->slots[r->di].ended[last->status]++;
        run_stats_t *st = stats_of(srv, r->rr.lang->tc->name, r->di);
        if (!st)
                return;
        hist_add(&st->dur, (double)(sb_now_ns() - r->t_begin) / 1e9);
        setup_add(st, &res->compile);
        setup_add(st, &res->run);
}

static size_t verdict_index(const char *v)
{
        for (size_t i = 0; v && i < NVERDICTS - 1; i++)
                if (strcmp(verdict_names[i], v) == 0)
                        return i;
        return NVERDICTS - 1;
}

void metrics_judge_done(run_t *r)
{
        run_stats_t *st = stats_of(r->srv, r->rr.lang->tc->name, r->di);
        if (!st)
                return;
        hist_add(&st->dur, (double)(sb_now_ns() - r->t_begin) / 1e9);
        const stage_result_t *c = judge_compile_result(r->judge);
        setup_add(st, c);
        size_t passed, ran;
        long first;
        judge_summary(r->judge, &passed, &ran, &first);
        const char *v = "other";
        if (c && c->present && c->status != STATUS_OK) {
                v = stage_status_name(c->status);
        } else if (first >= 0) {
                const judge_test_result_t *tr = judge_test_result(r->judge, (size_t)first);
                v = tr ? tr->verdict : "other";
        } else if (passed == judge_ntests(r->judge)) {
                v = "accepted";
        }
        st->verdicts[verdict_index(v)]++;
}

/* `language="...",dialect="..."` of an entry, escaped. */
static void stats_labels(buf_t *l, const run_stats_t *st)
{
        l->len = 0;
        buf_printf(l, "language=\"");
        label_value(l, st->language);
        buf_printf(l, "\",dialect=\"");
        label_value(l, dialect_table[st->di]->name);
        buf_printf(l, "\"");
}

static void runs_by_language(server_t *srv, buf_t *b)
{
        head(b, "runcell_runs_total", "counter",
             "Runs without tests ended, by language and final status.");
        /* every current language, then any a reload took away that had runs (counters never
         * go back) */
        const catalog_t *cat = srv->cat;
        for (size_t i = 0; i < cat->set.n + srv->nruns_by; i++) {
                const char *name = i < cat->set.n ? cat->set.items[i]->name
                                                  : srv->runs_by[i - cat->set.n].language;
                const uint64_t *n = NULL;
                for (size_t k = 0; k < srv->nruns_by && !n; k++)
                        if (strcmp(srv->runs_by[k].language, name) == 0)
                                n = srv->runs_by[k].n;
                bool listed = false; /* a second version of a language: counted with it */
                for (size_t k = 0; i < cat->set.n && k < i && !listed; k++)
                        listed = strcmp(cat->set.items[k]->name, name) == 0;
                for (size_t k = 0; i >= cat->set.n && k < cat->set.n && !listed; k++)
                        listed = strcmp(cat->set.items[k]->name, name) == 0;
                if (listed)
                        continue;
                for (int s = 0; s < NSTATUS; s++) {
                        buf_printf(b, "runcell_runs_total{language=\"");
                        label_value(b, name);
                        buf_printf(b, "\",status=\"%s\"} %llu\n",
                                   stage_status_name((stage_status_t)s),
                                   (unsigned long long)(n ? n[s] : 0));
                }
        }
}

static bool dialect_on(const server_t *srv, size_t i)
{
        return !srv->first->dialects[i].disabled; /* on at start: its series stay */
}

static void runs_by_dialect(server_t *srv, buf_t *b)
{
        head(b, "runcell_dialect_runs_total", "counter", "Runs started, by wire dialect.");
        for (size_t i = 0; i < dialect_count; i++)
                buf_printf(b, "runcell_dialect_runs_total{dialect=\"%s\"} %llu\n",
                           dialect_table[i]->name, (unsigned long long)srv->slots[i].runs);
        head(b, "runcell_dialect_runs_ended_total", "counter",
             "Runs without tests ended, by wire dialect and final status.");
        for (size_t i = 0; i < dialect_count; i++)
                for (int s = 0; dialect_on(srv, i) && s < NSTATUS; s++)
                        buf_printf(b,
                                   "runcell_dialect_runs_ended_total{dialect=\"%s\",status=\"%s\"} "
                                   "%llu\n",
                                   dialect_table[i]->name, stage_status_name((stage_status_t)s),
                                   (unsigned long long)srv->slots[i].ended[s]);
        head(b, "runcell_judge_runs_total", "counter",
             "Runs with tests ended, by language, wire dialect and overall verdict.");
        buf_t l = {0};
        for (size_t i = 0; i < srv->nrstats; i++) {
                const run_stats_t *st = &srv->rstats[i];
                uint64_t any = 0;
                for (size_t v = 0; v < NVERDICTS; v++)
                        any += st->verdicts[v];
                if (!any)
                        continue;
                stats_labels(&l, st);
                for (size_t v = 0; v < NVERDICTS; v++)
                        buf_printf(b, "runcell_judge_runs_total{%s,verdict=\"%s\"} %llu\n", l.data,
                                   verdict_names[v], (unsigned long long)st->verdicts[v]);
        }
        buf_free(&l);
}

static void histograms(server_t *srv, buf_t *b)
{
        buf_t l = {0};
        head(b, "runcell_run_duration_seconds", "histogram",
             "Whole runs (with tests too), from start to done, by language and wire dialect.");
        for (size_t i = 0; i < srv->nrstats; i++) {
                stats_labels(&l, &srv->rstats[i]);
                hist_series(b, "runcell_run_duration_seconds", l.data, &srv->rstats[i].dur);
        }
        head(b, "runcell_setup_duration_seconds", "histogram",
             "Sandbox set-up per stage, from the stage's start until its program is exec'd, by "
             "language and wire dialect.");
        for (size_t i = 0; i < srv->nrstats; i++) {
                stats_labels(&l, &srv->rstats[i]);
                hist_series(b, "runcell_setup_duration_seconds", l.data, &srv->rstats[i].setup);
        }
        head(b, "runcell_queue_wait_seconds", "histogram",
             "Time runs waited in the server's queue before they started, by wire dialect "
             "(0 for those that started at once).");
        for (size_t i = 0; i < dialect_count; i++) {
                if (!dialect_on(srv, i))
                        continue;
                hist_t h = srv->slots[i].queue_wait;
                h.le = &hist_le_run; /* a dialect without runs yet */
                l.len = 0;
                buf_printf(&l, "dialect=\"%s\"", dialect_table[i]->name);
                hist_series(b, "runcell_queue_wait_seconds", l.data, &h);
        }
        buf_free(&l);
}

static void pool(server_t *srv, buf_t *b)
{
        job_pool_stats_t ps;
        job_pool_stats(srv->cat->pool, &ps);
        buf_printf(b,
                   "# HELP runcell_pool_hits_total Stages that took a ready sandbox from the "
                   "pool.\n"
                   "# TYPE runcell_pool_hits_total counter\nruncell_pool_hits_total %llu\n"
                   "# HELP runcell_pool_misses_total Stages that found no ready sandbox in the "
                   "pool (none, or one still being made).\n"
                   "# TYPE runcell_pool_misses_total counter\nruncell_pool_misses_total %llu\n"
                   "# HELP runcell_pool_pending_total Of the misses, stages that took a sandbox "
                   "the pool had asked for and waited for the rest of its making.\n"
                   "# TYPE runcell_pool_pending_total counter\nruncell_pool_pending_total %llu\n"
                   "# HELP runcell_pool_reused_total Of the hits, stages that took a sandbox an "
                   "earlier run left, reset.\n"
                   "# TYPE runcell_pool_reused_total counter\nruncell_pool_reused_total %llu\n",
                   ps.hits, ps.misses + ps.pending, ps.pending, ps.reused);
}

void metrics_text(server_t *srv, buf_t *b)
{
        runs_by_language(srv, b);
        runs_by_dialect(srv, b);
        histograms(srv, b);
        pool(srv, b);
        buf_printf(b,
                   "# HELP runcell_queue_depth Runs waiting for a free slot.\n"
                   "# TYPE runcell_queue_depth gauge\nruncell_queue_depth %d\n"
                   "# HELP runcell_active_runs Runs going now.\n"
                   "# TYPE runcell_active_runs gauge\nruncell_active_runs %d\n"
                   "# HELP runcell_ws_connections WebSocket connections open.\n"
                   "# TYPE runcell_ws_connections gauge\nruncell_ws_connections %d\n"
                   "# HELP runcell_connections_refused_total Client connections refused at "
                   "accept: over max_connections (and its reserve) or max_connections_per_client.\n"
                   "# TYPE runcell_connections_refused_total counter\n"
                   "runcell_connections_refused_total %llu\n",
                   srv->queued, srv->running, srv->ws_conns,
                   (unsigned long long)srv->conns_refused);
        buf_printf(b,
                   "# HELP runcell_config_reloads_total SIGHUPs that reloaded the config (ok) "
                   "or were refused it (a bad config, or a change that needs a restart).\n"
                   "# TYPE runcell_config_reloads_total counter\n"
                   "runcell_config_reloads_total{result=\"ok\"} %llu\n"
                   "runcell_config_reloads_total{result=\"refused\"} %llu\n",
                   (unsigned long long)srv->reloads_ok, (unsigned long long)srv->reloads_refused);
        if (srv->opts->public_on)
                buf_printf(b,
                           "# HELP runcell_public_refused_total Anonymous runs refused for their "
                           "client address's limits.\n"
                           "# TYPE runcell_public_refused_total counter\n"
                           "runcell_public_refused_total %llu\n",
                           (unsigned long long)srv->public_refused);
        if (srv->fn_dir)
                functions_metrics(srv, b);
        for (size_t i = 0; i < dialect_count; i++)
                if (dialect_table[i]->metrics && !srv->first->dialects[i].disabled)
                        dialect_table[i]->metrics(b);
}
