// SPDX-License-Identifier: MIT
/*
 * The pinning device (drivers/pin) against the host MMU, plain mode, every
 * test under the coherence oracle and the leak check (frames, kmalloc
 * objects, mms, WARNs back; pincounts 0 at the end).
 *
 * Plain mode is vfio's contract: the device keeps the frames it pinned at
 * registration whatever happens to the mappings (munmap, DONTNEED, fork),
 * and frees them only at deregistration.  PINDEV_CACHE (hfi1's contract)
 * is in test_pin_cache.c.
 */
#include "pin_util.h"

static void test_dma_cpu_both_ways(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	long a = test_map(mm, NP * PAGE_SIZE, RW, MAP_PRIVATE);
	struct pindev *dev = dev_new(0);
	struct pin_region *r = reg(dev, mm, a, NP * PAGE_SIZE);
	char buf[64], out[64];
	unsigned long pfn[NP];

	assert_int_equal(stats_of(dev).pinned, NP);
	assert_int_equal(pindev_region_pinned(r), NP);
	for (int i = 0; i < NP; i++) {
		pfn[i] = test_pfn_at(mm, a + i * PAGE_SIZE, NULL);
		assert_int_not_equal(pfn[i], 0); /* FOLL_WRITE faulted it */
		assert_int_equal(folio_pincount(pfn_to_page(pfn[i])), 1);
		dma_store(r, a + i * PAGE_SIZE + 8, 0x1000 + i);
		assert_int_equal(test_load(cpu, a + i * PAGE_SIZE + 8),
				 0x1000 + i);
		test_store(cpu, a + i * PAGE_SIZE + 16, 0x2000 + i);
		assert_int_equal(dma_load(r, a + i * PAGE_SIZE + 16),
				 0x2000 + i);
	}
	/* One DMA spanning a page boundary. */
	for (int i = 0; i < 64; i++)
		buf[i] = (char)(i * 7 + 1);
	assert_int_equal(pindev_dma_write(r, a + PAGE_SIZE - 32, buf, 64), 0);
	assert_int_equal(cpu_load(cpu, a + PAGE_SIZE - 32, out, 64), 0);
	assert_memory_equal(buf, out, 64);
	assert_int_equal(stats_of(dev).dma_writes, NP + 1);
	assert_int_equal(stats_of(dev).dma_reads, NP);
	/* Deregistration marks every page dirty: the device wrote them. */
	for (int i = 0; i < NP; i++)
		ClearPageDirty(pfn_to_page(pfn[i]));
	pindev_deregister(r);
	assert_int_equal(stats_of(dev).pinned, 0);
	for (int i = 0; i < NP; i++) {
		assert_int_equal(folio_pincount(pfn_to_page(pfn[i])), 0);
		assert_true(PageDirty(pfn_to_page(pfn[i])));
	}
	pindev_destroy(dev);
	cpu_destroy(cpu);
	mm_exit(mm);
}

/*
 * After munmap the device still owns the old frames: its writes land
 * there and read back, and the frames return to the allocator only at
 * deregistration.  MADV_DONTNEED likewise: the CPU reads zero, the device
 * keeps its frame.
 */
static void test_dma_after_munmap(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	long a = test_map(mm, NP * PAGE_SIZE, RW, MAP_PRIVATE);
	struct pindev *dev = dev_new(0);
	struct pin_region *r;
	unsigned long pfn, free_before;

	for (int i = 0; i < NP; i++)
		test_store(cpu, a + i * PAGE_SIZE, 0x100 + i);
	r = reg(dev, mm, a, NP * PAGE_SIZE);
	pfn = test_pfn_at(mm, a, NULL);
	assert_int_equal(vm_madvise(mm, a, PAGE_SIZE, MADV_DONTNEED), 0);
	assert_int_equal(test_load(cpu, a), 0);
	assert_int_equal(dma_load(r, a), 0x100);
	assert_int_equal(vm_munmap(mm, a, NP * PAGE_SIZE), 0);
	assert_int_equal(folio_pincount(pfn_to_page(pfn)), 1);
	for (int i = 0; i < NP; i++) {
		assert_int_equal(dma_load(r, a + i * PAGE_SIZE), 0x100 + i);
		dma_store(r, a + i * PAGE_SIZE + 8, 0x300 + i);
		assert_int_equal(dma_load(r, a + i * PAGE_SIZE + 8), 0x300 + i);
	}
	/* The CPU sees none of it: the range is gone. */
	assert_int_not_equal(cpu_load_u64(cpu, a, &(u64){ 0 }), 0);
	free_before = nr_free_pages();
	pindev_deregister(r);
	assert_int_equal(nr_free_pages(), free_before + NP);
	pindev_destroy(dev);
	cpu_destroy(cpu);
	mm_exit(mm);
}

