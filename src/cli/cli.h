/* The runcell command line. */
#ifndef RUNCELL_CLI_CLI_H
#define RUNCELL_CLI_CLI_H

#include "config.h"

/* Entry point behind main(): returns the process exit status. */
int cli_main(int argc, char **argv);

/* Subcommands; argv[0] is the subcommand name. */
int cmd_run(const rc_paths_t *paths, int argc, char **argv);
int cmd_languages(const rc_paths_t *paths, int argc, char **argv);
int cmd_doctor(const rc_paths_t *paths, int argc, char **argv);
int cmd_batch(const rc_paths_t *paths, int argc, char **argv);

/* One "runcell: ..." line on stderr; returns 1 (the exit status of a usage or input error). */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
