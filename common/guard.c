// SPDX-License-Identifier: MIT
// guard: supervised child with a time limit and a memory limit (see guard.h).
#include "guard.h"
#include "sanitizer.h"

#include <errno.h>
#include <stdbool.h>
#include <stdnoreturn.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

static void set_limit(int resource, uint64_t bytes)
{
	struct rlimit rl;

	if (bytes == 0 || getrlimit(resource, &rl) != 0)
		return;
	// Only ever lower a limit: raising it past the hard limit would fail for a normal user.
	if (rl.rlim_max != RLIM_INFINITY && bytes > rl.rlim_max)
		bytes = rl.rlim_max;
	rl.rlim_cur = bytes;
	(void)setrlimit(resource, &rl);	// best effort: the parent's limit still applies
}

// The child starts with every caught signal back at its default action: a parent's handlers (the
// lab's temporary-file cleanup, a test framework's crash catcher) must not run in the child, and a
// deliberate crash must end it. fn() may install its own handlers afterwards.
static void reset_signal_handlers(void)
{
	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction sa;

		if (sig == SIGKILL || sig == SIGSTOP || sigaction(sig, NULL, &sa) != 0)
			continue;
		if (sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN)
			(void)signal(sig, SIG_DFL);	// cannot fail for a valid catchable signal
	}
}

static noreturn void run_child(int (*fn)(void *), void *arg, const struct guard_limits *limits,
			       pid_t parent, const sigset_t *mask)
{
	struct rlimit no_core = { 0, 0 };

	// If the lab is killed (Ctrl-C, SIGTERM), its supervised child must not outlive it.
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	reset_signal_handlers();
	(void)pthread_sigmask(SIG_SETMASK, mask, NULL);	// the parent blocked some around fork()
	(void)setrlimit(RLIMIT_CORE, &no_core);	// a deliberate crash leaves no core file
	// A sanitizer's shadow memory already exceeds any sensible limit: there it would only kill.
	if (!sanitizer_name())
		set_limit(RLIMIT_AS, limits->max_as_bytes);
	set_limit(RLIMIT_STACK, limits->max_stack_bytes);
	int status = fn(arg);
	fflush(NULL);
	_exit(status & 0xff);
}

static int pidfd_open_compat(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	errno = ENOSYS;
	return -1;
#endif
}

// Waits until the child exits or deadline_ns passes. Returns 1 if it exited, 0 on timeout.
static int wait_until(pid_t pid, uint64_t deadline_ns)
{
	int pidfd = pidfd_open_compat(pid);

	for (;;) {
		siginfo_t info = { 0 };

		// WNOWAIT: look without reaping, so wait4() below still gets the rusage.
		if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
		    info.si_pid == pid)
			break;
		uint64_t now = clock_now_ns();
		if (deadline_ns && now >= deadline_ns) {
			if (pidfd >= 0)
				close(pidfd);
			return 0;
		}
		int wait_ms = deadline_ns ? (int)((deadline_ns - now + 999999) / 1000000) : 1000;
		if (pidfd >= 0) {
			struct pollfd pfd = { .fd = pidfd, .events = POLLIN };

			(void)poll(&pfd, 1, wait_ms);	// EINTR: just look again
		} else {
			// Old kernel without pidfd: poll the child every millisecond.
			struct timespec ms = { 0, 1000000 };

			nanosleep(&ms, NULL);
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	return 1;
}

// While a child runs, a SIGINT, SIGTERM or SIGHUP for the lab first kills and reaps the child
// (its parent-death signal would kill it too, but leave a zombie until init reaps it), then goes to
// the handler that was there before (the lab's temporary-file cleanup, or the default).
static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP };
#define NR_FORWARDED (sizeof(forwarded) / sizeof(forwarded[0]))
static volatile sig_atomic_t running_child;
// The running child leads a process group of its own (an exec'd program such as perf, whose own
// workers must end with it): signals go to the whole group.
static volatile sig_atomic_t running_group;
// Set by guard_exec() for the guard_run() it calls.
static bool next_in_own_group;
static struct sigaction saved[NR_FORWARDED];

static void kill_child_then_forward(int sig)
{
	pid_t pid = running_child;

	if (pid > 0) {
		pid_t target = running_group ? -pid : pid;
		struct timespec step = { 0, 5000000 };

		// SIGTERM first, for up to 300 ms: a child that supervises children of its own (a lab
		// running perf in a process of its comparison) then kills and reaps them as this
		// handler does here. Then SIGKILL.
		kill(target, SIGTERM);
		for (int tries = 0; tries < 60 && waitpid(pid, NULL, WNOHANG) == 0; tries++)
			nanosleep(&step, NULL);
		kill(target, SIGKILL);
		(void)waitpid(pid, NULL, 0);	// async-signal-safe; the child is dead or dying
		// Its own children (a leak checker's tracer, a tool's helpers) die with it by their
		// parent-death signal and, this process being a subreaper, come to us: reap them too,
		// waiting up to 200 ms for the last to die. Only here, where the process is ending:
		// elsewhere this could take the status of a child someone else waits for.
		for (int tries = 0; tries < 40;) {
			pid_t other = waitpid(-1, NULL, WNOHANG);

			if (other < 0)
				break;		// ECHILD: nobody left
			if (other == 0) {
				struct timespec wait = { 0, 5000000 };

				nanosleep(&wait, NULL);
				tries++;
			}
		}
	}
	for (size_t i = 0; i < NR_FORWARDED; i++) {
		if (forwarded[i] == sig) {
			(void)sigaction(sig, &saved[i], NULL);
			raise(sig);	// delivered to the previous handler when this one returns
		}
	}
}

