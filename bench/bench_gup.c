// SPDX-License-Identifier: MIT
/*
 * bench_gup - pinning a populated range: mmirror's pin_user_pages_fast +
 * unpin_user_pages against the host kernel's FOLL_LONGTERM pin, measured
 * side by side in one run, in ns per 4 KiB page.
 *
 * What is measured, and how (R = 256 MiB, 64 MiB with --quick):
 *   4K   mmirror: a fresh mm, vm_mmap(R, private anonymous, read/write),
 *        THP_MADVISE without MADV_HUGEPAGE; one simulated CPU stores into
 *        every page (untimed: populated, 4 KiB leaves).  Timed:
 *        pin_user_pages_fast(R, FOLL_WRITE | FOLL_LONGTERM) of all pages in
 *        one call, then unpin_user_pages() of them.
 *        kernel: mmap(R), madvise(MADV_NOHUGEPAGE), one byte written per
 *        page (untimed), an io_uring instance (io_uring_setup, raw
 *        syscall, no liburing).  Timed: io_uring_register(
 *        IORING_REGISTER_BUFFERS) of R as 256 iovecs of 1 MiB each (the
 *        kernel pins them with pin_user_pages(FOLL_WRITE | FOLL_LONGTERM)
 *        and builds its bvec tables), then IORING_UNREGISTER_BUFFERS
 *        (unpin).  This is the kernel's cheapest user-visible long-term pin
 *        of a range; it does more than GUP (bvec tables, accounting), which
 *        is in its figure.
 *   THP  the same with a 2 MiB aligned region and MADV_HUGEPAGE on both
 *        sides (mmirror: PMD leaves checked; kernel: AnonHugePages printed,
 *        the host may decline to give huge pages).
 *
 * The kernel side runs in a helper process forked at start-up, before the
 * physical arena exists (bench_mm's trick: the helper does not carry
 * mmirror's arena).  Repetitions alternate between the two sides.  Each
 * figure: one warm-up repetition, then REPS; median and minimum,
 * CLOCK_MONOTONIC.  ratio = mmirror median / kernel median.  Every mmirror
 * repetition checks the pages it got (the pfns mapped at each address; no
 * pin left afterwards) and the run fails (exit 1) if they are wrong.
 *
 * Floor (issue 5): mmirror at least as fast per page as the kernel,
 * ratio <= 1.  The verdict is printed; with --check a missed floor exits 2.
 * If io_uring is unavailable (ENOSYS, EPERM: io_uring_disabled, seccomp),
 * the kernel figure is reported as unavailable and no verdict is given.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <mmirror/cpu.h>
#include <mmirror/gup.h>

#define REPS_FULL 7
#define REPS_QUICK 3
#define MAX_REPS 16
#define HOST_PAGE 4096UL
#define HOST_HPAGE (2UL << 20)
#define IOV_BYTES (1UL << 20)

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void __attribute__((noreturn)) die(const char *what, long err)
{
	fprintf(stderr, "bench_gup: %s failed (%ld)\n", what, err);
	exit(1);
}

/* ---------------------------------------------------------------------- */
/* The kernel side: a helper process, one repetition per request.        */
/* ---------------------------------------------------------------------- */

struct host_req {
	int quit;
	int huge;
	unsigned long bytes;
};

struct host_res {
	double ns;
	long anon_huge_kb;
	int err; /* 0, or an errno (io_uring unavailable: ENOSYS/EPERM) */
	char what[32];
};

static int to_host = -1, from_host = -1;
static pid_t host_pid;

static long anon_huge_kb(void)
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

static struct host_res host_fail(const char *what, int err)
{
	struct host_res r = { .err = err, .anon_huge_kb = -1 };

	snprintf(r.what, sizeof(r.what), "%s", what);
	return r;
}

static struct host_res host_run(const struct host_req *rq)
{
	unsigned long len = rq->bytes + HOST_HPAGE, n = rq->bytes / IOV_BYTES;
	struct io_uring_params p;
	struct host_res r = { 0 };
	struct iovec *iov;
	char *raw, *a;
	double t0;
	int fd;

