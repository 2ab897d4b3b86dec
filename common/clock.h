/* SPDX-License-Identifier: MIT */
/* clock: monotonic nanoseconds, timer resolution and overhead, and iteration-count calibration. */
#ifndef COMMON_CLOCK_H
#define COMMON_CLOCK_H

#include <stdint.h>
#include <sys/time.h>

/* Nanoseconds on CLOCK_MONOTONIC (served by the vDSO on Linux, so no syscall). Never fails. */
uint64_t clock_now_ns(void);

/* The resolution the kernel reports for CLOCK_MONOTONIC, in ns (1 on any modern x86/ARM Linux). */
uint64_t clock_resolution_ns(void);

/*
 * The smallest step between two different readings of clock_now_ns(), in ns, over many tries:
 * what a timing can resolve. The larger of the counter's tick (1 ns on x86-64, 18.5 ns at 54 MHz
 * on a Raspberry Pi, 41.7 ns at 24 MHz on Apple silicon) and what one read costs; clock_getres()
 * says 1 ns on all of them.
 */
uint64_t clock_step_ns(void);

/* Median cost of one clock_now_ns() call, in ns, measured over many back-to-back pairs. */
double clock_overhead_ns(void);

/* A struct timeval (getrusage's CPU times) in milliseconds. */
double clock_timeval_ms(struct timeval tv);

/* A measured kernel: runs the operation under test nr_iters times. */
typedef void (*clock_kernel_fn)(void *arg, uint64_t nr_iters);

/*
 * Returns how many iterations of kernel make one sample last at least min_sample_ns, by doubling a
 * trial count until a run is long enough and then scaling. Doubles as warm-up: the kernel has run
 * several times when it returns. Always >= 1 (a single iteration longer than min_sample_ns gives 1)
 * and <= max_iters.
 */
uint64_t clock_calibrate(clock_kernel_fn kernel, void *arg, uint64_t min_sample_ns,
			 uint64_t max_iters);

#endif
