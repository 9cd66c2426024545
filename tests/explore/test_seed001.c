// SPDX-License-Identifier: MIT
/*
 * Seed 001: a device's lockless page-table walker that reads a PMD entry
 * more than once (drivers/flawed/seed001.c, F001_FLAWED) against one that
 * reads each entry once into a snapshot (F001_CORRECT), in torn-read mode.
 *
 * Forced: a sched-point hook stops the walker right after its first read
 * of the PMD entry of va (none), the test thread's CPU store takes a huge
 * fault there and writes a word that looks like a PTE, then the walker
 * goes on.  The flawed walker takes the 2 MiB data folio for a PTE table
 * and DMAs through the word (oracle: stale); the correct one saw none,
 * reports -EFAULT, and its next walk reads the word at va.
 *
 * Explorer: PCT finds seed001-flawed within 10,000 schedules (seed 1) and
 * seed001-correct survives a few hundred (CI runs the big counts).
 *
 * Real threads: the correct walker polls while a CPU thread faults huge
 * pages in, splits them (mprotect) and unmaps them (freeing the tables),
 * over and over: no violation, no wild walk.
 */
#include "check_test_util.h"
#include "mm_test_util.h"
#include <stdlib.h>
#include <mmirror/cpu.h>
#include <mmirror/explore.h>
#include <mmirror/futex.h>
#include <mmirror/kthread.h>
#include <mmirror/sched_point.h>
#include "flawed/seed001.h"

/* tools/mmirror/explore_seed001.c (not yet in explore_scenarios.h). */
extern const struct explore_scenario explore_seed001_flawed;
extern const struct explore_scenario explore_seed001_correct;

#define VA (1UL << 30)
#define NEIGHBOUR 0x5eed5eed5eed5eedULL

struct world {
	struct mm_struct *mm;
	struct sim_cpu *cpu;
	struct f001_dev *dev;
	unsigned long npfn; /* the neighbour's frame */
	u64 word; /* a PTE naming npfn */
};

static long map_huge(struct mm_struct *mm)
{
	long va = vm_mmap(mm, VA, PMD_SIZE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE);

	if (IS_ERR_VALUE(va))
		return va;
	return vm_madvise(mm, VA, PMD_SIZE, MADV_HUGEPAGE);
}

/* Torn mode on; va: an empty 2 MiB THP mapping; va + 2 MiB: a page. */
static void world_up(struct world *w, enum f001_walker walker)
{
	u64 e;

	assert_int_equal(pgtable_set_torn_mode(true), 0);
	thp_set_mode(THP_MADVISE, false);
	w->mm = mm_alloc();
	assert_false(IS_ERR(w->mm));
	assert_int_equal(map_huge(w->mm), 0);
	assert_int_equal(vm_mmap(w->mm, VA + PMD_SIZE, PAGE_SIZE,
				 PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED),
			 VA + PMD_SIZE);
	w->cpu = cpu_create(w->mm);
	assert_false(IS_ERR(w->cpu));
	assert_int_equal(cpu_store_u64(w->cpu, VA + PMD_SIZE, NEIGHBOUR), 0);
	assert_int_equal(follow_pte_pfn(w->mm, VA + PMD_SIZE, &w->npfn, &e), 0);
	w->word = ((u64)w->npfn << PAGE_SHIFT) | _PAGE_PRESENT | _PAGE_RW |
		  _PAGE_USER | _PAGE_ACCESSED;
	w->dev = f001_create(w->mm, VA, 2 * PMD_SIZE, walker, "f001");
	assert_non_null(w->dev);
}

static int world_down(struct world *w)
{
	f001_destroy(w->dev);
	if (w->cpu && !IS_ERR(w->cpu))
		cpu_destroy(w->cpu);
	if (w->mm && !IS_ERR(w->mm))
		mm_exit(w->mm);
	*w = (struct world){ 0 };
	return pgtable_set_torn_mode(false);
}

/* The world of the test that runs; its teardown also runs after a
 * failed assertion, so one failure does not cascade into the next. */
static struct world W;

static int world_teardown(void **state)
{
	(void)state;
	sched_point_set_hook(NULL);
	check_disable();
	return world_down(&W) ? -1 : 0;
}

/* The PMD entry of va (its table exists: the neighbour is mapped). */
static pmd_t *pmd_of_va(struct mm_struct *mm)
{
	pgd_t *pgdp = pgd_offset(mm, VA);
	pud_t *pudp = pud_offset(p4d_offset(pgdp, VA), VA);

	return pmd_offset(pudp, VA);
}

/* --- the forced interleaving --------------------------------------------- */

/*
 * gate: 0 the walker runs; 1 it stopped right after its first read of
 * the PMD entry; 2 go on.  A futex word: the walker waits inside its
 * IRQ-off walk (a raw futex, not a sleeping primitive, and the test
 * thread does nothing that waits for IRQ-off sections: a fault into a
 * none entry flushes nothing).
 */
