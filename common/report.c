// SPDX-License-Identifier: MIT
// report: machine id, result directories, atomically written files (see report.h).
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

void report_sanitise_id(const char *in, char *out, size_t len)
{
	size_t n = 0;
	size_t max = len - 1 < REPORT_MACHINE_ID_MAX - 1 ? len - 1 : REPORT_MACHINE_ID_MAX - 1;

	for (const char *p = in ? in : ""; *p && n < max; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';

		if (!ok)
			c = '-';
		if (n == 0 && (c == '.' || c == '-'))
			continue;	// no hidden names, no "..", no option-like names
		out[n++] = c;
	}
	out[n] = '\0';
	if (n == 0)
		snprintf(out, len, "unknown");
	// The folders the course itself writes in results/ (scripts/classtools/safe.py keeps the same
	// list): a machine called "compare" would have its results replaced by make compare's.
	static const char *const reserved[] = { "examples", "compare", "report", "cluster" };
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		if (strcasecmp(out, reserved[i]) == 0) {
			snprintf(out + n, len - n, "-machine");
			break;
		}
	}
}

// Feeds a file's first bytes, or the line of /proc/cpuinfo that starts with key, into an FNV-1a
// hash.
static uint32_t hash_file(uint32_t h, const char *path, const char *key)
{
	FILE *f = fopen(path, "r");
	char line[512];

	while (f && fgets(line, sizeof(line), f)) {
		if (key && strncmp(line, key, strlen(key)) != 0)
			continue;
		for (const char *p = line; *p; p++)
			h = (h ^ (unsigned char)*p) * 16777619u;
		if (key)
			break;
	}
	if (f)
		fclose(f);
	return h;
}

uint32_t report_machine_suffix(void)
{
	uint32_t h = 2166136261u;

	h = hash_file(h, "/etc/machine-id", NULL);	// unique per installation (systemd)
	h = hash_file(h, "/proc/cpuinfo", "model name");
	return h & 0xffff;
}

void report_machine_id(char *out, size_t len)
{
	const char *env = getenv("MACHINE");
	char host[256] = "", id[320];

	if (env && *env) {
		report_sanitise_id(env, out, len);
		return;
	}
	if (gethostname(host, sizeof(host) - 1) != 0)
		host[0] = '\0';
	// The host name alone is not unique in a class (twenty laptops called "ubuntu"): a short
	// stable suffix from the machine keeps their results apart, and the name readable.
	host[REPORT_MACHINE_ID_MAX - 7] = '\0';
	snprintf(id, sizeof(id), "%s-%04x", host[0] ? host : "unknown", report_machine_suffix());
	report_sanitise_id(id, out, len);
}

const char *report_fs_type(const char *path)
{
	struct statfs fs;

	if (statfs(path, &fs) != 0)
		return "unknown";
	switch ((unsigned long)fs.f_type) {
	case 0xEF53: return "ext4";	// also ext2 and ext3: one magic number
	case 0x01021994: return "tmpfs";
	case 0x58465342: return "xfs";
	case 0x9123683E: return "btrfs";
	case 0x794C7630: return "overlayfs";
	case 0x6969: return "nfs";
	default: return "another file system";
	}
}

int report_make_dir(const char *path)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;

		*p = '\0';
		if (mkdir(buf, 0755) == 0)
			report_temp_add(buf);	// removed at exit if still empty (a run that failed)
		else if (errno != EEXIST)
			return -errno;
		*p = saved;
		if (saved == '\0')
			break;
	}
	struct stat st;
	if (stat(path, &st) != 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	// access() answers for the real uid and ignores a read-only mount for root only in part;
	// creating a probe file is the one test that is always right.
	char probe[PATH_MAX];
	if (snprintf(probe, sizeof(probe), "%s/.write-probe.%d", path, (int)getpid()) >=
	    (int)sizeof(probe))
		return -ENAMETOOLONG;
	int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		return -errno;
	close(fd);
	unlink(probe);
	return 0;
}

// Temporary paths to remove if a signal or exit() ends the run. Written only outside signal
// handlers, read in them: sig_atomic_t flags guard each slot.
#define MAX_TEMPS 16
static char temp_paths[MAX_TEMPS][PATH_MAX];
static volatile sig_atomic_t temp_used[MAX_TEMPS];
static volatile sig_atomic_t temp_order[MAX_TEMPS];	// registration order, newest highest
static sig_atomic_t temp_counter;

static void remove_temps(void)
{
	// Newest first: a scratch file goes before the directory that holds it.
	for (;;) {
		int newest = -1;

		for (int i = 0; i < MAX_TEMPS; i++)
			if (temp_used[i] && (newest < 0 || temp_order[i] > temp_order[newest]))
				newest = i;
		if (newest < 0)
			return;
		remove(temp_paths[newest]);	// async-signal-safe in glibc: unlink or rmdir
		temp_used[newest] = 0;
	}
}

static void remove_temps_and_die(int sig)
{
	remove_temps();
	// Die of the same signal, so the parent (make, a shell) sees how we ended.
	signal(sig, SIG_DFL);
	raise(sig);
}

static void install_cleanup_handlers(void)
{
	static bool installed;
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };

	if (installed)
		return;
	installed = true;
	// exit() without a commit (a lab's die() halfway) must not leave temporaries either.
	(void)atexit(remove_temps);	// fails only when the atexit table is full
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		struct sigaction sa = { .sa_handler = remove_temps_and_die };

		sigemptyset(&sa.sa_mask);
		// Keep an inherited "ignore" (e.g. nohup) as it is.
		struct sigaction old;
		if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
			continue;
		(void)sigaction(sigs[i], &sa, NULL);	// cannot fail for these signals
	}
}

