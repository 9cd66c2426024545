// SPDX-License-Identifier: MIT
/*
 * The oracle's pin and protocol rules, and the host-side hooks: DMA to a
 * page nobody pinned, an unpin without a pin, pins leaked at check_finish
 * and at device destruction, a frame freed while pinned, GUP-fast
 * grabbing a freed frame, invalidate_range_end without a start, a
 * callback after removal, and a mutex taken in a callback of the OOM
 * reaper's non-blockable invalidation.
 */
#include "tdev.h"
#include <mmirror/gup.h>
#include <mmirror/mutex.h>
#include "base/check_hooks.h"

struct henv {
	struct mm_struct *mm;
	struct sim_cpu *cpu;
	unsigned long a;
	struct check_dev dev;
};

static void henv_up(struct henv *e)
{
	e->mm = mm_alloc();
	e->cpu = cpu_create(e->mm);
	e->a = test_map(e->mm, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE,
			MAP_PRIVATE);
	test_store(e->cpu, e->a, 1);
	check_dev_init(&e->dev, "pindev");
	oracle_begin();
	check_set_output(NULL);
}

static void henv_down(struct henv *e)
{
	check_dev_fini(&e->dev);
	check_disable();
	cpu_destroy(e->cpu);
	mm_exit(e->mm);
	check_reset();
	mm_warn_set_quiet(false);
}

static struct page *pin_one(struct henv *e)
{
	struct page *page;

	assert_int_equal(pin_user_pages_fast(e->mm, e->a, 1, FOLL_WRITE, &page),
			 1);
	return page;
}

static void expect_host(const struct check_violation *v, unsigned long pfn,
			const char *dev)
{
	assert_int_equal(v->pfn, pfn);
	assert_string_equal(v->device, dev);
}

static void test_pin_ok(void **state)
{
	struct henv e;
	struct page *page;
	u64 v = 42, r = 0;

	(void)state;
	henv_up(&e);
	page = pin_one(&e);
	check_pin_note(&e.dev, page);
	assert_int_equal(check_pin_write(&e.dev, page, 8, &v, 8), 0);
	assert_int_equal(test_load(e.cpu, e.a + 8), 42);
	assert_int_equal(check_pin_read(&e.dev, page, 8, &r, 8), 0);
	assert_int_equal(r, 42);
	assert_int_equal(check_pin_read(&e.dev, page, PAGE_SIZE - 4, &r, 8),
			 -EINVAL);
	check_pin_forget(&e.dev, page);
	unpin_user_page(page);
	assert_int_equal(check_finish(), 0);
	henv_down(&e);
}

static void test_pin_dma_unpinned(void **state)
{
	struct henv e;
	struct page *page;
	u64 v = 1;

	(void)state;
	henv_up(&e);
	page = pin_one(&e);
	/* Never noted by this device. */
	assert_int_equal(check_pin_write(&e.dev, page, 0, &v, 8), 0);
	expect_host(expect_one(CHECK_PIN), page_to_pfn(page), "pindev");
	/* Noted, but the pin is gone (unpinned without forgetting). */
	check_reset();
	check_pin_note(&e.dev, page);
	unpin_user_page(page);
	assert_int_equal(check_pin_read(&e.dev, page, 0, &v, 8), 0);
	expect_host(expect_one(CHECK_PIN), page_to_pfn(page), "pindev");
	check_pin_forget(&e.dev, page);
	henv_down(&e);
}

static void test_pin_unpin_underflow(void **state)
{
	struct henv e;
	struct page *page;

	(void)state;
	henv_up(&e);
	page = pin_one(&e);
	unpin_user_page(page);
	mm_warn_set_quiet(true); /* gup.c WARNs too */
	unpin_user_page(page);
	expect_host(expect_one(CHECK_PIN), page_to_pfn(page), "host");
	henv_down(&e);
}

static void test_pin_leaks(void **state)
{
	struct henv e;
	struct page *page;
	struct check_dev d2;

	(void)state;
	henv_up(&e);
	page = pin_one(&e);
	assert_int_equal(check_finish(), 1);
	expect_host(expect_one(CHECK_PIN), page_to_pfn(page), "host");
	/* A device destroyed with a pin noted. */
	check_reset();
	check_dev_init(&d2, "leaky");
	check_pin_note(&d2, page);
	check_dev_fini(&d2);
	expect_host(expect_one(CHECK_PIN), page_to_pfn(page), "leaky");
	unpin_user_page(page);
	henv_down(&e);
}

static void test_pin_freed_while_pinned(void **state)
{
	struct henv e;
	struct page *page;

	(void)state;
	henv_up(&e);
	page = alloc_page(GFP_KERNEL);
	atomic_inc(&page->_pincount); /* a pin without its reference */
	mm_warn_set_quiet(true); /* the allocator refuses it too */
	__free_page(page);
	expect_host(expect_one(CHECK_PIN), page_to_pfn(page), "host");
	/* Repair: the allocator leaked the block; give it back. */
	atomic_set(&page->_pincount, 0);
	atomic_set(&page->_refcount, 1);
	__free_page(page);
	henv_down(&e);
}

static void test_pin_use_after_free(void **state)
{
	struct henv e;
	struct page *page;
	u64 v = 0;

	(void)state;
	henv_up(&e);
	page = pin_one(&e);
	check_pin_note(&e.dev, page);
	/* Simulate a host that let the pinned frame go and reuse. */
	WRITE_ONCE(page->gen, page->gen + 1);
	assert_int_equal(check_pin_read(&e.dev, page, 0, &v, 8), 0);
	expect_host(expect_one(CHECK_USE_AFTER_FREE), page_to_pfn(page),
		    "pindev");
	WRITE_ONCE(page->gen, page->gen - 1);
	check_pin_forget(&e.dev, page);
	unpin_user_page(page);
	henv_down(&e);
}

