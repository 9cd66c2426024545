// SPDX-License-Identifier: MIT
/*
 * rbtree.c - red-black tree rebalancing, erase and iteration.
 *
 * The invariants and the augmentation contract are in rbtree.h.  This file
 * is the textbook algorithm (insert: recolour up while the uncle is red,
 * then at most two rotations; erase: splice out the node or its in-order
 * successor, then fix a "double black" by recolouring up or at most three
 * rotations), written so that every structural change tells the augment
 * callbacks about itself:
 *
 *   - a rotation calls augment->rotate(old top, new top) right after it;
 *   - erase first makes every summary exact for the spliced shape
 *     (augment->copy when the successor takes the victim's place, then
 *     augment->propagate from the lowest node whose subtree lost a member
 *     up to the root), and only then rebalances, whose rotations keep the
 *     summaries exact locally.
 *
 * The plain and augmented entry points share one __always_inline core; the
 * plain ones pass a constant set of empty callbacks that the compiler
 * deletes, so an unaugmented tree pays nothing for the hooks.
 *
 * Colours: a missing child (NULL) counts as black.  Rotations keep each
 * node's colour; the fix-up code recolours explicitly.
 *
 * Locking: none; see rbtree.h.  Nothing here allocates or sleeps.
 */
#include <mmirror/rbtree.h>

static inline void rb_set_parent(struct rb_node *node, struct rb_node *parent)
{
	node->__rb_parent_color =
		(unsigned long)parent | (node->__rb_parent_color & RB_BLACK);
}

static inline void rb_set_parent_color(struct rb_node *node,
				       struct rb_node *parent,
				       unsigned long color)
{
	node->__rb_parent_color = (unsigned long)parent | color;
}

static inline void rb_set_black(struct rb_node *node)
{
	node->__rb_parent_color |= RB_BLACK;
}

static inline void rb_set_red(struct rb_node *node)
{
	node->__rb_parent_color &= ~RB_BLACK;
}

static inline unsigned long rb_color(const struct rb_node *node)
{
	return node->__rb_parent_color & RB_BLACK;
}

/* NULL children are black. */
static inline bool rb_red_or_null(const struct rb_node *node)
{
	return node && rb_is_red(node);
}

/* Make @parent's child slot (or the root) that held @old hold @new. */
static inline void rb_change_child(struct rb_node *old, struct rb_node *new,
				   struct rb_node *parent, struct rb_root *root)
{
	if (!parent)
		root->rb_node = new;
	else if (parent->rb_left == old)
		parent->rb_left = new;
	else
		parent->rb_right = new;
}

/*
 * Left rotation at @x (its right child @y must exist):
 *
 *        x                 y
 *       / \               / \
 *      a   y      ->     x   c
 *         / \           / \
 *        b   c         a   b
 *
 * In-order (a x b y c) is unchanged; colours are unchanged.
 */
static __always_inline void
rb_rotate_left(struct rb_node *x, struct rb_root *root,
	       void (*rotate)(struct rb_node *, struct rb_node *))
{
	struct rb_node *y = x->rb_right, *b = y->rb_left, *p = rb_parent(x);

	x->rb_right = b;
	if (b)
		rb_set_parent(b, x);
	y->rb_left = x;
	rb_set_parent(y, p);
	rb_set_parent(x, y);
	rb_change_child(x, y, p, root);
	rotate(x, y);
}

/* The mirror image: @x's left child @y comes up. */
static __always_inline void
rb_rotate_right(struct rb_node *x, struct rb_root *root,
		void (*rotate)(struct rb_node *, struct rb_node *))
{
	struct rb_node *y = x->rb_left, *b = y->rb_right, *p = rb_parent(x);

	x->rb_left = b;
	if (b)
		rb_set_parent(b, x);
	y->rb_right = x;
	rb_set_parent(y, p);
	rb_set_parent(x, y);
	rb_change_child(x, y, p, root);
	rotate(x, y);
}

static void dummy_propagate(struct rb_node *node, struct rb_node *stop)
{
}

static void dummy_copy(struct rb_node *old, struct rb_node *new)
{
}

static void dummy_rotate(struct rb_node *old, struct rb_node *new)
{
}

static const struct rb_augment_callbacks dummy_callbacks = {
	.propagate = dummy_propagate,
	.copy = dummy_copy,
	.rotate = dummy_rotate,
};