	raw = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		return host_fail("mmap", errno);
	a = (char *)(((unsigned long)raw + HOST_HPAGE - 1) & ~(HOST_HPAGE - 1));
	madvise(a, rq->bytes, rq->huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	for (unsigned long off = 0; off < rq->bytes; off += HOST_PAGE)
		*(volatile char *)(a + off) = 1;
	r.anon_huge_kb = anon_huge_kb();
	iov = calloc(n, sizeof(*iov));
	for (unsigned long i = 0; i < n; i++) {
		iov[i].iov_base = a + i * IOV_BYTES;
		iov[i].iov_len = IOV_BYTES;
	}
	memset(&p, 0, sizeof(p));
	fd = (int)syscall(__NR_io_uring_setup, 1, &p);
	if (fd < 0) {
		r = host_fail("io_uring_setup", errno);
		goto out;
	}
	t0 = now_ns();
	if (syscall(__NR_io_uring_register, fd, IORING_REGISTER_BUFFERS, iov,
		    (unsigned int)n) < 0) {
		r = host_fail("IORING_REGISTER_BUFFERS", errno);
		close(fd);
		goto out;
	}
	if (syscall(__NR_io_uring_register, fd, IORING_UNREGISTER_BUFFERS, NULL,
		    0) < 0) {
		r = host_fail("IORING_UNREGISTER_BUFFERS", errno);
		close(fd);
		goto out;
	}
	r.ns = now_ns() - t0;
	close(fd);
out:
	free(iov);
	munmap(raw, len);
	return r;
}

static void __attribute__((noreturn)) host_loop(int rfd, int wfd)
{
	struct host_req rq;
	struct host_res r;

	while (read(rfd, &rq, sizeof(rq)) == sizeof(rq) && !rq.quit) {
		r = host_run(&rq);
		if (write(wfd, &r, sizeof(r)) != sizeof(r))
			_exit(1);
	}
	_exit(0);
}

/* Fork the kernel-side helper; must run before the arena exists. */
static void host_start(void)
{
	int req[2], res[2];

	if (pipe(req) || pipe(res))
		die("pipe", errno);
	fflush(NULL);
	host_pid = fork();
	if (host_pid < 0)
		die("fork", errno);
	if (host_pid == 0) {
		close(req[1]);
		close(res[0]);
		host_loop(req[0], res[1]);
	}
	close(req[0]);
	close(res[1]);
	to_host = req[1];
	from_host = res[0];
}

static void host_stop(void)
{
	struct host_req rq = { .quit = 1 };

	if (write(to_host, &rq, sizeof(rq)) != sizeof(rq))
		die("write to helper", errno);
	waitpid(host_pid, NULL, 0);
}

static struct host_res host_rep(bool huge, unsigned long bytes)
{
	struct host_req rq = { .huge = huge, .bytes = bytes };
	struct host_res r;

	if (write(to_host, &rq, sizeof(rq)) != sizeof(rq) ||
	    read(from_host, &r, sizeof(r)) != sizeof(r))
		die("helper I/O", errno);
	return r;
}

/* ---------------------------------------------------------------------- */
/* The mmirror side.                                                       */
/* ---------------------------------------------------------------------- */

static struct page **pages;

/* One repetition on a fresh mm: ns of pin + unpin. */
static double mm_rep(bool huge, unsigned long bytes)
{
	int npages = (int)(bytes >> PAGE_SHIFT), ret;
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu;
	unsigned long pfn;
	double t0, ns;
	long addr;
	u64 entry;

	if (IS_ERR_OR_NULL(mm))
		die("mm_alloc", PTR_ERR(mm));
	addr = vm_mmap(mm, 0, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS);
	if (IS_ERR_VALUE(addr) || (huge && (addr & (PMD_SIZE - 1))))
		die("vm_mmap", addr);
	if (huge && (ret = vm_madvise(mm, addr, bytes, MADV_HUGEPAGE)))
		die("vm_madvise", ret);
	cpu = cpu_create(mm);
	if (IS_ERR(cpu))
		die("cpu_create", PTR_ERR(cpu));
	for (unsigned long off = 0; off < bytes; off += PAGE_SIZE)
		if ((ret = cpu_store_u64(cpu, addr + off, off)))
			die("cpu_store_u64", ret);

	t0 = now_ns();
	ret = pin_user_pages_fast(mm, addr, npages, FOLL_WRITE | FOLL_LONGTERM,
				  pages);
	if (ret == npages)
		unpin_user_pages(pages, npages);
	ns = now_ns() - t0;

	if (ret != npages)
		die("pin_user_pages_fast", ret);
	for (int i = 0; i < npages; i++) {
		unsigned long va = addr + ((unsigned long)i << PAGE_SHIFT);

		if (follow_pte_pfn(mm, va, &pfn, &entry) ||
		    pfn != page_to_pfn(pages[i]) ||
		    !!(entry & _PAGE_PSE) != huge ||
		    folio_maybe_dma_pinned(pages[i]))
			die("pinned pages check", i);
	}
	cpu_destroy(cpu);
	mm_exit(mm);
	return ns;
}

struct result {
	double mm_med, mm_min, k_med, k_min;
	long huge_kb;
	int k_err;
	char k_what[32];
};

static struct result run(bool huge, unsigned long bytes, int reps)
{
	double mm[MAX_REPS], k[MAX_REPS];
	struct result res = { 0 };
	struct host_res h;

