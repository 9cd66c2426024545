// SPDX-License-Identifier: MIT
/*
 * explore_scenarios.c - seeds 000, 002 and 004 as explorer scenarios.
 *
 * Every scenario has the same small world: one process with two private
 * anonymous pages, the first one faulted in by a CPU store, and one
 * device.  run() starts two threads and joins them; nothing forces an
 * interleaving (no completions): the explorer has to find the bad one.
 *
 *   seed000, seed004     "device": fault va into the device table
 *                        "munmap": vm_munmap(va)
 *                        then the device reads va through whatever
 *                        translation it kept (a stale one is reported)
 *   seed002              "munmap": vm_munmap(va) (a notifier callback)
 *                        "close":  the device is torn down and freed
 *                        (a callback on the freed device is reported
 *                        by the oracle's object-lifetime rule)
 *
 * The flawed drivers are in drivers/flawed (see its README for the race
 * of each); the correct counterparts are drivers/mirror (000, 004) and
 * f002_destroy() (002).  teardown() gives back every frame and object.
 */
#include <mmirror/cpu.h>
#include <mmirror/kthread.h>
#include <mmirror/mm.h>
#include <mmirror/mmu_notifier.h>
#include <mmirror/slab.h>
#include "explore_scenarios.h"
#include "flawed/seed000.h"
#include "flawed/seed002.h"
#include "flawed/seed004.h"
#include "mirror/mirror.h"

enum xs_kind { XS_F000, XS_F002, XS_F004, XS_MIRROR };

struct xs_ctx {
	enum xs_kind kind;
	bool flawed; /* seed002: which teardown */
	struct mm_struct *mm;
	unsigned long va;
	struct f000_dev *f000;
	struct f002_dev *f002;
	struct f004_dev *f004;
	struct dmirror *dm;
};

/* The process: two pages, the first one present with known contents. */
static int xs_mm_up(struct xs_ctx *c)
{
	struct sim_cpu *cpu;
	long va;
	int ret;

	c->mm = mm_alloc();
	if (!c->mm)
		return -ENOMEM;
	va = vm_mmap(c->mm, 0, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS);
	if (IS_ERR_VALUE(va))
		return (int)va;
	c->va = va;
	cpu = cpu_create(c->mm);
	if (IS_ERR_OR_NULL(cpu))
		return -ENOMEM;
	ret = cpu_store_u64(cpu, c->va, 0x5eed);
	cpu_destroy(cpu);
	return ret;
}

static int xs_dev_up(struct xs_ctx *c)
{
	switch (c->kind) {
	case XS_F000:
		c->f000 = f000_create(c->mm, c->va, 2, "f000");
		return c->f000 ? 0 : -ENOMEM;
	case XS_F004:
		c->f004 = f004_create(c->mm, c->va, 2, "f004");
		return c->f004 ? 0 : -ENOMEM;
	case XS_F002:
		c->f002 = f002_create(c->mm, "f002");
		return c->f002 ? 0 : -ENOMEM;
	case XS_MIRROR:
		c->dm = dmirror_create(c->mm, "mirror", 1);
		if (IS_ERR_OR_NULL(c->dm)) {
			c->dm = NULL;
			return -ENOMEM;
		}
		return 0;
	}
	return -EINVAL;
}

static void xs_teardown(void *ctx)
{
	struct xs_ctx *c = ctx;

	if (!c)
		return;
	f000_destroy(c->f000);
	f004_destroy(c->f004);
	/* seed002's run() frees its device; only a failed run leaves it. */
	f002_destroy(c->f002);
	/* The flawed teardown's device memory and the put subscription
	 * go after a grace period (kfree_rcu, call_rcu): wait for them,
	 * so that teardown gives every object back. */
	if (c->kind == XS_F002)
		mmu_notifier_synchronize();
	if (c->dm)
		dmirror_destroy(c->dm);
	if (c->mm)
		mm_exit(c->mm);
	kfree(c);
}

static int xs_setup(void **ctx, enum xs_kind kind, bool flawed)
{
	struct xs_ctx *c = kzalloc(sizeof(*c), GFP_KERNEL);
	int ret;

	if (!c)
		return -ENOMEM;
	c->kind = kind;
	c->flawed = flawed;
	ret = xs_mm_up(c);
	if (!ret)
		ret = xs_dev_up(c);
	if (ret) {
		xs_teardown(c);
		return ret;
	}
	*ctx = c;
	return 0;
}

/* --- the threads --------------------------------------------------------- */

static int xs_device_thread(void *arg)
{
	struct xs_ctx *c = arg;

	switch (c->kind) {
	case XS_F000:
		return f000_fault(c->f000, c->va);
	case XS_F004:
		return f004_fault(c->f004, c->va);
	case XS_MIRROR:
		return dmirror_fault(c->dm, c->va, c->va + PAGE_SIZE, false);
	default:
		return -EINVAL;
	}
}

static int xs_munmap_thread(void *arg)
{
	struct xs_ctx *c = arg;

	return vm_munmap(c->mm, c->va, PAGE_SIZE);
}

