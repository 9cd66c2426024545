// SPDX-License-Identifier: MIT
/*
 * The ODP NIC (drivers/odp) against the host MMU, under the coherence
 * oracle: DMA sees what the CPU wrote and the reverse, faults on first
 * DMA and prefetch, permissions, invalidation by munmap/mprotect/
 * MADV_DONTNEED, fork (COW), two MRs over one range, DMA racing with
 * munmap/mmap, deregistration with DMA in flight, exit.  Every test also
 * requires every frame, kmalloc object and mm back.
 */
#include "check_test_util.h"
#include "mm_test_util.h"
#include <mmirror/kthread.h>
#include <odp/odp.h>
#include <odp/odp_internal.h>

#define NPAGES 16
#define RW (PROT_READ | PROT_WRITE)

struct odp_fix {
	struct mm_leak_check leak;
	struct mm_struct *mm;
	struct sim_cpu *cpu;
	struct odp_dev *dev;
	unsigned long base;
};

static void fix_begin(struct odp_fix *f, unsigned long prot)
{
	mm_leak_check_begin(&f->leak);
	oracle_begin();
	f->mm = mm_alloc();
	assert_false(IS_ERR(f->mm));
	f->cpu = cpu_create(f->mm);
	assert_false(IS_ERR(f->cpu));
	f->dev = odp_create("nic0");
	assert_false(IS_ERR(f->dev));
	f->base = test_map(f->mm, NPAGES * PAGE_SIZE, prot, MAP_PRIVATE);
}

static void fix_end(struct odp_fix *f)
{
	odp_destroy(f->dev);
	cpu_destroy(f->cpu);
	mm_exit(f->mm);
	oracle_end_clean();
	mm_leak_check_end(&f->leak);
}

static struct odp_mr *reg(struct odp_fix *f, unsigned int access)
{
	struct odp_mr *mr =
		odp_reg_mr(f->dev, f->mm, f->base, NPAGES * PAGE_SIZE, access);

	assert_false(IS_ERR(mr));
	return mr;
}

static unsigned long pg(struct odp_fix *f, unsigned long i)
{
	return f->base + i * PAGE_SIZE;
}

static struct odp_stats stats(struct odp_fix *f)
{
	struct odp_stats s;

	odp_get_stats(f->dev, &s);
	return s;
}

static void fill(unsigned char *buf, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(seed + i * 7);
}

/* The NIC reads what the CPU wrote, across pages; faults only once. */
static void test_dma_read_cpu_data(void **state)
{
	static unsigned char in[3 * PAGE_SIZE], out[3 * PAGE_SIZE];
	struct odp_fix f;
	struct odp_mr *mr;
	unsigned long faults;

	(void)state;
	fix_begin(&f, RW);
	mr = reg(&f, ODP_ACCESS_WRITE);
	assert_int_equal(odp_mr_mapped(mr), 0);
	fill(in, sizeof(in), 3);
	assert_int_equal(cpu_store(f.cpu, pg(&f, 1) + 100, in, sizeof(in)), 0);
	assert_int_equal(odp_dma_read(mr, pg(&f, 1) + 100, out, sizeof(out)),
			 0);
	assert_memory_equal(in, out, sizeof(in));
	assert_int_equal(odp_mr_mapped(mr), 4);
	faults = stats(&f).page_faults;
	assert_true(faults >= 4);
	/* Mapped now: the second read takes no fault. */
	memset(out, 0, sizeof(out));
	assert_int_equal(odp_dma_read(mr, pg(&f, 1) + 100, out, sizeof(out)),
			 0);
	assert_memory_equal(in, out, sizeof(in));
	assert_int_equal(stats(&f).page_faults, faults);
	assert_int_equal(stats(&f).dma_reads, 2);
	odp_dereg_mr(mr);
	fix_end(&f);
}