/*
 * Insert fix-up.  @node is red; the only possible violation is "red node
 * with red parent" at @node (or a red root).  While the parent is red the
 * grandparent exists (the root is black) and is black:
 *   - red uncle: push the grandparent's blackness down to parent and uncle
 *     and continue at the now red grandparent (black heights unchanged);
 *   - black uncle: rotate @node to the outside if it is an inner child,
 *     then rotate the grandparent toward the uncle and swap the colours of
 *     parent and grandparent; done.
 */
static __always_inline void
__rb_insert(struct rb_node *node, struct rb_root *root,
	    void (*rotate)(struct rb_node *, struct rb_node *))
{
	struct rb_node *parent, *gparent, *uncle;

	while ((parent = rb_parent(node)) && rb_is_red(parent)) {
		gparent = rb_parent(parent);
		if (parent == gparent->rb_left) {
			uncle = gparent->rb_right;
			if (rb_red_or_null(uncle)) {
				rb_set_black(parent);
				rb_set_black(uncle);
				rb_set_red(gparent);
				node = gparent;
				continue;
			}
			if (node == parent->rb_right) {
				rb_rotate_left(parent, root, rotate);
				parent = node;
			}
			rb_set_black(parent);
			rb_set_red(gparent);
			rb_rotate_right(gparent, root, rotate);
			break;
		}
		uncle = gparent->rb_left;
		if (rb_red_or_null(uncle)) {
			rb_set_black(parent);
			rb_set_black(uncle);
			rb_set_red(gparent);
			node = gparent;
			continue;
		}
		if (node == parent->rb_left) {
			rb_rotate_right(parent, root, rotate);
			parent = node;
		}
		rb_set_black(parent);
		rb_set_red(gparent);
		rb_rotate_left(gparent, root, rotate);
		break;
	}
	rb_set_black(root->rb_node);
}

/*
 * Erase fix-up.  A black node was removed from below @parent on the side
 * that now holds @node (possibly NULL): every path through @node is one
 * black short ("double black").  The sibling exists, because before the
 * removal its side carried at least that one black node too; knowing that,
 * a NULL @node is on the side that is not the sibling.  Cases, for @node
 * on the left (the right is the mirror image):
 *   1. red sibling: rotate it up and swap colours with the parent, which
 *      gives @node a black sibling; go on with cases 2-4;
 *   2. black sibling, both its children black: make the sibling red so
 *      both sides are short, and move the deficit up to the parent (ends
 *      at once if the parent was red: paint it black);
 *   3. black sibling, near child red, far child black: rotate the sibling
 *      so the red child comes up, swapping their colours; that is case 4;
 *   4. black sibling, far child red: rotate the parent toward @node, the
 *      sibling takes the parent's colour, parent and far child turn black.
 *      This adds one black above @node; done.
 */
static __always_inline void
__rb_erase_color(struct rb_node *node, struct rb_node *parent,
		 struct rb_root *root,
		 void (*rotate)(struct rb_node *, struct rb_node *))
{
	struct rb_node *sibling;

	for (;;) {
		sibling = parent->rb_right;
		if (node != sibling) {
			if (rb_is_red(sibling)) {
				rb_set_black(sibling);
				rb_set_red(parent);
				rb_rotate_left(parent, root, rotate);
				sibling = parent->rb_right;
			}
			if (!rb_red_or_null(sibling->rb_left) &&
			    !rb_red_or_null(sibling->rb_right)) {
				rb_set_red(sibling);
				if (rb_is_red(parent)) {
					rb_set_black(parent);
					return;
				}
				node = parent;
				parent = rb_parent(node);
				if (!parent)
					return;
				continue;
			}
			if (!rb_red_or_null(sibling->rb_right)) {
				rb_set_black(sibling->rb_left);
				rb_set_red(sibling);
				rb_rotate_right(sibling, root, rotate);
				sibling = parent->rb_right;
			}
			rb_set_parent_color(sibling, rb_parent(sibling),
					    rb_color(parent));
			rb_set_black(parent);
			rb_set_black(sibling->rb_right);
			rb_rotate_left(parent, root, rotate);
			return;
		}
		sibling = parent->rb_left;
		if (rb_is_red(sibling)) {
			rb_set_black(sibling);
			rb_set_red(parent);
			rb_rotate_right(parent, root, rotate);
			sibling = parent->rb_left;
		}
		if (!rb_red_or_null(sibling->rb_left) &&
		    !rb_red_or_null(sibling->rb_right)) {
			rb_set_red(sibling);
			if (rb_is_red(parent)) {
				rb_set_black(parent);
				return;
			}
			node = parent;
			parent = rb_parent(node);
			if (!parent)
				return;
			continue;
		}
		if (!rb_red_or_null(sibling->rb_left)) {
			rb_set_black(sibling->rb_right);
			rb_set_red(sibling);
			rb_rotate_left(sibling, root, rotate);
			sibling = parent->rb_left;
		}
		rb_set_parent_color(sibling, rb_parent(sibling),
				    rb_color(parent));
		rb_set_black(parent);
		rb_set_black(sibling->rb_left);
		rb_rotate_right(parent, root, rotate);
		return;
	}
}

