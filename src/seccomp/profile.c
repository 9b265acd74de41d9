#include "seccomp/profile.h"

#include <ctype.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"

#define PROFILE_FILE_MAX (1024 * 1024)
#define SP_MAX_ARGS      6 /* libseccomp takes at most six comparisons per rule */
#define SP_MAX_ARCHES    4
/* Largest integer a JSON number (a double in cJSON) holds exactly; larger values must be
 * given as strings ("0xffffffffffffffff"). */
#define SP_EXACT_MAX 9007199254740992.0

/* ---- the parsed profile: plain structs; names point into the cJSON tree ---- */

typedef struct sp_arg {
        unsigned index;
        enum scmp_compare op;
        uint64_t value;
        uint64_t value_two;
} sp_arg_t;

typedef struct sp_rule {
        size_t entry; /* index in "syscalls", for messages */
        const char **names;
        size_t n_names;
        uint32_t action;
        sp_arg_t args[SP_MAX_ARGS];
        size_t n_args;
} sp_rule_t;

typedef struct sp_profile {
        uint32_t default_action;
        uint32_t arches[SP_MAX_ARCHES]; /* added to the native one */
        size_t n_arches;
        sp_rule_t *rules; /* only the entries that apply on this machine */
        size_t n_rules;
} sp_profile_t;

static void sp_profile_free(sp_profile_t *p)
{
        for (size_t i = 0; i < p->n_rules; i++)
                free(p->rules[i].names);
        free(p->rules);
        p->rules = NULL;
        p->n_rules = 0;
}

static void cleanup_scmp_ctxp(scmp_filter_ctx *ctx)
{
        if (*ctx)
                seccomp_release(*ctx);
}

/* What a parse step needs besides the JSON: where we are, for messages, and the host. */
typedef struct sp_parse {
        const char *origin;
        rc_err_t *err;
        uint32_t native;
        unsigned kernel[3];
} sp_parse_t;

