// SPDX-License-Identifier: MIT
/*
 * ops_mem.c - executing the statements that move memory under the
 * devices (parse_mem.c): migration, reclaim, pressure, device-exclusive
 * access and atomics, device memory.
 */
#include <mmirror/migrate.h>
#include <mmirror/mm.h>
#include <mmirror/swap.h>
#include "mirror/mirror.h"
#include "run_int.h"

/* [va, va + len) of @r rounded out to whole pages. */
static bool page_range(const struct scn_range *r, unsigned long *start,
		       unsigned long *end)
{
	unsigned long va, len;

	if (!scn_range_va(r, &va, &len))
		return false;
	*start = va & PAGE_MASK;
	*end = PAGE_ALIGN(va + len);
	return true;
}

/* migrate PROC RANGE | migrate MIRROR RANGE device|system */
static int exec_migrate(struct scn_stmt *s, unsigned long start,
			unsigned long end)
{
	if (s->op == OP_MIGRATE)
		return vm_migrate_range(s->obj->mm, start, end);
	return s->flag ? dmirror_migrate_to_device(s->obj->dev, start, end) :
			 dmirror_migrate_to_system(s->obj->dev, start, end);
}

/* Operations on a range: migrate (both kinds) and exclusive. */
static void exec_range_op(struct scn_tctx *t, struct scn_stmt *s)
{
	unsigned long start, end;
	int ret;

	if (!page_range(&s->range, &start, &end)) {
		scn_outcome(t, s, false, "empty range");
		return;
	}
	if (s->op == OP_EXCLUSIVE)
		ret = dmirror_exclusive(s->obj->dev, start, end);
	else
		ret = exec_migrate(s, start, end);
	scn_judge(t, s, ret, NULL, 0);
}

/* atomic MIRROR ADDR VALUE: the old value is what a `expect` sees. */
static void exec_atomic(struct scn_tctx *t, struct scn_stmt *s)
{
	unsigned long va, len;
	u64 old = 0;
	int ret;

	if (!scn_range_va(&s->range, &va, &len)) {
		scn_outcome(t, s, false, "empty range");
		return;
	}
	ret = dmirror_atomic_add(s->obj->dev, va, s->value, &old);
	scn_judge(t, s, ret, &old, ret ? 0 : 1);
}

/* pressure PAGES: allocations beyond use-now + PAGES reclaim first. */
static void exec_pressure(struct scn_tctx *t, struct scn_stmt *s)
{
	unsigned long used = totalram_pages() - nr_free_pages();

	vm_set_frame_limit(s->flag ? 0 : used + s->value);
	scn_outcome(t, s, true, "frame limit %lu", vm_frame_limit());
}

bool scn_exec_mem(struct scn_tctx *t, struct scn_stmt *s)
{
	switch (s->op) {
	case OP_MIGRATE:
	case OP_MIGRATE_DEV:
	case OP_EXCLUSIVE:
		exec_range_op(t, s);
		return true;
	case OP_ATOMIC:
		exec_atomic(t, s);
		return true;
	case OP_RECLAIM:
		scn_outcome(t, s, true, "%lu reclaimed", vm_reclaim(s->value));
		return true;
	case OP_PRESSURE:
		exec_pressure(t, s);
		return true;
	case OP_DEVMEM:
		scn_judge(t, s, dmirror_devmem_add(s->obj->dev, s->value), NULL,
			  0);
		return true;
	case OP_RELEASE:
		scn_judge(t, s, dmirror_devmem_release(s->obj->dev), NULL, 0);
		return true;
	default:
		return false;
	}
}
