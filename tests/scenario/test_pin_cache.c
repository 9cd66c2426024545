// SPDX-License-Identifier: MIT
/*
 * The pinning device (drivers/pin) in PINDEV_CACHE mode, hfi1's contract:
 * an invalidation of the range evicts the pins and the next DMA pins what
 * is mapped then.  Every test under the coherence oracle and the leak
 * check, as in test_pin.c.
 */
#include "pin_util.h"

static void test_cache_munmap(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	long a = test_map(mm, NP * PAGE_SIZE, RW, MAP_PRIVATE);
	struct pindev *dev = dev_new(PINDEV_CACHE);
	struct pin_region *r = reg(dev, mm, a, NP * PAGE_SIZE);
	unsigned long old = test_pfn_at(mm, a, NULL), free_before;
	u64 v;

	dma_store(r, a, 11);
	assert_int_equal(test_load(cpu, a), 11);
	assert_int_equal(stats_of(dev).pin_calls, 1);
	free_before = nr_free_pages();
	assert_int_equal(vm_munmap(mm, a + PAGE_SIZE, PAGE_SIZE), 0);
	/* A partial unmap evicts the whole region: its frames go back. */
	assert_int_equal(stats_of(dev).evictions, 1);
	assert_int_equal(stats_of(dev).pinned, 0);
	assert_int_equal(pindev_region_pinned(r), 0);
	assert_true(nr_free_pages() >= free_before + 1);
	assert_int_equal(folio_pincount(pfn_to_page(old)), 0);
	assert_int_equal(pindev_dma_read(r, a, &v, 8), -EFAULT);
	assert_int_equal(stats_of(dev).pinned, 0);
	assert_int_equal(vm_mmap(mm, a + PAGE_SIZE, PAGE_SIZE, RW,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED),
			 a + PAGE_SIZE);
	dma_store(r, a + PAGE_SIZE, 12);
	assert_int_equal(stats_of(dev).pinned, NP);
	assert_int_equal(test_load(cpu, a + PAGE_SIZE), 12);
	assert_int_equal(dma_load(r, a), 11);
	/* The whole range replaced: the device follows the new pages. */
	assert_int_equal(vm_munmap(mm, a, NP * PAGE_SIZE), 0);
	assert_int_equal(vm_mmap(mm, a, NP * PAGE_SIZE, RW,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED),
			 a);
	test_store(cpu, a + 8, 13);
	assert_int_equal(dma_load(r, a + 8), 13);
	assert_int_equal(dma_load(r, a), 0);
	dma_store(r, a + 3 * PAGE_SIZE, 14);
	assert_int_equal(test_load(cpu, a + 3 * PAGE_SIZE), 14);
	/* Only the two munmaps evicted: faulting a hole in is no event. */
	assert_int_equal(stats_of(dev).evictions, 2);
	pindev_deregister(r);
	assert_int_equal(stats_of(dev).pinned, 0);
	pindev_destroy(dev);
	cpu_destroy(cpu);
	mm_exit(mm);
}

/* PINDEV_CACHE and the other events: which evict, which keep the pins. */
static void test_cache_events(void **state)
{
	struct mm_struct *mm = mm_alloc(), *child;
	struct sim_cpu *cpu = cpu_create(mm);
	long a = test_map(mm, NP * PAGE_SIZE, RW, MAP_PRIVATE);
	struct pindev *dev = dev_new(PINDEV_CACHE);
	struct pin_region *r = reg(dev, mm, a, NP * PAGE_SIZE);
	u64 v;

	/* DONTNEED: evicted; the re-pin gets fresh zeroed pages. */
	dma_store(r, a, 21);
	assert_int_equal(vm_madvise(mm, a, PAGE_SIZE, MADV_DONTNEED), 0);
	assert_int_equal(stats_of(dev).evictions, 1);
	assert_int_equal(dma_load(r, a), 0);
	dma_store(r, a, 22);
	assert_int_equal(test_load(cpu, a), 22);
	/* mprotect read-only: evicted, and no write pin is possible. */
	assert_int_equal(vm_mprotect(mm, a, NP * PAGE_SIZE, PROT_READ), 0);
	assert_int_equal(stats_of(dev).evictions, 2);
	assert_int_equal(pindev_dma_read(r, a, &v, 8), -EFAULT);
	assert_int_equal(vm_mprotect(mm, a, NP * PAGE_SIZE, RW), 0);
	assert_int_equal(dma_load(r, a), 22);
	/* Fork keeps the pins (the parent keeps the frames). */
	child = mm_fork(mm);
	assert_false(IS_ERR(child));
	assert_int_equal(stats_of(dev).evictions, 2);
	assert_int_equal(pindev_region_pinned(r), NP);
	dma_store(r, a, 23);
	assert_int_equal(test_load(cpu, a), 23);
	mm_exit(child);
	/* Exit: evicted for good. */
	cpu_destroy(cpu);
	mm_exit(mm);
	assert_int_equal(stats_of(dev).evictions, 3);
	assert_int_equal(stats_of(dev).pinned, 0);
	assert_int_equal(pindev_dma_read(r, a, &v, 8), -EFAULT);
	pindev_deregister(r);
	pindev_destroy(dev);
}