static int xs_close_thread(void *arg)
{
	struct xs_ctx *c = arg;
	struct f002_dev *dev = c->f002;

	c->f002 = NULL;
	if (c->flawed)
		f002_destroy_flawed(dev);
	else
		f002_destroy(dev);
	return 0;
}

/* Start both, join both; a thread that cannot start runs inline. */
static void xs_run_pair(int (*a)(void *), const char *an, int (*b)(void *),
			const char *bn, void *arg)
{
	struct task_struct *ta = kthread_run(a, arg, "%s", an);
	struct task_struct *tb = kthread_run(b, arg, "%s", bn);

	if (IS_ERR(ta))
		a(arg);
	if (IS_ERR(tb))
		b(arg);
	if (!IS_ERR(ta))
		kthread_join(ta);
	if (!IS_ERR(tb))
		kthread_join(tb);
}

/* After the race: one device read of va through what the device kept. */
static void xs_final_access(struct xs_ctx *c)
{
	u64 v;

	switch (c->kind) {
	case XS_F000:
		fdev_read(f000_fdev(c->f000), c->va, &v, sizeof(v));
		break;
	case XS_F004:
		fdev_read(f004_fdev(c->f004), c->va, &v, sizeof(v));
		break;
	case XS_MIRROR:
		dmirror_read(c->dm, c->va, &v, sizeof(v));
		break;
	default:
		break;
	}
}

static void xs_run_fault(void *ctx)
{
	xs_run_pair(xs_device_thread, "device", xs_munmap_thread, "munmap",
		    ctx);
	xs_final_access(ctx);
}

static void xs_run_close(void *ctx)
{
	xs_run_pair(xs_munmap_thread, "munmap", xs_close_thread, "close", ctx);
}

/* --- the scenarios -------------------------------------------------------- */

static int xs_setup_f000(void **ctx)
{
	return xs_setup(ctx, XS_F000, true);
}

static int xs_setup_f004(void **ctx)
{
	return xs_setup(ctx, XS_F004, true);
}

static int xs_setup_mirror(void **ctx)
{
	return xs_setup(ctx, XS_MIRROR, false);
}

static int xs_setup_f002_flawed(void **ctx)
{
	return xs_setup(ctx, XS_F002, true);
}

static int xs_setup_f002_correct(void **ctx)
{
	return xs_setup(ctx, XS_F002, false);
}

const struct explore_scenario explore_seed000_flawed = {
	.name = "seed000-flawed",
	.summary = "valid-flag mirror: fault installs after a whole munmap "
		   "(stale)",
	.expect_violation = true,
	.setup = xs_setup_f000,
	.run = xs_run_fault,
	.teardown = xs_teardown,
};

const struct explore_scenario explore_seed000_correct = {
	.name = "seed000-correct",
	.summary = "dmirror (interval notifier + read_retry) vs munmap",
	.expect_violation = false,
	.setup = xs_setup_mirror,
	.run = xs_run_fault,
	.teardown = xs_teardown,
};

const struct explore_scenario explore_seed002_flawed = {
	.name = "seed002-flawed",
	.summary = "mmu_notifier_put then free: callback on a freed device "
		   "(use-after-free)",
	.expect_violation = true,
	.setup = xs_setup_f002_flawed,
	.run = xs_run_close,
	.teardown = xs_teardown,
};

const struct explore_scenario explore_seed002_correct = {
	.name = "seed002-correct",
	.summary = "mmu_notifier_put + mmu_notifier_synchronize, then free",
	.expect_violation = false,
	.setup = xs_setup_f002_correct,
	.run = xs_run_close,
	.teardown = xs_teardown,
};

const struct explore_scenario explore_seed004_flawed = {
	.name = "seed004-flawed",
	.summary = "start/end + active-range list + GUP, no sequence "
		   "(stale / use-after-free)",
	.expect_violation = true,
	.setup = xs_setup_f004,
	.run = xs_run_fault,
	.teardown = xs_teardown,
};

const struct explore_scenario explore_seed004_correct = {
	.name = "seed004-correct",
	.summary = "dmirror (interval notifier + read_retry) vs munmap",
	.expect_violation = false,
	.setup = xs_setup_mirror,
	.run = xs_run_fault,
	.teardown = xs_teardown,
};

/**
 * explore_scenarios_init() - register the seed scenarios and the
 * device-memory ones with the explorer.
 *
 * Idempotent: explore_register() ignores a name it already has.
 * Context: single-threaded start-up (the registry has no lock).
 */
void explore_scenarios_init(void)
{
	static const struct explore_scenario *const all[] = {
		&explore_seed000_flawed,  &explore_seed000_correct,
		&explore_seed001_flawed,  &explore_seed001_correct,
		&explore_seed002_flawed,  &explore_seed002_correct,
		&explore_seed003_flawed,  &explore_seed003_checked,
		&explore_seed003_correct, &explore_seed004_flawed,
		&explore_seed004_correct, &explore_devmem_migrate,
		&explore_devmem_release,  &explore_devmem_fork,
	};

	for (unsigned int i = 0; i < ARRAY_SIZE(all); i++)
		explore_register(all[i]);
}