/* The CPU reads what the NIC wrote, also into untouched memory. */
static void test_dma_write_cpu_read(void **state)
{
	static unsigned char in[2 * PAGE_SIZE + 64], out[sizeof(in)];
	struct odp_fix f;
	struct odp_mr *mr;

	(void)state;
	fix_begin(&f, RW);
	mr = reg(&f, ODP_ACCESS_WRITE);
	/* A read first maps the zero page read-only: the write must fault
	 * again for a writable private page. */
	assert_int_equal(odp_dma_read(mr, pg(&f, 5), out, 8), 0);
	fill(in, sizeof(in), 11);
	assert_int_equal(odp_dma_write(mr, pg(&f, 5) - 32, in, sizeof(in)), 0);
	assert_int_equal(cpu_load(f.cpu, pg(&f, 5) - 32, out, sizeof(out)), 0);
	assert_memory_equal(in, out, sizeof(in));
	assert_int_equal(stats(&f).dma_writes, 1);
	odp_dereg_mr(mr);
	fix_end(&f);
}

/* Prefetch fills the page list; the DMA after it takes no fault. */
static void test_prefetch(void **state)
{
	struct odp_fix f;
	struct odp_mr *mr;
	u64 v = 0x1234, r = 0;

	(void)state;
	fix_begin(&f, RW);
	mr = reg(&f, ODP_ACCESS_WRITE);
	assert_int_equal(odp_prefetch(mr, f.base, NPAGES * PAGE_SIZE, true), 0);
	assert_int_equal(odp_mr_mapped(mr), NPAGES);
	assert_int_equal(stats(&f).prefetched, NPAGES);
	assert_int_equal(odp_dma_write(mr, pg(&f, 7), &v, sizeof(v)), 0);
	assert_int_equal(odp_dma_read(mr, pg(&f, 7), &r, sizeof(r)), 0);
	assert_int_equal(r, v);
	assert_int_equal(test_load(f.cpu, pg(&f, 7)), v);
	assert_int_equal(stats(&f).page_faults, 0);
	/* Outside the MR, or empty. */
	assert_int_equal(odp_prefetch(mr, pg(&f, NPAGES), PAGE_SIZE, false),
			 -EINVAL);
	assert_int_equal(odp_prefetch(mr, f.base, 0, false), -EINVAL);
	assert_int_equal(
		odp_dma_read(mr, pg(&f, NPAGES - 1) + 8, &r, PAGE_SIZE),
		-EINVAL);
	odp_dereg_mr(mr);
	fix_end(&f);
}

/* Write to read-only memory or through a read-only MR: -EPERM;
 * PROT_NONE and holes: -EFAULT.  Bad registrations: -EINVAL. */
static void test_permissions(void **state)
{
	struct odp_fix f;
	struct odp_mr *mr, *ro;
	u64 v = 7, r = 1;

	(void)state;
	fix_begin(&f, RW);
	mr = reg(&f, ODP_ACCESS_WRITE);
	ro = reg(&f, 0);
	test_store(f.cpu, pg(&f, 0), 42);
	assert_int_equal(odp_dma_write(ro, pg(&f, 0), &v, sizeof(v)), -EPERM);
	assert_int_equal(odp_prefetch(ro, pg(&f, 0), PAGE_SIZE, true), -EPERM);
	assert_int_equal(odp_dma_read(ro, pg(&f, 0), &r, sizeof(r)), 0);
	assert_int_equal(r, 42);

	assert_int_equal(vm_mprotect(f.mm, pg(&f, 1), PAGE_SIZE, PROT_READ), 0);
	assert_int_equal(odp_dma_write(mr, pg(&f, 1), &v, sizeof(v)), -EPERM);
	assert_int_equal(odp_dma_read(mr, pg(&f, 1), &r, sizeof(r)), 0);
	assert_int_equal(r, 0);

	assert_int_equal(vm_mprotect(f.mm, pg(&f, 2), PAGE_SIZE, PROT_NONE), 0);
	assert_int_equal(odp_dma_read(mr, pg(&f, 2), &r, sizeof(r)), -EFAULT);
	assert_int_equal(odp_prefetch(mr, pg(&f, 2), PAGE_SIZE, false),
			 -EFAULT);
	assert_int_equal(vm_munmap(f.mm, pg(&f, 3), PAGE_SIZE), 0);
	assert_int_equal(odp_dma_write(mr, pg(&f, 3), &v, sizeof(v)), -EFAULT);

	assert_true(IS_ERR(odp_reg_mr(f.dev, f.mm, f.base + 1, PAGE_SIZE, 0)));
	assert_true(IS_ERR(odp_reg_mr(f.dev, f.mm, f.base, 0, 0)));
	assert_true(IS_ERR(odp_reg_mr(f.dev, f.mm, f.base, PAGE_SIZE, 0x80)));
	assert_true(
		IS_ERR(odp_reg_mr(f.dev, f.mm, -PAGE_SIZE, 2 * PAGE_SIZE, 0)));
	odp_dereg_mr(ro);
	odp_dereg_mr(mr);
	fix_end(&f);
}

