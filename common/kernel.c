// SPDX-License-Identifier: MIT
// kernel: transparent huge pages and overcommit, as this kernel is set (see kernel.h).
#include "kernel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *kernel_path(const char *path, char *buf, size_t len)
{
	const char *root = getenv("LABS_KERNEL_ROOT");

	snprintf(buf, len, "%s%s", root ? root : "", path);
	return buf;
}

char *kernel_read_line(const char *path, const char *fallback, char *buf, size_t len)
{
	char full[4096];
	FILE *f;

	snprintf(buf, len, "%s", fallback);
	f = fopen(kernel_path(path, full, sizeof(full)), "r");
	if (!f)
		return buf;
	if (fgets(buf, (int)len, f))
		buf[strcspn(buf, "\n")] = '\0';
	else
		snprintf(buf, len, "%s", fallback);
	fclose(f);
	return buf;
}

enum kernel_thp kernel_thp_mode(void)
{
	char line[128];

	kernel_read_line("/sys/kernel/mm/transparent_hugepage/enabled", "", line, sizeof(line));
	if (strstr(line, "[always]"))
		return KERNEL_THP_ALWAYS;
	if (strstr(line, "[madvise]"))
		return KERNEL_THP_MADVISE;
	if (strstr(line, "[never]"))
		return KERNEL_THP_NEVER;
	return KERNEL_THP_UNKNOWN;
}

const char *kernel_thp_name(enum kernel_thp mode)
{
	switch (mode) {
	case KERNEL_THP_NEVER:
		return "never";
	case KERNEL_THP_MADVISE:
		return "madvise";
	case KERNEL_THP_ALWAYS:
		return "always";
	case KERNEL_THP_UNKNOWN:
		break;
	}
	return "unknown (no THP in this kernel)";
}

size_t kernel_huge_page_bytes(void)
{
	char line[64];
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	unsigned long long bytes = strtoull(kernel_read_line(
		"/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", "0", line, sizeof(line)), NULL, 10);

	return bytes >= page ? (size_t)bytes : page * (page / 8);
}

int kernel_overcommit_mode(void)
{
	char line[32];
	char *end;
	long mode = strtol(kernel_read_line("/proc/sys/vm/overcommit_memory", "", line, sizeof(line)),
			   &end, 10);

	return end != line && mode >= 0 && mode <= 2 ? (int)mode : -1;
}
