/*
 * fuzz_config.c - libFuzzer target: the configuration parser
 * (policy/policy_config.c with inih, policy_table.c, policy_value.c).
 *
 * The input is a domsec.conf: it is loaded from a memfd (by its
 * /proc/self/fd path, as from a file), and a configuration that loads is
 * printed and asked where its sections and keys were written, as
 * `domsecd --check` and the audit do.  A refused one must say why.  The
 * value parsers are also fed the input directly (as one value).  The
 * working directory is an empty temporary directory, so a *_file key with
 * a relative path finds nothing; it is removed at exit (not after a crash:
 * libFuzzer ends then with _Exit).  Before the first input a known-good
 * configuration must load through the same memfd path, or the target
 * aborts: without /proc every input would be "refused with a reason".
 * Dictionary: fuzz/config.dict.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "policy_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static int fuzz_fd = -1;
static char fuzz_path[64];
static char fuzz_dir[] = "/tmp/fuzz-config.XXXXXX";
static FILE *fuzz_null;

/* load - the configuration of these bytes, through the memfd */

static struct config *load(const void *data, size_t size, struct cfg_errors *errs)
{
    if (ftruncate(fuzz_fd, 0) < 0 || pwrite(fuzz_fd, data, size, 0) != (ssize_t)size)
        abort();
    return policy_config_load(fuzz_path, errs);
}

/* cleanup - at exit: the working directory */

static void cleanup(void)
{
    rmdir(fuzz_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char good[] = "[transport]\naccepted_domains = a.test\n"
        "queue_directory = /nonexistent/q\n[logs]\ndirectory = /nonexistent/l\n"
        "[receive r]\nbindings = 127.0.0.1:10025\nfqdn = mx.a.test\n";
    struct cfg_errors errs = { NULL, 0 };
    struct config *cfg;

    log_set_level(LOG_FATAL);
    if ((fuzz_fd = memfd_create("domsec.conf", 0)) < 0
        || (fuzz_null = fopen("/dev/null", "w")) == NULL) {
        perror("fuzz_config: set-up");
        exit(1);
    }
    snprintf(fuzz_path, sizeof(fuzz_path), "/proc/self/fd/%d", fuzz_fd);
    if ((cfg = load(good, sizeof(good) - 1, &errs)) == NULL || errs.n != 0) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "fuzz_config: a good configuration fails: %s\n", errs.v[i]);
        abort();
    }
    policy_config_unref(cfg);
    if (mkdtemp(fuzz_dir) == NULL || atexit(cleanup) != 0 || chdir(fuzz_dir) < 0) {
        perror("fuzz_config: set-up");
        exit(1);
    }
    return 0;
}

/* values - the value parsers on the whole input as one value */

static void values(const uint8_t *data, size_t size)
{
    char *s = strndup((const char *)data, size), dom[260];
    struct cfg_binding b;
    const char *why;
    uint64_t u;
    bool v;

    policy_parse_size(s, &u, &why);
    policy_parse_duration(s, &u, &why);
    policy_parse_bool(s, &v, &why);
    policy_parse_domain(s, dom, sizeof(dom), &why);
    memset(&b, 0, sizeof(b));
    if (policy_parse_binding(s, &b, &why) == 0)
        free(b.text);
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cfg_errors errs = { NULL, 0 };
    struct config *cfg;

    values(data, size);
    cfg = load(data, size, &errs);
    if (cfg == NULL && errs.n == 0)
        abort();                        /* refused without a reason */
    if (cfg != NULL) {
        if (errs.n != 0)
            abort();                    /* loaded, yet errors */
        policy_config_print(cfg, fuzz_null);
        for (size_t i = 0; i < cfg->nreceive; i++)
            (void)policy_config_line(cfg, &cfg->receive[i], "bindings");
        (void)policy_config_line(cfg, &cfg->transport, NULL);
        policy_config_unref(cfg);
    }
    policy_config_errors_free(&errs);
    return 0;
}