/* munmap, mprotect and MADV_DONTNEED zap the page list; the next DMA
 * faults again and sees the new memory. */
static void test_invalidation(void **state)
{
	struct odp_fix f;
	struct odp_mr *mr;
	struct odp_stats s;
	u64 v = 0xabc, r = 1;

	(void)state;
	fix_begin(&f, RW);
	mr = reg(&f, ODP_ACCESS_WRITE);
	for (unsigned long i = 0; i < NPAGES; i++)
		test_store(f.cpu, pg(&f, i), 100 + i);
	assert_int_equal(odp_prefetch(mr, f.base, NPAGES * PAGE_SIZE, true), 0);
	assert_int_equal(odp_mr_mapped(mr), NPAGES);

	/* munmap two pages: dropped, then -EFAULT, then a fresh page. */
	assert_int_equal(vm_munmap(f.mm, pg(&f, 2), 2 * PAGE_SIZE), 0);
	assert_int_equal(odp_mr_mapped(mr), NPAGES - 2);
	assert_true(stats(&f).invalidations > 0);
	assert_int_equal(odp_dma_read(mr, pg(&f, 2), &r, sizeof(r)), -EFAULT);
	assert_int_equal(vm_mmap(f.mm, pg(&f, 2), 2 * PAGE_SIZE, RW,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED),
			 (long)pg(&f, 2));
	s = stats(&f);
	assert_int_equal(odp_dma_read(mr, pg(&f, 3), &r, sizeof(r)), 0);
	assert_int_equal(r, 0);
	assert_true(stats(&f).page_faults > s.page_faults);

	/* mprotect read-only: dropped; reads fault back in, writes fail. */
	assert_int_equal(odp_mr_mapped(mr), NPAGES - 1);
	assert_int_equal(vm_mprotect(f.mm, pg(&f, 6), PAGE_SIZE, PROT_READ), 0);
	assert_int_equal(odp_mr_mapped(mr), NPAGES - 2);
	assert_int_equal(odp_dma_write(mr, pg(&f, 6), &v, sizeof(v)), -EPERM);
	assert_int_equal(odp_dma_read(mr, pg(&f, 6), &r, sizeof(r)), 0);
	assert_int_equal(r, 106);

	/* MADV_DONTNEED: dropped; the next DMA reads zeros. */
	assert_int_equal(odp_dma_write(mr, pg(&f, 9), &v, sizeof(v)), 0);
	assert_int_equal(test_load(f.cpu, pg(&f, 9)), v);
	s = stats(&f);
	assert_int_equal(odp_mr_mapped(mr), NPAGES - 1);
	assert_int_equal(vm_madvise(f.mm, pg(&f, 9), PAGE_SIZE, MADV_DONTNEED),
			 0);
	assert_int_equal(odp_mr_mapped(mr), NPAGES - 2);
	assert_int_equal(odp_dma_read(mr, pg(&f, 9), &r, sizeof(r)), 0);
	assert_int_equal(r, 0);
	assert_true(stats(&f).page_faults > s.page_faults);
	odp_dereg_mr(mr);
	fix_end(&f);
}