/*
 * Fork copies pinned pages for the child: the parent keeps the pinned
 * frames mapped writable, so its CPU sees DMA made after the fork, and
 * the child has its own copy that neither side's later writes reach.
 */
static void test_fork(void **state)
{
	struct mm_struct *mm = mm_alloc(), *child;
	struct sim_cpu *cpu = cpu_create(mm), *ccpu;
	long a = test_map(mm, NP * PAGE_SIZE, RW, MAP_PRIVATE);
	struct pindev *dev = dev_new(0);
	struct pin_region *r;
	unsigned long pfn;

	test_store(cpu, a, 1);
	r = reg(dev, mm, a, NP * PAGE_SIZE);
	pfn = test_pfn_at(mm, a, NULL);
	child = mm_fork(mm);
	assert_false(IS_ERR(child));
	ccpu = cpu_create(child);
	assert_int_equal(test_pfn_at(mm, a, NULL), pfn);
	assert_int_not_equal(test_pfn_at(child, a, NULL), pfn);
	dma_store(r, a, 2);
	assert_int_equal(test_load(cpu, a), 2);
	assert_int_equal(test_load(ccpu, a), 1);
	/* The parent's CPU writes the pinned frame without a COW. */
	test_store(cpu, a + 8, 3);
	assert_int_equal(test_pfn_at(mm, a, NULL), pfn);
	assert_int_equal(dma_load(r, a + 8), 3);
	test_store(ccpu, a + 16, 4);
	assert_int_equal(dma_load(r, a + 16), 0);
	assert_int_equal(test_load(cpu, a + 16), 0);
	cpu_destroy(ccpu);
	mm_exit(child);
	pindev_deregister(r);
	assert_int_equal(folio_pincount(pfn_to_page(pfn)), 0);
	pindev_destroy(dev);
	cpu_destroy(cpu);
	mm_exit(mm);
}

/* Bad registrations fail and leave nothing pinned. */
static void test_register_errors(void **state)
{
	struct mm_struct *mm = mm_alloc();
	long a = test_map(mm, NP * PAGE_SIZE, RW, MAP_PRIVATE | MAP_POPULATE);
	long none = test_map(mm, NP * PAGE_SIZE, PROT_NONE, MAP_PRIVATE);
	long ro = test_map(mm, NP * PAGE_SIZE, PROT_READ, MAP_PRIVATE);
	struct pindev *dev = dev_new(0), *cdev = dev_new(PINDEV_CACHE);
	struct pin_region *r;
	u64 v = 0;

	assert_ptr_equal(pindev_create(NULL, 0), ERR_PTR(-EINVAL));
	assert_ptr_equal(pindev_create("x", 0x10), ERR_PTR(-EINVAL));
	for (int c = 0; c < 2; c++) {
		struct pindev *d = c ? cdev : dev;

		assert_ptr_equal(pindev_register(d, mm, none, PAGE_SIZE),
				 ERR_PTR(-EFAULT));
		/* FOLL_WRITE on read-only memory: -EFAULT, as GUP says. */
		assert_ptr_equal(pindev_register(d, mm, ro, PAGE_SIZE),
				 ERR_PTR(-EFAULT));
		assert_ptr_equal(pindev_register(d, mm, a + 1, PAGE_SIZE),
				 ERR_PTR(-EINVAL));
		assert_ptr_equal(pindev_register(d, mm, a, 100),
				 ERR_PTR(-EINVAL));
		assert_ptr_equal(pindev_register(d, mm, a, 0),
				 ERR_PTR(-EINVAL));
		assert_ptr_equal(pindev_register(d, NULL, a, PAGE_SIZE),
				 ERR_PTR(-EINVAL));
		assert_ptr_equal(
			pindev_register(d, mm, -PAGE_SIZE, 2 * PAGE_SIZE),
			ERR_PTR(-EINVAL));
		/* Above the locked-memory limit of a region. */
		assert_ptr_equal(pindev_register(d, mm, PAGE_SIZE, 1UL << 33),
				 ERR_PTR(-ENOMEM));
		/* Running off the end of the VMA into PROT_NONE: the pages
		 * pinned before the short count are released. */
		assert_ptr_equal(pindev_register(d, mm, a, 2 * NP * PAGE_SIZE),
				 ERR_PTR(-EFAULT));
		assert_int_equal(
			folio_pincount(pfn_to_page(test_pfn_at(mm, a, NULL))),
			0);
		fault_inject_nth(1);
		assert_ptr_equal(pindev_register(d, mm, a, PAGE_SIZE),
				 ERR_PTR(-ENOMEM));
		assert_int_equal(stats_of(d).pinned, 0);
	}
	assert_ptr_equal(pindev_register(NULL, mm, a, PAGE_SIZE),
			 ERR_PTR(-EINVAL));
	/* DMA outside the region. */
	r = reg(dev, mm, a + PAGE_SIZE, PAGE_SIZE);
	assert_int_equal(pindev_dma_read(r, a, &v, 8), -EINVAL);
	assert_int_equal(pindev_dma_read(r, a + 2 * PAGE_SIZE - 4, &v, 8),
			 -EINVAL);
	assert_int_equal(pindev_dma_write(r, a + PAGE_SIZE, NULL, 8), -EINVAL);
	assert_int_equal(pindev_dma_write(r, a + PAGE_SIZE, &v, 0), -EINVAL);
	assert_int_equal(pindev_dma_write(NULL, a, &v, 8), -EINVAL);
	/* Deregistration by pindev_destroy. */
	pindev_destroy(dev);
	pindev_destroy(cdev);
	mm_exit(mm);
}

