/*
 * Preloaded into nginx by ./build.sh test --asan (build/asan/nginx-asan).
 *
 * libubsan.so (GCC) reads UBSAN_OPTIONS only when it prints its first
 * report, from /proc/self/environ; in an nginx worker that memory has been
 * overwritten by the process title by then, so print_stacktrace,
 * abort_on_error and log_path would silently be lost. This library takes a
 * copy of UBSAN_OPTIONS when it is loaded (before nginx's main) and hands
 * it to libubsan through its __ubsan_default_options() hook; workers are
 * forked and inherit the copy.
 */
#include <stdlib.h>
#include <string.h>

static char options[4096];

__attribute__((constructor)) static void
save_ubsan_options(void)
{
    const char *s = getenv("UBSAN_OPTIONS");

    if (s != NULL) {
        strncpy(options, s, sizeof(options) - 1);
    }
}

const char *__ubsan_default_options(void);

const char *
__ubsan_default_options(void)
{
    return options;
}
