// SPDX-License-Identifier: MIT
/*
 * bench_mm - the host-MMU model against the host kernel, side by side in one
 * run: demand write faults (4 KiB pages and THP), munmap of a populated
 * region, and fork of a populated region, in ns per 4 KiB page.
 *
 * What is measured, and how (R = 256 MiB, 64 MiB with --quick):
 *   fault 4K   mmirror: a fresh mm, vm_mmap(R, private anonymous) with THP
 *              mode THP_MADVISE and no MADV_HUGEPAGE; one simulated CPU
 *              (cpu_create) stores one u64 into each 4 KiB page
 *              (cpu_store_u64), each store taking a demand write fault.
 *              kernel: mmap(R, MAP_PRIVATE|MAP_ANONYMOUS),
 *              madvise(MADV_NOHUGEPAGE), one byte written per 4 KiB page.
 *   fault THP  the same with a 2 MiB aligned region and MADV_HUGEPAGE on
 *              both sides; still ns per 4 KiB page of address space.  The
 *              host's THP setting and AnonHugePages are printed: the host
 *              may decline to give huge pages.
 *   munmap     R populated with 4 KiB pages (untimed), then only the
 *              vm_munmap()/munmap() is timed.
 *   fork       R populated with 4 KiB pages (untimed), then mm_fork() /
 *              fork() is timed (the kernel's in the parent, from before
 *              fork() to its return; the child _exit(0)s at once; waitpid,
 *              mm_exit of the mmirror child and the unmap are untimed).
 *
 * The kernel side runs in a helper process forked at start-up, before the
 * physical arena exists: a fork() from the benchmark process itself would
 * also copy the page tables of mmirror's arena (hundreds of MiB of host
 * memory) and bill the kernel for work mmirror does not do.  The parent
 * asks the helper for one repetition at a time over a pipe, alternating
 * mmirror and kernel repetitions so that drift of the machine hits both.
 *
 * Each figure: one warm-up repetition (untimed: it brings mmirror's arena
 * into host memory, as physical memory is for a real kernel), then REPS
 * repetitions, each on a fresh mm / fresh mapping; median and minimum,
 * clock_gettime(CLOCK_MONOTONIC).  ratio = mmirror median / kernel median.
 * Every mmirror repetition checks what it built (no huge leaf for 4K, a
 * PMD leaf in every 2 MiB for THP, the fault count, RSS before and after
 * munmap and in the fork child) and the run fails (exit 1) if it is wrong.
 *
 * Floors (issue 3): each mmirror figure at least as fast per page as the
 * kernel's in the same run, i.e. ratio <= 1.  The verdict is printed; with
 * --check a missed floor makes the exit status 2.
 *
 * Single-threaded (one simulated CPU); the kernel helper is
 * single-threaded too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <mmirror/cpu.h>
#include <mmirror/mm.h>
#include "bench_util.h"

#define REPS_FULL 5
#define REPS_QUICK 3
#define MAX_REPS 64
#define HOST_PAGE 4096UL
#define HOST_HPAGE (2UL << 20)

static volatile unsigned long sink;
static bool verbose; /* --verbose: print every repetition */

/* ------------------------------------------------------------------------ */
/* The kernel side: a helper process that measures one repetition per     */
/* request.                                                                 */
/* ------------------------------------------------------------------------ */

enum host_op {
	HOST_FAULT_4K,
	HOST_FAULT_THP,
	HOST_MUNMAP,
	HOST_FORK,
	HOST_FORK_EMPTY, /* fork() of the helper alone: the fixed cost */
};

static char *host_map(unsigned long bytes, int advice, char **raw,
		      unsigned long *raw_len)
{
	unsigned long len = bytes + HOST_HPAGE;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *a;

	if (p == MAP_FAILED)
		return NULL;
	a = (char *)(((unsigned long)p + HOST_HPAGE - 1) & ~(HOST_HPAGE - 1));
	/* Advice only for the aligned part, so the VMA splits at 2 MiB. */
	if (madvise(a, bytes, advice)) {
		munmap(p, len);
		return NULL;
	}
	*raw = p;
	*raw_len = len;
	return a;
}

