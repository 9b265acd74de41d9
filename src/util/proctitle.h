/* What /proc/PID/cmdline shows for a process: the memory of its original argv. A sandbox's
 * init is a copy of runcell, so without this the program would read runcell's command line
 * (host paths, options) from /proc/1/cmdline. */
#ifndef RUNCELL_UTIL_PROCTITLE_H
#define RUNCELL_UTIL_PROCTITLE_H

/* Remember where argv and the environment strings live; call once from main(). */
void proctitle_init(int argc, char **argv);
/* Overwrite that memory: title in argv's place, zeros for the rest and for the environment
 * strings. Allocation-free, for the cloned child. */
void proctitle_scrub(const char *title);

#endif
