/* SPDX-License-Identifier: MIT */
/*
 * kernel: how this kernel is set up for memory, which several labs' predictions depend on:
 * transparent huge pages (mode and size), overcommit, read from /sys and /proc. The huge page size
 * is the PMD's: 2 MiB with 4 KiB base pages, 32 MiB with 16 KiB, 512 MiB with 64 KiB (arm64
 * kernels come in all three). LABS_KERNEL_ROOT=dir reads dir/sys/... and dir/proc/... instead:
 * the tests' way to show a lab an unusual kernel without changing this machine's.
 */
#ifndef COMMON_KERNEL_H
#define COMMON_KERNEL_H

#include <stddef.h>

enum kernel_thp { KERNEL_THP_UNKNOWN, KERNEL_THP_NEVER, KERNEL_THP_MADVISE, KERNEL_THP_ALWAYS };

/* path under LABS_KERNEL_ROOT when set, else path itself, in buf. Returns buf. */
char *kernel_path(const char *path, char *buf, size_t len);

/* The first line of a /sys or /proc file (under LABS_KERNEL_ROOT when set), without its newline,
 * in buf; fallback when it cannot be read. Returns buf. */
char *kernel_read_line(const char *path, const char *fallback, char *buf, size_t len);

/* /sys/kernel/mm/transparent_hugepage/enabled: the bracketed choice. */
enum kernel_thp kernel_thp_mode(void);

/* "never", "madvise", "always" or "unknown (no THP in this kernel)". */
const char *kernel_thp_name(enum kernel_thp mode);

/* The transparent huge page size in bytes: hpage_pmd_size, or what one page table of 8-byte
 * entries maps (page size * page size / 8) where the kernel does not say. */
size_t kernel_huge_page_bytes(void);

/* vm.overcommit_memory: 0 (heuristic), 1 (always), 2 (strict: every private writable mapping,
 * thread stacks included, is committed against CommitLimit), or -1 when unreadable. */
int kernel_overcommit_mode(void);

#endif