static void host_touch(char *a, unsigned long bytes)
{
	for (unsigned long off = 0; off < bytes; off += HOST_PAGE)
		*(volatile char *)(a + off) = 1;
}

static struct host_res host_run(const struct host_req *rq)
{
	struct host_res r = { .anon_huge_kb = -1 };
	unsigned long raw_len = 0;
	char *raw = NULL, *a = NULL;
	double t0;
	pid_t pid;

	if (rq->op != HOST_FORK_EMPTY) {
		a = host_map(rq->bytes,
			     rq->op == HOST_FAULT_THP ? MADV_HUGEPAGE :
							MADV_NOHUGEPAGE,
			     &raw, &raw_len);
		if (!a) {
			r.err = errno;
			return r;
		}
	}
	switch (rq->op) {
	case HOST_FAULT_4K:
	case HOST_FAULT_THP:
		t0 = bench_now_ns();
		host_touch(a, rq->bytes);
		r.ns = bench_now_ns() - t0;
		r.anon_huge_kb = bench_anon_huge_kb();
		break;
	case HOST_MUNMAP:
		host_touch(a, rq->bytes);
		r.anon_huge_kb = bench_anon_huge_kb();
		/* Unmap the alignment slack first: time the populated part. */
		if (a > raw)
			munmap(raw, a - raw);
		if (raw + raw_len > a + rq->bytes)
			munmap(a + rq->bytes, raw + raw_len - (a + rq->bytes));
		t0 = bench_now_ns();
		if (munmap(a, rq->bytes))
			r.err = errno;
		r.ns = bench_now_ns() - t0;
		return r;
	case HOST_FORK:
	case HOST_FORK_EMPTY:
		if (a)
			host_touch(a, rq->bytes);
		r.anon_huge_kb = bench_anon_huge_kb();
		t0 = bench_now_ns();
		pid = fork();
		if (pid == 0)
			_exit(0);
		r.ns = bench_now_ns() - t0;
		if (pid < 0)
			r.err = errno;
		else
			waitpid(pid, NULL, 0);
		break;
	}
	if (raw)
		munmap(raw, raw_len);
	return r;
}

/* One kernel repetition: ns of the timed section. */
static double host_rep(int op, unsigned long bytes, long *huge_kb)
{
	struct host_res r = host_call(op, bytes);

	if (r.err)
		bench_die("host mmap/munmap/fork", -r.err);
	if (huge_kb)
		*huge_kb = r.anon_huge_kb;
	return r.ns;
}

/* ------------------------------------------------------------------------ */
/* The mmirror side.                                                         */
/* ------------------------------------------------------------------------ */

enum mm_op { MM_FAULT_4K, MM_FAULT_THP, MM_MUNMAP, MM_FORK };

static unsigned long mm_map(struct mm_struct *mm, unsigned long bytes,
			    bool huge)
{
	long addr = vm_mmap(mm, 0, bytes, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS);
	int ret;

	if (IS_ERR_VALUE(addr))
		bench_die("vm_mmap", addr);
	if (huge) {
		/* Kernel-chosen placement of >= 2 MiB is 2 MiB aligned. */
		if (addr & (PMD_SIZE - 1))
			bench_die("vm_mmap 2 MiB alignment", addr);
		ret = vm_madvise(mm, addr, bytes, MADV_HUGEPAGE);
		if (ret)
			bench_die("vm_madvise(MADV_HUGEPAGE)", ret);
	}
	return addr;
}

static void mm_touch(struct sim_cpu *cpu, unsigned long addr,
		     unsigned long bytes)
{
	for (unsigned long off = 0; off < bytes; off += PAGE_SIZE) {
		int ret = cpu_store_u64(cpu, addr + off, off);

		if (ret)
			bench_die("cpu_store_u64", ret);
	}
}

