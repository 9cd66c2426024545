// SPDX-License-Identifier: MIT
/*
 * access.c - check_dev_read()/check_dev_write(): a device access through
 * a translation, held to the contracts at the moment it happens.
 *
 * The rules, in the order they are tried (one report per access, the
 * first that fails):
 *
 *   1. PROTOCOL    no registered translation of (device, mm, va), or one
 *                  to another frame;
 *   2. USE_AFTER_FREE  the frame's generation moved since check_map;
 *   3. PERMISSION  a write through a read-only translation, or while the
 *                  CPU PTE maps the frame without write permission;
 *   4. STALE       the translation is marked stale (still registered when
 *                  an invalidation's start returned, or installed during
 *                  one), an invalidation of va is in flight, or the CPU
 *                  PTE at va no longer maps the frame;
 *   5. LOST_WRITE  (reads) a word read differs from its shadow.
 *
 * Then the bytes move, always: a real device does not stop because its
 * driver is wrong.
 *
 * The verdict and the move happen under cm->lock, which the
 * invalidation hooks take to mark translations stale before the host
 * changes any PTE (registry.c): so an access is either before the mark,
 * when the PTE still maps the frame, or sees it.
 *
 * The CPU PTE is read locklessly, inside an IRQ-off section like
 * GUP-fast: page tables are freed only after a TLB flush that waits for
 * such sections, so the walk never reads a freed table.  The section
 * takes no lock and waits for nothing, so holding cm->lock across it
 * cannot deadlock a shootdown.
 */
#include <mmirror/irqflags.h>
#include <mmirror/mm.h>
#include "base/trace.h"
#include "internal.h"

struct check_verdict {
	enum check_rule rule; /* 0: none */
	char what[160];
};

enum pte_state { PTE_UNKNOWN, PTE_NONE, PTE_PRESENT };

/*
 * The CPU PTE at @va: its pfn and entry if present.  Unknown once the
 * mm's users are gone: exit is tearing the tables down, and its RELEASE
 * invalidation (which covers everything) is what judges the accesses
 * from then on.  Before that, exit frees no table, so a walk that saw
 * users cannot meet a freed one in practice (see docs/check.md).
 */
static enum pte_state cpu_pte(struct mm_struct *mm, unsigned long va,
			      unsigned long *pfn, u64 *entry)
{
	unsigned long flags;
	int ret;

	if (!atomic_read(&mm->mm_users))
		return PTE_UNKNOWN;
	local_irq_save(flags);
	ret = follow_pte_pfn(mm, va, pfn, entry);
	local_irq_restore(flags);
	return !ret && (*entry & _PAGE_PRESENT) ? PTE_PRESENT : PTE_NONE;
}

#define VERDICT(v, r, ...)                                           \
	do {                                                         \
		(v)->rule = (r);                                     \
		snprintf((v)->what, sizeof((v)->what), __VA_ARGS__); \
	} while (0)

/*
 * Rules 3 and 4 for a registered, live translation @x.  The PTE is only
 * walked when a rule needs it: a write's permission, or a read that
 * neither the stale mark nor an in-flight invalidation has judged.
 */
static void judge_pte(struct check_mm *cm, const struct check_xlate *x,
		      struct mm_struct *mm, unsigned long va, bool write,
		      struct check_verdict *v)
{
	bool inflight = check_inflight_covers(cm, va);
	enum pte_state pte = PTE_UNKNOWN;
	unsigned long cpfn = 0;
	u64 entry = 0;
	bool maps;

	if (write && !x->writable) {
		VERDICT(v, CHECK_PERMISSION,
			"device write through a read-only translation");
		return;
	}
	if (write || (!x->stale && !inflight))
		pte = cpu_pte(mm, va, &cpfn, &entry);
	maps = pte == PTE_PRESENT && cpfn == x->pfn;
	if (write && maps && !(entry & _PAGE_RW))
		VERDICT(v, CHECK_PERMISSION,
			"device write while the CPU PTE maps the frame "
			"read-only (entry %#llx)",
			(unsigned long long)entry);
	else if (x->stale)
		VERDICT(v, CHECK_STALE,
			"access through a translation an invalidation of "
			"this va covered (still registered when "
			"invalidate_range_start returned, or installed "
			"during the invalidation)");
	else if (inflight)
		VERDICT(v, CHECK_STALE,
			"access while an invalidation of this va is between "
			"invalidate_range_start and _end");
	else if (pte != PTE_UNKNOWN && !maps)
		VERDICT(v, CHECK_STALE,
			"the CPU page table no longer maps this frame at this "
			"va (%s)",
			pte == PTE_PRESENT ? "another frame" :
					     "nothing present");
}

