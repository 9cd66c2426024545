/* SPDX-License-Identifier: MIT */
/*
 * rbtree.h - intrusive red-black trees, the kernel's rb_node API.
 *
 * The tree is intrusive: a struct rb_node lives inside the caller's object
 * and rb_entry() (container_of) gets back to the object.  The tree does no
 * comparison of its own: the caller walks down from the root, comparing its
 * keys, finds the empty child slot the new node belongs in, links it there
 * with rb_link_node() and then calls rb_insert_color() to restore the
 * red-black shape.  Removal is rb_erase() on the node itself.  rb_add() and
 * rb_find() below wrap the common walk for callers with a less/cmp function.
 *
 * Invariants (checked by tests/base/test_rbtree.c after random sequences):
 *   1. every node is red or black; the root is black;
 *   2. a red node has no red child;
 *   3. every path from a node down to a missing child passes the same
 *      number of black nodes (the black height);
 *   4. each node's parent pointer names the node whose child slot holds it;
 *      the root's parent is NULL.
 * (2) and (3) bound the height by 2*log2(n + 1), so every walk from the root
 * and rb_insert_color()/rb_erase() are O(log n); rebalancing does at most
 * two rotations on insert and three on erase.
 *
 * Encoding: the parent pointer and the colour share one word
 * (__rb_parent_color); nodes are at least 4-byte aligned so bit 0 is free
 * and holds the colour (0 red, 1 black).  A node whose parent word points
 * at itself is "cleared": RB_CLEAR_NODE() marks a node as in no tree and
 * RB_EMPTY_NODE() tests for it, so owners can detect double removal.
 *
 * rb_root_cached additionally remembers the leftmost node, making
 * rb_first_cached() O(1); the *_cached insert/erase variants keep it
 * current (the caller tells insert whether the new node went leftmost: it
 * did iff the walk down never took a right turn).
 *
 * Augmented trees: a node may carry a summary of its subtree (subtree
 * maximum, subtree size, ...), which must be a function of the node itself
 * and its two children's summaries.  The rb_*_augmented() variants keep it
 * exact through the structural changes they make, using three callbacks:
 *   propagate(node, stop)  recompute the summary of node and its ancestors,
 *                          walking up until @stop (exclusive) or the root;
 *                          it may stop early once a recomputed value is
 *                          unchanged, since the ancestors then are too;
 *   copy(old, new)         @new replaces @old in the tree shape: give it
 *                          @old's summary;
 *   rotate(old, new)       a rotation made @new the parent of @old in
 *                          @old's former place: @new now covers exactly the
 *                          subtree @old covered, so it takes @old's summary,
 *                          and @old's summary is recomputed from its new
 *                          children.
 * Before rb_insert_augmented() the caller must have made the summaries
 * along the insertion path include the new node (typically by updating them
 * on the way down) and set the new node's own summary.
 * RB_DECLARE_CALLBACKS_MAX() generates the three callbacks for the common
 * "maximum over the subtree" summary.
 *
 * Locking: none.  A tree is plain data guarded by its owner's lock (the
 * owner documents which); every function here needs that lock held for
 * writing if it modifies the tree and at least for reading otherwise.
 * There is no support for lockless readers: child pointers are written with
 * plain stores, and a reader racing with a rotation could miss nodes.
 * Nothing here sleeps or allocates.
 */
#ifndef MMIRROR_RBTREE_H
#define MMIRROR_RBTREE_H

#include <mmirror/compiler.h>

struct rb_node {
	unsigned long __rb_parent_color; /* parent pointer | colour bit */
	struct rb_node *rb_right;
	struct rb_node *rb_left;
} __attribute__((aligned(sizeof(long))));

struct rb_root {
	struct rb_node *rb_node;
};

struct rb_root_cached {
	struct rb_root rb_root;
	struct rb_node *rb_leftmost; /* rb_first(&rb_root), NULL if empty */
};

#define RB_RED 0UL
#define RB_BLACK 1UL

#define RB_ROOT ((struct rb_root){ NULL })
#define RB_ROOT_CACHED ((struct rb_root_cached){ { NULL }, NULL })

