// SPDX-License-Identifier: MIT
/*
 * bench_interval_tree - cost of the interval tree operations the mmu
 * interval notifier performs: insert (mmu_interval_notifier_insert),
 * remove, and the overlap query every invalidation runs.
 *
 * What is measured, and how:
 *   - N = 1e3, 1e4, 1e5, 1e6 intervals, random page-aligned ranges over a
 *     47-bit address space (a user address space), sizes log-uniform in
 *     three classes like VMAs and driver ranges: 70% 1-16 pages, 25%
 *     16-512 pages, 5% 512 pages-1 GiB.  Nodes live in one array (64 bytes
 *     each) but are inserted in random address order, so tree neighbours
 *     are scattered in memory.
 *   - insert: time to insert all N nodes into an empty tree / N;
 *     remove: time to remove all N in a random order / N.
 *   - query: a batch of prepared queries, each a full
 *     interval_tree_for_each() that counts the overlapping nodes; three
 *     classes, selected beforehand by their result count: 0 results
 *     (random 1-16 page ranges that hit nothing), ~1 result (the first
 *     page of a random node, kept if exactly 1 overlaps), ~16 results
 *     (from one node's start to the 16th node's start, kept if 16-20
 *     overlap).  The mean result count is printed as k.
 *   - linear: the same query batches answered by scanning a list of all
 *     nodes (what half the pre-2019 drivers did), for N <= 1e5.
 *   - each figure is the median (and the minimum, less sensitive to other
 *     load on the machine) over REPS repetitions of the whole batch, timed
 *     with clock_gettime(CLOCK_MONOTONIC); ns/op = batch time / ops.
 * Single-threaded; no locking is involved (the tree has none).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <mmirror/interval_tree.h>
#include <mmirror/list.h>
#include "bench_util.h"

#define PAGE_SHIFT_B 12
#define VA_BITS 47
#define REPS 5
#define NQUERY 20000

struct bnode {
	struct interval_tree_node it;
	struct list_head list;
	unsigned long pad;
};

static unsigned long long rng_state = 0x1234567;

static unsigned long long rnd(void)
{
	unsigned long long z = (rng_state += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* log-uniform in [lo, hi] pages */
static unsigned long log_uniform(unsigned lo_shift, unsigned hi_shift)
{
	unsigned s = lo_shift + rnd() % (hi_shift - lo_shift + 1);
	unsigned long base = 1UL << s;

	return base + rnd() % base;
}

static void random_range(unsigned long *start, unsigned long *last)
{
	unsigned r = rnd() % 100;
	unsigned long pages, s;

	if (r < 70)
		pages = log_uniform(0, 3); /* 1-16 pages */
	else if (r < 95)
		pages = log_uniform(4, 8); /* 16-512 pages */
	else
		pages = log_uniform(9, 17); /* 512 pages - 1 GiB */
	s = (rnd() % ((1UL << (VA_BITS - PAGE_SHIFT_B)) - pages))
	    << PAGE_SHIFT_B;
	*start = s;
	*last = s + (pages << PAGE_SHIFT_B) - 1;
}

static double print_row(long n, const char *op, double *v, double k, long ops)
{
	double med = bench_median(v, REPS);
	char kbuf[16] = "-";

	if (k >= 0)
		snprintf(kbuf, sizeof(kbuf), "%.2f", k);
	printf("%9ld  %-18s %10.1f %10.1f  %7s  %9ld\n", n, op, med, v[0], kbuf,
	       ops);
	return med;
}

static size_t tree_count(const struct rb_root_cached *root, unsigned long s,
			 unsigned long l)
{
	struct interval_tree_node *it;
	size_t c = 0;

	interval_tree_for_each(it, root, s, l)
		c++;
	return c;
}

static size_t list_count(const struct list_head *head, unsigned long s,
			 unsigned long l)
{
	const struct bnode *b;
	size_t c = 0;

	list_for_each_entry(b, head, list)
		c += b->it.start <= l && s <= b->it.last;
	return c;
}

struct query {
	unsigned long s, l;
};

