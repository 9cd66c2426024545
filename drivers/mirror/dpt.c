// SPDX-License-Identifier: MIT
/*
 * dpt.c - the mirror device's page table (dpt.h): a sparse radix tree of
 * 512-slot nodes, indexed by the user page number like a CPU page table.
 *
 * Level 0 nodes hold entries, higher levels hold children.  A node's
 * @count is its number of non-empty slots; a node whose count drops to 0
 * is freed by dpt_clear(), which also frees nodes dpt_set() allocated and
 * then could not use (-ENOMEM half way down), so nothing is ever lost.
 * The caller serialises every call (the driver mutex): no locking here.
 */
#include <mmirror/slab.h>

#include "dpt.h"

#define DPT_BITS 9
#define DPT_SLOTS (1UL << DPT_BITS)

struct dpt_node {
	unsigned int count; /* non-empty slots */
	union {
		struct dpt_node *child[DPT_SLOTS]; /* levels >= 1 */
		unsigned long ent[DPT_SLOTS]; /* level 0 */
	};
};

/* The slot of page index @idx in a node of level @level. */
static inline unsigned int dpt_slot(unsigned long idx, unsigned int level)
{
	return (idx >> (level * DPT_BITS)) & (DPT_SLOTS - 1);
}

/* Pages covered by one slot of a node of level @level. */
static inline unsigned long dpt_span(unsigned int level)
{
	return 1UL << (level * DPT_BITS);
}

void dpt_init(struct dmirror_pt *pt, unsigned long task_size)
{
	unsigned long max_idx = (task_size - 1) >> PAGE_SHIFT;
	unsigned int bits = max_idx ? 64 - __builtin_clzl(max_idx) : 1;

	pt->root = NULL;
	pt->levels = DIV_ROUND_UP(bits, DPT_BITS);
	pt->nr = 0;
}

unsigned long dpt_lookup(const struct dmirror_pt *pt, unsigned long va)
{
	unsigned long idx = va >> PAGE_SHIFT;
	const struct dpt_node *n = pt->root;
	unsigned int level;

	for (level = pt->levels - 1; n && level > 0; level--)
		n = n->child[dpt_slot(idx, level)];
	return n ? n->ent[dpt_slot(idx, 0)] : 0;
}

int dpt_set(struct dmirror_pt *pt, unsigned long va, unsigned long entry)
{
	unsigned long idx = va >> PAGE_SHIFT;
	struct dpt_node **slot = &pt->root, *parent = NULL;
	unsigned int i;
	int level;

	if (WARN_ON(!(entry & DPTE_VALID)))
		return -EINVAL;
	for (level = pt->levels - 1; level >= 0; level--) {
		if (!*slot) {
			*slot = kzalloc(sizeof(**slot), GFP_KERNEL);
			if (!*slot)
				return -ENOMEM;
			if (parent)
				parent->count++;
		}
		parent = *slot;
		if (level > 0)
			slot = &parent->child[dpt_slot(idx, level)];
	}
	i = dpt_slot(idx, 0);
	if (!parent->ent[i]) {
		parent->count++;
		pt->nr++;
	}
	parent->ent[i] = entry;
	return 0;
}

struct dpt_clear_args {
	struct dmirror_pt *pt;
	unsigned long start, end; /* page indices, [start, end) */
	dpt_drop_fn fn;
	void *arg;
	unsigned long dropped;
};

/* Drop the entries of leaf @n (first index @base) inside the range. */
static void dpt_clear_leaf(struct dpt_clear_args *a, struct dpt_node *n,
			   unsigned long base)
{
	unsigned long s = max(a->start, base);
	unsigned long e = min(a->end, base + DPT_SLOTS);

	for (unsigned long idx = s; idx < e && n->count; idx++) {
		unsigned long *ent = &n->ent[idx - base];

		if (!*ent)
			continue;
		*ent = 0;
		n->count--;
		a->pt->nr--;
		a->dropped++;
		if (a->fn)
			a->fn(a->arg, idx << PAGE_SHIFT);
	}
}

/* Clear the range below node @n of @level (first index @base); free the
 * children left empty.  Recursion depth is the number of levels (<= 5). */
static void dpt_clear_node(struct dpt_clear_args *a, struct dpt_node *n,
			   unsigned int level, unsigned long base)
{
	unsigned long span = dpt_span(level);
	unsigned long s = max(a->start, base);
	unsigned long e = min(a->end, base + DPT_SLOTS * span);

	if (level == 0) {
		dpt_clear_leaf(a, n, base);
		return;
	}
	for (unsigned long i = (s - base) / span; i <= (e - 1 - base) / span;
	     i++) {
		struct dpt_node *c = n->child[i];

		if (!c)
			continue;
		dpt_clear_node(a, c, level - 1, base + i * span);
		if (!c->count) {
			kfree(c);
			n->child[i] = NULL;
			n->count--;
		}
	}
}

unsigned long dpt_clear(struct dmirror_pt *pt, unsigned long start,
			unsigned long end, dpt_drop_fn fn, void *arg)
{
	unsigned long limit = dpt_span(pt->levels);
	struct dpt_clear_args a = {
		.pt = pt,
		.start = start >> PAGE_SHIFT,
		/* Rounded up without overflowing for end near ~0UL. */
		.end = min((end >> PAGE_SHIFT) + !!(end & ~PAGE_MASK), limit),
		.fn = fn,
		.arg = arg,
	};

	if (!pt->root || a.start >= a.end)
		return 0;
	dpt_clear_node(&a, pt->root, pt->levels - 1, 0);
	if (!pt->root->count) {
		kfree(pt->root);
		pt->root = NULL;
	}
	return a.dropped;
}