/* Every 2 MiB of the region must be a PMD leaf (@huge) or none may be. */
static void mm_check_leaves(struct mm_struct *mm, unsigned long addr,
			    unsigned long bytes, bool huge)
{
	unsigned long step = huge ? PMD_SIZE : PAGE_SIZE, pfn;
	u64 entry;

	for (unsigned long off = 0; off < bytes; off += step) {
		int ret = follow_pte_pfn(mm, addr + off, &pfn, &entry);

		if (ret)
			bench_die("follow_pte_pfn", ret);
		if (!!(entry & _PAGE_PSE) != huge)
			bench_die(huge ? "THP: no PMD leaf" : "4K: a huge leaf",
				  off);
	}
}

/* One mmirror repetition: ns of the timed section. */
static double mm_rep(int op, unsigned long bytes)
{
	unsigned long npages = bytes >> PAGE_SHIFT, addr, pfn;
	struct mm_struct *mm = mm_alloc(), *child;
	struct sim_cpu *cpu;
	double t0, ns = 0;
	u64 entry;
	int ret;

	if (IS_ERR_OR_NULL(mm))
		bench_die("mm_alloc", PTR_ERR(mm));
	addr = mm_map(mm, bytes, op == MM_FAULT_THP);
	cpu = cpu_create(mm);
	if (IS_ERR(cpu))
		bench_die("cpu_create", PTR_ERR(cpu));

	switch (op) {
	case MM_FAULT_4K:
	case MM_FAULT_THP:
		t0 = bench_now_ns();
		mm_touch(cpu, addr, bytes);
		ns = bench_now_ns() - t0;
		mm_check_leaves(mm, addr, bytes, op == MM_FAULT_THP);
		if (cpu->faults !=
		    (op == MM_FAULT_THP ? npages / HPAGE_PMD_NR : npages))
			bench_die("fault count", cpu->faults);
		break;
	case MM_MUNMAP:
		mm_touch(cpu, addr, bytes);
		mm_check_leaves(mm, addr, bytes, false);
		t0 = bench_now_ns();
		ret = vm_munmap(mm, addr, bytes);
		ns = bench_now_ns() - t0;
		if (ret)
			bench_die("vm_munmap", ret);
		if (get_mm_counter(mm, MM_ANONPAGES) ||
		    follow_pte_pfn(mm, addr, &pfn, &entry) != -ENOENT)
			bench_die("vm_munmap left pages", 0);
		break;
	case MM_FORK:
		mm_touch(cpu, addr, bytes);
		mm_check_leaves(mm, addr, bytes, false);
		t0 = bench_now_ns();
		child = mm_fork(mm);
		ns = bench_now_ns() - t0;
		if (IS_ERR_OR_NULL(child))
			bench_die("mm_fork", PTR_ERR(child));
		if (get_mm_counter(child, MM_ANONPAGES) != npages)
			bench_die("mm_fork child RSS",
				  get_mm_counter(child, MM_ANONPAGES));
		mm_exit(child);
		break;
	}
	sink += cpu->faults;
	cpu_destroy(cpu);
	mm_exit(mm);
	return ns;
}

/* ------------------------------------------------------------------------ */
/* Driver.                                                                   */
/* ------------------------------------------------------------------------ */

struct result {
	const char *name;
	double mm_med, mm_min, k_med, k_min;
	long huge_kb; /* kernel AnonHugePages of the last repetition */
	bool done;
};

static const struct bench {
	const char *name, *key; /* key: for --only */
	int mm_op, host_op;
} benches[] = {
	{ "fault 4K", "fault", MM_FAULT_4K, HOST_FAULT_4K },
	{ "fault THP", "thp", MM_FAULT_THP, HOST_FAULT_THP },
	{ "munmap 4K", "munmap", MM_MUNMAP, HOST_MUNMAP },
	{ "fork 4K", "fork", MM_FORK, HOST_FORK },
};

