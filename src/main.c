#include "cli/cli.h"
#include "util/proctitle.h"

int main(int argc, char **argv)
{
        proctitle_init(argc, argv);
        return cli_main(argc, argv);
}