#define rb_entry(ptr, type, member) container_of(ptr, type, member)
#define rb_entry_safe(ptr, type, member)                      \
	({                                                    \
		__typeof__(ptr) __rbe = (ptr);                \
		__rbe ? rb_entry(__rbe, type, member) : NULL; \
	})

#define RB_EMPTY_ROOT(root) ((root)->rb_node == NULL)
/* A cleared node is in no tree: its parent word points at itself. */
#define RB_EMPTY_NODE(node) ((node)->__rb_parent_color == (unsigned long)(node))
#define RB_CLEAR_NODE(node) ((node)->__rb_parent_color = (unsigned long)(node))

static inline struct rb_node *rb_parent(const struct rb_node *node)
{
	return (struct rb_node *)(node->__rb_parent_color & ~3UL);
}

static inline bool rb_is_black(const struct rb_node *node)
{
	return node->__rb_parent_color & RB_BLACK;
}

static inline bool rb_is_red(const struct rb_node *node)
{
	return !rb_is_black(node);
}

/**
 * rb_link_node - hang a new node in the empty child slot found by a walk
 * @node: the node to add; its previous contents are overwritten
 * @parent: the node whose child slot @rb_link is, NULL for an empty tree
 * @rb_link: &parent->rb_left, &parent->rb_right or &root->rb_node
 *
 * The node goes in red with no children; the caller must follow with
 * rb_insert_color() (or a variant) before any other tree operation.
 * Context: the owner's lock held for writing.
 */
static inline void rb_link_node(struct rb_node *node, struct rb_node *parent,
				struct rb_node **rb_link)
{
	node->__rb_parent_color = (unsigned long)parent | RB_RED;
	node->rb_left = NULL;
	node->rb_right = NULL;
	*rb_link = node;
}

void rb_insert_color(struct rb_node *node, struct rb_root *root);
void rb_erase(struct rb_node *node, struct rb_root *root);
void rb_replace_node(struct rb_node *victim, struct rb_node *new,
		     struct rb_root *root);

struct rb_node *rb_first(const struct rb_root *root);
struct rb_node *rb_last(const struct rb_root *root);
struct rb_node *rb_next(const struct rb_node *node);
struct rb_node *rb_prev(const struct rb_node *node);
struct rb_node *rb_first_postorder(const struct rb_root *root);
struct rb_node *rb_next_postorder(const struct rb_node *node);

/**
 * rb_first_cached - the leftmost node of a cached tree, O(1)
 * @root: the tree
 *
 * Return: the first node in order, or NULL if the tree is empty.
 */
static inline struct rb_node *rb_first_cached(const struct rb_root_cached *root)
{
	return root->rb_leftmost;
}

/**
 * rb_insert_color_cached - rb_insert_color() keeping the leftmost cache
 * @node: the node just linked by rb_link_node()
 * @root: the cached tree
 * @leftmost: true iff the walk to @node's slot only ever went left
 * Context: the owner's lock held for writing.
 */
static inline void rb_insert_color_cached(struct rb_node *node,
					  struct rb_root_cached *root,
					  bool leftmost)
{
	if (leftmost)
		root->rb_leftmost = node;
	rb_insert_color(node, &root->rb_root);
}

/**
 * rb_erase_cached - rb_erase() keeping the leftmost cache
 * @node: the node to remove; it must be in @root
 * @root: the cached tree
 *
 * Context: the owner's lock held for writing.
 * Return: the new leftmost node if @node was the leftmost (NULL if the tree
 * is now empty), otherwise NULL.
 */
static inline struct rb_node *rb_erase_cached(struct rb_node *node,
					      struct rb_root_cached *root)
{
	struct rb_node *leftmost = NULL;

	if (root->rb_leftmost == node)
		leftmost = root->rb_leftmost = rb_next(node);
	rb_erase(node, &root->rb_root);
	return leftmost;
}

/**
 * rb_replace_node_cached - rb_replace_node() keeping the leftmost cache
 * @victim: the node in the tree to replace
 * @new: the node to put in its place, with the same key
 * @root: the cached tree
 * Context: the owner's lock held for writing.
 */
