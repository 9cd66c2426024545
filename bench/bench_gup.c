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
#include "bench_util.h"

#define REPS_FULL 7
#define REPS_QUICK 3
#define MAX_REPS 16
#define HOST_PAGE 4096UL
#define HOST_HPAGE (2UL << 20)
#define IOV_BYTES (1UL << 20)

/* ---------------------------------------------------------------------- */
/* The kernel side: a helper process, one repetition per request.        */
/* ---------------------------------------------------------------------- */

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
	madvise(a, rq->bytes, rq->op ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	for (unsigned long off = 0; off < rq->bytes; off += HOST_PAGE)
		*(volatile char *)(a + off) = 1;
	r.anon_huge_kb = bench_anon_huge_kb();
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
	t0 = bench_now_ns();
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
	r.ns = bench_now_ns() - t0;
	close(fd);
out:
	free(iov);
	munmap(raw, len);
	return r;
}

static struct host_res host_rep(bool huge, unsigned long bytes)
{
	return host_call(huge, bytes);
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
		bench_die("mm_alloc", PTR_ERR(mm));
	addr = vm_mmap(mm, 0, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS);
	if (IS_ERR_VALUE(addr) || (huge && (addr & (PMD_SIZE - 1))))
		bench_die("vm_mmap", addr);
	if (huge && (ret = vm_madvise(mm, addr, bytes, MADV_HUGEPAGE)))
		bench_die("vm_madvise", ret);
	cpu = cpu_create(mm);
	if (IS_ERR(cpu))
		bench_die("cpu_create", PTR_ERR(cpu));
	for (unsigned long off = 0; off < bytes; off += PAGE_SIZE)
		if ((ret = cpu_store_u64(cpu, addr + off, off)))
			bench_die("cpu_store_u64", ret);

	t0 = bench_now_ns();
	ret = pin_user_pages_fast(mm, addr, npages, FOLL_WRITE | FOLL_LONGTERM,
				  pages);
	if (ret == npages)
		unpin_user_pages(pages, npages);
	ns = bench_now_ns() - t0;

	if (ret != npages)
		bench_die("pin_user_pages_fast", ret);
	for (int i = 0; i < npages; i++) {
		unsigned long va = addr + ((unsigned long)i << PAGE_SHIFT);

		if (follow_pte_pfn(mm, va, &pfn, &entry) ||
		    pfn != page_to_pfn(pages[i]) ||
		    !!(entry & _PAGE_PSE) != huge ||
		    folio_maybe_dma_pinned(pages[i]))
			bench_die("pinned pages check", i);
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
	res.mm_med = bench_median(mm, reps) / (bytes >> PAGE_SHIFT);
	res.mm_min = mm[0] / (bytes >> PAGE_SHIFT);
	if (!res.k_err) {
		res.k_med = bench_median(k, reps) / (bytes >> PAGE_SHIFT);
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
	bench_name = "bench_gup";

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick"))
			quick = true;
		else if (!strcmp(argv[i], "--check"))
			check = true;
	}
	bytes = (quick ? 64UL : 256UL) << 20;
	reps = quick ? REPS_QUICK : REPS_FULL;
	host_start(host_run); /* before the arena exists */
	f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	if (f) {
		if (!fgets(thp, sizeof(thp), f))
			strcpy(thp, "?\n");
		fclose(f);
	}
	pages = malloc((bytes >> PAGE_SHIFT) * sizeof(*pages));
	if (!pages)
		bench_die("malloc", -ENOMEM);
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
