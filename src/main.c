/* runcell: the command line (run, batch, languages, doctor). `serve` is the runcell-serve
 * executable beside this one (src/main_serve.c), which the command line execs. */
#include "cli/cli.h"
#include "util/proctitle.h"

int main(int argc, char **argv)
{
        proctitle_init(argc, argv);
        return cli_main(argc, argv, NULL);
}