static struct {
	pmd_t *pmdp;
	bool seen_pmd, stopped;
	u32 gate;
} G;
static __thread bool is_walker;

static void gate_wait_for(u32 want)
{
	u32 g;

	while ((g = __atomic_load_n(&G.gate, __ATOMIC_SEQ_CST)) != want)
		base_futex_wait(&G.gate, g);
}

static void gate_set(u32 v)
{
	__atomic_store_n(&G.gate, v, __ATOMIC_SEQ_CST);
	base_futex_wake(&G.gate, 16);
}

/* Walker side: stop and wait for the test thread's CPU store. */
static void gate_stop(void)
{
	G.stopped = true;
	gate_set(1);
	gate_wait_for(2);
}

/* The walker's next page-table read after its first PMD read: stop. */
static void gate_hook(enum sched_point_kind kind, const void *obj)
{
	if (!is_walker || kind != SP_PTE_READ || G.stopped)
		return;
	if (!G.seen_pmd) {
		G.seen_pmd = obj == G.pmdp;
		return;
	}
	gate_stop();
}

struct walker_run {
	struct f001_dev *dev;
	int ret[2];
	u64 val[2];
};

static int walker_fn(void *arg)
{
	struct walker_run *r = arg;

	is_walker = true;
	r->ret[0] = f001_dma_read(r->dev, VA, &r->val[0], sizeof(u64));
	/* The correct walker bailed on none with no later read: the CPU
	 * store still comes after its PMD read. */
	if (!G.stopped)
		gate_stop();
	r->ret[1] = f001_dma_read(r->dev, VA, &r->val[1], sizeof(u64));
	is_walker = false;
	return 0;
}

/* Walker: read PMD (none) | CPU: huge fault + store | walker goes on. */
static void forced_run(struct world *w, struct walker_run *r)
{
	struct task_struct *t;
	int ret;

	memset(&G, 0, sizeof(G));
	G.pmdp = pmd_of_va(w->mm);
	assert_true(pmd_none(pmdp_get(G.pmdp)));
	*r = (struct walker_run){ .dev = w->dev };
	sched_point_set_hook(gate_hook);
	t = kthread_run(walker_fn, r, "walker");
	assert_false(IS_ERR(t));
	gate_wait_for(1);
	ret = cpu_store_u64(w->cpu, VA, w->word);
	gate_set(2);
	kthread_join(t);
	sched_point_set_hook(NULL);
	/* Only now: a failed assertion must not leave the walker stopped. */
	assert_int_equal(ret, 0);
}

static void test_forced_flawed(void **state)
{
	const struct check_violation *v;
	struct walker_run r;
	struct f001_stats st;
	unsigned long hpfn;
	struct world *w = &W;
	u64 e;

	(void)state;
	world_up(w, F001_FLAWED);
	oracle_begin();
	check_set_output(NULL);
	forced_run(w, &r);
	assert_int_equal(follow_pte_pfn(w->mm, VA, &hpfn, &e), 0);
	/* It took the folio for a PTE table and the word for a PTE... */
	f001_get_stats(w->dev, &st);
	assert_int_equal(st.wild_walks, 1);
	assert_int_equal(st.wild_pfn, hpfn);
	/* ...and read the neighbour's frame at va: stale. */
	assert_int_equal(r.ret[0], 0);
	assert_int_equal(r.val[0], NEIGHBOUR);
	assert_int_equal(check_nr_violations(0), 1);
	assert_int_equal(check_nr_violations(CHECK_STALE), 1);
	v = check_violation(0);
	assert_int_equal(v->va, VA);
	assert_int_equal(v->pfn, w->npfn);
	/* The next walk is undisturbed and right. */
	assert_int_equal(r.ret[1], 0);
	assert_int_equal(r.val[1], w->word);
	check_disable();
	assert_int_equal(world_down(w), 0);
}

static void test_forced_correct(void **state)
{
	struct walker_run r;
	struct f001_stats st;
	struct world *w = &W;

	(void)state;
	world_up(w, F001_CORRECT);
	oracle_begin();
	forced_run(w, &r);
	/* One read of the PMD: none, so nothing mapped yet... */
	assert_int_equal(r.ret[0], -EFAULT);
	/* ...and the next walk finds the folio and the word at va. */
	assert_int_equal(r.ret[1], 0);
	assert_int_equal(r.val[1], w->word);
	f001_get_stats(w->dev, &st);
	assert_int_equal(st.walks, 2);
	assert_int_equal(st.wild_walks, 0);
	oracle_end_clean();
	assert_int_equal(world_down(w), 0);
}

/* --- the explorer -------------------------------------------------------- */

static FILE *devnull;