static const struct {
        const char *name;
        uint32_t action;
        bool takes_ret; /* errnoRet is the errno (ERRNO) or the tracer's message (TRACE) */
} sp_actions[] = {
    {"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW, false},
    {"SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0), true},
    {"SCMP_ACT_KILL", SCMP_ACT_KILL, false},
    {"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD, false},
    {"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS, false},
    {"SCMP_ACT_TRAP", SCMP_ACT_TRAP, false},
    {"SCMP_ACT_LOG", SCMP_ACT_LOG, false},
    {"SCMP_ACT_TRACE", SCMP_ACT_TRACE(0), true},
};

static const struct {
        const char *name;
        enum scmp_compare op;
} sp_ops[] = {
    {"SCMP_CMP_NE", SCMP_CMP_NE},
    {"SCMP_CMP_LT", SCMP_CMP_LT},
    {"SCMP_CMP_LE", SCMP_CMP_LE},
    {"SCMP_CMP_EQ", SCMP_CMP_EQ},
    {"SCMP_CMP_GE", SCMP_CMP_GE},
    {"SCMP_CMP_GT", SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
};

/* Go's names for architectures, as Docker's "includes"/"excludes" use them. */
static const struct {
        const char *name;
        uint32_t arch;
} sp_go_arches[] = {
    {"amd64", SCMP_ARCH_X86_64},    {"386", SCMP_ARCH_X86},         {"arm64", SCMP_ARCH_AARCH64},
    {"arm", SCMP_ARCH_ARM},         {"ppc64le", SCMP_ARCH_PPC64LE}, {"s390x", SCMP_ARCH_S390X},
    {"riscv64", SCMP_ARCH_RISCV64},
};

static int check_keys(const cJSON *obj, const char *const *known, size_t n, const char *where,
                      const sp_parse_t *ps)
{
        const cJSON *it;
        cJSON_ArrayForEach(it, obj)
        {
                size_t i;
                for (i = 0; i < n; i++)
                        if (strcmp(it->string, known[i]) == 0)
                                break;
                if (i == n)
                        return rc_err_set(ps->err, EINVAL, "%s: %s: unknown key \"%s\"", ps->origin,
                                          where, it->string);
        }
        return 0;
}

/* A non-negative integer: a JSON number that a double holds exactly, or a string in C
 * notation (decimal, 0x hex, 0 octal) for full 64-bit values. */
static int get_u64(const cJSON *it, const char *key, uint64_t max, uint64_t *out, const char *where,
                   const sp_parse_t *ps)
{
        if (cJSON_IsNumber(it)) {
                double d = it->valuedouble;
                if (d >= 0 && d <= SP_EXACT_MAX && d == (double)(uint64_t)d && (uint64_t)d <= max) {
                        *out = (uint64_t)d;
                        return 0;
                }
        } else if (cJSON_IsString(it) && max == UINT64_MAX) {
                const char *s = it->valuestring;
                char *end = NULL;
                errno = 0;
                unsigned long long v = strtoull(s, &end, 0);
                if (*s && !strchr(s, '-') && !isspace((unsigned char)*s) && end && !*end &&
                    errno == 0) {
                        *out = v;
                        return 0;
                }
        }
        return rc_err_set(ps->err, EINVAL, "%s: %s: \"%s\" must be an integer from 0 to %llu",
                          ps->origin, where, key, (unsigned long long)max);
}

static int get_string(const cJSON *obj, const char *key, bool required, const char **out,
                      const char *where, const sp_parse_t *ps)
{
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
        if (!it) {
                if (required)
                        return rc_err_set(ps->err, EINVAL, "%s: %s: missing \"%s\"", ps->origin,
                                          where, key);
                return 0;
        }
        if (!cJSON_IsString(it))
                return rc_err_set(ps->err, EINVAL, "%s: %s: \"%s\" must be a string", ps->origin,
                                  where, key);
        *out = it->valuestring;
        return 0;
}

/* An optional array of strings; *out is NULL when the key is absent. */
static int get_str_array(const cJSON *obj, const char *key, const cJSON **out, const char *where,
                         const sp_parse_t *ps)
{
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
        *out = NULL;
        if (!it)
                return 0;
        bool ok = cJSON_IsArray(it);
        const cJSON *el;
        cJSON_ArrayForEach(el, it)
        {
                if (!cJSON_IsString(el))
                        ok = false;
        }
        if (!ok)
                return rc_err_set(ps->err, EINVAL, "%s: %s: \"%s\" must be an array of strings",
                                  ps->origin, where, key);
        *out = it;
        return 0;
}

static int get_object(const cJSON *obj, const char *key, const cJSON **out, const char *where,
                      const sp_parse_t *ps)
{
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
        *out = NULL;
        if (!it)
                return 0;
        if (!cJSON_IsObject(it))
                return rc_err_set(ps->err, EINVAL, "%s: %s: \"%s\" must be an object", ps->origin,
                                  where, key);
        *out = it;
        return 0;
}

static int parse_action(const char *name, const cJSON *ret, const char *ret_key, uint32_t *out,
                        const char *where, const sp_parse_t *ps)
{
        size_t i;
        for (i = 0; i < ARRAY_SIZE(sp_actions); i++)
                if (strcmp(name, sp_actions[i].name) == 0)
                        break;
        if (i == ARRAY_SIZE(sp_actions))
                return rc_err_set(ps->err, EINVAL, "%s: %s: unknown action \"%s\"", ps->origin,
                                  where, name);
        *out = sp_actions[i].action;
        if (!sp_actions[i].takes_ret) {
                if (ret)
                        return rc_err_set(ps->err, EINVAL,
                                          "%s: %s: \"%s\" is only valid with "
                                          "SCMP_ACT_ERRNO or SCMP_ACT_TRACE",
                                          ps->origin, where, ret_key);
                return 0;
        }
        /* Like runc: ERRNO without a number is EPERM; TRACE without one passes 0. */
        uint64_t v = strcmp(name, "SCMP_ACT_ERRNO") == 0 ? EPERM : 0;
        /* The kernel caps SECCOMP_RET_DATA errnos at MAX_ERRNO. */
        if (ret && get_u64(ret, ret_key, 4095, &v, where, ps) < 0)
                return -EINVAL;
        *out = *out == SCMP_ACT_TRACE(0) ? SCMP_ACT_TRACE((uint16_t)v) : SCMP_ACT_ERRNO(v);
        return 0;
}

/* "SCMP_ARCH_X86_64" (profile style), "x86_64" (libseccomp) or "amd64" (Go, as Docker's
 * includes/excludes use); 0 when unknown. */
static uint32_t arch_token(const char *name)
{
        char buf[32];
        if (strncmp(name, "SCMP_ARCH_", 10) == 0)
                name += 10;
        size_t n = strlen(name);
        if (n >= sizeof(buf))
                return 0;
        for (size_t i = 0; i <= n; i++)
                buf[i] = (char)tolower((unsigned char)name[i]);
        uint32_t tok = seccomp_arch_resolve_name(buf);
        if (tok)
                return tok;
        for (size_t i = 0; i < ARRAY_SIZE(sp_go_arches); i++)
                if (strcmp(buf, sp_go_arches[i].name) == 0)
                        return sp_go_arches[i].arch;
        return 0;
}

/* Architectures newer than libseccomp 2.5 that profiles written for Docker list: they are
 * not this machine's, so they are ignored rather than rejected. */
static bool arch_newer(const char *name)
{
        static const char *const newer[] = {"SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K",
                                            "SCMP_ARCH_SH", "SCMP_ARCH_SHEB"};
        for (size_t i = 0; i < ARRAY_SIZE(newer); i++)
                if (strcmp(name, newer[i]) == 0)
                        return true;
        return false;
}

/* Can a process on this machine make system calls with this ABI? Other architectures in a
 * profile are for other machines and are ignored. */
static bool arch_runs_here(uint32_t arch, uint32_t native)
{
        if (arch == native)
                return true;
        if (native == SCMP_ARCH_X86_64)
                return arch == SCMP_ARCH_X86 || arch == SCMP_ARCH_X32;
        if (native == SCMP_ARCH_AARCH64)
                return arch == SCMP_ARCH_ARM;
        return false;
}

static int add_arch(sp_profile_t *p, const char *name, const char *where, const sp_parse_t *ps)
{
        uint32_t tok = arch_token(name);
        if (!tok && arch_newer(name))
                return 0;
        if (!tok)
                return rc_err_set(ps->err, EINVAL, "%s: %s: unknown architecture \"%s\"",
                                  ps->origin, where, name);
        if (tok == ps->native || !arch_runs_here(tok, ps->native))
                return 0;
        for (size_t i = 0; i < p->n_arches; i++)
                if (p->arches[i] == tok)
                        return 0;
        if (p->n_arches == SP_MAX_ARCHES)
                return rc_err_set(ps->err, EINVAL, "%s: %s: too many architectures", ps->origin,
                                  where);
        p->arches[p->n_arches++] = tok;
        return 0;
}

static int parse_arches(const cJSON *root, sp_profile_t *p, const sp_parse_t *ps)
{
        const cJSON *list, *el;
        int r = get_str_array(root, "architectures", &list, "architectures", ps);
        if (r < 0)
                return r;
        cJSON_ArrayForEach(el, list)
        {
                if ((r = add_arch(p, el->valuestring, "architectures", ps)) < 0)
                        return r;
        }

        const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "archMap");
        if (!map)
                return 0;
        if (!cJSON_IsArray(map))
                return rc_err_set(ps->err, EINVAL, "%s: \"archMap\" must be an array", ps->origin);
        static const char *const keys[] = {"architecture", "subArchitectures"};
        size_t i = 0;
        cJSON_ArrayForEach(el, map)
        {
                char where[48];
                snprintf(where, sizeof(where), "archMap[%zu]", i++);
                const char *arch = NULL;
                const cJSON *subs, *sub;
                if (!cJSON_IsObject(el))
                        return rc_err_set(ps->err, EINVAL, "%s: %s: must be an object", ps->origin,
                                          where);
                if ((r = check_keys(el, keys, ARRAY_SIZE(keys), where, ps)) < 0 ||
                    (r = get_string(el, "architecture", true, &arch, where, ps)) < 0 ||
                    (r = get_str_array(el, "subArchitectures", &subs, where, ps)) < 0)
                        return r;
                uint32_t tok = arch_token(arch);
                if (!tok && arch_newer(arch))
                        continue;
                if (!tok)
                        return rc_err_set(ps->err, EINVAL, "%s: %s: unknown architecture \"%s\"",
                                          ps->origin, where, arch);
                /* Only the entry for this machine counts: its sub-architectures are the
                 * other ABIs a process here can use. */
                if (tok != ps->native)
                        continue;
                cJSON_ArrayForEach(sub, subs)
                {
                        if ((r = add_arch(p, sub->valuestring, where, ps)) < 0)
                                return r;
                }
        }
        return 0;
}

static int parse_kernel_version(const char *s, unsigned v[3])
{
        v[0] = v[1] = v[2] = 0;
        for (int i = 0; i < 3; i++) {
                if (!isdigit((unsigned char)*s))
                        return i >= 2 ? 0 : -EINVAL; /* "4.8" is enough */
                char *end;
                unsigned long n = strtoul(s, &end, 10);
                v[i] = n > 100000 ? 100000 : (unsigned)n;
                s = end;
                if (*s != '.')
                        return i >= 1 ? 0 : -EINVAL;
                s++;
        }
        return 0;
}

static int kernel_cmp(const unsigned a[3], const unsigned b[3])
{
        for (int i = 0; i < 3; i++)
                if (a[i] != b[i])
                        return a[i] < b[i] ? -1 : 1;
        return 0;
}

/* One "includes" or "excludes" object. *match: does the filter hold on this machine? For
 * includes every given condition must hold; for excludes any one is enough. The sandbox has
 * no capabilities, so "caps" never holds. */
static int eval_filter(const cJSON *f, bool is_includes, bool *match, const char *where,
                       const sp_parse_t *ps)
{
        static const char *const keys[] = {"caps", "arches", "minKernel"};
        const char *min_kernel = NULL;
        const cJSON *caps, *arches, *el;
        char at[64];
        snprintf(at, sizeof(at), "%s.%s", where, is_includes ? "includes" : "excludes");
        int r;
        if ((r = check_keys(f, keys, ARRAY_SIZE(keys), at, ps)) < 0 ||
            (r = get_str_array(f, "caps", &caps, at, ps)) < 0 ||
            (r = get_str_array(f, "arches", &arches, at, ps)) < 0 ||
            (r = get_string(f, "minKernel", false, &min_kernel, at, ps)) < 0)
                return r;

        bool have_caps = caps && cJSON_GetArraySize(caps) > 0;
        bool have_arches = arches && cJSON_GetArraySize(arches) > 0;
        bool arch_ok = false;
        cJSON_ArrayForEach(el, arches)
        {
                if (arch_token(el->valuestring) == ps->native)
                        arch_ok = true;
        }
        bool kernel_ok = false;
        if (min_kernel) {
                unsigned want[3];
                if (parse_kernel_version(min_kernel, want) < 0)
                        return rc_err_set(ps->err, EINVAL, "%s: %s: bad minKernel \"%s\"",
                                          ps->origin, at, min_kernel);
                kernel_ok = kernel_cmp(ps->kernel, want) >= 0;
        }
        if (is_includes)
                *match = !have_caps && (!have_arches || arch_ok) && (!min_kernel || kernel_ok);
        else
                *match = (have_arches && arch_ok) || (min_kernel && kernel_ok);
        return 0;
}

static int parse_arg(const cJSON *a, sp_arg_t *out, const char *where, const sp_parse_t *ps)
{
        static const char *const keys[] = {"index", "value", "valueTwo", "op"};
        const char *op = NULL;
        uint64_t index = 0;
        int r;
        if (!cJSON_IsObject(a))
                return rc_err_set(ps->err, EINVAL, "%s: %s: must be an object", ps->origin, where);
        if ((r = check_keys(a, keys, ARRAY_SIZE(keys), where, ps)) < 0 ||
            (r = get_string(a, "op", true, &op, where, ps)) < 0)
                return r;
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(a, "index");
        if (!it)
                return rc_err_set(ps->err, EINVAL, "%s: %s: missing \"index\"", ps->origin, where);
        if ((r = get_u64(it, "index", 5, &index, where, ps)) < 0)
                return r;
        out->index = (unsigned)index;
        it = cJSON_GetObjectItemCaseSensitive(a, "value");
        if (!it)
                return rc_err_set(ps->err, EINVAL, "%s: %s: missing \"value\"", ps->origin, where);
        if ((r = get_u64(it, "value", UINT64_MAX, &out->value, where, ps)) < 0)
                return r;
        out->value_two = 0;
        it = cJSON_GetObjectItemCaseSensitive(a, "valueTwo");
        if (it && (r = get_u64(it, "valueTwo", UINT64_MAX, &out->value_two, where, ps)) < 0)
                return r;
        size_t i;
        for (i = 0; i < ARRAY_SIZE(sp_ops); i++)
                if (strcmp(op, sp_ops[i].name) == 0)
                        break;
        if (i == ARRAY_SIZE(sp_ops))
                return rc_err_set(ps->err, EINVAL, "%s: %s: unknown op \"%s\"", ps->origin, where,
                                  op);
        out->op = sp_ops[i].op;
        return 0;
}

static int collect_name(sp_rule_t *rule, const char *name, const char *where, const sp_parse_t *ps)
{
        /* libseccomp resolves a name it knows for any architecture (to a negative
         * pseudo-number where it does not exist); one it does not know at all is a typo. */
        if (!*name || seccomp_syscall_resolve_name(name) == __NR_SCMP_ERROR)
                return rc_err_set(ps->err, EINVAL, "%s: %s: unknown system call \"%s\"", ps->origin,
                                  where, name);
        rule->names[rule->n_names++] = name;
        return 0;
}

/* Parse syscalls[idx]. *applies is false for an entry whose includes/excludes rule it out
 * here; it is still checked completely. */
static int parse_rule(const cJSON *e, size_t idx, sp_rule_t *rule, bool *applies,
                      const sp_parse_t *ps)
{
        static const char *const keys[] = {"names", "name",    "action",   "errnoRet",
                                           "args",  "comment", "includes", "excludes"};
        char where[48];
        snprintf(where, sizeof(where), "syscalls[%zu]", idx);
        rule->entry = idx;
        if (!cJSON_IsObject(e))
                return rc_err_set(ps->err, EINVAL, "%s: %s: must be an object", ps->origin, where);
        const char *action = NULL, *single = NULL;
        const cJSON *names, *inc, *exc, *el;
        int r;
        if ((r = check_keys(e, keys, ARRAY_SIZE(keys), where, ps)) < 0 ||
            (r = get_str_array(e, "names", &names, where, ps)) < 0 ||
            (r = get_string(e, "name", false, &single, where, ps)) < 0 ||
            (r = get_string(e, "action", true, &action, where, ps)) < 0 ||
            (r = get_object(e, "includes", &inc, where, ps)) < 0 ||
            (r = get_object(e, "excludes", &exc, where, ps)) < 0)
                return r;
        if ((r = parse_action(action, cJSON_GetObjectItemCaseSensitive(e, "errnoRet"), "errnoRet",
                              &rule->action, where, ps)) < 0)
                return r;

        size_t n = (names ? (size_t)cJSON_GetArraySize(names) : 0) + (single ? 1 : 0);
        if (n == 0)
                return rc_err_set(ps->err, EINVAL, "%s: %s: no system call names", ps->origin,
                                  where);
        rule->names = calloc(n, sizeof(*rule->names));
        if (!rule->names)
                return rc_err_set(ps->err, ENOMEM, "out of memory");
        if (single && (r = collect_name(rule, single, where, ps)) < 0)
                return r;
        cJSON_ArrayForEach(el, names)
        {
                if ((r = collect_name(rule, el->valuestring, where, ps)) < 0)
                        return r;
        }

        const cJSON *args = cJSON_GetObjectItemCaseSensitive(e, "args");
        if (args && !cJSON_IsNull(args)) {
                if (!cJSON_IsArray(args))
                        return rc_err_set(ps->err, EINVAL, "%s: %s: \"args\" must be an array",
                                          ps->origin, where);
                if (cJSON_GetArraySize(args) > SP_MAX_ARGS)
                        return rc_err_set(ps->err, EINVAL,
                                          "%s: %s: more than %d argument comparisons", ps->origin,
                                          where, SP_MAX_ARGS);
                cJSON_ArrayForEach(el, args)
                {
                        char aw[64];
                        snprintf(aw, sizeof(aw), "%s.args[%zu]", where, rule->n_args);
                        if ((r = parse_arg(el, &rule->args[rule->n_args], aw, ps)) < 0)
                                return r;
                        rule->n_args++;
                }
        }

        bool inc_ok = true, exc_hit = false;
        if (inc && (r = eval_filter(inc, true, &inc_ok, where, ps)) < 0)
                return r;
        if (exc && (r = eval_filter(exc, false, &exc_hit, where, ps)) < 0)
                return r;
        *applies = inc_ok && !exc_hit;
        return 0;
}

static int parse_profile(const cJSON *root, sp_profile_t *p, const sp_parse_t *ps)
{
        static const char *const keys[] = {"defaultAction", "defaultErrnoRet", "architectures",
                                           "archMap",       "syscalls",        "comment"};
        const char *def = NULL;
        int r;
        if (!cJSON_IsObject(root))
                return rc_err_set(ps->err, EINVAL, "%s: must be a JSON object", ps->origin);
        if ((r = check_keys(root, keys, ARRAY_SIZE(keys), "profile", ps)) < 0 ||
            (r = get_string(root, "defaultAction", true, &def, "profile", ps)) < 0 ||
            (r = parse_action(def, cJSON_GetObjectItemCaseSensitive(root, "defaultErrnoRet"),
                              "defaultErrnoRet", &p->default_action, "defaultAction", ps)) < 0 ||
            (r = parse_arches(root, p, ps)) < 0)
                return r;

        const cJSON *calls = cJSON_GetObjectItemCaseSensitive(root, "syscalls");
        if (!calls || cJSON_IsNull(calls))
                return 0;
        if (!cJSON_IsArray(calls))
                return rc_err_set(ps->err, EINVAL, "%s: \"syscalls\" must be an array", ps->origin);
        size_t n = (size_t)cJSON_GetArraySize(calls), idx = 0;
        p->rules = calloc(n ? n : 1, sizeof(*p->rules));
        if (!p->rules)
                return rc_err_set(ps->err, ENOMEM, "out of memory");
        const cJSON *e;
        cJSON_ArrayForEach(e, calls)
        {
                sp_rule_t *rule = &p->rules[p->n_rules];
                bool applies = false;
                r = parse_rule(e, idx++, rule, &applies, ps);
                /* Keep it counted until the end so that sp_profile_free sees its names. */
                p->n_rules++;
                if (r < 0)
                        return r;
                if (!applies) {
                        free(rule->names);
                        memset(rule, 0, sizeof(*rule));
                        p->n_rules--;
                }
        }
        return 0;
}

/* ---- compiling with libseccomp ---- */

/* Does any architecture of the filter have this system call? */
static bool syscall_exists(const sp_profile_t *p, const char *name)
{
        if (seccomp_syscall_resolve_name(name) >= 0)
                return true;
        for (size_t i = 0; i < p->n_arches; i++)
                if (seccomp_syscall_resolve_name_arch(p->arches[i], name) >= 0)
                        return true;
        return false;
}

static int add_rule(scmp_filter_ctx ctx, const sp_profile_t *p, const sp_rule_t *rule,
                    const char *origin, rc_err_t *err)
{
        struct scmp_arg_cmp cmp[SP_MAX_ARGS];
        bool repeated = false;
        for (size_t i = 0; i < rule->n_args; i++) {
                cmp[i] = (struct scmp_arg_cmp){.arg = rule->args[i].index,
                                               .op = rule->args[i].op,
                                               .datum_a = rule->args[i].value,
                                               .datum_b = rule->args[i].value_two};
                for (size_t j = 0; j < i; j++)
                        repeated = repeated || rule->args[j].index == rule->args[i].index;
        }
        for (size_t n = 0; n < rule->n_names; n++) {
                const char *name = rule->names[n];
                /* Arch-specific calls (e.g. socketcall on a pure x86_64 filter) are skipped. */
                if (!syscall_exists(p, name))
                        continue;
                /* The native number, or a pseudo-number that libseccomp maps for the other
                 * architectures of the filter. */
                int nr = seccomp_syscall_resolve_name(name);
                /* libseccomp refuses two comparisons of one argument in a rule. As runc does,
                 * such an entry becomes one rule per comparison: they are ORed. */
                size_t rounds = repeated ? rule->n_args : 1;
                for (size_t k = 0; k < rounds; k++) {
                        int r = repeated ? seccomp_rule_add_array(ctx, rule->action, nr, 1, &cmp[k])
                                         : seccomp_rule_add_array(ctx, rule->action, nr,
                                                                  (unsigned)rule->n_args, cmp);
                        /* -EACCES: the rule's action is the default action; it is redundant. */
                        if (r == -EACCES)
                                continue;
                        if (r == -EEXIST)
                                return rc_err_set(err, EINVAL,
                                                  "%s: syscalls[%zu]: rule for \"%s\" conflicts "
                                                  "with an earlier one",
                                                  origin, rule->entry, name);
                        if (r < 0)
                                return rc_err_sys(err, r, "%s: syscalls[%zu]: adding \"%s\"",
                                                  origin, rule->entry, name);
                }
        }
        return 0;
}

static int export_bpf(scmp_filter_ctx ctx, const char *origin, seccomp_bpf_t *out, rc_err_t *err)
{
        /* libseccomp 2.5 exports only to a file descriptor. */
        _cleanup_close_ int fd = memfd_create("runcell-seccomp", MFD_CLOEXEC);
        if (fd < 0)
                return rc_err_sys(err, errno, "%s: memfd_create", origin);
        int r = seccomp_export_bpf(ctx, fd);
        if (r < 0)
                return rc_err_sys(err, r, "%s: seccomp_export_bpf", origin);
        off_t size = lseek(fd, 0, SEEK_END);
        if (size < 0)
                return rc_err_sys(err, errno, "%s: lseek", origin);
        if (size == 0 || size % (off_t)sizeof(struct sock_filter) != 0)
                return rc_err_set(err, EIO, "%s: libseccomp exported %lld bytes", origin,
                                  (long long)size);
        size_t count = (size_t)size / sizeof(struct sock_filter);
        if (count > BPF_MAXINSNS)
                return rc_err_set(err, E2BIG,
                                  "%s: filter has %zu instructions, the kernel takes at most %d",
                                  origin, count, BPF_MAXINSNS);
        _cleanup_free_ struct sock_filter *insns = malloc((size_t)size);
        if (!insns)
                return rc_err_set(err, ENOMEM, "out of memory");
        for (size_t got = 0; got < (size_t)size;) {
                ssize_t n = pread(fd, (char *)insns + got, (size_t)size - got, (off_t)got);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return rc_err_sys(err, n < 0 ? errno : EIO, "%s: reading the filter",
                                          origin);
                got += (size_t)n;
        }
        out->insns = steal_pointer(&insns);
        out->len = (unsigned short)count;
        return 0;
}

static int compile(const sp_profile_t *p, const char *origin, seccomp_bpf_t *out, rc_err_t *err)
{
        __attribute__((cleanup(cleanup_scmp_ctxp))) scmp_filter_ctx ctx =
            seccomp_init(p->default_action);
        if (!ctx)
                return rc_err_set(err, EINVAL, "%s: seccomp_init failed", origin);
        int r;
        /* runcell sets no_new_privs itself before installing the filter. */
        if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0)) < 0)
                return rc_err_sys(err, r, "%s: SCMP_FLTATR_CTL_NNP", origin);
        /* A system call of an ABI the filter does not know (int $0x80 on x86_64 unless x86
         * is listed) kills the process instead of failing: such calls are never legitimate
         * here and would bypass every rule. libseccomp also routes x32 numbers (bit 30) of
         * an x86_64-only filter to this action. */
        if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) < 0)
                return rc_err_sys(err, r, "%s: SCMP_FLTATR_ACT_BADARCH", origin);
        /* A binary search over the system call numbers instead of a linear chain keeps a
         * long allowlist cheap on every call. */
        if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2)) < 0)
                return rc_err_sys(err, r, "%s: SCMP_FLTATR_CTL_OPTIMIZE", origin);
        for (size_t i = 0; i < p->n_arches; i++)
                if ((r = seccomp_arch_add(ctx, p->arches[i])) < 0 && r != -EEXIST)
                        return rc_err_sys(err, r, "%s: adding architecture %#x", origin,
                                          p->arches[i]);
        for (size_t i = 0; i < p->n_rules; i++)
                if ((r = add_rule(ctx, p, &p->rules[i], origin, err)) < 0)
                        return r;
        return export_bpf(ctx, origin, out, err);
}