static void forward_signals(bool on)
{
	for (size_t i = 0; i < NR_FORWARDED; i++) {
		if (on) {
			struct sigaction sa = { .sa_handler = kill_child_then_forward };

			sigemptyset(&sa.sa_mask);
			if (sigaction(forwarded[i], NULL, &saved[i]) != 0 ||
			    saved[i].sa_handler == SIG_IGN)	// keep an inherited "ignore" (nohup)
				continue;
			(void)sigaction(forwarded[i], &sa, NULL);
		} else {
			(void)sigaction(forwarded[i], &saved[i], NULL);
		}
	}
}

int guard_run(int (*fn)(void *arg), void *arg, const struct guard_limits *limits,
	      struct guard_result *result)
{
	static const struct guard_limits no_limits;
	pid_t parent = getpid();
	int status;

	if (!limits)
		limits = &no_limits;
	memset(result, 0, sizeof(*result));
	fflush(NULL);	// or the child's exit would print our buffered output twice
	uint64_t start = clock_now_ns();
	forward_signals(true);
	// Orphaned descendants of the child are reparented to this process, not to init, so that
	// the signal path can reap them (init in a container may never do it).
	(void)prctl(PR_SET_CHILD_SUBREAPER, 1);
	// Block the forwarded signals until the child's pid is recorded: one that arrives while fork()
	// copies a large address space is delivered as fork() returns, and the handler must then
	// know whom to kill and reap.
	sigset_t block, old;
	sigemptyset(&block);
	for (size_t i = 0; i < NR_FORWARDED; i++)
		sigaddset(&block, forwarded[i]);
	(void)pthread_sigmask(SIG_BLOCK, &block, &old);	// cannot fail with valid arguments
	bool own_group = next_in_own_group;
	next_in_own_group = false;
	pid_t pid = fork();
	if (pid < 0) {
		int err = -errno;

		(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
		forward_signals(false);
		return err;
	}
	if (pid == 0) {
		if (own_group)
			(void)setpgid(0, 0);	// both sides set it: whichever runs first
		run_child(fn, arg, limits, parent, &old);
	}
	if (own_group)
		(void)setpgid(pid, pid);	// EACCES once the child has exec'd: it did it itself
	running_group = own_group;
	running_child = pid;
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);

	uint64_t deadline = limits->timeout_ms ? start + limits->timeout_ms * 1000000 : 0;
	bool timed_out = !wait_until(pid, deadline);
	if (timed_out)
		kill(own_group ? -pid : pid, SIGKILL);
	int err = 0;
	while (wait4(pid, &status, 0, &result->usage) < 0) {
		if (errno != EINTR) {
			err = -errno;
			break;
		}
	}
	running_child = 0;
	running_group = 0;
	forward_signals(false);
	if (err)
		return err;
	result->elapsed_ns = clock_now_ns() - start;
	if (timed_out) {
		result->outcome = GUARD_TIMED_OUT;
		result->signal = SIGKILL;
	} else if (WIFSIGNALED(status)) {
		result->outcome = GUARD_SIGNALED;
		result->signal = WTERMSIG(status);
	} else {
		result->outcome = GUARD_EXITED;
		result->exit_status = WEXITSTATUS(status);
	}
	return 0;
}

void *guard_shared_alloc(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

void guard_shared_free(void *p, size_t bytes)
{
	if (p)
		munmap(p, bytes);
}

const char *guard_describe(const struct guard_result *r, char *buf, size_t len)
{
	double ms = (double)r->elapsed_ns / 1e6;

	switch (r->outcome) {
	case GUARD_EXITED:
		snprintf(buf, len, "exited with status %d after %.0f ms", r->exit_status, ms);
		break;
	case GUARD_SIGNALED:
		snprintf(buf, len, "killed by SIG%s (%s) after %.0f ms", sigabbrev_np(r->signal),
			 strsignal(r->signal), ms);
		break;
	case GUARD_TIMED_OUT:
		snprintf(buf, len, "still running at the %.0f ms time limit: killed", ms);
		break;
	}
	return buf;
}

struct exec_job {
	char *const *argv;
	const char *const *env;
	int out_fd;
};

static int exec_child(void *arg)
{
	const struct exec_job *job = arg;

	for (const char *const *e = job->env; e && *e; e++)
		putenv((char *)*e);	// the child's own copy of the environment: nothing to free
	if (dup2(job->out_fd, STDOUT_FILENO) < 0 || dup2(job->out_fd, STDERR_FILENO) < 0)
		return 126;
	execvp(job->argv[0], job->argv);
	return 127;
}

int guard_exec(char *const argv[], const char *const env[], const struct guard_limits *limits,
	       char *out, size_t len, struct guard_result *result)
{
	// An anonymous file rather than a pipe: nobody reads while guard_run() waits, and a pipe
	// would block a program that writes more than its buffer.
	int fd = memfd_create("guard-output", MFD_CLOEXEC);
	struct exec_job job = { argv, env, fd };

	if (len)
		out[0] = '\0';
	if (fd < 0)
		return -errno;
	// A program may start processes of its own (perf bench's partner): in a group of their
	// own, they end with it.
	next_in_own_group = true;
	int err = guard_run(exec_child, &job, limits, result);
	if (!err && len) {
		ssize_t n = pread(fd, out, len - 1, 0);

		out[n > 0 ? n : 0] = '\0';
	}
	close(fd);
	return err;
}