static void explore_pct(const struct explore_scenario *s,
			unsigned long schedules, struct explore_result *res)
{
	struct explore_opts o = {
		.strategy = EXPLORE_PCT,
		.depth = 2,
		.schedules = schedules,
		.seed = 1,
		.jobs = 2,
		.stop_at_first = true,
		.out = devnull,
	};

	assert_int_equal(explore(s, &o, res), 0);
}

static void test_explore_flawed_found(void **state)
{
	struct explore_result res;

	(void)state;
	explore_pct(&explore_seed001_flawed, 10000, &res);
	assert_true(res.violations >= 1);
	assert_int_equal(res.bad_verdict, EXPLORE_VIOLATION);
	assert_int_equal(res.deadlocks + res.crashes + res.step_limits, 0);
	/* The recorded schedule replays to the same verdict. */
	assert_non_null(res.bad_schedule);
	assert_int_equal(explore_replay(&explore_seed001_flawed,
					res.bad_schedule, devnull),
			 EXPLORE_VIOLATION);
	explore_result_free(&res);
}

static void test_explore_correct_survives(void **state)
{
	struct explore_result res;

	(void)state;
	explore_pct(&explore_seed001_correct, TEST_SCALE(400), &res);
	assert_int_equal(res.schedules, TEST_SCALE(400));
	assert_int_equal(res.violations + res.deadlocks + res.crashes +
				 res.step_limits,
			 0);
	explore_result_free(&res);
}

/* --- real threads -------------------------------------------------------- */

struct stress {
	struct world *w;
	unsigned long rounds;
	u32 done;
	unsigned long reads; /* DMA reads that found a translation */
};

/* Fault a huge page in, split it, unmap it (tables freed), remap. */
static int stress_cpu(void *arg)
{
	struct stress *s = arg;
	struct world *w = s->w;

	for (unsigned long i = 0; i < s->rounds; i++) {
		CHECK(cpu_store_u64(w->cpu, VA + (i & 7) * PAGE_SIZE, i) == 0);
		/* Half of it read-only: the PMD leaf becomes a PTE table. */
		CHECK(vm_mprotect(w->mm, VA + PMD_SIZE / 2, PMD_SIZE / 2,
				  PROT_READ) == 0);
		CHECK(vm_munmap(w->mm, VA, PMD_SIZE) == 0);
		CHECK(map_huge(w->mm) == 0);
	}
	__atomic_store_n(&s->done, 1, __ATOMIC_RELEASE);
	return 0;
}

/* Poll va and va + 1 MiB until the CPU thread is done. */
static int stress_device(void *arg)
{
	struct stress *s = arg;
	u64 v;

	while (!__atomic_load_n(&s->done, __ATOMIC_ACQUIRE)) {
		if (!f001_dma_read(s->w->dev, VA, &v, sizeof(v)))
			s->reads++;
		if (!f001_dma_read(s->w->dev, VA + PMD_SIZE / 2 + PAGE_SIZE, &v,
				   sizeof(v)))
			s->reads++;
		cond_resched();
	}
	return 0;
}

static void test_real_threads_correct(void **state)
{
	struct mm_leak_check lc;
	struct stress s = { .rounds = 300 };
	struct task_struct *td, *tc;
	struct f001_stats st;
	struct world *w = &W;

	(void)state;
	mm_leak_check_begin(&lc);
	world_up(w, F001_CORRECT);
	s.w = w;
	oracle_begin();
	td = kthread_run(stress_device, &s, "device");
	tc = kthread_run(stress_cpu, &s, "cpu");
	assert_false(IS_ERR(td) || IS_ERR(tc));
	kthread_join(tc);
	kthread_join(td);
	f001_get_stats(w->dev, &st);
	assert_true(st.walks > 0);
	assert_int_equal(st.wild_walks, 0);
	oracle_end_clean();
	assert_int_equal(world_down(w), 0);
	mm_leak_check_end(&lc);
}

/* The scenarios themselves, without the explorer, many times. */
static void test_scenario_real_threads(void **state)
{
	struct mm_leak_check lc;

	(void)state;
	mm_leak_check_begin(&lc);
	oracle_begin();
	for (unsigned int i = 0; i < 200; i++) {
		void *ctx = NULL;

		assert_int_equal(explore_seed001_correct.setup(&ctx), 0);
		explore_seed001_correct.run(ctx);
		explore_seed001_correct.teardown(ctx);
	}
	oracle_end_clean();
	mm_leak_check_end(&lc);
}

static int group_setup(void **state)
{
	(void)state;
	devnull = fopen("/dev/null", "w");
	return devnull ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	fclose(devnull);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		/* The explorer first: it sizes the arena before it forks. */
		cmocka_unit_test(test_explore_flawed_found),
		cmocka_unit_test(test_explore_correct_survives),
		cmocka_unit_test_teardown(test_forced_flawed, world_teardown),
		cmocka_unit_test_teardown(test_forced_correct, world_teardown),
		cmocka_unit_test_teardown(test_real_threads_correct,
					  world_teardown),
		cmocka_unit_test(test_scenario_real_threads),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