/* --- registration racing with munmap -------------------------------------- */

struct race {
	struct mm_struct *mm;
	struct pindev *dev;
	unsigned long va;
	int iters;
	bool cache;
	int done; /* the register side finished: the unmap side stops */
	long ok, efault, unmaps;
};

static int race_register(void *arg)
{
	struct race *rc = arg;

	/* At least a few unmaps must overlap, however threads are run
	 * (READ_ONCE pairs with the WRITE_ONCE in race_unmap()). */
	for (int i = 0; i < rc->iters || READ_ONCE(rc->unmaps) < rc->iters / 8;
	     i++) {
		struct pin_region *r = pindev_register(rc->dev, rc->mm, rc->va,
						       NP * PAGE_SIZE);
		u64 v = i;
		int ret;

		if (IS_ERR(r)) {
			CHECK(PTR_ERR(r) == -EFAULT);
			rc->efault++;
			continue;
		}
		rc->ok++;
		/* Plain: always works.  Cache: -EFAULT once unmapped. */
		ret = pindev_dma_write(r, rc->va + (i % NP) * PAGE_SIZE, &v, 8);
		CHECK(ret == 0 || ret == -EFAULT);
		v = ~0ULL;
		if (!ret)
			ret = pindev_dma_read(r, rc->va + (i % NP) * PAGE_SIZE,
					      &v, 8);
		/* Cache: a munmap may evict between the two and the re-pin
		 * find a fresh zeroed page.  Plain: always our frame. */
		if (rc->cache)
			CHECK(ret == -EFAULT ||
			      (!ret && (v == (u64)i || v == 0)));
		else
			CHECK(!ret && v == (u64)i);
		pindev_deregister(r);
	}
	__atomic_store_n(&rc->done, 1, __ATOMIC_RELEASE);
	return 0;
}

static int race_unmap(void *arg)
{
	struct race *rc = arg;

	for (int i = 0; !__atomic_load_n(&rc->done, __ATOMIC_ACQUIRE); i++) {
		unsigned long off = (i % NP) * PAGE_SIZE;

		/* Holes one time in three, evictions without holes else. */
		if (i % 3 == 1) {
			CHECK(!vm_madvise(rc->mm, rc->va + off, PAGE_SIZE,
					  MADV_DONTNEED));
		} else if (i % 3 == 2) {
			CHECK(!vm_mprotect(rc->mm, rc->va + off, PAGE_SIZE,
					   RW));
		} else {
			CHECK(!vm_munmap(rc->mm, rc->va + off, PAGE_SIZE));
			CHECK(vm_mmap(rc->mm, rc->va + off, PAGE_SIZE, RW,
				      MAP_PRIVATE | MAP_ANONYMOUS |
					      MAP_FIXED) ==
			      (long)(rc->va + off));
		}
		/* Read by the register side's loop condition. */
		WRITE_ONCE(rc->unmaps, rc->unmaps + 1);
	}
	return 0;
}

static void test_register_race_munmap(void **state)
{
	struct mm_struct *mm = mm_alloc();
	long a = test_map(mm, 2 * NP * PAGE_SIZE, RW, MAP_PRIVATE);
	struct race rc[2] = {
		{ mm, dev_new(0), a, TEST_SCALE(400), false },
		{ mm, dev_new(PINDEV_CACHE), a + NP * PAGE_SIZE,
		  TEST_SCALE(400), true },
	};
	struct task_struct *t[4];

	for (int i = 0; i < 2; i++) {
		t[2 * i] = kthread_run(race_register, &rc[i], "reg%d", i);
		t[2 * i + 1] = kthread_run(race_unmap, &rc[i], "unmap%d", i);
		assert_false(IS_ERR(t[2 * i]) || IS_ERR(t[2 * i + 1]));
	}
	for (int i = 0; i < 4; i++)
		assert_int_equal(kthread_join(t[i]), 0);
	for (int i = 0; i < 2; i++) {
		struct pin_region *r;

		print_message("%s: %ld registered, %ld -EFAULT, %ld unmaps\n",
			      rc[i].cache ? "cache" : "plain", rc[i].ok,
			      rc[i].efault, rc[i].unmaps);
		assert_true(rc[i].ok + rc[i].efault >= rc[i].iters);
		assert_int_equal(stats_of(rc[i].dev).pinned, 0);
		/* Quiet again: a registration works and sees the CPU's
		 * memory as the unmap side left it (fresh pages). */
		r = reg(rc[i].dev, mm, rc[i].va, NP * PAGE_SIZE);
		assert_int_equal(dma_load(r, rc[i].va + 8), 0);
		pindev_destroy(rc[i].dev);
	}
	mm_exit(mm);
}

