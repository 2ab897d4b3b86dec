// SPDX-License-Identifier: MIT
// die: fatal errors of lab programs (see die.h).
#include "die.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static noreturn void vdie(int status, int err, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static noreturn void vdie(int status, int err, const char *fmt, va_list ap)
{
	fflush(stdout);
	fprintf(stderr, "%s: ", program_invocation_short_name);
	vfprintf(stderr, fmt, ap);
	if (err)
		fprintf(stderr, ": %s", strerror(err < 0 ? -err : err));
	fputc('\n', stderr);
	exit(status);
}

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdie(1, 0, fmt, ap);
}

void die_errno(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdie(1, err, fmt, ap);
}

void die_usage(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdie(DIE_USAGE_STATUS, 0, fmt, ap);
}
