// SPDX-License-Identifier: MIT
/*
 * explore_devmem.c - device-private memory under the explorer: the mirror
 * device (drivers/mirror/devmem.c) moving pages into its memory and back
 * while a CPU, the device itself and the mm's own paths race it.  These
 * are correct-protocol scenarios: no schedule may violate a contract,
 * deadlock or crash (tests/explore/test_devmem_explore.c).
 *
 * The world: one process with two private pages holding known words, a
 * mirror device with one engine and four pages of device memory.  run()
 * starts three threads and joins them:
 *
 *   devmem-migrate   "cpu"      stores to page 0, loads page 1
 *                    "migrate"  both pages to the device, then back
 *                    "device"   writes page 1, reads page 0
 *   devmem-release   "cpu"      as above
 *                    "migrate"  both pages to the device, then the
 *                               device memory is released while mapped
 *                    "device"   as above
 *   devmem-fork      "fork"     forks (both pages on the device: shared
 *                               read-only), the child writes page 0
 *                    "migrate"  both pages to the device
 *                    "device"   writes page 0, reads page 1
 *
 * Every CPU store is a checked write (the oracle's shadow) and every
 * device read is compared with it, so a byte lost by a migration (copied
 * before the last write reached the old page) is a lost-write report; a
 * device access through a translation the migration should have dropped
 * is a stale one.
 */
#include <mmirror/cpu.h>
#include <mmirror/explore.h>
#include <mmirror/kthread.h>
#include <mmirror/mm.h>
#include <mmirror/slab.h>
#include "explore_scenarios.h"
#include "mirror/mirror.h"

enum xd_kind { XD_MIGRATE, XD_RELEASE, XD_FORK };

struct xd_ctx {
	enum xd_kind kind;
	struct mm_struct *mm, *child;
	unsigned long va;
	struct sim_cpu *cpu;
	struct dmirror *dm;
};

static void xd_teardown(void *ctx)
{
	struct xd_ctx *c = ctx;

	if (!c)
		return;
	/* The device first: its memory goes back before the mms exit. */
	if (c->dm)
		dmirror_destroy(c->dm);
	if (c->cpu)
		cpu_destroy(c->cpu);
	if (c->child)
		mm_exit(c->child);
	if (c->mm)
		mm_exit(c->mm);
	kfree(c);
}

/* Two private pages with a known word each, a device with memory. */
static int xd_world(struct xd_ctx *c)
{
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
	c->cpu = cpu_create(c->mm);
	if (IS_ERR_OR_NULL(c->cpu)) {
		c->cpu = NULL;
		return -ENOMEM;
	}
	ret = cpu_store_u64(c->cpu, c->va, 0x10);
	if (!ret)
		ret = cpu_store_u64(c->cpu, c->va + PAGE_SIZE, 0x11);
	if (ret)
		return ret;
	c->dm = dmirror_create(c->mm, "gpu", 1);
	if (IS_ERR_OR_NULL(c->dm)) {
		c->dm = NULL;
		return -ENOMEM;
	}
	return dmirror_devmem_add(c->dm, 4);
}

static int xd_setup(void **ctx, enum xd_kind kind)
{
	struct xd_ctx *c = kzalloc(sizeof(*c), GFP_KERNEL);
	int ret;

	if (!c)
		return -ENOMEM;
	c->kind = kind;
	ret = xd_world(c);
	/* fork: start with both pages on the device. */
	if (!ret && kind == XD_FORK)
		ret = dmirror_migrate_to_device(c->dm, c->va,
						c->va + 2 * PAGE_SIZE);
	if (ret) {
		xd_teardown(c);
		return ret;
	}
	*ctx = c;
	return 0;
}

static int xd_cpu(void *arg)
{
	struct xd_ctx *c = arg;
	u64 v;

	cpu_store_u64(c->cpu, c->va, 0x20);
	cpu_load_u64(c->cpu, c->va + PAGE_SIZE, &v);
	return 0;
}

static int xd_migrate(void *arg)
{
	struct xd_ctx *c = arg;
	unsigned long end = c->va + 2 * PAGE_SIZE;

	/* -ENOMEM/-EBUSY are legal outcomes of a race: what moved moved. */
	dmirror_migrate_to_device(c->dm, c->va, end);
	if (c->kind == XD_RELEASE)
		dmirror_devmem_release(c->dm);
	else if (c->kind == XD_MIGRATE)
		dmirror_migrate_to_system(c->dm, c->va, end);
	return 0;
}

static int xd_device(void *arg)
{
	struct xd_ctx *c = arg;
	u64 v = 0x30;
	bool fork = c->kind == XD_FORK;

	dmirror_write(c->dm, c->va + (fork ? 0 : PAGE_SIZE), &v, sizeof(v));
	dmirror_read(c->dm, c->va + (fork ? PAGE_SIZE : 0), &v, sizeof(v));
	return 0;
}

/* fork, then the child writes page 0 (its copy: COW in system memory). */
static int xd_fork(void *arg)
{
	struct xd_ctx *c = arg;
	struct sim_cpu *cc;
	struct mm_struct *child = mm_fork(c->mm);

	if (IS_ERR_OR_NULL(child))
		return -ENOMEM;
	/* Published to teardown by the join. */
	c->child = child;
	cc = cpu_create(child);
	if (IS_ERR_OR_NULL(cc))
		return -ENOMEM;
	cpu_store_u64(cc, c->va, 0x40);
	cpu_destroy(cc);
	return 0;
}

static void xd_run(void *ctx)
{
	struct xd_ctx *c = ctx;
	int (*const fns[])(void *) = { c->kind == XD_FORK ? xd_fork : xd_cpu,
				       xd_migrate, xd_device };
	static const char *const names[] = { "cpu", "migrate", "device" };
	struct task_struct *t[3];

	for (int i = 0; i < 3; i++) {
		t[i] = kthread_run(fns[i], c, "%s",
				   i == 0 && c->kind == XD_FORK ? "fork" :
								  names[i]);
		if (IS_ERR(t[i]))
			fns[i](c);
	}
	for (int i = 0; i < 3; i++)
		if (!IS_ERR(t[i]))
			kthread_join(t[i]);
}

static int xd_setup_migrate(void **ctx)
{
	return xd_setup(ctx, XD_MIGRATE);
}

static int xd_setup_release(void **ctx)
{
	return xd_setup(ctx, XD_RELEASE);
}

static int xd_setup_fork(void **ctx)
{
	return xd_setup(ctx, XD_FORK);
}

const struct explore_scenario explore_devmem_migrate = {
	.name = "devmem-migrate",
	.summary = "mirror pages to device memory and back vs a CPU and the "
		   "device's own accesses",
	.expect_violation = false,
	.setup = xd_setup_migrate,
	.run = xd_run,
	.teardown = xd_teardown,
};

const struct explore_scenario explore_devmem_release = {
	.name = "devmem-release",
	.summary = "device memory released while mapped vs a CPU and the "
		   "device",
	.expect_violation = false,
	.setup = xd_setup_release,
	.run = xd_run,
	.teardown = xd_teardown,
};

const struct explore_scenario explore_devmem_fork = {
	.name = "devmem-fork",
	.summary = "fork of device-private pages and a child write vs "
		   "migration and the device",
	.expect_violation = false,
	.setup = xd_setup_fork,
	.run = xd_run,
	.teardown = xd_teardown,
};
