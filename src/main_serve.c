/* runcell-serve: the same command line with the server (cmd_serve: libwebsockets) linked in;
 * `runcell serve ...` execs it with its own arguments. */
#include "cli/cli.h"
#include "util/proctitle.h"

int main(int argc, char **argv)
{
        proctitle_init(argc, argv);
        return cli_main(argc, argv, cmd_serve);
}
