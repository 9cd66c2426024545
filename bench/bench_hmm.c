// SPDX-License-Identifier: MIT
/*
 * bench_hmm - hmm_range_fault() against the host kernel, side by side in
 * one run, in ns per 4 KiB page.
 *
 * What is measured, and how (R = 256 MiB, 64 MiB with --quick):
 *   snap 4K    mmirror: an mm with R private anonymous, populated with
 *              4 KiB pages (MAP_POPULATE, untimed; THP_MADVISE without
 *              MADV_HUGEPAGE), an interval notifier over it; timed:
 *              mmu_interval_read_begin, mmap_read_lock, hmm_range_fault()
 *              with no request (a snapshot) of all of R, unlock.
 *              kernel: a helper process maps R (MADV_NOHUGEPAGE), writes
 *              one byte per page (untimed), opens /proc/self/pagemap;
 *              timed: one pread() of 8 bytes per page of R.
 *   snap THP   the same with a 2 MiB aligned R and MADV_HUGEPAGE on both
 *              sides (every mmirror result word is checked for order 9;
 *              the host's AnonHugePages is printed: it may decline).
 *   fault 4K   mmirror: a fresh mm and R (no THP) per repetition; timed:
 *              read_begin, mmap_read_lock, hmm_range_fault() with
 *              default_flags REQ_FAULT | REQ_WRITE over all of R (every
 *              page write-faulted, then reported), unlock.
 *              kernel: the helper maps R (MADV_NOHUGEPAGE) and writes one
 *              byte per page, each write a demand write fault.
 *
 * The kernel side runs in a helper process forked at start-up, before
 * mmirror's physical arena exists (bench_mm's trick: the helper must not
 * inherit the arena), one repetition per request over a pipe, alternating
 * mmirror and kernel repetitions so that machine drift hits both.
 *
 * Each figure: one warm-up repetition (untimed), then REPS repetitions;
 * median and minimum, CLOCK_MONOTONIC.  ratio = mmirror median / kernel
 * median.  Every mmirror repetition checks its result (every word VALID |
 * WRITE with the expected order and the CPU's pfn for the first and last
 * page), and the helper checks that pagemap reported every page present;
 * a wrong result fails the run (exit 1).
 *
 * Floors (issue 5): snapshots at least 2x faster per page than the
 * kernel's pagemap read (ratio <= 0.5); faults at least as fast as the
 * kernel's demand write fault (ratio <= 1).  The verdict is printed; with
 * --check a missed floor makes the exit status 2.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <mmirror/hmm.h>
#include <mmirror/mm.h>
#include "bench_util.h"

#define REPS_FULL 7
#define REPS_QUICK 3
#define MAX_REPS 64
#define HOST_PAGE 4096UL
#define HOST_HPAGE (2UL << 20)

enum host_op { HOST_PAGEMAP_4K, HOST_PAGEMAP_THP, HOST_FAULT_4K };

static struct host_res host_run(const struct host_req *rq)
{
	struct host_res r = { .anon_huge_kb = -1 };
	unsigned long len = rq->bytes + HOST_HPAGE, n = rq->bytes / HOST_PAGE;
	char *raw, *a;
	uint64_t *buf = NULL;
	double t0;
	int fd;

	raw = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED) {
		r.err = errno;
		return r;
	}
	a = (char *)(((unsigned long)raw + HOST_HPAGE - 1) & ~(HOST_HPAGE - 1));
	if (madvise(a, rq->bytes,
		    rq->op == HOST_PAGEMAP_THP ? MADV_HUGEPAGE :
						 MADV_NOHUGEPAGE)) {
		r.err = errno;
		goto out;
	}
	if (rq->op == HOST_FAULT_4K) {
		t0 = bench_now_ns();
		for (unsigned long off = 0; off < rq->bytes; off += HOST_PAGE)
			*(volatile char *)(a + off) = 1;
		r.ns = bench_now_ns() - t0;
		goto out;
	}
	for (unsigned long off = 0; off < rq->bytes; off += HOST_PAGE)
		*(volatile char *)(a + off) = 1;
	r.anon_huge_kb = bench_anon_huge_kb();
	buf = malloc(n * sizeof(*buf));
	fd = open("/proc/self/pagemap", O_RDONLY);
	if (!buf || fd < 0) {
		r.err = errno;
		goto out;
	}
	memset(buf, 0, n * sizeof(*buf)); /* fault the buffer in, untimed */
	t0 = bench_now_ns();
	if (pread(fd, buf, n * sizeof(*buf),
		  ((unsigned long)a / HOST_PAGE) * sizeof(*buf)) !=
	    (ssize_t)(n * sizeof(*buf)))
		r.err = errno ? errno : EIO;
	r.ns = bench_now_ns() - t0;
	close(fd);
	for (unsigned long i = 0; !r.err && i < n; i++)
		if (!(buf[i] >> 63)) /* bit 63: present */
			r.err = -1;
