// SPDX-License-Identifier: MIT
/*
 * Device-exclusive access through the mirror device (drivers/mirror/
 * atomic.c), every device access under the oracle and the leak check:
 * atomics only through an exclusive mapping; a CPU access takes it away
 * and the data stays; exclusive again afterwards; another device's
 * mapping dropped by the make and taking the page back by faulting;
 * fork (COW) and mprotect read-only take it away, and making it exclusive
 * again breaks COW / fails; munmap and MADV_DONTNEED; and a CPU thread and
 * a device thread racing on one page with no lost update.
 */
#include "mirror_util.h"
#include <mmirror/kthread.h>

#define NP 4

static u64 cpu_get(struct sim_cpu *cpu, unsigned long va)
{
	return test_load(cpu, va);
}

/* The device adds @val at @va through its exclusive mapping: must work. */
static u64 dev_add(struct dmirror *dm, unsigned long va, u64 val)
{
	u64 old = 0;

	assert_int_equal(dmirror_atomic_add(dm, va, val, &old), 0);
	return old;
}

static void test_atomic_basic(void **state)
{
	struct scen s;
	long a;
	u64 old;

	scen_setup(&s, 1);
	a = test_map(s.mm, NP * P, RW, MAP_PRIVATE);
	for (int i = 0; i < NP; i++)
		test_store(s.cpu, a + i * P, 100 + i);
	/* No exclusive mapping, no atomics (even with a normal one). */
	assert_int_equal(dmirror_atomic_add(s.dm, a, 1, NULL), -EBUSY);
	dev_expect(s.dm, a + 8, 8, 0);
	assert_int_equal(dmirror_atomic_add(s.dm, a, 1, NULL), -EBUSY);
	assert_int_equal(dmirror_exclusive(s.dm, a, a + NP * P), 0);
	for (int i = 0; i < NP; i++) {
		old = dev_add(s.dm, a + i * P, 5);
		assert_int_equal(old, 100 + i);
	}
	/* A plain device read uses the exclusive mapping: no fault. */
	{
		struct dmirror_stats st = dm_stats(s.dm);
		u64 v;

		assert_int_equal(dmirror_read(s.dm, a, &v, 8), 0);
		assert_int_equal(v, 105);
		assert_int_equal(dm_stats(s.dm).faults, st.faults);
		assert_int_equal(st.atomics, NP);
	}
	/* The CPU sees the device's adds and takes the page back. */
	assert_int_equal(cpu_get(s.cpu, a), 105);
	assert_int_equal(dmirror_atomic_add(s.dm, a, 1, NULL), -EBUSY);
	/* The others are still exclusive. */
	dev_add(s.dm, a + P, 1);
	test_store(s.cpu, a + P, 7); /* a write takes it back too */
	assert_int_equal(dmirror_atomic_add(s.dm, a + P, 1, NULL), -EBUSY);
	/* Exclusive again, on the same frames. */
	assert_int_equal(dmirror_exclusive(s.dm, a, a + 2 * P), 0);
	assert_int_equal(dev_add(s.dm, a + P, 3), 7);
	assert_int_equal(cpu_get(s.cpu, a + P), 10);
	assert_int_equal(cpu_get(s.cpu, a + 3 * P), 108);
	/* Bad arguments. */
	assert_int_equal(dmirror_exclusive(s.dm, a + 1, a + P), -EINVAL);
	assert_int_equal(dmirror_exclusive(s.dm, a, a), -EINVAL);
	assert_int_equal(dmirror_exclusive(NULL, a, a + P), -EINVAL);
	assert_int_equal(dmirror_atomic_add(s.dm, a + 4, 1, NULL), -EINVAL);
	assert_int_equal(dmirror_exclusive(s.dm, a + NP * P, a + (NP + 1) * P),
			 -EFAULT);
	scen_teardown(&s);
}

