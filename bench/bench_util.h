/* SPDX-License-Identifier: MIT */
/*
 * bench_util.h - what the benchmarks share: timing, medians, machine facts,
 * and the kernel-side helper process.
 *
 * The helper process: comparisons with the host kernel run its side in a
 * process forked at start-up, before mmirror's physical arena exists, so
 * that e.g. the kernel's fork() does not also copy the page tables of a
 * gigabyte of arena.  The main process asks it for one repetition at a
 * time over a pipe (host_call); each benchmark supplies the function that
 * runs one request (host_start(fn)).
 */
#ifndef MMIRROR_BENCH_UTIL_H
#define MMIRROR_BENCH_UTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Set by each benchmark's main() for error messages. */
static const char *bench_name = "bench";

static inline double bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Sorts @v; returns the median.  v[0] is then the minimum. */
static inline double bench_median(double *v, int n)
{
	qsort(v, n, sizeof(*v), bench_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static inline void __attribute__((noreturn))
bench_die(const char *what, long err)
{
	fprintf(stderr, "%s: %s failed (%ld)\n", bench_name, what, err);
	exit(1);
}

/* AnonHugePages of this process in kB, or -1 if the kernel does not say. */
static inline long bench_anon_huge_kb(void)
{
	FILE *f = fopen("/proc/self/smaps_rollup", "r");
	char line[256];
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* The first line of @path, or "unknown". */
static inline void bench_read_sys(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	snprintf(buf, len, "unknown");
	if (!f)
		return;
	if (!fgets(buf, len, f))
		snprintf(buf, len, "unknown");
	buf[strcspn(buf, "\n")] = 0;
	fclose(f);
}

/* The CPU model name into @model and the number of logical CPUs. */
static inline int bench_cpu_model(char *model, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256];
	int cpus = 0;

	snprintf(model, len, "unknown");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char *c;

		if (strncmp(line, "model name", 10))
			continue;
		c = strchr(line, ':');
		if (c && !cpus) {
			snprintf(model, len, "%s", c + 2);
			model[strcspn(model, "\n")] = 0;
		}
		cpus++;
	}
	fclose(f);
	return cpus;
}

/* --- the kernel-side helper process ------------------------------------- */

#define HOST_OP_QUIT (-1)

struct host_req {
	int op; /* the benchmark's operation, or HOST_OP_QUIT */
	unsigned long bytes;
};

struct host_res {
	double ns; /* the timed section */
	long anon_huge_kb; /* AnonHugePages while mapped, -1 unknown */
	int err; /* 0, or an errno (or a benchmark's own code) */
	char what[32]; /* what failed, when err */
};

typedef struct host_res (*host_fn)(const struct host_req *rq);

static int bench_to_host = -1, bench_from_host = -1;
static pid_t bench_host_pid;

static inline void __attribute__((noreturn))
host_loop(host_fn fn, int rfd, int wfd)
{
	struct host_req rq;
	struct host_res r;

	while (read(rfd, &rq, sizeof(rq)) == sizeof(rq) &&
	       rq.op != HOST_OP_QUIT) {
		r = fn(&rq);
		if (write(wfd, &r, sizeof(r)) != sizeof(r))
			_exit(1);
	}
	_exit(0);
}

/* Fork the kernel-side helper; must run before the arena exists. */
static inline void host_start(host_fn fn)
{
	int req[2], res[2];

	if (pipe(req) || pipe(res))
		bench_die("pipe", errno);
	fflush(NULL);
	bench_host_pid = fork();
	if (bench_host_pid < 0)
		bench_die("fork", errno);
	if (bench_host_pid == 0) {
		close(req[1]);
		close(res[0]);
		host_loop(fn, req[0], res[1]);
	}
	close(req[0]);
	close(res[1]);
	bench_to_host = req[1];
	bench_from_host = res[0];
}

static inline void host_stop(void)
{
	struct host_req rq = { .op = HOST_OP_QUIT };

	if (write(bench_to_host, &rq, sizeof(rq)) != sizeof(rq))
		bench_die("write to helper", errno);
	waitpid(bench_host_pid, NULL, 0);
}

/* One kernel repetition; the caller looks at r.err. */
static inline struct host_res host_call(int op, unsigned long bytes)
{
	struct host_req rq = { .op = op, .bytes = bytes };
	struct host_res r;

	if (write(bench_to_host, &rq, sizeof(rq)) != sizeof(rq) ||
	    read(bench_from_host, &r, sizeof(r)) != sizeof(r))
		bench_die("helper I/O", errno);
	return r;
}

#endif /* MMIRROR_BENCH_UTIL_H */
