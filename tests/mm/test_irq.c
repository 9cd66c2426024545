// SPDX-License-Identifier: MIT
/*
 * IRQ-off sections and the wait a shootdown does for them: flag semantics
 * and nesting of local_irq_save/restore; a shootdown waits for a thread
 * that was in an IRQ-off section (deterministically: it is still waiting
 * after many yields, and returns once the section ends); it does not wait
 * for a section that began after its snapshot; misuse WARNs; threads that
 * exit (even inside a section) never leave a waiter reading freed memory.
 * No timing assertions: "still waiting" is a flag checked after yields.
 */
#include "test_util.h"
#include <sched.h>
#include <mmirror/cpu.h>
#include <mmirror/irqflags.h>
#include <mmirror/mm.h>
#include "mm/internal.h"

static unsigned long warns_before;

static int setup(void **state)
{
	warns_before = mm_warn_count();
	return 0;
}

static int teardown(void **state)
{
	assert_int_equal(mm_warn_count(), warns_before);
	assert_int_equal(irq_sync_waiting(), 0);
	assert_false(irqs_disabled());
	return 0;
}

static void test_flags_and_nesting(void **state)
{
	unsigned long f1, f2;

	assert_false(irqs_disabled());
	local_irq_save(f1);
	assert_int_equal(f1, 0);
	assert_true(irqs_disabled());
	local_irq_save(f2);
	assert_int_equal(f2, 1);
	assert_true(irqs_disabled());
	local_irq_restore(f2);
	assert_true(irqs_disabled()); /* the outer section goes on */
	local_irq_restore(f1);
	assert_false(irqs_disabled());

	/* Flag semantics, not a counter. */
	local_irq_disable();
	local_irq_disable();
	assert_true(irqs_disabled());
	local_irq_enable();
	assert_false(irqs_disabled());
	local_irq_enable();
	assert_false(irqs_disabled());
	/* With nobody in a section, a sync returns at once. */
	tlb_remove_table_sync_one();
}

/* --- a shootdown waits for an IRQ-off section ------------------------------ */

struct section {
	int in; /* set (release) once IRQs are off */
	int leave; /* set (release) to end the section */
	int until_done; /* instead of leave, wait for *done */
	int *done;
	int saw_done; /* the section ended because *done was set */
};

static void *irq_off_thread(void *arg)
{
	struct section *s = arg;
	unsigned long flags;

	local_irq_save(flags);
	smp_store_release(&s->in, 1);
	for (;;) {
		/* Pair with the release stores of leave / *done. */
		if (smp_load_acquire(&s->leave))
			break;
		if (s->until_done && smp_load_acquire(s->done)) {
			s->saw_done = 1;
			break;
		}
		sched_yield();
	}
	local_irq_restore(flags);
	return NULL;
}

struct syncer {
	int done; /* set (release) when the sync returned */
	struct mm_struct *mm; /* flush_tlb_mm_range instead, if set */
};

static void *sync_thread(void *arg)
{
	struct syncer *y = arg;

	if (y->mm)
		flush_tlb_mm_range(y->mm, 0, ~0UL);
	else
		tlb_remove_table_sync_one();
	smp_store_release(&y->done, 1);
	return NULL;
}

static void wait_flag(int *flag)
{
	/* Pairs with the release store of the flag's owner. */
	while (!smp_load_acquire(flag))
		sched_yield();
}

/* Until a sync has taken its snapshot and blocks (or, if broken, is
 * already done: the caller's assertions then fail instead of hanging). */
static void wait_sync_waiting(struct syncer *y)
{
	while (irq_sync_waiting() < 1 && !smp_load_acquire(&y->done))
		sched_yield();
}

static void check_waits(bool via_flush)
{
	struct section b = { 0 };
	struct syncer y = { 0 };
	pthread_t tb, ty;

	if (via_flush)
		y.mm = mm_alloc();
	pthread_create(&tb, NULL, irq_off_thread, &b);
	wait_flag(&b.in);
	pthread_create(&ty, NULL, sync_thread, &y);
	wait_sync_waiting(&y);
	for (int i = 0; i < TEST_SCALE(20000); i++) {
		sched_yield();
		assert_false(smp_load_acquire(&y.done));
	}
	smp_store_release(&b.leave, 1);
	pthread_join(tb, NULL);
	pthread_join(ty, NULL);
	assert_true(y.done);
	if (via_flush) {
		assert_int_equal(atomic_long_read(&y.mm->tlb_flushes), 1);
		mmput(y.mm);
	}
}

static void test_sync_waits_for_section(void **state)
{
	check_waits(false);
}

static void test_flush_waits_for_section(void **state)
{
	check_waits(true);
}

/*
 * B is in a section; the sync snapshots it and waits.  C then enters a
 * section that ends only once the sync returned.  When B leaves, the sync
 * must return although C is still inside: it never waits for a section
 * that began after its snapshot (else this would deadlock).
 */