/*
 * Erase.  Splice out @node, or, when it has two children, its in-order
 * successor (leftmost of the right subtree, which has no left child),
 * which then takes over @node's place and colour.  The spliced-out
 * position loses one node of some colour; if that colour was black, its
 * single child (if any) must be red and is painted black, otherwise the
 * position is double black and __rb_erase_color() fixes it.
 */
static __always_inline void
__rb_erase(struct rb_node *node, struct rb_root *root,
	   const struct rb_augment_callbacks *augment)
{
	struct rb_node *parent = rb_parent(node);
	struct rb_node *left = node->rb_left, *right = node->rb_right;
	struct rb_node *child, *fix_parent, *lowest;
	bool removed_black;

	if (!left || !right) {
		/*
		 * At most one child.  A lone child is red with no children
		 * (black heights) and @node is then black.
		 */
		child = left ? left : right;
		rb_change_child(node, child, parent, root);
		removed_black = rb_is_black(node);
		fix_parent = parent;
		lowest = parent;
		if (child) {
			rb_set_parent_color(child, parent, RB_BLACK);
			removed_black = false;
		}
	} else {
		struct rb_node *succ = right, *succ_right;

		while (succ->rb_left)
			succ = succ->rb_left;
		succ_right = succ->rb_right;
		removed_black = rb_is_black(succ);
		if (succ == right) {
			/* succ keeps its right subtree and moves up. */
			fix_parent = succ;
		} else {
			struct rb_node *sp = rb_parent(succ);

			sp->rb_left = succ_right;
			succ->rb_right = right;
			rb_set_parent(right, succ);
			fix_parent = sp;
		}
		succ->rb_left = left;
		rb_set_parent(left, succ);
		succ->__rb_parent_color = node->__rb_parent_color;
		rb_change_child(node, succ, parent, root);
		augment->copy(node, succ);
		if (succ_right) {
			rb_set_parent_color(succ_right, fix_parent, RB_BLACK);
			removed_black = false;
		}
		child = succ_right;
		/*
		 * Summaries from fix_parent up to succ lost succ; succ now
		 * holds @node's old summary, which covered @node too.
		 */
		if (fix_parent != succ)
			augment->propagate(fix_parent, succ);
		lowest = succ;
	}
	if (lowest)
		augment->propagate(lowest, NULL);
	if (removed_black && fix_parent)
		__rb_erase_color(child, fix_parent, root, augment->rotate);
}

/**
 * rb_insert_color - rebalance after rb_link_node()
 * @node: the node just linked
 * @root: its tree
 *
 * Context: the owner's lock held for writing.
 */
void rb_insert_color(struct rb_node *node, struct rb_root *root)
{
	__rb_insert(node, root, dummy_rotate);
}

/**
 * rb_erase - remove a node from its tree
 * @node: the node; it must be in @root
 * @root: the tree
 *
 * @node's own fields are left stale; RB_CLEAR_NODE() it if the owner wants
 * RB_EMPTY_NODE() to tell that it is no longer in a tree.
 * Context: the owner's lock held for writing.
 */
void rb_erase(struct rb_node *node, struct rb_root *root)
{
	__rb_erase(node, root, &dummy_callbacks);
}

/**
 * rb_insert_augmented - rebalance after linking a node of an augmented tree
 * @node: the node just linked with rb_link_node(); its summary set, and the
 *        summaries on the path from the root already include it
 * @root: its tree
 * @augment: the summary callbacks (only ->rotate is used)
 *
 * Context: the owner's lock held for writing.
 */
void rb_insert_augmented(struct rb_node *node, struct rb_root *root,
			 const struct rb_augment_callbacks *augment)
{
	__rb_insert(node, root, augment->rotate);
}

/**
 * rb_erase_augmented - remove a node from an augmented tree
 * @node: the node; it must be in @root
 * @root: the tree
 * @augment: the summary callbacks
 *
 * On return every remaining node's summary is exact.
 * Context: the owner's lock held for writing.
 */
