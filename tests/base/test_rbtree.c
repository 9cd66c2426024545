// SPDX-License-Identifier: MIT
/*
 * Red-black tree: order, iteration and the red-black invariants under
 * random insert/erase sequences, plus the augmented variants (a subtree
 * size kept by hand-written callbacks, a subtree maximum kept by
 * RB_DECLARE_CALLBACKS_MAX) checked exactly at every validation.
 *
 * The validator walks the whole tree and checks: root black; no red node
 * with a red child; equal black height on every path; every child's parent
 * pointer names its parent, the root's is NULL; the spare encoding bit is
 * clear; in-order strictly increasing by (key, insertion seq); the node
 * count and set match the reference; the cached leftmost is rb_first();
 * rb_next/rb_prev walks agree with the recursive in-order walk.  Failures
 * print the seed and the operation number.
 */
#include "test_util.h"
#include <mmirror/rbtree.h>

struct tnode {
	struct rb_node rb;
	u64 key;
	u64 seq; /* insertion number: ties iterate in insertion order */
	u64 val; /* summarised by max */
	u64 max; /* RB_DECLARE_CALLBACKS_MAX summary of val */
	unsigned long size; /* hand-written summary: nodes in subtree */
	bool in;
};

static u64 cur_seed;
static long cur_op;