static void test_sync_ignores_later_section(void **state)
{
	struct section b = { 0 }, c = { 0 };
	struct syncer y = { 0 };
	pthread_t tb, tc, ty;
	int i;

	pthread_create(&tb, NULL, irq_off_thread, &b);
	wait_flag(&b.in);
	pthread_create(&ty, NULL, sync_thread, &y);
	wait_sync_waiting(&y);
	c.until_done = 1;
	c.done = &y.done;
	pthread_create(&tc, NULL, irq_off_thread, &c);
	wait_flag(&c.in);
	smp_store_release(&b.leave, 1);
	/* Bounded so a broken sync fails instead of hanging. */
	for (i = 0; i < 10000000 && !smp_load_acquire(&y.done); i++)
		sched_yield();
	if (!smp_load_acquire(&y.done))
		smp_store_release(&c.leave, 1); /* unblock, then fail */
	pthread_join(tb, NULL);
	pthread_join(tc, NULL);
	pthread_join(ty, NULL);
	assert_true(c.saw_done);
}

/* Several IRQ-off threads: the sync waits for every one of them. */
static void test_sync_waits_for_all(void **state)
{
	enum { N = 4 };
	struct section s[N] = { 0 };
	struct syncer y = { 0 };
	pthread_t t[N], ty;

	for (int i = 0; i < N; i++) {
		pthread_create(&t[i], NULL, irq_off_thread, &s[i]);
		wait_flag(&s[i].in);
	}
	pthread_create(&ty, NULL, sync_thread, &y);
	wait_sync_waiting(&y);
	for (int i = 0; i < N; i++) {
		for (int k = 0; k < TEST_SCALE(2000); k++) {
			sched_yield();
			assert_false(smp_load_acquire(&y.done));
		}
		smp_store_release(&s[i].leave, 1);
		pthread_join(t[i], NULL);
	}
	pthread_join(ty, NULL);
	assert_true(y.done);
}

/* A shootdown (or sync) with IRQs off WARNs, and does not deadlock on the
 * caller's own section. */
static void test_warn_sync_with_irqs_off(void **state)
{
	struct mm_struct *mm = mm_alloc();
	unsigned long w = mm_warn_count(), flags;

	mm_warn_set_quiet(true);
	local_irq_save(flags);
	tlb_remove_table_sync_one();
	flush_tlb_mm_range(mm, 0, PAGE_SIZE);
	local_irq_restore(flags);
	mm_warn_set_quiet(false);
	assert_int_equal(mm_warn_count(), w + 2);
	warns_before += 2;
	mmput(mm);
}

/* A CPU access that must fault with IRQs off WARNs instead of sleeping. */
static void test_warn_fault_with_irqs_off(void **state)
{
	struct mm_struct *mm = mm_alloc();
	struct sim_cpu *cpu = cpu_create(mm);
	unsigned long w = mm_warn_count();
	u64 v;

	mm_warn_set_quiet(true);
	local_irq_disable();
	assert_int_equal(cpu_load_u64(cpu, 0x1000, &v), -EFAULT);
	local_irq_enable();
	mm_warn_set_quiet(false);
	assert_int_equal(mm_warn_count(), w + 1);
	warns_before += 1;
	cpu_destroy(cpu);
	mmput(mm);
}

/* A thread exiting inside a section WARNs; its section ends for it. */
static void *exit_irq_off(void *arg)
{
	local_irq_disable();
	return NULL;
}

static void test_exit_with_irqs_off(void **state)
{
	unsigned long w = mm_warn_count();
	pthread_t t;

	mm_warn_set_quiet(true);
	pthread_create(&t, NULL, exit_irq_off, NULL);
	pthread_join(t, NULL);
	mm_warn_set_quiet(false);
	assert_int_equal(mm_warn_count(), w + 1);
	warns_before += 1;
	tlb_remove_table_sync_one(); /* does not wait for the dead thread */
}

/*
 * Stress: short-lived threads enter and leave sections and exit while
 * others sync in a loop.  Registry entries are freed while syncs may hold
 * them: ASan catches a use after free, TSan a missing ordering.
 */
struct churn {
	int stop;
	unsigned long syncs;
};

static void *churn_thread(void *arg)
{
	for (int i = 0; i < 20; i++) {
		unsigned long flags;

		local_irq_save(flags);
		sched_yield();
		local_irq_restore(flags);
	}
	return NULL;
}

static void *churn_syncer(void *arg)
{
	struct churn *c = arg;

	/* Pairs with the release store of stop in the test. */
	while (!smp_load_acquire(&c->stop)) {
		tlb_remove_table_sync_one();
		__atomic_add_fetch(&c->syncs, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void test_stress_thread_churn(void **state)
{
	struct churn c = { 0 };
	pthread_t s[2];

	for (int i = 0; i < 2; i++)
		pthread_create(&s[i], NULL, churn_syncer, &c);
	for (int round = 0; round < TEST_SCALE(200); round++) {
		pthread_t t[3];

		for (int i = 0; i < 3; i++)
			pthread_create(&t[i], NULL, churn_thread, NULL);
		for (int i = 0; i < 3; i++)
			pthread_join(t[i], NULL);
	}
	smp_store_release(&c.stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(s[i], NULL);
	assert_true(c.syncs > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_flags_and_nesting, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sync_waits_for_section,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_waits_for_section,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_ignores_later_section,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_waits_for_all, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_warn_sync_with_irqs_off,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_warn_fault_with_irqs_off,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_exit_with_irqs_off, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stress_thread_churn, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