static struct result run_bench(const struct bench *b, unsigned long bytes,
			       int reps)
{
	double npages = bytes / (double)PAGE_SIZE;
	double tm[MAX_REPS], tk[MAX_REPS];
	struct result r = { .name = b->name, .done = true };

	/* Warm-up, untimed: brings the arena frames into host memory. */
	mm_rep(b->mm_op, bytes);
	host_rep(b->host_op, bytes, NULL);
	for (int i = 0; i < reps; i++) {
		/* Alternate which side goes first, against drift. */
		if (i & 1) {
			tk[i] = host_rep(b->host_op, bytes, &r.huge_kb);
			tm[i] = mm_rep(b->mm_op, bytes);
		} else {
			tm[i] = mm_rep(b->mm_op, bytes);
			tk[i] = host_rep(b->host_op, bytes, &r.huge_kb);
		}
		tm[i] /= npages;
		tk[i] /= npages;
		if (verbose)
			printf("#   %s rep %d: mmirror %.1f, kernel %.1f ns/pg\n",
			       b->name, i, tm[i], tk[i]);
	}
	r.mm_med = bench_median(tm, reps);
	r.mm_min = tm[0];
	r.k_med = bench_median(tk, reps);
	r.k_min = tk[0];
	printf("%-10s %7lu %10.1f %9.1f %10.1f %9.1f %7.2f  %s\n", r.name,
	       bytes >> PAGE_SHIFT, r.mm_med, r.mm_min, r.k_med, r.k_min,
	       r.mm_med / r.k_med, r.mm_med <= r.k_med ? "met" : "MISSED");
	fflush(stdout);
	return r;
}

static void print_machine(unsigned long bytes, int reps)
{
	char model[200] = "unknown", thp[128], defrag[128];
	char load[128];
	int cpus = 0;
	time_t now = time(NULL);
	char date[64], release[128];

	cpus = bench_cpu_model(model, sizeof(model));
	bench_read_sys("/proc/sys/kernel/osrelease", release, sizeof(release));
	bench_read_sys("/sys/kernel/mm/transparent_hugepage/enabled", thp,
		       sizeof(thp));
	bench_read_sys("/sys/kernel/mm/transparent_hugepage/defrag", defrag,
		       sizeof(defrag));
	bench_read_sys("/proc/loadavg", load, sizeof(load));
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S %Z", localtime(&now));
	printf("# bench_mm  %s\n", date);
	printf("# cpu: %s (%d logical cpus); host kernel %s\n", model, cpus,
	       release);
	printf("# host THP enabled: %s; defrag: %s\n", thp, defrag);
	printf("# load average at start: %s (other load skews both sides)\n",
	       load);
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
	printf("\n# method: %lu MiB region, 1 warm-up + median and min of %d "
	       "repetitions, CLOCK_MONOTONIC, ns per 4 KiB page;\n"
	       "#   mmirror: fresh mm per repetition, one simulated CPU "
	       "(cpu_store_u64 per page); kernel: helper process, real "
	       "mmap/munmap/fork\n"
	       "# ratio = mmirror median / kernel median; floor (issue 3): "
	       "ratio <= 1\n\n",
	       bytes >> 20, reps);
	printf("%-19s%s %s\n", "", "----- mmirror ------",
	       "------ kernel ------");
	printf("%-10s %7s %10s %9s %10s %9s %7s  %s\n", "benchmark", "pages",
	       "ns/pg med", "ns/pg min", "ns/pg med", "ns/pg min", "ratio",
	       "floor");
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench_mm [--quick] [--mb N] [--reps N] [--only B] "
		"[--verbose] [--check]\n"
		"  Host-MMU model vs the host kernel, same run, ns per 4 KiB "
		"page:\n"
		"  demand write faults (4 KiB pages, THP), munmap and fork of a\n"
		"  populated region.\n"
		"  --quick   64 MiB region, %d repetitions (default: 256 MiB, "
		"%d)\n"
		"  --mb N    region size in MiB (a multiple of 2, 2..512)\n"
		"  --reps N  timed repetitions per figure (1..%d)\n"
		"  --only B  run one figure: fault, thp, munmap or fork "
		"(profiling)\n"
		"  --verbose print every repetition\n"
		"  --check   exit with status 2 if a floor is missed\n",
		REPS_QUICK, REPS_FULL, MAX_REPS);
}