/* --- the cache stays coherent with the CPU after racing re-pins ---------- */

/*
 * Round by round: the mutator drops pages of a large cache region
 * (MADV_DONTNEED runs under mmap_lock for read, so it overlaps a re-pin's
 * pin_user_pages) or unmaps and maps one back, while the checker keeps
 * DMAing: each DMA after an eviction re-pins, racing the next
 * invalidation.  Then, with the mutator waiting, the checker requires the
 * device and the CPU to see each other's writes on every page.  A re-pin
 * published over an invalidation that began after it sampled the sequence
 * would leave the device on a frame the CPU no longer maps.
 */
#define COH_PAGES 256

struct coh {
	struct mm_struct *mm;
	struct pin_region *r;
	unsigned long va;
	int rounds;
	int mutated, checked; /* rounds done by each side */
	wait_queue_head_t wq;
};

static void coh_mutate(struct coh *c, uint64_t *rng)
{
	unsigned long va = c->va + test_rand(rng) % COH_PAGES * PAGE_SIZE;

	if (test_rand(rng) % 8) {
		CHECK(!vm_madvise(c->mm, va, PAGE_SIZE, MADV_DONTNEED));
		return;
	}
	CHECK(!vm_munmap(c->mm, va, PAGE_SIZE));
	CHECK(vm_mmap(c->mm, va, PAGE_SIZE, RW,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED) == (long)va);
}

static int coh_mutator(void *arg)
{
	struct coh *c = arg;
	struct sim_cpu *cpu = cpu_create(c->mm);
	uint64_t rng = 99;
	u64 v;

	CHECK(!IS_ERR(cpu));
	for (int i = 0; i < c->rounds; i++) {
		/* A burst, with gaps in which a re-pin passes read_begin and
		 * pins, so that the next invalidation may overlap it. */
		for (int k = 0; k < 8; k++) {
			for (int n = test_rand(&rng) % 8192; n; n--)
				CHECK(!cpu_load_u64(cpu, c->va + 16, &v));
			coh_mutate(c, &rng);
		}
		/* Read by the checker's wait_event() and racing loop. */
		smp_store_release(&c->mutated, i + 1);
		wake_up(&c->wq);
		wait_event(c->wq, smp_load_acquire(&c->checked) > i);
	}
	cpu_destroy(cpu);
	return 0;
}

/* DMA (re-pinning) while round @i's mutations run; then check. */
static void coh_round(struct coh *c, struct sim_cpu *cpu, int i)
{
	u64 v = (u64)i << 32, got = 0;
	int ret;

	do {
		ret = pindev_dma_write(c->r, c->va, &v, 8);
		CHECK(!ret || ret == -EFAULT);
	} while (smp_load_acquire(&c->mutated) <= i);
	for (unsigned long p = 0; p < COH_PAGES; p++) {
		unsigned long va = c->va + p * PAGE_SIZE + 8;

		v = ((u64)i << 32) | p;
		CHECK(!pindev_dma_write(c->r, va, &v, 8));
		CHECK(!cpu_load_u64(cpu, va, &got));
		if (got != v)
			fprintf(stderr,
				"round %d page %lu: CPU reads %#llx, "
				"device wrote %#llx\n",
				i, p, (unsigned long long)got,
				(unsigned long long)v);
		CHECK(got == v);
		CHECK(!cpu_store_u64(cpu, va, ~v));
		CHECK(!pindev_dma_read(c->r, va, &got, 8) && got == ~v);
	}
}

static void test_cache_coherent_race(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	long a = test_map(mm, COH_PAGES * PAGE_SIZE, RW, MAP_PRIVATE);
	struct pindev *dev = dev_new(PINDEV_CACHE);
	struct coh c = { mm, reg(dev, mm, a, COH_PAGES * PAGE_SIZE), a,
			 TEST_SCALE(200) };
	struct task_struct *t = kthread_run(coh_mutator, &c, "coh");

	assert_false(IS_ERR(t));
	for (int i = 0; i < c.rounds; i++) {
		coh_round(&c, cpu, i);
		smp_store_release(&c.checked, i + 1);
		wake_up(&c.wq);
	}
	assert_int_equal(kthread_join(t), 0);
	print_message("%lu evictions, %lu pin calls\n", stats_of(dev).evictions,
		      stats_of(dev).pin_calls);
	pindev_destroy(dev);
	cpu_destroy(cpu);
	mm_exit(mm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cache_munmap, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cache_events, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_register_race_munmap,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_coherent_race, setup,
						teardown),
	};

	pin_test_mem_up();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
