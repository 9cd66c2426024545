// SPDX-License-Identifier: MIT
/*
 * The example driver of docs/hmm.md, compiled and exercised: a "device"
 * with a tiny page table mirroring one range of a process through an
 * interval notifier and hmm_range_fault().  The driver part (between the
 * EXAMPLE markers) is the code in the docs; keep the two identical in
 * substance.  The tests run it against munmap, mprotect, MADV_DONTNEED and
 * CPU writes, single-threaded (after each completed mirror the device
 * table must equal the CPU page table exactly) and with real threads
 * (under the driver lock every valid device entry must match the CPU page
 * table at that moment).
 */
#include "test_util.h"
#include <mmirror/cpu.h>
#include <mmirror/mm.h>

/* ---- EXAMPLE: begin (docs/hmm.md) ------------------------------------ */
#include <mmirror/hmm.h>
#include <mmirror/mmu_notifier.h>
#include <mmirror/slab.h>
#include <mmirror/spinlock.h>

struct dmirror {
	struct mmu_interval_notifier notifier;
	spinlock_t lock; /* the driver lock: guards pt */
	unsigned long start; /* mirrored range [start, start + npages) */
	unsigned long npages;
	unsigned long *pt; /* the "device page table": hmm_pfns words */
};

/*
 * Called by the host MMU before it changes anything in [range->start,
 * range->end).  Under the driver lock: publish the new sequence (so that
 * a dmirror_fault() that read the page tables before this point fails its
 * read_retry) and drop the device's translations in the overlap.
 */
static bool dmirror_invalidate(struct mmu_interval_notifier *mni,
			       const struct mmu_notifier_range *range,
			       unsigned long cur_seq)
{
	struct dmirror *dm = container_of(mni, struct dmirror, notifier);
	unsigned long end = dm->start + (dm->npages << PAGE_SHIFT);
	unsigned long s = range->start > dm->start ? range->start : dm->start;
	unsigned long e = range->end < end ? range->end : end;

	spin_lock(&dm->lock);
	mmu_interval_set_seq(mni, cur_seq);
	for (unsigned long a = s; a < e; a += PAGE_SIZE)
		dm->pt[(a - dm->start) >> PAGE_SHIFT] = 0;
	spin_unlock(&dm->lock);
	return true;
}

static const struct mmu_interval_notifier_ops dmirror_ops = {
	.invalidate = dmirror_invalidate,
};

static int dmirror_init(struct dmirror *dm, struct mm_struct *mm,
			unsigned long start, unsigned long npages)
{
	int ret;

	spin_lock_init(&dm->lock);
	dm->start = start;
	dm->npages = npages;
	dm->pt = kcalloc(npages, sizeof(*dm->pt), GFP_KERNEL);
	if (!dm->pt)
		return -ENOMEM;
	ret = mmu_interval_notifier_insert(&dm->notifier, mm, start,
					   npages << PAGE_SHIFT, &dmirror_ops);
	if (ret)
		kfree(dm->pt);
	return ret;
}

static void dmirror_fini(struct dmirror *dm)
{
	mmu_interval_notifier_remove(&dm->notifier);
	kfree(dm->pt);
}

/*
 * dmirror_fault() - make [start, end) (inside the mirrored range) present
 * in the device page table, writable if @write.  Context: may sleep; no
 * lock held.  Return 0, or hmm_range_fault()'s -EFAULT/-EPERM/-ENOMEM.
 */
static int dmirror_fault(struct dmirror *dm, unsigned long start,
			 unsigned long end, bool write)
{
	struct mm_struct *mm = dm->notifier.mm;
	unsigned long npages = (end - start) >> PAGE_SHIFT;
	struct hmm_range range = {
		.notifier = &dm->notifier,
		.start = start,
		.end = end,
		.default_flags =
			HMM_PFN_REQ_FAULT | (write ? HMM_PFN_REQ_WRITE : 0),
	};
	int ret;

	range.hmm_pfns = kcalloc(npages, sizeof(unsigned long), GFP_KERNEL);
	if (!range.hmm_pfns)
		return -ENOMEM;
	/* The process may be exiting: do not fault into a dying mm. */
	if (!mmget_not_zero(mm)) {
		kfree(range.hmm_pfns);
		return -EFAULT;
	}
	for (;;) {
		/* 1. Sample the sequence BEFORE reading the page tables. */
		range.notifier_seq = mmu_interval_read_begin(&dm->notifier);
		/* 2. Read (and fault) under mmap_lock: VMAs stay put. */
		mmap_read_lock(mm);
		ret = hmm_range_fault(&range);
		mmap_read_unlock(mm);
		if (ret == -EBUSY)
			continue; /* invalidated meanwhile: read again */
		if (ret)
			break;
		/* 3. The driver lock orders us against dmirror_invalidate. */
		spin_lock(&dm->lock);
		/* 4. Did an invalidation begin since step 1?  Then what we
		 *    read may already be stale: do not use it. */
		if (mmu_interval_read_retry(&dm->notifier,
					    range.notifier_seq)) {
			spin_unlock(&dm->lock);
			continue;
		}
		/* 5. Still true, and stays true until we unlock: any new
		 *    invalidation must take the lock before the CPU page
		 *    table changes. */
		for (unsigned long i = 0; i < npages; i++)
			dm->pt[((start - dm->start) >> PAGE_SHIFT) + i] =
				range.hmm_pfns[i];
		spin_unlock(&dm->lock);
		break;
	}
	mmput(mm);
	kfree(range.hmm_pfns);
	return ret;
}
/* ---- EXAMPLE: end ------------------------------------------------------ */

