// SPDX-License-Identifier: MIT
/*
 * registry.c - what the oracle knows per address space: the translations
 * devices registered (check_map/check_unmap), the invalidations in flight,
 * and a short log of recent events for the reports.
 *
 * HOW STALENESS IS DECIDED
 *
 *	host (munmap, mprotect, ...)          device (driver lock held)
 *	invalidate_range_start:
 *	  check_inv_begin: log
 *	  callbacks: the driver drops its
 *	    translations (check_unmap)
 *	  check_inv_started: every
 *	    translation still registered in
 *	    [start, end) becomes stale; the
 *	    range is in flight
 *	change PTEs, flush, free frames        check_map during the flight:
 *	                                         born stale
 *	invalidate_range_end:
 *	  check_inv_end: no longer in flight   access: stale flag, in flight,
 *	                                         or the CPU PTE disagrees ->
 *	                                         CHECK_STALE (access.c)
 *
 * The marking runs inside start, after the last callback and before the
 * host changes any PTE, under cm->lock; access.c checks and moves the
 * bytes under the same lock.  So an access either precedes the marking
 * (the PTE still maps the frame, and the frame cannot be freed before the
 * zap that follows) or sees the mark.
 *
 * DATA STRUCTURES.  struct check_mm per mm, found through a small hash
 * table keyed by the mm pointer (check_mm_table_lock).  Its translations
 * are an rbtree keyed by (vpn, device id), so the translations of a range
 * are one in-order walk from the first vpn.  In-flight invalidations are
 * a list keyed by the struct mmu_notifier_range pointer (start and end
 * get the same pointer).  The event log is a ring of CHECK_LOG_LEN.
 *
 * LOCKING: check_mm_table_lock -> cm->lock (-> shadow stripe locks, taken
 * by access.c).  A cm is unhashed and freed only under both
 * (check_mm_free at the last mmdrop, check_registry_reset when empty), so
 * check_mm_lock(), which takes cm->lock before dropping the table lock,
 * never returns a freed cm.
 */
#include <stdlib.h>
#include <string.h>
#include "base/trace.h"
#include "registry.h"

#define CHECK_MM_BUCKETS 256

static DEFINE_SPINLOCK(check_mm_table_lock);
static struct check_mm *check_mm_table[CHECK_MM_BUCKETS];
/* Translations registered in all mms: lets check_unmap() with the oracle
 * off return at once when there is nothing to forget. */
static atomic_long_t nr_xlates_total;

static unsigned int check_mm_hash(const struct mm_struct *mm)
{
	return (unsigned int)(((uintptr_t)mm >> 4) * 2654435761u) %
	       CHECK_MM_BUCKETS;
}

/**
 * check_mm_lock() - the oracle's state of @mm, locked.
 * @mm: the address space.
 * @create: make it if there is none.
 *
 * Context: no cm->lock or shadow lock held (takes the table lock, then
 * cm->lock).  Return: the state with cm->lock held, or NULL (none, or no
 * memory for a new one).
 */
struct check_mm *check_mm_lock(struct mm_struct *mm, bool create)
{
	unsigned int h = check_mm_hash(mm);
	struct check_mm *cm;

	spin_lock(&check_mm_table_lock);
	for (cm = check_mm_table[h]; cm; cm = cm->hnext)
		if (cm->mm == mm)
			break;
	if (!cm && create) {
		cm = calloc(1, sizeof(*cm));
		if (cm) {
			cm->mm = mm;
			spin_lock_init(&cm->lock);
			cm->xlates = RB_ROOT;
			INIT_LIST_HEAD(&cm->inflight);
			cm->hnext = check_mm_table[h];
			check_mm_table[h] = cm;
		}
	}
	if (cm)
		spin_lock(&cm->lock);
	spin_unlock(&check_mm_table_lock);
	return cm;
}

void check_mm_unlock(struct check_mm *cm)
{
	spin_unlock(&cm->lock);
}

/* --- translations (cm->lock held) ---------------------------------------- */

static int xlate_cmp(unsigned long vpn, unsigned int id,
		     const struct check_xlate *x)
{
	if (vpn != x->vpn)
		return vpn < x->vpn ? -1 : 1;
	if (id != x->dev_id)
		return id < x->dev_id ? -1 : 1;
	return 0;
}

