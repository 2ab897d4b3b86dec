/* SPDX-License-Identifier: MIT */
/* die: how a lab program reports a fatal error. The one part of common/ that exits, for labs only. */
#ifndef COMMON_DIE_H
#define COMMON_DIE_H

#include <stdnoreturn.h>

/* Exit status of a bad command line: one line on stderr, then exit 2. */
#define DIE_USAGE_STATUS 2

/* Prints "program: message" on stderr and exits with status 1. */
noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Like die(), with ": strerror(err)" appended; err is a positive errno value or a -errno return. */
noreturn void die_errno(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Like die(), for a bad command line or environment the user can fix: exit status 2. */
noreturn void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