/* Rules 1 to 4 (cm->lock held, or @cm NULL: no state for @mm). */
static void judge(struct check_mm *cm, struct check_dev *dev,
		  struct mm_struct *mm, unsigned long va, unsigned long pfn,
		  bool write, struct check_verdict *v)
{
	struct check_xlate *x =
		cm ? check_xlate_find(cm, va >> PAGE_SHIFT, dev->id) : NULL;

	v->rule = 0;
	if (!x || x->pfn != pfn) {
		if (check_dev_unsure(dev, CHECK_UNSURE_XLATE))
			return;
		if (x)
			VERDICT(v, CHECK_PROTOCOL,
				"access through an unregistered translation "
				"(the device registered pfn %#lx here)",
				x->pfn);
		else
			VERDICT(v, CHECK_PROTOCOL,
				"access through an unregistered translation");
		return;
	}
	/* Pairs with WRITE_ONCE(p->gen) in free_block() (page_alloc.c). */
	if (READ_ONCE(pfn_to_page(pfn)->gen) != x->gen) {
		VERDICT(v, CHECK_USE_AFTER_FREE,
			"the frame was freed after the device registered the "
			"translation (generation %lu, now %lu)",
			x->gen, READ_ONCE(pfn_to_page(pfn)->gen));
		return;
	}
	judge_pte(cm, x, mm, va, write, v);
}

static bool dev_args_ok(const struct check_dev *dev, const struct mm_struct *mm,
			unsigned long va, unsigned long pfn, const void *buf,
			size_t len)
{
	return dev && mm && buf && pfn_valid(pfn) && len && len <= PAGE_SIZE &&
	       (va & ~PAGE_MASK) + len <= PAGE_SIZE;
}

static int check_dev_access(struct check_dev *dev, struct mm_struct *mm,
			    unsigned long va, unsigned long pfn, char *buf,
			    size_t len, bool write)
{
	struct check_verdict v;
	struct check_lost lost;
	struct check_mm *cm;
	bool lost_found;

	if (!dev_args_ok(dev, mm, va, pfn, buf, len))
		return -EINVAL;
	trace_event(TR_DEV_ACCESS, "%s %s %#lx pfn %#lx", dev->name,
		    write ? "write" : "read", va, pfn);
	/* Pairs with the WRITE_ONCEs in check_enable()/check_disable(). */
	if (!READ_ONCE(check_on)) {
		check_frame_move(pfn, va & ~PAGE_MASK, buf, len, write, false);
		return 0;
	}
	cm = check_mm_lock(mm, false);
	judge(cm, dev, mm, va, pfn, write, &v);
	/* A read already reported is not also a lost write. */
	lost_found = check_frame_access(pfn, va & ~PAGE_MASK, buf, len, write,
					false, !v.rule, &lost);
	if (cm)
		check_mm_unlock(cm);
	if (v.rule)
		check_report(v.rule, mm, va, pfn, dev->name, "%s", v.what);
	else if (lost_found)
		check_report(CHECK_LOST_WRITE, mm, (va & PAGE_MASK) + lost.off,
			     pfn, dev->name,
			     "device read found %#llx where the last checked "
			     "write left %#llx (frame offset %#lx)",
			     (unsigned long long)lost.found,
			     (unsigned long long)lost.expected, lost.off);
	return 0;
}

/**
 * check_dev_read() - a device reads @len bytes at @va through its
 * translation to @pfn.
 * @dev: the device.
 * @mm: the address space.
 * @va: the address (the bytes must stay within its page).
 * @pfn: the frame the device translates @va to.
 * @buf: where the bytes go.
 * @len: how many.
 *
 * Context: any; call under the driver lock that orders it against the
 * driver's invalidation callback.  Takes the oracle's leaf locks and an
 * IRQ-off section; never sleeps.
 * Return: 0 (the read happened, violation or not), or -EINVAL with
 * nothing read.
 */
int check_dev_read(struct check_dev *dev, struct mm_struct *mm,
		   unsigned long va, unsigned long pfn, void *buf, size_t len)
{
	return check_dev_access(dev, mm, va, pfn, buf, len, false);
}

/**
 * check_dev_write() - a device writes @len bytes at @va through its
 * translation to @pfn.
 * @dev: the device.
 * @mm: the address space.
 * @va: the address (the bytes must stay within its page).
 * @pfn: the frame the device translates @va to.
 * @buf: the bytes.
 * @len: how many.
 *
 * Context and return: as check_dev_read().
 */
int check_dev_write(struct check_dev *dev, struct mm_struct *mm,
		    unsigned long va, unsigned long pfn, const void *buf,
		    size_t len)
{
	return check_dev_access(dev, mm, va, pfn, (char *)buf, len, true);
}