void rb_erase_augmented(struct rb_node *node, struct rb_root *root,
			const struct rb_augment_callbacks *augment)
{
	__rb_erase(node, root, augment);
}

/**
 * rb_replace_node - put @new in @victim's place without rebalancing
 * @victim: a node in @root
 * @new: a node not in any tree; it must sort exactly where @victim does
 * @root: the tree
 *
 * @new takes @victim's colour, parent and children; @victim is left stale.
 * For augmented trees the caller copies the summary.
 * Context: the owner's lock held for writing.
 */
void rb_replace_node(struct rb_node *victim, struct rb_node *new,
		     struct rb_root *root)
{
	struct rb_node *parent = rb_parent(victim);

	*new = *victim;
	if (victim->rb_left)
		rb_set_parent(victim->rb_left, new);
	if (victim->rb_right)
		rb_set_parent(victim->rb_right, new);
	rb_change_child(victim, new, parent, root);
}

/**
 * rb_first - the first node in order
 * @root: the tree
 *
 * Context: the owner's lock held.
 * Return: the leftmost node, or NULL if the tree is empty.  O(log n).
 */
struct rb_node *rb_first(const struct rb_root *root)
{
	struct rb_node *n = root->rb_node;

	if (!n)
		return NULL;
	while (n->rb_left)
		n = n->rb_left;
	return n;
}

/**
 * rb_last - the last node in order
 * @root: the tree
 *
 * Context: the owner's lock held.
 * Return: the rightmost node, or NULL if the tree is empty.  O(log n).
 */
struct rb_node *rb_last(const struct rb_root *root)
{
	struct rb_node *n = root->rb_node;

	if (!n)
		return NULL;
	while (n->rb_right)
		n = n->rb_right;
	return n;
}

/**
 * rb_next - in-order successor
 * @node: a node in a tree
 *
 * A full in-order walk by rb_next() is O(n): each edge is crossed twice.
 * Context: the owner's lock held.
 * Return: the next node, or NULL at the end or if @node is cleared.
 */
struct rb_node *rb_next(const struct rb_node *node)
{
	struct rb_node *parent;

	if (RB_EMPTY_NODE(node))
		return NULL;
	if (node->rb_right) {
		node = node->rb_right;
		while (node->rb_left)
			node = node->rb_left;
		return (struct rb_node *)node;
	}
	/* Climb while we come from a right child. */
	while ((parent = rb_parent(node)) && node == parent->rb_right)
		node = parent;
	return parent;
}

/**
 * rb_prev - in-order predecessor
 * @node: a node in a tree
 *
 * Context: the owner's lock held.
 * Return: the previous node, or NULL at the start or if @node is cleared.
 */
struct rb_node *rb_prev(const struct rb_node *node)
{
	struct rb_node *parent;

	if (RB_EMPTY_NODE(node))
		return NULL;
	if (node->rb_left) {
		node = node->rb_left;
		while (node->rb_right)
			node = node->rb_right;
		return (struct rb_node *)node;
	}
	while ((parent = rb_parent(node)) && node == parent->rb_left)
		node = parent;
	return parent;
}

/* The first node in post-order at or below @node: the deepest leftmost. */
static struct rb_node *rb_left_deepest(const struct rb_node *node)
{
	for (;;) {
		if (node->rb_left)
			node = node->rb_left;
		else if (node->rb_right)
			node = node->rb_right;
		else
			return (struct rb_node *)node;
	}
}

/**
 * rb_first_postorder - the first node of a post-order walk
 * @root: the tree
 *
 * Post-order visits both children before their parent, so a walk may free
 * each node as it goes (see rbtree_postorder_for_each_entry_safe()).
 * Context: the owner's lock held.
 * Return: the first node, or NULL if the tree is empty.
 */
struct rb_node *rb_first_postorder(const struct rb_root *root)
{
	if (!root->rb_node)
		return NULL;
	return rb_left_deepest(root->rb_node);
}

/**
 * rb_next_postorder - the next node of a post-order walk
 * @node: the current node (only its parent link is read)
 *
 * Context: the owner's lock held.
 * Return: the next node, or NULL when the walk is over.
 */
struct rb_node *rb_next_postorder(const struct rb_node *node)
{
	struct rb_node *parent;

	if (!node)
		return NULL;
	parent = rb_parent(node);
	/* Coming up from a left child: the right subtree is next. */
	if (parent && node == parent->rb_left && parent->rb_right)
		return rb_left_deepest(parent->rb_right);
	return parent;
}
