// SPDX-License-Identifier: MIT
/*
 * Real-thread stress of the interval-notifier collision-retry protocol
 * against the host MMU's real invalidations (issue 4), clean under TSan.
 *
 * Driver threads run what a device driver's fault path runs:
 *
 *	seq = mmu_interval_read_begin(sub)
 *	driver_lock; c0 = started[sub]; driver_unlock
 *	mmap_read_lock; pfns = follow_pte_pfn(each page); mmap_read_unlock
 *	driver_lock
 *	if (!mmu_interval_read_retry(sub, seq)) program the "device" with pfns
 *	driver_unlock
 *
 * while mutator threads change the subscribed ranges: vm_munmap then
 * vm_mmap(MAP_FIXED|MAP_POPULATE), vm_madvise(MADV_DONTNEED) then
 * MADV_WILLNEED, vm_mprotect (read-only, none, read-write), and
 * mm_fork + mm_exit of the child (write-protecting the parent).
 *
 * The test subscriber's callback, under the driver lock, counts the
 * invalidations started on its subscription and drops the device's
 * translations in the overlap.  Three checks:
 *  1. whenever read_retry says "valid", the count did not change since
 *     the sample taken after read_begin (no invalidation of the range
 *     began in between without the sequence noticing);
 *  2. read_begin never returns the odd seq of an invalidation that is
 *     still running (it must have waited for its end);
 *  3. the data: when a mutator's munmap or MADV_DONTNEED of its own range
 *     returns, no device translation of that range is left (a stale pfn
 *     installed through a "valid" read would be one: the seed 000 race).
 */
#include "test_util.h"
#include <sched.h>
#include <mmirror/mm.h>
#include <mmirror/mmu_notifier.h>
#include <mmirror/slab.h>
#include <mmirror/spinlock.h>
#include "notifier/internal.h"

#define PG 4096UL
#define BASE 0x40000000UL
#define NREG 2 /* mutator-owned regions, each its own subscription */
#define REG_PAGES 32
#define AREA_PAGES (NREG * REG_PAGES)
#define NSUB (NREG + 1) /* + one spanning the whole area */
#define NDRIVERS 2
#define ITERS 3000

struct ssub {
	struct mmu_interval_notifier mni;
	spinlock_t lock; /* the driver lock */
	unsigned long first, npages; /* page indices in the area */
	unsigned long started; /* invalidations started, under lock */
	unsigned long dev[AREA_PAGES]; /* device table: pfn + 1, 0 = none */
};

static struct mm_struct *mm;
static struct ssub subs[NSUB];
static int mutators_left;
static long valid_reads, retried_reads;

static bool ssub_invalidate(struct mmu_interval_notifier *mni,
			    const struct mmu_notifier_range *range,
			    unsigned long cur_seq)
{
	struct ssub *s = container_of(mni, struct ssub, mni);

	spin_lock(&s->lock);
	mmu_interval_set_seq(mni, cur_seq);
	s->started++;
	for (unsigned long p = s->first; p < s->first + s->npages; p++) {
		unsigned long va = BASE + p * PG;

		if (va + PG > range->start && va < range->end)
			s->dev[p] = 0;
	}
	spin_unlock(&s->lock);
	return true;
}

static const struct mmu_interval_notifier_ops ssub_ops = {
	.invalidate = ssub_invalidate,
};

static unsigned long subs_seq(void)
{
	/* Racy snapshot for check 2: pairs with the WRITE_ONCEs of the seq
	 * in interval.c. */
	return READ_ONCE(mm->notifier_subscriptions->invalidate_seq);
}

static void *driver_fn(void *arg)
{
	uint64_t rs = (uintptr_t)arg * 7919 + 1;
	unsigned long pfns[AREA_PAGES];
	long valid = 0, retried = 0;

	while (__atomic_load_n(&mutators_left, __ATOMIC_ACQUIRE)) {
		struct ssub *s = &subs[test_rand(&rs) % NSUB];
		unsigned long seq, c0;

		seq = mmu_interval_read_begin(&s->mni);
		CHECK(seq & 1);
		/* 2: not the seq of a running invalidation (seqs only grow,
		 * so equal now means equal when read_begin returned). */
		CHECK(subs_seq() != seq);
		spin_lock(&s->lock);
		c0 = s->started;
		spin_unlock(&s->lock);

		mmap_read_lock(mm);
		for (unsigned long p = s->first; p < s->first + s->npages;
		     p++) {
			unsigned long pfn;
			u64 entry;

			if (follow_pte_pfn(mm, BASE + p * PG, &pfn, &entry))
				pfns[p] = 0;
			else
				pfns[p] = pfn + 1;
		}
		mmap_read_unlock(mm);

		spin_lock(&s->lock);
		if (!mmu_interval_read_retry(&s->mni, seq)) {
			/* 1: nothing started since read_begin. */
			CHECK(s->started == c0);
			for (unsigned long p = s->first;
			     p < s->first + s->npages; p++)
				s->dev[p] = pfns[p];
			valid++;
		} else {
			retried++;
		}
		spin_unlock(&s->lock);
	}
	__atomic_fetch_add(&valid_reads, valid, __ATOMIC_RELAXED);
	__atomic_fetch_add(&retried_reads, retried, __ATOMIC_RELAXED);
	return NULL;
}