#define RB_CHECK(cond)                                                         \
	do {                                                                   \
		if (!(cond))                                                   \
			fail_msg("seed %llu op %ld: %s",                       \
				 (unsigned long long)cur_seed, cur_op, #cond); \
	} while (0)

static struct tnode *tn(const struct rb_node *rb)
{
	return rb_entry(rb, struct tnode, rb);
}

static int tnode_cmp(const struct tnode *a, const struct tnode *b)
{
	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	if (a->seq != b->seq)
		return a->seq < b->seq ? -1 : 1;
	return 0;
}

/* Equal keys sort after existing ones: insertion order among ties. */
static bool tnode_less(const struct rb_node *a, const struct rb_node *b)
{
	return tn(a)->key < tn(b)->key;
}

/* ---- augmentation 1: subtree size, hand-written callbacks ---- */

static unsigned long size_of(const struct rb_node *rb)
{
	return rb ? tn(rb)->size : 0;
}

static unsigned long size_compute(const struct tnode *n)
{
	return 1 + size_of(n->rb.rb_left) + size_of(n->rb.rb_right);
}

static void size_propagate(struct rb_node *rb, struct rb_node *stop)
{
	for (; rb != stop; rb = rb_parent(rb)) {
		unsigned long s = size_compute(tn(rb));

		if (tn(rb)->size == s)
			break;
		tn(rb)->size = s;
	}
}

static void size_copy(struct rb_node *old, struct rb_node *new)
{
	tn(new)->size = tn(old)->size;
}

static void size_rotate(struct rb_node *old, struct rb_node *new)
{
	tn(new)->size = tn(old)->size;
	tn(old)->size = size_compute(tn(old));
}

static const struct rb_augment_callbacks size_cb = {
	.propagate = size_propagate,
	.copy = size_copy,
	.rotate = size_rotate,
};

/* ---- augmentation 2: subtree max of val, generated callbacks ---- */

#define TNODE_VAL(n) ((n)->val)
RB_DECLARE_CALLBACKS_MAX(static, max_cb, struct tnode, rb, u64, max, TNODE_VAL);

/* ---- the validator ---- */

enum aug { AUG_NONE, AUG_SIZE, AUG_MAX };

struct vstate {
	const struct tnode *prev;
	size_t count;
	enum aug aug;
};

static int validate_sub(const struct rb_node *rb, const struct rb_node *parent,
			struct vstate *vs)
{
	const struct tnode *n;
	int lh, rh;

	if (!rb)
		return 1;
	n = tn(rb);
	RB_CHECK(rb_parent(rb) == parent);
	RB_CHECK((rb->__rb_parent_color & 2) == 0);
	RB_CHECK(n->in);
	if (rb_is_red(rb)) {
		RB_CHECK(!rb->rb_left || rb_is_black(rb->rb_left));
		RB_CHECK(!rb->rb_right || rb_is_black(rb->rb_right));
	}
	lh = validate_sub(rb->rb_left, rb, vs);
	if (vs->prev)
		RB_CHECK(tnode_cmp(vs->prev, n) < 0);
	vs->prev = n;
	vs->count++;
	rh = validate_sub(rb->rb_right, rb, vs);
	RB_CHECK(lh == rh);
	if (vs->aug == AUG_SIZE)
		RB_CHECK(n->size == size_compute(n));
	if (vs->aug == AUG_MAX) {
		u64 m = n->val;

		if (rb->rb_left && tn(rb->rb_left)->max > m)
			m = tn(rb->rb_left)->max;
		if (rb->rb_right && tn(rb->rb_right)->max > m)
			m = tn(rb->rb_right)->max;
		RB_CHECK(n->max == m);
	}
	return lh + rb_is_black(rb);
}

/*
 * Full check of @root against the reference: the nodes of pool[0..npool)
 * with ->in set, in (key, seq) order.  Returns the number of nodes.
 */
static int cmp_ptrs(const void *a, const void *b)
{
	return tnode_cmp(*(struct tnode *const *)a, *(struct tnode *const *)b);
}

static size_t validate(const struct rb_root *root,
		       const struct rb_node *leftmost, bool cached,
		       struct tnode *pool, size_t npool, enum aug aug)
{
	struct vstate vs = { .aug = aug };
	struct tnode **ref = malloc((npool + 1) * sizeof(*ref));
	struct rb_node *rb;
	size_t nref = 0, i;

	assert_non_null(ref);
	if (root->rb_node)
		RB_CHECK(rb_is_black(root->rb_node));
	validate_sub(root->rb_node, NULL, &vs);

	for (i = 0; i < npool; i++)
		if (pool[i].in)
			ref[nref++] = &pool[i];
	qsort(ref, nref, sizeof(*ref), cmp_ptrs);
	RB_CHECK(vs.count == nref);
	if (cached)
		RB_CHECK(leftmost == rb_first(root));

	/* Forward and backward walks give exactly the reference order. */
	i = 0;
	for (rb = rb_first(root); rb; rb = rb_next(rb)) {
		RB_CHECK(i < nref && tn(rb) == ref[i]);
		i++;
	}
	RB_CHECK(i == nref);
	for (rb = rb_last(root); rb; rb = rb_prev(rb)) {
		RB_CHECK(i > 0 && tn(rb) == ref[i - 1]);
		i--;
	}
	RB_CHECK(i == 0);
	if (aug == AUG_SIZE && root->rb_node)
		RB_CHECK(tn(root->rb_node)->size == nref);
	free(ref);
	return nref;
}

/* ---- insertion helpers for the augmented trees (caller's walk) ---- */

static void insert_size(struct tnode *n, struct rb_root *root)
{
	struct rb_node **link = &root->rb_node, *parent = NULL;

	while (*link) {
		parent = *link;
		tn(parent)->size++;
		link = n->key < tn(parent)->key ? &parent->rb_left :
						  &parent->rb_right;
	}
	n->size = 1;
	rb_link_node(&n->rb, parent, link);
	rb_insert_augmented(&n->rb, root, &size_cb);
}

static void insert_max(struct tnode *n, struct rb_root_cached *root)
{
	struct rb_node **link = &root->rb_root.rb_node, *parent = NULL;
	bool leftmost = true;

	while (*link) {
		parent = *link;
		if (tn(parent)->max < n->val)
			tn(parent)->max = n->val;
		if (n->key < tn(parent)->key) {
			link = &parent->rb_left;
		} else {
			link = &parent->rb_right;
			leftmost = false;
		}
	}
	n->max = n->val;
	rb_link_node(&n->rb, parent, link);
	rb_insert_augmented_cached(&n->rb, root, leftmost, &max_cb);
}

/* k-th node (0-based) in order, using only the size summaries. */
static struct tnode *select_kth(const struct rb_root *root, unsigned long k)
{
	struct rb_node *rb = root->rb_node;

	while (rb) {
		unsigned long ls = size_of(rb->rb_left);

		if (k < ls) {
			rb = rb->rb_left;
		} else if (k == ls) {
			return tn(rb);
		} else {
			k -= ls + 1;
			rb = rb->rb_right;
		}
	}
	return NULL;
}

/* ---- tests ---- */

static void test_empty(void **state)
{
	struct rb_root root = RB_ROOT;
	struct rb_root_cached croot = RB_ROOT_CACHED;
	struct tnode n = { .key = 1 };

	assert_true(RB_EMPTY_ROOT(&root));
	assert_null(rb_first(&root));
	assert_null(rb_last(&root));
	assert_null(rb_first_postorder(&root));
	assert_null(rb_first_cached(&croot));
	assert_true(RB_EMPTY_ROOT(&croot.rb_root));

	RB_CLEAR_NODE(&n.rb);
	assert_true(RB_EMPTY_NODE(&n.rb));
	assert_null(rb_next(&n.rb));
	assert_null(rb_prev(&n.rb));

	/* One node: it is the black root, first, last, and alone. */
	n.in = true;
	rb_add(&n.rb, &root, tnode_less);
	assert_false(RB_EMPTY_ROOT(&root));
	assert_false(RB_EMPTY_NODE(&n.rb));
	assert_true(rb_is_black(&n.rb));
	assert_ptr_equal(rb_first(&root), &n.rb);
	assert_ptr_equal(rb_last(&root), &n.rb);
	assert_null(rb_next(&n.rb));
	assert_null(rb_prev(&n.rb));
	rb_erase(&n.rb, &root);
	assert_true(RB_EMPTY_ROOT(&root));
}

/* Sorted input is the classic degenerate case for unbalanced trees. */
static void test_sequential(void **state)
{
	enum { N = 2000 };
	struct tnode *pool = calloc(N, sizeof(*pool));
	struct rb_root root = RB_ROOT;
	int height = 0;

	assert_non_null(pool);
	cur_seed = 0;
	for (int dir = 0; dir < 2; dir++) {
		for (long i = 0; i < N; i++) {
			struct tnode *n = &pool[dir ? N - 1 - i : i];

			cur_op = i;
			n->key = n - pool;
			n->seq = i;
			n->in = true;
			rb_add(&n->rb, &root, tnode_less);
			if (i % 97 == 0)
				validate(&root, NULL, false, pool, N, AUG_NONE);
		}
		assert_int_equal(
			validate(&root, NULL, false, pool, N, AUG_NONE), N);
		/* Height bound 2 log2(n + 1): measure the leftmost path. */
		height = 0;
		for (struct rb_node *rb = root.rb_node; rb; rb = rb->rb_left)
			height++;
		assert_true(height <= 22);
		/* Erase in order, the other degenerate pattern. */
		for (long i = 0; i < N; i++) {
			cur_op = N + i;
			pool[i].in = false;
			rb_erase(&pool[i].rb, &root);
			if (i % 89 == 0)
				validate(&root, NULL, false, pool, N, AUG_NONE);
		}
		assert_true(RB_EMPTY_ROOT(&root));
	}
	free(pool);
}

/*
 * Random inserts and erases over a small key space (many duplicates) on a
 * cached tree; validated every few operations.
 */
static void run_random_plain(u64 seed, size_t npool, u64 keyspace, long ops)
{
	struct tnode *pool = calloc(npool, sizeof(*pool));
	struct rb_root_cached root = RB_ROOT_CACHED;
	u64 rng = seed, seq = 0;
	size_t live = 0;

	assert_non_null(pool);
	cur_seed = seed;
	for (cur_op = 0; cur_op < ops; cur_op++) {
		struct tnode *n = &pool[test_rand(&rng) % npool];
		bool grow =
			test_rand(&rng) % 100 < (live < npool / 2 ? 70 : 30);

		if (!n->in && grow) {
			struct rb_node *lm;

			n->key = test_rand(&rng) % keyspace;
			n->seq = seq++;
			n->in = true;
			lm = rb_add_cached(&n->rb, &root, tnode_less);
			RB_CHECK(lm == NULL || lm == &n->rb);
			RB_CHECK((lm != NULL) == (root.rb_leftmost == &n->rb));
			live++;
		} else if (n->in && !grow) {
			struct rb_node *was_first = rb_first_cached(&root);
			struct rb_node *ret, *next = rb_next(&n->rb);

			n->in = false;
			ret = rb_erase_cached(&n->rb, &root);
			if (was_first == &n->rb)
				RB_CHECK(ret == next);
			else
				RB_CHECK(ret == NULL);
			RB_CHECK(root.rb_leftmost == rb_first(&root.rb_root));
			live--;
		}
		if (cur_op % 61 == 0)
			RB_CHECK(validate(&root.rb_root, root.rb_leftmost, true,
					  pool, npool, AUG_NONE) == live);
	}
	RB_CHECK(validate(&root.rb_root, root.rb_leftmost, true, pool, npool,
			  AUG_NONE) == live);
	free(pool);
}

static void test_random_plain(void **state)
{
	static const u64 seeds[] = { 1, 0xdeadbeef, 42, 0x5eed5eed };

	for (size_t i = 0; i < ARRAY_SIZE(seeds); i++) {
		run_random_plain(seeds[i], 8, 4, TEST_SCALE(20000));
		run_random_plain(seeds[i], 600, 64, TEST_SCALE(60000));
		run_random_plain(seeds[i], 3000, ~0ULL, TEST_SCALE(60000));
	}
}

/* Order-statistic tree: the size summary through rotations and erase. */
static void test_augmented_size(void **state)
{
	static const u64 seeds[] = { 7, 0xabcdef, 99, 12345 };

	for (size_t s = 0; s < ARRAY_SIZE(seeds); s++) {
		enum { NPOOL = 700 };
		struct tnode *pool = calloc(NPOOL, sizeof(*pool));
		struct rb_root root = RB_ROOT;
		u64 rng = seeds[s], seq = 0;
		size_t live = 0;

		assert_non_null(pool);
		cur_seed = seeds[s];
		for (cur_op = 0; cur_op < TEST_SCALE(60000); cur_op++) {
			struct tnode *n = &pool[test_rand(&rng) % NPOOL];

			if (!n->in) {
				n->key = test_rand(&rng) % 500;
				n->seq = seq++;
				n->in = true;
				insert_size(n, &root);
				live++;
			} else {
				n->in = false;
				rb_erase_augmented(&n->rb, &root, &size_cb);
				live--;
			}
			if (root.rb_node)
				RB_CHECK(tn(root.rb_node)->size == live);
			if (cur_op % 53 == 0) {
				validate(&root, NULL, false, pool, NPOOL,
					 AUG_SIZE);
				/* select(k) agrees with the k-th in order. */
				unsigned long k = 0;

				for (struct rb_node *rb = rb_first(&root); rb;
				     rb = rb_next(rb), k++)
					RB_CHECK(select_kth(&root, k) ==
						 tn(rb));
				RB_CHECK(select_kth(&root, k) == NULL);
			}
		}
		validate(&root, NULL, false, pool, NPOOL, AUG_SIZE);
		free(pool);
	}
}

/* Subtree maximum via RB_DECLARE_CALLBACKS_MAX, on a cached tree. */
static void test_augmented_max(void **state)
{
	static const u64 seeds[] = { 3, 0xfeedface, 2024, 77 };

	for (size_t s = 0; s < ARRAY_SIZE(seeds); s++) {
		enum { NPOOL = 700 };
		struct tnode *pool = calloc(NPOOL, sizeof(*pool));
		struct rb_root_cached root = RB_ROOT_CACHED;
		u64 rng = seeds[s], seq = 0;

		assert_non_null(pool);
		cur_seed = seeds[s];
		for (cur_op = 0; cur_op < TEST_SCALE(60000); cur_op++) {
			struct tnode *n = &pool[test_rand(&rng) % NPOOL];

			if (!n->in) {
				n->key = test_rand(&rng) % 300;
				/* Small value range: many equal maxima. */
				n->val = test_rand(&rng) % (s % 2 ? 8 : 100000);
				n->seq = seq++;
				n->in = true;
				insert_max(n, &root);
			} else {
				n->in = false;
				rb_erase_augmented_cached(&n->rb, &root,
							  &max_cb);
			}
			if (cur_op % 47 == 0)
				validate(&root.rb_root, root.rb_leftmost, true,
					 pool, NPOOL, AUG_MAX);
		}
		validate(&root.rb_root, root.rb_leftmost, true, pool, NPOOL,
			 AUG_MAX);
		free(pool);
	}
}

static int key_cmp(const void *key, const struct rb_node *rb)
{
	u64 k = *(const u64 *)key;

	return k < tn(rb)->key ? -1 : k > tn(rb)->key;
}

/* rb_find, rb_replace_node(_cached) and the post-order teardown. */
static void test_find_replace_postorder(void **state)
{
	enum { N = 1000 };
	struct tnode *pool = calloc(N, sizeof(*pool));
	struct tnode *spare = calloc(N, sizeof(*spare));
	struct rb_root_cached root = RB_ROOT_CACHED;
	unsigned char *seen = calloc(N, 1);
	u64 rng = 11;
	struct tnode *pos, *nxt;
	size_t visited = 0;

	assert_non_null(pool);
	assert_non_null(spare);
	assert_non_null(seen);
	cur_seed = 11;
	for (int i = 0; i < N; i++) {
		/* Keys 0, 2, 4, ... inserted in a shuffled order. */
		int j = test_rand(&rng) % (i + 1);

		pool[i] = pool[j];
		pool[j].key = 2 * i;
	}
	for (int i = 0; i < N; i++) {
		pool[i].seq = i;
		pool[i].in = true;
		rb_add_cached(&pool[i].rb, &root, tnode_less);
	}
	for (u64 k = 0; k < 2 * N; k++) {
		struct rb_node *rb = rb_find(&k, &root.rb_root, key_cmp);

		if (k % 2)
			assert_null(rb);
		else
			assert_true(rb && tn(rb)->key == k);
	}

	/* Replace every node by a copy: order, shape and cache survive. */
	for (int i = 0; i < N; i++) {
		spare[i] = pool[i];
		pool[i].in = false;
		rb_replace_node_cached(&pool[i].rb, &spare[i].rb, &root);
	}
	validate(&root.rb_root, root.rb_leftmost, true, spare, N, AUG_NONE);
	assert_int_equal(tn(rb_first_cached(&root))->key, 0);

	/* Post-order: children before parents, each node exactly once. */
	rbtree_postorder_for_each_entry_safe(pos, nxt, &root.rb_root, rb)
	{
		size_t i = pos - spare;

		assert_true(i < N && !seen[i]);
		if (pos->rb.rb_left)
			assert_true(seen[tn(pos->rb.rb_left) - spare]);
		if (pos->rb.rb_right)
			assert_true(seen[tn(pos->rb.rb_right) - spare]);
		seen[i] = 1;
		/* Trash the node as a freeing walk would. */
		memset(&pos->rb, 0xa5, sizeof(pos->rb));
		visited++;
	}
	assert_int_equal(visited, N);
	free(seen);
	free(spare);
	free(pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_sequential),
		cmocka_unit_test(test_random_plain),
		cmocka_unit_test(test_augmented_size),
		cmocka_unit_test(test_augmented_max),
		cmocka_unit_test(test_find_replace_postorder),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
