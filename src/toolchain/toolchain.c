#include "toolchain/toolchain.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "util/buf.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define TOOLCHAIN_FILE_MAX (64 * 1024)

static bool valid_name(const char *s)
{
        if (!*s || strlen(s) > 64)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
                      *s == '_' || *s == '+' || *s == '.'))
                        return false;
        return true;
}

static int get_string(const cJSON *root, const char *key, bool required, char **out,
                      const char *origin, rc_err_t *err)
{
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
        if (!it || cJSON_IsNull(it)) {
                if (required)
                        return rc_err_set(err, EINVAL, "%s: missing \"%s\"", origin, key);
                return 0;
        }
        if (!cJSON_IsString(it) || !*it->valuestring)
                return rc_err_set(err, EINVAL, "%s: \"%s\" must be a non-empty string", origin,
                                  key);
        *out = strdup(it->valuestring);
        return *out ? 0 : rc_err_set(err, ENOMEM, "out of memory");
}

static int get_strv(const cJSON *root, const char *key, bool required, strv_t *out,
                    const char *origin, rc_err_t *err)
{
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
        if (!it || cJSON_IsNull(it)) {
                if (required)
                        return rc_err_set(err, EINVAL, "%s: missing \"%s\"", origin, key);
                return 0;
        }
        if (!cJSON_IsArray(it))
                return rc_err_set(err, EINVAL, "%s: \"%s\" must be an array of strings", origin,
                                  key);
        const cJSON *el;
        cJSON_ArrayForEach(el, it)
        {
                if (!cJSON_IsString(el))
                        return rc_err_set(err, EINVAL, "%s: \"%s\" must hold only strings", origin,
                                          key);
                if (strv_push(out, el->valuestring) < 0)
                        return rc_err_set(err, ENOMEM, "out of memory");
        }
        if (required && out->n == 0)
                return rc_err_set(err, EINVAL, "%s: \"%s\" must not be empty", origin, key);
        return 0;
}

static int get_env(const cJSON *root, strv_t *out, const char *origin, rc_err_t *err)
{
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, "env");
        if (!it)
                return 0;
        if (!cJSON_IsObject(it))
                return rc_err_set(err, EINVAL, "%s: \"env\" must be an object", origin);
        const cJSON *el;
        cJSON_ArrayForEach(el, it)
        {
                if (!cJSON_IsString(el) || !*el->string || strchr(el->string, '='))
                        return rc_err_set(err, EINVAL,
                                          "%s: env \"%s\" must be a string with a valid name",
                                          origin, el->string);
                char *kv = NULL;
                if (asprintf(&kv, "%s=%s", el->string, el->valuestring) < 0 ||
                    strv_push_take(out, kv) < 0)
                        return rc_err_set(err, ENOMEM, "out of memory");
        }
        return 0;
}

