// SPDX-License-Identifier: MIT
/*
 * explore_seed003.c - seed 003 as explorer scenarios: device-memory
 * removal racing GUP-fast (drivers/flawed/seed003.c).
 *
 * The world: one process mapping one page of device memory (fsdax-like,
 * devmap entries) that the device filled through a pin.  run() starts
 *
 *   "gup"     X3_IOS times f003_gup_write(): pin_user_pages_fast
 *             (FOLL_WRITE), a DMA through the pin, unpin (direct I/O into
 *             the mapping, repeated: each I/O is one chance for the
 *             removal to land inside its GUP-fast)
 *   "remove"  the device is unbound: its memory removed
 *
 * and joins them.  The three combinations of the seed:
 *
 *   seed003-flawed   removal without the zap, GUP-fast without the pgmap
 *                    check: use after free of a removed page (found)
 *   seed003-checked  removal without the zap, GUP-fast with the pgmap
 *                    check (Dan: the check is what protects it): safe
 *   seed003-correct  removal with zap + TLB flush, GUP-fast without the
 *                    check (Jason: the flush serialises GUP-fast like a
 *                    hardware walk): safe
 *
 * gup_fast_set_devmap_check() is a system-wide switch: setup() sets it,
 * teardown() restores the default (on).
 */
#include <mmirror/gup.h>
#include <mmirror/kthread.h>
#include <mmirror/mm.h>
#include <mmirror/slab.h>
#include <mmirror/explore.h>
#include "flawed/seed003.h"

struct x3_ctx {
	struct mm_struct *mm;
	struct f003_dev *dev;
	bool zap; /* correct removal */
};

static void x3_teardown(void *ctx)
{
	struct x3_ctx *c = ctx;

	if (!c)
		return;
	f003_destroy(c->dev);
	if (c->mm)
		mm_exit(c->mm);
	gup_fast_set_devmap_check(true);
	kfree(c);
}

static int x3_setup(void **ctx, bool zap, bool devmap_check)
{
	struct x3_ctx *c = kzalloc(sizeof(*c), GFP_KERNEL);

	if (!c)
		return -ENOMEM;
	c->zap = zap;
	gup_fast_set_devmap_check(devmap_check);
	c->mm = mm_alloc();
	if (IS_ERR_OR_NULL(c->mm)) {
		c->mm = NULL;
		x3_teardown(c);
		return -ENOMEM;
	}
	c->dev = f003_create(c->mm, 1, 0x5eed, "f003");
	if (!c->dev) {
		x3_teardown(c);
		return -ENOMEM;
	}
	*ctx = c;
	return 0;
}

#define X3_IOS 8

static int x3_gup_thread(void *arg)
{
	struct x3_ctx *c = arg;

	/* -EFAULT when the device is already gone: fine either way. */
	for (u64 i = 0; i < X3_IOS; i++)
		f003_gup_write(c->dev, 0, 0xd1 + i);
	return 0;
}

static int x3_remove_thread(void *arg)
{
	struct x3_ctx *c = arg;

	if (c->zap)
		f003_remove(c->dev);
	else
		f003_remove_flawed(c->dev);
	return 0;
}

static void x3_run(void *ctx)
{
	struct task_struct *g = kthread_run(x3_gup_thread, ctx, "gup");
	struct task_struct *r = kthread_run(x3_remove_thread, ctx, "remove");

	if (IS_ERR(g))
		x3_gup_thread(ctx);
	if (IS_ERR(r))
		x3_remove_thread(ctx);
	if (!IS_ERR(g))
		kthread_join(g);
	if (!IS_ERR(r))
		kthread_join(r);
}

static int x3_setup_flawed(void **ctx)
{
	return x3_setup(ctx, false, false);
}

static int x3_setup_checked(void **ctx)
{
	return x3_setup(ctx, false, true);
}

static int x3_setup_correct(void **ctx)
{
	return x3_setup(ctx, true, false);
}

const struct explore_scenario explore_seed003_flawed = {
	.name = "seed003-flawed",
	.summary = "device removal without zap vs GUP-fast without the pgmap "
		   "check (use-after-free)",
	.expect_violation = true,
	.setup = x3_setup_flawed,
	.run = x3_run,
	.teardown = x3_teardown,
};

const struct explore_scenario explore_seed003_checked = {
	.name = "seed003-checked",
	.summary = "device removal without zap vs GUP-fast with the pgmap "
		   "check",
	.expect_violation = false,
	.setup = x3_setup_checked,
	.run = x3_run,
	.teardown = x3_teardown,
};

const struct explore_scenario explore_seed003_correct = {
	.name = "seed003-correct",
	.summary = "memunmap_pages (zap + flush) vs GUP-fast without the "
		   "pgmap check",
	.expect_violation = false,
	.setup = x3_setup_correct,
	.run = x3_run,
	.teardown = x3_teardown,
};