#define NPAGES 32

/* The CPU's view of @va as an hmm output word without the order bits. */
static unsigned long cpu_word(struct mm_struct *mm, unsigned long va)
{
	unsigned long pfn;
	u64 e;

	if (follow_pte_pfn(mm, va, &pfn, &e) || !(e & _PAGE_PRESENT))
		return 0;
	return pfn | HMM_PFN_VALID | (e & _PAGE_RW ? HMM_PFN_WRITE : 0);
}

static unsigned long dev_word(unsigned long w)
{
	return w & ~HMM_PFN_ORDER_MASK;
}

/* Every valid device entry matches the CPU now (caller: driver lock and
 * mmap_lock, in that order reversed: mmap_lock first). */
static bool dm_consistent(struct dmirror *dm, bool exact)
{
	for (unsigned long i = 0; i < dm->npages; i++) {
		unsigned long dev = dev_word(dm->pt[i]);
		unsigned long cpu =
			cpu_word(dm->notifier.mm, dm->start + i * PAGE_SIZE);

		if (!dev)
			continue;
		if (exact ? dev != cpu :
			    (dev & ~HMM_PFN_WRITE) != (cpu & ~HMM_PFN_WRITE) ||
				    ((dev & HMM_PFN_WRITE) &&
				     !(cpu & HMM_PFN_WRITE)))
			return false;
	}
	return true;
}

static void check(struct dmirror *dm, bool exact)
{
	struct mm_struct *mm = dm->notifier.mm;
	bool ok;

	mmap_read_lock(mm);
	spin_lock(&dm->lock);
	ok = dm_consistent(dm, exact);
	spin_unlock(&dm->lock);
	mmap_read_unlock(mm);
	CHECK(ok);
}

static void test_example_sequential(void **state)
{
	unsigned long free_before = nr_free_pages();
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	struct dmirror dm;
	uint64_t rng = 42;
	long a;
	int mirrored = 0;

	(void)state;
	a = vm_mmap(mm, 0, NPAGES * PAGE_SIZE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS);
	assert_false(IS_ERR_VALUE(a));
	assert_int_equal(dmirror_init(&dm, mm, a, NPAGES), 0);

	/* The whole range, written: every device entry is the CPU's. */
	assert_int_equal(dmirror_fault(&dm, a, a + NPAGES * PAGE_SIZE, true),
			 0);
	for (int i = 0; i < NPAGES; i++) {
		assert_int_equal(dm.pt[i], cpu_word(mm, a + i * PAGE_SIZE));
		assert_true(dm.pt[i] & HMM_PFN_WRITE);
	}
	/* munmap drops them, mprotect downgrades them (dropped, then a
	 * read mirror is read-only), a write mirror is then -EPERM. */
	assert_int_equal(vm_munmap(mm, a, 2 * PAGE_SIZE), 0);
	assert_int_equal(dm.pt[0], 0);
	assert_int_equal(dm.pt[1], 0);
	assert_int_equal(dmirror_fault(&dm, a, a + PAGE_SIZE, false), -EFAULT);
	assert_int_equal(
		vm_mprotect(mm, a + 4 * PAGE_SIZE, PAGE_SIZE, PROT_READ), 0);
	assert_int_equal(dm.pt[4], 0);
	assert_int_equal(
		dmirror_fault(&dm, a + 4 * PAGE_SIZE, a + 5 * PAGE_SIZE, true),
		-EPERM);
	assert_int_equal(
		dmirror_fault(&dm, a + 4 * PAGE_SIZE, a + 5 * PAGE_SIZE, false),
		0);
	assert_int_equal(dm.pt[4] & (HMM_PFN_VALID | HMM_PFN_WRITE),
			 HMM_PFN_VALID);
	check(&dm, true);

	/* Random operations; after each, the table matches the CPU. */
	for (int n = 0; n < TEST_SCALE(2000); n++) {
		unsigned long i = test_rand(&rng) % (NPAGES - 4);
		unsigned long s = a + i * PAGE_SIZE;
		unsigned long len = (1 + test_rand(&rng) % 4) * PAGE_SIZE;
		int ret;

		switch (test_rand(&rng) % 7) {
		case 0:
		case 1:
			ret = dmirror_fault(&dm, s, s + len,
					    test_rand(&rng) & 1);
			assert_true(ret == 0 || ret == -EFAULT ||
				    ret == -EPERM);
			if (ret)
				break;
			/* Just mirrored: exactly what the CPU maps. */
			mirrored++;
			for (unsigned long p = s; p < s + len; p += PAGE_SIZE)
				assert_int_equal(
					dev_word(dm.pt[(p - a) >> PAGE_SHIFT]),
					cpu_word(mm, p));
			break;
		case 2:
			assert_int_equal(vm_munmap(mm, s, len), 0);
			assert_int_equal(vm_mmap(mm, s, len,
						 PROT_READ | PROT_WRITE,
						 MAP_PRIVATE | MAP_ANONYMOUS |
							 MAP_FIXED),
					 (long)s);
			break;
		case 3:
			(void)vm_mprotect(mm, s, len,
					  test_rand(&rng) & 1 ?
						  PROT_READ :
						  PROT_READ | PROT_WRITE);
			break;
		case 4:
			(void)vm_madvise(mm, s, len, MADV_DONTNEED);
			break;
		case 5:
			(void)cpu_store_u64(cpu, s, n);
			break;
		default:
			assert_int_equal(vm_munmap(mm, s, len), 0);
			break;
		}
		check(&dm, false);
	}
	assert_true(mirrored > 0);
	dmirror_fini(&dm);
	cpu_destroy(cpu);
	mm_exit(mm);
	assert_int_equal(nr_free_pages(), free_before);
	assert_int_equal(mm_live_count(), 0);
}

