// SPDX-License-Identifier: MIT
/*
 * interval_tree.c - overlap queries over closed intervals.
 *
 * The structure.  A red-black tree (rbtree.h) of nodes ordered by start,
 * ties broken by insertion order (an equal start goes right of every node
 * already there, and rotations never change the in-order sequence).  Each
 * node is augmented with
 *
 *	__subtree_last = max { n->last : n in the subtree rooted here }
 *
 * which is a function of the node's own last and its children's
 * __subtree_last, so rbtree.c keeps it exact through rotations and erase via
 * the callbacks RB_DECLARE_CALLBACKS_MAX() generates below.  Insert updates
 * it on the way down (every node passed gets the new last folded in, since
 * the new node will sit in its subtree) and erase recomputes it upward from
 * the splice point.
 *
 * The query.  [s, l] overlaps [n->start, n->last] iff n->start <= l and
 * n->last >= s.  Two facts prune the search:
 *   (a) if a subtree's __subtree_last < s, nothing in it ends at or after s,
 *       so nothing in it overlaps: skip it whole;
 *   (b) if n->start > l, neither n nor anything after it in order (its
 *       right subtree, and every later ancestor) overlaps: stop.
 * subtree_first() finds the in-order first overlapping node under a root:
 *   - if the left child's __subtree_last >= s, go left and never come back.
 *     Correct because some node m in the left subtree has m->last >= s; if
 *     m->start <= l, m overlaps, so the answer is on the left; otherwise
 *     m->start > l, and n and the whole right subtree start at or after
 *     m->start, so (b) rules them out: nothing outside the left subtree
 *     can be the answer either way;
 *   - else (a) rules out the left subtree; try n itself; if n->start <= l,
 *     descend right when (a) does not rule it out; otherwise (b): none.
 * One root-to-leaf path: O(log n) (height <= 2 log2(n + 1)).
 * iter_first() is subtree_first() at the root after two O(1) rejections
 * (the root's __subtree_last < s; the cached leftmost start > l).
 * iter_next() continues the in-order walk from a node: first the node's
 * right subtree (subtree_first() unless (a) prunes it), then climbing to the
 * first ancestor reached from a left child, which is the next node in
 * order: stop there by (b), report it if it overlaps, else search its right
 * subtree, and so on.  Every node in order between two reported nodes is
 * either visited or lies in a subtree pruned by (a), and the walk ends only
 * by (b) or at the end of the tree, so the iteration reports exactly the
 * overlapping nodes, in order.
 *
 * Cost of a whole iteration reporting k nodes.  The overlapping nodes are
 * (i) those with s <= start <= l, consecutive in order, and (ii) those with
 * start < s <= last (the intervals containing s).  Walking a run of
 * consecutive in-order nodes by successor steps costs O(run + log n) in
 * total, so iteration is O(log n + k) when the nodes of (ii) are few, which
 * is the case for the address ranges this tree indexes (subscriptions
 * rarely nest deeply).  Nodes of (ii) are scattered among the
 * non-overlapping nodes starting before s; each can cost a fresh descent,
 * so the worst case is O((k + 1) log n) (more precisely O(log n +
 * k log(n / k))), never worse than O(n).  A query reporting nothing is
 * always O(log n).
 *
 * Validation: an interval with start > last is API misuse: insert refuses
 * it (WARN_ON, -EINVAL, tree untouched) and a query for one warns and
 * reports nothing.
 *
 * Locking: none; the owner's lock guards the tree (interval_tree.h).
 */
#include <mmirror/interval_tree.h>

#define ITREE_LAST(n) ((n)->last)

RB_DECLARE_CALLBACKS_MAX(static, itree_augment, struct interval_tree_node, rb,
			 unsigned long, __subtree_last, ITREE_LAST);

static inline struct interval_tree_node *itree_entry(const struct rb_node *rb)
{
	return rb_entry(rb, struct interval_tree_node, rb);
}

/**
 * interval_tree_insert - add a closed interval to a tree
 * @node: the node, with @node->start and @node->last set; it must not be in
 *        any tree
 * @root: the tree
 *
 * Equal intervals and equal starts are allowed; among nodes with the same
 * start, iteration order is insertion order.  O(log n).
 * Context: the owner's lock held for writing.  Does not sleep or allocate.
 * Return: 0 on success; -EINVAL (with a warning, tree untouched, @node
 * marked as in no tree) if an argument is NULL or @node->start >
 * @node->last.
 */
int interval_tree_insert(struct interval_tree_node *node,
			 struct rb_root_cached *root)
{
	struct rb_node **link, *parent = NULL;
	unsigned long start, last;
	bool leftmost = true;

	if (WARN_ON(!node || !root))
		return -EINVAL;
	start = node->start;
	last = node->last;
	if (WARN_ON(start > last)) {
		RB_CLEAR_NODE(&node->rb);
		return -EINVAL;
	}