static void test_other_device(void **state)
{
	struct scen s;
	struct dmirror *dm1;
	long a;

	scen_setup(&s, 1);
	dm1 = dm_new(s.mm, "dev1", 1);
	a = test_map(s.mm, P, RW, MAP_PRIVATE);
	test_store(s.cpu, a, 40);
	dev_expect(dm1, a + 8, 8, 0);
	assert_int_equal(dm_stats(dm1).entries, 1);
	/* dev0's make drops dev1's mapping; dev0 keeps its own. */
	assert_int_equal(dmirror_exclusive(s.dm, a, a + P), 0);
	assert_int_equal(dm_stats(dm1).entries, 0);
	assert_int_equal(dm_stats(s.dm).entries, 1);
	dev_add(s.dm, a, 2);
	/* dev1 faults (hmm_range_fault restores the PTE): dev0 loses it. */
	{
		u64 v;

		assert_int_equal(dmirror_read(dm1, a, &v, 8), 0);
		assert_int_equal(v, 42);
	}
	assert_int_equal(dmirror_atomic_add(s.dm, a, 1, NULL), -EBUSY);
	assert_int_equal(dm_stats(s.dm).entries, 0);
	assert_int_equal(cpu_get(s.cpu, a), 42);
	dmirror_destroy(dm1);
	scen_teardown(&s);
}

static void test_fork_cow(void **state)
{
	struct scen s;
	struct mm_struct *child;
	struct sim_cpu *ccpu;
	unsigned long pfn;
	long a;

	scen_setup(&s, 1);
	a = test_map(s.mm, P, RW, MAP_PRIVATE);
	test_store(s.cpu, a, 1000);
	assert_int_equal(dmirror_exclusive(s.dm, a, a + P), 0);
	dev_add(s.dm, a, 1);
	pfn = test_pfn_at(s.mm, a, NULL);
	child = mm_fork(s.mm);
	assert_non_null(child);
	ccpu = cpu_create(child);
	/* Fork write-protected the page: the device lost its mapping. */
	assert_int_equal(dmirror_atomic_add(s.dm, a, 1, NULL), -EBUSY);
	assert_int_equal(cpu_get(ccpu, a), 1001);
	assert_int_equal(test_pfn_at(child, a, NULL), pfn);
	/* Exclusive again breaks COW: the parent gets its own page. */
	assert_int_equal(dmirror_exclusive(s.dm, a, a + P), 0);
	assert_int_not_equal(test_pfn_at(s.mm, a, NULL), pfn);
	dev_add(s.dm, a, 10);
	assert_int_equal(cpu_get(ccpu, a), 1001);
	assert_int_equal(cpu_get(s.cpu, a), 1011);
	test_store(ccpu, a, 5);
	assert_int_equal(cpu_get(s.cpu, a), 1011);
	cpu_destroy(ccpu);
	mm_exit(child);
	scen_teardown(&s);
}

static void test_mprotect(void **state)
{
	struct scen s;
	long a;

	scen_setup(&s, 1);
	a = test_map(s.mm, P, RW, MAP_PRIVATE);
	test_store(s.cpu, a, 50);
	assert_int_equal(dmirror_exclusive(s.dm, a, a + P), 0);
	assert_int_equal(vm_mprotect(s.mm, a, P, PROT_READ), 0);
	/* Read-only: no atomics, and no exclusive access to be had. */
	assert_int_equal(dmirror_atomic_add(s.dm, a, 1, NULL), -EBUSY);
	assert_int_equal(dmirror_exclusive(s.dm, a, a + P), -EFAULT);
	assert_int_equal(cpu_get(s.cpu, a), 50);
	dev_expect(s.dm, a + 8, 8, 0);
	/* Writable again: exclusive again. */
	assert_int_equal(vm_mprotect(s.mm, a, P, RW), 0);
	assert_int_equal(dmirror_exclusive(s.dm, a, a + P), 0);
	assert_int_equal(dev_add(s.dm, a, 1), 50);
	assert_int_equal(cpu_get(s.cpu, a), 51);
	scen_teardown(&s);
}