/* After fork the parent's DMA writes break COW: the child keeps the old
 * data; the child's CPU writes are not seen by the parent's DMA. */
static void test_fork_cow(void **state)
{
	struct odp_fix f;
	struct odp_mr *mr;
	struct mm_struct *child;
	struct sim_cpu *ccpu;
	u64 x = 0x1111, w = 0x2222, y = 0x3333, r = 0;

	(void)state;
	fix_begin(&f, RW);
	mr = reg(&f, ODP_ACCESS_WRITE);
	assert_int_equal(odp_dma_write(mr, pg(&f, 0), &x, sizeof(x)), 0);
	assert_int_equal(odp_dma_write(mr, pg(&f, 1), &w, sizeof(w)), 0);
	child = mm_fork(f.mm);
	assert_false(IS_ERR(child));
	ccpu = cpu_create(child);
	assert_false(IS_ERR(ccpu));
	/* fork write-protected the parent: the writable entries went. */
	assert_int_equal(odp_mr_mapped(mr), 0);

	assert_int_equal(odp_dma_write(mr, pg(&f, 0), &y, sizeof(y)), 0);
	assert_int_equal(test_load(ccpu, pg(&f, 0)), x);
	assert_int_equal(test_load(f.cpu, pg(&f, 0)), y);

	test_store(ccpu, pg(&f, 1), 0x4444);
	assert_int_equal(odp_dma_read(mr, pg(&f, 1), &r, sizeof(r)), 0);
	assert_int_equal(r, w);
	assert_int_equal(test_load(ccpu, pg(&f, 1)), 0x4444);

	cpu_destroy(ccpu);
	mm_exit(child);
	odp_dereg_mr(mr);
	fix_end(&f);
}

/* Two MRs over one range: each keeps its own page list, both zapped. */
static void test_two_mrs(void **state)
{
	struct odp_fix f;
	struct odp_mr *a, *b;
	u64 v = 0x5555, r = 0;

	(void)state;
	fix_begin(&f, RW);
	a = reg(&f, ODP_ACCESS_WRITE);
	b = reg(&f, ODP_ACCESS_WRITE);
	assert_int_equal(odp_dma_write(a, pg(&f, 4), &v, sizeof(v)), 0);
	assert_int_equal(odp_mr_mapped(b), 0);
	assert_int_equal(odp_dma_read(b, pg(&f, 4), &r, sizeof(r)), 0);
	assert_int_equal(r, v);
	assert_int_equal(vm_munmap(f.mm, pg(&f, 4), PAGE_SIZE), 0);
	assert_int_equal(odp_mr_mapped(a), 0);
	assert_int_equal(odp_mr_mapped(b), 0);
	assert_int_equal(odp_dma_read(b, pg(&f, 4), &r, sizeof(r)), -EFAULT);
	odp_dereg_mr(a);
	assert_int_equal(odp_dma_read(b, pg(&f, 5), &r, sizeof(r)), 0);
	odp_dereg_mr(b);
	fix_end(&f);
}

/* The process exits under a live MR: the page list is zapped and DMA
 * fails with -EFAULT; new MRs are refused. */
static void test_exit(void **state)
{
	struct odp_fix f;
	struct odp_mr *mr;
	u64 v = 9;

	(void)state;
	fix_begin(&f, RW);
	mr = reg(&f, ODP_ACCESS_WRITE);
	assert_int_equal(odp_dma_write(mr, pg(&f, 0), &v, sizeof(v)), 0);
	cpu_destroy(f.cpu);
	mm_exit(f.mm);
	assert_int_equal(odp_mr_mapped(mr), 0);
	assert_int_equal(odp_dma_read(mr, pg(&f, 0), &v, sizeof(v)), -EFAULT);
	assert_int_equal(PTR_ERR(odp_reg_mr(f.dev, f.mm, f.base, PAGE_SIZE, 0)),
			 -EFAULT);
	odp_dereg_mr(mr);
	odp_destroy(f.dev);
	oracle_end_clean();
	mm_leak_check_end(&f.leak);
}

