/*
 * policy_test_util.h - the fixture shared by the policy_config tests
 * (header only: tests/CMakeLists.txt builds each *_test.c on its own): a
 * mkdtemp() directory per test with the paths of a config file, a list
 * file and a printed copy; "{c}" and "{l}" in texts stand for the config
 * and list file paths, so expected errors assert the exact "FILE:LINE: ".
 *
 * Define POLICY_TEST_NAME (the temporary directory's prefix) before
 * including; include after cmocka.h, log.h and policy_config.h.
 */
#ifndef POLICY_TEST_UTIL_H
#define POLICY_TEST_UTIL_H

#ifndef POLICY_TEST_NAME
#error "define POLICY_TEST_NAME before including policy_test_util.h"
#endif

struct fx {
    char    dir[64];
    char   *conf;                       /* dir/domsec.conf */
    char   *list;                       /* dir/secure.domains */
    char   *out;                        /* dir/printed.conf */
};

/* setup - a fresh temporary directory */

static int setup(void **state)
{
    struct fx *fx = xcalloc(1, sizeof(*fx));

    snprintf(fx->dir, sizeof(fx->dir), "/tmp/%s.XXXXXX", POLICY_TEST_NAME);
    if (mkdtemp(fx->dir) == NULL)
        return -1;
    fx->conf = xasprintf("%s/domsec.conf", fx->dir);
    fx->list = xasprintf("%s/secure.domains", fx->dir);
    fx->out = xasprintf("%s/printed.conf", fx->dir);
    *state = fx;
    return 0;
}

/* teardown - remove the directory and what the tests wrote */

static int teardown(void **state)
{
    struct fx *fx = *state;

    unlink(fx->conf);
    unlink(fx->list);
    unlink(fx->out);
    rmdir(fx->dir);
    free(fx->conf);
    free(fx->list);
    free(fx->out);
    free(fx);
    return 0;
}

/* expand - replace {c} and {l} by the fixture's paths */

static char *expand(const struct fx *fx, const char *s)
{
    char *out = xstrdup(""), *tmp;

    while (*s) {
        const char *add = NULL;
        size_t n = 1;

        if (strncmp(s, "{c}", 3) == 0)
            add = fx->conf, n = 3;
        else if (strncmp(s, "{l}", 3) == 0)
            add = fx->list, n = 3;
        tmp = add ? xasprintf("%s%s", out, add) : xasprintf("%s%c", out, *s);
        free(out);
        out = tmp;
        s += n;
    }
    return out;
}

/* write_file - create path with exactly len bytes of text */

static void write_file(const char *path, const char *text, size_t len)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

/* write_text - write an expanded text file */

static void write_text(const struct fx *fx, const char *path, const char *text)
{
    char *t = expand(fx, text);

    write_file(path, t, strlen(t));
    free(t);
}

/* assert_errors - errs holds exactly the expanded expected messages, in order */

static void assert_errors(const struct fx *fx, const struct cfg_errors *errs,
                          const char *const *want)
{
    size_t n = 0;

    while (want[n])
        n++;
    if (errs->n != n)
        for (size_t i = 0; i < errs->n; i++)
            print_message("  got: %s\n", errs->v[i]);
    assert_int_equal(errs->n, n);
    for (size_t i = 0; i < n; i++) {
        char *w = expand(fx, want[i]);

        assert_string_equal(errs->v[i], w);
        free(w);
    }
}

/* load_ok - load the config file, which must have no errors */

__attribute__((unused)) static struct config *load_ok(const struct fx *fx, const char *path)
{
    struct cfg_errors errs = {NULL, 0};
    struct config *cfg = policy_config_load(path, &errs);

    assert_errors(fx, &errs, (const char *const[]){NULL});
    assert_non_null(cfg);
    return cfg;
}

/* print_to_string - policy_config_print into a new string */

__attribute__((unused)) static char *print_to_string(const struct config *cfg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);

    assert_non_null(fp);
    policy_config_print(cfg, fp);
    assert_int_equal(fclose(fp), 0);
    return buf;                         /* open_memstream: release with free() */
}

#endif
