/* What `runcell run` and `runcell judge` share: their options, and the set-up before anything
 * runs (the language given or guessed, only the toolchain files that mention it parsed, the
 * files read, the root filesystem and filter ready, the cgroup manager open). */
#ifndef RUNCELL_CLI_RUN_SETUP_H
#define RUNCELL_CLI_RUN_SETUP_H

#include <stdbool.h>

#include "config.h"
#include "engine/catalog.h"
#include "engine/compare.h"
#include "job/job.h"
#include "sandbox/sandbox.h"

#define CLI_FILE_MAX  (16u << 20)
#define CLI_FILES_MAX 256

typedef struct run_opts {
        const char *lang;
        const char *version;    /* --lang-version: NULL, the newest */
        const char *name;       /* --name: the entry file's name in /work */
        const char *stdin_path; /* --stdin; "-": runcell's stdin (run only) */
        bool json;
        bool tty;     /* -t, --tty: the run stage on a terminal of its own, relayed to runcell's */
        bool no_warm; /* --no-warm: a sandbox of its own even when a runcell warm listens */
        rc_limits_t limits;
        char **files;
        int nfiles;
        char **args;
        /* runcell run --outputs GLOB... --outputs-dir DIR */
        char *outputs[SB_OUTPUTS_MAX + 1];
        int noutputs;
        const char *outputs_dir;
        /* runcell judge */
        bool judge;
        const char *tests_dir;
        compare_opts_t compare;
        const char *checker;      /* --checker FILE */
        const char *checker_lang; /* --checker-lang L; default: by its extension */
        unsigned parallel;        /* 0: one per core */
        bool stop_on_first_failure;
        bool fresh_sandboxes;
} run_opts_t;

/* A command served by a runcell warm's worker (cli/warm_run.h) on the command's behalf. */
typedef struct cli_run_env {
        catalog_t *cat;       /* loaded whole, its cgroups and build cache open (the helper's) */
        preparer_t *preparer; /* the helper, which lends the sandboxes */
        const int *file_fds;  /* per file operand, the command's open file (-1 for "-") */
        int stdin_fd;         /* --stdin FILE's (not "-"), the command's open file; -1: none */
        int conn;             /* the command: a signal it took (int32), or its end */
        int peer_pidfd;       /* the command's process; -1: not known */
        char *lang;           /* out: the toolchain run, "NAME\nROOTFS" ("" if none) */
        size_t lang_size;
        /* called once the run's output, summary and exit status are final, before the rest is
         * freed (the worker answers the command then); NULL: none */
        void (*done)(const struct cli_run_env *env, int rc);
        bool *answered; /* set by done */
} cli_run_env_t;

typedef struct cli_run {
        run_opts_t o;
        catalog_t cat;
        catalog_t *pre;      /* the catalog loaded ahead (cli_run_env_t.cat); NULL: cat */
        const int *file_fds; /* cli_run_env_t.file_fds; NULL: the files are opened by path */
        const toolchain_t *tc;
        lang_t *lang;
        job_input_file_t *files; /* o.nfiles of them */
        char **bufs;
        unsigned pool; /* sandboxes kept prepared (judge: its tests at once); 0: none */
} cli_run_t;

/* The command line of run (judge false) or judge; 1 after saying what is wrong. */
int cli_run_parse(int argc, char **argv, run_opts_t *o, bool judge);
/* r->o parsed: everything up to the first sandbox; 1 after saying what failed. */
int cli_run_setup(cli_run_t *r, const rc_paths_t *paths);
/* runcell run: argv from "run" on; env NULL for the command itself (which first offers the run
 * to a runcell warm's worker, cli/warm_run.h), else the worker serving one. The exit status. */
int cli_run_cmd(const rc_paths_t *paths, int argc, char **argv, const cli_run_env_t *env);
void cli_run_free(cli_run_t *r);
/* Ctrl-C, SIGTERM and SIGHUP blocked and readable on the fd returned (-1 on failure): they end
 * the run or judging, not runcell. */
int cli_cancel_fd(void);
/* The language whose toolchain lists name's extension in "source_extensions"; NULL (said only
 * when complain) when none or two do. */
const toolchain_t *cli_guess_lang(const toolchain_set_t *set, const char *name, bool complain);

#endif
