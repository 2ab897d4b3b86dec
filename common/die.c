// SPDX-License-Identifier: MIT
// die: fatal errors of lab programs (see die.h).
#include "die.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Prints "program: message[: strerror]" and exits. The callers format the message first, so that
// each va_start meets its va_end before this call, which does not return.
static noreturn void finish(int status, int err, const char *message)
{
	fflush(stdout);
	if (err)
		fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, message,
			strerror(err < 0 ? -err : err));
	else
		fprintf(stderr, "%s: %s\n", program_invocation_short_name, message);
	exit(status);
}

#define FORMAT_MESSAGE(buf, fmt)                                 \
	do {                                                     \
		va_list ap;                                      \
		va_start(ap, fmt);                               \
		vsnprintf(buf, sizeof(buf), fmt, ap);            \
		va_end(ap);                                      \
	} while (0)

void die(const char *fmt, ...)
{
	char message[1024];

	FORMAT_MESSAGE(message, fmt);
	finish(1, 0, message);
}

void die_errno(int err, const char *fmt, ...)
{
	char message[1024];

	FORMAT_MESSAGE(message, fmt);
	finish(1, err, message);
}

void die_usage(const char *fmt, ...)
{
	char message[1024];

	FORMAT_MESSAGE(message, fmt);
	finish(DIE_USAGE_STATUS, 0, message);
}