/* 3: no subscription holds a translation for region @reg's pages. */
static void check_region_clear(int reg)
{
	unsigned long first = reg * REG_PAGES;

	for (int i = 0; i < NSUB; i++) {
		struct ssub *s = &subs[i];

		spin_lock(&s->lock);
		for (unsigned long p = first; p < first + REG_PAGES; p++)
			if (p >= s->first && p < s->first + s->npages)
				CHECK(s->dev[p] == 0);
		spin_unlock(&s->lock);
	}
}

static void map_region(int reg)
{
	unsigned long va = BASE + reg * REG_PAGES * PG;
	long ret =
		vm_mmap(mm, va, REG_PAGES * PG, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_POPULATE);

	CHECK(ret == (long)va);
}

/* Region owner: unmap/remap and drop/repopulate its own region. */
static void *region_mutator_fn(void *arg)
{
	int reg = (int)(uintptr_t)arg;
	unsigned long va = BASE + reg * REG_PAGES * PG;
	uint64_t rs = reg + 100;

	for (int i = 0; i < TEST_SCALE(ITERS); i++) {
		unsigned long off = (test_rand(&rs) % REG_PAGES) * PG;
		unsigned long len = REG_PAGES * PG - off;

		if (i & 1) {
			CHECK(vm_munmap(mm, va, REG_PAGES * PG) == 0);
			check_region_clear(reg);
			map_region(reg);
		} else {
			/* Another thread may have made it PROT_NONE: then
			 * DONTNEED still drops, WILLNEED may fail. */
			CHECK(vm_madvise(mm, va, REG_PAGES * PG,
					 MADV_DONTNEED) == 0);
			check_region_clear(reg);
			vm_madvise(mm, va + off, len, MADV_WILLNEED);
		}
	}
	__atomic_fetch_sub(&mutators_left, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* mprotect and fork over the whole area, while the owners work. */
static void *area_mutator_fn(void *arg)
{
	static const unsigned long prots[] = { PROT_READ, PROT_NONE,
					       PROT_READ | PROT_WRITE };
	uint64_t rs = 7;

	for (int i = 0; i < TEST_SCALE(ITERS); i++) {
		unsigned long first = test_rand(&rs) % AREA_PAGES;
		unsigned long n = 1 + test_rand(&rs) % (AREA_PAGES - first);

		/* -ENOMEM if an owner has a hole there right now. */
		vm_mprotect(mm, BASE + first * PG, n * PG,
			    prots[test_rand(&rs) % ARRAY_SIZE(prots)]);
		if (i % 8 == 0) {
			struct mm_struct *child = mm_fork(mm);

			CHECK(!IS_ERR_OR_NULL(child));
			mm_exit(child);
		}
	}
	__atomic_fetch_sub(&mutators_left, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void test_stress(void **state)
{
	long objs = kmalloc_live_objects(), mms = mm_live_count();
	unsigned long warns = mm_warn_count();
	pthread_t drv[NDRIVERS], mut[NREG + 1];

	mm = mm_alloc();
	assert_false(IS_ERR_OR_NULL(mm));
	for (int r = 0; r < NREG; r++)
		map_region(r);
	for (int i = 0; i < NSUB; i++) {
		struct ssub *s = &subs[i];

		memset(s, 0, sizeof(*s));
		spin_lock_init(&s->lock);
		s->first = i < NREG ? i * REG_PAGES : 0;
		s->npages = i < NREG ? REG_PAGES : AREA_PAGES;
		assert_int_equal(mmu_interval_notifier_insert(
					 &s->mni, mm, BASE + s->first * PG,
					 s->npages * PG, &ssub_ops),
				 0);
	}

	mutators_left = NREG + 1;
	for (long i = 0; i < NDRIVERS; i++)
		pthread_create(&drv[i], NULL, driver_fn, (void *)i);
	for (long r = 0; r < NREG; r++)
		pthread_create(&mut[r], NULL, region_mutator_fn, (void *)r);
	pthread_create(&mut[NREG], NULL, area_mutator_fn, NULL);
	for (int i = 0; i <= NREG; i++)
		pthread_join(mut[i], NULL);
	for (int i = 0; i < NDRIVERS; i++)
		pthread_join(drv[i], NULL);

	/* The protocol was exercised both ways, and the hooks fired. */
	assert_true(valid_reads > 0);
	assert_true(retried_reads > 0);
	for (int i = 0; i < NSUB; i++)
		assert_true(subs[i].started > 0);
	assert_int_equal(mm->notifier_subscriptions->active_invalidate_ranges,
			 0);

	for (int i = 0; i < NSUB; i++)
		mmu_interval_notifier_remove(&subs[i].mni);
	mm_exit(mm);
	assert_int_equal(mm_live_count(), mms);
	assert_int_equal(kmalloc_live_objects(), objs);
	assert_int_equal(mm_warn_count(), warns);
	printf("# %ld valid reads, %ld retried\n", valid_reads, retried_reads);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stress),
	};

	/* Physical memory set up before the test samples the counters. */
	mm_exit(mm_alloc());
	return cmocka_run_group_tests(tests, NULL, NULL);
}
