/* SPDX-License-Identifier: MIT */
/*
 * report: where results go and how they are written: the machine id, result directories, and files
 * written atomically (a temporary name, renamed on commit, removed on Ctrl-C): CSV, manifest, verdict.
 */
#ifndef COMMON_REPORT_H
#define COMMON_REPORT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define REPORT_MACHINE_ID_MAX 64

/*
 * Makes a safe directory name from any string: characters outside [A-Za-z0-9._-] become '-',
 * leading '.' and '-' are dropped (so "../x" becomes "x"), at most REPORT_MACHINE_ID_MAX - 1
 * characters are kept; an empty result becomes "unknown", and a name the course uses for its own
 * folders in results/ (examples, compare, report, cluster, in any case) gets "-machine" appended.
 * out has room for len bytes.
 */
void report_sanitise_id(const char *in, char *out, size_t len);

/*
 * The machine id: $MACHINE if set, else the host name and a short stable suffix from the machine
 * ("ubuntu-3f9a": a hash of /etc/machine-id and the CPU model), always sanitised. Never fails.
 */
void report_machine_id(char *out, size_t len);

/* That suffix: 16 bits of a hash of /etc/machine-id and the CPU model. */
uint32_t report_machine_suffix(void);

/* The kind of file system holding path ("ext4", "tmpfs", "xfs"...; "unknown"): a scratch file on
 * tmpfs lives in memory, which changes what file experiments measure. */
const char *report_fs_type(const char *path);

/*
 * Creates path and its parents (mode 0755) and checks that files can be created in it. The
 * directories it creates are removed at exit or on a signal if they are still empty then, so a run
 * that fails (a bad option found later, a full disk) leaves no empty directory behind.
 * Returns 0 or -errno (-EACCES, -EROFS, -ENOTDIR, -ENOSPC...).
 */
int report_make_dir(const char *path);

/*
 * A file written under a temporary name in its directory and renamed into place by
 * report_file_commit(), so a reader never sees half a file. Until then, SIGINT, SIGTERM, SIGHUP and
 * exit() remove the temporary (the handlers are installed by the first report_file_open()).
 * What is written to f collects in memory and reaches the disk at the commit, with write(2), so
 * that a full disk is reported as such (stdio's deferred writes lose the errno).
 */
struct report_file {
	FILE *f;		/* an open_memstream() */
	char *buf;
	size_t len;
	int fd;			/* the temporary, created at open to fail early */
	char path[PATH_MAX];
	char tmp_path[PATH_MAX];
	int slot;		/* index in the signal-cleanup table, -1 if none */
};

/* Opens dir/name for writing. Returns 0 or -errno; on error nothing is left behind. */
int report_file_open(struct report_file *rf, const char *dir, const char *name);

/* Flushes, closes and renames into place. Returns 0 or -errno (then the temporary is removed). */
int report_file_commit(struct report_file *rf);

/* Closes and removes the temporary. Safe to call on a committed or never-opened file. */
void report_file_abort(struct report_file *rf);

/*
 * Registers a path to remove if a signal or exit() ends the run first: a scratch file, or an empty
 * directory (paths are removed newest first, so a directory's files go before it). Returns a handle
 * >= 0, or -ENOSPC when 16 paths are registered already. The path is not created here.
 */
int report_temp_add(const char *path);

/* Removes the registered path now (remove(3): a file or an empty directory) and forgets it. */
void report_temp_remove(int handle);

/* CSV with a header line and a fixed number of columns per row. */
struct report_csv {
	struct report_file file;
	size_t nr_columns;
	size_t column;		/* cells written in the current row */
};

/* Opens dir/name and writes the header. Returns 0 or -errno. */
int report_csv_open(struct report_csv *csv, const char *dir, const char *name,
		    const char *const *columns, size_t nr_columns);
/* One cell each. A string is quoted when it holds a comma, a quote or a newline. */
void report_csv_str(struct report_csv *csv, const char *s);
void report_csv_u64(struct report_csv *csv, uint64_t v);
/*
 * A whole number is written exactly (1048576, not 1.04858e+06), anything else to 6 significant
 * digits; a non-finite value (NAN: "not measured") as an empty cell, never as 0.
 */
void report_csv_double(struct report_csv *csv, double v);
/* Ends the row; returns -EINVAL if it had the wrong number of cells (a bug in the lab). */
int report_csv_end_row(struct report_csv *csv);
int report_csv_commit(struct report_csv *csv);
void report_csv_abort(struct report_csv *csv);

/* "key: value" lines, one fact each, for manifest.txt. */
void report_kv(struct report_file *rf, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