int report_temp_add(const char *path)
{
	install_cleanup_handlers();
	if (strlen(path) >= PATH_MAX)
		return -ENAMETOOLONG;
	for (int i = 0; i < MAX_TEMPS; i++) {
		if (temp_used[i])
			continue;
		memcpy(temp_paths[i], path, strlen(path) + 1);	// the length was checked above
		temp_order[i] = ++temp_counter;
		temp_used[i] = 1;	// last: the slot is complete before a handler can see it
		return i;
	}
	return -ENOSPC;
}

void report_temp_remove(int handle)
{
	if (handle < 0 || handle >= MAX_TEMPS || !temp_used[handle])
		return;
	remove(temp_paths[handle]);
	temp_used[handle] = 0;
}

// Forgets a registered path without removing it (a committed file stays).
static void temp_forget(int handle)
{
	if (handle >= 0 && handle < MAX_TEMPS)
		temp_used[handle] = 0;
}

int report_file_open(struct report_file *rf, const char *dir, const char *name)
{
	memset(rf, 0, sizeof(*rf));
	rf->slot = -1;
	rf->fd = -1;
	if (snprintf(rf->path, sizeof(rf->path), "%s/%s", dir, name) >= (int)sizeof(rf->path) ||
	    snprintf(rf->tmp_path, sizeof(rf->tmp_path), "%s/.%s.tmp.%d", dir, name,
		     (int)getpid()) >= (int)sizeof(rf->tmp_path))
		return -ENAMETOOLONG;
	rf->slot = report_temp_add(rf->tmp_path);	// on -ENOSPC: written, just not cleaned up
	rf->fd = open(rf->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (rf->fd < 0) {
		int err = -errno;

		report_file_abort(rf);
		return err;
	}
	rf->f = open_memstream(&rf->buf, &rf->len);
	if (!rf->f) {
		report_file_abort(rf);
		return -ENOMEM;
	}
	return 0;
}

static void release_slot(struct report_file *rf)
{
	temp_forget(rf->slot);
	rf->slot = -1;
}

// Writes all of buf, or returns -errno (-ENOSPC on a full disk).
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int report_file_commit(struct report_file *rf)
{
	int err = 0;

	if (!rf->f)
		return -EBADF;
	if (ferror(rf->f))
		err = -EIO;
	if (fclose(rf->f) != 0 && !err)
		err = -errno;	// open_memstream: only -ENOMEM
	rf->f = NULL;
	if (!err)
		err = write_all(rf->fd, rf->buf, rf->len);
	if (close(rf->fd) != 0 && !err)
		err = -errno;	// some file systems report a full disk only here
	rf->fd = -1;
	free(rf->buf);
	rf->buf = NULL;
	if (!err && rename(rf->tmp_path, rf->path) != 0)
		err = -errno;
	if (err)
		unlink(rf->tmp_path);
	release_slot(rf);
	return err;
}

void report_file_abort(struct report_file *rf)
{
	if (rf->f) {
		fclose(rf->f);
		rf->f = NULL;
	}
	free(rf->buf);
	rf->buf = NULL;
	if (rf->fd >= 0) {
		close(rf->fd);
		rf->fd = -1;
		unlink(rf->tmp_path);
	}
	release_slot(rf);
}

int report_csv_open(struct report_csv *csv, const char *dir, const char *name,
		    const char *const *columns, size_t nr_columns)
{
	int err = report_file_open(&csv->file, dir, name);

	if (err)
		return err;
	csv->nr_columns = nr_columns;
	csv->column = 0;
	for (size_t i = 0; i < nr_columns; i++)
		report_csv_str(csv, columns[i]);
	return report_csv_end_row(csv);
}

static void begin_cell(struct report_csv *csv)
{
	if (csv->column++ > 0)
		fputc(',', csv->file.f);
}

void report_csv_str(struct report_csv *csv, const char *s)
{
	begin_cell(csv);
	if (!s)
		return;
	if (!strpbrk(s, ",\"\n\r")) {
		fputs(s, csv->file.f);
		return;
	}
	fputc('"', csv->file.f);
	for (const char *p = s; *p; p++) {
		if (*p == '"')
			fputc('"', csv->file.f);
		fputc(*p, csv->file.f);
	}
	fputc('"', csv->file.f);
}

void report_csv_u64(struct report_csv *csv, uint64_t v)
{
	begin_cell(csv);
	fprintf(csv->file.f, "%llu", (unsigned long long)v);
}

void report_csv_double(struct report_csv *csv, double v)
{
	begin_cell(csv);
	if (!isfinite(v))
		return;
	// Whole numbers (sizes, counts) exactly; measurements to 6 significant digits.
	if (v == floor(v) && fabs(v) < 9007199254740992.0)	// 2^53: exact in a double
		fprintf(csv->file.f, "%.0f", v);
	else
		fprintf(csv->file.f, "%.6g", v);
}

int report_csv_end_row(struct report_csv *csv)
{
	bool ok = csv->column == csv->nr_columns;

	csv->column = 0;
	fputc('\n', csv->file.f);
	return ok ? 0 : -EINVAL;
}

int report_csv_commit(struct report_csv *csv)
{
	return report_file_commit(&csv->file);
}

void report_csv_abort(struct report_csv *csv)
{
	report_file_abort(&csv->file);
}

void report_kv(struct report_file *rf, const char *key, const char *fmt, ...)
{
	va_list ap;

	fprintf(rf->f, "%s: ", key);
	va_start(ap, fmt);
	vfprintf(rf->f, fmt, ap);
	va_end(ap);
	fputc('\n', rf->f);
}
