/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the option values of the command-line tools that have
 * a parsing function of their own: SECONDS (zkr-lock --wait/--grace,
 * zkr-queue --wait, zkr-elect --grace) and the SIG of zkr-config's
 * --signal PIDFILE:SIG. Other options are parsed inline in main (integer
 * milliseconds with atoi or strtol). Invariants:
 *  - SECONDS: accepted exactly when strtod reads the whole text without a
 *    range error and the value is within [0, limit) (limit 1e7 s, 1e6 s
 *    for zkr-elect); the value is strtod's; the tools agree below 1e6;
 *  - SIG: -1 or a signal number in 1..64; every name of the table and
 *    every number in 1..64 is recognised, with or without "SIG", in any
 *    case. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "reach.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* zkr-lock accepts -w up to 1e7 s and waits forever beyond INT_MAX ms
 * instead of converting (the int would overflow from 2147483.648 s, found
 * by this target); with 1 the target checks the plain conversion instead. */
#ifndef CHECK_LOCK_WAIT_MS
#define CHECK_LOCK_WAIT_MS 0
#endif

static void check_seconds(const char *s)
{
    static const struct {
        int (*parse)(const char *, double *);
        double limit;
    } tools[] = {{fz_lock_parse_seconds, 1e7},
                 {fz_queue_parse_seconds, 1e7},
                 {fz_elect_parse_seconds, 1e6}};
    char *end;
    double ref;
    int range_err, whole;
    errno = 0;
    ref = strtod(s, &end);
    range_err = errno != 0;
    whole = end != s && *end == '\0';
    for (size_t i = 0; i < sizeof tools / sizeof *tools; i++) {
        double v = -1;
        int ok = tools[i].parse(s, &v);
        int want = whole && !range_err && ref >= 0 && ref < tools[i].limit;
        if (ok != want)
            abort();
        if (ok && (!isfinite(v) || v != ref))
            abort();
        if (ok && i == 0 && CHECK_LOCK_WAIT_MS &&
            !(v * 1000 + 0.5 < 2147483648.0))
            abort(); /* (int)(wait_s * 1000 + 0.5) in zkr-lock */
    }
}

static void check_signal(const char *s)
{
    int sig = fz_config_signal_number(s);
    const char *colon = strrchr(s, ':');
    if (sig != -1 && (sig < 1 || sig > 64))
        abort();
    /* the tool's --signal check: PIDFILE:SIG, SIG after the last ':' */
    if (colon && colon != s)
        (void)fz_config_signal_number(colon + 1);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const struct {
        const char *name;
        int sig;
    } names[] = {{"hup", SIGHUP},   {"INT", SIGINT},   {"Quit", SIGQUIT},
                 {"USR1", SIGUSR1}, {"usr2", SIGUSR2}, {"TERM", SIGTERM},
                 {"ALRM", SIGALRM}, {"CONT", SIGCONT}, {"KILL", SIGKILL}};
    char buf[32];
    (void)argc;
    (void)argv;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(buf, sizeof buf, "SIG%s", names[i].name);
        if (fz_config_signal_number(names[i].name) != names[i].sig ||
            fz_config_signal_number(buf) != names[i].sig)
            abort();
        snprintf(buf, sizeof buf, "sig%s", names[i].name);
        if (fz_config_signal_number(buf) != names[i].sig)
            abort();
    }
    for (int n = 1; n <= 64; n++) {
        snprintf(buf, sizeof buf, "%d", n);
        if (fz_config_signal_number(buf) != n)
            abort();
        snprintf(buf, sizeof buf, "SIG%d", n);
        if (fz_config_signal_number(buf) != n)
            abort();
    }
    if (fz_config_signal_number("0") != -1 ||
        fz_config_signal_number("65") != -1 ||
        fz_config_signal_number("") != -1 ||
        fz_config_signal_number("SIG") != -1)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    check_seconds(s);
    check_signal(s);
    free(s);
    return 0;
}
