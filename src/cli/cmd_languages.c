#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "engine/catalog.h"
#include "rootfs/store.h"
#include "toolchain/toolchain.h"

/* Was a toolchain of tc's language listed before index i? (Its versions were listed then.) */
static bool listed_before(const toolchain_set_t *set, size_t i)
{
        for (size_t k = 0; k < i; k++)
                if (strcmp(set->items[k]->name, set->items[i]->name) == 0)
                        return true;
        return false;
}

/* One line or object per language: its default version (the newest built, else its first
 * toolchain) and, under "versions", every version with its root filesystem. */
int cmd_languages(const rc_paths_t *paths, int argc, char **argv)
{
        bool json = false;
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--json") == 0)
                        json = true;
                else
                        return cli_fail("languages: unknown option %s", argv[i]);
        }
        catalog_t cat;
        rc_err_t err = {0};
        if (catalog_load(&cat, paths, &err) < 0) {
                catalog_close(&cat);
                return cli_fail("%s", err.msg);
        }
        cJSON *arr = json ? cJSON_CreateArray() : NULL;
        for (size_t i = 0; i < cat.set.n; i++) {
                if (listed_before(&cat.set, i))
                        continue;
                size_t n = 0;
                catalog_variant_t *v = catalog_variants(&cat, cat.set.items[i]->name, &n);
                if (!v) {
                        cJSON_Delete(arr);
                        catalog_close(&cat);
                        return cli_fail("out of memory");
                }
                /* the default: the newest built (first), else the language's first file */
                const catalog_variant_t *d = v[0].version ? &v[0] : NULL;
                for (size_t k = 0; !d && k < n; k++)
                        if (v[k].index == i)
                                d = &v[k];
                if (!d) /* not reached: item i is among them */
                        d = &v[0];
                const toolchain_t *tc = d->tc;
                bool avail = rootfs_available(&cat.store, tc->rootfs);
                if (json) {
                        cJSON *o = cJSON_CreateObject();
                        cJSON_AddStringToObject(o, "name", tc->name);
                        if (d->version)
                                cJSON_AddStringToObject(o, "version", d->version);
                        else
                                cJSON_AddNullToObject(o, "version");
                        cJSON *al = cJSON_AddArrayToObject(o, "aliases");
                        for (size_t a = 0; a < tc->aliases.n; a++)
                                cJSON_AddItemToArray(al, cJSON_CreateString(tc->aliases.v[a]));
                        cJSON_AddStringToObject(o, "rootfs", tc->rootfs);
                        cJSON_AddBoolToObject(o, "compiled", tc->compile.n > 0);
                        cJSON_AddBoolToObject(o, "available", avail);
                        cJSON *vs = cJSON_AddArrayToObject(o, "versions");
                        for (size_t k = 0; k < n; k++) {
                                cJSON *e = cJSON_CreateObject();
                                if (v[k].version)
                                        cJSON_AddStringToObject(e, "version", v[k].version);
                                else
                                        cJSON_AddNullToObject(e, "version");
                                cJSON_AddStringToObject(e, "rootfs", v[k].tc->rootfs);
                                cJSON_AddBoolToObject(
                                    e, "available", rootfs_available(&cat.store, v[k].tc->rootfs));
                                cJSON_AddBoolToObject(e, "default", &v[k] == d);
                                cJSON_AddItemToArray(vs, e);
                        }
                        cJSON_AddItemToArray(arr, o);
                } else {
                        printf("%-12s %-10s rootfs=%-8s %s", tc->name,
                               d->version ? d->version : "-", tc->rootfs,
                               avail ? "" : "(not built) ");
                        for (size_t a = 0; a < tc->aliases.n; a++)
                                printf("%s%s", a ? "," : "aliases=", tc->aliases.v[a]);
                        /* the other versions, newest first: VERSION/ROOTFS ("-": not built) */
                        for (size_t k = 0, shown = 0; n > 1 && k < n; k++) {
                                if (&v[k] == d)
                                        continue;
                                printf("%s%s/%s",
                                       shown++ ? "," : " also=", v[k].version ? v[k].version : "-",
                                       v[k].tc->rootfs);
                        }
                        putchar('\n');
                }
                catalog_variants_free(v, n);
        }
        if (json) {
                char *t = cJSON_PrintUnformatted(arr);
                printf("%s\n", t ? t : "[]");
                free(t);
                cJSON_Delete(arr);
        }
        catalog_close(&cat);
        return 0;
}