static inline void rb_replace_node_cached(struct rb_node *victim,
					  struct rb_node *new,
					  struct rb_root_cached *root)
{
	if (root->rb_leftmost == victim)
		root->rb_leftmost = new;
	rb_replace_node(victim, new, &root->rb_root);
}

/*
 * Post-order walk that tolerates freeing the current entry: the next one is
 * fetched before the body runs.  For tearing a whole tree down without
 * rebalancing it; the tree is garbage afterwards (reset the root).
 */
#define rbtree_postorder_for_each_entry_safe(pos, n, root, field)            \
	for (pos = rb_entry_safe(rb_first_postorder(root), __typeof__(*pos), \
				 field);                                     \
	     pos && ({                                                       \
		     n = rb_entry_safe(rb_next_postorder(&pos->field),       \
				       __typeof__(*pos), field);             \
		     1;                                                      \
	     });                                                             \
	     pos = n)

/**
 * rb_add_cached - insert @node by a strict-weak "less" order
 * @node: the node to insert
 * @tree: the cached tree
 * @less: less(a, b) true iff a sorts before b; equal keys go after the
 *        existing ones, so equal keys iterate in insertion order
 *
 * Context: the owner's lock held for writing.
 * Return: @node if it became the leftmost node, otherwise NULL.
 */
static __always_inline struct rb_node *
rb_add_cached(struct rb_node *node, struct rb_root_cached *tree,
	      bool (*less)(const struct rb_node *, const struct rb_node *))
{
	struct rb_node **link = &tree->rb_root.rb_node, *parent = NULL;
	bool leftmost = true;

	while (*link) {
		parent = *link;
		if (less(node, parent)) {
			link = &parent->rb_left;
		} else {
			link = &parent->rb_right;
			leftmost = false;
		}
	}
	rb_link_node(node, parent, link);
	rb_insert_color_cached(node, tree, leftmost);
	return leftmost ? node : NULL;
}

/**
 * rb_add - insert @node into an uncached tree by a "less" order
 * @node: the node to insert
 * @tree: the tree
 * @less: as for rb_add_cached()
 * Context: the owner's lock held for writing.
 */
static __always_inline void rb_add(struct rb_node *node, struct rb_root *tree,
				   bool (*less)(const struct rb_node *,
						const struct rb_node *))
{
	struct rb_node **link = &tree->rb_node, *parent = NULL;

	while (*link) {
		parent = *link;
		link = less(node, parent) ? &parent->rb_left :
					    &parent->rb_right;
	}
	rb_link_node(node, parent, link);
	rb_insert_color(node, tree);
}

/**
 * rb_find - look a key up
 * @key: the key, passed through to @cmp
 * @tree: the tree
 * @cmp: cmp(key, node) <0, 0, >0 as key sorts before, equal to, after node
 *
 * Context: the owner's lock held (reading suffices).
 * Return: some node equal to @key (not necessarily the first of several),
 * or NULL.
 */
