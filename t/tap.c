/* SPDX-License-Identifier: Apache-2.0 */
#include "tap.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int planned = -1, run, failed;

void tap_plan(int n)
{
    pthread_mutex_lock(&mu);
    planned = n;
    printf("1..%d\n", n);
    fflush(stdout);
    pthread_mutex_unlock(&mu);
}

static int report(int cond, const char *file, int line, const char *fmt,
                  va_list ap)
{
    pthread_mutex_lock(&mu);
    run++;
    if (!cond)
        failed++;
    printf("%sok %d - ", cond ? "" : "not ", run);
    vprintf(fmt, ap);
    printf("\n");
    if (!cond)
        printf("#   Failed at %s line %d\n", file, line);
    fflush(stdout);
    pthread_mutex_unlock(&mu);
    return cond;
}

int tap_ok(int cond, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(cond, file, line, fmt, ap);
    va_end(ap);
    return cond;
}

int tap_is(long long got, long long want, const char *file, int line,
           const char *fmt, ...)
{
    va_list ap;
    int cond = got == want;
    va_start(ap, fmt);
    report(cond, file, line, fmt, ap);
    va_end(ap);
    if (!cond)
        tap_diag("     got: %lld\n    expected: %lld", got, want);
    return cond;
}

int tap_is_str(const char *got, const char *want, const char *file, int line,
               const char *fmt, ...)
{
    va_list ap;
    int cond = (got && want) ? strcmp(got, want) == 0 : got == want;
    va_start(ap, fmt);
    report(cond, file, line, fmt, ap);
    va_end(ap);
    if (!cond)
        tap_diag("     got: '%s'\n    expected: '%s'", got ? got : "(null)",
                 want ? want : "(null)");
    return cond;
}

void tap_diag(const char *fmt, ...)
{
    va_list ap;
    char buf[2048];
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&mu);
    /* Every line of a diagnostic must start with '#'. */
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
        printf("# %s\n", line);
    fflush(stdout);
    pthread_mutex_unlock(&mu);
}

void tap_skip(int n, const char *why)
{
    pthread_mutex_lock(&mu);
    for (int i = 0; i < n; i++)
        printf("ok %d # SKIP %s\n", ++run, why);
    fflush(stdout);
    pthread_mutex_unlock(&mu);
}

void tap_bail_out(const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&mu);
    printf("Bail out! ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    pthread_mutex_unlock(&mu);
    exit(255);
}

int tap_failed(void)
{
    int f;
    pthread_mutex_lock(&mu);
    f = failed;
    pthread_mutex_unlock(&mu);
    return f;
}

int tap_done_testing(void)
{
    int rc;
    pthread_mutex_lock(&mu);
    if (planned < 0) {
        printf("1..%d\n", run);
        planned = run;
    }
    if (run != planned)
        printf("# planned %d tests but ran %d\n", planned, run);
    fflush(stdout);
    rc = (failed || run != planned) ? 1 : 0;
    pthread_mutex_unlock(&mu);
    return rc;
}