	link = &root->rb_root.rb_node;
	while (*link) {
		struct interval_tree_node *p = itree_entry(*link);

		parent = *link;
		/* @node will be in p's subtree. */
		if (p->__subtree_last < last)
			p->__subtree_last = last;
		if (start < p->start) {
			link = &parent->rb_left;
		} else {
			link = &parent->rb_right;
			leftmost = false;
		}
	}
	node->__subtree_last = last;
	rb_link_node(&node->rb, parent, link);
	rb_insert_augmented_cached(&node->rb, root, leftmost, &itree_augment);
	return 0;
}

/**
 * interval_tree_remove - take an interval out of its tree
 * @node: a node in @root
 * @root: the tree
 *
 * Afterwards @node is marked as in no tree, so removing it again is caught.
 * O(log n).
 * Context: the owner's lock held for writing.  Does not sleep or allocate.
 * Return: 0 on success; -EINVAL if an argument is NULL; -ENOENT (with a
 * warning, tree untouched) if @node is marked as in no tree (already
 * removed, refused by insert, or only interval_tree_node_init()ed).
 */
int interval_tree_remove(struct interval_tree_node *node,
			 struct rb_root_cached *root)
{
	if (WARN_ON(!node || !root))
		return -EINVAL;
	if (WARN_ON(RB_EMPTY_NODE(&node->rb)))
		return -ENOENT;
	rb_erase_augmented_cached(&node->rb, root, &itree_augment);
	RB_CLEAR_NODE(&node->rb);
	return 0;
}

/*
 * The in-order first node under @node overlapping [start, last], or NULL.
 * Precondition: node->__subtree_last >= start.  The descent keeps it (a
 * pruned left child and a non-overlapping node leave the right child as
 * the holder of the maximum), so NULL is returned only by rule (b), which
 * also means no node after this subtree overlaps: iter_next() relies on it.
 */
static struct interval_tree_node *
itree_subtree_first(struct interval_tree_node *node, unsigned long start,
		    unsigned long last)
{
	for (;;) {
		if (node->rb.rb_left) {
			struct interval_tree_node *left =
				itree_entry(node->rb.rb_left);

			if (left->__subtree_last >= start) {
				node = left;
				continue;
			}
		}
		if (node->start > last)
			return NULL;
		if (node->last >= start)
			return node;
		if (!node->rb.rb_right)
			return NULL;
		node = itree_entry(node->rb.rb_right);
		if (node->__subtree_last < start)
			return NULL;
	}
}

/**
 * interval_tree_iter_first - first interval overlapping [start, last]
 * @root: the tree
 * @start: first address of the query
 * @last: last address of the query (inclusive)
 *
 * O(log n).
 * Context: the owner's lock held (reading suffices) until the iteration
 * that follows is over.
 * Return: the overlapping node with the smallest start (first inserted
 * among equal starts), or NULL if none overlaps; NULL with a warning if
 * @root is NULL or @start > @last.
 */
struct interval_tree_node *
interval_tree_iter_first(const struct rb_root_cached *root, unsigned long start,
			 unsigned long last)
{
	struct interval_tree_node *node, *leftmost;

	if (WARN_ON(!root || start > last))
		return NULL;
	if (!root->rb_root.rb_node)
		return NULL;
	node = itree_entry(root->rb_root.rb_node);
	if (node->__subtree_last < start)
		return NULL; /* everything ends before the query */
	leftmost = itree_entry(root->rb_leftmost);
	if (leftmost->start > last)
		return NULL; /* everything starts after the query */
	return itree_subtree_first(node, start, last);
}

/**
 * interval_tree_iter_next - next interval overlapping [start, last]
 * @node: the node the previous call returned
 * @start: the same query start
 * @last: the same query last
 *
 * Amortised O(1) per step along a run of consecutive overlapping nodes,
 * O(log n) at worst (interval_tree.c has the argument).
 * Context: the owner's lock held since the interval_tree_iter_first() call,
 * with no insert or remove since except as interval_tree_for_each_safe()
 * allows.
 * Return: the overlapping node following @node in order, or NULL if there
 * is none; NULL with a warning if @node is NULL or @start > @last.
 */
struct interval_tree_node *
interval_tree_iter_next(const struct interval_tree_node *node,
			unsigned long start, unsigned long last)
{
	struct rb_node *rb, *prev;

	if (WARN_ON(!node || start > last))
		return NULL;
	rb = node->rb.rb_right;
	for (;;) {
		/* Everything in @rb's subtree follows @node in order. */
		if (rb) {
			struct interval_tree_node *right = itree_entry(rb);

			if (right->__subtree_last >= start)
				return itree_subtree_first(right, start, last);
		}
		/* Climb to the next node in order: first left-child exit. */
		do {
			prev = (struct rb_node *)&node->rb;
			rb = rb_parent(&node->rb);
			if (!rb)
				return NULL;
			node = itree_entry(rb);
		} while (prev == node->rb.rb_right);

		if (node->start > last)
			return NULL;
		if (node->last >= start)
			return (struct interval_tree_node *)node;
		rb = node->rb.rb_right;
	}
}
