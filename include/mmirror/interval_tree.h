/* SPDX-License-Identifier: MIT */
/*
 * interval_tree.h - closed intervals [start, last] in an augmented
 * red-black tree, answering "which intervals overlap [start, last]?".
 *
 * This is the index of the mmu interval notifier: each subscription is a
 * node over the address range it mirrors, and every invalidation of
 * [start, last] walks the nodes overlapping it.  It is also usable for any
 * set of possibly overlapping ranges (duplicates allowed).
 *
 * Intervals are CLOSED: [start, last] contains both ends, so [0, ULONG_MAX]
 * is expressible and a one-byte range is [a, a].  Two intervals overlap iff
 * a.start <= b.last && b.start <= a.last.  Nodes are ordered by start;
 * nodes with equal start iterate in insertion order.
 *
 * The query algorithm and why it is correct and fast are in the opening
 * comment of src/base/interval_tree.c; in short, each node caches the
 * largest `last` in its subtree (__subtree_last), so a query skips whole
 * subtrees that end before it and stops at the first node that starts
 * after it: finding the first overlap is O(log n), and iterating k
 * overlaps costs O(log n + k) when they are the intervals starting inside
 * the query (disjoint ranges), O((k + 1) log n) at worst.
 *
 * Locking: none.  The tree is guarded by its owner's lock (for the mmu
 * interval notifier, the subscriptions lock), held for writing around
 * insert/remove and at least for reading around a query and the whole
 * iteration that follows it.  No lockless readers.  Nothing here sleeps or
 * allocates: nodes are embedded in the caller's objects.
 */
#ifndef MMIRROR_INTERVAL_TREE_H
#define MMIRROR_INTERVAL_TREE_H

#include <mmirror/compiler.h>
#include <mmirror/rbtree.h>

struct interval_tree_node {
	struct rb_node rb;
	unsigned long start; /* first address in the interval */
	unsigned long last; /* last address in the interval (inclusive) */
	/* max(last) over this node's subtree; private to interval_tree.c */
	unsigned long __subtree_last;
};

int interval_tree_insert(struct interval_tree_node *node,
			 struct rb_root_cached *root);
int interval_tree_remove(struct interval_tree_node *node,
			 struct rb_root_cached *root);
struct interval_tree_node *
interval_tree_iter_first(const struct rb_root_cached *root, unsigned long start,
			 unsigned long last);
struct interval_tree_node *
interval_tree_iter_next(const struct interval_tree_node *node,
			unsigned long start, unsigned long last);

/**
 * interval_tree_node_inserted - is @node in a tree?
 * @node: a node that was initialised by interval_tree_node_init() or has
 *        been through interval_tree_insert()/interval_tree_remove()
 *
 * Return: true between a successful insert and the matching remove.
 */
static inline bool
interval_tree_node_inserted(const struct interval_tree_node *node)
{
	return !RB_EMPTY_NODE(&node->rb);
}

/**
 * interval_tree_node_init - mark a fresh node as in no tree
 * @node: the node
 *
 * Optional before the first insert; it lets interval_tree_remove() refuse
 * (and warn about) removing a node that was never inserted.
 */
static inline void interval_tree_node_init(struct interval_tree_node *node)
{
	RB_CLEAR_NODE(&node->rb);
}

/*
 * interval_tree_for_each - iterate over the nodes overlapping [start, last]
 * in start order.  The body must not remove @node (use the _safe variant)
 * and must not insert; the owner's lock is held throughout.
 */
#define interval_tree_for_each(node, root, start, last)                \
	for (node = interval_tree_iter_first(root, start, last); node; \
	     node = interval_tree_iter_next(node, start, last))

/*
 * interval_tree_for_each_safe - as interval_tree_for_each(), but the body
 * may remove @node from the tree (only @node: the next overlapping node is
 * found before the body runs and must stay in the tree).
 */
#define interval_tree_for_each_safe(node, tmp, root, start, last)           \
	for (node = interval_tree_iter_first(root, start, last),            \
	    tmp = node ? interval_tree_iter_next(node, start, last) : NULL; \
	     node; node = tmp,                                              \
	    tmp = node ? interval_tree_iter_next(node, start, last) : NULL)

#endif /* MMIRROR_INTERVAL_TREE_H */
