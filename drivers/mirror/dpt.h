/* SPDX-License-Identifier: MIT */
/*
 * dpt.h - the mirror device's own page table: a sparse radix tree from a
 * user virtual page to a device page-table entry (pfn, valid, writable).
 *
 * The tree has the shape of a CPU page table: 512 slots a node, one node
 * level per 9 bits of the page index, as many levels as the mm's address
 * space needs (4 for 47 bits, 5 for 56).  Nodes are allocated on the first
 * entry below them and freed when their last entry goes, so a device that
 * mirrored a few pages of a 128 TiB space holds a few nodes, and dropping
 * a huge range visits only the populated subtrees.
 *
 * Locking: none inside.  The owner (struct dmirror) serialises every call
 * with its driver mutex: lookups against the invalidation that clears,
 * installs against both.
 */
#ifndef DRIVERS_MIRROR_DPT_H
#define DRIVERS_MIRROR_DPT_H

#include <mmirror/pgtable.h>

/* A device page-table entry: the pfn in the low bits and three flags.
 * DPTE_ATOMIC: installed over a device-exclusive CPU entry (atomic.c). */
#define DPTE_VALID (1UL << 63)
#define DPTE_WRITE (1UL << 62)
#define DPTE_ATOMIC (1UL << 61)
#define DPTE_PFN_MASK (~(DPTE_VALID | DPTE_WRITE | DPTE_ATOMIC))

struct dpt_node;

struct dmirror_pt {
	struct dpt_node *root; /* NULL while the table is empty */
	unsigned int levels; /* node levels, leaves included */
	unsigned long nr; /* valid entries */
};

/* Called for every entry dpt_clear() drops, in increasing @va order. */
typedef void (*dpt_drop_fn)(void *arg, unsigned long va);

/*
 * dpt_init() - an empty table for addresses below @task_size.
 * Context: the table is not in use yet.
 */
void dpt_init(struct dmirror_pt *pt, unsigned long task_size);
/* dpt_lookup() - the entry of the page at @va, 0 if none. */
unsigned long dpt_lookup(const struct dmirror_pt *pt, unsigned long va);
/*
 * dpt_set() - make @entry (DPTE_VALID set) the entry of the page at @va,
 * replacing any.  Return 0 or -ENOMEM (a node could not be allocated:
 * nothing changed).
 */
int dpt_set(struct dmirror_pt *pt, unsigned long va, unsigned long entry);
/*
 * dpt_clear() - drop every entry of [start, end), calling @fn for each
 * (if non-NULL), and free the nodes left empty.  Return: entries dropped.
 */
unsigned long dpt_clear(struct dmirror_pt *pt, unsigned long start,
			unsigned long end, dpt_drop_fn fn, void *arg);

#endif /* DRIVERS_MIRROR_DPT_H */