/* ---- threads: mirror against munmap/mprotect ----------------------- */

static struct {
	struct dmirror dm;
	struct mm_struct *mm;
	unsigned long base;
	int stop;
} thr;

static void *mirror_thread(void *arg)
{
	uint64_t rng = (uintptr_t)arg;

	for (int n = 0; n < TEST_SCALE(3000); n++) {
		unsigned long i = test_rand(&rng) % (NPAGES - 4);
		unsigned long s = thr.base + i * PAGE_SIZE;
		int ret = dmirror_fault(&thr.dm, s, s + 4 * PAGE_SIZE,
					test_rand(&rng) & 1);

		CHECK(ret == 0 || ret == -EFAULT || ret == -EPERM);
		check(&thr.dm, false);
	}
	return NULL;
}

static void *mutate_thread(void *arg)
{
	uint64_t rng = (uintptr_t)arg;

	while (!__atomic_load_n(&thr.stop, __ATOMIC_ACQUIRE)) {
		unsigned long i = test_rand(&rng) % (NPAGES - 4);
		unsigned long s = thr.base + i * PAGE_SIZE;
		unsigned long len = (1 + test_rand(&rng) % 4) * PAGE_SIZE;

		switch (test_rand(&rng) % 3) {
		case 0:
			CHECK(vm_munmap(thr.mm, s, len) == 0);
			CHECK(vm_mmap(thr.mm, s, len, PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS |
					      MAP_FIXED) == (long)s);
			break;
		case 1:
			(void)vm_mprotect(thr.mm, s, len,
					  test_rand(&rng) & 1 ?
						  PROT_READ :
						  PROT_READ | PROT_WRITE);
			break;
		default:
			(void)vm_madvise(thr.mm, s, len, MADV_DONTNEED);
			break;
		}
		check(&thr.dm, false);
	}
	return NULL;
}

static void test_example_threads(void **state)
{
	unsigned long free_before = nr_free_pages();
	pthread_t m[2], u;

	(void)state;
	memset(&thr, 0, sizeof(thr));
	thr.mm = mm_alloc();
	thr.base = vm_mmap(thr.mm, 0, NPAGES * PAGE_SIZE,
			   PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
	assert_false(IS_ERR_VALUE(thr.base));
	assert_int_equal(dmirror_init(&thr.dm, thr.mm, thr.base, NPAGES), 0);
	assert_int_equal(pthread_create(&u, NULL, mutate_thread, (void *)7), 0);
	for (long i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&m[i], NULL, mirror_thread,
						(void *)(i + 1)),
				 0);
	for (int i = 0; i < 2; i++)
		pthread_join(m[i], NULL);
	__atomic_store_n(&thr.stop, 1, __ATOMIC_RELEASE);
	pthread_join(u, NULL);
	check(&thr.dm, false);
	dmirror_fini(&thr.dm);
	mm_exit(thr.mm);
	assert_int_equal(nr_free_pages(), free_before);
	assert_int_equal(mm_live_count(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example_sequential),
		cmocka_unit_test(test_example_threads),
	};

	if (mem_init(MEM_DEFAULT_BYTES)) {
		fprintf(stderr, "cannot set up the arena\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