struct check_xlate *check_xlate_find(struct check_mm *cm, unsigned long vpn,
				     unsigned int dev_id)
{
	struct rb_node *n = cm->xlates.rb_node;

	while (n) {
		struct check_xlate *x = rb_entry(n, struct check_xlate, node);
		int c = xlate_cmp(vpn, dev_id, x);

		if (!c)
			return x;
		n = c < 0 ? n->rb_left : n->rb_right;
	}
	return NULL;
}

/* The translation for (vpn, id), inserted zeroed if absent; NULL: -ENOMEM. */
static struct check_xlate *xlate_get(struct check_mm *cm, unsigned long vpn,
				     unsigned int id)
{
	struct rb_node **link = &cm->xlates.rb_node, *parent = NULL;
	struct check_xlate *x;

	while (*link) {
		int c;

		parent = *link;
		x = rb_entry(parent, struct check_xlate, node);
		c = xlate_cmp(vpn, id, x);
		if (!c)
			return x;
		link = c < 0 ? &parent->rb_left : &parent->rb_right;
	}
	x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	x->vpn = vpn;
	x->dev_id = id;
	rb_link_node(&x->node, parent, link);
	rb_insert_color(&x->node, &cm->xlates);
	cm->nr_xlates++;
	atomic_long_inc(&nr_xlates_total);
	return x;
}

/* The first translation with vpn >= @vpn (any device), or NULL. */
static struct check_xlate *xlate_first_from(struct check_mm *cm,
					    unsigned long vpn)
{
	struct rb_node *n = cm->xlates.rb_node;
	struct check_xlate *best = NULL;

	while (n) {
		struct check_xlate *x = rb_entry(n, struct check_xlate, node);

		if (x->vpn >= vpn) {
			best = x;
			n = n->rb_left;
		} else {
			n = n->rb_right;
		}
	}
	return best;
}

static struct check_xlate *xlate_next(struct check_xlate *x)
{
	struct rb_node *n = rb_next(&x->node);

	return n ? rb_entry(n, struct check_xlate, node) : NULL;
}

static void xlate_erase(struct check_mm *cm, struct check_xlate *x)
{
	rb_erase(&x->node, &cm->xlates);
	cm->nr_xlates--;
	atomic_long_dec(&nr_xlates_total);
	free(x);
}

/* Page numbers covering [start, end). */
static unsigned long vpn_of(unsigned long va)
{
	return va >> PAGE_SHIFT;
}

static unsigned long vpn_end_of(unsigned long end)
{
	return (end >> PAGE_SHIFT) + !!(end & ~PAGE_MASK);
}

/* Forget @dev's translations in [start, end); how many went. */
static unsigned long xlate_forget(struct check_mm *cm,
				  const struct check_dev *dev,
				  unsigned long start, unsigned long end)
{
	unsigned long vend = vpn_end_of(end), n = 0;
	struct check_xlate *x = xlate_first_from(cm, vpn_of(start)), *next;

	for (; x && x->vpn < vend; x = next) {
		next = xlate_next(x);
		if (x->dev_id == dev->id) {
			xlate_erase(cm, x);
			n++;
		}
	}
	return n;
}

/* --- in-flight invalidations (cm->lock held) ------------------------------ */

bool check_inflight_covers(struct check_mm *cm, unsigned long va)
{
	struct check_inflight *f;

	list_for_each_entry(f, &cm->inflight, node)
		if (va >= f->start && va < f->end)
			return true;
	return false;
}

static void inflight_drop_all(struct check_mm *cm)
{
	struct check_inflight *f, *tmp;

	list_for_each_entry_safe(f, tmp, &cm->inflight, node) {
		list_del(&f->node);
		free(f);
	}
}

/* --- the notifier hooks -------------------------------------------------- */

static void log_range(struct check_mm *cm, enum check_ev_type type,
		      const struct mmu_notifier_range *range)
{
	struct check_event ev = {
		.type = type,
		.event = range->event,
		.blockable = mmu_notifier_range_blockable(range),
		.start = range->start,
		.end = range->end,
		.range = range,
	};

	check_log(cm, &ev);
}

void check_inv_begin(const struct mmu_notifier_range *range)
{
	struct check_mm *cm = check_mm_lock(range->mm, true);

	if (!cm)
		return;
	log_range(cm, EV_INV_BEGIN, range);
	check_mm_unlock(cm);
}

