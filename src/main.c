/* runcell: the command line (run, batch, languages, doctor). `serve` is the runcell-serve
 * executable beside this one (src/main_serve.c), which the command line execs. */
#include <stdio.h>

#include "cli/cli.h"
#include "util/proctitle.h"
#include "util/trace.h"

int main(int argc, char **argv)
{
        proctitle_init(argc, argv);
        trace_mark("main"); /* when the process got here: its exec and start before it */
        return cli_main(argc, argv, NULL);
}