int main(int argc, char **argv)
{
	unsigned long mb = 256;
	int reps = REPS_FULL, missed = 0, ret;
	const char *only = NULL;
	bool check = false, ran = false; /* ran: --only names a figure */
	struct result res[ARRAY_SIZE(benches)];
	double fork_empty[MAX_REPS];
	double t0 = bench_now_ns();
	bench_name = "bench_mm";

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			mb = 64;
			reps = REPS_QUICK;
		} else if (!strcmp(argv[i], "--mb") && i + 1 < argc) {
			mb = strtoul(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
			reps = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
			only = argv[++i];
		} else if (!strcmp(argv[i], "--verbose")) {
			verbose = true;
		} else if (!strcmp(argv[i], "--check")) {
			check = true;
		} else if (!strcmp(argv[i], "--help") ||
			   !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 1;
		}
	}
	for (size_t i = 0; only && i < ARRAY_SIZE(benches); i++)
		if (!strcmp(only, benches[i].key))
			ran = true;
	if (mb < 2 || mb > 512 || mb % 2 || reps < 1 || reps > MAX_REPS ||
	    (only && !ran)) {
		usage(stderr);
		return 1;
	}

	/* Before the arena exists: see the comment at the top. */
	host_start(host_run);
	/* At most two regions (fork parent and child share frames) live. */
	ret = mem_init(2UL << 30);
	if (ret && ret != -EBUSY)
		bench_die("mem_init", ret);
	thp_set_mode(THP_MADVISE, false);

	print_machine(mb << 20, reps);
	for (size_t i = 0; i < ARRAY_SIZE(benches); i++) {
		res[i] = (struct result){ .name = benches[i].name };
		if (!only || !strcmp(only, benches[i].key))
			res[i] = run_bench(&benches[i], mb << 20, reps);
	}
	for (int i = 0; i < reps; i++)
		fork_empty[i] = host_rep(HOST_FORK_EMPTY, 0, NULL);
	host_stop();

	printf("\n");
	if (res[1].done) {
		printf("# kernel AnonHugePages during fault THP: ");
		if (res[1].huge_kb < 0)
			printf("unknown (no /proc/self/smaps_rollup)\n");
		else
			printf("%ld kB of %lu kB (%s)\n", res[1].huge_kb,
			       mb << 10,
			       res[1].huge_kb ? "the host gave huge pages" :
						"the host gave NO huge pages: "
						"the THP comparison is "
						"against 4 KiB faults");
	}
	printf("# kernel fork() of the helper without the region: %.1f us "
	       "(median; inside the kernel fork figure: %.1f ns/pg)\n",
	       bench_median(fork_empty, reps) / 1e3,
	       bench_median(fork_empty, reps) / (mb << 8));
	printf("# floors (issue 3: at least as fast as the kernel per "
	       "page):\n");
	for (size_t i = 0; i < ARRAY_SIZE(benches); i++) {
		bool met = res[i].mm_med <= res[i].k_med;

		if (!res[i].done)
			continue;
		missed += !met;
		printf("#   %-10s mmirror %8.1f ns/pg  kernel %8.1f ns/pg  "
		       "%s (%.2fx)\n",
		       res[i].name, res[i].mm_med, res[i].k_med,
		       met ? "met" : "MISSED", res[i].mm_med / res[i].k_med);
	}
	printf("# %s\n", missed ? "NOT all floors met in this run" :
				  "all floors met in this run");
	printf("# total %.1f s\n", (bench_now_ns() - t0) / 1e9);
	return check && missed ? 2 : 0;
}
