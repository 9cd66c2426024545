// SPDX-License-Identifier: MIT
/*
 * The dax driver (drivers/dax) under the coherence oracle: CPU stores and
 * device DMA to device memory shared by two processes, GUP and GUP-fast
 * pins and references on it, removal while it is mapped and cached in
 * CPU TLBs, and removal while real threads run GUP-fast DMA and CPU
 * loads on it (with and without GUP-fast's pgmap check).  Every test ends
 * with zero violations, no pin left, and every frame and object back.
 */
#include "check_test_util.h"
#include "mm_test_util.h"
#include <mmirror/gup.h>
#include <mmirror/kthread.h>
#include "dax/dax.h"

#define NPAGES 4

struct world {
	struct mm_leak_check lc;
	struct dax_dev *dev;
	struct mm_struct *mm[2];
	long va[2];
};

static void world_up(struct world *w, enum memory_type type)
{
	memset(w, 0, sizeof(*w));
	mm_leak_check_begin(&w->lc);
	oracle_begin();
	w->dev = dax_create("dax0", type, NPAGES);
	assert_false(IS_ERR(w->dev));
	for (int i = 0; i < 2; i++) {
		w->mm[i] = mm_alloc();
		w->va[i] = dax_mmap(w->dev, w->mm[i], 0, NPAGES,
				    PROT_READ | PROT_WRITE);
		assert_false(IS_ERR_VALUE(w->va[i]));
	}
}

static void world_down(struct world *w)
{
	dax_destroy(w->dev);
	for (int i = 0; i < 2; i++)
		mm_exit(w->mm[i]);
	oracle_end_clean();
	assert_int_equal(memremap_nr_pgmaps(), 0);
	mm_leak_check_end(&w->lc);
}

static unsigned long page_va(struct world *w, int m, unsigned long i)
{
	return w->va[m] + i * PAGE_SIZE;
}

static void test_cpu_and_device_access(void **state)
{
	struct sim_cpu *cpu0, *cpu1;
	struct world w;
	u64 v = 0;
	long anon;

	(void)state;
	world_up(&w, MEMORY_DEVICE_GENERIC);
	cpu0 = cpu_create(w.mm[0]);
	cpu1 = cpu_create(w.mm[1]);
	/* CPU of process 0 -> device DMA through process 1's mapping. */
	test_store(cpu0, page_va(&w, 0, 0) + 8, 0xc0ffee);
	assert_int_equal(dax_dma_read(w.dev, w.mm[1], page_va(&w, 1, 0) + 8, &v,
				      sizeof(v)),
			 0);
	assert_int_equal(v, 0xc0ffee);
	/* Device DMA -> CPUs of both processes. */
	v = 0xfeed;
	assert_int_equal(
		dax_dma_write(w.dev, w.mm[0], page_va(&w, 0, 3), &v, sizeof(v)),
		0);
	assert_int_equal(test_load(cpu1, page_va(&w, 1, 3)), 0xfeed);
	assert_int_equal(test_load(cpu0, page_va(&w, 0, 3)), 0xfeed);
	assert_int_equal(*(u64 *)pfn_to_virt(dax_pfn(w.dev, 3)), 0xfeed);
	/* The devmap entry: special + devmap, the device's frame. */
	{
		u64 e = 0;

		assert_int_equal(test_pfn_at(w.mm[1], page_va(&w, 1, 3), &e),
				 dax_pfn(w.dev, 3));
		assert_true((e & _PAGE_DEVMAP) && (e & _PAGE_SPECIAL));
	}
	/* The same DMA engine into ordinary memory. */
	anon = test_map(w.mm[0], PAGE_SIZE, PROT_READ | PROT_WRITE,
			MAP_PRIVATE);
	v = 0xa11;
	assert_int_equal(dax_dma_write(w.dev, w.mm[0], anon, &v, sizeof(v)), 0);
	assert_int_equal(test_load(cpu0, anon), 0xa11);
	assert_int_equal(
		dax_dma_read(w.dev, w.mm[0], anon + PAGE_SIZE - 4, &v, 8),
		-EINVAL);
	cpu_destroy(cpu0);
	cpu_destroy(cpu1);
	world_down(&w);
}

static void test_gup_pin_unpin(void **state)
{
	struct page *pages[NPAGES], *one;
	struct world w;

	(void)state;
	world_up(&w, MEMORY_DEVICE_GENERIC);
	mmap_read_lock(w.mm[0]);
	assert_int_equal(
		pin_user_pages(w.mm[0], w.va[0], NPAGES, FOLL_WRITE, pages),
		NPAGES);
	mmap_read_unlock(w.mm[0]);
	assert_int_equal(pin_user_pages_fast(w.mm[1], page_va(&w, 1, 2), 1,
					     FOLL_LONGTERM, &one),
			 1);
	assert_ptr_equal(one, pages[2]);
	for (unsigned long i = 0; i < NPAGES; i++) {
		assert_int_equal(page_to_pfn(pages[i]), dax_pfn(w.dev, i));
		assert_int_equal(folio_pincount(pages[i]), i == 2 ? 2 : 1);
	}
	unpin_user_pages_dirty_lock(pages, NPAGES, true);
	unpin_user_page(one);
	assert_int_equal(
		get_user_pages_fast(w.mm[1], w.va[1], NPAGES, 0, pages),
		NPAGES);
	for (unsigned long i = 0; i < NPAGES; i++) {
		assert_int_equal(page_ref_count(pages[i]), 2);
		put_devmap_page(pages[i]);
	}
	for (unsigned long i = 0; i < NPAGES; i++) {
		struct page *p = pfn_to_page(dax_pfn(w.dev, i));

		assert_int_equal(page_ref_count(p), 1);
		assert_int_equal(folio_pincount(p), 0);
	}
	world_down(&w);
}