static void test_gup_fast_hook(void **state)
{
	struct henv e;
	struct page *page;

	(void)state;
	henv_up(&e);
	/* The real thing never fires. */
	assert_int_equal(get_user_pages_fast(e.mm, e.a, 1, 0, &page), 1);
	put_page(page);
	assert_int_equal(check_nr_violations(0), 0);
	/* A grab whose generation moved (what a broken GUP-fast would do). */
	check_hooks_get()->gup_fast_grabbed(page, e.a, page->gen - 1);
	expect_host(expect_one(CHECK_USE_AFTER_FREE), page_to_pfn(page),
		    "gup-fast");
	assert_int_equal(check_violation(0)->va, e.a);
	henv_down(&e);
}

/* ---- protocol ----------------------------------------------------------- */

static struct mutex cb_mutex;

static int mutex_start(struct mmu_notifier *sub,
		       const struct mmu_notifier_range *range)
{
	/* Wrong when the range is not blockable: should be a trylock. */
	mutex_lock(&cb_mutex);
	mutex_unlock(&cb_mutex);
	return 0;
}

static const struct mmu_notifier_ops mutex_ops = {
	.invalidate_range_start = mutex_start,
};

static void test_protocol_sleep_in_nonblock(void **state)
{
	struct henv e;
	struct mmu_notifier sub = { .ops = &mutex_ops };

	(void)state;
	mutex_init(&cb_mutex);
	henv_up(&e);
	assert_int_equal(mmu_notifier_register(&sub, e.mm), 0);
	/* Blockable: fine. */
	assert_int_equal(vm_madvise(e.mm, e.a, PAGE_SIZE, MADV_DONTNEED), 0);
	assert_int_equal(check_nr_violations(0), 0);
	assert_int_equal(mm_oom_reap(e.mm), 0);
	assert_ptr_equal(expect_one(CHECK_PROTOCOL)->mm, e.mm);
	assert_int_equal(check_violation(0)->va, e.a);
	assert_non_null(strstr(check_violation(0)->what, "mutex_lock"));
	mmu_notifier_unregister(&sub, e.mm);
	henv_down(&e);
}

static void test_protocol_end_without_start(void **state)
{
	struct henv e;
	struct mmu_notifier sub = { .ops = &mutex_ops };
	struct mmu_notifier_range r;

	(void)state;
	mutex_init(&cb_mutex);
	henv_up(&e);
	assert_int_equal(mmu_notifier_register(&sub, e.mm), 0);
	mmu_notifier_range_init(&r, MMU_NOTIFY_CLEAR, 0, e.mm, e.a,
				e.a + PAGE_SIZE);
	mm_warn_set_quiet(true); /* the notifier core WARNs as well */
	mmu_notifier_invalidate_range_end(&r);
	assert_ptr_equal(expect_one(CHECK_PROTOCOL)->mm, e.mm);
	assert_int_equal(check_violation(0)->va, e.a);
	assert_string_equal(check_violation(0)->device, "host");
	mmu_notifier_unregister(&sub, e.mm);
	henv_down(&e);
}

static bool nop_invalidate(struct mmu_interval_notifier *mni,
			   const struct mmu_notifier_range *range,
			   unsigned long cur_seq)
{
	mmu_interval_set_seq(mni, cur_seq);
	return true;
}

static const struct mmu_interval_notifier_ops nop_ops = {
	.invalidate = nop_invalidate,
};

static void test_protocol_callback_after_remove(void **state)
{
	struct henv e;
	struct mmu_interval_notifier sub;

	(void)state;
	henv_up(&e);
	assert_int_equal(mmu_interval_notifier_insert(&sub, e.mm, e.a,
						      PAGE_SIZE, &nop_ops),
			 0);
	assert_int_equal(vm_madvise(e.mm, e.a, PAGE_SIZE, MADV_DONTNEED), 0);
	mmu_interval_notifier_remove(&sub);
	assert_int_equal(check_nr_violations(0), 0);
	/* What a core that still walked a removed subscription would do. */
	check_hooks_get()->callback(&sub, "invalidate");
	expect_one(CHECK_PROTOCOL);
	assert_non_null(strstr(check_violation(0)->what, "invalidate"));
	/* Inserted again, it is live. */
	check_reset();
	assert_int_equal(mmu_interval_notifier_insert(&sub, e.mm, e.a,
						      PAGE_SIZE, &nop_ops),
			 0);
	check_hooks_get()->callback(&sub, "invalidate");
	assert_int_equal(check_nr_violations(0), 0);
	mmu_interval_notifier_remove(&sub);
	henv_down(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pin_ok),
		cmocka_unit_test(test_pin_dma_unpinned),
		cmocka_unit_test(test_pin_unpin_underflow),
		cmocka_unit_test(test_pin_leaks),
		cmocka_unit_test(test_pin_freed_while_pinned),
		cmocka_unit_test(test_pin_use_after_free),
		cmocka_unit_test(test_gup_fast_hook),
		cmocka_unit_test(test_protocol_sleep_in_nonblock),
		cmocka_unit_test(test_protocol_end_without_start),
		cmocka_unit_test(test_protocol_callback_after_remove),
	};

	if (mem_init(MEM_DEFAULT_BYTES))
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