out:
	free(buf);
	munmap(raw, len);
	return r;
}

static double host_rep(int op, unsigned long bytes, long *huge_kb)
{
	struct host_res r = host_call(op, bytes);

	if (r.err == -1)
		bench_die("kernel pagemap: a page not present", -1);
	if (r.err)
		bench_die("host mmap/pagemap", -r.err);
	if (huge_kb)
		*huge_kb = r.anon_huge_kb;
	return r.ns;
}

/* ------------------------------------------------------------------------ */
/* The mmirror side.                                                         */
/* ------------------------------------------------------------------------ */

enum mm_op { MM_SNAP_4K, MM_SNAP_THP, MM_FAULT_4K };

static bool bench_invalidate(struct mmu_interval_notifier *mni,
			     const struct mmu_notifier_range *range,
			     unsigned long cur_seq)
{
	(void)range;
	mmu_interval_set_seq(mni, cur_seq); /* no device lock: one thread */
	return true;
}

static const struct mmu_interval_notifier_ops bench_ops = {
	.invalidate = bench_invalidate,
};

struct mm_side {
	struct mm_struct *mm;
	struct mmu_interval_notifier mni;
	unsigned long addr, bytes;
	unsigned long *pfns;
};

static void side_setup(struct mm_side *s, unsigned long bytes, int op)
{
	long a;

	s->bytes = bytes;
	s->mm = mm_alloc();
	if (IS_ERR(s->mm))
		bench_die("mm_alloc", PTR_ERR(s->mm));
	a = vm_mmap(s->mm, 0, bytes, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS);
	if (IS_ERR_VALUE(a))
		bench_die("vm_mmap", a);
	s->addr = a;
	if (op == MM_SNAP_THP && vm_madvise(s->mm, a, bytes, MADV_HUGEPAGE))
		bench_die("vm_madvise", -1);
	if (mmu_interval_notifier_insert(&s->mni, s->mm, a, bytes, &bench_ops))
		bench_die("mmu_interval_notifier_insert", -1);
	if (!s->pfns)
		s->pfns = calloc(bytes >> PAGE_SHIFT, sizeof(*s->pfns));
	if (!s->pfns)
		bench_die("calloc", -ENOMEM);
	/* Bring the result array into host memory (untimed). */
	memset(s->pfns, 0, (bytes >> PAGE_SHIFT) * sizeof(*s->pfns));
}

static void side_teardown(struct mm_side *s)
{
	mmu_interval_notifier_remove(&s->mni);
	mm_exit(s->mm);
	s->mm = NULL;
}

/* The driver's part, timed: read_begin, lock, hmm_range_fault, unlock. */
static double side_hmm(struct mm_side *s, unsigned long dflt)
{
	struct hmm_range r = {
		.notifier = &s->mni,
		.start = s->addr,
		.end = s->addr + s->bytes,
		.hmm_pfns = s->pfns,
		.default_flags = dflt,
	};
	double t0 = bench_now_ns(), t;
	int ret;

	do {
		r.notifier_seq = mmu_interval_read_begin(&s->mni);
		mmap_read_lock(s->mm);
		ret = hmm_range_fault(&r);
		mmap_read_unlock(s->mm);
	} while (ret == -EBUSY);
	t = bench_now_ns() - t0;
	if (ret)
		bench_die("hmm_range_fault", ret);
	return t;
}

