// SPDX-License-Identifier: MIT
/*
 * Page migration under the secondary-MMU drivers, through their public
 * headers only, all under the oracle (a device access through a
 * translation of the old frame, or a write lost on the way to the new
 * one, fails the test) with every frame, object and mm back at the end:
 *   mirror  the MMU_NOTIFY_MIGRATE invalidation empties the device page
 *           table; device reads re-fault the new frames; device writes
 *           survive migration; a device engine reading and writing while
 *           another thread keeps migrating the range;
 *   odp     the MR's page list is invalidated and DMA re-faults.
 */
#include "mirror_util.h"
#include <mmirror/kthread.h>
#include <mmirror/migrate.h>
#include "mm/internal.h"
#include "odp/odp.h"

#define NP 8

static void pfns(struct mm_struct *mm, unsigned long a, unsigned long *out)
{
	for (int i = 0; i < NP; i++) {
		out[i] = test_pfn_at(mm, a + i * P, NULL);
		assert_true(out[i]);
	}
}

static void assert_all_moved(const unsigned long *before,
			     const unsigned long *after)
{
	for (int i = 0; i < NP; i++)
		assert_int_not_equal(before[i], after[i]);
}

static void test_mirror_refaults_new_frames(void **state)
{
	unsigned long old[NP], new[NP];
	struct scen s;
	long a;

	scen_setup(&s, 2);
	a = test_map(s.mm, NP * P, RW, MAP_PRIVATE);
	dev_write_pat(s.dm, a, NP * P, 1);
	assert_true(dm_stats(s.dm).entries > 0);
	pfns(s.mm, a, old);
	assert_int_equal(vm_migrate_range(s.mm, a, a + NP * P), 0);
	/* Each page's invalidation zapped the device's translation. */
	assert_int_equal(dm_stats(s.dm).entries, 0);
	pfns(s.mm, a, new);
	assert_all_moved(old, new);
	/* The device re-faults the new frames: its writes were copied. */
	dev_expect(s.dm, a, NP * P, 1);
	assert_true(dm_stats(s.dm).entries > 0);
	dev_write_pat(s.dm, a + P, 2 * P, 2);
	cpu_expect(s.cpu, a + P, 2 * P, 2);
	/* The CPU's writes move as well. */
	cpu_write_pat(s.cpu, a + 4 * P, P, 3);
	assert_int_equal(vm_migrate_range(s.mm, a, a + NP * P), 0);
	dev_expect(s.dm, a + P, 2 * P, 2);
	dev_expect(s.dm, a + 4 * P, P, 3);
	cpu_expect(s.cpu, a, P, 1);
	vm_munmap(s.mm, a, NP * P);
	scen_teardown(&s);
}

/* ---- a device fault meeting a migration entry ------------------------------ */

static struct {
	struct dmirror *dm;
	unsigned long va;
	struct task_struct *task;
	unsigned long waits;
} H;

static int hmm_waiter_fn(void *arg)
{
	unsigned char buf[P];

	/* hmm_range_fault faults the entry: waits, then walks again. */
	if (dmirror_read(H.dm, H.va, buf, sizeof(buf)))
		return -1;
	return pat_ok(buf, H.va, sizeof(buf), 4) ? 0 : -2;
}

static void pause_start_hmm_waiter(struct page *page)
{
	struct vm_migrate_stat st;

	H.task = kthread_run(hmm_waiter_fn, NULL, "hmm-waiter");
	assert_false(IS_ERR(H.task));
	/* Until it sleeps on our page lock: it cannot finish before. */
	do {
		cond_resched();
		vm_migrate_stat(&st);
	} while (st.waits == H.waits);
}

static void test_mirror_fault_waits(void **state)
{
	struct vm_migrate_stat st;
	unsigned long pfn;
	struct scen s;
	long a;

	scen_setup(&s, 1);
	a = test_map(s.mm, P, RW, MAP_PRIVATE);
	cpu_write_pat(s.cpu, a, P, 4);
	pfn = test_pfn_at(s.mm, a, NULL);
	H.dm = s.dm;
	H.va = a;
	vm_migrate_stat(&st);
	H.waits = st.waits;
	WRITE_ONCE(migrate_test_pause, pause_start_hmm_waiter);
	assert_int_equal(migrate_page_to_new(pfn_to_page(pfn)), 0);
	WRITE_ONCE(migrate_test_pause, NULL);
	assert_int_equal(kthread_join(H.task), 0);
	assert_int_not_equal(test_pfn_at(s.mm, a, NULL), pfn);
	dev_expect(s.dm, a, P, 4);
	vm_munmap(s.mm, a, P);
	scen_teardown(&s);
}

