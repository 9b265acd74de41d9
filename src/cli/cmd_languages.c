#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "rootfs/store.h"
#include "toolchain/toolchain.h"

int cmd_languages(const rc_paths_t *paths, int argc, char **argv)
{
        bool json = false;
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--json") == 0)
                        json = true;
                else
                        return cli_fail("languages: unknown option %s", argv[i]);
        }
        toolchain_set_t set = {0};
        rc_err_t err = {0};
        if (toolchain_set_load(&set, paths->toolchains_dir, &err) < 0) {
                toolchain_set_free(&set);
                return cli_fail("%s", err.msg);
        }
        rootfs_store_t store = {.rootfs_dir = paths->rootfs_dir, .state_dir = paths->state_dir};
        cJSON *arr = json ? cJSON_CreateArray() : NULL;
        for (size_t i = 0; i < set.n; i++) {
                const toolchain_t *tc = set.items[i];
                char *version = NULL;
                bool avail = rootfs_available(&store, tc->rootfs);
                if (avail)
                        rootfs_package_version(&store, tc->rootfs, tc->version_package, &version,
                                               NULL);
                if (json) {
                        cJSON *o = cJSON_CreateObject();
                        cJSON_AddStringToObject(o, "name", tc->name);
                        if (version)
                                cJSON_AddStringToObject(o, "version", version);
                        else
                                cJSON_AddNullToObject(o, "version");
                        cJSON *al = cJSON_AddArrayToObject(o, "aliases");
                        for (size_t a = 0; a < tc->aliases.n; a++)
                                cJSON_AddItemToArray(al, cJSON_CreateString(tc->aliases.v[a]));
                        cJSON_AddStringToObject(o, "rootfs", tc->rootfs);
                        cJSON_AddBoolToObject(o, "compiled", tc->compile.n > 0);
                        cJSON_AddBoolToObject(o, "available", avail);
                        cJSON_AddItemToArray(arr, o);
                } else {
                        printf("%-12s %-10s rootfs=%-8s %s", tc->name, version ? version : "-",
                               tc->rootfs, avail ? "" : "(not built) ");
                        for (size_t a = 0; a < tc->aliases.n; a++)
                                printf("%s%s", a ? "," : "aliases=", tc->aliases.v[a]);
                        putchar('\n');
                }
                free(version);
        }
        if (json) {
                char *t = cJSON_PrintUnformatted(arr);
                printf("%s\n", t ? t : "[]");
                free(t);
                cJSON_Delete(arr);
        }
        toolchain_set_free(&set);
        return 0;
}