/* ---- threads ------------------------------------------------------------ */

/*
 * The invariant of the page-list protocol (driver internals): under
 * umem_mutex every valid entry names the frame the CPU page table maps
 * there, writable only if the PTE is.  It holds at every instant: the
 * invalidate callback zaps before the PTE changes and a fault's fill
 * after an invalidation began fails read_retry.
 */
static bool mr_coherent(struct odp_mr *mr)
{
	bool ok = true;

	mmap_read_lock(mr->mm);
	mutex_lock(&mr->umem_mutex);
	for (unsigned long i = 0; i < mr->npages; i++) {
		const struct odp_pte *pte = &mr->pages[i];
		unsigned long pfn;
		u64 e;

		if (!pte->valid)
			continue;
		if (follow_pte_pfn(mr->mm, mr->va + i * PAGE_SIZE, &pfn, &e) ||
		    pfn != pte->pfn || (pte->writable && !(e & _PAGE_RW)))
			ok = false;
	}
	mutex_unlock(&mr->umem_mutex);
	mmap_read_unlock(mr->mm);
	return ok;
}

#define DMA_THREADS 2

static struct {
	struct odp_fix f;
	struct odp_mr *mr;
	int stop;
	int rets[DMA_THREADS];
	unsigned long writes_at_dereg;
} thr;

/* Each thread owns pages i, i + DMA_THREADS, ...: what it wrote reads
 * back, or a zero page if the mutator replaced the memory meanwhile. */
static int dma_thread(void *arg)
{
	long id = (long)arg;
	uint64_t rng = id + 1;

	for (int n = 0; n < TEST_SCALE(10000); n++) {
		unsigned long i = (test_rand(&rng) % (NPAGES / DMA_THREADS)) *
					  DMA_THREADS +
				  id;
		unsigned long va = thr.f.base + i * PAGE_SIZE + 8 * (n % 64);
		u64 v = ((u64)id << 32) | (n + 1), r = 0;
		int ret = odp_dma_write(thr.mr, va, &v, sizeof(v));

		CHECK(ret == 0 || ret == -EFAULT || ret == -EPERM);
		if (ret)
			continue;
		ret = odp_dma_read(thr.mr, va, &r, sizeof(r));
		CHECK(ret == 0 || ret == -EFAULT);
		CHECK(ret || r == v || r == 0);
	}
	return 0;
}

static int mutate_thread(void *arg)
{
	uint64_t rng = 99;
	struct mm_struct *mm = thr.f.mm;

	while (!smp_load_acquire(&thr.stop)) {
		unsigned long i = test_rand(&rng) % (NPAGES - 2);
		unsigned long s = thr.f.base + i * PAGE_SIZE;
		unsigned long len = (1 + test_rand(&rng) % 2) * PAGE_SIZE;

		switch (test_rand(&rng) % 4) {
		case 0:
			CHECK(vm_munmap(mm, s, len) == 0);
			CHECK(vm_mmap(mm, s, len, RW,
				      MAP_PRIVATE | MAP_ANONYMOUS |
					      MAP_FIXED) == (long)s);
			break;
		case 1:
			CHECK(vm_madvise(mm, s, len, MADV_DONTNEED) == 0);
			break;
		case 2:
			CHECK(vm_mprotect(mm, s, len, PROT_READ) == 0);
			CHECK(vm_mprotect(mm, s, len, RW) == 0);
			break;
		default:
			CHECK(odp_prefetch(thr.mr, s, len, false) == 0);
			break;
		}
		CHECK(mr_coherent(thr.mr));
	}
	return 0;
}