/* Mark what is still registered in the range stale: its owner's callback
 * has returned without dropping it. */
static void mark_stale(struct check_mm *cm, unsigned long start,
		       unsigned long end)
{
	unsigned long vend = vpn_end_of(end);
	struct check_xlate *x = xlate_first_from(cm, vpn_of(start));

	for (; x && x->vpn < vend; x = xlate_next(x))
		x->stale = true;
}

void check_inv_started(const struct mmu_notifier_range *range, int ret)
{
	struct check_mm *cm = check_mm_lock(range->mm, true);
	struct check_inflight *f;

	if (!cm)
		return;
	if (ret) {
		log_range(cm, EV_INV_FAILED, range);
		check_mm_unlock(cm);
		return;
	}
	mark_stale(cm, range->start, range->end);
	f = calloc(1, sizeof(*f));
	if (f) {
		f->range = range;
		f->start = range->start;
		f->end = range->end;
		list_add(&f->node, &cm->inflight);
	}
	log_range(cm, EV_INV_STARTED, range);
	check_mm_unlock(cm);
}

void check_inv_end(const struct mmu_notifier_range *range)
{
	struct check_mm *cm = check_mm_lock(range->mm, true);
	struct check_inflight *f;
	bool found = false;

	if (!cm)
		return;
	list_for_each_entry(f, &cm->inflight, node) {
		if (f->range == range) {
			list_del(&f->node);
			free(f);
			found = true;
			break;
		}
	}
	log_range(cm, EV_INV_END, range);
	check_mm_unlock(cm);
	if (!found)
		check_report(CHECK_PROTOCOL, range->mm, range->start, ~0UL,
			     "host",
			     "invalidate_range_end without a matching start "
			     "(range %p, [%#lx, %#lx))",
			     (const void *)range, range->start, range->end);
}

/* Unhash and free @mm's state: its address may be reused from now on. */
void check_mm_free(struct mm_struct *mm)
{
	unsigned int h = check_mm_hash(mm);
	struct check_mm **pp, *cm;
	struct check_xlate *x, *tmp;

	spin_lock(&check_mm_table_lock);
	for (pp = &check_mm_table[h]; (cm = *pp); pp = &cm->hnext)
		if (cm->mm == mm)
			break;
	if (cm) {
		*pp = cm->hnext;
		/* Wait for whoever found it before we unhashed it. */
		spin_lock(&cm->lock);
		spin_unlock(&cm->lock);
	}
	spin_unlock(&check_mm_table_lock);
	if (!cm)
		return;
	rbtree_postorder_for_each_entry_safe(x, tmp, &cm->xlates, node)
	{
		atomic_long_dec(&nr_xlates_total);
		free(x);
	}
	inflight_drop_all(cm);
	free(cm);
}

/* --- check_map / check_unmap ------------------------------------------- */

/**
 * check_map() - @dev now translates @va of @mm to @pfn.
 * @dev: the device.
 * @mm: the address space.
 * @va: the address (any offset inside the page).
 * @pfn: the frame.
 * @writable: the device may write through it.
 *
 * With the oracle off the device is only remembered as "unsure" (its
 * accesses cannot be held to the registry); an older registration of
 * the page is forgotten.  Context: any; takes the oracle's leaf locks.
 */
void check_map(struct check_dev *dev, struct mm_struct *mm, unsigned long va,
	       unsigned long pfn, bool writable)
{
	struct check_event ev = { .type = EV_MAP, .pfn = pfn };
	struct check_mm *cm;
	struct check_xlate *x;

	if (!dev || !mm)
		return;
	va &= PAGE_MASK;
	trace_event(TR_DEV_MAP, "%s map %#lx -> pfn %#lx%s", dev->name, va, pfn,
		    writable ? " w" : "");
	if (!READ_ONCE(check_on) || !pfn_valid(pfn)) {
		check_dev_set_unsure(dev, CHECK_UNSURE_XLATE);
		check_unmap(dev, mm, va, va + PAGE_SIZE);
		return;
	}
	cm = check_mm_lock(mm, true);
	x = cm ? xlate_get(cm, vpn_of(va), dev->id) : NULL;
	if (!x) {
		if (cm)
			check_mm_unlock(cm);
		check_dev_set_unsure(dev, CHECK_UNSURE_XLATE);
		return;
	}
	x->dev = dev;
	x->pfn = pfn;
	/* Pairs with WRITE_ONCE(p->gen) in free_block() (page_alloc.c). */
	x->gen = READ_ONCE(pfn_to_page(pfn)->gen);
	x->writable = writable;
	/* Installed while an invalidation of va runs: it was read from
	 * page tables that are changing (seed 000). */
	x->stale = check_inflight_covers(cm, va);
	ev.start = va;
	ev.end = va + PAGE_SIZE;
	ev.writable = writable;
	snprintf(ev.dev, sizeof(ev.dev), "%s", dev->name);
	check_log(cm, &ev);
	check_mm_unlock(cm);
}