/* Every word VALID|WRITE of @order; the ends agree with the CPU. */
static void side_check(struct mm_side *s, unsigned int order)
{
	unsigned long n = s->bytes >> PAGE_SHIFT, pfn;
	u64 e;

	for (unsigned long i = 0; i < n; i++)
		if ((s->pfns[i] & HMM_PFN_FLAGS) !=
		    (HMM_PFN_VALID | HMM_PFN_WRITE |
		     ((unsigned long)order << HMM_PFN_ORDER_SHIFT)))
			bench_die("result word flags", (long)i);
	if (follow_pte_pfn(s->mm, s->addr, &pfn, &e) ||
	    pfn != (s->pfns[0] & ~HMM_PFN_FLAGS))
		bench_die("result pfn (first page)", -1);
	if (follow_pte_pfn(s->mm, s->addr + s->bytes - PAGE_SIZE, &pfn, &e) ||
	    pfn != (s->pfns[n - 1] & ~HMM_PFN_FLAGS))
		bench_die("result pfn (last page)", -1);
}

/* ------------------------------------------------------------------------ */

struct result {
	double mm_med, mm_min, k_med, k_min;
	long huge_kb;
};

static struct result run_snap(bool thp, unsigned long bytes, int reps)
{
	struct mm_side s = { 0 };
	double mmv[MAX_REPS], kv[MAX_REPS];
	int hop = thp ? HOST_PAGEMAP_THP : HOST_PAGEMAP_4K;
	struct result r;

	side_setup(&s, bytes, thp ? MM_SNAP_THP : MM_SNAP_4K);
	/* Populate (untimed) with a write fault of every page. */
	side_hmm(&s, HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE);
	side_hmm(&s, 0); /* warm-up */
	side_check(&s, thp ? PMD_SHIFT - PAGE_SHIFT : 0);
	host_rep(hop, bytes, NULL);
	for (int i = 0; i < reps; i++) {
		mmv[i] = side_hmm(&s, 0);
		kv[i] = host_rep(hop, bytes, &r.huge_kb);
	}
	side_check(&s, thp ? PMD_SHIFT - PAGE_SHIFT : 0);
	side_teardown(&s);
	free(s.pfns);
	r.mm_med = bench_median(mmv, reps);
	r.mm_min = mmv[0];
	r.k_med = bench_median(kv, reps);
	r.k_min = kv[0];
	return r;
}

static struct result run_fault(unsigned long bytes, int reps)
{
	struct mm_side s = { 0 };
	double mmv[MAX_REPS], kv[MAX_REPS];
	struct result r = { .huge_kb = -1 };

	for (int i = -1; i < reps; i++) {
		side_setup(&s, bytes, MM_FAULT_4K);
		double t = side_hmm(&s, HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE);

		side_check(&s, 0);
		side_teardown(&s);
		double k = host_rep(HOST_FAULT_4K, bytes, NULL);

		if (i >= 0) {
			mmv[i] = t;
			kv[i] = k;
		}
	}
	free(s.pfns);
	r.mm_med = bench_median(mmv, reps);
	r.mm_min = mmv[0];
	r.k_med = bench_median(kv, reps);
	r.k_min = kv[0];
	return r;
}