static void test_removal_while_mapped(void **state)
{
	unsigned long gen, free0;
	struct sim_cpu *cpu[2];
	struct world w;

	(void)state;
	world_up(&w, MEMORY_DEVICE_FS_DAX);
	gen = pfn_to_page(dax_pfn(w.dev, 1))->gen;
	for (int i = 0; i < 2; i++) {
		cpu[i] = cpu_create(w.mm[i]);
		test_store(cpu[i], page_va(&w, i, 1) + 8 * i, 0xd0 + i);
	}
	/* Both CPUs now cache translations to the device frame. */
	assert_int_equal(test_load(cpu[0], page_va(&w, 0, 1) + 8), 0xd1);
	free0 = nr_free_pages();
	assert_int_equal(dax_remove(w.dev), 0);
	assert_int_equal(pfn_to_page(dax_pfn(w.dev, 1))->gen, gen + 1);
	assert_int_equal(nr_free_pages(), free0 + NPAGES);
	for (int i = 0; i < 2; i++) {
		u64 v = 0;

		/* Mapping gone, TLBs flushed: device data unreachable, and
		 * a new access is a SIGBUS (no device page to fault in). */
		assert_int_equal(test_pfn_at(w.mm[i], page_va(&w, i, 1), NULL),
				 0);
		assert_int_equal(
			cpu_load_u64(cpu[i], page_va(&w, i, 1) + 8, &v),
			-EFAULT);
		cpu_destroy(cpu[i]);
	}
	assert_int_equal(dax_mmap(w.dev, w.mm[0], 0, 1, PROT_READ), -ENODEV);
	assert_int_equal(dax_remove(w.dev), -ENODEV);
	world_down(&w);
}

/* --- removal during GUP-fast, real threads -------------------------------- */

#define WORKERS 2

struct worker {
	struct world *w;
	int m; /* which process */
	struct sim_cpu *cpu;
	bool *stop;
	atomic_long_t *ios;
	u64 seed;
};

static int worker_fn(void *arg)
{
	struct worker *k = arg;

	/* Pairs with WRITE_ONCE(*stop) in the main thread. */
	while (!READ_ONCE(*k->stop)) {
		unsigned long i = test_rand(&k->seed) % NPAGES;
		unsigned long va = page_va(k->w, k->m, i);
		u64 v = test_rand(&k->seed), r;

		/* Errors are fine: the device may be gone. */
		dax_dma_write(k->w->dev, k->w->mm[k->m], va, &v, sizeof(v));
		dax_dma_read(k->w->dev, k->w->mm[k->m], va, &r, sizeof(r));
		cpu_load_u64(k->cpu, va, &r);
		atomic_long_inc(k->ios);
	}
	return 0;
}

static void removal_during_gup_fast(bool devmap_check)
{
	struct task_struct *t[WORKERS];
	struct worker k[WORKERS];
	atomic_long_t ios = ATOMIC_INIT(0);
	bool stop = false;
	struct world w;

	gup_fast_set_devmap_check(devmap_check);
	world_up(&w, MEMORY_DEVICE_GENERIC);
	for (int i = 0; i < WORKERS; i++) {
		k[i] = (struct worker){ .w = &w,
					.m = i % 2,
					.stop = &stop,
					.ios = &ios,
					.seed = 77 + i };
		k[i].cpu = cpu_create(w.mm[k[i].m]);
		t[i] = kthread_run(worker_fn, &k[i], "io%d", i);
		assert_false(IS_ERR(t[i]));
	}
	/* Let some I/O run on the device memory first. */
	while (atomic_long_read(&ios) < TEST_SCALE(400))
		cond_resched();
	assert_int_equal(dax_remove(w.dev), 0);
	while (atomic_long_read(&ios) < TEST_SCALE(800))
		cond_resched();
	WRITE_ONCE(stop, true);
	for (int i = 0; i < WORKERS; i++) {
		assert_int_equal(kthread_join(t[i]), 0);
		cpu_destroy(k[i].cpu);
	}
	gup_fast_set_devmap_check(true);
	world_down(&w);
}

static void test_removal_during_gup_fast(void **state)
{
	(void)state;
	for (int round = 0; round < 3; round++) {
		removal_during_gup_fast(true);
		removal_during_gup_fast(false);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpu_and_device_access),
		cmocka_unit_test(test_gup_pin_unpin),
		cmocka_unit_test(test_removal_while_mapped),
		cmocka_unit_test(test_removal_during_gup_fast),
	};

	/* Set physical memory up before the first leak-check snapshot. */
	__free_page(alloc_page(GFP_KERNEL));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