/* ---- the device busy while pages migrate ---------------------------------- */

#define ROUNDS 24

struct dev_loop {
	struct dmirror *dm;
	unsigned long va;
	int errors;
};

static int dev_loop_fn(void *arg)
{
	struct dev_loop *d = arg;
	unsigned char buf[NP * P];

	/* Each round writes a tag the next one reads back. */
	for (unsigned int tag = 1; tag <= ROUNDS; tag++) {
		pat_fill(buf, d->va, sizeof(buf), tag);
		if (dmirror_write(d->dm, d->va, buf, sizeof(buf)))
			d->errors++;
		memset(buf, 0, sizeof(buf));
		if (dmirror_read(d->dm, d->va, buf, sizeof(buf)) ||
		    !pat_ok(buf, d->va, sizeof(buf), tag))
			d->errors++;
	}
	return 0;
}

static void test_mirror_busy_device(void **state)
{
	struct vm_migrate_stat st0, st1;
	struct task_struct *t;
	struct dev_loop d;
	struct scen s;
	long a;

	scen_setup(&s, 1);
	a = test_map(s.mm, NP * P, RW, MAP_PRIVATE);
	cpu_write_pat(s.cpu, a, NP * P, 9);
	d = (struct dev_loop){ .dm = s.dm, .va = a };
	vm_migrate_stat(&st0);
	t = kthread_run(dev_loop_fn, &d, "dev");
	assert_false(IS_ERR(t));
	for (int i = 0; i < ROUNDS; i++) {
		int ret = vm_migrate_range(s.mm, a, a + NP * P);

		/* A device fault holding the page is a reference in flight. */
		assert_true(ret == 0 || ret == -EAGAIN);
	}
	assert_int_equal(kthread_join(t), 0);
	assert_int_equal(d.errors, 0);
	vm_migrate_stat(&st1);
	assert_true(st1.succeeded > st0.succeeded);
	cpu_expect(s.cpu, a, NP * P, ROUNDS);
	dev_expect(s.dm, a, NP * P, ROUNDS);
	vm_munmap(s.mm, a, NP * P);
	scen_teardown(&s);
}

/* ---- odp -------------------------------------------------------------------- */

static void test_odp_refault(void **state)
{
	unsigned long old[NP], new[NP];
	struct odp_stats st0, st1;
	unsigned char buf[2 * P];
	struct mm_leak_check lc;
	struct mm_struct *mm;
	struct sim_cpu *cpu;
	struct odp_dev *dev;
	struct odp_mr *mr;
	long a;

	scen_begin(&lc);
	mm = mm_alloc();
	cpu = cpu_create(mm);
	a = test_map(mm, NP * P, RW, MAP_PRIVATE);
	dev = odp_create("nic0");
	assert_false(IS_ERR(dev));
	mr = odp_reg_mr(dev, mm, a, NP * P, ODP_ACCESS_WRITE);
	assert_false(IS_ERR(mr));
	pat_fill(buf, a, sizeof(buf), 6);
	assert_int_equal(odp_dma_write(mr, a, buf, sizeof(buf)), 0);
	cpu_write_pat(cpu, a + 2 * P, (NP - 2) * P, 7);
	assert_int_equal(odp_prefetch(mr, a, NP * P, true), 0);
	assert_int_equal(odp_mr_mapped(mr), NP);
	pfns(mm, a, old);
	assert_int_equal(vm_migrate_range(mm, a, a + NP * P), 0);
	pfns(mm, a, new);
	assert_all_moved(old, new);
	assert_int_equal(odp_mr_mapped(mr), 0);
	odp_get_stats(dev, &st0);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(odp_dma_read(mr, a, buf, sizeof(buf)), 0);
	assert_true(pat_ok(buf, a, sizeof(buf), 6));
	odp_get_stats(dev, &st1);
	assert_true(st1.page_faults > st0.page_faults);
	cpu_expect(cpu, a + 2 * P, (NP - 2) * P, 7);
	odp_dereg_mr(mr);
	odp_destroy(dev);
	cpu_destroy(cpu);
	mm_exit(mm);
	scen_end(&lc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mirror_refaults_new_frames),
		cmocka_unit_test(test_mirror_fault_waits),
		cmocka_unit_test(test_mirror_busy_device),
		cmocka_unit_test(test_odp_refault),
	};

	mm_exit(mm_alloc());
	return cmocka_run_group_tests(tests, NULL, NULL);
}