static int cmp_ulong(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a;
	unsigned long y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

/* Fill q[0..nq) with queries of a class; returns the mean result count. */
static double make_queries(int cls, struct query *q, int nq,
			   const struct rb_root_cached *root,
			   const struct bnode *nodes,
			   const unsigned long *starts, long n)
{
	double total = 0;

	for (int i = 0; i < nq;) {
		unsigned long s, l;
		size_t c;

		if (cls == 0) {
			random_range(&s, &l);
			if (l - s >= (16UL << PAGE_SHIFT_B))
				l = s + (16UL << PAGE_SHIFT_B) - 1;
		} else if (cls == 1) {
			s = nodes[rnd() % n].it.start;
			l = s + (1UL << PAGE_SHIFT_B) - 1;
		} else {
			long j = rnd() % (n - 15);

			s = starts[j];
			l = starts[j + 15];
		}
		c = tree_count(root, s, l);
		if ((cls == 0 && c != 0) || (cls == 1 && c != 1) ||
		    (cls == 2 && (c < 16 || c > 20)))
			continue;
		q[i].s = s;
		q[i].l = l;
		total += c;
		i++;
	}
	return total / nq;
}

static volatile size_t sink;

static void bench_n(long n)
{
	struct bnode *nodes = calloc(n, sizeof(*nodes));
	unsigned long *starts = malloc(n * sizeof(*starts));
	long *order = malloc(n * sizeof(*order));
	struct query *q = malloc(NQUERY * sizeof(*q));
	struct rb_root_cached root = RB_ROOT_CACHED;
	double t_ins[REPS], t_rem[REPS], t[REPS];
	static const char *const qname[] = { "query k=0", "query k~1",
					     "query k~16" };
	LIST_HEAD(list);

	if (!nodes || !starts || !order || !q) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	for (long i = 0; i < n; i++) {
		random_range(&nodes[i].it.start, &nodes[i].it.last);
		starts[i] = nodes[i].it.start;
		list_add_tail(&nodes[i].list, &list);
	}
	qsort(starts, n, sizeof(*starts), cmp_ulong);

	for (int r = 0; r < REPS; r++) {
		double t0;

		/* A fresh random removal order each repetition. */
		for (long i = 0; i < n; i++) {
			long j = rnd() % (i + 1);

			order[i] = order[j];
			order[j] = i;
		}
		t0 = bench_now_ns();
		for (long i = 0; i < n; i++)
			interval_tree_insert(&nodes[i].it, &root);
		t_ins[r] = (bench_now_ns() - t0) / n;
		t0 = bench_now_ns();
		for (long i = 0; i < n; i++)
			interval_tree_remove(&nodes[order[i]].it, &root);
		t_rem[r] = (bench_now_ns() - t0) / n;
		if (!RB_EMPTY_ROOT(&root.rb_root)) {
			fprintf(stderr, "tree not empty after removes\n");
			exit(1);
		}
	}
	print_row(n, "insert", t_ins, -1, n);
	print_row(n, "remove", t_rem, -1, n);

	for (long i = 0; i < n; i++)
		interval_tree_insert(&nodes[i].it, &root);
	for (int cls = 0; cls < 3; cls++) {
		double k =
			make_queries(cls, q, NQUERY, &root, nodes, starts, n);
		int nlin = n <= 100000 ? (int)min(NQUERY, 20000000L / n) : 0;
		double tree_ns, lin_ns;
		char name[40];

		for (int r = 0; r < REPS; r++) {
			double t0 = bench_now_ns();
			size_t c = 0;

			for (int i = 0; i < NQUERY; i++)
				c += tree_count(&root, q[i].s, q[i].l);
			t[r] = (bench_now_ns() - t0) / NQUERY;
			sink = c;
		}
		tree_ns = print_row(n, qname[cls], t, k, NQUERY);
		if (!nlin)
			continue;
		for (int r = 0; r < REPS; r++) {
			double t0 = bench_now_ns();
			size_t c = 0;

			for (int i = 0; i < nlin; i++)
				c += list_count(&list, q[i].s, q[i].l);
			t[r] = (bench_now_ns() - t0) / nlin;
			sink = c;
		}
		snprintf(name, sizeof(name), "%s linear", qname[cls] + 6);
		lin_ns = print_row(n, name, t, k, nlin);
		printf("%9ld  %-18s %9.0fx\n", n, "  linear/tree",
		       lin_ns / tree_ns);
	}
	free(q);
	free(order);
	free(starts);
	free(nodes);
}

static void print_machine(void)
{
	char model[200] = "unknown";
	int cpus = 0;
	time_t now = time(NULL);
	char date[64];

	cpus = bench_cpu_model(model, sizeof(model));
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S %Z", localtime(&now));
	printf("# bench_interval_tree  %s\n", date);
	printf("# cpu: %s (%d logical cpus)\n", model, cpus);
	printf("# compiler: %s, ", __VERSION__);
#ifdef __OPTIMIZE__
	printf("optimized");
#else
	printf("NOT optimized (-O0)");
#endif
#if defined(MMIRROR_ASAN)
	printf(", ASan+UBSan build (numbers not representative)");
#elif defined(MMIRROR_TSAN)
	printf(", TSan build (numbers not representative)");
#else
	printf(", no sanitizers");
#endif
	printf("\n# method: median and min of %d repetitions, CLOCK_MONOTONIC, "
	       "single thread; sizes 70%% 1-16p, 25%% 16-512p, 5%% 512p-1GiB "
	       "over 2^47 bytes\n",
	       REPS);
	printf("# insert/remove: ns per op over building/emptying a tree of N;"
	       " query: ns per full for_each over k results\n\n");
	printf("%9s  %-18s %10s %10s  %7s  %9s\n", "N", "op", "ns/op med",
	       "ns/op min", "k", "ops/rep");
}

int main(int argc, char **argv)
{
	long ns[] = { 1000, 10000, 100000, 1000000 };
	double t0 = bench_now_ns();

	print_machine();
	for (size_t i = 0; i < ARRAY_SIZE(ns); i++)
		bench_n(ns[i]);
	printf("\n# total %.1f s\n", (bench_now_ns() - t0) / 1e9);
	return 0;
}