	mm_rep(huge, bytes); /* warm-up: brings the arena in */
	h = host_rep(huge, bytes);
	for (int i = 0; i < reps && !h.err; i++) {
		mm[i] = mm_rep(huge, bytes);
		h = host_rep(huge, bytes);
		k[i] = h.ns;
		res.huge_kb = h.anon_huge_kb;
	}
	if (h.err) {
		for (int i = 0; i < reps; i++)
			mm[i] = mm_rep(huge, bytes);
		res.k_err = h.err;
		snprintf(res.k_what, sizeof(res.k_what), "%s", h.what);
	}
	res.mm_med = median(mm, reps) / (bytes >> PAGE_SHIFT);
	res.mm_min = mm[0] / (bytes >> PAGE_SHIFT);
	if (!res.k_err) {
		res.k_med = median(k, reps) / (bytes >> PAGE_SHIFT);
		res.k_min = k[0] / (bytes >> PAGE_SHIFT);
	}
	return res;
}

int main(int argc, char **argv)
{
	bool quick = false, check = false, missed = false;
	unsigned long bytes;
	char thp[128] = "?";
	FILE *f;
	int reps;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick"))
			quick = true;
		else if (!strcmp(argv[i], "--check"))
			check = true;
	}
	bytes = (quick ? 64UL : 256UL) << 20;
	reps = quick ? REPS_QUICK : REPS_FULL;
	host_start(); /* before the arena exists */
	f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	if (f) {
		if (!fgets(thp, sizeof(thp), f))
			strcpy(thp, "?\n");
		fclose(f);
	}
	pages = malloc((bytes >> PAGE_SHIFT) * sizeof(*pages));
	if (!pages)
		die("malloc", -ENOMEM);
	thp_set_mode(THP_MADVISE, false);

	printf("bench_gup: pin + unpin of a populated %lu MiB range, ns per "
	       "4 KiB page\n",
	       bytes >> 20);
	printf("  mmirror: pin_user_pages_fast(FOLL_WRITE|FOLL_LONGTERM) "
	       "of all pages, unpin_user_pages()\n");
	printf("  kernel:  io_uring IORING_REGISTER_BUFFERS (%lu x 1 MiB "
	       "iovecs) + IORING_UNREGISTER_BUFFERS, raw syscalls\n",
	       bytes / IOV_BYTES);
	printf("  host: %ld CPUs online, THP %s", sysconf(_SC_NPROCESSORS_ONLN),
	       thp);
	printf("  %d repetitions each (+1 warm-up), alternating; median "
	       "(min)\n\n",
	       reps);
	printf("%-5s %18s %18s %7s  %s\n", "", "mmirror ns/page",
	       "kernel ns/page", "ratio", "floor: ratio <= 1");
	for (int huge = 0; huge < 2; huge++) {
		struct result r = run(huge, bytes, reps);

		if (r.k_err) {
			printf("%-5s %8.1f (%6.1f) %18s %7s  no verdict: kernel "
			       "%s: %s\n",
			       huge ? "THP" : "4K", r.mm_med, r.mm_min,
			       "unavailable", "-", r.k_what, strerror(r.k_err));
			continue;
		}
		double ratio = r.mm_med / r.k_med;

		printf("%-5s %8.1f (%6.1f) %8.1f (%6.1f) %7.2f  %s",
		       huge ? "THP" : "4K", r.mm_med, r.mm_min, r.k_med,
		       r.k_min, ratio, ratio <= 1 ? "met" : "MISSED");
		if (huge)
			printf("  (kernel AnonHugePages %ld kB)", r.huge_kb);
		printf("\n");
		missed |= ratio > 1;
	}
	host_stop();
	free(pages);
	return check && missed ? 2 : 0;
}
