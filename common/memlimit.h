/* SPDX-License-Identifier: MIT */
/*
 * memlimit: how much memory this process may still take, from every bound that applies, so that a
 * memory-hungry lab sizes itself below the smallest one instead of being killed:
 * - MemAvailable (/proc/meminfo): what the machine can give without swapping;
 * - the memory cgroup's limit minus its usage, the tightest over the cgroup and its ancestors
 *   (v2: memory.max - memory.current; v1: memory.limit_in_bytes - memory.usage_in_bytes), found
 *   through /proc/self/cgroup. This is what `docker run --memory=1g`, a CI container or a systemd
 *   slice sets; under it malloc does not fail, the kernel kills the process that touches too much;
 * - RLIMIT_AS minus the address space already mapped (`ulimit -v`): here mmap and malloc do fail.
 */
#ifndef COMMON_MEMLIMIT_H
#define COMMON_MEMLIMIT_H

#include <stddef.h>
#include <stdint.h>

#define MEMLIMIT_NONE UINT64_MAX	/* a bound that does not apply (or could not be read) */

enum memlimit_source { MEMLIMIT_MEM_AVAILABLE, MEMLIMIT_CGROUP_V2, MEMLIMIT_CGROUP_V1,
		       MEMLIMIT_RLIMIT_AS };

struct memlimit {
	uint64_t mem_available;		/* bytes, MEMLIMIT_NONE if unknown */
	uint64_t cgroup_left;		/* limit - usage of the tightest cgroup level, or NONE */
	uint64_t cgroup_limit;		/* that level's limit */
	int cgroup_version;		/* 1 or 2; 0 when no memory limit was found */
	char cgroup_path[256];		/* that level, relative to the cgroup root ("/" for the root) */
	uint64_t rlimit_as_left;	/* RLIMIT_AS - mapped address space, or NONE */
	uint64_t bytes;			/* the smallest of the three: what may still be taken */
	enum memlimit_source source;	/* which one it was */
};

/*
 * Reads the bounds of the calling process. The cgroup tree is read under $LABS_CGROUP_ROOT when it
 * is set (the tests' fake tree), /sys/fs/cgroup otherwise. Always fills *m; returns 0.
 */
int memlimit_read(struct memlimit *m);

/*
 * The same from explicit files, for the tests: proc_self_cgroup is /proc/self/cgroup's text, the
 * cgroup tree is under cgroup_root (v2 directly, v1 under cgroup_root/memory), meminfo is the path
 * of a /proc/meminfo. rlimit_as_left is taken as given.
 */
int memlimit_read_from(struct memlimit *m, const char *proc_self_cgroup, const char *cgroup_root,
		       const char *meminfo, uint64_t rlimit_as_left);

/*
 * A "Field: N kB" line of a /proc file (/proc/meminfo's "MemAvailable", /proc/self/status's
 * "RssAnon"), in bytes; MEMLIMIT_NONE if the file or the field is absent.
 */
uint64_t memlimit_kb_field(const char *path, const char *field);

/* "the cgroup v2 limit (memory.max 1.0 GiB at /ci.slice, 800 MiB left)": which bound, in words. */
const char *memlimit_describe(const struct memlimit *m, char *buf, size_t len);

#endif
