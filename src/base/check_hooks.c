// SPDX-License-Identifier: MIT
/*
 * check_hooks.c - the one pointer through which the host MMU reaches the
 * coherence oracle (protocol in check_hooks.h), and the per-thread
 * non-blockable depth.
 */
#include "check_hooks.h"

const struct check_hooks *check_hooks;

__thread int check_nonblock_depth;
__thread const struct mmu_notifier_range *check_nonblock_range;

void check_hooks_install(const struct check_hooks *hooks)
{
	/* Pairs with smp_load_acquire() in check_hooks_get(). */
	smp_store_release(&check_hooks, hooks);
}
