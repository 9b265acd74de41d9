/* runcell run through a runcell warm's worker (job/warm.h): the command hands itself over (its
 * arguments, its stdin, stdout and stderr, its working directory and the files it names, each
 * opened by the command) to a process forked ahead of time with the toolchains, cgroup manager
 * and build cache already loaded, which runs it exactly as the command would have (cli_run_cmd)
 * in a sandbox the helper prepared ahead, writes to the command's stdout and stderr, lets go of
 * them, and sends back the exit status (then waits for the command's end before it lets the
 * sandbox go and exits). The command forwards the signals that would end it (SIGINT, SIGTERM,
 * SIGHUP); if it dies, its run is killed.
 *
 * Not handed over, so run by the command itself as before: -t, --outputs-dir (files written by
 * path), --no-warm, a terminal as stdin that the program would read (the worker is not in the
 * terminal's foreground process group), more than WARM_RUN_FILES_MAX files, a file that cannot
 * be opened or is a directory (the command says so itself), a runcell warm that was started with
 * other directories (toolchains, root filesystems, seccomp profiles, state) than the command's,
 * or one whose worker is busy: the command then borrows a prepared sandbox from it
 * (preparer_connect), or makes its own when none listens. */
#ifndef RUNCELL_CLI_WARM_RUN_H
#define RUNCELL_CLI_WARM_RUN_H

#include <stdbool.h>
#include <stddef.h>

#include "cli/run_setup.h"
#include "config.h"
#include "job/warm.h"

#define WARM_RUN_FILES_MAX 64

/* The command's side: 0 and *rc when a worker ran it; 1 when it was not handed over (run it
 * here); 2 when no runcell warm listens (run it here, borrowing nothing). streams: whether the
 * command would pass its stdin on as the program reads it. */
int cli_warm_delegate(const rc_paths_t *paths, int argc, char **argv, const run_opts_t *o,
                      bool streams, int *rc);
/* The worker's side (warm_worker_t.run): serve the command on conn. */
void cli_warm_command(const rc_paths_t *paths, catalog_t *cat, int conn, int prep,
                      const warm_held_t *held, char *lang, size_t lang_size);

#endif
