// SPDX-License-Identifier: MIT
// memlimit: the smallest of MemAvailable, the memory cgroup's room and RLIMIT_AS's room.
#include "memlimit.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli.h"

uint64_t memlimit_kb_field(const char *path, const char *field)
{
	FILE *f = fopen(path, "r");
	char line[256];
	size_t len = strlen(field);
	unsigned long long kib = 0;
	bool found = false;

	if (!f)
		return MEMLIMIT_NONE;
	while (!found && fgets(line, sizeof(line), f))
		if (strncmp(line, field, len) == 0 && line[len] == ':')
			found = sscanf(line + len + 1, "%llu", &kib) == 1;
	fclose(f);
	return found ? (uint64_t)kib * 1024 : MEMLIMIT_NONE;
}

// One number from a cgroup file; "max" (v2's "no limit") and absurd v1 values are NONE.
static uint64_t read_cgroup_number(const char *dir, const char *file)
{
	char path[800], text[64];
	unsigned long long v;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (!(f = fopen(path, "r")))
		return MEMLIMIT_NONE;
	bool ok = fgets(text, sizeof(text), f) && sscanf(text, "%llu", &v) == 1;
	fclose(f);
	// v1 writes "no limit" as the largest page-aligned signed 64-bit value.
	return ok && v < (1ULL << 62) ? (uint64_t)v : MEMLIMIT_NONE;
}

// The path of this process's cgroup for the memory controller: v2's "0::PATH" line, or the v1
// line whose controller list names memory. Returns the version (1, 2) or 0.
static int cgroup_of(const char *proc_self_cgroup, char *path, size_t len)
{
	const char *line = proc_self_cgroup;
	int version = 0;

	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t n = end ? (size_t)(end - line) : strlen(line);
		char buf[512];

		if (n < sizeof(buf)) {
			memcpy(buf, line, n);
			buf[n] = '\0';
			char *c1 = strchr(buf, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

			if (c1 && c2) {
				*c1 = '\0';
				*c2 = '\0';
				const char *controllers = c1 + 1, *where = c2 + 1;

				if (!strcmp(buf, "0") && !*controllers && version == 0) {
					snprintf(path, len, "%s", where);
					version = 2;
				}
				char list[256];
				snprintf(list, sizeof(list), ",%s,", controllers);
				if (strstr(list, ",memory,")) {
					snprintf(path, len, "%s", where);
					version = 1;	// the memory controller is on v1: it wins
				}
			}
		}
		line = end ? end + 1 : NULL;
	}
	return version;
}

// The tightest limit - usage over the cgroup at `path` and its ancestors.
static void walk_cgroups(struct memlimit *m, const char *tree, const char *path, int version)
{
	char level[256];

	snprintf(level, sizeof(level), "%s", *path ? path : "/");
	for (;;) {
		char dir[700];

		snprintf(dir, sizeof(dir), "%s%s", tree, strcmp(level, "/") ? level : "");
		uint64_t limit = read_cgroup_number(dir, version == 2 ? "memory.max"
							: "memory.limit_in_bytes");
		uint64_t usage = read_cgroup_number(dir, version == 2 ? "memory.current"
							: "memory.usage_in_bytes");
		if (limit != MEMLIMIT_NONE) {
			uint64_t left = usage == MEMLIMIT_NONE ? limit : usage >= limit ? 0 : limit - usage;

			if (left < m->cgroup_left) {
				m->cgroup_left = left;
				m->cgroup_limit = limit;
				m->cgroup_version = version;
				snprintf(m->cgroup_path, sizeof(m->cgroup_path), "%s", level);
			}
		}
		char *slash = strrchr(level, '/');
		if (!slash || !strcmp(level, "/"))
			break;
		if (slash == level)
			slash[1] = '\0';	// "/a" -> "/"
		else
			*slash = '\0';
	}
}

int memlimit_read_from(struct memlimit *m, const char *proc_self_cgroup, const char *cgroup_root,
		       const char *meminfo, uint64_t rlimit_as_left)
{
	char path[256] = "", tree[400];

	*m = (struct memlimit){ .cgroup_left = MEMLIMIT_NONE, .cgroup_limit = MEMLIMIT_NONE,
				.rlimit_as_left = rlimit_as_left };
	m->mem_available = memlimit_kb_field(meminfo, "MemAvailable");
	int version = proc_self_cgroup ? cgroup_of(proc_self_cgroup, path, sizeof(path)) : 0;
	if (version) {
		snprintf(tree, sizeof(tree), "%s%s", cgroup_root, version == 1 ? "/memory" : "");
		walk_cgroups(m, tree, path, version);
	}
	m->bytes = m->mem_available;
	m->source = MEMLIMIT_MEM_AVAILABLE;
	if (m->cgroup_left < m->bytes) {
		m->bytes = m->cgroup_left;
		m->source = m->cgroup_version == 2 ? MEMLIMIT_CGROUP_V2 : MEMLIMIT_CGROUP_V1;
	}
	if (m->rlimit_as_left < m->bytes) {
		m->bytes = m->rlimit_as_left;
		m->source = MEMLIMIT_RLIMIT_AS;
	}
	return 0;
}

// RLIMIT_AS minus what is mapped already (/proc/self/statm's size), or NONE.
static uint64_t rlimit_as_left(void)
{
	struct rlimit r;
	unsigned long pages = 0;
	FILE *f;

	if (getrlimit(RLIMIT_AS, &r) != 0 || r.rlim_cur == RLIM_INFINITY)
		return MEMLIMIT_NONE;
	if ((f = fopen("/proc/self/statm", "r"))) {
		if (fscanf(f, "%lu", &pages) != 1)
			pages = 0;
		fclose(f);
	}
	uint64_t mapped = (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE);
	return mapped >= r.rlim_cur ? 0 : (uint64_t)r.rlim_cur - mapped;
}

int memlimit_read(struct memlimit *m)
{
	char text[4096] = "";
	const char *root = getenv("LABS_CGROUP_ROOT");
	FILE *f = fopen("/proc/self/cgroup", "r");

	if (f) {
		size_t n = fread(text, 1, sizeof(text) - 1, f);

		text[n] = '\0';
		fclose(f);
	}
	return memlimit_read_from(m, f ? text : NULL, root && *root ? root : "/sys/fs/cgroup",
				  "/proc/meminfo", rlimit_as_left());
}

const char *memlimit_describe(const struct memlimit *m, char *buf, size_t len)
{
	char a[32], b[32];

	switch (m->source) {
	case MEMLIMIT_CGROUP_V2:
	case MEMLIMIT_CGROUP_V1:
		snprintf(buf, len, "the cgroup v%d memory limit (%s %s at %s, %s left)",
			 m->cgroup_version, m->cgroup_version == 2 ? "memory.max" : "memory.limit_in_bytes",
			 cli_format_size(m->cgroup_limit, a, sizeof(a)), m->cgroup_path,
			 cli_format_size(m->cgroup_left, b, sizeof(b)));
		break;
	case MEMLIMIT_RLIMIT_AS:
		snprintf(buf, len, "RLIMIT_AS (ulimit -v: %s of address space left)",
			 cli_format_size(m->rlimit_as_left, a, sizeof(a)));
		break;
	default:
		if (m->mem_available == MEMLIMIT_NONE)
			snprintf(buf, len, "no bound could be read (no /proc/meminfo)");
		else
			snprintf(buf, len, "MemAvailable (%s)",
				 cli_format_size(m->mem_available, a, sizeof(a)));
	}
	return buf;
}
