/* SPDX-License-Identifier: MIT */
/*
 * guard: runs a function in a supervised child process with a time limit and a memory limit, and
 * reports how it ended. For the deliberately dangerous parts of a lab (stack overflow, deadlock,
 * livelock, memory exhaustion): the learner's terminal never hangs and the machine never runs dry.
 */
#ifndef COMMON_GUARD_H
#define COMMON_GUARD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>

struct guard_limits {
	uint64_t timeout_ms;	/* wall-clock limit; the child is killed (SIGKILL) after it. 0: none */
	uint64_t max_as_bytes;	/* RLIMIT_AS for the child (address space). 0: unchanged */
	uint64_t max_stack_bytes; /* RLIMIT_STACK for the child. 0: unchanged */
};

enum guard_outcome {
	GUARD_EXITED,		/* returned or called exit(); see exit_status */
	GUARD_SIGNALED,		/* killed by a signal of its own doing (SIGSEGV, SIGABRT...) */
	GUARD_TIMED_OUT,	/* still running at the time limit; we killed it */
};

struct guard_result {
	enum guard_outcome outcome;
	int exit_status;	/* for GUARD_EXITED */
	int signal;		/* for GUARD_SIGNALED (and SIGKILL for GUARD_TIMED_OUT) */
	uint64_t elapsed_ns;
	struct rusage usage;	/* the child's resource use (CPU time, faults, context switches) */
};

/*
 * Forks; the child applies the limits, disables core dumps, dies with its parent, runs fn(arg)
 * and exits with its return value (0-255). The parent waits up to the time limit. A SIGINT, SIGTERM
 * or SIGHUP meanwhile ends and reaps the child first (SIGTERM, so that a child supervising children
 * of its own ends them too; SIGKILL after 300 ms), then reaches the handler installed before.
 * Returns 0 with *result filled, or -errno if the child could not be started or waited for.
 * The child shares nothing with the parent after fork except what guard_shared_alloc() gave.
 */
int guard_run(int (*fn)(void *arg), void *arg, const struct guard_limits *limits,
	      struct guard_result *result);

/*
 * guard_run() for another program: runs argv[0] (found in PATH) with the environment variables in
 * env ("NAME=value", NULL-terminated; NULL for none) added, and collects what it writes on stdout
 * and stderr, up to len - 1 bytes, into out (always terminated). Same limits, signals and result as
 * guard_run(); the program leads a process group of its own, and the time limit or a signal ends
 * the whole group (a program's own helper processes too). An exec failure is exit status 127.
 * Returns 0 or -errno.
 */
int guard_exec(char *const argv[], const char *const env[], const struct guard_limits *limits,
	       char *out, size_t len, struct guard_result *result);

/*
 * Memory the child can write and the parent read after guard_run(): an anonymous shared mapping,
 * zeroed. Returns NULL on failure. Release with guard_shared_free().
 */
void *guard_shared_alloc(size_t bytes);
void guard_shared_free(void *p, size_t bytes);

/* One line for the learner: "exited with status 0 after 12 ms", "killed by SIGSEGV (...)"... */
const char *guard_describe(const struct guard_result *result, char *buf, size_t len);

#endif