static void test_unmap(void **state)
{
	struct scen s;
	long a;

	scen_setup(&s, 1);
	a = test_map(s.mm, 2 * P, RW, MAP_PRIVATE);
	test_store(s.cpu, a, 60);
	test_store(s.cpu, a + P, 61);
	assert_int_equal(dmirror_exclusive(s.dm, a, a + 2 * P), 0);
	assert_int_equal(vm_madvise(s.mm, a, P, MADV_DONTNEED), 0);
	assert_int_equal(dmirror_atomic_add(s.dm, a, 1, NULL), -EBUSY);
	assert_int_equal(cpu_get(s.cpu, a), 0);
	dev_add(s.dm, a + P, 1);
	assert_int_equal(vm_munmap(s.mm, a, 2 * P), 0);
	assert_int_equal(dmirror_atomic_add(s.dm, a + P, 1, NULL), -EBUSY);
	assert_int_equal(dmirror_exclusive(s.dm, a, a + P), -EFAULT);
	/* One left exclusive at exit. */
	a = test_map(s.mm, P, RW, MAP_PRIVATE);
	assert_int_equal(dmirror_exclusive(s.dm, a, a + P), 0);
	scen_teardown(&s);
}

/* ---- a CPU thread and a device thread on one page ----------------------- */

struct race {
	struct scen *s;
	unsigned long va;
	int n;
	long busy; /* device: atomics refused, made exclusive again */
};

/* The CPU increments word 0 (its own: a load and a store). */
static int cpu_thread(void *arg)
{
	struct race *r = arg;

	for (int i = 0; i < r->n; i++) {
		u64 v = 0;

		CHECK(!cpu_load_u64(r->s->cpu, r->va, &v));
		CHECK(!cpu_store_u64(r->s->cpu, r->va, v + 1));
	}
	return 0;
}

/* The device adds to word 1 atomically, re-making the page exclusive
 * whenever the CPU took it back. */
static int dev_thread(void *arg)
{
	struct race *r = arg;

	for (int i = 0; i < r->n;) {
		int ret = dmirror_atomic_add(r->s->dm, r->va + 8, 1, NULL);

		if (!ret) {
			i++;
			continue;
		}
		CHECK(ret == -EBUSY);
		r->busy++;
		CHECK(!dmirror_exclusive(r->s->dm, r->va & PAGE_MASK,
					 (r->va & PAGE_MASK) + P));
	}
	return 0;
}

static void test_threads(void **state)
{
	struct task_struct *tc, *td;
	struct race rc, rd;
	struct scen s;
	long a;

	scen_setup(&s, 1);
	a = test_map(s.mm, P, RW, MAP_PRIVATE);
	test_store(s.cpu, a, 0);
	rc = (struct race){ .s = &s, .va = a, .n = TEST_SCALE(2000) };
	rd = rc;
	tc = kthread_run(cpu_thread, &rc, "cpu");
	assert_false(IS_ERR(tc));
	td = kthread_run(dev_thread, &rd, "dev");
	assert_false(IS_ERR(td));
	assert_int_equal(kthread_join(tc), 0);
	assert_int_equal(kthread_join(td), 0);
	/* Nothing lost on either side. */
	assert_int_equal(cpu_get(s.cpu, a), rc.n);
	assert_int_equal(cpu_get(s.cpu, a + 8), rd.n);
	assert_true(rd.busy > 0);
	scen_teardown(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_atomic_basic),
		cmocka_unit_test(test_other_device),
		cmocka_unit_test(test_fork_cow),
		cmocka_unit_test(test_mprotect),
		cmocka_unit_test(test_unmap),
		cmocka_unit_test(test_threads),
	};

	mm_exit(mm_alloc());
	return cmocka_run_group_tests(tests, NULL, NULL);
}
