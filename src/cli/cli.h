/* The runcell command line. */
#ifndef RUNCELL_CLI_CLI_H
#define RUNCELL_CLI_CLI_H

#include "config.h"
#include "seccomp/profile.h"
#include "toolchain/toolchain.h"

/* A subcommand; argv[0] is the subcommand name. */
typedef int (*cli_cmd_fn)(const rc_paths_t *paths, int argc, char **argv);

/* Entry point behind main(): returns the process exit status. `serve` is cmd_serve in the
 * runcell-serve executable; NULL in runcell, which then execs runcell-serve from its own
 * directory with the same arguments. The server (libwebsockets, OpenSSL) lives in its own
 * executable so that a one-shot `runcell run` does not load and bind those libraries. */
int cli_main(int argc, char **argv, cli_cmd_fn serve);

/* Subcommands. */
int cmd_run(const rc_paths_t *paths, int argc, char **argv);
int cmd_judge(const rc_paths_t *paths, int argc, char **argv);
int cmd_languages(const rc_paths_t *paths, int argc, char **argv);
int cmd_doctor(const rc_paths_t *paths, int argc, char **argv);
int cmd_batch(const rc_paths_t *paths, int argc, char **argv);
int cmd_warm(const rc_paths_t *paths, int argc, char **argv);
int cmd_serve(const rc_paths_t *paths, int argc, char **argv);
/* A client of a running server's functions API; paths is not used (may be NULL). */
int cmd_fn(const rc_paths_t *paths, int argc, char **argv);

/* One "runcell: ..." line on stderr; returns 1 (the exit status of a usage or input error). */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