static __always_inline struct rb_node *
rb_find(const void *key, const struct rb_root *tree,
	int (*cmp)(const void *key, const struct rb_node *))
{
	struct rb_node *node = tree->rb_node;

	while (node) {
		int c = cmp(key, node);

		if (c < 0)
			node = node->rb_left;
		else if (c > 0)
			node = node->rb_right;
		else
			return node;
	}
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* Augmented trees: see the opening comment for the callback contract.    */

struct rb_augment_callbacks {
	void (*propagate)(struct rb_node *node, struct rb_node *stop);
	void (*copy)(struct rb_node *old, struct rb_node *new);
	void (*rotate)(struct rb_node *old, struct rb_node *new);
};

void rb_insert_augmented(struct rb_node *node, struct rb_root *root,
			 const struct rb_augment_callbacks *augment);
void rb_erase_augmented(struct rb_node *node, struct rb_root *root,
			const struct rb_augment_callbacks *augment);

/**
 * rb_insert_augmented_cached - rb_insert_augmented() keeping the leftmost
 * @node: the node just linked, its own summary set, the path's updated
 * @root: the cached tree
 * @leftmost: true iff the walk to @node's slot only ever went left
 * @augment: the summary callbacks
 * Context: the owner's lock held for writing.
 */
static inline void
rb_insert_augmented_cached(struct rb_node *node, struct rb_root_cached *root,
			   bool leftmost,
			   const struct rb_augment_callbacks *augment)
{
	if (leftmost)
		root->rb_leftmost = node;
	rb_insert_augmented(node, &root->rb_root, augment);
}

/**
 * rb_erase_augmented_cached - rb_erase_augmented() keeping the leftmost
 * @node: the node to remove; it must be in @root
 * @root: the cached tree
 * @augment: the summary callbacks
 * Context: the owner's lock held for writing.
 */
static inline void
rb_erase_augmented_cached(struct rb_node *node, struct rb_root_cached *root,
			  const struct rb_augment_callbacks *augment)
{
	if (root->rb_leftmost == node)
		root->rb_leftmost = rb_next(node);
	rb_erase_augmented(node, &root->rb_root, augment);
}

/*
 * RB_DECLARE_CALLBACKS_MAX - callbacks for a "maximum over the subtree"
 * summary.
 * @rbstatic: storage class of the callbacks struct (static, or empty)
 * @rbname: name of the generated struct rb_augment_callbacks
 * @rbstruct: the node type (e.g. struct interval_tree_node)
 * @rbfield: its struct rb_node member
 * @rbtype: the summary type
 * @rbaugmented: the summary member
 * @rbcompute: rbcompute(node) -> the node's own value
 *
 * The invariant kept: node->rbaugmented == max(rbcompute(node), the
 * rbaugmented of each existing child).
 */
#define RB_DECLARE_CALLBACKS_MAX(rbstatic, rbname, rbstruct, rbfield, rbtype, \
				 rbaugmented, rbcompute)                      \
	/* Recompute @n's maximum; true if it was already that value. */      \
	static inline bool rbname##_recompute(rbstruct *n)                    \
	{                                                                     \
		rbtype m = rbcompute(n);                                      \
		rbstruct *c;                                                  \
                                                                              \
		if (n->rbfield.rb_left) {                                     \
			c = rb_entry(n->rbfield.rb_left, rbstruct, rbfield);  \
			if (c->rbaugmented > m)                               \
				m = c->rbaugmented;                           \
		}                                                             \
		if (n->rbfield.rb_right) {                                    \
			c = rb_entry(n->rbfield.rb_right, rbstruct, rbfield); \
			if (c->rbaugmented > m)                               \
				m = c->rbaugmented;                           \
		}                                                             \
		if (n->rbaugmented == m)                                      \
			return true;                                          \
		n->rbaugmented = m;                                           \
		return false;                                                 \
	}                                                                     \
	static void rbname##_propagate(struct rb_node *rb,                    \
				       struct rb_node *stop)                  \
	{                                                                     \
		for (; rb != stop; rb = rb_parent(rb))                        \
			if (rbname##_recompute(                               \
				    rb_entry(rb, rbstruct, rbfield)))         \
				break;                                        \
	}                                                                     \
	static void rbname##_copy(struct rb_node *rb_old,                     \
				  struct rb_node *rb_new)                     \
	{                                                                     \
		rb_entry(rb_new, rbstruct, rbfield)->rbaugmented =            \
			rb_entry(rb_old, rbstruct, rbfield)->rbaugmented;     \
	}                                                                     \
	static void rbname##_rotate(struct rb_node *rb_old,                   \
				    struct rb_node *rb_new)                   \
	{                                                                     \
		rbname##_copy(rb_old, rb_new);                                \
		rbname##_recompute(rb_entry(rb_old, rbstruct, rbfield));      \
	}                                                                     \
	rbstatic const struct rb_augment_callbacks rbname = {                 \
		.propagate = rbname##_propagate,                              \
		.copy = rbname##_copy,                                        \
		.rotate = rbname##_rotate,                                    \
	}

#endif /* MMIRROR_RBTREE_H */
