/* /metrics: runs by language and status, by dialect, durations, queue depth, connections,
 * and each dialect's own lines, in Prometheus text format. */
#include "server/server-internal.h"

static const double bucket_le[NBUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                           1,     2.5,  5,     10,   30,  60};

void hist_add(hist_t *h, double v)
{
        h->sum += v;
        h->count++;
        for (int i = 0; i < NBUCKETS; i++)
                if (v <= bucket_le[i])
                        h->buckets[i]++;
}

void metrics_hist(buf_t *b, const char *name, const char *help, const hist_t *h)
{
        buf_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
        for (int i = 0; i < NBUCKETS; i++)
                buf_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name, bucket_le[i],
                           (unsigned long long)h->buckets[i]);
        buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name,
                   (unsigned long long)h->count, name, h->sum, name, (unsigned long long)h->count);
}

void metrics_text(server_t *srv, buf_t *b)
{
        buf_printf(b, "# HELP runcell_runs_total Runs ended, by language and final status.\n"
                      "# TYPE runcell_runs_total counter\n");
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
                for (int s = 0; s < NSTATUS; s++)
                        buf_printf(b, "runcell_runs_total{language=\"%s\",status=\"%s\"} %llu\n",
                                   name, stage_status_name((stage_status_t)s),
                                   (unsigned long long)(n ? n[s] : 0));
        }
        buf_printf(b, "# HELP runcell_dialect_runs_total Runs started, by wire dialect.\n"
                      "# TYPE runcell_dialect_runs_total counter\n");
        for (size_t i = 0; i < dialect_count; i++)
                buf_printf(b, "runcell_dialect_runs_total{dialect=\"%s\"} %llu\n",
                           dialect_table[i]->name, (unsigned long long)srv->slots[i].runs);
        metrics_hist(b, "runcell_run_duration_seconds", "Whole runs, from start to done.",
                     &srv->run_dur);
        metrics_hist(b, "runcell_setup_duration_seconds",
                     "Sandbox set-up per stage, until the program is exec'd.", &srv->setup_dur);
        buf_printf(b,
                   "# HELP runcell_queue_depth Runs waiting for a free slot.\n"
                   "# TYPE runcell_queue_depth gauge\nruncell_queue_depth %d\n"
                   "# HELP runcell_active_runs Runs going now.\n"
                   "# TYPE runcell_active_runs gauge\nruncell_active_runs %d\n"
                   "# HELP runcell_ws_connections WebSocket connections open.\n"
                   "# TYPE runcell_ws_connections gauge\nruncell_ws_connections %d\n",
                   srv->queued, srv->running, srv->ws_conns);
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
                if (dialect_table[i]->metrics && !srv->opts->dialects[i].disabled)
                        dialect_table[i]->metrics(b);
}