static int get_limits(const cJSON *root, toolchain_t *tc, const char *origin, rc_err_t *err)
{
        const cJSON *lim = cJSON_GetObjectItemCaseSensitive(root, "limits");
        if (!lim)
                return 0;
        if (!cJSON_IsObject(lim))
                return rc_err_set(err, EINVAL, "%s: \"limits\" must be an object", origin);
        const cJSON *el;
        cJSON_ArrayForEach(el, lim)
        {
                rc_limits_t *dst;
                if (strcmp(el->string, "compile") == 0)
                        dst = &tc->limits_compile;
                else if (strcmp(el->string, "run") == 0)
                        dst = &tc->limits_run;
                else
                        return rc_err_set(err, EINVAL, "%s: unknown limits stage \"%s\"", origin,
                                          el->string);
                char what[160];
                snprintf(what, sizeof(what), "%s: limits.%s", origin, el->string);
                int r = limits_from_json(el, dst, what, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* examples: {"hello": {"source", "stdout"}, "stdin": {"source", "stdin", "stdout"}}, both
 * required: every language carries a program users can try and tests can check. */
static int get_example(const cJSON *ex, const char *key, toolchain_example_t *out,
                       const char *origin, rc_err_t *err)
{
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(ex, key);
        if (!cJSON_IsObject(it))
                return rc_err_set(err, EINVAL, "%s: examples.%s must be an object", origin, key);
        const cJSON *el;
        cJSON_ArrayForEach(el, it)
        {
                if (strcmp(el->string, "source") && strcmp(el->string, "stdout") &&
                    strcmp(el->string, "stdin"))
                        return rc_err_set(err, EINVAL, "%s: examples.%s: unknown key \"%s\"",
                                          origin, key, el->string);
                if (!cJSON_IsString(el))
                        return rc_err_set(err, EINVAL, "%s: examples.%s.%s must be a string",
                                          origin, key, el->string);
        }
        char what[96];
        snprintf(what, sizeof(what), "examples.%s", key);
        const cJSON *src = cJSON_GetObjectItemCaseSensitive(it, "source");
        const cJSON *out_ = cJSON_GetObjectItemCaseSensitive(it, "stdout");
        const cJSON *in = cJSON_GetObjectItemCaseSensitive(it, "stdin");
        if (!src || !*src->valuestring || !out_)
                return rc_err_set(err, EINVAL, "%s: %s needs \"source\" and \"stdout\"", origin,
                                  what);
        if (!(out->source = strdup(src->valuestring)) ||
            !(out->stdout_text = strdup(out_->valuestring)) ||
            (in && !(out->stdin_text = strdup(in->valuestring))))
                return rc_err_set(err, ENOMEM, "out of memory");
        return 0;
}

static int get_examples(const cJSON *root, toolchain_t *tc, const char *origin, rc_err_t *err)
{
        const cJSON *ex = cJSON_GetObjectItemCaseSensitive(root, "examples");
        if (!cJSON_IsObject(ex))
                return rc_err_set(err, EINVAL,
                                  "%s: missing \"examples\" (an object with hello and stdin)",
                                  origin);
        const cJSON *el;
        cJSON_ArrayForEach(el, ex)
        {
                if (strcmp(el->string, "hello") && strcmp(el->string, "stdin"))
                        return rc_err_set(err, EINVAL, "%s: examples: unknown key \"%s\"", origin,
                                          el->string);
        }
        int r = get_example(ex, "hello", &tc->hello, origin, err);
        if (r == 0)
                r = get_example(ex, "stdin", &tc->stdin, origin, err);
        if (r == 0 && !tc->stdin.stdin_text)
                r = rc_err_set(err, EINVAL, "%s: examples.stdin needs \"stdin\"", origin);
        return r;
}

static void example_free(toolchain_example_t *ex)
{
        free(ex->source);
        free(ex->stdin_text);
        free(ex->stdout_text);
}

int toolchain_parse(const char *json, size_t len, const char *origin, toolchain_t **out,
                    rc_err_t *err)
{
        static const char *const known[] = {
            "name",        "display_name",      "aliases",  "rootfs",        "version_package",
            "source_file", "source_extensions", "compile",  "run",           "env",
            "limits",      "seccomp_profile",   "examples", "compile_cache",
        };
        const char *end = NULL;
        _cleanup_cjson_ cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
        if (!root)
                return rc_err_set(err, EINVAL, "%s: invalid JSON near byte %td", origin,
                                  end ? end - json : 0);
        if (!cJSON_IsObject(root))
                return rc_err_set(err, EINVAL, "%s: must be a JSON object", origin);
        for (const char *p = end; p && p < json + len; p++)
                if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
                        return rc_err_set(err, EINVAL, "%s: unexpected text after the JSON object",
                                          origin);
        const cJSON *it;
        cJSON_ArrayForEach(it, root)
        {
                size_t i;
                for (i = 0; i < ARRAY_SIZE(known); i++)
                        if (strcmp(it->string, known[i]) == 0)
                                break;
                if (i == ARRAY_SIZE(known))
                        return rc_err_set(err, EINVAL, "%s: unknown key \"%s\"", origin,
                                          it->string);
        }

        toolchain_t *tc = calloc(1, sizeof(*tc));
        if (!tc)
                return rc_err_set(err, ENOMEM, "out of memory");
        int r;
        if ((r = get_string(root, "name", true, &tc->name, origin, err)) < 0 ||
            (r = get_string(root, "display_name", false, &tc->display_name, origin, err)) < 0 ||
            (r = get_strv(root, "aliases", false, &tc->aliases, origin, err)) < 0 ||
            (r = get_string(root, "rootfs", true, &tc->rootfs, origin, err)) < 0 ||
            (r = get_string(root, "version_package", true, &tc->version_package, origin, err)) <
                0 ||
            (r = get_string(root, "source_file", true, &tc->source_file, origin, err)) < 0 ||
            (r = get_strv(root, "source_extensions", false, &tc->source_ext, origin, err)) < 0 ||
            (r = get_strv(root, "compile", false, &tc->compile, origin, err)) < 0 ||
            (r = get_strv(root, "run", true, &tc->run, origin, err)) < 0 ||
            (r = get_env(root, &tc->env, origin, err)) < 0 ||
            (r = get_limits(root, tc, origin, err)) < 0 ||
            (r = get_string(root, "seccomp_profile", false, &tc->seccomp_profile, origin, err)) <
                0 ||
            (r = get_examples(root, tc, origin, err)) < 0)
                goto fail;
        const cJSON *cc = cJSON_GetObjectItemCaseSensitive(root, "compile_cache");
        if (cc && (!cJSON_IsBool(cc) || (cJSON_IsTrue(cc) && !tc->compile.n))) {
                r = rc_err_set(err, EINVAL,
                               "%s: compile_cache must be true or false (and goes "
                               "with a compile command)",
                               origin);
                goto fail;
        }
        tc->compile_cache = cJSON_IsTrue(cc);
        if (!valid_name(tc->name)) {
                r = rc_err_set(err, EINVAL, "%s: invalid name \"%s\"", origin, tc->name);
                goto fail;
        }
        for (size_t i = 0; i < tc->aliases.n; i++)
                if (!valid_name(tc->aliases.v[i])) {
                        r = rc_err_set(err, EINVAL, "%s: invalid alias \"%s\"", origin,
                                       tc->aliases.v[i]);
                        goto fail;
                }
        if (!valid_name(tc->rootfs)) {
                r = rc_err_set(err, EINVAL, "%s: invalid rootfs name \"%s\"", origin, tc->rootfs);
                goto fail;
        }
        if (strchr(tc->source_file, '/') || tc->source_file[0] == '.') {
                r = rc_err_set(err, EINVAL, "%s: source_file must be a plain file name", origin);
                goto fail;
        }
        *out = tc;
        return 0;
fail:
        toolchain_free(tc);
        return r;
}

void toolchain_free(toolchain_t *tc)
{
        if (!tc)
                return;
        free(tc->name);
        free(tc->display_name);
        strv_free(&tc->aliases);
        free(tc->rootfs);
        free(tc->version_package);
        free(tc->source_file);
        strv_free(&tc->source_ext);
        strv_free(&tc->compile);
        strv_free(&tc->run);
        strv_free(&tc->env);
        free(tc->seccomp_profile);
        example_free(&tc->hello);
        example_free(&tc->stdin);
        free(tc);
}

static bool tc_has_name(const toolchain_t *tc, const char *name)
{
        if (strcmp(tc->name, name) == 0)
                return true;
        for (size_t i = 0; i < tc->aliases.n; i++)
                if (strcmp(tc->aliases.v[i], name) == 0)
                        return true;
        return false;
}

const toolchain_t *toolchain_set_find(const toolchain_set_t *set, const char *name)
{
        for (size_t i = 0; i < set->n; i++)
                if (tc_has_name(set->items[i], name))
                        return set->items[i];
        return NULL;
}

/* A toolchain of another language than `lang` that has this name or alias. */
static const toolchain_t *other_lang_with(const toolchain_set_t *set, const char *word,
                                          const char *lang)
{
        for (size_t i = 0; i < set->n; i++)
                if (strcmp(set->items[i]->name, lang) != 0 && tc_has_name(set->items[i], word))
                        return set->items[i];
        return NULL;
}

static int add_checked(toolchain_set_t *set, toolchain_t *tc, const char *origin, rc_err_t *err)
{
        if (other_lang_with(set, tc->name, tc->name))
                return rc_err_set(err, EEXIST, "%s: name \"%s\" is already taken", origin,
                                  tc->name);
        for (size_t i = 0; i < tc->aliases.n; i++)
                if (other_lang_with(set, tc->aliases.v[i], tc->name) ||
                    strcmp(tc->aliases.v[i], tc->name) == 0)
                        return rc_err_set(err, EEXIST, "%s: alias \"%s\" is already taken", origin,
                                          tc->aliases.v[i]);
        /* another version of the same language: it comes from another root filesystem */
        for (size_t i = 0; i < set->n; i++)
                if (strcmp(set->items[i]->name, tc->name) == 0 &&
                    strcmp(set->items[i]->rootfs, tc->rootfs) == 0)
                        return rc_err_set(err, EEXIST,
                                          "%s: \"%s\" from root filesystem \"%s\" is already "
                                          "loaded (another version of a language needs its own "
                                          "root filesystem)",
                                          origin, tc->name, tc->rootfs);
        toolchain_t **ni = realloc(set->items, (set->n + 1) * sizeof(*ni));
        if (!ni)
                return rc_err_set(err, ENOMEM, "out of memory");
        set->items = ni;
        set->items[set->n++] = tc;
        return 0;
}

static int json_file_filter(const struct dirent *d)
{
        size_t n = strlen(d->d_name);
        return d->d_name[0] != '.' && n > 5 && strcmp(d->d_name + n - 5, ".json") == 0;
}

/* Whether text holds token as a JSON string ("token"): a cheap test before parsing. */
static bool mentions(const char *text, size_t len, const char *token)
{
        size_t tl = strlen(token);
        for (const char *p = text; (p = memchr(p, '"', len - (size_t)(p - text))) != NULL; p++) {
                size_t left = len - (size_t)(p - text);
                if (left >= tl + 2 && memcmp(p + 1, token, tl) == 0 && p[tl + 1] == '"')
                        return true;
        }
        return false;
}

/* dir/file's path and text (both the caller's to free). */
static int read_toolchain_file(const char *dir, const char *file, char **path, char **text,
                               size_t *len, rc_err_t *err)
{
        *path = fs_join(dir, file);
        if (!*path)
                return rc_err_set(err, ENOMEM, "out of memory");
        return fs_read_file(*path, TOOLCHAIN_FILE_MAX, text, len, err);
}

int toolchain_set_load(toolchain_set_t *set, const char *dir, rc_err_t *err)
{
        return toolchain_set_load_mentioning(set, dir, NULL, err);
}

int toolchain_set_load_mentioning(toolchain_set_t *set, const char *dir, const char *token,
                                  rc_err_t *err)
{
        struct dirent **names = NULL;
        int n = scandir(dir, &names, json_file_filter, alphasort);
        if (n < 0)
                return rc_err_sys(err, errno, "toolchains directory %s", dir);
        int r = 0;
        for (int i = 0; i < n; i++) {
                if (r == 0) {
                        _cleanup_free_ char *path = NULL, *text = NULL;
                        size_t len = 0;
                        toolchain_t *tc = NULL;
                        r = read_toolchain_file(dir, names[i]->d_name, &path, &text, &len, err);
                        if (r == 0 && token && !mentions(text, len, token)) {
                                free(names[i]);
                                continue;
                        }
                        if (r == 0)
                                r = toolchain_parse(text, len, path, &tc, err);
                        if (r == 0 && (r = add_checked(set, tc, path, err)) < 0)
                                toolchain_free(tc);
                }
                free(names[i]);
        }
        free(names);
        if (r == 0 && set->n == 0 && !token)
                r = rc_err_set(err, ENOENT, "no toolchains (*.json) in %s", dir);
        return r;
}

#define INDEX_MAGIC "runcell-toolchains-index 1"
#define INDEX_MAX   (1 << 20)

/* A file's identity as the index keeps it: "dev:ino:size:sec.nsec" of its mtime. */
static void index_key(const struct stat *st, char *out, size_t size)
{
        snprintf(out, size, "%llu:%llu:%lld:%lld.%09ld", (unsigned long long)st->st_dev,
                 (unsigned long long)st->st_ino, (long long)st->st_size,
                 (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
}

/* The words of file's line in the index text when its key is key, or NULL when the index has
 * no such line. Lines: FILE TAB KEY TAB WORD SPACE WORD ..., or FILE TAB KEY TAB ! for a file
 * that does not parse (read each time, as without an index). */
static const char *index_words(const char *text, const char *file, const char *key, size_t *len)
{
        size_t fl = strlen(file), kl = strlen(key);
        for (const char *line = text; line && *line;) {
                const char *nl = strchr(line, '\n');
                size_t ll = nl ? (size_t)(nl - line) : strlen(line);
                if (ll > fl + kl + 2 && memcmp(line, file, fl) == 0 && line[fl] == '\t' &&
                    memcmp(line + fl + 1, key, kl) == 0 && line[fl + 1 + kl] == '\t') {
                        *len = ll - fl - kl - 2;
                        return line + fl + kl + 2;
                }
                line = nl ? nl + 1 : NULL;
        }
        return NULL;
}

static bool has_word(const char *words, size_t len, const char *word)
{
        size_t wl = strlen(word);
        for (const char *p = words, *end = words + len; p < end;) {
                const char *sp = memchr(p, ' ', (size_t)(end - p));
                size_t n = sp ? (size_t)(sp - p) : (size_t)(end - p);
                if (n == wl && memcmp(p, word, wl) == 0)
                        return true;
                p += n + 1;
        }
        return false;
}

static bool index_word_ok(const char *w)
{
        return *w && strcmp(w, "!") != 0 && !strpbrk(w, " \t\n");
}

/* tc's words for the index, or false when one cannot be written there. */
static bool append_words(buf_t *b, const toolchain_t *tc)
{
        const strv_t *lists[] = {&tc->aliases, &tc->source_ext};
        if (!index_word_ok(tc->name))
                return false;
        for (size_t l = 0; l < 2; l++)
                for (size_t i = 0; i < lists[l]->n; i++)
                        if (!index_word_ok(lists[l]->v[i]))
                                return false;
        buf_printf(b, "%s", tc->name);
        for (size_t l = 0; l < 2; l++)
                for (size_t i = 0; i < lists[l]->n; i++)
                        buf_printf(b, " %s", lists[l]->v[i]);
        return true;
}

/* Whether a file's modification time is old enough to tell it apart from a later change: the
 * kernel stamps files from a coarse clock, so a rewrite of the same size within the same tick
 * would keep its identity. A file changed in the last 2 s is not indexed (read each time until
 * then), as git treats "racy" entries. */
static bool settled(const struct stat *st)
{
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        return st->st_mtim.tv_sec < now.tv_sec - 2 ||
               (st->st_mtim.tv_sec == now.tv_sec - 2 && st->st_mtim.tv_nsec <= now.tv_nsec);
}

int toolchain_set_load_indexed(toolchain_set_t *set, const char *dir, const char *token,
                               const char *index, rc_err_t *err)
{
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return rc_err_sys(err, errno, "toolchains directory %s", dir);
        struct dirent **names = NULL;
        int n = scandirat(dfd, ".", &names, json_file_filter, alphasort);
        if (n < 0)
                return rc_err_sys(err, errno, "toolchains directory %s", dir);
        _cleanup_free_ char *old = NULL;
        size_t old_len = 0;
        char head[4200];
        snprintf(head, sizeof(head), "%s %s\n", INDEX_MAGIC, dir);
        if (fs_read_file(index, INDEX_MAX, &old, &old_len, NULL) < 0 ||
            strncmp(old, head, strlen(head)) != 0) {
                free(old);
                old = NULL; /* none yet, or another directory's: every file is read */
        }
        buf_t fresh = {0};
        buf_printf(&fresh, "%s", head);
        bool changed = !old;
        int r = 0, indexed = 0;
        for (int i = 0; i < n; i++) {
                const char *file = names[i]->d_name;
                struct stat st;
                char key[128] = "";
                const char *words = NULL;
                size_t wl = 0;
                if (r == 0 && fstatat(dfd, file, &st, 0) == 0 && S_ISREG(st.st_mode)) {
                        index_key(&st, key, sizeof(key));
                        words = old ? index_words(old + strlen(head), file, key, &wl) : NULL;
                }
                bool unparsable = words && wl == 1 && words[0] == '!';
                if (r == 0 && words) {
                        buf_printf(&fresh, "%s\t%s\t%.*s\n", file, key, (int)wl, words);
                        indexed++;
                        if (!unparsable && !has_word(words, wl, token)) {
                                free(names[i]);
                                continue;
                        }
                }
                if (r == 0) {
                        _cleanup_free_ char *path = NULL, *text = NULL;
                        size_t len = 0;
                        toolchain_t *tc = NULL;
                        r = read_toolchain_file(dir, file, &path, &text, &len, err);
                        bool wanted = r == 0 && mentions(text, len, token);
                        if (r == 0 && !words) {
                                /* not indexed as it is now: parsed for its words whatever it
                                 * holds (one that does not parse is marked to be read each
                                 * time, as without an index) */
                                changed = true;
                                rc_err_t ignored = {0};
                                bool parsed = toolchain_parse(text, len, path, &tc, &ignored) == 0;
                                if (*key && settled(&st)) {
                                        size_t mark = fresh.len;
                                        buf_printf(&fresh, "%s\t%s\t", file, key);
                                        if (parsed ? append_words(&fresh, tc)
                                                   : buf_printf(&fresh, "!") >= 0) {
                                                buf_printf(&fresh, "\n");
                                                indexed++;
                                        } else {
                                                fresh.len = mark;
                                        }
                                }
                                if (tc && !wanted) {
                                        toolchain_free(tc);
                                        tc = NULL;
                                }
                        }
                        if (r == 0 && wanted && !tc)
                                r = toolchain_parse(text, len, path, &tc, err);
                        if (r == 0 && tc && (r = add_checked(set, tc, path, err)) < 0)
                                toolchain_free(tc);
                }
                free(names[i]);
        }
        free(names);
        /* a file gone since shows as fewer lines than the old index had */
        if (r == 0 && !changed && old) {
                int lines = 0;
                for (const char *p = old + strlen(head); *p; p++)
                        lines += *p == '\n';
                changed = lines != indexed;
        }
        if (r == 0 && changed && fresh.data) /* a failure only costs the next run the reads */
                fs_write_atomic(index, fresh.data, fresh.len, 0644);
        buf_free(&fresh);
        return r;
}

void toolchain_set_free(toolchain_set_t *set)
{
        for (size_t i = 0; i < set->n; i++)
                toolchain_free(set->items[i]);
        free(set->items);
        set->items = NULL;
        set->n = 0;
}

static bool has_source_ext(const toolchain_t *tc, const char *file)
{
        if (tc->source_ext.n == 0)
                return true;
        size_t fl = strlen(file);
        for (size_t i = 0; i < tc->source_ext.n; i++) {
                size_t el = strlen(tc->source_ext.v[i]);
                if (fl > el && strcmp(file + fl - el, tc->source_ext.v[i]) == 0)
                        return true;
        }
        return false;
}

int toolchain_expand_argv(const toolchain_t *tc, const strv_t *tpl, const char *entry,
                          char *const *files, size_t nfiles, char *const *args, strv_t *out,
                          rc_err_t *err)
{
        return toolchain_expand_argv_opts(tc, tpl, entry, files, nfiles, NULL, args, out, err);
}

bool toolchain_takes_options(const strv_t *tpl)
{
        for (size_t i = 0; i < tpl->n; i++)
                if (strcmp(tpl->v[i], "{options}") == 0)
                        return true;
        return false;
}

int toolchain_expand_argv_opts(const toolchain_t *tc, const strv_t *tpl, const char *entry,
                               char *const *files, size_t nfiles, char *const *options,
                               char *const *args, strv_t *out, rc_err_t *err)
{
        for (size_t i = 0; i < tpl->n; i++) {
                const char *t = tpl->v[i];
                int r = 0;
                if (strcmp(t, "{options}") == 0) {
                        for (char *const *o = options; o && *o && r == 0; o++)
                                r = strv_push(out, *o);
                } else if (strcmp(t, "{entry}") == 0) {
                        r = strv_push(out, entry);
                } else if (strcmp(t, "{sources}") == 0) {
                        size_t added = 0;
                        for (size_t f = 0; f < nfiles && r == 0; f++)
                                if (has_source_ext(tc, files[f])) {
                                        r = strv_push(out, files[f]);
                                        added++;
                                }
                        if (r == 0 && added == 0)
                                return rc_err_set(err, EINVAL,
                                                  "no source file for %s (expected a name ending "
                                                  "in %s)",
                                                  tc->name,
                                                  tc->source_ext.n ? tc->source_ext.v[0] : "?");
                } else {
                        r = strv_push(out, t);
                }
                if (r < 0)
                        return rc_err_set(err, ENOMEM, "out of memory");
        }
        for (; args && *args; args++)
                if (strv_push(out, *args) < 0)
                        return rc_err_set(err, ENOMEM, "out of memory");
        return 0;
}

const char *toolchain_env_get(const toolchain_t *tc, const char *key)
{
        size_t kl = strlen(key);
        for (size_t i = 0; i < tc->env.n; i++)
                if (strncmp(tc->env.v[i], key, kl) == 0 && tc->env.v[i][kl] == '=')
                        return tc->env.v[i] + kl + 1;
        return NULL;
}

static bool is_digit(char c)
{
        return c >= '0' && c <= '9';
}

int toolchain_version_cmp(const char *a, const char *b)
{
        while (*a || *b) {
                if (is_digit(*a) && is_digit(*b)) {
                        while (*a == '0' && is_digit(a[1]))
                                a++;
                        while (*b == '0' && is_digit(b[1]))
                                b++;
                        size_t na = 0, nb = 0;
                        while (is_digit(a[na]))
                                na++;
                        while (is_digit(b[nb]))
                                nb++;
                        if (na != nb)
                                return na < nb ? -1 : 1;
                        int c = strncmp(a, b, na);
                        if (c)
                                return c < 0 ? -1 : 1;
                        a += na;
                        b += nb;
                } else if (*a != *b) { /* the end of a string sorts first: "1.2" < "1.2.1" */
                        return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
                } else {
                        a++;
                        b++;
                }
        }
        return 0;
}

bool toolchain_version_matches(const char *version, const char *want)
{
        if (!want || !*want || strcmp(want, "*") == 0 || strcmp(want, "x") == 0 ||
            strcmp(want, "X") == 0 || strcmp(want, "latest") == 0)
                return true;
        size_t n = strlen(want);
        if (n > 2 && want[n - 2] == '.' &&
            (want[n - 1] == 'x' || want[n - 1] == 'X' || want[n - 1] == '*'))
                n -= 2;
        return strncmp(version, want, n) == 0 && (version[n] == '\0' || version[n] == '.');
}
