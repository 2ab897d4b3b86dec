/* SPDX-License-Identifier: MIT */
/*
 * sanitizer: which sanitizer this program was built with, if any. A few experiments measure what a
 * sanitizer replaces (glibc's malloc and its mallopt) or cannot live with (an address-space limit:
 * AddressSanitizer and ThreadSanitizer reserve terabytes of shadow memory up front); under one they
 * skip themselves with a note, so that the rest of the lab still runs under the sanitizer's eye.
 */
#ifndef SANITIZER_H
#define SANITIZER_H

#include <stddef.h>

#ifndef __has_feature
#define __has_feature(x) 0	/* GCC: it defines __SANITIZE_ADDRESS__ and __SANITIZE_THREAD__ */
#endif

/* "AddressSanitizer", "ThreadSanitizer", or NULL when built without either. */
static inline const char *sanitizer_name(void)
{
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
	return "AddressSanitizer";
#elif defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer)
	return "ThreadSanitizer";
#else
	return NULL;
#endif
}

#endif