/**
 * check_unmap() - @dev dropped its translations of [start, end) of @mm.
 * @dev: the device.
 * @mm: the address space.
 * @start: first address.
 * @end: end, exclusive.
 *
 * Works with the oracle off too (translations must not outlive their
 * device's belief).  Context: any; takes the oracle's leaf locks.
 */
void check_unmap(struct check_dev *dev, struct mm_struct *mm,
		 unsigned long start, unsigned long end)
{
	struct check_event ev = { .type = EV_UNMAP, .start = start };
	struct check_mm *cm;

	if (!dev || !mm || end <= start)
		return;
	trace_event(TR_DEV_MAP, "%s unmap %#lx-%#lx", dev->name, start, end);
	/* Pairs with the RMWs in xlate_get()/xlate_erase(): a stale zero
	 * only skips work for translations registered concurrently, which
	 * the driver's own lock orders after this call anyway. */
	if (!atomic_long_read(&nr_xlates_total))
		return;
	cm = check_mm_lock(mm, false);
	if (!cm)
		return;
	if (xlate_forget(cm, dev, start, end) && READ_ONCE(check_on)) {
		ev.end = end;
		snprintf(ev.dev, sizeof(ev.dev), "%s", dev->name);
		check_log(cm, &ev);
	}
	check_mm_unlock(cm);
}

/* Forget every translation of @dev, in every mm. */
void check_xlate_forget_dev(struct check_dev *dev)
{
	spin_lock(&check_mm_table_lock);
	for (int h = 0; h < CHECK_MM_BUCKETS; h++) {
		for (struct check_mm *cm = check_mm_table[h]; cm;
		     cm = cm->hnext) {
			spin_lock(&cm->lock);
			xlate_forget(cm, dev, 0, ~0UL);
			spin_unlock(&cm->lock);
		}
	}
	spin_unlock(&check_mm_table_lock);
}

/* --- reset ------------------------------------------------------------- */

/* Empty the logs; free the states that hold nothing else; forget the
 * drivers' objects (objects.c). */
void check_registry_reset(void)
{
	check_objs_reset();
	spin_lock(&check_mm_table_lock);
	for (int h = 0; h < CHECK_MM_BUCKETS; h++) {
		struct check_mm **pp = &check_mm_table[h], *cm;

		while ((cm = *pp)) {
			bool empty;

			spin_lock(&cm->lock);
			cm->log_len = 0;
			cm->log_head = 0;
			empty = !cm->nr_xlates && list_empty(&cm->inflight);
			spin_unlock(&cm->lock);
			if (!empty) {
				pp = &cm->hnext;
				continue;
			}
			/* Unhashed under the table lock: nobody can find
			 * it, and nobody holds it (we just had its lock). */
			*pp = cm->hnext;
			free(cm);
		}
	}
	spin_unlock(&check_mm_table_lock);
}

/* The oracle goes off: invalidations that end now would not be seen,
 * nor would an object's memory being reused (objects.c). */
void check_registry_disable(void)
{
	check_objs_reset();
	spin_lock(&check_mm_table_lock);
	for (int h = 0; h < CHECK_MM_BUCKETS; h++) {
		for (struct check_mm *cm = check_mm_table[h]; cm;
		     cm = cm->hnext) {
			spin_lock(&cm->lock);
			inflight_drop_all(cm);
			spin_unlock(&cm->lock);
		}
	}
	spin_unlock(&check_mm_table_lock);
}