static void print_machine(unsigned long bytes, int reps)
{
	char model[200] = "unknown", thp[128], release[128];
	char load[128], date[64];
	time_t now = time(NULL);
	int cpus = 0;

	cpus = bench_cpu_model(model, sizeof(model));
	bench_read_sys("/proc/sys/kernel/osrelease", release, sizeof(release));
	bench_read_sys("/sys/kernel/mm/transparent_hugepage/enabled", thp,
		       sizeof(thp));
	bench_read_sys("/proc/loadavg", load, sizeof(load));
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S %Z", localtime(&now));
	printf("# bench_hmm  %s\n", date);
	printf("# cpu: %s (%d logical cpus); host kernel %s\n", model, cpus,
	       release);
	printf("# host THP enabled: %s; load average: %s\n", thp, load);
	printf("# compiler: %s, %s%s\n", __VERSION__,
#ifdef __OPTIMIZE__
	       "optimized",
#else
	       "NOT optimized (-O0)",
#endif
#if defined(MMIRROR_ASAN) || defined(MMIRROR_TSAN)
	       ", sanitizer build (numbers not representative)"
#else
	       ", no sanitizers"
#endif
	);
	printf("# method: %lu MiB region, 1 warm-up + median and min of %d "
	       "repetitions, CLOCK_MONOTONIC, ns per 4 KiB page;\n"
	       "#   mmirror: read_begin + mmap_read_lock + hmm_range_fault "
	       "+ unlock, one thread;\n"
	       "#   kernel: helper process, pread of /proc/self/pagemap "
	       "(snap) or one write per fresh page (fault)\n"
	       "# ratio = mmirror median / kernel median; floors (issue 5): "
	       "snap ratio <= 0.5, fault ratio <= 1\n\n",
	       bytes >> 20, reps);
	printf("%-19s%s %s\n", "", "----- mmirror ------",
	       "------ kernel ------");
	printf("%-10s %7s %10s %9s %10s %9s %7s  %s\n", "benchmark", "pages",
	       "ns/pg med", "ns/pg min", "ns/pg med", "ns/pg min", "ratio",
	       "floor");
}

static bool report(const char *name, const struct result *r,
		   unsigned long pages, double floor)
{
	double ratio = r->mm_med / r->k_med;
	bool met = ratio <= floor;

	printf("%-10s %7lu %10.1f %9.1f %10.1f %9.1f %7.3f  %s (<= %.1f)\n",
	       name, pages, r->mm_med / pages, r->mm_min / pages,
	       r->k_med / pages, r->k_min / pages, ratio,
	       met ? "met" : "MISSED", floor);
	fflush(stdout);
	return met;
}

int main(int argc, char **argv)
{
	unsigned long mb = 256;
	int reps = REPS_FULL;
	bool check = false, ok = true;
	const char *only = NULL;
	bench_name = "bench_hmm";

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			mb = 64;
			reps = REPS_QUICK;
		} else if (!strcmp(argv[i], "--check")) {
			check = true;
		} else if (!strcmp(argv[i], "--mb") && i + 1 < argc) {
			mb = strtoul(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
			reps = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
			only = argv[++i];
		} else {
			fprintf(stderr, "usage: bench_hmm [--quick] [--mb N] "
					"[--reps N] [--only snap|thp|fault] "
					"[--check]\n");
			return argv[i][2] == 'h' ? 0 : 1;
		}
	}
	if (reps < 1 || reps > MAX_REPS || mb < 2 || mb % 2)
		bench_die("arguments", -EINVAL);
	unsigned long bytes = mb << 20, pages = bytes >> PAGE_SHIFT;

	host_start(host_run);
	/* Room for one populated region plus its tables and slack. */
	if (mem_init(ALIGN_UP(2 * bytes + (64UL << 20), 1UL << 30)))
		bench_die("mem_init", -ENOMEM);
	print_machine(bytes, reps);

	if (!only || !strcmp(only, "snap")) {
		struct result r = run_snap(false, bytes, reps);

		ok &= report("snap 4K", &r, pages, 0.5);
	}
	if (!only || !strcmp(only, "thp")) {
		struct result r = run_snap(true, bytes, reps);

		ok &= report("snap THP", &r, pages, 0.5);
		printf("#   host AnonHugePages during the THP pagemap read: "
		       "%ld kB of %lu kB\n",
		       r.huge_kb, bytes >> 10);
	}
	if (!only || !strcmp(only, "fault")) {
		struct result r = run_fault(bytes, reps);

		ok &= report("fault 4K", &r, pages, 1.0);
	}
	host_stop();
	printf("\n# verdict: %s\n",
	       ok ? "every floor met" : "a floor was MISSED (see above)");
	return check && !ok ? 2 : 0;
}