/* DMA from two threads while a third unmaps, remaps, zaps, protects. */
static void test_dma_vs_munmap(void **state)
{
	struct task_struct *t[DMA_THREADS], *m;

	(void)state;
	memset(&thr, 0, sizeof(thr));
	fix_begin(&thr.f, RW);
	thr.mr = reg(&thr.f, ODP_ACCESS_WRITE);
	m = kthread_run(mutate_thread, NULL, "mutate");
	assert_false(IS_ERR(m));
	for (long i = 0; i < DMA_THREADS; i++) {
		t[i] = kthread_run(dma_thread, (void *)i, "dma%ld", i);
		assert_false(IS_ERR(t[i]));
	}
	for (int i = 0; i < DMA_THREADS; i++)
		assert_int_equal(kthread_join(t[i]), 0);
	smp_store_release(&thr.stop, 1);
	assert_int_equal(kthread_join(m), 0);
	assert_true(stats(&thr.f).invalidations > 0);
	odp_dereg_mr(thr.mr);
	fix_end(&thr.f);
}

static int post_thread(void *arg)
{
	long id = (long)arg;
	u64 v = 0xd00d + id;

	thr.rets[id] = odp_dma_write(thr.mr, thr.f.base + id * PAGE_SIZE, &v,
				     sizeof(v));
	return 0;
}

/* Is @mr being deregistered?  (Driver internals, as a test may.) */
static bool mr_dying(struct odp_mr *mr)
{
	bool dying;

	spin_lock(&mr->dev->lock);
	dying = mr->dying;
	spin_unlock(&mr->dev->lock);
	return dying;
}

static int dereg_thread(void *arg)
{
	odp_dereg_mr(thr.mr);
	/* Sampled at once: the DMAs completed before dereg returned. */
	thr.writes_at_dereg = stats(&thr.f).dma_writes;
	return 0;
}

/*
 * Deregistration waits for the DMA in flight: the engine is held in its
 * page fault (we hold mmap_lock for write) with DMA_THREADS writes
 * posted and dereg under way; dereg may only return after all of them
 * completed.
 */
static void test_dereg_in_flight(void **state)
{
	struct task_struct *t[DMA_THREADS], *d;
	unsigned long before;
	struct odp_dev *dev;

	(void)state;
	memset(&thr, 0, sizeof(thr));
	fix_begin(&thr.f, RW);
	dev = thr.f.dev;
	thr.mr = reg(&thr.f, ODP_ACCESS_WRITE);
	before = stats(&thr.f).dma_writes;
	mmap_write_lock(thr.f.mm);
	for (long i = 0; i < DMA_THREADS; i++) {
		t[i] = kthread_run(post_thread, (void *)i, "post%ld", i);
		assert_false(IS_ERR(t[i]));
	}
	odp_mr_wait_in_flight(thr.mr, DMA_THREADS);
	d = kthread_run(dereg_thread, NULL, "dereg");
	assert_false(IS_ERR(d));
	/* Dereg has refused new DMA (the MR stays allocated: DMA is in
	 * flight and the engine is held); release the engine. */
	wait_event(dev->mr_wq, mr_dying(thr.mr));
	mmap_write_unlock(thr.f.mm);
	assert_int_equal(kthread_join(d), 0);
	assert_int_equal(thr.writes_at_dereg - before, DMA_THREADS);
	for (int i = 0; i < DMA_THREADS; i++) {
		assert_int_equal(kthread_join(t[i]), 0);
		assert_int_equal(thr.rets[i], 0);
		assert_int_equal(
			test_load(thr.f.cpu, thr.f.base + i * PAGE_SIZE),
			0xd00d + i);
	}
	fix_end(&thr.f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dma_read_cpu_data),
		cmocka_unit_test(test_dma_write_cpu_read),
		cmocka_unit_test(test_prefetch),
		cmocka_unit_test(test_permissions),
		cmocka_unit_test(test_invalidation),
		cmocka_unit_test(test_fork_cow),
		cmocka_unit_test(test_two_mrs),
		cmocka_unit_test(test_exit),
		cmocka_unit_test(test_dma_vs_munmap),
		cmocka_unit_test(test_dereg_in_flight),
	};

	if (mem_init(MEM_DEFAULT_BYTES)) {
		fprintf(stderr, "cannot set up the arena\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
