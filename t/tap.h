/* SPDX-License-Identifier: Apache-2.0 */
/* A small TAP producer for zkr's tests. Thread-safe. */
#ifndef ZKR_TAP_H
#define ZKR_TAP_H

#include <stdarg.h>

void tap_plan(int n);
int tap_ok(int cond, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int tap_is(long long got, long long want, const char *file, int line,
           const char *fmt, ...) __attribute__((format(printf, 5, 6)));
int tap_is_str(const char *got, const char *want, const char *file, int line,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tap_skip(int n, const char *why);
void tap_bail_out(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
/* Prints the plan if none was given; returns the exit status (0 when all
 * passed and the plan was met). */
int tap_done_testing(void);
int tap_failed(void);

#define plan(n) tap_plan(n)
#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is(got, want, ...)                                                   \
    tap_is((long long)(got), (long long)(want), __FILE__, __LINE__,          \
           __VA_ARGS__)
#define is_str(got, want, ...)                                               \
    tap_is_str((got), (want), __FILE__, __LINE__, __VA_ARGS__)
#define diag(...) tap_diag(__VA_ARGS__)
#define skip(n, why) tap_skip((n), (why))
#define bail_out(...) tap_bail_out(__VA_ARGS__)
#define done_testing() tap_done_testing()

#endif