/* Allocation failure anywhere in a registration: -ENOMEM, nothing left. */
static void test_register_enomem(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct pindev *devs[2] = { dev_new(0), dev_new(PINDEV_CACHE) };
	long failed = 0;

	for (int c = 0; c < 2; c++) {
		for (long n = 1; n < 48; n++) {
			long a = test_map(mm, NP * PAGE_SIZE, RW, MAP_PRIVATE);
			struct pin_region *r;

			/* Fails the n-th allocation: region, notifier,
			 * page tables and pages faulted by the pin... */
			fault_inject_nth(n);
			r = pindev_register(devs[c], mm, a, NP * PAGE_SIZE);
			fault_inject_off();
			if (IS_ERR(r)) {
				assert_int_equal(PTR_ERR(r), -ENOMEM);
				assert_int_equal(stats_of(devs[c]).pinned, 0);
				failed++;
			} else {
				dma_store(r, a + 8, n);
				assert_int_equal(dma_load(r, a + 8), n);
				pindev_deregister(r);
			}
			assert_int_equal(vm_munmap(mm, a, NP * PAGE_SIZE), 0);
		}
	}
	assert_true(failed >= 2);
	pindev_destroy(devs[0]);
	pindev_destroy(devs[1]);
	mm_exit(mm);
}

/* A transparent huge page: pinned subpage by subpage, DMA'd whole. */
static void test_thp(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	long a = test_map(mm, PMD_SIZE, RW, MAP_PRIVATE);
	struct pindev *dev = dev_new(0);
	static char buf[PMD_SIZE], out[PMD_SIZE];
	struct pin_region *r;
	struct page *head;
	unsigned long free_before;
	u64 e = 0;

	assert_int_equal(vm_madvise(mm, a, PMD_SIZE, MADV_HUGEPAGE), 0);
	test_store(cpu, a, 5);
	head = pfn_to_page(test_pfn_at(mm, a, &e));
	assert_true(e & _PAGE_PSE);
	r = reg(dev, mm, a, PMD_SIZE);
	assert_int_equal(folio_pincount(head), HPAGE_PMD_NR);
	assert_int_equal(stats_of(dev).pinned, HPAGE_PMD_NR);
	for (unsigned long i = 0; i < PMD_SIZE; i++)
		buf[i] = (char)(i * 13 + (i >> 12));
	assert_int_equal(pindev_dma_write(r, a, buf, PMD_SIZE), 0);
	assert_int_equal(
		cpu_load(cpu, a + PAGE_SIZE / 2, out, PMD_SIZE - PAGE_SIZE), 0);
	assert_memory_equal(buf + PAGE_SIZE / 2, out, PMD_SIZE - PAGE_SIZE);
	test_store(cpu, a + PMD_SIZE - 8, 77);
	assert_int_equal(dma_load(r, a + PMD_SIZE - 8), 77);
	/* Unmapped, the huge page stays whole for the device. */
	assert_int_equal(vm_munmap(mm, a, PMD_SIZE), 0);
	assert_int_equal(dma_load(r, a + PMD_SIZE - 8), 77);
	free_before = nr_free_pages();
	pindev_deregister(r);
	assert_int_equal(nr_free_pages(), free_before + HPAGE_PMD_NR);
	pindev_destroy(dev);
	cpu_destroy(cpu);
	mm_exit(mm);
}

/*
 * PINDEV_CACHE: munmap evicts; DMA then fails until something is mapped
 * again, and pins the new pages, which the CPU sees.
 */

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dma_cpu_both_ways, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_dma_after_munmap, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fork, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_errors, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_register_enomem, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_thp, setup, teardown),
	};

	pin_test_mem_up();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