static void host_kernel(unsigned v[3])
{
        struct utsname u;
        if (uname(&u) < 0 || parse_kernel_version(u.release, v) < 0)
                v[0] = v[1] = v[2] = 0;
}

int seccomp_profile_compile(const char *json, size_t len, const char *origin, seccomp_bpf_t *out,
                            rc_err_t *err)
{
        const char *end = NULL;
        _cleanup_cjson_ cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
        if (!root)
                return rc_err_set(err, EINVAL, "%s: invalid JSON near byte %td", origin,
                                  end ? end - json : 0);
        sp_parse_t ps = {.origin = origin, .err = err, .native = seccomp_arch_native()};
        host_kernel(ps.kernel);
        sp_profile_t p = {0};
        seccomp_bpf_t b = {0};
        int r = parse_profile(root, &p, &ps);
        if (r == 0)
                r = compile(&p, origin, &b, err);
        sp_profile_free(&p);
        if (r == 0 && !(b.name = strdup(origin)))
                r = rc_err_set(err, ENOMEM, "out of memory");
        if (r < 0) {
                seccomp_bpf_free(&b);
                return r;
        }
        *out = b;
        return 0;
}

char *seccomp_profile_name(const char *path)
{
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        size_t blen = strlen(base);
        if (blen > 5 && strcmp(base + blen - 5, ".json") == 0)
                blen -= 5;
        return strndup(base, blen);
}

int seccomp_profile_load_file(const char *path, seccomp_bpf_t *out, rc_err_t *err)
{
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r = fs_read_file(path, PROFILE_FILE_MAX, &text, &len, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *name = seccomp_profile_name(path);
        if (!name)
                return rc_err_set(err, ENOMEM, "out of memory");
        seccomp_bpf_t b = {0};
        if ((r = seccomp_profile_compile(text, len, path, &b, err)) < 0)
                return r;
        free(b.name);
        b.name = steal_pointer(&name);
        *out = b;
        return 0;
}

void seccomp_bpf_free(seccomp_bpf_t *b)
{
        if (!b)
                return;
        free(b->insns);
        free(b->name);
        b->insns = NULL;
        b->name = NULL;
        b->len = 0;
}

int seccomp_bpf_install(const seccomp_bpf_t *b)
{
        if (!b || !b->insns || b->len == 0)
                return -EINVAL;
        struct sock_fprog prog = {.len = b->len, .filter = b->insns};
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
                return -errno;
        return 0;
}
