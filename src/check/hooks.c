// SPDX-License-Identifier: MIT
/*
 * hooks.c - turning the oracle on and off, forgetting, and the table the
 * host MMU calls through (src/base/check_hooks.h).
 *
 * On: check_on is set, then the table is published (release): a hook
 * that finds the table finds the oracle ready.  Off: the table is
 * withdrawn first, then check_on cleared, then the shadows and the
 * in-flight invalidations are dropped.  The host stops feeding the
 * oracle while it is off, so neither could be trusted afterwards: a CPU
 * store while off would make a shadow word lie (a false lost write), and
 * an invalidation ending while off would stay "in flight" for ever (false
 * stale accesses).  Translations, pins and devices are kept: they are the
 * drivers' state, which goes on existing.
 */
#include "internal.h"

bool check_on;

static void check_page_free(struct page *page, unsigned int order)
{
	check_pin_page_free(page, order);
	check_shadow_free(page, order);
}

static const struct check_hooks check_hook_table = {
	.inv_begin = check_inv_begin,
	.inv_started = check_inv_started,
	.inv_end = check_inv_end,
	.callback = check_callback,
	.sub_state = check_sub_state,
	.might_sleep = check_might_sleep,
	.page_free = check_page_free,
	.copy_page = check_copy_page,
	.cpu_access = check_cpu_access,
	.swap_write = check_swap_write,
	.swap_read = check_swap_read,
	.swap_free = check_swap_free,
	.mm_free = check_mm_free,
	.unpin_underflow = check_unpin_underflow,
	.gup_fast_grabbed = check_gup_fast_grabbed,
};

/**
 * check_enable() - turn the oracle on.
 *
 * Context: any; best called while nothing runs (an invalidation already
 * running when the oracle comes on ends without the oracle having seen
 * its start: a protocol report, see docs/check.md).
 */
void check_enable(void)
{
	WRITE_ONCE(check_on, true);
	check_hooks_install(&check_hook_table);
}

/**
 * check_disable() - turn the oracle off; drop what it can no longer keep
 * true (shadows, swap-slot shadows, in-flight invalidations, driver
 * objects).
 *
 * Context: any thread; takes the oracle's locks.
 */
void check_disable(void)
{
	check_hooks_install(NULL);
	WRITE_ONCE(check_on, false);
	check_shadow_reset();
	check_swap_reset();
	check_registry_disable();
}

/**
 * check_enabled() - is the oracle on?
 *
 * Return: a snapshot.
 */
bool check_enabled(void)
{
	/* Pairs with the WRITE_ONCEs in check_enable()/check_disable(). */
	return READ_ONCE(check_on);
}

/**
 * check_reset() - forget violations, shadows (of frames and swap slots),
 * event logs and driver objects (check_obj_alloc).
 *
 * Registered translations, in-flight invalidations, pins and devices stay
 * (they describe live drivers).  Context: any thread; best called while
 * no checked access runs.
 */
void check_reset(void)
{
	check_report_reset();
	check_shadow_reset();
	check_swap_reset();
	check_registry_reset();
	check_protocol_reset();
}

/**
 * check_finish() - end of a run: report every frame still pinned.
 *
 * Context: may take a while (scans every frame); no access may run.
 * Return: the number of violations since the last check_reset().
 */
unsigned long check_finish(void)
{
	check_pins_finish();
	return check_nr_violations(0);
}
